/*
 * accesslog: where each request is recorded.  Each process opens the
 * file itself with O_APPEND, and a line is written with one write(), so
 * lines from many workers never interleave.  SIGUSR1 makes every
 * process reopen the file by name, which is what logrotate needs.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "accesslog.h"
#include "config.h"
#include "jsonesc.h"
#include "log.h"

/* The target escaped: \u00XX is six bytes for one, and the scheme. */
#define PATH_OUT	(ACCESSLOG_PATH_MAX * 6 + 128)

enum access_to { TO_OFF, TO_STDERR, TO_SYSLOG, TO_FILE };

static enum access_to	 to = TO_OFF;
static int		 fd = -1;
static int		 json;
static int		 facility = LOG_DAEMON;
static char		 logpath[PATH_MAX];

static int
open_file(void)
{
	int nfd;

	nfd = open(logpath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (nfd == -1)
		log_warn("access log %s", logpath);
	return nfd;
}

int
accesslog_open(const struct config *cfg)
{
	json = strcmp(cfg->access_log_format, "json") == 0;
	facility = log_facility_parse(cfg->syslog_facility);
	if (strcmp(cfg->access_log, "off") == 0 || cfg->access_log[0] == '\0')
		to = TO_OFF;
	else if (strcmp(cfg->access_log, "-") == 0)
		to = TO_STDERR;
	else if (strcmp(cfg->access_log, "syslog") == 0)
		to = TO_SYSLOG;
	else {
		to = TO_FILE;
		strlcpy(logpath, cfg->access_log, sizeof(logpath));
		if ((fd = open_file()) == -1)
			return -1;
	}
	return 0;
}

void
accesslog_reopen(void)
{
	int nfd;

	if (to != TO_FILE)
		return;
	if ((nfd = open_file()) == -1)
		return;
	if (fd != -1)
		close(fd);
	fd = nfd;
}

void
accesslog_close(void)
{
	if (fd != -1)
		close(fd);
	fd = -1;
}

/*
 * Appends s escaped as nginx escapes its log: "\x22" for a quote, and
 * the same for a backslash, control bytes and bytes from 0x7f up; and,
 * here, for a space too, so that each field stays one token and a
 * client can never forge the fields after it.  Escapes are never cut.
 */
static size_t
log_str(char *dst, size_t size, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0, i;
	unsigned char c;

	for (i = 0; i < len && n + 5 <= size; i++) {
		c = (unsigned char)s[i];
		if (c > 0x20 && c < 0x7f && c != '"' && c != '\\') {
			dst[n++] = (char)c;
			continue;
		}
		dst[n++] = '\\';
		dst[n++] = 'x';
		dst[n++] = hex[c >> 4];
		dst[n++] = hex[c & 0xf];
	}
	dst[n] = '\0';
	return n;
}

/*
 * The part of the target a line shows, escaped into out: never the
 * query (it may carry secrets) and never the userinfo of an absolute-
 * form target ("http://user:password@host/x" is logged as
 * "http://host/x").  What is cut ends at the last '@' of the target: a
 * password may hold '/', '?' or '#', and logging too little of a
 * malformed target is better than logging a secret.
 */
static void
log_target(const struct access_entry *e, char *out, size_t size)
{
	const char *t = e->target, *end = e->target + e->target_len;
	const char *at = NULL, *p, *q;
	size_t n = 0, skip;
	int j = json;

	if (e->target_len > 0 && t[0] != '/')
		for (p = t; p < end; p++)
			if (*p == '@')
				at = p;
	if (at != NULL) {
		/* The scheme is kept, if it looks like one. */
		p = memmem(t, (size_t)(at - t), "://", 3);
		skip = p != NULL && p - t <= 16 ? (size_t)(p + 3 - t) : 0;
		n = j ? jsonesc(out, size, t, skip) : log_str(out, size, t,
		    skip);
		t = at + 1;
	}
	if ((q = memchr(t, '?', (size_t)(end - t))) != NULL)
		end = q;
	if (end - t > ACCESSLOG_PATH_MAX)
		end = t + ACCESSLOG_PATH_MAX;
	n += j ? jsonesc(out + n, size - n, t, (size_t)(end - t)) :
	    log_str(out + n, size - n, t, (size_t)(end - t));
	if (n == 0 && !j)
		strlcpy(out, "-", size);
}

/*
 * The timestamp, formatted once a second: gmtime and strftime cost more
 * than the rest of the line, and a busy second has thousands of lines.
 */
static void
stamp(time_t t, char *out, size_t size)
{
	static time_t last = -1;
	static int last_json = -1;
	static char cached[64];
	struct tm tm;

	if (t != last || json != last_json) {
		gmtime_r(&t, &tm);
		if (json)
			strftime(cached, sizeof(cached), "%Y-%m-%dT%H:%M:%S",
			    &tm);
		else
			strftime(cached, sizeof(cached),
			    "%d/%b/%Y:%H:%M:%S +0000", &tm);
		last = t;
		last_json = json;
	}
	strlcpy(out, cached, size);
}

/*
 * The line is put together by copying, not formatted: printf's work
 * was a third of a refused request's instructions.  Each field has a
 * bound of its own (cap), so the line always fits ACCESSLOG_LINE_MAX.
 */
struct line {
	char		*p;
	char		*end;
	int		 full;
};

static void
l_mem(struct line *l, const char *s, size_t n)
{
	if (l->full || n > (size_t)(l->end - l->p)) {
		l->full = 1;
		return;
	}
	memcpy(l->p, s, n);
	l->p += n;
}

#define l_lit(l, s)	l_mem((l), (s), sizeof(s) - 1)

static void
l_str(struct line *l, const char *s)
{
	l_mem(l, s, strlen(s));
}

static void
l_i64(struct line *l, int64_t v)
{
	char buf[24], *d = buf + sizeof(buf);
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;

	do
		*--d = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		*--d = '-';
	l_mem(l, d, (size_t)(buf + sizeof(buf) - d));
}

/* n thousandths (n >= 0) as "%.3f" would print n / 1000. */
static void
l_dec3(struct line *l, int64_t n)
{
	char frac[4];

	if (n < 0)
		n = 0;
	l_i64(l, n / 1000);
	frac[0] = '.';
	frac[1] = (char)('0' + n / 100 % 10);
	frac[2] = (char)('0' + n / 10 % 10);
	frac[3] = (char)('0' + n % 10);
	l_mem(l, frac, 4);
}

/* Microseconds as seconds with three decimals, rounded. */
static void
l_secs(struct line *l, int64_t us)
{
	l_dec3(l, (us + 500) / 1000);
}

/* s escaped by esc (log_str or jsonesc) into at most cap - 1 bytes;
 * the length written. */
static size_t
l_esc(struct line *l, size_t (*esc)(char *, size_t, const char *, size_t),
    const char *s, size_t len, size_t cap)
{
	size_t n;

	if (l->full || (size_t)(l->end - l->p) < cap) {
		l->full = 1;
		return 0;
	}
	n = esc(l->p, cap, s, len);
	l->p += n;
	return n;
}

/* For the combined format: 0 written means "-" is the caller's. */
static size_t
l_log(struct line *l, const char *s, size_t len, size_t cap)
{
	return l_esc(l, log_str, s, len, cap);
}

static void
l_logdash(struct line *l, const char *s, size_t len, size_t cap)
{
	if (l_log(l, s, len, cap) == 0)
		l_lit(l, "-");
}

static void
l_json(struct line *l, const char *s, size_t len, size_t cap)
{
	l_esc(l, jsonesc, s, len, cap);
}

/* A JSON string, or null for an empty one. */
static void
l_jsonornull(struct line *l, const char *s, size_t len, size_t cap)
{
	if (len == 0) {
		l_lit(l, "null");
		return;
	}
	l_lit(l, "\"");
	l_json(l, s, len, cap);
	l_lit(l, "\"");
}

/*
 * With several upstreams, the box that answered and the other boxes
 * tried first: " upstream=NAME retries=N", or the same as JSON fields.
 * Nothing with one upstream, so its lines stay as they were.
 */
static void
l_upstream(struct line *l, const struct access_entry *e, int as_json)
{
	if (e->upstream == NULL)
		return;
	if (as_json) {
		l_lit(l, ",\"upstream\":\"");
		l_json(l, e->upstream, strnlen(e->upstream, 64), 200);
		l_lit(l, "\",\"retries\":");
	} else {
		l_lit(l, " upstream=");
		l_logdash(l, e->upstream, strnlen(e->upstream, 64), 200);
		l_lit(l, " retries=");
	}
	l_i64(l, e->retries);
}

/* "model", "prompt_tokens", "completion_tokens", "load_ms": null
 * unless the request was forwarded (load_ms: unless Ollama said). */
static void
l_usage_json(struct line *l, const struct access_entry *e)
{
	if (!e->metered) {
		l_lit(l, "\"model\":null,\"prompt_tokens\":null,"
		    "\"completion_tokens\":null,\"load_ms\":null");
		return;
	}
	l_lit(l, "\"model\":");
	l_jsonornull(l, e->model, strnlen(e->model, 128), 600);
	l_lit(l, ",\"prompt_tokens\":");
	l_i64(l, e->prompt_tokens);
	l_lit(l, ",\"completion_tokens\":");
	l_i64(l, e->completion_tokens);
	l_lit(l, ",\"load_ms\":");
	if (e->load_us < 0)
		l_lit(l, "null");
	else
		l_dec3(l, e->load_us);
}

/* " model=M prompt=N completion=N load=S" of the combined format,
 * "-" for what is not known. */
static void
l_usage_combined(struct line *l, const struct access_entry *e)
{
	if (!e->metered) {
		l_lit(l, " model=- prompt=- completion=- load=-");
		return;
	}
	l_lit(l, " model=");
	l_logdash(l, e->model, strnlen(e->model, 128), 400);
	l_lit(l, " prompt=");
	l_i64(l, e->prompt_tokens);
	l_lit(l, " completion=");
	l_i64(l, e->completion_tokens);
	l_lit(l, " load=");
	if (e->load_us < 0)
		l_lit(l, "-");
	else
		l_secs(l, e->load_us);
}

static void
format_json(struct line *l, const struct access_entry *e,
    const struct timespec *ts)
{
	char when[64], path[PATH_OUT];
	const char *name = e->key_name != NULL ? e->key_name : "";

	stamp(ts->tv_sec, when, sizeof(when));
	log_target(e, path, sizeof(path));
	l_lit(l, "{\"time\":\"");
	l_str(l, when);
	l_lit(l, ".");
	l_mem(l, (const char []){ (char)('0' + ts->tv_nsec / 100000000 % 10),
	    (char)('0' + ts->tv_nsec / 10000000 % 10),
	    (char)('0' + ts->tv_nsec / 1000000 % 10) }, 3);
	l_lit(l, "Z\",\"client\":\"");
	l_json(l, e->client, strlen(e->client), 400);
	l_lit(l, "\",\"key\":\"");
	if (e->key != NULL) {
		l_json(l, e->key, strnlen(e->key, 64), 800);
		l_lit(l, "\",\"key_id\":null,\"key_name\":null");
	} else {
		l_i64(l, e->key_id);
		l_lit(l, "\",\"key_id\":");
		l_i64(l, e->key_id);
		l_lit(l, ",\"key_name\":");
		l_jsonornull(l, name, strnlen(name, 128), 800);
	}
	l_lit(l, ",\"method\":\"");
	l_json(l, e->method, strlen(e->method), 200);
	l_lit(l, "\",\"path\":\"");
	l_str(l, path);
	l_lit(l, "\",\"protocol\":\"HTTP/1.");
	l_i64(l, e->http_minor);
	l_lit(l, "\",\"status\":");
	l_i64(l, e->status);
	l_lit(l, ",\"bytes_in\":");
	l_i64(l, (int64_t)e->bytes_in);
	l_lit(l, ",\"bytes_out\":");
	l_i64(l, (int64_t)e->bytes_out);
	l_lit(l, ",\"duration_ms\":");
	l_dec3(l, e->duration_us);
	l_lit(l, ",\"ttfb_ms\":");
	if (e->ttfb_us < 0)
		l_lit(l, "null");
	else
		l_dec3(l, e->ttfb_us);
	l_lit(l, ",\"fail\":\"");
	l_str(l, e->fail);
	l_lit(l, "\",");
	l_usage_json(l, e);
	l_upstream(l, e, 1);
	l_lit(l, "}\n");
}

static void
format_combined(struct line *l, const struct access_entry *e,
    const struct timespec *ts)
{
	char when[64], path[PATH_OUT], name[129];
	size_t i;

	stamp(ts->tv_sec, when, sizeof(when));
	log_target(e, path, sizeof(path));
	l_logdash(l, e->client, strlen(e->client), 200);
	l_lit(l, " - ");
	if (e->key != NULL)
		l_logdash(l, e->key, strnlen(e->key, 64), 600);
	else {
		l_i64(l, e->key_id);
		if (e->key_name != NULL && e->key_name[0] != '\0') {
			/* A name's spaces and quotes have always been '_'. */
			strlcpy(name, e->key_name, sizeof(name));
			for (i = 0; name[i] != '\0'; i++)
				if (name[i] == ' ' || name[i] == '"')
					name[i] = '_';
			l_lit(l, "/");
			l_log(l, name, strlen(name), 580);
		}
	}
	l_lit(l, " [");
	l_str(l, when);
	l_lit(l, "] \"");
	l_logdash(l, e->method, strlen(e->method), 200);
	l_lit(l, " ");
	l_str(l, path);
	l_lit(l, " HTTP/1.");
	l_i64(l, e->http_minor);
	l_lit(l, "\" ");
	l_i64(l, e->status);
	l_lit(l, " ");
	l_i64(l, (int64_t)e->bytes_out);
	l_lit(l, " in=");
	l_i64(l, (int64_t)e->bytes_in);
	l_lit(l, " time=");
	l_secs(l, e->duration_us);
	l_lit(l, " ttfb=");
	if (e->ttfb_us < 0)
		l_lit(l, "-");
	else
		l_secs(l, e->ttfb_us);
	l_lit(l, " fail=");
	l_str(l, e->fail);
	l_usage_combined(l, e);
	l_upstream(l, e, 0);
	l_lit(l, "\n");
}

/*
 * The line for e, newline included; 0 if it would not fit, which the
 * field limits above rule out: a cut line could not be parsed back.
 */
size_t
accesslog_format(char *line, size_t size, const struct access_entry *e,
    int as_json, const struct timespec *ts)
{
	struct line l = { line, line + size - 1, 0 };

	json = as_json;
	if (size == 0)
		return 0;
	if (json)
		format_json(&l, e, ts);
	else
		format_combined(&l, e, ts);
	if (l.full)
		return 0;
	*l.p = '\0';
	return (size_t)(l.p - line);
}

int
accesslog_beside_messages(void)
{
	return (to == TO_STDERR && log_on_stderr()) ||
	    (to == TO_SYSLOG && !log_on_stderr());
}

void
accesslog_write(const struct access_entry *e)
{
	char line[ACCESSLOG_LINE_MAX];
	struct timespec ts;
	size_t n;

	if (to == TO_OFF || (to == TO_FILE && fd == -1))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	if ((n = accesslog_format(line, sizeof(line), e, json, &ts)) == 0)
		return;
	switch (to) {
	case TO_SYSLOG:
		syslog(LOG_INFO | facility, "%.*s", (int)n - 1, line);
		break;
	case TO_STDERR:
	case TO_FILE:
		/* A full disk loses log lines, never requests. */
		if (write(to == TO_FILE ? fd : STDERR_FILENO, line, n) == -1 &&
		    errno != EAGAIN)
			errno = 0;
		break;
	default:
		break;
	}
}
