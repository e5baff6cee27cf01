/*
 * adminpage: GET /admin/ and its files, from the table the build
 * generated.  Nothing here reads a key or the database.
 */
#include <string.h>

#include "adminpage.h"
#include "client.h"
#include "reply.h"

#define PAGE_PREFIX	"/admin/"
#define API_PREFIX	"/admin/api/"

/* The path without its query. */
static size_t
path_len(const struct client *c)
{
	const char *q = memchr(c->req.target, '?', c->req.target_len);

	return q != NULL ? (size_t)(q - c->req.target) : c->req.target_len;
}

int
adminpage_match(const struct client *c)
{
	size_t len = path_len(c), n = sizeof(API_PREFIX) - 2;

	/* "/admin/api" and below is the API's. */
	return !(len >= n && memcmp(c->req.target, API_PREFIX, n) == 0 &&
	    (len == n || c->req.target[n] == '/'));
}

void
adminpage_serve(struct client *c, struct outcome *o)
{
	const struct adminfile *f;
	const char *name;
	size_t len = path_len(c), plen = sizeof(PAGE_PREFIX) - 1, nlen;
	int m = c->req.method_id;

	if (len < plen) {
		o->status = 308;
		if (reply_body(c, 308, "text/plain", "", 0,
		    "Location: /admin/\r\n", o->close) == -1)
			o->close = 1;
		return;
	}
	name = c->req.target + plen;
	nlen = len - plen;
	if (nlen == 0) {
		name = "index.html";
		nlen = strlen(name);
	}
	for (f = adminfiles; f->name != NULL; f++)
		if (strlen(f->name) == nlen && memcmp(f->name, name, nlen) == 0)
			break;
	if (f->name == NULL) {
		reply_fail(c, o, 404, "not found", "admin");
		return;
	}
	if (m != HTTP_GET && m != HTTP_HEAD) {
		o->status = 405;
		o->fail = "admin";
		if (reply_error_hdrs(c, 405, "use GET here",
		    "Allow: GET, HEAD\r\n", o->close) == -1)
			o->close = 1;
		return;
	}
	o->status = 200;
	if (reply_body(c, 200, f->ctype, (const char *)f->data, f->len, NULL,
	    o->close) == -1)
		o->close = 1;
}
