/*
 * test_daemon_headers: the header blocks that cross the proxy: what goes
 * upstream, and how upstream's head is checked and reframed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <stdio.h>
#include "headers.h"
#include "request.h"

static char		 buf[16384];
static struct request	 req;

/* Parses a request head into req (the buffer outlives the test). */
static void
parse(const char *head)
{
	size_t pos = 0;

	strlcpy(buf, head, sizeof(buf));
	request_init(&req);
	assert_int_equal(request_parse_head(&req, buf, strlen(buf), &pos), 1);
}

static char		 out[32768];

/* The request head for upstream, as a string. */
static const char *
head_for(const char *path, int framed, int chunked, uint64_t length)
{
	struct upstream_head h = {
		.buf = out, .size = sizeof(out) - 1,
		.path = path, .pathlen = strlen(path),
		.host = "gpu:11434", .hostlen = 9,
		.auth = "", .authlen = 0,
		.framed = framed, .chunked = chunked, .length = length,
	};

	assert_int_equal(headers_upstream(&req, "192.0.2.7", 0, &h), 0);
	out[h.len] = '\0';
	return out;
}

static int
has_line(const char *head, const char *line)
{
	char want[512];

	snprintf(want, sizeof(want), "\r\n%s\r\n", line);
	return strstr(head, want) != NULL;
}

static int
has_prefix(const char *head, const char *prefix)
{
	char want[512];

	snprintf(want, sizeof(want), "\r\n%s", prefix);
	return strcasestr(head, want) != NULL;
}

static void
test_upstream_headers(void **state)
{
	const char *l;

	parse("POST /api/chat?x=%2F HTTP/1.1\r\nHost: gpu.example:4000\r\n"
	    "Authorization: Bearer secret\r\nConnection: X-Private\r\n"
	    "X-Private: 1\r\nKeep-Alive: 5\r\nX-Forwarded-For: 6.6.6.6\r\n"
	    "Content-Length: 2\r\nX-Empty:\r\nUser-Agent: t\r\n"
	    "Expect: 100-continue\r\n\r\n");
	l = head_for("/ollama", 1, 0, 2);
	/* The box's path, then the client's target byte for byte. */
	assert_true(strncmp(l, "POST /ollama/api/chat?x=%2F HTTP/1.1\r\n"
	    "Host: gpu:11434\r\n", 55) == 0);
	assert_true(has_line(l, "User-Agent: t"));
	assert_true(has_line(l, "X-Empty:"));
	assert_true(has_line(l, "X-Forwarded-For: 192.0.2.7"));
	assert_true(has_line(l, "X-Forwarded-Proto: http"));
	assert_true(has_line(l, "X-Forwarded-Host: gpu.example:4000"));
	assert_true(has_line(l, "Content-Length: 2"));
	assert_false(has_prefix(l, "Authorization"));
	assert_false(has_prefix(l, "Host: gpu.example"));
	assert_false(has_prefix(l, "Connection"));
	assert_false(has_prefix(l, "X-Private"));
	assert_false(has_prefix(l, "Keep-Alive"));
	assert_false(has_prefix(l, "Expect"));
	assert_false(has_line(l, "X-Forwarded-For: 6.6.6.6"));
	/* One blank line, at the end. */
	assert_ptr_equal(strstr(l, "\r\n\r\n"), l + strlen(l) - 4);
}

/* The framing is the proxy's: none for a bodiless GET, chunked when
 * asked, and a head that does not fit is refused whole. */
static void
test_upstream_headers_framing(void **state)
{
	struct upstream_head h = {
		.buf = out, .size = 40, .path = "", .host = "h", .hostlen = 1,
		.auth = "",
	};
	const char *l;

	parse("GET /api/tags HTTP/1.1\r\nHost: h\r\n\r\n");
	l = head_for("", 0, 0, 0);
	assert_false(has_prefix(l, "Content-Length"));
	assert_false(has_prefix(l, "Transfer-Encoding"));
	assert_false(has_prefix(l, "Accept:"));
	parse("POST /api/generate HTTP/1.1\r\nHost: h\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n");
	l = head_for("", 1, 1, 0);
	assert_true(has_line(l, "Transfer-Encoding: chunked"));
	assert_false(has_prefix(l, "Content-Length"));
	l = head_for("", 1, 0, 18446744073709551615ULL);
	assert_true(has_line(l, "Content-Length: 18446744073709551615"));
	assert_int_equal(headers_upstream(&req, "192.0.2.7", 0, &h), -1);
}

static void
test_status_line(void **state)
{
	assert_true(headers_status_line_ok("HTTP/1.1 200 OK\r\n", 17));
	assert_true(headers_status_line_ok("HTTP/1.0 404\r\n", 14));
	assert_true(headers_status_line_ok("HTTP/1.1 204 \r\n", 15));
	assert_false(headers_status_line_ok("HTTP/1.1 200OK\r\n", 16));
	assert_false(headers_status_line_ok("HTTP/1.1  200 OK\r\n", 18));
	assert_false(headers_status_line_ok("HTTP/1.1 600 X\r\n", 16));
	assert_false(headers_status_line_ok("HTTP/1.1 099 X\r\n", 16));
	assert_false(headers_status_line_ok("HTTP/2 200 OK\r\n", 15));
	assert_false(headers_status_line_ok("HTTP/1.1 2x0 OK\r\n", 17));
	/* A control byte in the reason (found by fuzz_response). */
	assert_false(headers_status_line_ok("HTTP/1.1 200 O\006K\r\n", 18));
	assert_false(headers_status_line_ok("HTTP/1.1 200 O\rK\r\n", 18));
	assert_false(headers_status_line_ok("HTTP/1.1 200 O\0K\r\n", 18));
	assert_true(headers_status_line_ok("HTTP/1.1 200 O\tK \xe9\r\n", 20));
}

static void
test_header_line(void **state)
{
	assert_true(headers_line_ok("Content-Length: 17\r\n", 20));
	assert_true(headers_line_ok("X-A: b\tc\r\n", 10));
	assert_false(headers_line_ok("Content-Length: 17, 17\r\n", 24));
	assert_false(headers_line_ok("Content-Length: +5\r\n", 20));
	assert_false(headers_line_ok("Content-Length:\r\n", 17));
	assert_false(headers_line_ok("X-Split: a\rSet-Cookie: x\r\n", 26));
	assert_false(headers_line_ok("X-Nul: a\001b\r\n", 13));
}

/* The head is a length, not a string: compare exactly that many bytes. */
static void
assert_head(const struct response_head *h, const char *want)
{
	assert_int_equal(h->len, strlen(want));
	assert_memory_equal(h->buf, want, h->len);
}

static const char *
respond(const char *raw, int is_head, int status, struct response_head *h)
{
	h->buf = buf + 8192;
	h->size = 8192;
	return headers_response(raw, strlen(raw), &req, is_head, status, h);
}

static void
test_response_framing(void **state)
{
	struct response_head h;

	parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_null(respond("HTTP/1.1 200 OK\r\nContent-Type: x\r\n"
	    "Transfer-Encoding: chunked\r\nConnection: keep-alive, X-Hop\r\n"
	    "X-Hop: 1\r\nKeep-Alive: timeout=5\r\n", 0, 200, &h));
	assert_int_equal(h.chunked, 1);
	assert_int_equal(h.close, 0);
	assert_head(&h, "HTTP/1.1 200 OK\r\nContent-Type: x\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n");

	/* Content-Length passes; no chunking. */
	assert_null(respond("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n", 0,
	    200, &h));
	assert_int_equal(h.chunked, 0);
	assert_head(&h, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n");

	/* No body for 204, 304 and HEAD: nothing added. */
	assert_null(respond("HTTP/1.1 204 No Content\r\n", 0, 204, &h));
	assert_int_equal(h.chunked, 0);
	assert_null(respond("HTTP/1.1 200 OK\r\n", 1, 200, &h));
	assert_int_equal(h.chunked, 0);

	/* Ambiguous framing is refused whole. */
	assert_non_null(respond("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
	    "Content-Length: 3\r\n", 0, 200, &h));
	assert_non_null(respond("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
	    "Transfer-Encoding: chunked\r\n", 0, 200, &h));

	/* HTTP/1.0 client without a length: close-delimited. */
	parse("GET / HTTP/1.0\r\n\r\n");
	assert_null(respond("HTTP/1.1 200 OK\r\n", 0, 200, &h));
	assert_int_equal(h.chunked, 0);
	assert_int_equal(h.close, 1);
	assert_head(&h, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
}

/* A head that does not fit, or has too many fields, fails whole. */
static void
test_response_too_large(void **state)
{
	static char raw[40000];
	struct response_head h;
	size_t n = 0;
	int i;

	parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
	n = strlcpy(raw, "HTTP/1.1 200 OK\n", sizeof(raw));
	for (i = 0; i < HEADERS_FIELDS_MAX - 1; i++)
		n = strlcat(raw, "a:\n", sizeof(raw));
	assert_null(respond(raw, 0, 200, &h));
	assert_int_equal(h.chunked, 1);
	strlcat(raw, "a:\n", sizeof(raw));
	strlcat(raw, "b:\n", sizeof(raw));
	assert_non_null(respond(raw, 0, 200, &h));

	/* 200 lines of 40 bytes: fits the raw 8 KiB, not the rebuilt head
	 * with its CRLFs and Transfer-Encoding. */
	n = strlcpy(raw, "HTTP/1.1 200 OK\n", sizeof(raw));
	for (i = 0; i < 200; i++)
		n = strlcat(raw, "x:xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
		    sizeof(raw));
	assert_true(n < 8192 && n + 200 + 30 > 8192);
	assert_non_null(respond(raw, 0, 200, &h));
	assert_true(h.len <= 8192);
}

static void
test_status_refused(void **state)
{
	assert_null(headers_status_refused(200));
	assert_null(headers_status_refused(100));
	assert_null(headers_status_refused(103));
	assert_null(headers_status_refused(599));
	assert_non_null(headers_status_refused(101));
	assert_non_null(headers_status_refused(102));
	assert_non_null(headers_status_refused(199));
}

static void
test_hop(void **state)
{
	assert_true(headers_is_hop("TE", 2));
	assert_true(headers_is_hop("Connection", 10));
	assert_true(headers_is_hop("keep-alive", 10));
	assert_true(headers_is_hop("Proxy-Authorization", 19));
	assert_true(headers_is_hop("Transfer-Encoding", 17));
	assert_false(headers_is_hop("Content-Type", 12));
	assert_false(headers_is_hop("Tea", 3));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_upstream_headers),
		cmocka_unit_test(test_upstream_headers_framing),
		cmocka_unit_test(test_status_line),
		cmocka_unit_test(test_header_line),
		cmocka_unit_test(test_response_framing),
		cmocka_unit_test(test_response_too_large),
		cmocka_unit_test(test_status_refused),
		cmocka_unit_test(test_hop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
