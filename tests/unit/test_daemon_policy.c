/*
 * test_daemon_policy: every endpoint of the class table, the paths it
 * does not name (manage), and the class lists of keys.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "policy.h"

static struct policy_endpoint	 ep;

static int
cls(const char *method, const char *target)
{
	policy_classify(method, target, strlen(target), &ep);
	return ep.cls;
}

static void
test_read(void **state)
{
	const char *paths[] = { "/", "/api/version", "/api/tags", "/api/ps",
	    "/v1/models", "/v1/models/llama3:latest", NULL };
	int i;

	for (i = 0; paths[i] != NULL; i++) {
		assert_int_equal(cls("GET", paths[i]), POLICY_READ);
		assert_true(ep.listed);
		assert_int_equal(ep.fields, 0);
		assert_int_equal(cls("HEAD", paths[i]), POLICY_READ);
		assert_int_equal(cls("POST", paths[i]), POLICY_MANAGE);
		assert_false(ep.listed);
	}
	assert_int_equal(cls("GET", "/api/tags?x=1"), POLICY_READ);
	assert_true(ep.filter);
	assert_int_equal(cls("GET", "/v1/models"), POLICY_READ);
	assert_true(ep.filter);
	assert_int_equal(cls("GET", "/v1/models/m"), POLICY_READ);
	assert_true(ep.path_model);
	assert_false(ep.filter);
	assert_int_equal(cls("POST", "/api/show"), POLICY_READ);
	assert_int_equal(ep.fields, BODYMODEL_MODEL | BODYMODEL_NAME);
	assert_int_equal(cls("GET", "/api/show"), POLICY_MANAGE);
}

static void
test_infer(void **state)
{
	const char *paths[] = { "/api/generate", "/api/chat", "/api/embed",
	    "/api/embeddings", "/v1/chat/completions", "/v1/completions",
	    "/v1/embeddings", "/v1/responses", "/v1/messages", NULL };
	int i;

	for (i = 0; paths[i] != NULL; i++) {
		assert_int_equal(cls("POST", paths[i]), POLICY_INFER);
		assert_int_equal(ep.fields, BODYMODEL_MODEL);
		assert_true(ep.listed);
		assert_int_equal(cls("GET", paths[i]), POLICY_MANAGE);
		assert_false(ep.listed);
	}
}

static void
test_manage(void **state)
{
	assert_int_equal(cls("POST", "/api/pull"), POLICY_MANAGE);
	assert_int_equal(ep.fields, BODYMODEL_MODEL | BODYMODEL_NAME);
	assert_true(ep.listed);
	assert_int_equal(cls("POST", "/api/push"), POLICY_MANAGE);
	assert_int_equal(cls("POST", "/api/create"), POLICY_MANAGE);
	assert_int_equal(ep.fields, BODYMODEL_MODEL | BODYMODEL_NAME |
	    BODYMODEL_FROM);
	assert_int_equal(cls("POST", "/api/copy"), POLICY_MANAGE);
	assert_int_equal(ep.fields, BODYMODEL_SOURCE | BODYMODEL_DESTINATION);
	assert_int_equal(cls("DELETE", "/api/delete"), POLICY_MANAGE);
	assert_int_equal(ep.fields, BODYMODEL_MODEL | BODYMODEL_NAME);
	assert_int_equal(cls("POST", "/api/blobs/sha256:abc"), POLICY_MANAGE);
	assert_true(ep.stream);
	assert_true(ep.listed);
	assert_int_equal(cls("HEAD", "/api/blobs/sha256:abc"), POLICY_MANAGE);
	assert_true(ep.listed);

	/* Not in the table: manage, with no model to be found. */
	assert_int_equal(cls("POST", "/api/new-endpoint"), POLICY_MANAGE);
	assert_false(ep.listed);
	assert_false(policy_models_known(&ep));
	assert_int_equal(cls("OPTIONS", "/api/chat"), POLICY_MANAGE);
	assert_int_equal(cls("PUT", "/api/tags"), POLICY_MANAGE);
	assert_int_equal(cls("get", "/api/tags"), POLICY_MANAGE);
	assert_int_equal(cls("GET", "/API/TAGS"), POLICY_MANAGE);
	assert_int_equal(cls("GET", "/api/tags/"), POLICY_MANAGE);
	assert_int_equal(cls("GET", "//api/tags"), POLICY_MANAGE);
	assert_int_equal(cls("POST", "/api/blobs/"), POLICY_MANAGE);
	assert_false(ep.listed);
	assert_int_equal(cls("GET", "/v1/models/"), POLICY_MANAGE);
	assert_int_equal(cls("GET", "/v1/models/a/b"), POLICY_MANAGE);
	assert_false(ep.listed);
	assert_int_equal(cls("GET", ""), POLICY_MANAGE);
}

static void
test_decoding(void **state)
{
	char m[64];
	const char *t = "/v1/models/llama3%3Alatest?x";

	/* gin routes the decoded path: so does the table. */
	assert_int_equal(cls("POST", "/api/%63hat"), POLICY_INFER);
	assert_int_equal(ep.fields, BODYMODEL_MODEL);
	assert_int_equal(cls("GET", "/api%2Ftags"), POLICY_READ);
	assert_int_equal(cls("POST", "/api/chat%"), POLICY_MANAGE);
	assert_int_equal(cls("POST", "/api/chat%2"), POLICY_MANAGE);
	assert_int_equal(cls("POST", "/api/chat%zz"), POLICY_MANAGE);
	assert_int_equal(cls("POST", "/api/chat%00"), POLICY_MANAGE);
	assert_false(ep.listed);

	assert_int_equal(policy_path_model(t, strlen(t), m, sizeof(m)), 0);
	assert_string_equal(m, "llama3:latest");
	assert_int_equal(policy_path_model("/v1/models/", 11, m, sizeof(m)),
	    -1);
	assert_string_equal(m, "");
	assert_int_equal(policy_path_model(t, strlen(t), m, 4), -1);
}

static void
test_allow(void **state)
{
	char err[128], buf[POLICY_ALLOW_MAX];
	int mask;

	assert_int_equal(policy_allow_parse("infer,read", &mask, err,
	    sizeof(err)), 0);
	assert_int_equal(mask, POLICY_INFER | POLICY_READ);
	assert_int_equal(policy_allow_parse(" manage , read ", &mask, err,
	    sizeof(err)), 0);
	assert_int_equal(mask, POLICY_MANAGE | POLICY_READ);
	assert_int_equal(policy_allow_parse("", &mask, err, sizeof(err)), 0);
	assert_int_equal(mask, 0);
	assert_int_equal(policy_allow_parse("read,write", &mask, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "\"write\""));
	assert_int_equal(mask, 0);
	assert_int_equal(policy_allow_parse("read,,infer", &mask, err,
	    sizeof(err)), -1);
	assert_int_equal(policy_allow_parse("READ", &mask, err,
	    sizeof(err)), -1);

	policy_allow_format(POLICY_ALL, buf, sizeof(buf));
	assert_string_equal(buf, "read,infer,manage");
	policy_allow_format(POLICY_DEFAULT_ALLOW, buf, sizeof(buf));
	assert_string_equal(buf, "read,infer");
	policy_allow_format(0, buf, sizeof(buf));
	assert_string_equal(buf, "");
	assert_string_equal(policy_class_name(POLICY_MANAGE), "manage");
	assert_string_equal(policy_class_name(3), "?");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read),
		cmocka_unit_test(test_infer),
		cmocka_unit_test(test_manage),
		cmocka_unit_test(test_decoding),
		cmocka_unit_test(test_allow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
