/*
 * metering: issue 12 through one request.  serve asks it between the
 * gate and proxy (metering_start: the Open WebUI user, the quotas, the
 * openai-stream-usage rewrite) and once the request is over
 * (metering_end: the meter's counts into the worker's usage buffer, the
 * metrics, the quota counters and the access log entry).  The worker
 * flushes the buffer (metering_flush) and the master prunes old days
 * (metering_prune).
 */
#ifndef METERING_H
#define METERING_H

#include <stdint.h>

struct access_entry;
struct auth_who;
struct client;
struct config;
struct gate;
struct outcome;

/* Worker, after fork.  Its own usage connection is opened when first
 * needed; while it cannot be, requests with quotas get 503. */
int	metering_init(const struct config *);
/* Writes the usage buffer if due, or now with force. */
void	metering_flush(int force);
void	metering_close(void);
/* Now in seconds, with clock-offset: the clock of days and months. */
int64_t	metering_now(void);
/*
 * A request that passed the gate: 0 to forward it with g->pr (metered),
 * or -1 with g->status, g->msg, g->hdrs and g->fail set to answer.
 */
int	metering_start(struct client *, const struct auth_who *,
	    struct gate *g);
/* After the request (forwarded or not); fills e's usage fields. */
void	metering_end(const struct client *, const struct auth_who *,
	    const struct outcome *, struct access_entry *e);
/* Master, once a second: deletes days past usage-retention about once
 * an hour. */
void	metering_prune(const struct config *);

#endif
