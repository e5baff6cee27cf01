/*
 * ollaguard-keyctl set and show, and the policy flags add and set share:
 * --allow, --models, --rpm, --concurrency, the quotas, and add's
 * --ssh-key.  A bad
 * value is a usage error (exit 2) naming it, before the database is
 * touched, so nothing is stored.
 */
#include <err.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "keyedit.h"
#include "keyname.h"
#include "keypolicy.h"
#include "keystore.h"
#include "modelname.h"
#include "policyclass.h"
#include "sshkey.h"
#include "timefmt.h"
#include "keyctl.h"

#define SSH_LINE_MAX	8192

static void	read_ssh_file(const char *, char *, size_t);
static int	quota_opt(int, const char *, struct keyctl_policy *);

/* The quota flags: a number, 0 for none; --trust-user-header[=no]. */
static int
quota_opt(int ch, const char *arg, struct keyctl_policy *p)
{
	static const struct {
		int		 ch;
		const char	*name;
		int		 bit;
		size_t		 off;
	} q[] = {
		{ 'D', "tokens-per-day", KEYCTL_SET_TPD,
		  offsetof(struct keyctl_policy, tokens_per_day) },
		{ 'O', "tokens-per-month", KEYCTL_SET_TPM,
		  offsetof(struct keyctl_policy, tokens_per_month) },
		{ 'Q', "requests-per-day", KEYCTL_SET_RPD,
		  offsetof(struct keyctl_policy, requests_per_day) },
		{ 'U', "user-tokens-per-day", KEYCTL_SET_UTPD,
		  offsetof(struct keyctl_policy, user_tokens_per_day) },
	};
	size_t	 i;

	if (ch == 'T') {
		if (arg == NULL || strcmp(arg, "yes") == 0)
			p->trust_user_header = 1;
		else if (strcmp(arg, "no") == 0)
			p->trust_user_header = 0;
		else
			keyctl_usage_error("--trust-user-header=%s: yes or no",
			    arg);
		p->set |= KEYCTL_SET_TRUST;
		return 1;
	}
	for (i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
		if (q[i].ch != ch)
			continue;
		if (keypolicy_quota_parse(arg, (int64_t *)(void *)
		    ((char *)p + q[i].off)) == -1)
			keyctl_usage_error("--%s %s: not a number from 0 to "
			    "%lld", q[i].name, arg, KEYPOLICY_QUOTA_MAX);
		p->set |= q[i].bit;
		return 1;
	}
	return 0;
}

int
keyctl_policy_opt(int ch, const char *arg, struct keyctl_policy *p)
{
	char	 err[160];
	const char *why;

	if (quota_opt(ch, arg, p))
		return 1;
	switch (ch) {
	case 'A':
		if (policy_allow_parse(arg, &p->allow, err, sizeof(err)) == -1)
			keyctl_usage_error("--allow: %s", err);
		p->set |= KEYCTL_SET_ALLOW;
		return 1;
	case 'M':
		if (modelname_list_parse(arg, p->models, sizeof(p->models),
		    err, sizeof(err)) == -1)
			keyctl_usage_error("--models: %s", err);
		p->set |= KEYCTL_SET_MODELS;
		return 1;
	case 'R':
		if (keypolicy_limit_parse(arg, &p->rpm) == -1)
			keyctl_usage_error("--rpm %s: not a number from 0 to %d",
			    arg, KEYPOLICY_LIMIT_MAX);
		p->set |= KEYCTL_SET_RPM;
		return 1;
	case 'C':
		if (keypolicy_limit_parse(arg, &p->concurrency) == -1)
			keyctl_usage_error("--concurrency %s: not a number from "
			    "0 to %d", arg, KEYPOLICY_LIMIT_MAX);
		p->set |= KEYCTL_SET_CONCURRENCY;
		return 1;
	case 'K':
	case 'F':
		if (p->set & KEYCTL_SET_SSH)
			keyctl_usage_error("give one --ssh-key or "
			    "--ssh-key-file");
		if (ch == 'F') {
			read_ssh_file(arg, p->sshline, sizeof(p->sshline));
			arg = p->sshline;
		}
		if (sshkey_parse_line(arg, p->pub, &why) == -1)
			keyctl_usage_error("%s: %s", ch == 'K' ? "--ssh-key" :
			    "--ssh-key-file", why);
		p->set |= KEYCTL_SET_SSH;
		return 1;
	}
	return 0;
}

/* The first line of a public key file. */
static void
read_ssh_file(const char *path, char *line, size_t len)
{
	FILE	*fp;

	if ((fp = fopen(path, "r")) == NULL)
		keyctl_usage_error("--ssh-key-file %s: cannot open it", path);
	if (fgets(line, len, fp) == NULL)
		keyctl_usage_error("--ssh-key-file %s: empty", path);
	fclose(fp);
}

void
keyctl_policy_apply(const struct keyctl_policy *p, struct keyinfo *ki)
{
	if (p->set & KEYCTL_SET_ALLOW)
		ki->allow = p->allow;
	if (p->set & KEYCTL_SET_MODELS)
		strlcpy(ki->models, p->models, sizeof(ki->models));
	if (p->set & KEYCTL_SET_RPM)
		ki->rpm = p->rpm;
	if (p->set & KEYCTL_SET_CONCURRENCY)
		ki->concurrency = p->concurrency;
	if (p->set & KEYCTL_SET_TPD)
		ki->tokens_per_day = p->tokens_per_day;
	if (p->set & KEYCTL_SET_TPM)
		ki->tokens_per_month = p->tokens_per_month;
	if (p->set & KEYCTL_SET_RPD)
		ki->requests_per_day = p->requests_per_day;
	if (p->set & KEYCTL_SET_TRUST)
		ki->trust_user_header = p->trust_user_header;
	if (p->set & KEYCTL_SET_UTPD)
		ki->user_tokens_per_day = p->user_tokens_per_day;
}

/*
 * The key store's identity of an ssh key, its hint, and on standard
 * output form its fingerprint as ssh-keygen -l shows it.
 */
void
keyctl_ssh_key(const struct keyctl_policy *p, struct keyinfo *ki,
    char *fpr, size_t fprlen)
{
	unsigned char	 b64[4 * ((SSHKEY_IDLEN + 2) / 3) + 1];
	int		 n;

	sshkey_id(p->pub, ki->hash);
	n = EVP_EncodeBlock(b64, ki->hash, SSHKEY_IDLEN);
	while (n > 0 && b64[n - 1] == '=')
		b64[--n] = '\0';
	snprintf(fpr, fprlen, "SHA256:%s", b64);
	snprintf(ki->hint, sizeof(ki->hint), "SHA256:%.12s...", b64);
	ki->kind = KIND_SSH;
}

int
do_set(int argc, char **argv)
{
	static const struct option	 opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "expires", required_argument, NULL, 'e' },
		KEYCTL_POLICY_OPTS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct keyctl_policy		 p;
	struct keyinfo			 ki;
	struct keystore			*ks;
	const char			*name = NULL, *expires = NULL;
	const char			*errstr;
	int64_t				 expires_at = 0, now = time(NULL);
	int				 ch, rc;

	memset(&p, 0, sizeof(p));
	while ((ch = keyctl_getopt(argc, argv, ":h", opts)) != -1) {
		if (keyctl_policy_opt(ch, optarg, &p))
			continue;
		if (ch == 'n') {
			if (!keyname_valid(optarg))
				keyctl_usage_error("--name: %s",
				    KEYEDIT_NAME_RULE);
			name = optarg;
		} else if (ch == 'e') {
			expires = optarg;
			if (keyedit_expires(optarg, now, &expires_at,
			    &errstr) == -1)
				keyctl_usage_error("--expires %s: %s", optarg,
				    errstr);
		}
	}
	if (p.set & KEYCTL_SET_SSH)
		keyctl_usage_error("--ssh-key: a key's kind cannot change");
	if (argc - optind != 1)
		keyctl_usage_error("give one key, by id or name");

	ks = keyctl_open(KEYSTORE_DURABLE | KEYSTORE_NOCREATE);
	if (keyctl_find(ks, argv[optind], 1, &ki) == -1)
		exit(KEYCTL_FAIL);
	if (ki.revoked_at != 0)
		errx(KEYCTL_FAIL, "set: key %" PRId64 " (%s) is revoked",
		    ki.id, ki.hint);
	keyctl_policy_apply(&p, &ki);
	if (name != NULL)
		strlcpy(ki.name, name, sizeof(ki.name));
	if (expires != NULL)
		ki.expires_at = expires_at;
	if ((rc = keystore_update(ks, &ki)) != 0)
		errx(KEYCTL_FAIL, "set: key %" PRId64 " (%s): %s", ki.id,
		    ki.hint, rc == KEYSTORE_NAMETAKEN ? "an active key "
		    "already has that name" : rc == KEYSTORE_NOTFOUND ?
		    "gone or revoked" : rc == KEYSTORE_BUSY ? "the database "
		    "stayed locked" : keystore_errmsg(ks));
	printf("key %" PRId64 " (%s) changed\n", ki.id, ki.hint);
	keystore_close(ks);
	if (fflush(stdout) == EOF)
		err(KEYCTL_FAIL, "set: standard output");
	return KEYCTL_OK;
}

/* The text form of show: one "field: value" line each. */
static void
show_text(json_t *o)
{
	const char	*k;
	json_t		*v;
	char		*s;

	json_object_foreach(o, k, v) {
		if (json_is_string(v))
			printf("%-20s %s\n", k, json_string_value(v));
		else if (json_is_null(v))
			printf("%-20s -\n", k);
		else if ((s = json_dumps(v, JSON_ENCODE_ANY |
		    JSON_COMPACT)) != NULL) {
			printf("%-20s %s\n", k, s);
			free(s);
		}
	}
}

int
do_show(int argc, char **argv)
{
	static const struct option	 opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct keyinfo			 ki;
	struct keystore			*ks;
	json_t				*o;
	int				 ch, json = 0;

	while ((ch = keyctl_getopt(argc, argv, ":h", opts)) != -1)
		if (ch == 'j')
			json = 1;
	if (argc - optind != 1)
		keyctl_usage_error("give one key, by id or name");
	ks = keyctl_open(KEYSTORE_NOCREATE);
	if (keyctl_find(ks, argv[optind], 1, &ki) == -1)
		exit(KEYCTL_FAIL);
	if ((o = keyctl_key_json(&ki, time(NULL))) == NULL)
		exit(KEYCTL_FAIL);
	if (json) {
		json_dumpf(o, stdout, JSON_INDENT(2));
		putchar('\n');
	} else
		show_text(o);
	json_decref(o);
	keystore_close(ks);
	if (fflush(stdout) == EOF || ferror(stdout))
		err(KEYCTL_FAIL, "show: standard output");
	return KEYCTL_OK;
}
