/*
 * test_keyname: which names a key may have, and which text may be
 * stored beside one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "keystore.h"
#include "keyname.h"

static void
test_valid(void **state)
{
	char	long_name[KEYSTORE_NAME_MAX + 1];

	assert_true(keyname_valid("alice"));
	assert_true(keyname_valid("ci runner 2"));
	assert_true(keyname_valid("Zoë"));
	assert_false(keyname_valid(""));
	assert_false(keyname_valid("42"));
	assert_false(keyname_valid("tab\there"));
	assert_false(keyname_valid("bad\xff"));
	assert_false(keyname_valid("\xc0\xaf"));	/* overlong "/" */
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_false(keyname_valid(long_name));
	long_name[KEYSTORE_NAME_MAX - 1] = '\0';
	assert_true(keyname_valid(long_name));
}

static void
test_text_valid(void **state)
{
	assert_true(keyname_text_valid(""));
	assert_true(keyname_text_valid("sk-…abcd"));
	assert_true(keyname_text_valid("12345"));
	assert_false(keyname_text_valid("esc\x1b[2J"));
	assert_false(keyname_text_valid("del\x7f"));
	assert_false(keyname_text_valid("\xed\xa0\x80"));	/* surrogate */
	assert_false(keyname_text_valid("\xf4\x90\x80\x80"));	/* > U+10FFFF */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_text_valid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
