/* The client side of the daemon's control socket (RuntimeDirectory/control.sock, the path
 * taken from --config): one request line, an answer of "OK" or "ERR KIND MESSAGE", records of
 * key=value (values %XX-encoded) and "END". See sshd-module/control.h for the protocol. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ctl_control_result {
	CTL_CONTROL_OK = 0,
	CTL_CONTROL_NOT_RUNNING, /* no socket, nobody listening */
	CTL_CONTROL_DENIED,	 /* the daemon (or the socket's mode) refused us */
	CTL_CONTROL_NOT_FOUND,
	CTL_CONTROL_USAGE,
	CTL_CONTROL_FAILED, /* the daemon failed, or the answer was cut short */
};

struct ctl_record {
	size_t n;
	char **keys, **values; /* decoded */
};

struct ctl_answer {
	size_t n;
	struct ctl_record *records;
};

/* Sends REQUEST ("sessions alice") and reads the answer. On anything but CTL_CONTROL_OK, MSG
 * holds one line for the admin (e.g. "the daemon is not running (no control socket at
 * /run/sandboxd/control.sock)"). */
enum ctl_control_result ctl_control_call(const char *request, struct ctl_answer *ret, char *msg,
					 size_t size);
void ctl_answer_free(struct ctl_answer *a);
/* The value of KEY in a record, or NULL. */
const char *ctl_record_get(const struct ctl_record *r, const char *key);
/* A decimal field of a record: false when missing or not a number (e.g. "max"). */
bool ctl_record_u64(const struct ctl_record *r, const char *key, uint64_t *ret);
/* CTL_EXIT_* for a result (denied → CTL_EXIT_DENIED, usage → CTL_EXIT_USAGE, else FAILURE). */
int ctl_control_exit_status(enum ctl_control_result r);

/* ctl_control_call for commands: the request is formatted, a failure is printed as one line
 * and returned as its CTL_EXIT_* status; 0 with the answer in *ret (free it) on success. */
int ctl_control_request(struct ctl_answer *ret, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints one line per killed session and returns an exit status; a user without sessions is
 * fine ("no live session"). For lock --kill and kill --user. */
int ctl_control_kill_user(const char *user);
/* The same for one session. */
int ctl_control_kill_session(const char *id);
/* After a policy change: the daemon re-applies LEVEL ("alice", "@cs101", "default") to the
 * running sessions. Silent when the daemon is not running (the change applies at the next
 * login); a warning on other failures. Never changes the command's exit status. */
void ctl_control_apply_limits(const char *level);
