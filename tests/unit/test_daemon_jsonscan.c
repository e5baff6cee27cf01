/*
 * test_daemon_jsonscan: the structural scanner accepts what jansson
 * accepts, reports the top-level members where they lie, and skips
 * nested values and long strings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jsonscan.h"

/* The members met, as "key=value;" with the key's quotes. */
struct seen {
	const char	*buf;
	char		 out[256];
};

static void
collect(const struct jsonscan_member *m, void *arg)
{
	struct seen *s = arg;
	size_t n = strlen(s->out);

	snprintf(s->out + n, sizeof(s->out) - n, "%.*s%s=%.*s;",
	    (int)m->key_len, s->buf + m->key_off, m->key_escaped ? "\\" : "",
	    (int)m->val_len, s->buf + m->val_off);
}

static int
scan(const char *buf, char *out)
{
	struct seen s;
	int rc;

	memset(&s, 0, sizeof(s));
	s.buf = buf;
	rc = jsonscan_object(buf, strlen(buf), collect, &s);
	if (out != NULL)
		strcpy(out, s.out);
	return rc;
}

static void
ok(const char *buf, const char *want)
{
	char out[256];

	if (scan(buf, out) != 0)
		fail_msg("%s: refused", buf);
	assert_string_equal(out, want);
}

static void
bad(const char *buf)
{
	if (scan(buf, NULL) != JSONSCAN_INVALID)
		fail_msg("%s: not refused", buf);
}

static void
test_members(void **state)
{
	ok("{}", "");
	ok(" \t\r\n{ \"a\" : 1 , \"b\":\"x\" }\n", "\"a\"=1;\"b\"=\"x\";");
	/* Nested values are one member; their keys are not members. */
	ok("{\"o\":{\"model\":\"x\",\"model\":[1,{\"y\":[]}]},\"model\":\"m\"}",
	    "\"o\"={\"model\":\"x\",\"model\":[1,{\"y\":[]}]};\"model\"=\"m\";");
	ok("{\"\\u006dodel\":\"a\\\"b\"}", "\"\\u006dodel\"\\=\"a\\\"b\";");
	ok("{\"a\":[true,false,null,-0,0.5,1e5,-1.5E-300,1E+2]}",
	    "\"a\"=[true,false,null,-0,0.5,1e5,-1.5E-300,1E+2];");
	ok("{\"a\":\"\xc3\xa9\xe2\x84\xaa\xf0\x9f\x98\x80\\ud83d\\ude00\"}",
	    "\"a\"=\"\xc3\xa9\xe2\x84\xaa\xf0\x9f\x98\x80\\ud83d\\ude00\";");
	/* Numbers near DBL_MAX: jansson's strtod decides. */
	ok("{\"a\":1.7e308,\"b\":0e999,\"c\":1e-999}",
	    "\"a\"=1.7e308;\"b\"=0e999;\"c\"=1e-999;");
	assert_int_equal(scan("[{\"model\":\"a\"}]", NULL), JSONSCAN_NOTOBJECT);
	assert_int_equal(scan(" [] ", NULL), JSONSCAN_NOTOBJECT);
}

static void
test_invalid(void **state)
{
	static const char *const bodies[] = {
		"", " ", "\"a\"", "1", "null", "{", "}", "{\"a\"}", "{\"a\":}",
		"{\"a\":1,}", "{\"a\":1 \"b\":2}", "{,}", "{\"a\":1}x",
		"{\"a\":1}{}", "[1,]", "[1 2]", "{\"a\":[}", "{\"a\":{]}",
		"{a:1}", "{'a':1}", "{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}",
		"{\"a\":1e}", "{\"a\":-}", "{\"a\":+1}", "{\"a\":1e309}",
		"{\"a\":-2e308}", "{\"a\":tru}", "{\"a\":truex}",
		"{\"a\":nul}", "{\"a\":NaN}", "{\"a\":\"x}",
		"{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}", "{\"a\":\"\\u0000\"}",
		"{\"\\u0000\":1}", "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\"}",
		"{\"a\":\"\\ud800\\u0041\"}", "{\"a\":\"\t\"}",
		"{\"a\":\"\xff\"}", "{\"a\":\"\xc0\xaf\"}",
		"{\"a\":\"\xed\xa0\x80\"}", "{\"a\":\"\xf4\x90\x80\x80\"}",
		"{\"a\":\"\xe2\x84\"}", "{\"a\":1}\v", "\xef\xbb\xbf{}",
	};
	size_t i;

	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
		bad(bodies[i]);
	/* A NUL byte is no end. */
	assert_int_equal(jsonscan_object("{}\0", 3, collect, NULL),
	    JSONSCAN_INVALID);
}

/* jansson's depth: every value counts, the root's being 1 (2046 arrays in a member hold a scalar, 2047 do not). */
static void
test_depth(void **state)
{
	char *b;
	size_t n, i;

	for (n = JSONSCAN_MAXDEPTH - 2; n <= JSONSCAN_MAXDEPTH; n++) {
		b = malloc(2 * n + 16);
		strcpy(b, "{\"a\":");
		for (i = 0; i < n; i++)
			strcat(b, "[");
		strcat(b, "1");
		for (i = 0; i < n; i++)
			strcat(b, "]");
		strcat(b, "}");
		assert_int_equal(scan(b, NULL) == 0, n + 2 <= JSONSCAN_MAXDEPTH);
		free(b);
	}
}

/* A long string, with escapes and non-ASCII at every alignment. */
static void
test_long_string(void **state)
{
	static const char *const mid[] = { "\\n", "\\\"", "\xc3\xa9", "\\u00e9" };
	char *b, out[256];
	size_t i, j, len = 1 << 16;

	for (j = 0; j < 4; j++) {
		for (i = 0; i < 9; i++) {
			b = malloc(len + 64);
			strcpy(b, "{\"c\":\"");
			memset(b + 6, 'A', len);
			memcpy(b + 6 + len / 2 + i, mid[j], strlen(mid[j]));
			strcpy(b + 6 + len, "\",\"model\":\"m\"}");
			out[0] = '\0';
			assert_int_equal(scan(b, NULL), 0);
			b[6 + len / 2 + i] = '\x01';
			assert_int_equal(scan(b, out), JSONSCAN_INVALID);
			free(b);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_members),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_long_string),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
