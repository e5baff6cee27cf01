/*
 * test_daemon_listmerge: the union of /api/tags and /v1/models lists,
 * deduplicated by name, the concatenation of /api/ps, a key's filter,
 * and bodies that are not what a box should send.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "listmerge.h"

#define B(s)	{ s, sizeof(s) - 1 }

static const struct listmerge_body tags[] = {
	B("{\"models\":[{\"name\":\"llama3:8b\",\"size\":1},"
	    "{\"name\":\"phi3:mini\",\"size\":2}]}"),
	B("{\"models\":[{\"name\":\"phi3:mini\",\"size\":99},"
	    "{\"name\":\"qwen:7b\",\"size\":3}]}"),
	B("not json"),
	B("{\"models\":{\"name\":\"not-an-array\"}}"),
	B("{\"models\":[7,{\"size\":1},{\"name\":\"mistral\"}]}"),
};

static void
check(char *got, const char *want)
{
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static int
no_phi(const char *name, void *arg)
{
	(*(int *)arg)++;
	return strncmp(name, "phi3", 4) != 0;
}

static void
test_tags(void **state)
{
	int calls = 0;

	check(listmerge_tags(tags, 5, NULL, NULL), "{\"models\":["
	    "{\"name\":\"llama3:8b\",\"size\":1},"
	    "{\"name\":\"phi3:mini\",\"size\":2},"
	    "{\"name\":\"qwen:7b\",\"size\":3},{\"name\":\"mistral\"}]}");
	check(listmerge_tags(tags, 2, no_phi, &calls), "{\"models\":["
	    "{\"name\":\"llama3:8b\",\"size\":1},"
	    "{\"name\":\"qwen:7b\",\"size\":3}]}");
	assert_int_equal(calls, 4);
	check(listmerge_tags(tags, 0, NULL, NULL), "{\"models\":[]}");
	check(listmerge_tags(tags + 2, 2, NULL, NULL), "{\"models\":[]}");
}

static void
test_openai_models(void **state)
{
	const struct listmerge_body m[] = {
		B("{\"object\":\"list\",\"data\":[{\"id\":\"a\",\"object\":"
		    "\"model\",\"owned_by\":\"library\"}]}"),
		B("{\"object\":\"list\",\"data\":[{\"id\":\"b\"},{\"id\":"
		    "\"a\",\"owned_by\":\"other\"}]}"),
	};

	check(listmerge_models(m, 2, NULL, NULL), "{\"object\":\"list\","
	    "\"data\":[{\"id\":\"a\",\"object\":\"model\",\"owned_by\":"
	    "\"library\"},{\"id\":\"b\"}]}");
}

static void
test_ps(void **state)
{
	const struct listmerge_body ps[] = {
		B("{\"models\":[{\"name\":\"llama3:8b\",\"expires_at\":"
		    "\"2026-12-07T19:00:00Z\"}]}"),
		B("{\"models\":[]}"),
		B("{\"models\":[{\"name\":\"llama3:8b\",\"size_vram\":5}]}"),
	};
	int calls = 0;

	check(listmerge_ps(ps, 3, NULL, NULL), "{\"models\":["
	    "{\"name\":\"llama3:8b\",\"expires_at\":\"2026-12-07T19:00:00Z\"},"
	    "{\"name\":\"llama3:8b\",\"size_vram\":5}]}");
	check(listmerge_ps(tags, 2, no_phi, &calls), "{\"models\":["
	    "{\"name\":\"llama3:8b\",\"size\":1},"
	    "{\"name\":\"qwen:7b\",\"size\":3}]}");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_openai_models),
		cmocka_unit_test(test_ps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
