/*
 * keyfile: opening the key database file for keystore: the checks made
 * before SQLite sees the path, WAL mode and the schema migrations.  Only
 * keystore.c calls it; everything else goes through keystore.h.
 */
#ifndef KEYFILE_H
#define KEYFILE_H

#include <stddef.h>

struct sqlite3;

/* The size of the identity of a file that keyfile_open writes. */
#define KEYFILE_ID_MAX	96

/*
 * Opens path with KEYSTORE_* flags, checked and migrated: the connection
 * and the identity of the file opened in id (KEYFILE_ID_MAX bytes), or
 * NULL with a message naming the file in err and *busy set when a lock
 * was the cause, which a retry may resolve.  WAL files at the path that
 * belong to a file this one replaced are set aside first (keyfile.c).
 */
struct sqlite3	*keyfile_open(const char *path, int flags, int *busy,
		    char *id, char *err, size_t errlen);
/* Rolls back what is open and closes the connection opened as id;
 * NULL is fine. */
void		 keyfile_close(struct sqlite3 *, const char *id);
/* Writes an open-time SQLite error rc as keyfile_open would; 1 if it
 * was a lock. */
int		 keyfile_openerr(struct sqlite3 *, int rc, const char *path,
		    char *err, size_t errlen);

#endif
