/*
 * xfer: the libcurl callbacks of a forwarded request.  The header
 * callback collects the upstream head and rebuilds it for the client;
 * the write callback sends body bytes straight on (with the head, the
 * first time); the read callback feeds the request body from the client
 * socket, or from a buffer, keeping its start for a replay; the progress
 * callback, which libcurl calls at least once a second, sends a head
 * whose body is slow to start and notices upstream silence and a client
 * that went away.
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
#include "upstreams.h"
#include "log.h"
#include "modellist.h"
#include "meter.h"
#include "monotime.h"
#include "proxy.h"
#include "xfer.h"
#include "reply.h"
#include "request.h"
#include "streamusage.h"

struct xbufs		 xfer_bufs;

const char *
xfer_fail_name(enum proxy_fail f)
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

/* Adds the box's name before the blank line that ends the head; the
 * head buffer keeps room for it. */
static void
expose_box(struct xfer *xf)
{
	char line[EXPOSE_MAX];
	int n;

	n = snprintf(line, sizeof(line), "X-Ollaguard-Upstream: %s\r\n\r\n",
	    xf->expose);
	if (n <= 0 || (size_t)n >= sizeof(line) || xf->headlen < 2 ||
	    xf->headlen - 2 + (size_t)n > sizeof(xfer_bufs.head))
		return;
	memcpy(xfer_bufs.head + xf->headlen - 2, line, (size_t)n);
	xf->headlen += (size_t)n - 2;
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
	h.buf = xfer_bufs.head;
	h.size = sizeof(xfer_bufs.head) - EXPOSE_MAX;
	why = headers_response(xfer_bufs.raw, xf->rawlen, &xf->c->req,
	    xf->is_head, xf->status, &h);
	if (why != NULL) {
		bad_upstream(xf, why);
		return -1;
	}
	/* The meter reads identity bodies only. */
	if (xf->pr != NULL && xf->pr->meter != NULL)
		meter_begin(xf->pr->meter, headers_find(xfer_bufs.raw,
		    xf->rawlen, "content-encoding", ce, sizeof(ce)));
	xf->headlen = h.len;
	if (xf->expose != NULL)
		expose_box(xf);
	xf->chunked_out = h.chunked;
	xf->close_after = h.close;
	xf->head_pending = 1;
	xf->head_ready_ms = monotime_ms();
	return 0;
}

size_t
xfer_header_cb(char *buf, size_t size, size_t nitems, void *arg)
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
		xf->holding = xf->may_hold && (xf->status == 502 ||
		    xf->status == 503);
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
	if (xf->rawlen + len > sizeof(xfer_bufs.raw))
		return bad_upstream(xf, "the Ollama server's response head "
		    "is larger than 32 KiB");
	memcpy(xfer_bufs.raw + xf->rawlen, buf, len);
	xf->rawlen += len;
	return len;
}

int
xfer_send_head(struct xfer *xf)
{
	if (client_send(xf->c, xfer_bufs.head, xf->headlen) == -1)
		return -1;
	xf->head_pending = 0;
	xf->head_sent = 1;
	return 0;
}

int
xfer_relay(const char *data, size_t len, void *arg)
{
	struct xfer *xf = arg;
	struct iovec iov[4];
	char chunk[24];
	int n = 0;

	if (len == 0)
		return 0;
	if (xf->head_pending) {
		iov[n].iov_base = xfer_bufs.head;
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

size_t
xfer_write_cb(char *data, size_t size, size_t nitems, void *arg)
{
	struct xfer *xf = arg;
	const char *why;
	size_t len = size * nitems;

	xf->last_rx_ms = monotime_ms();
	if (len == 0 || xf->is_head)
		return len;
	if (xf->holding) {
		/* Only the start of an error body is kept. */
		(void)modellist_add(&xf->list, REPLAY_MAX, data, len, &why);
		return len;
	}
	if (xf->listing) {
		if (modellist_add(&xf->list, xf->pr->list_max, data, len,
		    &why) == -1)
			return bad_upstream(xf, why);
		return len;
	}
	/* The meter sees every byte upstream sent, before any filter. */
	if (xf->pr != NULL && xf->pr->meter != NULL)
		meter_feed(xf->pr->meter, data, len);
	if (xf->pr != NULL && xf->pr->filter != NULL)
		return streamusage_feed(xf->pr->filter, data, len, xfer_relay,
		    xf) == -1 ? 0 : len;
	return xfer_relay(data, len, xf) == -1 ? 0 : len;
}

size_t
xfer_read_cb(char *buf, size_t size, size_t nitems, void *arg)
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
		memcpy(buf, xfer_bufs.replay + xf->replay_pos, n);
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
		if (xf->replay_len + (size_t)got <= sizeof(xfer_bufs.replay)) {
			memcpy(xfer_bufs.replay + xf->replay_len, buf, (size_t)got);
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
int
xfer_seek_cb(void *arg, curl_off_t offset, int origin)
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
	    curl_easy_getinfo(xf->curl, CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK ||
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

int
xfer_progress_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow,
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
	    !xf->holding && now - xf->head_ready_ms >= HEAD_HOLD_MS &&
	    xfer_send_head(xf) == -1) {
		xf->fail = PF_CLIENT_GONE;
		return 1;
	}
	if (dlnow != xf->last_dl || ulnow != xf->last_ul) {
		xf->last_dl = dlnow;
		xf->last_ul = ulnow;
		xf->last_rx_ms = now;
	}
	if (xf->limit_ms > 0 && now - xf->last_rx_ms >= xf->limit_ms &&
	    !upstream_reading(xf)) {
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
