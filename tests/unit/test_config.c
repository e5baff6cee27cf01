/*
 * test_config: where each setting comes from (flag over environment
 * over config file over default), the config file as people write it,
 * the master key and its file, and the exact messages that say what is
 * wrong and where.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

/* Every variable the settings table reads. */
static const char *const envvars[] = {
	"OLLAGUARD_HOST", "OLLAGUARD_PORT", "TARGET_URL", "MASTER_KEY",
	"MASTER_KEY_FILE", "OLLAGUARD_PREFIX", "OLLAGUARD_TIMEOUT",
	"OLLAGUARD_DB", "OLLAGUARD_WORKERS", "OLLAGUARD_CONFIG",
	"OLLAGUARD_BACKLOG", "OLLAGUARD_KEEPALIVE_TIMEOUT",
	"OLLAGUARD_LOG_LEVEL",
};
#define NENVVARS	(sizeof(envvars) / sizeof(envvars[0]))

#define ARGV_MAX	32

static char	tmpdir[64];
static char	errbuf[2048];

/* Runs config_load on a NULL-terminated list that starts after argv[0],
 * and checks it left argv alone. */
static int
load(struct config *cfg, const char *const *args)
{
	char	*argv[ARGV_MAX + 2];
	int	 argc, rc, i;

	argv[0] = strdup("ollaguardd");
	assert_non_null(argv[0]);
	for (argc = 1; args[argc - 1] != NULL; argc++) {
		assert_true(argc <= ARGV_MAX);
		argv[argc] = strdup(args[argc - 1]);
		assert_non_null(argv[argc]);
	}
	argv[argc] = NULL;
	memset(errbuf, 0, sizeof(errbuf));
	rc = config_load(cfg, argc, argv, errbuf, sizeof(errbuf));
	assert_string_equal(argv[0], "ollaguardd");
	for (i = 1; i < argc; i++) {
		assert_string_equal(argv[i], args[i - 1]);
		free(argv[i]);
	}
	free(argv[0]);
	assert_null(argv[argc]);
	return rc;
}

#define ARGS(...)	((const char *const []){ __VA_ARGS__ NULL })

static void
load_ok(struct config *cfg, const char *const *args)
{
	int	 rc;

	if ((rc = load(cfg, args)) != CONFIG_OK)
		fail_msg("config_load returned %d: %s", rc, errbuf);
}

static void
load_err(const char *const *args, const char *want)
{
	struct config	 cfg;
	int		 rc;

	if ((rc = load(&cfg, args)) != CONFIG_ERROR)
		fail_msg("config_load returned %d, expected the error \"%s\"",
		    rc, want);
	if (strcmp(errbuf, want) != 0)
		fail_msg("error \"%s\", expected \"%s\"", errbuf, want);
}

/* Writes len bytes to a file in tmpdir; its path goes to path. */
static void
write_file(const char *name, const void *data, size_t len, char *path,
    size_t pathlen)
{
	int	 fd;

	snprintf(path, pathlen, "%s/%s", tmpdir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_int_not_equal(fd, -1);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

static void
write_str(const char *name, const char *data, char *path, size_t pathlen)
{
	write_file(name, data, strlen(data), path, pathlen);
}

/* Loads a config file holding text (no flags, no environment). */
static void
load_text(struct config *cfg, const char *text)
{
	char	 path[PATH_MAX];

	write_str("text.conf", text, path, sizeof(path));
	load_ok(cfg, ARGS("--config", path,));
}

/* A config file holding text fails with "<path>:<want>". */
static void
text_err(const char *text, const char *want)
{
	char	 path[PATH_MAX], msg[PATH_MAX + 512];

	write_str("bad.conf", text, path, sizeof(path));
	snprintf(msg, sizeof(msg), "%s:%s", path, want);
	load_err(ARGS("--config", path,), msg);
}

static int
group_setup(void **state)
{
	strlcpy(tmpdir, "/tmp/test_config.XXXXXX", sizeof(tmpdir));
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	return 0;
}

static int
group_teardown(void **state)
{
	char	 cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Each test starts with none of the settings in the environment. */
static int
clear_env(void **state)
{
	size_t	 i;

	for (i = 0; i < NENVVARS; i++)
		if (unsetenv(envvars[i]) == -1)
			return -1;
	return 0;
}

static void
test_defaults(void **state)
{
	struct config	 cfg;

	memset(&cfg, 0xa5, sizeof(cfg));
	load_ok(&cfg, ARGS());
	assert_string_equal(cfg.host, "0.0.0.0");
	assert_int_equal(cfg.port, 4000);
	assert_string_equal(cfg.target_url, "http://127.0.0.1:11434");
	assert_string_equal(cfg.master_key, "");
	assert_string_equal(cfg.master_key_file, "");
	assert_string_equal(cfg.prefix, "");
	assert_int_equal(cfg.timeout, 300);
	assert_string_equal(cfg.db, "./ollaguard.db");
	assert_int_equal(cfg.workers, 4);
	assert_int_equal(cfg.min_spare, 2);
	assert_int_equal(cfg.max_spare, 4);
	assert_string_equal(cfg.config_file, "");
	assert_int_equal(cfg.backlog, 511);
	assert_int_equal(cfg.keepalive_timeout, 5);
	assert_string_equal(cfg.log_level, "info");
}

/*
 * For each of several settings: the file beats the default, the
 * environment beats the file, the flag beats the environment.
 */
static void
test_precedence(void **state)
{
	struct config	 cfg;
	char		 path[PATH_MAX];

	write_str("prec.conf",
	    "host = 127.0.0.1\n"
	    "port = 1111\n"
	    "timeout = 11\n"
	    "workers = 2\n"
	    "db = /file.db\n"
	    "target-url = http://file.example:1\n"
	    "prefix = file-\n"
	    "log-level = error\n",
	    path, sizeof(path));

	/* File only. */
	load_ok(&cfg, ARGS("--config", path,));
	assert_string_equal(cfg.host, "127.0.0.1");
	assert_int_equal(cfg.port, 1111);
	assert_int_equal(cfg.timeout, 11);
	assert_int_equal(cfg.workers, 2);
	assert_string_equal(cfg.db, "/file.db");
	assert_string_equal(cfg.target_url, "http://file.example:1");
	assert_string_equal(cfg.prefix, "file-");
	assert_string_equal(cfg.log_level, "error");
	/* What the file does not set keeps its default. */
	assert_int_equal(cfg.backlog, 511);
	assert_int_equal(cfg.keepalive_timeout, 5);
	assert_string_equal(cfg.config_file, path);

	/* The environment over the file. */
	setenv("OLLAGUARD_HOST", "::1", 1);
	setenv("OLLAGUARD_PORT", "2222", 1);
	setenv("OLLAGUARD_TIMEOUT", "22", 1);
	setenv("OLLAGUARD_DB", "/env.db", 1);
	setenv("TARGET_URL", "https://env.example/base", 1);
	setenv("OLLAGUARD_PREFIX", "env-", 1);
	setenv("OLLAGUARD_KEEPALIVE_TIMEOUT", "0", 1);
	load_ok(&cfg, ARGS("--config", path,));
	assert_string_equal(cfg.host, "::1");
	assert_int_equal(cfg.port, 2222);
	assert_int_equal(cfg.timeout, 22);
	assert_int_equal(cfg.workers, 2);		/* file */
	assert_string_equal(cfg.db, "/env.db");
	assert_string_equal(cfg.target_url, "https://env.example/base");
	assert_string_equal(cfg.prefix, "env-");
	assert_string_equal(cfg.log_level, "error");	/* file */
	assert_int_equal(cfg.keepalive_timeout, 0);

	/* Flags over the environment, both forms. */
	load_ok(&cfg, ARGS("--config", path, "--port", "3333",
	    "--host=10.0.0.1", "--timeout=33", "--db", "/flag.db",
	    "--target-url", "http://flag.example", "--prefix=flag-",
	    "--workers", "3",));
	assert_string_equal(cfg.host, "10.0.0.1");
	assert_int_equal(cfg.port, 3333);
	assert_int_equal(cfg.timeout, 33);
	assert_int_equal(cfg.workers, 3);
	assert_string_equal(cfg.db, "/flag.db");
	assert_string_equal(cfg.target_url, "http://flag.example");
	assert_string_equal(cfg.prefix, "flag-");
	assert_string_equal(cfg.log_level, "error");	/* file */
	assert_int_equal(cfg.keepalive_timeout, 0);	/* environment */

	/* An empty environment variable counts as unset. */
	setenv("OLLAGUARD_PORT", "", 1);
	load_ok(&cfg, ARGS("--config", path,));
	assert_int_equal(cfg.port, 1111);

	/* Environment over default with no file at all. */
	load_ok(&cfg, ARGS());
	assert_int_equal(cfg.port, 4000);
	assert_int_equal(cfg.timeout, 22);
	assert_int_equal(cfg.workers, 4);
}

static void
test_flag_forms(void **state)
{
	struct config	 cfg;

	load_ok(&cfg, ARGS("--port=1234",));
	assert_int_equal(cfg.port, 1234);
	load_ok(&cfg, ARGS("--port", "1235",));
	assert_int_equal(cfg.port, 1235);
	/* The last of a repeated flag wins. */
	load_ok(&cfg, ARGS("--port", "1", "--port=2",));
	assert_int_equal(cfg.port, 2);
	/* Only the first '=' splits; the value may hold more. */
	load_ok(&cfg, ARGS("--db=/a=b",));
	assert_string_equal(cfg.db, "/a=b");
	/* In the two-word form the value is taken as it is. */
	load_ok(&cfg, ARGS("--db", "--port",));
	assert_string_equal(cfg.db, "--port");
	assert_int_equal(cfg.port, 4000);
	load_ok(&cfg, ARGS("--keepalive-timeout", "60", "--backlog=7",
	    "--log-level", "debug",));
	assert_int_equal(cfg.keepalive_timeout, 60);
	assert_int_equal(cfg.backlog, 7);
	assert_string_equal(cfg.log_level, "debug");
}

static void
test_file_syntax(void **state)
{
	struct config	 cfg;

	load_text(&cfg,
	    "# a comment\n"
	    "\n"
	    "   \t\n"
	    "   # an indented comment\n"
	    "port=4321\n"
	    "  timeout   =\t 77  \n"
	    "db = /a b/c.db   # trailing comment\n"
	    "prefix = sk#x\n"
	    "target-url = http://h.example:8080/p\t# tab then comment\n");
	assert_int_equal(cfg.port, 4321);
	assert_int_equal(cfg.timeout, 77);
	/* Inner spaces stay, trailing ones and the comment go. */
	assert_string_equal(cfg.db, "/a b/c.db");
	/* A # with no space before it is part of the value. */
	assert_string_equal(cfg.prefix, "sk#x");
	assert_string_equal(cfg.target_url, "http://h.example:8080/p");

	/* Double quotes: \" and \\ are escapes, # and spaces are kept. */
	load_text(&cfg, "db = \"/x # y \\\"q\\\" \\\\ z \"  # comment\n");
	assert_string_equal(cfg.db, "/x # y \"q\" \\ z ");
	/* Other backslashes are kept as they are. */
	load_text(&cfg, "db = \"/a\\nb\"\n");
	assert_string_equal(cfg.db, "/a\\nb");
	/* Single quotes: no escapes at all. */
	load_text(&cfg, "db = '/a\\\"b # c'\n");
	assert_string_equal(cfg.db, "/a\\\"b # c");
	load_text(&cfg, "master-key = 'it\"s'\n");
	assert_string_equal(cfg.master_key, "it\"s");
	/* An empty quoted value. */
	load_text(&cfg, "db = \"\"\n");
	assert_string_equal(cfg.db, "");

	/* CRLF line ends and a last line without one. */
	load_text(&cfg, "port = 1001\r\ntimeout = 9\r\nworkers = 4");
	assert_int_equal(cfg.port, 1001);
	assert_int_equal(cfg.timeout, 9);
	assert_int_equal(cfg.workers, 4);

	/* A later line overrides an earlier one. */
	load_text(&cfg, "port = 1\nport = 2\n");
	assert_int_equal(cfg.port, 2);

	/* An empty file is fine and changes nothing. */
	load_text(&cfg, "");
	assert_int_equal(cfg.port, 4000);
}

static void
test_file_errors(void **state)
{
	text_err("# comment\n\nbogus = 1\n", "3: unknown setting \"bogus\"");
	/* The file cannot name another file. */
	text_err("config = /etc/other.conf\n", "1: unknown setting \"config\"");
	/* A flag's spelling with dashes is not a name. */
	text_err("--port = 1\n", "1: unknown setting \"--port\"");
	text_err("port = 4000\nport 4001\n", "2: expected \"name = value\"");
	text_err("port\n", "1: expected \"name = value\"");
	text_err("\n\n\nport = 65536\n", "4: port: \"65536\" is too large "
	    "(expected 1 to 65535)");
	text_err("port = 0\n", "1: port: \"0\" is too small "
	    "(expected 1 to 65535)");
	text_err("port = abc\n", "1: port: \"abc\" is invalid "
	    "(expected 1 to 65535)");
	text_err("port = 80x\n", "1: port: \"80x\" is invalid "
	    "(expected 1 to 65535)");
	text_err("port =\n", "1: port: \"\" is invalid (expected 1 to 65535)");
	text_err("workers = 4097\n", "1: workers: \"4097\" is too large "
	    "(expected 1 to 4096)");
	text_err("timeout = 86401\n", "1: timeout: \"86401\" is too large "
	    "(expected 1 to 86400)");
	text_err("keepalive-timeout = -1\n", "1: keepalive-timeout: \"-1\" is "
	    "too small (expected 0 to 3600)");
	text_err("db = \"/x\n", "1: unterminated quoted value");
	text_err("db = '/x\n", "1: unterminated quoted value");
	text_err("db = \"/x\\\"\n", "1: unterminated quoted value");
	text_err("db = \"/x\" y\n", "1: text after the closing quote");
	text_err("host = example.com\n", "1: host: \"example.com\" not an "
	    "IPv4 or IPv6 address");
	text_err("log-level = loud\n", "1: log-level: \"loud\" must be "
	    "error, warn, info or debug");
}

#define NULTEXT	"port = 1\ndb = /a\0b\n"

static void
test_file_nul(void **state)
{
	char	 path[PATH_MAX], want[PATH_MAX + 64];

	write_file("nul.conf", NULTEXT, sizeof(NULTEXT) - 1, path,
	    sizeof(path));
	snprintf(want, sizeof(want), "%s:2: NUL byte in line", path);
	load_err(ARGS("--config", path,), want);
}

static void
test_file_missing(void **state)
{
	char	 path[PATH_MAX], want[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/does-not-exist.conf", tmpdir);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	load_err(ARGS("--config", path,), want);
	load_err(ARGS("--config=/nonexistent/ollaguard.conf",),
	    "/nonexistent/ollaguard.conf: No such file or directory");
	setenv("OLLAGUARD_CONFIG", path, 1);
	load_err(ARGS(), want);
}

/* OLLAGUARD_CONFIG picks the file; --config overrides it. */
static void
test_config_selection(void **state)
{
	struct config	 cfg;
	char		 a[PATH_MAX], b[PATH_MAX];

	write_str("a.conf", "port = 1010\n", a, sizeof(a));
	write_str("b.conf", "port = 2020\n", b, sizeof(b));

	setenv("OLLAGUARD_CONFIG", a, 1);
	load_ok(&cfg, ARGS());
	assert_int_equal(cfg.port, 1010);
	assert_string_equal(cfg.config_file, a);

	load_ok(&cfg, ARGS("--config", b,));
	assert_int_equal(cfg.port, 2020);
	assert_string_equal(cfg.config_file, b);

	load_ok(&cfg, ARGS("--config=" "/dev/null",));
	assert_int_equal(cfg.port, 4000);
	assert_string_equal(cfg.config_file, "/dev/null");

	/* The last --config wins, as for any flag. */
	load_ok(&cfg, ARGS("--config", a, "--config", b,));
	assert_int_equal(cfg.port, 2020);
	assert_string_equal(cfg.config_file, b);

	/* An empty OLLAGUARD_CONFIG means no file. */
	setenv("OLLAGUARD_CONFIG", "", 1);
	load_ok(&cfg, ARGS());
	assert_int_equal(cfg.port, 4000);
	assert_string_equal(cfg.config_file, "");
}

/*
 * BUG (common/config.c, config_load): the loop that finds the config
 * file looks at every argv word, so an option's value that reads
 * "--config=..." (or "--config" followed by a word) is taken as the
 * config file, while the flag parser rightly takes it as the value.
 * Here "--prefix --config=/nonexistent" should set the prefix and read
 * no file; config_load fails with "/nonexistent: No such file or
 * directory".
 */
static void
test_config_value_not_option(void **state)
{
	struct config	 cfg;

	load_ok(&cfg, ARGS("--prefix", "--config=/nonexistent",));
	assert_string_equal(cfg.prefix, "--config=/nonexistent");
	assert_string_equal(cfg.config_file, "");
}

static void
test_env_errors(void **state)
{
	setenv("OLLAGUARD_PORT", "abc", 1);
	load_err(ARGS(), "environment OLLAGUARD_PORT: port: \"abc\" is "
	    "invalid (expected 1 to 65535)");
	clear_env(NULL);
	setenv("OLLAGUARD_WORKERS", "0", 1);
	load_err(ARGS(), "environment OLLAGUARD_WORKERS: workers: \"0\" is "
	    "too small (expected 1 to 4096)");
	clear_env(NULL);
	setenv("OLLAGUARD_HOST", "localhost", 1);
	load_err(ARGS(), "environment OLLAGUARD_HOST: host: \"localhost\" "
	    "not an IPv4 or IPv6 address");
	clear_env(NULL);
	setenv("TARGET_URL", "ftp://x", 1);
	load_err(ARGS(), "environment TARGET_URL: target-url: \"ftp://x\" "
	    "must start with http:// or https://");
	/* A bad environment value is an error even when a flag would
	 * override it. */
	load_err(ARGS("--target-url", "http://x",), "environment TARGET_URL: "
	    "target-url: \"ftp://x\" must start with http:// or https://");
}

static void
test_flag_errors(void **state)
{
	load_err(ARGS("--port", "0",), "option --port: port: \"0\" is too "
	    "small (expected 1 to 65535)");
	load_err(ARGS("--port=99999",), "option --port: port: \"99999\" is "
	    "too large (expected 1 to 65535)");
	load_err(ARGS("--timeout=5s",), "option --timeout: timeout: \"5s\" is "
	    "invalid (expected 1 to 86400)");
	load_err(ARGS("--host", "ollama.local",), "option --host: host: "
	    "\"ollama.local\" not an IPv4 or IPv6 address");
	load_err(ARGS("--bogus",), "unknown option \"--bogus\" (see --help)");
	load_err(ARGS("--bogus=1",),
	    "unknown option \"--bogus=1\" (see --help)");
	load_err(ARGS("--",), "unknown option \"--\" (see --help)");
	load_err(ARGS("--PORT=1",), "unknown option \"--PORT=1\" (see --help)");
	load_err(ARGS("--port",), "option --port needs a value");
	load_err(ARGS("--db", "/x", "--master-key",),
	    "option --master-key needs a value");
	load_err(ARGS("serve",), "unexpected argument \"serve\" (see --help)");
	load_err(ARGS("--port", "1", "extra",),
	    "unexpected argument \"extra\" (see --help)");
	load_err(ARGS("-p",), "unexpected argument \"-p\" (see --help)");
	/* A flag error wins over --help when it comes first. */
	load_err(ARGS("--bogus", "--help",),
	    "unknown option \"--bogus\" (see --help)");
}

/* Runs config_load with stdout on /dev/null. */
static int
load_quiet(const char *const *args)
{
	struct config	 cfg;
	int		 saved, null, rc;

	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	assert_int_not_equal(saved, -1);
	null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	assert_int_not_equal(null, -1);
	assert_int_not_equal(dup2(null, STDOUT_FILENO), -1);
	close(null);
	rc = load(&cfg, args);
	fflush(stdout);
	assert_int_not_equal(dup2(saved, STDOUT_FILENO), -1);
	close(saved);
	return rc;
}

static void
test_help(void **state)
{
	char		*text = NULL;
	size_t		 len = 0;
	FILE		*fp;

	assert_int_equal(load_quiet(ARGS("--help",)), CONFIG_EXIT);
	assert_int_equal(load_quiet(ARGS("-h",)), CONFIG_EXIT);
	assert_int_equal(load_quiet(ARGS("--port", "1", "--help",)),
	    CONFIG_EXIT);
	assert_int_equal(load_quiet(ARGS("--version",)), CONFIG_EXIT);
	/* --help is honoured before the values are checked. */
	assert_int_equal(load_quiet(ARGS("--port", "0", "--help",)),
	    CONFIG_EXIT);

	/* The usage names every option and its variable. */
	fp = open_memstream(&text, &len);
	assert_non_null(fp);
	config_usage(fp, "ollaguardd");
	fclose(fp);
	assert_non_null(strstr(text, "usage: ollaguardd"));
	assert_non_null(strstr(text, "--target-url URL"));
	assert_non_null(strstr(text, "TARGET_URL"));
	assert_non_null(strstr(text, "--master-key-file FILE"));
	assert_non_null(strstr(text, "OLLAGUARD_KEEPALIVE_TIMEOUT"));
	free(text);
}

static void
test_master_key_conflict(void **state)
{
	struct config	 cfg;
	char		 key[PATH_MAX], conf[PATH_MAX];
	const char	*msg = "master-key and master-key-file are both set: "
	    "use one";

	write_str("conflict.key", "filekey\n", key, sizeof(key));

	load_err(ARGS("--master-key", "k", "--master-key-file", key,), msg);
	setenv("MASTER_KEY", "envkey", 1);
	load_err(ARGS("--master-key-file", key,), msg);
	clear_env(NULL);
	setenv("MASTER_KEY_FILE", key, 1);
	load_err(ARGS("--master-key=k",), msg);
	clear_env(NULL);
	setenv("MASTER_KEY", "envkey", 1);
	setenv("MASTER_KEY_FILE", key, 1);
	load_err(ARGS(), msg);
	clear_env(NULL);
	write_str("conflict.conf", "master-key = fromfile\n", conf,
	    sizeof(conf));
	load_err(ARGS("--config", conf, "--master-key-file", key,), msg);

	/* Either alone is fine. */
	load_ok(&cfg, ARGS("--config", conf,));
	assert_string_equal(cfg.master_key, "fromfile");
	load_ok(&cfg, ARGS("--master-key-file", key,));
	assert_string_equal(cfg.master_key, "filekey");
	assert_string_equal(cfg.master_key_file, key);
	load_ok(&cfg, ARGS("--master-key", "flagkey",));
	assert_string_equal(cfg.master_key, "flagkey");
	/* The flag beats the environment for the key itself. */
	setenv("MASTER_KEY", "envkey", 1);
	load_ok(&cfg, ARGS("--master-key", "flagkey",));
	assert_string_equal(cfg.master_key, "flagkey");
	load_ok(&cfg, ARGS());
	assert_string_equal(cfg.master_key, "envkey");
}

/* An empty master key, from wherever, would mean none: an error. */
static void
test_master_key_empty(void **state)
{
	struct config	 cfg;
	char		 conf[PATH_MAX], want[PATH_MAX + 128];
	const char	*hint = "empty; to run without a master key, leave the "
	    "setting out";

	snprintf(want, sizeof(want), "option --master-key: master-key: %s",
	    hint);
	load_err(ARGS("--master-key", "",), want);
	load_err(ARGS("--master-key=",), want);
	snprintf(want, sizeof(want), "option --master-key-file: "
	    "master-key-file: %s", hint);
	load_err(ARGS("--master-key-file", "",), want);
	setenv("MASTER_KEY", "", 1);
	snprintf(want, sizeof(want), "environment MASTER_KEY: master-key: %s",
	    hint);
	load_err(ARGS(), want);
	clear_env(NULL);
	setenv("MASTER_KEY_FILE", "", 1);
	snprintf(want, sizeof(want), "environment MASTER_KEY_FILE: "
	    "master-key-file: %s", hint);
	load_err(ARGS(), want);
	clear_env(NULL);
	write_str("empty.conf", "master-key = \"\"\n", conf, sizeof(conf));
	snprintf(want, sizeof(want), "%s:1: master-key: %s", conf, hint);
	load_err(ARGS("--config", conf,), want);

	/* Left out, there is none; other empty values stay as they were. */
	load_ok(&cfg, ARGS("--prefix", "",));
	assert_string_equal(cfg.master_key, "");
	setenv("OLLAGUARD_PREFIX", "", 1);
	load_ok(&cfg, ARGS());
	clear_env(NULL);
}

static void
key_file_ok(const char *data, size_t len, const char *want)
{
	struct config	 cfg;
	char		 path[PATH_MAX];

	write_file("ok.key", data, len, path, sizeof(path));
	load_ok(&cfg, ARGS("--master-key-file", path,));
	assert_string_equal(cfg.master_key, want);
}

static void
key_file_err(const char *data, size_t len, const char *why)
{
	char	 path[PATH_MAX], want[PATH_MAX + 128];

	write_file("bad.key", data, len, path, sizeof(path));
	snprintf(want, sizeof(want), "master-key-file %s: %s", path, why);
	load_err(ARGS("--master-key-file", path,), want);
}

#define KEY_OK(lit, want)	key_file_ok(lit, sizeof(lit) - 1, want)
#define KEY_ERR(lit, why)	key_file_err(lit, sizeof(lit) - 1, why)

static void
test_master_key_file(void **state)
{
	struct config	 cfg;
	char		 big[CONFIG_SECRET_MAX + 8], path[PATH_MAX];
	char		 want[PATH_MAX + 64];
	const char	*oneline = "must hold one line of at most 1023 bytes";

	KEY_OK("s3cret\n", "s3cret");
	KEY_OK("s3cret\r\n", "s3cret");
	KEY_OK("s3cret", "s3cret");
	KEY_OK("with space # and hash\n", "with space # and hash");

	KEY_ERR("", "file is empty");
	KEY_ERR("\n", "file is empty");
	KEY_ERR("\r\n", "file is empty");
	KEY_ERR("one\ntwo\n", oneline);
	KEY_ERR("one\n\n", oneline);
	KEY_ERR("one\rtwo\n", oneline);
	KEY_ERR("one\0two\n", oneline);

	/* 1023 bytes and a newline fit; 1024 do not. */
	memset(big, 'k', sizeof(big));
	big[CONFIG_SECRET_MAX - 1] = '\n';
	write_file("big.key", big, CONFIG_SECRET_MAX, path, sizeof(path));
	load_ok(&cfg, ARGS("--master-key-file", path,));
	assert_int_equal(strlen(cfg.master_key), CONFIG_SECRET_MAX - 1);
	big[CONFIG_SECRET_MAX - 1] = 'k';
	big[CONFIG_SECRET_MAX] = '\n';
	key_file_err(big, CONFIG_SECRET_MAX + 1, oneline);
	key_file_err(big, CONFIG_SECRET_MAX, oneline);

	/* A missing file is named. */
	snprintf(path, sizeof(path), "%s/no-such.key", tmpdir);
	snprintf(want, sizeof(want), "master-key-file %s: No such file or "
	    "directory", path);
	load_err(ARGS("--master-key-file", path,), want);
	setenv("MASTER_KEY_FILE", path, 1);
	load_err(ARGS(), want);
}

static char *
print_config(const struct config *cfg)
{
	char	*text = NULL;
	size_t	 len = 0;
	FILE	*fp;

	fp = open_memstream(&text, &len);
	assert_non_null(fp);
	config_print(cfg, fp);
	assert_int_equal(fclose(fp), 0);
	assert_non_null(text);
	return text;
}

static void
test_print_hides_key(void **state)
{
	struct config	 cfg;
	char		 path[PATH_MAX], *text;

	load_ok(&cfg, ARGS("--master-key", "TopSecretMasterKey42",
	    "--port", "4242", "--db", "/var/db/og.db",));
	text = print_config(&cfg);
	assert_null(strstr(text, "TopSecretMasterKey42"));
	assert_null(strstr(text, "TopSecret"));
	assert_non_null(strstr(text, "master-key = (set)\n"));
	assert_non_null(strstr(text, "port = 4242\n"));
	assert_non_null(strstr(text, "db = \"/var/db/og.db\"\n"));
	assert_non_null(strstr(text, "host = \"0.0.0.0\"\n"));
	free(text);

	write_str("print.key", "KeyFromTheFile99\n", path, sizeof(path));
	load_ok(&cfg, ARGS("--master-key-file", path,));
	text = print_config(&cfg);
	assert_null(strstr(text, "KeyFromTheFile99"));
	assert_non_null(strstr(text, "master-key = (set)\n"));
	free(text);

	load_ok(&cfg, ARGS());
	text = print_config(&cfg);
	assert_non_null(strstr(text, "master-key = (none)\n"));
	free(text);
}

static void
test_host(void **state)
{
	struct config	 cfg;
	const char	*good[] = { "127.0.0.1", "0.0.0.0", "192.168.10.20",
	    "::", "::1", "fe80::1", "2001:db8::42", "::ffff:10.0.0.1" };
	const char	*bad[] = { "localhost", "example.com", "1.2.3.4.5",
	    "256.1.1.1", "[::1]", "::1%lo", "127.0.0.1:80", " 127.0.0.1",
	    "1.2.3" };
	char		 want[256];
	size_t		 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		load_ok(&cfg, ARGS("--host", good[i],));
		assert_string_equal(cfg.host, good[i]);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(want, sizeof(want), "option --host: host: \"%s\" not "
		    "an IPv4 or IPv6 address", bad[i]);
		load_err(ARGS("--host", bad[i],), want);
	}
}

static void
test_target_url(void **state)
{
	struct config	 cfg;
	const char	*good[] = { "http://127.0.0.1:11434", "https://ollama",
	    "http://[::1]:11434", "https://o.example/base/path",
	    "http://h.example/" };
	char		 want[256];
	size_t		 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		load_ok(&cfg, ARGS("--target-url", good[i],));
		assert_string_equal(cfg.target_url, good[i]);
	}
#define BAD_URL(u, why) do {						\
	snprintf(want, sizeof(want),					\
	    "option --target-url: target-url: \"%s\" %s", u, why);	\
	load_err(ARGS("--target-url", u,), want);			\
} while (0)
	BAD_URL("ftp://h.example", "must start with http:// or https://");
	BAD_URL("127.0.0.1:11434", "must start with http:// or https://");
	BAD_URL("HTTP//h", "must start with http:// or https://");
	BAD_URL("http://", "has no host");
	BAD_URL("https:///path", "has no host");
	BAD_URL("http://:11434", "has no host");
	BAD_URL("http://h.example/?a=1", "may not hold a query, fragment or "
	    "whitespace");
	BAD_URL("http://h.example?a", "may not hold a query, fragment or "
	    "whitespace");
	BAD_URL("http://h.example/#frag", "may not hold a query, fragment or "
	    "whitespace");
#undef BAD_URL
}

/*
 * target-url may be given several times: values of one source add up,
 * a higher source replaces a lower one's list, TARGET_URL is a comma
 * list, and text after the URL is left for upstreams.c to read.
 */
static void
test_target_url_list(void **state)
{
	struct config	 cfg;
	char		 path[PATH_MAX], want[256], *text;
	const char	*args[CONFIG_UPSTREAMS_MAX + 2];
	int		 i;

	load_ok(&cfg, ARGS());
	assert_int_equal(cfg.ntarget_urls, 1);
	assert_string_equal(cfg.target_urls[0], "http://127.0.0.1:11434");

	load_ok(&cfg, ARGS("--target-url", "http://a:1 name=a weight=2",
	    "--target-url=http://b:2",));
	assert_int_equal(cfg.ntarget_urls, 2);
	assert_string_equal(cfg.target_urls[0], "http://a:1 name=a weight=2");
	assert_string_equal(cfg.target_urls[1], "http://b:2");
	assert_string_equal(cfg.target_url, "http://a:1");
	text = print_config(&cfg);
	assert_non_null(strstr(text, "target-url = \"http://a:1 name=a "
	    "weight=2\"\ntarget-url = \"http://b:2\"\n"));
	free(text);

	write_str("list.conf", "target-url = http://f1:1\n"
	    "target-url = \"http://f2:2 max-conns=3\"\n", path, sizeof(path));
	load_ok(&cfg, ARGS("--config", path,));
	assert_int_equal(cfg.ntarget_urls, 2);
	assert_string_equal(cfg.target_urls[1], "http://f2:2 max-conns=3");
	setenv("TARGET_URL", " http://e1:1 name=x , http://e2:2,http://e3", 1);
	load_ok(&cfg, ARGS("--config", path,));
	assert_int_equal(cfg.ntarget_urls, 3);
	assert_string_equal(cfg.target_urls[0], "http://e1:1 name=x");
	assert_string_equal(cfg.target_urls[1], "http://e2:2");
	assert_string_equal(cfg.target_urls[2], "http://e3");
	load_ok(&cfg, ARGS("--config", path, "--target-url", "http://g",));
	assert_int_equal(cfg.ntarget_urls, 1);
	assert_string_equal(cfg.target_url, "http://g");
	setenv("TARGET_URL", "http://a,,http://b", 1);
	load_err(ARGS(), "environment TARGET_URL: target-url: \"\" must start "
	    "with http:// or https://");
	unsetenv("TARGET_URL");

	/* The URL is checked here, the options in upstreams.c. */
	load_err(ARGS("--target-url", "ftp://x name=a",), "option "
	    "--target-url: target-url: \"ftp://x name=a\" must start with "
	    "http:// or https://");
	for (i = 0; i <= CONFIG_UPSTREAMS_MAX; i++)
		args[i] = "--target-url=http://h";
	args[i] = NULL;
	snprintf(want, sizeof(want), "option --target-url: target-url: more "
	    "than %d values", CONFIG_UPSTREAMS_MAX);
	load_err(args, want);
}

static void
test_prefix(void **state)
{
	struct config	 cfg;
	char		 p32[33], p33[34], want[256];

	load_ok(&cfg, ARGS("--prefix", "sk-",));
	assert_string_equal(cfg.prefix, "sk-");
	load_ok(&cfg, ARGS("--prefix=",));
	assert_string_equal(cfg.prefix, "");

	memset(p32, 'p', 32);
	p32[32] = '\0';
	load_ok(&cfg, ARGS("--prefix", p32,));
	assert_string_equal(cfg.prefix, p32);
	memset(p33, 'p', 33);
	p33[33] = '\0';
	load_err(ARGS("--prefix", p33,), "option --prefix: prefix: value too "
	    "long (at most 32 bytes)");

#define BAD_PREFIX(p) do {						\
	snprintf(want, sizeof(want), "option --prefix: prefix: \"%s\" "	\
	    "must be at most 32 printable characters, no spaces or "	\
	    "quotes", p);						\
	load_err(ARGS("--prefix", p,), want);				\
} while (0)
	BAD_PREFIX("a b");
	BAD_PREFIX("a\"b");
	BAD_PREFIX("a'b");
	BAD_PREFIX("a\\b");
	BAD_PREFIX("a\tb");
	BAD_PREFIX("caf\xc3\xa9");
#undef BAD_PREFIX
}

static void
test_long_values(void **state)
{
	char	 url[CONFIG_URL_MAX + 16], want[CONFIG_URL_MAX + 128];

	memcpy(url, "http://h/", 9);
	memset(url + 9, 'a', CONFIG_URL_MAX - 9);
	url[CONFIG_URL_MAX] = '\0';
	snprintf(want, sizeof(want), "option --target-url: target-url: value "
	    "too long (at most %d bytes)", CONFIG_URL_MAX - 1);
	load_err(ARGS("--target-url", url,), want);
}

static void
test_clear(void **state)
{
	struct config	 cfg;
	size_t		 i;

	load_ok(&cfg, ARGS("--master-key", "WipeMePlease", "--port", "1234",));
	assert_string_equal(cfg.master_key, "WipeMePlease");
	config_clear(&cfg);
	for (i = 0; i < sizeof(cfg.master_key); i++)
		if (cfg.master_key[i] != '\0')
			fail_msg("master_key[%zu] is 0x%02x after config_clear",
			    i, (unsigned char)cfg.master_key[i]);
	/* The rest of the settings are left alone. */
	assert_int_equal(cfg.port, 1234);
}

#define T(f)	cmocka_unit_test_setup(f, clear_env)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_defaults),
		T(test_precedence),
		T(test_flag_forms),
		T(test_file_syntax),
		T(test_file_errors),
		T(test_file_nul),
		T(test_file_missing),
		T(test_config_selection),
		T(test_config_value_not_option),
		T(test_env_errors),
		T(test_flag_errors),
		T(test_help),
		T(test_master_key_conflict),
		T(test_master_key_empty),
		T(test_master_key_file),
		T(test_print_hides_key),
		T(test_host),
		T(test_target_url),
		T(test_target_url_list),
		T(test_prefix),
		T(test_long_values),
		T(test_clear),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
