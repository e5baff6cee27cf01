/*
 * bodymodel: jsonscan checks the body whole (bodies with model lists are
 * read whole anyway, to be forwarded byte-identical) and reports its
 * top-level members; only their keys that hold escapes and the values
 * of the fields wanted go through jansson, so a 1 MiB image in a chat
 * request is skipped, never decoded.  Exact duplicate top-level keys are
 * refused; the keys are compared with the fields by Go's folding, so
 * that "Model" and "model" are one field.  The values found are kept
 * until bodymodel_clear.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bodymodel.h"
#include "jsonscan.h"

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
 * 1 if key[0, len) folds to field (lower-case ASCII) as Go's
 * encoding/json folds names: ASCII case, and the two runes outside
 * ASCII whose simple folding reaches it, "ſ" (U+017F, an s) and the
 * Kelvin sign (U+212A, a k).
 */
int
bodymodel_fold_equal(const char *key, size_t len, const char *field)
{
	const unsigned char *k = (const unsigned char *)key;
	const unsigned char *end = k + len;
	unsigned char c;

	for (; *field != '\0'; field++) {
		if (k == end)
			return 0;
		if (end - k >= 2 && k[0] == 0xc5 && k[1] == 0xbf) {
			c = 's';
			k += 2;
		} else if (end - k >= 3 && k[0] == 0xe2 && k[1] == 0x84 &&
		    k[2] == 0xaa) {
			c = 'k';
			k += 3;
		} else if (*k >= 'A' && *k <= 'Z') {
			c = *k++ - 'A' + 'a';
		} else
			c = *k++;
		if (c != (unsigned char)*field)
			return 0;
	}
	return k == end;
}

/* What the members of one body have shown so far. */
struct parse {
	const char		*body;
	int			 wanted;
	struct bodymodel	*bm;
	json_t			*keys;	/* the top-level keys met, as a set */
	int			 invalid; /* an exact duplicate key, ENOMEM */
	const char		*why;	/* the first field refused */
};

/* The member is field i: its value, decoded, must be a string. */
static void
take_field(struct parse *p, const struct jsonscan_member *m, int i)
{
	struct bodymodel *bm = p->bm;
	json_error_t jerr;
	json_t *v;

	if (bm->found & (1 << i)) {
		p->why = "a model field appears twice";
		return;
	}
	v = json_loadb(p->body + m->val_off, m->val_len, JSON_DECODE_ANY |
	    JSON_DECODE_INT_AS_REAL, &jerr);
	if (!json_is_string(v)) {
		json_decref(v);
		p->why = "a model field is not a string";
		return;
	}
	if (json_object_set_new(bm->held, fields[i], v) == -1) {
		p->invalid = 1;
		return;
	}
	bm->found |= 1 << i;
	bm->value[i] = json_string_value(v);
}

/*
 * A top-level member: its key, unescaped by jansson when it has an
 * escape, goes into the set of keys (an exact repeat is invalid, as
 * JSON_REJECT_DUPLICATES had it) and is compared with the fields.
 */
static void
member(const struct jsonscan_member *m, void *arg)
{
	struct parse *p = arg;
	json_error_t jerr;
	json_t *k = NULL;
	const char *key;
	size_t len;
	int i;

	if (p->invalid)
		return;
	key = p->body + m->key_off + 1;
	len = m->key_len - 2;
	if (m->key_escaped) {
		k = json_loadb(p->body + m->key_off, m->key_len,
		    JSON_DECODE_ANY, &jerr);
		key = json_string_value(k);
		len = json_string_length(k);
	}
	if (key == NULL || json_object_getn(p->keys, key, len) != NULL ||
	    json_object_setn_new(p->keys, key, len, json_null()) == -1)
		p->invalid = 1;
	for (i = 0; i < BODYMODEL_NFIELDS && !p->invalid && p->why == NULL;
	    i++)
		if ((p->wanted & (1 << i)) != 0 &&
		    bodymodel_fold_equal(key, len, fields[i]))
			take_field(p, m, i);
	json_decref(k);
}

int
bodymodel_parse(const char *body, size_t len, int wanted,
    struct bodymodel *bm, const char **why)
{
	struct parse p;
	int rc;

	memset(bm, 0, sizeof(*bm));
	memset(&p, 0, sizeof(p));
	p.body = body;
	p.wanted = wanted;
	p.bm = bm;
	bm->held = json_object();
	p.keys = json_object();
	if (bm->held == NULL || p.keys == NULL)
		rc = JSONSCAN_INVALID;
	else
		rc = jsonscan_object(body, len, member, &p);
	json_decref(p.keys);
	if (rc == JSONSCAN_NOTOBJECT)
		*why = "request body is not a JSON object";
	else if (rc != 0 || p.invalid)
		*why = "request body is not valid JSON";
	else if (p.why != NULL)
		*why = p.why;
	else
		return 0;
	return -1;
}

void
bodymodel_clear(struct bodymodel *bm)
{
	json_decref(bm->held);
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
