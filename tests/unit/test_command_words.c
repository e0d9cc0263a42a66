/* SSH exec commands are split like a shell quotes them, and nothing is ever expanded. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "sshd-module/command_words.h"

static void expect_words(const char *command, const char *const *want)
{
	char **words = NULL;
	assert_int_equal(command_words_split(command, &words), 0);
	size_t i = 0;
	for (; want[i]; i++) {
		assert_non_null(words[i]);
		assert_string_equal(words[i], want[i]);
	}
	assert_null(words[i]);
	command_words_free(words);
}

static void test_plain_words(void **state)
{
	expect_words("run hw1.py 3 4", (const char *const[]){"run", "hw1.py", "3", "4", NULL});
	expect_words("  spaced\t out  ", (const char *const[]){"spaced", "out", NULL});
	expect_words("", (const char *const[]){NULL});
}

static void test_quotes_as_a_shell_would(void **state)
{
	expect_words("python3 -c 'print(\"hi\")'",
		     (const char *const[]){"python3", "-c", "print(\"hi\")", NULL});
	expect_words("python3 -c \"import sys; sys.exit(3)\"",
		     (const char *const[]){"python3", "-c", "import sys; sys.exit(3)", NULL});
	expect_words("a\\ b \"x\\\"y\" 'it'\\''s'",
		     (const char *const[]){"a b", "x\"y", "it's", NULL});
	expect_words("''", (const char *const[]){"", NULL});
}

/* Found by tests/fuzz/fuzz_command_words: a backslash-newline outside quotes was kept as a
 * newline inside the word; sh removes it ("a\<newline>b" is "ab"). */
static void test_line_continuation_is_removed(void **state)
{
	expect_words("a\\\nb \\\n c", (const char *const[]){"ab", "c", NULL});
	expect_words("\\\n", (const char *const[]){NULL});
	expect_words("\"x\\\ny\" 'p\\\nq'", (const char *const[]){"xy", "p\\\nq", NULL});
}

static void test_nothing_is_expanded(void **state)
{
	expect_words("echo $HOME `id` $(id) *.py ~",
		     (const char *const[]){"echo", "$HOME", "`id`", "$(id)", "*.py", "~", NULL});
	expect_words("a;b|c&&d", (const char *const[]){"a;b|c&&d", NULL});
}

static void test_broken_quoting_is_refused(void **state)
{
	char **words = NULL;
	assert_int_equal(command_words_split("python3 -c 'oops", &words), -EINVAL);
	assert_int_equal(command_words_split("say \"unfinished", &words), -EINVAL);
	assert_int_equal(command_words_split("trailing\\", &words), -EINVAL);
	assert_null(words);
}

static void test_too_many_words_are_refused(void **state)
{
	char command[COMMAND_MAX_WORDS * 2 + 8];
	size_t n = 0;
	for (size_t i = 0; i <= COMMAND_MAX_WORDS; i++) {
		command[n++] = 'x';
		command[n++] = ' ';
	}
	command[n] = '\0';
	char **words = NULL;
	assert_int_equal(command_words_split(command, &words), -E2BIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_words),
		cmocka_unit_test(test_quotes_as_a_shell_would),
		cmocka_unit_test(test_line_continuation_is_removed),
		cmocka_unit_test(test_nothing_is_expanded),
		cmocka_unit_test(test_broken_quoting_is_refused),
		cmocka_unit_test(test_too_many_words_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
