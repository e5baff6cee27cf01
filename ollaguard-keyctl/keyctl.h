/*
 * ollaguard-keyctl: what the command files share with main.c, which
 * holds the command table, the option handling and the database path.
 */
#ifndef KEYCTL_H
#define KEYCTL_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "modelname.h"
#include "sshkey.h"

struct json_t;
struct keyinfo;
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
/* Now, with the daemon's clock-offset (for testing). */
int64_t		 keyctl_now(void);
/* The database path, absolute once it exists, for messages. */
const char	*keyctl_dbname(void);
/* The running command's name, for messages. */
const char	*keyctl_cmdname(void);
/* The classes a new key gets: default-allow from --config, else
 * infer,read.  Exits on a bad file. */
int		 keyctl_default_allow(void);
/*
 * Finds a key by id (all digits), name, or the key itself.  0 and ki
 * filled, or -1 after a message; pos numbers the argument.
 */
int		 keyctl_find(struct keystore *, const char *, int,
		    struct keyinfo *);
/* A key's metadata and policy as a JSON object, or NULL. */
struct json_t	*keyctl_key_json(const struct keyinfo *, int64_t now);

/* The policy flags of add and set, as keyctl_policy_opt read them. */
#define KEYCTL_SET_ALLOW	0x01
#define KEYCTL_SET_MODELS	0x02
#define KEYCTL_SET_RPM		0x04
#define KEYCTL_SET_CONCURRENCY	0x08
#define KEYCTL_SET_SSH		0x10
#define KEYCTL_SET_TPD		0x20
#define KEYCTL_SET_TPM		0x40
#define KEYCTL_SET_RPD		0x80
#define KEYCTL_SET_TRUST	0x100
#define KEYCTL_SET_UTPD		0x200

struct keyctl_policy {
	int		 set;		/* KEYCTL_SET_* given */
	int		 allow;
	char		 models[MODELNAME_LIST_MAX];
	uint32_t	 rpm;
	uint32_t	 concurrency;
	int64_t		 tokens_per_day;
	int64_t		 tokens_per_month;
	int64_t		 requests_per_day;
	int		 trust_user_header;
	int64_t		 user_tokens_per_day;
	uint8_t		 pub[SSHKEY_PUBLEN];
	char		 sshline[8192];
};

#define KEYCTL_POLICY_OPTS \
	{ "allow", required_argument, NULL, 'A' }, \
	{ "models", required_argument, NULL, 'M' }, \
	{ "rpm", required_argument, NULL, 'R' }, \
	{ "concurrency", required_argument, NULL, 'C' }, \
	{ "tokens-per-day", required_argument, NULL, 'D' }, \
	{ "tokens-per-month", required_argument, NULL, 'O' }, \
	{ "requests-per-day", required_argument, NULL, 'Q' }, \
	{ "trust-user-header", optional_argument, NULL, 'T' }, \
	{ "user-tokens-per-day", required_argument, NULL, 'U' }, \
	{ "ssh-key", required_argument, NULL, 'K' }, \
	{ "ssh-key-file", required_argument, NULL, 'F' }

/* 1 if ch was a policy flag (checked: exits 2 on a bad value). */
int		 keyctl_policy_opt(int, const char *, struct keyctl_policy *);
void		 keyctl_policy_apply(const struct keyctl_policy *,
		    struct keyinfo *);
/* Makes ki an ssh key's; its fingerprint into fpr. */
void		 keyctl_ssh_key(const struct keyctl_policy *, struct keyinfo *,
		    char *fpr, size_t fprlen);

/* export --with-usage and import (usagexfer.c). */
int		 usagexfer_export(FILE *, void *ks, char *, size_t);
int64_t		 usagexfer_import(struct keystore *, const char *, size_t,
		    char *, size_t);

int		 do_add(int, char **);
int		 do_revoke(int, char **);
int		 do_list(int, char **);
int		 do_import(int, char **);
int		 do_export(int, char **);
int		 do_usage(int, char **);
int		 do_genkey(int, char **);
int		 do_set(int, char **);
int		 do_show(int, char **);

#endif
