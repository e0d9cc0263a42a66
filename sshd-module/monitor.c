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
		_exit(1);
	_exit(1);
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
	monitor_grace_active = 0;
	alarm(0);
	if (m->conn->startup_fd >= 0) {
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
		/* The listener counts this connection as authenticating until the startup pipe's
		 * last writer closes it: that must be the monitor, at authentication, not this
		 * child at the end of the session. */
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
		return 1;
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

	int status = 0;
	for (;;) {
		if (monitor_grace_expired()) {
			log_info("connection from %s: login grace time of %us ran out",
				 conn->remote_addr, cfg->login_grace_time);
			status = 1;
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
			status = 1;
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
			int ws;
			if (m.net_pid > 0 && waitpid(m.net_pid, &ws, WNOHANG) == m.net_pid) {
				m.net_pid = -1;
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
				status = 1;
				break;
			}
			r = monitor_dispatch(&m, &req);
			wire_close_fds(&req);
			if (r < 0) {
				status = 1;
				break;
			}
		}
	}

	monitor_session_end(&m);
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
		kill(m.net_pid, SIGKILL);
		waitpid(m.net_pid, NULL, 0);
	}
	if (m.sock >= 0)
		close(m.sock);
	if (sfd >= 0)
		close(sfd);
	return status;
}
