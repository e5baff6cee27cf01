/*
 * test_timefmt: durations as users type them, the refusals with their
 * reasons, and ISO 8601 timestamps written and read back in any local
 * time zone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "timefmt.h"

static void
dur_ok(const char *s, int64_t want)
{
	const char	*errstr = "unset";
	int64_t		 secs = -1;

	if (timefmt_duration(s, &secs, &errstr) != 0)
		fail_msg("\"%s\": %s", s, errstr);
	assert_int_equal(secs, want);
	assert_null(errstr);
}

static void
dur_bad(const char *s, const char *reason)
{
	const char	*errstr = NULL;
	int64_t		 secs = 12345;
	int		 rc;

	rc = timefmt_duration(s, &secs, &errstr);
	if (rc == 0)
		fail_msg("\"%s\" was accepted as %lld", s, (long long)secs);
	/* Callers tell the user the limit when it is the limit. */
	assert_int_equal(rc, strstr(reason, "100 years") != NULL ?
	    TIMEFMT_TOOLONG : -1);
	assert_non_null(errstr);
	if (strstr(errstr, reason) == NULL)
		fail_msg("\"%s\": \"%s\" lacks \"%s\"", s, errstr, reason);
	assert_int_equal(secs, 12345);
}

static void
test_duration_valid(void **state)
{
	dur_ok("45s", 45);
	dur_ok("1s", 1);
	dur_ok("90m", 90 * 60);
	dur_ok("12h", 12 * 3600);
	dur_ok("30d", 30 * 86400);
	dur_ok("2w", 2 * 7 * 86400);
	dur_ok("007d", 7 * 86400);
	dur_ok("3155760000s", TIMEFMT_DURATION_MAX);
	dur_ok("36525d", TIMEFMT_DURATION_MAX);
	dur_ok("876600h", TIMEFMT_DURATION_MAX);
	dur_ok("5217w", INT64_C(5217) * 604800);
}

static void
test_duration_invalid(void **state)
{
	dur_bad("30", "unit");
	dur_bad("0", "unit");
	dur_bad("", "empty");
	dur_bad("d", "number");
	dur_bad("0d", "greater than zero");
	dur_bad("0s", "greater than zero");
	dur_bad("-5d", "number");
	dur_bad("+5d", "number");
	dur_bad(" 5d", "number");
	dur_bad("5 d", "unit");
	dur_bad("5x", "unknown unit");
	dur_bad("5D", "unknown unit");
	dur_bad("5dd", "one unit");
	dur_bad("5d3h", "one unit");
	dur_bad("1.5d", "one unit");
	dur_bad("3155760001s", "more than 100 years (36525d)");
	dur_bad("36526d", "more than 100 years");
	dur_bad("5218w", "more than 100 years");
	/* Past INT64_MAX seconds, and past it once multiplied. */
	dur_bad("9223372036854775807s", "more than 100 years");
	dur_bad("9223372036854775808s", "more than 100 years");
	dur_bad("153722867280912931m", "more than 100 years");
	dur_bad("15250284452w", "more than 100 years");
	dur_bad("15250284452472w", "more than 100 years");
	dur_bad("99999999999999999999999999999999999999999d", "100 years");
}

static void
iso_is(int64_t t, const char *want)
{
	char	 buf[TIMEFMT_ISO_LEN];
	int64_t	 back = 0;

	timefmt_iso(t, buf, sizeof(buf));
	assert_string_equal(buf, want);
	assert_int_equal(timefmt_parse_iso(buf, &back), 0);
	assert_int_equal(back, t);
}

static void
test_iso(void **state)
{
	iso_is(0, "1970-01-01T00:00:00Z");
	iso_is(1795701900, "2026-11-26T14:05:00Z");
	iso_is(1709251199, "2024-02-29T23:59:59Z");
	iso_is(-1, "1969-12-31T23:59:59Z");
	iso_is(INT64_C(253402300799), "9999-12-31T23:59:59Z");
}

/* The local zone must change nothing: the forms are UTC. */
static void
test_iso_timezone(void **state)
{
	setenv("TZ", "America/New_York", 1);
	tzset();
	iso_is(1795701900, "2026-11-26T14:05:00Z");
	setenv("TZ", "Asia/Kolkata", 1);
	tzset();
	iso_is(1795701900, "2026-11-26T14:05:00Z");
	unsetenv("TZ");
	tzset();
}

static void
test_iso_invalid(void **state)
{
	static const char *const bad[] = {
		"",
		"2026-11-26",
		"2026-11-26T14:05:00",
		"2026-11-26T14:05:00z",
		"2026-11-26 14:05:00Z",
		"2026-11-26T14:05Z",
		"2026-11-26T14:05:00+00:00",
		"2026-11-26T14:05:00Zjunk",
		" 2026-11-26T14:05:00Z",
		"2026-1-26T14:05:00Z",
		"2026-11-26T4:05:00Z",
		"2026-02-30T00:00:00Z",
		"2026-13-01T00:00:00Z",
		"2026-11-26T24:00:00Z",
		"2026-11-26T14:60:00Z",
		"2026-11-26T14:05:60Z",
		"1795701900",
	};
	char	 buf[TIMEFMT_ISO_LEN];
	int64_t	 t;
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t = 777;
		if (timefmt_parse_iso(bad[i], &t) != -1)
			fail_msg("\"%s\" was accepted", bad[i]);
		assert_int_equal(t, 777);
	}

	/* A buffer too small gets no half-written time. */
	timefmt_iso(1795701900, buf, 10);
	assert_null(strstr(buf, "2026-11-2"));
	assert_true(strlen(buf) < 10);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration_valid),
		cmocka_unit_test(test_duration_invalid),
		cmocka_unit_test(test_iso),
		cmocka_unit_test(test_iso_timezone),
		cmocka_unit_test(test_iso_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
