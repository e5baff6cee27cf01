/*
 * proxy: forwarding one request upstream and streaming the response
 * back, on the worker's kept connection to the box (upconn.h).
 */
#ifndef PROXY_H
#define PROXY_H

#include <stddef.h>

#include "modellist.h"

struct client;
struct config;
struct meter;
struct outcome;
struct streamusage_filter;

/*
 * What the caller changes about one forward; NULL for none.  body: the
 * request body, already read whole, sent as it is instead of streaming
 * from the client.  allow: the answer is a model list to filter with
 * bodymodel_filter_list (asked for uncompressed, read whole up to
 * list_max bytes, 502 if not a list) and sent with its new length.
 * meter: fed every body byte relayed (metering).  filter: the response
 * goes through it (openai-stream-usage = add).
 */
struct proxy_req {
	const char	*body;
	size_t		 bodylen;
	int		(*allow)(const char *name, void *arg);
	void		*arg;
	size_t		 list_max;
	struct meter	*meter;
	struct streamusage_filter *filter;
};

/* After fork: the target box and its connection settings.  -1 if
 * the target URL cannot be used. */
int	proxy_init(const struct config *);
/* Forwards the request in c and records what became of it in o (which
 * the caller has set to status 0, close 0, fail "-"). */
void	proxy_forward(struct client *, const struct proxy_req *,
	    struct outcome *);
void	proxy_cleanup(void);

/*
 * With several upstreams, one attempt of a request at one box.  The
 * caller fills url, expose (the name for X-Ollaguard-Upstream, or NULL)
 * and again (not the first attempt: the body is sent again from its
 * start); held must start zeroed and be freed with modellist_free.
 */
struct proxy_box {
	const char	*url;
	const char	*expose;
	int		 again;
	/* Out, after PROXY_RETRY or PROXY_DOWN: */
	int		 replayable;	/* the body can be sent again */
	const char	*why;		/* for the log */
	int		 held_status;	/* a 502 or 503 held back, or 0 */
	struct modellist held;		/* its body */
};

enum proxy_result {
	PROXY_DONE,	/* answered: o says how */
	PROXY_RETRY,	/* nothing sent: closed before the head, or 502/503 */
	PROXY_DOWN	/* nothing sent: the box could not be reached */
};

enum proxy_result proxy_try(struct client *, const struct proxy_req *,
	    struct proxy_box *, struct outcome *);
/*
 * GETs the request's target from the box at base, its body whole (up
 * to max bytes) into out (modellist_free it).  Returns the status, 0
 * if none came; *down is set when the box could not be reached.
 */
int	proxy_fetch(struct client *, const char *base, size_t max,
	    struct modellist *out, int *down);

#endif
