/*
 * proxy: forwarding one request to an upstream box.  This file writes
 * the request head (method, the box's path and the client's target,
 * header fields, the body's framing), runs the exchange (once, or per
 * box with several upstreams, with its failover results and list
 * fetches) and turns its end into an outcome.  upconn.c keeps the
 * connections (libcurl connects), exchange.c moves the bytes and xfer.c
 * does what each byte calls for.
 *
 * Nothing is buffered whole unless the caller asked for it (a model
 * list to filter, a JSON body already read by the policy).
 */
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
#include "endpoint.h"
#include "headers.h"
#include "upstreams.h"
#include "log.h"
#include "modellist.h"
#include "monotime.h"
#include "proxy.h"
#include "reply.h"
#include "request.h"
#include "streamusage.h"
#include "upconn.h"
#include "xfer.h"

static struct upconn	*target;	/* the one box, without balancing */
static long		 silence_ms;
static long		 manage_ms;	/* for management calls; 0: none */
static struct xfer	 xfer;

int
proxy_init(const struct config *cfg)
{
	silence_ms = (long)cfg->timeout * 1000;
	manage_ms = (long)cfg->manage_timeout * 1000;
	upconn_init(cfg);
	if ((target = upconn_get(cfg->target_url)) == NULL) {
		log_warnx("%s: %s: the URL is not usable", __func__,
		    cfg->target_url);
		return -1;
	}
	return 0;
}

void
proxy_cleanup(void)
{
	upconn_cleanup();
	target = NULL;
}

/*
 * The request head for box u, in xfer_bufs.req: the method, the box's
 * path and the client's target, and a body's framing.  A body goes with
 * POST and PUT always (Content-Length: 0 if it is empty), with other
 * methods but HEAD when the client sent one (a HEAD's body is not sent:
 * the client's connection closes after it); chunked if the client's was
 * and the caller has not read it whole.
 */
static int
arm(struct client *c, struct xfer *xf, struct upconn *u, size_t *len)
{
	struct request *r = &c->req;
	struct upstream_head h = {
		.buf = xfer_bufs.req,
		.size = sizeof(xfer_bufs.req),
	};

	h.path = upconn_path(u, &h.pathlen);
	h.host = upconn_host(u, &h.hostlen);
	h.auth = upconn_auth(u, &h.authlen);
	if (xf->pr != NULL && xf->pr->body != NULL) {
		h.framed = 1;
		h.length = xf->pr->bodylen;
	} else if (r->method_id != HTTP_HEAD && (r->has_body ||
	    r->method_id == HTTP_POST || r->method_id == HTTP_PUT)) {
		h.framed = 1;
		h.chunked = r->chunked;
		h.length = r->content_length;
	}
	xf->up = u;
	xf->framed_up = h.framed;
	xf->chunked_up = h.chunked;
	xf->limit_ms = endpoint_is_manage(r) ? manage_ms : silence_ms;
	if (headers_upstream(r, c->addr, xf->listing, &h) == -1)
		return -1;
	*len = h.len;
	return 0;
}

/* One exchange with box u. */
static CURLcode
run(struct client *c, struct xfer *xf, struct upconn *u)
{
	size_t len;

	if (u == NULL) {
		xf->detail = "the upstream URL is not usable";
		return CURLE_URL_MALFORMAT;
	}
	if (arm(c, xf, u, &len) == -1) {
		xf->detail = "the request head does not fit its buffer";
		return CURLE_SEND_ERROR;
	}
	return exchange_run(xf, xfer_bufs.req, len);
}

static const char *
detail(const struct xfer *xf, CURLcode rc)
{
	return xf->detail != NULL ? xf->detail : curl_easy_strerror(rc);
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
		    "not JSON", xfer_fail_name(PF_UPSTREAM_BAD));
		return;
	}
	o->status = xf->status;
	o->fail = xfer_fail_name(rc == -1 ? PF_CLIENT_GONE : PF_NONE);
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
	    streamusage_end(xf->pr->filter, xfer_relay, xf) == -1)
		;	/* xfer_relay set xf->fail */
	else if (xf->head_pending && xfer_send_head(xf) == -1)
		xf->fail = PF_CLIENT_GONE;
	else if (xf->chunked_out && client_send(xf->c, "0\r\n\r\n", 5) == -1)
		xf->fail = PF_CLIENT_GONE;
	o->status = xf->status;
	o->fail = xfer_fail_name(xf->fail);
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
	o->fail = xfer_fail_name(xf->fail);
	if (xf->head_sent) {
		o->status = xf->status;
		log_warnx("%s %.*s: response cut short (%s): %s", r->method,
		    logpath_len(r), r->target, o->fail, xf->fail_msg != NULL ?
		    xf->fail_msg : detail(xf, rc));
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
	    xf->fail == PF_CLIENT_BODY || xf->detail == NULL ? msg :
	    xf->detail);
	reply_fail(xf->c, o, status, msg, o->fail);
}

/*
 * Clears the request's state.  Another attempt at the same request
 * keeps the body's start, which xfer_read_cb sends again first.
 */
static void
start_xfer(struct client *c, const struct proxy_req *pr, int again)
{
	struct request *r = &c->req;
	struct xfer *xf = &xfer;
	int64_t now = monotime_ms();
	size_t replay_len = xf->replay_len;
	int replay_ok = xf->replay_ok;

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
		.limit_ms = silence_ms,
	};
	if (again) {
		xf->replay_len = replay_len;
		xf->replay_ok = replay_ok;
		xf->replaying = replay_len > 0;
	}
}

/* A body the caller read has had its 100 Continue. */
static int
continue_body(struct client *c, const struct proxy_req *pr,
    struct outcome *o)
{
	struct request *r = &c->req;

	if (r->expect_continue && r->has_body && (pr == NULL ||
	    pr->body == NULL) && client_continue(c) == -1) {
		o->fail = xfer_fail_name(PF_CLIENT_GONE);
		o->close = 1;
		return -1;
	}
	return 0;
}

/* The end of a transfer that is the answer, good or bad. */
static void
conclude(struct xfer *xf, CURLcode rc, struct outcome *o)
{
	o->ttfb_us = xf->ttfb_us;
	if (rc == CURLE_OK && xf->fail == PF_NONE)
		finish(xf, o);
	else
		fail(xf, rc, o);
	modellist_free(&xf->list);
}

void
proxy_forward(struct client *c, const struct proxy_req *pr,
    struct outcome *o)
{
	start_xfer(c, pr, 0);
	o->ttfb_us = -1;
	if (continue_body(c, pr, o) == -1)
		return;
	conclude(&xfer, run(c, &xfer, target), o);
}

/*
 * Whether another box may have the request: only when nothing has
 * reached the client, and only for a box that could not be reached,
 * closed or reset the connection before the client saw its head, or
 * answered 502 or 503.  Silence and a malformed answer are the box's
 * answer.
 */
static enum proxy_result
try_result(const struct xfer *xf, CURLcode rc)
{
	if (xf->head_sent || xf->fail == PF_CLIENT_GONE ||
	    xf->fail == PF_CLIENT_SLOW || xf->fail == PF_CLIENT_BODY ||
	    xf->fail == PF_UPSTREAM_TIMEOUT)
		return PROXY_DONE;
	if (xf->holding)
		return PROXY_RETRY;
	if (xf->fail != PF_NONE)
		return PROXY_DONE;
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_OPERATION_TIMEDOUT:
		return PROXY_DOWN;
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
		/* Its head may have come, but the client has not seen it:
		 * a box that died answering has not answered. */
		return PROXY_RETRY;
	default:
		return PROXY_DONE;
	}
}

enum proxy_result
proxy_try(struct client *c, const struct proxy_req *pr, struct proxy_box *b,
    struct outcome *o)
{
	struct request *r = &c->req;
	struct xfer *xf = &xfer;
	enum proxy_result res;
	CURLcode rc;

	start_xfer(c, pr, b->again);
	xf->may_hold = 1;
	xf->expose = b->expose;
	o->ttfb_us = -1;
	if (!b->again && continue_body(c, pr, o) == -1)
		return PROXY_DONE;
	/* The URLs were checked when the settings were read. */
	rc = run(c, xf, upconn_get(b->url));
	if ((res = try_result(xf, rc)) == PROXY_DONE) {
		conclude(xf, rc, o);
		return res;
	}
	b->replayable = (pr != NULL && pr->body != NULL) || !r->has_body ||
	    xf->replay_ok;
	b->why = detail(xf, rc);
	if (xf->holding) {
		modellist_free(&b->held);
		b->held = xf->list;
		b->held_status = xf->status;
		b->why = reply_reason(xf->status);
		memset(&xf->list, 0, sizeof(xf->list));
	}
	modellist_free(&xf->list);
	return res;
}

int
proxy_fetch(struct client *c, const char *base, size_t max,
    struct modellist *out, int *down)
{
	static struct proxy_req fetch;
	struct xfer *xf = &xfer;
	CURLcode rc;

	fetch.list_max = max;
	start_xfer(c, &fetch, 0);
	xf->listing = 1;
	rc = run(c, xf, upconn_get(base));
	*down = rc == CURLE_COULDNT_CONNECT || rc == CURLE_URL_MALFORMAT ||
	    rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_OPERATION_TIMEDOUT;
	*out = xf->list;
	memset(&xf->list, 0, sizeof(xf->list));
	return rc == CURLE_OK && xf->fail == PF_NONE ? xf->status : 0;
}
