/*
 * scoreboard: one slot per possible worker in an anonymous shared
 * mapping, after a small header the pool shares.  Slots are written with
 * plain stores: the master only ever counts and reports from them, and a
 * count that is a moment stale costs nothing but a tick's delay in the
 * pool's reaction.
 *
 * The header's idle count is the exception, kept with atomics because
 * every worker writes it: it moves with each slot's change into or out
 * of the idle states, and sb_clear takes out the share of a worker that
 * died idle, so a SIGKILL leaves it right.  (A worker killed between
 * its state store and the atomic add leaves it one off; it is only a
 * hint for waking the master, whose own count comes from the slots.)
 */
#include <sys/eventfd.h>
#include <sys/mman.h>

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "scoreboard.h"

struct sb_shared {
	atomic_int	 idle;		/* slots starting or idle */
	atomic_int	 wake_pending;	/* the eventfd was written */
	volatile int	 min_spare;
	int64_t		 started;	/* written once, before any fork */
};

static struct sb_shared	*shared;
static struct sb_slot	*slots;
static int		 nslots;
static int		 wakefd = -1;

int
sb_init(int n)
{
	size_t hdr = 64;	/* the header on a cache line of its own */
	char *p;

	p = mmap(NULL, hdr + (size_t)n * sizeof(*slots),
	    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	if ((wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		return -1;
	shared = (struct sb_shared *)p;
	slots = (struct sb_slot *)(p + hdr);
	nslots = n;
	shared->started = time(NULL);
	return 0;
}

int
sb_size(void)
{
	return nslots;
}

struct sb_slot *
sb_slot(int i)
{
	return &slots[i];
}

static int
idle_state(int state)
{
	return state == SB_STARTING || state == SB_IDLE;
}

void
sb_clear(int i)
{
	if (idle_state(slots[i].state))
		atomic_fetch_sub(&shared->idle, 1);
	memset(&slots[i], 0, sizeof(slots[i]));
}

void
sb_set_state(struct sb_slot *s, enum sb_state state)
{
	int was = s->state;

	s->state = state;
	if (idle_state(state) && !idle_state(was))
		atomic_fetch_add(&shared->idle, 1);
	else if (!idle_state(state) && idle_state(was))
		atomic_fetch_sub(&shared->idle, 1);
}

void
sb_note_busy(struct sb_slot *s)
{
	uint64_t one = 1;

	sb_set_state(s, SB_READING);
	if (atomic_load(&shared->idle) >= shared->min_spare ||
	    atomic_exchange(&shared->wake_pending, 1) != 0)
		return;
	/* Non-blocking, and the counter cannot fill: never waits. */
	if (write(wakefd, &one, sizeof(one)) == -1)
		atomic_store(&shared->wake_pending, 0);
}

void
sb_set_min_spare(int n)
{
	shared->min_spare = n;
}

int
sb_wake_fd(void)
{
	return wakefd;
}

/* Cleared before the read: a worker that wakes us after this writes
 * again, so no wake-up is lost between the two. */
void
sb_woken(void)
{
	uint64_t n;

	atomic_store(&shared->wake_pending, 0);
	if (read(wakefd, &n, sizeof(n)) == -1)
		return;		/* EAGAIN: nothing was written */
}

void
sb_set_what(struct sb_slot *s, const char *method, const char *path,
    size_t pathlen)
{
	const char *q = memchr(path, '?', pathlen);
	size_t ml = strnlen(method, 14);	/* 14 + 1 + 80 + 1 fit */

	/* The query is left out: it may carry secrets.  Copied, not
	 * formatted: this runs for every request. */
	if (q != NULL)
		pathlen = (size_t)(q - path);
	if (pathlen > SB_WHAT_MAX - 16)
		pathlen = SB_WHAT_MAX - 16;
	memcpy(s->what, method, ml);
	s->what[ml] = ' ';
	memcpy(s->what + ml + 1, path, pathlen);
	s->what[ml + 1 + pathlen] = '\0';
}

const char *
sb_state_name(int state)
{
	switch (state) {
	case SB_STARTING: return "starting";
	case SB_IDLE: return "idle";
	case SB_READING: return "reading";
	case SB_PROXYING: return "proxying";
	case SB_CLOSING: return "closing";
	default: return "free";
	}
}

int64_t
sb_started(void)
{
	return shared->started;
}
