/* Messages between the network child and its monitor: one SOCK_SEQPACKET datagram each, a type
 * then typed fields, descriptors riding along as SCM_RIGHTS. Parsing is strict: a truncated or
 * oversized field fails the message, never reads past it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WIRE_MAX_SIZE (64 * 1024)
#define WIRE_MAX_FDS 4

enum wire_type {
	/* network child → monitor */
	WIRE_REQ_AUTH_PASSWORD = 1, /* user, password */
	WIRE_REQ_KBDINT_START,      /* user */
	WIRE_REQ_KBDINT_RESPONSE,   /* n, answers... */
	WIRE_REQ_PUBKEY_CHECK,      /* user, key type, base64 blob: is this key acceptable? */
	WIRE_REQ_AUTH_PUBKEY,       /* user, key type, base64 blob: signature verified, log in */
	WIRE_REQ_SESSION_OPEN,      /* after authentication: PAM session, account set-up */
	WIRE_REQ_CHANNEL_SPAWN,     /* channel, kind, command, pty, term, rows, cols, env */
	WIRE_REQ_CHANNEL_SIGNAL,    /* channel, signal number */
	WIRE_REQ_CHANNEL_CLOSE,     /* channel */
	WIRE_REQ_ACTIVITY,          /* channel I/O happened (idle timer) */
	WIRE_REQ_RECORD,            /* channel, kind ('o' output, 'i' input, 'r' resize), bytes */
	WIRE_REQ__MAX,

	/* monitor → network child */
	WIRE_ANS_AUTH = 100,    /* result, message, disconnect */
	WIRE_ANS_KBDINT_PROMPTS, /* instruction, n, (prompt, echo)... */
	WIRE_ANS_PUBKEY,        /* result */
	WIRE_ANS_SESSION,       /* result, message, banner */
	WIRE_ANS_SPAWNED,       /* channel, result, message, record; fds: pty master or 0, 1, 2 */
	WIRE_ANS_OK,            /* result */
	WIRE_EVT_CHANNEL_EXIT = 200, /* channel, exited (1) or signalled (0), code, message */
	WIRE_EVT_MESSAGE,            /* channel, text for the student's terminal (limit warnings) */
	WIRE_EVT_DISCONNECT,         /* reason: the monitor ends the connection (timeouts) */
};

struct wire_msg {
	uint32_t type;
	uint8_t buf[WIRE_MAX_SIZE];
	size_t len; /* bytes of fields written */
	size_t pos; /* read cursor */
	int fds[WIRE_MAX_FDS];
	size_t n_fds;
};

void wire_init(struct wire_msg *m, uint32_t type);
int wire_put_u32(struct wire_msg *m, uint32_t v);
int wire_put_str(struct wire_msg *m, const char *s); /* NULL is sent as absent */
/* Raw bytes (may hold NUL); read back as a pointer into the message, valid while it is. */
int wire_put_bytes(struct wire_msg *m, const void *data, size_t len);
int wire_get_bytes(struct wire_msg *m, const char **ret, size_t *ret_len);
int wire_put_fd(struct wire_msg *m, int fd);         /* not owned: caller closes after send */
int wire_get_u32(struct wire_msg *m, uint32_t *ret);
/* Returns a malloc'd NUL-terminated copy (NULL when absent). Strings with NUL inside fail. */
int wire_get_str(struct wire_msg *m, char **ret);
/* Takes ownership of the next received descriptor (-1 if none left). */
int wire_take_fd(struct wire_msg *m);
bool wire_at_end(const struct wire_msg *m);
/* Closes descriptors still owned by a received message. */
void wire_close_fds(struct wire_msg *m);

int wire_send(int sock, const struct wire_msg *m);
/* The datagram wire_recv takes (the type, then the fields), from memory and without
 * descriptors: -EBADMSG when it is shorter than a type, -EMSGSIZE when longer than a message. */
int wire_parse(const void *buf, size_t len, struct wire_msg *ret);
/* 0 on success, -EPIPE on orderly shutdown, other negative errno on errors. */
int wire_recv(int sock, struct wire_msg *m);
