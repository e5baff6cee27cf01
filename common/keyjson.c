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

#include "keygen.h"
#include "keystore.h"
#include "keyjson.h"
#include "timefmt.h"

#define KEYJSON_VERSION	1

struct keyjson {
	const char	*buf;		/* the caller's */
	size_t		 len;
	size_t		 keys;		/* just past the entries' [ */
	size_t		 n;		/* how many entries */
	const char	*where;		/* "keys", "api_keys" or "" */
	char		 unknown[128];	/* root members not read, for a warning */
};

/* A position in the array of entries. */
struct walk {
	size_t		 pos;
	size_t		 i;		/* entries read */
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

static int	 text_valid(const char *);
static size_t	 skip_ws(const struct keyjson *, size_t);
static int	 syntax_error(const struct keyjson *, size_t, const char *,
		    char *, size_t);
static int	 expected(const struct keyjson *, size_t, const char *,
		    char *, size_t);
static int	 parse_value(const struct keyjson *, size_t *, json_t **,
		    char *, size_t);
static int	 walk_next(const struct keyjson *, struct walk *, json_t **,
		    char *, size_t);
static int	 walk_array(const struct keyjson *, size_t *, const char *,
		    size_t *, char *, size_t);
static int	 scan_member(struct keyjson *, size_t *, char *, size_t);
static int	 scan(struct keyjson *, char *, size_t);
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

/*
 * Strict UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF, as jansson demands on output) without control characters,
 * which would let a name rewrite the terminal that lists it.
 */
static int
text_valid(const char *str)
{
	const unsigned char	*s = (const unsigned char *)str;
	uint32_t		 cp;
	int			 i, n;

	while (*s != '\0') {
		if (*s < 0x20 || *s == 0x7f)
			return 0;
		if (*s < 0x80) {
			s++;
			continue;
		}
		if ((*s & 0xe0) == 0xc0) {
			n = 1;
			cp = *s & 0x1f;
		} else if ((*s & 0xf0) == 0xe0) {
			n = 2;
			cp = *s & 0x0f;
		} else if ((*s & 0xf8) == 0xf0) {
			n = 3;
			cp = *s & 0x07;
		} else
			return 0;
		/* A NUL fails the continuation test, so this stays inside. */
		for (i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i] & 0x3f);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
		    (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		s += n + 1;
	}
	return 1;
}

int
keyjson_name_valid(const char *name)
{
	size_t	len, i;

	len = strlen(name);
	if (len == 0 || len >= KEYSTORE_NAME_MAX || !text_valid(name))
		return 0;
	/* revoke reads an all-digit argument as an id. */
	for (i = 0; i < len; i++)
		if (name[i] < '0' || name[i] > '9')
			return 1;
	return 0;
}

/* JSON's whitespace, which is not isspace()'s. */
static size_t
skip_ws(const struct keyjson *kj, size_t pos)
{
	while (pos < kj->len && (kj->buf[pos] == ' ' ||
	    kj->buf[pos] == '\t' || kj->buf[pos] == '\n' ||
	    kj->buf[pos] == '\r'))
		pos++;
	return pos;
}

/*
 * Reports a syntax error at byte off as line and column, counted the
 * way jansson counts them: lines from 1, characters from 1, the column
 * being that of the last character read.
 */
static int
syntax_error(const struct keyjson *kj, size_t off, const char *what,
    char *err, size_t errlen)
{
	size_t	i;
	int	line = 1, col = 0;

	for (i = 0; i < off && i < kj->len; i++) {
		if (kj->buf[i] == '\n') {
			line++;
			col = 0;
		} else if ((kj->buf[i] & 0xc0) != 0x80)
			col++;
	}
	snprintf(err, errlen, "line %d, column %d: %s", line, col, what);
	return -1;
}

/* A syntax error at the character at pos, jansson-style. */
static int
expected(const struct keyjson *kj, size_t pos, const char *what, char *err,
    size_t errlen)
{
	char	msg[96];

	if (pos >= kj->len)
		snprintf(msg, sizeof(msg), "%s near end of file", what);
	else
		snprintf(msg, sizeof(msg), "%s near '%c'", what, kj->buf[pos]);
	return syntax_error(kj, pos + 1, msg, err, errlen);
}

/* Parses the one JSON value at *pos and moves *pos past it. */
static int
parse_value(const struct keyjson *kj, size_t *pos, json_t **v, char *err,
    size_t errlen)
{
	json_error_t	jerr;

	*v = json_loadb(kj->buf + *pos, kj->len - *pos,
	    JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK, &jerr);
	if (*v == NULL)
		return syntax_error(kj, *pos + jerr.position, jerr.text, err,
		    errlen);
	*pos += jerr.position;
	return 0;
}

/*
 * The next entry of the array whose '[' w->pos started just past: 1 and
 * *v, 0 past the closing ']', -1 on a syntax error.
 */
static int
walk_next(const struct keyjson *kj, struct walk *w, json_t **v, char *err,
    size_t errlen)
{
	w->pos = skip_ws(kj, w->pos);
	if (w->pos < kj->len && kj->buf[w->pos] == ']') {
		w->pos++;
		return 0;
	}
	if (w->i > 0) {
		if (w->pos >= kj->len || kj->buf[w->pos] != ',')
			return expected(kj, w->pos, "',' or ']' expected",
			    err, errlen);
		w->pos++;
	}
	if (parse_value(kj, &w->pos, v, err, errlen) == -1)
		return -1;
	w->i++;
	return 1;
}

/* Checks every entry of the array at *pos and moves *pos past it. */
static int
walk_array(const struct keyjson *kj, size_t *pos, const char *where,
    size_t *n, char *err, size_t errlen)
{
	struct walk	 w;
	struct entry	 e;
	json_t		*v;
	int		 rc;

	w.pos = *pos + 1;
	w.i = 0;
	while ((rc = walk_next(kj, &w, &v, err, errlen)) == 1) {
		rc = entry_parse(where, w.i - 1, v, 0, &e, err, errlen);
		json_decref(v);
		if (rc == -1)
			return -1;
	}
	*pos = w.pos;
	*n = w.i;
	return rc;
}

/* One member of the root object; "keys" wins over "api_keys". */
static int
scan_member(struct keyjson *kj, size_t *pos, char *err, size_t errlen)
{
	json_t		*v;
	const char	*name;
	size_t		 n;

	if (*pos >= kj->len || kj->buf[*pos] != '"')
		return expected(kj, *pos, "string or '}' expected", err,
		    errlen);
	if (parse_value(kj, pos, &v, err, errlen) == -1)
		return -1;
	if (strcmp(json_string_value(v), "keys") == 0)
		name = "keys";
	else if (strcmp(json_string_value(v), "api_keys") == 0)
		name = "api_keys";
	else if (strcmp(json_string_value(v), "version") == 0)
		name = "version";
	else {
		name = NULL;
		if (kj->unknown[0] != '\0')
			strlcat(kj->unknown, ", ", sizeof(kj->unknown));
		strlcat(kj->unknown, json_string_value(v), sizeof(kj->unknown));
	}
	json_decref(v);
	*pos = skip_ws(kj, *pos);
	if (*pos >= kj->len || kj->buf[*pos] != ':')
		return expected(kj, *pos, "':' expected", err, errlen);
	*pos = skip_ws(kj, *pos + 1);

	if (name != NULL && strcmp(name, "version") != 0) {
		if (*pos >= kj->len || kj->buf[*pos] != '[') {
			snprintf(err, errlen, "\"%s\" is not an array", name);
			return -1;
		}
		if (kj->where == NULL || strcmp(kj->where, "keys") != 0 ||
		    strcmp(name, "keys") == 0) {
			kj->where = name;
			kj->keys = *pos + 1;
			return walk_array(kj, pos, name, &kj->n, err, errlen);
		}
		return walk_array(kj, pos, name, &n, err, errlen);
	}
	/* Any other member is read and let go. */
	if (parse_value(kj, pos, &v, err, errlen) == -1)
		return -1;
	if (name != NULL && (!json_is_integer(v) ||
	    json_integer_value(v) != KEYJSON_VERSION)) {
		json_decref(v);
		snprintf(err, errlen, "unsupported \"version\" (this reads %d)",
		    KEYJSON_VERSION);
		return -1;
	}
	json_decref(v);
	return 0;
}

/*
 * Finds the entries (the root array, or "keys"/"api_keys" of the root
 * object) and checks the file, walking it one entry at a time: a whole
 * export as one jansson tree would take over a kilobyte per key.
 */
static int
scan(struct keyjson *kj, char *err, size_t errlen)
{
	size_t	pos;

	pos = skip_ws(kj, 0);
	if (pos < kj->len && kj->buf[pos] == '[') {
		kj->where = "";
		kj->keys = pos + 1;
		if (walk_array(kj, &pos, kj->where, &kj->n, err, errlen) == -1)
			return -1;
	} else if (pos < kj->len && kj->buf[pos] == '{') {
		pos = skip_ws(kj, pos + 1);
		if (pos < kj->len && kj->buf[pos] == '}')
			pos++;
		else for (;;) {
			if (scan_member(kj, &pos, err, errlen) == -1)
				return -1;
			pos = skip_ws(kj, pos);
			if (pos < kj->len && kj->buf[pos] == ',') {
				pos = skip_ws(kj, pos + 1);
				continue;
			}
			if (pos < kj->len && kj->buf[pos] == '}') {
				pos++;
				break;
			}
			return expected(kj, pos, "',' or '}' expected", err,
			    errlen);
		}
	} else
		return expected(kj, pos, "'[' or '{' expected", err, errlen);
	pos = skip_ws(kj, pos);
	if (pos != kj->len)
		return expected(kj, pos, "end of file expected", err, errlen);
	if (kj->where == NULL) {
		snprintf(err, errlen, "no \"keys\" or \"api_keys\" array");
		return -1;
	}
	return 0;
}

struct keyjson *
keyjson_load(const char *buf, size_t len, char *err, size_t errlen)
{
	struct keyjson	*kj;

	if ((kj = calloc(1, sizeof(*kj))) == NULL) {
		snprintf(err, errlen, "%s", strerror(errno));
		return NULL;
	}
	kj->buf = buf;
	kj->len = len;
	if (scan(kj, err, errlen) == -1) {
		free(kj);
		return NULL;
	}
	return kj;
}

size_t
keyjson_size(const struct keyjson *kj)
{
	return kj->n;
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
		    !text_valid(json_string_value(v))) {
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
	return 0;
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
	    !keyjson_name_valid(json_string_value(v))) {
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
	struct walk	 w;
	struct entry	 e;
	json_t		*v;
	int		 rc;

	memset(counts, 0, sizeof(*counts));
	if ((rc = keystore_begin(ks)) != 0) {
		snprintf(err, errlen, "%s", rc == KEYSTORE_BUSY ?
		    "the database stayed locked" : keystore_errmsg(ks));
		return -1;
	}
	w.pos = kj->keys;
	w.i = 0;
	while ((rc = walk_next(kj, &w, &v, err, errlen)) == 1) {
		rc = entry_parse(kj->where, w.i - 1, v, 1, &e, err, errlen);
		json_decref(v);
		if (rc == -1)
			goto fail;
		if (entry_store(ks, &e, counts) == -1) {
			snprintf(err, errlen, "%s[%zu]: %s", kj->where, w.i - 1,
			    keystore_errmsg(ks));
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

json_t *
keyjson_time(int64_t t)
{
	char	buf[TIMEFMT_ISO_LEN];

	if (t == 0)
		return json_null();
	timefmt_iso(t, buf, sizeof(buf));
	return json_string(buf);
}

/* One key per line, so an export diffs and greps well. */
static int
export_key(const struct keyinfo *ki, void *arg)
{
	struct export	*x = arg;
	char		 hex[KEYGEN_HEXLEN];
	json_t		*o;
	int		 rc = -1;

	keygen_hex(ki->hash, hex);
	if ((o = json_object()) == NULL)
		goto done;
	/* json_object_set_new fails, and frees nothing, on a NULL value:
	 * a name or hint that is not UTF-8 ends up here too. */
	if (json_object_set_new(o, "hash", json_string(hex)) == -1 ||
	    json_object_set_new(o, "hint", json_string(ki->hint)) == -1 ||
	    json_object_set_new(o, "name", ki->name[0] == '\0' ?
	    json_null() : json_string(ki->name)) == -1 ||
	    json_object_set_new(o, "created_at",
	    keyjson_time(ki->created_at)) == -1 ||
	    json_object_set_new(o, "expires_at",
	    keyjson_time(ki->expires_at)) == -1 ||
	    json_object_set_new(o, "revoked_at",
	    keyjson_time(ki->revoked_at)) == -1 ||
	    json_object_set_new(o, "origin",
	    json_string(keystore_origin_name(ki->origin))) == -1 ||
	    json_object_set_new(o, "requests",
	    json_integer(ki->requests)) == -1 ||
	    json_object_set_new(o, "last_used_at",
	    keyjson_time(ki->last_used_at)) == -1) {
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
	if (fputs("\n]}\n", out) == EOF || fflush(out) == EOF ||
	    ferror(out)) {
		snprintf(err, errlen, "write: %s", strerror(errno));
		return -1;
	}
	return 0;
}

const char *
keyjson_unknown(const struct keyjson *kj)
{
	return kj->unknown;
}

/*
 * Walks the entries again for plaintext keys shorter than minlen: a
 * one-character key is a typo, or a guess away from anyone's access.
 */
size_t
keyjson_short(const struct keyjson *kj, size_t minlen, size_t *first)
{
	struct walk	 w;
	json_t		*v, *k;
	char		 err[128];
	size_t		 n = 0;

	w.pos = kj->keys;
	w.i = 0;
	while (walk_next(kj, &w, &v, err, sizeof(err)) == 1) {
		k = json_is_object(v) ? json_object_get(v, "key") : v;
		if (json_is_string(k) && json_string_length(k) < minlen &&
		    n++ == 0)
			*first = w.i - 1;
		json_decref(v);
	}
	return n;
}
