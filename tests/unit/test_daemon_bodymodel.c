/*
 * test_daemon_bodymodel: the model a body names, as Ollama's Go decoder
 * will see it (any case, after unescaping, a repeat refused), and the
 * filtered model lists.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bodymodel.h"

#define ALL	(BODYMODEL_MODEL | BODYMODEL_NAME | BODYMODEL_FROM | \
		    BODYMODEL_SOURCE | BODYMODEL_DESTINATION)

static struct bodymodel	 bm;

static void
parse_ok(const char *body, int wanted)
{
	const char *why = NULL;

	if (bodymodel_parse(body, strlen(body), wanted, &bm, &why) != 0)
		fail_msg("%s: %s", body, why);
}

static void
parse_bad(const char *body, int wanted, const char *reason)
{
	const char *why = NULL;

	if (bodymodel_parse(body, strlen(body), wanted, &bm, &why) != -1)
		fail_msg("%s: accepted", body);
	assert_non_null(why);
	if (strstr(why, reason) == NULL)
		fail_msg("%s: \"%s\" does not say \"%s\"", body, why, reason);
	bodymodel_clear(&bm);
}

static void
test_fields(void **state)
{
	parse_ok("{\"model\":\"llama3\",\"messages\":[]}", ALL);
	assert_int_equal(bm.found, BODYMODEL_MODEL);
	assert_string_equal(bm.value[0], "llama3");
	assert_null(bm.value[1]);
	bodymodel_clear(&bm);
	assert_null(bm.held);

	/* A lone "MODEL" is the model, and escapes are undone first. */
	parse_ok("{\"MODEL\":\"a\"}", ALL);
	assert_string_equal(bm.value[0], "a");
	bodymodel_clear(&bm);
	parse_ok("{\"\\u006dodel\":\"b\"}", ALL);
	assert_string_equal(bm.value[0], "b");
	bodymodel_clear(&bm);
	/* Go folds "ſ" (U+017F) to s: "ſource" is source. */
	parse_ok("{\"\\u017fource\":\"x\",\"de\xc5\xbftination\":\"y\"}", ALL);
	assert_int_equal(bm.found, BODYMODEL_SOURCE | BODYMODEL_DESTINATION);
	assert_string_equal(bm.value[3], "x");
	assert_string_equal(bm.value[4], "y");
	bodymodel_clear(&bm);

	/* Copy names both; create may name three. */
	parse_ok("{\"source\":\"a\",\"destination\":\"b\"}", ALL);
	assert_int_equal(bm.found, BODYMODEL_SOURCE | BODYMODEL_DESTINATION);
	bodymodel_clear(&bm);
	parse_ok("{\"model\":\"m\",\"Name\":\"n\",\"FROM\":\"f\"}", ALL);
	assert_int_equal(bm.found, BODYMODEL_MODEL | BODYMODEL_NAME |
	    BODYMODEL_FROM);
	assert_string_equal(bm.value[2], "f");
	bodymodel_clear(&bm);

	/* Fields not wanted are not looked at, repeated or not. */
	parse_ok("{\"model\":\"m\",\"name\":1,\"Name\":2}", BODYMODEL_MODEL);
	assert_int_equal(bm.found, BODYMODEL_MODEL);
	bodymodel_clear(&bm);
	/* Near misses are not fields. */
	parse_ok("{\"model \":\"x\",\"models\":\"y\",\"mode\":\"z\"}", ALL);
	assert_int_equal(bm.found, 0);
	bodymodel_clear(&bm);
	/* Big integers Go reads are no error. */
	parse_ok("{\"model\":\"m\",\"seed\":123456789012345678901234567890}",
	    ALL);
	bodymodel_clear(&bm);
	/* Nested "model" keys are not fields, repeated or not. */
	parse_ok("{\"options\":{\"model\":1,\"model\":2,\"MODEL\":3},"
	    "\"messages\":[{\"model\":\"x\"}],\"model\":\"m\"}", ALL);
	assert_int_equal(bm.found, BODYMODEL_MODEL);
	assert_string_equal(bm.value[0], "m");
	bodymodel_clear(&bm);
	/* The value is unescaped. */
	parse_ok("{\"model\":\"a\\/b\\u00e9\"}", ALL);
	assert_string_equal(bm.value[0], "a/b\xc3\xa9");
	bodymodel_clear(&bm);
	assert_string_equal(bodymodel_field_name(BODYMODEL_DESTINATION),
	    "destination");
	assert_null(bodymodel_field_name(3));
}

static void
test_refused(void **state)
{
	/* Go would run the last: we run none. */
	parse_bad("{\"model\":\"allowed\",\"Model\":\"denied\"}", ALL, "twice");
	parse_bad("{\"model\":\"allowed\",\"model\":\"denied\"}", ALL,
	    "not valid JSON");
	parse_bad("{\"model\":\"a\",\"\\u004dODEL\":\"b\"}", ALL, "twice");
	parse_bad("{\"source\":\"a\",\"\\u017fOURCE\":\"b\"}", ALL, "twice");
	parse_bad("{\"model\":1}", ALL, "not a string");
	parse_bad("{\"model\":null}", ALL, "not a string");
	parse_bad("{\"model\":[\"a\"]}", ALL, "not a string");
	parse_bad("[{\"model\":\"a\"}]", ALL, "not a JSON object");
	parse_bad("\"model\"", ALL, "not valid JSON");
	parse_bad("", ALL, "not valid JSON");
	parse_bad("{\"model\":\"a\"", ALL, "not valid JSON");
	parse_bad("{\"model\":\"a\"} {\"model\":\"b\"}", ALL, "not valid JSON");
	parse_bad("{\"model\":\"a\\u0000b\"}", ALL, "not valid JSON");
	parse_bad("{\"model\":\"\xff\"}", ALL, "not valid JSON");
	/* Any exact repeat at the top, a field or not, and in escapes. */
	parse_bad("{\"a\":1,\"model\":\"m\",\"a\":2}", ALL, "not valid JSON");
	parse_bad("{\"a\":1,\"\\u0061\":2}", ALL, "not valid JSON");
	parse_bad("{\"model\":1,\"x\":1,\"x\":1}", ALL, "not valid JSON");
	parse_bad("{\"model\":\"m\",\"o\":[1,}", ALL, "not valid JSON");
	parse_bad("{\"model\":\"m\",\"n\":1e400}", ALL, "not valid JSON");
}

static int
allow_llama(const char *name, void *arg)
{
	(*(int *)arg)++;
	return strncmp(name, "llama", 5) == 0;
}

static void
filter_is(const char *in, const char *want)
{
	char *out;
	size_t outlen;
	int calls = 0;

	assert_int_equal(bodymodel_filter_list(in, strlen(in), allow_llama,
	    &calls, &out, &outlen), 0);
	assert_string_equal(out, want);
	assert_int_equal(outlen, strlen(want));
	free(out);
}

static void
test_filter(void **state)
{
	char *out = (char *)1;
	size_t outlen = 1;
	int calls = 0;

	filter_is("{\"models\":[{\"name\":\"llama3:latest\",\"model\":"
	    "\"llama3:latest\",\"size\":4661224676},{\"name\":\"qwen2\","
	    "\"model\":\"qwen2\"},{\"name\":\"llama3:8b\",\"model\":\"evil\"},"
	    "{\"size\":1},\"llama\"]}",
	    "{\"models\":[{\"name\":\"llama3:latest\",\"model\":"
	    "\"llama3:latest\",\"size\":4661224676}]}");
	filter_is("{\"models\":[]}", "{\"models\":[]}");
	filter_is("{\"object\":\"list\",\"data\":[{\"id\":\"qwen2\","
	    "\"object\":\"model\"},{\"id\":\"llama3.1\","
	    "\"object\":\"model\"}]}",
	    "{\"object\":\"list\",\"data\":[{\"id\":\"llama3.1\","
	    "\"object\":\"model\"}]}");
	assert_int_equal(bodymodel_filter_list("{\"x\":1}", 7, allow_llama,
	    &calls, &out, &outlen), -1);
	assert_null(out);
	assert_int_equal(outlen, 0);
	assert_int_equal(bodymodel_filter_list("[1]", 3, allow_llama,
	    &calls, &out, &outlen), -1);
	assert_int_equal(bodymodel_filter_list("{\"models\":", 10,
	    allow_llama, &calls, &out, &outlen), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_filter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
