/*
 * poller: the health checks, in a process of their own.
 *
 * Why a child and not the curl multi interface in the master's loop:
 * the master forks workers four times a second at need, and a worker
 * must not inherit the master's open upstream sockets or a resolver
 * thread (curl's threaded resolver would run in the master), nor must
 * a slow DNS answer or a parser bug in a box's JSON ever stall or kill
 * the process that keeps the pool.  The child holds its own curl
 * handles, polls every box at once with one multi handle and short
 * timeouts, and is the only writer of the polled fields of the health
 * table.  The master only forks it, reaps it and starts it again.
 */
#include <sys/prctl.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "health.h"
#include "log.h"
#include "monotime.h"
#include "poller.h"

#define CONNECT_MS	1000
#define BODY_MAX	(4 * 1024 * 1024)

enum { Q_VERSION, Q_TAGS, Q_PS, NQ };
static const char *const qpath[NQ] = { "/api/version", "/api/tags",
    "/api/ps" };

struct query {
	CURL	*h;
	char	*buf;
	size_t	 len, cap;
	CURLcode rc;
	long	 status;
};

static struct upstreams	 ups;
static int		 box[CONFIG_UPSTREAMS_MAX];
static long long	 interval;
static pid_t		 pid;
static int64_t		 last_start;

static size_t
write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct query *q = arg;
	size_t len = size * n;
	char *p;

	if (q->len + len + 1 > BODY_MAX)
		return 0;
	if (q->len + len + 1 > q->cap) {
		if ((p = realloc(q->buf, q->len + len + 1 + 16384)) == NULL)
			return 0;
		q->buf = p;
		q->cap = q->len + len + 1 + 16384;
	}
	memcpy(q->buf + q->len, data, len);
	q->len += len;
	return len;
}

static CURL *
query_handle(struct query *q, const char *base, const char *path)
{
	char url[CONFIG_URL_MAX + 32];
	size_t blen = strlen(base);

	/* The target URL may end in a slash, or carry a path prefix. */
	snprintf(url, sizeof(url), "%.*s%s", (int)(blen > 0 &&
	    base[blen - 1] == '/' ? blen - 1 : blen), base, path);
	if ((q->h = curl_easy_init()) == NULL)
		return NULL;
	curl_easy_setopt(q->h, CURLOPT_URL, url);
	curl_easy_setopt(q->h, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(q->h, CURLOPT_WRITEDATA, q);
	curl_easy_setopt(q->h, CURLOPT_PRIVATE, q);
	curl_easy_setopt(q->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(q->h, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_MS);
	curl_easy_setopt(q->h, CURLOPT_TIMEOUT_MS, interval * 1000 > 5000 ?
	    5000L : (long)(interval * 1000));
	curl_easy_setopt(q->h, CURLOPT_PROTOCOLS_STR, "http,https");
	return q->h;
}

/* The hashes of the "name" of each entry of body's "models". */
static int
model_set(const struct query *q, uint64_t *set)
{
	json_t *doc, *arr, *e;
	const char *name;
	size_t i;
	int n = 0;

	if (q->rc != CURLE_OK || q->status != 200)
		return 0;
	doc = json_loadb(q->buf != NULL ? q->buf : "", q->len, 0, NULL);
	arr = json_object_get(doc, "models");
	json_array_foreach(arr, i, e) {
		if (n == HEALTH_MODELS)
			break;
		if ((name = json_string_value(json_object_get(e, "name"))) !=
		    NULL)
			set[n++] = health_model_hash(name, strlen(name));
	}
	json_decref(doc);
	return n;
}

/* Writes one box's results and logs a change of state. */
static void
record(int i, struct query *q, int64_t started)
{
	static uint64_t present[HEALTH_MODELS], loaded[HEALTH_MODELS];
	struct health_box *b = health_box(box[i]);
	int up, was = b->state, np, nl;

	up = q[Q_VERSION].rc == CURLE_OK && q[Q_VERSION].status == 200;
	np = up ? model_set(&q[Q_TAGS], present) : 0;
	nl = up ? model_set(&q[Q_PS], loaded) : 0;
	health_store(box[i], up, started, present, np, loaded, nl);
	if (up && was != HEALTH_UP)
		log_info("upstream %s up: %d model%s, %d loaded",
		    ups.u[i].name, np, np == 1 ? "" : "s", nl);
	else if (!up && was != HEALTH_DOWN)
		log_warnx("upstream %s down: /api/version: %s",
		    ups.u[i].name, q[Q_VERSION].rc != CURLE_OK ?
		    curl_easy_strerror(q[Q_VERSION].rc) : "not 200");
}

/* One round: every query of every box at once. */
static void
poll_all(CURLM *m, struct query (*q)[NQ])
{
	CURLMsg *msg;
	struct query *qq;
	int64_t started = monotime_ms();
	int i, k, running, left;

	for (i = 0; i < ups.n; i++)
		for (k = 0; k < NQ; k++) {
			q[i][k].len = 0;
			q[i][k].rc = CURLE_OK;
			q[i][k].status = 0;
			curl_multi_add_handle(m, q[i][k].h);
		}
	do {
		if (curl_multi_perform(m, &running) != CURLM_OK)
			break;
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
			    (char **)&qq);
			qq->rc = msg->data.result;
			curl_easy_getinfo(qq->h, CURLINFO_RESPONSE_CODE,
			    &qq->status);
		}
		if (running > 0)
			curl_multi_poll(m, NULL, 0, 1000, NULL);
	} while (running > 0);
	for (i = 0; i < ups.n; i++) {
		for (k = 0; k < NQ; k++)
			curl_multi_remove_handle(m, q[i][k].h);
		record(i, q[i], started);
	}
}

static void __attribute__((noreturn))
poller_main(pid_t master)
{
	struct query (*q)[NQ];
	struct timespec ts;
	sigset_t none;
	CURLM *m;
	int64_t next;
	int i, k;

	/* The master may fork this before it unblocks what main blocked. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGQUIT, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGHUP, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 || getppid() != master)
		_exit(0);
	log_setprefix("poller");
	setproctitle("poller");
	if ((q = calloc((size_t)ups.n, sizeof(*q))) == NULL ||
	    (m = curl_multi_init()) == NULL)
		fatalx("poller: out of memory");
	for (i = 0; i < ups.n; i++)
		for (k = 0; k < NQ; k++)
			if (query_handle(&q[i][k], ups.u[i].url, qpath[k]) ==
			    NULL)
				fatalx("poller: curl_easy_init");
	for (;;) {
		next = monotime_ms() + interval * 1000;
		poll_all(m, q);
		while (monotime_ms() < next) {
			ts.tv_sec = 0;
			ts.tv_nsec = 100 * 1000 * 1000;
			nanosleep(&ts, NULL);
		}
	}
}

static void
spawn(void)
{
	pid_t master = getpid();

	last_start = monotime_ms();
	switch (pid = fork()) {
	case -1:
		log_warn("poller: fork");
		pid = 0;
		return;
	case 0:
		poller_main(master);
		/* NOTREACHED */
	default:
		return;
	}
}

int
poller_start(const struct config *cfg)
{
	char err[512];

	if (upstreams_parse(cfg, &ups, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return -1;
	}
	health_assign(&ups, box);
	interval = cfg->health_interval;
	poller_stop();
	if (ups.n > 1)
		spawn();
	return 0;
}

int
poller_reaped(pid_t p)
{
	if (p == 0 || p != pid)
		return 0;
	pid = 0;
	return 1;
}

void
poller_tick(void)
{
	if (pid == 0 && ups.n > 1 && monotime_ms() - last_start >= 1000)
		spawn();
}

void
poller_stop(void)
{
	if (pid != 0)
		kill(pid, SIGTERM);
	pid = 0;
}

const struct upstreams *
poller_upstreams(const int **b)
{
	*b = box;
	return &ups;
}
