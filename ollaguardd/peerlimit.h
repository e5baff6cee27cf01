/*
 * peerlimit: what one client address may do, shared by all workers: how
 * many connections it holds (counted in the scoreboard) and how many
 * failed authentications it had this minute (counted here).
 */
#ifndef PEERLIMIT_H
#define PEERLIMIT_H

#include <stdint.h>

/* Master, before the first fork: maps the shared table; -1 on failure. */
int	peerlimit_init(void);
/*
 * Counts a failed authentication from addr; returns how many there were
 * in the current minute, this one included.  *retry_after is the number
 * of seconds until that minute ends.
 */
uint32_t peerlimit_fail(const char *addr, int64_t now, int *retry_after);
/* 1 the first time per minute it is asked for addr and what (a small
 * number naming the event), so one line is logged per window. */
int	peerlimit_log_once(const char *addr, int what, int64_t now);
/* How many live connections the scoreboard shows from addr. */
int	peerlimit_conns(const char *addr);

#define PEERLIMIT_LOG_AUTH	0
#define PEERLIMIT_LOG_CONNS	1

#endif
