/*
 * headers: the header blocks that cross the proxy.  Client to Ollama:
 * the client's headers less the hop-by-hop ones, Host and Authorization,
 * with X-Forwarded-* and the body's framing, written as the request head
 * into the caller's buffer.  Ollama to
 * client: upstream's head checked (a malformed or ambiguous one is
 * refused whole) and reframed for this client.  Pure functions of their
 * input, so they are easy to test and fuzz.
 */
#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "headers.h"
#include "request.h"

#define TOO_LARGE	"the Ollama server's response head is too large " \
			    "(more than 32 KiB, or more than 256 fields)"

/* X-Forwarded-Proto: what the client spoke to us. */
static const char	*fwd_proto = "http";

/* Hop-by-hop headers (RFC 9110 7.6.1) and those the proxy sets itself. */
int
headers_is_hop(const char *name, size_t len)
{
	/* By length first: most headers are not hop-by-hop, and this is
	 * asked of every header in both directions. */
	switch (len) {
	case 2:
		return strncasecmp(name, "te", 2) == 0;
	case 7:
		return strncasecmp(name, "trailer", 7) == 0 ||
		    strncasecmp(name, "upgrade", 7) == 0;
	case 10:
		return strncasecmp(name, "connection", 10) == 0 ||
		    strncasecmp(name, "keep-alive", 10) == 0;
	case 17:
		return strncasecmp(name, "transfer-encoding", 17) == 0;
	default:
		return len > 6 && strncasecmp(name, "proxy-", 6) == 0;
	}
}

static int
name_is(const char *name, size_t len, const char *want)
{
	return strlen(want) == len && strncasecmp(name, want, len) == 0;
}

/* Is the header called name[0, len) listed in a Connection value? */
static int
named_by_connection(const char *conn, size_t connlen, const char *name,
    size_t len)
{
	char tok[64];

	if (conn == NULL || len >= sizeof(tok))
		return 0;
	memcpy(tok, name, len);
	tok[len] = '\0';
	return request_list_has(conn, connlen, tok);
}

/* Is the header called name[0, len) listed in a client's Connection? */
static int
named_by_request_connection(const struct request *r, const char *name,
    size_t len)
{
	char tok[64];

	if (r->idx[RH_CONNECTION] == -1 || len >= sizeof(tok))
		return 0;
	memcpy(tok, name, len);
	tok[len] = '\0';
	return request_connection_has(r, tok);
}

/* Appends s[0, len) to the head being built; -1 once it does not fit
 * (every later append then fails too). */
static int
put(struct upstream_head *u, const char *s, size_t len)
{
	if (u->len == (size_t)-1 || len > u->size - u->len) {
		u->len = (size_t)-1;
		return -1;
	}
	memcpy(u->buf + u->len, s, len);
	u->len += len;
	return 0;
}

static void
put_field(struct upstream_head *u, const char *name, size_t namelen,
    const char *value, size_t valuelen)
{
	put(u, name, namelen);
	put(u, valuelen > 0 ? ": " : ":", valuelen > 0 ? 2 : 1);
	put(u, value, valuelen);
	put(u, "\r\n", 2);
}

void
headers_set_https(int https)
{
	fwd_proto = https ? "https" : "http";
}

/* The request line and Host: the box's path before the client's target,
 * byte for byte as the client sent it. */
static void
put_start(struct upstream_head *u, const struct request *r)
{
	put(u, r->method, strlen(r->method));
	put(u, " ", 1);
	put(u, u->path, u->pathlen);
	put(u, r->target, r->target_len);
	put(u, " HTTP/1.1\r\nHost: ", 17);
	put(u, u->host, u->hostlen);
	put(u, "\r\n", 2);
	put(u, u->auth, u->authlen);
}

/* Whether a client header stays behind. */
static int
dropped(const struct request *r, const struct header *h, int identity)
{
	return headers_is_hop(h->name, h->namelen) ||
	    name_is(h->name, h->namelen, "host") ||
	    name_is(h->name, h->namelen, "authorization") ||
	    name_is(h->name, h->namelen, "x-api-key") ||
	    name_is(h->name, h->namelen, "x-ollaguard-upstream") ||
	    (identity && name_is(h->name, h->namelen, "accept-encoding")) ||
	    name_is(h->name, h->namelen, "expect") ||
	    name_is(h->name, h->namelen, "content-length") ||
	    name_is(h->name, h->namelen, "x-forwarded-for") ||
	    name_is(h->name, h->namelen, "x-forwarded-proto") ||
	    name_is(h->name, h->namelen, "x-forwarded-host") ||
	    named_by_request_connection(r, h->name, h->namelen);
}

/*
 * The request head for upstream, written into u->buf: no allocation, no
 * formatting but the body's length.  Returns 0, or -1 if it does not fit.
 */
int
headers_upstream(const struct request *r, const char *addr, int identity,
    struct upstream_head *u)
{
	const struct header *h;
	const char *host;
	char num[24], *p = num + sizeof(num);
	uint64_t v = u->length;
	size_t hostlen;
	int i;

	u->len = 0;
	put_start(u, r);
	for (i = 0; i < r->nhdr; i++) {
		h = &r->hdr[i];
		if (!dropped(r, h, identity))
			put_field(u, h->name, h->namelen, h->value,
			    h->valuelen);
	}
	put_field(u, "X-Forwarded-For", 15, addr, strlen(addr));
	put_field(u, "X-Forwarded-Proto", 17, fwd_proto, strlen(fwd_proto));
	/* A list the daemon filters must come uncompressed. */
	if (identity)
		put(u, "Accept-Encoding: identity\r\n", 27);
	if ((host = request_header(r, RH_HOST, &hostlen)) != NULL)
		put_field(u, "X-Forwarded-Host", 16, host, hostlen);
	if (u->chunked)
		put(u, "Transfer-Encoding: chunked\r\n", 28);
	else if (u->framed) {
		do
			*--p = (char)('0' + v % 10);
		while ((v /= 10) > 0);
		put_field(u, "Content-Length", 14, p,
		    (size_t)(num + sizeof(num) - p));
	}
	put(u, "\r\n", 2);
	return u->len == (size_t)-1 ? -1 : 0;
}

/* The next line of the upstream head: [*line, *lend) without its end. */
static const char *
next_line(const char *line, const char *end, const char **lend)
{
	const char *nl = memchr(line, '\n', (size_t)(end - line));
	const char *next = nl != NULL ? nl + 1 : end;

	*lend = nl != NULL ? nl : end;
	if (*lend > line && (*lend)[-1] == '\r')
		(*lend)--;
	return next;
}

/*
 * Appends a line and its CRLF, keeping room for the CRLF that ends the
 * head.  A line that does not fit makes the whole head fail: a head
 * relayed without some of its lines could lose its framing.
 */
static int
head_add(struct response_head *h, const char *s, size_t len)
{
	if (h->len + 4 > h->size || len > h->size - h->len - 4)
		return -1;
	memcpy(h->buf + h->len, s, len);
	memcpy(h->buf + h->len + len, "\r\n", 2);
	h->len += len + 2;
	return 0;
}

/*
 * Finds the Connection header (it may come after the headers it names)
 * and counts the fields; -1 if there are more than HEADERS_FIELDS_MAX.
 */
static int
scan_fields(const char *raw, const char *end, const char **conn,
    size_t *conn_len)
{
	const char *line, *lend, *next, *colon;
	int n = 0;

	*conn = NULL;
	*conn_len = 0;
	next = next_line(raw, end, &lend);
	for (line = next; line < end; line = next) {
		next = next_line(line, end, &lend);
		if (lend == line)
			continue;
		if (++n > HEADERS_FIELDS_MAX)
			return -1;
		colon = memchr(line, ':', (size_t)(lend - line));
		if (colon != NULL &&
		    name_is(line, (size_t)(colon - line), "connection")) {
			*conn = colon + 1;
			*conn_len = (size_t)(lend - *conn);
		}
	}
	return 0;
}

/* Adds the framing this client needs; -1 if the head has no room. */
static int
head_frame(struct response_head *h, const struct request *r, int have_cl,
    int no_body)
{
	if (!no_body && !have_cl) {
		if (r->http_minor == 1) {
			h->chunked = 1;
			if (head_add(h, "Transfer-Encoding: chunked", 26) == -1)
				return -1;
		} else
			h->close = 1;
	}
	if (h->close || !r->keepalive)
		return head_add(h, "Connection: close", 17);
	if (r->http_minor == 0)
		return head_add(h, "Connection: keep-alive", 22);
	return 0;
}

/*
 * Builds the client's response head from upstream's header lines (the
 * status line first): hop-by-hop headers dropped, and the body framed
 * for this client.  Returns NULL, or why the response must be refused.
 */
const char *
headers_response(const char *raw, size_t rawlen, const struct request *r,
    int is_head, int status, struct response_head *h)
{
	const char *line, *lend, *next, *end = raw + rawlen, *colon;
	const char *conn, *sp;
	size_t conn_len, namelen;
	int have_cl = 0, have_te = 0, no_body;

	h->len = 0;
	h->chunked = h->close = 0;
	if (scan_fields(raw, end, &conn, &conn_len) == -1)
		return TOO_LARGE;
	/* The status line, as HTTP/1.1 with upstream's code and reason. */
	next = next_line(raw, end, &lend);
	sp = memchr(raw, ' ', (size_t)(lend - raw));
	if (sp == NULL)
		return "the Ollama server sent a malformed status line";
	if (head_add(h, "HTTP/1.1", 8) == -1)
		return TOO_LARGE;
	h->len -= 2;
	if (head_add(h, sp, (size_t)(lend - sp)) == -1)
		return TOO_LARGE;
	for (line = next; line < end; line = next) {
		next = next_line(line, end, &lend);
		colon = memchr(line, ':', (size_t)(lend - line));
		if (colon == NULL)
			continue;
		namelen = (size_t)(colon - line);
		if (name_is(line, namelen, "transfer-encoding"))
			have_te++;
		if (name_is(line, namelen, "content-length"))
			have_cl++;
		if (headers_is_hop(line, namelen) ||
		    named_by_connection(conn, conn_len, line, namelen))
			continue;
		if (head_add(h, line, (size_t)(lend - line)) == -1)
			return TOO_LARGE;
	}
	/* The framing of what upstream sends must be unambiguous, or the
	 * response could smuggle a second one: refuse it whole. */
	if (have_cl > 1 || (have_cl && have_te))
		return "the Ollama server sent an ambiguous response "
		    "(Content-Length twice, or with Transfer-Encoding)";
	no_body = is_head || status == 204 || status == 304;
	if (head_frame(h, r, have_cl, no_body) == -1)
		return TOO_LARGE;
	/* head_add always leaves room for this. */
	memcpy(h->buf + h->len, "\r\n", 2);
	h->len += 2;
	return NULL;
}

/*
 * 100 Continue and 103 Early Hints are interim and skipped.  We never
 * ask for an upgrade, so a 101 (after which the bytes are no longer
 * HTTP) or another 1xx is a response we cannot relay.
 */
const char *
headers_status_refused(int status)
{
	if (status >= 200 || status == 100 || status == 103)
		return NULL;
	if (status == 101)
		return "the Ollama server switched protocols (101), which "
		    "was never asked for";
	return "the Ollama server sent an unknown interim (1xx) response";
}

/* No control byte but tab (RFC 9110 5.5: a bare CR, LF or NUL could
 * split or end the line at the client). */
static int
no_controls(const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (((unsigned char)buf[i] < 0x20 && buf[i] != '\t') ||
		    buf[i] == 0x7f)
			return 0;
	return 1;
}

/*
 * A status line the client can be given as it is: "HTTP/1.x", a space,
 * three digits from 100 to 599, and a space and reason (or nothing),
 * the reason without control bytes.
 */
int
headers_status_line_ok(const char *buf, size_t len)
{
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	if (len < 12 || memcmp(buf, "HTTP/1.", 7) != 0 ||
	    (buf[7] != '0' && buf[7] != '1') || buf[8] != ' ' ||
	    buf[9] < '1' || buf[9] > '5' || !isdigit((unsigned char)buf[10]) ||
	    !isdigit((unsigned char)buf[11]))
		return 0;
	return len == 12 || (buf[12] == ' ' && (len == 13 || buf[13] != ' ') &&
	    no_controls(buf + 13, len - 13));
}

/*
 * A header line may not carry a bare CR or another control byte (it
 * could split the response at the client), and a Content-Length must be
 * digits alone ("17, 17" frames nothing reliably).
 */
int
headers_line_ok(const char *buf, size_t len)
{
	const char *colon, *v;

	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	if (!no_controls(buf, len))
		return 0;
	if ((colon = memchr(buf, ':', len)) == NULL ||
	    !name_is(buf, (size_t)(colon - buf), "content-length"))
		return 1;
	for (v = colon + 1; v < buf + len && (*v == ' ' || *v == '\t'); v++)
		;
	if (v == buf + len)
		return 0;
	for (; v < buf + len && isdigit((unsigned char)*v); v++)
		;
	for (; v < buf + len && (*v == ' ' || *v == '\t'); v++)
		;
	return v == buf + len;
}


const char *
headers_find(const char *raw, size_t rawlen, const char *name, char *out,
    size_t outlen)
{
	const char *p = raw, *end = raw + rawlen, *e, *v;
	size_t n, len = strlen(name);

	for (; p < end; p = e + 1) {
		if ((e = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;
		if ((size_t)(e - p) <= len || p[len] != ':' ||
		    strncasecmp(p, name, len) != 0)
			continue;
		for (v = p + len + 1; v < e && (*v == ' ' || *v == '\t'); v++)
			;
		for (n = (size_t)(e - v); n > 0 && (v[n - 1] == '\r' ||
		    v[n - 1] == ' ' || v[n - 1] == '\t'); n--)
			;
		if (n >= outlen)
			n = outlen - 1;
		memcpy(out, v, n);
		out[n] = '\0';
		return out;
	}
	return NULL;
}
