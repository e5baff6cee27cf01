/*
 * upconn: the worker's connections to its upstream boxes.  libcurl
 * resolves, connects and (for an https box) does TLS, on one easy
 * handle per box in CONNECT_ONLY mode; the bytes of requests and
 * responses are then moved by xfer.c over the connection libcurl made.
 */
#ifndef UPCONN_H
#define UPCONN_H

#include <curl/curl.h>
#include <stddef.h>
#include <sys/types.h>

struct config;
struct upconn;

/* After fork: the settings every handle shares (CA, connect time). */
void		 upconn_init(const struct config *);
/* Closes every connection and frees the handles. */
void		 upconn_cleanup(void);
/*
 * The box at the URL base (a target-url value), made on first use; NULL
 * if libcurl cannot use the URL.  The same base always gives the same
 * box, so a kept connection is found again.
 */
struct upconn	*upconn_get(const char *base);
/* What the request head needs: the URL's path (no trailing '/'), the
 * Host value, and an "Authorization: Basic ...\r\n" line for a URL
 * with user:password@ ("" without). */
const char	*upconn_path(const struct upconn *, size_t *len);
const char	*upconn_host(const struct upconn *, size_t *len);
const char	*upconn_auth(const struct upconn *, size_t *len);
/*
 * Makes sure the box has a connection: the kept one if it is still
 * open and quiet, else a new one (libcurl's connect, with its timeout).
 * *reused says which.  CURLE_OK, or why no connection could be made
 * (upconn_error() has the words).
 */
CURLcode	 upconn_open(struct upconn *, int *reused);
/* The connection's socket, for poll() and SIOCOUTQ. */
int		 upconn_fd(const struct upconn *);
/* With TLS, bytes may wait decrypted inside the library: poll() on the
 * socket says nothing about them, so read until UPCONN_AGAIN first. */
int		 upconn_tls(const struct upconn *);
/*
 * Non-blocking, like send(2) and recv(2): bytes moved; 0 for the end of
 * the connection (recv); UPCONN_AGAIN to wait; UPCONN_ERROR with
 * upconn_error() saying why.
 */
#define UPCONN_AGAIN	(-1)
#define UPCONN_ERROR	(-2)
ssize_t		 upconn_send(struct upconn *, const void *, size_t);
ssize_t		 upconn_recv(struct upconn *, void *, size_t);
/* Closes the connection at once; the next open makes a new one. */
void		 upconn_close(struct upconn *);
/* Why the last open, send or recv failed. */
const char	*upconn_error(void);

#endif
