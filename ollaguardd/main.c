/*
 * ollaguardd: API-key authentication in front of an Ollama server.
 *
 * main does what needs doing once, in this order: read the settings;
 * take the pidfile and bind the listen socket (both may need root); drop
 * privileges; create or migrate the key database as the user that will
 * serve (then close it: no connection crosses a fork); detach if asked;
 * and hand over to the master, which forks the workers.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <libutil.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "accesslog.h"
#include "config.h"
#include "keystore.h"
#include "log.h"
#include "master.h"
#include "tls.h"
#include "upgrade.h"
#include "upstreams.h"

extern char	**environ;

/* Where a database goes that has no folder of its own yet. */
#define DB_DIR		"/var/lib/ollaguard"
#define DB_NAME		"ollaguard.db"

/* The README asks for the key in a file, never on the command line. */
#define AUTH_OFF_HINT	"Put a master key in a file named by " \
	"--master-key-file (MASTER_KEY_FILE), or add a key with " \
	"ollaguard-keyctl."

static struct pidfh	*pfh;
static pid_t		 pid_owner;

/* A start that fails after the pidfile was taken must not leave it
 * behind; only the process that wrote it removes it. */
static void
remove_pidfile(void)
{
	const char *oldbin;

	if (pfh == NULL || getpid() != pid_owner)
		return;
	/* After an upgrade the pid file is the new master's: remove only
	 * our own, renamed PIDFILE.oldbin. */
	if ((oldbin = upgrade_oldbin()) != NULL) {
		unlink(oldbin);
		pidfile_close(pfh);
	} else
		pidfile_remove(pfh);
}

static int
listen_on(const struct config *cfg)
{
	const char *host = cfg->host;
	int port = (int)cfg->port, defer = (int)cfg->header_timeout;
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	struct timeval tv = { 1, 0 };
	socklen_t len;
	int fd, on = 1;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		len = sizeof(*sin6);
	} else
		fatalx("listen address %s is not an IP address", host);

	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		fatal("socket");
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		fatal("setsockopt SO_REUSEADDR");
	/* Accepted sockets inherit TCP_NODELAY: set once, not per client. */
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) == -1)
		fatal("setsockopt TCP_NODELAY");
	/* Workers' accept() wakes every second to check for a stop. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1)
		fatal("setsockopt SO_RCVTIMEO");
	if (listen_send_timeout(fd, (int)cfg->send_timeout) == -1)
		fatal("setsockopt SO_SNDTIMEO");
	/* A connection that sends nothing is not handed to a worker. */
	if (setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer,
	    sizeof(defer)) == -1)
		log_warn("setsockopt TCP_DEFER_ACCEPT");
	if (bind(fd, (struct sockaddr *)&ss, len) == -1)
		fatal("cannot listen on %s port %d", host, port);
	if (listen(fd, (int)cfg->backlog) == -1)
		fatal("listen on %s port %d", host, port);
	return fd;
}

/*
 * Started as root, ollaguardd serves as --user; it refuses to serve as
 * root unless told so in as many words.
 */
static void
drop_privileges(const struct config *cfg)
{
	struct passwd *pw;
	struct group *gr;
	gid_t gid;

	if (geteuid() != 0) {
		/* A new master from an upgrade runs as the old one did. */
		if (cfg->user[0] != '\0' && !(upgrade_adopted() &&
		    (pw = getpwnam(cfg->user)) != NULL &&
		    pw->pw_uid == geteuid()))
			log_warnx("--user %s has no effect: not started as root",
			    cfg->user);
		return;
	}
	if (cfg->user[0] == '\0')
		fatalx("refusing to serve as root: give --user USER to serve "
		    "as an unprivileged user (or --user root to insist)");
	if (strcmp(cfg->user, "root") == 0 && cfg->group[0] == '\0') {
		log_warnx("serving as root, as --user root asks");
		return;
	}
	if ((pw = getpwnam(cfg->user)) == NULL)
		fatalx("--user %s: no such user", cfg->user);
	gid = pw->pw_gid;
	if (cfg->group[0] != '\0') {
		if ((gr = getgrnam(cfg->group)) == NULL)
			fatalx("--group %s: no such group", cfg->group);
		gid = gr->gr_gid;
	}
	if (initgroups(pw->pw_name, gid) == -1)
		fatal("initgroups %s", pw->pw_name);
	if (setresgid(gid, gid, gid) == -1)
		fatal("setresgid %ld", (long)gid);
	if (setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1)
		fatal("setresuid %s", pw->pw_name);
	/* Verify: a process that can get root back has not dropped it. */
	if (pw->pw_uid != 0 && (setuid(0) != -1 || seteuid(0) != -1))
		fatalx("privileges were not dropped");
	if (getuid() != pw->pw_uid || getegid() != gid)
		fatalx("privileges were not dropped");
}

/*
 * 1 if dir holds nothing but the database and its WAL files: only then
 * is handing it to the serving user safe.  /etc or /var/lib holds other
 * programs' files, and chown on it would open them up.
 */
static int
folder_of_its_own(const char *dir, const char *db)
{
	char copy[PATH_MAX];
	const char *name;
	struct dirent *de;
	DIR *d;
	int own = 1;

	strlcpy(copy, db, sizeof(copy));
	name = basename(copy);
	if ((d = opendir(dir)) == NULL)
		return 0;
	while (own && (de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0 &&
		    strncmp(de->d_name, name, strlen(name)) != 0)
			own = 0;
	closedir(d);
	return own;
}

/* The database, its folder and its WAL files must be writable. */
static void
check_db_access(const struct config *cfg)
{
	const char *suffix[] = { "", "-wal", "-shm" };
	char dir[PATH_MAX], path[PATH_MAX + 8];
	struct passwd *pw = getpwuid(geteuid());
	const char *who = pw != NULL ? pw->pw_name : "this user";
	size_t i;

	strlcpy(dir, cfg->db, sizeof(dir));
	strlcpy(dir, dirname(dir), sizeof(dir));
	if (access(dir, W_OK | X_OK) == -1 && errno != ENOENT) {
		if (folder_of_its_own(dir, cfg->db))
			fatalx("%s: folder %s is not writable by user %s: "
			    "run \"chown %s %s\"", cfg->db, dir, who, who, dir);
		fatalx("%s: folder %s is not writable by user %s, and it "
		    "holds other files: give the database a folder of its "
		    "own: \"mkdir -p %s && chown %s %s\" and --db %s/%s",
		    cfg->db, dir, who, DB_DIR, who, DB_DIR, DB_DIR, DB_NAME);
	}
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s%s", cfg->db, suffix[i]);
		if (access(path, R_OK | W_OK) == -1 && errno != ENOENT)
			fatalx("%s is not writable by user %s (another user, "
			    "perhaps root running ollaguard-keyctl, owns it): "
			    "run \"chown %s %s*\"", path, who, who, cfg->db);
	}
}

/* Creates or migrates the database; returns how many keys are active. */
static int64_t
open_db(const struct config *cfg)
{
	struct keystore *ks;
	char err[PATH_MAX + 512];
	int64_t active;

	check_db_access(cfg);
	if ((ks = keystore_open(cfg->db, 0, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	if ((active = keystore_count_active(ks, time(NULL))) == -1)
		fatalx("%s: %s", cfg->db, keystore_errmsg(ks));
	keystore_close(ks);
	return active;
}

/*
 * config_load has checked every value (the same checks a start and a
 * reload make); what is left is the database, and whether the result
 * would let every request through.
 */
static int
check_config(struct config *cfg)
{
	struct keystore *ks;
	char err[PATH_MAX + 512], dir[PATH_MAX];
	struct upstreams ups;
	long long active = 0;
	int rc = 0;

	if (upstreams_parse(cfg, &ups, err, sizeof(err)) == -1) {
		fprintf(stderr, "ollaguardd: %s\n", err);
		rc = 1;
	}
	strlcpy(dir, cfg->db, sizeof(dir));
	if (access(dirname(dir), W_OK | X_OK) == -1) {
		fprintf(stderr, "ollaguardd: db %s: folder: %s\n", cfg->db,
		    strerror(errno));
		rc = 1;
	} else if (access(cfg->db, F_OK) == -1)
		printf("# %s does not exist yet: it will be created\n", cfg->db);
	else if ((ks = keystore_open(cfg->db, KEYSTORE_NOCREATE, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "ollaguardd: %s\n", err);
		rc = 1;
	} else {
		active = (long long)keystore_count_active(ks, time(NULL));
		printf("# %s: %lld active keys\n", cfg->db, active);
		keystore_close(ks);
	}
	if (tls_check(cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "ollaguardd: %s\n", err);
		rc = 1;
	}
	config_print(cfg, stdout);
	upstreams_print(&ups, stdout);
	if (rc != 0)
		printf("# configuration FAILED\n");
	else if (cfg->master_key[0] == '\0' && active <= 0) {
		printf("# configuration OK, but AUTHENTICATION IS OFF: no "
		    "master key and no active key, so every request passes\n");
		fprintf(stderr, "ollaguardd: warning: authentication is off: "
		    "%s\n", AUTH_OFF_HINT);
	} else
		printf("# configuration OK\n");
	return rc;
}

/* Forks; the parent leaves at once, the child goes on. */
static void
fork_away(void)
{
	switch (fork()) {
	case -1:
		fatal("fork");
	case 0:
		return;
	default:
		_exit(0);
	}
}

static void
daemonize(void)
{
	int fd;

	fork_away();
	if (setsid() == -1)
		fatal("setsid");
	fork_away();	/* not a session leader: never gets a terminal */
	if (chdir("/") == -1)
		fatal("chdir /");
	if ((fd = open("/dev/null", O_RDWR)) == -1)
		fatal("/dev/null");
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
}

static void
free_argv(char **v)
{
	int i;

	for (i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* argv as config_load will need it on every reload: setproctitle
 * reuses the memory the original lives in. */
static char **
copy_argv(int argc, char *argv[])
{
	char **v;
	int i;

	if ((v = calloc((size_t)argc + 1, sizeof(*v))) == NULL)
		fatal("calloc");
	for (i = 0; i < argc; i++)
		if ((v[i] = strdup(argv[i])) == NULL)
			fatal("strdup");
	return v;
}

/* The pid file, locked: a second instance is refused naming the first. */
static void
open_pidfile(const struct config *cfg)
{
	pid_t other;

	if (cfg->pidfile[0] == '\0')
		return;
	pfh = pidfile_open(cfg->pidfile, 0644, &other);
	if (pfh == NULL && errno == EEXIST)
		fatalx("%s: ollaguardd is already running as pid %ld",
		    cfg->pidfile, (long)other);
	if (pfh == NULL)
		fatal("pidfile %s", cfg->pidfile);
	pid_owner = getpid();
	atexit(remove_pidfile);
}

/* What the daemon is about to do, and whether anything guards it. */
static void
log_started(const struct config *cfg, int64_t active)
{
	char url[CONFIG_URL_MAX];

	config_redact_url(cfg->target_url, url, sizeof(url));
	log_info("ollaguardd %s %s %s port %lld%s, forwarding to %s, %lld "
	    "workers", config_version(), upgrade_adopted() ? "took over" :
	    "listening on", cfg->host, cfg->port,
	    cfg->tls_cert[0] != '\0' ? " (TLS)" : "", url, cfg->workers);
	if (cfg->target_insecure)
		log_warnx("TARGET-INSECURE IS ON: the certificate of an https "
		    "target-url is not checked, so anyone on the path to it "
		    "can read and change every request, keys included");
	if (cfg->master_key[0] == '\0' && active == 0)
		log_warnx("AUTHENTICATION IS OFF: no master key and no active "
		    "key in %s, so every request passes. %s", cfg->db,
		    AUTH_OFF_HINT);
	else
		log_info("authentication on: %s%lld active key%s in %s",
		    cfg->master_key[0] != '\0' ? "master key and " : "",
		    (long long)active, active == 1 ? "" : "s", cfg->db);
}

/* Until the master has its handlers, a SIGHUP from logrotate or a
 * SIGTERM from systemd waits instead of killing us half started. */
static void
block_early_signals(void)
{
	sigset_t early;

	sigemptyset(&early);
	sigaddset(&early, SIGHUP);
	sigaddset(&early, SIGUSR1);
	sigaddset(&early, SIGUSR2);
	sigaddset(&early, SIGTERM);
	sigaddset(&early, SIGINT);
	sigaddset(&early, SIGQUIT);
	sigprocmask(SIG_BLOCK, &early, NULL);
}

int
main(int argc, char *argv[])
{
	struct upstreams ups;
	struct config *cfg;
	char err[PATH_MAX + 512], cwd[PATH_MAX], **args;
	int64_t active;
	int fd, rc;

	block_early_signals();
	log_init("ollaguardd", 1, LOG_LEVEL_INFO);
	args = copy_argv(argc, argv);
	/* From here on the original argv (and with it a --master-key) is
	 * overwritten by the process title. */
	setproctitle_init(argc, argv, environ);
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		fatal("getcwd");
	upgrade_init(args[0], cwd);
	if ((cfg = malloc(sizeof(*cfg))) == NULL)
		fatal("malloc");
	rc = config_load(cfg, argc, args, err, sizeof(err));
	if (rc == CONFIG_OK && config_absolute(cfg, cwd, err,
	    sizeof(err)) == -1)
		rc = CONFIG_ERROR;
	if (rc != CONFIG_OK || cfg->check_config) {
		if (rc == CONFIG_ERROR)
			fprintf(stderr, "ollaguardd: %s\n", err);
		if (rc == CONFIG_OK)
			rc = check_config(cfg);
		else
			rc = rc == CONFIG_EXIT ? 0 : 1;
		config_clear(cfg);
		free(cfg);
		free_argv(args);
		return rc;
	}
	setproctitle("master");
	log_setlevel(log_level_parse(cfg->log_level));
	if (upstreams_parse(cfg, &ups, err, sizeof(err)) == -1)
		fatalx("%s", err);
	if (cfg->syslog)
		log_syslog(log_facility_parse(cfg->syslog_facility));

	open_pidfile(cfg);
	/* The key may be readable by root alone: read it while we are,
	 * and before listening, so a bad pair never accepts a client. */
	if (tls_init(cfg, err, sizeof(err)) == -1)
		fatalx("%s", err);
	/* An upgrade hands the socket over: it never closes. */
	if ((fd = upgrade_adopt(cfg->host, cfg->port)) == -1)
		fd = listen_on(cfg);
	else if (listen_send_timeout(fd, (int)cfg->send_timeout) == -1)
		log_warn("setsockopt SO_SNDTIMEO");
	drop_privileges(cfg);
	active = open_db(cfg);
	if (accesslog_open(cfg) == -1)
		fatalx("cannot write the access log %s", cfg->access_log);
	accesslog_close();
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx("curl_global_init failed");

	/* Until here errors went to stderr, where whoever started us
	 * sees them; a daemon has no stderr from now on. */
	if (cfg->daemon) {
		log_syslog(log_facility_parse(cfg->syslog_facility));
		/* A new master from an upgrade is detached already, and
		 * must stay the old master's child until it is ready. */
		if (!upgrade_adopted())
			daemonize();
		pid_owner = getpid();
	}
	if (pfh != NULL && pidfile_write(pfh) == -1)
		fatal("pidfile %s", cfg->pidfile);

	log_started(cfg, active);
	/* master_run owns cfg from here (a reload replaces it). */
	rc = master_run(fd, pfh != NULL ? pidfile_fileno(pfh) : -1, cfg, argc,
	    args, cwd);
	free_argv(args);
	curl_global_cleanup();
	return rc;
}
