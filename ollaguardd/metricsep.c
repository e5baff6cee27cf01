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

#define ME_NETS		32
#define ME_BUF_START	(256 * 1024)
#define ME_BUF_MAX	(16 * 1024 * 1024)

struct me_net {
	int		 v6;
	uint8_t		 addr[16];
	int		 bits;
};

static struct me_net	 nets[ME_NETS];
static int		 nnets;
static int64_t		 window;
static char		*buf;
static size_t		 buflen;

/* An address as 16 bytes, IPv4 (and IPv4-mapped IPv6) as 4: -1 if not
 * an address. */
static int
me_parse(const char *s, uint8_t out[16], int *v6)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };

	if (inet_pton(AF_INET, s, out) == 1) {
		*v6 = 0;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out) != 1)
		return -1;
	*v6 = 1;
	if (memcmp(out, mapped, sizeof(mapped)) == 0) {
		memmove(out, out + 12, 4);
		*v6 = 0;
	}
	return 0;
}

void
metricsep_init(const struct config *cfg)
{
	char list[sizeof(cfg->metrics_allow)], *p, *item, *slash;
	const char *errstr;
	struct me_net *n;

	window = cfg->signature_window;
	strlcpy(list, cfg->metrics_allow, sizeof(list));
	for (p = list; (item = strsep(&p, ",")) != NULL && nnets < ME_NETS; ) {
		item += strspn(item, " ");
		if (*item == '\0')
			continue;
		if ((slash = strchr(item, '/')) != NULL)
			*slash++ = '\0';
		n = &nets[nnets];
		if (me_parse(item, n->addr, &n->v6) == -1)
			continue;
		n->bits = n->v6 ? 128 : 32;
		if (slash != NULL)
			n->bits = (int)strtonum(slash, 0, n->bits, &errstr);
		nnets++;
	}
}

static int
me_allowed(const char *addr)
{
	uint8_t a[16];
	int v6, i, bits, full;

	if (me_parse(addr, a, &v6) == -1)
		return 0;
	for (i = 0; i < nnets; i++) {
		if (nets[i].v6 != v6)
			continue;
		bits = nets[i].bits;
		full = bits / 8;
		if (memcmp(a, nets[i].addr, (size_t)full) != 0)
			continue;
		if (bits % 8 == 0 || ((a[full] ^ nets[i].addr[full]) &
		    (0xff << (8 - bits % 8)) & 0xff) == 0)
			return 1;
	}
	return 0;
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
	    me_allowed(c->addr)) {
		me_send(c, o);
		return;
	}
	if (a == AUTH_INVALID) {
		metrics_auth_failure("invalid-key");
		log_warnx("auth failed: client=%s reason=invalid-key: /metrics",
		    c->addr);
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
