/*
 * test_daemon_upstreams: target-url values with their options, the
 * default name, and the messages that name the wrong option or value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "upstreams.h"

static char	err[512];

static void
parse_ok(const char *v, const char *url, const char *name, int weight,
    int max_conns)
{
	struct upstream up;

	if (upstream_parse(v, &up, err, sizeof(err)) == -1)
		fail_msg("\"%s\": %s", v, err);
	assert_string_equal(up.url, url);
	assert_string_equal(up.name, name);
	assert_int_equal(up.weight, weight);
	assert_int_equal(up.max_conns, max_conns);
}

static void
parse_err(const char *v, const char *want)
{
	struct upstream up;

	if (upstream_parse(v, &up, err, sizeof(err)) != -1)
		fail_msg("\"%s\" parsed, expected \"%s\"", v, want);
	assert_string_equal(err, want);
}

static void
test_options(void **state)
{
	parse_ok("http://127.0.0.1:11434", "http://127.0.0.1:11434",
	    "127.0.0.1:11434", 1, 0);
	parse_ok("http://gpu1:11434 name=gpu1 weight=2 max-conns=8",
	    "http://gpu1:11434", "gpu1", 2, 8);
	parse_ok("https://o.example/base  max-conns=0\tweight=1000 ",
	    "https://o.example/base", "o.example:443", 1000, 0);
	parse_ok("http://[::1]:9", "http://[::1]:9", "[::1]:9", 1, 0);
	parse_ok("http://h", "http://h", "h:80", 1, 0);
}

static void
test_errors(void **state)
{
	parse_err("http://h.example/a b", "unknown option \"b\" (name=, "
	    "weight=, max-conns=)");
	parse_err("http://h colour=red", "unknown option \"colour=red\" "
	    "(name=, weight=, max-conns=)");
	parse_err("http://h weight=0", "weight \"0\": expected 1 to 1000");
	parse_err("http://h weight=", "weight \"\": expected 1 to 1000");
	parse_err("http://h weight=2x", "weight \"2x\": expected 1 to 1000");
	parse_err("http://h max-conns=-1", "max-conns \"-1\": expected 0 to "
	    "100000");
	parse_err("http://h name=", "name \"\": 1 to 63 letters, digits or "
	    "._:-[]");
	parse_err("http://h name=a,b", "name \"a,b\": 1 to 63 letters, digits "
	    "or ._:-[]");
	parse_err("ftp://h name=a", "\"ftp://h\" must start with http:// or "
	    "https://");
}

static void
test_list(void **state)
{
	struct config cfg;
	struct upstreams ups;
	char *text = NULL;
	size_t len = 0;
	FILE *fp;

	memset(&cfg, 0, sizeof(cfg));
	strlcpy(cfg.target_urls[0], "http://a:1 name=a", CONFIG_URL_MAX);
	strlcpy(cfg.target_urls[1], "http://b:2 weight=3", CONFIG_URL_MAX);
	cfg.ntarget_urls = 2;
	assert_int_equal(upstreams_parse(&cfg, &ups, err, sizeof(err)), 0);
	assert_int_equal(ups.n, 2);
	assert_int_equal(upstreams_find(&ups, "b:2"), 1);
	assert_int_equal(upstreams_find(&ups, "c"), -1);
	fp = open_memstream(&text, &len);
	assert_non_null(fp);
	upstreams_print(&ups, fp);
	fclose(fp);
	assert_string_equal(text, "# upstream a: http://a:1 weight 1 "
	    "max-conns 0\n# upstream b:2: http://b:2 weight 3 max-conns 0\n");
	free(text);

	strlcpy(cfg.target_urls[1], "http://other:2 name=a", CONFIG_URL_MAX);
	assert_int_equal(upstreams_parse(&cfg, &ups, err, sizeof(err)), -1);
	assert_string_equal(err, "target-url \"http://other:2 name=a\": name "
	    "\"a\" is used twice");
	strlcpy(cfg.target_urls[1], "http://b weight=x", CONFIG_URL_MAX);
	assert_int_equal(upstreams_parse(&cfg, &ups, err, sizeof(err)), -1);
	assert_string_equal(err, "target-url \"http://b weight=x\": weight "
	    "\"x\": expected 1 to 1000");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
