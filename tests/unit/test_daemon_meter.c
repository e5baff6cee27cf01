/*
 * test_daemon_meter: the token counts read from a response's tail, in
 * every form Ollama answers in, fed whole, byte by byte and in random
 * chunks; encoded bodies, bodies longer than the tail, and bodies
 * without counts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "meter.h"

static struct meter	m;
static struct meter_result r;

/* Feeds body in chunks of 1..max bytes (max 0: whole) and finishes. */
static int
run(const char *ce, const char *body, size_t len, size_t max)
{
	size_t off = 0, n;

	meter_begin(&m, ce);
	while (off < len) {
		n = max == 0 ? len - off : 1 + (size_t)random() % max;
		if (n > len - off)
			n = len - off;
		meter_feed(&m, body + off, n);
		off += n;
	}
	return meter_finish(&m, &r);
}

/* The same body every way it could arrive must give the same answer. */
static void
check(const char *body, int found, const char *model, int64_t prompt,
    int64_t completion, int64_t load)
{
	size_t sizes[] = { 0, 1, 2, 7, 64, 1000, 70000 }, i;
	int k;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (k = 0; k < (sizes[i] == 0 ? 1 : 5); k++) {
			assert_int_equal(run(NULL, body, strlen(body),
			    sizes[i]), found);
			assert_int_equal(r.found, found);
			assert_string_equal(r.model, model);
			assert_int_equal(r.prompt, prompt);
			assert_int_equal(r.completion, completion);
			assert_int_equal(r.load_duration_ns, load);
		}
}

static void
test_ollama_ndjson(void **state)
{
	check("{\"model\":\"llama3\",\"response\":\"Hi\",\"done\":false}\n"
	    "{\"model\":\"llama3\",\"response\":\"!\",\"done\":false}\n"
	    "{\"model\":\"llama3\",\"response\":\"\",\"done\":true,"
	    "\"done_reason\":\"stop\",\"total_duration\":5000,"
	    "\"load_duration\":1234,\"prompt_eval_count\":26,"
	    "\"eval_count\":298}\n", 1, "llama3", 26, 298, 1234);
	/* Chat, and a prompt taken from the cache: no prompt_eval_count. */
	check("{\"model\":\"qwen2:7b\",\"message\":{\"role\":\"assistant\","
	    "\"content\":\"x\"},\"done\":false}\n{\"model\":\"qwen2:7b\","
	    "\"message\":{\"role\":\"assistant\",\"content\":\"\"},"
	    "\"done\":true,\"eval_count\":3}\r\n\r\n", 1, "qwen2:7b", 0, 3,
	    0);
}

static void
test_ollama_json(void **state)
{
	check("{\"model\":\"llama3\",\"response\":\"a\\nb\",\"done\":true,"
	    "\"context\":[1,2,3],\"prompt_eval_count\":10,"
	    "\"eval_count\":20,\"load_duration\":7}", 1, "llama3", 10, 20, 7);
	/* Pretty-printed: the last line alone is not the object. */
	check("{\n  \"model\": \"m\",\n  \"done\": true,\n"
	    "  \"prompt_eval_count\": 1,\n  \"eval_count\": 2\n}\n", 1, "m",
	    1, 2, 0);
	/* A load request: done, and no tokens at all. */
	check("{\"model\":\"m\",\"done\":true,\"done_reason\":\"load\"}", 1,
	    "m", 0, 0, 0);
}

static void
test_ollama_embed(void **state)
{
	check("{\"model\":\"all-minilm\",\"embeddings\":[[0.1,-0.2],[0.3]],"
	    "\"total_duration\":14143917,\"load_duration\":1019500,"
	    "\"prompt_eval_count\":8}", 1, "all-minilm", 8, 0, 1019500);
}

static void
test_openai_json(void **state)
{
	check("{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\","
	    "\"model\":\"llama3\",\"choices\":[{\"index\":0,\"message\":"
	    "{\"role\":\"assistant\",\"content\":\"hi\"}}],\"usage\":"
	    "{\"prompt_tokens\":12,\"completion_tokens\":34,"
	    "\"total_tokens\":46}}\n", 1, "llama3", 12, 34, 0);
	check("{\"object\":\"list\",\"data\":[{\"object\":\"embedding\","
	    "\"embedding\":[0.5],\"index\":0}],\"model\":\"e\",\"usage\":"
	    "{\"prompt_tokens\":4,\"total_tokens\":4}}", 1, "e", 4, 0, 0);
	/* The Responses API's names. */
	check("{\"model\":\"r\",\"usage\":{\"input_tokens\":5,"
	    "\"output_tokens\":6}}", 1, "r", 5, 6, 0);
}

static void
test_openai_sse(void **state)
{
	check("data: {\"id\":\"c\",\"model\":\"llama3\",\"choices\":[{\"index\":0,"
	    "\"delta\":{\"content\":\"Hi\"}}],\"usage\":null}\n\n"
	    "data: {\"id\":\"c\",\"model\":\"llama3\",\"choices\":[{\"index\":0,"
	    "\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":null}\n\n"
	    "data: {\"id\":\"c\",\"model\":\"llama3\",\"choices\":[],"
	    "\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,"
	    "\"total_tokens\":11}}\n\n"
	    "data: [DONE]\n\n", 1, "llama3", 9, 2, 0);
	/* CRLF lines, comments and event names. */
	check(": keep-alive\r\n\r\nevent: x\r\ndata:{\"model\":\"m\","
	    "\"choices\":[],\"usage\":{\"prompt_tokens\":1,"
	    "\"completion_tokens\":1}}\r\n\r\ndata: [DONE]\r\n\r\n", 1, "m",
	    1, 1, 0);
	/* Without include_usage: no counts. */
	check("data: {\"model\":\"m\",\"choices\":[{\"delta\":{}}]}\n\n"
	    "data: [DONE]\n\n", 0, "", 0, 0, 0);
}

static void
test_unmetered(void **state)
{
	check("", 0, "", 0, 0, 0);
	check("\n\n  ", 0, "", 0, 0, 0);
	check("{\"error\":\"model 'x' not found\"}", 0, "", 0, 0, 0);
	/* A stream cut off before its final object. */
	check("{\"model\":\"m\",\"done\":false}\n{\"model\":\"m\",\"do", 0, "",
	    0, 0, 0);
	check("{\"model\":\"m\",\"done\":false,\"eval_count\":3}\n", 0, "", 0,
	    0, 0);
	check("not json at all", 0, "", 0, 0, 0);
	check("data: [DONE]\n\n", 0, "", 0, 0, 0);
	/* Counts of the wrong type or sign are not counts. */
	check("{\"prompt_eval_count\":-1,\"eval_count\":\"7\"}", 0, "", 0, 0,
	    0);
	check("{\"usage\":{\"prompt_tokens\":1.5}}", 0, "", 0, 0, 0);
}

static void
test_encoded(void **state)
{
	const char *body = "{\"done\":true,\"eval_count\":3}";

	assert_int_equal(run("gzip", body, strlen(body), 0), 0);
	assert_int_equal(run(" br ", body, strlen(body), 0), 0);
	assert_int_equal(run("identity", body, strlen(body), 0), 1);
	assert_int_equal(run(" Identity ", body, strlen(body), 0), 1);
	assert_int_equal(run("", body, strlen(body), 0), 1);
	assert_int_equal(r.completion, 3);
}

/* A body of n bytes: a long JSON answer, or a long NDJSON stream. */
static char *
long_body(size_t n, int ndjson)
{
	char *b, *p, *end;
	const char *tail = ndjson ?
	    "{\"model\":\"big\",\"done\":true,\"prompt_eval_count\":70,"
	    "\"eval_count\":80}\n" :
	    "0],\"model\":\"big\",\"done\":true,\"prompt_eval_count\":70,"
	    "\"eval_count\":80,\"load_duration\":90}";

	assert_non_null(b = malloc(n + 200));
	p = b;
	end = b + n;
	if (ndjson)
		while (p < end)
			p += sprintf(p, "{\"model\":\"big\",\"response\":\","
			    "\\\"x\",\"done\":false}\n");
	else {
		p += sprintf(p, "{\"model\":\"big\",\"response\":\"a,\\\"b\","
		    "\"context\":[");
		while (p < end)
			p += sprintf(p, "12345,");
	}
	strcpy(p, tail);
	return b;
}

static void
test_longer_than_tail(void **state)
{
	size_t sizes[] = { 60000, 131071, 131072, 500000 }, i;
	char *b;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		b = long_body(sizes[i], 1);
		assert_int_equal(run(NULL, b, strlen(b), 4096), 1);
		assert_int_equal(r.completion, 80);
		assert_string_equal(r.model, "big");
		free(b);
		b = long_body(sizes[i], 0);
		assert_int_equal(run(NULL, b, strlen(b), 3000), 1);
		assert_int_equal(r.prompt, 70);
		assert_int_equal(r.completion, 80);
		assert_int_equal(r.load_duration_ns, 90);
		free(b);
	}
	/* The tail is bounded whatever was fed. */
	assert_true(m.len <= sizeof(m.buf));
}

static void
test_long_model(void **state)
{
	char body[1024];

	snprintf(body, sizeof(body), "{\"model\":\"%0300d\",\"done\":true}", 0);
	assert_int_equal(run(NULL, body, strlen(body), 0), 1);
	assert_int_equal(strlen(r.model), METER_MODEL_MAX - 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ollama_ndjson),
		cmocka_unit_test(test_ollama_json),
		cmocka_unit_test(test_ollama_embed),
		cmocka_unit_test(test_openai_json),
		cmocka_unit_test(test_openai_sse),
		cmocka_unit_test(test_unmetered),
		cmocka_unit_test(test_encoded),
		cmocka_unit_test(test_longer_than_tail),
		cmocka_unit_test(test_long_model),
	};

	srandom(12);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
