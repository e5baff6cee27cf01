/*
 * test_keystore: the key database against real files in a temporary
 * folder: adding, looking up, revoking and expiring keys, names, the
 * schema migrations, change detection between connections, writers in
 * several processes at once, and the refusals on open.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "keygen.h"
#include "keystore.h"

#define NWRITERS	4
#define NPERWRITER	250

struct tdir {
	char	 dir[128];
	char	 db[PATH_MAX];
};

static int
setup(void **state)
{
	struct tdir	*t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return -1;
	strlcpy(t->dir, "/tmp/test_keystore.XXXXXXXX", sizeof(t->dir));
	if (mkdtemp(t->dir) == NULL) {
		free(t);
		return -1;
	}
	snprintf(t->db, sizeof(t->db), "%s/keys.db", t->dir);
	*state = t;
	return 0;
}

static void
rmtree(const char *dir)
{
	char		 path[PATH_MAX];
	struct dirent	*de;
	struct stat	 sb;
	DIR		*d;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
			rmtree(path);
		else
			unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

static int
teardown(void **state)
{
	struct tdir	*t = *state;

	rmtree(t->dir);
	free(t);
	return 0;
}

static struct keystore *
open_ok(const char *path, int flags)
{
	struct keystore	*ks;
	char		 err[512];

	ks = keystore_open(path, flags, err, sizeof(err));
	if (ks == NULL)
		fail_msg("keystore_open: %s", err);
	return ks;
}

/* A key's hash and hint, made the way the programs make them. */
static void
mkkey(struct keyinfo *ki, const char *name)
{
	char	 key[KEYGEN_KEY_MAX];

	memset(ki, 0, sizeof(*ki));
	assert_int_equal(keygen_new("sk-", key, sizeof(key)), 0);
	keygen_hash(key, strlen(key), ki->hash);
	keygen_hint(key, 3, ki->hint, sizeof(ki->hint));
	if (name != NULL)
		strlcpy(ki->name, name, sizeof(ki->name));
	ki->origin = ORIGIN_KEYCTL;
	explicit_bzero(key, sizeof(key));
}

static int64_t
user_version(const char *path)
{
	sqlite3		*db;
	sqlite3_stmt	*st;
	int64_t		 v = -1;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1,
	    &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void
rawexec(const char *path, const char *sql)
{
	sqlite3	*db;
	char	*msg = NULL;

	assert_int_equal(sqlite3_open_v2(path, &db,
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("sqlite3_exec: %s", msg);
	sqlite3_close(db);
}

static void
test_add_lookup(void **state)
{
	struct tdir	*t = *state;
	struct keystore	*ks;
	struct keyinfo	 ki, got;
	uint8_t		 other[KEYGEN_HASHLEN];
	int64_t		 id, id2, now = time(NULL);

	ks = open_ok(t->db, KEYSTORE_DURABLE);
	mkkey(&ki, "alice");
	ki.origin = ORIGIN_GENERATE;
	assert_int_equal(keystore_add(ks, &ki, &id), 0);
	assert_true(id > 0);

	assert_int_equal(keystore_lookup(ks, ki.hash, now, &id2), KEY_ACTIVE);
	assert_int_equal(id2, id);
	keygen_hash("not a stored key", 16, other);
	assert_int_equal(keystore_lookup(ks, other, now, &id2), KEY_UNKNOWN);
	assert_int_equal(id2, 0);

	assert_int_equal(keystore_get_id(ks, id, &got), 0);
	assert_int_equal(got.id, id);
	assert_memory_equal(got.hash, ki.hash, KEYGEN_HASHLEN);
	assert_string_equal(got.hint, ki.hint);
	assert_string_equal(got.name, "alice");
	assert_in_range(got.created_at, now - 5, now + 5);
	assert_int_equal(got.expires_at, 0);
	assert_int_equal(got.revoked_at, 0);
	assert_int_equal(got.last_used_at, 0);
	assert_int_equal(got.requests, 0);
	assert_int_equal(got.origin, ORIGIN_GENERATE);

	memset(&got, 0, sizeof(got));
	assert_int_equal(keystore_get_hash(ks, ki.hash, &got), 0);
	assert_int_equal(got.id, id);
	memset(&got, 0, sizeof(got));
	assert_int_equal(keystore_get_name(ks, "alice", &got), 0);
	assert_int_equal(got.id, id);
	assert_int_equal(keystore_get_name(ks, "bob", &got),
	    KEYSTORE_NOTFOUND);
	assert_int_equal(keystore_get_id(ks, id + 100, &got),
	    KEYSTORE_NOTFOUND);
	assert_int_equal(keystore_get_hash(ks, other, &got),
	    KEYSTORE_NOTFOUND);

	/* A given created_at is kept; a key without a name has "". */
	mkkey(&ki, NULL);
	ki.created_at = 1000;
	ki.origin = ORIGIN_IMPORT;
	assert_int_equal(keystore_add(ks, &ki, &id2), 0);
	assert_true(id2 > id);
	assert_int_equal(keystore_get_id(ks, id2, &got), 0);
	assert_int_equal(got.created_at, 1000);
	assert_string_equal(got.name, "");
	assert_int_equal(got.origin, ORIGIN_IMPORT);
	keystore_close(ks);
}

static void
test_revoke(void **state)
{
	struct tdir	*t = *state;
	struct keystore	*ks;
	struct keyinfo	 ki, got;
	int64_t		 id, now = time(NULL);

	ks = open_ok(t->db, KEYSTORE_DURABLE);
	mkkey(&ki, NULL);
	assert_int_equal(keystore_add(ks, &ki, &id), 0);
	assert_int_equal(keystore_revoke(ks, id, now), 0);
	assert_int_equal(keystore_lookup(ks, ki.hash, now, NULL),
	    KEY_REVOKED);
	/* A second revoke succeeds and keeps the first time. */
	assert_int_equal(keystore_revoke(ks, id, now + 60), 0);
	assert_int_equal(keystore_get_id(ks, id, &got), 0);
	assert_int_equal(got.revoked_at, now);
	assert_int_equal(keystore_revoke(ks, id + 1, now), KEYSTORE_NOTFOUND);
	assert_int_equal(keystore_count_active(ks, now), 0);
	keystore_close(ks);
}

static void
test_expire(void **state)
{
	struct tdir	*t = *state;
	struct keystore	*ks;
	struct keyinfo	 ki;
	int64_t		 id, now = 1700000000;

	ks = open_ok(t->db, 0);
	mkkey(&ki, NULL);
	ki.expires_at = now + 10;
	assert_int_equal(keystore_add(ks, &ki, &id), 0);
	mkkey(&ki, NULL);
	assert_int_equal(keystore_add(ks, &ki, &id), 0);

	mkkey(&ki, NULL);
	ki.expires_at = now + 10;
	assert_int_equal(keystore_add(ks, &ki, &id), 0);
	assert_int_equal(keystore_lookup(ks, ki.hash, now, NULL), KEY_ACTIVE);
	assert_int_equal(keystore_lookup(ks, ki.hash, now + 9, NULL),
	    KEY_ACTIVE);
	assert_int_equal(keystore_lookup(ks, ki.hash, now + 10, NULL),
	    KEY_EXPIRED);
	assert_int_equal(keystore_count_active(ks, now), 3);
	assert_int_equal(keystore_count_active(ks, now + 10), 1);

	/* Revoked wins over expired. */
	assert_int_equal(keystore_revoke(ks, id, now), 0);
	assert_int_equal(keystore_lookup(ks, ki.hash, now + 10, NULL),
	    KEY_REVOKED);
	keystore_close(ks);
}

struct listed {
	int64_t	 ids[16];
	int	 n;
	int	 stopat;
};

static int
list_cb(const struct keyinfo *ki, void *arg)
{
	struct listed	*l = arg;

	l->ids[l->n++] = ki->id;
	return l->n == l->stopat ? -1 : 0;
}

static void
test_list(void **state)
{
	struct tdir	*t = *state;
	struct keystore	*ks;
	struct keyinfo	 ki;
	struct listed	 l;
	int64_t		 ids[5];
	int		 i;

	ks = open_ok(t->db, 0);
	memset(&l, 0, sizeof(l));
	assert_int_equal(keystore_list(ks, list_cb, &l), 0);
	assert_int_equal(l.n, 0);
	for (i = 0; i < 5; i++) {
		mkkey(&ki, NULL);
		assert_int_equal(keystore_add(ks, &ki, &ids[i]), 0);
	}
	assert_int_equal(keystore_revoke(ks, ids[2], time(NULL)), 0);
	memset(&l, 0, sizeof(l));
	assert_int_equal(keystore_list(ks, list_cb, &l), 0);
	assert_int_equal(l.n, 5);
	for (i = 0; i < 5; i++)
		assert_int_equal(l.ids[i], ids[i]);

	memset(&l, 0, sizeof(l));
	l.stopat = 2;
	assert_int_equal(keystore_list(ks, list_cb, &l), 0);
	assert_int_equal(l.n, 2);
	/* Stopping early leaves nothing half-run behind. */
	memset(&l, 0, sizeof(l));
	assert_int_equal(keystore_list(ks, list_cb, &l), 0);
	assert_int_equal(l.n, 5);
	keystore_close(ks);
}

static void
test_names(void **state)
{
	struct tdir	*t = *state;
	struct keystore	*ks;
	struct keyinfo	 ki, got;
	int64_t		 id1, id2, id3, now = time(NULL);

	ks = open_ok(t->db, 0);
	mkkey(&ki, "alice");
	assert_int_equal(keystore_add(ks, &ki, &id1), 0);
	mkkey(&ki, "alice");
	assert_int_equal(keystore_add(ks, &ki, &id2), KEYSTORE_NAMETAKEN);
	assert_int_equal(keystore_lookup(ks, ki.hash, now, NULL),
	    KEY_UNKNOWN);

	/* Any number of keys may go without a name. */
	mkkey(&ki, NULL);
	assert_int_equal(keystore_add(ks, &ki, &id2), 0);
	mkkey(&ki, NULL);
	assert_int_equal(keystore_add(ks, &ki, &id2), 0);

	/* An imported revoked key does not hold its name. */
	mkkey(&ki, "alice");
	ki.revoked_at = now - 100;
	ki.origin = ORIGIN_IMPORT;
	assert_int_equal(keystore_add(ks, &ki, &id3), 0);
	assert_int_equal(keystore_lookup(ks, ki.hash, now, NULL),
	    KEY_REVOKED);

	/* Once revoked, the name is free again. */
	assert_int_equal(keystore_revoke(ks, id1, now), 0);
	mkkey(&ki, "alice");
	assert_int_equal(keystore_add(ks, &ki, &id2), 0);
	assert_int_equal(keystore_get_name(ks, "alice", &got), 0);
	assert_int_equal(got.id, id2);
	assert_int_equal(got.revoked_at, 0);
	keystore_close(ks);
}

static void
test_duplicate_hash(void **state)
{
	struct tdir	*t = *state;
	struct keystore	*ks;
	struct keyinfo	 ki;
	int64_t		 id, id2;

	ks = open_ok(t->db, 0);
	mkkey(&ki, "one");
	assert_int_equal(keystore_add(ks, &ki, &id), 0);
	strlcpy(ki.name, "two", sizeof(ki.name));
	assert_int_equal(keystore_add(ks, &ki, &id2), KEYSTORE_EXISTS);
	/* Both clash: the hash is the one reported. */
	strlcpy(ki.name, "one", sizeof(ki.name));
	assert_int_equal(keystore_add(ks, &ki, &id2), KEYSTORE_EXISTS);
	assert_int_equal(keystore_revoke(ks, id, time(NULL)), 0);
	assert_int_equal(keystore_add(ks, &ki, &id2), KEYSTORE_EXISTS);
	keystore_close(ks);
}

static void
test_transaction(void **state)
{
	struct tdir	*t = *state;
	struct keystore	*ks;
	struct keyinfo	 a, b, c;
	int64_t		 id, now = time(NULL);

	ks = open_ok(t->db, 0);
	assert_int_equal(keystore_begin(ks), 0);
	assert_int_equal(keystore_begin(ks), -1);
	mkkey(&a, NULL);
	mkkey(&b, NULL);
	assert_int_equal(keystore_add(ks, &a, &id), 0);
	/* A clash inside a bulk transaction skips one key, not all. */
	assert_int_equal(keystore_add(ks, &a, &id), KEYSTORE_EXISTS);
	assert_int_equal(keystore_add(ks, &b, &id), 0);
	assert_int_equal(keystore_commit(ks), 0);
	assert_int_equal(keystore_commit(ks), -1);
	assert_int_equal(keystore_lookup(ks, a.hash, now, NULL), KEY_ACTIVE);
	assert_int_equal(keystore_lookup(ks, b.hash, now, NULL), KEY_ACTIVE);

	assert_int_equal(keystore_begin(ks), 0);
	mkkey(&c, NULL);
	assert_int_equal(keystore_add(ks, &c, &id), 0);
	keystore_rollback(ks);
	assert_int_equal(keystore_lookup(ks, c.hash, now, NULL), KEY_UNKNOWN);
	assert_int_equal(keystore_count_active(ks, now), 2);
	keystore_close(ks);
}

static void
test_record_use(void **state)
{
	struct tdir	*t = *state;
	struct keystore	*ks;
	struct keyinfo	 a, b, got;
	struct keyuse	 use[3];
	int64_t		 ida, idb;

	ks = open_ok(t->db, 0);
	mkkey(&a, NULL);
	mkkey(&b, NULL);
	assert_int_equal(keystore_add(ks, &a, &ida), 0);
	assert_int_equal(keystore_add(ks, &b, &idb), 0);
	assert_int_equal(keystore_record_use(ks, use, 0), 0);

	use[0] = (struct keyuse){ ida, 2000, 3 };
	use[1] = (struct keyuse){ idb, 1500, 1 };
	use[2] = (struct keyuse){ ida, 1000, 2 };
	assert_int_equal(keystore_record_use(ks, use, 3), 0);
	assert_int_equal(keystore_get_id(ks, ida, &got), 0);
	assert_int_equal(got.requests, 5);
	assert_int_equal(got.last_used_at, 2000);
	assert_int_equal(keystore_get_id(ks, idb, &got), 0);
	assert_int_equal(got.requests, 1);
	assert_int_equal(got.last_used_at, 1500);

	/* An older batch flushed late must not move last use back. */
	use[0] = (struct keyuse){ idb, 1200, 4 };
	assert_int_equal(keystore_record_use(ks, use, 1), 0);
	assert_int_equal(keystore_get_id(ks, idb, &got), 0);
	assert_int_equal(got.requests, 5);
	assert_int_equal(got.last_used_at, 1500);
	keystore_close(ks);
}

static void
test_changed(void **state)
{
	struct tdir	*t = *state;
	struct keystore	*a, *b;
	struct keyinfo	 ki;
	struct keyuse	 use;
	int64_t		 id;

	a = open_ok(t->db, 0);
	b = open_ok(t->db, 0);
	assert_int_equal(keystore_changed(a), 1);
	assert_int_equal(keystore_changed(a), 0);
	assert_int_equal(keystore_changed(b), 1);
	assert_int_equal(keystore_changed(b), 0);

	mkkey(&ki, NULL);
	assert_int_equal(keystore_add(a, &ki, &id), 0);
	assert_int_equal(keystore_changed(b), 1);
	assert_int_equal(keystore_changed(b), 0);
	/* The writer sees its own write too. */
	assert_int_equal(keystore_changed(a), 1);
	assert_int_equal(keystore_changed(a), 0);

	assert_int_equal(keystore_revoke(b, id, time(NULL)), 0);
	assert_int_equal(keystore_changed(a), 1);
	assert_int_equal(keystore_changed(b), 1);
	assert_int_equal(keystore_changed(a), 0);
	assert_int_equal(keystore_changed(b), 0);

	/* A write that changed nothing is no change. */
	assert_int_equal(keystore_revoke(b, id, time(NULL)), 0);
	assert_int_equal(keystore_revoke(b, id + 1, time(NULL)),
	    KEYSTORE_NOTFOUND);
	assert_int_equal(keystore_changed(b), 0);
	assert_int_equal(keystore_changed(a), 0);

	use = (struct keyuse){ id, 5, 1 };
	assert_int_equal(keystore_record_use(a, &use, 1), 0);
	assert_int_equal(keystore_changed(b), 1);
	assert_int_equal(keystore_changed(b), 0);
	keystore_close(a);
	keystore_close(b);
}

/* Each writer's exit status is the number of adds that failed. */
static void
writer(const char *path)
{
	struct keystore	*ks;
	struct keyinfo	 ki;
	char		 err[512], key[KEYGEN_KEY_MAX];
	int64_t		 id;
	int		 i, bad = 0;

	if ((ks = keystore_open(path, 0, err, sizeof(err))) == NULL) {
		fprintf(stderr, "writer: %s\n", err);
		_exit(100);
	}
	for (i = 0; i < NPERWRITER; i++) {
		memset(&ki, 0, sizeof(ki));
		if (keygen_new("sk-", key, sizeof(key)) == -1) {
			bad++;
			continue;
		}
		keygen_hash(key, strlen(key), ki.hash);
		keygen_hint(key, 3, ki.hint, sizeof(ki.hint));
		ki.origin = ORIGIN_GENERATE;
		if (keystore_add(ks, &ki, &id) != 0) {
			fprintf(stderr, "writer: add: %s\n",
			    keystore_errmsg(ks));
			bad++;
		}
	}
	keystore_close(ks);
	_exit(bad > 99 ? 99 : bad);
}

static int
count_cb(const struct keyinfo *ki, void *arg)
{
	struct listed	*l = arg;

	/* Ids come in increasing order, so distinct ids mean distinct rows. */
	if (l->n > 0 && ki->id <= l->ids[0])
		return -1;
	l->ids[0] = ki->id;
	l->n++;
	return 0;
}

static void
run_writers(const char *path)
{
	struct keystore	*ks;
	struct listed	 l;
	pid_t		 pids[NWRITERS];
	int		 i, status;

	for (i = 0; i < NWRITERS; i++) {
		pids[i] = fork();
		assert_true(pids[i] != -1);
		if (pids[i] == 0)
			writer(path);
	}
	for (i = 0; i < NWRITERS; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	ks = open_ok(path, 0);
	memset(&l, 0, sizeof(l));
	assert_int_equal(keystore_list(ks, count_cb, &l), 0);
	assert_int_equal(l.n, NWRITERS * NPERWRITER);
	assert_int_equal(keystore_count_active(ks, time(NULL)),
	    NWRITERS * NPERWRITER);
	keystore_close(ks);
}

static void
test_concurrent_writers(void **state)
{
	struct tdir	*t = *state;

	keystore_close(open_ok(t->db, 0));
	run_writers(t->db);
}

/* Several processes creating the same new file must agree on it. */
static void
test_concurrent_create(void **state)
{
	struct tdir	*t = *state;

	run_writers(t->db);
	assert_int_equal(user_version(t->db), KEYSTORE_SCHEMA_VERSION);
}

static void
test_empty_file(void **state)
{
	struct tdir	*t = *state;
	struct keystore	*ks;
	struct keyinfo	 ki;
	int64_t		 id;
	int		 fd;

	assert_true((fd = open(t->db, O_WRONLY | O_CREAT, 0600)) != -1);
	close(fd);
	ks = open_ok(t->db, KEYSTORE_NOCREATE);
	mkkey(&ki, NULL);
	assert_int_equal(keystore_add(ks, &ki, &id), 0);
	keystore_close(ks);
	assert_int_equal(user_version(t->db), KEYSTORE_SCHEMA_VERSION);
}

/* The first schema, as a v1 build wrote it. */
static const char v1_schema[] =
	"CREATE TABLE keys ("
	"    id INTEGER PRIMARY KEY,"
	"    hash BLOB UNIQUE NOT NULL CHECK (length(hash) = 32),"
	"    hint TEXT NOT NULL,"
	"    name TEXT,"
	"    created_at INTEGER NOT NULL,"
	"    expires_at INTEGER,"
	"    revoked_at INTEGER,"
	"    last_used_at INTEGER,"
	"    requests INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE UNIQUE INDEX keys_active_name ON keys (name)"
	"    WHERE revoked_at IS NULL AND name IS NOT NULL;"
	"PRAGMA user_version = 1;";

static void
test_migrate_v1(void **state)
{
	struct tdir	*t = *state;
	struct keystore	*ks;
	struct keyinfo	 ki, got;
	char		 sql[1024], hex[KEYGEN_HEXLEN];
	uint8_t		 hash[KEYGEN_HASHLEN];
	int64_t		 id;

	rawexec(t->db, v1_schema);
	keygen_hash("sk-old", 6, hash);
	keygen_hex(hash, hex);
	snprintf(sql, sizeof(sql), "INSERT INTO keys (hash, hint, name,"
	    " created_at, expires_at, revoked_at, last_used_at, requests)"
	    " VALUES (x'%s', 'sk-\xe2\x80\xa6', 'old', 1000, 90000, NULL,"
	    " 2000, 42);", hex);
	rawexec(t->db, sql);
	assert_int_equal(user_version(t->db), 1);

	ks = open_ok(t->db, 0);
	assert_int_equal(user_version(t->db), KEYSTORE_SCHEMA_VERSION);
	assert_int_equal(keystore_lookup(ks, hash, 5000, &id), KEY_ACTIVE);
	assert_int_equal(keystore_get_id(ks, id, &got), 0);
	assert_memory_equal(got.hash, hash, KEYGEN_HASHLEN);
	assert_string_equal(got.hint, "sk-\xe2\x80\xa6");
	assert_string_equal(got.name, "old");
	assert_int_equal(got.created_at, 1000);
	assert_int_equal(got.expires_at, 90000);
	assert_int_equal(got.revoked_at, 0);
	assert_int_equal(got.last_used_at, 2000);
	assert_int_equal(got.requests, 42);
	assert_int_equal(got.origin, ORIGIN_KEYCTL);

	/* The name index survived the migration. */
	mkkey(&ki, "old");
	assert_int_equal(keystore_add(ks, &ki, &id), KEYSTORE_NAMETAKEN);
	ki.name[0] = '\0';
	ki.origin = ORIGIN_IMPORT;
	assert_int_equal(keystore_add(ks, &ki, &id), 0);
	keystore_close(ks);

	/* Opening a current file again changes nothing. */
	ks = open_ok(t->db, KEYSTORE_NOCREATE);
	assert_int_equal(keystore_count_active(ks, 5000), 2);
	keystore_close(ks);
}

static void
test_newer_refused(void **state)
{
	struct tdir	*t = *state;
	char		 err[512];

	rawexec(t->db, "CREATE TABLE keys (id INTEGER PRIMARY KEY);"
	    "PRAGMA user_version = 99;");
	assert_null(keystore_open(t->db, 0, err, sizeof(err)));
	assert_non_null(strstr(err, t->db));
	assert_non_null(strstr(err, "newer"));
	assert_int_equal(user_version(t->db), 99);
}

static void
test_foreign_db_refused(void **state)
{
	struct tdir	*t = *state;
	char		 err[512];

	rawexec(t->db, "CREATE TABLE photos (id INTEGER PRIMARY KEY);");
	assert_null(keystore_open(t->db, 0, err, sizeof(err)));
	assert_non_null(strstr(err, t->db));
	assert_non_null(strstr(err, "not an ollaguard key database"));
	assert_int_equal(user_version(t->db), 0);
}

static void
test_not_sqlite(void **state)
{
	struct tdir	*t = *state;
	static const char text[] =
	    "{\"keys\": [\"sk-this-is-a-json-file-not-a-database\"]}\n"
	    "{\"padding\": \"so the file is longer than a header ......\"}\n";
	char		 err[512], want[PATH_MAX + 128], buf[sizeof(text) + 16];
	struct dirent	*de;
	DIR		*d;
	ssize_t		 n;
	int		 fd, files = 0;

	assert_true((fd = open(t->db, O_WRONLY | O_CREAT, 0644)) != -1);
	assert_int_equal(write(fd, text, sizeof(text) - 1),
	    sizeof(text) - 1);
	close(fd);

	assert_null(keystore_open(t->db, 0, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s: not an ollaguard key database "
	    "(file is not a database)", t->db);
	assert_string_equal(err, want);

	assert_true((fd = open(t->db, O_RDONLY)) != -1);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	assert_int_equal(n, sizeof(text) - 1);
	assert_memory_equal(buf, text, sizeof(text) - 1);

	/* No journal, WAL or shared-memory file was left beside it. */
	assert_non_null(d = opendir(t->dir));
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			files++;
	closedir(d);
	assert_int_equal(files, 1);
}

static void
test_missing_folder(void **state)
{
	struct tdir	*t = *state;
	char		 path[PATH_MAX], dir[256], err[512];
	char		 want[3 * PATH_MAX];
	struct stat	 sb;

	snprintf(dir, sizeof(dir), "%s/nope", t->dir);
	snprintf(path, sizeof(path), "%s/keys.db", dir);
	assert_null(keystore_open(path, 0, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s: folder %s does not exist", path,
	    dir);
	assert_string_equal(err, want);
	assert_int_equal(stat(dir, &sb), -1);
}

static void
test_nocreate(void **state)
{
	struct tdir	*t = *state;
	char		 err[512], want[PATH_MAX + 64];
	struct stat	 sb;

	assert_null(keystore_open(t->db, KEYSTORE_NOCREATE, err,
	    sizeof(err)));
	snprintf(want, sizeof(want), "%s: does not exist", t->db);
	assert_string_equal(err, want);
	assert_int_equal(stat(t->db, &sb), -1);
}

static void
test_isdir(void **state)
{
	struct tdir	*t = *state;
	char		 err[512], want[PATH_MAX + 64];

	assert_int_equal(mkdir(t->db, 0700), 0);
	assert_null(keystore_open(t->db, 0, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s: %s", t->db, strerror(EISDIR));
	assert_string_equal(err, want);
}

/*
 * root reads files whatever their mode says, so as root the open is
 * tried in a child that has become nobody.
 */
static void
test_unreadable(void **state)
{
	struct tdir	*t = *state;
	char		 err[512], want[PATH_MAX + 64];
	pid_t		 pid;
	int		 fd, status;

	assert_true((fd = open(t->db, O_WRONLY | O_CREAT, 0600)) != -1);
	close(fd);
	assert_int_equal(chmod(t->db, 0), 0);
	assert_int_equal(chmod(t->dir, 0711), 0);
	snprintf(want, sizeof(want), "%s: %s", t->db, strerror(EACCES));
	assert_true((pid = fork()) != -1);
	if (pid == 0) {
		if (geteuid() == 0 && (setgid(65534) == -1 ||
		    setuid(65534) == -1))
			_exit(2);
		if (keystore_open(t->db, 0, err, sizeof(err)) != NULL)
			_exit(3);
		if (strcmp(err, want) != 0) {
			fprintf(stderr, "got \"%s\"\n", err);
			_exit(4);
		}
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void
test_mode_0600(void **state)
{
	struct tdir	*t = *state;
	struct keystore	*ks;
	struct keyinfo	 ki;
	char		 wal[PATH_MAX + 8];
	struct stat	 sb;
	mode_t		 old;
	int64_t		 id;

	/* Even a careless umask must not make the key file readable. */
	old = umask(0);
	ks = open_ok(t->db, 0);
	mkkey(&ki, NULL);
	assert_int_equal(keystore_add(ks, &ki, &id), 0);
	umask(old);
	assert_int_equal(stat(t->db, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	snprintf(wal, sizeof(wal), "%s-wal", t->db);
	assert_int_equal(stat(wal, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	keystore_close(ks);
}

static void
test_names_of_things(void **state)
{
	enum keyorigin	 o;

	assert_string_equal(keystore_state_name(KEY_ACTIVE), "active");
	assert_string_equal(keystore_state_name(KEY_REVOKED), "revoked");
	assert_string_equal(keystore_state_name(KEY_EXPIRED), "expired");
	assert_string_equal(keystore_state_name(KEY_UNKNOWN), "unknown");
	assert_string_equal(keystore_state_name(KEY_ERROR), "error");
	assert_string_equal(keystore_origin_name(ORIGIN_GENERATE),
	    "generate");
	assert_string_equal(keystore_origin_name(ORIGIN_KEYCTL), "keyctl");
	assert_string_equal(keystore_origin_name(ORIGIN_IMPORT), "import");
	assert_int_equal(keystore_origin_parse("import", &o), 0);
	assert_int_equal(o, ORIGIN_IMPORT);
	assert_int_equal(keystore_origin_parse("generate", &o), 0);
	assert_int_equal(o, ORIGIN_GENERATE);
	assert_int_equal(keystore_origin_parse("Import", &o), -1);
	assert_int_equal(keystore_origin_parse("", &o), -1);
}

/* The policy columns: stored, read back by lookup, changed by update. */
static void
test_policy_update(void **state)
{
	struct tdir	*t = *state;
	struct keystore	*ks;
	struct keyinfo	 ki, got;
	int64_t		 id, id2, now = time(NULL);

	ks = open_ok(t->db, KEYSTORE_DURABLE);
	mkkey(&ki, "team");
	ki.allow = 2;
	strlcpy(ki.models, "llama3:latest,qwen2*", sizeof(ki.models));
	ki.rpm = 60;
	ki.concurrency = 2;
	ki.kind = KIND_SSH;
	assert_int_equal(keystore_add(ks, &ki, &id), 0);
	assert_int_equal(keystore_lookup_info(ks, ki.hash, now, &got),
	    KEY_ACTIVE);
	assert_int_equal(got.id, id);
	assert_int_equal(got.allow, 2);
	assert_string_equal(got.models, "llama3:latest,qwen2*");
	assert_int_equal(got.rpm, 60);
	assert_int_equal(got.concurrency, 2);
	assert_int_equal(got.kind, KIND_SSH);

	got.allow = 7;
	got.models[0] = '\0';
	got.rpm = 0;
	got.concurrency = 0;
	strlcpy(got.name, "renamed", sizeof(got.name));
	got.expires_at = now + 60;
	assert_true(keystore_changed(ks) >= 0);
	assert_int_equal(keystore_update(ks, &got), 0);
	assert_int_equal(keystore_changed(ks), 1);
	assert_int_equal(keystore_get_id(ks, id, &ki), 0);
	assert_int_equal(ki.allow, 7);
	assert_string_equal(ki.models, "");
	assert_int_equal(ki.rpm, 0);
	assert_string_equal(ki.name, "renamed");
	assert_int_equal(ki.expires_at, now + 60);

	/* A name another active key holds, and a revoked key. */
	mkkey(&ki, "other");
	assert_int_equal(keystore_add(ks, &ki, &id2), 0);
	strlcpy(got.name, "other", sizeof(got.name));
	assert_int_equal(keystore_update(ks, &got), KEYSTORE_NAMETAKEN);
	assert_int_equal(keystore_revoke(ks, id, now), 0);
	strlcpy(got.name, "x", sizeof(got.name));
	assert_int_equal(keystore_update(ks, &got), KEYSTORE_NOTFOUND);
	got.allow = 8;
	assert_int_equal(keystore_update(ks, &got), -1);
	keystore_close(ks);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_add_lookup),
		T(test_policy_update),
		T(test_revoke),
		T(test_expire),
		T(test_list),
		T(test_names),
		T(test_duplicate_hash),
		T(test_transaction),
		T(test_record_use),
		T(test_changed),
		T(test_concurrent_writers),
		T(test_concurrent_create),
		T(test_empty_file),
		T(test_migrate_v1),
		T(test_newer_refused),
		T(test_foreign_db_refused),
		T(test_not_sqlite),
		T(test_missing_folder),
		T(test_nocreate),
		T(test_isdir),
		T(test_unreadable),
		T(test_mode_0600),
		cmocka_unit_test(test_names_of_things),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
