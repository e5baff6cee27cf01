/*
 * test_daemon_quota: the shared quota counters: seeded from the usage
 * table, requests counted when admitted and tokens when spent, each
 * quota refused with its name and the seconds left in its period, a new
 * UTC day or month starting from zero, users apart from their key, and
 * a database that cannot seed failing closed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "auth.h"
#include "quota.h"
#include "usage.h"

#define T0	1772366400	/* 2026-03-01T12:00:00Z */

static sqlite3	*db;

static int
setup(void **state)
{
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_int_equal(usage_migrate(db), 0);
	assert_int_equal(quota_init(), 0);
	return 0;
}

static int
teardown(void **state)
{
	sqlite3_close(db);
	return 0;
}

static void
who_key(struct auth_who *w, int64_t id)
{
	memset(w, 0, sizeof(*w));
	w->key_id = id;
}

static void
test_applies(void **state)
{
	struct auth_who w;

	who_key(&w, 1);
	assert_false(quota_applies(&w, NULL));
	w.user_tokens_per_day = 5;
	assert_false(quota_applies(&w, NULL));
	assert_true(quota_applies(&w, "ann"));
	who_key(&w, 0);
	w.tokens_per_day = 5;
	assert_false(quota_applies(&w, NULL));	/* master: never */
}

static void
test_seed_and_tokens(void **state)
{
	struct usage_row r;
	struct auth_who w;
	struct quota_refusal q;

	memset(&r, 0, sizeof(r));
	r.key_id = 2;
	usage_day(T0, r.day);
	r.requests = 1;
	r.prompt_tokens = 600;
	r.completion_tokens = 300;
	assert_int_equal(usage_flush(db, &r, 1), 0);
	who_key(&w, 2);
	w.tokens_per_day = 1000;
	assert_int_equal(quota_admit(db, &w, NULL, T0, &q), 0);
	quota_spend(&w, NULL, 99, T0);
	assert_int_equal(quota_admit(db, &w, NULL, T0, &q), 0);
	quota_spend(&w, NULL, 1, T0);
	assert_int_equal(quota_admit(db, &w, NULL, T0, &q), -1);
	assert_int_equal(q.status, 429);
	assert_string_equal(q.limit, "tokens-per-day");
	assert_int_equal(q.retry_after, 12 * 3600);
	/* The next UTC day starts from zero; the month does not. */
	w.tokens_per_month = 1500;
	assert_int_equal(quota_admit(db, &w, NULL, T0 + 86400, &q), 0);
	quota_spend(&w, NULL, 500, T0 + 86400);
	assert_int_equal(quota_admit(db, &w, NULL, T0 + 86400, &q), -1);
	assert_string_equal(q.limit, "tokens-per-month");
	assert_int_equal(q.retry_after, 31 * 86400 - 12 * 3600 - 86400);
}

static void
test_requests_per_day(void **state)
{
	struct auth_who w;
	struct quota_refusal q;

	who_key(&w, 3);
	w.requests_per_day = 2;
	assert_int_equal(quota_admit(db, &w, NULL, T0, &q), 0);
	assert_int_equal(quota_admit(db, &w, NULL, T0, &q), 0);
	assert_int_equal(quota_admit(db, &w, NULL, T0, &q), -1);
	assert_string_equal(q.limit, "requests-per-day");
	assert_non_null(strstr(q.msg, "requests-per-day"));
}

static void
test_users_apart(void **state)
{
	struct auth_who w;
	struct quota_refusal q;

	who_key(&w, 4);
	w.trust_user_header = 1;
	w.user_tokens_per_day = 10;
	assert_int_equal(quota_admit(db, &w, "ann", T0, &q), 0);
	quota_spend(&w, "ann", 10, T0);
	assert_int_equal(quota_admit(db, &w, "ann", T0, &q), -1);
	assert_string_equal(q.limit, "user-tokens-per-day");
	assert_int_equal(quota_admit(db, &w, "ben", T0, &q), 0);
}

static void
test_fails_closed(void **state)
{
	struct auth_who w;
	struct quota_refusal q;

	who_key(&w, 5);
	w.tokens_per_day = 10;
	assert_int_equal(quota_admit(NULL, &w, NULL, T0, &q), -1);
	assert_int_equal(q.status, 503);
	/* Not seeded yet: the next try seeds it. */
	assert_int_equal(quota_admit(db, &w, NULL, T0, &q), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_applies),
		cmocka_unit_test(test_seed_and_tokens),
		cmocka_unit_test(test_requests_per_day),
		cmocka_unit_test(test_users_apart),
		cmocka_unit_test(test_fails_closed),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
