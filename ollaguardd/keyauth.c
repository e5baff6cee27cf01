/*
 * keyauth: the header forms are told apart by their scheme: "Bearer"
 * and "Basic" (any case), or none and a colon for Ollama's signed form.
 * Signatures are checked with OpenSSL's EVP interface, the only crypto
 * here; base64 is sshkey's strict decoder.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "keyauth.h"
#include "keygen.h"
#include "request.h"

#define BASIC_MAX	(KEYAUTH_SECRET_MAX + 256)
#define SIGNED_MAX	1024	/* "METHOD,PATH?ts=N" */

/* 1 if s[0, len) may be a secret key: printable ASCII, no spaces. */
static int
secret_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len >= KEYAUTH_SECRET_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return 0;
	return 1;
}

static int
set_secret(struct keyauth *ka, const char *s, size_t len)
{
	if (!secret_ok(s, len))
		return -1;
	memcpy(ka->secret, s, len);
	ka->secret[len] = '\0';
	ka->secretlen = len;
	return 0;
}

/* If v starts with scheme and blanks, the rest; else NULL. */
static const char *
after_scheme(const char *v, size_t len, const char *scheme, size_t *rest)
{
	size_t sl = strlen(scheme), i;

	if (len <= sl || strncasecmp(v, scheme, sl) != 0 ||
	    (v[sl] != ' ' && v[sl] != '\t'))
		return NULL;
	for (i = sl; i < len && (v[i] == ' ' || v[i] == '\t'); i++)
		;
	*rest = len - i;
	return v + i;
}

static int
parse_basic(struct keyauth *ka, const char *b64, size_t len)
{
	uint8_t buf[BASIC_MAX];
	const uint8_t *colon;
	size_t n;
	int rc = -1;

	if (sshkey_b64decode(b64, len, buf, sizeof(buf), &n) == 0 &&
	    (colon = memchr(buf, ':', n)) != NULL)
		rc = set_secret(ka, (const char *)colon + 1,
		    n - (size_t)(colon + 1 - buf));
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

static int
parse_signed(struct keyauth *ka, const char *v, size_t len)
{
	uint8_t blob[128];
	const char *colon;
	size_t n;

	if ((colon = memchr(v, ':', len)) == NULL ||
	    sshkey_b64decode(v, (size_t)(colon - v), blob, sizeof(blob),
	    &n) == -1 || sshkey_blob_parse(blob, n, ka->pub) == -1 ||
	    sshkey_b64decode(colon + 1, len - (size_t)(colon + 1 - v), ka->sig,
	    sizeof(ka->sig), &n) == -1 || n != SSHKEY_SIGLEN)
		return -1;
	return 0;
}

/* The Authorization value into ka: its status. */
static enum keyauth_status
parse_authz(struct keyauth *ka, const char *v, size_t len)
{
	const char *rest;
	size_t rlen;

	if ((rest = after_scheme(v, len, "Bearer", &rlen)) != NULL)
		return set_secret(ka, rest, rlen) == 0 ? KEYAUTH_SECRET :
		    KEYAUTH_MALFORMED;
	if ((rest = after_scheme(v, len, "Basic", &rlen)) != NULL)
		return parse_basic(ka, rest, rlen) == 0 ? KEYAUTH_SECRET :
		    KEYAUTH_MALFORMED;
	if (memchr(v, ' ', len) == NULL && parse_signed(ka, v, len) == 0)
		return KEYAUTH_SSH;
	return KEYAUTH_MALFORMED;
}

enum keyauth_status
keyauth_parse(const char *authz, size_t alen, const char *xkey, size_t xlen,
    struct keyauth *ka)
{
	memset(ka, 0, sizeof(*ka));
	if (authz != NULL)
		ka->status = parse_authz(ka, authz, alen);
	if (xkey == NULL || ka->status == KEYAUTH_MALFORMED)
		return ka->status;
	if (!secret_ok(xkey, xlen))
		ka->status = KEYAUTH_MALFORMED;
	else if (ka->status == KEYAUTH_SSH || (ka->status == KEYAUTH_SECRET &&
	    (ka->secretlen != xlen ||
	    !keygen_equal(ka->secret, xkey, xlen))))
		ka->status = KEYAUTH_CONFLICT;
	else if (ka->status == KEYAUTH_NONE) {
		set_secret(ka, xkey, xlen);
		ka->status = KEYAUTH_SECRET;
	}
	if (ka->status != KEYAUTH_SECRET)
		keyauth_clear(ka);
	return ka->status;
}

enum keyauth_status
keyauth_from_request(const struct request *req, struct keyauth *ka)
{
	const struct header *h;
	const char *authz, *xkey = NULL;
	size_t alen, xlen = 0;
	int i;

	authz = request_header(req, RH_AUTHORIZATION, &alen);
	for (i = 0; i < req->nhdr; i++) {
		h = &req->hdr[i];
		if (h->namelen != 9 ||
		    strncasecmp(h->name, "x-api-key", 9) != 0)
			continue;
		if (xkey != NULL) {
			memset(ka, 0, sizeof(*ka));
			return ka->status = KEYAUTH_CONFLICT;
		}
		xkey = h->value;
		xlen = h->valuelen;
	}
	return keyauth_parse(authz, alen, xkey, xlen, ka);
}

/* The one ts= of the query in target, or NULL. */
static const char *
find_ts(const char *target, size_t len, size_t *tslen)
{
	const char *q, *p, *end = target + len, *found = NULL, *amp;
	size_t n;

	if ((q = memchr(target, '?', len)) == NULL)
		return NULL;
	for (p = q + 1; p < end; p = amp + 1) {
		if ((amp = memchr(p, '&', (size_t)(end - p))) == NULL)
			amp = end;
		if (amp - p >= 3 && strncmp(p, "ts=", 3) == 0) {
			if (found != NULL)
				return NULL;
			found = p + 3;
			*tslen = (size_t)(amp - found);
		}
		if (amp == end)
			break;
	}
	if (found == NULL || *tslen == 0 || *tslen > 18)
		return NULL;
	for (n = 0; n < *tslen; n++)
		if (!isdigit((unsigned char)found[n]))
			return NULL;
	return found;
}

static int
ed25519_verify(const uint8_t pub[SSHKEY_PUBLEN],
    const uint8_t sig[SSHKEY_SIGLEN], const char *msg, size_t len)
{
	EVP_PKEY *pkey;
	EVP_MD_CTX *ctx = NULL;
	int ok = 0;

	pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub,
	    SSHKEY_PUBLEN);
	if (pkey != NULL && (ctx = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pkey) == 1)
		ok = EVP_DigestVerify(ctx, sig, SSHKEY_SIGLEN,
		    (const unsigned char *)msg, len) == 1;
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	return ok;
}

int
keyauth_verify(const struct keyauth *ka, const char *method,
    const char *target, size_t len, int64_t now, int64_t window,
    const char **why)
{
	char msg[SIGNED_MAX];
	const char *ts, *q;
	size_t tslen = 0, plen;
	int64_t t = 0;
	size_t i;
	int n;

	if (ka->status != KEYAUTH_SSH) {
		*why = "not a signed request";
		return -1;
	}
	if ((ts = find_ts(target, len, &tslen)) == NULL) {
		*why = "a signed request needs one ts= in its query";
		return -1;
	}
	for (i = 0; i < tslen; i++)
		t = t * 10 + (ts[i] - '0');
	if (t < now - window || t > now + window) {
		*why = "the signature's ts is outside the signature window";
		return -1;
	}
	q = memchr(target, '?', len);
	plen = (size_t)(q - target);
	n = snprintf(msg, sizeof(msg), "%s,%.*s?ts=%.*s", method, (int)plen,
	    target, (int)tslen, ts);
	if (n < 0 || (size_t)n >= sizeof(msg) ||
	    !ed25519_verify(ka->pub, ka->sig, msg, (size_t)n)) {
		*why = "bad signature";
		return -1;
	}
	return 0;
}

void
keyauth_clear(struct keyauth *ka)
{
	explicit_bzero(ka->secret, sizeof(ka->secret));
	ka->secretlen = 0;
}
