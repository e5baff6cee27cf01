/*
 * test_keyedit: the admin ranges of admin-allow (cidr) and the fields a
 * caller may set of a key (keyedit), as /key/generate, the admin API
 * and keyctl read them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cidr.h"
#include "config.h"
#include "keyedit.h"
#include "keystore.h"

static void
test_cidr(void **state)
{
	struct cidr_list l;
	const char *why;

	assert_int_equal(cidr_parse_list(CONFIG_ADMIN_ALLOW, &l, &why), 0);
	assert_true(cidr_match(&l, "127.0.0.1"));
	assert_true(cidr_match(&l, "::1"));
	assert_true(cidr_match(&l, "::ffff:10.1.2.3"));
	assert_true(cidr_match(&l, "172.31.255.255"));
	assert_false(cidr_match(&l, "172.32.0.1"));
	assert_true(cidr_match(&l, "192.168.7.7"));
	assert_true(cidr_match(&l, "fd12::1"));
	assert_false(cidr_match(&l, "fe80::1"));
	assert_false(cidr_match(&l, "8.8.8.8"));
	assert_false(cidr_match(&l, "2001:db8::1"));
	assert_false(cidr_match(&l, "garbage"));
	assert_int_equal(cidr_parse_list("", &l, &why), 0);
	assert_false(cidr_match(&l, "127.0.0.1"));
	assert_int_equal(cidr_parse_list("0.0.0.0/0 ::/0", &l, &why), 0);
	assert_true(cidr_match(&l, "8.8.8.8"));
	assert_true(cidr_match(&l, "2001:db8::1"));
	assert_int_equal(cidr_parse_list("10.0.0.0/33", &l, &why), -1);
	assert_int_equal(cidr_parse_list("::/129", &l, &why), -1);
	assert_int_equal(cidr_parse_list("example.com", &l, &why), -1);
	assert_int_equal(cidr_parse_list("10.0.0.0/x", &l, &why), -1);
}

static int
edit(const char *body, int mode, struct keyinfo *ki, char *why)
{
	return keyedit_from_json(body, strlen(body), mode, 1000, ki, why,
	    256);
}

static void
test_keyedit(void **state)
{
	struct keyinfo ki;
	char why[256];

	memset(&ki, 0, sizeof(ki));
	assert_int_equal(edit("", KEYEDIT_CREATE, &ki, why), 0);
	assert_int_equal(edit("", KEYEDIT_PATCH, &ki, why), -1);
	assert_int_equal(edit("{\"name\": \"a\", \"expires_in\": \"1h\", "
	    "\"rpm\": 5, \"models\": [\"llama3\"]}", KEYEDIT_CREATE, &ki,
	    why), 0);
	assert_string_equal(ki.name, "a");
	assert_int_equal(ki.expires_at, 1000 + 3600);
	assert_int_equal(ki.rpm, 5);
	assert_string_equal(ki.models, "llama3:latest");
	assert_int_equal(edit("{\"name\": null, \"expires_in\": null, "
	    "\"rpm\": null, \"models\": null}", KEYEDIT_PATCH, &ki, why), 0);
	assert_string_equal(ki.name, "");
	assert_int_equal(ki.expires_at, 0);
	assert_int_equal(ki.rpm, 0);
	assert_string_equal(ki.models, "");
	assert_int_equal(edit("{\"name\": \"12\"}", KEYEDIT_PATCH, &ki, why),
	    -1);
	assert_non_null(strstr(why, "\"name\""));
	assert_int_equal(edit("{\"hint\": \"x\"}", KEYEDIT_PATCH, &ki, why),
	    -1);
	assert_non_null(strstr(why, "\"hint\""));
	assert_int_equal(edit("{\"expires_in\": \"never\"}", KEYEDIT_PATCH,
	    &ki, why), -1);
	assert_non_null(strstr(why, "expires_in"));
	assert_int_equal(edit("[1]", KEYEDIT_CREATE, &ki, why), -1);
	assert_int_equal(edit("{\"rpm\": 1e3}", KEYEDIT_CREATE, &ki, why),
	    -1);
	assert_non_null(strstr(why, "rpm"));
}

static void
test_expires(void **state)
{
	const char *errstr;
	int64_t at = 5;

	assert_int_equal(keyedit_expires("never", 100, &at, &errstr), 0);
	assert_int_equal(at, 0);
	assert_int_equal(keyedit_expires("2d", 100, &at, &errstr), 0);
	assert_int_equal(at, 100 + 2 * 86400);
	assert_int_equal(keyedit_expires("soon", 100, &at, &errstr), -1);
	assert_int_equal(keyedit_expires("1d", INT64_MAX - 10, &at, &errstr),
	    -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cidr),
		cmocka_unit_test(test_keyedit),
		cmocka_unit_test(test_expires),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
