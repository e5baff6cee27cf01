/*
 * health: the shared table of upstream boxes.
 *
 * Readers never wait: health_read copies what it needs between two
 * reads of the box's sequence counter and starts again if a write came
 * in between (a seqlock).  The poller is the only process that writes
 * the polled fields, so the counter needs no lock either.  Model sets
 * are sorted arrays of 64-bit hashes: a lookup is a binary search of at
 * most eight steps, which keeps a routing decision over ten boxes well
 * under two microseconds.
 *
 * A passive mark is a time: the box is out while the mark is newer
 * than the start of its last good poll, so the poller never has to
 * clear what a worker wrote.
 */
#include <sys/mman.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "health.h"

#define NO_BOX		(-1)
#define SPIN_MAX	10000

static struct health_box	*boxes;
static int32_t			*slot_box;	/* per worker slot, or NO_BOX */
static int			 nslot;

int
health_init(int nslots)
{
	size_t len;
	void *p;
	int i;

	len = HEALTH_BOXES * sizeof(*boxes) + (size_t)nslots *
	    sizeof(*slot_box);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	    -1, 0);
	if (p == MAP_FAILED)
		return -1;
	boxes = p;
	slot_box = (int32_t *)(boxes + HEALTH_BOXES);
	nslot = nslots;
	for (i = 0; i < nslots; i++)
		slot_box[i] = NO_BOX;
	return 0;
}

struct health_box *
health_box(int i)
{
	return &boxes[i];
}

static int
box_of_url(const char *url)
{
	int i;

	for (i = 0; i < HEALTH_BOXES; i++)
		if (boxes[i].url[0] != '\0' && strcmp(boxes[i].url, url) == 0)
			return i;
	return NO_BOX;
}

/* A box no upstream holds, never used ones first. */
static int
box_free(const int *taken)
{
	int i;

	for (i = 0; i < HEALTH_BOXES; i++)
		if (boxes[i].url[0] == '\0' && !taken[i])
			return i;
	for (i = 0; i < HEALTH_BOXES; i++)
		if (!boxes[i].in_use && !taken[i] &&
		    __atomic_load_n(&boxes[i].inflight, __ATOMIC_RELAXED) == 0)
			return i;
	return NO_BOX;
}

void
health_assign(const struct upstreams *ups, int *box)
{
	struct health_box *b;
	int taken[HEALTH_BOXES] = { 0 };
	int i, j;

	for (i = 0; i < ups->n; i++) {
		j = box_of_url(ups->u[i].url);
		if (j != NO_BOX && boxes[j].in_use)
			taken[j] = 1;
		box[i] = j;
	}
	for (i = 0; i < ups->n; i++) {
		if (box[i] == NO_BOX || !taken[box[i]]) {
			/* Two generations of boxes always leave one free. */
			if ((box[i] = box_free(taken)) == NO_BOX)
				abort();
			taken[box[i]] = 1;
			b = &boxes[box[i]];
			memset(b, 0, offsetof(struct health_box, inflight));
			strlcpy(b->url, ups->u[i].url, sizeof(b->url));
		}
		strlcpy(boxes[box[i]].name, ups->u[i].name,
		    sizeof(boxes[box[i]].name));
	}
	for (i = 0; i < HEALTH_BOXES; i++)
		boxes[i].in_use = taken[i];
}

void
health_slot_gone(int slot)
{
	int32_t b = slot_box[slot];

	if (b != NO_BOX)
		__atomic_sub_fetch(&boxes[b].inflight, 1, __ATOMIC_RELAXED);
	slot_box[slot] = NO_BOX;
}

static int
cmp_hash(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int
copy_set(uint64_t *dst, const uint64_t *src, int n)
{
	if (n <= 0 || src == NULL)
		return 0;
	if (n > HEALTH_MODELS)
		n = HEALTH_MODELS;
	memcpy(dst, src, (size_t)n * sizeof(*dst));
	qsort(dst, (size_t)n, sizeof(*dst), cmp_hash);
	return n;
}

void
health_store(int i, int up, int64_t poll_ms, const uint64_t *present,
    int npresent, const uint64_t *loaded, int nloaded)
{
	struct health_box *b = &boxes[i];

	/* (seq + 1) | 1 rather than seq + 1: a poller killed in the
	 * middle of a write left seq odd, and its successor must not
	 * leave it odd at rest. */
	__atomic_store_n(&b->seq, (b->seq + 1) | 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	b->state = up ? HEALTH_UP : HEALTH_DOWN;
	if (up) {
		b->poll_ms = poll_ms;
		b->npresent = copy_set(b->present, present, npresent);
		b->nloaded = copy_set(b->loaded, loaded, nloaded);
	}
	__atomic_store_n(&b->seq, b->seq + 1, __ATOMIC_RELEASE);
}

void
health_passive_down(int i, int64_t now_ms)
{
	__atomic_store_n(&boxes[i].passive_down_ms, now_ms, __ATOMIC_RELAXED);
}

void
health_acquire(int slot, int i)
{
	__atomic_add_fetch(&boxes[i].inflight, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&slot_box[slot], i, __ATOMIC_RELEASE);
}

void
health_release(int slot)
{
	int32_t b = slot_box[slot];

	if (b == NO_BOX)
		return;
	__atomic_store_n(&slot_box[slot], NO_BOX, __ATOMIC_RELEASE);
	__atomic_sub_fetch(&boxes[b].inflight, 1, __ATOMIC_RELAXED);
}

static int
has(const volatile uint64_t *set, int n, uint64_t h)
{
	int lo = 0, hi = n - 1, mid;

	while (lo <= hi) {
		mid = (lo + hi) / 2;
		if (set[mid] == h)
			return 1;
		if (set[mid] < h)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return 0;
}

void
health_read(const struct health_box *b, uint64_t model,
    struct health_view *v)
{
	uint32_t s1, s2;
	int64_t down;
	int n, spin;

	do {
		/* A write takes a microsecond; an odd seq that stays is a
		 * poller that died writing, and the fields, read with their
		 * bounds checked, are as good as any until the next poller
		 * writes again. */
		for (spin = 0; spin < SPIN_MAX; spin++)
			if (((s1 = __atomic_load_n(&b->seq,
			    __ATOMIC_ACQUIRE)) & 1) == 0)
				break;
		down = __atomic_load_n(&b->passive_down_ms, __ATOMIC_RELAXED);
		v->usable = b->state != HEALTH_DOWN &&
		    (down == 0 || down < b->poll_ms);
		v->present = v->loaded = 0;
		if (model != 0) {
			/* Bounded even when read mid-write. */
			n = b->npresent;
			v->present = has(b->present, n < 0 || n >
			    HEALTH_MODELS ? 0 : n, model);
			n = b->nloaded;
			v->loaded = has(b->loaded, n < 0 || n > HEALTH_MODELS ?
			    0 : n, model);
		}
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		s2 = __atomic_load_n(&b->seq, __ATOMIC_RELAXED);
	} while (s1 != s2 && spin < SPIN_MAX);
	n = __atomic_load_n(&b->inflight, __ATOMIC_RELAXED);
	v->inflight = n < 0 ? 0 : n;
}

/* FNV-1a over the lowercased name, ":latest" added when no tag. */
uint64_t
health_model_hash(const char *name, size_t len)
{
	static const char latest[] = ":latest";
	const char *slash, *p;
	uint64_t h = 14695981039346656037ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)tolower((unsigned char)name[i]);
		h *= 1099511628211ULL;
	}
	slash = memrchr(name, '/', len);
	p = slash != NULL ? slash + 1 : name;
	if (memchr(p, ':', len - (size_t)(p - name)) == NULL)
		for (i = 0; i < sizeof(latest) - 1; i++) {
			h ^= (unsigned char)latest[i];
			h *= 1099511628211ULL;
		}
	return h != 0 ? h : 1;
}
