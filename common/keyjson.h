/*
 * keyjson: storage.json, the original tool's key file, in and out.
 * Import takes the original's forms (an array of key strings, an object
 * with "keys" or "api_keys", arrays of {"key", "name"}) and this
 * project's own export (hashes and metadata, never a secret).
 */
#ifndef KEYJSON_H
#define KEYJSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct keystore;
struct keyjson;

/* The longest key string import accepts. */
#define KEYJSON_KEY_MAX		1024

struct keyjson_counts {
	long	added;
	/* Already in the database, or twice in the file. */
	long	skipped;
	/* Added without its name: an active key had it, or it was not a
	 * valid name. */
	long	unnamed;
};

/* One transaction: on any error nothing is imported, and err holds a
 * message with line and column for malformed JSON. */
int	keyjson_import(struct keystore *, const char *buf, size_t len,
	    struct keyjson_counts *, char *err, size_t errlen);
/* Writes every key's hash and metadata as JSON to out. */
int	keyjson_export(struct keystore *, FILE *out, char *err,
	    size_t errlen);
/* The same, with extra root members after "keys" that extra writes
 * (each starting with a comma); it returns 0, or -1 with err set. */
int	keyjson_export_extra(struct keystore *, FILE *out,
	    int (*extra)(FILE *, void *, char *, size_t), void *arg,
	    char *err, size_t errlen);

/*
 * keyjson_import in two steps, so a caller can reject a bad file before
 * it opens (and so creates) the database.  keyjson_load parses and checks
 * every entry; keyjson_store writes them in one transaction.  Both read
 * buf, which must stay as it is until keyjson_free.
 */
struct keyjson	*keyjson_load(const char *buf, size_t len, char *err,
		    size_t errlen);
size_t		 keyjson_size(const struct keyjson *);
/* The classes keyjson_store gives keys the file gives no "allow"
 * (default-allow; infer,read unless set). */
void		 keyjson_set_allow(struct keyjson *, int allow);
int		 keyjson_store(struct keystore *, const struct keyjson *,
		    struct keyjson_counts *, char *err, size_t errlen);
void		 keyjson_free(struct keyjson *);

/* The shortest key import takes without --allow-short. */
#define KEYJSON_KEY_MIN		16
/* How many plaintext keys are shorter than minlen; *first is the index
 * of the first. */
size_t		 keyjson_short(const struct keyjson *, size_t minlen,
		    size_t *first);
/* The root object's members import does not read, comma separated, or
 * "" (a warning: the file may not be what the user thinks). */
const char	*keyjson_unknown(const struct keyjson *);

/* A timestamp as an ISO 8601 JSON string, or null for 0 ("never"). */
struct json_t;
struct json_t	*keyjson_time(int64_t t);

/* The forms of keyjson_key_object. */
#define KEYJSON_EXPORT	0	/* export: hash and metadata */
#define KEYJSON_LIST	1	/* list --json: id, metadata, state at now */

/* One key as a JSON object in form; NULL if its name or hint cannot be
 * written as JSON. */
struct keyinfo;
struct json_t	*keyjson_key_object(const struct keyinfo *, int form,
		    int64_t now);

#endif
