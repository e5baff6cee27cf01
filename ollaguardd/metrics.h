/*
 * metrics: the daemon's counters for GET /metrics, in memory shared by
 * all workers and rendered in the Prometheus text format 0.0.4.  Every
 * label set lives in a fixed table mapped once before the first fork,
 * so the number of series is bounded whatever clients send: once a
 * table is nearly full, new label sets are counted under key="other"
 * (model="other" for the histograms) and ollaguard_metrics_overflow_total
 * says how often.  Label values are key names or ids, never secrets.
 */
#ifndef METRICS_H
#define METRICS_H

#include <stddef.h>
#include <stdint.h>

#define METRICS_SERIES		1024	/* (key, model, class, code) */
#define METRICS_MODELS		64	/* histograms, one per model */
#define METRICS_LIMITED		256	/* (key, limit) */
#define METRICS_REASONS		32	/* auth failure reasons */
#define METRICS_LABEL_MAX	128	/* longer values are cut */

/* Master, before the first fork (after sb_init): -1 on failure. */
int	metrics_init(void);
/*
 * A finished request: the key's label (its name, else its id, or
 * "master"), the model ("" when unknown), the endpoint class, the
 * status sent, the tokens metered, the time from request to last byte
 * and to first byte in microseconds (ttfb_us -1: no byte was sent).
 */
void	metrics_request(const char *key, const char *model, const char *cls,
	    int code, int64_t prompt, int64_t completion, int64_t duration_us,
	    int64_t ttfb_us);
void	metrics_auth_failure(const char *reason);
/* A request refused by a limit ("rpm", "concurrency", "tokens-per-day"). */
void	metrics_limited(const char *key, const char *limit);
/* A proxied response without token counts. */
void	metrics_unmetered(void);
/*
 * Renders every metric into buf; returns the length, or -1 if buf is
 * too small (try again with a larger one).  version goes into
 * ollaguard_build_info.
 */
int	metrics_render(char *buf, size_t len, const char *version);

#endif
