/*
 * proxy: one libcurl easy handle per worker, reused for every request so
 * upstream connections stay open between them.
 *
 * Nothing is buffered whole.  The request body flows from the client
 * socket through the read callback; the response head is collected by
 * the header callback and sent to the client with the first body bytes
 * (or by the progress callback, if the body is slow to start), and body
 * bytes go from the write callback straight to the client socket.  The
 * progress callback, which libcurl calls at least once a second, is
 * where upstream silence and a vanished client are noticed, so an
 * abandoned generation is cut within a second even when nothing flows.
 */
#include <sys/ioctl.h>
#include <sys/uio.h>

#include <linux/sockios.h>

#include <curl/curl.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "client.h"
#include "config.h"
#include "log.h"
#include "proxy.h"
#include "reply.h"
#include "request.h"
#include "worker.h"

#define RESP_HEAD_MAX	(32 * 1024)
#define REPLAY_MAX	(64 * 1024)
#define HDR_OUT_MAX	(REQUEST_HEAD_MAX + 1024)
#define GONE_CHECK_MS	250
#define HEAD_HOLD_MS	200

struct xfer {
	struct client	*c;
	int		 is_head;
	int		 status;
	int		 head_pending;	/* head built, not yet sent */
	int		 head_sent;
	int		 chunked_out;	/* we chunk the body to the client */
	int		 close_after;	/* close-delimited, or upstream said */
	int		 done_headers;
	int64_t		 head_ready_ms;
	enum proxy_fail	 fail;
	const char	*fail_msg;
	int64_t		 last_rx_ms;
	int64_t		 start_us;
	int64_t		 ttfb_us;
	int64_t		 last_gone_ms;
	curl_off_t	 last_dl, last_ul;
	int		 last_queued;	/* unsent bytes on the upstream socket */

	size_t		 rawlen;	/* upstream header lines */
	char		 raw[RESP_HEAD_MAX];
	size_t		 headlen;	/* head for the client */
	char		 head[RESP_HEAD_MAX + 256];

	/* The start of the request body, kept so a retry can resend it. */
	size_t		 replay_len;
	size_t		 replay_pos;
	int		 replay_ok;
	int		 replaying;
	char		 replay[REPLAY_MAX];
};

static CURL		*curl;
static char		 base_url[CONFIG_URL_MAX];
static size_t		 base_len;
static long		 silence_ms;
static struct xfer	 xf;
static char		 url[CONFIG_URL_MAX + REQUEST_TARGET_MAX + 1];
static char		 hdrout[HDR_OUT_MAX];
static struct curl_slist hdrnodes[REQUEST_FIELDS_MAX + 8];
static char		 errbuf[CURL_ERROR_SIZE];

static void	arm_once(void);

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
proxy_init(const struct config *cfg)
{
	if ((curl = curl_easy_init()) == NULL) {
		log_warnx("%s: curl_easy_init failed", __func__);
		return -1;
	}
	base_len = strlcpy(base_url, cfg->target_url, sizeof(base_url));
	/* The client's path starts with '/', so the prefix must not end in
	 * one: http://gpu:11434/ollama/ and .../ollama are the same. */
	while (base_len > 0 && base_url[base_len - 1] == '/')
		base_url[--base_len] = '\0';
	silence_ms = (long)cfg->timeout * 1000;
	memcpy(url, base_url, base_len);
	arm_once();
	return 0;
}

void
proxy_cleanup(void)
{
	if (curl != NULL)
		curl_easy_cleanup(curl);
	curl = NULL;
}

const char *
proxy_fail_name(enum proxy_fail f)
{
	switch (f) {
	case PF_NONE: return "-";
	case PF_CLIENT_GONE: return "client-gone";
	case PF_CLIENT_SLOW: return "client-slow";
	case PF_CLIENT_BODY: return "client-body";
	case PF_UPSTREAM_REFUSED: return "upstream-refused";
	case PF_UPSTREAM_TIMEOUT: return "upstream-timeout";
	case PF_UPSTREAM_BAD: return "upstream-bad";
	}
	return "-";
}

/* Hop-by-hop headers (RFC 9110 7.6.1) and those the proxy sets itself. */
static int
is_hop(const char *name, size_t len)
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

/* Appends one "Name: value" node; an empty value uses curl's "Name;". */
static struct curl_slist *
hdr_add(struct curl_slist *tail, size_t *used, int *n, const char *name,
    size_t namelen, const char *value, size_t valuelen)
{
	char *p = hdrout + *used;
	size_t need = namelen + valuelen + 3;

	if (*used + need > sizeof(hdrout) ||
	    *n == (int)(sizeof(hdrnodes) / sizeof(hdrnodes[0])))
		return tail;
	memcpy(p, name, namelen);
	if (valuelen == 0) {
		p[namelen] = ';';
		p[namelen + 1] = '\0';
	} else {
		p[namelen] = ':';
		p[namelen + 1] = ' ';
		memcpy(p + namelen + 2, value, valuelen);
		p[namelen + 2 + valuelen] = '\0';
	}
	*used += need;
	hdrnodes[*n].data = p;
	hdrnodes[*n].next = NULL;
	if (tail != NULL)
		tail->next = &hdrnodes[*n];
	return &hdrnodes[(*n)++];
}

/*
 * The request headers for upstream, as a curl_slist built in static
 * nodes (no allocation).  curl sets Host from the URL and frames the
 * body itself; empty "Name:" entries remove headers curl would add.
 */
static struct curl_slist *
build_request_headers(struct client *c)
{
	struct request *r = &c->req;
	struct curl_slist *tail = NULL;
	const struct header *h;
	const char *host;
	size_t hostlen, used = 0;
	int i, n = 0, have_accept = 0, have_ctype = 0;

	for (i = 0; i < r->nhdr; i++) {
		h = &r->hdr[i];
		if (is_hop(h->name, h->namelen) ||
		    name_is(h->name, h->namelen, "host") ||
		    name_is(h->name, h->namelen, "authorization") ||
		    name_is(h->name, h->namelen, "expect") ||
		    name_is(h->name, h->namelen, "content-length") ||
		    name_is(h->name, h->namelen, "x-forwarded-for") ||
		    name_is(h->name, h->namelen, "x-forwarded-proto") ||
		    name_is(h->name, h->namelen, "x-forwarded-host") ||
		    named_by_request_connection(r, h->name, h->namelen))
			continue;
		if (name_is(h->name, h->namelen, "accept"))
			have_accept = 1;
		if (name_is(h->name, h->namelen, "content-type"))
			have_ctype = 1;
		tail = hdr_add(tail, &used, &n, h->name, h->namelen, h->value,
		    h->valuelen);
	}
	tail = hdr_add(tail, &used, &n, "X-Forwarded-For", 15, c->addr,
	    strlen(c->addr));
	tail = hdr_add(tail, &used, &n, "X-Forwarded-Proto", 17, "http", 4);
	if ((host = request_header(r, RH_HOST, &hostlen)) != NULL)
		tail = hdr_add(tail, &used, &n, "X-Forwarded-Host", 16, host,
		    hostlen);
	/* "Name:" with nothing after it tells curl not to send its own. */
	hdrnodes[n].data = (char *)(uintptr_t)"Expect:";
	hdrnodes[n].next = NULL;
	if (tail != NULL)
		tail->next = &hdrnodes[n];
	tail = &hdrnodes[n++];
	if (!have_accept) {
		hdrnodes[n].data = (char *)(uintptr_t)"Accept:";
		hdrnodes[n].next = NULL;
		tail->next = &hdrnodes[n];
		tail = &hdrnodes[n++];
	}
	if (!have_ctype) {
		hdrnodes[n].data = (char *)(uintptr_t)"Content-Type:";
		hdrnodes[n].next = NULL;
		tail->next = &hdrnodes[n];
		n++;
	}
	return &hdrnodes[0];
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

static void
head_add(size_t *n, const char *s, size_t len)
{
	if (*n + len + 2 > sizeof(xf.head) - 64)
		return;
	memcpy(xf.head + *n, s, len);
	memcpy(xf.head + *n + len, "\r\n", 2);
	*n += len + 2;
}

/*
 * Builds the client's response head from the upstream header lines:
 * hop-by-hop headers dropped, and the body framed for this client.
 */
static void
build_response_head(void)
{
	struct request *r = &xf.c->req;
	const char *line, *lend, *next, *end = xf.raw + xf.rawlen, *colon;
	const char *conn = NULL, *sp;
	size_t conn_len = 0, namelen, n;
	int have_cl = 0, have_te = 0, no_body;

	/* Connection may come after the headers it names: find it first. */
	next = next_line(xf.raw, end, &lend);
	for (line = next; line < end; line = next) {
		next = next_line(line, end, &lend);
		colon = memchr(line, ':', (size_t)(lend - line));
		if (colon != NULL &&
		    name_is(line, (size_t)(colon - line), "connection")) {
			conn = colon + 1;
			conn_len = (size_t)(lend - conn);
		}
	}
	/* The status line, as HTTP/1.1 with upstream's code and reason. */
	next = next_line(xf.raw, end, &lend);
	sp = memchr(xf.raw, ' ', (size_t)(lend - xf.raw));
	n = 0;
	head_add(&n, "HTTP/1.1", 8);
	n -= 2;
	head_add(&n, sp != NULL ? sp : " 502 Bad Gateway",
	    sp != NULL ? (size_t)(lend - sp) : 16);
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
		if (is_hop(line, namelen) ||
		    named_by_connection(conn, conn_len, line, namelen))
			continue;
		head_add(&n, line, (size_t)(lend - line));
	}
	/* The framing of what upstream sends must be unambiguous, or the
	 * response could smuggle a second one: refuse it whole. */
	if (have_cl > 1 || (have_cl && have_te)) {
		xf.fail = PF_UPSTREAM_BAD;
		xf.fail_msg = "the Ollama server sent an ambiguous response "
		    "(Content-Length twice, or with Transfer-Encoding)";
		return;
	}
	no_body = xf.is_head || xf.status == 204 || xf.status == 304;
	if (!no_body && !have_cl) {
		if (r->http_minor == 1) {
			xf.chunked_out = 1;
			head_add(&n, "Transfer-Encoding: chunked", 26);
		} else
			xf.close_after = 1;
	}
	if (xf.close_after || !r->keepalive)
		head_add(&n, "Connection: close", 17);
	else if (r->http_minor == 0)
		head_add(&n, "Connection: keep-alive", 22);
	memcpy(xf.head + n, "\r\n", 2);
	xf.headlen = n + 2;
	xf.head_pending = 1;
	xf.head_ready_ms = now_ms();
}

/* Refuses the upstream response: nothing of it reaches the client. */
static size_t
bad_upstream(const char *why)
{
	xf.fail = PF_UPSTREAM_BAD;
	xf.fail_msg = why;
	return 0;
}

/*
 * A status line the client can be given as it is: "HTTP/1.x", a space,
 * three digits from 100 to 599, and a space and reason (or nothing).
 */
static int
status_line_ok(const char *buf, size_t len)
{
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	if (len < 12 || memcmp(buf, "HTTP/1.", 7) != 0 ||
	    (buf[7] != '0' && buf[7] != '1') || buf[8] != ' ' ||
	    buf[9] < '1' || buf[9] > '5' || !isdigit((unsigned char)buf[10]) ||
	    !isdigit((unsigned char)buf[11]))
		return 0;
	return len == 12 || (buf[12] == ' ' && (len == 13 || buf[13] != ' '));
}

/*
 * A header line may not carry a bare CR or another control byte (it
 * could split the response at the client), and a Content-Length must be
 * digits alone ("17, 17" frames nothing reliably).
 */
static int
header_line_ok(const char *buf, size_t len)
{
	const char *colon, *v;
	size_t i;

	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	for (i = 0; i < len; i++)
		if (((unsigned char)buf[i] < 0x20 && buf[i] != '\t') ||
		    buf[i] == 0x7f)
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

static size_t
header_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	size_t len = size * nitems;

	xf.last_rx_ms = now_ms();
	if (xf.ttfb_us < 0)
		xf.ttfb_us = now_us() - xf.start_us;
	if (xf.done_headers)
		return len;		/* trailers: not relayed */
	if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
		if (!status_line_ok(buf, len))
			return bad_upstream("the Ollama server sent a malformed "
			    "status line");
		xf.rawlen = 0;
		xf.status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 +
		    (buf[11] - '0');
	} else if ((len == 2 && buf[0] == '\r') || (len == 1 &&
	    buf[0] == '\n')) {
		/* 1xx responses are interim: wait for the final one. */
		if (xf.status >= 100 && xf.status < 200) {
			xf.rawlen = 0;
			return len;
		}
		xf.done_headers = 1;
		build_response_head();
		return xf.fail == PF_NONE ? len : 0;
	} else if (!header_line_ok(buf, len))
		return bad_upstream("the Ollama server sent a malformed header "
		    "(a control character, or a Content-Length that is not a "
		    "number)");
	if (xf.rawlen + len > sizeof(xf.raw))
		return bad_upstream("the Ollama server's response head is "
		    "larger than 32 KiB");
	memcpy(xf.raw + xf.rawlen, buf, len);
	xf.rawlen += len;
	return len;
}

static int
send_head(void)
{
	if (client_send(xf.c, xf.head, xf.headlen) == -1)
		return -1;
	xf.head_pending = 0;
	xf.head_sent = 1;
	return 0;
}

static size_t
write_cb(char *data, size_t size, size_t nitems, void *arg)
{
	struct iovec iov[4];
	char chunk[24];
	size_t len = size * nitems;
	int n = 0;

	xf.last_rx_ms = now_ms();
	if (len == 0 || xf.is_head)
		return len;
	if (xf.head_pending) {
		iov[n].iov_base = xf.head;
		iov[n++].iov_len = xf.headlen;
	}
	if (xf.chunked_out) {
		iov[n].iov_base = chunk;
		iov[n++].iov_len = (size_t)snprintf(chunk, sizeof(chunk),
		    "%zx\r\n", len);
	}
	iov[n].iov_base = data;
	iov[n++].iov_len = len;
	if (xf.chunked_out) {
		iov[n].iov_base = (void *)(uintptr_t)"\r\n";
		iov[n++].iov_len = 2;
	}
	if (client_sendv(xf.c, iov, n) == -1) {
		xf.fail = errno == EAGAIN || errno == EWOULDBLOCK ?
		    PF_CLIENT_SLOW : PF_CLIENT_GONE;
		return 0;
	}
	xf.head_pending = 0;
	xf.head_sent = 1;
	return len;
}

static size_t
read_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	size_t room = size * nitems, n;
	ssize_t got;

	if (xf.replaying) {
		n = xf.replay_len - xf.replay_pos;
		if (n > room)
			n = room;
		memcpy(buf, xf.replay + xf.replay_pos, n);
		xf.replay_pos += n;
		if (xf.replay_pos == xf.replay_len)
			xf.replaying = 0;
		if (n > 0)
			return n;
	}
	got = client_read_body(xf.c, buf, room);
	if (got == -1) {
		xf.fail = PF_CLIENT_BODY;
		return CURL_READFUNC_ABORT;
	}
	if (xf.replay_ok) {
		if (xf.replay_len + (size_t)got <= sizeof(xf.replay)) {
			memcpy(xf.replay + xf.replay_len, buf, (size_t)got);
			xf.replay_len += (size_t)got;
		} else
			xf.replay_ok = 0;
	}
	return (size_t)got;
}

/*
 * libcurl rewinds the body when a reused connection turns out dead after
 * sending began.  The first REPLAY_MAX bytes are kept for that; a larger
 * body cannot be resent, and the request fails with 502.
 */
static int
seek_cb(void *arg, curl_off_t offset, int origin)
{
	if (origin != SEEK_SET || !xf.replay_ok || offset < 0 ||
	    (size_t)offset > xf.replay_len)
		return CURL_SEEKFUNC_CANTSEEK;
	xf.replay_pos = (size_t)offset;
	xf.replaying = xf.replay_pos < xf.replay_len;
	return CURL_SEEKFUNC_OK;
}

/*
 * Upload progress counts bytes handed to the kernel, which on a fast
 * link takes a whole body at once; an Ollama that then reads it slowly
 * is busy, not silent.  The bytes still queued on the upstream socket
 * say whether it reads: asked only when the silence limit is reached.
 */
static int
upstream_reading(void)
{
	curl_socket_t fd;
	int queued;

	if (xf.last_ul == 0 ||
	    curl_easy_getinfo(curl, CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK ||
	    fd == CURL_SOCKET_BAD || ioctl(fd, SIOCOUTQ, &queued) == -1)
		return 0;
	if (queued == 0 || queued == xf.last_queued) {
		xf.last_queued = queued;
		return 0;
	}
	xf.last_queued = queued;
	xf.last_rx_ms = now_ms();
	return 1;
}

static int
progress_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	int64_t now = now_ms();

	/*
	 * The head normally leaves with the first body bytes.  If those are
	 * slow to come, it goes alone after a moment, so a client sees the
	 * status at once; the moment lets a broken first chunk still turn
	 * into a clean 502.
	 */
	if (xf.head_pending && !xf.is_head &&
	    now - xf.head_ready_ms >= HEAD_HOLD_MS && send_head() == -1) {
		xf.fail = PF_CLIENT_GONE;
		return 1;
	}
	if (dlnow != xf.last_dl || ulnow != xf.last_ul) {
		xf.last_dl = dlnow;
		xf.last_ul = ulnow;
		xf.last_rx_ms = now;
	}
	if (now - xf.last_rx_ms >= silence_ms && !upstream_reading()) {
		xf.fail = PF_UPSTREAM_TIMEOUT;
		return 1;
	}
	if (now - xf.last_gone_ms >= GONE_CHECK_MS) {
		xf.last_gone_ms = now;
		if (client_gone(xf.c)) {
			xf.fail = PF_CLIENT_GONE;
			return 1;
		}
	}
	return 0;
}

/*
 * Method and body.  HTTPGET first puts the handle back to a plain GET
 * (no body, no upload) whatever the last request was; then each method
 * sets only what it needs.  HEAD uses NOBODY, never CUSTOMREQUEST.
 */
static void
set_method(struct request *r)
{
	curl_off_t size = r->chunked ? -1 : (curl_off_t)r->content_length;

	curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, NULL);
	switch (r->method_id) {
	case HTTP_GET:
		if (!r->has_body)
			return;
		break;
	case HTTP_HEAD:
		curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
		return;
	case HTTP_POST:
		curl_easy_setopt(curl, CURLOPT_POST, 1L);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, size);
		return;
	case HTTP_PUT:
		curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, size);
		return;
	default:
		break;
	}
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, r->method);
	if (r->has_body) {
		curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, size);
	}
}

/*
 * What stays the same for every request is set once, when the worker
 * starts: curl_easy_reset() and setting it all again cost more than
 * parsing the request.  arm() sets everything else, every time, so
 * nothing of one request leaks into the next.
 */
static void
arm_once(void)
{
	curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(curl, CURLOPT_PROXY, "");
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(curl, CURLOPT_HTTP_CONTENT_DECODING, 0L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
	    silence_ms < 10000 ? silence_ms : 10000L);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, seek_cb);
	curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, progress_cb);
	curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(curl, CURLOPT_BUFFERSIZE, 64L * 1024);
	curl_easy_setopt(curl, CURLOPT_UPLOAD_BUFFERSIZE, 64L * 1024);
}

static void
arm(struct client *c)
{
	struct request *r = &c->req;

	memcpy(url + base_len, r->target, r->target_len);
	url[base_len + r->target_len] = '\0';
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, build_request_headers(c));
	set_method(r);
}

static const char *
upstream_error(CURLcode rc, enum proxy_fail *fail, int *status)
{
	*status = 502;
	*fail = PF_UPSTREAM_BAD;
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		*fail = PF_UPSTREAM_REFUSED;
		return "the Ollama server refused the connection";
	case CURLE_COULDNT_RESOLVE_HOST:
		*fail = PF_UPSTREAM_REFUSED;
		return "the Ollama server's host name does not resolve";
	case CURLE_OPERATION_TIMEDOUT:
		*fail = PF_UPSTREAM_REFUSED;
		return "the Ollama server did not accept the connection in time";
	case CURLE_GOT_NOTHING:
		return "the Ollama server closed the connection without "
		    "a response";
	default:
		return "the Ollama server sent a malformed response";
	}
}

static void	forward(struct client *, struct proxy_result *);

/* How much of the target a log line shows: the path, never the query,
 * which may carry secrets. */
static int
logpath_len(const struct request *r)
{
	const char *q = memchr(r->target, '?', r->target_len);

	return (int)(q != NULL ? (size_t)(q - r->target) : r->target_len);
}

void
proxy_forward(struct client *c, struct proxy_result *res)
{
	forward(c, res);
	res->ttfb_us = xf.ttfb_us;
}

static void
forward(struct client *c, struct proxy_result *res)
{
	struct request *r = &c->req;
	const char *msg;
	CURLcode rc;

	memset(res, 0, sizeof(*res));
	xf.c = c;
	xf.is_head = r->method_id == HTTP_HEAD;
	xf.status = 0;
	xf.head_pending = xf.head_sent = 0;
	xf.chunked_out = xf.close_after = xf.done_headers = 0;
	xf.fail = PF_NONE;
	xf.fail_msg = NULL;
	xf.last_rx_ms = xf.last_gone_ms = now_ms();
	xf.last_dl = xf.last_ul = 0;
	xf.last_queued = -1;
	xf.start_us = now_us();
	xf.ttfb_us = -1;
	xf.rawlen = xf.headlen = 0;
	xf.replay_len = xf.replay_pos = 0;
	xf.replay_ok = 1;
	xf.replaying = 0;
	errbuf[0] = '\0';

	if (r->expect_continue && r->has_body &&
	    client_send(c, "HTTP/1.1 100 Continue\r\n\r\n", 25) == -1) {
		res->fail = PF_CLIENT_GONE;
		res->close = 1;
		return;
	}
	arm(c);
	rc = curl_easy_perform(curl);
	if (rc == CURLE_OK && xf.fail == PF_NONE) {
		if (xf.head_pending && send_head() == -1)
			xf.fail = PF_CLIENT_GONE;
		else if (xf.chunked_out &&
		    client_send(c, "0\r\n\r\n", 5) == -1)
			xf.fail = PF_CLIENT_GONE;
		res->status = xf.status;
		res->fail = xf.fail;
		res->close = xf.fail != PF_NONE || xf.close_after ||
		    !r->keepalive || !r->body_done;
		return;
	}

	res->close = 1;
	if (xf.fail == PF_NONE)
		msg = upstream_error(rc, &xf.fail, &res->status);
	else
		msg = xf.fail_msg;
	res->fail = xf.fail;
	if (xf.head_sent) {
		/* Mid-body: closing without the last chunk is how the client
		 * learns the response is incomplete. */
		res->status = xf.status;
		log_warnx("%s %.*s: response cut short (%s): %s", r->method,
		    logpath_len(r), r->target, proxy_fail_name(xf.fail),
		    errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
		return;
	}
	switch (xf.fail) {
	case PF_CLIENT_GONE:
		res->status = 0;
		log_info("%s %.*s: client went away", r->method,
		    logpath_len(r), r->target);
		return;
	case PF_CLIENT_BODY:
		if (r->status != 0) {
			/* Bad chunk framing (400) or a stalled body (408). */
			res->status = r->status;
			msg = r->error;
		} else {
			res->status = 0;
			log_info("%s %.*s: %s", r->method, logpath_len(r),
			    r->target, r->error != NULL ? r->error :
			    "client body failed");
			return;
		}
		break;
	case PF_UPSTREAM_TIMEOUT:
		res->status = 504;
		msg = "the Ollama server sent nothing within the timeout";
		break;
	default:
		if (res->status == 0)
			res->status = 502;
		if (msg == NULL)
			msg = "the Ollama server sent a malformed response";
		break;
	}
	log_warnx("%s %.*s: %d (%s): %s", r->method, logpath_len(r),
	    r->target, res->status, proxy_fail_name(xf.fail),
	    xf.fail_msg != NULL || xf.fail == PF_CLIENT_BODY ||
	    errbuf[0] == '\0' ? msg : errbuf);
	reply_error(c, res->status, msg, 1);
}
