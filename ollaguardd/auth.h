/*
 * auth: deciding whether a request's key may pass.  Per worker process:
 * it holds the worker's view of the key database and batches the use
 * counters so the hot path never writes.
 */
#ifndef AUTH_H
#define AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "keystore.h"

struct config;

enum auth_result {
	AUTH_PASS,
	AUTH_MISSING,		/* no Bearer key: 401 */
	AUTH_INVALID,		/* unknown, revoked or expired: 401 */
	AUTH_UNAVAILABLE	/* the database failed: 503, never allow */
};

struct auth_who {
	int64_t		 key_id;	/* 0 for master or open mode */
	int		 master;
	int		 open;		/* no key configured: all pass */
	char		 name[KEYSTORE_NAME_MAX];	/* the key's, or "" */
};

/* The database comes from dbconn. */
void		 auth_init(const struct config *);
/* hdr is the Authorization value (NULL when absent). */
enum auth_result auth_check(const char *hdr, size_t len,
		    struct auth_who *who);
/* Writes the batched use counters if due (or now, with force). */
void		 auth_flush(int force);
void		 auth_cleanup(void);

#endif
