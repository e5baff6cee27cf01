/*
 * test_daemon_streamusage: "openai-stream-usage = add": the request gains
 * stream_options.include_usage only when the client did not ask, and the
 * filter takes out the usage chunk and nothing else, byte for byte,
 * however the stream is cut into chunks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "streamusage.h"

static char		 out[1 << 20];
static size_t		 outlen;
static struct streamusage_filter f;

static int
collect(const char *data, size_t len, void *arg)
{
	assert_true(outlen + len <= sizeof(out));
	memcpy(out + outlen, data, len);
	outlen += len;
	return 0;
}

static void
rewritten(const char *in, int want, const char *expect)
{
	char *o;
	size_t n;

	assert_int_equal(streamusage_request(in, strlen(in), &o, &n), want);
	if (want == 1) {
		assert_int_equal(n, strlen(expect));
		assert_memory_equal(o, expect, n);
		free(o);
	} else
		assert_null(o);
}

static void
test_request(void **state)
{
	rewritten("{\"model\":\"m\",\"stream\":true,\"messages\":[]}", 1,
	    "{\"model\":\"m\",\"stream\":true,\"messages\":[],"
	    "\"stream_options\":{\"include_usage\":true}}");
	rewritten("{\"stream\":true,\"stream_options\":{\"x\":1}}", 1,
	    "{\"stream\":true,\"stream_options\":{\"x\":1,"
	    "\"include_usage\":true}}");
	rewritten("{\"stream\":true,\"stream_options\":"
	    "{\"include_usage\":false}}", 1, "{\"stream\":true,"
	    "\"stream_options\":{\"include_usage\":true}}");
	rewritten("{\"stream\":true,\"stream_options\":null}", 1,
	    "{\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
	/* The client asked itself, or does not stream. */
	rewritten("{\"stream\":true,\"stream_options\":"
	    "{\"include_usage\":true}}", 0, NULL);
	rewritten("{\"stream\":false}", 0, NULL);
	rewritten("{\"model\":\"m\"}", 0, NULL);
	/* Not an object, not JSON, or a member twice: left alone. */
	rewritten("[1]", -1, NULL);
	rewritten("{\"stream\":tru", -1, NULL);
	rewritten("{\"stream\":false,\"stream\":true}", -1, NULL);
}

static void
test_path(void **state)
{
	assert_true(streamusage_path("/v1/chat/completions", 20));
	assert_true(streamusage_path("/v1/completions?x=1", 19));
	assert_false(streamusage_path("/v1/chat/completionsX", 21));
	assert_false(streamusage_path("/v1/embeddings", 14));
	assert_false(streamusage_path("/api/chat", 9));
}

/* Filters s in random chunks of at most max bytes into out. */
static void
filter(const char *s, size_t max)
{
	size_t len = strlen(s), off = 0, n;

	outlen = 0;
	streamusage_begin(&f);
	while (off < len) {
		n = max == 0 ? len : 1 + (size_t)random() % max;
		if (n > len - off)
			n = len - off;
		assert_int_equal(streamusage_feed(&f, s + off, n, collect,
		    NULL), 0);
		off += n;
	}
	assert_int_equal(streamusage_end(&f, collect, NULL), 0);
}

static void
same_every_way(const char *in, const char *want, int dropped)
{
	size_t sizes[] = { 0, 1, 2, 3, 17, 100, 5000 }, i;
	int k;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (k = 0; k < 5; k++) {
			filter(in, sizes[i]);
			assert_int_equal(outlen, strlen(want));
			assert_memory_equal(out, want, outlen);
			assert_int_equal(f.dropped, dropped);
		}
}

#define CHUNK(c)	"data: {\"id\":\"x\",\"choices\":[{\"delta\":" \
			"{\"content\":\"" c "\"}}],\"usage\":null}\n\n"
#define USAGE		"data: {\"id\":\"x\",\"choices\":[],\"usage\":" \
			"{\"prompt_tokens\":3,\"completion_tokens\":4}}\n\n"

static void
test_filter(void **state)
{
	same_every_way(CHUNK("a") CHUNK("b\\n\\nusage") USAGE "data: [DONE]\n\n",
	    CHUNK("a") CHUNK("b\\n\\nusage") "data: [DONE]\n\n", 1);
	/* CRLF line ends. */
	same_every_way("data: {\"choices\":[],\"usage\":{}}\r\n\r\n"
	    "data: [DONE]\r\n\r\n", "data: [DONE]\r\n\r\n", 1);
	/* Nothing to drop: byte-identical, a cut-off last event too. */
	same_every_way(CHUNK("a") ": comment\n\n" CHUNK("usage") "data: [DO",
	    CHUNK("a") ": comment\n\n" CHUNK("usage") "data: [DO", 0);
	/* Usage next to choices the client sees is the client's. */
	same_every_way("data: {\"choices\":[{}],\"usage\":{}}\n\n",
	    "data: {\"choices\":[{}],\"usage\":{}}\n\n", 0);
	same_every_way("\n\n\n" CHUNK("z"), "\n\n\n" CHUNK("z"), 0);
}

static void
test_filter_long_event(void **state)
{
	static char in[3 * STREAMUSAGE_HOLD];
	size_t n;

	/* An event longer than the filter holds goes through whole. */
	strcpy(in, "data: {\"choices\":[],\"usage\":{},\"pad\":\"");
	n = strlen(in);
	memset(in + n, 'p', 2 * STREAMUSAGE_HOLD);
	strcpy(in + n + 2 * STREAMUSAGE_HOLD, "\"}\n\n" USAGE CHUNK("q"));
	filter(in, 4000);
	in[strlen(in) - strlen(USAGE CHUNK("q"))] = '\0';
	strcat(in, CHUNK("q"));
	assert_int_equal(outlen, strlen(in));
	assert_memory_equal(out, in, outlen);
}

static int
fail_emit(const char *data, size_t len, void *arg)
{
	return -1;
}

static void
test_filter_emit_fails(void **state)
{
	streamusage_begin(&f);
	assert_int_equal(streamusage_feed(&f, CHUNK("a"), strlen(CHUNK("a")),
	    fail_emit, NULL), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_filter),
		cmocka_unit_test(test_filter_long_event),
		cmocka_unit_test(test_filter_emit_fails),
	};

	srandom(11);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
