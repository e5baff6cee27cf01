/*
 * test_usage: the usage table: the migration on a fresh file, batched
 * upserts, grouped queries, quota sums, pruning, the day arguments, and
 * two processes flushing into one file at once.
 */
#include <sys/wait.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "usage.h"

static char	 dir[] = "/tmp/test_usage.XXXXXX";
static char	 path[64];
static int	 nfile;

static sqlite3 *
open_db(void)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	assert_int_equal(sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL,
	    NULL, NULL), SQLITE_OK);
	return db;
}

static int
setup(void **state)
{
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/u%d.db", dir, nfile++);
	db = open_db();
	assert_int_equal(usage_migrate(db), 0);
	/* Running it again changes nothing. */
	assert_int_equal(usage_migrate(db), 0);
	*state = db;
	return 0;
}

static int
teardown(void **state)
{
	sqlite3_close(*state);
	return 0;
}

static struct usage_row
row(int64_t key, const char *model, const char *day, const char *user,
    int64_t req, int64_t err, int64_t p, int64_t c)
{
	struct usage_row r;

	memset(&r, 0, sizeof(r));
	r.key_id = key;
	strlcpy(r.model, model, sizeof(r.model));
	strlcpy(r.day, day, sizeof(r.day));
	strlcpy(r.user, user, sizeof(r.user));
	r.requests = req;
	r.errors = err;
	r.prompt_tokens = p;
	r.completion_tokens = c;
	r.duration_ms = 10 * req;
	return r;
}

struct got {
	struct usage_row rows[16];
	int n;
};

static int
collect(const struct usage_row *r, void *arg)
{
	struct got *g = arg;

	assert_true(g->n < 16);
	g->rows[g->n++] = *r;
	return 0;
}

static void
query(sqlite3 *db, int64_t key, const char *since, const char *until,
    int by, struct got *g)
{
	struct usage_filter f;

	memset(&f, 0, sizeof(f));
	memset(g, 0, sizeof(*g));
	f.key_id = key;
	strlcpy(f.since, since, sizeof(f.since));
	strlcpy(f.until, until, sizeof(f.until));
	f.by = by;
	assert_int_equal(usage_query(db, &f, collect, g), 0);
}

static void
seed(sqlite3 *db)
{
	struct usage_row r[] = {
		row(1, "llama3", "2026-03-01", "", 2, 0, 10, 20),
		row(1, "llama3", "2026-03-02", "", 1, 1, 5, 5),
		row(1, "qwen2", "2026-03-02", "ann", 3, 0, 30, 30),
		row(2, "llama3", "2026-02-28", "", 4, 0, 40, 0),
		/* The same group twice in one batch adds up. */
		row(1, "llama3", "2026-03-01", "", 1, 0, 1, 1),
	};

	assert_int_equal(usage_flush(db, r, 5), 0);
}

static void
test_flush_and_group(void **state)
{
	sqlite3 *db = *state;
	struct got g;

	seed(db);
	seed(db);	/* a second flush adds to the same rows */
	query(db, 0, "", "", USAGE_BY_KEY, &g);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.rows[0].key_id, 1);
	assert_int_equal(g.rows[0].requests, 14);
	assert_int_equal(g.rows[0].errors, 2);
	assert_int_equal(g.rows[0].prompt_tokens, 92);
	assert_int_equal(g.rows[0].completion_tokens, 112);
	assert_int_equal(g.rows[0].duration_ms, 140);
	assert_string_equal(g.rows[0].model, "");
	assert_int_equal(g.rows[1].key_id, 2);
	assert_int_equal(g.rows[1].requests, 8);

	query(db, 0, "", "", USAGE_BY_MODEL, &g);
	assert_int_equal(g.n, 2);
	assert_true(g.rows[0].key_id == USAGE_KEY_NONE);
	assert_string_equal(g.rows[0].model, "llama3");
	assert_int_equal(g.rows[0].requests, 16);
	assert_string_equal(g.rows[1].model, "qwen2");

	query(db, 1, "", "", USAGE_BY_DAY | USAGE_BY_USER, &g);
	assert_int_equal(g.n, 3);
	assert_string_equal(g.rows[0].day, "2026-03-01");
	assert_string_equal(g.rows[1].day, "2026-03-02");
	assert_string_equal(g.rows[1].user, "");
	assert_string_equal(g.rows[2].user, "ann");

	/* Days are inclusive at both ends. */
	query(db, 0, "2026-03-01", "2026-03-01", 0, &g);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.rows[0].requests, 6);
	query(db, 0, "2026-03-03", "", 0, &g);
	assert_int_equal(g.n, 0);
}

static void
test_sums_and_prune(void **state)
{
	sqlite3 *db = *state;
	struct usage_sums s;
	struct got g;

	seed(db);
	assert_int_equal(usage_sums(db, 1, NULL, "2026-03-02", &s), 0);
	assert_int_equal(s.day_requests, 4);
	assert_int_equal(s.day_tokens, 70);
	assert_int_equal(s.month_tokens, 102);
	assert_int_equal(usage_sums(db, 1, "ann", "2026-03-02", &s), 0);
	assert_int_equal(s.day_tokens, 60);
	/* February's tokens are not March's. */
	assert_int_equal(usage_sums(db, 2, NULL, "2026-03-01", &s), 0);
	assert_int_equal(s.month_tokens, 0);
	assert_int_equal(usage_sums(db, 9, NULL, "2026-03-01", &s), 0);
	assert_int_equal(s.day_requests, 0);

	assert_int_equal(usage_prune(db, "2026-03-02"), 2);
	query(db, 0, "", "", USAGE_BY_DAY, &g);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.rows[0].day, "2026-03-02");
	assert_int_equal(usage_prune(db, "2026-03-02"), 0);
}

static void
test_bad_rows_roll_back(void **state)
{
	sqlite3 *db = *state;
	struct usage_row r[2] = {
		row(1, "m", "2026-01-01", "", 1, 0, 1, 1),
		row(1, "m", "not-a-day!", "", 1, 0, 1, 1),
	};
	struct got g;

	/* All or nothing: the good row is not kept either. */
	assert_int_equal(usage_flush(db, r, 2), -1);
	query(db, 0, "", "", 0, &g);
	assert_int_equal(g.n, 0);
	assert_int_equal(usage_flush(db, r, 1), 0);
	assert_int_equal(usage_flush(db, r, 0), 0);
}

static void
test_days(void **state)
{
	char day[USAGE_DAY_LEN];
	const char *errstr;

	usage_day(0, day);
	assert_string_equal(day, "1970-01-01");
	usage_day(1772323200 + 86399, day);	/* 2026-03-01T23:59:59Z */
	assert_string_equal(day, "2026-03-01");
	assert_int_equal(usage_parse_day("2026-03-01", 0, day, &errstr), 0);
	assert_string_equal(day, "2026-03-01");
	assert_int_equal(usage_parse_day("30d", 1772323200, day, &errstr),
	    0);
	assert_string_equal(day, "2026-01-30");
	assert_int_equal(usage_parse_day("2026-02-30", 0, day, &errstr), -1);
	assert_int_equal(usage_parse_day("2026-3-01x", 0, day, &errstr), -1);
	assert_int_equal(usage_parse_day("'; DROP", 0, day, &errstr), -1);
	assert_int_equal(usage_parse_day("", 0, day, &errstr), -1);
}

#define FLUSHES	200

/* Two processes, each with its own connection, flush into one file. */
static void
test_two_processes(void **state)
{
	sqlite3 *db = *state, *mine;
	struct usage_row r[2];
	struct got g;
	pid_t pid[2];
	int i, k, status;

	for (k = 0; k < 2; k++) {
		if ((pid[k] = fork()) == 0) {
			mine = open_db();
			r[0] = row(1, "m", "2026-03-01", "", 1, 0, 2, 3);
			r[1] = row(k + 2, "m", "2026-03-01", "", 1, 0, 1, 1);
			for (i = 0; i < FLUSHES; i++)
				if (usage_flush(mine, r, 2) == -1)
					_exit(1);
			sqlite3_close(mine);
			_exit(0);
		}
		assert_true(pid[k] > 0);
	}
	for (k = 0; k < 2; k++) {
		assert_int_equal(waitpid(pid[k], &status, 0), pid[k]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	query(db, 0, "", "", USAGE_BY_KEY, &g);
	assert_int_equal(g.n, 3);
	assert_int_equal(g.rows[0].requests, 2 * FLUSHES);
	assert_int_equal(g.rows[0].prompt_tokens, 4 * FLUSHES);
	assert_int_equal(g.rows[0].completion_tokens, 6 * FLUSHES);
	assert_int_equal(g.rows[1].requests, FLUSHES);
	assert_int_equal(g.rows[2].requests, FLUSHES);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_flush_and_group, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_sums_and_prune, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_rows_roll_back, setup,
		    teardown),
		cmocka_unit_test(test_days),
		cmocka_unit_test_setup_teardown(test_two_processes, setup,
		    teardown),
	};
	char cmd[128];
	int rc;

	if (mkdtemp(dir) == NULL)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
