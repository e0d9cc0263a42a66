#include "config.h"

#include "sshd-module/listener.h"

#include "common/cleanup.h"
#include "common/log.h"
#include "common/policy.h"
#include "common/sanitizer.h"
#include "jail/cgroup.h"
#include "jail/home.h"
#include "sshd-module/control.h"
#include "sshd-module/monitor.h"
#include "sshd-module/session_registry.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#define LISTENER_MAX_SOCKETS (CONFIG_MAX_LISTEN * 2)
#define LISTENER_MAX_CHILDREN 4096

struct child {
	pid_t pid;
	int startup_fd; /* read end; EOF once the connection authenticated or ended */
	char session_id[SESSION_ID_LEN + 1];
};

struct listener {
	const struct listener_params *params;
	struct sandbox_runtime *runtime;
	struct sbx_config cfg;
	struct hostkeys keys;
	int socks[LISTENER_MAX_SOCKETS];
	size_t n_socks;
	struct child children[LISTENER_MAX_CHILDREN];
	size_t n_children;
	unsigned startups;
	struct control *control; /* RuntimeDirectory/control.sock; NULL if it could not be opened */
};

int listener_load_config(const struct listener_params *p, struct sbx_config *ret, sbx_error *err)
{
	config_init(ret);
	int r = config_load_file(ret, p->config_path, err);
	for (size_t i = 0; r == 0 && i < p->n_options; i++)
		r = config_apply_option(ret, p->options[i], NULL, err);
	if (r == 0)
		r = config_finish(ret, err);
	if (r < 0)
		config_free(ret);
	return r;
}

void listener_new_session_id(char *buf, size_t size)
{
	unsigned char raw[SESSION_ID_LEN / 2];
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		abort();
	for (size_t i = 0; i < sizeof(raw) && 2 * i + 2 < size; i++)
		snprintf(buf + 2 * i, 3, "%02x", raw[i]);
}

static int listener_bind_one(struct listener *l, const char *host, int port, sbx_error *err)
{
	char service[16];
	snprintf(service, sizeof(service), "%d", port);
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	int gr = getaddrinfo(host, service, &hints, &res);
	if (gr != 0)
		return sbx_error_set(err, EINVAL, "ListenAddress %s: %s", host, gai_strerror(gr));
	int r = -EADDRNOTAVAIL;
	for (struct addrinfo *ai = res; ai && l->n_socks < LISTENER_MAX_SOCKETS; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			r = sbx_error_errno(err, errno, "socket for %s", host);
			continue;
		}
		int on = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0) {
			r = sbx_error_errno(err, errno, "cannot listen on %s port %d", host, port);
			close(fd);
			continue;
		}
		l->socks[l->n_socks++] = fd;
		log_info("listening on %s port %d", host, port);
		r = 0;
	}
	freeaddrinfo(res);
	return r;
}

static void listener_close_sockets(struct listener *l)
{
	for (size_t i = 0; i < l->n_socks; i++)
		close(l->socks[i]);
	l->n_socks = 0;
}

static int listener_bind(struct listener *l, sbx_error *err)
{
	int last = 0;
	for (size_t i = 0; i < l->cfg.n_listen; i++) {
		const struct config_listen *la = &l->cfg.listen[i];
		int r = listener_bind_one(l, la->host, la->port ? la->port : l->cfg.port, err);
		if (r < 0) {
			log_warning("%s", err->msg);
			last = r;
		}
	}
	return l->n_socks > 0 ? 0 : (last ? last : -EADDRNOTAVAIL);
}

/* OpenSSH's MaxStartups start:rate:full random early drop. */
static bool listener_should_drop(const struct listener *l)
{
	const struct sbx_config *c = &l->cfg;
	if (l->startups < c->max_startups_begin)
		return false;
	if (l->startups >= c->max_startups_full)
		return true;
	unsigned p = 100 - c->max_startups_rate;
	p *= l->startups - c->max_startups_begin;
	p /= c->max_startups_full - c->max_startups_begin;
	p += c->max_startups_rate;
	unsigned r;
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		return true;
	return r % 100 < p;
}

static void listener_status(struct listener *l)
{
	sd_notifyf(0, "STATUS=%zu connections, %u authenticating", l->n_children, l->startups);
}

static void listener_accept(struct listener *l, int lsock, int sfd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd = accept4(lsock, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	struct connection conn = {.fd = fd};
	char port[16] = "0";
	if (getnameinfo((struct sockaddr *)&ss, len, conn.remote_addr, sizeof(conn.remote_addr),
			port, sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(conn.remote_addr, sizeof(conn.remote_addr), "UNKNOWN");
	conn.remote_port = atoi(port);

	if (l->n_children >= LISTENER_MAX_CHILDREN || listener_should_drop(l)) {
		log_info("drop connection from %s port %d: %u authenticating (MaxStartups %u:%u:%u)",
			 conn.remote_addr, conn.remote_port, l->startups, l->cfg.max_startups_begin,
			 l->cfg.max_startups_rate, l->cfg.max_startups_full);
		char remote[96];
		snprintf(remote, sizeof(remote), "%s:%d", conn.remote_addr, conn.remote_port);
		audit_emitf(l->runtime->audit, AUDIT_CONNECTION_REFUSED, "SANDBOX_REMOTE", remote,
			    "SANDBOX_REASON", "MaxStartups", NULL);
		close(fd);
		return;
	}
	int sp[2];
	if (pipe2(sp, O_CLOEXEC) < 0) {
		close(fd);
		return;
	}
	listener_new_session_id(conn.session_id, sizeof(conn.session_id));
	pid_t pid = fork();
	if (pid < 0) {
		log_error("fork: %m");
		close(fd);
		close(sp[0]);
		close(sp[1]);
		return;
	}
	if (pid == 0) {
		/* The connection process: nothing of the listener stays with it. */
		close(sp[0]);
		close(sfd);
		for (size_t i = 0; i < l->n_socks; i++)
			close(l->socks[i]);
		for (size_t i = 0; i < l->n_children; i++)
			close(l->children[i].startup_fd);
		conn.startup_fd = sp[1];
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		log_info("connection from %s port %d (session %s)", conn.remote_addr,
			 conn.remote_port, conn.session_id);
		int status = monitor_run(&l->cfg, l->runtime, &l->keys, &conn);
		sanitizer_leak_check();
		_exit(status);
	}
	close(sp[1]);
	close(fd);
	char remote[96], child_pid[16];
	snprintf(remote, sizeof(remote), "%s:%d", conn.remote_addr, conn.remote_port);
	snprintf(child_pid, sizeof(child_pid), "%d", (int)pid);
	audit_emitf(l->runtime->audit, AUDIT_CONNECTION_ACCEPTED, "SANDBOX_SESSION",
		    conn.session_id, "SANDBOX_REMOTE", remote, "SANDBOX_PID", child_pid, NULL);
	struct child *c = &l->children[l->n_children++];
	c->pid = pid;
	c->startup_fd = sp[0];
	memcpy(c->session_id, conn.session_id, sizeof(c->session_id));
	l->startups++;
	listener_status(l);
}

static void listener_sweep_one(const char *user, const char *session_id, void *userdata)
{
	struct listener *l = userdata;
	struct cgroup_session *cg = NULL;
	sbx_error err = {0};
	int r = cgroup_session_open(l->runtime->cgroups, user, session_id, &cg, &err);
	if (r == 0)
		r = cgroup_session_destroy(cg, &err);
	cgroup_session_free(cg);
	if (r < 0 && r != -ENOENT)
		log_warning("sweeping session %s of %s: %s", session_id, user, err.msg);
	else
		log_info("swept session %s of %s, left by a connection that died", session_id, user);
}

/* Sessions whose monitor died without cleaning up (killed, crashed) lose their cgroup, and
 * with it every process still in it. Only this daemon's sessions (its RuntimeDirectory). */
static void listener_sweep(struct listener *l)
{
	int r = session_registry_sweep(l->cfg.runtime_directory, listener_sweep_one, l);
	if (r < 0)
		log_warning("sweeping orphaned sessions: %s", strerror(-r));
	sbx_error err = {0};
	if (r > 0 && home_sweep(l->cfg.runtime_directory, &err) < 0)
		log_warning("homes left mounted: %s", err.msg);
}

static void listener_reap(struct listener *l)
{
	int status;
	pid_t pid;
	bool died_badly = false;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (size_t i = 0; i < l->n_children; i++) {
			struct child *c = &l->children[i];
			if (c->pid != pid)
				continue;
			if (c->startup_fd >= 0) {
				close(c->startup_fd);
				l->startups--;
			}
			if (WIFSIGNALED(status)) {
				log_warning("connection process %d (session %s) killed by signal %d",
					    (int)pid, c->session_id, WTERMSIG(status));
				died_badly = true;
			}
			l->children[i] = l->children[--l->n_children];
			break;
		}
	}
	if (died_badly)
		listener_sweep(l);
	listener_status(l);
}

static void listener_startup_done(struct listener *l, size_t i)
{
	struct child *c = &l->children[i];
	close(c->startup_fd);
	c->startup_fd = -1;
	l->startups--;
	listener_status(l);
}

static int listener_reload(struct listener *l)
{
	sd_notify(0, "RELOADING=1");
	struct sbx_config cfg;
	sbx_error err = {0};
	int r = listener_load_config(l->params, &cfg, &err);
	struct hostkeys keys;
	if (r == 0) {
		r = hostkeys_load(&cfg, &keys, &err);
		if (r < 0)
			config_free(&cfg);
	}
	if (r < 0) {
		log_error("reload failed, keeping the running configuration: %s", err.msg);
		sd_notify(0, "READY=1\nSTATUS=reload failed; running configuration kept");
		return r;
	}
	config_free(&l->cfg);
	hostkeys_free(&l->keys);
	l->cfg = cfg;
	l->keys = keys;
	listener_close_sockets(l);
	if (listener_bind(l, &err) < 0)
		log_error("after reload: %s", err.msg);
	if (policy_store_reload(l->cfg.policy_directory, &l->runtime->policy, &err) < 0)
		log_error("policy not reloaded, the last valid policy stays in force: %s", err.msg);
	log_info("configuration reloaded from %s", l->params->config_path);
	if (audit_reopen(l->runtime->audit, &err) < 0)
		log_warning("audit trail: %s", err.msg);
	audit_emitf(l->runtime->audit, AUDIT_DAEMON_RELOAD, "SANDBOX_CONFIG",
		    l->params->config_path, NULL);
	sd_notify(0, "READY=1");
	listener_status(l);
	return 0;
}

static int listener_control_reload(void *userdata)
{
	return listener_reload(userdata);
}

static void listener_control(struct listener *l)
{
	const struct control_context ctx = {
	    .config = &l->cfg,
	    .config_path = l->params->config_path,
	    .cgroups = l->runtime->cgroups,
	    .audit = l->runtime->audit,
	    .policy = l->runtime->policy,
	    .reload = listener_control_reload,
	    .userdata = l,
	};
	control_accept_and_serve(l->control, &ctx);
}

static void listener_stop(struct listener *l)
{
	sd_notify(0, "STOPPING=1");
	listener_close_sockets(l);
	for (size_t i = 0; i < l->n_children; i++)
		kill(l->children[i].pid, SIGTERM);
	/* Monitors end their sessions and exit; stragglers are killed after a grace period. */
	for (int waited = 0; l->n_children > 0 && waited < 50; waited++) {
		usleep(100 * 1000);
		listener_reap(l);
	}
	for (size_t i = 0; i < l->n_children; i++)
		kill(l->children[i].pid, SIGKILL);
	while (l->n_children > 0 && waitpid(-1, NULL, 0) > 0)
		listener_reap(l);
	log_info("stopped");
	audit_emitf(l->runtime->audit, AUDIT_DAEMON_STOP, NULL);
	audit_flush(l->runtime->audit);
}

int listener_run(const struct listener_params *p, struct sandbox_runtime *runtime,
		 struct sbx_config *cfg, struct hostkeys *keys)
{
	static struct listener l;
	l.params = p;
	l.runtime = runtime;
	l.cfg = *cfg;
	l.keys = *keys;
	sbx_error err = {0};
	if (listener_bind(&l, &err) < 0) {
		log_error("%s", err.msg);
		return 1;
	}
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		log_error("signalfd: %m");
		return 1;
	}
	listener_sweep(&l);
	int swept = home_sweep(l.cfg.runtime_directory, &err);
	if (swept < 0)
		log_warning("homes left mounted by a crash: %s", err.msg);
	else if (swept > 0)
		log_info("unmounted %d home%s left by a crash", swept, swept == 1 ? "" : "s");
	char control_path[PATH_MAX];
	snprintf(control_path, sizeof(control_path), "%s/" CONTROL_SOCKET_NAME,
		 l.cfg.runtime_directory);
	if (control_open(control_path, &l.control, &err) < 0)
		log_error("control socket: %s; sandboxctl cannot reach this daemon", err.msg);
	char pid[16];
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	audit_emitf(l.runtime->audit, AUDIT_DAEMON_START, "SANDBOX_PID", pid, "SANDBOX_VERSION",
		    PACKAGE_VERSION, "SANDBOX_CONFIG", p->config_path, NULL);
	sd_notify(0, "READY=1");
	listener_status(&l);

	for (;;) {
		struct pollfd pfd[2 + LISTENER_MAX_SOCKETS + LISTENER_MAX_CHILDREN];
		size_t owner[LISTENER_MAX_CHILDREN];
		size_t n = 0, n_owned = 0;
		pfd[n++] = (struct pollfd){.fd = sfd, .events = POLLIN};
		for (size_t i = 0; i < l.n_socks; i++)
			pfd[n++] = (struct pollfd){.fd = l.socks[i], .events = POLLIN};
		size_t first_child = n;
		for (size_t i = 0; i < l.n_children; i++) {
			if (l.children[i].startup_fd < 0)
				continue;
			pfd[n++] = (struct pollfd){.fd = l.children[i].startup_fd, .events = POLLIN};
			owner[n_owned++] = i;
		}
		size_t control_at = n;
		if (l.control)
			pfd[n++] = (struct pollfd){.fd = control_fd(l.control), .events = POLLIN};
		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error("poll: %m");
			return 1;
		}
		for (size_t i = 0; i < n_owned; i++)
			if (pfd[first_child + i].revents)
				listener_startup_done(&l, owner[i]);
		if (l.control && pfd[control_at].revents)
			listener_control(&l);
		for (size_t i = 1; i < first_child; i++)
			if (pfd[i].revents & POLLIN)
				listener_accept(&l, pfd[i].fd, sfd);
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			bool stop = false, reload = false;
			while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
					stop = true;
				else if (si.ssi_signo == SIGHUP)
					reload = true;
			}
			listener_reap(&l);
			if (stop) {
				listener_stop(&l);
				break;
			}
			if (reload)
				listener_reload(&l);
		}
	}
	control_close(l.control);
	close(sfd);
	hostkeys_free(&l.keys);
	config_free(&l.cfg);
	return 0;
}
