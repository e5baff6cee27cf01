/*
 * proxy: forwarding one request upstream and streaming the response
 * back, with the worker's single libcurl easy handle.
 */
#ifndef PROXY_H
#define PROXY_H

#include <stdint.h>

struct client;
struct config;

/* Why a forwarded request failed, for the log. */
enum proxy_fail {
	PF_NONE = 0,
	PF_CLIENT_GONE,
	PF_CLIENT_SLOW,		/* stopped reading for --send-timeout */
	PF_CLIENT_BODY,
	PF_UPSTREAM_REFUSED,
	PF_UPSTREAM_TIMEOUT,
	PF_UPSTREAM_BAD
};

struct proxy_result {
	int		 status;	/* sent to the client; 0 if none */
	enum proxy_fail	 fail;
	int		 close;		/* the client connection must close */
	int64_t		 ttfb_us;	/* first upstream byte; -1 if none */
};

/* After fork: makes the easy handle.  -1 if libcurl fails. */
int	proxy_init(const struct config *);
void	proxy_forward(struct client *, struct proxy_result *);
void	proxy_cleanup(void);
const char *proxy_fail_name(enum proxy_fail);

#endif
