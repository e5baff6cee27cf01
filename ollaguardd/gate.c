/*
 * gate: a key's policy applied to one request, fail-closed: when the
 * policy cannot be checked, the request is refused.
 *
 * The order: the endpoint class (the table in policy.c); then, for a
 * key with a model list, the model in the path or in the JSON body,
 * which is read whole (up to max-json-body) and later forwarded byte
 * for byte, and the answer of a model list to filter; then the key's
 * rate and concurrency, counted in shared memory (keylimit).  The master
 * key and open mode pass untouched, and a key without a model list pays
 * for one table lookup: its body still streams.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "bodymodel.h"
#include "client.h"
#include "config.h"
#include "gate.h"
#include "health.h"
#include "keylimit.h"
#include "log.h"
#include "metrics.h"
#include "modelname.h"
#include "policy.h"
#include "request.h"

#define GATE_MSG_MAX	(KEYSTORE_NAME_MAX + MODELNAME_MAX + 128)

static size_t	 json_max;
static int	 slot_no;
static int	 route_body;	/* several upstreams: route by the model */
static char	 msg[GATE_MSG_MAX];
static char	 hdrs[64];

void
gate_init(const struct config *cfg, int slotno)
{
	json_max = (size_t)cfg->max_json_body;
	slot_no = slotno;
	route_body = cfg->ntarget_urls > 1;
}

/* The key as a message names it: its name, else its id. */
static const char *
key_label(const struct auth_who *who)
{
	static char buf[KEYSTORE_NAME_MAX + 8];

	if (who->name[0] != '\0')
		return who->name;
	snprintf(buf, sizeof(buf), "#%lld", (long long)who->key_id);
	return buf;
}

/* A refusal the policy makes, logged with the key's name (never the
 * key) and the reason; not an authentication failure. */
static int
refuse(struct gate *g, const struct client *c, const struct auth_who *who,
    int status, const char *fail)
{
	g->status = status;
	g->msg = msg;
	g->fail = fail;
	log_warnx("policy: client=%s key=%lld name=\"%s\" %d: %s", c->addr,
	    (long long)who->key_id, who->name, status, msg);
	return -1;
}

static int
refuse_model(struct gate *g, const struct client *c,
    const struct auth_who *who, const char *model)
{
	snprintf(msg, sizeof(msg), "key \"%s\" may not use model \"%.*s\"",
	    key_label(who), MODELNAME_MAX, model);
	return refuse(g, c, who, 403, "policy");
}

/* Reads the body whole into g->body; -1 after a refusal. */
int
gate_read_body(struct client *c, const struct auth_who *who, struct gate *g,
    size_t *len)
{
	struct request *r = &c->req;
	size_t cap, got = 0;
	ssize_t n;

	if (!r->chunked && r->content_length > json_max) {
		snprintf(msg, sizeof(msg), "the request body is larger than "
		    "max-json-body (%zu bytes)", json_max);
		return refuse(g, c, who, 413, "policy");
	}
	if (r->expect_continue && client_continue(c) == -1) {
		snprintf(msg, sizeof(msg), "client went away");
		return refuse(g, c, who, 400, "client-gone");
	}
	cap = r->chunked ? 64 * 1024 : (size_t)r->content_length + 1;
	if ((g->body = malloc(cap)) == NULL) {
		snprintf(msg, sizeof(msg), "out of memory");
		return refuse(g, c, who, 503, "policy");
	}
	for (;;) {
		if (got == cap) {
			char *p;

			if (cap > json_max) {
				snprintf(msg, sizeof(msg), "the request body is "
				    "larger than max-json-body (%zu bytes)",
				    json_max);
				return refuse(g, c, who, 413, "policy");
			}
			cap = cap * 2 > json_max + 1 ? json_max + 1 : cap * 2;
			if ((p = realloc(g->body, cap)) == NULL) {
				snprintf(msg, sizeof(msg), "out of memory");
				return refuse(g, c, who, 503, "policy");
			}
			g->body = p;
		}
		if ((n = client_read_body(c, g->body + got, cap - got)) == 0)
			break;
		if (n == -1) {
			snprintf(msg, sizeof(msg), "%s", r->error != NULL ?
			    r->error : "the request body failed");
			return refuse(g, c, who, r->status != 0 ? r->status :
			    400, "client-body");
		}
		got += (size_t)n;
	}
	if (got > json_max) {
		snprintf(msg, sizeof(msg), "the request body is larger than "
		    "max-json-body (%zu bytes)", json_max);
		return refuse(g, c, who, 413, "policy");
	}
	*len = got;
	return 0;
}

/* The model a request is routed by: "model", else "name". */
static void
route_model(struct gate *g, const struct bodymodel *bm)
{
	const char *m = bm->value[0] != NULL ? bm->value[0] : bm->value[1];

	if (m == NULL)
		return;
	g->model = health_model_hash(m, strlen(m));
	if (g->model_name[0] == '\0')
		strlcpy(g->model_name, m, sizeof(g->model_name));
}

/*
 * With several upstreams, the model of any key's request, to route it:
 * the body is read as for a key with a model list (a body larger than
 * max-json-body by its length streams, unrouted), and a body that does
 * not parse is forwarded for Ollama to refuse.
 */
static int
read_route_model(struct client *c, const struct auth_who *who,
    const struct policy_endpoint *ep, struct gate *g)
{
	struct request *r = &c->req;
	struct bodymodel bm;
	char model[MODELNAME_MAX];
	const char *why;
	size_t len;

	if (ep->path_model && policy_path_model(r->target, r->target_len,
	    model, sizeof(model)) == 0) {
		g->model = health_model_hash(model, strlen(model));
		strlcpy(g->model_name, model, sizeof(g->model_name));
	}
	if (g->body != NULL || ep->fields == 0 || ep->stream ||
	    !r->has_body || (!r->chunked && r->content_length > json_max))
		return 0;
	if (gate_read_body(c, who, g, &len) == -1)
		return -1;
	if (bodymodel_parse(g->body, len, ep->fields, &bm, &why) == 0)
		route_model(g, &bm);
	bodymodel_clear(&bm);
	g->pr.body = g->body;
	g->pr.bodylen = len;
	g->use_pr = 1;
	return 0;
}

/* The models a body names, each checked against the key's list. */
static int
check_body(struct client *c, const struct auth_who *who,
    const struct policy_endpoint *ep, struct gate *g)
{
	struct bodymodel bm;
	const char *why;
	size_t len;
	int i, rc = 0;

	if (!c->req.has_body) {
		snprintf(msg, sizeof(msg), "key \"%s\" may only use named "
		    "models, and the request names none", key_label(who));
		return refuse(g, c, who, 403, "policy");
	}
	if (gate_read_body(c, who, g, &len) == -1)
		return -1;
	if (bodymodel_parse(g->body, len, ep->fields, &bm, &why) == -1) {
		snprintf(msg, sizeof(msg), "%s", why);
		bodymodel_clear(&bm);
		return refuse(g, c, who, 400, "policy");
	}
	for (i = 0; i < BODYMODEL_NFIELDS && rc == 0; i++) {
		if (bm.value[i] == NULL)
			continue;
		if (g->model_name[0] == '\0')
			strlcpy(g->model_name, bm.value[i],
			    sizeof(g->model_name));
		if (!modelname_list_match(who->models, bm.value[i]))
			rc = refuse_model(g, c, who, bm.value[i]);
	}
	if (rc == 0 && bm.found == 0) {
		snprintf(msg, sizeof(msg), "key \"%s\" may only use named "
		    "models, and the request names none", key_label(who));
		rc = refuse(g, c, who, 403, "policy");
	}
	route_model(g, &bm);
	bodymodel_clear(&bm);
	if (rc == 0) {
		g->pr.body = g->body;
		g->pr.bodylen = len;
		g->use_pr = 1;
	}
	return rc;
}

static int
list_allow(const char *name, void *arg)
{
	return modelname_list_match(arg, name);
}

static int
check_models(struct client *c, const struct auth_who *who,
    const struct policy_endpoint *ep, struct gate *g)
{
	struct request *r = &c->req;
	char model[MODELNAME_MAX];

	if (!policy_models_known(ep)) {
		snprintf(msg, sizeof(msg), "key \"%s\" may only use named "
		    "models, and this endpoint names none", key_label(who));
		return refuse(g, c, who, 403, "policy");
	}
	if (ep->path_model) {
		if (policy_path_model(r->target, r->target_len, model,
		    sizeof(model)) == -1) {
			snprintf(msg, sizeof(msg), "the model in the path "
			    "cannot be read");
			return refuse(g, c, who, 403, "policy");
		}
		strlcpy(g->model_name, model, sizeof(g->model_name));
		if (!modelname_list_match(who->models, model))
			return refuse_model(g, c, who, model);
	}
	if (ep->filter) {
		g->pr.allow = list_allow;
		g->pr.arg = (void *)(uintptr_t)who->models;
		g->pr.list_max = json_max;
		g->use_pr = 1;
	}
	if (ep->fields != 0 && !ep->stream)
		return check_body(c, who, ep, g);
	return 0;
}

static int
check_limits(const struct client *c, const struct auth_who *who,
    struct gate *g)
{
	enum keylimit_result lr;
	int retry = 1;

	lr = keylimit_acquire(slot_no, who->key_id, who->rpm,
	    who->concurrency, keylimit_now_ns(), &retry);
	if (lr == KEYLIMIT_OK) {
		g->limited = 1;
		return 0;
	}
	if (lr == KEYLIMIT_RATE)
		snprintf(msg, sizeof(msg), "key \"%s\" is over its rate limit "
		    "of %u requests a minute", key_label(who), who->rpm);
	else
		snprintf(msg, sizeof(msg), "key \"%s\" is over its "
		    "concurrency limit of %u requests at once",
		    key_label(who), who->concurrency);
	snprintf(hdrs, sizeof(hdrs), "Retry-After: %d\r\n", retry);
	g->hdrs = hdrs;
	metrics_limited(key_label(who), lr == KEYLIMIT_RATE ? "rpm" :
	    "concurrency");
	return refuse(g, c, who, 429, "key-limit");
}

int
gate_check(struct client *c, const struct auth_who *who, struct gate *g)
{
	struct request *r = &c->req;
	struct policy_endpoint ep;

	memset(g, 0, sizeof(*g));
	policy_classify(r->method, r->target, r->target_len, &ep);
	g->cls = ep.cls;
	if ((who->master || who->open) && !route_body)
		return 0;
	if (who->master || who->open)
		return read_route_model(c, who, &ep, g);
	if ((ep.cls & who->allow) == 0) {
		snprintf(msg, sizeof(msg), "key \"%s\" may not use %s "
		    "endpoints", key_label(who), policy_class_name(ep.cls));
		return refuse(g, c, who, 403, "policy");
	}
	if (who->models[0] != '\0' && check_models(c, who, &ep, g) == -1)
		return -1;
	if ((who->rpm != 0 || who->concurrency != 0) &&
	    check_limits(c, who, g) == -1)
		return -1;
	return route_body ? read_route_model(c, who, &ep, g) : 0;
}

void
gate_done(struct gate *g)
{
	if (g->limited)
		keylimit_release(slot_no);
	g->limited = 0;
	free(g->body);
	g->body = NULL;
}
