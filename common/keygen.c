/*
 * keygen: new keys, their hashes and their display hints.  A key is
 * its prefix and 43 characters drawn uniformly from 62 with
 * arc4random_uniform, so 43 * log2(62) > 256 bits of it are secret.
 * Only the SHA-256 of a key is kept anywhere; comparisons of hashes
 * take the same time whatever they hold.
 */
#include <sys/types.h>

#include <sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keygen.h"

static const char keygen_alphabet[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* How much of a key's secret part a hint shows at each end. */
#define KEYGEN_HINT_SHOW	4
/* Below this many secret characters, showing 8 of them gives too much
 * of the key away, so the hint shows none. */
#define KEYGEN_HINT_MINREST	12
#define KEYGEN_ELLIPSIS		"\xe2\x80\xa6"	/* U+2026 */

int
keygen_prefix_valid(const char *prefix)
{
	size_t	 i;

	if (prefix == NULL)
		return 1;
	for (i = 0; prefix[i] != '\0'; i++) {
		/* Keys go into shell lines, JSON and headers unquoted. */
		if (i >= KEYGEN_PREFIX_MAX ||
		    prefix[i] <= ' ' || prefix[i] > '~' ||
		    prefix[i] == '"' || prefix[i] == '\'' ||
		    prefix[i] == '\\')
			return 0;
	}
	return 1;
}

int
keygen_new(const char *prefix, char *key, size_t keylen)
{
	size_t	 plen, i;

	if (prefix == NULL)
		prefix = "";
	if (!keygen_prefix_valid(prefix))
		return -1;
	plen = strlen(prefix);
	if (keylen < plen + KEYGEN_RANDLEN + 1)
		return -1;
	memcpy(key, prefix, plen);
	for (i = 0; i < KEYGEN_RANDLEN; i++)
		key[plen + i] = keygen_alphabet[arc4random_uniform(
		    sizeof(keygen_alphabet) - 1)];
	key[plen + KEYGEN_RANDLEN] = '\0';
	return 0;
}

void
keygen_hash(const char *key, size_t len, uint8_t hash[KEYGEN_HASHLEN])
{
	SHA2_CTX	 ctx;

	SHA256Init(&ctx);
	SHA256Update(&ctx, (const uint8_t *)key, len);
	SHA256Final(hash, &ctx);
	explicit_bzero(&ctx, sizeof(ctx));
}

void
keygen_hint(const char *key, size_t prefixlen, char *hint, size_t hintlen)
{
	size_t	 len, rest;

	len = strlen(key);
	if (prefixlen > len)
		prefixlen = len;
	if (prefixlen > KEYGEN_PREFIX_MAX)
		prefixlen = KEYGEN_PREFIX_MAX;
	rest = len - prefixlen;
	if (rest < KEYGEN_HINT_MINREST)
		snprintf(hint, hintlen, "%.*s" KEYGEN_ELLIPSIS,
		    (int)prefixlen, key);
	else
		snprintf(hint, hintlen, "%.*s%.*s" KEYGEN_ELLIPSIS "%s",
		    (int)prefixlen, key, KEYGEN_HINT_SHOW, key + prefixlen,
		    key + len - KEYGEN_HINT_SHOW);
}

/*
 * OpenBSD's timingsafe_bcmp, which this libbsd (0.11.7) lacks: every
 * byte is looked at, so the time taken says nothing about where two
 * hashes first differ.
 */
static int	keygen_timingsafe_bcmp(const void *, const void *, size_t);

int
keygen_equal(const void *a, const void *b, size_t n)
{
	return keygen_timingsafe_bcmp(a, b, n) == 0;
}

static int
keygen_timingsafe_bcmp(const void *b1, const void *b2, size_t n)
{
	const unsigned char	*p1 = b1, *p2 = b2;
	int			 ret = 0;

	for (; n > 0; n--)
		ret |= *p1++ ^ *p2++;
	return ret != 0;
}

int
keygen_hash_equal(const uint8_t a[KEYGEN_HASHLEN],
    const uint8_t b[KEYGEN_HASHLEN])
{
	return keygen_timingsafe_bcmp(a, b, KEYGEN_HASHLEN) == 0;
}

void
keygen_hex(const uint8_t hash[KEYGEN_HASHLEN], char hex[KEYGEN_HEXLEN])
{
	static const char	 digits[] = "0123456789abcdef";
	size_t			 i;

	for (i = 0; i < KEYGEN_HASHLEN; i++) {
		hex[2 * i] = digits[hash[i] >> 4];
		hex[2 * i + 1] = digits[hash[i] & 0x0f];
	}
	hex[2 * KEYGEN_HASHLEN] = '\0';
}

static int
keygen_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
keygen_unhex(const char *hex, uint8_t hash[KEYGEN_HASHLEN])
{
	uint8_t	 out[KEYGEN_HASHLEN];
	size_t	 i;
	int	 hi, lo;

	if (strlen(hex) != 2 * KEYGEN_HASHLEN)
		return -1;
	for (i = 0; i < KEYGEN_HASHLEN; i++) {
		if ((hi = keygen_nibble(hex[2 * i])) == -1 ||
		    (lo = keygen_nibble(hex[2 * i + 1])) == -1)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	/* Only a whole, valid hash reaches the caller's buffer. */
	memcpy(hash, out, KEYGEN_HASHLEN);
	return 0;
}
