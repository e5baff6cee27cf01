/*
 * xfer: what a forwarded request does with its bytes.  xfer_head
 * collects upstream's head and rebuilds it for the client; xfer_body
 * sends body bytes straight on (with the head, the first time);
 * xfer_body_in reads the request body from the client socket, or from a
 * buffer, keeping its start for a replay; xfer_tick, run whenever a wait
 * on upstream ends empty, sends a head whose body is slow to start and
 * notices upstream silence and a client that went away.
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
#include "upconn.h"
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
static int
bad_upstream(struct xfer *xf, const char *why)
{
	xf->fail = PF_UPSTREAM_BAD;
	xf->fail_msg = why;
	return -1;
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
	why = headers_response(xfer_bufs.raw, xf->linestart, &xf->c->req,
	    xf->is_head, xf->status, &h);
	if (why != NULL)
		return bad_upstream(xf, why);
	/* The meter reads identity bodies only. */
	if (xf->pr != NULL && xf->pr->meter != NULL)
		meter_begin(xf->pr->meter, headers_find(xfer_bufs.raw,
		    xf->linestart, "content-encoding", ce, sizeof(ce)));
	xf->headlen = h.len;
	if (xf->expose != NULL)
		expose_box(xf);
	xf->chunked_out = h.chunked;
	xf->close_after = h.close;
	xf->head_pending = 1;
	xf->head_ready_ms = monotime_ms();
	return 0;
}

/*
 * One complete line of upstream's head, in raw from linestart to rawlen:
 * the status line, a header line or the blank line that ends the head.
 * A 1xx head is dropped at its blank line.  -1 refuses the response.
 */
static int
head_line(struct xfer *xf)
{
	const char *line = xfer_bufs.raw + xf->linestart, *why;
	size_t len = xf->rawlen - xf->linestart;

	if (xf->linestart == 0) {
		if (len < 12 || !headers_status_line_ok(line, len))
			return bad_upstream(xf, "the Ollama server sent a "
			    "malformed status line");
		xf->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 +
		    (line[11] - '0');
		if ((why = headers_status_refused(xf->status)) != NULL)
			return bad_upstream(xf, why);
		xf->holding = xf->may_hold && (xf->status == 502 ||
		    xf->status == 503);
	} else if ((len == 2 && line[0] == '\r') || (len == 1 &&
	    line[0] == '\n')) {
		/* 1xx responses are interim: wait for the final one. */
		if (xf->status >= 100 && xf->status < 200) {
			xf->rawlen = 0;
			return 0;
		}
		xf->done_headers = 1;
		return build_response_head(xf);
	} else if (!headers_line_ok(line, len))
		return bad_upstream(xf, "the Ollama server sent a malformed "
		    "header "
		    "(a control character, or a Content-Length that is not a "
		    "number)");
	return 0;
}

ssize_t
xfer_head(struct xfer *xf, const char *data, size_t len)
{
	const char *nl;
	size_t take, used = 0;

	while (used < len && !xf->done_headers) {
		nl = memchr(data + used, '\n', len - used);
		take = nl != NULL ? (size_t)(nl - data) + 1 - used : len - used;
		if (take > sizeof(xfer_bufs.raw) - xf->rawlen)
			return bad_upstream(xf, "the Ollama server's response "
			    "head is larger than 32 KiB");
		memcpy(xfer_bufs.raw + xf->rawlen, data + used, take);
		xf->rawlen += take;
		used += take;
		if (nl == NULL)
			break;
		if (head_line(xf) == -1)
			return -1;
		xf->linestart = xf->rawlen;
	}
	return (ssize_t)used;
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

int
xfer_body(struct xfer *xf, const char *data, size_t len)
{
	const char *why;

	if (len == 0 || xf->is_head)
		return 0;
	if (xf->holding) {
		/* Only the start of an error body is kept. */
		(void)modellist_add(&xf->list, REPLAY_MAX, data, len, &why);
		return 0;
	}
	if (xf->listing) {
		if (modellist_add(&xf->list, xf->pr->list_max, data, len,
		    &why) == -1)
			return bad_upstream(xf, why);
		return 0;
	}
	/* The meter sees every byte upstream sent, before any filter. */
	if (xf->pr != NULL && xf->pr->meter != NULL)
		meter_feed(xf->pr->meter, data, len);
	if (xf->pr != NULL && xf->pr->filter != NULL)
		return streamusage_feed(xf->pr->filter, data, len, xfer_relay,
		    xf);
	return xfer_relay(data, len, xf);
}

ssize_t
xfer_body_in(struct xfer *xf, char *buf, size_t room)
{
	size_t n;
	ssize_t got;

	if (xf->pr != NULL && xf->pr->body != NULL) {
		n = xf->pr->bodylen - xf->body_pos;
		if (n > room)
			n = room;
		memcpy(buf, xf->pr->body + xf->body_pos, n);
		xf->body_pos += n;
		return (ssize_t)n;
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
			return (ssize_t)n;
	}
	got = client_read_body(xf->c, buf, room);
	if (got == -1) {
		xf->fail = PF_CLIENT_BODY;
		return -1;
	}
	if (xf->replay_ok) {
		if (xf->replay_len + (size_t)got <= sizeof(xfer_bufs.replay)) {
			memcpy(xfer_bufs.replay + xf->replay_len, buf,
			    (size_t)got);
			xf->replay_len += (size_t)got;
		} else
			xf->replay_ok = 0;
	}
	return got;
}

/*
 * A kept connection that turns out dead after sending began gets the
 * request again on a new one.  The first REPLAY_MAX bytes of a body are
 * kept for that; a larger body cannot be resent, and the request fails
 * with 502.
 */
int
xfer_rewind(struct xfer *xf)
{
	if (xf->pr != NULL && xf->pr->body != NULL) {
		xf->body_pos = 0;
		return 0;
	}
	if (!xf->replay_ok)
		return -1;
	xf->replay_pos = 0;
	xf->replaying = xf->replay_len > 0;
	return 0;
}

/*
 * Sending counts bytes handed to the kernel, which on a fast link takes
 * a whole body at once; an Ollama that then reads it slowly is busy, not
 * silent.  The bytes still queued on the upstream socket say whether it
 * reads: asked only when the silence limit is reached.
 */
static int
upstream_reading(struct xfer *xf)
{
	int queued;

	if (!xf->sent_any || xf->up == NULL ||
	    ioctl(upconn_fd(xf->up), SIOCOUTQ, &queued) == -1)
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
xfer_head_held(const struct xfer *xf)
{
	return xf->head_pending && !xf->is_head && !xf->listing &&
	    !xf->holding;
}

int
xfer_tick(struct xfer *xf)
{
	int64_t now = monotime_ms();

	/*
	 * The head normally leaves with the first body bytes.  If those are
	 * slow to come, it goes alone after a moment, so a client sees the
	 * status at once; the moment lets a broken first chunk still turn
	 * into a clean 502.
	 */
	if (xfer_head_held(xf) && now - xf->head_ready_ms >= HEAD_HOLD_MS &&
	    xfer_send_head(xf) == -1) {
		xf->fail = PF_CLIENT_GONE;
		return -1;
	}
	if (xf->limit_ms > 0 && now - xf->last_rx_ms >= xf->limit_ms &&
	    !upstream_reading(xf)) {
		xf->fail = PF_UPSTREAM_TIMEOUT;
		return -1;
	}
	if (now - xf->last_gone_ms >= GONE_CHECK_MS) {
		xf->last_gone_ms = now;
		if (client_gone(xf->c)) {
			xf->fail = PF_CLIENT_GONE;
			return -1;
		}
	}
	return 0;
}
