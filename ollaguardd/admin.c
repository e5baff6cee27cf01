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
#include "keygen.h"
#include "keyname.h"
#include "keypolicy.h"
#include "keystore.h"
#include "log.h"
#include "policyclass.h"
#include "reply.h"
#include "timefmt.h"

#define ADMIN_BODY_MAX	(16 * 1024)

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

/* Reads the whole (small) body; -1 once the failure is answered (or
 * the client is gone). */
static ssize_t
read_body(struct client *c, char *buf, size_t size, struct outcome *o)
{
	size_t len = 0;
	ssize_t n;

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

/* The policy and quota fields keypolicy_from_json reads. */
static int
policy_field(const char *key)
{
	static const char *const fields[] = { "allow", "models", "rpm",
	    "concurrency", "tokens_per_day", "tokens_per_month",
	    "requests_per_day", "trust_user_header", "user_tokens_per_day" };
	size_t i;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (strcmp(key, fields[i]) == 0)
			return 1;
	return 0;
}

/*
 * Parses {"name": ..., "expires_in": ..., "allow": ..., "models": ...,
 * "rpm": ..., "concurrency": ..., and the quotas}; NULL or a reason.
 */
static const char *
parse_options(const char *body, size_t len, struct keyinfo *ki,
    int64_t *expires_in)
{
	char *name = ki->name;
	size_t namesize = sizeof(ki->name);
	static char why[256];
	json_error_t jerr;
	json_t *root, *v;
	const char *key, *errstr;
	size_t i;
	int rc;

	for (i = 0; i < len && strchr(" \t\r\n", body[i]) != NULL; i++)
		;
	if (i == len)
		return NULL;
	if ((root = json_loadb(body, len, 0, &jerr)) == NULL) {
		snprintf(why, sizeof(why), "the body is not JSON: %s "
		    "(line %d, column %d)", jerr.text, jerr.line, jerr.column);
		return why;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		return "the body must be a JSON object";
	}
	json_object_foreach(root, key, v) {
		if (strcmp(key, "name") == 0) {
			if (json_is_null(v))
				continue;
			if (!json_is_string(v) ||
			    json_string_length(v) >= namesize ||
			    strlen(json_string_value(v)) !=
			    json_string_length(v) ||
			    !keyname_valid(json_string_value(v))) {
				json_decref(root);
				return "\"name\" must be a string of 1 to 127 "
				    "bytes, no control characters, not all "
				    "digits";
			}
			strlcpy(name, json_string_value(v), namesize);
		} else if (strcmp(key, "expires_in") == 0) {
			if (json_is_null(v))
				continue;
			rc = json_is_string(v) ? timefmt_duration(
			    json_string_value(v), expires_in, &errstr) : -1;
			if (rc == TIMEFMT_TOOLONG) {
				snprintf(why, sizeof(why), "\"expires_in\" %s",
				    errstr);
				json_decref(root);
				return why;
			}
			if (rc == -1) {
				json_decref(root);
				return "\"expires_in\" must be a duration such "
				    "as \"30d\", \"12h\" or \"90m\"";
			}
		} else if (!policy_field(key)) {
			snprintf(why, sizeof(why), "unknown field \"%.64s\" "
			    "(expected \"name\", \"expires_in\", \"allow\", "
			    "\"models\", \"rpm\", \"concurrency\", "
			    "\"tokens_per_day\", \"tokens_per_month\", "
			    "\"requests_per_day\", \"trust_user_header\", "
			    "\"user_tokens_per_day\")", key);
			json_decref(root);
			return why;
		}
	}
	if (keypolicy_from_json(root, 0, ki, why, sizeof(why)) == -1) {
		json_decref(root);
		return why;
	}
	json_decref(root);
	return NULL;
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

/* The new key into the database; -1 once a failure is answered. */
static int
store_key(struct client *c, struct keyinfo *ki, int64_t *id,
    struct outcome *o)
{
	struct keystore *ks;
	int rc;

	if ((ks = dbconn_get()) == NULL)
		rc = -1;
	else
		rc = keystore_add(ks, ki, id);
	switch (rc) {
	case 0:
		return 0;
	case KEYSTORE_NAMETAKEN:
		reply_fail(c, o, 409, "an active key already has that name",
		    "admin");
		break;
	case KEYSTORE_BUSY:
		reply_fail(c, o, 503, "the key database is busy; try again",
		    "admin");
		log_warnx("/key/generate: key database busy");
		break;
	default:
		reply_fail(c, o, 503, "the key database could not store the "
		    "key", "admin");
		log_warnx("/key/generate: %s", ks != NULL ?
		    keystore_errmsg(ks) : "key database unavailable");
		break;
	}
	return -1;
}

void
admin_generate(struct client *c, enum auth_result a,
    const struct auth_who *who, struct outcome *o)
{
	struct keyinfo ki;
	char body[ADMIN_BODY_MAX], key[KEYGEN_KEY_MAX];
	const char *why;
	int64_t expires_in = 0, id;
	ssize_t len;

	if (admin_refuse(c, a, who, o) == -1)
		return;
	if (c->req.expect_continue && c->req.has_body &&
	    client_continue(c) == -1) {
		o->close = 1;
		o->fail = "admin";
		return;
	}
	if ((len = read_body(c, body, sizeof(body), o)) < 0)
		return;

	memset(&ki, 0, sizeof(ki));
	ki.allow = default_allow;
	if ((why = parse_options(body, (size_t)len, &ki, &expires_in)) !=
	    NULL) {
		reply_fail(c, o, 400, why, "admin");
		return;
	}
	/* The prefix was checked when the settings were read. */
	keygen_new(prefix, key, sizeof(key));
	keygen_hash(key, strlen(key), ki.hash);
	keygen_hint(key, strlen(prefix), ki.hint, sizeof(ki.hint));
	ki.created_at = time(NULL);
	ki.expires_at = expires_in != 0 ? ki.created_at + expires_in : 0;
	ki.origin = ORIGIN_GENERATE;
	if (store_key(c, &ki, &id, o) == -1) {
		explicit_bzero(key, sizeof(key));
		return;
	}
	log_info("/key/generate: new key %lld%s%s", (long long)id,
	    ki.name[0] != '\0' ? " named " : "", ki.name);
	reply_key(c, key, id, &ki, o);
	explicit_bzero(key, sizeof(key));
}
