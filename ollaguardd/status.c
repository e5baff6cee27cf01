/*
 * status: what the pool is doing, as JSON for the admin page.  Every
 * slot is written by its own worker while this one reads it, so each
 * string is copied and cut before use: a torn read shows a moment's
 * mix of two requests, never more, and never a byte past the field.
 */
#include <sys/types.h>

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "health.h"
#include "monotime.h"
#include "scoreboard.h"
#include "status.h"
#include "timefmt.h"

static const struct config	*conf;

void
status_init(const struct config *cfg)
{
	conf = cfg;
}

/* A JSON string of a field copied out of shared memory. */
static json_t *
shared_string(const volatile char *field, size_t size)
{
	char buf[SB_WHAT_MAX];
	json_t *v;
	size_t i;

	if (size > sizeof(buf))
		size = sizeof(buf);
	for (i = 0; i + 1 < size && field[i] != '\0'; i++)
		buf[i] = field[i];
	buf[i] = '\0';
	if ((v = json_string(buf)) == NULL)
		v = json_string("");
	return v;
}

static json_t *
settings_json(void)
{
	char url[CONFIG_URL_MAX];
	json_t *o, *ups;
	int i;

	o = json_object();
	json_object_set_new(o, "host", json_string(conf->host));
	json_object_set_new(o, "port", json_integer(conf->port));
	json_object_set_new(o, "workers", json_integer(conf->workers));
	json_object_set_new(o, "min_spare", json_integer(conf->min_spare));
	json_object_set_new(o, "max_spare", json_integer(conf->max_spare));
	json_object_set_new(o, "max_workers", json_integer(conf->max_workers));
	json_object_set_new(o, "timeout", json_integer(conf->timeout));
	json_object_set_new(o, "default_allow",
	    json_string(conf->default_allow));
	json_object_set_new(o, "auth_fail_limit",
	    json_integer(conf->auth_fail_limit));
	json_object_set_new(o, "max_conns_per_ip",
	    json_integer(conf->max_conns_per_ip));
	json_object_set_new(o, "admin_allow", json_string(conf->admin_allow));
	ups = json_array();
	for (i = 0; i < conf->ntarget_urls; i++) {
		config_redact_url(conf->target_urls[i], url, sizeof(url));
		json_array_append_new(ups, json_string(url));
	}
	json_object_set_new(o, "target_urls", ups);
	return o;
}

/* One busy worker: who, what, how long, how much. */
static json_t *
busy_json(const struct sb_slot *s, int64_t start_ms, int64_t now_ms)
{
	char what[SB_WHAT_MAX], *sp;
	json_t *o;
	size_t i;

	for (i = 0; i + 1 < sizeof(what) && s->what[i] != '\0'; i++)
		what[i] = s->what[i];
	what[i] = '\0';
	if ((sp = strchr(what, ' ')) != NULL)
		*sp++ = '\0';
	o = json_object();
	json_object_set_new(o, "pid", json_integer(s->pid));
	json_object_set_new(o, "state", json_string(sb_state_name(s->state)));
	json_object_set_new(o, "client", shared_string(s->client,
	    sizeof(s->client)));
	json_object_set_new(o, "key", shared_string(s->key_name,
	    sizeof(s->key_name)));
	json_object_set_new(o, "method", shared_string(what, sizeof(what)));
	json_object_set_new(o, "path", shared_string(sp != NULL ? sp : "",
	    SB_WHAT_MAX));
	json_object_set_new(o, "model", shared_string(s->model,
	    sizeof(s->model)));
	json_object_set_new(o, "seconds",
	    json_real((double)(now_ms - start_ms) / 1000.0));
	json_object_set_new(o, "bytes", json_integer((json_int_t)s->bytes));
	return o;
}

/* The pool by state, and the workers serving a request other than
 * this one. */
static void
pool_json(json_t *root)
{
	static const int states[] = { SB_STARTING, SB_IDLE, SB_READING,
	    SB_PROXYING, SB_CLOSING };
	int count[SB_CLOSING + 1] = { 0 };
	int64_t start, now_ms = monotime_ms();
	const struct sb_slot *s;
	json_t *pool, *busy;
	pid_t self = getpid();
	int i, st, total = 0;

	busy = json_array();
	for (i = 0; i < sb_size(); i++) {
		s = sb_slot(i);
		if (s->pid == 0 || (st = s->state) <= SB_FREE ||
		    st > SB_CLOSING)
			continue;
		count[st]++;
		total++;
		start = s->req_start_ms;
		if (start != 0 && s->pid != self && st != SB_IDLE)
			json_array_append_new(busy,
			    busy_json(s, start, now_ms));
	}
	pool = json_object();
	for (i = 0; i < (int)(sizeof(states) / sizeof(states[0])); i++)
		json_object_set_new(pool, sb_state_name(states[i]),
		    json_integer(count[states[i]]));
	json_object_set_new(pool, "total", json_integer(total));
	json_object_set_new(root, "pool", pool);
	json_object_set_new(root, "busy", busy);
}

/* The boxes, when there are several; loaded models are known to the
 * health table only as hashes, so they are counted. */
static json_t *
boxes_json(void)
{
	static const char *const names[] = { "unknown", "up", "down" };
	char url[CONFIG_URL_MAX];
	const struct health_box *b;
	json_t *a, *o;
	int i, st;

	a = json_array();
	for (i = 0; i < HEALTH_BOXES; i++) {
		b = health_box(i);
		if (!b->in_use)
			continue;
		st = b->state;
		if (b->passive_down_ms != 0)
			st = HEALTH_DOWN;
		o = json_object();
		config_redact_url(b->url, url, sizeof(url));
		json_object_set_new(o, "name", json_string(b->name));
		json_object_set_new(o, "url", json_string(url));
		json_object_set_new(o, "state", json_string(st >= 0 &&
		    st <= HEALTH_DOWN ? names[st] : "unknown"));
		json_object_set_new(o, "models", json_integer(b->npresent));
		json_object_set_new(o, "loaded_models",
		    json_integer(b->nloaded));
		json_object_set_new(o, "inflight", json_integer(b->inflight));
		json_array_append_new(a, o);
	}
	return a;
}

json_t *
status_json(void)
{
	char iso[TIMEFMT_ISO_LEN];
	int64_t started = sb_started(), now = time(NULL);
	json_t *root;

	if ((root = json_object()) == NULL)
		return NULL;
	timefmt_iso(started, iso, sizeof(iso));
	json_object_set_new(root, "version", json_string(OLLAGUARD_VERSION));
	json_object_set_new(root, "started", json_string(iso));
	json_object_set_new(root, "uptime", json_integer(now - started));
	json_object_set_new(root, "settings", settings_json());
	pool_json(root);
	if (conf->ntarget_urls > 1)
		json_object_set_new(root, "upstreams", boxes_json());
	return root;
}
