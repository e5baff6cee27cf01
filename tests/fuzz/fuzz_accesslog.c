/*
 * fuzz_accesslog: what a client sent, through the access log line.
 *
 * An input is three control bytes and then four fields separated by
 * NUL bytes: the client address, the method, the key's name and the
 * request target (the target may hold NULs itself).  Control byte 0:
 * bit 0 picks JSON, bits 1-2 the key ("" with an id and the name,
 * "master", "open" or "-"), bits 3-5 the fail word; byte 1 the status,
 * byte 2 the HTTP minor version.
 *
 * A combined line must parse back with a strict regex of the format
 * (no raw '"' or space inside a field, one line) into exactly the
 * fields given, once each \xHH is undone: the target without its query
 * and without the userinfo of an absolute-form target.  A JSON line
 * must be one valid JSON object whose strings give back the same
 * fields.  A secret after "user:" in an absolute-form target, or after
 * '?', never appears in either.
 */
#include <jansson.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "accesslog.h"

#include "fuzz.h"

#define FIELD_MAX	16384

static regex_t		 combined;
static const char	*fails[] = { "-", "auth", "bad-request", "client-gone",
			    "upstream-bad", "upstream-timeout", "client-slow",
			    "upstream-refused" };

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (regcomp(&combined, "^([^ \"]+) - ([^ \"]+) \\[([^]\"]+)\\] "
	    "\"([^ \"]+) ([^ \"]+) HTTP/1\\.([0-9]+)\" ([0-9]+) ([0-9]+) "
	    "in=([0-9]+) time=([0-9.]+) ttfb=([0-9.]+|-) "
	    "fail=([a-z-]+) model=[^ \"]+ prompt=([0-9]+|-) "
	    "completion=([0-9]+|-) load=([0-9.]+|-)"
	    "( upstream=[^ \"]+ retries=[0-9]+)?\n$", REG_EXTENDED) != 0)
		abort();
	return 0;
}

/* Undoes \xHH; -1 on any other backslash, or a byte that should have
 * been escaped. */
static int
unescape(const char *s, size_t len, char *out, size_t *outlen)
{
	size_t i, n = 0;
	unsigned int c;

	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f ||
		    s[i] == '"')
			return -1;
		if (s[i] != '\\') {
			out[n++] = s[i];
			continue;
		}
		if (i + 3 >= len + 0 || s[i + 1] != 'x' ||
		    sscanf(s + i + 2, "%2X", &c) != 1)
			return -1;
		out[n++] = (char)c;
		i += 3;
	}
	*outlen = n;
	return 0;
}

/* The target a line must show: no userinfo, no query, at most
 * ACCESSLOG_PATH_MAX bytes of what follows the userinfo. */
static size_t
expected_target(const char *t, size_t len, char *out)
{
	const char *at = NULL, *p, *sep, *q;
	size_t n = 0, rest;

	if (len > 0 && t[0] != '/')
		for (p = t; p < t + len; p++)
			if (*p == '@')
				at = p;
	if (at != NULL) {
		sep = memmem(t, (size_t)(at - t), "://", 3);
		if (sep != NULL && sep - t <= 16) {
			n = (size_t)(sep + 3 - t);
			memcpy(out, t, n);
		}
		len -= (size_t)(at + 1 - t);
		t = at + 1;
	}
	if ((q = memchr(t, '?', len)) != NULL)
		len = (size_t)(q - t);
	rest = len < ACCESSLOG_PATH_MAX ? len : ACCESSLOG_PATH_MAX;
	memcpy(out + n, t, rest);
	return n + rest;
}

/* Does field [so, eo) of line give back want[0, wantlen)? */
static int
field_is(const char *line, regmatch_t *m, const char *want, size_t wantlen)
{
	static char got[FIELD_MAX];
	size_t n;

	if (unescape(line + m->rm_so, (size_t)(m->rm_eo - m->rm_so), got,
	    &n) == -1)
		return 0;
	if (wantlen == 0)
		return n == 1 && got[0] == '-';
	return n == wantlen && memcmp(got, want, n) == 0;
}

static void
check_combined(const char *line, size_t len, const struct access_entry *e,
    const char *path, size_t pathlen)
{
	regmatch_t m[13];
	char key[300], name[129];
	size_t i;

	FUZZ_CHECK(strlen(line) == len);
	FUZZ_CHECK(regexec(&combined, line, 13, m, 0) == 0);
	FUZZ_CHECK(field_is(line, &m[1], e->client, strlen(e->client)));
	FUZZ_CHECK(field_is(line, &m[4], e->method, strlen(e->method)));
	FUZZ_CHECK(field_is(line, &m[5], path, pathlen));
	FUZZ_CHECK(atoi(line + m[6].rm_so) == e->http_minor);
	FUZZ_CHECK(atoi(line + m[7].rm_so) == e->status);
	if (e->key != NULL)
		strlcpy(key, e->key, sizeof(key));
	else if (e->key_name[0] != '\0') {
		strlcpy(name, e->key_name, sizeof(name));
		for (i = 0; name[i] != '\0'; i++)
			if (name[i] == ' ' || name[i] == '"')
				name[i] = '_';
		snprintf(key, sizeof(key), "%lld/%s", (long long)e->key_id,
		    name);
	} else
		snprintf(key, sizeof(key), "%lld", (long long)e->key_id);
	FUZZ_CHECK(field_is(line, &m[2], key, strlen(key)));
}

/* A JSON string as the bytes it was made from (\u00XX is one byte). */
static int
json_is(json_t *o, const char *k, const char *want, size_t wantlen)
{
	static char got[FIELD_MAX];
	json_t *v = json_object_get(o, k);
	const unsigned char *s;
	size_t i, n = 0, len;

	if (!json_is_string(v))
		return 0;
	s = (const unsigned char *)json_string_value(v);
	len = json_string_length(v);
	for (i = 0; i < len; i++) {
		if (s[i] < 0x80)
			got[n++] = (char)s[i];
		else if ((s[i] == 0xc2 || s[i] == 0xc3) && i + 1 < len) {
			got[n++] = (char)(((s[i] & 0x3) << 6) | (s[i + 1] & 0x3f));
			i++;
		} else
			return 0;
	}
	return n == wantlen && memcmp(got, want, n) == 0;
}

static void
check_json(const char *line, size_t len, const struct access_entry *e,
    const char *path, size_t pathlen)
{
	json_error_t err;
	json_t *o;

	FUZZ_CHECK(len > 0 && line[len - 1] == '\n' &&
	    memchr(line, '\n', len - 1) == NULL);
	o = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
	    &err);
	FUZZ_CHECK(o != NULL && json_is_object(o));
	FUZZ_CHECK(json_is(o, "client", e->client, strlen(e->client)));
	FUZZ_CHECK(json_is(o, "method", e->method, strlen(e->method)));
	FUZZ_CHECK(json_is(o, "path", path, pathlen));
	FUZZ_CHECK(json_integer_value(json_object_get(o, "status")) ==
	    e->status);
	if (e->key != NULL)
		FUZZ_CHECK(json_is(o, "key", e->key, strlen(e->key)));
	else if (e->key_name[0] != '\0')
		FUZZ_CHECK(json_is(o, "key_name", e->key_name,
		    strnlen(e->key_name, 128)));
	else
		FUZZ_CHECK(json_is_null(json_object_get(o, "key_name")));
	json_decref(o);
}

/* The next NUL-ended field of [*p, end), or what is left. */
static char *
next_field(const uint8_t **p, const uint8_t *end, size_t *len)
{
	const uint8_t *nul = memchr(*p, '\0', (size_t)(end - *p));
	size_t n = nul != NULL ? (size_t)(nul - *p) : (size_t)(end - *p);
	char *s = malloc(n + 1);

	if (s == NULL)
		abort();
	memcpy(s, *p, n);
	s[n] = '\0';
	*p += nul != NULL ? n + 1 : n;
	*len = n;
	return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *keys[] = { NULL, "master", "open", "-" };
	static char line[ACCESSLOG_LINE_MAX], path[FIELD_MAX];
	struct access_entry e;
	struct timespec ts = { 1700000000, 123456789 };
	const uint8_t *p = data + 3, *end = data + size;
	char *client, *method, *name;
	size_t len, n, pathlen;
	int as_json;

	if (size < 3 || size > FIELD_MAX)
		return 0;
	memset(&e, 0, sizeof(e));
	as_json = data[0] & 1;
	e.key = keys[(data[0] >> 1) & 3];
	e.key_id = (int64_t)data[1] * 1000003;
	e.fail = fails[(data[0] >> 3) & 7];
	e.status = data[1] * 3;
	e.http_minor = data[2];
	e.bytes_in = data[1];
	e.bytes_out = (uint64_t)data[2] << 40;
	e.duration_us = data[1] * 1000;
	e.ttfb_us = data[2] & 1 ? -1 : data[2];
	/* The daemon makes these two: an address, a method name. */
	e.client = client = next_field(&p, end, &n);
	client[n > 45 ? 45 : n] = '\0';
	e.method = method = next_field(&p, end, &n);
	method[n > 31 ? 31 : n] = '\0';
	e.key_name = name = next_field(&p, end, &n);
	e.target = (const char *)p;
	e.target_len = (size_t)(end - p);
	pathlen = expected_target(e.target, e.target_len, path);

	len = accesslog_format(line, sizeof(line), &e, as_json, &ts);
	FUZZ_CHECK(len > 0 && len < sizeof(line));
	line[len] = '\0';
	if (as_json)
		check_json(line, len, &e, path, pathlen);
	else
		check_combined(line, len, &e, path, pathlen);
	free(client);
	free(method);
	free(name);
	return 0;
}
