/*
 * config: the daemon's settings.  Each comes from, in order of
 * precedence, a flag, the environment, the config file, or its default.
 * The table in config.c is the single list of settings: adding one is a
 * field here and a line there.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdio.h>

#ifndef OLLAGUARD_VERSION
#define OLLAGUARD_VERSION	"0.1.0"
#endif

#define CONFIG_HOST_MAX		256
#define CONFIG_URL_MAX		2048
#define CONFIG_SECRET_MAX	1024
#define CONFIG_LIST_MAX		2048
#define CONFIG_PREFIX_MAX	33	/* KEYGEN_PREFIX_MAX + NUL */
#define CONFIG_UPSTREAMS_MAX	16	/* target-url values */
/* admin-allow's default: loopback and the private ranges. */
#define CONFIG_ADMIN_ALLOW	"127.0.0.0/8,::1,10.0.0.0/8,172.16.0.0/12," \
				"192.168.0.0/16,fc00::/7"

struct config {
	char	host[CONFIG_HOST_MAX];
	long long port;
	char	target_url[CONFIG_URL_MAX];	/* the first value's URL */
	/* Every target-url value as given, "URL [option=value ...]";
	 * ollaguardd/upstreams.c reads the options. */
	char	target_urls[CONFIG_UPSTREAMS_MAX][CONFIG_URL_MAX];
	int	ntarget_urls;
	int	target_urls_layer;	/* the source that set them */
	char	master_key[CONFIG_SECRET_MAX];
	char	master_key_file[PATH_MAX];
	char	prefix[CONFIG_PREFIX_MAX];
	long long timeout;
	long long manage_timeout;
	char	db[PATH_MAX];
	long long workers;
	long long min_spare;
	long long max_spare;
	long long max_workers;
	long long max_requests;
	long long shutdown_timeout;
	char	config_file[PATH_MAX];
	long long backlog;
	long long keepalive_timeout;
	long long header_timeout;
	long long body_timeout;
	long long send_timeout;
	long long max_conns_per_ip;
	long long auth_fail_limit;
	int	daemon;
	char	pidfile[PATH_MAX];
	char	user[64];
	char	group[64];
	int	check_config;
	int	syslog;
	char	syslog_facility[16];
	char	log_level[16];
	char	access_log[PATH_MAX];
	char	access_log_format[16];
	char	default_allow[32];
	long long signature_window;
	long long max_json_body;
	long long health_interval;
	long long queue_timeout;
	long long retries;
	int	expose_upstream;
	int	admin;
	char	admin_allow[512];
	char	tls_cert[PATH_MAX];
	char	tls_key[PATH_MAX];
	char	target_ca[PATH_MAX];
	int	target_insecure;
	char	trusted_proxies[CONFIG_LIST_MAX];
	int	proxy_protocol;
	char	openai_stream_usage[8];		/* "off" or "add" */
	long long usage_retention;		/* days */
	char	metrics_allow[512];		/* CIDRs, comma-separated */
	long long clock_offset;			/* seconds; for tests */
};

/* config_load results */
#define CONFIG_OK	0
#define CONFIG_EXIT	1	/* --help or --version was printed */
#define CONFIG_ERROR	-1	/* err holds the message */

/* Fills cfg from defaults, the file, the environment and argv, then reads
 * the master key file.  argv is not modified. */
int	config_load(struct config *cfg, int argc, char *argv[], char *err,
	    size_t errlen);
/* The defaults and one config file (path NULL: none), nothing else: for
 * ollaguard-keyctl, which needs a few of the daemon's settings. */
int	config_read_file(struct config *cfg, const char *path, char *err,
	    size_t errlen);
void	config_usage(FILE *out, const char *progname);
/* Every setting and its value, the master key shown only as set/unset. */
void	config_print(const struct config *cfg, FILE *out);
/* Makes every path setting absolute against cwd, so that the daemon
 * can chdir("/") and a reload reads the same files. */
int	config_absolute(struct config *cfg, const char *cwd, char *err,
	    size_t errlen);
/* Makes the database path absolute against cwd and normalises it: the
 * real path of its folder (when it exists) and its name. */
int	config_db_path(char *path, size_t size, const char *cwd, char *err,
	    size_t errlen);
/* url with the password (or a lone user name) of its userinfo replaced
 * by ***, for logs and messages. */
void	config_redact_url(const char *url, char *out, size_t outlen);
/* The db setting a config file gives the daemon (the default when it
 * has none), read and checked as the daemon reads it. */
int	config_file_db(const char *path, char *db, size_t dblen, char *err,
	    size_t errlen);
/* The program's version, as --version prints it. */
const char *config_version(void);
/* Checks the URL that starts a target-url value. */
int	config_check_url(const char *v, const char **why);
/* Wipes the secrets held in cfg. */
void	config_clear(struct config *cfg);

#endif
