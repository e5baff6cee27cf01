/*
 * keystore: the SQLite key database.  The file holds one table of key
 * hashes and their metadata; keyfile.c opens, checks and migrates it,
 * and this file runs the queries.  Every statement the programs run is
 * prepared the first time it is used and then reused, so the lookup on
 * each request neither parses SQL nor allocates.  Errors go back to the caller in
 * err or through keystore_errmsg; nothing here logs, and no key or
 * hash ever appears in a message.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "keystore.h"
#include "keyfile.h"
#include "keyrow.h"
#include "timefmt.h"


struct keystore {
	sqlite3		*db;
	char		 id[KEYFILE_ID_MAX];	/* the file opened */
	sqlite3_stmt	*st[ST_MAX];
	int		 intx;		/* inside keystore_begin */
	/*
	 * PRAGMA data_version only moves for other connections' commits,
	 * so our own commits that changed rows are counted here for
	 * keystore_changed.
	 */
	int		 seen;
	int64_t		 dataversion;
	uint64_t	 writes;
	uint64_t	 writes_seen;
	int64_t		 changes;	/* total_changes at BEGIN */
	int		 stfail;	/* ks_fail's answer when ks_st fails */
	char		 errmsg[256];
};

static struct keystore	*ks_open_once(const char *, int, int *, char *,
		    size_t);
static int	ks_fail(struct keystore *, int);
static void	ks_reset(sqlite3_stmt *);
static int	ks_txbegin(struct keystore *, int *);
static int	ks_txend(struct keystore *, int, int);
static int	ks_get(struct keystore *, sqlite3_stmt *, struct keyinfo *);
static int	ks_exists(struct keystore *, sqlite3_stmt *);
static sqlite3_stmt *ks_st(struct keystore *, int);


/*
 * SQLite answers some lock conflicts while a file is being created or
 * switched to WAL at once with SQLITE_BUSY, without waiting for the busy
 * timeout; those opens are tried again for up to about 5 s.
 */
struct keystore *
keystore_open(const char *path, int flags, char *err, size_t errlen)
{
	struct timespec	 ts = { 0, 50 * 1000 * 1000 };
	struct keystore	*ks;
	int		 tries, busy;

	for (tries = 0;; tries++) {
		busy = 0;
		if ((ks = ks_open_once(path, flags, &busy, err,
		    errlen)) != NULL || !busy || tries == 100)
			return ks;
		nanosleep(&ts, NULL);
	}
}

static struct keystore *
ks_open_once(const char *path, int flags, int *busy, char *err,
    size_t errlen)
{
	struct keystore	*ks;

	if ((ks = calloc(1, sizeof(*ks))) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if ((ks->db = keyfile_open(path, flags, busy, ks->id, err,
	    errlen)) == NULL) {
		free(ks);
		return NULL;
	}
	return ks;
}

void
keystore_close(struct keystore *ks)
{
	int	 i;

	if (ks == NULL)
		return;
	for (i = 0; i < ST_MAX; i++)
		sqlite3_finalize(ks->st[i]);
	keyfile_close(ks->db, ks->id);
	free(ks);
}

sqlite3 *
keystore_db(struct keystore *ks)
{
	return ks->db;
}

const char *
keystore_errmsg(struct keystore *ks)
{
	if (ks->errmsg[0] != '\0')
		return ks->errmsg;
	return sqlite3_errmsg(ks->db);
}

/*
 * Keeps SQLite's message for keystore_errmsg (a rollback after the
 * failure would replace it) and maps the code to ours.
 */
static int
ks_fail(struct keystore *ks, int rc)
{
	strlcpy(ks->errmsg, sqlite3_errmsg(ks->db), sizeof(ks->errmsg));
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return KEYSTORE_BUSY;
	default:
		return -1;
	}
}

/*
 * A statement, compiled the first time it is needed: a daemon's worker
 * uses four of them, and compiling all at start made each new worker
 * (a burst forks hundreds) pay for the rest.  NULL, with the error kept
 * for keystore_errmsg, when SQLite cannot compile it.
 */
static sqlite3_stmt *
ks_st(struct keystore *ks, int i)
{
	int	 rc;

	if (ks->st[i] == NULL && (rc = sqlite3_prepare_v3(ks->db, keyrow_sql[i],
	    -1, SQLITE_PREPARE_PERSISTENT, &ks->st[i], NULL)) != SQLITE_OK) {
		ks->stfail = ks_fail(ks, rc);
		sqlite3_finalize(ks->st[i]);
		ks->st[i] = NULL;
	}
	return ks->st[i];
}

/* Statements are reset at once so none holds a read snapshot open. */
static void
ks_reset(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Starts a write transaction unless the caller's keystore_begin did. */
static int
ks_txbegin(struct keystore *ks, int *own)
{
	sqlite3_stmt	*st;
	int		 rc, ret = 0;

	*own = 0;
	if (ks->intx)
		return 0;
	if ((st = ks_st(ks, ST_BEGIN)) == NULL)
		return ks->stfail;
	if ((rc = sqlite3_step(st)) != SQLITE_DONE)
		ret = ks_fail(ks, rc);
	else {
		*own = 1;
		ks->changes = sqlite3_total_changes64(ks->db);
	}
	sqlite3_reset(st);
	return ret;
}

static int
ks_txend(struct keystore *ks, int own, int ret)
{
	sqlite3_stmt	*st;
	int		 rc;

	if (!own)
		return ret;
	if (ret == 0 && (st = ks_st(ks, ST_COMMIT)) == NULL)
		ret = ks->stfail;
	else if (ret == 0) {
		rc = sqlite3_step(st);
		if (rc != SQLITE_DONE)
			ret = ks_fail(ks, rc);
		else if (sqlite3_total_changes64(ks->db) != ks->changes)
			ks->writes++;
		sqlite3_reset(st);
	}
	/* A ROLLBACK that cannot be compiled leaves it to sqlite3_exec. */
	if (ret != 0 && !sqlite3_get_autocommit(ks->db)) {
		if ((st = ks_st(ks, ST_ROLLBACK)) != NULL) {
			sqlite3_step(st);
			sqlite3_reset(st);
		} else
			sqlite3_exec(ks->db, "ROLLBACK", NULL, NULL, NULL);
	}
	return ret;
}

int
keystore_begin(struct keystore *ks)
{
	int	 own, ret;

	if (ks->intx) {
		strlcpy(ks->errmsg, "a transaction is already open",
		    sizeof(ks->errmsg));
		return -1;
	}
	if ((ret = ks_txbegin(ks, &own)) == 0)
		ks->intx = 1;
	return ret;
}

int
keystore_commit(struct keystore *ks)
{
	if (!ks->intx) {
		strlcpy(ks->errmsg, "no transaction is open",
		    sizeof(ks->errmsg));
		return -1;
	}
	ks->intx = 0;
	return ks_txend(ks, 1, 0);
}

void
keystore_rollback(struct keystore *ks)
{
	if (!ks->intx)
		return;
	ks->intx = 0;
	ks_txend(ks, 1, -1);
}

int
keystore_add(struct keystore *ks, const struct keyinfo *ki, int64_t *id)
{
	sqlite3_stmt	*st;
	size_t		 hintlen, namelen;
	int		 own, rc, ret;

	hintlen = strnlen(ki->hint, sizeof(ki->hint));
	namelen = strnlen(ki->name, sizeof(ki->name));
	/* Every time stored must be one export can write and import read. */
	if (hintlen == sizeof(ki->hint) || namelen == sizeof(ki->name) ||
	    ki->origin < ORIGIN_GENERATE || ki->origin > ORIGIN_IMPORT ||
	    ki->created_at < 0 || ki->created_at > TIMEFMT_MAX ||
	    ki->expires_at < 0 || ki->expires_at > TIMEFMT_MAX ||
	    ki->revoked_at < 0 || ki->revoked_at > TIMEFMT_MAX ||
	    ki->allow < 0 || ki->allow > 7 ||
	    strnlen(ki->models, sizeof(ki->models)) == sizeof(ki->models)) {
		strlcpy(ks->errmsg, "invalid key information",
		    sizeof(ks->errmsg));
		return -1;
	}
	if ((st = ks_st(ks, ST_INSERT)) == NULL)
		return ks->stfail;
	if ((ret = ks_txbegin(ks, &own)) != 0)
		return ret;

	sqlite3_bind_blob(st, 1, ki->hash, KEYGEN_HASHLEN, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ki->hint, hintlen, SQLITE_STATIC);
	if (namelen > 0)
		sqlite3_bind_text(st, 3, ki->name, namelen, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, ki->created_at != 0 ? ki->created_at :
	    (int64_t)time(NULL));
	if (ki->expires_at != 0)
		sqlite3_bind_int64(st, 5, ki->expires_at);
	if (ki->revoked_at != 0)
		sqlite3_bind_int64(st, 6, ki->revoked_at);
	sqlite3_bind_text(st, 7, keystore_origin_name(ki->origin), -1, SQLITE_STATIC);
	keyrow_bind_policy(st, 8, ki);
	sqlite3_bind_text(st, 17, keystore_kind_name(ki->kind == KIND_SSH ? KIND_SSH : KIND_SECRET), -1,
	    SQLITE_STATIC);

	if ((rc = sqlite3_step(st)) == SQLITE_DONE) {
		if (id != NULL)
			*id = sqlite3_last_insert_rowid(ks->db);
	} else if (sqlite3_extended_errcode(ks->db) ==
	    SQLITE_CONSTRAINT_UNIQUE) {
		/* Two columns are unique; which one clashed decides. */
		ks_fail(ks, rc);
		ks_reset(st);
		if ((st = ks_st(ks, ST_HASHEXISTS)) == NULL)
			return ks_txend(ks, own, ks->stfail);
		sqlite3_bind_blob(st, 1, ki->hash, KEYGEN_HASHLEN,
		    SQLITE_STATIC);
		ret = ks_exists(ks, st);
		if (ret == 1)
			ret = KEYSTORE_EXISTS;
		else if (ret == 0)
			ret = KEYSTORE_NAMETAKEN;
	} else
		ret = ks_fail(ks, rc);
	ks_reset(st);
	return ks_txend(ks, own, ret);
}

/* Steps an existence query: 1 found, 0 not, or an error; resets st. */
static int
ks_exists(struct keystore *ks, sqlite3_stmt *st)
{
	int	 rc, ret;

	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		ret = 1;
	else if (rc == SQLITE_DONE)
		ret = 0;
	else
		ret = ks_fail(ks, rc);
	ks_reset(st);
	return ret;
}

enum keystate
keystore_lookup(struct keystore *ks, const uint8_t hash[KEYGEN_HASHLEN],
    int64_t now, int64_t *id)
{
	struct keyinfo	 ki;
	enum keystate	 state;

	state = keystore_lookup_info(ks, hash, now, &ki);
	if (id != NULL)
		*id = ki.id;
	return state;
}

enum keystate
keystore_lookup_info(struct keystore *ks, const uint8_t hash[KEYGEN_HASHLEN],
    int64_t now, struct keyinfo *ki)
{
	sqlite3_stmt	*st;
	enum keystate	 state;
	int		 rc;

	memset(ki, 0, sizeof(*ki));
	if ((st = ks_st(ks, ST_LOOKUP)) == NULL)
		return KEY_ERROR;
	sqlite3_bind_blob(st, 1, hash, KEYGEN_HASHLEN, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		keyrow_read(st, ki);
		if (ki->revoked_at != 0)
			state = KEY_REVOKED;
		else if (ki->expires_at != 0 && ki->expires_at <= now)
			state = KEY_EXPIRED;
		else
			state = KEY_ACTIVE;
	} else if (rc == SQLITE_DONE)
		state = KEY_UNKNOWN;
	else {
		ks_fail(ks, rc);
		state = KEY_ERROR;
	}
	ks_reset(st);
	return state;
}

int
keystore_update(struct keystore *ks, const struct keyinfo *ki)
{
	sqlite3_stmt	*st;
	int		 own, rc, ret;

	if (strnlen(ki->name, sizeof(ki->name)) == sizeof(ki->name) ||
	    ki->allow < 0 || ki->allow > 7 ||
	    strnlen(ki->models, sizeof(ki->models)) == sizeof(ki->models)) {
		strlcpy(ks->errmsg, "invalid key information",
		    sizeof(ks->errmsg));
		return -1;
	}
	if ((st = ks_st(ks, ST_UPDATE)) == NULL)
		return ks->stfail;
	if ((ret = ks_txbegin(ks, &own)) != 0)
		return ret;
	if (ki->name[0] != '\0')
		sqlite3_bind_text(st, 1, ki->name, -1, SQLITE_STATIC);
	if (ki->expires_at != 0)
		sqlite3_bind_int64(st, 2, ki->expires_at);
	keyrow_bind_policy(st, 3, ki);
	sqlite3_bind_int64(st, 12, ki->id);
	if ((rc = sqlite3_step(st)) == SQLITE_DONE) {
		if (sqlite3_changes(ks->db) == 0)
			ret = KEYSTORE_NOTFOUND;
	} else if (sqlite3_extended_errcode(ks->db) ==
	    SQLITE_CONSTRAINT_UNIQUE) {
		ks_fail(ks, rc);
		ret = KEYSTORE_NAMETAKEN;
	} else
		ret = ks_fail(ks, rc);
	ks_reset(st);
	return ks_txend(ks, own, ret);
}

/* Runs a bound single-row query: 0, KEYSTORE_NOTFOUND or -1. */
static int
ks_get(struct keystore *ks, sqlite3_stmt *st, struct keyinfo *ki)
{
	int	 rc, ret = 0;

	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		keyrow_read(st, ki);
	else if (rc == SQLITE_DONE)
		ret = KEYSTORE_NOTFOUND;
	else
		ret = ks_fail(ks, rc);
	ks_reset(st);
	return ret;
}

int
keystore_get_id(struct keystore *ks, int64_t id, struct keyinfo *ki)
{
	sqlite3_stmt	*st;

	if ((st = ks_st(ks, ST_GETID)) == NULL)
		return ks->stfail;
	sqlite3_bind_int64(st, 1, id);
	return ks_get(ks, st, ki);
}

int
keystore_get_name(struct keystore *ks, const char *name, struct keyinfo *ki)
{
	sqlite3_stmt	*st;

	if (name == NULL || name[0] == '\0')
		return KEYSTORE_NOTFOUND;
	if ((st = ks_st(ks, ST_GETNAME)) == NULL)
		return ks->stfail;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	return ks_get(ks, st, ki);
}

int
keystore_get_hash(struct keystore *ks, const uint8_t hash[KEYGEN_HASHLEN],
    struct keyinfo *ki)
{
	sqlite3_stmt	*st;

	if ((st = ks_st(ks, ST_GETHASH)) == NULL)
		return ks->stfail;
	sqlite3_bind_blob(st, 1, hash, KEYGEN_HASHLEN, SQLITE_STATIC);
	return ks_get(ks, st, ki);
}

int
keystore_revoke(struct keystore *ks, int64_t id, int64_t now)
{
	sqlite3_stmt	*st, *ex;
	int		 own, rc, ret;

	if ((st = ks_st(ks, ST_REVOKE)) == NULL ||
	    (ex = ks_st(ks, ST_IDEXISTS)) == NULL)
		return ks->stfail;
	if ((ret = ks_txbegin(ks, &own)) != 0)
		return ret;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, id);
	if ((rc = sqlite3_step(st)) != SQLITE_DONE)
		ret = ks_fail(ks, rc);
	else if (sqlite3_changes(ks->db) == 0) {
		/* Already revoked is fine; no such key is not. */
		sqlite3_bind_int64(ex, 1, id);
		ret = ks_exists(ks, ex);
		if (ret == 0)
			ret = KEYSTORE_NOTFOUND;
		else if (ret == 1)
			ret = 0;
	}
	ks_reset(st);
	return ks_txend(ks, own, ret);
}

int
keystore_list(struct keystore *ks, int (*cb)(const struct keyinfo *, void *),
    void *arg)
{
	sqlite3_stmt	*st;
	struct keyinfo	 ki;
	int		 rc, ret = 0;

	if ((st = ks_st(ks, ST_LIST)) == NULL)
		return ks->stfail;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		keyrow_read(st, &ki);
		if (cb(&ki, arg) == -1)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		ret = ks_fail(ks, rc);
	ks_reset(st);
	return ret;
}

int64_t
keystore_count_active(struct keystore *ks, int64_t now)
{
	sqlite3_stmt	*st;
	int64_t		 n = -1;
	int		 rc;

	if ((st = ks_st(ks, ST_COUNT)) == NULL)
		return -1;

	sqlite3_bind_int64(st, 1, now);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	else
		ks_fail(ks, rc);
	ks_reset(st);
	return n;
}

int
keystore_changed(struct keystore *ks)
{
	sqlite3_stmt	*st;
	int64_t		 v;
	int		 rc, changed;

	if ((st = ks_st(ks, ST_DATAVERSION)) == NULL)
		return -1;

	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		ks_fail(ks, rc);
		ks_reset(st);
		return -1;
	}
	v = sqlite3_column_int64(st, 0);
	ks_reset(st);
	changed = !ks->seen || v != ks->dataversion ||
	    ks->writes != ks->writes_seen;
	ks->seen = 1;
	ks->dataversion = v;
	ks->writes_seen = ks->writes;
	return changed;
}

int
keystore_record_use(struct keystore *ks, const struct keyuse *use, size_t n)
{
	sqlite3_stmt	*st;
	size_t		 i;
	int		 own, rc, ret;

	if (n == 0)
		return 0;
	if ((st = ks_st(ks, ST_USE)) == NULL)
		return ks->stfail;
	if ((ret = ks_txbegin(ks, &own)) != 0)
		return ret;
	for (i = 0; i < n && ret == 0; i++) {
		sqlite3_bind_int64(st, 1, use[i].requests);
		sqlite3_bind_int64(st, 2, use[i].last_used_at);
		sqlite3_bind_int64(st, 3, use[i].id);
		if ((rc = sqlite3_step(st)) != SQLITE_DONE)
			ret = ks_fail(ks, rc);
		ks_reset(st);
	}
	return ks_txend(ks, own, ret);
}
