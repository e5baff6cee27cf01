/*
 * tls: TLS with OpenSSL.  The master builds one SSL_CTX before it drops
 * privileges and before it forks, so the private key is read once, as
 * root if need be, and every worker holds the same context and the same
 * session ticket key: a client that reconnects resumes its session with
 * whichever worker accepts it, with no shared cache between processes.
 *
 * The settings follow Mozilla's "intermediate" profile: TLS 1.2 and
 * 1.3, forward-secret AEAD ciphers only, no renegotiation, and ALPN
 * that offers http/1.1 alone.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "config.h"
#include "log.h"
#include "tls.h"

#define TLS12_CIPHERS	"ECDHE-ECDSA-AES128-GCM-SHA256:" \
			"ECDHE-RSA-AES128-GCM-SHA256:" \
			"ECDHE-ECDSA-AES256-GCM-SHA384:" \
			"ECDHE-RSA-AES256-GCM-SHA384:" \
			"ECDHE-ECDSA-CHACHA20-POLY1305:" \
			"ECDHE-RSA-CHACHA20-POLY1305"
#define TICKET_KEYLEN	80	/* name, HMAC key and AES key */

static SSL_CTX		*ctx;
static unsigned char	 ticket_keys[TICKET_KEYLEN];
static const unsigned char alpn_http11[] = "\x08http/1.1";

/* The oldest OpenSSL error on the queue, for a log line. */
static void
ssl_why(char *err, size_t errlen, const char *what, const char *path)
{
	char buf[256];
	unsigned long e = ERR_peek_error();

	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	else
		strlcpy(buf, strerror(errno), sizeof(buf));
	snprintf(err, errlen, "%s %s: %s", what, path, buf);
	ERR_clear_error();
}

static int
alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	unsigned char *sel;

	/* A client that offers no http/1.1 (h2 alone) gets no ALPN
	 * answer rather than an alert; it may still speak HTTP/1.1. */
	if (SSL_select_next_proto(&sel, outlen, alpn_http11,
	    sizeof(alpn_http11) - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *
ctx_new(const char *cert, const char *key, char *err, size_t errlen)
{
	SSL_CTX *c;

	ERR_clear_error();
	if ((c = SSL_CTX_new(TLS_server_method())) == NULL) {
		ssl_why(err, errlen, "tls:", "context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
	/* A peer that closes without close_notify is an end of stream,
	 * as it is on a plain socket: HTTP framing says if it was early. */
	SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
	    SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* Tickets carry the session, so no worker keeps a cache. */
	SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_alpn_select_cb(c, alpn_select, NULL);
	if (SSL_CTX_set_cipher_list(c, TLS12_CIPHERS) != 1) {
		ssl_why(err, errlen, "tls:", "ciphers");
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(c, cert) != 1) {
		ssl_why(err, errlen, "tls-cert", cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(c, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(c) != 1) {
		if (ERR_GET_REASON(ERR_peek_error()) ==
		    X509_R_KEY_VALUES_MISMATCH) {
			ERR_clear_error();
			snprintf(err, errlen, "tls-key %s does not match "
			    "tls-cert %s", key, cert);
		} else
			ssl_why(err, errlen, "tls-key", key);
		goto fail;
	}
	if (SSL_CTX_set_tlsext_ticket_keys(c, ticket_keys,
	    sizeof(ticket_keys)) != 1) {
		ssl_why(err, errlen, "tls:", "ticket keys");
		goto fail;
	}
	return c;
fail:
	SSL_CTX_free(c);
	return NULL;
}

int
tls_init(const struct config *cfg, char *err, size_t errlen)
{
	if (cfg->tls_cert[0] == '\0')
		return 0;
	/* One ticket key for the daemon's life: a reload keeps sessions. */
	arc4random_buf(ticket_keys, sizeof(ticket_keys));
	if ((ctx = ctx_new(cfg->tls_cert, cfg->tls_key, err, errlen)) == NULL)
		return -1;
	return 0;
}

int
tls_check(const struct config *cfg, char *err, size_t errlen)
{
	SSL_CTX *c;

	if (cfg->tls_cert[0] == '\0')
		return 0;
	if ((c = ctx_new(cfg->tls_cert, cfg->tls_key, err, errlen)) == NULL)
		return -1;
	SSL_CTX_free(c);
	return 0;
}

void
tls_reload(struct config *n, const struct config *o)
{
	char err[PATH_MAX * 2 + 256];
	SSL_CTX *c;

	if ((n->tls_cert[0] == '\0') != (o->tls_cert[0] == '\0')) {
		log_warnx("reload: switching TLS %s needs a restart; keeping "
		    "it %s", o->tls_cert[0] != '\0' ? "off" : "on",
		    o->tls_cert[0] != '\0' ? "on" : "off");
		goto keep;
	}
	if (n->tls_cert[0] == '\0')
		return;
	if ((c = ctx_new(n->tls_cert, n->tls_key, err, sizeof(err))) == NULL) {
		log_warnx("reload: %s; keeping the running certificate", err);
		goto keep;
	}
	/* Workers forked earlier hold their own copy of the old one. */
	SSL_CTX_free(ctx);
	ctx = c;
	log_info("reload: TLS certificate %s loaded", n->tls_cert);
	return;
keep:
	strlcpy(n->tls_cert, o->tls_cert, sizeof(n->tls_cert));
	strlcpy(n->tls_key, o->tls_key, sizeof(n->tls_key));
}

SSL_CTX *
tls_context(void)
{
	return ctx;
}

/*
 * Maps an OpenSSL result to the socket convention: EAGAIN and the
 * events to wait for, 0 for the end of the stream, -1 for a failure.
 */
static int
tls_result(SSL *ssl, int r, short *events)
{
	switch (SSL_get_error(ssl, r)) {
	case SSL_ERROR_WANT_READ:
		*events = POLLIN;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		*events = POLLOUT;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		if (errno == 0 || errno == EAGAIN)
			errno = ECONNRESET;
		break;
	default:
		errno = EPROTO;
		break;
	}
	ERR_clear_error();
	return -1;
}

int
tls_accept(SSL *ssl, short *events, const char **why)
{
	unsigned long e;
	int r;

	ERR_clear_error();
	errno = 0;
	if ((r = SSL_accept(ssl)) == 1)
		return 1;
	e = ERR_peek_error();
	*why = e != 0 ? ERR_reason_error_string(e) : NULL;
	if (*why == NULL)
		*why = "connection closed";
	if (tls_result(ssl, r, events) == 0)
		errno = ECONNRESET;
	return -1;
}

ssize_t
tls_read(SSL *ssl, void *buf, size_t len, short *events)
{
	size_t got;
	int r;

	ERR_clear_error();
	errno = 0;
	if ((r = SSL_read_ex(ssl, buf, len, &got)) == 1)
		return (ssize_t)got;
	return tls_result(ssl, r, events);
}

ssize_t
tls_write(SSL *ssl, const void *buf, size_t len, short *events)
{
	size_t put;
	int r;

	ERR_clear_error();
	errno = 0;
	if ((r = SSL_write_ex(ssl, buf, len, &put)) == 1)
		return (ssize_t)put;
	if (tls_result(ssl, r, events) == 0)
		errno = EPIPE;
	return -1;
}

void
tls_free(SSL *ssl, int notify)
{
	if (ssl == NULL)
		return;
	/* One try on the non-blocking socket: close_notify goes if the
	 * socket takes it, and a broken session sends nothing. */
	if (notify && SSL_is_init_finished(ssl)) {
		ERR_clear_error();
		SSL_shutdown(ssl);
	}
	ERR_clear_error();
	SSL_free(ssl);
}
