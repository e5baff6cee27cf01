/*
 * realip: the client's address when a trusted load balancer or TLS
 * terminator stands in front: from its PROXY protocol header
 * (proxy-protocol = on) or from each request's X-Forwarded-For.
 */
#ifndef REALIP_H
#define REALIP_H

struct client;
struct config;

void	realip_init(const struct config *cfg);
/*
 * Once per connection, after accept(): marks a trusted peer and, with
 * proxy-protocol on, reads its PROXY header into c->addr.  1 to go on,
 * 0 to close, -1 to answer c->req's 400 and close.
 */
int	realip_accept(struct client *c);
/* 1 when each request's X-Forwarded-For names the client. */
int	realip_per_request(const struct client *c);
/* Before a request head: the peer, until the head names another. */
void	realip_reset(struct client *c);
/* After a request head: c->addr from its X-Forwarded-For. */
void	realip_request(struct client *c);

#endif
