/*
 * proxy: one libcurl easy handle per worker, reused for every request so
 * upstream connections stay open between them.  This file arms the
 * handle for each request (URL, method, header list, silence limit),
 * runs the transfer (once, or per box with several upstreams, with its
 * failover results and list fetches) and turns its end into an outcome;
 * xfer.c holds the callbacks that move the bytes.
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
#include "xfer.h"

static CURL		*curl;
static CURLU		*base_uh;	/* the target URL, parsed once */
static char		 base_url[CONFIG_URL_MAX];
static size_t		 base_len;
static size_t		 base_path;	/* where its path starts */
static long		 silence_ms;
static long		 manage_ms;	/* for management calls; 0: none */
static struct xfer	 xfer;
static char		 url[CONFIG_URL_MAX + REQUEST_TARGET_MAX + 1];
static char		 errbuf[CURL_ERROR_SIZE];

static void	arm_once(void);

static int	url_parse(void);

/*
 * The URL requests go to, up to the target, which arm() appends: the
 * target's, or with several upstreams the chosen box's.  Parsed into
 * the URL handle only when it changes.
 */
static int
set_base(const char *u)
{
	if (base_uh != NULL && strcmp(u, base_url) == 0)
		return 0;
	base_len = strlcpy(base_url, u, sizeof(base_url));
	/* The client's path starts with '/', so the prefix must not end in
	 * one: http://gpu:11434/ollama/ and .../ollama are the same. */
	while (base_len > 0 && base_url[base_len - 1] == '/')
		base_url[--base_len] = '\0';
	return url_parse();
}

int
proxy_init(const struct config *cfg)
{
	if ((curl = curl_easy_init()) == NULL) {
		log_warnx("%s: curl_easy_init failed", __func__);
		return -1;
	}
	silence_ms = (long)cfg->timeout * 1000;
	manage_ms = (long)cfg->manage_timeout * 1000;
	if (set_base(cfg->target_url) == -1)
		return -1;
	arm_once();
	/* An https target is checked against target-ca, or not at all. */
	if (cfg->target_ca[0] != '\0')
		curl_easy_setopt(curl, CURLOPT_CAINFO, cfg->target_ca);
	if (cfg->target_insecure) {
		curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	return 0;
}

void
proxy_cleanup(void)
{
	if (curl != NULL)
		curl_easy_cleanup(curl);
	curl = NULL;
	curl_url_cleanup(base_uh);
	base_uh = NULL;
}

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
 * The target URL, parsed once into a URL handle that libcurl copies for
 * each request instead of parsing a URL string and printing it back.
 * The request line then comes verbatim from CURLOPT_REQUEST_TARGET: the
 * target URL's path followed by the client's target, byte for byte as
 * the client sent it (a path set in the handle would have its %XX
 * escapes lowercased).
 */
static int
url_parse(void)
{
	const char *p;
	CURLUcode uc;

	if (base_uh == NULL && (base_uh = curl_url()) == NULL) {
		log_warnx("%s: curl_url failed", __func__);
		return -1;
	}
	uc = curl_url_set(base_uh, CURLUPART_URL, base_url,
	    CURLU_NON_SUPPORT_SCHEME | CURLU_PATH_AS_IS);
	if (uc != CURLUE_OK) {
		log_warnx("%s: %s: %s", __func__, base_url,
		    curl_url_strerror(uc));
		return -1;
	}
	/* The path is what follows the authority: "" if there is none. */
	base_path = base_len;
	if ((p = strstr(base_url, "://")) != NULL &&
	    (p = strchr(p + 3, '/')) != NULL)
		base_path = (size_t)(p - base_url);
	memcpy(url, base_url + base_path, base_len - base_path);
	return 0;
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
	/* The handle is read at each transfer's start: set_base changing
	 * its URL changes where the next request goes. */
	curl_easy_setopt(curl, CURLOPT_CURLU, base_uh);
	curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(curl, CURLOPT_PROXY, "");
	/* Else libcurl reads no_proxy and NO_PROXY from the environment
	 * for every request, to decide about a proxy it will not use. */
	curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(curl, CURLOPT_HTTP_CONTENT_DECODING, 0L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
	    silence_ms < 10000 ? silence_ms : 10000L);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, xfer_header_cb);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, &xfer);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, xfer_write_cb);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &xfer);
	curl_easy_setopt(curl, CURLOPT_READFUNCTION, xfer_read_cb);
	curl_easy_setopt(curl, CURLOPT_READDATA, &xfer);
	curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, xfer_seek_cb);
	curl_easy_setopt(curl, CURLOPT_SEEKDATA, &xfer);
	curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, xfer_progress_cb);
	curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &xfer);
	curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(curl, CURLOPT_BUFFERSIZE, 64L * 1024);
	curl_easy_setopt(curl, CURLOPT_UPLOAD_BUFFERSIZE, 64L * 1024);
}

static void
arm(struct client *c, const struct xfer *xf)
{
	struct request *r = &c->req;
	size_t n = base_len - base_path;

	memcpy(url + n, r->target, r->target_len);
	url[n + r->target_len] = '\0';
	curl_easy_setopt(curl, CURLOPT_REQUEST_TARGET, url);
	xfer.limit_ms = endpoint_is_manage(r) ? manage_ms : silence_ms;
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
		.curl = curl,
		.limit_ms = silence_ms,
	};
	if (again) {
		xf->replay_len = replay_len;
		xf->replay_ok = replay_ok;
		xf->replaying = replay_len > 0;
	}
	errbuf[0] = '\0';
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
	arm(c, &xfer);
	conclude(&xfer, curl_easy_perform(curl), o);
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
	/* The URLs were checked when the settings were read. */
	if (set_base(b->url) == -1)
		log_warnx("%s: upstream URL not usable", __func__);
	o->ttfb_us = -1;
	if (!b->again && continue_body(c, pr, o) == -1)
		return PROXY_DONE;
	arm(c, xf);
	rc = curl_easy_perform(curl);
	if ((res = try_result(xf, rc)) == PROXY_DONE) {
		conclude(xf, rc, o);
		return res;
	}
	b->replayable = (pr != NULL && pr->body != NULL) || !r->has_body ||
	    xf->replay_ok;
	b->why = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
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
	if (set_base(base) == -1) {
		*down = 1;
		return 0;
	}
	arm(c, xf);
	rc = curl_easy_perform(curl);
	*down = rc == CURLE_COULDNT_CONNECT ||
	    rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_OPERATION_TIMEDOUT;
	*out = xf->list;
	memset(&xf->list, 0, sizeof(xf->list));
	return rc == CURLE_OK && xf->fail == PF_NONE ? xf->status : 0;
}
