/*
 * keyauth: how a request presents its key, and the check of the Ollama
 * CLI's signed requests.  The forms:
 *
 *	Authorization: Bearer KEY
 *	x-api-key: KEY
 *	Authorization: Basic base64(user:KEY)	(the user is ignored)
 *	Authorization: PUB:SIG			(Ollama, OLLAMA_AUTH=1)
 *
 * A secret key is printable ASCII without spaces.  When Authorization
 * and x-api-key both come, they must name the same key.  Never a key
 * in the query string.
 *
 * The signed form, as Ollama's Go client makes it (api/client.go and
 * auth/auth.go): the client puts ts=UNIXTIME (decimal seconds) in the
 * query and signs, with Ed25519 and the key in ~/.ollama/id_ed25519,
 * the bytes "METHOD,PATH?ts=UNIXTIME", PATH being the API path it
 * requests ("/api/chat") without any query.  PUB is the second field of
 * the key's authorized_keys line: standard base64, padded, of the
 * ssh-ed25519 wire blob; SIG the standard base64 of the 64-byte
 * signature.  Nothing else is signed, not the body nor the host: a
 * token seen on the wire can be replayed for the same method and path
 * until ts leaves the window (signature-window, default 300 s), so
 * this form wants TLS like any other.
 */
#ifndef KEYAUTH_H
#define KEYAUTH_H

#include <stddef.h>
#include <stdint.h>

#include "sshkey.h"

#define KEYAUTH_SECRET_MAX	256
#define KEYAUTH_WINDOW_DEFAULT	300

struct request;

enum keyauth_status {
	KEYAUTH_NONE,		/* no key at all: 401 */
	KEYAUTH_SECRET,		/* a secret key, in secret */
	KEYAUTH_SSH,		/* a signed request: keyauth_verify it */
	KEYAUTH_MALFORMED,	/* a broken credential: 401 */
	KEYAUTH_CONFLICT	/* two headers, two keys: 400 */
};

struct keyauth {
	enum keyauth_status	 status;
	char			 secret[KEYAUTH_SECRET_MAX];
	size_t			 secretlen;
	uint8_t			 pub[SSHKEY_PUBLEN];
	uint8_t			 sig[SSHKEY_SIGLEN];
};

/*
 * From the two header values (NULL when absent), without their
 * surrounding blanks.  Sets and returns ka->status.
 */
enum keyauth_status keyauth_parse(const char *authz, size_t alen,
	    const char *xkey, size_t xlen, struct keyauth *ka);
/* The same from a parsed request; a repeated x-api-key is a conflict. */
enum keyauth_status keyauth_from_request(const struct request *,
	    struct keyauth *ka);
/*
 * Checks a KEYAUTH_SSH credential against the request's method and
 * target (path and query, as received): one ts in the query, within
 * window seconds of now, and a good signature.  0 or -1 with a reason
 * in *why (one that names no key).
 */
int	keyauth_verify(const struct keyauth *ka, const char *method,
	    const char *target, size_t len, int64_t now, int64_t window,
	    const char **why);
/* Erases the secret. */
void	keyauth_clear(struct keyauth *ka);

#endif
