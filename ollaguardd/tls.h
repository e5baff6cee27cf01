/*
 * tls: the daemon's TLS server context (certificate, key, protocol
 * versions, ciphers, ALPN, session ticket keys) and the few calls the
 * client layer makes on one connection's SSL object.
 */
#ifndef TLS_H
#define TLS_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

struct config;

/*
 * Builds the context from tls-cert and tls-key, if set; run in the
 * master before privileges are dropped, so the key may be readable by
 * root alone.  Workers inherit the context, and with it the ticket key,
 * so that a client resumes its session with any worker.  0, or -1 with
 * err set.
 */
int	tls_init(const struct config *cfg, char *err, size_t errlen);
/* Checks that the pair in cfg loads, as --check-config does. */
int	tls_check(const struct config *cfg, char *err, size_t errlen);
/*
 * On reload: loads n's pair.  If it fails, or TLS would be switched on
 * or off (a restart's business), n keeps o's files and the running
 * context stays; the log says why.
 */
void	tls_reload(struct config *n, const struct config *o);
/* The context new connections use; NULL when TLS is off. */
SSL_CTX	*tls_context(void);

/*
 * One step of the handshake, a read or a write on a non-blocking
 * socket.  They return as SSL_accept/SSL_read/SSL_write do, except that
 * a wait is -1 with errno EAGAIN and *events the poll() events to wait
 * for, the end of the stream is 0, and a failure is -1 with another
 * errno.
 */
int	tls_accept(SSL *ssl, short *events, const char **why);
ssize_t	tls_read(SSL *ssl, void *buf, size_t len, short *events);
ssize_t	tls_write(SSL *ssl, const void *buf, size_t len, short *events);
/* Sends close_notify if the connection is in a state to, and frees. */
void	tls_free(SSL *ssl, int notify);

#endif
