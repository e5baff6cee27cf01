/*
 * worker: the accept loop, the keep-alive loop, and the dispatch of each
 * request: the daemon's own endpoint, a CORS preflight (forwarded
 * without a key: browsers never send one on a preflight), or an
 * authenticated request that is forwarded upstream.
 *
 * The key database connection and the curl handle are made here, after
 * the fork, and live as long as the worker.  The listen socket carries a
 * one-second receive timeout set by the master, so an idle worker wakes
 * every second to notice a stop and flush its key-use counters.
 */
#include <sys/prctl.h>
#include <sys/socket.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "auth.h"
#include "client.h"
#include "config.h"
#include "keystore.h"
#include "log.h"
#include "proxy.h"
#include "reply.h"
#include "worker.h"

#define DRAIN_MAX	(64 * 1024)

static volatile sig_atomic_t	 stopping;
static volatile sig_atomic_t	 idle_fd = -1;
static struct client		 cl;

/*
 * A stop closes idle connections at once: shutting down the read side
 * of the one this worker waits on makes its read return 0 even if the
 * signal came just before the read began, which EINTR alone misses.
 */
static void
on_stop(int sig)
{
	stopping = 1;
	if (idle_fd != -1)
		shutdown(idle_fd, SHUT_RD);
}

int
worker_stopping(void)
{
	return stopping;
}

int
worker_idle(int fd)
{
	idle_fd = fd;
	return fd != -1 && stopping ? -1 : 0;
}

/*
 * Reads and drops the rest of a request body we answered without
 * reading, so the connection can serve the next request.  Returns -1 if
 * the connection should rather be closed.
 */
static int
drain_body(struct client *c)
{
	static char scratch[16 * 1024];
	size_t total = 0;
	ssize_t n;

	if (c->req.body_done)
		return 0;
	if (c->req.expect_continue)
		return -1;	/* the client is waiting to send it */
	while (total < DRAIN_MAX) {
		n = client_read_body(c, scratch, sizeof(scratch));
		if (n == 0)
			return 0;
		if (n == -1)
			return -1;
		total += (size_t)n;
	}
	return -1;
}

static int
is_preflight(const struct request *r)
{
	return r->method_id == HTTP_OPTIONS && r->idx[RH_ORIGIN] != -1 &&
	    r->idx[RH_ACR_METHOD] != -1;
}

/* Serves one request; returns 1 to keep the connection, 0 to close. */
static int
handle(struct client *c)
{
	struct request *r = &c->req;
	struct proxy_result res;
	struct auth_who who;
	enum auth_result a;
	const char *hdr;
	size_t len;
	int close = 0;

	hdr = request_header(r, RH_AUTHORIZATION, &len);
	if (admin_match(c)) {
		a = auth_check(hdr, len, &who);
		if (a != AUTH_PASS || !who.master)
			close = drain_body(c) == -1;
		admin_generate(c, a, &who, &close);
		return !close && r->keepalive;
	}
	if (!is_preflight(r)) {
		a = auth_check(hdr, len, &who);
		if (a != AUTH_PASS) {
			close = drain_body(c) == -1 || !r->keepalive;
			if (a == AUTH_UNAVAILABLE)
				reply_error(c, 503, "the key database is "
				    "unavailable", close);
			else {
				log_info("%s: authentication failed: %s key",
				    c->addr, a == AUTH_MISSING ? "missing" :
				    "invalid");
				reply_error_hdrs(c, 401, a == AUTH_MISSING ?
				    "missing API key: send \"Authorization: "
				    "Bearer <key>\"" : "invalid API key",
				    "WWW-Authenticate: Bearer\r\n", close);
			}
			return !close;
		}
	}
	proxy_forward(c, &res);
	log_debug("%s %s %.*s %d %s", c->addr, r->method, (int)r->target_len,
	    r->target, res.status, proxy_fail_name(res.fail));
	return !res.close;
}

static void
serve(struct client *c)
{
	int rc;

	for (;;) {
		if ((rc = client_read_head(c)) <= 0)
			break;
		if (!handle(c) || stopping)
			break;
		if (!c->req.body_done && drain_body(c) == -1)
			break;
		client_next(c);
	}
	client_close(c);
}

void
worker_main(int lfd, const struct config *cfg, pid_t master,
    const sigset_t *mask)
{
	struct sockaddr_storage ss;
	struct sigaction sa;
	struct keystore *ks;
	socklen_t slen;
	char err[1024];
	int fd;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop;	/* no SA_RESTART: interrupt waits */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sigprocmask(SIG_SETMASK, mask, NULL);
	/* Die with the master, and make sure it did not die already. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 || getppid() != master)
		_exit(0);
	log_setprefix("worker");

	if ((ks = keystore_open(cfg->db, KEYSTORE_DURABLE, err,
	    sizeof(err))) == NULL)
		fatalx("%s", err);
	auth_init(cfg, ks);
	admin_init(cfg, ks);
	if (proxy_init(cfg) == -1)
		exit(1);
	request_init(&cl.req);
	cl.fd = -1;
	cl.keepalive_timeout = (int)cfg->keepalive_timeout;

	while (!stopping) {
		slen = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &slen, SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno != EINTR && errno != EAGAIN &&
			    errno != EWOULDBLOCK && errno != ECONNABORTED) {
				log_warn("accept");
				if (errno == EMFILE || errno == ENFILE)
					sleep(1);
			}
			auth_flush(0);
			continue;
		}
		client_start(&cl, fd, (struct sockaddr *)&ss);
		serve(&cl);
		auth_flush(0);
	}
	auth_cleanup();
	proxy_cleanup();
	keystore_close(ks);
	exit(0);
}
