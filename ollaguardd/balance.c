/*
 * balance: with several upstreams, which box answers a request, and
 * which one next when a box fails before the client has been sent
 * anything.  serve hands a request here instead of to proxy only when
 * the configuration names more than one target-url; with one, nothing
 * here runs and no body is read for it.
 *
 * A request goes where route_order ranks it first (the model it names
 * loaded, then present, then the least busy box for its weight); GET
 * /api/tags, /v1/models and /api/ps gather every healthy box's list
 * (listmerge); a management request goes to the first healthy box in
 * configuration order; a key with the manage class may name the box in
 * X-Ollaguard-Upstream.  Each attempt counts in the box's in-flight
 * number (health_acquire), which is what the ranking and max-conns read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth.h"
#include "balance.h"
#include "client.h"
#include "config.h"
#include "gate.h"
#include "health.h"
#include "listmerge.h"
#include "log.h"
#include "monotime.h"
#include "poller.h"
#include "policyclass.h"
#include "proxy.h"
#include "reply.h"
#include "route.h"

#define QUEUE_POLL_MS	10
#define GONE_EVERY	25		/* queue polls between client checks */
#define PIN_HEADER	"x-ollaguard-upstream"
#define PIN_REFUSED	(-2)

enum merge_kind { MERGE_NONE, MERGE_TAGS, MERGE_MODELS, MERGE_PS };

static const struct config	*conf;
static const struct upstreams	*ups;
static const int		*box;
static struct route_box		 rb[CONFIG_UPSTREAMS_MAX];
static int			 slot_no;
static int			 active;
static char			 msg[UPSTREAM_NAME_MAX + 128];

void
balance_init(const struct config *cfg, int slotno)
{
	int i;

	conf = cfg;
	slot_no = slotno;
	ups = poller_upstreams(&box);
	active = ups->n > 1;
	for (i = 0; active && i < ups->n; i++) {
		rb[i].h = health_box(box[i]);
		rb[i].weight = ups->u[i].weight;
		rb[i].max_conns = ups->u[i].max_conns;
	}
}

int
balance_active(void)
{
	return active;
}

/* The path of the target, without its query. */
static size_t
path_len(const struct request *r)
{
	const char *q = memchr(r->target, '?', r->target_len);

	return q != NULL ? (size_t)(q - r->target) : r->target_len;
}

static enum merge_kind
merge_kind(const struct request *r)
{
	size_t n = path_len(r);

	if (r->method_id != HTTP_GET || r->has_body)
		return MERGE_NONE;
	if (n == 9 && memcmp(r->target, "/api/tags", 9) == 0)
		return MERGE_TAGS;
	if (n == 10 && memcmp(r->target, "/v1/models", 10) == 0)
		return MERGE_MODELS;
	if (n == 7 && memcmp(r->target, "/api/ps", 7) == 0)
		return MERGE_PS;
	return MERGE_NONE;
}

/*
 * The box X-Ollaguard-Upstream names: its index, -1 when the header is
 * absent, PIN_REFUSED after answering 403 (a key without manage) or 400
 * (no such box).
 */
static int
pinned(struct client *c, const struct auth_who *who, struct outcome *o)
{
	const struct request *r = &c->req;
	const struct header *h = NULL;
	char name[UPSTREAM_NAME_MAX];
	int i;

	for (i = 0; i < r->nhdr && h == NULL; i++)
		if (r->hdr[i].namelen == sizeof(PIN_HEADER) - 1 &&
		    strncasecmp(r->hdr[i].name, PIN_HEADER,
		    sizeof(PIN_HEADER) - 1) == 0)
			h = &r->hdr[i];
	if (h == NULL)
		return -1;
	if (who == NULL || !(who->master || who->open ||
	    (who->allow & POLICY_MANAGE))) {
		log_warnx("policy: client=%s key=%lld name=\"%s\" 403: "
		    "X-Ollaguard-Upstream without the manage class", c->addr,
		    who != NULL ? (long long)who->key_id : 0LL,
		    who != NULL ? who->name : "");
		reply_fail(c, o, 403, "only a key with the manage class may "
		    "choose the upstream (X-Ollaguard-Upstream)", "policy");
		return PIN_REFUSED;
	}
	i = -1;
	if (h->valuelen < sizeof(name)) {
		memcpy(name, h->value, h->valuelen);
		name[h->valuelen] = '\0';
		i = upstreams_find(ups, name);
	}
	if (i == -1) {
		snprintf(msg, sizeof(msg), "no upstream is called \"%.*s\"",
		    UPSTREAM_NAME_MAX, h->value);
		reply_fail(c, o, 400, msg, "bad-request");
		return PIN_REFUSED;
	}
	return i;
}

/* Management: the healthy boxes in configuration order. */
static int
manage_order(int *order)
{
	struct health_view v;
	int i, n = 0;

	for (i = 0; i < ups->n; i++) {
		health_read(rb[i].h, 0, &v);
		if (v.usable)
			order[n++] = i;
	}
	return n;
}

static void
pause_ms(int ms)
{
	struct timespec ts = { 0, ms * 1000000L };

	nanosleep(&ts, NULL);
}

/*
 * Ranks the boxes for model; when every candidate is at its max-conns,
 * polls until one has room, the deadline passes (503 with Retry-After),
 * the client goes or the worker is told to stop.  0, or -1 answered.
 */
static int
wait_route(struct client *c, uint64_t model, int64_t deadline, int *order,
    int *norder, struct outcome *o)
{
	enum route_status st;
	int polls = 0;

	while ((st = route_order(rb, ups->n, model, order, norder)) ==
	    ROUTE_FULL) {
		if (monotime_ms() >= deadline || *c->stopping) {
			o->status = 503;
			o->fail = "upstream-full";
			o->close = o->close || client_closing(c);
			if (reply_error_hdrs(c, 503, "every Ollama server is "
			    "at its max-conns; try again later",
			    "Retry-After: 1\r\n", o->close) == -1)
				o->close = 1;
			return -1;
		}
		if (++polls % GONE_EVERY == 0 && client_gone(c)) {
			o->fail = "client-gone";
			o->close = 1;
			return -1;
		}
		pause_ms(QUEUE_POLL_MS);
	}
	if (st == ROUTE_NONE) {
		reply_fail(c, o, 502, "no Ollama server is up",
		    "upstream-refused");
		return -1;
	}
	return 0;
}

/* Counts the request in box i; 0 if it has filled up meanwhile. */
static int
take(int i, int strict)
{
	struct health_view v;

	health_acquire(slot_no, box[i]);
	if (!strict || rb[i].max_conns == 0)
		return 1;
	health_read(rb[i].h, 0, &v);
	if (v.inflight <= rb[i].max_conns)
		return 1;
	health_release(slot_no);
	return 0;
}

/* Out of boxes: the last box's own 502 or 503, else 502. */
static void
give_up(struct client *c, struct proxy_box *pb, struct outcome *o)
{
	if (pb->held_status == 0) {
		reply_fail(c, o, 502, "no Ollama server could be reached",
		    "upstream-refused");
		return;
	}
	o->status = pb->held_status;
	o->fail = "-";
	o->close = o->close || client_closing(c) || !c->req.body_done;
	if (reply_json(c, pb->held_status, pb->held.buf != NULL ?
	    pb->held.buf : "", pb->held.len, o->close) == -1) {
		o->fail = "client-gone";
		o->close = 1;
	}
}

/*
 * Tries order[0], then the next boxes while a box fails before the
 * client saw anything, up to retries more.  0 once answered; -1 when
 * no box could take the request (they all filled up: wait again).
 */
static int
attempts(struct client *c, const struct proxy_req *pr, int expose,
    const int *order, int norder, int strict, struct outcome *o)
{
	const struct request *r = &c->req;
	struct proxy_box pb;
	enum proxy_result res = PROXY_RETRY;
	int i, k, tries = 0;

	memset(&pb, 0, sizeof(pb));
	for (k = 0; k < norder && tries <= conf->retries; k++) {
		if (!take(i = order[k], strict))
			continue;
		pb.url = ups->u[i].url;
		pb.expose = expose ? ups->u[i].name : NULL;
		pb.again = tries > 0;
		res = proxy_try(c, pr, &pb, o);
		health_release(slot_no);
		o->upstream = ups->u[i].name;
		o->retries = tries++;
		if (res == PROXY_DONE)
			break;
		if (res == PROXY_DOWN)
			health_passive_down(box[i], monotime_ms());
		log_warnx("upstream %s: %s %.*s: %s", ups->u[i].name,
		    r->method, (int)path_len(r), r->target, pb.why);
		if (!pb.replayable)
			break;
	}
	if (tries == 0) {
		/* Another worker took the last place: wait again. */
		pause_ms(QUEUE_POLL_MS);
		return -1;
	}
	if (res != PROXY_DONE)
		give_up(c, &pb, o);
	modellist_free(&pb.held);
	return 0;
}

static char *
merge_bodies(enum merge_kind kind, const struct listmerge_body *lb, int n,
    const struct proxy_req *pr)
{
	listmerge_keep keep = pr != NULL ? pr->allow : NULL;
	void *arg = pr != NULL ? pr->arg : NULL;

	switch (kind) {
	case MERGE_TAGS:
		return listmerge_tags(lb, n, keep, arg);
	case MERGE_MODELS:
		return listmerge_models(lb, n, keep, arg);
	default:
		return listmerge_ps(lb, n, keep, arg);
	}
}

/* One list from every healthy box, filtered for the key. */
static void
merge(struct client *c, const struct proxy_req *pr, enum merge_kind kind,
    struct outcome *o)
{
	struct modellist got[CONFIG_UPSTREAMS_MAX];
	struct listmerge_body lb[CONFIG_UPSTREAMS_MAX];
	struct health_view v;
	char *out;
	int i, n = 0, down;

	memset(got, 0, sizeof(got));
	for (i = 0; i < ups->n; i++) {
		health_read(rb[i].h, 0, &v);
		if (!v.usable)
			continue;
		health_acquire(slot_no, box[i]);
		if (proxy_fetch(c, ups->u[i].url, (size_t)conf->max_json_body,
		    &got[i], &down) == 200 && got[i].len > 0) {
			lb[n].text = got[i].buf;
			lb[n++].len = got[i].len;
		}
		health_release(slot_no);
		if (down)
			health_passive_down(box[i], monotime_ms());
	}
	o->upstream = "*";
	if (n == 0)
		reply_fail(c, o, 502, "no Ollama server answered",
		    "upstream-refused");
	else if ((out = merge_bodies(kind, lb, n, pr)) == NULL)
		reply_fail(c, o, 503, "out of memory", "upstream-bad");
	else {
		o->status = 200;
		o->close = o->close || client_closing(c);
		if (reply_json(c, 200, out, strlen(out), o->close) == -1) {
			o->fail = "client-gone";
			o->close = 1;
		}
		free(out);
	}
	for (i = 0; i < ups->n; i++)
		modellist_free(&got[i]);
}

void
balance_forward(struct client *c, const struct auth_who *who,
    const struct gate *g, struct outcome *o)
{
	const struct proxy_req *pr = g != NULL && g->use_pr ? &g->pr : NULL;
	int order[CONFIG_UPSTREAMS_MAX], norder, pin, expose;
	int64_t deadline;
	enum merge_kind kind;

	if ((pin = pinned(c, who, o)) == PIN_REFUSED)
		return;
	expose = conf->expose_upstream && who != NULL && who->master;
	if (pin >= 0) {
		order[0] = pin;
		(void)attempts(c, pr, expose, order, 1, 0, o);
		return;
	}
	if ((kind = merge_kind(&c->req)) != MERGE_NONE) {
		merge(c, pr, kind, o);
		return;
	}
	if (g != NULL && g->cls == POLICY_MANAGE) {
		if ((norder = manage_order(order)) == 0)
			reply_fail(c, o, 502, "no Ollama server is up",
			    "upstream-refused");
		else
			(void)attempts(c, pr, expose, order, norder, 0, o);
		return;
	}
	deadline = monotime_ms() + conf->queue_timeout * 1000;
	do {
		if (wait_route(c, g != NULL ? g->model : 0, deadline, order,
		    &norder, o) == -1)
			return;
	} while (attempts(c, pr, expose, order, norder, 1, o) == -1);
}
