/*
 * ogb-upstream: the fake Ollama the benchmark streams through.
 *
 * One thread per connection, blocking sockets, HTTP/1.1 keep-alive,
 * TCP_NODELAY.  It parses only what a benchmark client and the proxies
 * under test send, and answers:
 *
 *   /api/chat?n=N&ms=I   (any method)  chunked NDJSON: N lines, line i
 *                        sent at start + i * I ms (an absolute schedule,
 *                        so a slow reader does not stretch the stream);
 *                        each line carries "t_ns", CLOCK_MONOTONIC read
 *                        just before the line is written, which the
 *                        client subtracts from its own clock on arrival;
 *                        the last line has "done":true
 *   GET /big?bytes=N     N bytes of filler with a Content-Length
 *   GET /api/tags        a 1.3 KB model list, like Ollama's
 *   anything else        the request body (Content-Length or chunked)
 *                        is read and thrown away; the reply is
 *                        {"received":N}, so the caller can check that
 *                        every byte arrived
 *
 * usage: ogb-upstream [-a addr] [-p port]
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define HEAD_MAX	(32 * 1024)
#define IOBUF		(256 * 1024)
#define LINES_MAX	1000000
#define INTERVAL_MAX	60000

struct conn {
	int		 fd;
	char		 head[HEAD_MAX];
	size_t		 have;		/* bytes in head[] */
	size_t		 used;		/* bytes of head[] consumed */
	char		*io;		/* IOBUF bytes */
};

struct req {
	char		 method[16];
	char		 path[1024];
	char		 query[1024];
	long long	 clen;		/* -1: none */
	int		 chunked;
	int		 keepalive;
};

static char	*filler;

static const char tags_body[] =
    "{\"models\":["
    "{\"name\":\"llama3.2:3b\",\"model\":\"llama3.2:3b\",\"modified_at\":"
    "\"2025-01-10T09:00:00.000000000Z\",\"size\":2019393189,\"digest\":"
    "\"a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72\","
    "\"details\":{\"parent_model\":\"\",\"format\":\"gguf\",\"family\":"
    "\"llama\",\"families\":[\"llama\"],\"parameter_size\":\"3.2B\","
    "\"quantization_level\":\"Q4_K_M\"}},"
    "{\"name\":\"qwen2.5:7b\",\"model\":\"qwen2.5:7b\",\"modified_at\":"
    "\"2025-01-10T09:00:01.000000000Z\",\"size\":4683087332,\"digest\":"
    "\"845dbda0ea48ed749caafd9e6037047aa19acfcfd82e704d7ca97d631a0b697e\","
    "\"details\":{\"parent_model\":\"\",\"format\":\"gguf\",\"family\":"
    "\"qwen2\",\"families\":[\"qwen2\"],\"parameter_size\":\"7.6B\","
    "\"quantization_level\":\"Q4_K_M\"}},"
    "{\"name\":\"mistral:7b\",\"model\":\"mistral:7b\",\"modified_at\":"
    "\"2025-01-10T09:00:02.000000000Z\",\"size\":4113301824,\"digest\":"
    "\"f974a74358d62a017b37c6f424fcdf2744ca02926c4f952513ddf474b2fa5091\","
    "\"details\":{\"parent_model\":\"\",\"format\":\"gguf\",\"family\":"
    "\"llama\",\"families\":[\"llama\"],\"parameter_size\":\"7.2B\","
    "\"quantization_level\":\"Q4_0\"}},"
    "{\"name\":\"nomic-embed-text:latest\",\"model\":"
    "\"nomic-embed-text:latest\",\"modified_at\":"
    "\"2025-01-10T09:00:03.000000000Z\",\"size\":274302450,\"digest\":"
    "\"0a109f422b47e3a30ba2b10eca18548e944e8a23073ee3f3e947efcf3c45e59f\","
    "\"details\":{\"parent_model\":\"\",\"format\":\"gguf\",\"family\":"
    "\"nomic-bert\",\"families\":[\"nomic-bert\"],\"parameter_size\":"
    "\"137M\",\"quantization_level\":\"F16\"}}]}";

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = send(fd, p, n, MSG_NOSIGNAL);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads more into head[], moving unconsumed bytes to the front. */
static int
fill(struct conn *c)
{
	ssize_t n;

	if (c->used > 0) {
		memmove(c->head, c->head + c->used, c->have - c->used);
		c->have -= c->used;
		c->used = 0;
	}
	if (c->have == sizeof(c->head))
		return -1;
	do
		n = recv(c->fd, c->head + c->have, sizeof(c->head) - c->have,
		    0);
	while (n == -1 && errno == EINTR);
	if (n <= 0)
		return -1;
	c->have += (size_t)n;
	return 0;
}

/* Returns a pointer to the next CRLF-terminated line, NUL-terminated. */
static char *
get_line(struct conn *c)
{
	char *p, *s;

	for (;;) {
		s = c->head + c->used;
		p = memmem(s, c->have - c->used, "\r\n", 2);
		if (p != NULL) {
			*p = '\0';
			c->used = (size_t)(p - c->head) + 2;
			return s;
		}
		if (fill(c) == -1)
			return NULL;
	}
}

static int
read_head(struct conn *c, struct req *r)
{
	char *line, *sp, *q, *v;
	char version[16];

	memset(r, 0, sizeof(*r));
	r->clen = -1;
	if ((line = get_line(c)) == NULL)
		return -1;
	if (sscanf(line, "%15s %1023s %15s", r->method, r->path,
	    version) != 3)
		return -1;
	r->keepalive = strcmp(version, "HTTP/1.1") == 0;
	if ((q = strchr(r->path, '?')) != NULL) {
		*q++ = '\0';
		snprintf(r->query, sizeof(r->query), "%s", q);
	}
	for (;;) {
		if ((line = get_line(c)) == NULL)
			return -1;
		if (*line == '\0')
			return 0;
		if ((sp = strchr(line, ':')) == NULL)
			return -1;
		*sp = '\0';
		for (v = sp + 1; *v == ' ' || *v == '\t'; v++)
			;
		if (strcasecmp(line, "content-length") == 0)
			r->clen = strtoll(v, NULL, 10);
		else if (strcasecmp(line, "transfer-encoding") == 0)
			r->chunked = strcasestr(v, "chunked") != NULL;
		else if (strcasecmp(line, "connection") == 0) {
			if (strcasestr(v, "close") != NULL)
				r->keepalive = 0;
			else if (strcasestr(v, "keep-alive") != NULL)
				r->keepalive = 1;
		}
	}
}

/* Consumes n body bytes, from what is buffered and then the socket. */
static int
skip(struct conn *c, long long n, long long *got)
{
	size_t take;
	ssize_t r;

	take = c->have - c->used;
	if ((long long)take > n)
		take = (size_t)n;
	c->used += take;
	n -= (long long)take;
	*got += (long long)take;
	while (n > 0) {
		r = recv(c->fd, c->io, n > IOBUF ? IOBUF : (size_t)n, 0);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		n -= r;
		*got += r;
	}
	return 0;
}

static int
read_body(struct conn *c, struct req *r, long long *got)
{
	char *line;
	long long sz;

	*got = 0;
	if (!r->chunked)
		return r->clen > 0 ? skip(c, r->clen, got) : 0;
	for (;;) {
		if ((line = get_line(c)) == NULL)
			return -1;
		sz = strtoll(line, NULL, 16);
		if (sz == 0)
			break;
		if (skip(c, sz, got) == -1 || get_line(c) == NULL)
			return -1;
	}
	/* Trailers, up to the empty line. */
	do
		if ((line = get_line(c)) == NULL)
			return -1;
	while (*line != '\0');
	return 0;
}

static long long
query_num(const char *query, const char *name, long long def,
    long long max)
{
	const char *p = query;
	size_t len = strlen(name);
	long long v;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, name, len) == 0 && p[len] == '=') {
			v = strtoll(p + len + 1, NULL, 10);
			return v < 0 ? 0 : v > max ? max : v;
		}
		if ((p = strchr(p, '&')) != NULL)
			p++;
	}
	return def;
}

static int
reply(struct conn *c, struct req *r, int status, const char *body,
    size_t len)
{
	char head[256];
	int n;

	n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\n"
	    "Content-Type: application/json; charset=utf-8\r\n"
	    "Content-Length: %zu\r\n%s\r\n", status,
	    status == 200 ? "OK" : "Bad Request", len,
	    r->keepalive ? "" : "Connection: close\r\n");
	if (write_all(c->fd, head, (size_t)n) == -1)
		return -1;
	return write_all(c->fd, body, len);
}

static int
do_stream(struct conn *c, struct req *r)
{
	static const char head[] = "HTTP/1.1 200 OK\r\n"
	    "Content-Type: application/x-ndjson\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n";
	char line[512], chunk[600];
	struct timespec at;
	long long n, ms, i;
	int64_t start, t;
	int len, clen;

	n = query_num(r->query, "n", 10, LINES_MAX);
	ms = query_num(r->query, "ms", 10, INTERVAL_MAX);
	if (n < 1)
		n = 1;
	if (write_all(c->fd, head, sizeof(head) - 1) == -1)
		return -1;
	start = now_ns();
	for (i = 0; i < n; i++) {
		t = start + i * ms * 1000000;
		at.tv_sec = t / 1000000000;
		at.tv_nsec = t % 1000000000;
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at,
		    NULL) == EINTR)
			;
		len = snprintf(line, sizeof(line), "{\"model\":\"bench\","
		    "\"created_at\":\"2025-01-10T09:00:00Z\",\"message\":"
		    "{\"role\":\"assistant\",\"content\":\"tok%lld \"},"
		    "\"done\":%s,\"seq\":%lld,\"t_ns\":%" PRId64 "}\n", i,
		    i == n - 1 ? "true" : "false", i, now_ns());
		clen = snprintf(chunk, sizeof(chunk), "%x\r\n%s\r\n%s", len,
		    line, i == n - 1 ? "0\r\n\r\n" : "");
		if (write_all(c->fd, chunk, (size_t)clen) == -1)
			return -1;
	}
	return 0;
}

static int
do_big(struct conn *c, struct req *r)
{
	char head[256];
	long long n;
	size_t w;
	int hl;

	n = query_num(r->query, "bytes", 1 << 20, 1LL << 40);
	hl = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\n"
	    "Content-Type: application/octet-stream\r\n"
	    "Content-Length: %lld\r\n%s\r\n", n,
	    r->keepalive ? "" : "Connection: close\r\n");
	if (write_all(c->fd, head, (size_t)hl) == -1)
		return -1;
	while (n > 0) {
		w = n > IOBUF ? IOBUF : (size_t)n;
		if (write_all(c->fd, filler, w) == -1)
			return -1;
		n -= (long long)w;
	}
	return 0;
}

static void *
serve(void *arg)
{
	struct conn *c = arg;
	struct req r;
	long long got;
	char body[64];
	int n, rc;

	for (;;) {
		if (read_head(c, &r) == -1 || read_body(c, &r, &got) == -1)
			break;
		if (strcmp(r.path, "/api/chat") == 0 ||
		    strcmp(r.path, "/api/generate") == 0)
			rc = do_stream(c, &r);
		else if (strcmp(r.path, "/big") == 0)
			rc = do_big(c, &r);
		else if (strcmp(r.path, "/api/tags") == 0)
			rc = reply(c, &r, 200, tags_body, sizeof(tags_body) - 1);
		else {
			n = snprintf(body, sizeof(body), "{\"received\":%lld}",
			    got);
			rc = reply(c, &r, 200, body, (size_t)n);
		}
		if (rc == -1 || !r.keepalive)
			break;
	}
	close(c->fd);
	free(c->io);
	free(c);
	return NULL;
}

int
main(int argc, char *argv[])
{
	struct sockaddr_in sin;
	pthread_attr_t attr;
	pthread_t th;
	struct conn *c;
	const char *addr = "127.0.0.1";
	int ch, fd, s, one = 1, port = 11434;

	while ((ch = getopt(argc, argv, "a:p:")) != -1) {
		switch (ch) {
		case 'a':
			addr = optarg;
			break;
		case 'p':
			port = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: ogb-upstream [-a addr] "
			    "[-p port]\n");
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	if ((filler = malloc(IOBUF)) == NULL)
		return 1;
	memset(filler, 'x', IOBUF);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
		fprintf(stderr, "ogb-upstream: bad address %s\n", addr);
		return 2;
	}
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, 4096) == -1) {
		perror("ogb-upstream: listen");
		return 1;
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (;;) {
		if ((s = accept(fd, NULL, NULL)) == -1) {
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EMFILE || errno == ENFILE)
				continue;
			perror("ogb-upstream: accept");
			return 1;
		}
		setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if ((c = calloc(1, sizeof(*c))) == NULL ||
		    (c->io = malloc(IOBUF)) == NULL) {
			free(c);
			close(s);
			continue;
		}
		c->fd = s;
		if (pthread_create(&th, &attr, serve, c) != 0) {
			close(s);
			free(c->io);
			free(c);
		}
	}
}
