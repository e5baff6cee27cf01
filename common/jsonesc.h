/*
 * jsonesc: the inside of a JSON string, for the lines and bodies the
 * daemon formats itself (replies, the access log).  jansson builds the
 * larger documents; this is for a few fields in a fixed buffer.
 */
#ifndef JSONESC_H
#define JSONESC_H

#include <stddef.h>

/*
 * Writes s[0, len) escaped into dst (NUL-terminated), stopping before
 * a character that would not fit whole.  Quote, backslash, control
 * characters, DEL and every byte from 0x80 up (as \u00XX) are escaped:
 * what a client sent need not be UTF-8, and the result must be valid
 * JSON whatever it was.  Returns the length written.
 */
size_t	jsonesc(char *dst, size_t size, const char *s, size_t len);

#endif
