/*
 * exchange: one request and its response on an upstream connection
 * (upconn.c), the worker blocking in poll(2) on that one socket.  The
 * request head (headers.c) goes first, then the body, chunked when the
 * client's was; the response head is read and checked line by line
 * (xfer_head), and llhttp in response mode reads it again to frame the
 * body: Content-Length, chunked (trailers dropped), up to the close, or
 * none for HEAD, 204 and 304.  Body bytes go on as they come.
 *
 * A kept connection that turns out dead before any byte of a response
 * came gets the request once more on a new connection, its body sent
 * again from the replay buffer, as libcurl did.  Waits end at the next
 * tick (xfer_tick): the held head, upstream silence, a client gone.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include <llhttp.h>

#include "client.h"
#include "monotime.h"
#include "proxy.h"
#include "upconn.h"
#include "xfer.h"

static llhttp_settings_t settings;
static char		 why[160];

/* 1: no body, whatever the head says: the answer to a HEAD, a 204 and
 * a 304 (RFC 9112 6.3; llhttp trusts a length or chunking on them). */
static int
on_headers_complete(llhttp_t *p)
{
	const struct xfer *xf = p->data;

	return xf->is_head || p->status_code == 204 || p->status_code == 304;
}

static int
on_body(llhttp_t *p, const char *at, size_t len)
{
	return xfer_body(p->data, at, len) == -1 ? -1 : 0;
}

static int
on_message_complete(llhttp_t *p)
{
	struct xfer *xf = p->data;

	xf->msg_done = 1;
	xf->up_keep = llhttp_should_keep_alive(p);
	return HPE_PAUSED;
}

void
exchange_begin(struct xfer *xf)
{
	if (settings.on_body == NULL) {
		llhttp_settings_init(&settings);
		settings.on_headers_complete = on_headers_complete;
		settings.on_body = on_body;
		settings.on_message_complete = on_message_complete;
	}
	llhttp_init(&xf->parser, HTTP_RESPONSE, &settings);
	xf->parser.data = xf;
}

/* How long a wait may last before the next tick is due. */
static int
tick_in(const struct xfer *xf, int64_t now)
{
	int64_t ms = GONE_CHECK_MS - (now - xf->last_gone_ms);

	if (xf->limit_ms > 0 && xf->limit_ms - (now - xf->last_rx_ms) < ms)
		ms = xf->limit_ms - (now - xf->last_rx_ms);
	if (xfer_head_held(xf) && HEAD_HOLD_MS - (now - xf->head_ready_ms) <
	    ms)
		ms = HEAD_HOLD_MS - (now - xf->head_ready_ms);
	return ms < 1 ? 1 : (int)ms;
}

/* Waits until upstream's socket is ready for events (*revents), with a
 * tick whenever one is due.  Readiness counts as upstream activity. */
static CURLcode
wait_up(struct xfer *xf, short events, short *revents)
{
	struct pollfd pfd = { .fd = upconn_fd(xf->up), .events = events };
	int64_t now = monotime_ms();
	int n;

	for (;;) {
		n = poll(&pfd, 1, tick_in(xf, now));
		now = monotime_ms();
		if (n > 0) {
			xf->last_rx_ms = now;
			*revents = pfd.revents;
			return CURLE_OK;
		}
		if (n == -1 && errno != EINTR) {
			snprintf(why, sizeof(why), "poll: %s", strerror(errno));
			xf->detail = why;
			return CURLE_RECV_ERROR;
		}
		if (xfer_tick(xf) == -1)
			return CURLE_ABORTED_BY_CALLBACK;
	}
}

/*
 * Whether a readable connection holds an answer.  On TLS it may hold
 * only session tickets, which reading consumes; what a read does bring
 * (bytes, the end, an error) is kept for read_response.
 */
static int
answered(struct xfer *xf)
{
	ssize_t n;

	if (!upconn_tls(xf->up))
		return 1;
	if ((n = upconn_recv(xf->up, xfer_bufs.in, sizeof(xfer_bufs.in))) ==
	    UPCONN_AGAIN)
		return 0;
	xf->early_n = n;
	xf->have_early = 1;
	return 1;
}

/*
 * Sends buf whole.  When the socket is full it waits for room, or for
 * an answer that comes before the request is in (*early): upstream has
 * stopped reading, and its answer is read instead.
 */
static CURLcode
send_all(struct xfer *xf, const char *buf, size_t len, int *early)
{
	CURLcode rc;
	ssize_t n;
	short ev;

	while (len > 0) {
		n = upconn_send(xf->up, buf, len);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n == UPCONN_ERROR) {
			xf->detail = upconn_error();
			return CURLE_SEND_ERROR;
		}
		if ((rc = wait_up(xf, POLLOUT | POLLIN, &ev)) != CURLE_OK)
			return rc;
		if ((ev & POLLIN) && answered(xf)) {
			*early = 1;
			return CURLE_OK;
		}
	}
	return CURLE_OK;
}

/* The head, then the body piece by piece as the client sends it (or
 * from the caller's buffer, or the replay buffer first). */
static CURLcode
send_request(struct xfer *xf, const char *head, size_t headlen, int *early)
{
	char *out = xfer_bufs.out + 24, *p;
	CURLcode rc;
	ssize_t n;
	size_t len;
	int k;

	if ((rc = send_all(xf, head, headlen, early)) != CURLE_OK || *early)
		return rc;
	if (!xf->framed_up) {
		xf->body_sent = 1;
		return CURLE_OK;
	}
	for (;;) {
		if ((n = xfer_body_in(xf, out, XFER_IO_MAX)) == -1)
			return CURLE_ABORTED_BY_CALLBACK;
		p = out;
		len = (size_t)n;
		if (xf->chunked_up) {
			/* The size line before the piece, CRLF after it; the
			 * last chunk is "0" and the blank line. */
			k = snprintf(xfer_bufs.out, 24, "%zx\r\n", len);
			p = out - k;
			memmove(p, xfer_bufs.out, (size_t)k);
			memcpy(out + len, "\r\n", 2);
			len += (size_t)k + 2;
		}
		if (len > 0 && (rc = send_all(xf, p, len, early)) != CURLE_OK)
			return rc;
		if (*early)
			return CURLE_OK;
		if (n == 0)
			break;
		/* Upstream taking the body is not silence. */
		xf->sent_any = 1;
		xf->last_rx_ms = monotime_ms();
	}
	xf->body_sent = 1;
	return CURLE_OK;
}

int
exchange_take(struct xfer *xf, const char *data, size_t len)
{
	const char *end = data + len;
	llhttp_errno_t e = HPE_OK;
	ssize_t n = 0;

	xf->got_bytes = 1;
	if (xf->ttfb_us < 0)
		xf->ttfb_us = monotime_us() - xf->start_us;
	if (!xf->done_headers) {
		if ((n = xfer_head(xf, data, len)) == -1)
			return -1;
		if (!xf->done_headers)
			return 0;
		/* llhttp reads the head too, for the body's framing. */
		e = llhttp_execute(&xf->parser, xfer_bufs.raw, xf->rawlen);
		if ((size_t)n < len && e == HPE_OK)
			e = llhttp_execute(&xf->parser, data + n,
			    len - (size_t)n);
		else if ((size_t)n < len && e == HPE_PAUSED)
			xf->up_keep = 0;	/* bytes after the response */
		else
			end = xfer_bufs.raw + xf->rawlen;
	} else
		e = llhttp_execute(&xf->parser, data, len);
	if (e == HPE_OK)
		return 0;
	if (e == HPE_PAUSED) {
		/* Bytes after the response: the connection is not usable. */
		if (llhttp_get_error_pos(&xf->parser) != end)
			xf->up_keep = 0;
		return 0;
	}
	if (xf->fail != PF_NONE)
		return -1;
	snprintf(why, sizeof(why), "the Ollama server sent a malformed "
	    "response (%s)", llhttp_get_error_reason(&xf->parser));
	xf->fail = PF_UPSTREAM_BAD;
	xf->fail_msg = why;
	return -1;
}

/* The connection closed: the end of a close-delimited body, or a
 * response (or all of it) missing. */
static CURLcode
at_eof(struct xfer *xf)
{
	if (!xf->got_bytes) {
		xf->detail = "Empty reply from server";
		return CURLE_GOT_NOTHING;
	}
	if (xf->done_headers && !xf->msg_done)
		(void)llhttp_finish(&xf->parser);
	if (xf->msg_done) {
		/* Ended by the close: on_message_complete just said keep. */
		xf->up_keep = 0;
		return CURLE_OK;
	}
	xf->detail = "transfer closed with outstanding read data remaining";
	return CURLE_PARTIAL_FILE;
}

static CURLcode
read_response(struct xfer *xf)
{
	CURLcode rc;
	ssize_t n;
	short ev;
	int ready;

	/* What send_all read while it looked for an early answer. */
	ready = xf->have_early;
	while (!xf->msg_done) {
		if (!ready && (rc = wait_up(xf, POLLIN, &ev)) != CURLE_OK)
			return rc;
		if (xf->have_early) {
			xf->have_early = 0;
			n = xf->early_n;
		} else
			n = upconn_recv(xf->up, xfer_bufs.in,
			    sizeof(xfer_bufs.in));
		if (n == UPCONN_AGAIN) {
			ready = 0;
			continue;
		}
		if (n == UPCONN_ERROR) {
			xf->up_keep = 0;
			xf->detail = upconn_error();
			return CURLE_RECV_ERROR;
		}
		if (n == 0)
			return at_eof(xf);
		if (exchange_take(xf, xfer_bufs.in, (size_t)n) == -1)
			return CURLE_ABORTED_BY_CALLBACK;
		/* A plain socket that did not fill the buffer is empty; TLS
		 * may hold decrypted bytes that poll() cannot see. */
		ready = upconn_tls(xf->up) || (size_t)n == sizeof(xfer_bufs.in);
	}
	return CURLE_OK;
}

/* Whether a failed attempt on a kept connection may go again on a new
 * one: only if the box sent nothing, and the body can be sent again. */
static int
retry(struct xfer *xf, CURLcode rc)
{
	if (xf->got_bytes || xf->fail != PF_NONE || (rc != CURLE_GOT_NOTHING &&
	    rc != CURLE_RECV_ERROR && rc != CURLE_SEND_ERROR))
		return 0;
	upconn_close(xf->up);
	xf->body_sent = xf->sent_any = 0;
	return 1;
}

CURLcode
exchange_run(struct xfer *xf, const char *head, size_t headlen)
{
	CURLcode rc;
	int reused, early = 0, again = 0;

	for (;;) {
		if ((rc = upconn_open(xf->up, &reused)) != CURLE_OK) {
			xf->detail = upconn_error();
			return rc;
		}
		exchange_begin(xf);
		early = 0;
		rc = send_request(xf, head, headlen, &early);
		/* After a failed send an answer may still be waiting. */
		if (rc == CURLE_OK || (rc == CURLE_SEND_ERROR &&
		    xf->fail == PF_NONE))
			rc = read_response(xf);
		if (!reused || again || !retry(xf, rc))
			break;
		if (xfer_rewind(xf) == -1) {
			xf->detail = "the kept connection closed, and the "
			    "request body is too large to send again";
			rc = CURLE_SEND_FAIL_REWIND;
			break;
		}
		again = 1;
	}
	if (rc != CURLE_OK || xf->fail != PF_NONE || !xf->up_keep ||
	    !xf->body_sent || early)
		upconn_close(xf->up);
	return rc;
}
