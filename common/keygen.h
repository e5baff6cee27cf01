/*
 * keygen: making keys, hashing them, and comparing hashes.  A key is
 * <prefix> followed by 43 base62 characters (256 bits).  Only the
 * SHA-256 of the whole key string is ever stored.
 */
#ifndef KEYGEN_H
#define KEYGEN_H

#include <stddef.h>
#include <stdint.h>

#define KEYGEN_RANDLEN		43
#define KEYGEN_PREFIX_MAX	32
#define KEYGEN_KEY_MAX		(KEYGEN_PREFIX_MAX + KEYGEN_RANDLEN + 1)
#define KEYGEN_HASHLEN		32
#define KEYGEN_HEXLEN		(2 * KEYGEN_HASHLEN + 1)
/* prefix + 4 + "…" (3 bytes of UTF-8) + 4 + NUL */
#define KEYGEN_HINT_MAX		(KEYGEN_PREFIX_MAX + 4 + 3 + 4 + 1)

/* Writes a new NUL-terminated key; -1 if the prefix is too long or
 * holds a character that is not printable ASCII without spaces. */
int	keygen_new(const char *prefix, char *key, size_t keylen);
/* 1 if prefix may start a key (NULL and "" may), 0 if not. */
int	keygen_prefix_valid(const char *prefix);
void	keygen_hash(const char *key, size_t len, uint8_t hash[KEYGEN_HASHLEN]);
/* The display hint: prefix, first 4 of the rest, "…", last 4.  A key
 * too short to hide anything gets its prefix and "…" only. */
void	keygen_hint(const char *key, size_t prefixlen, char *hint,
	    size_t hintlen);
/* Constant-time: 1 if equal, 0 if not. */
int	keygen_hash_equal(const uint8_t a[KEYGEN_HASHLEN],
	    const uint8_t b[KEYGEN_HASHLEN]);
/* Constant-time comparison of n bytes: 1 if equal, 0 if not. */
int	keygen_equal(const void *a, const void *b, size_t n);
void	keygen_hex(const uint8_t hash[KEYGEN_HASHLEN], char hex[KEYGEN_HEXLEN]);
/* -1 unless hex is exactly 64 hex digits. */
int	keygen_unhex(const char *hex, uint8_t hash[KEYGEN_HASHLEN]);

#endif
