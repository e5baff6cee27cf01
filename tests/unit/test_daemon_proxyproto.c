/*
 * test_daemon_proxyproto: PROXY protocol v1 and v2 headers, trusted
 * networks, and the X-Forwarded-For walk that names the client.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cidr.h"
#include "proxyproto.h"
#include "request.h"

static struct proxyproto	 pp;

static int
v1(const char *s)
{
	return proxyproto_parse((const unsigned char *)s, strlen(s), &pp);
}

static void
test_v1(void **state)
{
	const char *ok = "PROXY TCP4 192.0.2.7 10.0.0.1 51000 4000\r\nGET";

	assert_int_equal(v1(ok), 42);
	assert_string_equal(pp.addr, "192.0.2.7");
	assert_int_equal(v1("PROXY TCP6 2001:db8::7 ::1 1 65535\r\n"), 36);
	assert_string_equal(pp.addr, "2001:db8::7");
	assert_int_equal(v1("PROXY TCP6 ::ffff:192.0.2.9 ::1 1 2\r\n"), 37);
	assert_string_equal(pp.addr, "192.0.2.9");
	assert_int_equal(v1("PROXY UNKNOWN\r\n"), 15);
	assert_string_equal(pp.addr, "");
	assert_int_equal(v1("PROXY UNKNOWN ffff::1 ::1 1 2\r\n"), 31);
	/* Every prefix of a good header asks for more. */
	for (size_t i = 0; i < 42; i++)
		assert_int_equal(proxyproto_parse((const unsigned char *)ok,
		    i, &pp), 0);
}

static void
test_v1_bad(void **state)
{
	static const char *const bad[] = {
		"GET / HTTP/1.1\r\n",
		"PROXY\r\n",
		"PROXY TCP4 192.0.2.7 10.0.0.1 51000 4000\n",
		"PROXY TCP4 192.0.2.7 10.0.0.1 51000 4000\r\r",
		"PROXY TCP4 192.0.2.7  10.0.0.1 51000 4000\r\n",
		"PROXY TCP4 192.0.2.7 10.0.0.1 51000 4000 5\r\n",
		"PROXY TCP4 192.0.2.7 10.0.0.1 051000 4000\r\n",
		"PROXY TCP4 192.0.2.7 10.0.0.1 65536 4000\r\n",
		"PROXY TCP4 192.0.2.7 10.0.0.1 -1 4000\r\n",
		"PROXY TCP4 2001:db8::1 10.0.0.1 1 2\r\n",
		"PROXY TCP6 192.0.2.7 ::1 1 2\r\n",
		"PROXY TCP4 192.0.2.007 10.0.0.1 1 2\r\n",
		"PROXY UDP4 192.0.2.7 10.0.0.1 1 2\r\n",
		"PROXY TCP4 192.0.2.7 10.0.0.1 1\r\n",
		"PROXY TCP4 192.0.2.7\t10.0.0.1 1 2\r\n",
		"proxy TCP4 192.0.2.7 10.0.0.1 1 2\r\n",
	};
	char longline[200];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(v1(bad[i]), -1);
	memset(longline, 'A', sizeof(longline) - 1);
	memcpy(longline, "PROXY UNKNOWN ", 14);
	longline[sizeof(longline) - 1] = '\0';
	assert_int_equal(v1(longline), -1);
}

static const unsigned char sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

static size_t
v2(unsigned char *b, int vercmd, int fam, size_t len)
{
	memcpy(b, sig, 12);
	b[12] = (unsigned char)vercmd;
	b[13] = (unsigned char)fam;
	b[14] = (unsigned char)(len >> 8);
	b[15] = (unsigned char)len;
	return 16 + len;
}

static void
test_v2(void **state)
{
	unsigned char b[256];
	size_t n, i;

	memset(b, 0, sizeof(b));
	n = v2(b, 0x21, 0x11, 12);
	memcpy(b + 16, "\xc0\x00\x02\x07\x0a\x00\x00\x01", 8);
	assert_int_equal(proxyproto_parse(b, n + 5, &pp), 28);
	assert_string_equal(pp.addr, "192.0.2.7");
	for (i = 0; i < n; i++)
		assert_int_equal(proxyproto_parse(b, i, &pp), 0);
	/* With TLVs after the addresses. */
	n = v2(b, 0x21, 0x11, 12 + 7);
	assert_int_equal(proxyproto_parse(b, n, &pp), 35);
	n = v2(b, 0x21, 0x21, 36);
	b[16] = 0x20; b[17] = 0x01; b[18] = 0x0d; b[19] = 0xb8;
	memset(b + 20, 0, 12);
	b[31] = 7;
	assert_int_equal(proxyproto_parse(b, n, &pp), 52);
	assert_string_equal(pp.addr, "2001:db8::7");
	/* LOCAL (a health check) and UNSPEC: the peer stands. */
	n = v2(b, 0x20, 0x00, 0);
	assert_int_equal(proxyproto_parse(b, n, &pp), 16);
	assert_string_equal(pp.addr, "");
	n = v2(b, 0x21, 0x31, 216);
	assert_int_equal(proxyproto_parse(b, n, &pp), 232);
	assert_string_equal(pp.addr, "");
}

static void
test_v2_bad(void **state)
{
	unsigned char b[64];
	size_t n;

	memset(b, 0, sizeof(b));
	n = v2(b, 0x11, 0x11, 12);	/* version 1 */
	assert_int_equal(proxyproto_parse(b, n, &pp), -1);
	n = v2(b, 0x22, 0x11, 12);	/* command 2 */
	assert_int_equal(proxyproto_parse(b, n, &pp), -1);
	n = v2(b, 0x21, 0x41, 12);	/* family 4 */
	assert_int_equal(proxyproto_parse(b, n, &pp), -1);
	n = v2(b, 0x21, 0x12, 12);	/* UDP */
	assert_int_equal(proxyproto_parse(b, n, &pp), -1);
	n = v2(b, 0x21, 0x11, 11);	/* too short for two v4 addresses */
	assert_int_equal(proxyproto_parse(b, n, &pp), -1);
	n = v2(b, 0x21, 0x21, 35);
	assert_int_equal(proxyproto_parse(b, n, &pp), -1);
	v2(b, 0x21, 0x11, PROXYPROTO_V2_TLV_MAX + 1);
	assert_int_equal(proxyproto_parse(b, 16, &pp), -1);
	b[3] = 'x';
	assert_int_equal(proxyproto_parse(b, 16, &pp), -1);
}

static void
test_cidr(void **state)
{
	struct cidr_list l;
	const char *why = NULL;

	assert_int_equal(cidr_parse_list("10.0.0.0/8, 192.168.1.1 "
	    "2001:db8::/32,::ffff:172.16.0.0/108", &l, &why), 0);
	assert_int_equal(l.n, 4);
	assert_true(cidr_match(&l, "10.255.0.1"));
	assert_true(cidr_match(&l, "::ffff:10.1.2.3"));
	assert_true(cidr_match(&l, "192.168.1.1"));
	assert_false(cidr_match(&l, "192.168.1.2"));
	assert_true(cidr_match(&l, "2001:db8:ffff::1"));
	assert_false(cidr_match(&l, "2001:db9::1"));
	assert_true(cidr_match(&l, "172.31.255.255"));
	assert_false(cidr_match(&l, "172.32.0.0"));
	assert_false(cidr_match(&l, "11.0.0.1"));
	assert_false(cidr_match(&l, "garbage"));
	assert_int_equal(cidr_parse_list("10.0.0.1/7", &l, &why), 0);
	assert_true(cidr_match(&l, "11.1.1.1"));
	assert_int_equal(cidr_parse_list("", &l, &why), 0);
	assert_false(cidr_match(&l, "10.0.0.1"));
	assert_int_equal(cidr_parse_list("10.0.0.0/33", &l, &why), -1);
	assert_int_equal(cidr_parse_list("10.0.0.0/", &l, &why), -1);
	assert_int_equal(cidr_parse_list("example.com", &l, &why), -1);
	assert_int_equal(cidr_parse_list("::/129", &l, &why), -1);
	assert_int_equal(cidr_parse_list("0.0.0.0/0", &l, &why), 0);
	assert_true(cidr_match(&l, "1.2.3.4"));
	assert_false(cidr_match(&l, "::1"));
}

static int
xff(const char *v1s, const char *v2s, char *out)
{
	struct header h[3];
	struct cidr_list l;
	const char *why;
	int n = 0;

	assert_int_equal(cidr_parse_list("10.0.0.0/8 ::1", &l, &why), 0);
	h[n].name = "Host";
	h[n].namelen = 4;
	h[n].value = "x";
	h[n++].valuelen = 1;
	h[n].name = "X-Forwarded-For";
	h[n].namelen = 15;
	h[n].value = v1s;
	h[n++].valuelen = strlen(v1s);
	if (v2s != NULL) {
		h[n].name = "x-forwarded-for";
		h[n].namelen = 15;
		h[n].value = v2s;
		h[n++].valuelen = strlen(v2s);
	}
	out[0] = '\0';
	return proxyproto_xff(h, n, &l, out, 64);
}

static void
test_xff(void **state)
{
	char out[64];

	assert_int_equal(xff("192.0.2.7", NULL, out), 1);
	assert_string_equal(out, "192.0.2.7");
	/* The forged left part is skipped: the last untrusted one wins. */
	assert_int_equal(xff("6.6.6.6, 192.0.2.7, 10.0.0.3", NULL, out), 1);
	assert_string_equal(out, "192.0.2.7");
	assert_int_equal(xff("6.6.6.6,192.0.2.7", "10.0.0.3 , 10.1.1.1", out),
	    1);
	assert_string_equal(out, "192.0.2.7");
	/* All trusted: the leftmost. */
	assert_int_equal(xff("10.0.0.9, 10.0.0.3", NULL, out), 1);
	assert_string_equal(out, "10.0.0.9");
	/* Garbage stops the walk at the last trusted hop. */
	assert_int_equal(xff("192.0.2.7, evil, 10.0.0.3", NULL, out), 1);
	assert_string_equal(out, "10.0.0.3");
	assert_int_equal(xff("evil", NULL, out), 0);
	assert_int_equal(xff("", NULL, out), 0);
	assert_int_equal(xff("192.0.2.7,", NULL, out), 0);
	/* Ports and brackets as some balancers write them. */
	assert_int_equal(xff("192.0.2.7:5000", NULL, out), 1);
	assert_string_equal(out, "192.0.2.7");
	assert_int_equal(xff("[2001:db8::7]:5000, ::1", NULL, out), 1);
	assert_string_equal(out, "2001:db8::7");
	assert_int_equal(xff("::ffff:192.0.2.8", NULL, out), 1);
	assert_string_equal(out, "192.0.2.8");
	assert_int_equal(xff("[2001:db8::7", NULL, out), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1),
		cmocka_unit_test(test_v1_bad),
		cmocka_unit_test(test_v2),
		cmocka_unit_test(test_v2_bad),
		cmocka_unit_test(test_cidr),
		cmocka_unit_test(test_xff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
