/*
 * auth: Bearer keys against the master key and the key database.
 *
 * A key is hashed once; the digest is compared in constant time with
 * the master key's (bare and with the prefix) and looked up in the
 * database.  Whether authentication is on at all (a master key, or an
 * active key) is recomputed only when the database changed, which
 * PRAGMA data_version tells in one cheap step, so a key added or revoked
 * anywhere takes effect on the very next request.  Use counters are
 * kept here and written every few seconds in one transaction.
 *
 * Both the good keys and the misses (unknown, revoked or expired) are
 * cached by hash, and both caches are dropped whenever data_version
 * moves: a client that retries a wrong key costs one PRAGMA, not a
 * lookup, and a key created a moment ago is never refused, since its
 * creation moved data_version before it could be asked for.
 */
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth.h"
#include "config.h"
#include "dbconn.h"
#include "keyauth.h"
#include "keygen.h"
#include "keystore.h"
#include "log.h"
#include "policyclass.h"
#include "request.h"
#include "sshkey.h"

#define AUTH_KEY_MAX	1024
#define AUTH_USES	64
#define AUTH_FLUSH_SECS	5
#define AUTH_CACHE	64
#define AUTH_MISSES	64

static uint8_t		 master_hash[KEYGEN_HASHLEN];
static uint8_t		 prefixed_hash[KEYGEN_HASHLEN];
static int		 have_master;
static int		 open_mode;
static int		 counted;
static struct keyuse	 uses[AUTH_USES];

/*
 * Good keys this worker has seen, by hash.  Valid only until the
 * database changes (auth_refresh empties it), so a key revoked anywhere
 * fails on the very next request.
 */
struct cached {
	uint8_t		 hash[KEYGEN_HASHLEN];
	uint32_t	 gen;		/* valid while it is cache_gen */
	int64_t		 id;		/* 0: empty */
	int64_t		 expires_at;
	enum keykind	 kind;
	char		 name[KEYSTORE_NAME_MAX];
	int		 allow;
	char		 models[MODELNAME_LIST_MAX];
	uint32_t	 rpm;
	uint32_t	 concurrency;
	int64_t		 tokens_per_day;
	int64_t		 tokens_per_month;
	int64_t		 requests_per_day;
	int		 trust_user_header;
	int64_t		 user_tokens_per_day;
};
static struct cached	 cache[AUTH_CACHE];
/* Hashes no active key has, until the database changes. */
struct miss {
	uint8_t		 hash[KEYGEN_HASHLEN];
	uint32_t	 gen;		/* valid while it is cache_gen */
};
static struct miss	 misses[AUTH_MISSES];
/*
 * Both caches are emptied by moving to the next generation, not by
 * clearing them: they are 260 KiB, every worker's first request would
 * fault all of it in, and the database changes every few seconds (each
 * worker's usage flush).
 */
static uint32_t		 cache_gen = 1;
static char		 last_key[AUTH_KEY_MAX];
static size_t		 last_len;
static uint8_t		 last_hash[KEYGEN_HASHLEN];
static size_t		 nuses;
static time_t		 flush_at;

void
auth_init(const struct config *cfg)
{
	char buf[CONFIG_PREFIX_MAX + CONFIG_SECRET_MAX];

	have_master = cfg->master_key[0] != '\0';
	if (have_master) {
		keygen_hash(cfg->master_key, strlen(cfg->master_key),
		    master_hash);
		strlcpy(buf, cfg->prefix, sizeof(buf));
		strlcat(buf, cfg->master_key, sizeof(buf));
		keygen_hash(buf, strlen(buf), prefixed_hash);
		explicit_bzero(buf, sizeof(buf));
	}
	open_mode = 0;
	nuses = 0;
	flush_at = time(NULL) + AUTH_FLUSH_SECS;
}

/*
 * Called before anything is read from the database: if any connection
 * wrote since the last call, the cache of good keys is dropped and, with
 * no master key, whether any key is active is counted again.  -1 if the
 * database failed.
 */
static int
auth_refresh(struct keystore *ks)
{
	int64_t n;
	int changed;

	if (ks == NULL)
		return -1;
	if ((changed = keystore_changed(ks)) == -1) {
		log_warnx("key database: %s", keystore_errmsg(ks));
		return -1;
	}
	if (!changed)
		return 0;
	if (++cache_gen == 0) {
		memset(cache, 0, sizeof(cache));
		memset(misses, 0, sizeof(misses));
		cache_gen = 1;
	}
	if (have_master)
		return 0;
	if ((n = keystore_count_active(ks, time(NULL))) == -1) {
		log_warnx("key database: %s", keystore_errmsg(ks));
		return -1;
	}
	/* The master said how it starts; a worker speaks up on a change. */
	if (counted && open_mode != (n == 0))
		log_info("authentication is %s", n == 0 ?
		    "OFF: no master key and no active key" : "on");
	open_mode = n == 0;
	counted = 1;
	return 0;
}

/* The slot a hash caches in; hashes are uniform, so any byte will do. */
static struct cached *
cache_slot(const uint8_t hash[KEYGEN_HASHLEN])
{
	return &cache[hash[0] % AUTH_CACHE];
}

/* The slot of a miss: another byte than the good keys' slot uses. */
static struct miss *
miss_slot(const uint8_t hash[KEYGEN_HASHLEN])
{
	return &misses[hash[1] % AUTH_MISSES];
}

static int
is_miss(const uint8_t hash[KEYGEN_HASHLEN])
{
	struct miss *m = miss_slot(hash);

	return m->gen == cache_gen && keygen_hash_equal(m->hash, hash);
}

static void
note_miss(const uint8_t hash[KEYGEN_HASHLEN])
{
	struct miss *m = miss_slot(hash);

	memcpy(m->hash, hash, KEYGEN_HASHLEN);
	m->gen = cache_gen;
}

/*
 * Hashes the key, reusing the last digest when a keep-alive client sends
 * the same key again (compared in constant time: it may be someone
 * else's key).
 */
static void
hash_key(const char *key, size_t len, uint8_t hash[KEYGEN_HASHLEN])
{
	if (len == last_len && keygen_equal(key, last_key, len)) {
		memcpy(hash, last_hash, KEYGEN_HASHLEN);
		return;
	}
	keygen_hash(key, len, hash);
	memcpy(last_key, key, len);
	last_len = len;
	memcpy(last_hash, hash, KEYGEN_HASHLEN);
}

static void
auth_record(int64_t id, time_t now)
{
	size_t i;

	for (i = 0; i < nuses; i++)
		if (uses[i].id == id)
			break;
	if (i == nuses) {
		if (nuses == AUTH_USES)
			auth_flush(1);
		i = nuses++;
		uses[i].id = id;
		uses[i].requests = 0;
	}
	uses[i].requests++;
	uses[i].last_used_at = now;
}

/* Splits "Bearer <key>"; the scheme is case-insensitive. */
static const char *
bearer_key(const char *v, size_t len, size_t *keylen)
{
	size_t i;

	if (v == NULL || len < 7 || strncasecmp(v, "bearer", 6) != 0 ||
	    (v[6] != ' ' && v[6] != '\t'))
		return NULL;
	for (i = 7; i < len && (v[i] == ' ' || v[i] == '\t'); i++)
		;
	*keylen = len - i;
	if (*keylen == 0 || *keylen > AUTH_KEY_MAX)
		return NULL;
	return v + i;
}

/* Who passes everything: the master key, or anyone in open mode. */
static enum auth_result
auth_all(struct auth_who *who, int master)
{
	who->master = master;
	who->open = !master;
	who->allow = POLICY_ALL;
	return AUTH_PASS;
}

static void
who_from(struct auth_who *who, const struct cached *k)
{
	who->key_id = k->id;
	strlcpy(who->name, k->name, sizeof(who->name));
	who->allow = k->allow;
	strlcpy(who->models, k->models, sizeof(who->models));
	who->rpm = k->rpm;
	who->concurrency = k->concurrency;
	who->tokens_per_day = k->tokens_per_day;
	who->tokens_per_month = k->tokens_per_month;
	who->requests_per_day = k->requests_per_day;
	who->trust_user_header = k->trust_user_header;
	who->user_tokens_per_day = k->user_tokens_per_day;
}

/*
 * The key whose hash (or, for kind KIND_SSH, identity) is hash: from the
 * cache, else from the database, which fills the cache.  A key of the
 * other kind is no key: a secret never matches an ssh key's row.
 */
static enum auth_result
auth_lookup(struct keystore *ks, const uint8_t hash[KEYGEN_HASHLEN],
    enum keykind kind, struct auth_who *who)
{
	struct keyinfo ki;
	struct cached *slot;
	time_t now = time(NULL);

	slot = cache_slot(hash);
	if (slot->gen == cache_gen && slot->id != 0 &&
	    keygen_hash_equal(slot->hash, hash) &&
	    slot->kind == kind &&
	    (slot->expires_at == 0 || slot->expires_at > now)) {
		who_from(who, slot);
		auth_record(who->key_id, now);
		return AUTH_PASS;
	}
	/* A key refused since the database last changed is refused again
	 * without asking it. */
	if (is_miss(hash))
		return AUTH_INVALID;
	switch (keystore_lookup_info(ks, hash, now, &ki)) {
	case KEY_ACTIVE:
		if (ki.kind != kind)
			return AUTH_INVALID;
		memcpy(slot->hash, hash, KEYGEN_HASHLEN);
		slot->gen = cache_gen;
		slot->id = ki.id;
		slot->expires_at = ki.expires_at;
		slot->kind = ki.kind;
		strlcpy(slot->name, ki.name, sizeof(slot->name));
		slot->allow = ki.allow;
		strlcpy(slot->models, ki.models, sizeof(slot->models));
		slot->rpm = ki.rpm;
		slot->concurrency = ki.concurrency;
		slot->tokens_per_day = ki.tokens_per_day;
		slot->tokens_per_month = ki.tokens_per_month;
		slot->requests_per_day = ki.requests_per_day;
		slot->trust_user_header = ki.trust_user_header;
		slot->user_tokens_per_day = ki.user_tokens_per_day;
		who_from(who, slot);
		auth_record(who->key_id, now);
		return AUTH_PASS;
	case KEY_ERROR:
		log_warnx("key database: lookup failed: %s",
		    keystore_errmsg(ks));
		return AUTH_UNAVAILABLE;
	default:
		note_miss(hash);
		return AUTH_INVALID;
	}
}

/* A secret key (NULL: none given). */
static enum auth_result
auth_secret(const char *key, size_t keylen, struct auth_who *who)
{
	uint8_t hash[KEYGEN_HASHLEN];
	struct keystore *ks;
	int is_master;

	if (key != NULL)
		hash_key(key, keylen, hash);
	if (key != NULL && have_master) {
		/* Both compared, always, so timing says nothing.  The master
		 * key needs no database, so it works when that is down. */
		is_master = keygen_hash_equal(hash, master_hash);
		is_master |= keygen_hash_equal(hash, prefixed_hash);
		if (is_master)
			return auth_all(who, 1);
	}
	ks = dbconn_get();
	if (auth_refresh(ks) == -1)
		return AUTH_UNAVAILABLE;
	/* With no key configured anywhere, any key (or none) passes: the
	 * clients of an open proxy may well send one. */
	if (open_mode)
		return auth_all(who, 0);
	if (key == NULL)
		return AUTH_MISSING;
	return auth_lookup(ks, hash, KIND_SECRET, who);
}

static void
who_clear(struct auth_who *who)
{
	who->key_id = 0;
	who->master = who->open = 0;
	who->name[0] = '\0';
	who->allow = 0;
	who->models[0] = '\0';
	who->rpm = who->concurrency = 0;
	who->tokens_per_day = who->tokens_per_month = 0;
	who->requests_per_day = who->user_tokens_per_day = 0;
	who->trust_user_header = 0;
	who->why = NULL;
}

enum auth_result
auth_check(const char *hdr, size_t len, struct auth_who *who)
{
	const char *key;
	size_t keylen = 0;

	who_clear(who);
	key = bearer_key(hdr, len, &keylen);
	return auth_secret(key, keylen, who);
}

/* A signed request: the signature first, then the key's row. */
static enum auth_result
auth_signed(const struct request *r, const struct keyauth *ka,
    int64_t window, struct auth_who *who)
{
	uint8_t id[SSHKEY_IDLEN];
	struct keystore *ks;

	ks = dbconn_get();
	if (auth_refresh(ks) == -1)
		return AUTH_UNAVAILABLE;
	if (open_mode)
		return auth_all(who, 0);
	if (keyauth_verify(ka, r->method, r->target, r->target_len,
	    time(NULL), window, &who->why) == -1)
		return AUTH_INVALID;
	sshkey_id(ka->pub, id);
	return auth_lookup(ks, id, KIND_SSH, who);
}

enum auth_result
auth_request(const struct request *r, int64_t window, struct auth_who *who)
{
	struct keyauth ka;
	enum auth_result a;

	who_clear(who);
	switch (keyauth_from_request(r, &ka)) {
	case KEYAUTH_CONFLICT:
		a = AUTH_CONFLICT;
		break;
	case KEYAUTH_SECRET:
		a = auth_secret(ka.secret, ka.secretlen, who);
		break;
	case KEYAUTH_SSH:
		a = auth_signed(r, &ka, window, who);
		break;
	case KEYAUTH_MALFORMED:
		/* Open mode lets any credential through, even a broken one;
		 * with keys, a broken one is a wrong one. */
		a = auth_secret(NULL, 0, who);
		if (a == AUTH_MISSING)
			a = AUTH_INVALID;
		break;
	default:
		a = auth_secret(NULL, 0, who);
		break;
	}
	keyauth_clear(&ka);
	return a;
}

void
auth_flush(int force)
{
	struct keystore *ks;
	time_t now;

	if (nuses == 0)
		return;
	now = time(NULL);
	if (!force && now < flush_at)
		return;
	if ((ks = dbconn_get()) == NULL)
		return;		/* kept for when it is back */
	if (keystore_record_use(ks, uses, nuses) == -1)
		log_warnx("key database: recording key use: %s",
		    keystore_errmsg(ks));
	nuses = 0;
	flush_at = now + AUTH_FLUSH_SECS;
}

void
auth_cleanup(void)
{
	auth_flush(1);
	explicit_bzero(master_hash, sizeof(master_hash));
	explicit_bzero(last_key, sizeof(last_key));
	explicit_bzero(last_hash, sizeof(last_hash));
	explicit_bzero(cache, sizeof(cache));
	explicit_bzero(misses, sizeof(misses));
	explicit_bzero(prefixed_hash, sizeof(prefixed_hash));
}
