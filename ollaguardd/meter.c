/*
 * meter: reads the token counts from the end of a response body.
 *
 * Every form Ollama answers in puts its counts last: the final NDJSON
 * line of a stream, the trailing fields of a JSON object, the last SSE
 * chunk before "data: [DONE]".  So the body is never parsed whole: the
 * relayed bytes slide through a buffer of one to two METER_TAIL, which
 * costs one memcpy per chunk and one memmove per METER_TAIL bytes, and
 * only the last line or event is handed to jansson when the response
 * ends.  A non-streamed answer larger than the tail (a long "context"
 * array, many embeddings) has lost its head; its trailing fields are
 * then recovered by parsing from a top-level comma onwards (see
 * salvage()), and its model must come from the request.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "meter.h"

/* How many commas salvage() tries before it gives up. */
#define METER_SALVAGE_TRIES	16

void
meter_begin(struct meter *m, const char *content_encoding)
{
	const char *ce = content_encoding;
	size_t n;

	m->len = 0;
	m->total = 0;
	m->off = 0;
	if (ce == NULL)
		return;
	while (*ce == ' ' || *ce == '\t')
		ce++;
	n = strlen(ce);
	while (n > 0 && (ce[n - 1] == ' ' || ce[n - 1] == '\t'))
		n--;
	/* gzip, br, deflate: the tail is not text we could read. */
	if (n > 0 && !(n == 8 && strncasecmp(ce, "identity", 8) == 0))
		m->off = 1;
}

void
meter_feed(struct meter *m, const void *data, size_t len)
{
	const char *p = data;
	size_t keep;

	if (m->off || len == 0)
		return;
	m->total += len;
	if (len >= METER_TAIL) {
		memcpy(m->buf, p + len - METER_TAIL, METER_TAIL);
		m->len = METER_TAIL;
		return;
	}
	if (m->len + len > sizeof(m->buf)) {
		keep = METER_TAIL - len;
		memmove(m->buf, m->buf + m->len - keep, keep);
		m->len = keep;
	}
	memcpy(m->buf + m->len, p, len);
	m->len += len;
}

/* A non-negative integer member, or -1. */
static int64_t
count(json_t *o, const char *name)
{
	json_t *v = json_object_get(o, name);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	return json_integer_value(v);
}

/*
 * The counts of one object: OpenAI's "usage" (and the input/output
 * names of the Responses and Anthropic APIs), else Ollama's final
 * object.  An Ollama object that says "done": false is a line in the
 * middle of a stream, never the end of one; /api/embed has no "done".
 */
static int
extract(json_t *o, struct meter_result *r)
{
	json_t *u, *v;
	int64_t p, c, l = 0;

	if (!json_is_object(o))
		return 0;
	if (json_is_object(u = json_object_get(o, "usage"))) {
		if ((p = count(u, "prompt_tokens")) == -1)
			p = count(u, "input_tokens");
		if ((c = count(u, "completion_tokens")) == -1)
			c = count(u, "output_tokens");
		if (p == -1 && c == -1)
			return 0;
	} else {
		v = json_object_get(o, "done");
		p = count(o, "prompt_eval_count");
		c = count(o, "eval_count");
		if (json_is_false(v) || (!json_is_true(v) && p == -1 &&
		    c == -1))
			return 0;
		l = count(o, "load_duration");
	}
	r->prompt = p > 0 ? p : 0;
	r->completion = c > 0 ? c : 0;
	r->load_duration_ns = l > 0 ? l : 0;
	if (json_is_string(v = json_object_get(o, "model")))
		strlcpy(r->model, json_string_value(v), sizeof(r->model));
	r->found = 1;
	return 1;
}

/* 1: counts found; 0: JSON without counts; -1: not JSON. */
static int
parse(const char *s, size_t len, struct meter_result *r)
{
	json_t *o;
	int found;

	if ((o = json_loadb(s, len, 0, NULL)) == NULL)
		return -1;
	found = extract(o, r);
	json_decref(o);
	return found;
}

/* Where the line ending at end starts. */
static size_t
line_start(const char *buf, size_t end)
{
	const char *nl = memrchr(buf, '\n', end);

	return nl == NULL ? 0 : (size_t)(nl - buf) + 1;
}

/*
 * The last "data:" line that is not "[DONE]": OpenAI sends the usage
 * chunk last.  Only that one is examined, as for NDJSON; "event:",
 * "id:", comments and blank lines are passed over.
 */
static int
sse(char *buf, size_t end, struct meter_result *r)
{
	size_t ls, n;
	char *s;

	while (end > 0) {
		ls = line_start(buf, end);
		s = buf + ls;
		n = end - ls;
		end = ls > 0 ? ls - 1 : 0;
		if (n > 0 && s[n - 1] == '\r')
			n--;
		if (n < 5 || memcmp(s, "data:", 5) != 0)
			continue;
		s += 5;
		n -= 5;
		if (n > 0 && *s == ' ') {
			s++;
			n--;
		}
		if (n == 6 && memcmp(s, "[DONE]", 6) == 0)
			continue;
		return parse(s, n, r) == 1;
	}
	return 0;
}

/*
 * The head of an object longer than the tail is gone.  Its trailing
 * members still parse as an object when read from a comma between
 * members: that comma is overwritten with '{' for the try (and put
 * back).  A comma inside a nested value leaves unbalanced brackets and
 * fails, so the first try that parses starts at the top level.  A
 * string that itself holds ',"' could fool this; the worst it can do
 * is report counts that the upstream wrote into its own answer.
 */
static int
salvage(char *buf, size_t end, struct meter_result *r)
{
	size_t i, j;
	int tries = 0, found;

	for (i = 0; i < end && tries < METER_SALVAGE_TRIES; i++) {
		if (buf[i] != ',')
			continue;
		for (j = i + 1; j < end && isspace((unsigned char)buf[j]); j++)
			;
		if (j == end || buf[j] != '"')
			continue;
		tries++;
		buf[i] = '{';
		found = parse(buf + i, end - i, r);
		buf[i] = ',';
		if (found != -1)
			return found;
	}
	return 0;
}

int
meter_finish(struct meter *m, struct meter_result *r)
{
	size_t end = m->len, ls;
	int truncated = m->total > m->len, found;

	memset(r, 0, sizeof(*r));
	if (m->off)
		return 0;
	while (end > 0 && isspace((unsigned char)m->buf[end - 1]))
		end--;
	if (end == 0)
		return 0;
	ls = line_start(m->buf, end);
	if (end - ls >= 5 && memcmp(m->buf + ls, "data:", 5) == 0)
		return sse(m->buf, end, r);
	if ((found = parse(m->buf + ls, end - ls, r)) != -1)
		return found;
	/* A pretty-printed object, or one longer than the tail. */
	if (!truncated)
		return ls > 0 && parse(m->buf, end, r) == 1;
	return salvage(m->buf, end, r);
}
