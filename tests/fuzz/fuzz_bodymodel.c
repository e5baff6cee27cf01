/*
 * fuzz_bodymodel: request bodies through bodymodel_parse, and model
 * lists through bodymodel_filter_list.
 *
 * What is promised: bodymodel_parse, which scans the body with jsonscan
 * and decodes only pieces, answers as the old code did, jansson parsing
 * the whole body (ref_parse, kept here as the reference): the same
 * verdict, reason and model values, but that exact duplicate keys in
 * nested objects are now let through.  A filtered list is JSON again, never longer than it was in
 * entries, and filtering it once more with the same predicate changes
 * nothing.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bodymodel.h"

#include "fuzz.h"

#define ALL	(BODYMODEL_MODEL | BODYMODEL_NAME | BODYMODEL_FROM | \
		    BODYMODEL_SOURCE | BODYMODEL_DESTINATION)

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}

/* What the reference made of a body. */
struct ref {
	int		 rc;
	const char	*why;
	int		 found;
	char		*value[BODYMODEL_NFIELDS];
};

static size_t
skip_ws(const char *b, size_t len, size_t pos)
{
	while (pos < len && strchr(" \t\n\r", b[pos]) != NULL &&
	    b[pos] != '\0')
		pos++;
	return pos;
}

/*
 * 1 if a top-level key of b, a valid JSON object, appears twice: jansson
 * loads each key and value on its own, JSON_DISABLE_EOF_CHECK telling
 * how many bytes it read.
 */
static int
ref_topdup(const char *b, size_t len)
{
	json_error_t e;
	json_t *keys, *k, *v;
	size_t pos;
	int dup = 0;

	keys = json_object();
	pos = skip_ws(b, len, skip_ws(b, len, 0) + 1);
	while (pos < len && b[pos] != '}') {
		k = json_loadb(b + pos, len - pos, JSON_DECODE_ANY |
		    JSON_DISABLE_EOF_CHECK, &e);
		FUZZ_CHECK(json_is_string(k));
		pos = skip_ws(b, len, pos + e.position);
		if (json_object_getn(keys, json_string_value(k),
		    json_string_length(k)) != NULL)
			dup = 1;
		json_object_setn_new(keys, json_string_value(k),
		    json_string_length(k), json_null());
		json_decref(k);
		FUZZ_CHECK(pos < len && b[pos] == ':');
		pos = skip_ws(b, len, pos + 1);
		v = json_loadb(b + pos, len - pos, JSON_DECODE_ANY |
		    JSON_DISABLE_EOF_CHECK | JSON_DECODE_INT_AS_REAL, &e);
		FUZZ_CHECK(v != NULL);
		json_decref(v);
		pos = skip_ws(b, len, pos + e.position);
		if (pos < len && b[pos] == ',')
			pos = skip_ws(b, len, pos + 1);
	}
	json_decref(keys);
	return dup;
}

/*
 * The reference: bodymodel_parse as it was, jansson parsing the whole
 * body, with flags; without JSON_REJECT_DUPLICATES, the top-level keys
 * are checked for repeats by ref_topdup.
 */
static void
ref_parse(const char *b, size_t len, size_t flags, struct ref *r,
    json_error_t *jerrp)
{
	json_error_t jerr;
	json_t *root, *v;
	const char *key;
	int i;

	memset(r, 0, sizeof(*r));
	r->rc = -1;
	root = json_loadb(b, len, flags | JSON_DECODE_INT_AS_REAL, &jerr);
	if (jerrp != NULL)
		*jerrp = jerr;
	if (root == NULL || (!(flags & JSON_REJECT_DUPLICATES) &&
	    json_is_object(root) && ref_topdup(b, len))) {
		r->why = "request body is not valid JSON";
		goto done;
	}
	if (!json_is_object(root)) {
		r->why = "request body is not a JSON object";
		goto done;
	}
	json_object_foreach(root, key, v) {
		for (i = 0; i < BODYMODEL_NFIELDS; i++) {
			if (!bodymodel_fold_equal(key, strlen(key),
			    bodymodel_field_name(1 << i)))
				continue;
			if (r->found & (1 << i)) {
				r->why = "a model field appears twice";
				goto done;
			}
			if (!json_is_string(v)) {
				r->why = "a model field is not a string";
				goto done;
			}
			r->found |= 1 << i;
			r->value[i] = strdup(json_string_value(v));
		}
	}
	r->rc = 0;
done:
	json_decref(root);
}

static void
ref_clear(struct ref *r)
{
	int i;

	for (i = 0; i < BODYMODEL_NFIELDS; i++)
		free(r->value[i]);
}

/* Keeps names whose length is even: some of each list goes. */
static int
even(const char *name, void *arg)
{
	return strlen(name) % 2 == 0;
}

static size_t
entries(const char *s, size_t len)
{
	json_error_t jerr;
	json_t *root, *a;
	size_t n = 0;

	root = json_loadb(s, len, 0, &jerr);
	FUZZ_CHECK(root != NULL);
	if (json_is_array(a = json_object_get(root, "models")))
		n += json_array_size(a);
	if (json_is_array(a = json_object_get(root, "data")))
		n += json_array_size(a);
	json_decref(root);
	return n;
}

static void
check_filter(const uint8_t *data, size_t size)
{
	char *out, *again;
	size_t outlen, againlen;
	json_error_t jerr;
	json_t *root;
	size_t before;

	if (bodymodel_filter_list((const char *)data, size, even, NULL, &out,
	    &outlen) == -1) {
		FUZZ_CHECK(out == NULL);
		return;
	}
	root = json_loadb((const char *)data, size, 0, &jerr);
	FUZZ_CHECK(root != NULL);
	json_decref(root);
	before = entries((const char *)data, size);
	FUZZ_CHECK(entries(out, outlen) <= before);
	FUZZ_CHECK(bodymodel_filter_list(out, outlen, even, NULL, &again,
	    &againlen) == 0);
	FUZZ_CHECK(againlen == outlen && memcmp(again, out, outlen) == 0);
	free(again);
	free(out);
}

/*
 * bodymodel_parse against the reference.  jansson reads a NUL byte
 * right after a number as nothing ({"a":1<NUL>} is an object to it),
 * where RFC 8259 and Go refuse it: a body holding a NUL byte must be
 * refused, and the reference is not asked.
 */
static void
check_parse(const char *b, size_t size)
{
	struct ref strict, loose;
	struct bodymodel bm;
	json_error_t jerr;
	const char *why = NULL;
	int rc, i;

	rc = bodymodel_parse(b, size, ALL, &bm, &why);
	if (memchr(b, '\0', size) != NULL) {
		FUZZ_CHECK(rc == -1 && why != NULL);
		bodymodel_clear(&bm);
		return;
	}
	/* The old code, and what it is meant to be now. */
	ref_parse(b, size, JSON_REJECT_DUPLICATES, &strict, &jerr);
	ref_parse(b, size, 0, &loose, NULL);
	if (strict.rc == 0)
		FUZZ_CHECK(loose.rc == 0 && loose.found == strict.found);
	else if (loose.rc == 0)
		FUZZ_CHECK(strstr(jerr.text, "duplicate object key") != NULL);

	FUZZ_CHECK(rc == loose.rc);
	if (rc == 0) {
		FUZZ_CHECK(bm.found == loose.found);
		for (i = 0; i < BODYMODEL_NFIELDS; i++) {
			FUZZ_CHECK(((bm.found & (1 << i)) != 0) ==
			    (bm.value[i] != NULL));
			FUZZ_CHECK((bm.value[i] == NULL) ==
			    (loose.value[i] == NULL));
			if (bm.value[i] != NULL)
				FUZZ_CHECK(strcmp(bm.value[i],
				    loose.value[i]) == 0);
		}
	} else
		FUZZ_CHECK(why != NULL && strcmp(why, loose.why) == 0);
	bodymodel_clear(&bm);
	FUZZ_CHECK(bm.held == NULL);
	ref_clear(&strict);
	ref_clear(&loose);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_parse((const char *)data, size);
	check_filter(data, size);
	return 0;
}
