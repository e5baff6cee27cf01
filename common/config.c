/*
 * config: settings from flags, environment, a config file and defaults.
 *
 * The table below is the one list of settings.  It drives the flag
 * parser, the environment, the config file, --help and config_print, so
 * a new setting is a field in struct config and one line here.  Values
 * are applied lowest precedence first (default, file, environment,
 * flag), each overwriting the last, and every value is checked where it
 * is read so the error can say where it came from.
 */
#include <sys/stat.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cidr.h"
#include "config.h"
#include "keygen.h"
#include "log.h"
#include "policyclass.h"


enum config_type {
	CONF_STR,
	CONF_NUM,
	CONF_BOOL,	/* a flag without a value; yes/no elsewhere */
	CONF_LIST	/* target-url: may be given several times */
};

struct setting {
	const char	*name;		/* flag without dashes; file key */
	const char	*env;
	enum config_type type;
	size_t		 off;
	size_t		 size;
	long long	 min, max;
	const char	*def;
	const char	*arg;		/* placeholder in --help */
	int		 (*check)(const char *, const char **);
	const char	*help;
};

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

static const struct setting settings[] = {
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
#define NSETTINGS	(sizeof(settings) / sizeof(settings[0]))

const char *
config_version(void)
{
	return OLLAGUARD_VERSION;
}

static const struct setting *
setting_find(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < NSETTINGS; i++)
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

/* yes/no, true/false, on/off, 1/0: -1 if none of them. */
static int
parse_bool(const char *v)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t i;

	for (i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return 1;
		if (strcasecmp(v, no[i]) == 0)
			return 0;
	}
	return -1;
}

/*
 * The master key and its file: given empty on purpose (--master-key "",
 * MASTER_KEY= in an environment file), they would silently mean "no
 * master key" and perhaps no authentication at all.  Leaving the setting
 * out is how to have none; an empty value is an error.
 */
static int
never_empty(const struct setting *s)
{
	return strcmp(s->name, "master-key") == 0 ||
	    strcmp(s->name, "master-key-file") == 0;
}

/*
 * Each source (default, file, environment, flags) bumps layer.  The
 * target-url values of one source add up; those of a higher source
 * replace the lower's, as a single value would.
 */
static int	layer;

static int
list_add(struct config *cfg, const struct setting *s, const char *v,
    const char *where, char *err, size_t errlen)
{
	if (cfg->target_urls_layer != layer) {
		cfg->target_urls_layer = layer;
		cfg->ntarget_urls = 0;
	}
	if (cfg->ntarget_urls == CONFIG_UPSTREAMS_MAX) {
		snprintf(err, errlen, "%s: %s: more than %d values", where,
		    s->name, CONFIG_UPSTREAMS_MAX);
		return -1;
	}
	strlcpy(cfg->target_urls[cfg->ntarget_urls++], v, CONFIG_URL_MAX);
	return 0;
}

/* Sets one value; on error writes "<where>: <name>: <why>" to err. */
static int
setting_apply(struct config *cfg, const struct setting *s, const char *v,
    const char *where, char *err, size_t errlen)
{
	const char *why = NULL;
	long long n;
	char *dst = (char *)cfg + s->off;

	if (s->type == CONF_BOOL) {
		int b = parse_bool(v);

		if (b == -1) {
			snprintf(err, errlen, "%s: %s: \"%s\" is not yes or no",
			    where, s->name, v);
			return -1;
		}
		memcpy(dst, &b, sizeof(b));
		return 0;
	}
	if (s->type == CONF_NUM) {
		n = strtonum(v, s->min, s->max, &why);
		if (why != NULL) {
			snprintf(err, errlen, "%s: %s: \"%s\" is %s "
			    "(expected %lld to %lld)", where, s->name, v, why,
			    s->min, s->max);
			return -1;
		}
		memcpy(dst, &n, sizeof(n));
		return 0;
	}
	if (*v == '\0' && never_empty(s) && strcmp(where, "default") != 0) {
		snprintf(err, errlen, "%s: %s: empty; to run without a master "
		    "key, leave the setting out", where, s->name);
		return -1;
	}
	if (strlen(v) >= s->size) {
		snprintf(err, errlen, "%s: %s: value too long (at most %zu "
		    "bytes)", where, s->name, s->size - 1);
		return -1;
	}
	if (s->check != NULL && (*v != '\0' || s->def[0] != '\0') &&
	    s->check(v, &why) == -1) {
		char shown[CONFIG_URL_MAX];

		/* A URL may carry a password: never echo it. */
		if (s->check == check_upstream)
			config_redact_url(v, shown, sizeof(shown));
		else
			strlcpy(shown, v, sizeof(shown));
		snprintf(err, errlen, "%s: %s: \"%s\" %s", where, s->name,
		    shown, why);
		return -1;
	}
	if (s->type == CONF_LIST)
		return list_add(cfg, s, v, where, err, errlen);
	strlcpy(dst, v, s->size);
	return 0;
}

/*
 * Splits one config file line into name and value.  Values may be
 * quoted with " (backslash escapes \" and \\) or '; an unquoted value
 * ends at a # that follows whitespace.  Returns 0 for a blank or comment
 * line, 1 for a setting, -1 with *why set.
 */
static int
parse_line(char *line, char **name, size_t *namelen, char **value,
    const char **why)
{
	char *p = line, *q, *end;

	while (isspace((unsigned char)*p))
		p++;
	if (*p == '\0' || *p == '#')
		return 0;
	*name = p;
	while (*p != '\0' && !isspace((unsigned char)*p) && *p != '=')
		p++;
	*namelen = p - *name;
	while (isspace((unsigned char)*p))
		p++;
	if (*p != '=') {
		*why = "expected \"name = value\"";
		return -1;
	}
	p++;
	while (isspace((unsigned char)*p))
		p++;
	if (*p == '"' || *p == '\'') {
		char quote = *p++;

		*value = q = p;
		for (; *p != quote; p++) {
			if (*p == '\0') {
				*why = "unterminated quoted value";
				return -1;
			}
			if (quote == '"' && *p == '\\' &&
			    (p[1] == '"' || p[1] == '\\'))
				p++;
			*q++ = *p;
		}
		*q = '\0';
		for (p++; isspace((unsigned char)*p); p++)
			;
		if (*p != '\0' && *p != '#') {
			*why = "text after the closing quote";
			return -1;
		}
		return 1;
	}
	*value = p;
	if (*p == '#')
		*p = '\0';
	for (end = p; *p != '\0'; p++) {
		if (*p == '#' && p > *value && isspace((unsigned char)p[-1]))
			break;
		if (!isspace((unsigned char)*p))
			end = p + 1;
	}
	*end = '\0';
	return 1;
}

static int
config_file(struct config *cfg, const char *path, char *err, size_t errlen)
{
	FILE *fp;
	char *line = NULL, *name, *value, where[PATH_MAX + 32];
	const struct setting *s;
	const char *why;
	size_t cap = 0, namelen;
	ssize_t len;
	int lineno = 0, rc = 0, r;

	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while ((len = getline(&line, &cap, fp)) != -1) {
		lineno++;
		snprintf(where, sizeof(where), "%s:%d", path, lineno);
		if ((size_t)len != strlen(line)) {
			snprintf(err, errlen, "%s: NUL byte in line", where);
			rc = -1;
			break;
		}
		line[strcspn(line, "\r\n")] = '\0';
		why = NULL;
		if ((r = parse_line(line, &name, &namelen, &value, &why)) == 0)
			continue;
		if (r == -1) {
			snprintf(err, errlen, "%s: %s", where, why);
			rc = -1;
			break;
		}
		/* config and check-config make no sense inside a file. */
		if ((s = setting_find(name, namelen)) == NULL ||
		    strcmp(s->name, "config") == 0 ||
		    strcmp(s->name, "check-config") == 0) {
			snprintf(err, errlen, "%s: unknown setting \"%.*s\"",
			    where, (int)namelen, name);
			rc = -1;
			break;
		}
		if (setting_apply(cfg, s, value, where, err, errlen) == -1) {
			rc = -1;
			break;
		}
	}
	if (rc == 0 && ferror(fp)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		rc = -1;
	}
	if (line != NULL)
		explicit_bzero(line, cap);
	free(line);
	fclose(fp);
	return rc;
}

/*
 * Walks argv.  With apply == 0 it only finds --help, --version and
 * --config, whose value goes to path; with apply == 1 it sets every flag.
 */
static int
config_flags(struct config *cfg, int argc, char *argv[], int apply,
    char *path, size_t pathlen, char *err, size_t errlen)
{
	const struct setting *s;
	const char *arg, *eq, *v;
	char where[128];
	int i;

	for (i = 1; i < argc; i++) {
		arg = argv[i];
		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			if (!apply) {
				config_usage(stdout, argv[0]);
				return CONFIG_EXIT;
			}
			continue;
		}
		if (strcmp(arg, "--version") == 0) {
			if (!apply) {
				printf("ollaguardd %s\n", OLLAGUARD_VERSION);
				return CONFIG_EXIT;
			}
			continue;
		}
		if (strncmp(arg, "--", 2) != 0) {
			snprintf(err, errlen, "unexpected argument \"%s\" "
			    "(see --help)", arg);
			return CONFIG_ERROR;
		}
		arg += 2;
		eq = strchr(arg, '=');
		s = setting_find(arg, eq != NULL ? (size_t)(eq - arg) :
		    strlen(arg));
		if (s == NULL) {
			snprintf(err, errlen, "unknown option \"%s\" "
			    "(see --help)", argv[i]);
			return CONFIG_ERROR;
		}
		if (eq != NULL)
			v = eq + 1;
		else if (s->type == CONF_BOOL)
			v = "yes";
		else if (i + 1 < argc)
			v = argv[++i];
		else {
			snprintf(err, errlen, "option --%s needs a value",
			    s->name);
			return CONFIG_ERROR;
		}
		if (!apply) {
			if (strcmp(s->name, "config") == 0)
				strlcpy(path, v, pathlen);
			continue;
		}
		snprintf(where, sizeof(where), "option --%s", s->name);
		if (setting_apply(cfg, s, v, where, err, errlen) == -1)
			return CONFIG_ERROR;
	}
	return CONFIG_OK;
}

/* TARGET_URL=a,b: a comma-separated list, blanks around items ignored. */
static int
env_list(struct config *cfg, const struct setting *s, const char *v,
    const char *where, char *err, size_t errlen)
{
	char item[CONFIG_URL_MAX];
	size_t len, start, end;

	for (;;) {
		len = strcspn(v, ",");
		for (start = 0; start < len && isspace((unsigned char)v[start]);
		    start++)
			;
		for (end = len; end > start &&
		    isspace((unsigned char)v[end - 1]); end--)
			;
		if (end - start >= sizeof(item)) {
			snprintf(err, errlen, "%s: %s: value too long (at most "
			    "%zu bytes)", where, s->name, sizeof(item) - 1);
			return -1;
		}
		memcpy(item, v + start, end - start);
		item[end - start] = '\0';
		if (setting_apply(cfg, s, item, where, err, errlen) == -1)
			return -1;
		if (v[len] == '\0')
			return 0;
		v += len + 1;
	}
}

static int
config_env(struct config *cfg, char *err, size_t errlen)
{
	char where[128];
	const char *v;
	size_t i;

	for (i = 0; i < NSETTINGS; i++) {
		if ((v = getenv(settings[i].env)) == NULL ||
		    (*v == '\0' && !never_empty(&settings[i])))
			continue;
		snprintf(where, sizeof(where), "environment %s",
		    settings[i].env);
		if (settings[i].type == CONF_LIST) {
			if (env_list(cfg, &settings[i], v, where, err,
			    errlen) == -1)
				return -1;
		} else if (setting_apply(cfg, &settings[i], v, where, err,
		    errlen) == -1)
			return -1;
	}
	return 0;
}

/* Reads the master key file: one line, its trailing newline ignored. */
static int
read_key_file(struct config *cfg, char *err, size_t errlen)
{
	const char *path = cfg->master_key_file;
	char buf[CONFIG_SECRET_MAX + 2];
	ssize_t n;
	size_t len;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "master-key-file %s: %s", path,
		    strerror(errno));
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n == -1) {
		snprintf(err, errlen, "master-key-file %s: %s", path,
		    strerror(errno));
		return -1;
	}
	len = (size_t)n;
	buf[len] = '\0';
	if (len > 0 && buf[len - 1] == '\n')
		buf[--len] = '\0';
	if (len > 0 && buf[len - 1] == '\r')
		buf[--len] = '\0';
	if (len == 0 || len >= CONFIG_SECRET_MAX || strlen(buf) != len ||
	    strpbrk(buf, "\r\n") != NULL) {
		snprintf(err, errlen, "master-key-file %s: %s", path,
		    len == 0 ? "file is empty" : "must hold one line of at "
		    "most 1023 bytes");
		explicit_bzero(buf, sizeof(buf));
		return -1;
	}
	strlcpy(cfg->master_key, buf, sizeof(cfg->master_key));
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

/* Defaults, then one file alone: no environment, flags or key file. */
int
config_read_file(struct config *cfg, const char *path, char *err,
    size_t errlen)
{
	size_t i;

	memset(cfg, 0, sizeof(*cfg));
	layer = 1;
	for (i = 0; i < NSETTINGS; i++)
		if (setting_apply(cfg, &settings[i], settings[i].def,
		    "default", err, errlen) == -1)
			return CONFIG_ERROR;
	if (path != NULL && config_file(cfg, path, err, errlen) == -1)
		return CONFIG_ERROR;
	return CONFIG_OK;
}

int
config_load(struct config *cfg, int argc, char *argv[], char *err,
    size_t errlen)
{
	char path[PATH_MAX];
	const char *v;
	int rc;

	if (config_read_file(cfg, NULL, err, errlen) != CONFIG_OK)
		return CONFIG_ERROR;

	/* The file sits below the environment and flags, so find it first:
	 * OLLAGUARD_CONFIG, then the last --config, parsed as flags are. */
	path[0] = '\0';
	if ((v = getenv("OLLAGUARD_CONFIG")) != NULL)
		strlcpy(path, v, sizeof(path));
	if ((rc = config_flags(cfg, argc, argv, 0, path, sizeof(path), err,
	    errlen)) != CONFIG_OK)
		return rc;
	layer++;
	if (path[0] != '\0' && config_file(cfg, path, err, errlen) == -1)
		return CONFIG_ERROR;
	layer++;
	if (config_env(cfg, err, errlen) == -1)
		return CONFIG_ERROR;
	layer++;
	if (config_flags(cfg, argc, argv, 1, NULL, 0, err, errlen) !=
	    CONFIG_OK)
		return CONFIG_ERROR;
	strlcpy(cfg->config_file, path, sizeof(cfg->config_file));
	strlcpy(cfg->target_url, cfg->target_urls[0], sizeof(cfg->target_url));
	cfg->target_url[strcspn(cfg->target_url, " \t")] = '\0';

	if (cfg->min_spare > cfg->max_spare) {
		snprintf(err, errlen, "min-spare (%lld) is above max-spare "
		    "(%lld)", cfg->min_spare, cfg->max_spare);
		return CONFIG_ERROR;
	}
	if (cfg->master_key[0] != '\0' && cfg->master_key_file[0] != '\0') {
		snprintf(err, errlen, "master-key and master-key-file are both "
		    "set: use one");
		return CONFIG_ERROR;
	}
	if ((cfg->tls_cert[0] == '\0') != (cfg->tls_key[0] == '\0')) {
		snprintf(err, errlen, "tls-cert and tls-key go together: set "
		    "both or neither");
		return CONFIG_ERROR;
	}
	if (cfg->master_key_file[0] != '\0' &&
	    read_key_file(cfg, err, errlen) == -1)
		return CONFIG_ERROR;
	return CONFIG_OK;
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
	for (i = 0; i < NSETTINGS; i++) {
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

	for (i = 0; i < NSETTINGS; i++) {
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

/* Makes one path absolute against cwd. */
static int
absolute(char *path, size_t size, const char *cwd, const char *name,
    char *err, size_t errlen)
{
	char buf[PATH_MAX];

	if (path[0] == '\0' || path[0] == '/')
		return 0;
	if ((size_t)snprintf(buf, sizeof(buf), "%s/%s", cwd, path) >=
	    sizeof(buf) || strlcpy(path, buf, size) >= size) {
		snprintf(err, errlen, "%s: path too long", name);
		return -1;
	}
	return 0;
}

int
config_db_path(char *path, size_t size, const char *cwd, char *err,
    size_t errlen)
{
	char dir[PATH_MAX], base[PATH_MAX], real[PATH_MAX], buf[PATH_MAX];

	if (absolute(path, size, cwd, "db", err, errlen) == -1)
		return -1;
	strlcpy(dir, path, sizeof(dir));
	strlcpy(base, path, sizeof(base));
	/* A folder that is not there yet stays as written: opening the
	 * database says what is wrong with it. */
	if (realpath(dirname(dir), real) == NULL)
		return 0;
	if ((size_t)snprintf(buf, sizeof(buf), "%s/%s",
	    strcmp(real, "/") == 0 ? "" : real, basename(base)) >=
	    sizeof(buf) || strlcpy(path, buf, size) >= size) {
		snprintf(err, errlen, "db: path too long");
		return -1;
	}
	return 0;
}

int
config_absolute(struct config *cfg, const char *cwd, char *err,
    size_t errlen)
{
	if (config_db_path(cfg->db, sizeof(cfg->db), cwd, err, errlen) == -1 ||
	    absolute(cfg->pidfile, sizeof(cfg->pidfile), cwd, "pidfile", err,
	    errlen) == -1 ||
	    absolute(cfg->config_file, sizeof(cfg->config_file), cwd,
	    "config", err, errlen) == -1 ||
	    absolute(cfg->master_key_file, sizeof(cfg->master_key_file), cwd,
	    "master-key-file", err, errlen) == -1 ||
	    absolute(cfg->tls_cert, sizeof(cfg->tls_cert), cwd, "tls-cert",
	    err, errlen) == -1 ||
	    absolute(cfg->tls_key, sizeof(cfg->tls_key), cwd, "tls-key",
	    err, errlen) == -1 ||
	    absolute(cfg->target_ca, sizeof(cfg->target_ca), cwd,
	    "target-ca", err, errlen) == -1)
		return -1;
	if (strcmp(cfg->access_log, "-") == 0 ||
	    strcmp(cfg->access_log, "off") == 0 ||
	    strcmp(cfg->access_log, "syslog") == 0)
		return 0;
	return absolute(cfg->access_log, sizeof(cfg->access_log), cwd,
	    "access-log", err, errlen);
}

void
config_clear(struct config *cfg)
{
	explicit_bzero(cfg->master_key, sizeof(cfg->master_key));
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

int
config_file_db(const char *path, char *db, size_t dblen, char *err,
    size_t errlen)
{
	struct config *cfg;
	size_t i;
	int rc = 0;

	if ((cfg = calloc(1, sizeof(*cfg))) == NULL) {
		snprintf(err, errlen, "%s", strerror(errno));
		return -1;
	}
	for (i = 0; i < NSETTINGS && rc == 0; i++)
		rc = setting_apply(cfg, &settings[i], settings[i].def,
		    "default", err, errlen);
	if (rc == 0)
		rc = config_file(cfg, path, err, errlen);
	if (rc == 0 && strlcpy(db, cfg->db, dblen) >= dblen) {
		snprintf(err, errlen, "%s: db: path too long", path);
		rc = -1;
	}
	config_clear(cfg);
	free(cfg);
	return rc;
}
