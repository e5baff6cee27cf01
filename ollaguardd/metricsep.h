/*
 * metricsep: GET /metrics, answered by the daemon itself and never
 * forwarded: to the master key, or without a key from an address in
 * metrics-allow; a wrong key gets 401, anyone else 403.
 */
#ifndef METRICSEP_H
#define METRICSEP_H

struct access_entry;
struct auth_who;
struct client;
struct config;
struct outcome;

/* Worker, after fork: reads metrics-allow (checked by config). */
void	metricsep_init(const struct config *);
/* 1 if the request is GET or HEAD /metrics. */
int	metricsep_match(const struct client *);
void	metricsep_serve(struct client *, struct auth_who *,
	    struct access_entry *, struct outcome *);

#endif
