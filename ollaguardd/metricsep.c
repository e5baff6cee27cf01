/*
 * metricsep: the /metrics endpoint: who may read it, and the Prometheus
 * text that metrics_render makes, sent with its length.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accesslog.h"
#include "auth.h"
#include "cidr.h"
#include "client.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "metricsep.h"
#include "reply.h"
#include "request.h"

#ifndef OLLAGUARD_VERSION
#define OLLAGUARD_VERSION	"0.1.0"
#endif

#define ME_BUF_START	(256 * 1024)
#define ME_BUF_MAX	(16 * 1024 * 1024)

static struct cidr_list	 allow;
static int64_t		 window;
static char		*buf;
static size_t		 buflen;

void
metricsep_init(const struct config *cfg)
{
	const char *why;

	window = cfg->signature_window;
	/* The setting was checked when it was read. */
	if (cidr_parse_list(cfg->metrics_allow, &allow, &why) == -1)
		allow.n = 0;
}

int
metricsep_match(const struct client *c)
{
	const struct request *r = &c->req;
	size_t n = r->target_len;
	const char *q = memchr(r->target, '?', r->target_len);

	if (q != NULL)
		n = (size_t)(q - r->target);
	return (r->method_id == HTTP_GET || r->method_id == HTTP_HEAD) &&
	    n == 8 && memcmp(r->target, "/metrics", 8) == 0;
}

static void
me_send(struct client *c, struct outcome *o)
{
	char *p;
	int n;

	for (;;) {
		if (buf != NULL && (n = metrics_render(buf, buflen,
		    OLLAGUARD_VERSION)) >= 0)
			break;
		if (buflen >= ME_BUF_MAX || (p = realloc(buf, buflen == 0 ?
		    ME_BUF_START : buflen * 2)) == NULL) {
			reply_fail(c, o, 503, "the metrics do not fit",
			    "metrics");
			return;
		}
		buf = p;
		buflen = buflen == 0 ? ME_BUF_START : buflen * 2;
	}
	o->status = 200;
	if (reply_body(c, 200, "text/plain; version=0.0.4; charset=utf-8",
	    buf, (size_t)n, NULL, o->close) == -1)
		o->close = 1;
}

void
metricsep_serve(struct client *c, struct auth_who *who,
    struct access_entry *e, struct outcome *o)
{
	enum auth_result a;

	a = auth_request(&c->req, window, who);
	if (a == AUTH_PASS && who->master) {
		e->key = "master";
		me_send(c, o);
		return;
	}
	if ((a == AUTH_MISSING || (a == AUTH_PASS && who->open)) &&
	    cidr_match(&allow, c->addr)) {
		me_send(c, o);
		return;
	}
	if (a == AUTH_INVALID) {
		metrics_auth_failure("invalid-key");
		if (!accesslog_beside_messages())
			log_warnx("auth failed: client=%s reason=invalid-key: "
			    "/metrics", c->addr);
		reply_fail(c, o, 401, "invalid API key", "auth");
		return;
	}
	if (a == AUTH_UNAVAILABLE) {
		reply_fail(c, o, 503, "the key database is unavailable",
		    "db-unavailable");
		return;
	}
	reply_fail(c, o, 403, "/metrics is for the master key, or for "
	    "addresses in metrics-allow", "forbidden");
}
