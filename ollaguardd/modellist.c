/*
 * modellist: a model list read whole, within a bound, and answered
 * filtered.  The upstream is asked for it uncompressed, so there is
 * nothing to decode.
 */
#include <stdlib.h>
#include <string.h>

#include "bodymodel.h"
#include "client.h"
#include "modellist.h"
#include "reply.h"

#define MODELLIST_FIRST	(64 * 1024)

int
modellist_add(struct modellist *l, size_t max, const char *data, size_t len,
    const char **why)
{
	size_t cap;
	char *p;

	if (len > max - l->len) {
		*why = "the Ollama server's model list is too large to filter";
		return -1;
	}
	if (l->len + len > l->cap) {
		cap = l->cap == 0 ? MODELLIST_FIRST : l->cap;
		while (cap < l->len + len)
			cap *= 2;
		if ((p = realloc(l->buf, cap)) == NULL) {
			*why = "out of memory";
			return -1;
		}
		l->buf = p;
		l->cap = cap;
	}
	memcpy(l->buf + l->len, data, len);
	l->len += len;
	return 0;
}

int
modellist_reply(struct client *c, int status, const struct modellist *l,
    int (*allow)(const char *, void *), void *arg, int close)
{
	const char *body = l->buf != NULL ? l->buf : "";
	char *out;
	size_t outlen;
	int rc;

	if (status != 200)
		return reply_json(c, status, body, l->len, close);
	if (bodymodel_filter_list(body, l->len, allow, arg, &out,
	    &outlen) == -1)
		return -2;
	rc = reply_json(c, 200, out, outlen, close);
	free(out);
	return rc;
}

void
modellist_free(struct modellist *l)
{
	free(l->buf);
	memset(l, 0, sizeof(*l));
}
