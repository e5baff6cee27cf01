/*
 * keyedit: what a caller may set of a key, checked one way for every
 * door: POST /key/generate, the admin API's create and PATCH, and
 * ollaguard-keyctl add and set.  The policy fields are keypolicy's, so
 * a field added there is settable here too.
 */
#ifndef KEYEDIT_H
#define KEYEDIT_H

#include <stddef.h>
#include <stdint.h>

struct keyinfo;

/* keyedit_from_json modes. */
#define KEYEDIT_CREATE	0	/* null is "not given"; {} and "" are fine */
#define KEYEDIT_PATCH	1	/* null clears the name or the expiry */

/* What a bad name is told. */
#define KEYEDIT_NAME_RULE	"a name is 1 to 127 bytes of text without " \
				"control characters, and not all digits"

/*
 * An expiry from a duration ("30d", "12h") or "never" (0) counted from
 * now.  0, or -1 with *errstr (a reason) on a bad or too long value.
 */
int	keyedit_expires(const char *s, int64_t now, int64_t *at,
	    const char **errstr);
/*
 * Reads {"name", "expires_in", and the policy fields} of a JSON body
 * into ki (fields not present stay as they are).  -1 with a message in
 * why that names the field; the body may be empty in KEYEDIT_CREATE.
 */
int	keyedit_from_json(const char *body, size_t len, int mode,
	    int64_t now, struct keyinfo *ki, char *why, size_t whylen);

#endif
