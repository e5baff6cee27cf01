/*
 * realip: who the client is.  Only a peer in trusted-proxies is
 * believed; from any other peer a PROXY header is just a bad request
 * and X-Forwarded-For is ignored (proxy replaces it upstream).  The
 * address found here is what the connection limit, the auth failure
 * limit, the access log and the fail2ban line see, because they all
 * read c->addr.
 */
#include <string.h>

#include "cidr.h"
#include "client.h"
#include "config.h"
#include "log.h"
#include "proxyproto.h"
#include "realip.h"

static struct cidr_list	 trusted;
static int		 proxy_protocol;

void
realip_init(const struct config *cfg)
{
	const char *why = NULL;

	/* config_load has checked the list already. */
	if (cidr_parse_list(cfg->trusted_proxies, &trusted, &why) == -1) {
		log_warnx("trusted-proxies: %s", why);
		trusted.n = 0;
	}
	proxy_protocol = cfg->proxy_protocol;
}

static int
parse_cb(const unsigned char *buf, size_t len, void *arg)
{
	return proxyproto_parse(buf, len, arg);
}

int
realip_accept(struct client *c)
{
	struct proxyproto pp;
	int rc;

	c->peer_trusted = cidr_match(&trusted, c->peer);
	if (!c->peer_trusted || !proxy_protocol)
		return 1;
	if ((rc = client_take_prefix(c, parse_cb, &pp, PROXYPROTO_MAX)) <= 0)
		return rc;
	if (pp.addr[0] != '\0')
		strlcpy(c->addr, pp.addr, sizeof(c->addr));
	return 1;
}

int
realip_per_request(const struct client *c)
{
	return c->peer_trusted && !proxy_protocol;
}

void
realip_reset(struct client *c)
{
	strlcpy(c->addr, c->peer, sizeof(c->addr));
}

void
realip_request(struct client *c)
{
	if (!proxyproto_xff(c->req.hdr, c->req.nhdr, &trusted, c->addr,
	    sizeof(c->addr)))
		realip_reset(c);
}
