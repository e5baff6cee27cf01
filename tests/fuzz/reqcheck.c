/*
 * reqcheck: the promises an accepted request head keeps, checked from
 * the RFCs' rules (RFC 9110 5.6.1 lists, RFC 9112 framing and
 * keep-alive) with references written here, not taken from request.c.
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "request.h"

#include "fuzz.h"
#include "reqcheck.h"

static int
name_is(const struct header *h, const char *name)
{
	return h->namelen == strlen(name) &&
	    strncasecmp(h->name, name, h->namelen) == 0;
}

static int
is_tchar(unsigned char c)
{
	return c != '\0' && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') || strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/*
 * The reference for request_list_has, from RFC 9110 5.6.1: token is,
 * ignoring case, one of the comma-separated elements of v with the
 * whitespace around it removed.
 */
static int
list_has_ref(const char *v, size_t vlen, const char *token)
{
	size_t	 i = 0, s, e, tlen = strlen(token);

	while (i <= vlen) {
		for (s = i; i < vlen && v[i] != ','; i++)
			;
		for (e = i; s < e && (v[s] == ' ' || v[s] == '\t'); s++)
			;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (tlen > 0 && e - s == tlen &&
		    strncasecmp(v + s, token, tlen) == 0)
			return 1;
		i++;
	}
	return 0;
}

/* request_connection_has, from list_has_ref. */
static int
connection_has_ref(const struct request *r, const char *token)
{
	int	 i;

	for (i = 0; i < r->nhdr; i++)
		if (name_is(&r->hdr[i], "connection") &&
		    list_has_ref(r->hdr[i].value, r->hdr[i].valuelen, token))
			return 1;
	return 0;
}

/* Checks request_list_has and request_connection_has against the
 * reference with the tokens the proxy asks about: header names, and
 * the elements of each value. */
static void
check_lists(const struct request *r)
{
	static const char *const fixed[] = { "close", "keep-alive",
	    "upgrade", "te", "x", "chunked" };
	const struct header	*h;
	char			 tok[64];
	size_t			 i, s, e;
	int			 j, k;

	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		FUZZ_CHECK(request_connection_has(r, fixed[i]) ==
		    connection_has_ref(r, fixed[i]));
	for (j = 0; j < r->nhdr; j++) {
		h = &r->hdr[j];
		if (h->namelen < sizeof(tok)) {
			memcpy(tok, h->name, h->namelen);
			tok[h->namelen] = '\0';
			FUZZ_CHECK(request_connection_has(r, tok) ==
			    connection_has_ref(r, tok));
		}
		/* Each element is found in its own value. */
		for (s = 0; s <= h->valuelen; s = e + 1) {
			for (e = s; e < h->valuelen && h->value[e] != ','; e++)
				;
			if (e - s == 0 || e - s >= sizeof(tok))
				continue;
			memcpy(tok, h->value + s, e - s);
			tok[e - s] = '\0';
			for (k = 0; k < r->nhdr; k++)
				FUZZ_CHECK(request_list_has(r->hdr[k].value,
				    r->hdr[k].valuelen, tok) ==
				    list_has_ref(r->hdr[k].value,
				    r->hdr[k].valuelen, tok));
		}
	}
}

/* Content-Length as the strict grammar has it: 1*DIGIT, and fits. */
static int
parse_cl(const char *v, size_t len, uint64_t *n)
{
	size_t	 i;

	*n = 0;
	if (len == 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9' ||
		    *n > (UINT64_MAX - (uint64_t)(v[i] - '0')) / 10)
			return -1;
		*n = *n * 10 + (uint64_t)(v[i] - '0');
	}
	return 0;
}

/*
 * Everything an accepted head promises.  buf[0, pos) is the head as it
 * sits in the client buffer.
 */
void
reqcheck_head(const struct request *r, const char *buf, size_t pos)
{
	static const char *const names[RH_COUNT] = {
		"host", "authorization", "connection", "content-length",
		"transfer-encoding", "expect", "origin",
		"access-control-request-method", "upgrade"
	};
	const struct header	*h;
	const char		*v;
	unsigned char		 c;
	uint64_t		 cl_value;
	size_t			 i, len;
	int			 j, k, n;

	FUZZ_CHECK(r->head_done && r->status == 0 && r->error == NULL);
	FUZZ_CHECK(r->head_bytes == pos && pos <= REQUEST_HEAD_MAX);
	FUZZ_CHECK(pos >= 4 && memcmp(buf + pos - 4, "\r\n\r\n", 4) == 0);

	/* Only CRLF line ends, no control byte but HTAB, no obs-fold. */
	for (i = 0; i < pos; i++) {
		c = (unsigned char)buf[i];
		if (c == '\r')
			FUZZ_CHECK(i + 1 < pos && buf[i + 1] == '\n');
		else if (c == '\n')
			FUZZ_CHECK(i > 0 && buf[i - 1] == '\r');
		else
			FUZZ_CHECK(c >= 0x20 ? c != 0x7f : c == '\t');
		if (i > 0 && buf[i - 1] == '\n')
			FUZZ_CHECK(c != ' ' && c != '\t');
	}

	/* The request line. */
	FUZZ_CHECK(r->method != NULL && r->method_id != HTTP_CONNECT);
	FUZZ_CHECK(strcmp(r->method, llhttp_method_name(r->method_id)) == 0);
	FUZZ_CHECK(r->target != NULL && r->target_len >= 1);
	FUZZ_CHECK(r->target_len <= REQUEST_TARGET_MAX);
	FUZZ_CHECK(r->target[0] == '/');
	for (i = 0; i < r->target_len; i++)
		FUZZ_CHECK((unsigned char)r->target[i] > ' ' &&
		    r->target[i] != 0x7f && r->target[i] != '#');
	FUZZ_CHECK(r->http_minor == 0 || r->http_minor == 1);

	/* The fields. */
	FUZZ_CHECK(r->nhdr >= 0 && r->nhdr <= REQUEST_FIELDS_MAX);
	for (j = 0; j < r->nhdr; j++) {
		h = &r->hdr[j];
		FUZZ_CHECK(h->name >= buf && h->name + h->namelen < buf + pos);
		FUZZ_CHECK(h->namelen >= 1 && h->name[h->namelen] == ':');
		for (i = 0; i < h->namelen; i++)
			FUZZ_CHECK(is_tchar((unsigned char)h->name[i]));
		FUZZ_CHECK(h->value != NULL);
		if (h->valuelen == 0)
			continue;
		FUZZ_CHECK(h->value >= buf &&
		    h->value + h->valuelen <= buf + pos);
		FUZZ_CHECK(h->value[0] != ' ' && h->value[0] != '\t');
		FUZZ_CHECK(h->value[h->valuelen - 1] != ' ' &&
		    h->value[h->valuelen - 1] != '\t');
		for (i = 0; i < h->valuelen; i++)
			FUZZ_CHECK(h->value[i] != '\r' && h->value[i] != '\n');
	}
	for (k = 0; k < RH_COUNT; k++) {
		for (n = 0, j = 0; j < r->nhdr; j++)
			n += name_is(&r->hdr[j], names[k]);
		v = request_header(r, (enum request_hdr)k, &len);
		if (r->idx[k] == -1) {
			FUZZ_CHECK(n == 0 && v == NULL && len == 0);
			continue;
		}
		FUZZ_CHECK(r->idx[k] >= 0 && r->idx[k] < r->nhdr);
		FUZZ_CHECK(name_is(&r->hdr[r->idx[k]], names[k]));
		FUZZ_CHECK(v == r->hdr[r->idx[k]].value &&
		    len == r->hdr[r->idx[k]].valuelen);
		if (k == RH_HOST || k == RH_AUTHORIZATION ||
		    k == RH_CONTENT_LENGTH || k == RH_TRANSFER_ENCODING)
			FUZZ_CHECK(n == 1);
	}
	if (r->http_minor == 1)
		FUZZ_CHECK(r->idx[RH_HOST] != -1);
	FUZZ_CHECK(r->idx[RH_UPGRADE] == -1);

	/* Framing: chunked alone, or one Content-Length, or no body. */
	if (r->chunked) {
		v = request_header(r, RH_TRANSFER_ENCODING, &len);
		FUZZ_CHECK(v != NULL && len == 7 &&
		    strncasecmp(v, "chunked", 7) == 0);
		FUZZ_CHECK(r->idx[RH_CONTENT_LENGTH] == -1);
		FUZZ_CHECK(r->http_minor == 1 && r->has_body);
	} else {
		FUZZ_CHECK(r->idx[RH_TRANSFER_ENCODING] == -1);
		if ((v = request_header(r, RH_CONTENT_LENGTH, &len)) != NULL) {
			FUZZ_CHECK(parse_cl(v, len, &cl_value) == 0);
			FUZZ_CHECK(r->content_length == cl_value);
			FUZZ_CHECK(r->has_body == (cl_value > 0));
		} else
			FUZZ_CHECK(!r->has_body && r->content_length == 0);
	}
	FUZZ_CHECK(r->body_done == !r->has_body);
	if (r->expect_continue) {
		v = request_header(r, RH_EXPECT, &len);
		FUZZ_CHECK(v != NULL && len == 12 && r->http_minor == 1);
	}
	if (connection_has_ref(r, "close"))
		FUZZ_CHECK(!r->keepalive);
	if (r->http_minor == 0 && !connection_has_ref(r, "keep-alive"))
		FUZZ_CHECK(!r->keepalive);
	check_lists(r);
}

void
reqcheck_refused(const struct request *r)
{
	FUZZ_CHECK(r->error != NULL && r->error[0] != '\0');
	FUZZ_CHECK(r->status == 400 || r->status == 405 ||
	    r->status == 414 || r->status == 417 || r->status == 431 ||
	    r->status == 505);
}

void
reqcheck_same(const struct request *a, const struct request *b)
{
	int	 i;

	FUZZ_CHECK(a->method_id == b->method_id);
	FUZZ_CHECK(a->http_minor == b->http_minor);
	FUZZ_CHECK(a->target_len == b->target_len &&
	    memcmp(a->target, b->target, a->target_len) == 0);
	FUZZ_CHECK(a->nhdr == b->nhdr);
	for (i = 0; i < a->nhdr; i++) {
		FUZZ_CHECK(a->hdr[i].namelen == b->hdr[i].namelen &&
		    memcmp(a->hdr[i].name, b->hdr[i].name,
		    a->hdr[i].namelen) == 0);
		FUZZ_CHECK(a->hdr[i].valuelen == b->hdr[i].valuelen &&
		    memcmp(a->hdr[i].value, b->hdr[i].value,
		    a->hdr[i].valuelen) == 0);
	}
	for (i = 0; i < RH_COUNT; i++)
		FUZZ_CHECK(a->idx[i] == b->idx[i]);
	FUZZ_CHECK(a->keepalive == b->keepalive);
	FUZZ_CHECK(a->has_body == b->has_body && a->chunked == b->chunked);
	FUZZ_CHECK(a->content_length == b->content_length);
	FUZZ_CHECK(a->expect_continue == b->expect_continue);
	FUZZ_CHECK(a->head_bytes == b->head_bytes);
}
