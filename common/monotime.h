/*
 * monotime: the one monotonic clock every part of the daemon reads.
 * Both come from the vDSO: no system call.  The coarse clock (a few
 * milliseconds of resolution) serves deadlines; the fine one serves
 * durations written to the access log.
 */
#ifndef MONOTIME_H
#define MONOTIME_H

#include <stdint.h>
#include <time.h>

static inline int64_t
monotime_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int64_t
monotime_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#endif
