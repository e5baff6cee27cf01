/*
 * timefmt: the two time forms people meet in ollaguard.  Durations are
 * a positive number and one unit ("30d"); a bare number is refused
 * rather than guessed at, since "30" could mean seconds or days.
 * Timestamps are ISO 8601 in UTC with a Z, the one form both written
 * and read, so nothing depends on the local time zone.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* strptime, timegm */
#endif

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "timefmt.h"

#define TIMEFMT_ISO_FMT	"%Y-%m-%dT%H:%M:%SZ"
#define TIMEFMT_TOOLONG_MSG	"is more than 100 years (36525d)"

static const struct {
	char		 unit;
	int64_t		 secs;
} timefmt_units[] = {
	{ 's', 1 },
	{ 'm', 60 },
	{ 'h', 60 * 60 },
	{ 'd', 24 * 60 * 60 },
	{ 'w', 7 * 24 * 60 * 60 },
};

int
timefmt_duration(const char *s, int64_t *secs, const char **errstr)
{
	char		 num[32];
	const char	*e;
	long long	 n;
	size_t		 len, i;

	if (s == NULL || *s == '\0') {
		*errstr = "is empty";
		return -1;
	}
	len = strspn(s, "0123456789");
	if (len == 0) {
		*errstr = "must be a number and a unit (s, m, h, d or w), "
		    "as in 30d";
		return -1;
	}
	if (s[len] == '\0') {
		*errstr = "has no unit: add s, m, h, d or w, as in 30d";
		return -1;
	}
	if (s[len + 1] != '\0') {
		*errstr = "must be a number and one unit (s, m, h, d or w), "
		    "as in 30d";
		return -1;
	}
	if (len >= sizeof(num)) {
		*errstr = TIMEFMT_TOOLONG_MSG;
		return TIMEFMT_TOOLONG;
	}
	memcpy(num, s, len);
	num[len] = '\0';
	n = strtonum(num, 0, INT64_MAX, &e);
	if (e != NULL) {
		*errstr = TIMEFMT_TOOLONG_MSG;
		return TIMEFMT_TOOLONG;
	}
	if (n == 0) {
		*errstr = "must be greater than zero";
		return -1;
	}
	for (i = 0; i < sizeof(timefmt_units) / sizeof(timefmt_units[0]);
	    i++) {
		if (timefmt_units[i].unit != s[len])
			continue;
		if (n > TIMEFMT_DURATION_MAX / timefmt_units[i].secs) {
			*errstr = TIMEFMT_TOOLONG_MSG;
			return TIMEFMT_TOOLONG;
		}
		*secs = n * timefmt_units[i].secs;
		*errstr = NULL;
		return 0;
	}
	*errstr = "has an unknown unit: use s, m, h, d or w";
	return -1;
}

void
timefmt_iso(int64_t t, char *buf, size_t len)
{
	struct tm	 tm;
	time_t		 tt = (time_t)t;

	/* Years past 9999 would not fit the fixed width readers expect. */
	if (gmtime_r(&tt, &tm) == NULL ||
	    tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999 ||
	    strftime(buf, len, TIMEFMT_ISO_FMT, &tm) == 0) {
		if (len > 0)
			strlcpy(buf, "invalid-time", len);
	}
}

int
timefmt_parse_iso(const char *s, int64_t *t)
{
	char		 back[TIMEFMT_ISO_LEN];
	struct tm	 tm;
	const char	*end;
	time_t		 tt;

	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(s, TIMEFMT_ISO_FMT, &tm)) == NULL || *end != '\0')
		return -1;
	tt = timegm(&tm);
	/*
	 * strptime lets through "2026-2-30T1:2:3Z", spaces and days past a
	 * month's end; writing the time back and comparing accepts only
	 * the one exact form, with a real date.
	 */
	timefmt_iso(tt, back, sizeof(back));
	if (strcmp(back, s) != 0)
		return -1;
	*t = tt;
	return 0;
}
