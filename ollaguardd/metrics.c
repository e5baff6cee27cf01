/*
 * metrics: tables of label sets in one anonymous shared mapping.  A
 * worker claims a free row by compare-and-swap on its hash, writes the
 * labels, then marks it ready; from then on the row's labels never
 * change and its counters only grow, with atomic adds, so a worker
 * killed at any moment leaves at worst a row that never became ready
 * (never rendered, its label set counted in a later row).  The
 * renderer reads the counters without locks: a scrape may see one
 * request's counters half added, which the next scrape corrects.
 */
#include <sys/mman.h>

#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "metrics.h"
#include "scoreboard.h"

#define MT_PROBE	32
#define MT_RESERVE	16	/* rows kept for "other" in each table */
#define MT_NBUCKETS	16	/* the bounds below and +Inf */
#define MT_OTHER	"other"

static const double mt_bounds[MT_NBUCKETS - 1] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120,
	300
};

struct mt_labels {
	uint64_t	 hash;		/* 0: free */
	uint32_t	 ready;
	int32_t		 code;
	char		 key[METRICS_LABEL_MAX];
	char		 model[METRICS_LABEL_MAX];
	char		 cls[32];
};

struct mt_row {
	struct mt_labels l;
	uint64_t	 v[3];		/* requests, prompt, completion */
};

struct mt_hist {
	struct mt_labels l;
	uint64_t	 b[2][MT_NBUCKETS];	/* duration, ttfb */
	uint64_t	 sum_us[2];
};

struct mt_table {
	size_t		 n;
	size_t		 size;
	size_t		 off;		/* of the rows in struct mt_shared */
	size_t		 used_off;
};

struct mt_shared {
	struct mt_row	 series[METRICS_SERIES];
	struct mt_row	 limited[METRICS_LIMITED];
	struct mt_row	 auth[METRICS_REASONS];
	struct mt_hist	 hist[METRICS_MODELS];
	uint32_t	 used[4];
	uint64_t	 unmetered;
	uint64_t	 overflow;
	uint64_t	 lost;		/* not even "other" had room */
};

enum { T_SERIES, T_LIMITED, T_AUTH, T_HIST };

static const struct mt_table mt_tables[] = {
	[T_SERIES] = { METRICS_SERIES, sizeof(struct mt_row),
	    offsetof(struct mt_shared, series), 0 },
	[T_LIMITED] = { METRICS_LIMITED, sizeof(struct mt_row),
	    offsetof(struct mt_shared, limited), 1 },
	[T_AUTH] = { METRICS_REASONS, sizeof(struct mt_row),
	    offsetof(struct mt_shared, auth), 2 },
	[T_HIST] = { METRICS_MODELS, sizeof(struct mt_hist),
	    offsetof(struct mt_shared, hist), 3 },
};

static struct mt_shared	*mt;

int
metrics_init(void)
{
	void *p;

	p = mmap(NULL, sizeof(*mt), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	mt = p;
	return 0;
}

static struct mt_labels *
row_at(int t, size_t i)
{
	return (struct mt_labels *)((char *)mt + mt_tables[t].off +
	    i * mt_tables[t].size);
}

/* FNV-1a over the labels; never 0, which marks a free row. */
static uint64_t
hash(const char *key, const char *model, const char *cls, int code)
{
	const char *parts[3] = { key, model, cls }, *s;
	uint64_t h = 14695981039346656037ULL;
	int i;

	for (i = 0; i < 3; i++)
		for (s = parts[i];; s++) {
			h = (h ^ (unsigned char)*s) * 1099511628211ULL;
			if (*s == '\0')
				break;
		}
	h = (h ^ (uint32_t)code) * 1099511628211ULL;
	return h != 0 ? h : 1;
}

static int
same(const struct mt_labels *l, const char *key, const char *model,
    const char *cls, int code)
{
	return l->code == code && strncmp(l->key, key, sizeof(l->key) - 1)
	    == 0 && strncmp(l->model, model, sizeof(l->model) - 1) == 0 &&
	    strncmp(l->cls, cls, sizeof(l->cls) - 1) == 0;
}

/* The row of a label set, claimed if new and there is room. */
static struct mt_labels *
find(int t, const char *key, const char *model, const char *cls, int code,
    int reserve)
{
	const struct mt_table *tb = &mt_tables[t];
	struct mt_labels *l;
	uint64_t h = hash(key, model, cls, code), seen;
	size_t n;
	int spin;

	for (n = 0; n < MT_PROBE; n++) {
		l = row_at(t, (size_t)((h + n) % tb->n));
		seen = __atomic_load_n(&l->hash, __ATOMIC_ACQUIRE);
		if (seen == 0) {
			if (__atomic_load_n(&mt->used[tb->used_off],
			    __ATOMIC_RELAXED) + reserve >= tb->n)
				return NULL;
			if (__atomic_compare_exchange_n(&l->hash, &seen, h, 0,
			    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
				l->code = code;
				strlcpy(l->key, key, sizeof(l->key));
				strlcpy(l->model, model, sizeof(l->model));
				strlcpy(l->cls, cls, sizeof(l->cls));
				__atomic_add_fetch(&mt->used[tb->used_off], 1,
				    __ATOMIC_RELAXED);
				__atomic_store_n(&l->ready, 1,
				    __ATOMIC_RELEASE);
				return l;
			}
		}
		if (seen != h)
			continue;
		/* Another worker is writing the labels: a moment. */
		for (spin = 0; spin < 1000 && !__atomic_load_n(&l->ready,
		    __ATOMIC_ACQUIRE); spin++)
			sched_yield();
		if (l->ready && same(l, key, model, cls, code))
			return l;
	}
	return NULL;
}

/* find(), or the "other" row, counting the overflow. */
static struct mt_labels *
find_or_other(int t, const char *key, const char *model, const char *cls,
    int code)
{
	struct mt_labels *l;

	if ((l = find(t, key, model, cls, code, MT_RESERVE)) != NULL)
		return l;
	__atomic_add_fetch(&mt->overflow, 1, __ATOMIC_RELAXED);
	l = t == T_HIST ? find(t, "", MT_OTHER, "", 0, 0) :
	    find(t, MT_OTHER, t == T_SERIES ? MT_OTHER : model, cls, code, 0);
	if (l == NULL)
		__atomic_add_fetch(&mt->lost, 1, __ATOMIC_RELAXED);
	return l;
}

static void
add(uint64_t *p, int64_t v)
{
	if (v > 0)
		__atomic_add_fetch(p, (uint64_t)v, __ATOMIC_RELAXED);
}

static void
observe(struct mt_hist *hi, int which, int64_t us)
{
	size_t i;

	for (i = 0; i < MT_NBUCKETS - 1; i++)
		if ((double)us <= mt_bounds[i] * 1e6)
			break;
	add(&hi->b[which][i], 1);
	add(&hi->sum_us[which], us);
}

void
metrics_request(const char *key, const char *model, const char *cls,
    int code, int64_t prompt, int64_t completion, int64_t duration_us,
    int64_t ttfb_us)
{
	struct mt_row *r;
	struct mt_hist *hi;

	if (mt == NULL)
		return;
	if ((r = (struct mt_row *)find_or_other(T_SERIES, key, model, cls,
	    code)) != NULL) {
		add(&r->v[0], 1);
		add(&r->v[1], prompt);
		add(&r->v[2], completion);
	}
	if ((hi = (struct mt_hist *)find_or_other(T_HIST, "", model, "",
	    0)) == NULL)
		return;
	observe(hi, 0, duration_us > 0 ? duration_us : 0);
	if (ttfb_us >= 0)
		observe(hi, 1, ttfb_us);
}

void
metrics_auth_failure(const char *reason)
{
	struct mt_row *r;

	if (mt != NULL && (r = (struct mt_row *)find_or_other(T_AUTH, "", "",
	    reason, 0)) != NULL)
		add(&r->v[0], 1);
}

void
metrics_limited(const char *key, const char *limit)
{
	struct mt_row *r;

	if (mt != NULL && (r = (struct mt_row *)find_or_other(T_LIMITED, key,
	    "", limit, 0)) != NULL)
		add(&r->v[0], 1);
}

void
metrics_unmetered(void)
{
	if (mt != NULL)
		add(&mt->unmetered, 1);
}

struct mt_out {
	char	*buf;
	size_t	 len;
	size_t	 off;
	int	 full;
};

static void put(struct mt_out *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
put(struct mt_out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->off, o->len - o->off, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->len - o->off)
		o->full = 1;
	else
		o->off += (size_t)n;
}

/* A label value as the format wants it: \\, \" and \n escaped. */
static void
put_value(struct mt_out *o, const char *s)
{
	const char *e;

	for (; *s != '\0'; s = e + 1) {
		e = s + strcspn(s, "\\\"\n");
		put(o, "%.*s", (int)(e - s), s);
		if (*e == '\0')
			break;
		put(o, "\\%c", *e == '\n' ? 'n' : *e);
	}
}

/* name{a="..",b=".."} for n labels, names and values alternating. */
static void
put_series(struct mt_out *o, const char *name, int n, ...)
{
	va_list ap;
	int i;

	put(o, "%s", name);
	va_start(ap, n);
	for (i = 0; i < n; i++) {
		put(o, "%s%s=\"", i == 0 ? "{" : ",", va_arg(ap, const char *));
		put_value(o, va_arg(ap, const char *));
		put(o, "\"");
	}
	va_end(ap);
	put(o, "%s ", n > 0 ? "}" : "");
}

static void
put_head(struct mt_out *o, const char *name, const char *type,
    const char *help)
{
	put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static uint64_t
load(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static int
ready(int t, size_t i, struct mt_labels **l)
{
	*l = row_at(t, i);
	return __atomic_load_n(&(*l)->ready, __ATOMIC_ACQUIRE);
}

static void
put_requests(struct mt_out *o)
{
	static const char *const types[2] = { "prompt", "completion" };
	struct mt_labels *l;
	char code[16];
	size_t i;
	int k;

	put_head(o, "ollaguard_requests_total", "counter",
	    "Requests answered, by key, model, endpoint class and status.");
	for (i = 0; i < METRICS_SERIES; i++) {
		if (!ready(T_SERIES, i, &l))
			continue;
		snprintf(code, sizeof(code), "%d", l->code);
		put_series(o, "ollaguard_requests_total", 4, "key", l->key,
		    "model", l->model, "class", l->cls, "code", code);
		put(o, "%llu\n", (unsigned long long)load(
		    &((struct mt_row *)l)->v[0]));
	}
	put_head(o, "ollaguard_tokens_total", "counter",
	    "Tokens the upstream counted, by key, model and type.");
	/* The tokens keep the class and code of the requests they came
	 * with, so each row is one series; sum by (key, model, type). */
	for (k = 0; k < 2; k++)
		for (i = 0; i < METRICS_SERIES; i++) {
			if (!ready(T_SERIES, i, &l))
				continue;
			snprintf(code, sizeof(code), "%d", l->code);
			put_series(o, "ollaguard_tokens_total", 5, "key",
			    l->key, "model", l->model, "class", l->cls,
			    "code", code, "type", types[k]);
			put(o, "%llu\n", (unsigned long long)load(
			    &((struct mt_row *)l)->v[1 + k]));
		}
}

static void
put_histograms(struct mt_out *o)
{
	static const char *const names[2] = {
		"ollaguard_request_duration_seconds",
		"ollaguard_time_to_first_byte_seconds"
	};
	static const char *const helps[2] = {
		"Time from a request's head to its last byte sent, by model.",
		"Time from a request's head to its first byte sent, by model."
	};
	struct mt_labels *l;
	struct mt_hist *hi;
	char name[64], le[16];
	uint64_t cum;
	size_t i, b;
	int k;

	for (k = 0; k < 2; k++) {
		put_head(o, names[k], "histogram", helps[k]);
		for (i = 0; i < METRICS_MODELS; i++) {
			if (!ready(T_HIST, i, &l))
				continue;
			hi = (struct mt_hist *)l;
			snprintf(name, sizeof(name), "%s_bucket", names[k]);
			/* The count is the buckets as read, so +Inf and
			 * _count agree even while workers add. */
			for (b = 0, cum = 0; b < MT_NBUCKETS; b++) {
				cum += load(&hi->b[k][b]);
				if (b < MT_NBUCKETS - 1)
					snprintf(le, sizeof(le), "%g",
					    mt_bounds[b]);
				else
					strlcpy(le, "+Inf", sizeof(le));
				put_series(o, name, 2, "model", l->model,
				    "le", le);
				put(o, "%llu\n", (unsigned long long)cum);
			}
			snprintf(name, sizeof(name), "%s_sum", names[k]);
			put_series(o, name, 1, "model", l->model);
			put(o, "%.6f\n", (double)load(&hi->sum_us[k]) / 1e6);
			snprintf(name, sizeof(name), "%s_count", names[k]);
			put_series(o, name, 1, "model", l->model);
			put(o, "%llu\n", (unsigned long long)cum);
		}
	}
}

static void
put_workers(struct mt_out *o)
{
	static const int states[] = { SB_STARTING, SB_IDLE, SB_READING,
	    SB_PROXYING, SB_CLOSING };
	struct sb_slot *s;
	size_t k;
	int i, n;

	put_head(o, "ollaguard_workers", "gauge",
	    "Worker processes, by what they are doing.");
	for (k = 0; k < sizeof(states) / sizeof(states[0]); k++) {
		for (i = 0, n = 0; i < sb_size(); i++) {
			s = sb_slot(i);
			if (s->pid != 0 && s->state == states[k])
				n++;
		}
		put_series(o, "ollaguard_workers", 1, "state",
		    sb_state_name(states[k]));
		put(o, "%d\n", n);
	}
}

static void
put_small(struct mt_out *o, int t, const char *name, const char *help,
    const char *keylabel, const char *clslabel)
{
	struct mt_labels *l;
	size_t i;

	put_head(o, name, "counter", help);
	for (i = 0; i < mt_tables[t].n; i++) {
		if (!ready(t, i, &l))
			continue;
		if (keylabel != NULL)
			put_series(o, name, 2, keylabel, l->key, clslabel,
			    l->cls);
		else
			put_series(o, name, 1, clslabel, l->cls);
		put(o, "%llu\n", (unsigned long long)load(
		    &((struct mt_row *)l)->v[0]));
	}
}

static void
put_counter(struct mt_out *o, const char *name, const char *help,
    uint64_t v)
{
	put_head(o, name, "counter", help);
	put(o, "%s %llu\n", name, (unsigned long long)v);
}

int
metrics_render(char *buf, size_t len, const char *version)
{
	struct mt_out o = { buf, len, 0, 0 };

	if (mt == NULL || len == 0)
		return -1;
	put_requests(&o);
	put_histograms(&o);
	put_workers(&o);
	put_small(&o, T_AUTH, "ollaguard_auth_failures_total",
	    "Requests refused for their key, by reason.", NULL, "reason");
	put_small(&o, T_LIMITED, "ollaguard_limited_total",
	    "Requests refused by a limit, by key and limit.", "key", "limit");
	put_counter(&o, "ollaguard_unmetered_responses_total",
	    "Proxied responses that carried no token counts.",
	    load(&mt->unmetered));
	put_counter(&o, "ollaguard_metrics_overflow_total",
	    "Observations counted under \"other\" for want of a row.",
	    load(&mt->overflow));
	put_counter(&o, "ollaguard_metrics_lost_total",
	    "Observations not counted at all: even \"other\" had no row.",
	    load(&mt->lost));
	put_head(&o, "ollaguard_build_info", "gauge",
	    "Always 1; the version of the running daemon as a label.");
	put_series(&o, "ollaguard_build_info", 1, "version", version);
	put(&o, "1\n");
	return o.full ? -1 : (int)o.off;
}
