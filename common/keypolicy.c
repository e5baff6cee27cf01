/*
 * keypolicy: a key's policy as JSON, both ways, and its limits as typed
 * on a command line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "keypolicy.h"
#include "keystore.h"
#include "modelname.h"
#include "policyclass.h"

static json_t	*kp_allow(int);
static json_t	*kp_models(const char *);
static json_t	*kp_limit(uint32_t);
static int	 kp_read_allow(json_t *, int *, char *, size_t);
static int	 kp_read_models(json_t *, char *, size_t, char *, size_t);
static int	 kp_read_limit(json_t *, const char *, uint32_t *, char *,
		    size_t);
static int	 kp_quotas_to_json(json_t *, const struct keyinfo *);
static int	 kp_read_quota(json_t *, const char *, int64_t *, char *,
		    size_t);
static int	 kp_read_quotas(json_t *, struct keyinfo *, char *, size_t);
static int	 kp_read_num(json_t *, const char *, int64_t, int64_t *,
		    char *, size_t);

int
keypolicy_to_json(json_t *o, const struct keyinfo *ki)
{
	if (json_object_set_new(o, "allow", kp_allow(ki->allow)) == -1 ||
	    json_object_set_new(o, "models", kp_models(ki->models)) == -1 ||
	    json_object_set_new(o, "rpm", kp_limit(ki->rpm)) == -1 ||
	    json_object_set_new(o, "concurrency",
	    kp_limit(ki->concurrency)) == -1 ||
	    json_object_set_new(o, "kind",
	    json_string(keystore_kind_name(ki->kind))) == -1 ||
	    kp_quotas_to_json(o, ki) == -1)
		return -1;
	return 0;
}

static json_t *
kp_quota(int64_t n)
{
	return n <= 0 ? json_null() : json_integer(n);
}

static int
kp_quotas_to_json(json_t *o, const struct keyinfo *ki)
{
	if (json_object_set_new(o, "tokens_per_day",
	    kp_quota(ki->tokens_per_day)) == -1 ||
	    json_object_set_new(o, "tokens_per_month",
	    kp_quota(ki->tokens_per_month)) == -1 ||
	    json_object_set_new(o, "requests_per_day",
	    kp_quota(ki->requests_per_day)) == -1 ||
	    json_object_set_new(o, "trust_user_header",
	    json_boolean(ki->trust_user_header)) == -1 ||
	    json_object_set_new(o, "user_tokens_per_day",
	    kp_quota(ki->user_tokens_per_day)) == -1)
		return -1;
	return 0;
}

static json_t *
kp_allow(int mask)
{
	json_t	*a;
	int	 bit;

	if ((a = json_array()) == NULL)
		return NULL;
	for (bit = POLICY_READ; bit <= POLICY_MANAGE; bit <<= 1)
		if ((mask & bit) && json_array_append_new(a,
		    json_string(policy_class_name(bit))) == -1) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *
kp_models(const char *list)
{
	const char	*p, *e;
	json_t		*a;

	if (list[0] == '\0')
		return json_null();
	if ((a = json_array()) == NULL)
		return NULL;
	for (p = list; *p != '\0'; p = *e == ',' ? e + 1 : e) {
		e = p + strcspn(p, ",");
		if (json_array_append_new(a,
		    json_stringn(p, (size_t)(e - p))) == -1) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *
kp_limit(uint32_t n)
{
	return n == 0 ? json_null() : json_integer(n);
}

int
keypolicy_from_json(json_t *o, int withkind, struct keyinfo *ki, char *why,
    size_t whylen)
{
	json_t		*v;
	enum keykind	 kind;

	if ((v = json_object_get(o, "allow")) != NULL &&
	    kp_read_allow(v, &ki->allow, why, whylen) == -1)
		return -1;
	if ((v = json_object_get(o, "models")) != NULL &&
	    kp_read_models(v, ki->models, sizeof(ki->models), why,
	    whylen) == -1)
		return -1;
	if (kp_read_limit(o, "rpm", &ki->rpm, why, whylen) == -1 ||
	    kp_read_limit(o, "concurrency", &ki->concurrency, why,
	    whylen) == -1 || kp_read_quotas(o, ki, why, whylen) == -1)
		return -1;
	if (!withkind || (v = json_object_get(o, "kind")) == NULL)
		return 0;
	if (!json_is_string(v) ||
	    keystore_kind_parse(json_string_value(v), &kind) == -1) {
		snprintf(why, whylen, "\"kind\" is not \"secret\" or "
		    "\"ssh-ed25519\"");
		return -1;
	}
	ki->kind = kind;
	return 0;
}

static int
kp_read_allow(json_t *v, int *mask, char *why, size_t whylen)
{
	char	 err[96];
	size_t	 i;
	json_t	*s;
	int	 m = 0, bit;

	if (!json_is_array(v)) {
		snprintf(why, whylen, "\"allow\" is not an array of classes");
		return -1;
	}
	json_array_foreach(v, i, s) {
		if (!json_is_string(s) || json_string_value(s)[0] == '\0' ||
		    strchr(json_string_value(s), ',') != NULL ||
		    policy_allow_parse(json_string_value(s), &bit, err,
		    sizeof(err)) == -1) {
			snprintf(why, whylen, "\"allow\"[%zu] is not read, "
			    "infer or manage", i);
			return -1;
		}
		m |= bit;
	}
	*mask = m;
	return 0;
}

static int
kp_read_models(json_t *v, char *out, size_t outlen, char *why,
    size_t whylen)
{
	char	 list[MODELNAME_LIST_MAX], err[128];
	size_t	 i;
	json_t	*s;

	if (json_is_null(v)) {
		out[0] = '\0';
		return 0;
	}
	if (!json_is_array(v) || json_array_size(v) == 0) {
		snprintf(why, whylen, "\"models\" is not a non-empty array of "
		    "model globs (null for every model)");
		return -1;
	}
	list[0] = '\0';
	json_array_foreach(v, i, s) {
		if (!json_is_string(s) || json_string_value(s)[0] == '\0' ||
		    strchr(json_string_value(s), ',') != NULL) {
			snprintf(why, whylen, "\"models\"[%zu] is not a model "
			    "glob", i);
			return -1;
		}
		if (i > 0)
			strlcat(list, ",", sizeof(list));
		if (strlcat(list, json_string_value(s), sizeof(list)) >=
		    sizeof(list)) {
			snprintf(why, whylen, "\"models\" is too long");
			return -1;
		}
	}
	if (modelname_list_parse(list, out, outlen, err, sizeof(err)) == -1) {
		snprintf(why, whylen, "\"models\": %s", err);
		return -1;
	}
	return 0;
}

/* A number field in 0..max, null (or absent: unchanged) for none. */
static int
kp_read_quota(json_t *o, const char *field, int64_t *n, char *why,
    size_t whylen)
{
	return kp_read_num(o, field, KEYPOLICY_QUOTA_MAX, n, why, whylen);
}

static int
kp_read_num(json_t *o, const char *field, int64_t max, int64_t *n,
    char *why, size_t whylen)
{
	json_t		*v;
	json_int_t	 i;

	if ((v = json_object_get(o, field)) == NULL)
		return 0;
	if (json_is_null(v)) {
		*n = 0;
		return 0;
	}
	if (!json_is_integer(v) || (i = json_integer_value(v)) < 0 ||
	    i > max) {
		snprintf(why, whylen, "\"%s\" is not a number from 0 to %lld "
		    "(or null for none)", field, (long long)max);
		return -1;
	}
	*n = i;
	return 0;
}

static int
kp_read_limit(json_t *o, const char *field, uint32_t *n, char *why,
    size_t whylen)
{
	int64_t	 v = *n;

	if (kp_read_num(o, field, KEYPOLICY_LIMIT_MAX, &v, why, whylen) == -1)
		return -1;
	*n = (uint32_t)v;
	return 0;
}

static int
kp_read_quotas(json_t *o, struct keyinfo *ki, char *why, size_t whylen)
{
	json_t	*v;

	if (kp_read_quota(o, "tokens_per_day", &ki->tokens_per_day, why,
	    whylen) == -1 || kp_read_quota(o, "tokens_per_month",
	    &ki->tokens_per_month, why, whylen) == -1 ||
	    kp_read_quota(o, "requests_per_day", &ki->requests_per_day, why,
	    whylen) == -1 || kp_read_quota(o, "user_tokens_per_day",
	    &ki->user_tokens_per_day, why, whylen) == -1)
		return -1;
	if ((v = json_object_get(o, "trust_user_header")) == NULL)
		return 0;
	if (!json_is_boolean(v)) {
		snprintf(why, whylen, "\"trust_user_header\" is not true or "
		    "false");
		return -1;
	}
	ki->trust_user_header = json_is_true(v);
	return 0;
}

int
keypolicy_quota_parse(const char *s, int64_t *n)
{
	const char	*errstr;
	long long	 v;

	v = strtonum(s, 0, KEYPOLICY_QUOTA_MAX, &errstr);
	if (errstr != NULL)
		return -1;
	*n = v;
	return 0;
}

int
keypolicy_is_field(const char *name)
{
	static const char *const fields[] = {
		"allow", "models", "rpm", "concurrency"
	};
	size_t i;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (strcmp(name, fields[i]) == 0)
			return 1;
	return 0;
}

int
keypolicy_limit_parse(const char *s, uint32_t *n)
{
	const char	*errstr;
	long long	 v;

	v = strtonum(s, 0, KEYPOLICY_LIMIT_MAX, &errstr);
	if (errstr != NULL)
		return -1;
	*n = (uint32_t)v;
	return 0;
}
