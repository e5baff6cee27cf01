/*
 * test_daemon_usagebuf: a worker's usage table: requests of one group
 * add up, the day follows the clock, a full table counts in the
 * overflow row and asks for a flush, and a failed flush keeps the rows.
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

#include "usage.h"
#include "usagebuf.h"

#define T0	1772323200	/* 2026-03-01T00:00:00Z */

static sqlite3	*db;

struct totals {
	int64_t	 requests, errors, prompt, completion, duration;
	int	 n;
	int64_t	 overflow_requests;
};

static int
sum(const struct usage_row *r, void *arg)
{
	struct totals *t = arg;

	t->n++;
	t->requests += r->requests;
	t->errors += r->errors;
	t->prompt += r->prompt_tokens;
	t->completion += r->completion_tokens;
	t->duration += r->duration_ms;
	if (r->key_id == USAGEBUF_OVERFLOW_KEY)
		t->overflow_requests += r->requests;
	return 0;
}

static void
totals(int by, struct totals *t)
{
	struct usage_filter f;

	memset(&f, 0, sizeof(f));
	memset(t, 0, sizeof(*t));
	f.by = by;
	assert_int_equal(usage_query(db, &f, sum, t), 0);
}

static int
setup(void **state)
{
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_int_equal(usage_migrate(db), 0);
	usagebuf_init(T0);
	return 0;
}

static int
teardown(void **state)
{
	sqlite3_close(db);
	return 0;
}

static void
test_groups(void **state)
{
	struct totals t;

	usagebuf_add(1, "llama3", NULL, T0, 0, 10, 20, 100);
	usagebuf_add(1, "llama3", "", T0 + 1, 1, 1, 2, 3);
	usagebuf_add(1, "llama3", "ann", T0 + 1, 0, 1, 1, 1);
	usagebuf_add(2, NULL, NULL, T0 + 1, 0, 0, 0, 5);
	/* The next UTC day is another row. */
	usagebuf_add(1, "llama3", NULL, T0 + 86400, 0, 1, 1, 1);
	assert_int_equal(usagebuf_rows(), 4);
	assert_false(usagebuf_due(T0 + 1));
	assert_true(usagebuf_due(T0 + USAGEBUF_FLUSH_SECS));
	assert_int_equal(usagebuf_flush(db, T0 + 2), 0);
	assert_int_equal(usagebuf_rows(), 0);
	assert_false(usagebuf_due(T0 + 100));	/* nothing to write */
	totals(USAGE_BY_KEY | USAGE_BY_MODEL | USAGE_BY_DAY | USAGE_BY_USER,
	    &t);
	assert_int_equal(t.n, 4);
	assert_int_equal(t.requests, 5);
	assert_int_equal(t.errors, 1);
	assert_int_equal(t.prompt, 13);
	assert_int_equal(t.completion, 24);
	assert_int_equal(t.duration, 110);
	/* Flushed rows are not written twice. */
	usagebuf_add(1, "llama3", NULL, T0, 0, 1, 0, 0);
	assert_int_equal(usagebuf_flush(db, T0 + 4), 0);
	totals(0, &t);
	assert_int_equal(t.requests, 6);
}

static void
test_overflow(void **state)
{
	struct totals t;
	char model[32];
	int i, n = USAGEBUF_ROWS + 100;

	for (i = 0; i < n; i++) {
		snprintf(model, sizeof(model), "m%d", i);
		usagebuf_add(7, model, NULL, T0, 0, 1, 1, 0);
	}
	assert_int_equal(usagebuf_rows(), USAGEBUF_ROWS);
	assert_int_equal(usagebuf_overflows(), n - (USAGEBUF_ROWS - 1));
	assert_true(usagebuf_due(T0));
	/* A group already held still finds its row. */
	usagebuf_add(7, "m0", NULL, T0, 0, 1, 1, 0);
	/* Full, on another day: the overflow row takes it. */
	usagebuf_add(8, "x", NULL, T0 + 86400, 0, 1, 1, 0);
	assert_int_equal(usagebuf_flush(db, T0), 0);
	totals(USAGE_BY_KEY, &t);
	assert_int_equal(t.requests, n + 2);
	assert_int_equal(t.prompt, n + 2);
	assert_int_equal(t.overflow_requests, n - (USAGEBUF_ROWS - 1) + 1);
}

static void
test_failed_flush_keeps_rows(void **state)
{
	struct totals t;

	usagebuf_add(1, "m", NULL, T0, 0, 3, 4, 0);
	assert_int_equal(sqlite3_exec(db, "ALTER TABLE usage RENAME TO u2",
	    NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(usagebuf_flush(db, T0 + 2), -1);
	assert_int_equal(usagebuf_rows(), 1);
	assert_int_equal(sqlite3_exec(db, "ALTER TABLE u2 RENAME TO usage",
	    NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(usagebuf_flush(db, T0 + 4), 0);
	totals(0, &t);
	assert_int_equal(t.completion, 4);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_groups, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overflow, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_failed_flush_keeps_rows,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
