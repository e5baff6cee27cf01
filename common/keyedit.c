/*
 * keyedit: a key's settable fields from JSON or from a flag's text,
 * with the same rules and the same messages everywhere.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "keyedit.h"
#include "keyname.h"
#include "keypolicy.h"
#include "keystore.h"
#include "timefmt.h"

int
keyedit_expires(const char *s, int64_t now, int64_t *at,
    const char **errstr)
{
	int64_t secs;

	if (strcmp(s, "never") == 0) {
		*at = 0;
		return 0;
	}
	if (timefmt_duration(s, &secs, errstr) != 0)
		return -1;
	if (secs > INT64_MAX - now) {
		*errstr = "too far in the future";
		return -1;
	}
	*at = now + secs;
	return 0;
}

static int
ke_name(json_t *v, int mode, struct keyinfo *ki, char *why, size_t whylen)
{
	const char *s;

	if (json_is_null(v) || (mode == KEYEDIT_PATCH && json_is_string(v) &&
	    json_string_length(v) == 0)) {
		if (mode == KEYEDIT_PATCH)
			ki->name[0] = '\0';
		return 0;
	}
	if (!json_is_string(v) || json_string_length(v) >= sizeof(ki->name) ||
	    strlen(s = json_string_value(v)) != json_string_length(v) ||
	    !keyname_valid(s)) {
		snprintf(why, whylen, "\"name\": %s", KEYEDIT_NAME_RULE);
		return -1;
	}
	strlcpy(ki->name, s, sizeof(ki->name));
	return 0;
}

static int
ke_expires(json_t *v, int64_t now, struct keyinfo *ki, char *why,
    size_t whylen)
{
	const char *errstr;

	if (json_is_null(v)) {
		ki->expires_at = 0;
		return 0;
	}
	if (!json_is_string(v) || strcmp(json_string_value(v), "never") == 0) {
		snprintf(why, whylen, "\"expires_in\" must be a duration such "
		    "as \"30d\", \"12h\" or \"90m\" (or null for never)");
		return -1;
	}
	if (keyedit_expires(json_string_value(v), now, &ki->expires_at,
	    &errstr) == -1) {
		snprintf(why, whylen, "\"expires_in\": %s", errstr);
		return -1;
	}
	return 0;
}

static int
ke_fields(json_t *root, int mode, int64_t now, struct keyinfo *ki,
    char *why, size_t whylen)
{
	const char *key;
	json_t *v;

	json_object_foreach(root, key, v) {
		if (strcmp(key, "name") == 0) {
			if (ke_name(v, mode, ki, why, whylen) == -1)
				return -1;
		} else if (strcmp(key, "expires_in") == 0) {
			if (ke_expires(v, now, ki, why, whylen) == -1)
				return -1;
		} else if (!keypolicy_is_field(key)) {
			snprintf(why, whylen, "\"%.64s\": unknown or read-only "
			    "field (expected \"name\", \"expires_in\", %s)",
			    key, KEYPOLICY_FIELDS);
			return -1;
		}
	}
	return keypolicy_from_json(root, 0, ki, why, whylen);
}

int
keyedit_from_json(const char *body, size_t len, int mode, int64_t now,
    struct keyinfo *ki, char *why, size_t whylen)
{
	json_error_t jerr;
	json_t *root;
	size_t i;
	int rc;

	for (i = 0; i < len && strchr(" \t\r\n", body[i]) != NULL; i++)
		;
	if (i == len && mode == KEYEDIT_CREATE)
		return 0;
	if ((root = json_loadb(body, len, 0, &jerr)) == NULL) {
		snprintf(why, whylen, "the body is not JSON: %s (line %d, "
		    "column %d)", jerr.text, jerr.line, jerr.column);
		return -1;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		snprintf(why, whylen, "the body must be a JSON object");
		return -1;
	}
	rc = ke_fields(root, mode, now, ki, why, whylen);
	json_decref(root);
	return rc;
}
