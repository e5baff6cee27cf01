/*
 * test_modelname: names in their normal form, globs, and the model
 * lists of keys: what they allow and what they must never allow.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "modelname.h"

static void
norm_is(const char *in, const char *want)
{
	char out[MODELNAME_MAX];

	if (modelname_normalize(in, out, sizeof(out)) != 0)
		fail_msg("\"%s\" refused", in);
	assert_string_equal(out, want);
}

static void
test_normalize(void **state)
{
	char out[MODELNAME_MAX], small[8];

	norm_is("llama3", "llama3:latest");
	norm_is("llama3:latest", "llama3:latest");
	norm_is("llama3:8b", "llama3:8b");
	norm_is("library/llama3", "llama3:latest");
	norm_is("registry.ollama.ai/library/llama3:latest", "llama3:latest");
	norm_is("REGISTRY.Ollama.AI/Library/Llama3", "Llama3:latest");
	norm_is("registry.ollama.ai/jmorgan/m", "jmorgan/m:latest");
	norm_is("jmorgan/m:q4", "jmorgan/m:q4");
	/* Another registry keeps its name, and its port is not a tag. */
	norm_is("evil.example:5000/x/llama3",
	    "evil.example:5000/x/llama3:latest");
	norm_is("evil.example:5000/x/llama3:8b",
	    "evil.example:5000/x/llama3:8b");
	/* A digest is not a tag. */
	norm_is("llama3@sha256:ab", "llama3:latest@sha256:ab");
	norm_is("llama3:8b@sha256:ab", "llama3:8b@sha256:ab");
	/* "library/" with more parts after it is not the library. */
	norm_is("library/a/b", "library/a/b:latest");

	assert_int_equal(modelname_normalize("", out, sizeof(out)), -1);
	assert_int_equal(modelname_normalize("a b", out, sizeof(out)), -1);
	assert_int_equal(modelname_normalize("a,b", out, sizeof(out)), -1);
	assert_int_equal(modelname_normalize("a\nb", out, sizeof(out)), -1);
	assert_int_equal(modelname_normalize("registry.ollama.ai/", out,
	    sizeof(out)), -1);
	assert_int_equal(modelname_normalize("llama3", small, sizeof(small)),
	    -1);
	assert_string_equal(small, "");
}

static void
test_glob_normalize(void **state)
{
	char out[MODELNAME_MAX];

	assert_int_equal(modelname_glob_normalize("llama3", out, sizeof(out)),
	    0);
	assert_string_equal(out, "llama3:latest");
	assert_int_equal(modelname_glob_normalize("llama3*", out,
	    sizeof(out)), 0);
	assert_string_equal(out, "llama3*");
	assert_int_equal(modelname_glob_normalize(
	    "registry.ollama.ai/library/qwen?", out, sizeof(out)), 0);
	assert_string_equal(out, "qwen?");
}

static void
test_match(void **state)
{
	/* A glob without wildcards allows that name's latest tag only. */
	assert_true(modelname_glob_match("llama3:latest", "llama3"));
	assert_true(modelname_glob_match("llama3:latest",
	    "registry.ollama.ai/library/llama3:latest"));
	assert_true(modelname_glob_match("llama3:latest", "LLAMA3"));
	assert_false(modelname_glob_match("llama3:latest", "llama3:8b"));
	assert_false(modelname_glob_match("llama3:latest", "llama3.1"));

	/* "llama3*": every tag of every llama3 family model. */
	assert_true(modelname_glob_match("llama3*", "llama3"));
	assert_true(modelname_glob_match("llama3*", "llama3:70b"));
	assert_true(modelname_glob_match("llama3*", "Llama3.1:8b"));
	assert_false(modelname_glob_match("llama3*", "qwen2"));
	/* ... and never one from another registry or namespace. */
	assert_false(modelname_glob_match("llama3*",
	    "evil.example:5000/x/llama3"));
	assert_false(modelname_glob_match("llama3*",
	    "llama3.evil.example/x/y"));
	assert_false(modelname_glob_match("llama3*", "llama3/evil"));
	assert_false(modelname_glob_match("*", "evil.example/x/y"));
	assert_true(modelname_glob_match("*", "anything:tag"));
	assert_true(modelname_glob_match("jmorgan/*", "jmorgan/m:q4"));
	/* A name that is not one never matches. */
	assert_false(modelname_glob_match("*", ""));
	assert_false(modelname_glob_match("*", "a b"));
}

static void
list_ok(const char *in, const char *want)
{
	char out[MODELNAME_LIST_MAX], err[256] = "";

	if (modelname_list_parse(in, out, sizeof(out), err, sizeof(err)) != 0)
		fail_msg("\"%s\": %s", in, err);
	assert_string_equal(out, want);
}

static void
list_bad(const char *in, const char *reason)
{
	char out[MODELNAME_LIST_MAX], err[256] = "";

	if (modelname_list_parse(in, out, sizeof(out), err, sizeof(err)) != -1)
		fail_msg("\"%s\" accepted as \"%s\"", in, out);
	if (strstr(err, reason) == NULL)
		fail_msg("\"%s\": \"%s\" does not say \"%s\"", in, err, reason);
	assert_string_equal(out, "");
}

static void
test_list_parse(void **state)
{
	list_ok("", "");
	list_ok("  ", "");
	list_ok("llama3", "llama3:latest");
	list_ok("llama3, qwen2*,library/phi3:mini",
	    "llama3:latest,qwen2*,phi3:mini");
	list_bad("a,,b", "empty model glob (entry 2)");
	list_bad("a,", "empty model glob (entry 2)");
	list_bad(",a", "empty model glob (entry 1)");
	list_bad("a, b c", "bad model glob 2");
	list_bad("registry.ollama.ai/",
	    "bad model glob \"registry.ollama.ai/\"");
}

static void
test_list_match(void **state)
{
	const char *l = "llama3:latest,qwen2*";

	assert_true(modelname_list_match(NULL, "anything"));
	assert_true(modelname_list_match("", "anything"));
	assert_true(modelname_list_match(l, "llama3"));
	assert_true(modelname_list_match(l,
	    "registry.ollama.ai/library/llama3"));
	assert_true(modelname_list_match(l, "qwen2.5:7b"));
	assert_false(modelname_list_match(l, "llama3:70b"));
	assert_false(modelname_list_match(l, "evil.example:5000/x/qwen2"));
	assert_false(modelname_list_match(l, "mistral"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_glob_normalize),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_list_parse),
		cmocka_unit_test(test_list_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
