/*
 * request: one HTTP/1.x request head, parsed with llhttp in its strict
 * mode plus the checks llhttp leaves to us (request smuggling vectors:
 * obs-fold, bare CR/LF, a space before a colon, Transfer-Encoding other
 * than "chunked", duplicate Host or Authorization).
 */
#ifndef REQUEST_H
#define REQUEST_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include <llhttp.h>

#define REQUEST_HEAD_MAX	(16 * 1024)
#define REQUEST_TARGET_MAX	(8 * 1024)
#define REQUEST_FIELDS_MAX	100

struct header {
	const char	*name;
	size_t		 namelen;
	const char	*value;
	size_t		 valuelen;
};

/* Headers the proxy looks at, by index into hdr[] (-1 when absent). */
enum request_hdr {
	RH_HOST,
	RH_AUTHORIZATION,
	RH_CONNECTION,
	RH_CONTENT_LENGTH,
	RH_TRANSFER_ENCODING,
	RH_EXPECT,
	RH_ORIGIN,
	RH_ACR_METHOD,		/* Access-Control-Request-Method */
	RH_UPGRADE,
	RH_COUNT
};

struct request {
	llhttp_t		 parser;
	llhttp_settings_t	 settings;

	const char		*method;	/* NUL-terminated name */
	int			 method_id;	/* llhttp_method_t */
	const char		*target;	/* origin-form path and query */
	size_t			 target_len;
	int			 http_minor;	/* 0 or 1 (major is 1) */
	struct header		 hdr[REQUEST_FIELDS_MAX];
	int			 nhdr;
	int			 idx[RH_COUNT];
	int			 keepalive;
	int			 has_body;
	int			 chunked;
	uint64_t		 content_length;
	int			 expect_continue;

	/* Parser progress. */
	int			 head_done;
	int			 body_done;
	size_t			 head_bytes;

	/* Body decoding: llhttp's on_body copies into this window. */
	char			*body_dst;
	size_t			 body_len;

	/* Set when the request is refused: status and a reason for users. */
	int			 status;
	const char		*error;
};

void	request_init(struct request *);
/* Starts a new request (keeps the parser's settings). */
void	request_reset(struct request *);
/*
 * Feeds head bytes.  buf is the whole head read so far and len its
 * length; the bytes from *pos are new.  Returns 1 when the head is
 * complete (*pos then points at the first body byte), 0 if more bytes
 * are needed, -1 with status and error set.
 */
int	request_parse_head(struct request *, char *buf, size_t len,
	    size_t *pos);
/*
 * Feeds body bytes; the decoded body goes to dst.  Returns the bytes of
 * input consumed, or -1 with status and error set.
 */
ssize_t	request_parse_body(struct request *, const char *in, size_t inlen,
	    char *dst, size_t *dstlen);
/* The value of header h, or NULL (and *len 0) when absent. */
const char *request_header(const struct request *, enum request_hdr,
	    size_t *len);
/* 1 if any Connection header lists token (case-insensitive). */
int	request_connection_has(const struct request *, const char *token);
/* 1 if token (case-insensitive) is in the comma list v[0, vlen). */
int	request_list_has(const char *v, size_t vlen, const char *token);

#endif
