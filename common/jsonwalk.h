/*
 * jsonwalk: the entries of a key file, one at a time.  A file is either
 * an array of entries or an object whose "keys" (or the original tool's
 * "api_keys") member is one; a whole file as one jansson tree would take
 * over a kilobyte per key, so only one entry is ever parsed at once.
 */
#ifndef JSONWALK_H
#define JSONWALK_H

#include <stddef.h>

#include <jansson.h>

struct jsonwalk {
	const char	*buf;		/* the caller's */
	size_t		 len;
	int		 version;	/* the "version" member must be this */
	/* Filled in by jsonwalk_scan: */
	size_t		 keys;		/* just past the entries' [ */
	size_t		 n;		/* how many entries */
	const char	*where;		/* "keys", "api_keys" or "" */
};

/* A position in the array of entries. */
struct jsonwalk_pos {
	size_t		 pos;
	size_t		 i;		/* entries read */
};

/*
 * Checks the file's syntax and finds its entries, calling check for
 * each (where, its index, the entry), which returns 0 or -1 with err
 * set.  -1 with err, holding line and column for a syntax error.
 */
int	jsonwalk_scan(struct jsonwalk *, int (*check)(const char *, size_t,
	    json_t *, char *, size_t), char *err, size_t errlen);
/* Puts p before the first entry jsonwalk_scan found. */
void	jsonwalk_start(const struct jsonwalk *, struct jsonwalk_pos *p);
/* The next entry: 1 and *v (the caller's to json_decref), 0 past the
 * last, -1 on a syntax error. */
int	jsonwalk_next(const struct jsonwalk *, struct jsonwalk_pos *,
	    json_t **v, char *err, size_t errlen);

#endif
