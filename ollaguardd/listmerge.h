/*
 * listmerge: one answer from several upstreams' model lists, as pure
 * functions over JSON text.  GET /api/tags and /v1/models answer the
 * union of the healthy boxes' lists, deduplicated by name; /api/ps the
 * concatenation.
 */
#ifndef LISTMERGE_H
#define LISTMERGE_H

#include <stddef.h>

/* One box's response body. */
struct listmerge_body {
	const char	*text;
	size_t		 len;
};

/* Whether a model goes in the answer (the key's model list); NULL
 * keeps every one. */
typedef int	(*listmerge_keep)(const char *name, void *arg);

/*
 * Each returns the merged body, compact JSON in a malloc'd string, or
 * NULL when out of memory.  Boxes come in the order given and the first
 * entry of a name wins; a body that is not the expected JSON adds
 * nothing.  The shape of the answer is Ollama's own:
 *   tags:   {"models":[...]}		deduplicated by "name"
 *   models: {"object":"list","data":[...]}	deduplicated by "id"
 *   ps:     {"models":[...]}		every entry of every box
 */
char	*listmerge_tags(const struct listmerge_body *, int n,
	    listmerge_keep keep, void *arg);
char	*listmerge_models(const struct listmerge_body *, int n,
	    listmerge_keep keep, void *arg);
char	*listmerge_ps(const struct listmerge_body *, int n,
	    listmerge_keep keep, void *arg);

#endif
