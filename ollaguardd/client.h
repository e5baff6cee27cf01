/*
 * client: one client connection: its socket, the buffer its bytes are
 * read into, and the request parser that reads them.  A worker owns one
 * struct client for its whole life and reuses it for every connection.
 */
#ifndef CLIENT_H
#define CLIENT_H

#include <sys/socket.h>
#include <sys/uio.h>

#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "request.h"

#define CLIENT_BUFSIZE	(64 * 1024)

struct ssl_st;
struct ssl_ctx_st;

struct client {
	int			 fd;
	/* The client's address as limits and logs see it: the peer's,
	 * or the one a trusted balancer names (realip). */
	char			 addr[INET6_ADDRSTRLEN];
	char			 peer[INET6_ADDRSTRLEN];
	int			 peer_trusted;	/* in trusted-proxies */
	/* With TLS, every byte goes through ssl; tls_failed says a fatal
	 * error leaves no session to close with close_notify.  tls says
	 * the listener speaks TLS: until the handshake, nothing is sent. */
	struct ssl_st		*ssl;
	int			 tls;
	int			 tls_failed;
	/*
	 * buf[0, head_len) holds the current request head, which the
	 * request's pointers refer to; body bytes and pipelined requests
	 * follow.  [pos, end) is read but not yet parsed.
	 */
	char			 buf[CLIENT_BUFSIZE];
	size_t			 head_len;
	size_t			 pos;
	size_t			 end;
	struct request		 req;
	int64_t			 accepted_ms;
	/* Per request, for the access log: whatever path answered it. */
	uint64_t		 sent;		/* bytes written to the client */
	uint64_t		 body_read;	/* request body bytes decoded */
	int			 requests;	/* served on this connection */
	/* Timeouts, in milliseconds. */
	int			 keepalive_ms;
	int			 header_ms;
	int			 body_ms;
	int			 send_ms;
	/*
	 * The worker's stop, handed down as data: stopping is its flag, and
	 * stop_fd (-1 when none) becomes readable when the flag is set, so
	 * that a wait for the next request on an idle connection ends at
	 * once while a request that has arrived is still read and served.
	 */
	const volatile sig_atomic_t *stopping;
	int			 stop_fd;
	/* Handed down per request: where the bytes sent so far are
	 * mirrored (a scoreboard field) or NULL, and header lines every
	 * reply the daemon makes itself carries, or NULL. */
	volatile uint64_t	*sent_out;
	const char		*xhdrs;
};

/* Once per worker: no connection, no stop signal. */
void	client_init(struct client *c);
/* Prepares c for a new accepted connection. */
void	client_start(struct client *c, int fd, const struct sockaddr *sa);
/*
 * Makes the connection TLS and runs the handshake within what is left of
 * --header-timeout.  1 when done; 0 if it failed (the caller closes);
 * -1 for plain HTTP on the TLS port, with c->req.status and error set
 * for a plain answer before the close.
 */
int	client_tls_start(struct client *c, struct ssl_ctx_st *ctx);
/*
 * Reads a header that comes before the first request (PROXY protocol)
 * and not a byte more, within --header-timeout of accept(): parse says
 * how long the header in what has come is (>0), that it needs more (0),
 * or that it is none (-1).  Returns the header's length, 0 if the
 * connection closed or the time ran out, or -1 (c->req.status and error
 * set) for bytes that are not such a header.
 */
int	client_take_prefix(struct client *c,
	    int (*parse)(const unsigned char *, size_t, void *), void *arg,
	    size_t max);
/* Closes the connection; leftover bytes are dropped. */
void	client_close(struct client *c);

/*
 * Reads and parses the next request head.  Returns 1 with c->req
 * filled, 0 if the client closed or idled out between requests (or the
 * worker stopped while it was idle), or -1 for a malformed or late
 * request, with c->req.status and c->req.error saying why: the caller
 * answers it and closes.
 */
int	client_read_head(struct client *c);
/*
 * Decodes up to len bytes of the request body into dst, reading the
 * socket as needed.  Returns the byte count, 0 at the end of the body,
 * or -1 if the client went away or sent bad framing (c->req.error).
 */
ssize_t	client_read_body(struct client *c, char *dst, size_t len);
/*
 * Reads and drops the rest of the request body, at most max bytes and
 * until deadline (a monotime_ms() time).  0 once the body has ended, -1
 * if it did not (the connection must then close).
 */
int	client_discard_body(struct client *c, size_t max, int64_t deadline);
/*
 * A lingering close: stops sending, reads and drops what the client
 * still sends for at most ms milliseconds so that the response just
 * sent is not lost to a reset, and closes.
 */
void	client_linger_close(struct client *c, int ms);
/* Moves pipelined bytes behind the current request to the front. */
void	client_next(struct client *c);
/* 1 when the response being made should close the connection: the
 * request asked for it or the worker is stopping. */
int	client_closing(const struct client *c);

/* Sends everything or fails (-1); never raises SIGPIPE. */
int	client_send(struct client *c, const void *buf, size_t len);
int	client_sendv(struct client *c, struct iovec *iov, int iovcnt);
/* Sends the interim "100 Continue" an Expect: 100-continue waits for. */
int	client_continue(struct client *c);
/* 1 if the peer has closed or reset the connection. */
int	client_gone(struct client *c);

/* Between client.c and clienttls.c: waits for events on fd until
 * deadline (1 ready, 0 late), and the TLS side of client_sendv. */
int	client_wait(int fd, short events, int64_t deadline);
int	client_sendv_tls(struct client *c, const struct iovec *iov,
	    int iovcnt);

#endif
