/*
 * client: reading requests from and writing responses to one client
 * connection.  Every byte from the client lands in one fixed buffer, so
 * reading a request costs no allocation; the head stays at the front of
 * it while the body streams through the space behind.
 */
#include <sys/socket.h>
#include <sys/uio.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "monotime.h"
#include "tls.h"

/* Points at a stop that never comes, until the worker hands its own. */
static const volatile sig_atomic_t never;

static const char	 continue_line[] = "HTTP/1.1 100 Continue\r\n\r\n";

void
client_init(struct client *c)
{
	/* Everything but the buffer, whose bytes count only up to end: a
	 * new worker touches none of its 64 KiB until a request comes. */
	memset(c, 0, offsetof(struct client, buf));
	memset(&c->head_len, 0, sizeof(*c) - offsetof(struct client,
	    head_len));
	request_init(&c->req);
	c->fd = -1;
	c->stop_fd = -1;
	c->stopping = &never;
}

void
client_start(struct client *c, int fd, const struct sockaddr *sa)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

	c->fd = fd;
	c->addr[0] = '\0';
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &sin->sin_addr, c->addr, sizeof(c->addr));
	else if (sa->sa_family == AF_INET6) {
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
			inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12],
			    c->addr, sizeof(c->addr));
		else
			inet_ntop(AF_INET6, &sin6->sin6_addr, c->addr,
			    sizeof(c->addr));
	}
	strlcpy(c->peer, c->addr, sizeof(c->peer));
	c->ssl = NULL;
	c->tls = c->tls_failed = 0;
	c->head_len = c->pos = c->end = 0;
	c->accepted_ms = monotime_ms();
	c->requests = 0;
}

int
client_wait(int fd, short events, int64_t deadline)
{
	struct pollfd pfd;
	int64_t left;
	int r;

	pfd.fd = fd;
	pfd.events = events;
	for (;;) {
		if ((left = deadline - monotime_ms()) <= 0)
			return 0;
		r = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		/* An error other than a signal: the next I/O call says it. */
		if (r > 0 || (r == -1 && errno != EINTR))
			return 1;
	}
}

/*
 * The header is peeked at, and only its own bytes are then taken off
 * the socket: with TLS, what follows belongs to OpenSSL.  Bytes peeked
 * while the header is incomplete are all part of it, so each wait is
 * for new bytes and never spins.
 */
int
client_take_prefix(struct client *c,
    int (*parse)(const unsigned char *, size_t, void *), void *arg,
    size_t max)
{
	unsigned char *b = (unsigned char *)c->buf;
	int64_t deadline = c->accepted_ms + c->header_ms;
	size_t have = 0, take;
	ssize_t n;
	int rc;

	if (max > sizeof(c->buf))
		max = sizeof(c->buf);
	for (;;) {
		n = recv(c->fd, b + have, max - have, MSG_PEEK | MSG_DONTWAIT);
		if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
			if (!client_wait(c->fd, POLLIN, deadline))
				return 0;
			continue;
		}
		if (n <= 0)
			return 0;
		if ((rc = parse(b, have + (size_t)n, arg)) == -1 ||
		    (rc == 0 && have + (size_t)n == max)) {
			request_reset(&c->req);
			c->req.status = 400;
			c->req.error = "a trusted proxy sent no valid PROXY "
			    "protocol header";
			c->req.keepalive = 0;
			return -1;
		}
		take = rc > 0 ? (size_t)rc - have : (size_t)n;
		if (recv(c->fd, b + have, take, MSG_DONTWAIT) != (ssize_t)take)
			return 0;
		have += take;
		if (rc > 0)
			return rc;
	}
}

/* recv() or SSL_read(): bytes, 0 at the end, -1 with errno; *events
 * says what to wait for on EAGAIN. */
static ssize_t
client_recv(struct client *c, void *buf, size_t len, short *events)
{
	ssize_t n;

	*events = POLLIN;
	if (c->ssl == NULL)
		return recv(c->fd, buf, len, MSG_DONTWAIT);
	if ((n = tls_read(c->ssl, buf, len, events)) == -1 && errno != EAGAIN)
		c->tls_failed = 1;
	return n;
}

void
client_close(struct client *c)
{
	tls_free(c->ssl, !c->tls_failed);
	c->ssl = NULL;
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
}

/*
 * One read into the free end of the buffer, waiting until deadline (a
 * monotime_ms() time).  Returns bytes, 0 at EOF, -1 on error or timeout
 * (errno ETIMEDOUT), -2 when the worker stops.  idle says no byte of a
 * request has come yet: only then may a stop end the wait, and a
 * request whose bytes are there is read rather than dropped.
 *
 * The socket is read without waiting first: most of the time the bytes
 * are there already, and then this costs one system call.
 */
static ssize_t
client_fill(struct client *c, int64_t deadline, int idle)
{
	struct pollfd pfd[2];
	int64_t left;
	ssize_t n;
	nfds_t nfds;
	short ev;
	int r;

	for (;;) {
		n = client_recv(c, c->buf + c->end, sizeof(c->buf) - c->end,
		    &ev);
		if (n >= 0) {
			c->end += (size_t)n;
			return n;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return -1;
		if (idle && *c->stopping)
			return -2;
		if ((left = deadline - monotime_ms()) <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		pfd[0].fd = c->fd;
		pfd[0].events = ev;
		pfd[0].revents = 0;
		pfd[1].fd = c->stop_fd;
		pfd[1].events = POLLIN;
		pfd[1].revents = 0;
		nfds = idle && c->stop_fd != -1 ? 2 : 1;
		r = poll(pfd, nfds, left > INT_MAX ? INT_MAX : (int)left);
		if (r == -1 && errno != EINTR)
			return -1;
		/* A stop with no byte of a request here: the client may send
		 * its request again on a new connection, as it may whenever a
		 * server closes an idle keep-alive connection. */
		if (idle && pfd[0].revents == 0 && *c->stopping)
			return -2;
	}
}

int
client_read_head(struct client *c)
{
	struct request *r = &c->req;
	int64_t deadline;
	ssize_t n;
	int rc;

	request_reset(r);
	c->pos = 0;
	c->sent = c->body_read = 0;
	/*
	 * A new connection has --header-timeout from accept() for its whole
	 * first head; a kept-alive one may idle --keepalive-timeout, then
	 * has --header-timeout from its first byte.  Trickling bytes never
	 * extends either.
	 */
	if (c->requests == 0)
		deadline = c->accepted_ms + c->header_ms;
	else if (c->end == 0)
		deadline = monotime_ms() + c->keepalive_ms;
	else
		deadline = monotime_ms() + c->header_ms;
	for (;;) {
		if (c->pos < c->end) {
			rc = request_parse_head(r, c->buf, c->end, &c->pos);
			if (rc == 1)
				break;
			if (rc == -1)
				return -1;
		}
		/* A TLS client's first request comes a round trip after
		 * the handshake: it is owed an answer, not a stop. */
		n = client_fill(c, deadline, c->end == 0 &&
		    (c->requests > 0 || c->ssl == NULL));
		if (n > 0) {
			if (c->requests > 0 && c->end == (size_t)n)
				deadline = monotime_ms() + c->header_ms;
			continue;
		}
		if (c->end == 0)
			return 0;	/* idle connection ended or timed out */
		if (n == -1 && errno == ETIMEDOUT) {
			r->status = 408;
			r->error = "the request head did not arrive in time";
			return -1;
		}
		return 0;	/* gone mid-head: nobody to answer */
	}
	c->head_len = c->pos;
	c->requests++;
	return 1;
}

ssize_t
client_read_body(struct client *c, char *dst, size_t len)
{
	struct request *r = &c->req;
	size_t n, out;
	ssize_t used, got;

	for (;;) {
		if (r->body_done)
			return 0;
		if (c->pos < c->end) {
			n = c->end - c->pos;
			/* Decoded bytes never outnumber raw ones, so feeding
			 * at most len raw bytes keeps dst from overflowing. */
			if (n > len)
				n = len;
			used = request_parse_body(r, c->buf + c->pos, n, dst,
			    &out);
			if (used == -1)
				return -1;
			c->pos += (size_t)used;
			c->body_read += out;
			if (out > 0)
				return (ssize_t)out;
			continue;
		}
		/* All read bytes are parsed: reuse the space behind the head. */
		c->pos = c->end = c->head_len;
		got = client_fill(c, monotime_ms() + c->body_ms, 0);
		if (got <= 0) {
			if (got == -1 && errno == ETIMEDOUT) {
				r->status = 408;
				r->error = "the request body paused for longer "
				    "than the body timeout";
			} else
				r->error = got == 0 ? "client closed the "
				    "connection before the body ended" :
				    "client body failed";
			return -1;
		}
	}
}

int
client_discard_body(struct client *c, size_t max, int64_t deadline)
{
	struct request *r = &c->req;
	char scratch[4096];
	size_t n, out, total = 0;
	ssize_t used, got;

	if (r->expect_continue && !r->body_done)
		return -1;	/* the client waits to be asked for it */
	while (!r->body_done) {
		if (c->pos < c->end) {
			n = c->end - c->pos;
			if (n > sizeof(scratch))
				n = sizeof(scratch);
			if ((used = request_parse_body(r, c->buf + c->pos, n,
			    scratch, &out)) == -1)
				return -1;
			c->pos += (size_t)used;
			c->body_read += out;
			if ((total += out) > max)
				return -1;
			continue;
		}
		c->pos = c->end = c->head_len;
		if ((got = client_fill(c, deadline, 0)) <= 0)
			return -1;
	}
	return 0;
}

void
client_linger_close(struct client *c, int ms)
{
	char scratch[4096];
	struct pollfd pfd;
	int64_t deadline = monotime_ms() + ms, left;
	size_t total = 0;
	ssize_t n;

	if (c->fd == -1)
		return;
	/* close_notify first, then the drain reads raw bytes. */
	tls_free(c->ssl, !c->tls_failed);
	c->ssl = NULL;
	shutdown(c->fd, SHUT_WR);
	pfd.fd = c->fd;
	pfd.events = POLLIN;
	while (total < 4 * CLIENT_BUFSIZE) {
		n = recv(c->fd, scratch, sizeof(scratch), MSG_DONTWAIT);
		if (n > 0) {
			total += (size_t)n;
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR))
			break;
		if ((left = deadline - monotime_ms()) <= 0 ||
		    poll(&pfd, 1, (int)left) == 0)
			break;
	}
	client_close(c);
}

int
client_closing(const struct client *c)
{
	return !c->req.keepalive || *c->stopping;
}

void
client_next(struct client *c)
{
	size_t left = c->end - c->pos;

	if (left > 0 && c->pos > 0)
		memmove(c->buf, c->buf + c->pos, left);
	c->end = left;
	c->pos = 0;
	c->head_len = 0;
}

int
client_send(struct client *c, const void *buf, size_t len)
{
	struct iovec iov;

	iov.iov_base = (void *)(uintptr_t)buf;
	iov.iov_len = len;
	return client_sendv(c, &iov, 1);
}

/*
 * The first sendmsg() blocks, bounded by the socket's SO_SNDTIMEO
 * (--send-timeout, inherited from the listen socket); almost always it
 * takes everything.  If it takes only part, the rest must go within
 * what is left of --send-timeout in all: a client that lets a byte
 * through now and then must not hold the worker for ever.
 */
int
client_sendv(struct client *c, struct iovec *iov, int iovcnt)
{
	struct msghdr msg;
	struct pollfd pfd;
	int64_t deadline = monotime_ms() + c->send_ms, left;
	ssize_t n;
	int flags = MSG_NOSIGNAL;

	if (c->ssl != NULL)
		return client_sendv_tls(c, iov, iovcnt);
	if (c->tls) {
		errno = ENOTCONN;	/* no handshake yet */
		return -1;
	}
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = iovcnt;
	while (msg.msg_iovlen > 0) {
		n = sendmsg(c->fd, &msg, flags);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (flags & MSG_DONTWAIT) == 0)
			return -1;
		if (n > 0) {
			c->sent += (uint64_t)n;
			if (c->sent_out != NULL)
				*c->sent_out = c->sent;
			while (msg.msg_iovlen > 0 &&
			    (size_t)n >= msg.msg_iov[0].iov_len) {
				n -= (ssize_t)msg.msg_iov[0].iov_len;
				msg.msg_iov++;
				msg.msg_iovlen--;
			}
			if (msg.msg_iovlen > 0) {
				msg.msg_iov[0].iov_base =
				    (char *)msg.msg_iov[0].iov_base + n;
				msg.msg_iov[0].iov_len -= (size_t)n;
			}
		} else if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (msg.msg_iovlen == 0)
			break;
		if ((left = deadline - monotime_ms()) <= 0) {
			errno = EAGAIN;
			return -1;
		}
		pfd.fd = c->fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left) == 0) {
			errno = EAGAIN;
			return -1;
		}
		flags = MSG_NOSIGNAL | MSG_DONTWAIT;
	}
	return 0;
}

int
client_continue(struct client *c)
{
	return client_send(c, continue_line, sizeof(continue_line) - 1);
}

int
client_gone(struct client *c)
{
	struct pollfd pfd;

	pfd.fd = c->fd;
	pfd.events = POLLRDHUP;
	pfd.revents = 0;
	if (poll(&pfd, 1, 0) <= 0)
		return 0;
	return (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}
