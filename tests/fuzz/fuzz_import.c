/*
 * fuzz_import: storage.json bytes through keyjson_load, as
 * "ollaguard-keyctl import" reads a file.
 *
 * A file keyjson_load accepts must be JSON that jansson parses whole,
 * with the entries where keyjson found them and as many.  The file is
 * then stored, with keyjson_store, into a key database made once per
 * process in a temporary directory: every entry the load checked must
 * be added or skipped, and an entry of the export form added with
 * "revoked_at" or "expires_at" must be stored revoked or expiring (a
 * plaintext key takes only its name from the file).  For one input in
 * sixteen (by a hash of its bytes, so the same ones every run) the
 * database is exported, and the export must load again with one entry
 * per key: our own output is always valid input.
 */
#include <sys/stat.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "keygen.h"
#include "keyjson.h"
#include "keystore.h"
#include "log.h"

#include "fuzz.h"

/* Past this many stored keys the database starts over, so that an
 * export stays quick. */
#define STORED_MAX	2000
/* The entries whose storage is checked, per input. */
#define CHECKED_MAX	64

static struct keystore	*ks;
static char		 dbdir[PATH_MAX];
static char		 dbpath[PATH_MAX];
static long		 stored;

static void
unlink_db(void)
{
	char	 p[PATH_MAX];

	unlink(dbpath);
	strlcpy(p, dbpath, sizeof(p));
	strlcat(p, "-wal", sizeof(p));
	unlink(p);
	strlcpy(p, dbpath, sizeof(p));
	strlcat(p, "-shm", sizeof(p));
	unlink(p);
}

static void
cleanup(void)
{
	if (ks != NULL)
		keystore_close(ks);
	ks = NULL;
	if (dbdir[0] != '\0')
		fuzz_rmtree(dbdir);
}

static void
open_db(void)
{
	char	 err[PATH_MAX + 256];

	if ((ks = keystore_open(dbpath, 0, err, sizeof(err))) == NULL) {
		fprintf(stderr, "fuzz_import: %s\n", err);
		exit(1);
	}
	stored = 0;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_init("fuzz_import", 1, LOG_LEVEL_ERROR);
	fuzz_tmpdir(dbdir, sizeof(dbdir));
	strlcpy(dbpath, dbdir, sizeof(dbpath));
	strlcat(dbpath, "/keys.db", sizeof(dbpath));
	atexit(cleanup);
	open_db();
	return 0;
}

/* FNV-1a: which inputs export, the same on every run. */
static uint32_t
input_hash(const uint8_t *data, size_t size)
{
	uint32_t	 h = 2166136261u;
	size_t		 i;

	for (i = 0; i < size; i++)
		h = (h ^ data[i]) * 16777619u;
	return h;
}

/* The array of entries, as jansson sees the file: the root array, or
 * "keys" (the last one), or else "api_keys" (the last one). */
static json_t *
entries(json_t *root)
{
	json_t	*a;

	if (json_is_array(root))
		return root;
	if ((a = json_object_get(root, "keys")) != NULL)
		return a;
	return json_object_get(root, "api_keys");
}

/* An accepted file is JSON, with the entries keyjson counted. */
static void
check_json(const uint8_t *data, size_t size, const struct keyjson *kj,
    json_t **rootp)
{
	json_error_t	 jerr;
	json_t		*root, *a, *v;
	size_t		 i;

	*rootp = NULL;
	root = json_loadb((const char *)data, size, 0, &jerr);
	if (kj == NULL) {
		json_decref(root);
		return;
	}
	if (root == NULL) {
		/* keyjson parses one entry at a time, so nesting counts
		 * from the entry, not from the file's root. */
		FUZZ_CHECK(strstr(jerr.text, "maximum parsing depth") != NULL);
		return;
	}
	a = entries(root);
	FUZZ_CHECK(json_is_array(a));
	FUZZ_CHECK(json_array_size(a) == keyjson_size(kj));
	json_array_foreach(a, i, v)
		FUZZ_CHECK(json_is_string(v) || json_is_object(v));
	*rootp = root;
}

/* An entry's hash as keyjson computes it, or -1 if it has none. */
static int
entry_hash(json_t *v, uint8_t hash[KEYGEN_HASHLEN])
{
	json_t	*k;

	if (json_is_string(v)) {
		keygen_hash(json_string_value(v), json_string_length(v), hash);
		return 0;
	}
	if ((k = json_object_get(v, "key")) != NULL) {
		keygen_hash(json_string_value(k), json_string_length(k), hash);
		return 0;
	}
	return keygen_unhex(json_string_value(json_object_get(v, "hash")),
	    hash);
}

/* 1 if the entry has field, and not null. */
static int
has_value(json_t *v, const char *field)
{
	json_t	*f;

	if (!json_is_object(v))
		return 0;
	f = json_object_get(v, field);
	return f != NULL && !json_is_null(f);
}

struct checked {
	uint8_t	 hash[KEYGEN_HASHLEN];
	int	 is_new;		/* first in the file, not yet stored */
	int	 revoked;
	int	 expires;
	int	 has_origin;
};

/*
 * Notes, before the store, which of the first entries are new keys and
 * whether they come revoked or expiring.
 */
static size_t
note_entries(json_t *a, struct checked *ck)
{
	struct keyinfo	 ki;
	json_t		*v;
	size_t		 i, j, n = 0;

	json_array_foreach(a, i, v) {
		if (n == CHECKED_MAX)
			break;
		if (entry_hash(v, ck[n].hash) == -1)
			continue;
		ck[n].is_new = keystore_get_hash(ks, ck[n].hash, &ki) ==
		    KEYSTORE_NOTFOUND;
		for (j = 0; j < n && ck[n].is_new; j++)
			if (memcmp(ck[j].hash, ck[n].hash, KEYGEN_HASHLEN) == 0)
				ck[n].is_new = 0;
		/* A plaintext key takes only its name from the file; the
		 * export form, by "hash", takes every field. */
		ck[n].revoked = has_value(v, "hash") &&
		    has_value(v, "revoked_at");
		ck[n].expires = has_value(v, "hash") &&
		    has_value(v, "expires_at");
		ck[n].has_origin = has_value(v, "hash") &&
		    has_value(v, "origin");
		n++;
	}
	return n;
}

static int
count_key(const struct keyinfo *ki, void *arg)
{
	(*(size_t *)arg)++;
	return 0;
}

/* Our own export loads again, one entry per key. */
static void
check_export(void)
{
	struct keyjson	*kj;
	char		*buf = NULL, err[512];
	size_t		 len = 0, nkeys = 0;
	FILE		*fp;

	FUZZ_CHECK((fp = open_memstream(&buf, &len)) != NULL);
	if (keyjson_export(ks, fp, err, sizeof(err)) != 0) {
		fprintf(stderr, "export: %s\n", err);
		FUZZ_CHECK(!"keyjson_export failed");
	}
	fclose(fp);
	FUZZ_CHECK(keystore_list(ks, count_key, &nkeys) == 0);
	if ((kj = keyjson_load(buf, len, err, sizeof(err))) == NULL) {
		fprintf(stderr, "import of the export: %s\n", err);
		FUZZ_CHECK(!"our export does not load");
	}
	FUZZ_CHECK(keyjson_size(kj) == nkeys);
	keyjson_free(kj);
	free(buf);
}

static void
store(const struct keyjson *kj, json_t *root, uint32_t h)
{
	struct keyjson_counts	 c;
	struct checked		 ck[CHECKED_MAX];
	struct keyinfo		 ki;
	char			 err[512];
	size_t			 i, n = 0;

	if (root != NULL)
		n = note_entries(entries(root), ck);
	if (keyjson_store(ks, kj, &c, err, sizeof(err)) != 0) {
		fprintf(stderr, "store: %s\n", err);
		FUZZ_CHECK(!"keyjson_store failed on a file keyjson_load took");
	}
	FUZZ_CHECK(c.added >= 0 && c.skipped >= 0);
	FUZZ_CHECK((size_t)(c.added + c.skipped) == keyjson_size(kj));
	FUZZ_CHECK(c.unnamed <= c.added);
	stored += c.added;
	for (i = 0; i < n; i++) {
		FUZZ_CHECK(keystore_get_hash(ks, ck[i].hash, &ki) == 0);
		if (!ck[i].is_new)
			continue;
		/* A time given is never read as "never". */
		FUZZ_CHECK(ck[i].revoked == (ki.revoked_at != 0));
		FUZZ_CHECK(ck[i].expires == (ki.expires_at != 0));
		FUZZ_CHECK(ck[i].has_origin || ki.origin == ORIGIN_IMPORT);
	}
	if ((h & 15) == 0)
		check_export();
	if (stored > STORED_MAX) {
		keystore_close(ks);
		unlink_db();
		open_db();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct keyjson	*kj;
	json_t		*root;
	char		 err[256];
	uint32_t	 h;

	memset(err, 'x', sizeof(err));
	kj = keyjson_load((const char *)data, size, err, sizeof(err));
	if (kj == NULL)
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL &&
		    err[0] != '\0');
	check_json(data, size, kj, &root);
	h = input_hash(data, size);
	if (kj != NULL)
		store(kj, root, h);
	json_decref(root);
	keyjson_free(kj);
	return 0;
}
