/*
 * adminapi: the admin JSON API.  The rules are keyctl's, through the
 * same common code: keyedit for what may be set, keystore for storing
 * it, keyjson for a key's object, usagelist for usage.  Errors are
 * {"error": "..."} with 400 (naming the field), 404, 405 or 409.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sqlite3.h>

#include "admin.h"
#include "adminapi.h"
#include "cidr.h"
#include "client.h"
#include "config.h"
#include "dbconn.h"
#include "keyedit.h"
#include "keyjson.h"
#include "keystore.h"
#include "log.h"
#include "reply.h"
#include "status.h"
#include "usage.h"
#include "usagelist.h"

#define API_PREFIX	"/admin/api/"

static const struct config	*conf;
static struct cidr_list		 allow;

void
adminapi_init(const struct config *cfg)
{
	const char *why;

	conf = cfg;
	status_init(cfg);
	/* Checked when the settings were read. */
	if (cidr_parse_list(cfg->admin_allow, &allow, &why) == -1)
		allow.n = 0;
}

int
adminapi_match(const struct client *c)
{
	const struct request *r = &c->req;
	size_t n = sizeof("/admin") - 1;

	return r->target_len >= n && memcmp(r->target, "/admin", n) == 0 &&
	    (r->target_len == n || r->target[n] == '/' || r->target[n] == '?');
}

int
adminapi_allowed(const struct client *c)
{
	return conf->admin && cidr_match(&allow, c->addr);
}

/* Sends j (and drops it) with status. */
static void
api_send(struct client *c, struct outcome *o, int status, json_t *j)
{
	char *s = NULL;

	if (j != NULL)
		s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (s == NULL) {
		o->close = 1;
		reply_fail(c, o, 500, "out of memory", "admin");
		return;
	}
	o->status = status;
	o->fail = "-";
	o->close = o->close || client_closing(c);
	if (reply_json(c, status, s, strlen(s), o->close) == -1)
		o->close = 1;
	explicit_bzero(s, strlen(s));
	free(s);
}

static void
api_405(struct client *c, struct outcome *o, const char *allowed)
{
	char hdrs[64], msg[64];

	snprintf(hdrs, sizeof(hdrs), "Allow: %s\r\n", allowed);
	snprintf(msg, sizeof(msg), "use %s here", allowed);
	o->status = 405;
	o->fail = "admin";
	if (reply_error_hdrs(c, 405, msg, hdrs, o->close) == -1)
		o->close = 1;
}

static struct keystore *
api_db(struct client *c, struct outcome *o)
{
	struct keystore *ks;

	if ((ks = dbconn_get()) == NULL)
		reply_fail(c, o, 503, "the key database is unavailable",
		    "admin");
	return ks;
}

/* A keystore call's result answered; 0 if it went through. */
static int
api_store_rc(struct client *c, struct outcome *o, struct keystore *ks,
    int rc)
{
	return admin_store_result(c, o, ks, rc, "admin api");
}

static int
list_one(const struct keyinfo *ki, void *arg)
{
	json_t *a = arg, *k;

	if ((k = keyjson_key_object(ki, KEYJSON_LIST, time(NULL))) == NULL)
		return 0;	/* not UTF-8: left out, as keyctl warns */
	return json_array_append_new(a, k);
}

static void
keys_list(struct client *c, struct outcome *o)
{
	struct keystore *ks;
	json_t *a;

	if ((ks = api_db(c, o)) == NULL)
		return;
	a = json_array();
	if (keystore_list(ks, list_one, a) != 0) {
		json_decref(a);
		api_store_rc(c, o, ks, -1);
		return;
	}
	api_send(c, o, 200, a);
}

static void
keys_create(struct client *c, struct outcome *o)
{
	struct keyinfo ki;
	char body[ADMIN_BODY_MAX], key[KEYGEN_KEY_MAX];
	json_t *j;
	ssize_t len;

	if ((len = admin_read_body(c, body, sizeof(body), o)) < 0)
		return;
	if (admin_new_key(c, body, (size_t)len, &ki, key, sizeof(key), o) ==
	    -1)
		return;
	if ((j = keyjson_key_object(&ki, KEYJSON_LIST, time(NULL))) != NULL)
		json_object_set_new(j, "key", json_string(key));
	explicit_bzero(key, sizeof(key));
	api_send(c, o, 201, j);
}

/* The key of {id} answered with its object (status), after a change. */
static void
key_reply(struct client *c, struct outcome *o, struct keystore *ks,
    int64_t id, int status)
{
	struct keyinfo ki;

	if (api_store_rc(c, o, ks, keystore_get_id(ks, id, &ki)) == -1)
		return;
	api_send(c, o, status, keyjson_key_object(&ki, KEYJSON_LIST,
	    time(NULL)));
}

static void
key_patch(struct client *c, struct outcome *o, struct keystore *ks,
    int64_t id)
{
	struct keyinfo ki;
	char body[ADMIN_BODY_MAX], why[256];
	ssize_t len;

	if ((len = admin_read_body(c, body, sizeof(body), o)) < 0)
		return;
	if (api_store_rc(c, o, ks, keystore_get_id(ks, id, &ki)) == -1)
		return;
	if (ki.revoked_at != 0) {
		reply_fail(c, o, 409, "the key is revoked", "admin");
		return;
	}
	if (keyedit_from_json(body, (size_t)len, KEYEDIT_PATCH, time(NULL),
	    &ki, why, sizeof(why)) == -1) {
		reply_fail(c, o, 400, why, "admin");
		return;
	}
	if (api_store_rc(c, o, ks, keystore_update(ks, &ki)) == -1)
		return;
	log_info("admin api: key %lld changed", (long long)id);
	key_reply(c, o, ks, id, 200);
}

static void
key_revoke(struct client *c, struct outcome *o, struct keystore *ks,
    int64_t id)
{
	if (api_store_rc(c, o, ks, keystore_revoke(ks, id, time(NULL))) ==
	    -1)
		return;
	log_info("admin api: key %lld revoked", (long long)id);
	key_reply(c, o, ks, id, 200);
}

/* keys/{id} and keys/{id}/revoke; rest is what follows "keys/". */
static void
keys_one(struct client *c, struct outcome *o, const char *rest, size_t len)
{
	struct keystore *ks;
	const char *errstr;
	char idbuf[24];
	size_t n;
	int64_t id;
	int m = c->req.method_id;

	for (n = 0; n < len && isdigit((unsigned char)rest[n]); n++)
		;
	if (n == 0 || n >= sizeof(idbuf) || (n != len &&
	    (len - n != sizeof("/revoke") - 1 ||
	    memcmp(rest + n, "/revoke", len - n) != 0))) {
		reply_fail(c, o, 404, "no such admin API path", "admin");
		return;
	}
	memcpy(idbuf, rest, n);
	idbuf[n] = '\0';
	id = strtonum(idbuf, 1, INT64_MAX, &errstr);
	if (n == len && m != HTTP_GET && m != HTTP_HEAD && m != HTTP_PATCH) {
		api_405(c, o, "GET, PATCH");
		return;
	}
	if (n != len && m != HTTP_POST) {
		api_405(c, o, "POST");
		return;
	}
	if ((ks = api_db(c, o)) == NULL)
		return;
	if (errstr != NULL)
		reply_fail(c, o, 404, "no such key", "admin");
	else if (n != len)
		key_revoke(c, o, ks, id);
	else if (m == HTTP_PATCH)
		key_patch(c, o, ks, id);
	else
		key_reply(c, o, ks, id, 200);
}

/* Percent-decodes a query value into out; -1 if it does not fit or is
 * not text. */
static int
query_decode(const char *v, size_t len, char *out, size_t outlen)
{
	size_t i, n = 0;
	unsigned int ch;

	for (i = 0; i < len; i++) {
		if (n + 1 >= outlen)
			return -1;
		if (v[i] == '%' && i + 2 < len &&
		    isxdigit((unsigned char)v[i + 1]) &&
		    isxdigit((unsigned char)v[i + 2]) &&
		    sscanf(v + i + 1, "%2x", &ch) == 1) {
			out[n++] = (char)ch;
			i += 2;
		} else
			out[n++] = v[i] == '+' ? ' ' : v[i];
		if (out[n - 1] == '\0' || iscntrl((unsigned char)out[n - 1]))
			return -1;
	}
	out[n] = '\0';
	return 0;
}

/* Reads since, until and by into f; -1 once a 400 is answered. */
static int
usage_filter(struct client *c, struct outcome *o, const char *q,
    size_t len, struct usage_filter *f)
{
	char name[16], val[64], why[160];
	const char *p, *end = q + len, *amp, *eq, *errstr;
	int64_t now = time(NULL);

	for (p = q; p < end; p = amp + 1) {
		if ((amp = memchr(p, '&', (size_t)(end - p))) == NULL)
			amp = end;
		if ((eq = memchr(p, '=', (size_t)(amp - p))) == NULL)
			eq = amp;
		if (query_decode(p, (size_t)(eq - p), name, sizeof(name)) ==
		    -1 || query_decode(eq + (eq < amp), (size_t)(amp - eq -
		    (eq < amp)), val, sizeof(val)) == -1) {
			reply_fail(c, o, 400, "the query cannot be read",
			    "admin");
			return -1;
		}
		why[0] = '\0';
		if (strcmp(name, "since") == 0 || strcmp(name, "until") == 0) {
			if (usage_parse_day(val, now, name[0] == 's' ?
			    f->since : f->until, &errstr) == -1)
				snprintf(why, sizeof(why), "%s: %s", name,
				    errstr);
		} else if (strcmp(name, "by") == 0) {
			if (usagelist_parse_by(val, &f->by, &errstr) == -1)
				snprintf(why, sizeof(why), "by: %.64s: not "
				    "key, model, day or user", errstr);
		} else if (name[0] != '\0')
			snprintf(why, sizeof(why), "%s: unknown parameter "
			    "(expected since, until, by)", name);
		if (why[0] != '\0') {
			reply_fail(c, o, 400, why, "admin");
			return -1;
		}
	}
	return 0;
}

static void
usage_get(struct client *c, struct outcome *o, const char *q, size_t qlen)
{
	struct usage_filter f;
	struct usagelist l;
	struct sqlite3 *db;
	char err[256];

	memset(&f, 0, sizeof(f));
	memset(&l, 0, sizeof(l));
	f.by = USAGE_BY_KEY | USAGE_BY_MODEL;
	if (usage_filter(c, o, q, qlen, &f) == -1)
		return;
	if ((l.ks = api_db(c, o)) == NULL)
		return;
	if ((db = usage_open(conf->db, err, sizeof(err))) == NULL) {
		log_warnx("admin api: usage: %s", err);
		reply_fail(c, o, 503, "the usage table cannot be read",
		    "admin");
		return;
	}
	if (usagelist_query(db, &f, &l) == -1) {
		log_warnx("admin api: usage: %s", l.failed ? "out of memory" :
		    sqlite3_errmsg(db));
		reply_fail(c, o, 503, "the usage table cannot be read",
		    "admin");
	} else
		api_send(c, o, 200, usagelist_json(&l, f.by));
	usagelist_free(&l);
	sqlite3_close(db);
}

void
adminapi_serve(struct client *c, struct outcome *o)
{
	const struct request *r = &c->req;
	const char *path = r->target + sizeof(API_PREFIX) - 1, *q;
	size_t len, plen = sizeof(API_PREFIX) - 1, qlen = 0;
	int m = r->method_id, get = m == HTTP_GET || m == HTTP_HEAD;

	if (r->target_len < plen || memcmp(r->target, API_PREFIX, plen) != 0) {
		reply_fail(c, o, 404, "no such admin API path", "admin");
		return;
	}
	len = r->target_len - plen;
	if ((q = memchr(path, '?', len)) != NULL) {
		qlen = len - (size_t)(q - path) - 1;
		len = (size_t)(q - path);
		q++;
	}
	if (len == 4 && memcmp(path, "keys", 4) == 0) {
		if (get)
			keys_list(c, o);
		else if (m == HTTP_POST)
			keys_create(c, o);
		else
			api_405(c, o, "GET, POST");
	} else if (len > 5 && memcmp(path, "keys/", 5) == 0)
		keys_one(c, o, path + 5, len - 5);
	else if ((len == 5 && memcmp(path, "usage", 5) == 0) ||
	    (len == 6 && memcmp(path, "status", 6) == 0)) {
		if (!get)
			api_405(c, o, "GET");
		else if (len == 5)
			usage_get(c, o, q != NULL ? q : "", qlen);
		else
			api_send(c, o, 200, status_json());
	} else
		reply_fail(c, o, 404, "no such admin API path", "admin");
}
