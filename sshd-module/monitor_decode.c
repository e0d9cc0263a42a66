#include "config.h"

#include "sshd-module/monitor_decode.h"

#include "common/cleanup.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The network child sends "cancelled" as this answer count. */
#define KBDINT_CANCELLED UINT32_MAX

static void free_secret(char *s)
{
	if (!s)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

/* A string field that must be present and at most MAX bytes; -E2BIG past it. */
static int decode_str(struct wire_msg *m, size_t max, char **ret)
{
	char *s = NULL;
	int r = wire_get_str(m, &s);
	if (r < 0)
		return r;
	if (!s)
		return -EBADMSG;
	if (strlen(s) > max) {
		free_secret(s);
		return -E2BIG;
	}
	*ret = s;
	return 0;
}

/* Decoding goes on past an oversized field, so that a malformed rest still ends the
 * connection; the first bound error is what the caller hears. */
static int first_error(int *first, int r)
{
	if (r == -E2BIG || r == -EINVAL) {
		if (*first == 0)
			*first = r;
		return 0;
	}
	return r;
}

static int decode_end(struct wire_msg *m, int first)
{
	if (!wire_at_end(m))
		return -EBADMSG;
	return first;
}

int monitor_decode_user(struct wire_msg *m, char **ret_user)
{
	/* Any user name the wire can carry is decoded: an invalid one is a failed login (the
	 * handler decides), not a broken message. */
	return decode_str(m, WIRE_MAX_SIZE, ret_user);
}

int monitor_decode_kbdint_start(struct wire_msg *m, char **ret_user)
{
	char *user = NULL;
	int r = monitor_decode_user(m, &user);
	if (r < 0)
		return r;
	if (!wire_at_end(m)) {
		free(user);
		return -EBADMSG;
	}
	*ret_user = user;
	return 0;
}

int monitor_decode_password(struct wire_msg *m, struct monitor_password_req *ret)
{
	struct monitor_password_req r = {0};
	int first = 0;
	int e = monitor_decode_user(m, &r.user);
	if (e == 0)
		e = first_error(&first, decode_str(m, INPUT_SECRET_MAX, &r.password));
	if (e == 0)
		e = decode_end(m, first);
	if (e < 0) {
		monitor_password_req_done(&r);
		return e;
	}
	*ret = r;
	return 0;
}

void monitor_password_req_done(struct monitor_password_req *r)
{
	free(r->user);
	free_secret(r->password);
	*r = (struct monitor_password_req){0};
}

int monitor_decode_kbdint_answers(struct wire_msg *m, struct monitor_kbdint_answers *ret)
{
	struct monitor_kbdint_answers a = {0};
	uint32_t n;
	int first = 0;
	int e = wire_get_u32(m, &n);
	if (e < 0)
		return e;
	if (n == KBDINT_CANCELLED) {
		if (!wire_at_end(m))
			return -EBADMSG;
		ret->cancelled = true;
		ret->n = 0;
		return 0;
	}
	if (n > INPUT_KBDINT_ANSWERS_MAX)
		return -E2BIG;
	for (uint32_t i = 0; i < n && e == 0; i++) {
		char *answer = NULL;
		e = first_error(&first, decode_str(m, INPUT_SECRET_MAX, &answer));
		a.answers[a.n++] = answer;
	}
	if (e == 0)
		e = decode_end(m, first);
	if (e < 0) {
		monitor_kbdint_answers_done(&a);
		return e;
	}
	*ret = a;
	return 0;
}

void monitor_kbdint_answers_done(struct monitor_kbdint_answers *a)
{
	for (uint32_t i = 0; i < a->n && i < INPUT_KBDINT_ANSWERS_MAX; i++)
		free_secret(a->answers[i]);
	*a = (struct monitor_kbdint_answers){0};
}

int monitor_decode_pubkey(struct wire_msg *m, struct monitor_pubkey_req *ret)
{
	struct monitor_pubkey_req r = {0};
	int first = 0;
	int e = monitor_decode_user(m, &r.user);
	if (e == 0)
		e = first_error(&first, decode_str(m, INPUT_KEY_TYPE_MAX, &r.type));
	if (e == 0)
		e = first_error(&first, decode_str(m, INPUT_PUBKEY_MAX, &r.blob));
	if (e == 0 && first == 0 && (!r.type[0] || !r.blob[0]))
		first = -EINVAL;
	if (e == 0)
		e = decode_end(m, first);
	if (e < 0) {
		monitor_pubkey_req_done(&r);
		return e;
	}
	*ret = r;
	return 0;
}

void monitor_pubkey_req_done(struct monitor_pubkey_req *r)
{
	free(r->user);
	free(r->type);
	free(r->blob);
	*r = (struct monitor_pubkey_req){0};
}

/* "NAME=value" with a name of letters, digits and '_' and a value without control
 * characters. */
static int check_env(const char *entry)
{
	const char *eq = strchr(entry, '=');
	if (!eq || eq == entry)
		return -EINVAL;
	size_t name_len = (size_t)(eq - entry);
	if (name_len > INPUT_ENV_NAME_MAX || strlen(eq + 1) > INPUT_ENV_VALUE_MAX)
		return -E2BIG;
	for (const char *p = entry; p < eq; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= '0' && *p <= '9') || *p == '_'))
			return -EINVAL;
	return input_text_valid(eq + 1, INPUT_ENV_VALUE_MAX) ? 0 : -EINVAL;
}

/* The first bound a spawn request is over, for the student. */
static void spawn_refuse(struct monitor_spawn_req *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void spawn_refuse(struct monitor_spawn_req *r, const char *fmt, ...)
{
	if (r->refusal[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->refusal, sizeof(r->refusal), fmt, ap);
	va_end(ap);
}

static void spawn_check_bounds(struct monitor_spawn_req *r)
{
	if (r->command && r->kind == 1 && strlen(r->command) > INPUT_COMMAND_MAX)
		spawn_refuse(r, "sandbox: the command is too long (%zu bytes, at most %d)",
			     strlen(r->command), INPUT_COMMAND_MAX);
	if (r->command && r->kind == 2 && strlen(r->command) > INPUT_SUBSYSTEM_MAX)
		spawn_refuse(r, "sandbox: the subsystem name is too long (at most %d bytes)",
			     INPUT_SUBSYSTEM_MAX);
	if (r->pty && r->term[0] && !input_term_valid(r->term))
		spawn_refuse(r,
			     "sandbox: the terminal type is not valid (at most %d letters, "
			     "digits and ._+-)",
			     INPUT_TERM_MAX);
	if (r->pty && (r->rows > INPUT_PTY_DIM_MAX || r->cols > INPUT_PTY_DIM_MAX))
		spawn_refuse(r, "sandbox: the terminal size %ux%u is too large (at most %dx%d)",
			     r->cols, r->rows, INPUT_PTY_DIM_MAX, INPUT_PTY_DIM_MAX);
	for (size_t i = 0; i < r->n_env; i++)
		if (check_env(r->env[i]) < 0)
			spawn_refuse(r,
				     "sandbox: an environment variable is not valid (names of "
				     "at most %d letters, digits and _, values of at most %d "
				     "bytes)",
				     INPUT_ENV_NAME_MAX, INPUT_ENV_VALUE_MAX);
}

int monitor_decode_spawn(struct wire_msg *m, struct monitor_spawn_req *ret)
{
	struct monitor_spawn_req r = {0};
	uint32_t pty, rows, cols, n_env;
	int e = wire_get_u32(m, &r.id);
	if (e == 0)
		e = wire_get_u32(m, &r.kind);
	if (e == 0 && r.kind > 2)
		e = -EBADMSG;
	if (e == 0)
		e = wire_get_str(m, &r.command);
	if (e == 0 && r.kind != 0 && !r.command)
		e = -EBADMSG;
	if (e == 0)
		e = wire_get_u32(m, &pty);
	if (e == 0)
		e = decode_str(m, WIRE_MAX_SIZE, &r.term);
	if (e == 0)
		e = wire_get_u32(m, &rows);
	if (e == 0)
		e = wire_get_u32(m, &cols);
	if (e == 0)
		e = wire_get_u32(m, &n_env);
	if (e == 0 && n_env > INPUT_ENV_MAX)
		e = -EBADMSG;
	for (uint32_t i = 0; e == 0 && i < n_env; i++) {
		e = decode_str(m, WIRE_MAX_SIZE, &r.env[r.n_env]);
		if (e == 0)
			r.n_env++;
	}
	if (e == 0 && !wire_at_end(m))
		e = -EBADMSG;
	if (e < 0) {
		monitor_spawn_req_done(&r);
		return e;
	}
	r.pty = pty != 0;
	r.rows = rows;
	r.cols = cols;
	spawn_check_bounds(&r);
	*ret = r;
	return 0;
}

void monitor_spawn_req_done(struct monitor_spawn_req *r)
{
	free(r->command);
	free(r->term);
	for (size_t i = 0; i < r->n_env; i++)
		free(r->env[i]);
	*r = (struct monitor_spawn_req){0};
}

int monitor_decode_signal(struct wire_msg *m, uint32_t *ret_id, uint32_t *ret_signal)
{
	uint32_t id, sig;
	if (wire_get_u32(m, &id) < 0 || wire_get_u32(m, &sig) < 0 || !wire_at_end(m))
		return -EBADMSG;
	*ret_id = id;
	*ret_signal = sig;
	return 0;
}

int monitor_decode_channel(struct wire_msg *m, uint32_t *ret_id)
{
	uint32_t id;
	if (wire_get_u32(m, &id) < 0 || !wire_at_end(m))
		return -EBADMSG;
	*ret_id = id;
	return 0;
}

int monitor_decode_record(struct wire_msg *m, struct monitor_record_req *ret)
{
	uint32_t id, kind;
	const char *data;
	size_t len;
	if (wire_get_u32(m, &id) < 0 || wire_get_u32(m, &kind) < 0 ||
	    wire_get_bytes(m, &data, &len) < 0 || !wire_at_end(m))
		return -EBADMSG;
	if (kind != 'o' && kind != 'i' && kind != 'r')
		return -EBADMSG;
	*ret = (struct monitor_record_req){.id = id, .kind = (char)kind, .data = data, .len = len};
	return 0;
}
