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
#include "sshd-module/refusal_log.h"
#include "sshd-module/session_registry.h"
#include "sshd-module/source_penalty.h"
#include "sshd-module/startups.h"

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
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#define LISTENER_MAX_SOCKETS (CONFIG_MAX_LISTEN * 2)
#define LISTENER_MAX_CHILDREN 4096

struct child {
	pid_t pid;
	/* Read end of the startup pipe: a byte once the connection authenticated, EOF when it
	 * ended without; -1 once either was read. */
	int startup_fd;
	bool authenticated;
	bool evicted;	       /* sent MONITOR_EVICT_SIGNAL to make room (startups.h) */
	bool have_addr;	       /* an IPv4 or IPv6 peer */
	bool exempt;	       /* PerSourcePenaltyExemptList */
	struct netblock addr;  /* the peer's address, /32 or /128 */
	struct netblock block; /* its PerSourceNetBlockSize block when it connected */
	uint64_t started_ms;
	char remote[96]; /* "address:port" */
	char session_id[SESSION_ID_LEN + 1];
};

/* Why the listener turned a connection away; the refusal log keys its records by it. */
enum listener_refusal {
	LISTENER_REFUSAL_MAX_STARTUPS,
	LISTENER_REFUSAL_PER_SOURCE,
	LISTENER_REFUSAL_PENALTY,
	LISTENER_REFUSAL_PENALTY_TABLE_FULL,
	LISTENER_REFUSAL_CONNECTION_LIMIT,
	LISTENER_REFUSAL_EVICTED,
};

/* SANDBOX_REASON of the connection-refused record. */
static const char *const listener_refusal_names[] = {
    [LISTENER_REFUSAL_MAX_STARTUPS] = "MaxStartups",
    [LISTENER_REFUSAL_PER_SOURCE] = "PerSourceMaxStartups",
    [LISTENER_REFUSAL_PENALTY] = "PerSourcePenalties",
    [LISTENER_REFUSAL_PENALTY_TABLE_FULL] = "penalty-table-full",
    [LISTENER_REFUSAL_CONNECTION_LIMIT] = "connection-limit",
    [LISTENER_REFUSAL_EVICTED] = "evicted",
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
	unsigned startups;	 /* children whose startup pipe is still open */
	struct control *control; /* RuntimeDirectory/control.sock; NULL if it could not be opened */
	struct source_penalties *penalties;
	struct refusal_log *refusals;
	struct startups_pending pending[LISTENER_MAX_CHILDREN]; /* scratch for startups_decide */
	size_t pending_child[LISTENER_MAX_CHILDREN];
	struct cgroup_warmer *warmer; /* keeps cgroup placement fast while logins arrive */
};

static uint64_t listener_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

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

static void listener_status(struct listener *l)
{
	size_t refused = 0;
	source_penalties_count(l->penalties, listener_now_ms(), &refused);
	sd_notifyf(0, "STATUS=%zu connections, %u authenticating, %zu source block%s penalised",
		   l->n_children, l->startups, refused, refused == 1 ? "" : "s");
}

/* Writes one refusal record (now or late, from the refusal log) to the log and the trail. */
static void listener_refusal_emit(void *userdata, const struct refusal_record *rec)
{
	struct listener *l = userdata;
	char count[32], block[NETBLOCK_STRLEN];

	snprintf(count, sizeof(count), "%llu", (unsigned long long)rec->suppressed);
	if (rec->untracked) {
		log_info("%s refused connections from blocks no longer tracked were not logged one "
			 "by one",
			 count);
		audit_emitf(l->runtime->audit, AUDIT_EVENTS_SUPPRESSED, "SANDBOX_SUPPRESSED_EVENT",
			    "connection-refused", "SANDBOX_COUNT", count, "SANDBOX_REASON",
			    "rate-limit", NULL);
		return;
	}
	netblock_format(&rec->block, block, sizeof(block));
	log_info("%s %s (block %s): %s%s%s%s",
		 rec->reason == LISTENER_REFUSAL_EVICTED
		     ? "closed the unauthenticated connection from"
		     : "refused connection from",
		 rec->remote, block, rec->detail, rec->suppressed ? " (and " : "",
		 rec->suppressed ? count : "",
		 rec->suppressed ? " more from this block not logged one by one)" : "");
	audit_emitf(l->runtime->audit, AUDIT_CONNECTION_REFUSED, "SANDBOX_REMOTE", rec->remote,
		    "SANDBOX_REASON", listener_refusal_names[rec->reason], "SANDBOX_BLOCK", block,
		    "SANDBOX_DETAIL", rec->detail, "SANDBOX_SUPPRESSED",
		    rec->suppressed ? count : NULL, NULL);
}

static void listener_refusal(struct listener *l, const struct netblock *block,
			     enum listener_refusal reason, const char *remote, const char *detail)
{
	struct refusal_record rec;
	if (refusal_log_note(l->refusals, block, reason, remote, detail, listener_now_ms(), &rec))
		listener_refusal_emit(l, &rec);
}

/* Closes a connection before anything was forked for it. sshd's words go first, for whoever
 * looks with nc; the ssh client only sees the connection close. */
static void listener_refuse(struct listener *l, int fd, const struct child *c,
			    enum listener_refusal reason, const char *detail)
{
	static const char exceeded[] = "Exceeded MaxStartups\r\n",
			  not_now[] = "Not allowed at this time\r\n";
	if (reason == LISTENER_REFUSAL_MAX_STARTUPS)
		(void)!send(fd, exceeded, sizeof(exceeded) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	else
		(void)!send(fd, not_now, sizeof(not_now) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	close(fd);
	listener_refusal(l, &c->block, reason, c->remote, detail);
}

/* The pending (unauthenticated, not evicted) connections, for startups_decide. */
static size_t listener_pending(struct listener *l)
{
	size_t n = 0;
	for (size_t i = 0; i < l->n_children; i++) {
		const struct child *c = &l->children[i];
		if (c->startup_fd < 0 || c->evicted)
			continue;
		l->pending[n] = (struct startups_pending){
		    .block = c->block, .started_ms = c->started_ms, .exempt = c->exempt};
		l->pending_child[n++] = i;
	}
	return n;
}

/* MaxStartups and PerSourceMaxStartups for a new connection: true to go on (after evicting a
 * pending connection if fairness asked for it), false when it was refused. */
static bool listener_admit(struct listener *l, int fd, const struct child *c)
{
	const struct sbx_config *cfg = &l->cfg;
	const struct startups_params p = {.begin = cfg->max_startups_begin,
					  .rate = cfg->max_startups_rate,
					  .full = cfg->max_startups_full,
					  .per_source =
					      c->have_addr ? cfg->per_source.max_startups : 0};
	char detail[REFUSAL_LOG_DETAIL_LEN], block[NETBLOCK_STRLEN];
	size_t n = listener_pending(l), victim = 0;
	unsigned random = 0;

	if (getrandom(&random, sizeof(random), 0) != sizeof(random))
		random = 0; /* no randomness: drop as if the dice said so */
	switch (startups_decide(&p, l->pending, n, &c->block, c->exempt, random % 100, &victim)) {
	case STARTUPS_ADMIT:
		return true;
	case STARTUPS_REFUSE_PER_SOURCE:
		netblock_format(&c->block, block, sizeof(block));
		snprintf(detail, sizeof(detail),
			 "PerSourceMaxStartups %u: %s already has that many unauthenticated",
			 p.per_source, block);
		listener_refuse(l, fd, c, LISTENER_REFUSAL_PER_SOURCE, detail);
		return false;
	case STARTUPS_REFUSE_FULL:
		snprintf(detail, sizeof(detail), "MaxStartups %u:%u:%u with %zu unauthenticated",
			 p.begin, p.rate, p.full, n);
		listener_refuse(l, fd, c, LISTENER_REFUSAL_MAX_STARTUPS, detail);
		return false;
	case STARTUPS_EVICT:
		break;
	}
	struct child *v = &l->children[l->pending_child[victim]];
	kill(v->pid, MONITOR_EVICT_SIGNAL);
	v->evicted = true;
	snprintf(
	    detail, sizeof(detail),
	    "MaxStartups %u:%u:%u with %zu unauthenticated: made room for %s, from a less busy "
	    "block",
	    p.begin, p.rate, p.full, n, c->remote);
	listener_refusal(l, &v->block, LISTENER_REFUSAL_EVICTED, v->remote, detail);
	return true;
}

/* PerSourcePenalties for a new connection: false when it was refused. */
static bool listener_penalty_allows(struct listener *l, int fd, const struct child *c)
{
	struct source_penalty_info info;
	char detail[REFUSAL_LOG_DETAIL_LEN];

	if (!c->have_addr)
		return true;
	switch (source_penalties_check(l->penalties, &c->addr, listener_now_ms(), &info)) {
	case SOURCE_PENALTY_ALLOW:
		return true;
	case SOURCE_PENALTY_REFUSE:
		snprintf(detail, sizeof(detail), "penalty: %s, %llus left",
			 source_penalty_kind_description(info.reason),
			 (unsigned long long)((info.left_ms + 999) / 1000));
		listener_refuse(l, fd, c, LISTENER_REFUSAL_PENALTY, detail);
		return false;
	case SOURCE_PENALTY_REFUSE_FULL:
		snprintf(detail, sizeof(detail),
			 "the %s penalty table is full (max-sources%c, overflow deny-all)",
			 c->addr.family == AF_INET ? "IPv4" : "IPv6",
			 c->addr.family == AF_INET ? '4' : '6');
		listener_refuse(l, fd, c, LISTENER_REFUSAL_PENALTY_TABLE_FULL, detail);
		return false;
	}
	return true;
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

	struct child c = {.startup_fd = -1, .started_ms = listener_now_ms()};
	const struct config_per_source *ps = &l->cfg.per_source;
	snprintf(c.remote, sizeof(c.remote), "%s:%d", conn.remote_addr, conn.remote_port);
	if (netblock_from_sockaddr((struct sockaddr *)&ss, len, 32, 128, &c.addr) == 0) {
		c.have_addr = true;
		c.block = netblock_mask(&c.addr,
					c.addr.family == AF_INET ? ps->netblock4 : ps->netblock6);
		c.exempt = source_penalties_exempt(l->penalties, &c.addr);
	}
	if (!listener_penalty_allows(l, fd, &c))
		return;
	if (l->n_children >= LISTENER_MAX_CHILDREN) {
		listener_refuse(l, fd, &c, LISTENER_REFUSAL_CONNECTION_LIMIT,
				"as many connections as the listener keeps");
		return;
	}
	if (!listener_admit(l, fd, &c))
		return;
	int sp[2];
	if (pipe2(sp, O_CLOEXEC | O_NONBLOCK) < 0) {
		close(fd);
		return;
	}
	listener_new_session_id(conn.session_id, sizeof(conn.session_id));
	/* Before the fork: the warmer's first write waits out the grace period while this
	 * connection does its key exchange and authentication. */
	cgroup_warmer_poke(l->runtime->cgroups, &l->warmer);
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
			if (l->children[i].startup_fd >= 0)
				close(l->children[i].startup_fd);
		cgroup_warmer_free(l->warmer); /* this process's copy only */
		l->warmer = NULL;
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
	char child_pid[16];
	snprintf(child_pid, sizeof(child_pid), "%d", (int)pid);
	audit_emitf(l->runtime->audit, AUDIT_CONNECTION_ACCEPTED, "SANDBOX_SESSION",
		    conn.session_id, "SANDBOX_REMOTE", c.remote, "SANDBOX_PID", child_pid, NULL);
	c.pid = pid;
	c.startup_fd = sp[0];
	memcpy(c.session_id, conn.session_id, sizeof(c.session_id));
	l->children[l->n_children++] = c;
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

/* Reads the startup pipe: a byte means the connection authenticated. Returns true once the
 * pipe is done with (byte or EOF) and closed. */
static bool listener_startup_read(struct listener *l, struct child *c)
{
	char b;
	ssize_t n = read(c->startup_fd, &b, 1);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return false;
	if (n == 1)
		c->authenticated = true;
	close(c->startup_fd);
	c->startup_fd = -1;
	l->startups--;
	return true;
}

/* A monitor killed by one of these crashed (OpenSSH's signal_is_crash). */
static bool listener_signal_is_crash(int sig)
{
	return sig == SIGSEGV || sig == SIGBUS || sig == SIGTRAP || sig == SIGSYS ||
	       sig == SIGFPE || sig == SIGILL || sig == SIGABRT;
}

/* The monitor's exit status (enum monitor_exit) as a penalty for the connection's source. */
static enum source_penalty_kind listener_penalty_of(const struct child *c, int status)
{
	if (!c->have_addr || c->authenticated || c->evicted)
		return SOURCE_PENALTY_NONE;
	if (WIFSIGNALED(status))
		return listener_signal_is_crash(WTERMSIG(status)) ? SOURCE_PENALTY_CRASH
								  : SOURCE_PENALTY_NONE;
	if (!WIFEXITED(status))
		return SOURCE_PENALTY_CRASH;
	switch (WEXITSTATUS(status)) {
	case MONITOR_EXIT_OK:
	case MONITOR_EXIT_ERROR:
		return SOURCE_PENALTY_NONE;
	case MONITOR_EXIT_AUTHFAIL:
		return SOURCE_PENALTY_AUTHFAIL;
	case MONITOR_EXIT_GRACE:
		return SOURCE_PENALTY_GRACE;
	case MONITOR_EXIT_CRASH:
		return SOURCE_PENALTY_CRASH;
	case MONITOR_EXIT_NOAUTH:
	default:
		return SOURCE_PENALTY_NOAUTH;
	}
}

static void listener_penalise(struct listener *l, const struct child *c, int status)
{
	enum source_penalty_kind kind = listener_penalty_of(c, status);
	struct source_penalty_info info;
	char block[NETBLOCK_STRLEN], seconds[32];

	if (kind == SOURCE_PENALTY_NONE)
		return;
	enum source_penalty_result r =
	    source_penalties_add(l->penalties, &c->addr, kind, listener_now_ms(), &info);
	if (r == SOURCE_PENALTY_DROPPED)
		log_debug("penalty for %s (%s) not recorded: the penalty table is full", c->remote,
			  source_penalty_kind_name(kind));
	if (r != SOURCE_PENALTY_ACTIVATED)
		return;
	netblock_format(&info.block, block, sizeof(block));
	snprintf(seconds, sizeof(seconds), "%llu",
		 (unsigned long long)((info.left_ms + 999) / 1000));
	log_info("source block %s penalised: refused for %ss (%s, last from %s, session %s)", block,
		 seconds, source_penalty_kind_description(kind), c->remote, c->session_id);
	audit_emitf(l->runtime->audit, AUDIT_SOURCE_PENALISED, "SANDBOX_BLOCK", block,
		    "SANDBOX_REASON", source_penalty_kind_name(kind), "SANDBOX_DURATION", seconds,
		    "SANDBOX_REMOTE", c->remote, "SANDBOX_SESSION", c->session_id, NULL);
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
				/* The monitor is gone: the pipe holds its last word, or EOF. */
				if (!listener_startup_read(l, c)) {
					close(c->startup_fd);
					c->startup_fd = -1;
					l->startups--;
				}
			}
			if (WIFSIGNALED(status) && !(c->evicted && !c->authenticated)) {
				log_warning("connection process %d (session %s) killed by signal %d",
					    (int)pid, c->session_id, WTERMSIG(status));
				died_badly = true;
			}
			listener_penalise(l, c, status);
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
	/* Authenticated (or gone): a jail is likely to be placed within a round trip or two. */
	cgroup_warmer_poke(l->runtime->cgroups, &l->warmer);
	if (listener_startup_read(l, &l->children[i]))
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
	/* Penalties earned so far stay: a reload is no way out of one. */
	if (source_penalties_configure(l->penalties, &l->cfg.per_source, listener_now_ms()) < 0)
		log_warning(
		    "after reload: some penalties could not be re-keyed and were forgotten");
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

static size_t listener_control_clear_penalties(void *userdata, const struct netblock *block)
{
	struct listener *l = userdata;
	size_t n = source_penalties_clear(l->penalties, block);
	listener_status(l);
	return n;
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
	    .penalties = l->penalties,
	    .clear_penalties = listener_control_clear_penalties,
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
	cgroup_warmer_free(l->warmer);
	l->warmer = NULL;
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
	if (source_penalties_new(&l.penalties) < 0 || refusal_log_new(&l.refusals) < 0 ||
	    source_penalties_configure(l.penalties, &l.cfg.per_source, listener_now_ms()) < 0) {
		log_error("cannot set up the per-source penalties: out of memory");
		return 1;
	}
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
		/* Late refusal records (a flood that stopped) are due after a while. */
		int64_t next =
		    refusal_log_flush(l.refusals, listener_now_ms(), listener_refusal_emit, &l);
		int timeout = next < 0 ? -1 : next > INT_MAX ? INT_MAX : (int)next;
		if (poll(pfd, n, timeout) < 0) {
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
	refusal_log_free(l.refusals);
	source_penalties_free(l.penalties);
	hostkeys_free(&l.keys);
	config_free(&l.cfg);
	return 0;
}
