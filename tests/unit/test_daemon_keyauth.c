/*
 * test_daemon_keyauth: the ways a key is presented, and the Ollama CLI's
 * signed requests checked against vectors made in exactly its format:
 *
 *	tests/e2e/ollama_sign.py --seed 000102...1e1f POST /api/chat 1700000000
 *
 * (the second key's seed is the same bytes reversed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "keyauth.h"
#include "request.h"

#define PUB1	"AAAAC3NzaC1lZDI1NTE5AAAAIAOhB7/zzhC+HXDdGOdLwJln" \
		"5NYwm6UNXx3chmQSVTG4"
#define PUB2	"AAAAC3NzaC1lZDI1NTE5AAAAIHEmUfRQugW2OJi5nvX3ukVj" \
		"Lo4lJ/f3Fc1nHsQCTMUe"
/* "POST,/api/chat?ts=1700000000" signed by key 1, and by key 2. */
#define SIG1	"YpIlY9MqDonNkzVj3U9VfQZvOV1JDg05ni0+rlbqTJvhc9s+" \
		"q/ISBQgbk0YC3fwqAuo6Gxs6ODg/6Rjs6lm2BA=="
#define SIG2	"4GOHu/LMcmXEG7usKq/ofPqlrviYsF9BZr/pL61ToUrlptsP" \
		"boWphGF1wr4jkBQfWxOkGzOp7kDd0X8V1JhwDQ=="
#define TS	1700000000
#define TARGET	"/api/chat?ts=1700000000"

static struct keyauth	 ka;

static enum keyauth_status
parse(const char *authz, const char *xkey)
{
	return keyauth_parse(authz, authz != NULL ? strlen(authz) : 0, xkey,
	    xkey != NULL ? strlen(xkey) : 0, &ka);
}

static void
test_forms(void **state)
{
	assert_int_equal(parse(NULL, NULL), KEYAUTH_NONE);
	assert_int_equal(parse("Bearer sk-abc", NULL), KEYAUTH_SECRET);
	assert_string_equal(ka.secret, "sk-abc");
	assert_int_equal(ka.secretlen, 6);
	assert_int_equal(parse("bearer \t sk-abc", NULL), KEYAUTH_SECRET);
	assert_string_equal(ka.secret, "sk-abc");
	assert_int_equal(parse(NULL, "sk-x"), KEYAUTH_SECRET);
	assert_string_equal(ka.secret, "sk-x");
	/* Basic: base64("user:sk-abc"); the user is ignored. */
	assert_int_equal(parse("Basic dXNlcjpzay1hYmM=", NULL),
	    KEYAUTH_SECRET);
	assert_string_equal(ka.secret, "sk-abc");
	/* base64(":k:2"): an empty user, a colon in the key. */
	assert_int_equal(parse("BASIC Oms6Mg==", NULL), KEYAUTH_SECRET);
	assert_string_equal(ka.secret, "k:2");
	keyauth_clear(&ka);
	assert_int_equal(ka.secretlen, 0);
	assert_string_equal(ka.secret, "");

	assert_int_equal(parse(PUB1 ":" SIG1, NULL), KEYAUTH_SSH);
	assert_int_equal(ka.secretlen, 0);
}

static void
test_refused(void **state)
{
	assert_int_equal(parse("Bearer", NULL), KEYAUTH_MALFORMED);
	assert_int_equal(parse("Bearer ", NULL), KEYAUTH_MALFORMED);
	assert_int_equal(parse("Bearer a b", NULL), KEYAUTH_MALFORMED);
	assert_int_equal(parse("Bearer \x01", NULL), KEYAUTH_MALFORMED);
	assert_int_equal(parse("Bearerx y", NULL), KEYAUTH_MALFORMED);
	assert_int_equal(parse("Digest x", NULL), KEYAUTH_MALFORMED);
	assert_int_equal(parse("sk-abc", NULL), KEYAUTH_MALFORMED);
	/* base64("user") has no colon; base64("user:") no key. */
	assert_int_equal(parse("Basic dXNlcg==", NULL), KEYAUTH_MALFORMED);
	assert_int_equal(parse("Basic dXNlcjo=", NULL), KEYAUTH_MALFORMED);
	assert_int_equal(parse("Basic dXNlcjpzay1hYmM", NULL),
	    KEYAUTH_MALFORMED);
	/* base64("u:\0\0\0") : bytes no client key holds. */
	assert_int_equal(parse("Basic dToAAAA=", NULL), KEYAUTH_MALFORMED);
	assert_int_equal(parse(PUB1 ":" "AAAA", NULL), KEYAUTH_MALFORMED);
	assert_int_equal(parse(PUB1 SIG1, NULL), KEYAUTH_MALFORMED);
	assert_int_equal(parse("AAAAB3NzaC1yc2EAAAADAQAB:" SIG1, NULL),
	    KEYAUTH_MALFORMED);
	assert_int_equal(parse(NULL, "a key"), KEYAUTH_MALFORMED);
	assert_int_equal(parse(NULL, ""), KEYAUTH_MALFORMED);

	/* Two headers must name one key. */
	assert_int_equal(parse("Bearer sk-abc", "sk-abc"), KEYAUTH_SECRET);
	assert_int_equal(parse("Basic dXNlcjpzay1hYmM=", "sk-abc"),
	    KEYAUTH_SECRET);
	assert_int_equal(parse("Bearer sk-abc", "sk-abd"), KEYAUTH_CONFLICT);
	assert_int_equal(ka.secretlen, 0);
	assert_string_equal(ka.secret, "");
	assert_int_equal(parse("Bearer sk-abc", "sk-ab"), KEYAUTH_CONFLICT);
	assert_int_equal(parse(PUB1 ":" SIG1, "sk-abc"), KEYAUTH_CONFLICT);
}

static void
test_from_request(void **state)
{
	static char buf[1024];
	struct request req;
	size_t pos = 0;

	strlcpy(buf, "GET /api/tags HTTP/1.1\r\nHost: h\r\n"
	    "X-Api-Key: sk-1\r\nx-api-key: sk-1\r\n\r\n", sizeof(buf));
	request_init(&req);
	assert_int_equal(request_parse_head(&req, buf, strlen(buf), &pos), 1);
	assert_int_equal(keyauth_from_request(&req, &ka), KEYAUTH_CONFLICT);

	strlcpy(buf, "GET /api/tags HTTP/1.1\r\nHost: h\r\n"
	    "Authorization: Bearer sk-1\r\nX-API-KEY: sk-1\r\n\r\n",
	    sizeof(buf));
	pos = 0;
	request_init(&req);
	assert_int_equal(request_parse_head(&req, buf, strlen(buf), &pos), 1);
	assert_int_equal(keyauth_from_request(&req, &ka), KEYAUTH_SECRET);
	assert_string_equal(ka.secret, "sk-1");
}

static int
verify(const char *authz, const char *method, const char *target,
    int64_t now, const char **why)
{
	assert_int_equal(parse(authz, NULL), KEYAUTH_SSH);
	return keyauth_verify(&ka, method, target, strlen(target), now,
	    KEYAUTH_WINDOW_DEFAULT, why);
}

static void
test_signed(void **state)
{
	const char *why = NULL;

	assert_int_equal(verify(PUB1 ":" SIG1, "POST", TARGET, TS, &why), 0);
	assert_int_equal(verify(PUB1 ":" SIG1, "POST", TARGET, TS + 300, &why),
	    0);
	assert_int_equal(verify(PUB1 ":" SIG1, "POST", TARGET, TS - 300, &why),
	    0);
	/* Other query parameters do not count; the ts must be one. */
	assert_int_equal(verify(PUB1 ":" SIG1, "POST",
	    "/api/chat?a=1&ts=1700000000&b", TS, &why), 0);

	/* The wrong key: key 2's signature under key 1's name. */
	assert_int_equal(verify(PUB1 ":" SIG2, "POST", TARGET, TS, &why), -1);
	assert_string_equal(why, "bad signature");
	assert_int_equal(verify(PUB2 ":" SIG2, "POST", TARGET, TS, &why), 0);
	/* Expired, or from the future: a replay outside the window. */
	assert_int_equal(verify(PUB1 ":" SIG1, "POST", TARGET, TS + 301, &why),
	    -1);
	assert_non_null(strstr(why, "window"));
	assert_int_equal(verify(PUB1 ":" SIG1, "POST", TARGET, TS - 301, &why),
	    -1);
	/* Tampered: path, method, ts. */
	assert_int_equal(verify(PUB1 ":" SIG1, "POST",
	    "/api/pull?ts=1700000000", TS, &why), -1);
	assert_string_equal(why, "bad signature");
	assert_int_equal(verify(PUB1 ":" SIG1, "GET", TARGET, TS, &why), -1);
	assert_int_equal(verify(PUB1 ":" SIG1, "POST",
	    "/api/chat?ts=1700000001", TS, &why), -1);
	assert_int_equal(verify(PUB1 ":" SIG1, "POST",
	    "/api/chat?ts=01700000000", TS, &why), -1);
	/* No ts, two, or not a number. */
	assert_int_equal(verify(PUB1 ":" SIG1, "POST", "/api/chat", TS, &why),
	    -1);
	assert_non_null(strstr(why, "ts="));
	assert_int_equal(verify(PUB1 ":" SIG1, "POST",
	    "/api/chat?ts=1700000000&ts=1700000000", TS, &why), -1);
	assert_int_equal(verify(PUB1 ":" SIG1, "POST", "/api/chat?ts=", TS,
	    &why), -1);
	assert_int_equal(verify(PUB1 ":" SIG1, "POST", "/api/chat?ts=-5", TS,
	    &why), -1);
	assert_int_equal(verify(PUB1 ":" SIG1, "POST",
	    "/api/chat?ts=99999999999999999999", TS, &why), -1);
	/* A secret is not a signature. */
	assert_int_equal(parse("Bearer x", NULL), KEYAUTH_SECRET);
	assert_int_equal(keyauth_verify(&ka, "POST", TARGET, strlen(TARGET),
	    TS, 300, &why), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_from_request),
		cmocka_unit_test(test_signed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
