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
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "log.h"
#include "reply.h"
#include "worker.h"

void
client_start(struct client *c, int fd, const struct sockaddr *sa)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
	struct timeval tv;

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
	/*
	 * One receive timeout serves both the idle wait between requests
	 * and each read of a slow head or body; set once per connection.
	 */
	tv.tv_sec = c->keepalive_timeout > 0 ? c->keepalive_timeout : 1;
	tv.tv_usec = 0;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1)
		log_warn("%s: setsockopt SO_RCVTIMEO", __func__);
}

void
client_close(struct client *c)
{
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
}

/*
 * One read into the free end of the buffer: bytes, 0 at EOF, -1 on error
 * or timeout (errno EAGAIN), -2 when the worker is told to stop.  idle
 * says no byte of a request has come yet, so a stop may end the wait.
 */
static ssize_t
client_fill(struct client *c, int idle)
{
	ssize_t n;

	for (;;) {
		if (idle && worker_idle(c->fd) == -1) {
			worker_idle(-1);
			return -2;
		}
		n = read(c->fd, c->buf + c->end, sizeof(c->buf) - c->end);
		if (idle)
			worker_idle(-1);
		if (n >= 0) {
			c->end += (size_t)n;
			return n;
		}
		if (errno != EINTR)
			return -1;
		if (worker_stopping())
			return -2;
	}
}

int
client_read_head(struct client *c)
{
	struct request *r = &c->req;
	ssize_t n;
	int rc;

	request_reset(r);
	c->pos = 0;
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
		n = client_fill(c, c->end == 0);
		if (n > 0)
			continue;
		if (c->end == 0)
			return 0;	/* idle keep-alive connection ended */
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			reply_error(c, 408, "the request head did not arrive "
			    "in time", 1);
			return -1;
		}
		return 0;	/* gone mid-head: nobody to answer */
	}
	c->head_len = c->pos;
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
			if (out > 0)
				return (ssize_t)out;
			continue;
		}
		/* All read bytes are parsed: reuse the space behind the head. */
		c->pos = c->end = c->head_len;
		got = client_fill(c, 0);
		if (got <= 0) {
			r->error = got == 0 ? "client closed the connection "
			    "before the body ended" : "client body timed out";
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

int
client_sendv(struct client *c, struct iovec *iov, int iovcnt)
{
	struct msghdr msg;
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = iovcnt;
	while (msg.msg_iovlen > 0) {
		n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
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
