/*
 * jsonwalk: a key file's entries, walked one at a time over the bytes
 * of the file.  Only an entry at a time goes through jansson, and the
 * syntax around the entries (the root array or object, commas, the
 * closing brackets) is checked here, with errors reported by line and
 * column the way jansson reports its own.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "jsonwalk.h"

typedef int	(*jw_check)(const char *, size_t, json_t *, char *, size_t);

static size_t	 jw_skip_ws(const struct jsonwalk *, size_t);
static int	 jw_syntax_error(const struct jsonwalk *, size_t,
		    const char *, char *, size_t);
static int	 jw_expected(const struct jsonwalk *, size_t, const char *,
		    char *, size_t);
static int	 jw_parse_value(const struct jsonwalk *, size_t *, json_t **,
		    char *, size_t);
static int	 jw_walk_array(const struct jsonwalk *, size_t *,
		    const char *, size_t *, jw_check, char *, size_t);
static int	 jw_scan_member(struct jsonwalk *, size_t *, jw_check,
		    char *, size_t);

/* JSON's whitespace, which is not isspace()'s. */
static size_t
jw_skip_ws(const struct jsonwalk *jw, size_t pos)
{
	while (pos < jw->len && (jw->buf[pos] == ' ' ||
	    jw->buf[pos] == '\t' || jw->buf[pos] == '\n' ||
	    jw->buf[pos] == '\r'))
		pos++;
	return pos;
}

/*
 * Reports a syntax error at byte off as line and column, counted the
 * way jansson counts them: lines from 1, characters from 1, the column
 * being that of the last character read.
 */
static int
jw_syntax_error(const struct jsonwalk *jw, size_t off, const char *what,
    char *err, size_t errlen)
{
	size_t	i;
	int	line = 1, col = 0;

	for (i = 0; i < off && i < jw->len; i++) {
		if (jw->buf[i] == '\n') {
			line++;
			col = 0;
		} else if ((jw->buf[i] & 0xc0) != 0x80)
			col++;
	}
	snprintf(err, errlen, "line %d, column %d: %s", line, col, what);
	return -1;
}

/* A syntax error at the character at pos, jansson-style. */
static int
jw_expected(const struct jsonwalk *jw, size_t pos, const char *what, char *err,
    size_t errlen)
{
	char	msg[96];

	if (pos >= jw->len)
		snprintf(msg, sizeof(msg), "%s near end of file", what);
	else
		snprintf(msg, sizeof(msg), "%s near '%c'", what, jw->buf[pos]);
	return jw_syntax_error(jw, pos + 1, msg, err, errlen);
}

/* Parses the one JSON value at *pos and moves *pos past it. */
static int
jw_parse_value(const struct jsonwalk *jw, size_t *pos, json_t **v, char *err,
    size_t errlen)
{
	json_error_t	jerr;

	*v = json_loadb(jw->buf + *pos, jw->len - *pos,
	    JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK, &jerr);
	if (*v == NULL)
		return jw_syntax_error(jw, *pos + jerr.position, jerr.text, err,
		    errlen);
	*pos += jerr.position;
	return 0;
}

/* The entries' array: w->pos starts just past its '['. */
int
jsonwalk_next(const struct jsonwalk *jw, struct jsonwalk_pos *w, json_t **v,
    char *err, size_t errlen)
{
	w->pos = jw_skip_ws(jw, w->pos);
	if (w->pos < jw->len && jw->buf[w->pos] == ']') {
		w->pos++;
		return 0;
	}
	if (w->i > 0) {
		if (w->pos >= jw->len || jw->buf[w->pos] != ',')
			return jw_expected(jw, w->pos, "',' or ']' expected",
			    err, errlen);
		w->pos++;
	}
	if (jw_parse_value(jw, &w->pos, v, err, errlen) == -1)
		return -1;
	w->i++;
	return 1;
}

/* Checks every entry of the array at *pos and moves *pos past it. */
static int
jw_walk_array(const struct jsonwalk *jw, size_t *pos, const char *where,
    size_t *n, jw_check check, char *err, size_t errlen)
{
	struct jsonwalk_pos	 w;
	json_t			*v;
	int			 rc;

	w.pos = *pos + 1;
	w.i = 0;
	while ((rc = jsonwalk_next(jw, &w, &v, err, errlen)) == 1) {
		rc = check(where, w.i - 1, v, err, errlen);
		json_decref(v);
		if (rc == -1)
			return -1;
	}
	*pos = w.pos;
	*n = w.i;
	return rc;
}

/* One member of the root object; "keys" wins over "api_keys". */
static int
jw_scan_member(struct jsonwalk *jw, size_t *pos, jw_check check, char *err,
    size_t errlen)
{
	json_t		*v;
	const char	*name;
	size_t		 n;

	if (*pos >= jw->len || jw->buf[*pos] != '"')
		return jw_expected(jw, *pos, "string or '}' expected", err,
		    errlen);
	if (jw_parse_value(jw, pos, &v, err, errlen) == -1)
		return -1;
	if (strcmp(json_string_value(v), "keys") == 0)
		name = "keys";
	else if (strcmp(json_string_value(v), "api_keys") == 0)
		name = "api_keys";
	else if (strcmp(json_string_value(v), "version") == 0)
		name = "version";
	else if (strcmp(json_string_value(v), "usage") == 0)
		name = NULL;	/* keyctl import reads it on its own */
	else {
		name = NULL;
		if (jw->unknown[0] != '\0')
			strlcat(jw->unknown, ", ", sizeof(jw->unknown));
		strlcat(jw->unknown, json_string_value(v),
		    sizeof(jw->unknown));
	}
	json_decref(v);
	*pos = jw_skip_ws(jw, *pos);
	if (*pos >= jw->len || jw->buf[*pos] != ':')
		return jw_expected(jw, *pos, "':' expected", err, errlen);
	*pos = jw_skip_ws(jw, *pos + 1);

	if (name != NULL && strcmp(name, "version") != 0) {
		if (*pos >= jw->len || jw->buf[*pos] != '[') {
			snprintf(err, errlen, "\"%s\" is not an array", name);
			return -1;
		}
		if (jw->where == NULL || strcmp(jw->where, "keys") != 0 ||
		    strcmp(name, "keys") == 0) {
			jw->where = name;
			jw->keys = *pos + 1;
			return jw_walk_array(jw, pos, name, &jw->n, check, err,
			    errlen);
		}
		return jw_walk_array(jw, pos, name, &n, check, err, errlen);
	}
	/* Any other member is read and let go. */
	if (jw_parse_value(jw, pos, &v, err, errlen) == -1)
		return -1;
	if (name != NULL && (!json_is_integer(v) ||
	    json_integer_value(v) != jw->version)) {
		json_decref(v);
		snprintf(err, errlen, "unsupported \"version\" (this reads %d)",
		    jw->version);
		return -1;
	}
	json_decref(v);
	return 0;
}

/*
 * Finds the entries (the root array, or "keys"/"api_keys" of the root
 * object) and checks the file, walking it one entry at a time: a whole
 * export as one jansson tree would take over a kilobyte per key.
 */
int
jsonwalk_scan(struct jsonwalk *jw, jw_check check, char *err, size_t errlen)
{
	size_t	pos;

	pos = jw_skip_ws(jw, 0);
	if (pos < jw->len && jw->buf[pos] == '[') {
		jw->where = "";
		jw->keys = pos + 1;
		if (jw_walk_array(jw, &pos, jw->where, &jw->n, check, err,
		    errlen) == -1)
			return -1;
	} else if (pos < jw->len && jw->buf[pos] == '{') {
		pos = jw_skip_ws(jw, pos + 1);
		if (pos < jw->len && jw->buf[pos] == '}')
			pos++;
		else for (;;) {
			if (jw_scan_member(jw, &pos, check, err, errlen) == -1)
				return -1;
			pos = jw_skip_ws(jw, pos);
			if (pos < jw->len && jw->buf[pos] == ',') {
				pos = jw_skip_ws(jw, pos + 1);
				continue;
			}
			if (pos < jw->len && jw->buf[pos] == '}') {
				pos++;
				break;
			}
			return jw_expected(jw, pos, "',' or '}' expected", err,
			    errlen);
		}
	} else
		return jw_expected(jw, pos, "'[' or '{' expected", err, errlen);
	pos = jw_skip_ws(jw, pos);
	if (pos != jw->len)
		return jw_expected(jw, pos, "end of file expected", err,
		    errlen);
	if (jw->where == NULL) {
		snprintf(err, errlen, "no \"keys\" or \"api_keys\" array");
		return -1;
	}
	return 0;
}

void
jsonwalk_start(const struct jsonwalk *jw, struct jsonwalk_pos *p)
{
	p->pos = jw->keys;
	p->i = 0;
}
