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
 * The timestamp, formatted once a second: gmtime and strftime cost more
 * than the rest of the line, and a busy second has thousands of lines.
 */
static void
stamp(time_t t, char *out, size_t size)
{
	static time_t last = -1;
	static char cached[64];
	struct tm tm;

	if (t != last) {
		gmtime_r(&t, &tm);
		if (json)
			strftime(cached, sizeof(cached), "%Y-%m-%dT%H:%M:%S",
			    &tm);
		else
			strftime(cached, sizeof(cached),
			    "%d/%b/%Y:%H:%M:%S +0000", &tm);
		last = t;
	}
	strlcpy(out, cached, size);
}

void
accesslog_write(const struct access_entry *e)
{
	char line[2048], when[64], key[600], path[1024], name[400], ttfb[32];
	struct timespec ts;
	const char *q;
	size_t plen, plen2;
	int n;

	if (to == TO_OFF || (to == TO_FILE && fd == -1))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	plen = e->target_len;
	if ((q = memchr(e->target, '?', plen)) != NULL)
		plen = (size_t)(q - e->target);
	if (plen > 512)
		plen = 512;

	if (e->ttfb_us < 0)
		strlcpy(ttfb, json ? "null" : "-", sizeof(ttfb));
	else
		snprintf(ttfb, sizeof(ttfb), "%.3f", json ?
		    (double)e->ttfb_us / 1e3 : (double)e->ttfb_us / 1e6);

	if (json) {
		stamp(ts.tv_sec, when, sizeof(when));
		jsonesc(path, sizeof(path), e->target, plen);
		jsonesc(name, sizeof(name), e->key_name != NULL ?
		    e->key_name : "", e->key_name != NULL ?
		    strlen(e->key_name) : 0);
		if (e->key != NULL)
			snprintf(key, sizeof(key), "\"key\":\"%s\","
			    "\"key_id\":null,\"key_name\":null", e->key);
		else
			snprintf(key, sizeof(key), "\"key\":\"%lld\","
			    "\"key_id\":%lld,\"key_name\":%s%s%s",
			    (long long)e->key_id, (long long)e->key_id,
			    name[0] != '\0' ? "\"" : "",
			    name[0] != '\0' ? name : "null",
			    name[0] != '\0' ? "\"" : "");
		n = snprintf(line, sizeof(line), "{\"time\":\"%s.%03ldZ\","
		    "\"client\":\"%s\",%s,\"method\":\"%s\",\"path\":\"%s\","
		    "\"protocol\":\"HTTP/1.%d\",\"status\":%d,"
		    "\"bytes_in\":%llu,\"bytes_out\":%llu,"
		    "\"duration_ms\":%.3f,\"ttfb_ms\":%s,"
		    "\"fail\":\"%s\"}\n", when, ts.tv_nsec / 1000000,
		    e->client, key, e->method, path, e->http_minor, e->status,
		    (unsigned long long)e->bytes_in,
		    (unsigned long long)e->bytes_out,
		    (double)e->duration_us / 1000.0, ttfb, e->fail);
	} else {
		stamp(ts.tv_sec, when, sizeof(when));
		if (e->key != NULL)
			strlcpy(key, e->key, sizeof(key));
		else if (e->key_name != NULL && e->key_name[0] != '\0')
			snprintf(key, sizeof(key), "%lld/%.128s",
			    (long long)e->key_id, e->key_name);
		else
			snprintf(key, sizeof(key), "%lld",
			    (long long)e->key_id);
		/* Spaces and quotes in a name would break the fields. */
		for (plen2 = 0; key[plen2] != '\0'; plen2++)
			if (key[plen2] == ' ' || key[plen2] == '"')
				key[plen2] = '_';
		n = snprintf(line, sizeof(line), "%s - %s [%s] \"%s %.*s "
		    "HTTP/1.%d\" %d %llu in=%llu time=%.3f ttfb=%s fail=%s\n",
		    e->client, key, when, e->method, (int)plen, e->target,
		    e->http_minor, e->status,
		    (unsigned long long)e->bytes_out,
		    (unsigned long long)e->bytes_in,
		    (double)e->duration_us / 1e6, ttfb, e->fail);
	}
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	switch (to) {
	case TO_SYSLOG:
		syslog(LOG_INFO | facility, "%.*s", n - 1, line);
		break;
	case TO_STDERR:
	case TO_FILE:
		/* A full disk loses log lines, never requests. */
		if (write(to == TO_FILE ? fd : STDERR_FILENO, line,
		    (size_t)n) == -1 && errno != EAGAIN)
			errno = 0;
		break;
	default:
		break;
	}
}
