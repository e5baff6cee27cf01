/*
 * keylimit: a fixed table in shared memory, keyed by key id with open
 * addressing, updated without locks by compare-and-swap, so a worker
 * killed at any instant leaves nothing locked.
 *
 * The rate is GCRA, the token bucket kept as one number: the
 * theoretical arrival time (tat) of the next request.  Each request
 * moves it on by one interval (60 s / rpm); a request is refused when
 * that would put tat more than rpm intervals ahead of now, which allows
 * a burst of rpm and then one request per interval.  One word, one CAS.
 *
 * Concurrency is a count per key.  A worker first notes the entry in
 * its own cell, then takes a unit of the count; the master, after
 * waitpid(), gives back whatever a dead worker's cell names.  A worker
 * killed between those two steps (a few instructions) makes the master
 * give back a unit never taken: the count is kept from going below
 * zero, and the error is one request more allowed until the key is
 * idle again, never a slot lost for good.
 *
 * An entry is reused by another key only when it has nothing in flight
 * and has not been used for LIM_STALE_NS: its bucket is full again by
 * then, so forgetting it changes nothing.
 */
#include <sys/mman.h>

#include <string.h>
#include <time.h>

#include "keylimit.h"

#define LIM_SIZE	8192	/* entries; a power of two */
#define LIM_PROBE	16
#define LIM_MINUTE_NS	60000000000LL
#define LIM_STALE_NS	(2 * LIM_MINUTE_NS)

struct lim_entry {
	int64_t		 key;		/* 0: never used */
	int64_t		 tat;		/* ns, CLOCK_MONOTONIC */
	int64_t		 last;		/* ns of the last use */
	uint32_t	 inflight;
};

static struct lim_entry	*table;
static int64_t		*held;		/* per slot: entry index + 1 */
static int		 nslots;

int
keylimit_init(int n)
{
	size_t len = LIM_SIZE * sizeof(*table) + (size_t)n * sizeof(*held);
	void *p;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	    -1, 0);
	if (p == MAP_FAILED)
		return -1;
	table = p;
	held = (int64_t *)(table + LIM_SIZE);
	nslots = n;
	return 0;
}

int64_t
keylimit_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static uint64_t
mix(int64_t key)
{
	uint64_t h = (uint64_t)key * 0x9e3779b97f4a7c15ULL;

	return h ^ (h >> 29);
}

/* The entry of key, claimed (or taken over from a stale key) if new. */
static struct lim_entry *
entry(int64_t key, int64_t now, int create)
{
	struct lim_entry *e;
	int64_t seen;
	size_t i, n;

	for (n = 0; n < LIM_PROBE; n++) {
		i = (size_t)((mix(key) + n) & (LIM_SIZE - 1));
		e = &table[i];
		seen = __atomic_load_n(&e->key, __ATOMIC_ACQUIRE);
		if (seen == key)
			return e;
		if (!create)
			continue;
		if (seen != 0 && (__atomic_load_n(&e->inflight,
		    __ATOMIC_ACQUIRE) != 0 || __atomic_load_n(&e->last,
		    __ATOMIC_ACQUIRE) > now - LIM_STALE_NS))
			continue;
		if (!__atomic_compare_exchange_n(&e->key, &seen, key, 0,
		    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			continue;
		__atomic_store_n(&e->tat, 0, __ATOMIC_RELEASE);
		__atomic_store_n(&e->last, now, __ATOMIC_RELEASE);
		return e;
	}
	return NULL;
}

/* One unit back, never below zero. */
static void
put_unit(struct lim_entry *e)
{
	uint32_t cur = __atomic_load_n(&e->inflight, __ATOMIC_ACQUIRE);

	while (cur > 0 && !__atomic_compare_exchange_n(&e->inflight, &cur,
	    cur - 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		;
}

static int
take_unit(int slot, struct lim_entry *e, uint32_t max)
{
	uint32_t cur;

	/* Noted first, so that the master can give it back. */
	__atomic_store_n(&held[slot], (int64_t)(e - table) + 1,
	    __ATOMIC_SEQ_CST);
	cur = __atomic_load_n(&e->inflight, __ATOMIC_ACQUIRE);
	do {
		if (cur >= max) {
			__atomic_store_n(&held[slot], 0, __ATOMIC_RELEASE);
			return -1;
		}
	} while (!__atomic_compare_exchange_n(&e->inflight, &cur, cur + 1, 0,
	    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
	return 0;
}

/* GCRA: 0, or -1 with the seconds until a request would pass. */
static int
take_token(struct lim_entry *e, uint32_t rpm, int64_t now, int *retry)
{
	int64_t interval = LIM_MINUTE_NS / rpm, limit = interval * rpm;
	int64_t tat, next, wait;

	tat = __atomic_load_n(&e->tat, __ATOMIC_ACQUIRE);
	do {
		next = (tat > now ? tat : now) + interval;
		if (next - now > limit) {
			wait = next - now - limit;
			*retry = (int)((wait + 999999999) / 1000000000);
			return -1;
		}
	} while (!__atomic_compare_exchange_n(&e->tat, &tat, next, 0,
	    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
	return 0;
}

enum keylimit_result
keylimit_acquire(int slot, int64_t key_id, uint32_t rpm, uint32_t concurrency,
    int64_t now, int *retry_after)
{
	struct lim_entry *e;

	*retry_after = 0;
	/* Key id 0 (the master key, open mode) has no limits. */
	if ((rpm == 0 && concurrency == 0) || key_id <= 0)
		return KEYLIMIT_OK;
	if (slot < 0 || slot >= nslots ||
	    (e = entry(key_id, now, 1)) == NULL) {
		/* No room to count: refuse rather than not count. */
		*retry_after = 1;
		return KEYLIMIT_CONCURRENCY;
	}
	__atomic_store_n(&e->last, now, __ATOMIC_RELEASE);
	if (concurrency > 0 && take_unit(slot, e, concurrency) == -1) {
		*retry_after = 1;
		return KEYLIMIT_CONCURRENCY;
	}
	if (rpm > 0 && take_token(e, rpm, now, retry_after) == -1) {
		keylimit_release(slot);
		return KEYLIMIT_RATE;
	}
	/* Taken over by another key meanwhile: count again. */
	if (__atomic_load_n(&e->key, __ATOMIC_ACQUIRE) != key_id) {
		keylimit_release(slot);
		return keylimit_acquire(slot, key_id, rpm, concurrency, now,
		    retry_after);
	}
	return KEYLIMIT_OK;
}

void
keylimit_release(int slot)
{
	int64_t idx;

	if (slot < 0 || slot >= nslots)
		return;
	idx = __atomic_exchange_n(&held[slot], 0, __ATOMIC_ACQ_REL);
	if (idx > 0 && idx <= LIM_SIZE)
		put_unit(&table[idx - 1]);
}

void
keylimit_release_dead(int slot)
{
	keylimit_release(slot);
}

uint32_t
keylimit_inflight(int64_t key_id)
{
	struct lim_entry *e;

	if ((e = entry(key_id, 0, 0)) == NULL)
		return 0;
	return __atomic_load_n(&e->inflight, __ATOMIC_ACQUIRE);
}
