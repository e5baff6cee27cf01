/*
 * upconn: one libcurl easy handle per upstream box, in CONNECT_ONLY
 * mode.  curl_easy_perform() resolves, connects and, for https, does the
 * TLS handshake with the checks target-ca and target-insecure set; then
 * the connection is ours.  A plain socket is written and read with
 * send(2) and recv(2) directly, a TLS one through curl_easy_send() and
 * curl_easy_recv(), which go through libcurl's TLS filter.
 *
 * A connection is kept for the next request to the same box.  libcurl
 * never reuses a CONNECT_ONLY connection itself and keeps old ones in
 * its cache, so closing one means freeing its handle: the next open
 * makes a new handle and a new connection.
 */
#include <sys/socket.h>

#include <openssl/evp.h>

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "log.h"
#include "upconn.h"

#define AUTH_MAX	(CONFIG_URL_MAX * 4 / 3 + 32)

struct upconn {
	char		 base[CONFIG_URL_MAX];	/* its trailing '/' cut */
	size_t		 pathoff;	/* where the path starts in base */
	size_t		 baselen;
	char		 host[CONFIG_URL_MAX];	/* the Host header's value */
	size_t		 hostlen;
	char		*auth;		/* NULL: no user:password@ */
	size_t		 authlen;
	int		 tls;
	CURLU		*uh;
	CURL		*curl;		/* NULL: not connected */
	curl_socket_t	 fd;
};

static struct upconn	 boxes[CONFIG_UPSTREAMS_MAX + 1];
static int		 nboxes;
static long		 connect_ms;
static const char	*ca;
static int		 insecure;
static char		 errbuf[CURL_ERROR_SIZE];
/* What outlives a handle: resolved names and TLS sessions, so that a
 * new connection neither resolves again nor does a full handshake. */
static CURLSH		*share;

void
upconn_init(const struct config *cfg)
{
	long t = (long)cfg->timeout * 1000;

	connect_ms = t < 10000 ? t : 10000L;
	ca = cfg->target_ca[0] != '\0' ? cfg->target_ca : NULL;
	insecure = cfg->target_insecure;
	/* Without it each connection resolves and shakes hands anew. */
	if ((share = curl_share_init()) != NULL) {
		curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
		curl_share_setopt(share, CURLSHOPT_SHARE,
		    CURL_LOCK_DATA_SSL_SESSION);
	}
}

void
upconn_cleanup(void)
{
	int i;

	for (i = 0; i < nboxes; i++) {
		upconn_close(&boxes[i]);
		curl_url_cleanup(boxes[i].uh);
		free(boxes[i].auth);
	}
	memset(boxes, 0, sizeof(boxes));
	nboxes = 0;
	if (share != NULL)
		curl_share_cleanup(share);
	share = NULL;
}

/* "Authorization: Basic base64(user:password)\r\n", as libcurl sends it
 * for a URL with a user name in it. */
static int
set_auth(struct upconn *u)
{
	char *user = NULL, *pass = NULL, plain[CONFIG_URL_MAX];
	int n, rc = -1;

	if (curl_url_get(u->uh, CURLUPART_USER, &user, CURLU_URLDECODE) !=
	    CURLUE_OK)
		return 0;
	if (curl_url_get(u->uh, CURLUPART_PASSWORD, &pass, CURLU_URLDECODE) !=
	    CURLUE_OK)
		pass = NULL;
	n = snprintf(plain, sizeof(plain), "%s:%s", user, pass != NULL ?
	    pass : "");
	if (n > 0 && (size_t)n < sizeof(plain) &&
	    (u->auth = malloc(AUTH_MAX)) != NULL) {
		memcpy(u->auth, "Authorization: Basic ", 21);
		u->authlen = 21 + (size_t)EVP_EncodeBlock((unsigned char *)
		    u->auth + 21, (unsigned char *)plain, n);
		memcpy(u->auth + u->authlen, "\r\n", 3);
		u->authlen += 2;
		rc = 0;
	}
	explicit_bzero(plain, sizeof(plain));
	curl_free(user);
	curl_free(pass);
	return rc;
}

/* The Host value libcurl would send: the port only if not the
 * scheme's own. */
static int
set_host(struct upconn *u)
{
	char *scheme = NULL, *host = NULL, *port = NULL;
	int n, rc = -1;

	if (curl_url_get(u->uh, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u->uh, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		goto out;
	u->tls = strcasecmp(scheme, "https") == 0;
	if (curl_url_get(u->uh, CURLUPART_PORT, &port, 0) == CURLUE_OK &&
	    strcmp(port, u->tls ? "443" : "80") != 0)
		n = snprintf(u->host, sizeof(u->host), "%s:%s", host, port);
	else
		n = snprintf(u->host, sizeof(u->host), "%s", host);
	if (n > 0 && (size_t)n < sizeof(u->host)) {
		u->hostlen = (size_t)n;
		rc = 0;
	}
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	return rc;
}

static int
box_parse(struct upconn *u)
{
	const char *p;
	CURLUcode uc;

	if ((u->uh = curl_url()) == NULL)
		return -1;
	uc = curl_url_set(u->uh, CURLUPART_URL, u->base,
	    CURLU_NON_SUPPORT_SCHEME | CURLU_PATH_AS_IS);
	if (uc != CURLUE_OK) {
		log_warnx("%s: %s", u->base, curl_url_strerror(uc));
		return -1;
	}
	/* The path is what follows the authority: "" if there is none. */
	u->pathoff = u->baselen;
	if ((p = strstr(u->base, "://")) != NULL &&
	    (p = strchr(p + 3, '/')) != NULL)
		u->pathoff = (size_t)(p - u->base);
	if (set_host(u) == -1 || set_auth(u) == -1) {
		log_warnx("%s: the URL's host or user is not usable", u->base);
		return -1;
	}
	u->fd = CURL_SOCKET_BAD;
	return 0;
}

struct upconn *
upconn_get(const char *base)
{
	struct upconn *u;
	size_t len = strlen(base);
	int i;

	/* The client's path starts with '/', so the prefix must not end in
	 * one: http://gpu:11434/ollama/ and .../ollama are the same. */
	while (len > 0 && base[len - 1] == '/')
		len--;
	if (len >= CONFIG_URL_MAX)
		return NULL;
	for (i = 0; i < nboxes; i++)
		if (boxes[i].baselen == len &&
		    memcmp(boxes[i].base, base, len) == 0)
			return &boxes[i];
	if (nboxes == (int)(sizeof(boxes) / sizeof(boxes[0])))
		return NULL;
	u = &boxes[nboxes];
	memset(u, 0, sizeof(*u));
	memcpy(u->base, base, len);
	u->baselen = len;
	if (box_parse(u) == -1) {
		curl_url_cleanup(u->uh);
		free(u->auth);
		memset(u, 0, sizeof(*u));
		return NULL;
	}
	nboxes++;
	return u;
}

const char *
upconn_path(const struct upconn *u, size_t *len)
{
	*len = u->baselen - u->pathoff;
	return u->base + u->pathoff;
}

const char *
upconn_host(const struct upconn *u, size_t *len)
{
	*len = u->hostlen;
	return u->host;
}

const char *
upconn_auth(const struct upconn *u, size_t *len)
{
	*len = u->authlen;
	return u->auth != NULL ? u->auth : "";
}

int
upconn_fd(const struct upconn *u)
{
	return u->fd;
}

int
upconn_tls(const struct upconn *u)
{
	return u->tls;
}

const char *
upconn_error(void)
{
	return errbuf;
}

void
upconn_close(struct upconn *u)
{
	if (u->curl != NULL)
		curl_easy_cleanup(u->curl);
	u->curl = NULL;
	u->fd = CURL_SOCKET_BAD;
}

/* A kept connection is usable if nothing has come on it since its last
 * response: bytes or an end there mean the box closed or broke it.  A
 * TLS box may send session tickets, which reading consumes. */
static int
quiet(struct upconn *u)
{
	struct pollfd pfd = { .fd = u->fd, .events = POLLIN | POLLRDHUP };
	char b[1];

	if (poll(&pfd, 1, 0) == 0)
		return 1;
	return u->tls && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)) ==
	    0 && upconn_recv(u, b, sizeof(b)) == UPCONN_AGAIN;
}

static CURL *
handle_new(void)
{
	CURL *h;

	if ((h = curl_easy_init()) == NULL)
		return NULL;
	curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	/* Else libcurl reads no_proxy and NO_PROXY from the environment. */
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	/* The bytes are HTTP/1.1: TLS must not agree on h2 by ALPN. */
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	if (share != NULL)
		curl_easy_setopt(h, CURLOPT_SHARE, share);
	/* An https target is checked against target-ca, or not at all. */
	if (ca != NULL)
		curl_easy_setopt(h, CURLOPT_CAINFO, ca);
	if (insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	return h;
}

CURLcode
upconn_open(struct upconn *u, int *reused)
{
	CURLcode rc;

	*reused = 0;
	if (u->curl != NULL) {
		if (quiet(u)) {
			*reused = 1;
			return CURLE_OK;
		}
		upconn_close(u);
	}
	errbuf[0] = '\0';
	if ((u->curl = handle_new()) == NULL) {
		strlcpy(errbuf, "curl_easy_init failed", sizeof(errbuf));
		return CURLE_OUT_OF_MEMORY;
	}
	curl_easy_setopt(u->curl, CURLOPT_CURLU, u->uh);
	if ((rc = curl_easy_perform(u->curl)) == CURLE_OK &&
	    (curl_easy_getinfo(u->curl, CURLINFO_ACTIVESOCKET, &u->fd) !=
	    CURLE_OK || u->fd == CURL_SOCKET_BAD))
		rc = CURLE_COULDNT_CONNECT;
	if (rc != CURLE_OK) {
		if (errbuf[0] == '\0')
			strlcpy(errbuf, curl_easy_strerror(rc), sizeof(errbuf));
		upconn_close(u);
	}
	return rc;
}

static ssize_t
tls_result(CURLcode rc, size_t n)
{
	if (rc == CURLE_OK)
		return (ssize_t)n;
	if (rc == CURLE_AGAIN)
		return UPCONN_AGAIN;
	if (errbuf[0] == '\0')
		strlcpy(errbuf, curl_easy_strerror(rc), sizeof(errbuf));
	return UPCONN_ERROR;
}

static ssize_t
sock_result(ssize_t n, const char *what)
{
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return UPCONN_AGAIN;
	snprintf(errbuf, sizeof(errbuf), "%s failure: %s", what,
	    strerror(errno));
	return UPCONN_ERROR;
}

ssize_t
upconn_send(struct upconn *u, const void *buf, size_t len)
{
	size_t n = 0;
	CURLcode rc;

	if (!u->tls)
		return sock_result(send(u->fd, buf, len, MSG_NOSIGNAL),
		    "Send");
	errbuf[0] = '\0';
	rc = curl_easy_send(u->curl, buf, len, &n);
	return tls_result(rc, n);
}

ssize_t
upconn_recv(struct upconn *u, void *buf, size_t len)
{
	size_t n = 0;
	CURLcode rc;

	if (!u->tls)
		return sock_result(recv(u->fd, buf, len, 0), "Recv");
	errbuf[0] = '\0';
	rc = curl_easy_recv(u->curl, buf, len, &n);
	return tls_result(rc, n);
}
