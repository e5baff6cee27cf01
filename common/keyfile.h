/*
 * keyfile: opening the key database file for keystore: the checks made
 * before SQLite sees the path, WAL mode and the schema migrations.  Only
 * keystore.c calls it; everything else goes through keystore.h.
 */
#ifndef KEYFILE_H
#define KEYFILE_H

#include <stddef.h>

struct sqlite3;

/*
 * Opens path with KEYSTORE_* flags, checked and migrated: the
 * connection, or NULL with a message naming the file in err and *busy
 * set when a lock was the cause, which a retry may resolve.
 */
struct sqlite3	*keyfile_open(const char *path, int flags, int *busy,
		    char *err, size_t errlen);
/* Rolls back what is open and closes the connection; NULL is fine. */
void		 keyfile_close(struct sqlite3 *);
/* Writes an open-time SQLite error rc as keyfile_open would; 1 if it
 * was a lock. */
int		 keyfile_openerr(struct sqlite3 *, int rc, const char *path,
		    char *err, size_t errlen);

#endif
