/*
 * fuzz_bodymodel: request bodies through bodymodel_parse, and model
 * lists through bodymodel_filter_list.
 *
 * What is promised: a body accepted is one JSON object for jansson;
 * every field reported found has a string value, and the top-level key
 * it came from folds to the field's name; a field never comes from two
 * keys.  A filtered list is JSON again, never longer than it was in
 * entries, and filtering it once more with the same predicate changes
 * nothing.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* The first byte past ASCII in s (the folds beyond case), or NULL. */
static const char *
ascii_end(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return s;
	return NULL;
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bodymodel bm;
	const char *why = NULL, *key;
	json_t *v;
	int i, bit;

	if (bodymodel_parse((const char *)data, size, ALL, &bm, &why) == 0) {
		FUZZ_CHECK(json_is_object((json_t *)bm.root));
		for (i = 0; i < BODYMODEL_NFIELDS; i++) {
			bit = 1 << i;
			FUZZ_CHECK(((bm.found & bit) != 0) ==
			    (bm.value[i] != NULL));
			if (bm.value[i] == NULL)
				continue;
			/* The value is that of a key spelt like the field. */
			json_object_foreach((json_t *)bm.root, key, v)
				if (json_string_value(v) == bm.value[i])
					break;
			FUZZ_CHECK(key != NULL);
			FUZZ_CHECK(strcasecmp(key, bodymodel_field_name(bit))
			    == 0 || ascii_end(key) != NULL);
		}
	} else
		FUZZ_CHECK(why != NULL);
	bodymodel_clear(&bm);
	FUZZ_CHECK(bm.root == NULL);
	check_filter(data, size);
	return 0;
}
