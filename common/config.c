/*
 * config: settings from flags, environment, a config file and defaults.
 *
 * settings.c holds the one list of settings; this file applies it:
 * the flag parser, the environment, the config file, the defaults and
 * the paths made absolute.  Values
 * are applied lowest precedence first (default, file, environment,
 * flag), each overwriting the last, and every value is checked where it
 * is read so the error can say where it came from.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "settings.h"


const char *
config_version(void)
{
	return OLLAGUARD_VERSION;
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
		if (setting_is_url(s))
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

	for (i = 0; i < nsettings; i++) {
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
	for (i = 0; i < nsettings; i++)
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
	for (i = 0; i < nsettings && rc == 0; i++)
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
