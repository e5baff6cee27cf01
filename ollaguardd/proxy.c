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
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "client.h"
#include "config.h"
#include "headers.h"
#include "log.h"
#include "meter.h"
#include "modellist.h"
#include "monotime.h"
#include "proxy.h"
#include "reply.h"
#include "request.h"
#include "streamusage.h"

#define RESP_HEAD_MAX	(32 * 1024)
#define REPLAY_MAX	(64 * 1024)
#define GONE_CHECK_MS	250
#define HEAD_HOLD_MS	200

/* Why a forwarded request failed, for the log. */
enum proxy_fail {
	PF_NONE = 0,
	PF_CLIENT_GONE,
	PF_CLIENT_SLOW,		/* stopped reading for --send-timeout */
	PF_CLIENT_BODY,
	PF_UPSTREAM_REFUSED,
	PF_UPSTREAM_TIMEOUT,
	PF_UPSTREAM_BAD
};

/*
 * Everything one forwarded request knows.  It is cleared with one
 * assignment per request, so nothing can leak into the next one, and
 * handed to every libcurl callback as its userdata.  The large buffers
 * live beside it (struct xbufs) and are valid only up to the lengths
 * kept here.
 */
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

	size_t		 rawlen;	/* upstream header lines in raw */
	size_t		 headlen;	/* head for the client in head */

	/* The start of the request body, kept so a retry can resend it. */
	size_t		 replay_len;
	size_t		 replay_pos;
	int		 replay_ok;
	int		 replaying;

	/* The caller's body and list filter (proxy_req), if any. */
	const struct proxy_req *pr;
	size_t		 body_pos;
	int		 listing;	/* collect the answer in list */
	struct modellist list;		/* freed by proxy_forward */
};

struct xbufs {
	char		 raw[RESP_HEAD_MAX];
	char		 head[RESP_HEAD_MAX + 256];
	char		 replay[REPLAY_MAX];
};

static CURL		*curl;
static char		 base_url[CONFIG_URL_MAX];
static size_t		 base_len;
static long		 silence_ms;
static struct xfer	 xfer;
static struct xbufs	 xb;
static char		 url[CONFIG_URL_MAX + REQUEST_TARGET_MAX + 1];
static char		 errbuf[CURL_ERROR_SIZE];

static void	arm_once(void);

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

static const char *
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

/* Refuses the upstream response: nothing of it reaches the client. */
static size_t
bad_upstream(struct xfer *xf, const char *why)
{
	xf->fail = PF_UPSTREAM_BAD;
	xf->fail_msg = why;
	return 0;
}

/* The client's head, from upstream's; -1 if upstream's is refused. */
static int
build_response_head(struct xfer *xf)
{
	struct response_head h;
	const char *why;
	char ce[64];

	/* A worker told to stop says so on the response it is making. */
	if (*xf->c->stopping)
		xf->c->req.keepalive = 0;
	h.buf = xb.head;
	h.size = sizeof(xb.head);
	why = headers_response(xb.raw, xf->rawlen, &xf->c->req, xf->is_head,
	    xf->status, &h);
	if (why != NULL) {
		bad_upstream(xf, why);
		return -1;
	}
	/* The meter reads identity bodies only. */
	if (xf->pr != NULL && xf->pr->meter != NULL)
		meter_begin(xf->pr->meter, headers_find(xb.raw, xf->rawlen,
		    "content-encoding", ce, sizeof(ce)));
	xf->headlen = h.len;
	xf->chunked_out = h.chunked;
	xf->close_after = h.close;
	xf->head_pending = 1;
	xf->head_ready_ms = monotime_ms();
	return 0;
}

static size_t
header_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct xfer *xf = arg;
	size_t len = size * nitems;
	const char *why;

	xf->last_rx_ms = monotime_ms();
	if (xf->ttfb_us < 0)
		xf->ttfb_us = monotime_us() - xf->start_us;
	if (xf->done_headers)
		return len;		/* trailers: not relayed */
	if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
		if (!headers_status_line_ok(buf, len))
			return bad_upstream(xf, "the Ollama server sent a "
			    "malformed status line");
		xf->rawlen = 0;
		xf->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 +
		    (buf[11] - '0');
		if ((why = headers_status_refused(xf->status)) != NULL)
			return bad_upstream(xf, why);
	} else if ((len == 2 && buf[0] == '\r') || (len == 1 &&
	    buf[0] == '\n')) {
		/* 1xx responses are interim: wait for the final one. */
		if (xf->status >= 100 && xf->status < 200) {
			xf->rawlen = 0;
			return len;
		}
		xf->done_headers = 1;
		return build_response_head(xf) == -1 ? 0 : len;
	} else if (!headers_line_ok(buf, len))
		return bad_upstream(xf, "the Ollama server sent a malformed "
		    "header "
		    "(a control character, or a Content-Length that is not a "
		    "number)");
	if (xf->rawlen + len > sizeof(xb.raw))
		return bad_upstream(xf, "the Ollama server's response head "
		    "is larger than 32 KiB");
	memcpy(xb.raw + xf->rawlen, buf, len);
	xf->rawlen += len;
	return len;
}

static int
send_head(struct xfer *xf)
{
	if (client_send(xf->c, xb.head, xf->headlen) == -1)
		return -1;
	xf->head_pending = 0;
	xf->head_sent = 1;
	return 0;
}

/* Body bytes to the client: one sendmsg with the head if it is still
 * pending and the chunk framing.  0, or -1 with xf->fail set. */
static int
relay(const char *data, size_t len, void *arg)
{
	struct xfer *xf = arg;
	struct iovec iov[4];
	char chunk[24];
	int n = 0;

	if (len == 0)
		return 0;
	if (xf->head_pending) {
		iov[n].iov_base = xb.head;
		iov[n++].iov_len = xf->headlen;
	}
	if (xf->chunked_out) {
		iov[n].iov_base = chunk;
		iov[n++].iov_len = (size_t)snprintf(chunk, sizeof(chunk),
		    "%zx\r\n", len);
	}
	iov[n].iov_base = (void *)(uintptr_t)data;
	iov[n++].iov_len = len;
	if (xf->chunked_out) {
		iov[n].iov_base = (void *)(uintptr_t)"\r\n";
		iov[n++].iov_len = 2;
	}
	if (client_sendv(xf->c, iov, n) == -1) {
		xf->fail = errno == EAGAIN || errno == EWOULDBLOCK ?
		    PF_CLIENT_SLOW : PF_CLIENT_GONE;
		return -1;
	}
	xf->head_pending = 0;
	xf->head_sent = 1;
	return 0;
}

static size_t
write_cb(char *data, size_t size, size_t nitems, void *arg)
{
	struct xfer *xf = arg;
	const char *why;
	size_t len = size * nitems;

	xf->last_rx_ms = monotime_ms();
	if (len == 0 || xf->is_head)
		return len;
	if (xf->listing) {
		if (modellist_add(&xf->list, xf->pr->list_max, data, len,
		    &why) == -1)
			return bad_upstream(xf, why);
		return len;
	}
	if (xf->pr != NULL && xf->pr->meter != NULL)
		meter_feed(xf->pr->meter, data, len);
	if (xf->pr != NULL && xf->pr->filter != NULL)
		return streamusage_feed(xf->pr->filter, data, len, relay,
		    xf) == -1 ? 0 : len;
	return relay(data, len, xf) == -1 ? 0 : len;
}

static size_t
read_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct xfer *xf = arg;
	size_t room = size * nitems, n;
	ssize_t got;

	if (xf->pr != NULL && xf->pr->body != NULL) {
		n = xf->pr->bodylen - xf->body_pos;
		if (n > room)
			n = room;
		memcpy(buf, xf->pr->body + xf->body_pos, n);
		xf->body_pos += n;
		return n;
	}
	if (xf->replaying) {
		n = xf->replay_len - xf->replay_pos;
		if (n > room)
			n = room;
		memcpy(buf, xb.replay + xf->replay_pos, n);
		xf->replay_pos += n;
		if (xf->replay_pos == xf->replay_len)
			xf->replaying = 0;
		if (n > 0)
			return n;
	}
	got = client_read_body(xf->c, buf, room);
	if (got == -1) {
		xf->fail = PF_CLIENT_BODY;
		return CURL_READFUNC_ABORT;
	}
	if (xf->replay_ok) {
		if (xf->replay_len + (size_t)got <= sizeof(xb.replay)) {
			memcpy(xb.replay + xf->replay_len, buf, (size_t)got);
			xf->replay_len += (size_t)got;
		} else
			xf->replay_ok = 0;
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
	struct xfer *xf = arg;

	if (xf->pr != NULL && xf->pr->body != NULL) {
		if (origin != SEEK_SET || offset < 0 ||
		    (size_t)offset > xf->pr->bodylen)
			return CURL_SEEKFUNC_CANTSEEK;
		xf->body_pos = (size_t)offset;
		return CURL_SEEKFUNC_OK;
	}
	if (origin != SEEK_SET || !xf->replay_ok || offset < 0 ||
	    (size_t)offset > xf->replay_len)
		return CURL_SEEKFUNC_CANTSEEK;
	xf->replay_pos = (size_t)offset;
	xf->replaying = xf->replay_pos < xf->replay_len;
	return CURL_SEEKFUNC_OK;
}

/*
 * Upload progress counts bytes handed to the kernel, which on a fast
 * link takes a whole body at once; an Ollama that then reads it slowly
 * is busy, not silent.  The bytes still queued on the upstream socket
 * say whether it reads: asked only when the silence limit is reached.
 */
static int
upstream_reading(struct xfer *xf)
{
	curl_socket_t fd;
	int queued;

	if (xf->last_ul == 0 ||
	    curl_easy_getinfo(curl, CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK ||
	    fd == CURL_SOCKET_BAD || ioctl(fd, SIOCOUTQ, &queued) == -1)
		return 0;
	if (queued == 0 || queued == xf->last_queued) {
		xf->last_queued = queued;
		return 0;
	}
	xf->last_queued = queued;
	xf->last_rx_ms = monotime_ms();
	return 1;
}

static int
progress_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	struct xfer *xf = arg;
	int64_t now = monotime_ms();

	/*
	 * The head normally leaves with the first body bytes.  If those are
	 * slow to come, it goes alone after a moment, so a client sees the
	 * status at once; the moment lets a broken first chunk still turn
	 * into a clean 502.
	 */
	if (xf->head_pending && !xf->is_head && !xf->listing &&
	    now - xf->head_ready_ms >= HEAD_HOLD_MS && send_head(xf) == -1) {
		xf->fail = PF_CLIENT_GONE;
		return 1;
	}
	if (dlnow != xf->last_dl || ulnow != xf->last_ul) {
		xf->last_dl = dlnow;
		xf->last_ul = ulnow;
		xf->last_rx_ms = now;
	}
	if (now - xf->last_rx_ms >= silence_ms && !upstream_reading(xf)) {
		xf->fail = PF_UPSTREAM_TIMEOUT;
		return 1;
	}
	if (now - xf->last_gone_ms >= GONE_CHECK_MS) {
		xf->last_gone_ms = now;
		if (client_gone(xf->c)) {
			xf->fail = PF_CLIENT_GONE;
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
set_method(struct request *r, const struct proxy_req *pr)
{
	curl_off_t size = r->chunked ? -1 : (curl_off_t)r->content_length;

	if (pr != NULL && pr->body != NULL)
		size = (curl_off_t)pr->bodylen;

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
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, &xfer);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &xfer);
	curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(curl, CURLOPT_READDATA, &xfer);
	curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, seek_cb);
	curl_easy_setopt(curl, CURLOPT_SEEKDATA, &xfer);
	curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, progress_cb);
	curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &xfer);
	curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(curl, CURLOPT_BUFFERSIZE, 64L * 1024);
	curl_easy_setopt(curl, CURLOPT_UPLOAD_BUFFERSIZE, 64L * 1024);
}

static void
arm(struct client *c, const struct xfer *xf)
{
	struct request *r = &c->req;

	memcpy(url + base_len, r->target, r->target_len);
	url[base_len + r->target_len] = '\0';
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER,
	    headers_upstream(r, c->addr, xf->listing));
	set_method(r, xf->pr);
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

/* How much of the target a log line shows: the path, never the query,
 * which may carry secrets. */
static int
logpath_len(const struct request *r)
{
	const char *q = memchr(r->target, '?', r->target_len);

	return (int)(q != NULL ? (size_t)(q - r->target) : r->target_len);
}

/*
 * A model list read whole: a 200 goes out filtered, with its new length;
 * another status as it came.  Not a list: 502, nothing of it sent.
 */
static void
finish_list(struct xfer *xf, struct outcome *o)
{
	struct request *r = &xf->c->req;
	int rc;

	o->close = xf->close_after || client_closing(xf->c) ||
	    !r->body_done;
	rc = modellist_reply(xf->c, xf->status, &xf->list, xf->pr->allow,
	    xf->pr->arg, o->close);
	if (rc == -2) {
		log_warnx("%s %.*s: 502: the model list is not JSON",
		    r->method, logpath_len(r), r->target);
		reply_fail(xf->c, o, 502, "the Ollama server's model list is "
		    "not JSON", proxy_fail_name(PF_UPSTREAM_BAD));
		return;
	}
	o->status = xf->status;
	o->fail = proxy_fail_name(rc == -1 ? PF_CLIENT_GONE : PF_NONE);
	if (rc == -1)
		o->close = 1;
}

/* A transfer that ended without an error of its own. */
static void
finish(struct xfer *xf, struct outcome *o)
{
	struct request *r = &xf->c->req;

	if (xf->listing) {
		finish_list(xf, o);
		return;
	}
	if (xf->pr != NULL && xf->pr->filter != NULL &&
	    streamusage_end(xf->pr->filter, relay, xf) == -1)
		;	/* relay set xf->fail */
	else if (xf->head_pending && send_head(xf) == -1)
		xf->fail = PF_CLIENT_GONE;
	else if (xf->chunked_out && client_send(xf->c, "0\r\n\r\n", 5) == -1)
		xf->fail = PF_CLIENT_GONE;
	o->status = xf->status;
	o->fail = proxy_fail_name(xf->fail);
	o->close = xf->fail != PF_NONE || xf->close_after ||
	    client_closing(xf->c) || !r->body_done;
}

/*
 * A transfer that failed.  Mid-body, closing without the last chunk is
 * how the client learns the response is incomplete; before the head,
 * the client gets a status saying whose fault it was.
 */
static void
fail(struct xfer *xf, CURLcode rc, struct outcome *o)
{
	struct request *r = &xf->c->req;
	const char *msg;
	int status = 502;

	o->close = 1;
	if (xf->fail == PF_NONE)
		msg = upstream_error(rc, &xf->fail, &status);
	else
		msg = xf->fail_msg;
	o->fail = proxy_fail_name(xf->fail);
	if (xf->head_sent) {
		o->status = xf->status;
		log_warnx("%s %.*s: response cut short (%s): %s", r->method,
		    logpath_len(r), r->target, o->fail,
		    errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
		return;
	}
	switch (xf->fail) {
	case PF_CLIENT_GONE:
		log_info("%s %.*s: client went away", r->method,
		    logpath_len(r), r->target);
		return;
	case PF_CLIENT_BODY:
		if (r->status == 0) {
			log_info("%s %.*s: %s", r->method, logpath_len(r),
			    r->target, r->error != NULL ? r->error :
			    "client body failed");
			return;
		}
		/* Bad chunk framing (400) or a stalled body (408). */
		status = r->status;
		msg = r->error;
		break;
	case PF_UPSTREAM_TIMEOUT:
		status = 504;
		msg = "the Ollama server sent nothing within the timeout";
		break;
	default:
		if (msg == NULL)
			msg = "the Ollama server sent a malformed response";
		break;
	}
	log_warnx("%s %.*s: %d (%s): %s", r->method, logpath_len(r),
	    r->target, status, o->fail, xf->fail_msg != NULL ||
	    xf->fail == PF_CLIENT_BODY || errbuf[0] == '\0' ? msg : errbuf);
	reply_fail(xf->c, o, status, msg, o->fail);
}

void
proxy_forward(struct client *c, const struct proxy_req *pr,
    struct outcome *o)
{
	struct request *r = &c->req;
	struct xfer *xf = &xfer;
	int64_t now = monotime_ms();
	CURLcode rc;

	*xf = (struct xfer){
		.c = c,
		.is_head = r->method_id == HTTP_HEAD,
		.last_rx_ms = now,
		.last_gone_ms = now,
		.last_queued = -1,
		.start_us = monotime_us(),
		.ttfb_us = -1,
		.replay_ok = 1,
		.pr = pr,
		.listing = pr != NULL && pr->allow != NULL &&
		    r->method_id == HTTP_GET,
	};
	errbuf[0] = '\0';
	o->ttfb_us = -1;
	/* A body the caller read has had its 100 Continue. */
	if (r->expect_continue && r->has_body && (pr == NULL ||
	    pr->body == NULL) && client_continue(c) == -1) {
		o->fail = proxy_fail_name(PF_CLIENT_GONE);
		o->close = 1;
		return;
	}
	arm(c, xf);
	rc = curl_easy_perform(curl);
	o->ttfb_us = xf->ttfb_us;
	if (rc == CURLE_OK && xf->fail == PF_NONE)
		finish(xf, o);
	else
		fail(xf, rc, o);
	modellist_free(&xf->list);
}
