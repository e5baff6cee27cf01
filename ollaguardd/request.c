/*
 * request: the request head, parsed with llhttp in strict mode (no
 * lenient flag is ever set), and the body decoded by the same parser.
 *
 * llhttp leaves a few things to its user that matter to a proxy: it
 * accepts obs-fold, "Name : value", and Transfer-Encoding lists that end
 * in chunked, and it does not count Host or Authorization headers.  A
 * proxy that passes any of those on lets a client smuggle a second
 * request past a stricter or laxer upstream, so they are refused here,
 * before a byte goes upstream.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "request.h"

static const char *const hdr_names[RH_COUNT] = {
	[RH_HOST] = "host",
	[RH_AUTHORIZATION] = "authorization",
	[RH_CONNECTION] = "connection",
	[RH_CONTENT_LENGTH] = "content-length",
	[RH_TRANSFER_ENCODING] = "transfer-encoding",
	[RH_EXPECT] = "expect",
	[RH_ORIGIN] = "origin",
	[RH_ACR_METHOD] = "access-control-request-method",
	[RH_UPGRADE] = "upgrade",
};

static int
refuse(struct request *r, int status, const char *why)
{
	r->status = status;
	r->error = why;
	return HPE_USER;
}

static int
on_url(llhttp_t *p, const char *at, size_t len)
{
	struct request *r = p->data;

	if (r->target == NULL)
		r->target = at;
	r->target_len = (size_t)(at + len - r->target);
	if (r->target_len > REQUEST_TARGET_MAX)
		return refuse(r, 414, "request target longer than 8 KiB");
	return 0;
}

static int
on_header_field(llhttp_t *p, const char *at, size_t len)
{
	struct request *r = p->data;
	struct header *h;

	if (r->nhdr == REQUEST_FIELDS_MAX)
		return refuse(r, 431, "more than 100 header fields");
	h = &r->hdr[r->nhdr];
	if (h->name == NULL)
		h->name = at;
	h->namelen = (size_t)(at + len - h->name);
	return 0;
}

static int
on_header_field_complete(llhttp_t *p)
{
	struct request *r = p->data;
	struct header *h = &r->hdr[r->nhdr];

	if (h->name == NULL || h->namelen == 0)
		return refuse(r, 400, "header field without a name");
	/* The bytes are contiguous in the client buffer, so the byte after
	 * the name is the one llhttp skipped: it must be the colon. */
	if (h->name[h->namelen] != ':' ||
	    memchr(h->name, ' ', h->namelen) != NULL ||
	    memchr(h->name, '\t', h->namelen) != NULL)
		return refuse(r, 400, "whitespace between a header name and "
		    "its colon");
	return 0;
}

static int
on_header_value(llhttp_t *p, const char *at, size_t len)
{
	struct request *r = p->data;
	struct header *h = &r->hdr[r->nhdr];

	if (h->value == NULL)
		h->value = at;
	h->valuelen = (size_t)(at + len - h->value);
	return 0;
}

static int
on_header_value_complete(llhttp_t *p)
{
	struct request *r = p->data;
	struct header *h = &r->hdr[r->nhdr];
	int i;

	if (h->value == NULL) {
		h->value = "";
		h->valuelen = 0;
	}
	while (h->valuelen > 0 && (h->value[h->valuelen - 1] == ' ' ||
	    h->value[h->valuelen - 1] == '\t'))
		h->valuelen--;
	for (i = 0; i < RH_COUNT; i++) {
		if (strlen(hdr_names[i]) != h->namelen ||
		    strncasecmp(hdr_names[i], h->name, h->namelen) != 0)
			continue;
		if (r->idx[i] != -1 && (i == RH_HOST || i == RH_AUTHORIZATION ||
		    i == RH_TRANSFER_ENCODING || i == RH_CONTENT_LENGTH))
			return refuse(r, 400, i == RH_HOST ?
			    "more than one Host header" :
			    i == RH_AUTHORIZATION ?
			    "more than one Authorization header" :
			    i == RH_CONTENT_LENGTH ?
			    "more than one Content-Length header" :
			    "more than one Transfer-Encoding header");
		r->idx[i] = r->nhdr;
		break;
	}
	r->nhdr++;
	return 0;
}

/* RFC 3986 authority: reg-name, IP literal and port characters only
 * (no userinfo "@", no spaces or slashes). */
static int
host_valid(const char *v, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)v[i]) &&
		    strchr("-._~!$&'()*+,;=%:[]", v[i]) == NULL)
			return 0;
	return 1;
}

/* Makes the target origin-form: an absolute-form target keeps only its
 * path and query, so a client can never pick the upstream. */
static int
origin_form(struct request *r)
{
	const char *p, *end = r->target + r->target_len;

	if (r->target_len > 0 && r->target[0] == '/')
		return 0;
	p = memmem(r->target, r->target_len, "://", 3);
	if (p == NULL)
		return -1;
	for (p += 3; p < end && *p != '/' && *p != '?'; p++)
		;
	if (p == end) {
		r->target = "/";
		r->target_len = 1;
	} else if (*p == '?')
		return -1;
	else {
		r->target_len = (size_t)(end - p);
		r->target = p;
	}
	return 0;
}

static int
on_headers_complete(llhttp_t *p)
{
	struct request *r = p->data;
	const char *v;
	size_t vlen;

	r->method_id = llhttp_get_method(p);
	r->method = llhttp_method_name(r->method_id);
	r->http_minor = llhttp_get_http_minor(p);
	if (llhttp_get_http_major(p) != 1)
		return refuse(r, 505, "only HTTP/1.0 and HTTP/1.1 are served");
	if (r->method_id == HTTP_CONNECT)
		return refuse(r, 405, "CONNECT is not supported: this is not "
		    "a forward proxy");
	if (r->target == NULL || origin_form(r) == -1)
		return refuse(r, 400, "the request target must be a path");
	/* A fragment is never sent on the wire; upstream would not see it. */
	if (memchr(r->target, '#', r->target_len) != NULL)
		return refuse(r, 400, "a fragment (#) in the request target");
	if (r->http_minor == 1 && r->idx[RH_HOST] == -1)
		return refuse(r, 400, "HTTP/1.1 request without a Host header");
	if ((v = request_header(r, RH_HOST, &vlen)) != NULL &&
	    !host_valid(v, vlen))
		return refuse(r, 400, "the Host header is not a host name or "
		    "address (RFC 9112 3.2)");
	if (r->idx[RH_UPGRADE] != -1)
		return refuse(r, 400, "protocol upgrades are not supported");
	if ((v = request_header(r, RH_TRANSFER_ENCODING, &vlen)) != NULL) {
		if (vlen != 7 || strncasecmp(v, "chunked", 7) != 0)
			return refuse(r, 400, "Transfer-Encoding other than "
			    "\"chunked\"");
		if (r->idx[RH_CONTENT_LENGTH] != -1)
			return refuse(r, 400, "both Content-Length and "
			    "Transfer-Encoding");
		/* RFC 9112 6.1: an HTTP/1.0 peer cannot frame it reliably. */
		if (r->http_minor == 0)
			return refuse(r, 400, "Transfer-Encoding in an "
			    "HTTP/1.0 request");
		r->chunked = 1;
		r->has_body = 1;
	} else if (r->idx[RH_CONTENT_LENGTH] != -1) {
		r->content_length = p->content_length;
		r->has_body = r->content_length > 0;
	}
	if ((v = request_header(r, RH_EXPECT, &vlen)) != NULL) {
		if (vlen != 12 || strncasecmp(v, "100-continue", 12) != 0)
			return refuse(r, 417, "the only expectation served is "
			    "100-continue");
		r->expect_continue = r->http_minor == 1;
	}
	/* RFC 9112 9.3, from the Connection lists as the proxy reads them
	 * everywhere else: llhttp misses "close" before white space and a
	 * comma, and takes the non-standard Proxy-Connection for it. */
	r->keepalive = !request_connection_has(r, "close") &&
	    (r->http_minor == 1 || request_connection_has(r, "keep-alive"));
	r->head_done = 1;
	if (!r->has_body)
		r->body_done = 1;
	return HPE_PAUSED;
}

static int
on_body(llhttp_t *p, const char *at, size_t len)
{
	struct request *r = p->data;

	memcpy(r->body_dst + r->body_len, at, len);
	r->body_len += len;
	return 0;
}

static int
on_message_complete(llhttp_t *p)
{
	struct request *r = p->data;

	r->body_done = 1;
	return HPE_PAUSED;
}

void
request_init(struct request *r)
{
	memset(r, 0, sizeof(*r));
	llhttp_settings_init(&r->settings);
	r->settings.on_url = on_url;
	r->settings.on_header_field = on_header_field;
	r->settings.on_header_field_complete = on_header_field_complete;
	r->settings.on_header_value = on_header_value;
	r->settings.on_header_value_complete = on_header_value_complete;
	r->settings.on_headers_complete = on_headers_complete;
	r->settings.on_body = on_body;
	r->settings.on_message_complete = on_message_complete;
	llhttp_init(&r->parser, HTTP_REQUEST, &r->settings);
	r->parser.data = r;
	request_reset(r);
}

void
request_reset(struct request *r)
{
	int i;

	llhttp_reset(&r->parser);
	r->parser.data = r;
	r->method = NULL;
	r->method_id = -1;	/* none yet: not HEAD, whatever came before */
	r->target = NULL;
	r->target_len = 0;
	r->http_minor = 1;
	/* Only the slots in use are cleared: this runs once per request. */
	for (i = 0; i <= r->nhdr && i < REQUEST_FIELDS_MAX; i++)
		memset(&r->hdr[i], 0, sizeof(r->hdr[i]));
	r->nhdr = 0;
	for (i = 0; i < RH_COUNT; i++)
		r->idx[i] = -1;
	r->keepalive = 0;
	r->has_body = r->chunked = 0;
	r->content_length = 0;
	r->expect_continue = 0;
	r->head_done = r->body_done = 0;
	r->head_bytes = 0;
	r->status = 0;
	r->error = NULL;
}

/*
 * What llhttp lets through but a proxy must not: bare CR or LF, control
 * bytes, and obs-fold (a header line that starts with whitespace).
 */
static int
scan_head(struct request *r, const char *buf, size_t from, size_t to)
{
	size_t i;
	unsigned char c, prev;

	for (i = from; i < to; i++) {
		c = (unsigned char)buf[i];
		prev = i > 0 ? (unsigned char)buf[i - 1] : '\0';
		if (c == '\n' && prev != '\r')
			return refuse(r, 400, "bare LF in the request head");
		if (prev == '\r' && c != '\n')
			return refuse(r, 400, "bare CR in the request head");
		if (prev == '\n' && (c == ' ' || c == '\t'))
			return refuse(r, 400, "folded header line (obs-fold)");
		if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') ||
		    c == 0x7f)
			return refuse(r, 400, "control character in the "
			    "request head");
	}
	return 0;
}

int
request_parse_head(struct request *r, char *buf, size_t len, size_t *pos)
{
	llhttp_errno_t e;
	size_t start = *pos, stop;

	e = llhttp_execute(&r->parser, buf + start, len - start);
	if (e == HPE_PAUSED && r->head_done) {
		stop = (size_t)(llhttp_get_error_pos(&r->parser) - buf);
		llhttp_resume(&r->parser);
	} else
		stop = len;
	if (r->status == 0 && scan_head(r, buf, start, stop) != 0)
		return -1;
	if (e != HPE_OK && e != HPE_PAUSED) {
		if (r->status == 0) {
			r->status = 400;
			r->error = e == HPE_INVALID_METHOD ?
			    "unknown request method" :
			    llhttp_get_error_reason(&r->parser);
		}
		return -1;
	}
	r->head_bytes = stop;
	if (stop > REQUEST_HEAD_MAX ||
	    (!r->head_done && stop == REQUEST_HEAD_MAX)) {
		r->status = 431;
		r->error = "request head larger than 16 KiB";
		return -1;
	}
	*pos = stop;
	return r->head_done;
}

ssize_t
request_parse_body(struct request *r, const char *in, size_t inlen,
    char *dst, size_t *dstlen)
{
	llhttp_errno_t e;

	r->body_dst = dst;
	r->body_len = 0;
	e = llhttp_execute(&r->parser, in, inlen);
	*dstlen = r->body_len;
	if (e == HPE_OK)
		return (ssize_t)inlen;
	if (e == HPE_PAUSED && r->body_done)
		return llhttp_get_error_pos(&r->parser) - in;
	r->status = 400;
	r->error = "malformed chunked request body";
	return -1;
}

const char *
request_header(const struct request *r, enum request_hdr h, size_t *len)
{
	if (r->idx[h] == -1) {
		*len = 0;
		return NULL;
	}
	*len = r->hdr[r->idx[h]].valuelen;
	return r->hdr[r->idx[h]].value;
}

int
request_connection_has(const struct request *r, const char *token)
{
	int i;

	for (i = 0; i < r->nhdr; i++)
		if (r->hdr[i].namelen == 10 &&
		    strncasecmp(r->hdr[i].name, "connection", 10) == 0 &&
		    request_list_has(r->hdr[i].value, r->hdr[i].valuelen, token))
			return 1;
	return 0;
}

int
request_list_has(const char *v, size_t vlen, const char *token)
{
	size_t tlen = strlen(token), i = 0, start, end;

	while (i < vlen) {
		while (i < vlen && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		start = i;
		while (i < vlen && v[i] != ',')
			i++;
		end = i;
		while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
			end--;
		if (end - start == tlen && strncasecmp(v + start, token, tlen) ==
		    0)
			return 1;
	}
	return 0;
}
