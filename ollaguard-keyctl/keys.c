/*
 * ollaguard-keyctl add and revoke: the commands that make and end keys.
 * A key exists in this process only between keygen_new and the moment
 * it reaches standard output; messages name keys by id and hint, never
 * by the key, even when the user typed the key.
 */
#include <err.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keygen.h"
#include "keyedit.h"
#include "keyname.h"
#include "keystore.h"
#include "timefmt.h"
#include "keyctl.h"

static void	add_store(struct keyinfo *, char *, size_t, const char *);
static int	revoke_one(struct keystore *, const char *, int, int64_t);

int
do_add(int argc, char **argv)
{
	static const struct option	 opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "prefix", required_argument, NULL, 'p' },
		{ "expires", required_argument, NULL, 'e' },
		KEYCTL_POLICY_OPTS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static struct keyctl_policy	 p;
	struct keyinfo			 ki;
	char				 key[KEYGEN_KEY_MAX];
	const char			*name = NULL, *prefix, *errstr;
	int64_t				 expires_at = 0, now = time(NULL);
	int				 ch;

	if ((prefix = getenv("OLLAGUARD_PREFIX")) == NULL)
		prefix = "";
	while ((ch = keyctl_getopt(argc, argv, ":h", opts)) != -1) {
		if (keyctl_policy_opt(ch, optarg, &p))
			continue;
		switch (ch) {
		case 'n':
			name = optarg;
			break;
		case 'p':
			prefix = optarg;
			break;
		case 'e':
			if (keyedit_expires(optarg, now, &expires_at,
			    &errstr) == -1)
				keyctl_usage_error("--expires %s: %s", optarg,
				    errstr);
			break;
		}
	}
	if (optind != argc)
		keyctl_usage_error("%s: unexpected argument", argv[optind]);
	if (name != NULL && !keyname_valid(name))
		keyctl_usage_error("--name: %s", KEYEDIT_NAME_RULE);
	if (!keygen_prefix_valid(prefix))
		keyctl_usage_error("prefix \"%s\": at most %d printable "
		    "characters, no spaces or quotes", prefix,
		    KEYGEN_PREFIX_MAX);

	memset(&ki, 0, sizeof(ki));
	if (p.set & KEYCTL_SET_SSH)
		keyctl_ssh_key(&p, &ki, key, sizeof(key));
	else {
		if (keygen_new(prefix, key, sizeof(key)) == -1)
			errx(KEYCTL_FAIL, "add: cannot make a key");
		keygen_hash(key, strlen(key), ki.hash);
		keygen_hint(key, strlen(prefix), ki.hint, sizeof(ki.hint));
	}
	if (name != NULL)
		strlcpy(ki.name, name, sizeof(ki.name));
	ki.created_at = now;
	ki.expires_at = expires_at;
	ki.origin = ORIGIN_KEYCTL;
	ki.allow = keyctl_default_allow();
	keyctl_policy_apply(&p, &ki);

	add_store(&ki, key, sizeof(key), name);
	return KEYCTL_OK;
}

/*
 * Stores ki and prints key (a secret, or an ssh key's fingerprint);
 * exits on failure, after wiping the key.
 */
static void
add_store(struct keyinfo *ki, char *key, size_t keysize, const char *name)
{
	struct keystore	*ks;
	char		 when[TIMEFMT_ISO_LEN];
	int64_t		 id;
	int		 rc, saved;

	ks = keyctl_open(KEYSTORE_DURABLE);
	if ((rc = keystore_add(ks, ki, &id)) != 0) {
		explicit_bzero(key, keysize);
		if (rc == KEYSTORE_NAMETAKEN)
			errx(KEYCTL_FAIL, "add: name %s: an active key already "
			    "has it", name);
		if (rc == KEYSTORE_BUSY)
			errx(KEYCTL_FAIL, "add: %s: stayed locked by another "
			    "writer; try again", keyctl_dbname());
		errx(KEYCTL_FAIL, "add: %s: %s", keyctl_dbname(),
		    rc == KEYSTORE_EXISTS ? (ki->kind == KIND_SSH ? "that ssh "
		    "key is already stored" : "the new key collided with a "
		    "stored one") : keystore_errmsg(ks));
	}

	/*
	 * A key nobody received must not stay valid: if standard output
	 * fails (a closed pipe, a full disk), revoke it again.
	 */
	signal(SIGPIPE, SIG_IGN);
	if (printf("%s\n", key) < 0 || fflush(stdout) == EOF) {
		saved = errno;
		explicit_bzero(key, keysize);
		rc = keystore_revoke(ks, id, time(NULL));
		errno = saved;
		err(KEYCTL_FAIL, "add: writing the key failed, key %" PRId64
		    " (%s) %s", id, ki->hint, rc == 0 ? "revoked" :
		    "COULD NOT BE REVOKED");
	}
	explicit_bzero(key, keysize);

	if (ki->expires_at != 0) {
		timefmt_iso(ki->expires_at, when, sizeof(when));
		warnx("key %" PRId64 " (%s) stored in %s, expires %s", id,
		    ki->hint, keyctl_dbname(), when);
	} else
		warnx("key %" PRId64 " (%s) stored in %s", id, ki->hint,
		    keyctl_dbname());
	keystore_close(ks);
}

int
keyctl_find(struct keystore *ks, const char *arg, int pos,
    struct keyinfo *ki)
{
	const char	*cmd = keyctl_cmdname();
	uint8_t		 hash[KEYGEN_HASHLEN];
	char		 hint[KEYGEN_HINT_MAX];
	const char	*errstr;
	long long	 id;
	int		 rc;

	if (*arg == '\0') {
		warnx("%s: argument %d is empty", cmd, pos);
		return -1;
	}
	if (strspn(arg, "0123456789") == strlen(arg)) {
		id = strtonum(arg, 1, LLONG_MAX, &errstr);
		if (errstr != NULL) {
			warnx("%s: id %s: %s", cmd, arg, errstr);
			return -1;
		}
		if ((rc = keystore_get_id(ks, id, ki)) == KEYSTORE_NOTFOUND) {
			warnx("%s: id %lld: no such key", cmd, id);
			return -1;
		}
	} else {
		rc = keystore_get_name(ks, arg, ki);
		if (rc == KEYSTORE_NOTFOUND) {
			keygen_hash(arg, strlen(arg), hash);
			rc = keystore_get_hash(ks, hash, ki);
			explicit_bzero(hash, sizeof(hash));
		}
		if (rc == KEYSTORE_NOTFOUND) {
			/* It may be a key: show only its hint. */
			keygen_hint(arg, 0, hint, sizeof(hint));
			warnx("%s: argument %d (%s): no key has that name "
			    "or is that key", cmd, pos, hint);
			return -1;
		}
	}
	if (rc != 0) {
		warnx("%s: %s: %s", cmd, keyctl_dbname(), rc == KEYSTORE_BUSY ?
		    "stayed locked by another writer" : keystore_errmsg(ks));
		return -1;
	}
	return 0;
}

static int
revoke_one(struct keystore *ks, const char *arg, int pos, int64_t now)
{
	struct keyinfo	ki;
	int		rc;

	if (keyctl_find(ks, arg, pos, &ki) == -1)
		return -1;
	if (ki.revoked_at != 0) {
		printf("key %" PRId64 " (%s) was already revoked\n", ki.id,
		    ki.hint);
		return 0;
	}
	if ((rc = keystore_revoke(ks, ki.id, now)) != 0) {
		warnx("revoke: key %" PRId64 " (%s): %s", ki.id, ki.hint,
		    rc == KEYSTORE_NOTFOUND ? "gone" : rc == KEYSTORE_BUSY ?
		    "the database stayed locked" : keystore_errmsg(ks));
		return -1;
	}
	printf("key %" PRId64 " (%s) revoked\n", ki.id, ki.hint);
	return 0;
}

int
do_revoke(int argc, char **argv)
{
	static const struct option	 opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct keystore			*ks;
	int64_t				 now;
	int				 i, status = KEYCTL_OK;

	while (keyctl_getopt(argc, argv, ":h", opts) != -1)
		;
	argc -= optind;
	argv += optind;
	if (argc == 0)
		keyctl_usage_error("no key given");

	ks = keyctl_open(KEYSTORE_DURABLE | KEYSTORE_NOCREATE);
	now = time(NULL);
	/* Each in its own transaction: one unknown key stops no other. */
	for (i = 0; i < argc; i++)
		if (revoke_one(ks, argv[i], i + 1, now) == -1)
			status = KEYCTL_FAIL;
	keystore_close(ks);
	if (fflush(stdout) == EOF)
		err(KEYCTL_FAIL, "revoke: standard output");
	return status;
}

int
do_genkey(int argc, char **argv)
{
	static const struct option	 opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	char				 key[KEYGEN_KEY_MAX];

	while (keyctl_getopt(argc, argv, ":h", opts) != -1)
		;
	if (optind != argc)
		keyctl_usage_error("genkey takes no argument");
	if (keygen_new("", key, sizeof(key)) == -1)
		errx(KEYCTL_FAIL, "cannot make a key");
	printf("%s\n", key);
	explicit_bzero(key, sizeof(key));
	return fflush(stdout) == 0 ? KEYCTL_OK : KEYCTL_FAIL;
}
