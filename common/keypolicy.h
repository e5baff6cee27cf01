/*
 * keypolicy: a key's policy (allow, models, rpm, concurrency, kind) in
 * JSON, one way for every place that shows or takes it: export and
 * import, keyctl's --json, and POST /key/generate.  "allow" and
 * "models" are arrays of strings, "models" null for every model;
 * "rpm" and "concurrency" numbers, or null for no limit; the quotas
 * "tokens_per_day", "tokens_per_month", "requests_per_day" and
 * "user_tokens_per_day" likewise, and "trust_user_header" a boolean.
 */
#ifndef KEYPOLICY_H
#define KEYPOLICY_H

#include <stddef.h>
#include <stdint.h>

struct json_t;
struct keyinfo;

/* The largest rpm or concurrency a key may have. */
#define KEYPOLICY_LIMIT_MAX	1000000
/* The largest quota (tokens or requests a day or month). */
#define KEYPOLICY_QUOTA_MAX	1000000000000000LL

/* Sets the policy fields of ki in the object o.  -1 on failure. */
int	keypolicy_to_json(struct json_t *o, const struct keyinfo *ki);
/*
 * Reads the fields of o that are present into ki, leaving the others as
 * they are.  kind is read only with withkind.  -1 with a message naming
 * the field in why.
 */
int	keypolicy_from_json(struct json_t *o, int withkind,
	    struct keyinfo *ki, char *why, size_t whylen);
/* The fields keypolicy_from_json reads (kind aside), for messages. */
#define KEYPOLICY_FIELDS	"\"allow\", \"models\", \"rpm\", " \
				"\"concurrency\""
/* 1 if name is one of those fields. */
int	keypolicy_is_field(const char *name);
/* A limit from the command line: "0" is none.  -1 if not a number in
 * 0..KEYPOLICY_LIMIT_MAX. */
int	keypolicy_limit_parse(const char *s, uint32_t *n);
/* A quota from the command line: "0" is none.  -1 if not a number in
 * 0..KEYPOLICY_QUOTA_MAX. */
int	keypolicy_quota_parse(const char *s, int64_t *n);

#endif
