/*
 * keyrow: reading and binding a key's columns, for keystore.c alone
 * (keystore.h is the key database's interface; the names of states,
 * origins and kinds it declares are implemented in keyrow.c).
 */
#ifndef KEYROW_H
#define KEYROW_H

#include <sqlite3.h>

struct keyinfo;

#define KEYROW_COLS	"id, hash, hint, name, created_at, expires_at, revoked_at, " \
		"last_used_at, requests, origin, allow, models, rpm, " \
		"concurrency, kind, tokens_per_day, tokens_per_month, " \
		"requests_per_day, trust_user_header, user_tokens_per_day"

/* The statements keystore.c runs, in keyrow_sql. */
enum ks_stmt {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_INSERT,
	ST_HASHEXISTS,
	ST_LOOKUP,
	ST_GETID,
	ST_GETNAME,
	ST_GETHASH,
	ST_REVOKE,
	ST_IDEXISTS,
	ST_LIST,
	ST_COUNT,
	ST_DATAVERSION,
	ST_USE,
	ST_UPDATE,
	ST_MAX
};

extern const char *const keyrow_sql[ST_MAX];

/* The columns of a key's row, in the order the statements select them,
 * into ki. */
void	keyrow_read(sqlite3_stmt *, struct keyinfo *ki);
/* Binds allow, models, rpm, concurrency and the quotas from column n
 * on: 9 columns. */
void	keyrow_bind_policy(sqlite3_stmt *, int n, const struct keyinfo *ki);

#endif
