/*
 * bodymodel: jansson parses the body whole (bodies with model lists are
 * read whole anyway, to be forwarded byte-identical), with exact
 * duplicate keys refused; the top-level keys are then compared with the
 * fields by Go's folding, so that "Model" and "model" are one field.
 * The parsed tree is kept until bodymodel_clear, so the values found
 * need no copies.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bodymodel.h"

static const char *const fields[BODYMODEL_NFIELDS] = {
	"model", "name", "from", "source", "destination"
};

const char *
bodymodel_field_name(int bit)
{
	int i;

	for (i = 0; i < BODYMODEL_NFIELDS; i++)
		if (bit == 1 << i)
			return fields[i];
	return NULL;
}

/*
 * 1 if key folds to field (lower-case ASCII) as Go's encoding/json
 * folds names: ASCII case, and the two runes outside ASCII whose
 * simple folding reaches it, "ſ" (U+017F, an s) and the Kelvin sign
 * (U+212A, a k).
 */
static int
fold_equal(const char *key, const char *field)
{
	const unsigned char *k = (const unsigned char *)key;
	unsigned char c;

	for (; *field != '\0'; field++) {
		if (k[0] == 0xc5 && k[1] == 0xbf) {
			c = 's';
			k += 2;
		} else if (k[0] == 0xe2 && k[1] == 0x84 && k[2] == 0xaa) {
			c = 'k';
			k += 3;
		} else if (*k >= 'A' && *k <= 'Z') {
			c = *k++ - 'A' + 'a';
		} else
			c = *k++;
		if (c != (unsigned char)*field)
			return 0;
	}
	return *k == '\0';
}

int
bodymodel_parse(const char *body, size_t len, int wanted,
    struct bodymodel *bm, const char **why)
{
	json_error_t jerr;
	json_t *root, *v;
	const char *key;
	int i;

	memset(bm, 0, sizeof(*bm));
	/* Numbers as reals: a big integer Go reads is no error here. */
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES |
	    JSON_DECODE_INT_AS_REAL, &jerr);
	if (root == NULL) {
		*why = "request body is not valid JSON";
		return -1;
	}
	bm->root = root;
	if (!json_is_object(root)) {
		*why = "request body is not a JSON object";
		return -1;
	}
	json_object_foreach(root, key, v) {
		for (i = 0; i < BODYMODEL_NFIELDS; i++) {
			if ((wanted & (1 << i)) == 0 ||
			    !fold_equal(key, fields[i]))
				continue;
			if (bm->found & (1 << i)) {
				*why = "a model field appears twice";
				return -1;
			}
			if (!json_is_string(v)) {
				*why = "a model field is not a string";
				return -1;
			}
			bm->found |= 1 << i;
			bm->value[i] = json_string_value(v);
		}
	}
	return 0;
}

void
bodymodel_clear(struct bodymodel *bm)
{
	json_decref(bm->root);
	memset(bm, 0, sizeof(*bm));
}

/* 1 if the entry's name fields (at least one) are all allowed. */
static int
entry_allowed(json_t *e, const char *const *names, int (*allow)(const char *,
    void *), void *arg)
{
	json_t *v;
	int seen = 0;

	if (!json_is_object(e))
		return 0;
	for (; *names != NULL; names++) {
		if ((v = json_object_get(e, *names)) == NULL)
			continue;
		if (!json_is_string(v) || !allow(json_string_value(v), arg))
			return 0;
		seen = 1;
	}
	return seen;
}

/* Removes the entries of array a that are not allowed. */
static void
filter_array(json_t *a, const char *const *names,
    int (*allow)(const char *, void *), void *arg)
{
	size_t i = 0;

	while (i < json_array_size(a)) {
		if (entry_allowed(json_array_get(a, i), names, allow, arg))
			i++;
		else
			json_array_remove(a, i);
	}
}

int
bodymodel_filter_list(const char *body, size_t len,
    int (*allow)(const char *, void *), void *arg, char **out,
    size_t *outlen)
{
	static const char *const ollama[] = { "name", "model", NULL };
	static const char *const openai[] = { "id", NULL };
	json_error_t jerr;
	json_t *root, *a;
	int lists = 0;

	*out = NULL;
	*outlen = 0;
	if ((root = json_loadb(body, len, 0, &jerr)) == NULL)
		return -1;
	if (json_is_object(root)) {
		if (json_is_array(a = json_object_get(root, "models"))) {
			filter_array(a, ollama, allow, arg);
			lists++;
		}
		if (json_is_array(a = json_object_get(root, "data"))) {
			filter_array(a, openai, allow, arg);
			lists++;
		}
	}
	if (lists > 0)
		*out = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (*out == NULL)
		return -1;
	*outlen = strlen(*out);
	return 0;
}
