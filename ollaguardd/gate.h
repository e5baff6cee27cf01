/*
 * gate: what a key that passed auth may do with one request, from its
 * policy: the endpoint class, the models, and its rate and concurrency
 * limits.  serve asks it between authentication and proxy.
 */
#ifndef GATE_H
#define GATE_H

#include <stddef.h>
#include <stdint.h>

#include "modelname.h"
#include "proxy.h"

struct auth_who;
struct client;
struct config;

/* What the gate decided for one request; cleared by gate_check. */
struct gate {
	int		 status;	/* 0: forward; else the refusal */
	const char	*msg;		/* the refusal's error text */
	const char	*hdrs;		/* extra response headers, or NULL */
	const char	*fail;		/* the access log's failure name */
	struct proxy_req pr;		/* for proxy_forward */
	int		 use_pr;	/* pr applies (a body or a filter) */
	char		*body;		/* the body read whole (malloc'd) */
	int		 limited;	/* holds a keylimit slot */
	int		 cls;		/* the endpoint's POLICY_* class */
	/* With several upstreams: */
	uint64_t	 model;		/* health_model_hash, 0: none named */
	/* The first model the request names, when its body was read. */
	char		 model_name[MODELNAME_MAX];
};

void	gate_init(const struct config *, int slotno);
/*
 * Checks the request in c for who.  0 to forward (with g->pr when
 * g->use_pr), or -1 with g->status and g->msg to answer.  gate_done
 * must follow either way, once the request is over.
 */
int	gate_check(struct client *, const struct auth_who *who,
	    struct gate *g);
/* Reads the request body whole (up to max-json-body) into g->body;
 * 0, or -1 with the refusal in g. */
int	gate_read_body(struct client *, const struct auth_who *,
	    struct gate *g, size_t *len);
/* Frees the body and gives back the concurrency slot. */
void	gate_done(struct gate *g);

#endif
