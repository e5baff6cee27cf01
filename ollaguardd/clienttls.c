/*
 * clienttls: the TLS half of client: the handshake of a new connection
 * and the writes, gathered into records.  Reads go through client_recv
 * in client.c, which asks tls_read.
 */
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>

#include "client.h"
#include "log.h"
#include "monotime.h"
#include "tls.h"

/* The largest TLS record's payload: one SSL_write, one record. */
#define TLS_RECORD	16384
/* The first byte of a TLS handshake record. */
#define TLS_HANDSHAKE	0x16

int
client_tls_start(struct client *c, struct ssl_ctx_st *ctx)
{
	int64_t deadline = c->accepted_ms + c->header_ms;
	const char *why = "out of memory";
	unsigned char first;
	short ev = POLLIN;
	ssize_t n;

	/* A plain request to the TLS port is told so, in plain HTTP, as
	 * nginx does; anything else that is not TLS just sees a close. */
	while ((n = recv(c->fd, &first, 1, MSG_PEEK | MSG_DONTWAIT)) == -1 &&
	    (errno == EAGAIN || errno == EINTR))
		if (!client_wait(c->fd, POLLIN, deadline))
			return 0;
	if (n <= 0)
		return 0;
	if (first != TLS_HANDSHAKE) {
		c->tls = 0;	/* the answer goes in plain text */
		request_reset(&c->req);
		c->req.status = 400;
		c->req.error = "this port speaks HTTPS only";
		c->req.keepalive = 0;
		return first >= 'A' && first <= 'Z' ? -1 : 0;
	}
	if (fcntl(c->fd, F_SETFL, O_NONBLOCK) == -1 ||
	    (c->ssl = SSL_new(ctx)) == NULL || SSL_set_fd(c->ssl, c->fd) != 1)
		goto fail;
	for (;;) {
		if (tls_accept(c->ssl, &ev, &why) == 1)
			return 1;
		if (errno != EAGAIN)
			goto fail;
		if (!client_wait(c->fd, ev, deadline)) {
			why = "the handshake did not end within header-timeout";
			goto fail;
		}
	}
fail:
	log_debug("TLS handshake with %s failed: %s", c->peer, why);
	c->tls_failed = 1;
	return 0;
}

/* One SSL_write of len bytes within deadline, retried as OpenSSL
 * asks: with the same buffer, after the wait it names. */
static int
tls_put(struct client *c, const void *buf, size_t len, int64_t deadline)
{
	short ev;

	for (;;) {
		if (tls_write(c->ssl, buf, len, &ev) != -1)
			return 0;
		if (errno != EAGAIN) {
			c->tls_failed = 1;
			return -1;
		}
		if (!client_wait(c->fd, ev, deadline)) {
			/* A record half sent cannot be taken back. */
			c->tls_failed = 1;
			errno = EAGAIN;
			return -1;
		}
	}
}

/*
 * With TLS the pieces are gathered into records of up to 16 KiB, one
 * SSL_write each, so a chunk's size line, data and CRLF travel as one
 * record rather than three; a large piece goes as is, 16 KiB at a time.
 */
int
client_sendv_tls(struct client *c, const struct iovec *iov, int iovcnt)
{
	static char out[TLS_RECORD];
	int64_t deadline = monotime_ms() + c->send_ms;
	const char *base;
	size_t have, off = 0, take;
	int i = 0;

	for (;;) {
		have = 0;
		while (i < iovcnt && have < sizeof(out)) {
			base = (const char *)iov[i].iov_base + off;
			take = iov[i].iov_len - off;
			if (have == 0 && take >= sizeof(out)) {
				if (tls_put(c, base, sizeof(out), deadline) == -1)
					return -1;
				c->sent += sizeof(out);
				off += sizeof(out);
			} else {
				if (take > sizeof(out) - have)
					take = sizeof(out) - have;
				memcpy(out + have, base, take);
				have += take;
				off += take;
			}
			if (off == iov[i].iov_len) {
				i++;
				off = 0;
			}
		}
		if (have == 0)
			return 0;
		if (tls_put(c, out, have, deadline) == -1)
			return -1;
		c->sent += have;
	}
}
