/*
 * usage: the usage table.  A worker's batch goes in as one BEGIN
 * IMMEDIATE transaction of upserts, so that the hot path never writes
 * and a flush every few seconds costs one fsync-free WAL commit; two
 * workers flushing at once queue on the write lock for at most the
 * busy timeout their connection was opened with.  The query is built
 * from fixed fragments chosen by the grouping flags: no user text is
 * ever part of the SQL.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "timefmt.h"
#include "usage.h"

/* As the key store: a flush is short, so a longer wait is a stuck
 * writer. */
#define USAGE_BUSY_MS	10000

#define USAGE_UPSERT							\
	"INSERT INTO usage (key_id, model, day, user, requests, errors,"	\
	" prompt_tokens, completion_tokens, duration_ms)"		\
	" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"				\
	" ON CONFLICT (key_id, model, day, user) DO UPDATE SET"		\
	" requests = requests + excluded.requests,"			\
	" errors = errors + excluded.errors,"				\
	" prompt_tokens = prompt_tokens + excluded.prompt_tokens,"	\
	" completion_tokens = completion_tokens +"			\
	" excluded.completion_tokens,"					\
	" duration_ms = duration_ms + excluded.duration_ms"

sqlite3 *
usage_open(const char *path, char *err, size_t errlen)
{
	sqlite3 *db;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, db != NULL ?
		    sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, USAGE_BUSY_MS);
	return db;
}

int
usage_present(sqlite3 *db)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE"
	    " type = 'table' AND name = 'usage'", -1, &st, NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int
usage_migrate(sqlite3 *db)
{
	return sqlite3_exec(db, USAGE_MIGRATION_SQL, NULL, NULL, NULL) ==
	    SQLITE_OK ? 0 : -1;
}

static int
bind_row(sqlite3_stmt *st, const struct usage_row *r)
{
	return sqlite3_bind_int64(st, 1, r->key_id) != SQLITE_OK ||
	    sqlite3_bind_text(st, 2, r->model, -1, SQLITE_STATIC) !=
	    SQLITE_OK ||
	    sqlite3_bind_text(st, 3, r->day, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(st, 4, r->user, -1, SQLITE_STATIC) !=
	    SQLITE_OK ||
	    sqlite3_bind_int64(st, 5, r->requests) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 6, r->errors) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 7, r->prompt_tokens) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 8, r->completion_tokens) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 9, r->duration_ms) != SQLITE_OK ? -1 : 0;
}

int
usage_flush(sqlite3 *db, const struct usage_row *rows, size_t n)
{
	sqlite3_stmt *st = NULL;
	size_t i;

	if (n == 0)
		return 0;
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(db, USAGE_UPSERT, -1, &st, NULL) != SQLITE_OK)
		goto fail;
	for (i = 0; i < n; i++) {
		if (bind_row(st, &rows[i]) == -1 ||
		    sqlite3_step(st) != SQLITE_DONE)
			goto fail;
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	return 0;
 fail:
	sqlite3_finalize(st);
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/* The grouping columns, in the order they are grouped and sorted. */
static const struct {
	int		 by;
	const char	*col;
	const char	*none;
} usage_cols[] = {
	{ USAGE_BY_KEY, "key_id", "NULL" },
	{ USAGE_BY_MODEL, "model", "''" },
	{ USAGE_BY_DAY, "day", "''" },
	{ USAGE_BY_USER, "user", "''" },
};

#define USAGE_NCOLS	(sizeof(usage_cols) / sizeof(usage_cols[0]))

static void
query_sql(int by, char *sql, size_t len)
{
	char group[128] = "";
	size_t i;

	strlcpy(sql, "SELECT ", len);
	for (i = 0; i < USAGE_NCOLS; i++) {
		strlcat(sql, (by & usage_cols[i].by) ? usage_cols[i].col :
		    usage_cols[i].none, len);
		strlcat(sql, ", ", len);
		if (by & usage_cols[i].by) {
			strlcat(group, group[0] != '\0' ? ", " : "",
			    sizeof(group));
			strlcat(group, usage_cols[i].col, sizeof(group));
		}
	}
	strlcat(sql, "sum(requests), sum(errors), sum(prompt_tokens),"
	    " sum(completion_tokens), sum(duration_ms) FROM usage"
	    " WHERE (?1 = 0 OR key_id = ?1) AND (?2 = '' OR day >= ?2)"
	    " AND (?3 = '' OR day <= ?3)", len);
	if (group[0] != '\0') {
		strlcat(sql, " GROUP BY ", len);
		strlcat(sql, group, len);
		strlcat(sql, " ORDER BY ", len);
		strlcat(sql, group, len);
	} else
		strlcat(sql, " HAVING count(*) > 0", len);
}

static void
text_col(sqlite3_stmt *st, int i, char *buf, size_t len)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	strlcpy(buf, s != NULL ? (const char *)s : "", len);
}

int
usage_query(sqlite3 *db, const struct usage_filter *f,
    int (*cb)(const struct usage_row *, void *), void *arg)
{
	struct usage_row r;
	sqlite3_stmt *st;
	char sql[768];
	int rc;

	query_sql(f->by, sql, sizeof(sql));
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, f->key_id);
	sqlite3_bind_text(st, 2, f->since, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, f->until, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&r, 0, sizeof(r));
		r.key_id = sqlite3_column_type(st, 0) == SQLITE_NULL ?
		    USAGE_KEY_NONE : sqlite3_column_int64(st, 0);
		text_col(st, 1, r.model, sizeof(r.model));
		text_col(st, 2, r.day, sizeof(r.day));
		text_col(st, 3, r.user, sizeof(r.user));
		r.requests = sqlite3_column_int64(st, 4);
		r.errors = sqlite3_column_int64(st, 5);
		r.prompt_tokens = sqlite3_column_int64(st, 6);
		r.completion_tokens = sqlite3_column_int64(st, 7);
		r.duration_ms = sqlite3_column_int64(st, 8);
		if (cb(&r, arg) == -1) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
usage_sums(sqlite3 *db, int64_t key_id, const char *user, const char *day,
    struct usage_sums *s)
{
	sqlite3_stmt *st;
	int rc;

	memset(s, 0, sizeof(*s));
	/* The month's rows sort together: the range is one index scan. */
	rc = sqlite3_prepare_v2(db, "SELECT"
	    " coalesce(sum(CASE WHEN day = ?3 THEN requests END), 0),"
	    " coalesce(sum(CASE WHEN day = ?3 THEN prompt_tokens +"
	    " completion_tokens END), 0),"
	    " coalesce(sum(prompt_tokens + completion_tokens), 0)"
	    " FROM usage WHERE key_id = ?1 AND (?2 IS NULL OR user = ?2)"
	    " AND day >= substr(?3, 1, 8) || '01' AND day <= ?3", -1, &st,
	    NULL);
	if (rc != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, key_id);
	if (user != NULL)
		sqlite3_bind_text(st, 2, user, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, day, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		s->day_requests = sqlite3_column_int64(st, 0);
		s->day_tokens = sqlite3_column_int64(st, 1);
		s->month_tokens = sqlite3_column_int64(st, 2);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

int64_t
usage_prune(sqlite3 *db, const char *before_day)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, "DELETE FROM usage WHERE day < ?", -1,
	    &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, before_day, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? sqlite3_changes(db) : -1;
}

void
usage_day(int64_t t, char day[USAGE_DAY_LEN])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(day, USAGE_DAY_LEN, "%Y-%m-%d", &tm) == 0)
		strlcpy(day, "1970-01-01", USAGE_DAY_LEN);
}

int
usage_parse_day(const char *s, int64_t now, char day[USAGE_DAY_LEN],
    const char **errstr)
{
	char check[USAGE_DAY_LEN];
	struct tm tm;
	int64_t secs;
	size_t i;

	if (strlen(s) == USAGE_DAY_LEN - 1) {
		for (i = 0; i < USAGE_DAY_LEN - 1; i++)
			if ((i == 4 || i == 7) ? s[i] != '-' :
			    !isdigit((unsigned char)s[i]))
				break;
		memset(&tm, 0, sizeof(tm));
		/* A date that timegm moves (02-30) was not a date. */
		if (i == USAGE_DAY_LEN - 1 &&
		    sscanf(s, "%d-%d-%d", &tm.tm_year, &tm.tm_mon,
		    &tm.tm_mday) == 3) {
			tm.tm_year -= 1900;
			tm.tm_mon--;
			usage_day(timegm(&tm), check);
			if (strcmp(check, s) == 0) {
				strlcpy(day, s, USAGE_DAY_LEN);
				return 0;
			}
		}
		*errstr = "not a date (YYYY-MM-DD)";
		return -1;
	}
	if (timefmt_duration(s, &secs, errstr) == -1)
		return -1;
	usage_day(now - secs, day);
	return 0;
}
