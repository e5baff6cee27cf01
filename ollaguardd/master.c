/*
 * master: forks the workers, replaces any that exit, and stops them all
 * on SIGTERM or SIGINT.
 *
 * Signal handlers only set flags; the loop below acts on them once it
 * wakes, which a signal makes it do at once (nanosleep is interrupted)
 * and which otherwise happens every second.  A worker that dies soon
 * after it started is replaced with a growing delay, so a worker that
 * cannot start (a broken database, say) never makes the master spin.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "master.h"
#include "worker.h"

#define STOP_GRACE_SECS		10
#define QUICK_DEATH_SECS	2
#define BACKOFF_MAX_SECS	30

struct slot {
	pid_t		 pid;
	time_t		 started;
};

static volatile sig_atomic_t	 got_stop;
static volatile sig_atomic_t	 got_hup;
static struct slot		*slots;
static int			 nslots;

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else if (sig != SIGCHLD)
		got_stop = 1;
}

/*
 * Signals stay blocked across fork until the worker has its own
 * handlers: a stop that arrives in between is then delivered to the
 * worker's handler, not lost to the master's inherited one.
 */
static int
spawn(int i, int lfd, const struct config *cfg)
{
	sigset_t all, old;
	pid_t pid, master = getpid();

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	switch (pid = fork()) {
	case -1:
		sigprocmask(SIG_SETMASK, &old, NULL);
		log_warn("fork");
		return -1;
	case 0:
		free(slots);
		worker_main(lfd, cfg, master, &old);
		/* NOTREACHED */
	default:
		sigprocmask(SIG_SETMASK, &old, NULL);
		slots[i].pid = pid;
		slots[i].started = time(NULL);
		return 0;
	}
}

/* Collects exited workers; returns how many died right after start. */
static int
reap(void)
{
	pid_t pid;
	int status, i, quick = 0;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < nslots; i++)
			if (slots[i].pid == pid)
				break;
		if (i == nslots)
			continue;
		if (WIFSIGNALED(status))
			log_warnx("worker %ld killed by signal %d (%s)",
			    (long)pid, WTERMSIG(status),
			    strsignal(WTERMSIG(status)));
		else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
			log_warnx("worker %ld exited with status %d",
			    (long)pid, WEXITSTATUS(status));
		if (time(NULL) - slots[i].started < QUICK_DEATH_SECS &&
		    !got_stop)
			quick++;
		slots[i].pid = 0;
	}
	return quick;
}

static int
alive(void)
{
	int i, n = 0;

	for (i = 0; i < nslots; i++)
		if (slots[i].pid != 0)
			n++;
	return n;
}

static void
stop_workers(void)
{
	struct timespec ts = { 0, 100 * 1000 * 1000 };
	int i, tries;

	for (i = 0; i < nslots; i++)
		if (slots[i].pid != 0)
			kill(slots[i].pid, SIGTERM);
	for (tries = 0; tries < STOP_GRACE_SECS * 10 && alive() > 0; tries++) {
		nanosleep(&ts, NULL);
		reap();
	}
	for (i = 0; i < nslots; i++)
		if (slots[i].pid != 0) {
			log_warnx("worker %ld still busy after %d s: killing it",
			    (long)slots[i].pid, STOP_GRACE_SECS);
			kill(slots[i].pid, SIGKILL);
		}
	while (alive() > 0 && waitpid(-1, NULL, 0) > 0)
		reap();
}

int
master_run(int lfd, const struct config *cfg)
{
	struct sigaction sa;
	struct timespec ts;
	time_t backoff_until = 0;
	int i, quick, backoff = 0;

	nslots = (int)cfg->workers;
	if ((slots = calloc((size_t)nslots, sizeof(*slots))) == NULL)
		fatal("calloc");

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	log_setprefix("master");

	for (i = 0; i < nslots; i++)
		spawn(i, lfd, cfg);

	while (!got_stop) {
		ts.tv_sec = 1;
		ts.tv_nsec = 0;
		nanosleep(&ts, NULL);
		if (got_hup) {
			got_hup = 0;
			log_warnx("SIGHUP: this version does not reload; "
			    "restart ollaguardd to apply new settings");
		}
		quick = reap();
		if (got_stop)
			break;
		if (quick > 0) {
			backoff = backoff == 0 ? 1 : backoff * 2;
			if (backoff > BACKOFF_MAX_SECS)
				backoff = BACKOFF_MAX_SECS;
			backoff_until = time(NULL) + backoff;
			log_warnx("workers die right after start: waiting %d s "
			    "before starting more", backoff);
		} else if (time(NULL) >= backoff_until + 2 * backoff)
			backoff = 0;
		if (time(NULL) < backoff_until)
			continue;
		for (i = 0; i < nslots; i++)
			if (slots[i].pid == 0)
				spawn(i, lfd, cfg);
	}
	log_info("stopping");
	stop_workers();
	free(slots);
	return 0;
}
