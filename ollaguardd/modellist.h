/*
 * modellist: the answer of /api/tags, /api/ps or /v1/models, collected
 * whole for a key with a model list, and sent back filtered with its new
 * length.  proxy keeps one in its per-request state.
 */
#ifndef MODELLIST_H
#define MODELLIST_H

#include <stddef.h>

struct client;

struct modellist {
	char	*buf;		/* malloc'd; modellist_free */
	size_t	 len;
	size_t	 cap;
};

/* Appends data; -1 with a reason in *why past max bytes or out of
 * memory. */
int	modellist_add(struct modellist *, size_t max, const char *data,
	    size_t len, const char **why);
/*
 * Sends the list: a 200 filtered with allow (bodymodel_filter_list),
 * another status as it came.  0 sent, -1 the client is gone, -2 a 200
 * that is not a model list (nothing sent).
 */
int	modellist_reply(struct client *, int status, const struct modellist *,
	    int (*allow)(const char *, void *), void *arg, int close);
void	modellist_free(struct modellist *);

#endif
