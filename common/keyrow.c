/*
 * keyrow: a key's row as the statements of keystore.c read and write
 * it (those statements, the columns of a keyinfo, its policy and quota
 * columns), and the names of its states, origins and kinds.
 */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "keyrow.h"
#include "keystore.h"

#define KR_NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

const char *const keyrow_sql[ST_MAX] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_INSERT] = "INSERT INTO keys (hash, hint, name, created_at,"
	    " expires_at, revoked_at, origin, allow, models, rpm, concurrency,"
	    " tokens_per_day, tokens_per_month, requests_per_day,"
	    " trust_user_header, user_tokens_per_day, kind)"
	    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	[ST_HASHEXISTS] = "SELECT 1 FROM keys WHERE hash = ?",
	[ST_LOOKUP] = "SELECT " KEYROW_COLS " FROM keys WHERE hash = ?",
	[ST_GETID] = "SELECT " KEYROW_COLS " FROM keys WHERE id = ?",
	/* A name may belong to several revoked keys and one active one;
	 * the active one is the one meant, else the latest. */
	[ST_GETNAME] = "SELECT " KEYROW_COLS " FROM keys WHERE name = ?"
	    " ORDER BY revoked_at IS NOT NULL, id DESC LIMIT 1",
	[ST_GETHASH] = "SELECT " KEYROW_COLS " FROM keys WHERE hash = ?",
	[ST_REVOKE] = "UPDATE keys SET revoked_at = ?"
	    " WHERE id = ? AND revoked_at IS NULL",
	[ST_IDEXISTS] = "SELECT 1 FROM keys WHERE id = ?",
	[ST_LIST] = "SELECT " KEYROW_COLS " FROM keys ORDER BY id",
	[ST_COUNT] = "SELECT count(*) FROM keys WHERE revoked_at IS NULL"
	    " AND (expires_at IS NULL OR expires_at > ?)",
	[ST_DATAVERSION] = "PRAGMA data_version",
	[ST_USE] = "UPDATE keys SET requests = requests + ?1,"
	    " last_used_at = CASE WHEN ?2 > coalesce(last_used_at, 0)"
	    " THEN ?2 ELSE last_used_at END WHERE id = ?3",
	[ST_UPDATE] = "UPDATE keys SET name = ?, expires_at = ?, allow = ?,"
	    " models = ?, rpm = ?, concurrency = ?, tokens_per_day = ?,"
	    " tokens_per_month = ?, requests_per_day = ?,"
	    " trust_user_header = ?, user_tokens_per_day = ? WHERE id = ?"
	    " AND revoked_at IS NULL",
};

static const char *const kr_origins[] = {
	[ORIGIN_GENERATE] = "generate",
	[ORIGIN_KEYCTL] = "keyctl",
	[ORIGIN_IMPORT] = "import",
};

static const char *const kr_kinds[] = {
	[KIND_SECRET] = "secret",
	[KIND_SSH] = "ssh-ed25519",
};

/* The index of name in names into *i; -1 (and *i as it was) if none. */
static int
row_named(const char *const *names, size_t n, const char *name, int *i)
{
	size_t	 j;

	if (name == NULL)
		return -1;
	for (j = 0; j < n; j++)
		if (strcmp(name, names[j]) == 0) {
			*i = j;
			return 0;
		}
	return -1;
}

void
keyrow_read(sqlite3_stmt *st, struct keyinfo *ki)
{
	const void		*blob;
	const unsigned char	*s;
	int			 i;

	memset(ki, 0, sizeof(*ki));
	ki->id = sqlite3_column_int64(st, 0);
	blob = sqlite3_column_blob(st, 1);
	if (blob != NULL && sqlite3_column_bytes(st, 1) == KEYGEN_HASHLEN)
		memcpy(ki->hash, blob, KEYGEN_HASHLEN);
	if ((s = sqlite3_column_text(st, 2)) != NULL)
		strlcpy(ki->hint, (const char *)s, sizeof(ki->hint));
	if ((s = sqlite3_column_text(st, 3)) != NULL)
		strlcpy(ki->name, (const char *)s, sizeof(ki->name));
	ki->created_at = sqlite3_column_int64(st, 4);
	ki->expires_at = sqlite3_column_int64(st, 5);
	ki->revoked_at = sqlite3_column_int64(st, 6);
	ki->last_used_at = sqlite3_column_int64(st, 7);
	ki->requests = sqlite3_column_int64(st, 8);
	/* The CHECK constraints keep origin and kind to the known names;
	 * an unknown kind would be read as nothing it could match. */
	i = ORIGIN_KEYCTL;
	row_named(kr_origins, KR_NITEMS(kr_origins),
	    (const char *)sqlite3_column_text(st, 9), &i);
	ki->origin = i;
	ki->allow = sqlite3_column_int(st, 10);
	if ((s = sqlite3_column_text(st, 11)) != NULL)
		strlcpy(ki->models, (const char *)s, sizeof(ki->models));
	ki->rpm = sqlite3_column_int64(st, 12);
	ki->concurrency = sqlite3_column_int64(st, 13);
	i = KIND_SSH + 1;
	row_named(kr_kinds, KR_NITEMS(kr_kinds),
	    (const char *)sqlite3_column_text(st, 14), &i);
	ki->kind = i;
	ki->tokens_per_day = sqlite3_column_int64(st, 15);
	ki->tokens_per_month = sqlite3_column_int64(st, 16);
	ki->requests_per_day = sqlite3_column_int64(st, 17);
	ki->trust_user_header = sqlite3_column_int(st, 18);
	ki->user_tokens_per_day = sqlite3_column_int64(st, 19);
}

/* Binds allow, models, rpm, concurrency and the quotas from column n
 * on: 9 columns. */
void
keyrow_bind_policy(sqlite3_stmt *st, int n, const struct keyinfo *ki)
{
	sqlite3_bind_int(st, n, ki->allow);
	if (ki->models[0] != '\0')
		sqlite3_bind_text(st, n + 1, ki->models, -1, SQLITE_STATIC);
	if (ki->rpm != 0)
		sqlite3_bind_int64(st, n + 2, ki->rpm);
	if (ki->concurrency != 0)
		sqlite3_bind_int64(st, n + 3, ki->concurrency);
	if (ki->tokens_per_day > 0)
		sqlite3_bind_int64(st, n + 4, ki->tokens_per_day);
	if (ki->tokens_per_month > 0)
		sqlite3_bind_int64(st, n + 5, ki->tokens_per_month);
	if (ki->requests_per_day > 0)
		sqlite3_bind_int64(st, n + 6, ki->requests_per_day);
	sqlite3_bind_int(st, n + 7, ki->trust_user_header != 0);
	if (ki->user_tokens_per_day > 0)
		sqlite3_bind_int64(st, n + 8, ki->user_tokens_per_day);
}

/* Revoked beats expired, as in keystore_lookup_name. */
enum keystate
keystore_key_state(const struct keyinfo *ki, int64_t now)
{
	if (ki->revoked_at != 0)
		return KEY_REVOKED;
	if (ki->expires_at != 0 && ki->expires_at <= now)
		return KEY_EXPIRED;
	return KEY_ACTIVE;
}

const char *
keystore_state_name(enum keystate state)
{
	switch (state) {
	case KEY_UNKNOWN:
		return "unknown";
	case KEY_ACTIVE:
		return "active";
	case KEY_REVOKED:
		return "revoked";
	case KEY_EXPIRED:
		return "expired";
	case KEY_ERROR:
		break;
	}
	return "error";
}

const char *
keystore_origin_name(enum keyorigin origin)
{
	if (origin < ORIGIN_GENERATE || origin > ORIGIN_IMPORT)
		return "unknown";
	return kr_origins[origin];
}

int
keystore_origin_parse(const char *name, enum keyorigin *origin)
{
	int	 i;

	if (row_named(kr_origins, KR_NITEMS(kr_origins), name, &i) == -1)
		return -1;
	*origin = i;
	return 0;
}

const char *
keystore_kind_name(enum keykind kind)
{
	if (kind != KIND_SECRET && kind != KIND_SSH)
		return "unknown";
	return kr_kinds[kind];
}

int
keystore_kind_parse(const char *name, enum keykind *kind)
{
	int	 i;

	if (row_named(kr_kinds, KR_NITEMS(kr_kinds), name, &i) == -1)
		return -1;
	*kind = i;
	return 0;
}
