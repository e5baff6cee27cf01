/*
 * upgrade: a new binary takes over the listen socket, as in nginx.
 *
 * On SIGUSR2 the master renames its pid file to PIDFILE.oldbin and
 * forks a child that executes the program again: the path it was
 * started as (after a package upgrade /proc/self/exe names the deleted
 * old file), with the same arguments and environment plus two
 * variables: OLLAGUARD_LISTEN_FD, the listen socket's number, left open
 * across this one exec, and OLLAGUARD_UPGRADE_FROM, the old master's
 * pid.  The new master reads its settings as any start does, adopts the
 * socket if it is a listening TCP socket on the configured address
 * (else it exits, saying why), writes the pid file and starts its
 * workers.  Once one of them accepts, it tells systemd it is the main
 * process now (MAINPID=) and sends SIGTERM to the old master, which
 * stops as on any SIGTERM: it closes its copy of the socket and its
 * workers finish what they serve.  Both pools accept on the one socket
 * in between, and the socket never closes: no connection is refused.
 *
 * A new master that exits before that is the old master's child, so
 * the old master reaps it, logs why, moves its pid file back and
 * serves on.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "upgrade.h"

#define ENV_FD		"OLLAGUARD_LISTEN_FD"
#define ENV_FROM	"OLLAGUARD_UPGRADE_FROM"

extern char	**environ;

static char	 exe[PATH_MAX];
static char	 startdir[PATH_MAX];
static char	 pidfile[PATH_MAX];
static char	 oldbin[PATH_MAX + 8];
static int	 moved;		/* the pid file is at oldbin */
static pid_t	 child;		/* the new master, while it starts */
static pid_t	 old_master;	/* in a new master: whom to stop */
static int	 adopted;

void
upgrade_init(const char *argv0, const char *cwd)
{
	ssize_t n;

	strlcpy(startdir, cwd, sizeof(startdir));
	if (strchr(argv0, '/') != NULL) {
		if (argv0[0] == '/')
			strlcpy(exe, argv0, sizeof(exe));
		else
			snprintf(exe, sizeof(exe), "%s/%s", cwd, argv0);
		return;
	}
	/* Found on $PATH: the file it is now. */
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) == -1)
		n = 0;
	exe[n] = '\0';
}

/* 0 if fd is a listening TCP socket bound to host and port. */
static int
check_socket(int fd, const char *host, long long port, const char **why)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	unsigned char want[sizeof(struct in6_addr)];
	socklen_t len = sizeof(int);
	int type = 0, acc = 0;

	*why = "not a listening TCP socket";
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1 ||
	    type != SOCK_STREAM)
		return -1;
	len = sizeof(int);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) == -1 ||
	    acc == 0)
		return -1;
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return -1;
	*why = "bound to another address or port than host and port say";
	if (ss.ss_family == AF_INET)
		return inet_pton(AF_INET, host, want) == 1 &&
		    memcmp(want, &sin->sin_addr, sizeof(sin->sin_addr)) == 0 &&
		    ntohs(sin->sin_port) == port ? 0 : -1;
	if (ss.ss_family == AF_INET6)
		return inet_pton(AF_INET6, host, want) == 1 &&
		    memcmp(want, &sin6->sin6_addr, sizeof(sin6->sin6_addr)) ==
		    0 && ntohs(sin6->sin6_port) == port ? 0 : -1;
	*why = "not an IPv4 or IPv6 socket";
	return -1;
}

int
upgrade_adopt(const char *host, long long port)
{
	const char *v, *from, *why;
	int fd;

	if ((v = getenv(ENV_FD)) == NULL)
		return -1;
	fd = (int)strtonum(v, 3, INT_MAX, &why);
	if (why != NULL)
		fatalx("%s=%s: %s", ENV_FD, v, why);
	if ((from = getenv(ENV_FROM)) != NULL)
		old_master = (pid_t)strtonum(from, 2, INT_MAX, &why);
	if (from == NULL || why != NULL)
		fatalx("%s is set without a valid %s", ENV_FD, ENV_FROM);
	if (check_socket(fd, host, port, &why) == -1)
		fatalx("upgrade: the inherited socket %d is %s (host %s, "
		    "port %lld): a new address needs a restart", fd, why,
		    host, port);
	/* Not passed on to workers' programs, nor to a later upgrade. */
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1)
		fatal("fcntl FD_CLOEXEC");
	unsetenv(ENV_FD);
	unsetenv(ENV_FROM);
	adopted = 1;
	return fd;
}

int
upgrade_adopted(void)
{
	return adopted;
}

/* The child: the socket open across exec, the new program. */
static void __attribute__((__noreturn__))
exec_new(int fd, char **argv)
{
	char num[16];
	sigset_t all;

	/* The new main unblocks them once its handlers are in place. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	snprintf(num, sizeof(num), "%d", fd);
	setenv(ENV_FD, num, 1);
	snprintf(num, sizeof(num), "%ld", (long)getppid());
	setenv(ENV_FROM, num, 1);
	/* Relative paths in argv mean what they meant at start, before
	 * --daemon moved to "/". */
	if (chdir(startdir) == -1)
		log_warn("upgrade: chdir %s", startdir);
	if (fcntl(fd, F_SETFD, 0) == -1)
		log_warn("upgrade: fcntl");
	else
		execve(exe, argv, environ);
	log_warn("upgrade: cannot execute %s", exe);
	_exit(127);
}

void
upgrade_start(int fd, char **argv, const char *pf)
{
	pid_t pid;

	if (child != 0) {
		log_warnx("upgrade: pid %ld is still starting; SIGUSR2 ignored",
		    (long)child);
		return;
	}
	if (exe[0] == '\0') {
		log_warnx("upgrade: the program's path is unknown");
		return;
	}
	strlcpy(pidfile, pf, sizeof(pidfile));
	if (pidfile[0] != '\0') {
		snprintf(oldbin, sizeof(oldbin), "%s.oldbin", pidfile);
		if (rename(pidfile, oldbin) == -1) {
			log_warn("upgrade: rename %s to %s; not upgrading",
			    pidfile, oldbin);
			return;
		}
		moved = 1;
	}
	switch (pid = fork()) {
	case -1:
		log_warn("upgrade: fork");
		upgrade_reaped(0, 0);
		return;
	case 0:
		exec_new(fd, argv);
		/* NOTREACHED */
	default:
		child = pid;
		log_info("upgrade: started %s as pid %ld; serving on until it "
		    "is ready", exe, (long)pid);
	}
}

int
upgrade_reaped(pid_t pid, int status)
{
	if (pid != 0 && pid != child)
		return 0;
	if (pid != 0 && WIFSIGNALED(status))
		log_warnx("upgrade failed: the new master %ld was killed by "
		    "signal %d; serving on", (long)pid, WTERMSIG(status));
	else if (pid != 0)
		log_warnx("upgrade failed: the new master %ld exited with "
		    "status %d (its log says why); serving on", (long)pid,
		    WEXITSTATUS(status));
	child = 0;
	if (moved && rename(oldbin, pidfile) == -1)
		log_warn("upgrade: rename %s back to %s", oldbin, pidfile);
	moved = 0;
	return 1;
}

const char *
upgrade_oldbin(void)
{
	return moved ? oldbin : NULL;
}

/*
 * sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET, a
 * path or (starting with '@') an abstract name.  Nothing to do when
 * the variable is unset, as it is outside a Type=notify unit.
 */
static void
notify(const char *msg)
{
	struct sockaddr_un sun;
	const char *path = getenv("NOTIFY_SOCKET");
	socklen_t len;
	size_t n;
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@') ||
	    (n = strlen(path)) >= sizeof(sun.sun_path))
		return;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, n);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1) {
		log_warn("notify socket");
		return;
	}
	/* Never wait for a reader: a full queue loses the message. */
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT,
	    (struct sockaddr *)&sun, len) == -1)
		log_warn("notify %s", path);
	close(fd);
}

void
upgrade_ready(void)
{
	char msg[64];

	if (!adopted) {
		notify("READY=1");
		return;
	}
	snprintf(msg, sizeof(msg), "MAINPID=%ld\nREADY=1", (long)getpid());
	notify(msg);
	log_info("upgrade: serving; telling the old master %ld to finish "
	    "and stop", (long)old_master);
	if (kill(old_master, SIGTERM) == -1)
		log_warn("upgrade: kill %ld", (long)old_master);
	old_master = 0;
}
