/*
 * serve: the dispatch of one request, once its head is read: the
 * daemon's own endpoint, a CORS preflight, or an authenticated request
 * that is forwarded upstream; the limits on the way; and the access log
 * line that records what became of it.
 */
#ifndef SERVE_H
#define SERVE_H

struct client;
struct config;
struct sb_slot;

/* After fork, once per worker; slot is the worker's scoreboard slot. */
void	serve_init(const struct config *, struct sb_slot *slot, int slotno);
/*
 * Right after accept(), before a byte is read: the per-address
 * connection cap.  0 to serve the connection; -1 once it is refused
 * (answered with 429 and closed).
 */
int	serve_admit(struct client *);
/* Answers a request the parser refused (c->req.status, c->req.error)
 * and logs it; the connection is closed after. */
void	serve_bad_request(struct client *);
/*
 * Serves the request whose head is in c, to the end.  Returns 1 when
 * the connection may carry the next request, 0 when it is closed or
 * must be.
 */
int	serve_request(struct client *);

#endif
