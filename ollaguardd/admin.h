/*
 * admin: the daemon's own endpoint, POST /key/generate.
 */
#ifndef ADMIN_H
#define ADMIN_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "auth.h"

struct client;
struct config;
struct keyinfo;
struct keystore;
struct outcome;

/* The largest body the daemon's own endpoints read. */
#define ADMIN_BODY_MAX	(16 * 1024)

void	admin_init(const struct config *);
/* 1 if a master key is configured, without which keys are not made. */
int	admin_enabled(void);
/* 1 if the request is for the daemon itself. */
int	admin_match(const struct client *);
/* Answers it, with a, the result of authenticating its key. */
void	admin_generate(struct client *, enum auth_result a,
	    const struct auth_who *, struct outcome *);
/* Reads a whole small body into buf (NUL-terminated), answering
 * Expect: 100-continue first; its length, or -1 once answered. */
ssize_t	admin_read_body(struct client *, char *buf, size_t size,
	    struct outcome *);
/*
 * A keystore call's result rc: 0 if it went through, else -1 once the
 * failure is answered (404, 409 for a name in use, 503) and, for a
 * database failure, logged with what.
 */
int	admin_store_result(struct client *, struct outcome *,
	    struct keystore *, int rc, const char *what);
/*
 * Makes a key from a JSON body of /key/generate's fields (default-allow
 * when it gives no classes) and stores it durably: 0 with ki (its id
 * set) and the key, or -1 once the failure (400, 409, 503) is answered.
 */
int	admin_new_key(struct client *, const char *body, size_t len,
	    struct keyinfo *ki, char *key, size_t keysize, struct outcome *);

#endif
