/*
 * test_sshkey: strict base64, the ssh-ed25519 blob and line, and the
 * identity of a key, checked against what ssh-keygen says of it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sshkey.h"

/* Made with: ssh-keygen -t ed25519 -C user@host; "ssh-keygen -l -E
 * sha256" shows SHA256:Nkhlq4KG7UueERPhbSAy0BRgr3OYCXTdWITsn8Kx1MU. */
#define LINE	"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIP5wdBPjvdbI1qZP36pNgge4" \
		"TsNn79OSv7yBGn15nebG user@host"
#define FPR	"Nkhlq4KG7UueERPhbSAy0BRgr3OYCXTdWITsn8Kx1MU="

static void
b64_is(const char *in, const char *want, size_t wantlen)
{
	uint8_t out[64];
	size_t n = 99;

	if (sshkey_b64decode(in, strlen(in), out, sizeof(out), &n) != 0)
		fail_msg("\"%s\" refused", in);
	assert_int_equal(n, wantlen);
	assert_memory_equal(out, want, wantlen);
}

static void
b64_bad(const char *in)
{
	uint8_t out[64];
	size_t n = 99;

	if (sshkey_b64decode(in, strlen(in), out, sizeof(out), &n) != -1)
		fail_msg("\"%s\" accepted", in);
	assert_int_equal(n, 0);
}

static void
test_base64(void **state)
{
	uint8_t out[2];
	size_t n;

	b64_is("dTpr", "u:k", 3);
	b64_is("dTprZQ==", "u:ke", 4);
	b64_is("dTprZXk=", "u:key", 5);
	b64_is("AAAA", "\0\0\0", 3);
	b64_bad("");
	b64_bad("dTprZQ");		/* no padding */
	b64_bad("dTprZQ=");
	b64_bad("dTp rZQ==");
	b64_bad(" dTprZQ==");
	b64_bad("dTprZQ==\n");
	b64_bad("dT-_");		/* the URL alphabet */
	b64_bad("dT=r");
	b64_bad("====");
	assert_int_equal(sshkey_b64decode("dTprZXk=", 8, out, sizeof(out),
	    &n), -1);
}

static void
test_line(void **state)
{
	uint8_t pub[SSHKEY_PUBLEN], blob[SSHKEY_BLOBLEN], id[SSHKEY_IDLEN];
	uint8_t fpr[64];
	const char *why = NULL;
	size_t n;

	assert_int_equal(sshkey_parse_line(LINE, pub, &why), 0);
	assert_int_equal(sshkey_parse_line("  " LINE "\n", pub, &why), 0);
	assert_int_equal(sshkey_parse_line(LINE " with more words", pub,
	    &why), 0);
	sshkey_id(pub, id);
	assert_int_equal(sshkey_b64decode(FPR, strlen(FPR), fpr, sizeof(fpr),
	    &n), 0);
	assert_int_equal(n, SSHKEY_IDLEN);
	assert_memory_equal(id, fpr, SSHKEY_IDLEN);
	/* The blob made again is the blob parsed. */
	sshkey_blob(pub, blob);
	assert_int_equal(blob[3], 11);
	assert_int_equal(sshkey_blob_parse(blob, sizeof(blob), pub), 0);
	assert_int_equal(sshkey_blob_parse(blob, sizeof(blob) - 1, pub), -1);
	blob[18] = 31;
	assert_int_equal(sshkey_blob_parse(blob, sizeof(blob), pub), -1);

	assert_int_equal(sshkey_parse_line("ssh-rsa AAAAB3NzaC1yc2EAAAADAQAB "
	    "x", pub, &why), -1);
	assert_string_equal(why, "not an ssh-ed25519 public key");
	/* An RSA blob under the ed25519 name. */
	assert_int_equal(sshkey_parse_line("ssh-ed25519 AAAAB3NzaC1yc2EAAAAD"
	    "AQAB", pub, &why), -1);
	assert_string_equal(why, "broken ssh-ed25519 key data");
	assert_int_equal(sshkey_parse_line("ssh-ed25519", pub, &why), -1);
	assert_int_equal(sshkey_parse_line("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5"
	    "AAAAIP5wdBPjvdbI1qZP36pNgge4TsNn79OSv7yBGn15neb", pub, &why), -1);
	assert_int_equal(sshkey_parse_line("", pub, &why), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
