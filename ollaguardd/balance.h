/*
 * balance: with several upstreams, the box each request goes to and
 * failover to another before the client has seen anything.  serve
 * calls it instead of proxy_forward when balance_active().
 */
#ifndef BALANCE_H
#define BALANCE_H

struct auth_who;
struct client;
struct config;
struct gate;
struct outcome;

/* After fork: the upstreams this worker was forked with. */
void	balance_init(const struct config *, int slotno);
/* 1 when there are several upstreams. */
int	balance_active(void);
/*
 * Forwards the request in c to the box chosen for it (who: NULL for a
 * CORS preflight; g: the gate's decision, or NULL) and records what
 * became of it in o, with the box that answered and the retries.
 */
void	balance_forward(struct client *, const struct auth_who *who,
	    const struct gate *g, struct outcome *o);

#endif
