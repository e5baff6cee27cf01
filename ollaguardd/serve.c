/*
 * serve: what happens to one request.  A request for the daemon itself
 * (POST /key/generate) goes to admin; a CORS preflight is forwarded
 * without a key, since browsers never send one on a preflight; every
 * other request must pass auth and the per-address failure limit
 * before proxy forwards it.
 *
 * A refused request is answered at once.  Its body is dropped only if
 * it has already arrived; otherwise the connection closes, after a
 * short lingering read so that the answer is not lost to a reset: a
 * client without a valid key never holds a worker for longer than a
 * second past its head.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "accesslog.h"
#include "admin.h"
#include "adminapi.h"
#include "adminpage.h"
#include "auth.h"
#include "balance.h"
#include "client.h"
#include "config.h"
#include "gate.h"
#include "log.h"
#include "metering.h"
#include "metrics.h"
#include "metricsep.h"
#include "monotime.h"
#include "peerlimit.h"
#include "proxy.h"
#include "reply.h"
#include "scoreboard.h"
#include "serve.h"

/* What a kept connection may drop of a body nobody reads. */
#define DISCARD_MAX	(64 * 1024)
/* The longest lingering read after a refusal. */
#define LINGER_MS	1000

static const struct config	*conf;
static struct sb_slot		*slot;
/* Who the current request is: its access log line, written once the
 * request is over, names the key from here. */
static struct auth_who		 req_who;

void
serve_init(const struct config *cfg, struct sb_slot *s, int slotno)
{
	conf = cfg;
	slot = s;
	gate_init(cfg, slotno);
	balance_init(cfg, slotno);
	adminapi_init(cfg);
}

static int
is_preflight(const struct request *r)
{
	return r->method_id == HTTP_OPTIONS && r->idx[RH_ORIGIN] != -1 &&
	    r->idx[RH_ACR_METHOD] != -1;
}

/* Who the status view names for this request: a key's name, or its
 * id when it has none. */
static void
slot_who(const struct auth_who *who)
{
	if (who->master || who->open)
		strlcpy(slot->key_name, who->master ? "master" : "open",
		    sizeof(slot->key_name));
	else if (who->name[0] != '\0')
		strlcpy(slot->key_name, who->name, sizeof(slot->key_name));
	else
		snprintf(slot->key_name, sizeof(slot->key_name), "#%lld",
		    (long long)who->key_id);
}

/* Fills in who the access log names for this request. */
static void
entry_who(struct access_entry *e, enum auth_result a,
    const struct auth_who *who)
{
	e->key = "-";
	e->key_name = "";
	if (a != AUTH_PASS)
		return;
	if (who->master)
		e->key = "master";
	else if (who->open)
		e->key = "open";
	else {
		e->key = NULL;
		e->key_id = who->key_id;
		e->key_name = who->name;
	}
}

/*
 * Before a request is answered without reading its body: the rest of
 * the body is dropped if it is already here; if not, the connection
 * will close rather than wait for it.
 */
static void
settle_body(struct client *c, struct outcome *o)
{
	if (!c->req.body_done &&
	    client_discard_body(c, DISCARD_MAX, monotime_ms()) == -1)
		o->close = 1;
}

/*
 * Past --auth-fail-limit failures a minute from one address, a failing
 * request gets 429 instead of 401, and one log line says so for the
 * whole minute.  A correct key is never held back by this: it is only
 * asked once authentication has failed.
 */
static int
limited(struct client *c, struct outcome *o)
{
	char hdrs[64];
	uint32_t n;
	time_t now = time(NULL);
	int retry;

	n = peerlimit_fail(c->addr, now, &retry);
	if (n <= (uint32_t)conf->auth_fail_limit)
		return 0;
	if (peerlimit_log_once(c->addr, PEERLIMIT_LOG_AUTH, now))
		log_warnx("auth rate limit: client=%s failed more than %lld "
		    "times this minute; answering 429 for %d s", c->addr,
		    conf->auth_fail_limit, retry);
	snprintf(hdrs, sizeof(hdrs), "Retry-After: %d\r\n", retry);
	o->status = 429;
	if (reply_error_hdrs(c, 429, "too many failed authentications from "
	    "your address; try again later", hdrs, o->close) == -1)
		o->close = 1;
	return 1;
}

/*
 * A 401 for a missing or wrong key, logged so fail2ban can act on it:
 * by its access line when that lands beside the daemon's messages, else
 * by a line of its own.  A 503 when the key database cannot say.
 */
static void
refuse_key(struct client *c, enum auth_result a, struct outcome *o)
{
	settle_body(c, o);
	if (a == AUTH_UNAVAILABLE) {
		reply_fail(c, o, 503, "the key database is unavailable",
		    "db-unavailable");
		return;
	}
	if (a == AUTH_CONFLICT) {
		reply_fail(c, o, 400, "Authorization and x-api-key name "
		    "different keys", "bad-request");
		return;
	}
	o->fail = "auth";
	metrics_auth_failure(a == AUTH_MISSING ? "missing-key" :
	    "invalid-key");
	if (conf->auth_fail_limit > 0 && limited(c, o))
		return;
	if (!accesslog_beside_messages())
		log_warnx("auth failed: client=%s reason=%s%s%s", c->addr,
		    a == AUTH_MISSING ? "missing-key" : "invalid-key",
		    req_who.why != NULL ? ": " : "",
		    req_who.why != NULL ? req_who.why : "");
	else if (req_who.why != NULL)
		log_debug("auth failed: %s", req_who.why);
	o->status = 401;
	if (reply_error_hdrs(c, 401, a == AUTH_MISSING ?
	    "missing API key: send \"Authorization: Bearer <key>\"" :
	    "invalid API key", "WWW-Authenticate: Bearer\r\n",
	    o->close) == -1)
		o->close = 1;
}

/* POST /key/generate: only the master key may, and only with one. */
static void
dispatch_admin(struct client *c, struct access_entry *e, struct outcome *o)
{
	enum auth_result a;
	const char *hdr;
	size_t len;

	hdr = request_header(&c->req, RH_AUTHORIZATION, &len);
	a = auth_check(hdr, len, &req_who);
	entry_who(e, a, &req_who);
	if ((a == AUTH_MISSING || a == AUTH_INVALID) && admin_enabled() &&
	    c->req.method_id == HTTP_POST) {
		refuse_key(c, a, o);
		return;
	}
	if (a != AUTH_PASS || !req_who.master)
		settle_body(c, o);
	admin_generate(c, a, &req_who, o);
}

/*
 * /admin: absent (404) when turned off or for an address outside
 * admin-allow; the page itself without a key; the API for the master
 * key only.  Every answer carries the admin security headers.
 */
static void
dispatch_console(struct client *c, struct access_entry *e,
    struct outcome *o)
{
	enum auth_result a;
	const char *hdr;
	size_t len;

	c->xhdrs = ADMINAPI_HEADERS;
	if (!adminapi_allowed(c) || adminpage_match(c)) {
		settle_body(c, o);
		if (!adminapi_allowed(c))
			reply_fail(c, o, 404, "not found", "admin");
		else
			adminpage_serve(c, o);
		return;
	}
	hdr = request_header(&c->req, RH_AUTHORIZATION, &len);
	a = auth_check(hdr, len, &req_who);
	entry_who(e, a, &req_who);
	if (a == AUTH_MISSING || a == AUTH_INVALID) {
		refuse_key(c, a, o);
		return;
	}
	if (a != AUTH_PASS || !req_who.master) {
		settle_body(c, o);
		reply_fail(c, o, a == AUTH_PASS ? 403 : 503, a == AUTH_PASS ?
		    "only the master key may use the admin API" :
		    "the key database is unavailable", "admin");
		return;
	}
	slot_who(&req_who);
	adminapi_serve(c, o);
}

/* Forwards a request that passed auth, if its key's policy lets it. */
static void
forward_gated(struct client *c, struct outcome *o)
{
	struct gate g;

	if (gate_check(c, &req_who, &g) == -1 ||
	    metering_start(c, &req_who, &g) == -1) {
		settle_body(c, o);
		o->status = g.status;
		o->fail = g.fail;
		if (reply_error_hdrs(c, g.status, g.msg, g.hdrs != NULL ?
		    g.hdrs : "", o->close) == -1)
			o->close = 1;
		gate_done(&g);
		return;
	}
	strlcpy(slot->model, g.model_name, sizeof(slot->model));
	sb_set_state(slot, SB_PROXYING);
	if (balance_active())
		balance_forward(c, &req_who, &g, o);
	else
		proxy_forward(c, &g.pr, o);
	gate_done(&g);
}

static void
dispatch(struct client *c, struct access_entry *e, struct outcome *o)
{
	struct request *r = &c->req;
	enum auth_result a;

	memset(&req_who, 0, sizeof(req_who));
	if (metricsep_match(c)) {
		metricsep_serve(c, &req_who, e, o);
		return;
	}
	if (admin_match(c)) {
		dispatch_admin(c, e, o);
		return;
	}
	if (adminapi_match(c)) {
		dispatch_console(c, e, o);
		return;
	}
	e->key = "-";
	e->key_name = "";
	if (is_preflight(r)) {
		/* A preflight has no body: one with a body is not one a
		 * browser sent, and it is not forwarded without a key. */
		if (r->has_body) {
			o->close = 1;
			reply_fail(c, o, 400, "a CORS preflight has no body",
			    "bad-request");
			return;
		}
	} else {
		a = auth_request(r, conf->signature_window, &req_who);
		entry_who(e, a, &req_who);
		if (a != AUTH_PASS) {
			refuse_key(c, a, o);
			return;
		}
		slot->key_id = req_who.key_id;
		slot_who(&req_who);
		forward_gated(c, o);
		return;
	}
	sb_set_state(slot, SB_PROXYING);
	if (balance_active())
		balance_forward(c, NULL, NULL, o);
	else
		proxy_forward(c, NULL, o);
}

/* The access log entry's fields that the request itself gives. */
static void
entry_start(struct access_entry *e, const struct client *c)
{
	memset(e, 0, sizeof(*e));
	e->client = c->addr;
	e->key = "-";
	e->key_name = "";
	e->method = c->req.method != NULL ? c->req.method : "-";
	e->target = c->req.target != NULL ? c->req.target : "-";
	e->target_len = c->req.target != NULL ? c->req.target_len : 1;
	e->http_minor = c->req.http_minor;
	e->ttfb_us = -1;
}

int
serve_request(struct client *c)
{
	struct outcome o = { .fail = "-", .ttfb_us = -1 };
	struct access_entry e;
	int64_t start = monotime_us();

	slot->req_start_ms = start / 1000;
	slot->bytes = 0;
	c->sent_out = &slot->bytes;
	c->xhdrs = NULL;
	entry_start(&e, c);
	dispatch(c, &e, &o);
	/* A body the answer left unread is dropped if it is here. */
	if (!o.close && !c->req.body_done)
		settle_body(c, &o);
	e.status = o.status;
	e.fail = o.fail;
	e.ttfb_us = o.ttfb_us;
	e.upstream = o.upstream;
	e.retries = o.retries;
	e.duration_us = monotime_us() - start;
	e.bytes_in = c->body_read;
	e.bytes_out = c->sent;
	metering_end(c, &req_who, &o, &e);
	accesslog_write(&e);
	slot->req_start_ms = 0;
	slot->key_id = 0;
	slot->key_name[0] = '\0';
	slot->model[0] = '\0';
	c->xhdrs = NULL;
	if (!o.close && !client_closing(c))
		return 1;
	if (!c->req.body_done)
		client_linger_close(c, conf->header_timeout * 1000 < LINGER_MS ?
		    (int)conf->header_timeout * 1000 : LINGER_MS);
	return 0;
}

void
serve_bad_request(struct client *c)
{
	struct access_entry e;

	reply_error(c, c->req.status, c->req.error, 1);
	entry_start(&e, c);
	e.status = c->req.status;
	e.bytes_out = c->sent;
	e.fail = "bad-request";
	accesslog_write(&e);
}

int
serve_admit(struct client *c)
{
	int n;

	strlcpy(slot->client, c->addr, sizeof(slot->client));
	if (conf->max_conns_per_ip == 0 ||
	    (n = peerlimit_conns(c->addr)) <= conf->max_conns_per_ip)
		return 0;
	if (peerlimit_log_once(c->addr, PEERLIMIT_LOG_CONNS, time(NULL)))
		log_warnx("connection limit: client=%s holds %d connections "
		    "(--max-conns-per-ip %lld); refusing more with 429",
		    c->addr, n - 1, conf->max_conns_per_ip);
	request_reset(&c->req);
	reply_error(c, 429, "too many connections from your address", 1);
	client_close(c);
	slot->client[0] = '\0';
	return -1;
}
