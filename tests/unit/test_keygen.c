/*
 * test_keygen: the shape of new keys, their spread over the alphabet,
 * prefixes, hints, SHA-256 against published vectors, hex, and that
 * processes forked from one parent never make the same key.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "keygen.h"

#define BASE62	"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

#define NCHILD		8
#define NPERCHILD	100
#define NPARENT		100

static void
test_new_format(void **state)
{
	char	 key[KEYGEN_KEY_MAX];
	size_t	 i;

	assert_int_equal(keygen_new("sk-", key, sizeof(key)), 0);
	assert_int_equal(strlen(key), 3 + KEYGEN_RANDLEN);
	assert_memory_equal(key, "sk-", 3);
	for (i = 3; key[i] != '\0'; i++)
		assert_non_null(strchr(BASE62, key[i]));

	assert_int_equal(keygen_new("", key, sizeof(key)), 0);
	assert_int_equal(strlen(key), KEYGEN_RANDLEN);
	assert_int_equal(keygen_new(NULL, key, sizeof(key)), 0);
	assert_int_equal(strlen(key), KEYGEN_RANDLEN);
	for (i = 0; key[i] != '\0'; i++)
		assert_non_null(strchr(BASE62, key[i]));

	/* Exactly big enough, and one byte short. */
	assert_int_equal(keygen_new("ab", key, 2 + KEYGEN_RANDLEN + 1), 0);
	assert_int_equal(strlen(key), 2 + KEYGEN_RANDLEN);
	assert_int_equal(keygen_new("ab", key, 2 + KEYGEN_RANDLEN), -1);
}

/* A biased draw (a modulo, a short alphabet) leaves characters out. */
static void
test_new_spread(void **state)
{
	char	 key[KEYGEN_KEY_MAX];
	int	 seen[256], i, j;

	memset(seen, 0, sizeof(seen));
	for (i = 0; i < 2000; i++) {
		assert_int_equal(keygen_new("", key, sizeof(key)), 0);
		for (j = 0; key[j] != '\0'; j++)
			seen[(unsigned char)key[j]]++;
	}
	/*
	 * 86000 draws: each character is expected 1387 times, give or take
	 * 37.  The bounds are six of those either side; a byte taken
	 * modulo 62 would give the first eight characters 1734.
	 */
	for (i = 0; BASE62[i] != '\0'; i++)
		assert_in_range(seen[(unsigned char)BASE62[i]], 1165, 1609);
}

static void
test_prefix(void **state)
{
	char	 key[KEYGEN_KEY_MAX], p[KEYGEN_PREFIX_MAX + 2];
	size_t	 i;

	assert_true(keygen_prefix_valid(""));
	assert_true(keygen_prefix_valid(NULL));
	assert_true(keygen_prefix_valid("sk-"));
	assert_true(keygen_prefix_valid("ollama_"));
	assert_true(keygen_prefix_valid("!#$%&()*+,./:;<=>?@[]^`{|}~"));
	assert_false(keygen_prefix_valid("sk "));
	assert_false(keygen_prefix_valid("sk\""));
	assert_false(keygen_prefix_valid("sk'"));
	assert_false(keygen_prefix_valid("sk\\"));
	assert_false(keygen_prefix_valid("sk\t"));
	assert_false(keygen_prefix_valid("sk\n"));
	assert_false(keygen_prefix_valid("sk\x7f"));
	assert_false(keygen_prefix_valid("sk\xc3\xa9"));

	memset(p, 'a', sizeof(p));
	p[KEYGEN_PREFIX_MAX] = '\0';
	assert_true(keygen_prefix_valid(p));
	assert_int_equal(keygen_new(p, key, sizeof(key)), 0);
	assert_int_equal(strlen(key), KEYGEN_PREFIX_MAX + KEYGEN_RANDLEN);
	assert_memory_equal(key, p, KEYGEN_PREFIX_MAX);
	for (i = KEYGEN_PREFIX_MAX; key[i] != '\0'; i++)
		assert_non_null(strchr(BASE62, key[i]));

	p[KEYGEN_PREFIX_MAX] = 'a';
	p[KEYGEN_PREFIX_MAX + 1] = '\0';
	assert_false(keygen_prefix_valid(p));
	assert_int_equal(keygen_new(p, key, sizeof(key)), -1);
	assert_int_equal(keygen_new("s k", key, sizeof(key)), -1);
}

static void
test_hint(void **state)
{
	char	 hint[KEYGEN_HINT_MAX], key[KEYGEN_KEY_MAX];
	char	 prefix[KEYGEN_PREFIX_MAX + 1];

	keygen_hint("sk-ABCDefghijklmnopWXYZ", 3, hint, sizeof(hint));
	assert_string_equal(hint, "sk-ABCD\xe2\x80\xa6WXYZ");
	keygen_hint("ABCDefghijklmnopWXYZ", 0, hint, sizeof(hint));
	assert_string_equal(hint, "ABCD\xe2\x80\xa6WXYZ");

	/* Twelve characters after the prefix still hide four. */
	keygen_hint("sk-ABCDefghWXYZ", 3, hint, sizeof(hint));
	assert_string_equal(hint, "sk-ABCD\xe2\x80\xa6WXYZ");
	/* Eleven would show all but three: show none. */
	keygen_hint("sk-ABCDefgWXYZ", 3, hint, sizeof(hint));
	assert_string_equal(hint, "sk-\xe2\x80\xa6");
	keygen_hint("sk-abc", 3, hint, sizeof(hint));
	assert_string_equal(hint, "sk-\xe2\x80\xa6");
	keygen_hint("short", 0, hint, sizeof(hint));
	assert_string_equal(hint, "\xe2\x80\xa6");
	keygen_hint("sk-", 10, hint, sizeof(hint));
	assert_string_equal(hint, "sk-\xe2\x80\xa6");

	/* A real key with the longest prefix fits the buffer. */
	memset(prefix, 'p', KEYGEN_PREFIX_MAX);
	prefix[KEYGEN_PREFIX_MAX] = '\0';
	assert_int_equal(keygen_new(prefix, key, sizeof(key)), 0);
	keygen_hint(key, KEYGEN_PREFIX_MAX, hint, sizeof(hint));
	assert_int_equal(strlen(hint), KEYGEN_HINT_MAX - 1);
	assert_memory_equal(hint, key, KEYGEN_PREFIX_MAX + 4);
	assert_string_equal(hint + KEYGEN_PREFIX_MAX + 4 + 3,
	    key + strlen(key) - 4);
}

/* FIPS 180-2 examples and the empty string. */
static void
test_hash_vectors(void **state)
{
	uint8_t	 h[KEYGEN_HASHLEN];
	char	 hex[KEYGEN_HEXLEN];

	keygen_hash("", 0, h);
	keygen_hex(h, hex);
	assert_string_equal(hex,
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	keygen_hash("abc", 3, h);
	keygen_hex(h, hex);
	assert_string_equal(hex,
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	/* Only len bytes count. */
	keygen_hash("abcdef", 3, h);
	keygen_hex(h, hex);
	assert_string_equal(hex,
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	keygen_hash("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	    56, h);
	keygen_hex(h, hex);
	assert_string_equal(hex,
	    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void
test_hash_equal(void **state)
{
	uint8_t	 a[KEYGEN_HASHLEN], b[KEYGEN_HASHLEN];

	keygen_hash("abc", 3, a);
	keygen_hash("abc", 3, b);
	assert_true(keygen_hash_equal(a, b));
	b[KEYGEN_HASHLEN - 1] ^= 0x01;
	assert_false(keygen_hash_equal(a, b));
	b[KEYGEN_HASHLEN - 1] ^= 0x01;
	b[0] ^= 0x80;
	assert_false(keygen_hash_equal(a, b));
	keygen_hash("abd", 3, b);
	assert_false(keygen_hash_equal(a, b));
}

static void
test_hex(void **state)
{
	uint8_t	 h[KEYGEN_HASHLEN], back[KEYGEN_HASHLEN];
	char	 hex[KEYGEN_HEXLEN], up[KEYGEN_HEXLEN + 1];
	size_t	 i;

	for (i = 0; i < KEYGEN_HASHLEN; i++)
		h[i] = (uint8_t)(i * 37 + 5);
	h[0] = 0x00;
	h[1] = 0xff;
	keygen_hex(h, hex);
	assert_int_equal(strlen(hex), 64);
	assert_memory_equal(hex, "00ff", 4);
	assert_null(strpbrk(hex, "ABCDEF"));
	assert_int_equal(keygen_unhex(hex, back), 0);
	assert_memory_equal(back, h, KEYGEN_HASHLEN);

	for (i = 0; hex[i] != '\0'; i++)
		up[i] = hex[i] >= 'a' && hex[i] <= 'f' ? hex[i] - 32 : hex[i];
	up[i] = '\0';
	memset(back, 0, sizeof(back));
	assert_int_equal(keygen_unhex(up, back), 0);
	assert_memory_equal(back, h, KEYGEN_HASHLEN);

	/* A refused string leaves the output as it was. */
	memset(back, 0xaa, sizeof(back));
	assert_int_equal(keygen_unhex("", back), -1);
	up[63] = '\0';
	assert_int_equal(keygen_unhex(up, back), -1);
	strlcpy(up, hex, sizeof(up));
	strlcat(up, "0", sizeof(up));
	assert_int_equal(keygen_unhex(up, back), -1);
	strlcpy(up, hex, sizeof(up));
	up[10] = 'g';
	assert_int_equal(keygen_unhex(up, back), -1);
	up[10] = ' ';
	assert_int_equal(keygen_unhex(up, back), -1);
	for (i = 0; i < KEYGEN_HASHLEN; i++)
		assert_int_equal(back[i], 0xaa);
}

static int
keycmp(const void *a, const void *b)
{
	return memcmp(a, b, KEYGEN_RANDLEN);
}

/*
 * A generator that does not notice fork() gives parent and children
 * the same stream.  The parent draws first, so a generator seeded once
 * in the parent would be copied into every child.
 */
static void
test_fork(void **state)
{
	char	 *keys, key[KEYGEN_KEY_MAX];
	size_t	 total = NPARENT + NCHILD * NPERCHILD, n = 0, got, i;
	pid_t	 pids[NCHILD];
	int	 fds[NCHILD][2], c, k, status;
	ssize_t	 r;

	assert_non_null(keys = calloc(total, KEYGEN_RANDLEN));
	assert_int_equal(keygen_new("", key, sizeof(key)), 0);
	for (c = 0; c < NCHILD; c++) {
		assert_int_equal(pipe(fds[c]), 0);
		assert_true((pids[c] = fork()) != -1);
		if (pids[c] == 0) {
			close(fds[c][0]);
			for (k = 0; k < NPERCHILD; k++) {
				if (keygen_new("", key, sizeof(key)) == -1 ||
				    write(fds[c][1], key, KEYGEN_RANDLEN) !=
				    KEYGEN_RANDLEN)
					_exit(1);
			}
			_exit(0);
		}
		close(fds[c][1]);
	}
	for (k = 0; k < NPARENT; k++) {
		assert_int_equal(keygen_new("", key, sizeof(key)), 0);
		memcpy(keys + n++ * KEYGEN_RANDLEN, key, KEYGEN_RANDLEN);
	}
	for (c = 0; c < NCHILD; c++) {
		got = 0;
		while ((r = read(fds[c][0], keys + n * KEYGEN_RANDLEN + got,
		    NPERCHILD * KEYGEN_RANDLEN - got)) > 0)
			got += r;
		close(fds[c][0]);
		assert_int_equal(got, NPERCHILD * KEYGEN_RANDLEN);
		n += NPERCHILD;
		assert_int_equal(waitpid(pids[c], &status, 0), pids[c]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_int_equal(n, total);
	qsort(keys, total, KEYGEN_RANDLEN, keycmp);
	for (i = 1; i < total; i++)
		assert_int_not_equal(keycmp(keys + (i - 1) * KEYGEN_RANDLEN,
		    keys + i * KEYGEN_RANDLEN), 0);
	free(keys);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_format),
		cmocka_unit_test(test_new_spread),
		cmocka_unit_test(test_prefix),
		cmocka_unit_test(test_hint),
		cmocka_unit_test(test_hash_vectors),
		cmocka_unit_test(test_hash_equal),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_fork),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
