/*
 * keyrow: reading and binding a key's columns, for keystore.c alone
 * (keystore.h is the key database's interface; the names of states,
 * origins and kinds it declares are implemented in keyrow.c).
 */
#ifndef KEYROW_H
#define KEYROW_H

#include <sqlite3.h>

struct keyinfo;

/* The columns of a key's row, in the order the statements select them,
 * into ki. */
void	keyrow_read(sqlite3_stmt *, struct keyinfo *ki);
/* Binds allow, models, rpm, concurrency and the quotas from column n
 * on: 9 columns. */
void	keyrow_bind_policy(sqlite3_stmt *, int n, const struct keyinfo *ki);

#endif
