/* The monitor's request decoders and the input bounds: well-formed requests decode, malformed
 * ones end the connection (-EBADMSG), oversized fields are refused plainly, and nothing is read
 * past a message's end. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sshd-module/input_limits.h"
#include "sshd-module/monitor_decode.h"
#include "sshd-module/wire.h"

static struct wire_msg msg;

/* Turns what was written into something to read, as wire_recv would. */
static struct wire_msg *rewind_msg(void)
{
	msg.pos = 0;
	return &msg;
}

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);
	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static void test_user_names(void **state)
{
	static const char *const good[] = {"alice",	      "a",     "first.last", "x_y-z",
					   "bob@EXAMPLE.ORG", "host$", "Alice99"};
	static const char *const bad[] = {"",	     "-rf",	    ".hidden",	 "al ice",
					  "a/b",     "a:b",	    "tab\there", "nl\n",
					  "\x1b[2J", "caf\xc3\xa9", "$",	 "a$b"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(input_user_name_valid(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(input_user_name_valid(bad[i]));
	char *at_max = repeat('u', INPUT_USER_MAX), *over = repeat('u', INPUT_USER_MAX + 1);
	assert_true(input_user_name_valid(at_max));
	assert_false(input_user_name_valid(over));
	assert_false(input_user_name_valid(NULL));
	free(at_max);
	free(over);
}

static void test_terms_and_text(void **state)
{
	assert_true(input_term_valid("xterm-256color"));
	assert_true(input_term_valid("screen.xterm+x"));
	assert_false(input_term_valid(""));
	assert_false(input_term_valid("xterm;rm"));
	assert_false(input_term_valid("x\x1b"));
	char *over = repeat('x', INPUT_TERM_MAX + 1);
	assert_false(input_term_valid(over));
	over[INPUT_TERM_MAX] = '\0';
	assert_true(input_term_valid(over));
	free(over);
	assert_true(input_text_valid("en_US.UTF-8", 64));
	assert_true(input_text_valid("caf\xc3\xa9\tx", 64));
	assert_false(input_text_valid("a\nb", 64));
	assert_false(input_text_valid("a\x7f", 64));
	assert_false(input_text_valid("abcdef", 5));
}

static void test_password(void **state)
{
	struct monitor_password_req pw;
	wire_init(&msg, WIRE_REQ_AUTH_PASSWORD);
	wire_put_str(&msg, "alice");
	wire_put_str(&msg, "s3cret");
	assert_int_equal(monitor_decode_password(rewind_msg(), &pw), 0);
	assert_string_equal(pw.user, "alice");
	assert_string_equal(pw.password, "s3cret");
	monitor_password_req_done(&pw);
	assert_null(pw.password);

	char *huge = repeat('p', INPUT_SECRET_MAX + 1);
	wire_init(&msg, WIRE_REQ_AUTH_PASSWORD);
	wire_put_str(&msg, "alice");
	wire_put_str(&msg, huge);
	assert_int_equal(monitor_decode_password(rewind_msg(), &pw), -E2BIG);
	free(huge);

	/* Missing password, absent password, trailing bytes: malformed. */
	wire_init(&msg, WIRE_REQ_AUTH_PASSWORD);
	wire_put_str(&msg, "alice");
	assert_int_equal(monitor_decode_password(rewind_msg(), &pw), -EBADMSG);
	wire_put_str(&msg, NULL);
	assert_int_equal(monitor_decode_password(rewind_msg(), &pw), -EBADMSG);
	wire_init(&msg, WIRE_REQ_AUTH_PASSWORD);
	wire_put_str(&msg, "alice");
	wire_put_str(&msg, "pw");
	wire_put_u32(&msg, 7);
	assert_int_equal(monitor_decode_password(rewind_msg(), &pw), -EBADMSG);
	/* An oversized password before a malformed rest is still malformed. */
	huge = repeat('p', INPUT_SECRET_MAX + 1);
	wire_init(&msg, WIRE_REQ_AUTH_PASSWORD);
	wire_put_str(&msg, "alice");
	wire_put_str(&msg, huge);
	wire_put_u32(&msg, 7);
	assert_int_equal(monitor_decode_password(rewind_msg(), &pw), -EBADMSG);
	free(huge);
}

static void test_kbdint_start(void **state)
{
	char *user = NULL;
	wire_init(&msg, WIRE_REQ_KBDINT_START);
	wire_put_str(&msg, "alice");
	assert_int_equal(monitor_decode_kbdint_start(rewind_msg(), &user), 0);
	assert_string_equal(user, "alice");
	free(user);
	wire_put_u32(&msg, 1); /* a field too many */
	assert_int_equal(monitor_decode_kbdint_start(rewind_msg(), &user), -EBADMSG);
	wire_init(&msg, WIRE_REQ_KBDINT_START);
	wire_put_str(&msg, NULL);
	assert_int_equal(monitor_decode_kbdint_start(rewind_msg(), &user), -EBADMSG);
}

static void test_kbdint_answers(void **state)
{
	struct monitor_kbdint_answers a;
	wire_init(&msg, WIRE_REQ_KBDINT_RESPONSE);
	wire_put_u32(&msg, 2);
	wire_put_str(&msg, "one");
	wire_put_str(&msg, "");
	assert_int_equal(monitor_decode_kbdint_answers(rewind_msg(), &a), 0);
	assert_false(a.cancelled);
	assert_int_equal(a.n, 2);
	assert_string_equal(a.answers[0], "one");
	assert_string_equal(a.answers[1], "");
	monitor_kbdint_answers_done(&a);

	wire_init(&msg, WIRE_REQ_KBDINT_RESPONSE);
	wire_put_u32(&msg, UINT32_MAX);
	assert_int_equal(monitor_decode_kbdint_answers(rewind_msg(), &a), 0);
	assert_true(a.cancelled);

	wire_init(&msg, WIRE_REQ_KBDINT_RESPONSE);
	wire_put_u32(&msg, INPUT_KBDINT_ANSWERS_MAX + 1);
	assert_int_equal(monitor_decode_kbdint_answers(rewind_msg(), &a), -E2BIG);

	/* Claims three answers, carries one. */
	wire_init(&msg, WIRE_REQ_KBDINT_RESPONSE);
	wire_put_u32(&msg, 3);
	wire_put_str(&msg, "one");
	assert_int_equal(monitor_decode_kbdint_answers(rewind_msg(), &a), -EBADMSG);

	char *huge = repeat('a', INPUT_SECRET_MAX + 1);
	wire_init(&msg, WIRE_REQ_KBDINT_RESPONSE);
	wire_put_u32(&msg, 2);
	wire_put_str(&msg, huge);
	wire_put_str(&msg, "two");
	assert_int_equal(monitor_decode_kbdint_answers(rewind_msg(), &a), -E2BIG);
	free(huge);
}

static void test_pubkey(void **state)
{
	struct monitor_pubkey_req k;
	wire_init(&msg, WIRE_REQ_AUTH_PUBKEY);
	wire_put_str(&msg, "alice");
	wire_put_str(&msg, "ssh-ed25519");
	wire_put_str(&msg, "AAAAC3NzaC1lZDI1NTE5AAAAIA");
	assert_int_equal(monitor_decode_pubkey(rewind_msg(), &k), 0);
	assert_string_equal(k.type, "ssh-ed25519");
	monitor_pubkey_req_done(&k);

	char *huge = repeat('A', INPUT_PUBKEY_MAX + 1);
	wire_init(&msg, WIRE_REQ_AUTH_PUBKEY);
	wire_put_str(&msg, "alice");
	wire_put_str(&msg, "ssh-rsa");
	wire_put_str(&msg, huge);
	assert_int_equal(monitor_decode_pubkey(rewind_msg(), &k), -E2BIG);
	free(huge);

	wire_init(&msg, WIRE_REQ_AUTH_PUBKEY);
	wire_put_str(&msg, "alice");
	wire_put_str(&msg, "");
	wire_put_str(&msg, "AAAA");
	assert_int_equal(monitor_decode_pubkey(rewind_msg(), &k), -EINVAL);

	wire_init(&msg, WIRE_REQ_AUTH_PUBKEY);
	wire_put_str(&msg, "alice");
	wire_put_str(&msg, "ssh-rsa");
	assert_int_equal(monitor_decode_pubkey(rewind_msg(), &k), -EBADMSG);
}

/* N_ENV variables claimed, the first min(N_ENV, n of ENV) of them sent. */
static void put_spawn_env(uint32_t kind, const char *command, uint32_t pty, const char *term,
			  uint32_t rows, uint32_t cols, const char *const *env, uint32_t n_sent,
			  uint32_t n_env)
{
	wire_init(&msg, WIRE_REQ_CHANNEL_SPAWN);
	wire_put_u32(&msg, 3);
	wire_put_u32(&msg, kind);
	wire_put_str(&msg, command);
	wire_put_u32(&msg, pty);
	wire_put_str(&msg, term);
	wire_put_u32(&msg, rows);
	wire_put_u32(&msg, cols);
	wire_put_u32(&msg, n_env);
	for (uint32_t i = 0; i < n_sent && i < n_env; i++)
		wire_put_str(&msg, env[i]);
}

static void put_spawn(uint32_t kind, const char *command, uint32_t pty, const char *term,
		      uint32_t rows, uint32_t cols, const char *const *env, uint32_t n_env)
{
	put_spawn_env(kind, command, pty, term, rows, cols, env, env ? n_env : 0, n_env);
}

static void test_spawn(void **state)
{
	struct monitor_spawn_req q;
	static const char *const env[] = {"LANG=C.UTF-8", "LC_ALL=C"};
	put_spawn(1, "run hw1.py 3 4", 1, "xterm-256color", 50, 132, env, 2);
	assert_int_equal(monitor_decode_spawn(rewind_msg(), &q), 0);
	assert_string_equal(q.refusal, "");
	assert_int_equal(q.id, 3);
	assert_string_equal(q.command, "run hw1.py 3 4");
	assert_true(q.pty);
	assert_int_equal(q.rows, 50);
	assert_int_equal(q.cols, 132);
	assert_int_equal(q.n_env, 2);
	assert_string_equal(q.env[1], "LC_ALL=C");
	assert_null(q.env[2]);
	monitor_spawn_req_done(&q);

	/* A shell has no command. */
	put_spawn(0, NULL, 0, "", 0, 0, NULL, 0);
	assert_int_equal(monitor_decode_spawn(rewind_msg(), &q), 0);
	assert_null(q.command);
	monitor_spawn_req_done(&q);
}

static void test_spawn_bounds(void **state)
{
	struct monitor_spawn_req q;
	char *cmd = repeat('x', INPUT_COMMAND_MAX + 1);
	put_spawn(1, cmd, 0, "", 0, 0, NULL, 0);
	assert_int_equal(monitor_decode_spawn(rewind_msg(), &q), 0);
	assert_non_null(strstr(q.refusal, "the command is too long (16385 bytes, at most 16384)"));
	monitor_spawn_req_done(&q);
	cmd[INPUT_COMMAND_MAX] = '\0';
	put_spawn(1, cmd, 0, "", 0, 0, NULL, 0);
	assert_int_equal(monitor_decode_spawn(rewind_msg(), &q), 0);
	assert_string_equal(q.refusal, "");
	monitor_spawn_req_done(&q);
	free(cmd);

	char *name = repeat('s', INPUT_SUBSYSTEM_MAX + 1);
	put_spawn(2, name, 0, "", 0, 0, NULL, 0);
	assert_int_equal(monitor_decode_spawn(rewind_msg(), &q), 0);
	assert_non_null(strstr(q.refusal, "subsystem name is too long"));
	monitor_spawn_req_done(&q);
	free(name);

	put_spawn(0, NULL, 1, "xterm\x1b]0;pwned", 24, 80, NULL, 0);
	assert_int_equal(monitor_decode_spawn(rewind_msg(), &q), 0);
	assert_non_null(strstr(q.refusal, "terminal type"));
	monitor_spawn_req_done(&q);

	put_spawn(0, NULL, 1, "xterm", 24, INPUT_PTY_DIM_MAX + 1, NULL, 0);
	assert_int_equal(monitor_decode_spawn(rewind_msg(), &q), 0);
	assert_non_null(strstr(q.refusal, "terminal size"));
	monitor_spawn_req_done(&q);

	static const char *const bad_env[] = {"LANG=C\nX=1"};
	put_spawn(1, "run", 0, "", 0, 0, bad_env, 1);
	assert_int_equal(monitor_decode_spawn(rewind_msg(), &q), 0);
	assert_non_null(strstr(q.refusal, "environment variable"));
	monitor_spawn_req_done(&q);
}

static void test_spawn_malformed(void **state)
{
	struct monitor_spawn_req q;
	put_spawn(7, "x", 0, "", 0, 0, NULL, 0); /* no such kind */
	assert_int_equal(monitor_decode_spawn(rewind_msg(), &q), -EBADMSG);
	put_spawn(1, NULL, 0, "", 0, 0, NULL, 0); /* exec without a command */
	assert_int_equal(monitor_decode_spawn(rewind_msg(), &q), -EBADMSG);
	put_spawn(1, "run", 0, "", 0, 0, NULL, INPUT_ENV_MAX + 1); /* too many variables */
	assert_int_equal(monitor_decode_spawn(rewind_msg(), &q), -EBADMSG);
	put_spawn(1, "run", 0, "", 0, 0, NULL, 2); /* claims two variables, carries none */
	assert_int_equal(monitor_decode_spawn(rewind_msg(), &q), -EBADMSG);
	/* Cut short at every length. */
	static const char *const env[] = {"LANG=C"};
	put_spawn(1, "run x", 1, "xterm", 24, 80, env, 1);
	size_t full = msg.len;
	for (size_t len = 0; len < full; len++) {
		msg.len = len;
		assert_int_equal(monitor_decode_spawn(rewind_msg(), &q), -EBADMSG);
	}
}

static void test_small_requests(void **state)
{
	uint32_t id, sig;
	wire_init(&msg, WIRE_REQ_CHANNEL_SIGNAL);
	wire_put_u32(&msg, 4);
	wire_put_u32(&msg, 2);
	assert_int_equal(monitor_decode_signal(rewind_msg(), &id, &sig), 0);
	assert_int_equal(id, 4);
	assert_int_equal(sig, 2);
	wire_put_u32(&msg, 9);
	assert_int_equal(monitor_decode_signal(rewind_msg(), &id, &sig), -EBADMSG);

	wire_init(&msg, WIRE_REQ_CHANNEL_CLOSE);
	assert_int_equal(monitor_decode_channel(rewind_msg(), &id), -EBADMSG);
	wire_put_u32(&msg, 5);
	assert_int_equal(monitor_decode_channel(rewind_msg(), &id), 0);
	assert_int_equal(id, 5);

	struct monitor_record_req rec;
	wire_init(&msg, WIRE_REQ_RECORD);
	wire_put_u32(&msg, 1);
	wire_put_u32(&msg, 'o');
	wire_put_bytes(&msg, "a\0b", 3);
	assert_int_equal(monitor_decode_record(rewind_msg(), &rec), 0);
	assert_int_equal(rec.len, 3);
	assert_memory_equal(rec.data, "a\0b", 3);
	wire_init(&msg, WIRE_REQ_RECORD);
	wire_put_u32(&msg, 1);
	wire_put_u32(&msg, 'x');
	wire_put_bytes(&msg, "a", 1);
	assert_int_equal(monitor_decode_record(rewind_msg(), &rec), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_user_names),	    cmocka_unit_test(test_terms_and_text),
	    cmocka_unit_test(test_password),	    cmocka_unit_test(test_kbdint_start),
	    cmocka_unit_test(test_kbdint_answers),  cmocka_unit_test(test_pubkey),
	    cmocka_unit_test(test_spawn),	    cmocka_unit_test(test_spawn_bounds),
	    cmocka_unit_test(test_spawn_malformed), cmocka_unit_test(test_small_requests),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
