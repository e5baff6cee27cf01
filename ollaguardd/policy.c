/*
 * policy: the endpoint table.  A path is decoded first, as Go's
 * net/url decodes it for gin, so "/api/%63hat" is /api/chat here as it
 * is upstream; a path that does not decode cleanly is unlisted, so
 * manage.  An entry whose path ends in "/" takes one more non-empty
 * segment: gin's ":param".
 */
#include <stdio.h>
#include <string.h>

#include "policy.h"

#define M_GET		0x1
#define M_HEAD		0x2
#define M_POST		0x4
#define M_DELETE	0x8
#define PATH_MAX_DECODED 8192

#define F_FILTER	0x1
#define F_PATHMODEL	0x2
#define F_STREAM	0x4

#define MF	BODYMODEL_MODEL
#define MN	(BODYMODEL_MODEL | BODYMODEL_NAME)

struct route {
	int		 methods;
	const char	*path;
	int		 cls;
	int		 fields;
	int		 flags;
};

/* The one table: README and ollaguardd.8 list the same. */
static const struct route routes[] = {
	{ M_GET | M_HEAD, "/",			POLICY_READ, 0, 0 },
	{ M_GET | M_HEAD, "/api/version",	POLICY_READ, 0, 0 },
	{ M_GET | M_HEAD, "/api/tags",		POLICY_READ, 0, F_FILTER },
	{ M_GET | M_HEAD, "/api/ps",		POLICY_READ, 0, F_FILTER },
	{ M_GET | M_HEAD, "/v1/models",		POLICY_READ, 0, F_FILTER },
	{ M_GET | M_HEAD, "/v1/models/",	POLICY_READ, 0, F_PATHMODEL },
	{ M_POST, "/api/show",			POLICY_READ, MN, 0 },

	{ M_POST, "/api/generate",		POLICY_INFER, MF, 0 },
	{ M_POST, "/api/chat",			POLICY_INFER, MF, 0 },
	{ M_POST, "/api/embed",			POLICY_INFER, MF, 0 },
	{ M_POST, "/api/embeddings",		POLICY_INFER, MF, 0 },
	{ M_POST, "/v1/chat/completions",	POLICY_INFER, MF, 0 },
	{ M_POST, "/v1/completions",		POLICY_INFER, MF, 0 },
	{ M_POST, "/v1/embeddings",		POLICY_INFER, MF, 0 },
	{ M_POST, "/v1/responses",		POLICY_INFER, MF, 0 },
	{ M_POST, "/v1/messages",		POLICY_INFER, MF, 0 },

	{ M_POST, "/api/pull",			POLICY_MANAGE, MN, 0 },
	{ M_POST, "/api/push",			POLICY_MANAGE, MN, 0 },
	{ M_POST, "/api/create",		POLICY_MANAGE,
	    MN | BODYMODEL_FROM, 0 },
	{ M_POST, "/api/copy",			POLICY_MANAGE,
	    BODYMODEL_SOURCE | BODYMODEL_DESTINATION, 0 },
	{ M_DELETE, "/api/delete",		POLICY_MANAGE, MN, 0 },
	{ M_HEAD | M_POST, "/api/blobs/",	POLICY_MANAGE, 0, F_STREAM },
};

static int
method_bit(const char *m)
{
	if (strcmp(m, "GET") == 0)
		return M_GET;
	if (strcmp(m, "HEAD") == 0)
		return M_HEAD;
	if (strcmp(m, "POST") == 0)
		return M_POST;
	if (strcmp(m, "DELETE") == 0)
		return M_DELETE;
	return 0;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The path of target, percent-decoded; -1 if it cannot be. */
static int
decode_path(const char *target, size_t len, char *out, size_t outlen)
{
	const char *q;
	size_t i, n = 0;
	int hi, lo;

	if ((q = memchr(target, '?', len)) != NULL)
		len = (size_t)(q - target);
	for (i = 0; i < len; i++) {
		if (n + 1 >= outlen)
			return -1;
		if (target[i] != '%') {
			out[n++] = target[i];
			continue;
		}
		if (i + 2 >= len || (hi = hexval(target[i + 1])) == -1 ||
		    (lo = hexval(target[i + 2])) == -1 || (hi | lo) == 0)
			return -1;
		out[n++] = (char)(hi << 4 | lo);
		i += 2;
	}
	out[n] = '\0';
	return 0;
}

/* 1 if path is the route's, or its prefix and one non-empty segment. */
static int
path_matches(const struct route *r, const char *path)
{
	size_t plen = strlen(r->path);

	if (plen > 1 && r->path[plen - 1] == '/')
		return strncmp(path, r->path, plen) == 0 &&
		    path[plen] != '\0' && strchr(path + plen, '/') == NULL;
	return strcmp(path, r->path) == 0;
}

void
policy_classify(const char *method, const char *target, size_t len,
    struct policy_endpoint *ep)
{
	char path[PATH_MAX_DECODED];
	const struct route *r;
	size_t i;
	int m = method_bit(method);

	memset(ep, 0, sizeof(*ep));
	ep->cls = POLICY_MANAGE;
	if (m == 0 || decode_path(target, len, path, sizeof(path)) == -1)
		return;
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		r = &routes[i];
		if ((r->methods & m) == 0 || !path_matches(r, path))
			continue;
		ep->cls = r->cls;
		ep->fields = r->fields;
		ep->listed = 1;
		ep->filter = (r->flags & F_FILTER) != 0;
		ep->path_model = (r->flags & F_PATHMODEL) != 0;
		ep->stream = (r->flags & F_STREAM) != 0;
		return;
	}
}

int
policy_path_model(const char *target, size_t len, char *out, size_t outlen)
{
	char path[PATH_MAX_DECODED];
	const char *last;

	if (outlen > 0)
		out[0] = '\0';
	if (decode_path(target, len, path, sizeof(path)) == -1 ||
	    (last = strrchr(path, '/')) == NULL || last[1] == '\0' ||
	    strlcpy(out, last + 1, outlen) >= outlen) {
		if (outlen > 0)
			out[0] = '\0';
		return -1;
	}
	return 0;
}

int
policy_models_known(const struct policy_endpoint *ep)
{
	return ep->listed;
}
