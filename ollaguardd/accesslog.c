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
 * With several upstreams, the box that answered and the other boxes
 * tried first: " upstream=NAME retries=N", or the same as JSON fields.
 * Nothing with one upstream, so its lines stay as they were.
 */
static const char *
upstream_field(const struct access_entry *e, int as_json)
{
	static char out[300];
	char name[200];

	if (e->upstream == NULL)
		return "";
	if (as_json) {
		jsonesc(name, sizeof(name), e->upstream,
		    strnlen(e->upstream, 64));
		snprintf(out, sizeof(out), ",\"upstream\":\"%s\","
		    "\"retries\":%d", name, e->retries);
	} else {
		log_str(name, sizeof(name), e->upstream,
		    strnlen(e->upstream, 64));
		snprintf(out, sizeof(out), " upstream=%s retries=%d",
		    name[0] != '\0' ? name : "-", e->retries);
	}
	return out;
}

/* "model", "prompt_tokens", "completion_tokens", "load_ms": null
 * unless the request was forwarded (load_ms: unless Ollama said). */
static void
usage_json(const struct access_entry *e, char *out, size_t len)
{
	char model[600], load[32];

	if (!e->metered) {
		strlcpy(out, "\"model\":null,\"prompt_tokens\":null,"
		    "\"completion_tokens\":null,\"load_ms\":null", len);
		return;
	}
	jsonesc(model, sizeof(model), e->model, strnlen(e->model, 128));
	if (e->load_us < 0)
		strlcpy(load, "null", sizeof(load));
	else
		snprintf(load, sizeof(load), "%.3f", (double)e->load_us / 1e3);
	snprintf(out, len, "\"model\":%s%s%s,\"prompt_tokens\":%lld,"
	    "\"completion_tokens\":%lld,\"load_ms\":%s",
	    model[0] != '\0' ? "\"" : "", model[0] != '\0' ? model : "null",
	    model[0] != '\0' ? "\"" : "", (long long)e->prompt_tokens,
	    (long long)e->completion_tokens, load);
}

/* " model=M prompt=N completion=N load=S" of the combined format,
 * "-" for what is not known. */
static void
usage_combined(const struct access_entry *e, char *out, size_t len)
{
	char model[400], load[32];

	if (!e->metered) {
		strlcpy(out, " model=- prompt=- completion=- load=-", len);
		return;
	}
	if (log_str(model, sizeof(model), e->model,
	    strnlen(e->model, 128)) == 0)
		strlcpy(model, "-", sizeof(model));
	if (e->load_us < 0)
		strlcpy(load, "-", sizeof(load));
	else
		snprintf(load, sizeof(load), "%.3f", (double)e->load_us / 1e6);
	snprintf(out, len, " model=%s prompt=%lld completion=%lld load=%s",
	    model, (long long)e->prompt_tokens,
	    (long long)e->completion_tokens, load);
}

static int
format_json(char *line, size_t size, const struct access_entry *e,
    const struct timespec *ts, const char *ttfb)
{
	char when[64], key[1024], path[PATH_OUT], name[800], client[400];
	char method[200], usage[800];

	stamp(ts->tv_sec, when, sizeof(when));
	log_target(e, path, sizeof(path));
	usage_json(e, usage, sizeof(usage));
	jsonesc(client, sizeof(client), e->client, strlen(e->client));
	jsonesc(method, sizeof(method), e->method, strlen(e->method));
	jsonesc(name, sizeof(name), e->key_name != NULL ? e->key_name : "",
	    e->key_name != NULL ? strnlen(e->key_name, 128) : 0);
	if (e->key != NULL) {
		jsonesc(name, sizeof(name), e->key, strnlen(e->key, 64));
		snprintf(key, sizeof(key), "\"key\":\"%s\","
		    "\"key_id\":null,\"key_name\":null", name);
	} else
		snprintf(key, sizeof(key), "\"key\":\"%lld\","
		    "\"key_id\":%lld,\"key_name\":%s%s%s",
		    (long long)e->key_id, (long long)e->key_id,
		    name[0] != '\0' ? "\"" : "",
		    name[0] != '\0' ? name : "null",
		    name[0] != '\0' ? "\"" : "");
	return snprintf(line, size, "{\"time\":\"%s.%03ldZ\","
	    "\"client\":\"%s\",%s,\"method\":\"%s\",\"path\":\"%s\","
	    "\"protocol\":\"HTTP/1.%d\",\"status\":%d,"
	    "\"bytes_in\":%llu,\"bytes_out\":%llu,"
	    "\"duration_ms\":%.3f,\"ttfb_ms\":%s,"
	    "\"fail\":\"%s\",%s%s}\n", when, ts->tv_nsec / 1000000,
	    client, key, method, path, e->http_minor, e->status,
	    (unsigned long long)e->bytes_in,
	    (unsigned long long)e->bytes_out,
	    (double)e->duration_us / 1000.0, ttfb, e->fail, usage,
	    upstream_field(e, 1));
}

static int
format_combined(char *line, size_t size, const struct access_entry *e,
    const struct timespec *ts, const char *ttfb)
{
	char when[64], key[600], path[PATH_OUT], name[129], client[200];
	char method[200], usage[500];
	size_t i, n;

	stamp(ts->tv_sec, when, sizeof(when));
	log_target(e, path, sizeof(path));
	usage_combined(e, usage, sizeof(usage));
	log_str(client, sizeof(client), e->client, strlen(e->client));
	log_str(method, sizeof(method), e->method, strlen(e->method));
	n = 0;
	if (e->key != NULL)
		n = log_str(key, sizeof(key), e->key, strnlen(e->key, 64));
	else {
		n = (size_t)snprintf(key, sizeof(key), "%lld",
		    (long long)e->key_id);
		if (e->key_name != NULL && e->key_name[0] != '\0') {
			/* A name's spaces and quotes have always been '_'. */
			strlcpy(name, e->key_name, sizeof(name));
			for (i = 0; name[i] != '\0'; i++)
				if (name[i] == ' ' || name[i] == '"')
					name[i] = '_';
			key[n++] = '/';
			n += log_str(key + n, sizeof(key) - n, name,
			    strlen(name));
		}
	}
	return snprintf(line, size, "%s - %s [%s] \"%s %s HTTP/1.%d\" %d "
	    "%llu in=%llu time=%.3f ttfb=%s fail=%s%s%s\n", client[0] != '\0' ?
	    client : "-", n > 0 ? key : "-", when,
	    method[0] != '\0' ? method : "-", path, e->http_minor,
	    e->status, (unsigned long long)e->bytes_out,
	    (unsigned long long)e->bytes_in, (double)e->duration_us / 1e6,
	    ttfb, e->fail, usage, upstream_field(e, 0));
}

/*
 * The line for e, newline included; 0 if it would not fit, which the
 * field limits above rule out: a cut line could not be parsed back.
 */
size_t
accesslog_format(char *line, size_t size, const struct access_entry *e,
    int as_json, const struct timespec *ts)
{
	char ttfb[32];
	int n;

	json = as_json;
	if (e->ttfb_us < 0)
		strlcpy(ttfb, json ? "null" : "-", sizeof(ttfb));
	else
		snprintf(ttfb, sizeof(ttfb), "%.3f", json ?
		    (double)e->ttfb_us / 1e3 : (double)e->ttfb_us / 1e6);
	n = json ? format_json(line, size, e, ts, ttfb) :
	    format_combined(line, size, e, ts, ttfb);
	if (n <= 0 || (size_t)n >= size)
		return 0;
	return (size_t)n;
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
