/*
 * settings: the one list of settings, with the checks of their values,
 * and its two printed forms (--help, --check-config).  The table drives
 * config.c's flag parser, environment, config file and defaults, so a
 * new setting is a field in struct config and one line here.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "config.h"
#include "keygen.h"
#include "log.h"
#include "policyclass.h"
#include "settings.h"

static int	check_host(const char *, const char **);
static int	check_url_parts(const char *, const char **);
static int	check_upstream(const char *, const char **);
static int	check_prefix(const char *, const char **);
static int	check_loglevel(const char *, const char **);
static int	check_facility(const char *, const char **);
static int	check_access_log_format(const char *, const char **);
static int	check_allow(const char *, const char **);
static int	check_cidrs(const char *, const char **);
static int	check_stream_usage(const char *, const char **);

#define STR(n, e, f, def, arg, chk, help) \
	{ n, e, CONF_STR, offsetof(struct config, f), \
	  sizeof(((struct config *)0)->f), 0, 0, def, arg, chk, help }
#define NUM(n, e, f, lo, hi, def, help) \
	{ n, e, CONF_NUM, offsetof(struct config, f), \
	  sizeof(long long), lo, hi, def, "N", NULL, help }
#define BOOL(n, e, f, help) \
	{ n, e, CONF_BOOL, offsetof(struct config, f), \
	  sizeof(int), 0, 1, "no", "", NULL, help }

const struct setting settings[] = {
	STR("host", "OLLAGUARD_HOST", host, "0.0.0.0", "ADDR", check_host,
	    "IPv4 or IPv6 address to listen on"),
	NUM("port", "OLLAGUARD_PORT", port, 1, 65535, "4000",
	    "TCP port to listen on"),
	{ "target-url", "TARGET_URL", CONF_LIST,
	  offsetof(struct config, target_urls), CONFIG_URL_MAX, 0, 0,
	  "http://127.0.0.1:11434", "URL", check_upstream, "an Ollama "
	  "server, optionally with a path prefix (user:password@ in it goes "
	  "upstream as Basic auth); several: repeat the option" },
	STR("master-key", "MASTER_KEY", master_key, "", "KEY", NULL,
	    "key that passes everywhere and may call /key/generate"),
	STR("master-key-file", "MASTER_KEY_FILE", master_key_file, "", "FILE",
	    NULL, "read the master key from FILE (one line)"),
	STR("prefix", "OLLAGUARD_PREFIX", prefix, "", "P", check_prefix,
	    "prefix of generated keys"),
	NUM("timeout", "OLLAGUARD_TIMEOUT", timeout, 1, 86400, "300",
	    "seconds of upstream silence before giving up (504)"),
	NUM("manage-timeout", "OLLAGUARD_MANAGE_TIMEOUT", manage_timeout, 0,
	    86400, "0", "the same for the manage class: pulls, pushes, "
	    "creates (0: none)"),
	STR("db", "OLLAGUARD_DB", db, "./ollaguard.db", "PATH", NULL,
	    "the key database"),
	NUM("workers", "OLLAGUARD_WORKERS", workers, 1, 4096, "4",
	    "worker processes started at launch"),
	NUM("min-spare", "OLLAGUARD_MIN_SPARE", min_spare, 0, 4096, "2",
	    "fewest idle workers kept ready"),
	NUM("max-spare", "OLLAGUARD_MAX_SPARE", max_spare, 1, 4096, "4",
	    "most idle workers kept; more are retired"),
	NUM("max-workers", "OLLAGUARD_MAX_WORKERS", max_workers, 1, 4096,
	    "512", "most workers, busy or idle (concurrent requests)"),
	NUM("max-requests", "OLLAGUARD_MAX_REQUESTS", max_requests, 0,
	    1000000000, "0", "requests a worker serves before it retires "
	    "(0: never)"),
	NUM("shutdown-timeout", "OLLAGUARD_SHUTDOWN_TIMEOUT", shutdown_timeout,
	    0, 86400, "30", "seconds active requests get to finish on "
	    "SIGTERM"),
	STR("config", "OLLAGUARD_CONFIG", config_file, "", "FILE", NULL,
	    "read settings from FILE"),
	NUM("backlog", "OLLAGUARD_BACKLOG", backlog, 1, 65535, "511",
	    "listen backlog"),
	NUM("keepalive-timeout", "OLLAGUARD_KEEPALIVE_TIMEOUT",
	    keepalive_timeout, 0, 3600, "5",
	    "seconds an idle client connection is kept open"),
	NUM("header-timeout", "OLLAGUARD_HEADER_TIMEOUT", header_timeout, 1,
	    3600, "10", "seconds a client has to send a whole request head"),
	NUM("body-timeout", "OLLAGUARD_BODY_TIMEOUT", body_timeout, 1, 86400,
	    "60", "seconds a request body may pause before it is dropped"),
	NUM("send-timeout", "OLLAGUARD_SEND_TIMEOUT", send_timeout, 1, 86400,
	    "60", "seconds a client may stop reading before it is dropped"),
	NUM("max-conns-per-ip", "OLLAGUARD_MAX_CONNS_PER_IP",
	    max_conns_per_ip, 0, 1000000, "256",
	    "connections one client address may hold (0: no limit)"),
	NUM("auth-fail-limit", "OLLAGUARD_AUTH_FAIL_LIMIT", auth_fail_limit,
	    0, 1000000, "30", "failed authentications per minute from one "
	    "address before 429 (0: no limit)"),
	BOOL("daemon", "OLLAGUARD_DAEMON", daemon,
	    "detach from the terminal and run in the background"),
	STR("pidfile", "OLLAGUARD_PIDFILE", pidfile, "", "FILE", NULL,
	    "write the master's pid to FILE; refuse to start twice"),
	STR("user", "OLLAGUARD_USER", user, "", "USER", NULL,
	    "when started as root, serve as USER"),
	STR("group", "OLLAGUARD_GROUP", group, "", "GROUP", NULL,
	    "when started as root, serve as GROUP (default: USER's)"),
	BOOL("check-config", "OLLAGUARD_CHECK_CONFIG", check_config,
	    "check the settings and the database, print them, and exit"),
	BOOL("syslog", "OLLAGUARD_SYSLOG", syslog,
	    "send the error log to syslog instead of stderr"),
	STR("syslog-facility", "OLLAGUARD_SYSLOG_FACILITY", syslog_facility,
	    "daemon", "NAME", check_facility,
	    "syslog facility: daemon, user, local0 ... local7"),
	STR("log-level", "OLLAGUARD_LOG_LEVEL", log_level, "info", "LEVEL",
	    check_loglevel, "error, warn, info or debug"),
	STR("access-log", "OLLAGUARD_ACCESS_LOG", access_log, "-", "WHERE",
	    NULL, "FILE, - (stderr), syslog or off"),
	STR("access-log-format", "OLLAGUARD_ACCESS_LOG_FORMAT",
	    access_log_format, "combined", "FORMAT", check_access_log_format,
	    "combined or json"),
	STR("default-allow", "OLLAGUARD_DEFAULT_ALLOW", default_allow,
	    "infer,read", "CLASSES", check_allow, "endpoint classes a new key "
	    "may use: read, infer, manage"),
	NUM("signature-window", "OLLAGUARD_SIGNATURE_WINDOW",
	    signature_window, 1, 86400, "300", "seconds a signed request's "
	    "ts may be off the clock"),
	NUM("max-json-body", "OLLAGUARD_MAX_JSON_BODY", max_json_body, 1024,
	    4294967296LL, "67108864", "bytes of a JSON body read whole to "
	    "check a model-restricted key's models (413 over it)"),
	NUM("health-interval", "OLLAGUARD_HEALTH_INTERVAL", health_interval,
	    1, 3600, "5", "seconds between polls of each upstream (several "
	    "target-urls)"),
	NUM("queue-timeout", "OLLAGUARD_QUEUE_TIMEOUT", queue_timeout, 0,
	    3600, "30", "seconds a request waits when every upstream is at "
	    "max-conns"),
	NUM("retries", "OLLAGUARD_RETRIES", retries, 0, 15, "2",
	    "other upstreams tried when one fails before answering"),
	{ "expose-upstream", "OLLAGUARD_EXPOSE_UPSTREAM", CONF_BOOL,
	  offsetof(struct config, expose_upstream), sizeof(int), 0, 1, "yes",
	  "", NULL, "name the upstream in responses to the master key" },
	{ "admin", "OLLAGUARD_ADMIN", CONF_BOOL,
	  offsetof(struct config, admin), sizeof(int), 0, 1, "yes", "", NULL,
	  "the admin page and API under /admin/ (master key)" },
	STR("admin-allow", "OLLAGUARD_ADMIN_ALLOW", admin_allow,
	    CONFIG_ADMIN_ALLOW, "CIDRS", check_cidrs, "client ranges that "
	    "may reach /admin (others get 404)"),
	STR("tls-cert", "OLLAGUARD_TLS_CERT", tls_cert, "", "FILE", NULL,
	    "serve TLS only, with this PEM certificate chain"),
	STR("tls-key", "OLLAGUARD_TLS_KEY", tls_key, "", "FILE", NULL,
	    "the PEM private key of tls-cert (read before dropping root)"),
	STR("target-ca", "OLLAGUARD_TARGET_CA", target_ca, "", "FILE", NULL,
	    "CA certificates an https target-url is checked against"),
	BOOL("target-insecure", "OLLAGUARD_TARGET_INSECURE", target_insecure,
	    "do not check an https target-url's certificate (unsafe)"),
	STR("trusted-proxies", "OLLAGUARD_TRUSTED_PROXIES", trusted_proxies,
	    "", "CIDRS", check_cidrs, "balancers whose X-Forwarded-For or "
	    "PROXY header names the client"),
	BOOL("proxy-protocol", "OLLAGUARD_PROXY_PROTOCOL", proxy_protocol,
	    "trusted-proxies send a PROXY protocol v1/v2 header first"),
	STR("openai-stream-usage", "OLLAGUARD_OPENAI_STREAM_USAGE",
	    openai_stream_usage, "off", "off|add", check_stream_usage,
	    "add: meter OpenAI streams whose client did not ask for usage"),
	NUM("usage-retention", "OLLAGUARD_USAGE_RETENTION", usage_retention,
	    1, 100000, "400", "days of usage kept in the database"),
	STR("metrics-allow", "OLLAGUARD_METRICS_ALLOW", metrics_allow,
	    "127.0.0.1/32,::1/128", "CIDRS", check_cidrs,
	    "addresses that may GET /metrics without a key"),
	NUM("clock-offset", "OLLAGUARD_CLOCK_OFFSET", clock_offset,
	    -3153600000LL, 3153600000LL, "0", "seconds added to now for UTC "
	    "days and months (testing only)"),
};
const size_t nsettings = sizeof(settings) / sizeof(settings[0]);

int
setting_is_url(const struct setting *s)
{
	return s->check == check_upstream;
}

const struct setting *
setting_find(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < nsettings; i++)
		if (strlen(settings[i].name) == len &&
		    strncmp(settings[i].name, name, len) == 0)
			return &settings[i];
	return NULL;
}

static int
check_host(const char *v, const char **why)
{
	unsigned char buf[sizeof(struct in6_addr)];

	if (inet_pton(AF_INET, v, buf) == 1 || inet_pton(AF_INET6, v, buf) == 1)
		return 0;
	*why = "not an IPv4 or IPv6 address";
	return -1;
}

int
config_check_url(const char *v, const char **why)
{
	const char *host;

	if (strncmp(v, "http://", 7) == 0)
		host = v + 7;
	else if (strncmp(v, "https://", 8) == 0)
		host = v + 8;
	else {
		*why = "must start with http:// or https://";
		return -1;
	}
	if (*host == '\0' || *host == '/' || *host == ':') {
		*why = "has no host";
		return -1;
	}
	if (strpbrk(v, "?# \t\r\n") != NULL) {
		*why = "may not hold a query, fragment or whitespace";
		return -1;
	}
	return check_url_parts(v, why);
}

/*
 * The proxy hands the URL to libcurl, so libcurl's parser is the judge:
 * a value it rejects (port 99999, "[::1" without its bracket) would
 * start a daemon that answers every request with a 502.
 */
static int
check_url_parts(const char *v, const char **why)
{
	CURLU *u;
	CURLUcode rc;
	char *port = NULL;
	int bad = 0;

	if ((u = curl_url()) == NULL) {
		*why = "cannot be checked (out of memory)";
		return -1;
	}
	if ((rc = curl_url_set(u, CURLUPART_URL, v, 0)) != CURLUE_OK) {
		*why = curl_url_strerror(rc);
		bad = 1;
	} else if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK &&
	    strtonum(port, 1, 65535, NULL) == 0) {
		*why = "has port 0";
		bad = 1;
	}
	curl_free(port);
	curl_url_cleanup(u);
	return bad ? -1 : 0;
}

/* A target-url value: its URL, then options that upstreams.c reads. */
static int
check_upstream(const char *v, const char **why)
{
	char url[CONFIG_URL_MAX];

	strlcpy(url, v, sizeof(url));
	url[strcspn(url, " \t")] = '\0';
	return config_check_url(url, why);
}

static int
check_prefix(const char *v, const char **why)
{
	if (keygen_prefix_valid(v))
		return 0;
	*why = "must be at most 32 printable characters, no spaces or quotes";
	return -1;
}

static int
check_loglevel(const char *v, const char **why)
{
	if (log_level_parse(v) != -1)
		return 0;
	*why = "must be error, warn, info or debug";
	return -1;
}

static int
check_facility(const char *v, const char **why)
{
	if (log_facility_parse(v) != -1)
		return 0;
	*why = "is not a syslog facility (daemon, user, local0 ... local7)";
	return -1;
}

static int
check_access_log_format(const char *v, const char **why)
{
	if (strcmp(v, "combined") == 0 || strcmp(v, "json") == 0)
		return 0;
	*why = "must be combined or json";
	return -1;
}

static int
check_cidrs(const char *v, const char **why)
{
	struct cidr_list l;

	return cidr_parse_list(v, &l, why);
}

static int
check_allow(const char *v, const char **why)
{
	char err[96];
	int mask;

	if (policy_allow_parse(v, &mask, err, sizeof(err)) == 0)
		return 0;
	*why = "must be a list of classes: read, infer, manage";
	return -1;
}

static int
check_stream_usage(const char *v, const char **why)
{
	if (strcmp(v, "off") == 0 || strcmp(v, "add") == 0)
		return 0;
	*why = "must be off or add";
	return -1;
}

void
config_usage(FILE *out, const char *progname)
{
	char flag[64];
	size_t i;

	fprintf(out, "usage: %s [--option value ...]\n\n"
	    "Puts API-key authentication in front of an Ollama server.\n"
	    "Each option may also be set in the environment or the config "
	    "file;\nprecedence: option > environment > file > default.\n\n",
	    progname);
	for (i = 0; i < nsettings; i++) {
		snprintf(flag, sizeof(flag), "--%s%s%s", settings[i].name,
		    *settings[i].arg != '\0' ? " " : "", settings[i].arg);
		fprintf(out, "  %-28s %s\n  %-28s [%s; default: %s]\n", flag,
		    settings[i].help, "", settings[i].env,
		    *settings[i].def != '\0' ? settings[i].def : "none");
	}
	fprintf(out, "  %-28s %s\n  %-28s %s\n", "--help", "show this help",
	    "--version", "show the version");
}

void
config_print(const struct config *cfg, FILE *out)
{
	const struct setting *s;
	const char *p;
	long long n;
	size_t i;
	char shown[CONFIG_URL_MAX];
	int b, j;

	for (i = 0; i < nsettings; i++) {
		s = &settings[i];
		p = (const char *)cfg + s->off;
		if (s->type == CONF_NUM) {
			memcpy(&n, p, sizeof(n));
			fprintf(out, "%s = %lld\n", s->name, n);
		} else if (s->type == CONF_BOOL) {
			memcpy(&b, p, sizeof(b));
			fprintf(out, "%s = %s\n", s->name, b ? "yes" : "no");
		} else if (s->type == CONF_LIST) {
			/* A URL may carry a password: never print it. */
			for (j = 0; j < cfg->ntarget_urls; j++) {
				config_redact_url(cfg->target_urls[j], shown,
				    sizeof(shown));
				fprintf(out, "%s = \"%s\"\n", s->name, shown);
			}
		} else if (strcmp(s->name, "master-key") == 0)
			fprintf(out, "%s = %s\n", s->name,
			    *p != '\0' ? "(set)" : "(none)");
		else
			fprintf(out, "%s = \"%s\"\n", s->name, p);
	}
}

void
config_redact_url(const char *url, char *out, size_t outlen)
{
	const char *auth, *end, *at = NULL, *p, *keep;

	strlcpy(out, url, outlen);
	if ((auth = strstr(url, "://")) == NULL)
		return;
	auth += 3;
	end = auth + strcspn(auth, "/ \t");
	for (p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	if (at == NULL)
		return;
	/* user:password keeps the user; a lone user name may be a token. */
	if ((keep = memchr(auth, ':', at - auth)) != NULL)
		keep++;
	else
		keep = auth;
	snprintf(out, outlen, "%.*s***%s", (int)(keep - url), url, at);
}
