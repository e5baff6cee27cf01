/*
 * keyfile: the key database as a file.  Before SQLite sees a path it is
 * checked to be a regular file that is, or will become, an SQLite
 * database; the connection is then put in WAL mode and the schema,
 * which carries its version in PRAGMA user_version, brought forward by
 * the migrations below.  keystore.c prepares its statements on the
 * connection this returns.  Nothing here logs: errors go back in err,
 * each naming the file.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "keystore.h"
#include "keyfile.h"
#include "usage.h"

/*
 * Writers queue behind each other for at most this long.  Each write
 * is one short transaction, so a writer that waits this long is stuck
 * behind something else, and the caller hears KEYSTORE_BUSY.
 */
#define KF_BUSY_MS	KEYSTORE_BUSY_MS

#define KF_NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * Migration n brings a database from user_version n to n + 1.  Only
 * ever append: a file in the field may be at any earlier version.
 */
static const char *const kf_migrations[] = {
	/* 1: the key table.  Names are unique among keys not revoked, so
	 * a name can be given again once its key is revoked. */
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
	"    WHERE revoked_at IS NULL AND name IS NOT NULL;",
	/* 2: where a key came from.  Keys made before this column existed
	 * can only have come from the admin tool. */
	"ALTER TABLE keys ADD COLUMN origin TEXT NOT NULL DEFAULT 'keyctl'"
	"    CHECK (origin IN ('generate', 'keyctl', 'import'));",
	/* 3: the key's policy: the classes it may use (a mask of
	 * policyclass.h's bits; keys made before get infer,read, 3), its
	 * model globs (NULL: every model), its limits (NULL: none), and
	 * whether it is a secret or an ssh key. */
	"ALTER TABLE keys ADD COLUMN allow INTEGER NOT NULL DEFAULT 3"
	"    CHECK (allow BETWEEN 0 AND 7);"
	"ALTER TABLE keys ADD COLUMN models TEXT;"
	"ALTER TABLE keys ADD COLUMN rpm INTEGER CHECK (rpm > 0);"
	"ALTER TABLE keys ADD COLUMN concurrency INTEGER"
	"    CHECK (concurrency > 0);"
	"ALTER TABLE keys ADD COLUMN kind TEXT NOT NULL DEFAULT 'secret'"
	"    CHECK (kind IN ('secret', 'ssh-ed25519'));",
	/* 4: the usage table (common/usage.h). */
	USAGE_MIGRATION_SQL,
	/* 5: the key's quotas (NULL: none), per UTC day and month, and
	 * whether it names its users with Open WebUI's header, each of
	 * whom then has a daily token budget of its own. */
	"ALTER TABLE keys ADD COLUMN tokens_per_day INTEGER"
	"    CHECK (tokens_per_day > 0);"
	"ALTER TABLE keys ADD COLUMN tokens_per_month INTEGER"
	"    CHECK (tokens_per_month > 0);"
	"ALTER TABLE keys ADD COLUMN requests_per_day INTEGER"
	"    CHECK (requests_per_day > 0);"
	"ALTER TABLE keys ADD COLUMN trust_user_header INTEGER NOT NULL"
	"    DEFAULT 0 CHECK (trust_user_header IN (0, 1));"
	"ALTER TABLE keys ADD COLUMN user_tokens_per_day INTEGER"
	"    CHECK (user_tokens_per_day > 0);",
};

_Static_assert(KF_NITEMS(kf_migrations) == KEYSTORE_SCHEMA_VERSION,
    "KEYSTORE_SCHEMA_VERSION must match the migrations");

static int	kf_file(const char *, int, struct stat *, char *, size_t,
		    char *, size_t);
static int	kf_ident(int, const char *, int, char *, size_t);
static int	kf_walown(const char *, const struct stat *, const char *,
		    int *, char *, size_t);
static int	kf_query(sqlite3 *, const char *, int64_t *, int64_t *);
static void	kf_openerr(sqlite3 *, int, const char *, char *, size_t);
static int	kf_migrate(sqlite3 *, const char *, char *, size_t);
static int	kf_wal(sqlite3 *, int, const char *, char *, size_t);

/*
 * Makes sure the file exists (unless the caller forbids creating it)
 * before SQLite sees it, so that a new database is born 0600 whatever
 * the umask, and so that errors SQLite would only call "unable to open
 * database file" get their real cause.
 */
static int
kf_file(const char *path, int flags, struct stat *dbsb, char *id,
    size_t idlen, char *err, size_t errlen)
{
	static const char zero[16];
	char		 dir[PATH_MAX], *slash, magic[16];
	struct stat	 sb;
	int		 fd, created = 0, saved;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT && !(flags & KEYSTORE_NOCREATE)) {
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd == -1 && errno == EEXIST)
			fd = open(path, O_RDWR | O_CLOEXEC);
		else if (fd != -1)
			created = 1;
	}
	if (fd == -1) {
		saved = errno;
		if (saved == ENOENT && (flags & KEYSTORE_NOCREATE)) {
			snprintf(err, errlen, "%s: does not exist", path);
			return -1;
		}
		if (saved == ENOENT) {
			if (strlcpy(dir, path, sizeof(dir)) >= sizeof(dir))
				strlcpy(dir, ".", sizeof(dir));
			else if ((slash = strrchr(dir, '/')) == NULL)
				strlcpy(dir, ".", sizeof(dir));
			else if (slash == dir)
				dir[1] = '\0';
			else
				*slash = '\0';
			if (stat(dir, &sb) == -1 && errno == ENOENT) {
				snprintf(err, errlen,
				    "%s: folder %s does not exist", path, dir);
				return -1;
			}
		}
		snprintf(err, errlen, "%s: %s", path, strerror(saved));
		return -1;
	}
	if (fstat(fd, &sb) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	if (created && fchmod(fd, 0600) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	/*
	 * A non-empty file must start as every SQLite database does, or
	 * SQLite never sees it: opened, a foreign file next to a database's
	 * leftover -wal can have that WAL played into it on close, losing
	 * the keys the WAL held.  Zeros are a file another process is
	 * creating this moment, which SQLite itself sorts out.
	 */
	memset(magic, 0, sizeof(magic));
	if (sb.st_size > 0 && (pread(fd, magic, sizeof(magic), 0) == -1 ||
	    (memcmp(magic, "SQLite format 3", sizeof(magic)) != 0 &&
	    memcmp(magic, zero, sizeof(magic)) != 0))) {
		snprintf(err, errlen, "%s: not an ollaguard key database "
		    "(file is not a database)", path);
		close(fd);
		return -1;
	}
	if (kf_ident(fd, "", AT_EMPTY_PATH, id, idlen) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	*dbsb = sb;
	close(fd);
	return 0;
}

/*
 * Which file this is, as text: device, inode and, where the file system
 * keeps one, birth time, which tells a new file from an old one whose
 * inode number it was given again.
 */
static int
kf_ident(int dirfd, const char *path, int flags, char *id, size_t idlen)
{
	struct statx	 stx;

	if (statx(dirfd, path, flags, STATX_INO | STATX_BTIME, &stx) == -1)
		return -1;
	if (!(stx.stx_mask & STATX_BTIME))
		memset(&stx.stx_btime, 0, sizeof(stx.stx_btime));
	snprintf(id, idlen, "%u:%u %llu %lld.%09u\n", stx.stx_dev_major,
	    stx.stx_dev_minor, (unsigned long long)stx.stx_ino,
	    (long long)stx.stx_btime.tv_sec, stx.stx_btime.tv_nsec);
	return 0;
}

/*
 * SQLite finds a database's -wal and -shm by its path, not by its inode,
 * so a database renamed over one in use would have the old file's WAL
 * played into it: old keys back, new ones missing, the file damaged.
 * <path>-walid records which file (device, inode, birth time) the -wal
 * and -shm at the path belong to; every open by these programs checks
 * it, and holds it locked from the check until SQLite has opened its
 * WAL, so two processes cannot both decide.  WAL files recorded as
 * another file's are provably stale: the -wal is renamed aside (the
 * replaced file's last changes stay in it, for recovery by hand) and
 * the -shm, an index of that -wal, removed.  Processes still using the
 * replaced file keep theirs through their open descriptors.  With no
 * record (files from before it existed) the WAL is taken as the file's.
 */
static int
kf_walown(const char *path, const struct stat *dbsb, const char *id,
    int *lockfd, char *err, size_t errlen)
{
	struct stat	 sb;
	char		 idpath[PATH_MAX], wal[PATH_MAX], shm[PATH_MAX];
	char		 aside[PATH_MAX + 32], old[128];
	ssize_t		 n;
	size_t		 idlen = strlen(id);
	int		 fd;

	if ((size_t)snprintf(idpath, sizeof(idpath), "%s-walid", path) >=
	    sizeof(idpath) || (size_t)snprintf(aside, sizeof(aside),
	    "%s-wal.replaced-%lld-%ld", path, (long long)time(NULL),
	    (long)getpid()) >= sizeof(aside)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	snprintf(wal, sizeof(wal), "%s-wal", path);
	snprintf(shm, sizeof(shm), "%s-shm", path);
	fd = open(idpath, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1) {
		snprintf(err, errlen, "%s: %s (it must belong to the user "
		    "that opens the database: chown it as %s)", idpath,
		    strerror(errno), path);
		return -1;
	}
	/*
	 * The record belongs to whoever owns the database, as the daemon
	 * serves as that user: root running keyctl first must not leave a
	 * file the daemon cannot open.  Only root can change it; others
	 * fail here harmlessly.
	 */
	if (fstat(fd, &sb) == 0 && (sb.st_uid != dbsb->st_uid ||
	    sb.st_gid != dbsb->st_gid) &&
	    fchown(fd, dbsb->st_uid, dbsb->st_gid) == -1 && errno != EPERM)
		goto fail;
	if (flock(fd, LOCK_EX) == -1 ||
	    (n = pread(fd, old, sizeof(old) - 1, 0)) == -1)
		goto fail;
	old[n] = '\0';
	if (n > 0 && strcmp(old, id) != 0) {
		if (rename(wal, aside) == -1 && errno != ENOENT) {
			snprintf(err, errlen, "%s belongs to the file this "
			    "one replaced and cannot be moved aside: %s", wal,
			    strerror(errno));
			close(fd);
			return -1;
		}
		if (unlink(shm) == -1 && errno != ENOENT) {
			snprintf(err, errlen, "%s belongs to the file this "
			    "one replaced and cannot be removed: %s", shm,
			    strerror(errno));
			close(fd);
			return -1;
		}
	}
	if (strcmp(old, id) != 0 && (ftruncate(fd, 0) == -1 ||
	    pwrite(fd, id, idlen, 0) != (ssize_t)idlen))
		goto fail;
	*lockfd = fd;
	return 0;
 fail:
	snprintf(err, errlen, "%s: %s", idpath, strerror(errno));
	close(fd);
	return -1;
}

/* A one-off query at open time; hot statements are prepared once. */
static int
kf_query(sqlite3 *db, const char *sql, int64_t *val, int64_t *val2)
{
	sqlite3_stmt	*st;
	int		 rc;

	if ((rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL)) != SQLITE_OK)
		return rc;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*val = sqlite3_column_int64(st, 0);
		if (val2 != NULL)
			*val2 = sqlite3_column_int64(st, 1);
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE)
		rc = SQLITE_ERROR;
	sqlite3_finalize(st);
	return rc;
}

/* Set when an open failed on a lock: several processes creating or
 * migrating one file at once, which a retry resolves. */
static int	kf_open_busy;

static void
kf_openerr(sqlite3 *db, int rc, const char *path, char *err, size_t errlen)
{
	const char	*msg;

	kf_open_busy = (rc & 0xff) == SQLITE_BUSY;
	msg = db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
	switch (rc & 0xff) {
	case SQLITE_NOTADB:
		snprintf(err, errlen, "%s: not an ollaguard key database (%s)",
		    path, msg);
		break;
	case SQLITE_CORRUPT:
		snprintf(err, errlen, "%s: damaged database (%s)", path, msg);
		break;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		snprintf(err, errlen, "%s: locked by another process (%s)",
		    path, msg);
		break;
	default:
		snprintf(err, errlen, "%s: %s", path, msg);
		break;
	}
}

/*
 * Runs the migrations the file lacks in one write transaction, reading
 * the version again inside it: several processes may open a new file
 * at once, and only the first may migrate it.
 */
static int
kf_migrate(sqlite3 *db, const char *path, char *err, size_t errlen)
{
	char	 sql[64];
	int64_t	 ver;
	size_t	 i;
	int	 rc;

	if ((rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL,
	    NULL)) != SQLITE_OK)
		goto fail;
	if ((rc = kf_query(db, "PRAGMA user_version", &ver, NULL)) !=
	    SQLITE_OK)
		goto fail;
	if (ver > KEYSTORE_SCHEMA_VERSION) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		snprintf(err, errlen, "%s: database schema version %lld is "
		    "newer than this program knows (%d)", path,
		    (long long)ver, KEYSTORE_SCHEMA_VERSION);
		return -1;
	}
	for (i = ver; i < KF_NITEMS(kf_migrations); i++)
		if ((rc = sqlite3_exec(db, kf_migrations[i], NULL, NULL,
		    NULL)) != SQLITE_OK)
			goto fail;
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
	    KEYSTORE_SCHEMA_VERSION);
	if (ver < KEYSTORE_SCHEMA_VERSION &&
	    (rc = sqlite3_exec(db, sql, NULL, NULL, NULL)) != SQLITE_OK)
		goto fail;
	if ((rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK)
		goto fail;
	return 0;
 fail:
	kf_openerr(db, rc, path, err, errlen);
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/* WAL mode, and how hard each commit is pushed to the disk. */
static int
kf_wal(sqlite3 *db, int flags, const char *path, char *err, size_t errlen)
{
	sqlite3_stmt	*st;
	const char	*mode;
	int		 rc;

	rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &st,
	    NULL);
	if (rc != SQLITE_OK)
		goto fail;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		mode = (const char *)sqlite3_column_text(st, 0);
		if (mode == NULL || strcmp(mode, "wal") != 0) {
			snprintf(err, errlen, "%s: cannot use WAL journal "
			    "mode (got %s)", path, mode ? mode : "nothing");
			sqlite3_finalize(st);
			return -1;
		}
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_OK)
		goto fail;
	rc = sqlite3_exec(db, (flags & KEYSTORE_DURABLE) ?
	    "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL",
	    NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	return 0;
 fail:
	kf_openerr(db, rc, path, err, errlen);
	return -1;
}

sqlite3 *
keyfile_open(const char *path, int flags, int *busy, char *id, char *err,
    size_t errlen)
{
	sqlite3		*db = NULL;
	struct stat	 sb;
	int64_t		 ver, nobj;
	int		 rc, lockfd = -1;

	kf_open_busy = 0;
	if (errlen > 0)
		err[0] = '\0';
	if (kf_file(path, flags, &sb, id, KEYFILE_ID_MAX, err, errlen) == -1 ||
	    kf_walown(path, &sb, id, &lockfd, err, errlen) == -1)
		return NULL;
	rc = sqlite3_open_v2(path, &db,
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout(db, KF_BUSY_MS);
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);

	/*
	 * Read before anything writes: a file that is not a database, or
	 * is someone else's, must be refused untouched.  One statement
	 * reads both numbers from one snapshot, since another process may
	 * be creating the schema at this moment.
	 */
	rc = kf_query(db, "SELECT user_version, (SELECT count(*) FROM"
	    " sqlite_master) FROM pragma_user_version", &ver, &nobj);
	if (rc != SQLITE_OK)
		goto fail;
	if (ver > KEYSTORE_SCHEMA_VERSION) {
		snprintf(err, errlen, "%s: database schema version %lld is "
		    "newer than this program knows (%d)", path,
		    (long long)ver, KEYSTORE_SCHEMA_VERSION);
		goto out;
	}
	if (ver == 0 && nobj > 0) {
		snprintf(err, errlen, "%s: not an ollaguard key database "
		    "(it holds other tables)", path);
		goto out;
	}
	if (kf_wal(db, flags, path, err, errlen) == -1)
		goto out;
	if (ver < KEYSTORE_SCHEMA_VERSION &&
	    kf_migrate(db, path, err, errlen) == -1)
		goto out;
	close(lockfd);
	return db;
 fail:
	kf_openerr(db, rc, path, err, errlen);
 out:
	*busy = kf_open_busy;
	keyfile_close(db, id);
	close(lockfd);
	return NULL;
}

/*
 * The last connection to close a database checkpoints it and deletes
 * the -wal and -shm by name.  If the file was replaced since it was
 * opened, those names are the new file's, so they are kept.
 */
void
keyfile_close(sqlite3 *db, const char *id)
{
	const char	*path;
	char		 now[KEYFILE_ID_MAX];
	int		 keep = 1;

	if (db == NULL)
		return;
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	path = sqlite3_db_filename(db, "main");
	if (path == NULL || path[0] == '\0' ||
	    kf_ident(AT_FDCWD, path, 0, now, sizeof(now)) == -1 ||
	    strcmp(now, id) != 0)
		sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL,
		    &keep);
	sqlite3_close_v2(db);
}

int
keyfile_openerr(sqlite3 *db, int rc, const char *path, char *err,
    size_t errlen)
{
	kf_openerr(db, rc, path, err, errlen);
	return kf_open_busy;
}
