/*
 * streamusage: adds stream_options.include_usage to an OpenAI-compatible
 * streamed request, and filters the usage-only chunk that this makes
 * the upstream send back out of the stream again.
 *
 * The request is rewritten with jansson (the body is small and read
 * whole anyway when the setting is on); members keep their order, and
 * numbers their values, though a real may be printed with other digits.
 * The filter works on SSE events, which end at a blank line; it holds
 * only the part of the current event that has not ended yet, so each
 * event reaches the client the moment its last byte arrives, as it
 * would without the filter.  Lines may end in "\r\n" or "\n"; an event
 * separated by bare '\r' alone is never recognised and so always
 * passes.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "streamusage.h"

int
streamusage_path(const char *path, size_t len)
{
	const char *q = memchr(path, '?', len);

	if (q != NULL)
		len = (size_t)(q - path);
	return (len == 20 && memcmp(path, "/v1/chat/completions", 20) == 0) ||
	    (len == 15 && memcmp(path, "/v1/completions", 15) == 0);
}

int
streamusage_request(const char *body, size_t len, char **out,
    size_t *outlen)
{
	json_t *o, *so;
	size_t n;
	int rc = 0;

	*out = NULL;
	*outlen = 0;
	/* A repeated member is read one way here and maybe another way
	 * upstream: such a body is left alone. */
	o = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		return -1;
	}
	if (!json_is_true(json_object_get(o, "stream")))
		goto done;
	so = json_object_get(o, "stream_options");
	if (json_is_object(so) &&
	    json_is_true(json_object_get(so, "include_usage")))
		goto done;
	if (!json_is_object(so)) {
		so = json_object();
		if (so == NULL || json_object_set_new(o, "stream_options",
		    so) == -1)
			goto fail;
	}
	if (json_object_set_new(so, "include_usage", json_true()) == -1)
		goto fail;
	if ((n = json_dumpb(o, NULL, 0, JSON_COMPACT)) == 0 ||
	    (*out = malloc(n)) == NULL)
		goto fail;
	*outlen = json_dumpb(o, *out, n, JSON_COMPACT);
	rc = 1;
 done:
	json_decref(o);
	return rc;
 fail:
	json_decref(o);
	return -1;
}

void
streamusage_begin(struct streamusage_filter *f)
{
	f->len = 0;
	f->eols = 0;
	f->pass = 0;
	f->dropped = 0;
}

/* Whether an event's first data line is the usage-only chunk. */
static int
is_usage(const char *ev, size_t n)
{
	const char *s = ev, *end = ev + n, *nl;
	json_t *o, *c;
	size_t len;
	int yes;

	for (; s < end; s = nl + 1) {
		if ((nl = memchr(s, '\n', (size_t)(end - s))) == NULL)
			nl = end;
		len = (size_t)(nl - s);
		if (len > 0 && s[len - 1] == '\r')
			len--;
		if (len < 5 || memcmp(s, "data:", 5) != 0)
			continue;
		s += 5;
		len -= 5;
		if (len > 0 && *s == ' ') {
			s++;
			len--;
		}
		/* Most chunks are text: no parse for them. */
		if (memmem(s, len, "usage", 5) == NULL)
			return 0;
		if ((o = json_loadb(s, len, 0, NULL)) == NULL)
			return 0;
		c = json_object_get(o, "choices");
		yes = json_is_array(c) && json_array_size(c) == 0 &&
		    json_is_object(json_object_get(o, "usage"));
		json_decref(o);
		return yes;
	}
	return 0;
}

/* One complete event, partly held and partly in data. */
static int
event(struct streamusage_filter *f, const char *data, size_t n,
    streamusage_emit emit, void *arg)
{
	int rc = 0;

	if (f->pass) {
		f->pass = 0;
		return n > 0 ? emit(data, n, arg) : 0;
	}
	if (f->len == 0) {
		/* Held or not, a long event is never examined. */
		if (n <= sizeof(f->hold) && is_usage(data, n)) {
			f->dropped = 1;
			return 0;
		}
		return emit(data, n, arg);
	}
	if (f->len + n <= sizeof(f->hold)) {
		memcpy(f->hold + f->len, data, n);
		f->len += n;
		if (is_usage(f->hold, f->len))
			f->dropped = 1;
		else
			rc = emit(f->hold, f->len, arg);
		f->len = 0;
		return rc;
	}
	rc = emit(f->hold, f->len, arg);
	f->len = 0;
	return rc == -1 ? -1 : emit(data, n, arg);
}

int
streamusage_feed(struct streamusage_filter *f, const char *data, size_t len,
    streamusage_emit emit, void *arg)
{
	size_t i, start = 0, rest;

	for (i = 0; i < len; i++) {
		if (data[i] == '\n')
			f->eols++;
		else if (data[i] != '\r')
			f->eols = 0;
		if (f->eols < 2)
			continue;
		f->eols = 0;
		if (event(f, data + start, i + 1 - start, emit, arg) == -1)
			return -1;
		start = i + 1;
	}
	if ((rest = len - start) == 0)
		return 0;
	if (f->pass)
		return emit(data + start, rest, arg);
	if (f->len + rest <= sizeof(f->hold)) {
		memcpy(f->hold + f->len, data + start, rest);
		f->len += rest;
		return 0;
	}
	/* Too long to be the usage chunk: it goes on unexamined. */
	f->pass = 1;
	if (f->len > 0 && emit(f->hold, f->len, arg) == -1)
		return -1;
	f->len = 0;
	return emit(data + start, rest, arg);
}

int
streamusage_end(struct streamusage_filter *f, streamusage_emit emit,
    void *arg)
{
	size_t n = f->len;

	f->len = 0;
	return n > 0 ? emit(f->hold, n, arg) : 0;
}
