/*
 * keyname: what text may name a key or be shown beside one.  Names and
 * hints reach terminals (keyctl list) and JSON (export, the daemon's
 * replies), so they must be valid UTF-8 with no control characters; a
 * name also must not look like an id.
 */
#include <stdint.h>
#include <string.h>

#include "keystore.h"
#include "keyname.h"

/*
 * Strict UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF, as jansson demands on output) without control characters,
 * which would let a name rewrite the terminal that lists it.
 */
int
keyname_text_valid(const char *str)
{
	const unsigned char	*s = (const unsigned char *)str;
	uint32_t		 cp;
	int			 i, n;

	while (*s != '\0') {
		if (*s < 0x20 || *s == 0x7f)
			return 0;
		if (*s < 0x80) {
			s++;
			continue;
		}
		if ((*s & 0xe0) == 0xc0) {
			n = 1;
			cp = *s & 0x1f;
		} else if ((*s & 0xf0) == 0xe0) {
			n = 2;
			cp = *s & 0x0f;
		} else if ((*s & 0xf8) == 0xf0) {
			n = 3;
			cp = *s & 0x07;
		} else
			return 0;
		/* A NUL fails the continuation test, so this stays inside. */
		for (i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i] & 0x3f);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
		    (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		s += n + 1;
	}
	return 1;
}

int
keyname_valid(const char *name)
{
	size_t	len, i;

	len = strlen(name);
	if (len == 0 || len >= KEYSTORE_NAME_MAX || !keyname_text_valid(name))
		return 0;
	/* revoke reads an all-digit argument as an id. */
	for (i = 0; i < len; i++)
		if (name[i] < '0' || name[i] > '9')
			return 1;
	return 0;
}
