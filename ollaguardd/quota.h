/*
 * quota: a key's daily and monthly budgets (requests-per-day,
 * tokens-per-day, tokens-per-month) and, for a key that trusts Open
 * WebUI's user header, each user's tokens-per-day, enforced across all
 * workers by counters in memory the master maps before the first fork.
 *
 * A key's counters are seeded from the usage table (usage_sums) the
 * first time any worker sees it after the daemon started; from then on
 * requests are counted when admitted and tokens when their response
 * ends.  A request already running is never cut, so a budget is
 * overshot by at most what the requests in flight when it ran out
 * spent.  Keys without quotas never touch the table.
 */
#ifndef QUOTA_H
#define QUOTA_H

#include <stddef.h>
#include <stdint.h>

struct auth_who;
struct sqlite3;

/* A refusal: the status (429, or 503 when the counters cannot be
 * seeded or have no room), the quota's name and its message, and the
 * seconds until the period ends. */
struct quota_refusal {
	int		 status;
	const char	*limit;		/* "tokens-per-day", ... */
	char		 msg[256];
	int64_t		 retry_after;
};

/* Master, before the first fork.  -1 on failure. */
int	quota_init(void);
/* 1 if who (with user, NULL for none) has any quota to check. */
int	quota_applies(const struct auth_who *, const char *user);
/*
 * Admits one request at now (seconds, clock offset applied): 0 and the
 * request counted, or -1 with r filled.  db seeds counters not seen
 * since the start.
 */
int	quota_admit(struct sqlite3 *db, const struct auth_who *,
	    const char *user, int64_t now, struct quota_refusal *r);
/* The tokens an admitted request spent, when it ends. */
void	quota_spend(const struct auth_who *, const char *user,
	    int64_t tokens, int64_t now);

#endif
