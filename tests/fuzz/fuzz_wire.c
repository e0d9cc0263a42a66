/* The monitor's side of the privilege separation: one datagram from the (possibly compromised)
 * network child. The input is the datagram; its last byte also says how many descriptors ride
 * along (0-6, of which wire_recv keeps WIRE_MAX_FDS).
 *
 * - wire_recv (through a SOCK_SEQPACKET socketpair) and wire_parse must read the same message,
 *   and no descriptor may stay open once the message is closed;
 * - monitor_request_permit decides per state as its table says, ONCE requests once;
 * - each message type is decoded with the wire_get_* calls in the order its reader uses them
 *   (answers and events: net_child.c and net_channel.c); whatever decodes must encode
 *   (wire_put_*) to exactly the bytes it was read from, and the read cursor never passes the end;
 * - each request goes through the monitor's own decoder (monitor_decode.c): it answers only 0,
 *   -EBADMSG, -E2BIG, -EINVAL or -ENOMEM, what it accepts is also well-formed for the generic
 *   reading, and what it hands the handlers is within input_limits.h's bounds. */
#include "config.h"

#include "common/cleanup.h"
#include "sshd-module/input_limits.h"
#include "sshd-module/monitor_decode.h"
#include "sshd-module/monitor_requests.h"
#include "sshd-module/wire.h"
#include "tests/fuzz/fuzz.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Field codes: u u32; s string (may be absent); S string that must be present; b bytes;
 * nX count, then the group X (one field code or {...}) that many times, at most MAX_COUNT. */
static const struct {
	uint32_t type;
	const char *fields;
	uint32_t max_count;
} decoders[] = {
    {WIRE_REQ_AUTH_PASSWORD, "sS", 0},
    {WIRE_REQ_KBDINT_START, "s", 0},
    {WIRE_REQ_KBDINT_RESPONSE, "nS", 64},
    {WIRE_REQ_PUBKEY_CHECK, "SSS", 0},
    {WIRE_REQ_AUTH_PUBKEY, "SSS", 0},
    {WIRE_REQ_SESSION_OPEN, "", 0},
    {WIRE_REQ_CHANNEL_SPAWN, "uususuunS", 32},
    {WIRE_REQ_CHANNEL_SIGNAL, "uu", 0},
    {WIRE_REQ_CHANNEL_CLOSE, "u", 0},
    {WIRE_REQ_ACTIVITY, "", 0},
    {WIRE_REQ_RECORD, "uub", 0},
    {WIRE_ANS_AUTH, "usu", 0},
    {WIRE_ANS_KBDINT_PROMPTS, "sn{Su}", 32},
    {WIRE_ANS_PUBKEY, "uu", 0},
    {WIRE_ANS_SESSION, "us", 0},
    {WIRE_ANS_SPAWNED, "uusu", 0},
    {WIRE_EVT_CHANNEL_EXIT, "uuus", 0},
    {WIRE_EVT_MESSAGE, "us", 0},
    {WIRE_EVT_DISCONNECT, "s", 0},
};

#define MAX_VALUES 512

struct value {
	char code;
	uint32_t u;
	char *s;	   /* 's', 'S' */
	const char *bytes; /* 'b' */
	size_t len;
};

struct decoded {
	struct value v[MAX_VALUES];
	size_t n;
};

static void decoded_free(struct decoded *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->v[i].s);
	d->n = 0;
}

static bool get_field(struct wire_msg *m, char code, struct decoded *d)
{
	struct value *v = &d->v[d->n];
	int r = -EBADMSG;

	FUZZ_ASSERT(d->n < MAX_VALUES, "too many values");
	*v = (struct value){.code = code};
	switch (code) {
	case 'u':
	case 'n':
		r = wire_get_u32(m, &v->u);
		break;
	case 's':
	case 'S':
		r = wire_get_str(m, &v->s);
		if (r == 0) {
			d->n++;
			return code == 's' || v->s != NULL;
		}
		break;
	case 'b':
		r = wire_get_bytes(m, &v->bytes, &v->len);
		if (r == 0)
			FUZZ_ASSERT(v->bytes >= (const char *)m->buf &&
					v->bytes + v->len <= (const char *)m->buf + m->len,
				    "bytes outside the message");
		break;
	default:
		FUZZ_ASSERT(0, "field code %c", code);
	}
	FUZZ_ASSERT(m->pos <= m->len, "cursor %zu past the end %zu", m->pos, m->len);
	FUZZ_ASSERT(r == 0 || r == -EBADMSG || r == -ENOMEM, "wire_get_* returned %d", r);
	if (r < 0)
		return false;
	d->n++;
	return true;
}

/* Decodes FIELDS (see the table) from M; false where the reader would refuse the message. */
static bool decode(struct wire_msg *m, const char *fields, uint32_t max_count, struct decoded *d)
{
	for (const char *f = fields; *f; f++) {
		if (*f != 'n') {
			if (!get_field(m, *f, d))
				return false;
			continue;
		}
		if (!get_field(m, 'n', d))
			return false;
		uint32_t count = d->v[d->n - 1].u;
		const char *group = f + 1, *end = group + 1;
		bool braces = *group == '{';
		if (braces) {
			group++;
			end = strchr(group, '}');
		}
		if (count > max_count)
			return false;
		for (uint32_t i = 0; i < count; i++)
			for (const char *g = group; g < end; g++)
				if (!get_field(m, *g, d))
					return false;
		f = braces ? end : group;
	}
	return true;
}

/* What the readers check beyond the fields' shapes. */
static bool semantically_valid(uint32_t type, const struct decoded *d)
{
	switch (type) {
	case WIRE_REQ_CHANNEL_SPAWN:
		return d->v[1].u <= 2; /* kind: shell, exec, subsystem */
	case WIRE_ANS_KBDINT_PROMPTS:
		return d->v[1].u > 0;
	default:
		return true;
	}
}

static void check_reencodes(const struct wire_msg *m, uint32_t type, const struct decoded *d)
{
	static struct wire_msg out;

	wire_init(&out, type);
	for (size_t i = 0; i < d->n; i++) {
		const struct value *v = &d->v[i];
		int r = 0;
		switch (v->code) {
		case 'u':
		case 'n':
			r = wire_put_u32(&out, v->u);
			break;
		case 's':
		case 'S':
			r = wire_put_str(&out, v->s);
			break;
		case 'b':
			r = wire_put_bytes(&out, v->bytes, v->len);
			break;
		}
		FUZZ_ASSERT(r == 0, "re-encoding value %zu failed: %d", i, r);
	}
	FUZZ_ASSERT(out.len == m->pos && memcmp(out.buf, m->buf, m->pos) == 0,
		    "type %u: %zu bytes decoded, %zu re-encoded differently", type, m->pos,
		    out.len);
}

static void check_permit(uint32_t type)
{
	static const unsigned states[] = {MONITOR_PREAUTH, MONITOR_KBDINT, MONITOR_AUTHENTICATED,
					  MONITOR_SESSION};
	const struct monitor_request_def *def;
	bool is_request = type >= WIRE_REQ_AUTH_PASSWORD && type < WIRE_REQ__MAX;

	for (size_t i = 0; i < ELEMENTSOF(states); i++) {
		struct monitor_request_log log = {0};
		int r = monitor_request_permit(&log, type, states[i], &def);
		if (!is_request) {
			FUZZ_ASSERT(r == -ENOENT, "type %u is no request, got %d", type, r);
			FUZZ_ASSERT(strcmp(monitor_request_name(type), "unknown") == 0,
				    "name of %u", type);
			continue;
		}
		FUZZ_ASSERT(r == 0 || r == -EPERM, "type %u: %d", type, r);
		if (r < 0)
			continue;
		FUZZ_ASSERT(def->type == type && (def->states & states[i]) &&
				strcmp(def->name, monitor_request_name(type)) == 0,
			    "type %u: wrong definition", type);
		r = monitor_request_permit(&log, type, states[i], &def);
		FUZZ_ASSERT(r == ((def->flags & MONITOR_REQ_ONCE) ? -EPERM : 0),
			    "type %u asked again: %d", type, r);
	}
}

static void check_decoder_result(uint32_t type, int r, bool generic_ok)
{
	FUZZ_ASSERT(r == 0 || r == -EBADMSG || r == -E2BIG || r == -EINVAL || r == -ENOMEM,
		    "type %u: monitor decoder returned %d", type, r);
	/* The monitor's decoders are stricter than the generic reading, never laxer. */
	FUZZ_ASSERT(r != 0 || generic_ok, "type %u: the monitor accepted what is malformed", type);
}

static bool env_entry_ok(const char *e)
{
	const char *eq = strchr(e, '=');
	return eq && eq != e && (size_t)(eq - e) <= INPUT_ENV_NAME_MAX &&
	       input_text_valid(eq + 1, INPUT_ENV_VALUE_MAX);
}

/* The request through the monitor's own decoder, on a fresh copy of the message. */
static void check_monitor_decoder(const struct wire_msg *parsed, bool generic_ok)
{
	static struct wire_msg m;
	memcpy(&m, parsed, sizeof(m));
	m.pos = 0;
	int r;
	switch (parsed->type) {
	case WIRE_REQ_AUTH_PASSWORD: {
		struct monitor_password_req q;
		r = monitor_decode_password(&m, &q);
		if (r == 0) {
			FUZZ_ASSERT(q.user && q.password && strlen(q.password) <= INPUT_SECRET_MAX,
				    "password request out of bounds");
			monitor_password_req_done(&q);
		}
		break;
	}
	case WIRE_REQ_KBDINT_START: {
		char *user = NULL;
		r = monitor_decode_kbdint_start(&m, &user);
		FUZZ_ASSERT(r != 0 || (user && m.pos == m.len), "no user, or bytes after it");
		free(user);
		break;
	}
	case WIRE_REQ_KBDINT_RESPONSE: {
		struct monitor_kbdint_answers a = {0};
		r = monitor_decode_kbdint_answers(&m, &a);
		if (r == 0) {
			FUZZ_ASSERT(a.cancelled ? a.n == 0 : a.n <= INPUT_KBDINT_ANSWERS_MAX,
				    "%u answers", a.n);
			for (uint32_t i = 0; i < a.n; i++)
				FUZZ_ASSERT(a.answers[i] &&
						strlen(a.answers[i]) <= INPUT_SECRET_MAX,
					    "answer %u out of bounds", i);
			/* "Cancelled" is a count of UINT32_MAX, which the generic reading refuses.
			 */
			generic_ok = generic_ok || a.cancelled;
		}
		monitor_kbdint_answers_done(&a);
		break;
	}
	case WIRE_REQ_PUBKEY_CHECK:
	case WIRE_REQ_AUTH_PUBKEY: {
		struct monitor_pubkey_req k = {0};
		r = monitor_decode_pubkey(&m, &k);
		if (r == 0) {
			FUZZ_ASSERT(*k.type && *k.blob && strlen(k.type) <= INPUT_KEY_TYPE_MAX &&
					strlen(k.blob) <= INPUT_PUBKEY_MAX,
				    "public key request out of bounds");
			monitor_pubkey_req_done(&k);
		}
		break;
	}
	case WIRE_REQ_CHANNEL_SPAWN: {
		struct monitor_spawn_req q = {0};
		r = monitor_decode_spawn(&m, &q);
		if (r == 0) {
			FUZZ_ASSERT(q.kind <= 2 && (q.kind == 0 || q.command) && q.term &&
					q.n_env <= INPUT_ENV_MAX && !q.env[q.n_env],
				    "spawn request malformed but accepted");
			if (!q.refusal[0]) {
				size_t max = q.kind == 2 ? INPUT_SUBSYSTEM_MAX : INPUT_COMMAND_MAX;
				FUZZ_ASSERT(!q.command || strlen(q.command) <= max,
					    "command too long");
				FUZZ_ASSERT(!q.pty || ((!q.term[0] || input_term_valid(q.term)) &&
						       q.rows <= INPUT_PTY_DIM_MAX &&
						       q.cols <= INPUT_PTY_DIM_MAX),
					    "terminal out of bounds");
				for (size_t i = 0; i < q.n_env; i++)
					FUZZ_ASSERT(env_entry_ok(q.env[i]), "env %zu out of bounds",
						    i);
			}
			monitor_spawn_req_done(&q);
		}
		break;
	}
	case WIRE_REQ_CHANNEL_SIGNAL: {
		uint32_t id, sig;
		r = monitor_decode_signal(&m, &id, &sig);
		break;
	}
	case WIRE_REQ_CHANNEL_CLOSE: {
		uint32_t id;
		r = monitor_decode_channel(&m, &id);
		break;
	}
	case WIRE_REQ_RECORD: {
		struct monitor_record_req q;
		r = monitor_decode_record(&m, &q);
		if (r == 0)
			FUZZ_ASSERT(q.data >= (const char *)m.buf &&
					q.data + q.len <= (const char *)m.buf + m.len &&
					(q.kind == 'o' || q.kind == 'i' || q.kind == 'r'),
				    "record request out of bounds");
		break;
	}
	default:
		return;
	}
	check_decoder_result(parsed->type, r, generic_ok);
	FUZZ_ASSERT(m.pos <= m.len, "monitor decoder: cursor past the end");
}

/* The lowest free descriptor: a leak moves it up. */
static int lowest_free_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		abort();
	close(fd);
	return fd;
}

static int sv[2] = {-1, -1};

/* Sends DATA with N_FDS descriptors of /dev/null and reads it back with wire_recv. */
static int recv_through_socket(const uint8_t *data, size_t size, size_t n_fds, struct wire_msg *m)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 8)];
		struct cmsghdr align;
	} control;
	struct iovec iov = {.iov_base = (void *)data, .iov_len = size};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	int fds[8];

	for (size_t i = 0; i < n_fds; i++) {
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0)
			abort();
	}
	if (n_fds) {
		memset(&control, 0, sizeof(control));
		mh.msg_control = control.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);
	}
	if (sendmsg(sv[1], &mh, 0) != (ssize_t)size)
		abort();
	for (size_t i = 0; i < n_fds; i++)
		close(fds[i]);
	return wire_recv(sv[0], m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct wire_msg parsed, received;
	struct decoded d = {.n = 0};
	int before, r;

	if (sv[0] < 0 && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	before = lowest_free_fd();

	if (size > sizeof(uint32_t) + WIRE_MAX_SIZE)
		return 0;
	r = wire_parse(data, size, &parsed);
	if (size < sizeof(uint32_t)) {
		FUZZ_ASSERT(r == -EBADMSG, "%zu bytes parsed: %d", size, r);
	} else {
		FUZZ_ASSERT(r == 0 && parsed.len == size - sizeof(uint32_t) && parsed.pos == 0 &&
				parsed.n_fds == 0,
			    "wire_parse of %zu bytes: %d", size, r);
	}

	/* An empty datagram reads as the end of the connection, not as a message. */
	if (size > 0) {
		size_t n_fds = data[size - 1] % 7;
		r = recv_through_socket(data, size, n_fds, &received);
		/* More descriptors than a message may carry truncate the control data: refused. */
		if (size < sizeof(uint32_t) || n_fds > WIRE_MAX_FDS) {
			FUZZ_ASSERT(r == -EBADMSG, "%zu bytes, %zu fds received: %d", size, n_fds,
				    r);
		} else {
			FUZZ_ASSERT(r == 0, "wire_recv: %d", r);
			FUZZ_ASSERT(received.type == parsed.type && received.len == parsed.len &&
					received.pos == 0 &&
					memcmp(received.buf, parsed.buf, parsed.len) == 0,
				    "wire_recv and wire_parse disagree");
			FUZZ_ASSERT(received.n_fds == n_fds, "%zu of %zu descriptors kept",
				    received.n_fds, n_fds);
			int fd = wire_take_fd(&received);
			if (fd >= 0)
				close(fd);
			wire_close_fds(&received);
		}
		FUZZ_ASSERT(lowest_free_fd() == before, "a descriptor leaked (%d, then %d)", before,
			    lowest_free_fd());
	}
	if (size < sizeof(uint32_t))
		return 0;

	check_permit(parsed.type);
	bool generic_ok = false;
	for (size_t i = 0; i < ELEMENTSOF(decoders); i++) {
		if (decoders[i].type != parsed.type)
			continue;
		generic_ok = decode(&parsed, decoders[i].fields, decoders[i].max_count, &d) &&
			     semantically_valid(parsed.type, &d);
		if (generic_ok)
			check_reencodes(&parsed, parsed.type, &d);
		break;
	}
	decoded_free(&d);
	check_monitor_decoder(&parsed, generic_ok);
	FUZZ_ASSERT(parsed.pos <= parsed.len, "cursor past the end");
	return 0;
}
