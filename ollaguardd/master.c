/*
 * master: the prefork pool, after Apache's prefork MPM.
 *
 * Signal handlers only set flags.  The loop wakes on any signal, on a
 * worker's word that the pool ran short, and otherwise four times a
 * second, then: acts on the flags, reaps exited workers, and keeps
 * between --min-spare and --max-spare workers idle (never more than
 * --max-workers in all).
 *
 * Growing follows demand at once.  A worker that takes a connection and
 * leaves fewer than --min-spare idle writes the scoreboard's eventfd;
 * the master wakes and forks the shortfall plus a burst margin (what
 * waits in the accept queue, and at least 4, 8 ... 64 while wake-ups
 * keep coming within a second): a fork of our small workers costs well
 * under a millisecond, so there is no reason to ration them as Apache
 * does for heavy children.  The crash backoff still holds it back.  Shrinking stays gradual: surplus
 * idle workers are retired a third at a time, so a pool grown by a
 * burst is back to --max-spare idle within about 15 s.
 *
 * The pid-to-slot table is the master's own memory; the scoreboard
 * slot a worker writes is freed here, after waitpid(), never by the
 * worker.  A reload (SIGHUP) starts a new generation with the new
 * settings and retires the old one gracefully: an old worker finishes
 * what it is serving, streams included, and exits.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "keylimit.h"
#include "log.h"
#include "master.h"
#include "monotime.h"
#include "reload.h"
#include "metering.h"
#include "metrics.h"
#include "health.h"
#include "peerlimit.h"
#include "poller.h"
#include "quota.h"
#include "scoreboard.h"
#include "tls.h"
#include "upgrade.h"
#include "upstreams.h"
#include "worker.h"

#define QUICK_DEATH_SECS	2
#define BACKOFF_MAX_SECS	30
#define SPAWN_RATE_MAX		32
#define QUIT_GRACE_MS		2000
#define TICK_MS			250
#define BURST_MIN		4
#define BURST_MAX		64

struct worker {
	pid_t		 pid;
	uint32_t	 generation;
	time_t		 started;
	int		 retiring;
};

static volatile sig_atomic_t	 got_stop, got_quit, got_hup, got_usr1;
static volatile sig_atomic_t	 got_usr2;
static struct worker		*wk;
static int			 nslots;
static uint32_t			 generation;
static struct config		*cur;
static int			 lfd;
static int			 pidfd = -1;
static int			 spawn_rate = 1;
static int			 spawned_this_second;
static int			 short_this_second;
static int64_t			 next_second;
static int			 at_limit_logged;
static time_t			 backoff_until;
static int			 backoff;
static int			 burst;
static int64_t			 last_burst_ms;

static void
on_signal(int sig)
{
	switch (sig) {
	case SIGTERM:
	case SIGINT:
		got_stop = 1;
		break;
	case SIGQUIT:
		got_quit = 1;
		break;
	case SIGHUP:
		got_hup = 1;
		break;
	case SIGUSR1:
		got_usr1 = 1;
		break;
	case SIGUSR2:
		got_usr2 = 1;
		break;
	default:
		break;		/* SIGCHLD: only to wake the loop */
	}
}

/*
 * Signals stay blocked across fork until the worker has its own
 * handlers: a stop that arrives in between is then delivered to the
 * worker's handler, not lost to the master's inherited one.
 */
static int
spawn(int i)
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
		free(wk);
		/* The pidfile's lock (flock) lives as long as any copy of its
		 * descriptor: a worker that kept one would make a new master
		 * refuse to start while an orphaned stream runs on. */
		if (pidfd != -1)
			close(pidfd);
		worker_main(lfd, cur, master, i, &old);
		/* NOTREACHED */
	default:
		sigprocmask(SIG_SETMASK, &old, NULL);
		wk[i].pid = pid;
		wk[i].generation = generation;
		wk[i].started = time(NULL);
		wk[i].retiring = 0;
		return 0;
	}
}

static int
free_slot(void)
{
	int i;

	for (i = 0; i < nslots; i++)
		if (wk[i].pid == 0)
			return i;
	return -1;
}

static int
spawn_n(int n)
{
	int i, made = 0;

	while (made < n && (i = free_slot()) != -1 && spawn(i) == 0)
		made++;
	return made;
}

static void
retire(int i, int sig)
{
	wk[i].retiring = 1;
	kill(wk[i].pid, sig);
}

/* Collects exited workers; returns how many must be replaced at once. */
static int
reap(void)
{
	struct sb_slot *s;
	pid_t pid;
	int status, i, replace = 0, quick = 0;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < nslots; i++)
			if (wk[i].pid == pid)
				break;
		/* Not a worker: the poller, or a new master from an upgrade
		 * that failed. */
		if (i == nslots) {
			if (!upgrade_reaped(pid, status))
				poller_reaped(pid);
			continue;
		}
		s = sb_slot(i);
		if (WIFSIGNALED(status))
			log_warnx("worker %ld killed by signal %d (SIG%s) while "
			    "%s%s%s", (long)pid, WTERMSIG(status),
			    sigabbrev_np(WTERMSIG(status)) != NULL ?
			    sigabbrev_np(WTERMSIG(status)) : "?",
			    sb_state_name(s->state),
			    s->req_start_ms != 0 ? ": " : "",
			    s->req_start_ms != 0 ? s->what : "");
		else if (WEXITSTATUS(status) != 0)
			log_warnx("worker %ld exited with status %d",
			    (long)pid, WEXITSTATUS(status));
		/* A planned exit (told to, or --max-requests) is status 0;
		 * anything else is replaced now, whatever the spare count. */
		if (!wk[i].retiring && !got_stop && !got_quit &&
		    (WIFSIGNALED(status) || WEXITSTATUS(status) != 0)) {
			replace++;
			if (time(NULL) - wk[i].started < QUICK_DEATH_SECS)
				quick++;
		}
		/* Before the slot is free: a concurrency slot the dead
		 * worker held goes back to its key. */
		keylimit_release_dead(i);
		sb_clear(i);
		health_slot_gone(i);
		wk[i].pid = 0;
	}
	if (quick > 0) {
		backoff = backoff == 0 ? 1 : backoff * 2;
		if (backoff > BACKOFF_MAX_SECS)
			backoff = BACKOFF_MAX_SECS;
		backoff_until = time(NULL) + backoff;
		log_warnx("workers die right after they start: waiting %d s "
		    "before starting more", backoff);
	}
	return replace;
}

/* Counts live workers, and those of them idle (or starting) and not
 * retiring. */
static void
count_pool(int *all, int *idle)
{
	struct sb_slot *s;
	int i;

	*all = *idle = 0;
	for (i = 0; i < nslots; i++) {
		if (wk[i].pid == 0)
			continue;
		(*all)++;
		if (wk[i].retiring)
			continue;
		s = sb_slot(i);
		if (s->state == SB_IDLE || s->state == SB_STARTING)
			(*idle)++;
	}
}

/*
 * Connections waiting in the listen socket's accept queue: for a
 * listening socket Linux reports the queue's length as tcpi_unacked.
 */
static int
queued(void)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(lfd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1)
		return 0;
	return (int)ti.tcpi_unacked;
}

/*
 * A worker said the pool ran short: fork the shortfall and a burst
 * margin now.  The margin is what waits in the accept queue, and at
 * least a number that starts at 0 (a lone dip below min-spare costs one
 * fork, not a crowd the next seconds retire again) and doubles from 4
 * while wake-ups follow each other within a second; a burst of hundreds
 * of connections is met in one or two rounds.
 */
static void
grow(void)
{
	int64_t now = monotime_ms();
	int all, idle, want;

	if (time(NULL) < backoff_until)
		return;
	count_pool(&all, &idle);
	if (idle >= cur->min_spare || all >= cur->max_workers)
		return;
	if (now - last_burst_ms > 1000)
		burst = 0;	/* a lone dip: the shortfall is enough */
	else if (burst == 0)
		burst = BURST_MIN;
	else if (burst < BURST_MAX)
		burst *= 2;
	last_burst_ms = now;
	want = queued();
	if (want < burst)
		want = burst;
	want += (int)cur->min_spare - idle;
	if (want > (int)cur->max_workers - all)
		want = (int)cur->max_workers - all;
	spawn_n(want);
}

/*
 * Keeps the idle count between min-spare and max-spare.  Runs every
 * tick (a quarter second) so a pool that ran out of idle workers gets
 * one at once; the rate and the retiring are per second, as in Apache.
 */
static void
maintain(void)
{
	int64_t now = monotime_ms();
	int i, all, idle, want, n;

	count_pool(&all, &idle);
	if (now >= next_second) {
		next_second = now + 1000;
		/* The rate doubles each second the pool stays short. */
		if (!short_this_second)
			spawn_rate = 1;
		else if (spawn_rate < SPAWN_RATE_MAX)
			spawn_rate *= 2;
		short_this_second = spawned_this_second = 0;
		metering_prune(cur);
		if (backoff > 0 && time(NULL) >= backoff_until + 2 * backoff)
			backoff = 0;	/* quiet a while: forget the crashes */

		if (idle == 0 && all >= cur->max_workers) {
			if (!at_limit_logged)
				log_warnx("all %d workers are busy "
				    "(--max-workers): new connections wait in "
				    "the listen backlog", all);
			at_limit_logged = 1;
		} else if (idle > 0)
			at_limit_logged = 0;

		/* A third of the surplus a second: a burst's pool is back
		 * to --max-spare idle within about 15 s. */
		if (idle > cur->max_spare) {
			n = (idle - (int)cur->max_spare + 2) / 3;
			for (i = nslots - 1; i >= 0 && n > 0; i--) {
				if (wk[i].pid == 0 || wk[i].retiring ||
				    sb_slot(i)->state != SB_IDLE)
					continue;
				retire(i, SIGTERM);
				n--;
			}
		}
	}
	if (time(NULL) < backoff_until)
		return;
	if (idle < cur->min_spare && all < cur->max_workers) {
		short_this_second = 1;
		want = spawn_rate - spawned_this_second;
		if (want > (int)cur->max_workers - all)
			want = (int)cur->max_workers - all;
		if (want > 0)
			spawned_this_second += spawn_n(want);
	}
}

static int
alive(void)
{
	int i, n = 0;

	for (i = 0; i < nslots; i++)
		if (wk[i].pid != 0)
			n++;
	return n;
}

static void
signal_all(int sig)
{
	int i;

	for (i = 0; i < nslots; i++)
		if (wk[i].pid != 0)
			retire(i, sig);
}

/* Waits up to ms for every worker to exit; 0 if they all did. */
static int
wait_all(int64_t ms, int give_up_on_quit)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	int64_t end = monotime_ms() + ms;

	while (alive() > 0 && monotime_ms() < end) {
		if (give_up_on_quit && got_quit)
			break;
		nanosleep(&ts, NULL);
		reap();
	}
	return alive() > 0 ? -1 : 0;
}

static void
stop_now(void)
{
	signal_all(SIGQUIT);
	if (wait_all(QUIT_GRACE_MS, 0) == -1) {
		signal_all(SIGKILL);
		wait_all(QUIT_GRACE_MS, 0);
	}
}

static void
stop_gracefully(void)
{
	int busy = 0, i;

	for (i = 0; i < nslots; i++)
		if (wk[i].pid != 0 && sb_slot(i)->req_start_ms != 0)
			busy++;
	log_info("stopping: %d request%s in progress, waiting up to %lld s",
	    busy, busy == 1 ? "" : "s", cur->shutdown_timeout);
	signal_all(SIGTERM);
	if (wait_all(cur->shutdown_timeout * 1000, 1) == 0)
		return;
	log_warnx("%s: aborting %d worker%s still serving",
	    got_quit ? "SIGQUIT" : "shutdown timeout", alive(),
	    alive() == 1 ? "" : "s");
	stop_now();
}

static void
reload(int argc, char **argv, const char *cwd)
{
	static struct upstreams ups;
	struct config *n;
	char err[PATH_MAX + 512];
	int i, old = 0;

	if ((n = malloc(sizeof(*n))) == NULL) {
		log_warn("reload");
		return;
	}
	if (config_load(n, argc, argv, err, sizeof(err)) != CONFIG_OK ||
	    config_absolute(n, cwd, err, sizeof(err)) == -1 ||
	    upstreams_parse(n, &ups, err, sizeof(err)) == -1) {
		log_warnx("reload failed, keeping the old settings: %s", err);
		config_clear(n);
		free(n);
		return;
	}
	reload_keep_fixed(n, cur, nslots);
	tls_reload(n, cur);
	log_setlevel(log_level_parse(n->log_level));
	if (n->send_timeout != cur->send_timeout &&
	    listen_send_timeout(lfd, (int)n->send_timeout) == -1)
		log_warn("reload: send-timeout");
	config_clear(cur);
	free(cur);
	cur = n;
	sb_set_min_spare((int)cur->min_spare);
	generation++;
	poller_start(cur);
	/* New workers first, so no connection waits for the old to go. */
	for (i = 0; i < nslots; i++)
		if (wk[i].pid != 0 && !wk[i].retiring) {
			retire(i, SIGTERM);
			old++;
		}
	spawn_n((int)cur->workers);
	log_info("reloaded: generation %u, %d old worker%s finishing",
	    generation, old, old == 1 ? "" : "s");
}

/* 1 once a worker waits in accept(): the pool has taken over. */
static int
pool_accepts(void)
{
	int i;

	for (i = 0; i < nslots; i++)
		if (wk[i].pid != 0 && sb_slot(i)->state == SB_IDLE)
			return 1;
	return 0;
}

int
listen_send_timeout(int fd, int seconds)
{
	struct timeval tv = { seconds, 0 };

	return setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* SIGUSR1: every worker reopens its access log. */
static void
reopen_logs(void)
{
	int i;

	for (i = 0; i < nslots; i++)
		if (wk[i].pid != 0)
			kill(wk[i].pid, SIGUSR1);
}

/* The shared tables every worker inherits, and the master's signals. */
static void
master_setup(struct config *cfg, struct pollfd *pfd)
{
	struct sigaction sa;

	if ((wk = calloc((size_t)nslots, sizeof(*wk))) == NULL)
		fatal("calloc");
	if (sb_init(nslots) == -1)
		fatal("scoreboard for %d workers", nslots);
	sb_set_min_spare((int)cfg->min_spare);
	pfd->fd = sb_wake_fd();
	pfd->events = POLLIN;
	if (peerlimit_init() == -1)
		fatal("shared table of client addresses");
	if (keylimit_init(nslots) == -1)
		fatal("shared table of key limits");
	if (metrics_init() == -1 || quota_init() == -1)
		fatal("shared tables of metrics and quotas");
	if (health_init(nslots) == -1 || poller_start(cfg) == -1)
		fatal("health table of the upstreams");

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigprocmask(SIG_SETMASK, &sa.sa_mask, NULL);	/* main blocked them */
	log_setprefix("master");
	setproctitle("master");

}

int
master_run(int fd, int pid_fd, struct config *cfg, int argc, char **argv,
    const char *cwd)
{
	struct pollfd pfd;
	int64_t next_maintain = 0;
	int n, ready = 0;

	lfd = fd;
	pidfd = pid_fd;
	cur = cfg;
	nslots = (int)cfg->max_workers;
	if (cfg->workers > nslots)
		nslots = (int)cfg->workers;
	master_setup(cfg, &pfd);
	spawn_n((int)cfg->workers);
	while (!got_stop && !got_quit) {
		pfd.revents = 0;
		if (poll(&pfd, 1, TICK_MS) == -1 && errno != EINTR)
			fatal("poll");
		if (got_stop || got_quit)
			break;
		if (got_hup) {
			got_hup = 0;
			reload(argc, argv, cwd);
		}
		if (got_usr2) {
			got_usr2 = 0;
			upgrade_start(lfd, argv, cur->pidfile);
		}
		if (!ready && pool_accepts()) {
			ready = 1;
			upgrade_ready();
		}
		if (got_usr1) {
			got_usr1 = 0;
			reopen_logs();
		}
		n = reap();
		poller_tick();
		if (n > 0 && time(NULL) >= backoff_until)
			spawn_n(n);
		if (pfd.revents & POLLIN) {
			sb_woken();
			grow();
		}
		/* A signal (a worker's exit, say) wakes the loop early; the
		 * pool is looked at once a tick, not once per wake-up. */
		if (monotime_ms() >= next_maintain) {
			next_maintain = monotime_ms() + TICK_MS;
			maintain();
		}
	}
	/*
	 * Stop listening before the drain: workers close their copies when
	 * told to stop, and with the master's gone too a new connection is
	 * refused at once (not left in the backlog to be reset at the end)
	 * and a replacement daemon can bind the port while streams finish.
	 */
	close(lfd);
	lfd = -1;
	poller_stop();
	if (got_quit)
		stop_now();
	else
		stop_gracefully();
	log_info("stopped");
	free(wk);
	config_clear(cur);
	free(cur);
	return 0;
}
