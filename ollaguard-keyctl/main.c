/*
 * ollaguard-keyctl: manage the keys ollaguardd accepts.  main() reads the
 * global flags, finds the command in the table and hands it the rest of
 * argv, as smtpctl does.  Each command parses its own flags through
 * keyctl_getopt, so --help and usage errors behave alike everywhere:
 * exit 0 when all went well, 1 when something failed, 2 on a usage error.
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "keystore.h"
#include "config.h"
#include "log.h"
#include "policyclass.h"
#include "keyctl.h"

#define KEYCTL_DEFAULT_DB	"./ollaguard.db"
#define KEYCTL_SYSTEM_CONFIG	"/etc/ollaguard/ollaguard.conf"

#define POLICY_HELP \
	"  --allow classes      endpoint classes: read, infer, manage\n" \
	"                       (default: default-allow of --config, else\n" \
	"                       infer,read)\n" \
	"  --models globs       model globs, comma-separated, such as\n" \
	"                       'llama3,qwen2*' ('' for every model)\n" \
	"  --rpm n              requests per minute (0: unlimited)\n" \
	"  --concurrency n      requests at once (0: unlimited)\n" \
	"  --tokens-per-day n   prompt + completion tokens a UTC day\n" \
	"                       (0: unlimited)\n" \
	"  --tokens-per-month n the same a UTC month (0: unlimited)\n" \
	"  --requests-per-day n requests a UTC day (0: unlimited)\n" \
	"  --trust-user-header[=no]  take the user from Open WebUI's\n" \
	"                       X-OpenWebUI-User-Email (-Name, -Id) header\n" \
	"  --user-tokens-per-day n  each such user's tokens a UTC day\n" \
	"                       (0: unlimited)\n"

struct keyctl_cmd {
	const char	*name;
	int		(*run)(int, char **);
	const char	*args;
	const char	*help;
};

static int	do_help(int, char **);
static void	usage(FILE *, int) __attribute__((noreturn));
static void	cmd_usage(FILE *, const struct keyctl_cmd *, int);
static const struct keyctl_cmd *cmd_find(const char *);
static void	zfree(void *);

static const struct keyctl_cmd cmds[] = {
	{ "add", do_add,
	  "[--name name] [--prefix prefix] [--expires duration]\n"
	  "    [--allow classes] [--models globs] [--rpm n] [--concurrency n]\n"
	  "    [--tokens-per-day n] [--tokens-per-month n] [--requests-per-day n]\n"
	  "    [--trust-user-header[=no]] [--user-tokens-per-day n]\n"
	  "    [--ssh-key 'ssh-ed25519 AAAA... comment' | --ssh-key-file file]",
	  "Creates a key and prints it alone on standard output; where it was\n"
	  "stored goes to standard error.  Only its hash is kept: the key\n"
	  "cannot be shown again.  With --ssh-key, stores the public key of an\n"
	  "Ollama CLI user (OLLAMA_AUTH=1) and prints its SHA256 fingerprint.\n"
	  "  --name name          a label, unique among active keys, not all\n"
	  "                       digits\n"
	  "  --prefix prefix      text before the random part (default:\n"
	  "                       $OLLAGUARD_PREFIX, else none)\n"
	  "  --expires duration   lifetime such as 30d, 12h, 90m or 45s\n"
	  "                       (default: never)\n"
	  POLICY_HELP },
	{ "set", do_set,
	  "id|name [--name new] [--expires duration|never] [--allow classes]\n"
	  "    [--models globs] [--rpm n] [--concurrency n]\n"
	  "    [--tokens-per-day n] [--tokens-per-month n] [--requests-per-day n]\n"
	  "    [--trust-user-header[=no]] [--user-tokens-per-day n]",
	  "Changes an active key; the daemon applies it on the next request.\n"
	  "  --name new           a new label\n"
	  "  --expires duration   a new lifetime from now, or never\n"
	  POLICY_HELP },
	{ "show", do_show, "id|name [--json]",
	  "Shows one key's metadata and policy, never the key.\n"
	  "  --json   one JSON object, as list --json writes them\n" },
	{ "list", do_list, "[--json]",
	  "Shows every key: id, name, hint, created, expires, last used,\n"
	  "requests and state (active, revoked or expired).  Never the key.\n"
	  "  --json   a JSON array, times in ISO 8601 UTC or null, with each\n"
	  "           key's allow, models, rpm, concurrency, kind and quotas\n" },
	{ "revoke", do_revoke, "id|name|key ...",
	  "Revokes each key given by its id (an all-digit argument), its name\n"
	  "or the key itself.  An unknown one is reported and makes the exit\n"
	  "status 1; the others are still revoked.\n" },
	{ "import", do_import, "[--allow-short] file|-",
	  "Adds the keys of a JSON file (- reads standard input): the\n"
	  "original tool's storage.json or an export.  A bad file imports\n"
	  "nothing.  Keys already present are skipped; a key whose name an\n"
	  "active key holds is imported without the name.  Fields of the\n"
	  "file that are not read are named on standard error.\n"
	  "  --allow-short   import keys shorter than 16 characters (without\n"
	  "                  it, such a key makes the file bad)\n" },
	{ "export", do_export, "[--with-usage] [file|-]",
	  "Writes every key's hash and metadata as JSON, never a key, to\n"
	  "standard output or atomically to a file made with mode 0600.\n"
	  "  --with-usage   the usage table too, which import adds to the\n"
	  "                 target's\n" },
	{ "usage", do_usage,
	  "[id|name] [--since day] [--until day] [--by group] [--json|--csv]",
	  "Shows requests, errors and tokens (prompt and completion) summed\n"
	  "over UTC days, as a table with a totals line; of one key if given.\n"
	  "  --since day   the first day: YYYY-MM-DD, or a duration back from\n"
	  "                now such as 30d (default: the first recorded)\n"
	  "  --until day   the last day, included (default: today)\n"
	  "  --by group    key, model, day or user, or several joined by\n"
	  "                commas (default: key,model)\n"
	  "  --json        a JSON array, one object per group\n"
	  "  --csv         comma-separated values with a header line\n" },
	{ "genkey", do_genkey, "",
	  "Prints a new random key (43 letters and digits) alone on standard\n"
	  "output and stores nothing: for a master key file, say.  Needs no\n"
	  "database.\n" },
	{ "help", do_help, "[command]",
	  "Shows the usage of the tool or of one command.\n" },
};
#define NCMDS	(sizeof(cmds) / sizeof(cmds[0]))

static char			 dbpath[PATH_MAX];
static const char		*dbfrom;
/* The daemon's config file, when there is one: the db and default-allow
 * settings come from it. */
static const char		*confpath;
static char			 dbreal[PATH_MAX];
static const struct keyctl_cmd	*curcmd;

static void
usage(FILE *out, int status)
{
	size_t	i;

	fprintf(out, "usage: %s [--db path] [--config file] command "
	    "[argument ...]\n", getprogname());
	if (status == KEYCTL_OK) {
		fprintf(out, "\ncommands:\n");
		for (i = 0; i < NCMDS; i++)
			fprintf(out, "  %s %s\n", cmds[i].name, cmds[i].args);
		fprintf(out, "\nThe database is the daemon's: --db, else "
		    "$OLLAGUARD_DB, else the db setting\nof --config file, "
		    "else of $OLLAGUARD_CONFIG, else of %s\nwhen it exists, "
		    "else %s.  Only add and import create it.\n"
		    "Run \"%s command --help\" for a command's help.\n",
		    KEYCTL_SYSTEM_CONFIG, KEYCTL_DEFAULT_DB, getprogname());
	} else
		fprintf(out, "run \"%s --help\" for the commands\n",
		    getprogname());
	exit(status);
}

static void
cmd_usage(FILE *out, const struct keyctl_cmd *cmd, int full)
{
	fprintf(out, "usage: %s [--db path] [--config file] %s %s\n",
	    getprogname(), cmd->name, cmd->args);
	if (full)
		fprintf(out, "\n%s", cmd->help);
}

static const struct keyctl_cmd *
cmd_find(const char *name)
{
	size_t	i;

	for (i = 0; i < NCMDS; i++)
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	return NULL;
}

void
keyctl_usage_error(const char *fmt, ...)
{
	va_list	ap;
	char	msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (curcmd == NULL) {
		warnx("%s", msg);
		usage(stderr, KEYCTL_USAGE);
	}
	warnx("%s: %s", curcmd->name, msg);
	cmd_usage(stderr, curcmd, 0);
	exit(KEYCTL_USAGE);
}

int
keyctl_getopt(int argc, char **argv, const char *optstring,
    const struct option *longopts)
{
	int	ch;

	ch = getopt_long(argc, argv, optstring, longopts, NULL);
	switch (ch) {
	case 'h':
		if (curcmd == NULL)
			usage(stdout, KEYCTL_OK);
		cmd_usage(stdout, curcmd, 1);
		exit(KEYCTL_OK);
	case ':':
		keyctl_usage_error("%s: missing argument", argv[optind - 1]);
	case '?':
		/* optopt names a bad short option; a bad long one is only
		 * known by the argument getopt stopped at. */
		if (optopt != 0 && strncmp(argv[optind - 1], "--", 2) != 0)
			keyctl_usage_error("-%c: unknown option", optopt);
		keyctl_usage_error("%s: unknown option", argv[optind - 1]);
	}
	return ch;
}

struct keystore *
keyctl_open(int flags)
{
	struct keystore	*ks;
	char		 err[512];

	/* One line, always: a database other than the daemon's is the
	 * mistake this shows at once. */
	fprintf(stderr, "%s: database %s%s%s%s\n", getprogname(), dbpath,
	    dbfrom != NULL ? " (from " : "", dbfrom != NULL ? dbfrom : "",
	    dbfrom != NULL ? ")" : "");
	if ((flags & KEYSTORE_NOCREATE) && access(dbpath, F_OK) == -1 &&
	    errno == ENOENT)
		errx(KEYCTL_FAIL, "%s: %s does not exist: there is no "
		    "database yet (\"%s add\" or \"%s import\" creates it)",
		    curcmd->name, dbpath, getprogname(), getprogname());
	if ((ks = keystore_open(dbpath, flags, err, sizeof(err))) == NULL)
		errx(KEYCTL_FAIL, "%s: %s", curcmd->name, err);
	if (realpath(dbpath, dbreal) == NULL)
		strlcpy(dbreal, dbpath, sizeof(dbreal));
	return ks;
}

const char *
keyctl_cmdname(void)
{
	return curcmd != NULL ? curcmd->name : getprogname();
}

/*
 * The classes a new key gets: OLLAGUARD_DEFAULT_ALLOW, as the daemon
 * reads it (the environment over the file), else the --config file's
 * default-allow, else infer,read.
 */
int
keyctl_default_allow(void)
{
	struct config	*cfg;
	char		 msg[PATH_MAX + 128];
	const char	*env;
	int		 mask;

	if ((env = getenv("OLLAGUARD_DEFAULT_ALLOW")) != NULL &&
	    *env != '\0') {
		if (policy_allow_parse(env, &mask, msg, sizeof(msg)) == -1)
			errx(KEYCTL_USAGE, "%s: OLLAGUARD_DEFAULT_ALLOW: %s",
			    keyctl_cmdname(), msg);
		return mask;
	}
	if (confpath == NULL)
		return POLICY_DEFAULT_ALLOW;
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL)
		err(KEYCTL_FAIL, "%s", keyctl_cmdname());
	if (config_read_file(cfg, confpath, msg, sizeof(msg)) != CONFIG_OK)
		errx(KEYCTL_USAGE, "%s: --config %s", keyctl_cmdname(), msg);
	/* The setting was checked when the file was read. */
	if (policy_allow_parse(cfg->default_allow, &mask, msg,
	    sizeof(msg)) == -1)
		mask = POLICY_DEFAULT_ALLOW;
	config_clear(cfg);
	free(cfg);
	return mask;
}

/*
 * Now, shifted as the daemon shifts it (clock-offset, for testing):
 * from OLLAGUARD_CLOCK_OFFSET, else the --config file's setting.
 */
int64_t
keyctl_now(void)
{
	struct config	*cfg;
	char		 msg[PATH_MAX + 128];
	const char	*env, *errstr;
	long long	 off = 0;

	if ((env = getenv("OLLAGUARD_CLOCK_OFFSET")) != NULL) {
		off = strtonum(env, -3153600000LL, 3153600000LL, &errstr);
		if (errstr != NULL)
			errx(KEYCTL_USAGE, "OLLAGUARD_CLOCK_OFFSET %s: %s", env,
			    errstr);
	} else if (confpath != NULL) {
		if ((cfg = calloc(1, sizeof(*cfg))) == NULL)
			err(KEYCTL_FAIL, "%s", keyctl_cmdname());
		if (config_read_file(cfg, confpath, msg,
		    sizeof(msg)) != CONFIG_OK)
			errx(KEYCTL_USAGE, "%s: --config %s", keyctl_cmdname(),
			    msg);
		off = cfg->clock_offset;
		config_clear(cfg);
		free(cfg);
	}
	return (int64_t)time(NULL) + off;
}

const char *
keyctl_dbname(void)
{
	return dbreal[0] != '\0' ? dbreal : dbpath;
}

static int
do_help(int argc, char **argv)
{
	static const struct option	 opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const struct keyctl_cmd		*cmd;

	while (keyctl_getopt(argc, argv, ":h", opts) != -1)
		;
	if (argc - optind > 1)
		keyctl_usage_error("too many arguments");
	if (argc == optind)
		usage(stdout, KEYCTL_OK);
	if ((cmd = cmd_find(argv[optind])) == NULL)
		keyctl_usage_error("%s: unknown command", argv[optind]);
	cmd_usage(stdout, cmd, 1);
	return KEYCTL_OK;
}

/*
 * Import parses files full of plaintext keys with jansson; wiping what
 * it frees keeps those keys from lingering in the heap.
 */
static void
zfree(void *p)
{
	if (p == NULL)
		return;
	explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

/*
 * The daemon's database, found as the daemon finds it: --db, then
 * OLLAGUARD_DB, then the db setting of the config file (--config,
 * OLLAGUARD_CONFIG, or the system one when it exists), else the
 * default.  The path is made absolute and normalised as the daemon's.
 */
static void
find_db(const char *flag, const char *config)
{
	const char	*env;
	char		 msg[PATH_MAX + 512], cwd[PATH_MAX];

	if (config != NULL)
		confpath = config;
	else if ((env = getenv("OLLAGUARD_CONFIG")) != NULL && *env != '\0')
		confpath = env;
	else if (access(KEYCTL_SYSTEM_CONFIG, F_OK) == 0)
		confpath = KEYCTL_SYSTEM_CONFIG;
	if (flag != NULL)
		strlcpy(dbpath, flag, sizeof(dbpath));
	else if ((env = getenv("OLLAGUARD_DB")) != NULL && *env != '\0') {
		strlcpy(dbpath, env, sizeof(dbpath));
		dbfrom = "OLLAGUARD_DB";
	} else {
		if (confpath == NULL)
			strlcpy(dbpath, KEYCTL_DEFAULT_DB, sizeof(dbpath));
		else if (config_file_db(confpath, dbpath, sizeof(dbpath), msg,
		    sizeof(msg)) == -1)
			errx(KEYCTL_FAIL, "%s (give the database with --db)",
			    msg);
		dbfrom = confpath;
	}
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		err(KEYCTL_FAIL, "getcwd");
	if (config_db_path(dbpath, sizeof(dbpath), cwd, msg,
	    sizeof(msg)) == -1)
		errx(KEYCTL_FAIL, "%s", msg);
}

int
main(int argc, char *argv[])
{
	static const struct option	 opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char			*flag = NULL, *config = NULL;
	int				 ch;

	/* Only errors: the messages that matter are the tool's own. */
	log_init(getprogname(), 1, LOG_LEVEL_ERROR);
	json_set_alloc_funcs(malloc, zfree);

	/* "+": stop at the command, whose flags are its own. */
	opterr = 0;
	while ((ch = keyctl_getopt(argc, argv, "+:h", opts)) != -1) {
		switch (ch) {
		case 'd':
			if (*optarg == '\0')
				keyctl_usage_error("--db: empty path");
			flag = optarg;
			break;
		case 'c':
			if (*optarg == '\0')
				keyctl_usage_error("--config: empty path");
			config = optarg;
			break;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		keyctl_usage_error("no command given");
	if ((curcmd = cmd_find(argv[0])) == NULL)
		keyctl_usage_error("%s: unknown command", argv[0]);
	if (curcmd->run != do_help && curcmd->run != do_genkey)
		find_db(flag, config);

	/* 0 makes GNU getopt start over on the command's argv. */
	optind = 0;
	return curcmd->run(argc, argv);
}
