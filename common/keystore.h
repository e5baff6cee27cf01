/*
 * keystore: the SQLite key database.  One connection per process (open
 * it after fork, never before).  Every write is one BEGIN IMMEDIATE
 * transaction; readers never block writers (WAL).
 */
#ifndef KEYSTORE_H
#define KEYSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "keygen.h"
#include "modelname.h"

struct keystore;

/* keystore_open flags */
#define KEYSTORE_DURABLE	0x01	/* synchronous=FULL: creates/revokes */
#define KEYSTORE_NOCREATE	0x02	/* fail if the file does not exist */

enum keystate {
	KEY_ERROR = -1,		/* the database failed: fail closed */
	KEY_UNKNOWN = 0,
	KEY_ACTIVE,
	KEY_REVOKED,
	KEY_EXPIRED
};

enum keyorigin {
	ORIGIN_GENERATE = 0,	/* POST /key/generate */
	ORIGIN_KEYCTL,		/* ollaguard-keyctl add */
	ORIGIN_IMPORT		/* ollaguard-keyctl import */
};

/* How a key is presented: its secret, or a request signed with it. */
enum keykind {
	KIND_SECRET = 0,	/* hash is SHA-256 of the secret */
	KIND_SSH		/* hash is the sshkey_id of an ssh-ed25519 key */
};

/* Return values of the write calls besides 0 and -1. */
#define KEYSTORE_EXISTS		-2	/* the hash is already stored */
#define KEYSTORE_NAMETAKEN	-3	/* an active key has that name */
#define KEYSTORE_BUSY		-4	/* locked past the busy timeout */
#define KEYSTORE_NOTFOUND	-5

#define KEYSTORE_NAME_MAX	128

/* The PRAGMA user_version this code writes; newer files are refused. */
#define KEYSTORE_SCHEMA_VERSION	5

struct keyinfo {
	int64_t		 id;
	uint8_t		 hash[KEYGEN_HASHLEN];
	char		 hint[KEYGEN_HINT_MAX];
	char		 name[KEYSTORE_NAME_MAX];	/* "" when none */
	int64_t		 created_at;
	int64_t		 expires_at;	/* 0: never */
	int64_t		 revoked_at;	/* 0: not revoked */
	int64_t		 last_used_at;	/* 0: never */
	int64_t		 requests;
	enum keyorigin	 origin;
	/* The key's policy. */
	int		 allow;		/* POLICY_* classes (policyclass.h) */
	char		 models[MODELNAME_LIST_MAX];	/* "": every model */
	uint32_t	 rpm;		/* 0: unlimited */
	uint32_t	 concurrency;	/* 0: unlimited */
	enum keykind	 kind;
	/* Quotas, per UTC day and month; 0: unlimited. */
	int64_t		 tokens_per_day;
	int64_t		 tokens_per_month;
	int64_t		 requests_per_day;
	int		 trust_user_header;	/* X-OpenWebUI-User-* */
	int64_t		 user_tokens_per_day;	/* each such user's */
};

/* One key's use since the last flush, for keystore_record_use. */
struct keyuse {
	int64_t		 id;
	int64_t		 last_used_at;
	int64_t		 requests;
};

/* NULL on failure with a message naming the file in err. */
struct keystore	*keystore_open(const char *path, int flags, char *err,
		    size_t errlen);
void		 keystore_close(struct keystore *);
/* How long a write waits for another writer (keyfile.c). */
#define KEYSTORE_BUSY_MS	10000

/* The connection itself, for the usage table (common/usage.h), whose
 * rows live in the same file and must go through the connection that
 * follows it (its WAL, a replaced file). */
struct sqlite3	*keystore_db(struct keystore *);
/* The last SQLite error of this connection, for log lines. */
const char	*keystore_errmsg(struct keystore *);

/* Adds a key by hash.  name may be NULL; expires_at 0 means never.
 * created_at 0 means now.  Returns 0 and sets *id, or an error above. */
int		 keystore_add(struct keystore *, const struct keyinfo *,
		    int64_t *id);
/* The hot path: one prepared statement, no allocation. */
enum keystate	 keystore_lookup(struct keystore *,
		    const uint8_t hash[KEYGEN_HASHLEN], int64_t now,
		    int64_t *id);
/* The same with everything the store knows of the key in *ki. */
enum keystate	 keystore_lookup_info(struct keystore *,
		    const uint8_t hash[KEYGEN_HASHLEN], int64_t now,
		    struct keyinfo *ki);
/*
 * Changes a key that is not revoked: its name ("" for none), expiry and
 * policy, all from *ki, by ki->id.  0, KEYSTORE_NOTFOUND,
 * KEYSTORE_NAMETAKEN or -1.
 */
int		 keystore_update(struct keystore *, const struct keyinfo *);
/* Finds a key by id, name or hash (for revoke and tests). */
int		 keystore_get_id(struct keystore *, int64_t id,
		    struct keyinfo *);
int		 keystore_get_name(struct keystore *, const char *name,
		    struct keyinfo *);
int		 keystore_get_hash(struct keystore *,
		    const uint8_t hash[KEYGEN_HASHLEN], struct keyinfo *);
/* 0, KEYSTORE_NOTFOUND, or -1. Revoking a revoked key is 0. */
int		 keystore_revoke(struct keystore *, int64_t id, int64_t now);
/* Calls cb for every key in id order; stops early if cb returns -1. */
int		 keystore_list(struct keystore *,
		    int (*cb)(const struct keyinfo *, void *), void *arg);
/* How many keys are active at now; -1 on error. */
int64_t		 keystore_count_active(struct keystore *, int64_t now);
/* 1 if any connection (this one included) wrote since the last call,
 * 0 if not, -1 on error.  The first call returns 1. */
int		 keystore_changed(struct keystore *);
/* Adds the batched uses in one transaction. */
int		 keystore_record_use(struct keystore *, const struct keyuse *,
		    size_t n);
/* For bulk work (import): one transaction around many keystore_add. */
int		 keystore_begin(struct keystore *);
int		 keystore_commit(struct keystore *);
void		 keystore_rollback(struct keystore *);

/* A listed key's state at now, as keystore_lookup decides it. */
enum keystate	 keystore_key_state(const struct keyinfo *, int64_t now);
const char	*keystore_state_name(enum keystate);
const char	*keystore_origin_name(enum keyorigin);
const char	*keystore_kind_name(enum keykind);
/* -1 if name is not a kind name. */
int		 keystore_kind_parse(const char *name, enum keykind *);
/* -1 if name is not an origin name. */
int		 keystore_origin_parse(const char *name, enum keyorigin *);

#endif
