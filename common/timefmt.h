/*
 * timefmt: the time formats users type and read: durations ("30d",
 * "12h", "90m", "45s") and ISO 8601 UTC timestamps.
 */
#ifndef TIMEFMT_H
#define TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

#define TIMEFMT_ISO_LEN	sizeof("1970-01-01T00:00:00Z")

/*
 * The longest duration taken: 100 years of 365.25 days.  Anything longer
 * is a typo or an attempt to overflow, and "never" is written by giving
 * no expiry at all.  Now plus this stays far inside what timefmt_iso
 * writes.
 */
#define TIMEFMT_DURATION_MAX	(INT64_C(36525) * 24 * 60 * 60)
/* The last second timefmt_iso writes: 9999-12-31T23:59:59Z. */
#define TIMEFMT_MAX		INT64_C(253402300799)

/* timefmt_duration's return for a duration past TIMEFMT_DURATION_MAX. */
#define TIMEFMT_TOOLONG		-2

/* Parses a duration into seconds; -1 with *errstr set on bad input, or
 * TIMEFMT_TOOLONG with *errstr naming the limit. */
int	timefmt_duration(const char *s, int64_t *secs, const char **errstr);
/* Formats t (Unix seconds, UTC) as 2026-11-26T14:05:00Z. */
void	timefmt_iso(int64_t t, char *buf, size_t len);
/* Parses what timefmt_iso writes; -1 if s is not in that form. */
int	timefmt_parse_iso(const char *s, int64_t *t);

#endif
