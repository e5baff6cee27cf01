/*
 * fuzz_proxyproto: what a load balancer sends about the client, through
 * proxyproto_parse (the PROXY header, v1 and v2) and proxyproto_xff
 * (an X-Forwarded-For chain).
 *
 * The whole input is a PROXY header candidate, parsed whole and at every
 * prefix; the parser must agree with itself: a header found whole is
 * "need more" at every shorter prefix and the same length at every
 * longer one, a refused prefix stays refused, "need more" never comes
 * past the longest header, and a named client is a valid address.  The
 * input also serves as one or two X-Forwarded-For values (split at the
 * first NUL): the client found is a valid address, and an untrusted one
 * unless the whole chain is trusted.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#include "cidr.h"
#include "proxyproto.h"
#include "request.h"

#include "fuzz.h"

static struct cidr_list	 trusted;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *why;

	if (cidr_parse_list("10.0.0.0/8 192.168.0.0/16 ::1 fd00::/8",
	    &trusted, &why) == -1)
		abort();
	return 0;
}

static int
valid_addr(const char *s)
{
	unsigned char a[16];

	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

static void
check_parse(const uint8_t *data, size_t size)
{
	struct proxyproto pp;
	size_t i;
	int whole, r, refused = 0;

	whole = proxyproto_parse(data, size, &pp);
	FUZZ_CHECK(whole >= -1 && (size_t)(whole > 0 ? whole : 0) <= size);
	FUZZ_CHECK(whole != 0 || size < PROXYPROTO_MAX);
	if (whole > 0) {
		FUZZ_CHECK(pp.addr[0] == '\0' || valid_addr(pp.addr));
		FUZZ_CHECK(proxyproto_parse(data, (size_t)whole, &pp) ==
		    whole);
	}
	for (i = 0; i < size; i++) {
		r = proxyproto_parse(data, i, &pp);
		if (refused)
			FUZZ_CHECK(r == -1);
		refused = r == -1;
		if (whole > 0 && i < (size_t)whole)
			FUZZ_CHECK(r == 0);
		if (whole > 0 && i >= (size_t)whole)
			FUZZ_CHECK(r == whole);
		if (whole == 0)
			FUZZ_CHECK(r == 0);
	}
}

static void
check_xff(const uint8_t *data, size_t size)
{
	struct header h[2];
	char out[INET6_ADDRSTRLEN];
	const uint8_t *nul;
	int n = 0;

	nul = memchr(data, '\0', size);
	h[n].name = "X-Forwarded-For";
	h[n].namelen = 15;
	h[n].value = (const char *)data;
	h[n++].valuelen = nul != NULL ? (size_t)(nul - data) : size;
	if (nul != NULL) {
		h[n].name = "x-forwarded-for";
		h[n].namelen = 15;
		h[n].value = (const char *)nul + 1;
		h[n++].valuelen = size - (size_t)(nul - data) - 1;
	}
	out[0] = '\0';
	if (proxyproto_xff(h, n, &trusted, out, sizeof(out)) == 1)
		FUZZ_CHECK(valid_addr(out));
	else
		FUZZ_CHECK(out[0] == '\0');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 2 * PROXYPROTO_MAX)
		return 0;
	check_parse(data, size);
	check_xff(data, size);
	return 0;
}
