/*
 * jsonscan: the structure of a JSON text without decoding it.  Checks
 * that a buffer is one JSON object as jansson (2.14, flags 0) would
 * accept it, and reports where each top-level member's key and value
 * lie, so that only those small pieces need decoding.  Nested values
 * and long strings are skipped, a word at a time.
 */
#ifndef JSONSCAN_H
#define JSONSCAN_H

#include <stddef.h>

#define JSONSCAN_MAXDEPTH	2048	/* jansson's JSON_PARSER_MAX_DEPTH */

#define JSONSCAN_INVALID	-1	/* not JSON */
#define JSONSCAN_NOTOBJECT	-2	/* JSON, but not an object */

/* A top-level member, as offsets into the buffer. */
struct jsonscan_member {
	size_t	 key_off;	/* the key, its quotes included */
	size_t	 key_len;
	int	 key_escaped;	/* the key holds a backslash escape */
	size_t	 val_off;	/* the value, whitespace excluded */
	size_t	 val_len;
};

/*
 * Scans buf[0, len) and calls member() for each top-level member in
 * order, as it is met: a text found invalid later still had its first
 * members reported.  0 if buf is a JSON object, JSONSCAN_INVALID or
 * JSONSCAN_NOTOBJECT otherwise.
 */
int	 jsonscan_object(const char *buf, size_t len,
	    void (*member)(const struct jsonscan_member *, void *), void *arg);

#endif
