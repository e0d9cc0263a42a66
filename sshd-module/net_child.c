/* The network child: key exchange, authentication messages and channels, as an unprivileged
 * user in an empty chroot. Every privileged step is a request to the monitor. */
#include "config.h"

#include "sshd-module/net_child.h"

#include "common/cleanup.h"
#include "common/log.h"

#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libssh/server.h>

static __attribute__((noreturn)) void net_fatal(const char *what)
{
	log_error("network child: %s", what);
	_exit(1);
}

int net_monitor_call(struct net_child *net, struct wire_msg *req, uint32_t answer_type,
		     struct wire_msg *ret)
{
	int r = wire_send(net->mon, req);
	if (r < 0)
		net_fatal("the monitor is gone");
	for (;;) {
		r = wire_recv(net->mon, ret);
		if (r < 0)
			net_fatal("the monitor is gone");
		if (ret->type >= WIRE_EVT_CHANNEL_EXIT) {
			net_channel_handle_event(net, ret);
			continue;
		}
		if (ret->type != answer_type)
			net_fatal("unexpected answer from the monitor");
		return 0;
	}
}

/* The unprivileged user and its empty root are looked up and entered before any client byte
 * is parsed. */
static void net_drop_privileges(const struct sbx_config *cfg)
{
	struct passwd *pw = getpwnam(cfg->privsep_user);
	if (!pw)
		net_fatal("the privilege separation user does not exist");
	uid_t uid = pw->pw_uid;
	gid_t gid = pw->pw_gid;
	if (uid == 0)
		net_fatal("the privilege separation user must not be root");
	if (chroot(cfg->privsep_directory) < 0 || chdir("/") < 0)
		net_fatal("cannot chroot into the privilege separation directory");
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		net_fatal("cannot drop privileges");
	if (setuid(0) == 0)
		net_fatal("privileges could be regained");
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	/* Changing credentials cleared the parent-death signal: set it again. */
	pid_t monitor = getppid();
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != monitor || monitor == 1)
		_exit(1);
}

static void net_set_keepalive(const struct sbx_config *cfg, int sock)
{
	if (cfg->client_alive_interval == 0)
		return;
	/* The kernel notices a vanished peer even when libssh is idle. */
	int on = 1, idle = (int)cfg->client_alive_interval, cnt = (int)cfg->client_alive_count_max;
	if (setsockopt(sock, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)) < 0)
		return; /* not a TCP socket (inetd relay) */
	setsockopt(sock, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(sock, IPPROTO_TCP, TCP_KEEPINTVL, &idle, sizeof(idle));
	setsockopt(sock, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

/* A login is a dozen small request/reply round trips, and two delays of TCP would each hold
 * one of them for up to 40 ms (measured: a third of a login): Nagle's algorithm holding our
 * reply until the previous one is acknowledged, and the client's Nagle holding its second
 * back-to-back packet (KEXINIT then ECDH_INIT, NEWKEYS then SERVICE_REQUEST) until we
 * acknowledge the first, which a delayed ACK postpones. So no Nagle here, and the ACK of what
 * libssh read is pushed out before every wait (TCP_QUICKACK does not stay set). Both fail
 * harmlessly on the inetd relay's socketpair. */
static void net_socket_nodelay(int sock)
{
	int on = 1;
	setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

static void net_socket_push_ack(int sock)
{
	int on = 1;
	setsockopt(sock, IPPROTO_TCP, TCP_QUICKACK, &on, sizeof(on));
}

/* The key exchange, driven here rather than inside libssh so that ACKs are pushed between its
 * packets; libssh is put back into blocking mode afterwards. */
static int net_key_exchange(ssh_session session, int sock)
{
	ssh_set_blocking(session, 0);
	int r;
	while ((r = ssh_handle_key_exchange(session)) == SSH_AGAIN) {
		net_socket_push_ack(sock);
		short events = POLLIN;
		if (ssh_get_poll_flags(session) & SSH_WRITE_PENDING)
			events |= POLLOUT;
		struct pollfd p = {.fd = sock, .events = events};
		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			break;
	}
	ssh_set_blocking(session, 1);
	return r;
}

/* A PAM conversation left waiting in the monitor is ended before another method is tried. */
static void net_cancel_kbdint(struct net_child *net)
{
	if (!net->kbdint_pending)
		return;
	static struct wire_msg req, ans;
	wire_init(&req, WIRE_REQ_KBDINT_RESPONSE);
	wire_put_u32(&req, UINT32_MAX);
	net_monitor_call(net, &req, WIRE_ANS_AUTH, &ans);
	net->kbdint_pending = false;
}

static void net_show_banner(struct net_child *net, const char *text)
{
	if (!text || !*text)
		return;
	char buf[2048];
	snprintf(buf, sizeof(buf), "%s\r\n", text);
	ssh_string s = ssh_string_from_char(buf);
	if (s) {
		ssh_send_issue_banner(net->session, s);
		ssh_string_free(s);
	}
}

/* MaxAuthTries reached: sshd's words. */
#define NET_MAX_AUTH_TRIES_REASON "Too many authentication failures"

void net_hang_up(struct net_child *net, const char *reason)
{
	if (reason && *reason)
		ssh_session_set_disconnect_message(net->session, reason);
	net->hanging_up = true;
	net->done = true;
}

/* The answer to an authentication request. A connection being hung up gets none: a client
 * answers a failure with its next attempt (a new password prompt), and should hear the
 * disconnect and its reason instead, as from sshd. */
static void net_auth_reply(struct net_child *net, ssh_message msg, int result)
{
	if (net->hanging_up)
		return;
	if (result == SSH_AUTH_SUCCESS)
		ssh_message_auth_reply_success(msg, 0);
	else
		ssh_message_reply_default(msg);
}

/* After a successful authentication the monitor opens the PAM session; only then does the
 * client hear "success". A refusal (locked, too many sessions, a full host) hangs up with
 * the monitor's words. */
static int net_open_session(struct net_child *net)
{
	static struct wire_msg req, ans;
	wire_init(&req, WIRE_REQ_SESSION_OPEN);
	net_monitor_call(net, &req, WIRE_ANS_SESSION, &ans);
	uint32_t result = 1;
	_cleanup_free_ char *message = NULL;
	if (wire_get_u32(&ans, &result) < 0 || wire_get_str(&ans, &message) < 0)
		net_fatal("bad session answer");
	if (result != 0) {
		net_hang_up(net, message && *message ? message : "sandbox: login refused");
		return SSH_AUTH_DENIED;
	}
	net->authenticated = true;
	net->session_open = true;
	return SSH_AUTH_SUCCESS;
}

/* Reads WIRE_ANS_AUTH: result, message, disconnect (MaxAuthTries). */
static int net_auth_result(struct net_child *net, struct wire_msg *ans)
{
	uint32_t result = 1, disconnect = 0;
	_cleanup_free_ char *message = NULL;
	if (wire_get_u32(ans, &result) < 0 || wire_get_str(ans, &message) < 0 ||
	    wire_get_u32(ans, &disconnect) < 0)
		net_fatal("bad authentication answer");
	if (result == 0)
		return net_open_session(net);
	/* Only account refusals carry a message (PAM's own words); a wrong password and an
	 * unknown user carry none, so they look the same. */
	net_show_banner(net, message);
	if (disconnect)
		net_hang_up(net, NET_MAX_AUTH_TRIES_REASON);
	return SSH_AUTH_DENIED;
}

/* libssh 0.10 marks these accessors deprecated in favour of its server callbacks, whose
 * answer to a request cannot be withheld (net_auth_reply); 0.11 still has them. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static const char *net_msg_password(ssh_message msg)
{
	return ssh_message_auth_password(msg);
}

static ssh_key net_msg_pubkey(ssh_message msg)
{
	return ssh_message_auth_pubkey(msg);
}

static enum ssh_publickey_state_e net_msg_pubkey_state(ssh_message msg)
{
	return ssh_message_auth_publickey_state(msg);
}
#pragma GCC diagnostic pop

static void net_auth_password(struct net_child *net, ssh_message msg)
{
	net_cancel_kbdint(net);
	const char *user = ssh_message_auth_user(msg);
	const char *password = net_msg_password(msg);
	static struct wire_msg req, ans;
	wire_init(&req, WIRE_REQ_AUTH_PASSWORD);
	if (!user || !password || wire_put_str(&req, user) < 0 ||
	    wire_put_str(&req, password) < 0) {
		net_auth_reply(net, msg, SSH_AUTH_DENIED);
		return;
	}
	net_monitor_call(net, &req, WIRE_ANS_AUTH, &ans);
	explicit_bzero(req.buf, req.len);
	net_auth_reply(net, msg, net_auth_result(net, &ans));
}

static int net_auth_none(ssh_session session, const char *user, void *userdata)
{
	return SSH_AUTH_DENIED;
}

/* A public key: a probe ("would this key do?") is answered PK_OK or failure; a signed
 * request (signature checked by libssh) logs in. */
static void net_auth_pubkey(struct net_child *net, ssh_message msg)
{
	net_cancel_kbdint(net);
	const char *user = ssh_message_auth_user(msg);
	ssh_key pubkey = net_msg_pubkey(msg);
	enum ssh_publickey_state_e state = net_msg_pubkey_state(msg);
	if (!user || !pubkey ||
	    (state != SSH_PUBLICKEY_STATE_NONE && state != SSH_PUBLICKEY_STATE_VALID)) {
		net_auth_reply(net, msg, SSH_AUTH_DENIED);
		return;
	}
	const char *type = ssh_key_type_to_char(ssh_key_type(pubkey));
	_cleanup_free_ char *blob = NULL;
	static struct wire_msg req, ans;
	bool probe = state == SSH_PUBLICKEY_STATE_NONE;
	wire_init(&req, probe ? WIRE_REQ_PUBKEY_CHECK : WIRE_REQ_AUTH_PUBKEY);
	if (!type || ssh_pki_export_pubkey_base64(pubkey, &blob) != SSH_OK ||
	    wire_put_str(&req, user) < 0 || wire_put_str(&req, type) < 0 ||
	    wire_put_str(&req, blob) < 0) {
		net_auth_reply(net, msg, SSH_AUTH_DENIED);
		return;
	}
	net_monitor_call(net, &req, probe ? WIRE_ANS_PUBKEY : WIRE_ANS_AUTH, &ans);
	if (!probe) {
		net_auth_reply(net, msg, net_auth_result(net, &ans));
		return;
	}
	uint32_t result = 1, disconnect = 0;
	if (wire_get_u32(&ans, &result) < 0 || wire_get_u32(&ans, &disconnect) < 0)
		net_fatal("bad public key answer");
	if (disconnect)
		net_hang_up(net, NET_MAX_AUTH_TRIES_REASON);
	if (result == 0 && !net->hanging_up)
		ssh_message_auth_reply_pk_ok_simple(msg);
	else
		net_auth_reply(net, msg, SSH_AUTH_DENIED);
}

/* The monitor answered a kbdint step: more prompts, or the outcome. */
static void net_kbdint_answer(struct net_child *net, ssh_message msg, struct wire_msg *ans)
{
	if (ans->type == WIRE_ANS_KBDINT_PROMPTS) {
		_cleanup_free_ char *instruction = NULL;
		uint32_t n = 0;
		if (wire_get_str(ans, &instruction) < 0 || wire_get_u32(ans, &n) < 0 || n == 0 ||
		    n > 32)
			net_fatal("bad prompts from the monitor");
		char *prompts[32] = {0};
		char echo[32] = {0};
		for (uint32_t i = 0; i < n; i++) {
			uint32_t e = 0;
			if (wire_get_str(ans, &prompts[i]) < 0 || !prompts[i] ||
			    wire_get_u32(ans, &e) < 0)
				net_fatal("bad prompts from the monitor");
			echo[i] = (char)(e != 0);
		}
		net->kbdint_pending = true;
		ssh_message_auth_interactive_request(msg, "", instruction ? instruction : "", n,
						     (const char **)prompts, echo);
		for (uint32_t i = 0; i < n; i++)
			free(prompts[i]);
		return;
	}
	net->kbdint_pending = false;
	net_auth_reply(net, msg, net_auth_result(net, ans));
}

static int net_read_kbdint_answer(struct net_child *net, struct wire_msg *ans)
{
	for (;;) {
		if (wire_recv(net->mon, ans) < 0)
			net_fatal("the monitor is gone");
		if (ans->type == WIRE_ANS_KBDINT_PROMPTS || ans->type == WIRE_ANS_AUTH)
			return 0;
		net_fatal("unexpected answer from the monitor");
	}
}

/* Returns 1 to have libssh refuse the request, 0 when answered here. */
static int net_auth_kbdint(struct net_child *net, ssh_message msg)
{
	if (!net->cfg->kbd_interactive_authentication)
		return 1;
	static struct wire_msg req, ans;
	if (!ssh_message_auth_kbdint_is_response(msg)) {
		net_cancel_kbdint(net);
		wire_init(&req, WIRE_REQ_KBDINT_START);
		wire_put_str(&req, ssh_message_auth_user(msg));
	} else {
		if (!net->kbdint_pending)
			return 1;
		int n = ssh_userauth_kbdint_getnanswers(net->session);
		wire_init(&req, WIRE_REQ_KBDINT_RESPONSE);
		wire_put_u32(&req, n < 0 ? UINT32_MAX : (uint32_t)n);
		for (int i = 0; i < n; i++) {
			const char *a = ssh_userauth_kbdint_getanswer(net->session, (unsigned)i);
			if (wire_put_str(&req, a ? a : "") < 0)
				net_fatal("answer too long");
		}
	}
	if (wire_send(net->mon, &req) < 0)
		net_fatal("the monitor is gone");
	explicit_bzero(req.buf, req.len);
	net_read_kbdint_answer(net, &ans);
	net_kbdint_answer(net, msg, &ans);
	return 0;
}

/* Authentication requests are answered here rather than through libssh's server callbacks,
 * whose answer cannot be withheld (see net_auth_reply). Everything else (forwarding, agent,
 * X11, unknown requests) libssh refuses. */
static int net_on_message(ssh_session session, ssh_message msg, void *userdata)
{
	struct net_child *net = userdata;
	if (net->hanging_up)
		return 0; /* what a client sends after the refusal goes unanswered */
	if (ssh_message_type(msg) != SSH_REQUEST_AUTH)
		return 1;
	switch (ssh_message_subtype(msg)) {
	case SSH_AUTH_METHOD_PASSWORD:
		net_auth_password(net, msg);
		return 0;
	case SSH_AUTH_METHOD_PUBLICKEY:
		net_auth_pubkey(net, msg);
		return 0;
	case SSH_AUTH_METHOD_INTERACTIVE:
		return net_auth_kbdint(net, msg);
	default:
		return 1;
	}
}

static int net_auth_methods(const struct sbx_config *cfg)
{
	int methods = 0;
	if (cfg->password_authentication)
		methods |= SSH_AUTH_METHOD_PASSWORD;
	if (cfg->kbd_interactive_authentication)
		methods |= SSH_AUTH_METHOD_INTERACTIVE;
	if (cfg->pubkey_authentication)
		methods |= SSH_AUTH_METHOD_PUBLICKEY;
	return methods;
}

/* The idle clock lives in the monitor; it hears of channel I/O at most every few seconds. */
#define ACTIVITY_REPORT_SECONDS 5

static void net_report_activity(struct net_child *net)
{
	if (!net->activity || !net->session_open)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (ts.tv_sec - net->activity_reported < ACTIVITY_REPORT_SECONDS)
		return;
	static struct wire_msg req;
	wire_init(&req, WIRE_REQ_ACTIVITY);
	if (wire_send(net->mon, &req) < 0)
		net_fatal("the monitor is gone");
	net->activity = false;
	net->activity_reported = ts.tv_sec;
}

static void net_loop(struct net_child *net)
{
	int ssh_fd = ssh_get_fd(net->session);
	int timeout_ms =
	    net->cfg->client_alive_interval ? (int)net->cfg->client_alive_interval * 1000 : -1;
	while (!net->done) {
		/* libssh may hold bytes it already read (after the key exchange, or while a
		 * blocking write waited for window): handle them before sleeping on the socket. */
		if (ssh_event_dopoll(net->event, 0) == SSH_ERROR)
			break;
		if (net->done)
			break;
		struct pollfd pfd[2 + 3 * NET_MAX_CHANNELS];
		void *owner[2 + 3 * NET_MAX_CHANNELS];
		size_t n = 0;
		pfd[n] = (struct pollfd){.fd = ssh_fd, .events = POLLIN};
		owner[n++] = NULL;
		pfd[n] = (struct pollfd){.fd = net->mon, .events = POLLIN};
		owner[n++] = NULL;
		n = net_channels_pollfds(net, pfd, owner, n);
		net_socket_push_ack(ssh_fd);
		int r = poll(pfd, n, timeout_ms);
		if (r < 0 && errno != EINTR)
			net_fatal("poll failed");
		if (r == 0) {
			if (net->authenticated)
				ssh_send_keepalive(net->session);
			net_channels_service(net, pfd, owner, 0);
			net_report_activity(net);
			continue;
		}
		if (pfd[0].revents) {
			if (ssh_event_dopoll(net->event, 0) == SSH_ERROR)
				break;
		}
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			static struct wire_msg evt;
			if (wire_recv(net->mon, &evt) < 0)
				break;
			if (evt.type < WIRE_EVT_CHANNEL_EXIT)
				net_fatal("unexpected message from the monitor");
			net_channel_handle_event(net, &evt);
		}
		net_channels_service(net, pfd, owner, n);
		net_report_activity(net);
		if (ssh_get_status(net->session) & (SSH_CLOSED | SSH_CLOSED_ERROR))
			break;
		if (!ssh_is_connected(net->session))
			break;
	}
}

/* libssh writes a packet at once only if its last poll found the socket writable and nothing
 * was written since; otherwise the packet waits for the next poll, and ssh_disconnect closes
 * the socket right after queueing its DISCONNECT. So what is queued goes out first, the socket
 * is polled writable once more, and then the client hears the disconnect and its reason. A
 * client that reads nothing holds this for at most a few seconds. */
#define NET_CLOSE_FLUSH_MS 1000

static void net_close(struct net_child *net)
{
	if (ssh_is_connected(net->session)) {
		ssh_blocking_flush(net->session, NET_CLOSE_FLUSH_MS);
		for (int i = 0; i < 3 && (ssh_get_poll_flags(net->session) & SSH_WRITE_PENDING);
		     i++)
			if (ssh_event_dopoll(net->event, NET_CLOSE_FLUSH_MS) != SSH_OK)
				break;
	}
	ssh_disconnect(net->session);
}

void net_child_run(const struct sbx_config *cfg, const struct hostkeys *keys, int sock, int mon)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, SIG_DFL);

	static struct net_child net;
	net.cfg = cfg;
	net.mon = mon;

	if (ssh_init() < 0)
		net_fatal("cannot initialise libssh");
	ssh_bind bind = ssh_bind_new();
	ssh_session session = ssh_new();
	if (!bind || !session)
		net_fatal("out of memory");
	bool no = false;
	ssh_bind_options_set(bind, SSH_BIND_OPTIONS_PROCESS_CONFIG, &no);
	for (size_t i = 0; i < keys->n; i++) {
		/* ssh_bind takes ownership of the key: this process's copy of it. */
		if (ssh_bind_options_set(bind, SSH_BIND_OPTIONS_IMPORT_KEY, keys->keys[i]) < 0)
			net_fatal("cannot use the host key");
	}
	if (cfg->log_level >= LOG_LEVEL_DEBUG) {
		int verbosity = SSH_LOG_PROTOCOL;
		ssh_bind_options_set(bind, SSH_BIND_OPTIONS_LOG_VERBOSITY, &verbosity);
	}
	net_set_keepalive(cfg, sock);
	net_socket_nodelay(sock);
	net_drop_privileges(cfg);

	if (ssh_bind_accept_fd(bind, session, sock) != SSH_OK)
		net_fatal(ssh_get_error(bind));
	net.session = session;
	ssh_set_auth_methods(session, net_auth_methods(cfg));
	net.server_cb = (struct ssh_server_callbacks_struct){
	    .userdata = &net,
	    .auth_none_function = net_auth_none,
	    .channel_open_request_session_function = net_channel_open,
	};
	ssh_callbacks_init(&net.server_cb);
	ssh_set_server_callbacks(session, &net.server_cb);
	ssh_set_message_callback(session, net_on_message, &net);

	if (net_key_exchange(session, sock) != SSH_OK) {
		log_debug("key exchange failed: %s", ssh_get_error(session));
		_exit(1);
	}
	net.event = ssh_event_new();
	if (!net.event || ssh_event_add_session(net.event, session) != SSH_OK)
		net_fatal("cannot set up the event loop");
	net_loop(&net);
	net_close(&net);
	_exit(0);
}
