/*
 * dbconn: the worker's connection to the key database, reopened when
 * the file is replaced and given up while it cannot be read, so that a
 * broken database fails requests closed (503) instead of failing open
 * or crashing the worker, and recovers once the file is fixed.
 */
#ifndef DBCONN_H
#define DBCONN_H

struct keystore;

/* Opens the database for this worker; -1 (logged) if it cannot. */
int		 dbconn_open(const char *path);
/* The connection, checked against the file at most once a second;
 * NULL while the database is unavailable. */
struct keystore	*dbconn_get(void);
void		 dbconn_close(void);

#endif
