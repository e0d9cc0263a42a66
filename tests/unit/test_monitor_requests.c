/* The monitor's request table: a request in the wrong state, an unknown request and a second
 * ONCE request are all refused; the wire codec refuses truncated and malformed messages. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "sshd-module/monitor_requests.h"
#include "sshd-module/wire.h"

static void test_auth_requests_only_before_authentication(void **state)
{
	struct monitor_request_log log = {0};
	assert_int_equal(monitor_request_permit(&log, WIRE_REQ_AUTH_PASSWORD, MONITOR_PREAUTH, NULL), 0);
	assert_int_equal(monitor_request_permit(&log, WIRE_REQ_AUTH_PASSWORD, MONITOR_SESSION, NULL),
			 -EPERM);
	assert_int_equal(
		monitor_request_permit(&log, WIRE_REQ_AUTH_PUBKEY, MONITOR_AUTHENTICATED, NULL), -EPERM);
	assert_int_equal(monitor_request_permit(&log, WIRE_REQ_KBDINT_START, MONITOR_KBDINT, NULL),
			 -EPERM);
}

static void test_spawn_refused_before_session(void **state)
{
	struct monitor_request_log log = {0};
	unsigned states[] = {MONITOR_PREAUTH, MONITOR_KBDINT, MONITOR_AUTHENTICATED};
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		assert_int_equal(monitor_request_permit(&log, WIRE_REQ_CHANNEL_SPAWN, states[i], NULL),
				 -EPERM);
		assert_int_equal(monitor_request_permit(&log, WIRE_REQ_CHANNEL_SIGNAL, states[i], NULL),
				 -EPERM);
	}
	const struct monitor_request_def *def = NULL;
	assert_int_equal(monitor_request_permit(&log, WIRE_REQ_CHANNEL_SPAWN, MONITOR_SESSION, &def), 0);
	assert_string_equal(def->name, "channel-spawn");
}

static void test_kbdint_response_only_while_conversation_waits(void **state)
{
	struct monitor_request_log log = {0};
	assert_int_equal(
		monitor_request_permit(&log, WIRE_REQ_KBDINT_RESPONSE, MONITOR_PREAUTH, NULL), -EPERM);
	assert_int_equal(monitor_request_permit(&log, WIRE_REQ_KBDINT_RESPONSE, MONITOR_KBDINT, NULL),
			 0);
}

static void test_session_open_only_once(void **state)
{
	struct monitor_request_log log = {0};
	assert_int_equal(monitor_request_permit(&log, WIRE_REQ_SESSION_OPEN, MONITOR_PREAUTH, NULL),
			 -EPERM);
	assert_int_equal(
		monitor_request_permit(&log, WIRE_REQ_SESSION_OPEN, MONITOR_AUTHENTICATED, NULL), 0);
	assert_int_equal(
		monitor_request_permit(&log, WIRE_REQ_SESSION_OPEN, MONITOR_AUTHENTICATED, NULL), -EPERM);
}

static void test_answers_are_not_requests(void **state)
{
	struct monitor_request_log log = {0};
	assert_int_equal(monitor_request_permit(&log, WIRE_ANS_AUTH, MONITOR_PREAUTH, NULL), -ENOENT);
	assert_int_equal(monitor_request_permit(&log, 0, MONITOR_SESSION, NULL), -ENOENT);
	assert_int_equal(monitor_request_permit(&log, 0xdeadbeef, MONITOR_SESSION, NULL), -ENOENT);
}

static void test_wire_round_trip_with_descriptor(void **state)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	static struct wire_msg out, in;
	wire_init(&out, WIRE_REQ_AUTH_PASSWORD);
	assert_int_equal(wire_put_str(&out, "alice"), 0);
	assert_int_equal(wire_put_str(&out, NULL), 0);
	assert_int_equal(wire_put_u32(&out, 42), 0);
	assert_int_equal(wire_put_fd(&out, sv[0]), 0);
	assert_int_equal(wire_send(sv[0], &out), 0);
	assert_int_equal(wire_recv(sv[1], &in), 0);
	assert_int_equal(in.type, WIRE_REQ_AUTH_PASSWORD);
	char *user = NULL, *absent = (char *)"x";
	uint32_t v = 0;
	assert_int_equal(wire_get_str(&in, &user), 0);
	assert_string_equal(user, "alice");
	assert_int_equal(wire_get_str(&in, &absent), 0);
	assert_null(absent);
	assert_int_equal(wire_get_u32(&in, &v), 0);
	assert_int_equal(v, 42);
	assert_true(wire_at_end(&in));
	assert_int_equal(wire_get_u32(&in, &v), -EBADMSG);
	int fd = wire_take_fd(&in);
	assert_true(fd >= 0);
	assert_int_equal(wire_take_fd(&in), -1);
	free(user);
	close(fd);
	close(sv[0]);
	close(sv[1]);
}

static void test_wire_refuses_lying_lengths(void **state)
{
	static struct wire_msg m;
	wire_init(&m, WIRE_REQ_AUTH_PASSWORD);
	uint32_t huge = 1000;
	memcpy(m.buf, &huge, sizeof(huge));
	memcpy(m.buf + 4, "abc", 3);
	m.len = 7;
	char *s = NULL;
	assert_int_equal(wire_get_str(&m, &s), -EBADMSG);
	assert_null(s);

	wire_init(&m, WIRE_REQ_AUTH_PASSWORD);
	assert_int_equal(wire_put_str(&m, "ok"), 0);
	m.buf[5] = '\0'; /* "o\0": an embedded NUL could truncate a user name */
	m.pos = 0;
	assert_int_equal(wire_get_str(&m, &s), -EBADMSG);
}

static void test_wire_refuses_empty_datagram(void **state)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(send(sv[0], "ab", 2, 0), 2);
	static struct wire_msg in;
	assert_int_equal(wire_recv(sv[1], &in), -EBADMSG);
	close(sv[0]);
	assert_int_equal(wire_recv(sv[1], &in), -EPIPE);
	close(sv[1]);
}

/* wire_parse reads the datagram wire_recv would: type, then fields; no more than a message. */
static void test_wire_parse(void **state)
{
	static struct wire_msg m;
	static uint8_t big[sizeof(uint32_t) + WIRE_MAX_SIZE + 1];
	const uint8_t datagram[] = {3, 0, 0, 0, 2, 0, 0, 0, 'o', 'k'};
	char *s = NULL;

	assert_int_equal(wire_parse(datagram, sizeof(datagram), &m), 0);
	assert_int_equal(m.type, WIRE_REQ_KBDINT_RESPONSE);
	assert_int_equal(m.len, 6);
	assert_int_equal(m.n_fds, 0);
	assert_int_equal(wire_get_str(&m, &s), 0);
	assert_string_equal(s, "ok");
	free(s);
	assert_true(wire_at_end(&m));
	assert_int_equal(wire_parse(datagram, 3, &m), -EBADMSG);
	assert_int_equal(wire_parse(big, sizeof(big) - 1, &m), 0);
	assert_int_equal(wire_parse(big, sizeof(big), &m), -EMSGSIZE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_auth_requests_only_before_authentication),
		cmocka_unit_test(test_spawn_refused_before_session),
		cmocka_unit_test(test_kbdint_response_only_while_conversation_waits),
		cmocka_unit_test(test_session_open_only_once),
		cmocka_unit_test(test_answers_are_not_requests),
		cmocka_unit_test(test_wire_round_trip_with_descriptor),
		cmocka_unit_test(test_wire_refuses_lying_lengths),
		cmocka_unit_test(test_wire_refuses_empty_datagram),
		cmocka_unit_test(test_wire_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
