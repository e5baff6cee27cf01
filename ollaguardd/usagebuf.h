/*
 * usagebuf: a worker's usage since its last flush, in memory: a fixed
 * table of (key, model, UTC day, user) and their counters, filled on
 * the hot path without allocating or touching the database, and
 * written by usagebuf_flush in one transaction every
 * USAGEBUF_FLUSH_SECS and at exit.  A worker killed with SIGKILL loses
 * what it gathered since its last flush.
 *
 * Overflow: the table holds USAGEBUF_ROWS groups per interval.  Once
 * only one row is left, a request of a new group is counted in the
 * overflow row (key id USAGE_KEY_OTHER, no model, no user, the
 * day the overflow began), so that totals stay right though the
 * attribution is lost, and usagebuf_due says to flush now rather than
 * at the end of the interval.  usagebuf_overflows counts such requests.
 */
#ifndef USAGEBUF_H
#define USAGEBUF_H

#include <stdint.h>

#include "usage.h"

struct sqlite3;

#define USAGEBUF_ROWS		512
#define USAGEBUF_FLUSH_SECS	2
#define USAGEBUF_OVERFLOW_KEY	USAGE_KEY_OTHER

/* Empties the table (a new worker, after fork). */
void		 usagebuf_init(int64_t now);
/* Counts one finished request at now; model and user may be NULL. */
void		 usagebuf_add(int64_t key_id, const char *model,
		    const char *user, int64_t now, int error,
		    int64_t prompt, int64_t completion, int64_t duration_ms);
/* 1 if a flush is due: the interval is over, or the table is full. */
int		 usagebuf_due(int64_t now);
/* Writes the table and empties it; on failure keeps it for the next
 * try.  0, or -1 (the caller logs sqlite3_errmsg). */
int		 usagebuf_flush(struct sqlite3 *, int64_t now);
/* Groups held now, and requests counted in the overflow row so far. */
int		 usagebuf_rows(void);
uint64_t	 usagebuf_overflows(void);

#endif
