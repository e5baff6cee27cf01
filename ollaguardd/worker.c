/*
 * worker: one prefork worker process: its signals, the accept loop, the
 * keep-alive loop of each connection, and its scoreboard slot.  What
 * happens to each request is serve's business.
 *
 * The key database connection and the upstream settings are made here, after
 * the fork, and live as long as the worker.  The listen socket carries a
 * one-second receive timeout set by the master, so an idle worker wakes
 * every second to notice a stop and flush its key-use counters.
 */
#include <sys/prctl.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accesslog.h"
#include "admin.h"
#include "auth.h"
#include "client.h"
#include "config.h"
#include "dbconn.h"
#include "headers.h"
#include "log.h"
#include "metering.h"
#include "metricsep.h"
#include "proxy.h"
#include "realip.h"
#include "scoreboard.h"
#include "serve.h"
#include "tls.h"
#include "worker.h"

static volatile sig_atomic_t	 stopping;
static volatile sig_atomic_t	 reopen;
static volatile sig_atomic_t	 listen_fd = -1;
/* The write end of the stop pipe: a byte here wakes an idle wait. */
static volatile sig_atomic_t	 stop_wfd = -1;
static struct client		 cl;
static struct sb_slot		*slot;
static const struct config	*conf;
static long long		 served;

/*
 * A stop closes idle connections at once, and only idle ones: the byte
 * on the stop pipe ends a wait for the next request even if the signal
 * came just before the wait began, while a request whose bytes have
 * arrived is read and served to the end (client.c).
 */
static void
on_stop(int sig)
{
	int saved = errno;

	stopping = 1;
	if (stop_wfd != -1 && write(stop_wfd, "", 1) == -1)
		errno = saved;
	/* A stopping worker never accepts again; closing its copy of the
	 * listen socket at once lets a restarted master bind the port even
	 * while this worker finishes a long stream. */
	if (listen_fd != -1) {
		close(listen_fd);
		listen_fd = -1;
	}
	errno = saved;
}

/* SIGQUIT: stop now.  Exiting closes the client and upstream sockets,
 * which is what tells Ollama to stop generating. */
static void
on_quit(int sig)
{
	_exit(0);
}

static void
on_usr1(int sig)
{
	reopen = 1;
}

/* "ollaguardd: worker GET /api/chat"; redone only when it changes,
 * since a keep-alive client mostly asks for the same thing again. */
static void
set_title(const char *what)
{
	static char last[SB_WHAT_MAX];

	if (strcmp(last, what) == 0)
		return;
	strlcpy(last, what, sizeof(last));
	setproctitle("worker %s", what);
}

/* Serves one connection, request after request, and closes it. */
static void
serve_connection(struct client *c)
{
	int rc, per_request;

	/* Until the handshake, nothing goes to a client of the TLS port. */
	c->tls = tls_context() != NULL;
	if ((rc = realip_accept(c)) == -1)
		serve_bad_request(c);
	if (rc != 1)
		goto done;
	/* Behind a balancer that names each request's client, the
	 * connection count is per request; otherwise per connection,
	 * before a byte of it is read. */
	per_request = realip_per_request(c);
	if (!per_request && serve_admit(c) == -1)
		return;
	/* The handshake runs on --header-timeout's clock. */
	if (c->tls) {
		if ((rc = client_tls_start(c, tls_context())) == -1)
			serve_bad_request(c);
		if (rc != 1)
			goto done;
	}
	for (;;) {
		sb_set_state(slot, SB_READING);
		if (per_request)
			realip_reset(c);
		if ((rc = client_read_head(c)) == -1)
			serve_bad_request(c);
		if (rc <= 0)
			break;
		if (per_request) {
			realip_request(c);
			if (serve_admit(c) == -1)
				return;
		}
		/* The last request before this worker retires says
		 * Connection: close, so the client does not send another
		 * into a closing connection. */
		if (stopping || (conf->max_requests > 0 &&
		    served + 1 >= conf->max_requests))
			c->req.keepalive = 0;
		sb_set_what(slot, c->req.method, c->req.target,
		    c->req.target_len);
		set_title(slot->what);
		if (reopen) {
			reopen = 0;
			accesslog_reopen();
		}
		rc = serve_request(c);
		if (conf->max_requests > 0 && ++served >= conf->max_requests)
			stopping = 1;
		if (rc == 0 || stopping)
			break;
		client_next(c);
	}
done:
	sb_set_state(slot, SB_CLOSING);
	client_close(c);
	slot->client[0] = '\0';
}

/* The stop pipe, the signal handlers, and death with the master. */
static void
worker_signals(pid_t master, const sigset_t *mask)
{
	struct sigaction sa;
	int p[2];

	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0) {
		cl.stop_fd = p[0];
		stop_wfd = p[1];
	}
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop;	/* no SA_RESTART: interrupt waits */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_quit;
	sigaction(SIGQUIT, &sa, NULL);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sigprocmask(SIG_SETMASK, mask, NULL);
	/* Die with the master, and make sure it did not die already. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 || getppid() != master)
		_exit(0);
}

void
worker_main(int lfd, const struct config *cfg, pid_t master, int slotno,
    const sigset_t *mask)
{
	struct sockaddr_storage ss;
	socklen_t slen;
	int fd;

	client_init(&cl);
	cl.stopping = &stopping;
	worker_signals(master, mask);
	log_setprefix("worker");
	slot = sb_slot(slotno);
	slot->pid = getpid();
	sb_set_state(slot, SB_STARTING);
	conf = cfg;
	listen_fd = lfd;

	/* A database that cannot be opened is not fatal here: requests
	 * that need it get 503 until it can, and the worker lives on. */
	dbconn_open(cfg->db);
	if (accesslog_open(cfg) == -1)
		exit(1);
	auth_init(cfg);
	admin_init(cfg);
	metering_init(cfg);
	metricsep_init(cfg);
	serve_init(cfg, slot, slotno);
	realip_init(cfg);
	headers_set_https(tls_context() != NULL);
	if (proxy_init(cfg) == -1)
		exit(1);
	cl.keepalive_ms = (int)cfg->keepalive_timeout * 1000;
	cl.header_ms = (int)cfg->header_timeout * 1000;
	cl.body_ms = (int)cfg->body_timeout * 1000;
	cl.send_ms = (int)cfg->send_timeout * 1000;

	while (!stopping) {
		if (reopen) {
			reopen = 0;
			accesslog_reopen();
		}
		sb_set_state(slot, SB_IDLE);
		set_title("idle");
		slen = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &slen, SOCK_CLOEXEC);
		if (fd == -1) {
			if (stopping)
				break;
			if (errno != EINTR && errno != EAGAIN &&
			    errno != EWOULDBLOCK && errno != ECONNABORTED) {
				log_warn("accept");
				if (errno == EMFILE || errno == ENFILE)
					sleep(1);
			}
			auth_flush(0);
			metering_flush(0);
			continue;
		}
		sb_note_busy(slot);	/* wakes the master if the pool is short */
		client_start(&cl, fd, (struct sockaddr *)&ss);
		serve_connection(&cl);
		auth_flush(0);
		metering_flush(0);
	}
	sb_set_state(slot, SB_CLOSING);
	auth_cleanup();
	metering_close();
	proxy_cleanup();
	dbconn_close();
	accesslog_close();
	exit(0);
}
