/*
 * metering: what one proxied request used, and the budgets it is held
 * to.  Nothing here touches the database per request: the counts go to
 * the worker's usage buffer (usagebuf), flushed in one transaction about
 * every USAGEBUF_FLUSH_SECS; the quotas are counters in shared memory
 * (quota), read from the database only the first time a key is seen
 * after the start.  The meter reads a bounded tail of the response as
 * proxy relays it and holds nothing back from the client.
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sqlite3.h>

#include "accesslog.h"
#include "auth.h"
#include "client.h"
#include "config.h"
#include "dbconn.h"
#include "gate.h"
#include "keystore.h"
#include "log.h"
#include "meter.h"
#include "metering.h"
#include "metrics.h"
#include "policy.h"
#include "quota.h"
#include "reply.h"
#include "request.h"
#include "streamusage.h"
#include "usage.h"
#include "usagebuf.h"

#define PRUNE_SECS	3600
/* How long a flush waits for another writer: a worker must not stall
 * its next request behind a lock; the rows wait for the next try. */
#define FLUSH_BUSY_MS	50
#define EXIT_BUSY_MS	5000

/* The state of the current request, cleared by metering_start. */
struct mreq {
	int		 active;	/* started: metering_end counts it */
	int		 quota;		/* admitted by quota_admit */
	int		 cls;		/* the endpoint's POLICY_* class */
	char		 user[USAGE_USER_MAX];	/* "": none */
	char		 model[USAGE_MODEL_MAX];	/* from the request */
	char		*rewritten;	/* the body with include_usage */
	struct meter_result res;
};

static int64_t			 offset;
static int			 stream_add;
static struct mreq		 mr;
static struct meter		 meter;
static struct streamusage_filter filter;
static char			 msg[320];
static char			 hdrs[64];

int64_t
metering_now(void)
{
	return (int64_t)time(NULL) + offset;
}

/*
 * The worker's database connection (dbconn), which follows the file
 * when it is replaced and keeps its WAL its own: the usage rows go
 * through it.  NULL while the database is unavailable.
 */
static struct sqlite3 *
metering_db(void)
{
	struct keystore *ks;

	return (ks = dbconn_get()) != NULL ? keystore_db(ks) : NULL;
}

int
metering_init(const struct config *cfg)
{
	offset = cfg->clock_offset;
	stream_add = strcmp(cfg->openai_stream_usage, "add") == 0;
	usagebuf_init(metering_now());
	return 0;
}

void
metering_flush(int force)
{
	struct sqlite3 *db;
	int64_t now = metering_now();
	int rc;

	if (usagebuf_rows() == 0 || (!force && !usagebuf_due(now)) ||
	    (db = metering_db()) == NULL)
		return;
	/* Locked by another writer: the rows are kept for the next try. */
	sqlite3_busy_timeout(db, force ? EXIT_BUSY_MS : FLUSH_BUSY_MS);
	rc = usagebuf_flush(db, now);
	if (rc == -1 && (sqlite3_errcode(db) & 0xff) != SQLITE_BUSY)
		log_warnx("usage: flush: %s", sqlite3_errmsg(db));
	sqlite3_busy_timeout(db, KEYSTORE_BUSY_MS);
}

void
metering_close(void)
{
	metering_flush(1);
}

/* Open WebUI's user: its e-mail, else its name, else its id. */
static void
find_user(const struct request *r, char *out, size_t outlen)
{
	static const char *const names[] = { "x-openwebui-user-email",
	    "x-openwebui-user-name", "x-openwebui-user-id" };
	size_t i, n, len;
	int k;

	out[0] = '\0';
	for (k = 0; k < 3; k++)
		for (i = 0; i < (size_t)r->nhdr; i++) {
			if (r->hdr[i].namelen != strlen(names[k]) ||
			    strncasecmp(r->hdr[i].name, names[k],
			    r->hdr[i].namelen) != 0 || r->hdr[i].valuelen == 0)
				continue;
			len = r->hdr[i].valuelen < outlen - 1 ?
			    r->hdr[i].valuelen : outlen - 1;
			for (n = 0; n < len; n++)
				out[n] = (unsigned char)r->hdr[i].value[n] <
				    0x20 ? '_' : r->hdr[i].value[n];
			out[len] = '\0';
			return;
		}
}

/* The key as metrics and messages name it. */
static const char *
key_label(const struct auth_who *who, char *buf, size_t len)
{
	if (who->master)
		return "master";
	if (who->open)
		return "open";
	if (who->name[0] != '\0')
		return who->name;
	snprintf(buf, len, "%lld", (long long)who->key_id);
	return buf;
}

static int
refuse_quota(const struct client *c, const struct auth_who *who,
    const struct quota_refusal *q, struct gate *g)
{
	char kb[32];

	strlcpy(msg, q->msg, sizeof(msg));
	g->status = q->status;
	g->msg = msg;
	g->fail = q->status == 429 ? "quota" : "db-unavailable";
	g->hdrs = NULL;
	if (q->status == 429) {
		snprintf(hdrs, sizeof(hdrs), "Retry-After: %lld\r\n",
		    (long long)q->retry_after);
		g->hdrs = hdrs;
		metrics_limited(key_label(who, kb, sizeof(kb)), q->limit);
	}
	log_warnx("quota: client=%s key=%lld name=\"%s\"%s%s %d: %s",
	    c->addr, (long long)who->key_id, who->name,
	    mr.user[0] != '\0' ? " user=" : "", mr.user, q->status, msg);
	return -1;
}

/* openai-stream-usage = add: the body rewritten to ask for usage. */
static int
add_stream_usage(struct client *c, const struct auth_who *who,
    struct gate *g)
{
	const char *body = g->body;
	size_t len = g->pr.bodylen, outlen;

	if (c->req.method_id != HTTP_POST || !c->req.has_body ||
	    !streamusage_path(c->req.target, c->req.target_len))
		return 0;
	if (body == NULL) {
		if (gate_read_body(c, who, g, &len) == -1)
			return -1;
		body = g->body;
		g->pr.body = body;
		g->pr.bodylen = len;
	}
	if (streamusage_request(body, len, &mr.rewritten, &outlen) != 1)
		return 0;
	g->pr.body = mr.rewritten;
	g->pr.bodylen = outlen;
	streamusage_begin(&filter);
	g->pr.filter = &filter;
	return 0;
}

int
metering_start(struct client *c, const struct auth_who *who,
    struct gate *g)
{
	struct quota_refusal q;
	const char *user;

	free(mr.rewritten);
	memset(&mr, 0, sizeof(mr));
	if (who->trust_user_header)
		find_user(&c->req, mr.user, sizeof(mr.user));
	user = mr.user[0] != '\0' ? mr.user : NULL;
	if (quota_applies(who, user)) {
		if (quota_admit(metering_db(), who, user, metering_now(),
		    &q) == -1)
			return refuse_quota(c, who, &q, g);
		mr.quota = 1;
	}
	strlcpy(mr.model, g->model_name, sizeof(mr.model));
	if (stream_add && add_stream_usage(c, who, g) == -1)
		return -1;
	mr.cls = g->cls;
	/* Only inference answers carry counts: a model list or a pull's
	 * progress is relayed without the meter reading its end. */
	if (mr.cls == POLICY_INFER) {
		meter_begin(&meter, NULL);
		g->pr.meter = &meter;
	}
	mr.active = 1;
	return 0;
}

void
metering_end(const struct client *c, const struct auth_who *who,
    const struct outcome *o, struct access_entry *e)
{
	const char *model, *user;
	char kb[32];
	int64_t now;

	if (!mr.active)
		return;
	mr.active = 0;
	if (mr.cls == POLICY_INFER)
		meter_finish(&meter, &mr.res);
	model = mr.model[0] != '\0' ? mr.model : mr.res.model;
	user = mr.user[0] != '\0' ? mr.user : NULL;
	now = metering_now();
	usagebuf_add(who->key_id, model, user, now, o->status == 0 ||
	    o->status >= 400, mr.res.prompt, mr.res.completion,
	    e->duration_us / 1000);
	metrics_request(key_label(who, kb, sizeof(kb)), model,
	    policy_class_name(mr.cls), o->status, mr.res.prompt,
	    mr.res.completion, e->duration_us, o->ttfb_us);
	if (!mr.res.found && mr.cls == POLICY_INFER && o->status == 200)
		metrics_unmetered();
	if (mr.quota)
		quota_spend(who, user, mr.res.prompt + mr.res.completion,
		    now);
	e->model = model;
	e->metered = 1;
	e->prompt_tokens = mr.res.prompt;
	e->completion_tokens = mr.res.completion;
	e->load_us = mr.res.found && mr.res.load_duration_ns > 0 ?
	    mr.res.load_duration_ns / 1000 : -1;
	free(mr.rewritten);
	mr.rewritten = NULL;
	metering_flush(0);
}

void
metering_prune(const struct config *cfg)
{
	static int64_t last;
	struct keystore *ks;
	struct sqlite3 *pdb;
	char err[512], day[USAGE_DAY_LEN];
	int64_t now = (int64_t)time(NULL) + cfg->clock_offset, n = 0;

	/* The first prune a minute after the start, out of its way. */
	if (last == 0)
		last = now - PRUNE_SECS + 60;
	if (now - last < PRUNE_SECS && now >= last)
		return;
	last = now;
	if ((ks = keystore_open(cfg->db, KEYSTORE_NOCREATE, err,
	    sizeof(err))) == NULL) {
		log_warnx("usage: prune: %s", err);
		return;
	}
	pdb = keystore_db(ks);
	/* The master never waits on a writer: a locked database is pruned
	 * a minute later. */
	sqlite3_busy_timeout(pdb, FLUSH_BUSY_MS);
	usage_day(now - cfg->usage_retention * 86400, day);
	if (usage_present(pdb) == 1 && (n = usage_prune(pdb, day)) == -1) {
		if ((sqlite3_errcode(pdb) & 0xff) == SQLITE_BUSY)
			last = now - PRUNE_SECS + 60;
		else
			log_warnx("usage: prune: %s", sqlite3_errmsg(pdb));
	}
	else if (n > 0)
		log_info("usage: pruned %lld rows before %s", (long long)n,
		    day);
	keystore_close(ks);
}
