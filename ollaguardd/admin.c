/*
 * admin: POST /key/generate, the original tool's way to hand out keys.
 *
 * Only the master key may call it.  The new key is committed with
 * synchronous=FULL before the reply leaves, so a key a user was given
 * survives a crash, and it works at once in every worker since they all
 * read the same database.
 */
#include <jansson.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "auth.h"
#include "client.h"
#include "config.h"
#include "dbconn.h"
#include "keyedit.h"
#include "keygen.h"
#include "keypolicy.h"
#include "keystore.h"
#include "log.h"
#include "policyclass.h"
#include "reply.h"
#include "timefmt.h"

static char		 prefix[CONFIG_PREFIX_MAX];
static int		 have_master;
static int		 default_allow = POLICY_DEFAULT_ALLOW;

void
admin_init(const struct config *cfg)
{
	char err[96];

	strlcpy(prefix, cfg->prefix, sizeof(prefix));
	have_master = cfg->master_key[0] != '\0';
	/* Checked when the settings were read. */
	if (policy_allow_parse(cfg->default_allow, &default_allow, err,
	    sizeof(err)) == -1)
		default_allow = POLICY_DEFAULT_ALLOW;
}

int
admin_enabled(void)
{
	return have_master;
}

int
admin_match(const struct client *c)
{
	const struct request *r = &c->req;
	static const char path[] = "/key/generate";
	size_t n = sizeof(path) - 1;

	return r->target_len >= n && memcmp(r->target, path, n) == 0 &&
	    (r->target_len == n || r->target[n] == '?');
}

ssize_t
admin_read_body(struct client *c, char *buf, size_t size, struct outcome *o)
{
	size_t len = 0;
	ssize_t n;

	if (c->req.expect_continue && c->req.has_body &&
	    client_continue(c) == -1) {
		o->close = 1;
		o->fail = "admin";
		return -1;
	}
	if (c->req.content_length > size - 1) {
		o->close = 1;
		reply_fail(c, o, 413, "the request body is larger than 16 KiB",
		    "admin");
		return -1;
	}
	for (;;) {
		if (len == size - 1) {
			o->close = 1;
			reply_fail(c, o, 413, "the request body is larger than "
			    "16 KiB", "admin");
			return -1;
		}
		n = client_read_body(c, buf + len, size - 1 - len);
		if (n == 0)
			break;
		if (n == -1) {
			o->close = 1;
			o->fail = "admin";
			if (c->req.status != 0)
				reply_fail(c, o, c->req.status, c->req.error,
				    "admin");
			return -1;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	return (ssize_t)len;
}

static void
reply_key(struct client *c, const char *key, int64_t id,
    const struct keyinfo *ki, struct outcome *o)
{
	char iso[TIMEFMT_ISO_LEN];
	const char *name = ki->name;
	int64_t expires_at = ki->expires_at;
	json_t *obj;
	char *s = NULL;

	obj = json_object();
	json_object_set_new(obj, "key", json_string(key));
	json_object_set_new(obj, "id", json_integer(id));
	json_object_set_new(obj, "name", *name != '\0' ? json_string(name) :
	    json_null());
	if (expires_at != 0) {
		timefmt_iso(expires_at, iso, sizeof(iso));
		json_object_set_new(obj, "expires_at", json_string(iso));
	} else
		json_object_set_new(obj, "expires_at", json_null());
	if (keypolicy_to_json(obj, ki) == 0)
		s = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (s == NULL) {
		o->close = 1;
		reply_fail(c, o, 500, "out of memory", "admin");
		return;
	}
	o->status = 200;
	o->fail = "-";
	o->close = o->close || client_closing(c);
	if (reply_json(c, 200, s, strlen(s), o->close) == -1)
		o->close = 1;
	explicit_bzero(s, strlen(s));
	free(s);
}

/* Who may call it, before a byte of the body is read; 0 to go on. */
static int
admin_refuse(struct client *c, enum auth_result a, const struct auth_who *who,
    struct outcome *o)
{
	if (c->req.method_id != HTTP_POST) {
		o->status = 405;
		o->fail = "admin";
		if (reply_error_hdrs(c, 405, "use POST for /key/generate",
		    "Allow: POST\r\n", o->close) == -1)
			o->close = 1;
	} else if (!have_master)
		reply_fail(c, o, 403, "key generation is disabled: no master "
		    "key is configured", "admin");
	else if (a == AUTH_UNAVAILABLE)
		reply_fail(c, o, 503, "the key database is unavailable",
		    "admin");
	else if (a != AUTH_PASS) {
		o->status = 401;
		o->fail = "auth";
		if (reply_error_hdrs(c, 401, "the master key is required",
		    "WWW-Authenticate: Bearer\r\n", o->close) == -1)
			o->close = 1;
	} else if (!who->master)
		reply_fail(c, o, 403, "only the master key may generate keys",
		    "admin");
	else
		return 0;
	return -1;
}

int
admin_store_result(struct client *c, struct outcome *o, struct keystore *ks,
    int rc, const char *what)
{
	switch (rc) {
	case 0:
		return 0;
	case KEYSTORE_NOTFOUND:
		reply_fail(c, o, 404, "no such key", "admin");
		break;
	case KEYSTORE_NAMETAKEN:
		reply_fail(c, o, 409, "an active key already has that name",
		    "admin");
		break;
	case KEYSTORE_BUSY:
		reply_fail(c, o, 503, "the key database is busy; try again",
		    "admin");
		log_warnx("%s: key database busy", what);
		break;
	default:
		reply_fail(c, o, 503, "the key database could not store the "
		    "change", "admin");
		log_warnx("%s: %s", what, ks != NULL ? keystore_errmsg(ks) :
		    "key database unavailable");
		break;
	}
	return -1;
}

/* The new key into the database; -1 once a failure is answered. */
static int
store_key(struct client *c, struct keyinfo *ki, int64_t *id,
    struct outcome *o)
{
	struct keystore *ks;

	ks = dbconn_get();
	return admin_store_result(c, o, ks, ks != NULL ?
	    keystore_add(ks, ki, id) : -1, "/key/generate");
}

int
admin_new_key(struct client *c, const char *body, size_t len,
    struct keyinfo *ki, char *key, size_t keysize, struct outcome *o)
{
	char why[256];

	memset(ki, 0, sizeof(*ki));
	ki->allow = default_allow;
	ki->created_at = time(NULL);
	if (keyedit_from_json(body, len, KEYEDIT_CREATE, ki->created_at, ki,
	    why, sizeof(why)) == -1) {
		reply_fail(c, o, 400, why, "admin");
		return -1;
	}
	/* The prefix was checked when the settings were read. */
	keygen_new(prefix, key, keysize);
	keygen_hash(key, strlen(key), ki->hash);
	keygen_hint(key, strlen(prefix), ki->hint, sizeof(ki->hint));
	ki->origin = ORIGIN_GENERATE;
	if (store_key(c, ki, &ki->id, o) == -1) {
		explicit_bzero(key, keysize);
		return -1;
	}
	log_info("admin: new key %lld%s%s", (long long)ki->id,
	    ki->name[0] != '\0' ? " named " : "", ki->name);
	return 0;
}

void
admin_generate(struct client *c, enum auth_result a,
    const struct auth_who *who, struct outcome *o)
{
	struct keyinfo ki;
	char body[ADMIN_BODY_MAX], key[KEYGEN_KEY_MAX];
	ssize_t len;

	if (admin_refuse(c, a, who, o) == -1)
		return;
	if ((len = admin_read_body(c, body, sizeof(body), o)) < 0)
		return;
	if (admin_new_key(c, body, (size_t)len, &ki, key, sizeof(key), o) ==
	    -1)
		return;
	reply_key(c, key, ki.id, &ki, o);
	explicit_bzero(key, sizeof(key));
}
