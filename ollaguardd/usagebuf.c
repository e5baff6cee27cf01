/*
 * usagebuf: the rows sit in one dense array in the order they were
 * first seen, so a flush hands the array to usage_flush as it is, and
 * an open-addressing index of twice as many slots finds a row by its
 * group.  Model and user names longer than the table's fields are cut,
 * as the database would hold them anyway.
 */
#include <string.h>

#include "usage.h"
#include "usagebuf.h"

#define UB_INDEX	(2 * USAGEBUF_ROWS)	/* a power of two */

static struct usage_row	 rows[USAGEBUF_ROWS];
static uint16_t		 idx[UB_INDEX];		/* row + 1; 0: free */
static int		 nrows;
static int64_t		 flush_at;
static int64_t		 day_t = -1;		/* the second of day[] */
static char		 day[USAGE_DAY_LEN];
static uint64_t		 overflows;

void
usagebuf_init(int64_t now)
{
	nrows = 0;
	memset(idx, 0, sizeof(idx));
	flush_at = now + USAGEBUF_FLUSH_SECS;
	day_t = -1;
	overflows = 0;
}

/* FNV-1a over the group. */
static uint32_t
hash(int64_t key_id, const char *model, const char *d, const char *user)
{
	uint32_t h = 2166136261u;
	const char *parts[3] = { model, d, user };
	const char *s;
	int i;

	for (i = 0; i < 8; i++) {
		h ^= (uint8_t)(key_id >> (8 * i));
		h *= 16777619u;
	}
	for (i = 0; i < 3; i++)
		for (s = parts[i]; ; s++) {
			h ^= (uint8_t)*s;
			h *= 16777619u;
			if (*s == '\0')
				break;
		}
	return h;
}

/* The row of a group, made if there is room; NULL when full. */
static struct usage_row *
find(int64_t key_id, const char *model, const char *d, const char *user)
{
	struct usage_row *r;
	uint32_t i;

	for (i = hash(key_id, model, d, user);; i++) {
		i &= UB_INDEX - 1;
		if (idx[i] == 0)
			break;
		r = &rows[idx[i] - 1];
		if (r->key_id == key_id && strcmp(r->day, d) == 0 &&
		    strcmp(r->model, model) == 0 && strcmp(r->user, user) == 0)
			return r;
	}
	/* The last row is kept for the overflow row. */
	if (nrows >= USAGEBUF_ROWS - (key_id == USAGEBUF_OVERFLOW_KEY &&
	    model[0] == '\0' && user[0] == '\0' ? 0 : 1))
		return NULL;
	r = &rows[nrows];
	memset(r, 0, sizeof(*r));
	r->key_id = key_id;
	strlcpy(r->model, model, sizeof(r->model));
	strlcpy(r->day, d, sizeof(r->day));
	strlcpy(r->user, user, sizeof(r->user));
	idx[i] = (uint16_t)++nrows;
	return r;
}

void
usagebuf_add(int64_t key_id, const char *model, const char *user,
    int64_t now, int error, int64_t prompt, int64_t completion,
    int64_t duration_ms)
{
	char m[USAGE_MODEL_MAX], u[USAGE_USER_MAX];
	struct usage_row *r;

	if (now != day_t) {
		usage_day(now, day);
		day_t = now;
	}
	/* Cut as the row would, so that a long name finds its row. */
	strlcpy(m, model != NULL ? model : "", sizeof(m));
	strlcpy(u, user != NULL ? user : "", sizeof(u));
	if ((r = find(key_id, m, day, u)) == NULL) {
		overflows++;
		if ((r = find(USAGEBUF_OVERFLOW_KEY, "", day, "")) == NULL)
			r = &rows[USAGEBUF_ROWS - 1];	/* of an earlier day */
	}
	r->requests++;
	r->errors += error != 0;
	r->prompt_tokens += prompt;
	r->completion_tokens += completion;
	r->duration_ms += duration_ms;
}

int
usagebuf_due(int64_t now)
{
	return nrows > 0 && (now >= flush_at || nrows >= USAGEBUF_ROWS - 1);
}

int
usagebuf_flush(struct sqlite3 *db, int64_t now)
{
	flush_at = now + USAGEBUF_FLUSH_SECS;
	if (nrows == 0)
		return 0;
	if (usage_flush(db, rows, (size_t)nrows) == -1)
		return -1;
	nrows = 0;
	memset(idx, 0, sizeof(idx));
	return 0;
}

int
usagebuf_rows(void)
{
	return nrows;
}

uint64_t
usagebuf_overflows(void)
{
	return overflows;
}
