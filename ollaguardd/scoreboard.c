/*
 * scoreboard: one slot per possible worker in an anonymous shared
 * mapping.  Slots are written with plain stores: the master only ever
 * counts and reports from them, and a count that is a moment stale
 * costs nothing but a second's delay in the pool's reaction.
 */
#include <sys/mman.h>

#include <stdio.h>
#include <string.h>

#include "scoreboard.h"

static struct sb_slot	*slots;
static int		 nslots;

int
sb_init(int n)
{
	void *p;

	p = mmap(NULL, (size_t)n * sizeof(*slots), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	slots = p;
	nslots = n;
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

void
sb_clear(int i)
{
	memset(&slots[i], 0, sizeof(slots[i]));
}

void
sb_set_state(struct sb_slot *s, enum sb_state state)
{
	s->state = state;
}

void
sb_set_what(struct sb_slot *s, const char *method, const char *path,
    size_t pathlen)
{
	const char *q = memchr(path, '?', pathlen);

	/* The query is left out: it may carry secrets. */
	if (q != NULL)
		pathlen = (size_t)(q - path);
	if (pathlen > SB_WHAT_MAX - 16)
		pathlen = SB_WHAT_MAX - 16;
	snprintf(s->what, sizeof(s->what), "%s %.*s", method, (int)pathlen,
	    path);
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
