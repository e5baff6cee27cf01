/*
 * keyjson: key files in and out.  Import reads the original tool's
 * storage.json forms and this project's own export; export writes every
 * key's hash and metadata, never a secret, so keys can move between
 * hosts.  A file is parsed and every entry checked before the database
 * is touched, and then written in one transaction, so a bad file imports
 * nothing and holds no lock while it is being read.  Files are walked
 * one entry at a time rather than loaded whole, so a million keys take
 * the memory of one.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jsonwalk.h"
#include "keygen.h"
#include "keyjson.h"
#include "keypolicy.h"
#include "keyname.h"
#include "keystore.h"
#include "policyclass.h"
#include "timefmt.h"

#define KEYJSON_VERSION	1

struct keyjson {
	struct jsonwalk	 jw;
	int		 allow;		/* classes of keys without "allow" */
};

/* One parsed entry of the file. */
struct entry {
	struct keyinfo	 ki;
	int		 badname;	/* a name given cannot be used */
};

struct export {
	FILE		*out;
	long		 n;
	int		 failed;
	char		*err;
	size_t		 errlen;
};

static int	 entry_check(const char *, size_t, json_t *, char *, size_t);
static int	 entry_parse(const char *, size_t, json_t *, int,
		    struct entry *, char *, size_t);
static int	 parse_key(json_t *, int, struct entry *, char *, size_t);
static int	 parse_object(json_t *, int, struct entry *, char *, size_t);
static int	 parse_name(json_t *, struct entry *, char *, size_t);
static int	 parse_time(json_t *, const char *, int64_t *, char *,
		    size_t);
static int	 entry_store(struct keystore *, struct entry *,
		    struct keyjson_counts *);
static int	 export_key(const struct keyinfo *, void *);

/* keyjson_load's check of each entry, which it parses and lets go. */
static int
entry_check(const char *where, size_t i, json_t *v, char *err, size_t errlen)
{
	struct entry	 e;

	return entry_parse(where, i, v, 0, &e, err, errlen);
}

struct keyjson *
keyjson_load(const char *buf, size_t len, char *err, size_t errlen)
{
	struct keyjson	*kj;

	if ((kj = calloc(1, sizeof(*kj))) == NULL) {
		snprintf(err, errlen, "%s", strerror(errno));
		return NULL;
	}
	kj->jw.buf = buf;
	kj->jw.len = len;
	kj->jw.version = KEYJSON_VERSION;
	kj->allow = POLICY_DEFAULT_ALLOW;
	if (jsonwalk_scan(&kj->jw, entry_check, err, errlen) == -1) {
		free(kj);
		return NULL;
	}
	return kj;
}

void
keyjson_set_allow(struct keyjson *kj, int allow)
{
	kj->allow = allow;
}

size_t
keyjson_size(const struct keyjson *kj)
{
	return kj->jw.n;
}

void
keyjson_free(struct keyjson *kj)
{
	free(kj);
}

/* Reads entry i, v, into e; dohash 0 only checks it (keyjson_load). */
static int
entry_parse(const char *where, size_t i, json_t *v, int dohash,
    struct entry *e, char *err, size_t errlen)
{
	char	 why[128];
	int	 rc;

	memset(e, 0, sizeof(*e));
	e->ki.origin = ORIGIN_IMPORT;
	/* The original tool's keys, and exports from before key policy,
	 * get the default classes. */
	e->ki.allow = POLICY_DEFAULT_ALLOW;
	if (json_is_string(v))
		rc = parse_key(v, dohash, e, why, sizeof(why));
	else if (json_is_object(v))
		rc = parse_object(v, dohash, e, why, sizeof(why));
	else {
		snprintf(why, sizeof(why),
		    "expected a key string or an object");
		rc = -1;
	}
	if (rc == -1)
		snprintf(err, errlen, "%s[%zu]: %s", where, i, why);
	return rc;
}

/* A plaintext key from the original tool: hash it and keep a hint. */
static int
parse_key(json_t *v, int dohash, struct entry *e, char *why, size_t whylen)
{
	const char	*key = json_string_value(v);
	size_t		 len = json_string_length(v), i;

	if (len == 0) {
		snprintf(why, whylen, "empty key");
		return -1;
	}
	if (len > KEYJSON_KEY_MAX) {
		snprintf(why, whylen, "key longer than %d bytes",
		    KEYJSON_KEY_MAX);
		return -1;
	}
	/* Only what a client can send in an Authorization header. */
	for (i = 0; i < len; i++) {
		if ((unsigned char)key[i] <= ' ' ||
		    (unsigned char)key[i] >= 0x7f) {
			snprintf(why, whylen, "key holds a space, a control "
			    "or a non-ASCII character");
			return -1;
		}
	}
	if (dohash) {
		keygen_hash(key, len, e->ki.hash);
		/* The original's keys have no prefix we could know of. */
		keygen_hint(key, 0, e->ki.hint, sizeof(e->ki.hint));
	}
	return 0;
}

static int
parse_object(json_t *o, int dohash, struct entry *e, char *why,
    size_t whylen)
{
	json_t		*key, *hash, *v;
	const char	*s;
	json_int_t	 n;

	key = json_object_get(o, "key");
	hash = json_object_get(o, "hash");
	if (key != NULL && hash != NULL) {
		snprintf(why, whylen, "has both \"key\" and \"hash\"");
		return -1;
	}
	if (key != NULL) {
		if (!json_is_string(key)) {
			snprintf(why, whylen, "\"key\" is not a string");
			return -1;
		}
		/* Only the name: the original's other fields have no
		 * format we could rely on. */
		if (parse_key(key, dohash, e, why, whylen) == -1)
			return -1;
		return parse_name(o, e, why, whylen);
	}
	if (hash == NULL) {
		snprintf(why, whylen, "has neither \"key\" nor \"hash\"");
		return -1;
	}
	if (!json_is_string(hash) ||
	    keygen_unhex(json_string_value(hash), e->ki.hash) == -1) {
		snprintf(why, whylen, "\"hash\" is not 64 hex digits");
		return -1;
	}

	v = json_object_get(o, "hint");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_string(v) ||
		    json_string_length(v) >= sizeof(e->ki.hint) ||
		    !keyname_text_valid(json_string_value(v))) {
			snprintf(why, whylen, "\"hint\" is not a key hint");
			return -1;
		}
		strlcpy(e->ki.hint, json_string_value(v), sizeof(e->ki.hint));
	}
	if (parse_name(o, e, why, whylen) == -1 ||
	    parse_time(o, "created_at", &e->ki.created_at, why,
	    whylen) == -1 ||
	    parse_time(o, "expires_at", &e->ki.expires_at, why,
	    whylen) == -1 ||
	    parse_time(o, "revoked_at", &e->ki.revoked_at, why,
	    whylen) == -1 ||
	    parse_time(o, "last_used_at", &e->ki.last_used_at, why,
	    whylen) == -1)
		return -1;

	v = json_object_get(o, "origin");
	if (v != NULL && !json_is_null(v)) {
		s = json_string_value(v);
		if (s == NULL ||
		    keystore_origin_parse(s, &e->ki.origin) == -1) {
			snprintf(why, whylen, "\"origin\" is not an origin");
			return -1;
		}
	}
	v = json_object_get(o, "requests");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_integer(v) || (n = json_integer_value(v)) < 0) {
			snprintf(why, whylen, "\"requests\" is not a count");
			return -1;
		}
		e->ki.requests = n;
	}
	return keypolicy_from_json(o, 1, &e->ki, why, whylen);
}

/* A name that cannot be used costs the key its name, not the import. */
static int
parse_name(json_t *o, struct entry *e, char *why, size_t whylen)
{
	json_t	*v;

	v = json_object_get(o, "name");
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v)) {
		snprintf(why, whylen, "\"name\" is not a string");
		return -1;
	}
	if (json_string_length(v) == 0)
		return 0;
	if (json_string_length(v) >= sizeof(e->ki.name) ||
	    !keyname_valid(json_string_value(v))) {
		e->badname = 1;
		return 0;
	}
	strlcpy(e->ki.name, json_string_value(v), sizeof(e->ki.name));
	return 0;
}

static int
parse_time(json_t *o, const char *field, int64_t *t, char *why,
    size_t whylen)
{
	json_t	*v;

	*t = 0;
	v = json_object_get(o, field);
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) ||
	    timefmt_parse_iso(json_string_value(v), t) == -1) {
		snprintf(why, whylen, "\"%s\" is not an ISO 8601 UTC time "
		    "(like 2026-11-26T14:05:00Z)", field);
		return -1;
	}
	/* No key was made, used or revoked before 1970: such a time is a
	 * damaged file, not data to keep. */
	if (*t < 0) {
		snprintf(why, whylen, "\"%s\" is before 1970", field);
		return -1;
	}
	/* 0 is "never" in a keyinfo: the epoch itself would import a
	 * revoked key as active and an expiring one as never expiring. */
	if (*t == 0) {
		snprintf(why, whylen, "\"%s\" is 1970-01-01T00:00:00Z, which "
		    "means nothing here; use null for never", field);
		return -1;
	}
	return 0;
}

int
keyjson_store(struct keystore *ks, const struct keyjson *kj,
    struct keyjson_counts *counts, char *err, size_t errlen)
{
	struct jsonwalk_pos	 w;
	struct entry		 e;
	json_t			*v;
	int			 rc;

	memset(counts, 0, sizeof(*counts));
	if ((rc = keystore_begin(ks)) != 0) {
		snprintf(err, errlen, "%s", rc == KEYSTORE_BUSY ?
		    "the database stayed locked" : keystore_errmsg(ks));
		return -1;
	}
	jsonwalk_start(&kj->jw, &w);
	while ((rc = jsonwalk_next(&kj->jw, &w, &v, err, errlen)) == 1) {
		rc = entry_parse(kj->jw.where, w.i - 1, v, 1, &e, err, errlen);
		if (rc == 0 && json_object_get(v, "allow") == NULL)
			e.ki.allow = kj->allow;
		json_decref(v);
		if (rc == -1)
			goto fail;
		if (entry_store(ks, &e, counts) == -1) {
			snprintf(err, errlen, "%s[%zu]: %s", kj->jw.where,
			    w.i - 1, keystore_errmsg(ks));
			goto fail;
		}
	}
	if (rc == -1)
		goto fail;
	if ((rc = keystore_commit(ks)) != 0) {
		snprintf(err, errlen, "%s", rc == KEYSTORE_BUSY ?
		    "the database stayed locked" : keystore_errmsg(ks));
		goto fail;
	}
	return 0;
 fail:
	keystore_rollback(ks);
	memset(counts, 0, sizeof(*counts));
	return -1;
}

/*
 * A key already stored is skipped.  A name an active key holds is
 * dropped and the key imported without it: losing a label is better
 * than losing a key users depend on, and the caller reports the count.
 * keystore_add starts a key unused, so an export's usage is added
 * after it, inside the same transaction.
 */
static int
entry_store(struct keystore *ks, struct entry *e,
    struct keyjson_counts *counts)
{
	struct keyuse	use;
	int64_t		id;
	int		rc;

	rc = keystore_add(ks, &e->ki, &id);
	if (rc == KEYSTORE_NAMETAKEN) {
		e->ki.name[0] = '\0';
		e->badname = 1;
		rc = keystore_add(ks, &e->ki, &id);
	}
	if (rc == KEYSTORE_EXISTS) {
		counts->skipped++;
		return 0;
	}
	if (rc != 0)
		return -1;
	if (e->ki.requests != 0 || e->ki.last_used_at != 0) {
		use.id = id;
		use.requests = e->ki.requests;
		use.last_used_at = e->ki.last_used_at;
		if (keystore_record_use(ks, &use, 1) != 0)
			return -1;
	}
	counts->added++;
	if (e->badname)
		counts->unnamed++;
	return 0;
}

int
keyjson_import(struct keystore *ks, const char *buf, size_t len,
    struct keyjson_counts *counts, char *err, size_t errlen)
{
	struct keyjson	*kj;
	int		 rc;

	memset(counts, 0, sizeof(*counts));
	if ((kj = keyjson_load(buf, len, err, errlen)) == NULL)
		return -1;
	rc = keyjson_store(ks, kj, counts, err, errlen);
	keyjson_free(kj);
	return rc;
}

/*
 * Databases written before durations were limited can hold expiry times
 * past the year 9999, or below zero where the sum overflowed.  They are
 * written as the nearest time import takes, which leaves the key as it
 * is (never expiring, or expired), so an export always imports.
 */
json_t *
keyjson_time(int64_t t)
{
	char	buf[TIMEFMT_ISO_LEN];

	if (t == 0)
		return json_null();
	if (t < 0)
		t = 1;
	else if (t > TIMEFMT_MAX)
		t = TIMEFMT_MAX;
	timefmt_iso(t, buf, sizeof(buf));
	return json_string(buf);
}

/*
 * The fields of a key in each form, in the order written: the order is
 * part of the output people diff and scripts read.
 */
enum kj_field {
	KJ_END = 0,
	KJ_ID,
	KJ_HASH,
	KJ_NAME,
	KJ_HINT,
	KJ_CREATED,
	KJ_EXPIRES,
	KJ_REVOKED,
	KJ_LASTUSED,
	KJ_REQUESTS,
	KJ_STATE,
	KJ_ORIGIN
};

static const char *const kj_names[] = {
	[KJ_ID] = "id",
	[KJ_HASH] = "hash",
	[KJ_NAME] = "name",
	[KJ_HINT] = "hint",
	[KJ_CREATED] = "created_at",
	[KJ_EXPIRES] = "expires_at",
	[KJ_REVOKED] = "revoked_at",
	[KJ_LASTUSED] = "last_used_at",
	[KJ_REQUESTS] = "requests",
	[KJ_STATE] = "state",
	[KJ_ORIGIN] = "origin",
};

static const enum kj_field kj_forms[][11] = {
	[KEYJSON_EXPORT] = { KJ_HASH, KJ_HINT, KJ_NAME, KJ_CREATED,
	    KJ_EXPIRES, KJ_REVOKED, KJ_ORIGIN, KJ_REQUESTS, KJ_LASTUSED },
	[KEYJSON_LIST] = { KJ_ID, KJ_NAME, KJ_HINT, KJ_CREATED, KJ_EXPIRES,
	    KJ_REVOKED, KJ_LASTUSED, KJ_REQUESTS, KJ_STATE, KJ_ORIGIN },
};

static json_t *
kj_value(const struct keyinfo *ki, enum kj_field f, int64_t now)
{
	char	hex[KEYGEN_HEXLEN];

	switch (f) {
	case KJ_ID:
		return json_integer(ki->id);
	case KJ_HASH:
		keygen_hex(ki->hash, hex);
		return json_string(hex);
	case KJ_NAME:
		if (ki->name[0] == '\0')
			return json_null();
		return json_string(ki->name);
	case KJ_HINT:
		return json_string(ki->hint);
	case KJ_CREATED:
		return keyjson_time(ki->created_at);
	case KJ_EXPIRES:
		return keyjson_time(ki->expires_at);
	case KJ_REVOKED:
		return keyjson_time(ki->revoked_at);
	case KJ_LASTUSED:
		return keyjson_time(ki->last_used_at);
	case KJ_REQUESTS:
		return json_integer(ki->requests);
	case KJ_STATE:
		return json_string(keystore_state_name(
		    keystore_key_state(ki, now)));
	case KJ_ORIGIN:
		return json_string(keystore_origin_name(ki->origin));
	case KJ_END:
		break;
	}
	return NULL;
}

json_t *
keyjson_key_object(const struct keyinfo *ki, int form, int64_t now)
{
	const enum kj_field	*f;
	json_t			*o;

	if ((o = json_object()) == NULL)
		return NULL;
	/* json_object_set_new fails, and frees nothing, on a NULL value:
	 * a name or hint that is not UTF-8 ends up here too. */
	for (f = kj_forms[form]; *f != KJ_END; f++)
		if (json_object_set_new(o, kj_names[*f],
		    kj_value(ki, *f, now)) == -1) {
			json_decref(o);
			return NULL;
		}
	/* Both forms carry the key's policy, so an export moves it. */
	if (keypolicy_to_json(o, ki) == -1) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* One key per line, so an export diffs and greps well. */
static int
export_key(const struct keyinfo *ki, void *arg)
{
	struct export	*x = arg;
	json_t		*o;
	int		 rc = -1;

	if ((o = keyjson_key_object(ki, KEYJSON_EXPORT, 0)) == NULL) {
		snprintf(x->err, x->errlen, "key %" PRId64 ": its name or "
		    "hint cannot be written as JSON", ki->id);
		goto done;
	}
	if (fputs(x->n++ == 0 ? "\n" : ",\n", x->out) == EOF ||
	    json_dumpf(o, x->out, 0) == -1) {
		snprintf(x->err, x->errlen, "write: %s", strerror(errno));
		goto done;
	}
	rc = 0;
 done:
	json_decref(o);
	if (rc == -1)
		x->failed = 1;
	return rc;
}

int
keyjson_export(struct keystore *ks, FILE *out, char *err, size_t errlen)
{
	return keyjson_export_extra(ks, out, NULL, NULL, err, errlen);
}

int
keyjson_export_extra(struct keystore *ks, FILE *out,
    int (*extra)(FILE *, void *, char *, size_t), void *arg, char *err,
    size_t errlen)
{
	struct export	x;

	memset(&x, 0, sizeof(x));
	x.out = out;
	x.err = err;
	x.errlen = errlen;
	if (fprintf(out, "{\"version\": %d, \"keys\": [",
	    KEYJSON_VERSION) < 0) {
		snprintf(err, errlen, "write: %s", strerror(errno));
		return -1;
	}
	if (keystore_list(ks, export_key, &x) != 0) {
		if (!x.failed)
			snprintf(err, errlen, "%s", keystore_errmsg(ks));
		return -1;
	}
	if (fputs("\n]", out) != EOF && extra != NULL &&
	    extra(out, arg, err, errlen) == -1)
		return -1;
	if (ferror(out) || fputs("}\n", out) == EOF || fflush(out) == EOF ||
	    ferror(out)) {
		snprintf(err, errlen, "write: %s", strerror(errno));
		return -1;
	}
	return 0;
}

const char *
keyjson_unknown(const struct keyjson *kj)
{
	return kj->jw.unknown;
}

/*
 * Walks the entries again for plaintext keys shorter than minlen: a
 * one-character key is a typo, or a guess away from anyone's access.
 */
size_t
keyjson_short(const struct keyjson *kj, size_t minlen, size_t *first)
{
	struct jsonwalk_pos	 w;
	json_t			*v, *k;
	char			 err[128];
	size_t			 n = 0;

	jsonwalk_start(&kj->jw, &w);
	while (jsonwalk_next(&kj->jw, &w, &v, err, sizeof(err)) == 1) {
		k = json_is_object(v) ? json_object_get(v, "key") : v;
		if (json_is_string(k) && json_string_length(k) < minlen &&
		    n++ == 0)
			*first = w.i - 1;
		json_decref(v);
	}
	return n;
}
