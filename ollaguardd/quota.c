/*
 * quota: one table of counters in shared memory, entries found by
 * (key id, user) with open addressing.  Every access holds one
 * process-shared mutex: only keys with quotas come here, and an access
 * is a few loads and stores.  The mutex is robust, so a worker killed
 * while holding it leaves the table usable (the next owner is told and
 * carries on; an entry it was seeding stays unseeded and is seeded
 * again).  Seeding reads the database under the mutex, once per entry
 * per daemon start: that is the one slow step, and it is rare.
 *
 * Periods are UTC days and months of `now` as the caller gives it (the
 * clock-offset setting applies there); an entry seen in a new day or
 * month starts that period from zero.
 */
#include <sys/mman.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "quota.h"
#include "usage.h"

#define QT_SIZE		8192	/* entries; a power of two */
#define QT_PROBE	32

struct qt_entry {
	int64_t		 key;		/* 0: free */
	char		 user[USAGE_USER_MAX];
	int		 seeded;
	int64_t		 day;		/* days since the epoch */
	int64_t		 month;		/* year * 12 + month */
	int64_t		 day_requests;
	int64_t		 day_tokens;
	int64_t		 month_tokens;
};

struct qt_shared {
	pthread_mutex_t	 lock;
	struct qt_entry	 e[QT_SIZE];
};

static struct qt_shared	*qt;

int
quota_init(void)
{
	pthread_mutexattr_t a;
	void *p;

	p = mmap(NULL, sizeof(*qt), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	qt = p;
	if (pthread_mutexattr_init(&a) != 0 ||
	    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED) != 0 ||
	    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST) != 0 ||
	    pthread_mutex_init(&qt->lock, &a) != 0)
		return -1;
	pthread_mutexattr_destroy(&a);
	return 0;
}

static void
qt_lock(void)
{
	if (pthread_mutex_lock(&qt->lock) == EOWNERDEAD)
		pthread_mutex_consistent(&qt->lock);
}

static void
qt_unlock(void)
{
	pthread_mutex_unlock(&qt->lock);
}

static int64_t
qt_month(int64_t now)
{
	time_t t = (time_t)now;
	struct tm tm;

	gmtime_r(&t, &tm);
	return (int64_t)(tm.tm_year + 1900) * 12 + tm.tm_mon;
}

/* Seconds from now to the end of its UTC day, or month. */
static int64_t
qt_period_left(int64_t now, int month)
{
	time_t t = (time_t)now;
	struct tm tm;

	if (!month)
		return 86400 - (now % 86400 + 86400) % 86400;
	gmtime_r(&t, &tm);
	tm.tm_mday = 1;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_mon++;
	return (int64_t)timegm(&tm) - now;
}

static uint64_t
qt_hash(int64_t key, const char *user)
{
	uint64_t h = (uint64_t)key * 0x9e3779b97f4a7c15ULL;

	for (; *user != '\0'; user++)
		h = (h ^ (unsigned char)*user) * 1099511628211ULL;
	return h ^ (h >> 29);
}

/* The entry of (key, user), claimed if new; NULL if there is no room. */
static struct qt_entry *
qt_find(int64_t key, const char *user, int create)
{
	struct qt_entry *e;
	uint64_t h = qt_hash(key, user);
	size_t n;

	for (n = 0; n < QT_PROBE; n++) {
		e = &qt->e[(h + n) & (QT_SIZE - 1)];
		if (e->key == key && strcmp(e->user, user) == 0)
			return e;
		if (e->key != 0)
			continue;
		if (!create)
			return NULL;
		memset(e, 0, sizeof(*e));
		e->key = key;
		strlcpy(e->user, user, sizeof(e->user));
		return e;
	}
	return NULL;
}

/* Brings e to now's periods, seeding it from db first; -1 if db fails. */
static int
qt_current(struct sqlite3 *db, struct qt_entry *e, const char *user,
    int64_t now)
{
	struct usage_sums s;
	char day[USAGE_DAY_LEN];
	int64_t d = now / 86400, m = qt_month(now);

	if (!e->seeded) {
		if (db == NULL)
			return -1;
		usage_day(now, day);
		if (usage_sums(db, e->key, user[0] != '\0' ? user : NULL, day,
		    &s) == -1)
			return -1;
		e->day_requests = s.day_requests;
		e->day_tokens = s.day_tokens;
		e->month_tokens = s.month_tokens;
		e->day = d;
		e->month = m;
		e->seeded = 1;
	}
	if (e->day != d) {
		e->day = d;
		e->day_requests = e->day_tokens = 0;
	}
	if (e->month != m) {
		e->month = m;
		e->month_tokens = 0;
	}
	return 0;
}

int
quota_applies(const struct auth_who *who, const char *user)
{
	return who->key_id > 0 && (who->tokens_per_day != 0 ||
	    who->tokens_per_month != 0 || who->requests_per_day != 0 ||
	    (user != NULL && who->user_tokens_per_day != 0));
}

static int
qt_refuse(struct quota_refusal *r, const char *limit, int64_t n,
    const char *what, int64_t left)
{
	r->status = 429;
	r->limit = limit;
	r->retry_after = left;
	snprintf(r->msg, sizeof(r->msg), "quota %s of %lld %s is spent; it "
	    "renews in %lld s (UTC)", limit, (long long)n, what,
	    (long long)left);
	return -1;
}

/* The checks of one request against the key's and the user's entry. */
static int
qt_check(const struct auth_who *who, const struct qt_entry *k,
    const struct qt_entry *u, int64_t now, struct quota_refusal *r)
{
	if (who->requests_per_day != 0 &&
	    k->day_requests >= who->requests_per_day)
		return qt_refuse(r, "requests-per-day", who->requests_per_day,
		    "requests a day", qt_period_left(now, 0));
	if (who->tokens_per_day != 0 && k->day_tokens >= who->tokens_per_day)
		return qt_refuse(r, "tokens-per-day", who->tokens_per_day,
		    "tokens a day", qt_period_left(now, 0));
	if (who->tokens_per_month != 0 &&
	    k->month_tokens >= who->tokens_per_month)
		return qt_refuse(r, "tokens-per-month", who->tokens_per_month,
		    "tokens a month", qt_period_left(now, 1));
	if (u != NULL && u->day_tokens >= who->user_tokens_per_day)
		return qt_refuse(r, "user-tokens-per-day",
		    who->user_tokens_per_day, "tokens a day for this user",
		    qt_period_left(now, 0));
	return 0;
}

int
quota_admit(struct sqlite3 *db, const struct auth_who *who,
    const char *user, int64_t now, struct quota_refusal *r)
{
	struct qt_entry *k, *u = NULL;
	int rc = 0;

	memset(r, 0, sizeof(*r));
	qt_lock();
	k = qt_find(who->key_id, "", 1);
	if (k != NULL && user != NULL && who->user_tokens_per_day != 0 &&
	    (u = qt_find(who->key_id, user, 1)) == NULL)
		k = NULL;
	if (k == NULL) {
		r->status = 503;
		strlcpy(r->msg, "the quota table is full", sizeof(r->msg));
		rc = -1;
	} else if (qt_current(db, k, "", now) == -1 || (u != NULL &&
	    qt_current(db, u, user, now) == -1)) {
		r->status = 503;
		strlcpy(r->msg, "the usage database is unavailable",
		    sizeof(r->msg));
		rc = -1;
	} else if ((rc = qt_check(who, k, u, now, r)) == 0) {
		k->day_requests++;
		if (u != NULL)
			u->day_requests++;
	}
	qt_unlock();
	return rc;
}

void
quota_spend(const struct auth_who *who, const char *user, int64_t tokens,
    int64_t now)
{
	struct qt_entry *e;

	if (tokens <= 0)
		return;
	qt_lock();
	if ((e = qt_find(who->key_id, "", 0)) != NULL && e->seeded &&
	    qt_current(NULL, e, "", now) == 0) {
		e->day_tokens += tokens;
		e->month_tokens += tokens;
	}
	if (user != NULL && (e = qt_find(who->key_id, user, 0)) != NULL &&
	    e->seeded && qt_current(NULL, e, user, now) == 0) {
		e->day_tokens += tokens;
		e->month_tokens += tokens;
	}
	qt_unlock();
}
