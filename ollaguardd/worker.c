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
#include <time.h>
#include <unistd.h>

#include "accesslog.h"
#include "admin.h"
#include "auth.h"
#include "client.h"
#include "config.h"
#include "dbconn.h"
#include "log.h"
#include "peerlimit.h"
#include "proxy.h"
#include "reply.h"
#include "scoreboard.h"
#include "worker.h"

#define DRAIN_MAX	(64 * 1024)

static volatile sig_atomic_t	 stopping;
static volatile sig_atomic_t	 reopen;
static volatile sig_atomic_t	 idle_fd = -1;
static volatile sig_atomic_t	 listen_fd = -1;
static struct client		 cl;
/* Who the current request is: the access log line is written after
 * handle() returns and names the key from here. */
static struct auth_who		 req_who;
static struct sb_slot		*slot;
static const struct config	*conf;
static long long		 served;

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
	/* A stopping worker never accepts again; closing its copy of the
	 * listen socket at once lets a restarted master bind the port even
	 * while this worker finishes a long stream. */
	if (listen_fd != -1) {
		close(listen_fd);
		listen_fd = -1;
	}
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

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
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

/* Fills in who the access log names for this request. */
static void
entry_who(struct access_entry *e, enum auth_result a,
    const struct auth_who *who)
{
	e->key = "-";
	e->key_name = "";
	if (a != AUTH_PASS)
		return;
	if (who->master)
		e->key = "master";
	else if (who->open)
		e->key = "open";
	else {
		e->key = NULL;
		e->key_id = who->key_id;
		e->key_name = who->name;
	}
}

/*
 * Past --auth-fail-limit failures a minute from one address, a failing
 * request gets 429 instead of 401, and one log line says so for the
 * whole minute.  A correct key is never held back by this: it is only
 * asked once authentication has failed.
 */
static int
limited(struct client *c, struct access_entry *e, int close)
{
	char hdrs[64];
	uint32_t n;
	time_t now = time(NULL);
	int retry;

	n = peerlimit_fail(c->addr, now, &retry);
	if (n <= (uint32_t)conf->auth_fail_limit)
		return 0;
	if (peerlimit_log_once(c->addr, PEERLIMIT_LOG_AUTH, now))
		log_warnx("auth rate limit: client=%s failed more than %lld "
		    "times this minute; answering 429 for %d s", c->addr,
		    conf->auth_fail_limit, retry);
	snprintf(hdrs, sizeof(hdrs), "Retry-After: %d\r\n", retry);
	reply_error_hdrs(c, 429, "too many failed authentications from "
	    "your address; try again later", hdrs, close);
	e->status = 429;
	return 1;
}

/* A 401 for a missing or wrong key, logged so fail2ban can act on it. */
static int
refuse_key(struct client *c, enum auth_result a, struct access_entry *e)
{
	int close;

	close = drain_body(c) == -1 || !c->req.keepalive;
	if (a == AUTH_UNAVAILABLE) {
		reply_error(c, 503, "the key database is unavailable", close);
		e->status = 503;
		e->fail = "db-unavailable";
		return close;
	}
	e->fail = "auth";
	if (conf->auth_fail_limit > 0 && limited(c, e, close))
		return close;
	log_warnx("auth failed: client=%s reason=%s", c->addr,
	    a == AUTH_MISSING ? "missing-key" : "invalid-key");
	reply_error_hdrs(c, 401, a == AUTH_MISSING ?
	    "missing API key: send \"Authorization: Bearer <key>\"" :
	    "invalid API key", "WWW-Authenticate: Bearer\r\n", close);
	e->status = 401;
	return close;
}

/* Serves one request; returns 1 to keep the connection, 0 to close. */
static int
handle(struct client *c, struct access_entry *e)
{
	struct request *r = &c->req;
	struct proxy_result res;
	enum auth_result a = AUTH_PASS;
	const char *hdr;
	size_t len;
	int close = 0;

	req_who.master = req_who.open = 0;
	req_who.key_id = 0;
	req_who.name[0] = '\0';
	hdr = request_header(r, RH_AUTHORIZATION, &len);
	if (admin_match(c)) {
		a = auth_check(hdr, len, &req_who);
		entry_who(e, a, &req_who);
		if ((a == AUTH_MISSING || a == AUTH_INVALID) &&
		    admin_enabled() && r->method_id == HTTP_POST)
			return !refuse_key(c, a, e);
		if (a != AUTH_PASS || !req_who.master)
			close = drain_body(c) == -1;
		e->status = admin_generate(c, a, &req_who, &close);
		e->fail = e->status == 200 ? "-" : e->status == 401 ? "auth" :
		    "admin";
		return !close && r->keepalive;
	}
	if (!is_preflight(r)) {
		a = auth_check(hdr, len, &req_who);
		entry_who(e, a, &req_who);
		if (a != AUTH_PASS)
			return !refuse_key(c, a, e);
		slot->key_id = req_who.key_id;
	} else
		e->key = "-";
	sb_set_state(slot, SB_PROXYING);
	proxy_forward(c, &res);
	e->status = res.status;
	e->fail = proxy_fail_name(res.fail);
	e->ttfb_us = res.ttfb_us;
	return !res.close;
}

/*
 * The per-address connection cap, counted across workers in the
 * scoreboard right after accept(), before a byte is read.
 */
static int
over_conn_cap(struct client *c)
{
	int n;

	strlcpy(slot->client, c->addr, sizeof(slot->client));
	if (conf->max_conns_per_ip == 0 ||
	    (n = peerlimit_conns(c->addr)) <= conf->max_conns_per_ip)
		return 0;
	if (peerlimit_log_once(c->addr, PEERLIMIT_LOG_CONNS, time(NULL)))
		log_warnx("connection limit: client=%s holds %d connections "
		    "(--max-conns-per-ip %lld); refusing more with 429",
		    c->addr, n - 1, conf->max_conns_per_ip);
	c->req.http_minor = 1;
	reply_error(c, 429, "too many connections from your address", 1);
	return 1;
}

/* A request the parser refused still gets its access log line. */
static void
log_refused(struct client *c)
{
	struct access_entry e;

	memset(&e, 0, sizeof(e));
	e.client = c->addr;
	e.key = "-";
	e.key_name = "";
	e.method = c->req.method != NULL ? c->req.method : "-";
	e.target = c->req.target != NULL ? c->req.target : "-";
	e.target_len = c->req.target != NULL ? c->req.target_len : 1;
	e.http_minor = c->req.http_minor;
	e.status = c->req.status;
	e.bytes_out = c->sent;
	e.ttfb_us = -1;
	e.fail = "bad-request";
	accesslog_write(&e);
}

static void
serve(struct client *c)
{
	struct access_entry e;
	int64_t start;
	int keep, rc;

	if (over_conn_cap(c)) {
		client_close(c);
		slot->client[0] = '\0';
		return;
	}
	for (;;) {
		sb_set_state(slot, SB_READING);
		if ((rc = client_read_head(c)) == -1)
			log_refused(c);
		if (rc <= 0)
			break;
		start = now_us();
		slot->req_start_ms = start / 1000;
		/* The last request before --max-requests retires the worker
		 * says Connection: close, so the client does not send another
		 * into a closing connection. */
		if (conf->max_requests > 0 && served + 1 >= conf->max_requests)
			c->req.keepalive = 0;
		sb_set_what(slot, c->req.method, c->req.target,
		    c->req.target_len);
		set_title(slot->what);

		memset(&e, 0, sizeof(e));
		e.client = c->addr;
		e.method = c->req.method;
		e.target = c->req.target;
		e.target_len = c->req.target_len;
		e.http_minor = c->req.http_minor;
		e.ttfb_us = -1;
		keep = handle(c, &e);
		e.duration_us = now_us() - start;
		e.bytes_in = c->body_read;
		e.bytes_out = c->sent;
		if (reopen) {
			reopen = 0;
			accesslog_reopen();
		}
		accesslog_write(&e);

		slot->requests++;
		slot->bytes_in += e.bytes_in;
		slot->bytes_out += e.bytes_out;
		slot->req_start_ms = 0;
		slot->key_id = 0;
		served++;
		if (conf->max_requests > 0 && served >= conf->max_requests)
			stopping = 1;
		if (!keep || stopping)
			break;
		if (!c->req.body_done && drain_body(c) == -1)
			break;
		client_next(c);
	}
	sb_set_state(slot, SB_CLOSING);
	client_close(c);
	slot->client[0] = '\0';
}

void
worker_main(int lfd, const struct config *cfg, pid_t master, int slotno,
    uint32_t generation, const sigset_t *mask)
{
	struct sockaddr_storage ss;
	struct sigaction sa;
	socklen_t slen;
	int fd;

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
	log_setprefix("worker");
	slot = sb_slot(slotno);
	slot->pid = getpid();
	slot->generation = generation;
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
	if (proxy_init(cfg) == -1)
		exit(1);
	request_init(&cl.req);
	cl.fd = -1;
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
			continue;
		}
		sb_note_busy(slot);	/* wakes the master if the pool is short */
		client_start(&cl, fd, (struct sockaddr *)&ss);
		serve(&cl);
		auth_flush(0);
	}
	sb_set_state(slot, SB_CLOSING);
	auth_cleanup();
	proxy_cleanup();
	dbconn_close();
	accesslog_close();
	exit(0);
}
