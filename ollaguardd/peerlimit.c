/*
 * peerlimit: a fixed table in shared memory, keyed by a 64-bit hash of
 * the client address, with open addressing.  Workers update it without
 * locks, with atomic operations: two workers racing over the same
 * address may each see a count one short, which moves a limit by one
 * request, never lets a wrong key pass, and costs no lock on the hot
 * path.  Windows are whole minutes (now / 60), so an entry from an
 * earlier minute is stale and may be reused by another address.
 */
#include <sys/mman.h>

#include <string.h>

#include "peerlimit.h"
#include "scoreboard.h"

#define PL_SIZE		4096	/* entries; a power of two */
#define PL_PROBE	8
#define PL_EVENTS	2

struct pl_entry {
	uint64_t	 key;		/* 0: never used */
	int64_t		 window;	/* minute the counts belong to */
	uint32_t	 fails;
	int64_t		 logged[PL_EVENTS];	/* minute last logged */
};

static struct pl_entry	*table;

int
peerlimit_init(void)
{
	void *p;

	p = mmap(NULL, PL_SIZE * sizeof(*table), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	table = p;
	return 0;
}

/* FNV-1a; never 0, which marks a free entry. */
static uint64_t
hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h != 0 ? h : 1;
}

/* The entry for addr in window, claimed or reset as needed. */
static struct pl_entry *
entry(const char *addr, int64_t window)
{
	struct pl_entry *e;
	uint64_t key = hash(addr), seen;
	int64_t w;
	size_t i, n;

	for (n = 0; n < PL_PROBE; n++) {
		i = (size_t)((key + n) & (PL_SIZE - 1));
		e = &table[i];
		seen = __atomic_load_n(&e->key, __ATOMIC_ACQUIRE);
		if (seen != key) {
			w = __atomic_load_n(&e->window, __ATOMIC_ACQUIRE);
			/* Free, or stale: take it over. */
			if (seen != 0 && w >= window - 1)
				continue;
			if (!__atomic_compare_exchange_n(&e->key, &seen, key,
			    0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE) &&
			    seen != key)
				continue;
			__atomic_store_n(&e->fails, 0, __ATOMIC_RELEASE);
			__atomic_store_n(&e->window, window, __ATOMIC_RELEASE);
			return e;
		}
		w = __atomic_load_n(&e->window, __ATOMIC_ACQUIRE);
		if (w != window && __atomic_compare_exchange_n(&e->window, &w,
		    window, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			__atomic_store_n(&e->fails, 0, __ATOMIC_RELEASE);
		return e;
	}
	return NULL;	/* the neighbourhood is busy this minute */
}

uint32_t
peerlimit_fail(const char *addr, int64_t now, int *retry_after)
{
	struct pl_entry *e;

	*retry_after = (int)(60 - now % 60);
	if ((e = entry(addr, now / 60)) == NULL)
		return 1;
	return __atomic_add_fetch(&e->fails, 1, __ATOMIC_ACQ_REL);
}

int
peerlimit_log_once(const char *addr, int what, int64_t now)
{
	struct pl_entry *e;
	int64_t last, window = now / 60;

	if (what < 0 || what >= PL_EVENTS ||
	    (e = entry(addr, window)) == NULL)
		return 1;
	last = __atomic_load_n(&e->logged[what], __ATOMIC_ACQUIRE);
	if (last == window)
		return 0;
	return __atomic_compare_exchange_n(&e->logged[what], &last, window, 0,
	    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

int
peerlimit_conns(const char *addr)
{
	struct sb_slot *s;
	int i, n = 0;

	for (i = 0; i < sb_size(); i++) {
		s = sb_slot(i);
		if (s->pid != 0 && s->client[0] == addr[0] &&
		    strcmp(s->client, addr) == 0)
			n++;
	}
	return n;
}
