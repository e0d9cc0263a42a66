/* The monitor's decoding of the network child's requests: each request's fields, in order,
 * with the bounds of input_limits.h. Pure (no I/O), so that it can be unit-tested and fuzzed;
 * the handlers in monitor_auth.c and monitor_session.c act only on what these return.
 *
 * Every decoder returns 0, -EBADMSG for a malformed message (a network child that sends one is
 * confused or compromised: the connection ends), -E2BIG for a well-formed field over its bound
 * and -EINVAL for one with a value that is never valid (the request fails with a plain answer),
 * or -ENOMEM. On failure nothing needs freeing; trailing bytes make a message malformed. */
#pragma once

#include "sshd-module/input_limits.h"
#include "sshd-module/wire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* WIRE_REQ_AUTH_PASSWORD. The password is wiped when freed. */
struct monitor_password_req {
	char *user;
	char *password;
};
int monitor_decode_password(struct wire_msg *m, struct monitor_password_req *ret);
void monitor_password_req_done(struct monitor_password_req *r);

/* The user that starts every authentication request (more fields may follow). */
int monitor_decode_user(struct wire_msg *m, char **ret_user);
/* WIRE_REQ_KBDINT_START: the user and nothing else. */
int monitor_decode_kbdint_start(struct wire_msg *m, char **ret_user);

/* WIRE_REQ_KBDINT_RESPONSE: the client's answers, or a cancellation (the network child gave
 * up on the conversation). Answers are wiped when freed. */
struct monitor_kbdint_answers {
	bool cancelled;
	uint32_t n;
	char *answers[INPUT_KBDINT_ANSWERS_MAX];
};
int monitor_decode_kbdint_answers(struct wire_msg *m, struct monitor_kbdint_answers *ret);
void monitor_kbdint_answers_done(struct monitor_kbdint_answers *a);

/* WIRE_REQ_PUBKEY_CHECK and WIRE_REQ_AUTH_PUBKEY. */
struct monitor_pubkey_req {
	char *user;
	char *type; /* "ssh-ed25519" */
	char *blob; /* base64 */
};
int monitor_decode_pubkey(struct wire_msg *m, struct monitor_pubkey_req *ret);
void monitor_pubkey_req_done(struct monitor_pubkey_req *r);

/* WIRE_REQ_CHANNEL_SPAWN. kind is 0 shell, 1 exec, 2 subsystem (enum session_kind). A
 * well-formed request with a field out of bounds decodes (0) with `refusal` saying which, in
 * words for the student; the channel is then refused, the connection goes on. */
struct monitor_spawn_req {
	char refusal[160];
	uint32_t id;
	uint32_t kind;
	char *command; /* exec: the command line (NULL: none); subsystem: its name */
	bool pty;
	char *term; /* "" without a terminal */
	unsigned rows, cols;
	size_t n_env;
	char *env[INPUT_ENV_MAX + 1]; /* "NAME=value", NULL-terminated */
};
int monitor_decode_spawn(struct wire_msg *m, struct monitor_spawn_req *ret);
void monitor_spawn_req_done(struct monitor_spawn_req *r);

/* WIRE_REQ_CHANNEL_SIGNAL (id, signal number) and WIRE_REQ_CHANNEL_CLOSE (id). */
int monitor_decode_signal(struct wire_msg *m, uint32_t *ret_id, uint32_t *ret_signal);
int monitor_decode_channel(struct wire_msg *m, uint32_t *ret_id);

/* WIRE_REQ_RECORD: data points into the message. kind is 'o', 'i' or 'r'. */
struct monitor_record_req {
	uint32_t id;
	char kind;
	const char *data;
	size_t len;
};
int monitor_decode_record(struct wire_msg *m, struct monitor_record_req *ret);
