/* Untrusted strings cannot carry control bytes into logs or the admin's terminal. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/escape.h"

static void test_printable_text_is_kept(void **state)
{
	char out[64];
	assert_int_equal(escape_untrusted("hw1.py (v2)", 11, out, sizeof(out)), 11);
	assert_string_equal(out, "hw1.py (v2)");
}

static void test_control_bytes_and_backslash_are_escaped(void **state)
{
	const char in[] = "a\nb\x1b[2Jc\\d\x7f\xc3\xa9";
	char out[128];
	escape_untrusted(in, sizeof(in) - 1, out, sizeof(out));
	assert_string_equal(out, "a\\x0ab\\x1b[2Jc\\\\d\\x7f\\xc3\\xa9");
	for (const char *p = out; *p; p++)
		assert_true(*p >= 0x20 && *p < 0x7f);
}

static void test_embedded_nul_is_escaped_not_truncating(void **state)
{
	char out[32];
	assert_int_equal(escape_untrusted("a\0b", 3, out, sizeof(out)), 3);
	assert_string_equal(out, "a\\x00b");
}

static void test_small_buffer_cuts_whole_escapes(void **state)
{
	char out[6];
	size_t used = escape_untrusted("ab\ncd", 5, out, sizeof(out));
	assert_string_equal(out, "ab");
	assert_int_equal(used, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_printable_text_is_kept),
		cmocka_unit_test(test_control_bytes_and_backslash_are_escaped),
		cmocka_unit_test(test_embedded_nul_is_escaped_not_truncating),
		cmocka_unit_test(test_small_buffer_cuts_whole_escapes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
