/*
 * jsonesc: escaping for JSON strings written into fixed buffers.
 */
#include <stdio.h>

#include "jsonesc.h"

size_t
jsonesc(char *dst, size_t size, const char *s, size_t len)
{
	size_t n = 0, i;
	unsigned char c;

	if (size == 0)
		return 0;
	/* Room for the longest escape (\u00XX) and the NUL. */
	for (i = 0; i < len && n + 7 <= size; i++) {
		c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			dst[n++] = '\\';
			dst[n++] = (char)c;
		} else if (c < 0x20 || c >= 0x7f)
			n += (size_t)snprintf(dst + n, size - n, "\\u%04x", c);
		else
			dst[n++] = (char)c;
	}
	dst[n] = '\0';
	return n;
}
