/*
 * proxy: forwarding one request upstream and streaming the response
 * back, with the worker's single libcurl easy handle.
 */
#ifndef PROXY_H
#define PROXY_H

struct client;
struct config;
struct outcome;

/* After fork: makes the easy handle.  -1 if libcurl fails. */
int	proxy_init(const struct config *);
/* Forwards the request in c and records what became of it in o (which
 * the caller has set to status 0, close 0, fail "-"). */
void	proxy_forward(struct client *, struct outcome *);
void	proxy_cleanup(void);

#endif
