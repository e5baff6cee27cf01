/*
 * test_keyjson: import of every storage.json form the original tool
 * wrote and of our own export, the all-or-nothing rule for bad files,
 * duplicate and name-clash counting, and that export then import into
 * an empty database gives the same keys back.  Each test works on a
 * fresh database file in its own temporary directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "keygen.h"
#include "keyjson.h"
#include "keystore.h"

#define KEY1	"sk-AAAAbbbbCCCCddddEEEEffffGGGGhhhhIIIIjjjjKKK"
#define KEY2	"legacy-key-number-two"
#define KEY3	"0123456789abcdef"
#define ZERO64	"00000000000000000000000000000000" \
		"00000000000000000000000000000000"

struct fixture {
	char		 dir[64];
	char		 path[128];
	char		 path2[128];
	struct keystore	*ks;
};

static int
count_cb(const struct keyinfo *ki, void *arg)
{
	(*(long *)arg)++;
	return 0;
}

static long
count_keys(struct keystore *ks)
{
	long	n = 0;

	assert_int_equal(keystore_list(ks, count_cb, &n), 0);
	return n;
}

static struct keystore *
open_db(const char *path)
{
	struct keystore	*ks;
	char		 err[256];

	ks = keystore_open(path, 0, err, sizeof(err));
	if (ks == NULL)
		fail_msg("%s", err);
	return ks;
}

static int
setup(void **state)
{
	struct fixture	*f;

	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	strlcpy(f->dir, "/tmp/test_keyjson.XXXXXX", sizeof(f->dir));
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/a.db", f->dir);
	snprintf(f->path2, sizeof(f->path2), "%s/b.db", f->dir);
	f->ks = open_db(f->path);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;
	char		 cmd[128];

	keystore_close(f->ks);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static int
import(struct keystore *ks, const char *json, struct keyjson_counts *c,
    char *err, size_t errlen)
{
	return keyjson_import(ks, json, strlen(json), c, err, errlen);
}

/* Imports json, which must succeed, and checks the counts. */
static void
import_ok(struct keystore *ks, const char *json, long added, long skipped,
    long unnamed)
{
	struct keyjson_counts	c;
	char			err[256] = "";

	if (import(ks, json, &c, err, sizeof(err)) != 0)
		fail_msg("import failed: %s", err);
	assert_int_equal(c.added, added);
	assert_int_equal(c.skipped, skipped);
	assert_int_equal(c.unnamed, unnamed);
}

/* Imports json, which must fail with a message holding want, and
 * checks that the database did not change. */
static void
import_bad(struct keystore *ks, const char *json, const char *want)
{
	struct keyjson_counts	c;
	char			err[256] = "";
	long			before;

	before = count_keys(ks);
	assert_int_equal(import(ks, json, &c, err, sizeof(err)), -1);
	if (strstr(err, want) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", err, want);
	assert_int_equal(c.added, 0);
	assert_int_equal(count_keys(ks), before);
}

/* Finds the key stored for a plaintext key; fails if there is none. */
static void
get_key(struct keystore *ks, const char *key, struct keyinfo *ki)
{
	uint8_t	hash[KEYGEN_HASHLEN];

	keygen_hash(key, strlen(key), hash);
	assert_int_equal(keystore_get_hash(ks, hash, ki), 0);
}

static void
check_plain(struct keystore *ks, const char *key, const char *name)
{
	struct keyinfo	ki;
	char		hint[KEYGEN_HINT_MAX];

	get_key(ks, key, &ki);
	keygen_hint(key, 0, hint, sizeof(hint));
	assert_string_equal(ki.hint, hint);
	assert_string_equal(ki.name, name);
	assert_int_equal(ki.origin, ORIGIN_IMPORT);
	assert_int_equal(ki.revoked_at, 0);
	assert_true(ki.created_at > 0);
}

static void
test_array_of_strings(void **state)
{
	struct fixture	*f = *state;

	import_ok(f->ks, "[\"" KEY1 "\", \"" KEY2 "\"]", 2, 0, 0);
	assert_int_equal(count_keys(f->ks), 2);
	check_plain(f->ks, KEY1, "");
	check_plain(f->ks, KEY2, "");
}

static void
test_object_keys(void **state)
{
	struct fixture	*f = *state;

	import_ok(f->ks, "{\"keys\": [\"" KEY1 "\", \"" KEY2 "\"]}", 2, 0,
	    0);
	check_plain(f->ks, KEY1, "");
	check_plain(f->ks, KEY2, "");
}

static void
test_object_api_keys(void **state)
{
	struct fixture	*f = *state;

	import_ok(f->ks, "{\"other\": 1, \"api_keys\": [\"" KEY3 "\"]}", 1,
	    0, 0);
	check_plain(f->ks, KEY3, "");
}

static void
test_objects_with_names(void **state)
{
	struct fixture	*f = *state;

	import_ok(f->ks, "[{\"key\": \"" KEY1 "\", \"name\": \"alice\"},"
	    " {\"key\": \"" KEY2 "\", \"created\": \"whenever\"},"
	    " {\"key\": \"" KEY3 "\", \"name\": null}]", 3, 0, 0);
	check_plain(f->ks, KEY1, "alice");
	check_plain(f->ks, KEY2, "");
	check_plain(f->ks, KEY3, "");
}

static void
test_keys_objects_with_names(void **state)
{
	struct fixture	*f = *state;

	import_ok(f->ks, "{\"api_keys\": [{\"key\": \"" KEY1 "\", "
	    "\"name\": \"bob\"}]}", 1, 0, 0);
	check_plain(f->ks, KEY1, "bob");
}

static void
test_export_form(void **state)
{
	struct fixture	*f = *state;
	struct keyinfo	 ki;
	uint8_t		 hash[KEYGEN_HASHLEN];

	import_ok(f->ks, "{\"version\": 1, \"keys\": [{\"hash\": "
	    "\"00112233445566778899aabbccddeeff"
	    "00112233445566778899AABBCCDDEEFF\","
	    " \"hint\": \"sk-abcd…wxyz\", \"name\": \"carol\","
	    " \"created_at\": \"2025-01-02T03:04:05Z\","
	    " \"expires_at\": \"2030-01-01T00:00:00Z\","
	    " \"revoked_at\": \"2025-06-01T12:00:00Z\","
	    " \"origin\": \"generate\", \"requests\": 42,"
	    " \"last_used_at\": \"2025-05-31T23:59:59Z\"},"
	    " {\"hash\": \"ffffffffffffffffffffffffffffffff"
	    "ffffffffffffffffffffffffffffffff\"}"
	    "]}", 2, 0, 0);
	assert_int_equal(keygen_unhex("00112233445566778899aabbccddeeff"
	    "00112233445566778899aabbccddeeff", hash), 0);
	assert_int_equal(keystore_get_hash(f->ks, hash, &ki), 0);
	assert_string_equal(ki.hint, "sk-abcd…wxyz");
	assert_string_equal(ki.name, "carol");
	assert_int_equal(ki.created_at, 1735787045);
	assert_int_equal(ki.expires_at, 1893456000);
	assert_int_equal(ki.revoked_at, 1748779200);
	assert_int_equal(ki.last_used_at, 1748735999);
	assert_int_equal(ki.requests, 42);
	assert_int_equal(ki.origin, ORIGIN_GENERATE);
	assert_int_equal(keystore_lookup(f->ks, hash, 1750000000, NULL),
	    KEY_REVOKED);

	memset(hash, 0xff, sizeof(hash));
	assert_int_equal(keystore_get_hash(f->ks, hash, &ki), 0);
	assert_string_equal(ki.name, "");
	assert_int_equal(ki.origin, ORIGIN_IMPORT);
	assert_int_equal(ki.revoked_at, 0);
}

static void
test_empty(void **state)
{
	struct fixture	*f = *state;

	import_ok(f->ks, "[]", 0, 0, 0);
	import_ok(f->ks, "{\"keys\": []}", 0, 0, 0);
	assert_int_equal(count_keys(f->ks), 0);
}

static void
test_malformed(void **state)
{
	struct fixture	*f = *state;

	import_ok(f->ks, "[\"" KEY3 "\"]", 1, 0, 0);
	import_bad(f->ks, "[\"" KEY1 "\" \"" KEY2 "\"]", "line 1, column ");
	import_bad(f->ks, "[\n  \"" KEY1 "\",\n  \"" KEY2 "\",\n  nope\n]",
	    "line 4, column ");
	import_bad(f->ks, "", "line 1, column 0");
	import_bad(f->ks, "[\"" KEY1 "\"] trailing", "line 1, column ");
	import_bad(f->ks, "\"" KEY1 "\"", "line 1, column ");
}

static void
test_truncated(void **state)
{
	struct fixture	*f = *state;

	/* Cut at any point, a file imports nothing, not its first keys. */
	import_bad(f->ks, "{\"keys\": [\n\"" KEY1 "\",\n\"" KEY2 "\",\n",
	    "line 4, column ");
	import_bad(f->ks, "[\"" KEY1 "\", \"" KEY2, "line 1, column ");
	import_bad(f->ks, "[{\"key\": \"" KEY1 "\", \"name\": \"al",
	    "line 1, column ");
	assert_int_equal(count_keys(f->ks), 0);
}

static void
test_wrong_type(void **state)
{
	struct fixture	*f = *state;

	import_bad(f->ks, "[\"" KEY1 "\", 42]", "[1]: ");
	import_bad(f->ks, "{\"keys\": [\"" KEY1 "\", \"" KEY2 "\", null]}",
	    "keys[2]: ");
	import_bad(f->ks, "[{\"key\": 5}]", "[0]: \"key\" is not a string");
	import_bad(f->ks, "[{\"key\": \"" KEY1 "\", \"name\": 7}]",
	    "[0]: \"name\"");
	import_bad(f->ks, "[{\"name\": \"x\"}]", "[0]: has neither");
	import_bad(f->ks, "[{\"key\": \"" KEY1 "\", \"hash\": \"00\"}]",
	    "[0]: has both");
	import_bad(f->ks, "[{\"hash\": \"abc\"}]", "[0]: \"hash\"");
	import_bad(f->ks, "[{\"hash\": \"" ZERO64 "\", "
	    "\"created_at\": \"yesterday\"}]",
	    "[0]: \"created_at\"");
	import_bad(f->ks, "[{\"hash\": \"" ZERO64 "\", "
	    "\"requests\": -1}]",
	    "[0]: \"requests\"");
	import_bad(f->ks, "[{\"hash\": \"" ZERO64 "\", "
	    "\"origin\": \"mars\"}]",
	    "[0]: \"origin\"");
	import_bad(f->ks, "[\"\"]", "[0]: empty key");
	import_bad(f->ks, "[\"with space\"]", "[0]: key holds");
	import_bad(f->ks, "{\"version\": 2, \"keys\": []}", "version");
	import_bad(f->ks, "{\"tokens\": []}", "no \"keys\"");
	import_bad(f->ks, "{\"keys\": {\"a\": 1}}", "not an array");
	assert_int_equal(count_keys(f->ks), 0);
}

static void
test_duplicates(void **state)
{
	struct fixture	*f = *state;

	import_ok(f->ks, "[\"" KEY1 "\"]", 1, 0, 0);
	/* KEY1 is stored already; KEY2 comes twice. */
	import_ok(f->ks, "[\"" KEY1 "\", \"" KEY2 "\", {\"key\": \"" KEY2
	    "\", \"name\": \"dup\"}]", 1, 2, 0);
	assert_int_equal(count_keys(f->ks), 2);
	check_plain(f->ks, KEY2, "");
	/* The same file again adds nothing. */
	import_ok(f->ks, "[\"" KEY1 "\", \"" KEY2 "\"]", 0, 2, 0);
}

static void
test_name_clash(void **state)
{
	struct fixture	*f = *state;

	import_ok(f->ks, "[{\"key\": \"" KEY1 "\", \"name\": \"alice\"}]",
	    1, 0, 0);
	/* An active key holds "alice": the key comes in, its name not. */
	import_ok(f->ks, "[{\"key\": \"" KEY2 "\", \"name\": \"alice\"},"
	    " {\"key\": \"" KEY3 "\", \"name\": \"12345\"}]", 2, 0, 2);
	check_plain(f->ks, KEY1, "alice");
	check_plain(f->ks, KEY2, "");
	check_plain(f->ks, KEY3, "");
}

/* Exports ks into a malloc'd string. */
static char *
export_str(struct keystore *ks, size_t *len)
{
	FILE	*fp;
	char	*buf = NULL, err[256];

	assert_non_null(fp = open_memstream(&buf, len));
	if (keyjson_export(ks, fp, err, sizeof(err)) != 0)
		fail_msg("export: %s", err);
	assert_int_equal(fclose(fp), 0);
	return buf;
}

static int
collect_cb(const struct keyinfo *ki, void *arg)
{
	struct keyinfo	**p = arg;

	*(*p)++ = *ki;
	return 0;
}

static void
test_roundtrip(void **state)
{
	struct fixture		*f = *state;
	struct keystore		*ks2;
	struct keyinfo		 ki, a[4], b[4], *p;
	struct keyuse		 use;
	struct keyjson_counts	 c;
	char			*out1, *out2, err[256];
	size_t			 len1, len2;
	int64_t			 id;
	int			 i;

	/* Keys of every kind: named, expiring, used, revoked. */
	memset(&ki, 0, sizeof(ki));
	keygen_hash(KEY1, strlen(KEY1), ki.hash);
	keygen_hint(KEY1, 3, ki.hint, sizeof(ki.hint));
	strlcpy(ki.name, "alice", sizeof(ki.name));
	ki.created_at = 1700000000;
	ki.origin = ORIGIN_KEYCTL;
	assert_int_equal(keystore_add(f->ks, &ki, &id), 0);
	assert_int_equal(keystore_revoke(f->ks, id, 1700000500), 0);

	/* A second "alice" may exist once the first is revoked. */
	keygen_hash(KEY2, strlen(KEY2), ki.hash);
	keygen_hint(KEY2, 0, ki.hint, sizeof(ki.hint));
	ki.created_at = 1700001000;
	ki.expires_at = 1900000000;
	ki.origin = ORIGIN_GENERATE;
	assert_int_equal(keystore_add(f->ks, &ki, &id), 0);
	use.id = id;
	use.requests = 17;
	use.last_used_at = 1700002000;
	assert_int_equal(keystore_record_use(f->ks, &use, 1), 0);

	keygen_hash(KEY3, strlen(KEY3), ki.hash);
	keygen_hint(KEY3, 0, ki.hint, sizeof(ki.hint));
	ki.name[0] = '\0';
	ki.created_at = 1600000000;
	ki.expires_at = 1600003600;
	ki.origin = ORIGIN_IMPORT;
	assert_int_equal(keystore_add(f->ks, &ki, &id), 0);

	out1 = export_str(f->ks, &len1);
	assert_null(strstr(out1, KEY1));
	assert_null(strstr(out1, KEY2));

	ks2 = open_db(f->path2);
	if (keyjson_import(ks2, out1, len1, &c, err, sizeof(err)) != 0)
		fail_msg("import: %s", err);
	assert_int_equal(c.added, 3);
	assert_int_equal(c.skipped, 0);
	assert_int_equal(c.unnamed, 0);

	p = a;
	assert_int_equal(keystore_list(f->ks, collect_cb, &p), 0);
	p = b;
	assert_int_equal(keystore_list(ks2, collect_cb, &p), 0);
	assert_int_equal(p - b, 3);
	for (i = 0; i < 3; i++) {
		assert_memory_equal(a[i].hash, b[i].hash, KEYGEN_HASHLEN);
		assert_string_equal(a[i].hint, b[i].hint);
		assert_string_equal(a[i].name, b[i].name);
		assert_int_equal(a[i].created_at, b[i].created_at);
		assert_int_equal(a[i].expires_at, b[i].expires_at);
		assert_int_equal(a[i].revoked_at, b[i].revoked_at);
		assert_int_equal(a[i].last_used_at, b[i].last_used_at);
		assert_int_equal(a[i].requests, b[i].requests);
		assert_int_equal(a[i].origin, b[i].origin);
	}
	keygen_hash(KEY1, strlen(KEY1), ki.hash);
	assert_int_equal(keystore_lookup(ks2, ki.hash, 1800000000, NULL),
	    KEY_REVOKED);
	keygen_hash(KEY3, strlen(KEY3), ki.hash);
	assert_int_equal(keystore_lookup(ks2, ki.hash, 1800000000, NULL),
	    KEY_EXPIRED);

	/* And the export of the copy is the export of the original. */
	out2 = export_str(ks2, &len2);
	assert_int_equal(len1, len2);
	assert_string_equal(out1, out2);

	/* Importing it again changes nothing. */
	assert_int_equal(keyjson_import(ks2, out1, len1, &c, err,
	    sizeof(err)), 0);
	assert_int_equal(c.added, 0);
	assert_int_equal(c.skipped, 3);

	free(out1);
	free(out2);
	keystore_close(ks2);
}

static void
test_export_empty(void **state)
{
	struct fixture		*f = *state;
	struct keyjson_counts	 c;
	char			*out, err[256];
	size_t			 len;

	out = export_str(f->ks, &len);
	assert_non_null(strstr(out, "\"version\": 1"));
	assert_int_equal(keyjson_import(f->ks, out, len, &c, err,
	    sizeof(err)), 0);
	assert_int_equal(c.added, 0);
	free(out);
}

static void
test_load_then_store(void **state)
{
	struct fixture		*f = *state;
	struct keyjson		*kj;
	struct keyjson_counts	 c;
	char			 err[256];
	const char		*json = "[\"" KEY1 "\", \"" KEY2 "\"]";

	assert_null(keyjson_load("[1]", 3, err, sizeof(err)));
	assert_non_null(strstr(err, "[0]"));
	kj = keyjson_load(json, strlen(json), err, sizeof(err));
	assert_non_null(kj);
	assert_int_equal(keyjson_size(kj), 2);
	assert_int_equal(count_keys(f->ks), 0);
	assert_int_equal(keyjson_store(f->ks, kj, &c, err, sizeof(err)), 0);
	assert_int_equal(c.added, 2);
	keyjson_free(kj);
	assert_int_equal(count_keys(f->ks), 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_array_of_strings, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_object_keys, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_object_api_keys, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_objects_with_names, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_keys_objects_with_names,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_export_form, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_truncated, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_wrong_type, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_duplicates, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_name_clash, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_roundtrip, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_export_empty, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_load_then_store, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
