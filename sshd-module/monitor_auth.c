/* Authentication requests: password and keyboard-interactive through PAM, publickey through
 * authorized_keys then PAM account. Failures look alike and take alike. */
#include "config.h"

#include "sshd-module/authorized_keys.h"
#include "sshd-module/monitor.h"
#include "sshd-module/monitor_decode.h"

#include "common/cleanup.h"
#include "common/escape.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Every refusal is answered no sooner than this after the request, so an unknown user and a
 * wrong password cannot be told apart by time (pam_unix's own delay is randomised). */
#define AUTH_FAILURE_MIN_NSEC (2500ull * 1000 * 1000)

static uint64_t now_nsec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void auth_pad_failure(uint64_t started)
{
	uint64_t elapsed = now_nsec() - started;
	if (elapsed >= AUTH_FAILURE_MIN_NSEC)
		return;
	uint64_t left = AUTH_FAILURE_MIN_NSEC - elapsed;
	struct timespec ts = {.tv_sec = (time_t)(left / 1000000000ull),
			      .tv_nsec = (long)(left % 1000000000ull)};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int auth_answer(struct monitor *m, bool ok, const char *message)
{
	static struct wire_msg ans;
	bool disconnect = !ok && m->auth_failures >= m->cfg->max_auth_tries;
	wire_init(&ans, WIRE_ANS_AUTH);
	wire_put_u32(&ans, ok ? 0 : 1);
	wire_put_str(&ans, message);
	wire_put_u32(&ans, disconnect);
	int r = monitor_send(m, &ans);
	if (r < 0)
		return r;
	if (disconnect) {
		log_info("connection from %s: too many authentication failures for %s",
			 m->conn->remote_addr, m->auth_user);
		return -ECONNABORTED;
	}
	return 0;
}

/* What an invalid user name is known as in logs and on the trail: its bytes are the
 * client's, and only an escaped prefix of them is shown. */
#define AUTH_INVALID_USER "(invalid)"

/* The user name is fixed by the first attempt, as in OpenSSH. A name no account can have
 * (input_user_name_valid) is bound as AUTH_INVALID_USER: its attempts fail like an unknown
 * user's, with the same answer and the same delay. */
static int auth_bind_user(struct monitor *m, const char *user)
{
	bool valid = input_user_name_valid(user);
	const char *name = valid ? user : AUTH_INVALID_USER;
	if (m->auth_user) {
		if (strcmp(m->auth_user, name) == 0)
			return 0;
		log_error("connection from %s: change of user name not allowed",
			  m->conn->remote_addr);
		return -EPERM;
	}
	if (!valid) {
		char shown[4 * 48 + 1];
		escape_untrusted(user, strnlen(user, 48), shown, sizeof(shown));
		log_info("connection from %s: invalid user name \"%s\"%s (%zu bytes)",
			 m->conn->remote_addr, shown, strlen(user) > 48 ? "..." : "", strlen(user));
	}
	m->auth_user = strdup(name);
	m->auth_user_valid = valid;
	return m->auth_user ? 0 : -ENOMEM;
}

static int auth_pam_ensure(struct monitor *m, sbx_error *err)
{
	if (m->pam)
		return 0;
	struct auth_pam_params p = {
	    .service = m->cfg->pam_service,
	    .user = m->auth_user,
	    .rhost = m->conn->remote_addr,
	    .ruser = m->auth_user,
	    .tty = "ssh",
	};
	return auth_pam_start(&p, &m->pam, err);
}

/* pam_authenticate with a method's conversation, if the method is enabled. */
static int auth_pam_run(struct monitor *m, bool enabled, auth_conv_fn conv, void *userdata,
			sbx_error *err)
{
	if (!enabled || !m->auth_user_valid)
		return -EACCES;
	int r = auth_pam_ensure(m, err);
	if (r < 0)
		return r;
	auth_pam_set_conv(m->pam, conv, userdata);
	return auth_pam_authenticate(m->pam, err);
}

static void auth_log(struct monitor *m, const char *method, bool ok, const char *detail)
{
	log_info("%s %s for %s from %s port %d%s%s", ok ? "Accepted" : "Failed", method,
		 m->auth_user ? m->auth_user : "(none)", m->conn->remote_addr, m->conn->remote_port,
		 detail ? ": " : "", detail ? detail : "");
	char remote[96];
	snprintf(remote, sizeof(remote), "%s:%d", m->conn->remote_addr, m->conn->remote_port);
	/* The trail names the method as the protocol does; the log keeps sshd's "…/pam". */
	char name[32];
	snprintf(name, sizeof(name), "%.*s", (int)strcspn(method, "/"), method);
	audit_emitf(m->runtime->audit, AUDIT_AUTH_ATTEMPT, "SANDBOX_USER", m->auth_user,
		    "SANDBOX_SESSION", m->conn->session_id, "SANDBOX_REMOTE", remote,
		    "SANDBOX_METHOD", name, "SANDBOX_RESULT", ok ? "success" : "failure",
		    "SANDBOX_PAM_MESSAGE", detail, NULL);
}

static void auth_account_refused(struct monitor *m, const char *reason)
{
	char remote[96];
	snprintf(remote, sizeof(remote), "%s:%d", m->conn->remote_addr, m->conn->remote_port);
	audit_emitf(m->runtime->audit, AUDIT_ACCOUNT_REFUSED, "SANDBOX_USER", m->auth_user,
		    "SANDBOX_SESSION", m->conn->session_id, "SANDBOX_REMOTE", remote,
		    "SANDBOX_REASON", "pam-account", "SANDBOX_PAM_MESSAGE", reason, NULL);
}

/* After a successful authentication step: PAM account management decides. What its modules
 * said through the conversation ("Your account has expired...") is what the client sees. */
static int auth_finish(struct monitor *m, const char *method, uint64_t started,
		       struct auth_password_conv *conv)
{
	sbx_error err = {0};
	conv->messages[0] = '\0';
	int r = auth_pam_account(m->pam, &err);
	if (r < 0) {
		m->auth_failures++;
		auth_log(m, method, false, err.msg);
		auth_account_refused(m, conv->messages[0] ? conv->messages : err.msg);
		auth_pad_failure(started);
		return auth_answer(m, false, conv->messages[0] ? conv->messages : err.msg);
	}
	auth_log(m, method, true, NULL);
	monitor_mark_authenticated(m);
	return auth_answer(m, true, NULL);
}

int monitor_auth_password(struct monitor *m, struct wire_msg *req)
{
	uint64_t started = now_nsec();
	struct monitor_password_req pw;
	int r = monitor_decode_password(req, &pw);
	if (r == -E2BIG) {
		/* Longer than any password PAM takes: a failure like a wrong one. */
		m->auth_failures++;
		auth_log(m, "password", false, "password too long");
		auth_pad_failure(started);
		return auth_answer(m, false, NULL);
	}
	if (r < 0)
		return r;
	r = auth_bind_user(m, pw.user);
	if (r < 0) {
		monitor_password_req_done(&pw);
		return r;
	}
	sbx_error err = {0};
	struct auth_password_conv conv = {.password = pw.password};
	r = auth_pam_run(m, m->cfg->password_authentication, auth_password_conv, &conv, &err);
	/* The account step that follows must not see the password (it is wiped here). */
	conv.password = NULL;
	monitor_password_req_done(&pw);
	if (r < 0) {
		m->auth_failures++;
		auth_log(m, "password", false, NULL);
		auth_pad_failure(started);
		return auth_answer(m, false, NULL);
	}
	return auth_finish(m, "password", started, &conv);
}

struct kbdint_conv {
	struct monitor *m;
	char info[2048];
	bool cancelled;
};

static void kbdint_append_info(struct kbdint_conv *c, const char *text)
{
	size_t len = strlen(c->info);
	if (!text)
		return;
	snprintf(c->info + len, sizeof(c->info) - len, "%s%s", len ? "\n" : "", text);
}

/* One PAM round: text messages are kept and shown with the next prompts; the prompts go to
 * the network child, which relays them to the client and sends back the answers. */
static int kbdint_conversation(void *userdata, const struct auth_msg *msgs, size_t n,
			       char **answers)
{
	struct kbdint_conv *c = userdata;
	struct monitor *m = c->m;
	uint32_t n_prompts = 0;
	for (size_t i = 0; i < n; i++) {
		if (msgs[i].style == AUTH_PROMPT_ECHO_OFF || msgs[i].style == AUTH_PROMPT_ECHO_ON)
			n_prompts++;
		else
			kbdint_append_info(c, msgs[i].text);
	}
	if (n_prompts == 0)
		return 0;

	static struct wire_msg msg;
	wire_init(&msg, WIRE_ANS_KBDINT_PROMPTS);
	wire_put_str(&msg, c->info);
	wire_put_u32(&msg, n_prompts);
	for (size_t i = 0; i < n; i++) {
		if (msgs[i].style != AUTH_PROMPT_ECHO_OFF && msgs[i].style != AUTH_PROMPT_ECHO_ON)
			continue;
		wire_put_str(&msg, msgs[i].text ? msgs[i].text : "");
		wire_put_u32(&msg, msgs[i].style == AUTH_PROMPT_ECHO_ON);
	}
	c->info[0] = '\0';
	if (monitor_send(m, &msg) < 0)
		return -1;

	m->state = MONITOR_KBDINT;
	int r = wire_recv(m->sock, &msg);
	if (r == 0)
		r = monitor_request_permit(&m->requests, msg.type, m->state, NULL);
	m->state = MONITOR_PREAUTH;
	if (r < 0) {
		wire_close_fds(&msg);
		c->cancelled = true;
		return -1;
	}
	struct monitor_kbdint_answers a = {0};
	r = monitor_decode_kbdint_answers(&msg, &a);
	explicit_bzero(msg.buf, msg.len);
	if (r < 0 || a.cancelled || a.n != n_prompts) {
		/* The client gave up, sent the wrong number of answers or an oversized one. */
		monitor_kbdint_answers_done(&a);
		c->cancelled = r == 0;
		return -1;
	}
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (msgs[i].style != AUTH_PROMPT_ECHO_OFF && msgs[i].style != AUTH_PROMPT_ECHO_ON)
			continue;
		answers[i] = TAKE_PTR(a.answers[k]); /* a macro: no side effects in its argument */
		k++;
	}
	monitor_kbdint_answers_done(&a);
	return 0;
}

int monitor_auth_kbdint(struct monitor *m, struct wire_msg *req)
{
	uint64_t started = now_nsec();
	_cleanup_free_ char *user = NULL;
	int r = monitor_decode_kbdint_start(req, &user);
	if (r < 0)
		return -EBADMSG;
	r = auth_bind_user(m, user);
	if (r < 0)
		return r;
	sbx_error err = {0};
	struct kbdint_conv conv = {.m = m};
	r = auth_pam_run(m, m->cfg->kbd_interactive_authentication, kbdint_conversation, &conv,
			 &err);
	if (r == 0) {
		/* Account messages (password expiry warnings...) go the same way. */
		r = auth_pam_account(m->pam, &err);
		if (r < 0) {
			kbdint_append_info(&conv, err.msg);
			m->auth_failures++;
			auth_log(m, "keyboard-interactive", false, err.msg);
			auth_account_refused(m, err.msg);
			auth_pad_failure(started);
			return auth_answer(m, false, conv.info);
		}
		auth_log(m, "keyboard-interactive/pam", true, NULL);
		monitor_mark_authenticated(m);
		return auth_answer(m, true, conv.info[0] ? conv.info : NULL);
	}
	m->auth_failures++;
	/* What PAM told the client (pam_faillock's "account is locked") is on the trail too, on
	 * one line. */
	char said[sizeof(conv.info)];
	snprintf(said, sizeof(said), "%s", conv.info);
	for (char *p = said; *p; p++)
		if (*p == '\n')
			*p = ' ';
	auth_log(m, "keyboard-interactive/pam", false,
		 conv.cancelled ? "cancelled"
		 : said[0]	? said
				: NULL);
	if (!conv.cancelled)
		auth_pad_failure(started);
	/* PAM's own words (pam_faillock's "account locked") reach the client; never which of
	 * user or password was wrong. */
	return auth_answer(m, false, conv.info[0] ? conv.info : NULL);
}

static int pubkey_lookup(struct monitor *m, const char *type, const char *blob)
{
	if (!m->cfg->pubkey_authentication)
		return -EACCES;
	struct passwd *pw = m->auth_user_valid ? getpwnam(m->auth_user) : NULL;
	if (!pw)
		return -ENOENT;
	_cleanup_free_ char *path = NULL;
	int r = authorized_keys_path(m->cfg->authorized_keys_file, pw, &path);
	if (r < 0)
		return r;
	sbx_error err = {0};
	r = authorized_keys_match(path, pw, type, blob, &err);
	if (r < 0 && r != -ENOENT)
		log_warning("authorized keys of %s refused: %s", m->auth_user, err.msg);
	return r;
}

/* Decodes a public key request and binds its user. An oversized key is simply not one of the
 * user's keys (-ENOENT); a malformed request ends the connection. */
static int pubkey_read(struct monitor *m, struct wire_msg *req, struct monitor_pubkey_req *ret)
{
	int r = monitor_decode_pubkey(req, ret);
	if (r == -E2BIG || r == -EINVAL) {
		_cleanup_free_ char *user = NULL;
		/* The user is bound all the same, from the start of the message. */
		req->pos = 0;
		if (monitor_decode_user(req, &user) < 0)
			return -EBADMSG;
		r = auth_bind_user(m, user);
		return r < 0 ? r : -ENOENT;
	}
	if (r < 0)
		return r;
	r = auth_bind_user(m, ret->user);
	if (r < 0)
		monitor_pubkey_req_done(ret);
	return r;
}

int monitor_auth_pubkey_check(struct monitor *m, struct wire_msg *req)
{
	struct monitor_pubkey_req key = {0};
	int r = pubkey_read(m, req, &key);
	if (r < 0 && r != -ENOENT)
		return r;
	if (r == 0)
		r = pubkey_lookup(m, key.type, key.blob);
	monitor_pubkey_req_done(&key);
	if (r < 0)
		m->auth_failures++;
	static struct wire_msg ans;
	wire_init(&ans, WIRE_ANS_PUBKEY);
	wire_put_u32(&ans, r == 0 ? 0 : 1);
	wire_put_u32(&ans, r < 0 && m->auth_failures >= m->cfg->max_auth_tries);
	r = monitor_send(m, &ans);
	if (r == 0 && m->auth_failures >= m->cfg->max_auth_tries) {
		log_info("connection from %s: too many authentication failures for %s",
			 m->conn->remote_addr, m->auth_user);
		return -ECONNABORTED;
	}
	return r;
}

int monitor_auth_pubkey(struct monitor *m, struct wire_msg *req)
{
	uint64_t started = now_nsec();
	struct monitor_pubkey_req key = {0};
	int r = pubkey_read(m, req, &key);
	if (r < 0 && r != -ENOENT)
		return r;
	/* The network child verified the signature; the key is checked again here so a
	 * confused child cannot name a key the user never authorised. */
	if (r == 0)
		r = pubkey_lookup(m, key.type, key.blob);
	monitor_pubkey_req_done(&key);
	sbx_error err = {0};
	if (r == 0)
		r = auth_pam_ensure(m, &err);
	if (r < 0) {
		m->auth_failures++;
		auth_log(m, "publickey", false, NULL);
		auth_pad_failure(started);
		return auth_answer(m, false, NULL);
	}
	struct auth_password_conv conv = {.password = NULL};
	auth_pam_set_conv(m->pam, auth_password_conv, &conv);
	return auth_finish(m, "publickey", started, &conv);
}
