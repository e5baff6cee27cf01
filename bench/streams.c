/*
 * ogb-streams: opens C streaming requests at once and measures, for
 * each NDJSON line, how long it took from the upstream's write to the
 * client's read, and for each stream, how long its first line took
 * from the moment the client began to connect.
 *
 * The upstream (ogb-upstream) stamps every line with "t_ns", its
 * CLOCK_MONOTONIC just before the write; this client reads the same
 * clock when recv() returns the bytes that end the line.  Both run on
 * one host, so the difference is the line's whole trip: through the
 * proxy under test, or straight from the upstream for "direct".
 *
 * One thread, epoll, non-blocking sockets.  A stream is complete when
 * its status was 200, a line with "done":true arrived and the body
 * ended where its framing said.  Every round is bounded by -t seconds;
 * a stream unfinished by then is counted as failed.
 *
 * usage: ogb-streams -u http://127.0.0.1:PORT [-k key] [-p path]
 *                    [-c conns] [-r rounds] [-t seconds]
 * Prints one JSON object.
 */
#include <sys/epoll.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define HEAD_MAX	16384
#define LINE_MAX_	4096

enum phase { P_CONNECT, P_SEND, P_HEAD, P_BODY, P_DONE, P_FAIL };
enum framing { F_LENGTH, F_CHUNKED, F_CLOSE };
enum chunkst { C_SIZE, C_DATA, C_DATA_END, C_TRAILER };

struct stream {
	int		 fd;
	enum phase	 phase;
	size_t		 sent;
	char		 head[HEAD_MAX];
	size_t		 head_len;
	int		 status;
	enum framing	 framing;
	enum chunkst	 cst;
	long long	 left;		/* Content-Length or chunk bytes left */
	char		 szline[64];
	size_t		 szlen;
	char		 line[LINE_MAX_];
	size_t		 line_len;
	int		 lines;
	int		 saw_done;
	int64_t		 t_start;
	int64_t		 t_first;
};

static struct sockaddr_in	 dst;
static char			 req[4096];
static size_t			 req_len;
static int64_t			*delays;
static size_t			 ndelays, capdelays;
static int64_t			*firsts;
static size_t			 nfirsts;

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
add_delay(int64_t d)
{
	int64_t *p;

	if (ndelays == capdelays) {
		capdelays = capdelays ? capdelays * 2 : 4096;
		if ((p = realloc(delays, capdelays * sizeof(*p))) == NULL) {
			perror("ogb-streams: realloc");
			exit(1);
		}
		delays = p;
	}
	delays[ndelays++] = d;
}

static void
on_line(struct stream *s, int64_t t)
{
	char *p;

	s->line[s->line_len] = '\0';
	if ((p = strstr(s->line, "\"t_ns\":")) != NULL)
		add_delay(t - strtoll(p + 7, NULL, 10));
	if (strstr(s->line, "\"done\":true") != NULL)
		s->saw_done = 1;
	if (s->lines++ == 0)
		s->t_first = t;
	s->line_len = 0;
}

static void
content(struct stream *s, const char *p, size_t n, int64_t t)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\n') {
			on_line(s, t);
			continue;
		}
		if (s->line_len < sizeof(s->line) - 1)
			s->line[s->line_len++] = p[i];
	}
}

static void
finish(struct stream *s, int ok)
{
	s->phase = ok && s->status == 200 && s->saw_done ? P_DONE : P_FAIL;
	if (s->phase == P_DONE)
		firsts[nfirsts++] = s->t_first - s->t_start;
	close(s->fd);
	s->fd = -1;
}

/* Feeds response body bytes through the framing; finishes at the end. */
static void
body(struct stream *s, const char *p, size_t n, int64_t t)
{
	size_t take;

	while (n > 0 && s->phase == P_BODY) {
		switch (s->framing) {
		case F_CLOSE:
			content(s, p, n, t);
			return;
		case F_LENGTH:
			take = (long long)n > s->left ? (size_t)s->left : n;
			content(s, p, take, t);
			s->left -= (long long)take;
			if (s->left == 0)
				finish(s, 1);
			return;
		case F_CHUNKED:
			break;
		}
		switch (s->cst) {
		case C_SIZE:
		case C_TRAILER:
			if (*p == '\n') {
				s->szline[s->szlen] = '\0';
				if (s->cst == C_TRAILER) {
					if (s->szlen <= 1)
						finish(s, 1);
				} else {
					s->left = strtoll(s->szline, NULL, 16);
					s->cst = s->left == 0 ? C_TRAILER :
					    C_DATA;
				}
				s->szlen = 0;
			} else if (s->szlen < sizeof(s->szline) - 1)
				s->szline[s->szlen++] = *p;
			p++;
			n--;
			break;
		case C_DATA:
			take = (long long)n > s->left ? (size_t)s->left : n;
			content(s, p, take, t);
			s->left -= (long long)take;
			p += take;
			n -= take;
			if (s->left == 0)
				s->cst = C_DATA_END;
			break;
		case C_DATA_END:
			if (*p == '\n')
				s->cst = C_SIZE;
			p++;
			n--;
			break;
		}
	}
}

/* Parses the response head once it is whole; hands the rest to body(). */
static void
head(struct stream *s, int64_t t)
{
	char *end, *line, *next, *v;
	size_t hl;

	s->head[s->head_len] = '\0';
	if ((end = strstr(s->head, "\r\n\r\n")) == NULL) {
		if (s->head_len == sizeof(s->head) - 1)
			finish(s, 0);
		return;
	}
	hl = (size_t)(end - s->head) + 4;
	*end = '\0';
	if (sscanf(s->head, "HTTP/1.%*d %d", &s->status) != 1) {
		finish(s, 0);
		return;
	}
	s->framing = F_CLOSE;
	for (line = strstr(s->head, "\r\n"); line != NULL; line = next) {
		line += 2;
		next = strstr(line, "\r\n");
		if (next != NULL)
			*next = '\0';
		if ((v = strchr(line, ':')) == NULL)
			continue;
		*v++ = '\0';
		while (*v == ' ')
			v++;
		if (strcasecmp(line, "transfer-encoding") == 0 &&
		    strcasestr(v, "chunked") != NULL)
			s->framing = F_CHUNKED;
		else if (strcasecmp(line, "content-length") == 0 &&
		    s->framing != F_CHUNKED) {
			s->framing = F_LENGTH;
			s->left = strtoll(v, NULL, 10);
		}
	}
	s->phase = P_BODY;
	s->cst = C_SIZE;
	if (s->framing == F_LENGTH && s->left == 0) {
		finish(s, 1);
		return;
	}
	body(s, s->head + hl, s->head_len - hl, t);
}

static void
on_event(struct stream *s, int ep)
{
	struct epoll_event ev;
	char buf[65536];
	socklen_t elen;
	ssize_t n;
	int64_t t;
	int err;

	if (s->phase == P_CONNECT) {
		elen = sizeof(err);
		if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &elen) ==
		    -1 || err != 0) {
			finish(s, 0);
			return;
		}
		s->phase = P_SEND;
	}
	if (s->phase == P_SEND) {
		n = send(s->fd, req + s->sent, req_len - s->sent,
		    MSG_NOSIGNAL);
		if (n == -1 && errno != EAGAIN) {
			finish(s, 0);
			return;
		}
		if (n > 0)
			s->sent += (size_t)n;
		if (s->sent < req_len)
			return;
		s->phase = P_HEAD;
		ev.events = EPOLLIN;
		ev.data.ptr = s;
		epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev);
		return;
	}
	for (;;) {
		if (s->phase == P_HEAD)
			n = recv(s->fd, s->head + s->head_len,
			    sizeof(s->head) - 1 - s->head_len, 0);
		else
			n = recv(s->fd, buf, sizeof(buf), 0);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		t = now_ns();
		if (n <= 0) {
			/* The end of the connection ends only a body that
			 * is delimited by it. */
			finish(s, n == 0 && s->phase == P_BODY &&
			    s->framing == F_CLOSE);
			return;
		}
		if (s->phase == P_HEAD) {
			s->head_len += (size_t)n;
			head(s, t);
		} else
			body(s, buf, (size_t)n, t);
		if (s->phase == P_DONE || s->phase == P_FAIL)
			return;
	}
}

/* Runs one round of c streams; returns the number completed. */
static int
round_run(struct stream *ss, int c, int timeout_s, int *failed)
{
	struct epoll_event ev, evs[256];
	int64_t deadline;
	int ep, i, n, open_, done = 0, ms;

	if ((ep = epoll_create1(0)) == -1) {
		perror("ogb-streams: epoll_create1");
		exit(1);
	}
	for (i = 0; i < c; i++) {
		memset(&ss[i], 0, sizeof(ss[i]));
		ss[i].t_start = now_ns();
		ss[i].fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (ss[i].fd == -1) {
			perror("ogb-streams: socket");
			exit(1);
		}
		n = 1;
		setsockopt(ss[i].fd, IPPROTO_TCP, TCP_NODELAY, &n, sizeof(n));
		if (connect(ss[i].fd, (struct sockaddr *)&dst, sizeof(dst)) ==
		    -1 && errno != EINPROGRESS) {
			finish(&ss[i], 0);
			continue;
		}
		ev.events = EPOLLOUT;
		ev.data.ptr = &ss[i];
		epoll_ctl(ep, EPOLL_CTL_ADD, ss[i].fd, &ev);
	}
	deadline = now_ns() + (int64_t)timeout_s * 1000000000;
	for (;;) {
		open_ = 0;
		for (i = 0; i < c; i++)
			open_ += ss[i].phase != P_DONE && ss[i].phase != P_FAIL;
		if (open_ == 0)
			break;
		ms = (int)((deadline - now_ns()) / 1000000);
		if (ms <= 0)
			break;
		n = epoll_wait(ep, evs, 256, ms);
		for (i = 0; i < n; i++)
			on_event(evs[i].data.ptr, ep);
	}
	for (i = 0; i < c; i++) {
		if (ss[i].phase != P_DONE && ss[i].phase != P_FAIL)
			finish(&ss[i], 0);
		if (ss[i].phase == P_DONE)
			done++;
		else
			(*failed)++;
	}
	close(ep);
	return done;
}

static int
cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static double
pct_us(int64_t *v, size_t n, double p)
{
	size_t i;

	if (n == 0)
		return -1;
	i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
	return (double)v[i] / 1000.0;
}

int
main(int argc, char *argv[])
{
	struct stream *ss;
	const char *url = NULL, *key = NULL;
	const char *path = "/api/chat?n=200&ms=5";
	const char *body_ = "{\"model\":\"bench\",\"stream\":true}";
	char host[64], auth[512];
	int ch, c = 1, rounds = 1, timeout_s = 60, port, r;
	int done = 0, failed = 0;
	int64_t t0, wall;

	while ((ch = getopt(argc, argv, "u:k:p:c:r:t:")) != -1) {
		switch (ch) {
		case 'u':
			url = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'p':
			path = optarg;
			break;
		case 'c':
			c = atoi(optarg);
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		case 't':
			timeout_s = atoi(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (url == NULL || c < 1 || rounds < 1 || timeout_s < 1 ||
	    sscanf(url, "http://%63[0-9.]:%d", host, &port) != 2)
		goto usage;
	memset(&dst, 0, sizeof(dst));
	dst.sin_family = AF_INET;
	dst.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &dst.sin_addr) != 1)
		goto usage;
	auth[0] = '\0';
	if (key != NULL && *key != '\0')
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s\r\n",
		    key);
	req_len = (size_t)snprintf(req, sizeof(req), "POST %s HTTP/1.1\r\n"
	    "Host: %s:%d\r\n%sContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s", path, host,
	    port, auth, strlen(body_), body_);

	if ((ss = calloc((size_t)c, sizeof(*ss))) == NULL ||
	    (firsts = calloc((size_t)c * (size_t)rounds,
	    sizeof(*firsts))) == NULL) {
		perror("ogb-streams: calloc");
		return 1;
	}
	t0 = now_ns();
	for (r = 0; r < rounds; r++)
		done += round_run(ss, c, timeout_s, &failed);
	wall = now_ns() - t0;

	qsort(delays, ndelays, sizeof(*delays), cmp64);
	qsort(firsts, nfirsts, sizeof(*firsts), cmp64);
	printf("{\"streams\":%d,\"complete\":%d,\"failed\":%d,\"lines\":%zu,"
	    "\"delay_us\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,"
	    "\"max\":%.1f},\"first_line_ms\":{\"p50\":%.2f,\"max\":%.2f},"
	    "\"wall_s\":%.3f}\n", c * rounds, done, failed, ndelays,
	    pct_us(delays, ndelays, 50), pct_us(delays, ndelays, 90),
	    pct_us(delays, ndelays, 99), pct_us(delays, ndelays, 100),
	    pct_us(firsts, nfirsts, 50) / 1000.0,
	    pct_us(firsts, nfirsts, 100) / 1000.0, (double)wall / 1e9);
	return done == c * rounds ? 0 : 1;
usage:
	fprintf(stderr, "usage: ogb-streams -u http://ADDR:PORT [-k key] "
	    "[-p path] [-c conns] [-r rounds] [-t seconds]\n");
	return 2;
}
