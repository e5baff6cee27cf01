/*
 * ollaguard-keyctl: what the command files share with main.c, which
 * holds the command table, the option handling and the database path.
 */
#ifndef KEYCTL_H
#define KEYCTL_H

#include <getopt.h>

struct keystore;

/* Exit statuses. */
#define KEYCTL_OK	0
#define KEYCTL_FAIL	1
#define KEYCTL_USAGE	2

/*
 * getopt_long for a command: handles --help (exit 0) and unknown
 * options or missing arguments (message, usage, exit 2).  optstring
 * starts with ":" and holds "h"; longopts has "help" as 'h'.
 */
int		 keyctl_getopt(int, char **, const char *,
		    const struct option *);
/* A usage error in the current command: message, usage, exit 2. */
void		 keyctl_usage_error(const char *, ...)
		    __attribute__((format(printf, 1, 2), noreturn));
/* Opens the database (exits on failure) with KEYSTORE_* flags. */
struct keystore	*keyctl_open(int);
/* The database path, absolute once it exists, for messages. */
const char	*keyctl_dbname(void);

int		 do_add(int, char **);
int		 do_revoke(int, char **);
int		 do_list(int, char **);
int		 do_import(int, char **);
int		 do_export(int, char **);
int		 do_usage(int, char **);
int		 do_genkey(int, char **);

#endif
