#include "config.h"

#include "sshd-module/monitor.h"

#include "common/cleanup.h"
#include "common/log.h"
#include "sshd-module/net_child.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef int (*monitor_handler)(struct monitor *m, struct wire_msg *req);

/* Mechanism for each request; monitor_requests.c says when each is permitted. */
static const monitor_handler monitor_handlers[WIRE_REQ__MAX] = {
	[WIRE_REQ_AUTH_PASSWORD] = monitor_auth_password,
	[WIRE_REQ_KBDINT_START] = monitor_auth_kbdint,
	[WIRE_REQ_PUBKEY_CHECK] = monitor_auth_pubkey_check,
	[WIRE_REQ_AUTH_PUBKEY] = monitor_auth_pubkey,
	[WIRE_REQ_SESSION_OPEN] = monitor_session_open,
	[WIRE_REQ_CHANNEL_SPAWN] = monitor_channel_spawn,
	[WIRE_REQ_CHANNEL_SIGNAL] = monitor_channel_signal,
	[WIRE_REQ_CHANNEL_CLOSE] = monitor_channel_close,
	[WIRE_REQ_ACTIVITY] = monitor_activity,
	[WIRE_REQ_RECORD] = monitor_record,
};

/* Login grace: the deadline is checked against the clock, so a stray SIGALRM cannot end a
 * connection early; the alarm also ends a PAM conversation the client leaves hanging. */
static struct timespec monitor_grace_deadline;
static volatile sig_atomic_t monitor_grace_active;
static volatile pid_t monitor_net_pid;

static bool monitor_grace_expired(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return monitor_grace_active && (now.tv_sec > monitor_grace_deadline.tv_sec ||
					(now.tv_sec == monitor_grace_deadline.tv_sec &&
					 now.tv_nsec >= monitor_grace_deadline.tv_nsec));
}

static void monitor_on_alarm(int sig)
{
	static const char msg[] = "sandboxd: login grace time ran out\n";
	if (!monitor_grace_expired())
		return;
	if (monitor_net_pid > 0)
		kill(monitor_net_pid, SIGKILL);
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(MONITOR_EXIT_GRACE);
	_exit(MONITOR_EXIT_GRACE);
}

int monitor_send(struct monitor *m, struct wire_msg *msg)
{
	int r = wire_send(m->sock, msg);
	if (r < 0)
		log_debug("monitor: sending to the network child failed: %s", strerror(-r));
	return r;
}

uint64_t monitor_usec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

void monitor_timing(const struct monitor *m, const char *fmt, ...)
{
	if (!log_enabled(LOG_LEVEL_DEBUG))
		return;
	char line[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_debug("timing %s %s", m->conn->session_id, line);
}

void monitor_mark_authenticated(struct monitor *m)
{
	monitor_timing(m, "auth_done=%llu", (unsigned long long)monitor_usec());
	m->state = MONITOR_AUTHENTICATED;
	m->authenticated = true;
	monitor_grace_active = 0;
	alarm(0);
	/* Blocked before the listener hears of it: an eviction sent a moment earlier stays
	 * pending for good instead of ending a session that has just begun. */
	sigset_t evict;
	sigemptyset(&evict);
	sigaddset(&evict, MONITOR_EVICT_SIGNAL);
	sigprocmask(SIG_BLOCK, &evict, NULL);
	if (m->conn->startup_fd >= 0) {
		if (write(m->conn->startup_fd, "a", 1) != 1)
			log_warning("monitor: cannot tell the listener of the authentication: %m");
		close(m->conn->startup_fd);
		m->conn->startup_fd = -1;
	}
}

static int monitor_dispatch(struct monitor *m, struct wire_msg *req)
{
	const struct monitor_request_def *def = NULL;
	int r = monitor_request_permit(&m->requests, req->type, m->state, &def);
	if (r < 0) {
		/* A request out of its state means the network child is confused or compromised. */
		log_error("monitor: refused request %s (%u) in state %#x from %s",
			  monitor_request_name(req->type), req->type, m->state,
			  m->conn->remote_addr);
		m->protocol_violation = true;
		return r;
	}
	return monitor_handlers[req->type](m, req);
}

static int monitor_fork_net_child(struct monitor *m, const struct hostkeys *keys, int client_fd)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		return -e;
	}
	if (pid == 0) {
		close(sv[0]);
		/* Only the monitor may tell the listener that the client authenticated; and the
		 * listener counts the connection as authenticating until the pipe's last writer
		 * closes it, which must not be this child at the end of the session. */
		if (m->conn->startup_fd >= 0)
			close(m->conn->startup_fd);
		/* The network child never outlives its monitor. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(1);
		net_child_run(m->cfg, keys, client_fd, sv[1]);
	}
	close(sv[1]);
	m->sock = sv[0];
	m->net_pid = monitor_net_pid = pid;
	return 0;
}

/* What the connection earned, for the listener (enum monitor_exit). */
static int monitor_exit_status(const struct monitor *m, bool grace_ran_out)
{
	if (m->authenticated)
		return MONITOR_EXIT_OK;
	if (m->net_crashed || m->protocol_violation)
		return MONITOR_EXIT_CRASH;
	if (grace_ran_out)
		return MONITOR_EXIT_GRACE;
	if (m->auth_failures > 0)
		return MONITOR_EXIT_AUTHFAIL;
	return MONITOR_EXIT_NOAUTH;
}

/* The network child ended: by a signal the monitor did not send, it crashed (or was made to). */
static void monitor_net_child_ended(struct monitor *m, int ws, bool killed_by_us)
{
	m->net_pid = monitor_net_pid = -1;
	if (!WIFSIGNALED(ws) || (killed_by_us && WTERMSIG(ws) == SIGKILL))
		return;
	m->net_crashed = true;
	log_warning("connection from %s: network child killed by signal %d%s", m->conn->remote_addr,
		    WTERMSIG(ws), m->authenticated ? "" : " before authentication");
}

int monitor_run(const struct sbx_config *cfg, const struct sandbox_runtime *runtime,
		const struct hostkeys *keys, struct connection *conn)
{
	static struct monitor m;
	m = (struct monitor){
		.cfg = cfg,
		.runtime = runtime,
		.conn = conn,
		.sock = -1,
		.state = MONITOR_PREAUTH,
		.registry_fd = -1,
		.netns_fd = -1,
	};
	static struct wire_msg req;

	int client_fd = conn->fd;

	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

	int r = monitor_fork_net_child(&m, keys, client_fd);
	if (r < 0) {
		log_error("cannot start the network child: %s", strerror(-r));
		return MONITOR_EXIT_ERROR;
	}
	close(client_fd);

	struct sigaction sa = {.sa_handler = monitor_on_alarm};
	sigaction(SIGALRM, &sa, NULL);
	if (cfg->login_grace_time > 0) {
		clock_gettime(CLOCK_MONOTONIC, &monitor_grace_deadline);
		monitor_grace_deadline.tv_sec += cfg->login_grace_time;
		monitor_grace_active = 1;
		alarm(cfg->login_grace_time);
	}

	bool grace_ran_out = false;
	for (;;) {
		if (monitor_grace_expired()) {
			log_info("connection from %s: login grace time of %us ran out",
				 conn->remote_addr, cfg->login_grace_time);
			/* Said once: the alarm must not end the goodbye below. */
			monitor_grace_active = 0;
			alarm(0);
			grace_ran_out = true;
			break;
		}
		struct pollfd pfd[2 + MONITOR_MAX_CHANNELS * MONITOR_CHANNEL_FDS] = {
			{.fd = m.sock, .events = POLLIN},
			{.fd = sfd, .events = POLLIN},
		};
		size_t n = monitor_channel_pollfds(&m, pfd, 2);
		int next_clock = monitor_session_clocks(&m);
		if (m.ended_by)
			break;
		int timeout = monitor_grace_active ? 1000 : -1;
		if (next_clock >= 0 && (timeout < 0 || next_clock * 1000 < timeout))
			timeout = next_clock * 1000;
		if (poll(pfd, n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			log_error("poll: %m");
			break;
		}
		monitor_reap_channels(&m, pfd + 2, n - 2);
		if (pfd[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			bool stop = false;
			while (read(sfd, &si, sizeof(si)) == sizeof(si))
				stop |= si.ssi_signo == SIGTERM;
			if (stop) {
				static struct wire_msg bye;
				wire_init(&bye, WIRE_EVT_DISCONNECT);
				wire_put_str(&bye, "sandboxd: the host is shutting down; your session ends now");
				monitor_send(&m, &bye);
				break;
			}
			monitor_reap_exiting(&m);
			int ws;
			if (m.net_pid > 0 && waitpid(m.net_pid, &ws, WNOHANG) == m.net_pid) {
				monitor_net_child_ended(&m, ws, false);
				break;
			}
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			r = wire_recv(m.sock, &req);
			if (r == -EPIPE || r == -ECONNRESET)
				break; /* the client went away */
			if (r < 0) {
				log_error("monitor: bad message from the network child: %s",
					  strerror(-r));
				m.protocol_violation = true;
				break;
			}
			r = monitor_dispatch(&m, &req);
			wire_close_fds(&req);
			if (r < 0)
				break;
		}
	}

	monitor_session_end(&m);
	int ws;
	if (m.net_pid > 0 && waitpid(m.net_pid, &ws, WNOHANG) == m.net_pid)
		monitor_net_child_ended(&m, ws, false);
	if (m.net_pid > 0) {
		/* A moment for the network child to say goodbye to the client, no more. */
		struct pollfd p = {.fd = m.sock, .events = POLLIN};
		for (int i = 0; i < 10 && poll(&p, 1, 100) >= 0; i++) {
			if (p.revents & (POLLHUP | POLLERR))
				break;
			if (p.revents & POLLIN && wire_recv(m.sock, &req) < 0)
				break;
			wire_close_fds(&req);
		}
		/* A child that was already dying of its own signal keeps that signal as its
		 * status: only SIGKILL is ours. */
		kill(m.net_pid, SIGKILL);
		if (waitpid(m.net_pid, &ws, 0) == m.net_pid)
			monitor_net_child_ended(&m, ws, true);
	}
	if (m.sock >= 0)
		close(m.sock);
	if (sfd >= 0)
		close(sfd);
	return monitor_exit_status(&m, grace_ran_out);
}
