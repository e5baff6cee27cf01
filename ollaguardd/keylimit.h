/*
 * keylimit: per-key rate (requests per minute, a token bucket whose burst
 * is the rate) and concurrency (requests in flight), shared by all
 * workers in memory the master maps before the first fork.  The limits
 * themselves come with each call, from the caller's view of the key
 * store, so a change applies on the next request; only the counts live
 * here.  Keys without limits never touch the table.
 *
 * A worker holds at most one concurrency slot (it serves one request at
 * a time) and records which in its own cell, indexed like the
 * scoreboard.  When a worker dies, even by SIGKILL, the master gives
 * its slot back after waitpid():
 *
 *	master.c reap(), before sb_clear(i):	keylimit_release_dead(i);
 */
#ifndef KEYLIMIT_H
#define KEYLIMIT_H

#include <stdint.h>

enum keylimit_result {
	KEYLIMIT_OK,
	KEYLIMIT_RATE,		/* 429: rpm spent; Retry-After given */
	KEYLIMIT_CONCURRENCY	/* 429: too many in flight (or no room) */
};

/* Master, before the first fork: one cell per worker slot. -1 on
 * failure. */
int	keylimit_init(int nslots);
/*
 * Worker slot `slot` starts a request of key_id with these limits (0:
 * none).  On a refusal, *retry_after is the seconds to wait.  After
 * KEYLIMIT_OK, keylimit_release(slot) must follow when the request ends
 * (answered, failed, or its client gone).
 */
enum keylimit_result keylimit_acquire(int slot, int64_t key_id, uint32_t rpm,
	    uint32_t concurrency, int64_t now_ns, int *retry_after);
/* Worker: gives back the concurrency slot it holds, if any. */
void	keylimit_release(int slot);
/* Master, after waitpid() collected slot's worker. */
void	keylimit_release_dead(int slot);
/* Requests of key_id in flight (for tests and the status page). */
uint32_t keylimit_inflight(int64_t key_id);
/* CLOCK_MONOTONIC in nanoseconds: one clock for every process. */
int64_t	keylimit_now_ns(void);

#endif
