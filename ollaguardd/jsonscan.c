/*
 * jsonscan: a strict structural scanner for JSON.  It accepts what
 * jansson 2.14 accepts with flags 0 and JSON_DECODE_INT_AS_REAL, but for
 * exact duplicate keys in nested objects (Go's decoder lets the last win,
 * and no nested key names a model) and a NUL byte after a number (which
 * jansson skips and RFC 8259 refuses): one object or array at the root
 * and only whitespace after, nesting at most JSONSCAN_MAXDEPTH values deep,
 * strings of well-formed UTF-8 without control characters, escapes
 * jansson decodes (no \u0000, surrogates in pairs), the literals true,
 * false and null, and numbers by RFC 8259 whose value a double holds.
 * Nothing is decoded: the caller decodes the pieces it needs.
 */
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "jsonscan.h"

struct scan {
	const unsigned char	*p;
	size_t			 len;
	size_t			 pos;
	int			 depth;		/* containers open */
	unsigned char		 stack[JSONSCAN_MAXDEPTH];
};

#define ONES		0x0101010101010101ULL
#define HIGHS		0x8080808080808080ULL
/* Nonzero if some byte of w is zero: exact as a test of the word. */
#define HASZERO(w)	(((w) - ONES) & ~(w) & HIGHS)
#define ISDIGIT(c)	((c) >= '0' && (c) <= '9')

static int
peek(const struct scan *s)
{
	return s->pos < s->len ? s->p[s->pos] : -1;
}

static void
skip_ws(struct scan *s)
{
	unsigned char c;

	for (; s->pos < s->len; s->pos++) {
		c = s->p[s->pos];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
	}
}

/* 1 if only whitespace is left. */
static int
at_end(struct scan *s)
{
	skip_ws(s);
	return s->pos == s->len;
}

/*
 * Skips the bytes a string holds as they are (printable ASCII but '"'
 * and '\\'), a word at a time: a long base64 image goes by at memory
 * speed.  Subtracting 0x20 from each byte sets a byte's high bit for
 * those below 0x20 (the first such byte borrows from no other), and w's
 * own high bits are the bytes from 0x80 up.
 */
static void
skip_plain(struct scan *s)
{
	const unsigned char *p = s->p;
	size_t i = s->pos;
	uint64_t w;

	for (; s->len - i >= 8; i += 8) {
		memcpy(&w, p + i, sizeof(w));
		if ((((w - ONES * 0x20) | w) & HIGHS) != 0 ||
		    HASZERO(w ^ (ONES * '"')) != 0 ||
		    HASZERO(w ^ (ONES * '\\')) != 0)
			break;
	}
	while (i < s->len && p[i] >= 0x20 && p[i] < 0x80 && p[i] != '"' &&
	    p[i] != '\\')
		i++;
	s->pos = i;
}

/* The four hex digits at p (n bytes left) into *v, or -1. */
static int
hex4(const unsigned char *p, size_t n, unsigned int *v)
{
	size_t i;
	unsigned char c;

	if (n < 4)
		return -1;
	*v = 0;
	for (i = 0; i < 4; i++) {
		c = p[i];
		if (ISDIGIT(c))
			*v = *v << 4 | (c - '0');
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			*v = *v << 4 | ((c | 0x20) - 'a' + 10);
		else
			return -1;
	}
	return 0;
}

/*
 * The escape at the backslash under pos.  jansson refuses \u0000 (a NUL
 * in a key or in a value without JSON_ALLOW_NUL) and a surrogate that is
 * not the first of a pair followed by the second.
 */
static int
scan_escape(struct scan *s)
{
	const unsigned char *p = s->p + s->pos;
	size_t n = s->len - s->pos;
	unsigned int v, v2;

	if (n < 2)
		return -1;
	if (p[1] != 'u') {
		if (p[1] == '\0' || strchr("\"\\/bfnrt", p[1]) == NULL)
			return -1;
		s->pos += 2;
		return 0;
	}
	if (hex4(p + 2, n - 2, &v) == -1 || v == 0 ||
	    (v >= 0xdc00 && v <= 0xdfff))
		return -1;
	s->pos += 6;
	if (v >= 0xd800 && v <= 0xdbff) {
		if (n < 12 || p[6] != '\\' || p[7] != 'u' ||
		    hex4(p + 8, n - 8, &v2) == -1 || v2 < 0xdc00 || v2 > 0xdfff)
			return -1;
		s->pos += 6;
	}
	return 0;
}

/* The UTF-8 sequence under pos, refused as jansson's utf.c refuses it. */
static int
scan_utf8(struct scan *s)
{
	const unsigned char *p = s->p + s->pos;
	size_t n = s->len - s->pos, k, i;
	uint32_t v;

	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		k = 2;
		v = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		k = 3;
		v = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		k = 4;
		v = p[0] & 0x07;
	} else
		return -1;
	if (n < k)
		return -1;
	for (i = 1; i < k; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return -1;
		v = v << 6 | (p[i] & 0x3f);
	}
	if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff) ||
	    (k == 3 && v < 0x800) || (k == 4 && v < 0x10000))
		return -1;
	s->pos += k;
	return 0;
}

/* The string whose opening quote is under pos; *escaped if it has one. */
static int
scan_string(struct scan *s, int *escaped)
{
	int c;

	s->pos++;
	for (;;) {
		skip_plain(s);
		if ((c = peek(s)) == -1)
			return -1;
		if (c == '"') {
			s->pos++;
			return 0;
		}
		if (c == '\\') {
			if (escaped != NULL)
				*escaped = 1;
			if (scan_escape(s) == -1)
				return -1;
		} else if (c < 0x20 || scan_utf8(s) == -1)
			return -1;
	}
}

/*
 * jansson refuses a number a double cannot hold (strtod's ERANGE to
 * HUGE_VAL).  Its first significant digit's decimal exponent, mag,
 * settles that but for mag 308, near DBL_MAX, where jansson is asked.
 */
static int
number_fits(const unsigned char *p, size_t n, long long mag)
{
	json_error_t jerr;
	json_t *j;

	if (mag < 308)
		return 0;
	if (mag > 308)
		return -1;
	j = json_loadb((const char *)p, n, JSON_DECODE_ANY |
	    JSON_DECODE_INT_AS_REAL, &jerr);
	json_decref(j);
	return j == NULL ? -1 : 0;
}

static int
scan_number(struct scan *s)
{
	const unsigned char *p = s->p;
	size_t i = s->pos, n = s->len, start = s->pos;
	long long ints = 0, zeros = 0, e = 0, esign = 1;
	int nonzero = 0;

	if (i < n && p[i] == '-')
		i++;
	if (i < n && p[i] == '0')
		i++;
	else if (i < n && ISDIGIT(p[i])) {
		for (nonzero = 1; i < n && ISDIGIT(p[i]); i++)
			ints++;
	} else
		return -1;
	if (i < n && p[i] == '.') {
		if (++i == n || !ISDIGIT(p[i]))
			return -1;
		for (; i < n && ISDIGIT(p[i]); i++)
			if (!nonzero && !(nonzero = p[i] != '0'))
				zeros++;
	}
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		if (++i < n && (p[i] == '+' || p[i] == '-'))
			esign = p[i++] == '-' ? -1 : 1;
		if (i == n || !ISDIGIT(p[i]))
			return -1;
		for (; i < n && ISDIGIT(p[i]); i++)
			if (e < 1000000000)
				e = e * 10 + (p[i] - '0');
	}
	s->pos = i;
	if (!nonzero)
		return 0;
	return number_fits(p + start, i - start,
	    (ints > 0 ? ints - 1 : -zeros - 1) + esign * e);
}

static int
scan_literal(struct scan *s, const char *word, size_t n)
{
	if (s->len - s->pos < n || memcmp(s->p + s->pos, word, n) != 0)
		return -1;
	s->pos += n;
	return 0;
}

/*
 * A key, its colon and the whitespace up to its value; *end (if not
 * NULL) is where the key's closing quote ends.
 */
static int
scan_key(struct scan *s, int *escaped, size_t *end)
{
	if (peek(s) != '"' || scan_string(s, escaped) == -1)
		return -1;
	if (end != NULL)
		*end = s->pos;
	skip_ws(s);
	if (peek(s) != ':')
		return -1;
	s->pos++;
	skip_ws(s);
	return 0;
}

/*
 * The start of the value under pos: -1 if invalid, 0 if it is whole
 * (a scalar, an empty container), 1 if a container was opened and pos
 * is at its first value.  jansson counts every value's depth, the
 * root's being 1.
 */
static int
value_start(struct scan *s)
{
	int c, close;

	if (s->depth >= JSONSCAN_MAXDEPTH)
		return -1;
	switch (c = peek(s)) {
	case '{':
	case '[':
		close = c == '{' ? '}' : ']';
		s->stack[s->depth++] = c;
		s->pos++;
		skip_ws(s);
		if (peek(s) == close) {
			s->pos++;
			s->depth--;
			return 0;
		}
		if (c == '{' && scan_key(s, NULL, NULL) == -1)
			return -1;
		return 1;
	case '"':
		return scan_string(s, NULL);
	case 't':
		return scan_literal(s, "true", 4);
	case 'f':
		return scan_literal(s, "false", 5);
	case 'n':
		return scan_literal(s, "null", 4);
	default:
		return scan_number(s);
	}
}

/*
 * After a whole value: closes the containers that end here, down to
 * depth base.  -1 if invalid, 0 at base, 1 if pos is at the next value
 * of an open container.
 */
static int
value_end(struct scan *s, int base)
{
	int open;

	while (s->depth > base) {
		open = s->stack[s->depth - 1];
		skip_ws(s);
		if (peek(s) == ',') {
			s->pos++;
			skip_ws(s);
			if (open == '{' && scan_key(s, NULL, NULL) == -1)
				return -1;
			return 1;
		}
		if (peek(s) != (open == '{' ? '}' : ']'))
			return -1;
		s->pos++;
		s->depth--;
	}
	return 0;
}

/* The value under pos, nested values and all, without recursion. */
static int
scan_value(struct scan *s)
{
	int base = s->depth, r;

	for (;;) {
		if ((r = value_start(s)) == -1)
			return -1;
		if (r == 1)
			continue;
		if ((r = value_end(s, base)) != 1)
			return r;
	}
}

/* The member under pos, into m. */
static int
scan_member(struct scan *s, struct jsonscan_member *m)
{
	size_t end;

	memset(m, 0, sizeof(*m));
	m->key_off = s->pos;
	if (scan_key(s, &m->key_escaped, &end) == -1)
		return -1;
	m->key_len = end - m->key_off;
	m->val_off = s->pos;
	if (scan_value(s) == -1)
		return -1;
	m->val_len = s->pos - m->val_off;
	return 0;
}

int
jsonscan_object(const char *buf, size_t len,
    void (*member)(const struct jsonscan_member *, void *), void *arg)
{
	struct scan s;
	struct jsonscan_member m;

	s.p = (const unsigned char *)buf;
	s.len = len;
	s.pos = 0;
	s.depth = 0;
	skip_ws(&s);
	if (peek(&s) == '[')
		return scan_value(&s) == 0 && at_end(&s) ?
		    JSONSCAN_NOTOBJECT : JSONSCAN_INVALID;
	if (peek(&s) != '{')
		return JSONSCAN_INVALID;
	s.pos++;
	s.stack[s.depth++] = '{';
	skip_ws(&s);
	if (peek(&s) == '}') {
		s.pos++;
		return at_end(&s) ? 0 : JSONSCAN_INVALID;
	}
	for (;;) {
		if (scan_member(&s, &m) == -1)
			return JSONSCAN_INVALID;
		member(&m, arg);
		skip_ws(&s);
		if (peek(&s) == '}')
			break;
		if (peek(&s) != ',')
			return JSONSCAN_INVALID;
		s.pos++;
		skip_ws(&s);
	}
	s.pos++;
	return at_end(&s) ? 0 : JSONSCAN_INVALID;
}
