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
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "log.h"
#include "reply.h"
#include "worker.h"

int64_t
client_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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
	c->head_len = c->pos = c->end = 0;
	c->accepted_ms = client_now_ms();
	c->requests = 0;
}

void
client_close(struct client *c)
{
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
}

/*
 * One read into the free end of the buffer, waiting until deadline (a
 * client_now_ms() time).  Returns bytes, 0 at EOF, -1 on error or
 * timeout (errno ETIMEDOUT), -2 when the worker is told to stop.  idle
 * says no byte of a request has come yet, so a stop may end the wait.
 *
 * The socket is read without waiting first: most of the time the bytes
 * are there already, and then this costs one system call.
 */
static ssize_t
client_fill(struct client *c, int64_t deadline, int idle)
{
	struct pollfd pfd;
	int64_t left;
	ssize_t n;
	int r;

	for (;;) {
		n = recv(c->fd, c->buf + c->end, sizeof(c->buf) - c->end,
		    MSG_DONTWAIT);
		if (n >= 0) {
			c->end += (size_t)n;
			return n;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return -1;
		if ((left = deadline - client_now_ms()) <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (idle && worker_idle(c->fd) == -1) {
			worker_idle(-1);
			return -2;
		}
		pfd.fd = c->fd;
		pfd.events = POLLIN;
		r = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (idle)
			worker_idle(-1);
		if (r == -1 && errno == EINTR && idle && worker_stopping())
			return -2;
		if (r == -1 && errno != EINTR)
			return -1;
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
		deadline = client_now_ms() + c->keepalive_ms;
	else
		deadline = client_now_ms() + c->header_ms;
	for (;;) {
		if (c->pos < c->end) {
			rc = request_parse_head(r, c->buf, c->end, &c->pos);
			if (rc == 1)
				break;
			if (rc == -1) {
				reply_error(c, r->status, r->error, 1);
				return -1;
			}
		}
		n = client_fill(c, deadline, c->end == 0);
		if (n > 0) {
			if (c->requests > 0 && c->end == (size_t)n)
				deadline = client_now_ms() + c->header_ms;
			continue;
		}
		if (c->end == 0)
			return 0;	/* idle connection ended or timed out */
		if (n == -1 && errno == ETIMEDOUT) {
			r->status = 408;
			r->error = "the request head did not arrive in time";
			reply_error(c, r->status, r->error, 1);
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
		got = client_fill(c, client_now_ms() + c->body_ms, 0);
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
	int64_t deadline = client_now_ms() + c->send_ms, left;
	ssize_t n;
	int flags = MSG_NOSIGNAL;

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
		if ((left = deadline - client_now_ms()) <= 0) {
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
