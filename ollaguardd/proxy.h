/*
 * proxy: forwarding one request upstream and streaming the response
 * back, with the worker's single libcurl easy handle.
 */
#ifndef PROXY_H
#define PROXY_H

#include <stddef.h>

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

/* After fork: makes the easy handle.  -1 if libcurl fails. */
int	proxy_init(const struct config *);
/* Forwards the request in c and records what became of it in o (which
 * the caller has set to status 0, close 0, fail "-"). */
void	proxy_forward(struct client *, const struct proxy_req *,
	    struct outcome *);
void	proxy_cleanup(void);

#endif
