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
#include "modelname.h"

struct config;
struct request;

enum auth_result {
	AUTH_PASS,
	AUTH_MISSING,		/* no Bearer key: 401 */
	AUTH_INVALID,		/* unknown, revoked or expired: 401 */
	AUTH_UNAVAILABLE,	/* the database failed: 503, never allow */
	AUTH_CONFLICT		/* Authorization and x-api-key differ: 400 */
};

struct auth_who {
	int64_t		 key_id;	/* 0 for master or open mode */
	int		 master;
	int		 open;		/* no key configured: all pass */
	char		 name[KEYSTORE_NAME_MAX];	/* the key's, or "" */
	/* The key's policy; everything for master and open mode. */
	int		 allow;		/* POLICY_* classes */
	char		 models[MODELNAME_LIST_MAX];	/* "": every model */
	uint32_t	 rpm;		/* 0: unlimited */
	uint32_t	 concurrency;	/* 0: unlimited */
	/* The key's quotas (0: none), as keystore.h has them. */
	int64_t		 tokens_per_day;
	int64_t		 tokens_per_month;
	int64_t		 requests_per_day;
	int		 trust_user_header;
	int64_t		 user_tokens_per_day;
	const char	*why;		/* for the log: why AUTH_INVALID */
};

/* The database comes from dbconn. */
void		 auth_init(const struct config *);
/* hdr is the Authorization value (NULL when absent): Bearer only. */
enum auth_result auth_check(const char *hdr, size_t len,
		    struct auth_who *who);
/*
 * A proxied request, with the key in any form keyauth.h knows: a secret
 * (Bearer, x-api-key, Basic) or the Ollama CLI's signature, checked
 * against window seconds.
 */
enum auth_result auth_request(const struct request *, int64_t window,
		    struct auth_who *who);
/* Writes the batched use counters if due (or now, with force). */
void		 auth_flush(int force);
void		 auth_cleanup(void);

#endif
