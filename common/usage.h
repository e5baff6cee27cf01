/*
 * usage: the usage table in the key database: requests, errors and
 * tokens per key, model, UTC day and (for keys that trust a user
 * header) user.  Workers add to it in batches (usage_flush); keyctl
 * reads it grouped (usage_query); the daemon seeds its quota counters
 * from it (usage_sums) and prunes it (usage_prune), never on the hot
 * path.  Nothing here logs; errors are the connection's sqlite3_errmsg.
 */
#ifndef USAGE_H
#define USAGE_H

#include <stddef.h>
#include <stdint.h>

struct sqlite3;

#define USAGE_MODEL_MAX		128
#define USAGE_USER_MAX		128
#define USAGE_DAY_LEN		sizeof("YYYY-MM-DD")

/*
 * The migration that creates the table, one step of the key database's
 * chain (the step to user_version 4, after the key policy's 3): append
 * USAGE_MIGRATION_SQL to the migrations array of common/keyfile.c and
 * raise KEYSTORE_SCHEMA_VERSION to 4.  It may run on a file that has
 * the table already (usage_migrate made it), hence IF NOT EXISTS.
 */
#define USAGE_MIGRATION_SQL						\
	"CREATE TABLE IF NOT EXISTS usage ("				\
	"    key_id INTEGER NOT NULL,"					\
	"    model TEXT NOT NULL DEFAULT '',"				\
	"    day TEXT NOT NULL CHECK (day GLOB"			\
	"        '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),"		\
	"    user TEXT NOT NULL DEFAULT '',"				\
	"    requests INTEGER NOT NULL DEFAULT 0,"			\
	"    errors INTEGER NOT NULL DEFAULT 0,"				\
	"    prompt_tokens INTEGER NOT NULL DEFAULT 0,"			\
	"    completion_tokens INTEGER NOT NULL DEFAULT 0,"		\
	"    duration_ms INTEGER NOT NULL DEFAULT 0,"			\
	"    PRIMARY KEY (key_id, model, day, user)"			\
	") WITHOUT ROWID;"						\
	"CREATE INDEX IF NOT EXISTS usage_day ON usage (day);"

/* Key ids that are no key of the table. */
#define USAGE_KEY_MASTER	0	/* the master key, or open mode */
#define USAGE_KEY_OTHER		-1	/* a worker's table overflowed */
#define USAGE_KEY_NONE		INT64_MIN	/* a query not by key */

/* One row: a group's sums, or a batch's counts to add. */
struct usage_row {
	int64_t		 key_id;
	char		 model[USAGE_MODEL_MAX];
	char		 day[USAGE_DAY_LEN];
	char		 user[USAGE_USER_MAX];
	int64_t		 requests;
	int64_t		 errors;
	int64_t		 prompt_tokens;
	int64_t		 completion_tokens;
	int64_t		 duration_ms;
};

/* usage_query grouping, or'ed; 0 groups everything into one row. */
#define USAGE_BY_KEY	0x01
#define USAGE_BY_MODEL	0x02
#define USAGE_BY_DAY	0x04
#define USAGE_BY_USER	0x08

struct usage_filter {
	int64_t		 key_id;	/* 0: every key */
	char		 since[USAGE_DAY_LEN];	/* "" : from the start */
	char		 until[USAGE_DAY_LEN];	/* "" : to the end; inclusive */
	int		 by;
};

/* Sums for the quota counters. */
struct usage_sums {
	int64_t		 day_requests;
	int64_t		 day_tokens;		/* prompt + completion */
	int64_t		 month_tokens;
};

/* A connection of its own to an existing database file, waiting up to
 * 10 s on a writer; NULL with a message in err. */
struct sqlite3 *usage_open(const char *path, char *err, size_t errlen);
/* 1 if the file has the usage table (it is older than schema 4 if not),
 * 0 if not, -1 on error. */
int	usage_present(struct sqlite3 *);
/* Runs USAGE_MIGRATION_SQL outside the chain (tests, tools); 0 or -1. */
int	usage_migrate(struct sqlite3 *);
/* Adds n rows in one transaction; all or nothing.  0, or -1 (the rows
 * are still the caller's to try again). */
int	usage_flush(struct sqlite3 *, const struct usage_row *, size_t n);
/* Calls cb once per group in grouping order; stops early if cb returns
 * -1.  0, or -1 on a database error. */
int	usage_query(struct sqlite3 *, const struct usage_filter *,
	    int (*cb)(const struct usage_row *, void *), void *arg);
/* The sums of key_id for day and day's month; user NULL: all users. */
int	usage_sums(struct sqlite3 *, int64_t key_id, const char *user,
	    const char *day, struct usage_sums *);
/* Deletes the days before the given one; the number of rows, or -1. */
int64_t	usage_prune(struct sqlite3 *, const char *before_day);

/* The UTC day of t, as YYYY-MM-DD. */
void	usage_day(int64_t t, char day[USAGE_DAY_LEN]);
/* "30d" (that many days before now's day) or "YYYY-MM-DD" (a real
 * date) into day; -1 with *errstr on anything else. */
int	usage_parse_day(const char *s, int64_t now, char day[USAGE_DAY_LEN],
	    const char **errstr);

#endif
