/*
 * headers: the header blocks that cross the proxy, in both directions.
 */
#ifndef HEADERS_H
#define HEADERS_H

#include <stddef.h>
#include <stdint.h>

/* The most header fields an upstream response head may have. */
#define HEADERS_FIELDS_MAX	256

struct request;

/* The request head for upstream: where to write it, and what the box
 * and the body add. */
struct upstream_head {
	char		*buf;
	size_t		 size;
	size_t		 len;		/* out */
	const char	*path;		/* the box's path prefix */
	size_t		 pathlen;
	const char	*host;		/* the Host value */
	size_t		 hostlen;
	const char	*auth;		/* a whole Authorization line, or "" */
	size_t		 authlen;
	int		 framed;	/* a body of length bytes follows */
	int		 chunked;	/* a chunked body follows */
	uint64_t	 length;
};

/* The client's head as rebuilt for it. */
struct response_head {
	char		*buf;		/* in: where to build it */
	size_t		 size;
	size_t		 len;		/* out */
	int		 chunked;	/* the body must be chunked to it */
	int		 close;		/* close-delimited: close after it */
};

/* 1 for a hop-by-hop header (RFC 9110 7.6.1), which never crosses. */
int		 headers_is_hop(const char *name, size_t len);
/* Says the client speaks https, for X-Forwarded-Proto (once). */
void		 headers_set_https(int https);
/* Writes the request head for upstream into u->buf (0, or -1 if it
 * does not fit); addr is the client's, for X-Forwarded-For.  Neither
 * Authorization nor x-api-key crosses.  With identity, the upstream is
 * asked for an uncompressed body (Accept-Encoding: identity). */
int		 headers_upstream(const struct request *, const char *addr,
		    int identity, struct upstream_head *);
/* Builds the client's head from upstream's raw header lines (status
 * line first).  NULL, or why the response must be refused (502). */
const char	*headers_response(const char *raw, size_t rawlen,
		    const struct request *, int is_head, int status,
		    struct response_head *);
/* The value of the first header line called name (lower case) in
 * upstream's raw head, trimmed and cut to outlen - 1, in out; NULL if
 * there is none. */
const char	*headers_find(const char *raw, size_t rawlen, const char *name,
		    char *out, size_t outlen);
/* NULL, or why an upstream status must be refused (a 101, say). */
const char	*headers_status_refused(int status);
/* 1 if an upstream status line or header line may be passed on. */
int		 headers_status_line_ok(const char *line, size_t len);
int		 headers_line_ok(const char *line, size_t len);

#endif
