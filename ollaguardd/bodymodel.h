/*
 * bodymodel: the model names in a JSON request body, read the way
 * Ollama reads them, and the filtering of the model lists it answers.
 *
 * Ollama decodes bodies with Go's encoding/json, which matches an
 * object key to a field case-insensitively (with Unicode's simple
 * folding: "ſ" U+017F is an "s") after unescaping, and lets the last of
 * repeated keys win.  So a field we read may appear once, in any
 * spelling; a second one, exact or in another case, is an error (400),
 * never a guess.
 */
#ifndef BODYMODEL_H
#define BODYMODEL_H

#include <stddef.h>

/* The fields that may name a model, as bits. */
#define BODYMODEL_MODEL		0x01
#define BODYMODEL_NAME		0x02
#define BODYMODEL_FROM		0x04
#define BODYMODEL_SOURCE	0x08
#define BODYMODEL_DESTINATION	0x10
#define BODYMODEL_NFIELDS	5

struct bodymodel {
	void		*held;		/* the values found (json_t) */
	/* By field index (bit number): the value, or NULL when absent. */
	const char	*value[BODYMODEL_NFIELDS];
	int		 found;		/* BODYMODEL_* bits present */
};

/*
 * Parses body[0, len) and finds the fields in wanted.  0 on success
 * (some may be absent: see found), -1 with a reason for the client in
 * *why (a body that is not one JSON object, a field that is not a
 * string or appears twice).  bodymodel_clear frees it either way.
 * Exact duplicate keys in nested objects are let through (Go lets the
 * last win and none of them names a model); any other body jansson
 * would refuse is refused (see jsonscan.h).
 */
int	 bodymodel_parse(const char *body, size_t len, int wanted,
	    struct bodymodel *, const char **why);
void	 bodymodel_clear(struct bodymodel *);
/* 1 if key[0, len) is field's name (lower case) for Go's decoder. */
int	 bodymodel_fold_equal(const char *key, size_t len, const char *field);
/* The field's name ("model", ...) by bit, or NULL. */
const char *bodymodel_field_name(int bit);

/*
 * Filters a model list the upstream answered: /api/tags and /api/ps
 * ({"models":[{"name":..,"model":..},..]}) keep the entries all of
 * whose names allow() accepts, /v1/models ({"data":[{"id":..},..]}) the
 * entries whose id it accepts.  Writes compact JSON to a new *out
 * (free(3) it); -1 if the body is not such a list.
 */
int	 bodymodel_filter_list(const char *body, size_t len,
	    int (*allow)(const char *name, void *arg), void *arg,
	    char **out, size_t *outlen);

#endif
