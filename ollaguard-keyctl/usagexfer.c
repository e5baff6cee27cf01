/*
 * ollaguard-keyctl export --with-usage and import: the usage table
 * moves with the keys, so history survives a move to another host.
 * Rows name their key by its hash (ids differ between databases), or
 * by key_id for the master key (0) and the overflow row (-1); import
 * adds them to what the target database has.
 */
#include <err.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "keystore.h"
#include "usage.h"
#include "keyctl.h"

struct xout {
	FILE		*out;
	struct keystore	*ks;
	size_t		 n;
	int64_t		 id;		/* the last key looked up */
	char		 hash[2 * KEYGEN_HASHLEN + 3];	/* its JSON */
	char		*err;
	size_t		 errlen;
};

static int
xfer_row(const struct usage_row *r, void *arg)
{
	struct xout	*x = arg;
	struct keyinfo	 ki;
	json_t		*o;
	char		*s;
	int		 i;

	if (r->key_id != x->id) {
		x->id = r->key_id;
		strlcpy(x->hash, "null", sizeof(x->hash));
		if (r->key_id > 0 && keystore_get_id(x->ks, r->key_id,
		    &ki) == 0) {
			x->hash[0] = '"';
			for (i = 0; i < KEYGEN_HASHLEN; i++)
				snprintf(x->hash + 1 + 2 * i, 3, "%02x",
				    ki.hash[i]);
			strlcat(x->hash, "\"", sizeof(x->hash));
		}
	}
	o = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I}", "model", r->model,
	    "day", r->day, "user", r->user, "requests", (json_int_t)r->requests,
	    "errors", (json_int_t)r->errors, "prompt_tokens",
	    (json_int_t)r->prompt_tokens, "completion_tokens",
	    (json_int_t)r->completion_tokens, "duration_ms",
	    (json_int_t)r->duration_ms);
	if (o == NULL || (s = json_dumps(o, JSON_COMPACT)) == NULL) {
		json_decref(o);
		snprintf(x->err, x->errlen, "usage: a row cannot be written");
		return -1;
	}
	/* The key first, then the row's other fields. */
	fprintf(x->out, "%s\n{\"key_hash\": %s, \"key_id\": %" PRId64 ", %s",
	    x->n++ == 0 ? "" : ",", x->hash, r->key_id > 0 ? (int64_t)0 :
	    r->key_id, s + 1);
	free(s);
	json_decref(o);
	return 0;
}

/* keyjson_export_extra's callback: the "usage" member. */
int
usagexfer_export(FILE *out, void *arg, char *err, size_t errlen)
{
	struct xout		 x;
	struct usage_filter	 f;
	struct sqlite3		*db;
	int			 rc = 0;

	memset(&x, 0, sizeof(x));
	x.out = out;
	x.ks = arg;
	x.id = INT64_MIN;
	x.err = err;
	x.errlen = errlen;
	memset(&f, 0, sizeof(f));
	f.by = USAGE_BY_KEY | USAGE_BY_MODEL | USAGE_BY_DAY | USAGE_BY_USER;
	if ((db = usage_open(keyctl_dbname(), err, errlen)) == NULL)
		return -1;
	fputs(",\n\"usage\": [", out);
	if (usage_present(db) == 1 && usage_query(db, &f, xfer_row, &x) == -1) {
		if (x.err[0] == '\0')
			snprintf(err, errlen, "usage: %s", sqlite3_errmsg(db));
		rc = -1;
	}
	sqlite3_close(db);
	fputs("\n]", out);
	return rc;
}

/* A row of the file into r; -1 if it is not one. */
static int
xfer_parse(struct keystore *ks, json_t *o, struct usage_row *r)
{
	const char	*hash = NULL, *model = "", *day = "", *user = "";
	uint8_t		 h[KEYGEN_HASHLEN];
	struct keyinfo	 ki;
	json_int_t	 id = 0;
	int		 i;

	memset(r, 0, sizeof(*r));
	if (json_is_string(json_object_get(o, "key_hash")))
		hash = json_string_value(json_object_get(o, "key_hash"));
	if (json_unpack(o, "{s?I,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I}",
	    "key_id", &id, "model", &model, "day", &day,
	    "user", &user, "requests", &r->requests, "errors", &r->errors,
	    "prompt_tokens", &r->prompt_tokens, "completion_tokens",
	    &r->completion_tokens, "duration_ms", &r->duration_ms) == -1)
		return -1;
	r->key_id = id;
	if (hash != NULL) {
		if (strlen(hash) != 2 * KEYGEN_HASHLEN)
			return -1;
		for (i = 0; i < KEYGEN_HASHLEN; i++)
			if (sscanf(hash + 2 * i, "%2hhx", &h[i]) != 1)
				return -1;
		if (keystore_get_hash(ks, h, &ki) != 0)
			return -1;
		r->key_id = ki.id;
	} else if (id > 0)
		return -1;
	if (strlcpy(r->model, model, sizeof(r->model)) >= sizeof(r->model) ||
	    strlcpy(r->day, day, sizeof(r->day)) >= sizeof(r->day) ||
	    strlcpy(r->user, user, sizeof(r->user)) >= sizeof(r->user))
		return -1;
	return 0;
}

/*
 * The "usage" member of an export, if the file has one, added to the
 * database in one transaction; the rows added, or -1 with err set (and
 * none added).  Called after the keys were stored, so their hashes
 * resolve.
 */
int64_t
usagexfer_import(struct keystore *ks, const char *buf, size_t len,
    char *err, size_t errlen)
{
	struct usage_row	*rows;
	struct sqlite3		*db;
	json_error_t		 jerr;
	json_t			*root, *u, *o;
	size_t			 i, n = 0;
	int64_t			 total = 0;

	if ((root = json_loadb(buf, len, 0, &jerr)) == NULL)
		return 0;	/* not one document: keyjson said why */
	if ((u = json_object_get(root, "usage")) == NULL ||
	    !json_is_array(u) || json_array_size(u) == 0) {
		json_decref(root);
		return 0;
	}
	if ((rows = calloc(json_array_size(u), sizeof(*rows))) == NULL ||
	    (db = usage_open(keyctl_dbname(), err, errlen)) == NULL) {
		free(rows);
		json_decref(root);
		return -1;
	}
	json_array_foreach(u, i, o) {
		if (xfer_parse(ks, o, &rows[n++]) == -1) {
			snprintf(err, errlen, "usage[%zu]: not a usage row of "
			    "a key in the file", i);
			total = -1;
			break;
		}
	}
	if (total == 0 && usage_flush(db, rows, n) == -1) {
		snprintf(err, errlen, "usage: %s", sqlite3_errmsg(db));
		total = -1;
	} else if (total == 0)
		total = (int64_t)n;
	sqlite3_close(db);
	free(rows);
	json_decref(root);
	return total;
}
