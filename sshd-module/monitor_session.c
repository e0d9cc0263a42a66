/* After authentication: the PAM session, one process per channel, signals, exits. */
#include "config.h"

#include "sshd-module/monitor.h"

#include "common/cleanup.h"
#include "common/log.h"
#include "sshd-module/monitor_decode.h"
#include "sshd-module/recording.h"
#include "sshd-module/session_registry.h"
#include "sshd-module/session_setup.h"
#include "sshd-module/scp_audit.h"
#include "sshd-module/sftp_log.h"
#include "sshd-module/session_spawn.h"
#include "common/policy.h"
#include "jail/cgroup.h"
#include "jail/home.h"
#include "jail/jail.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A recorded terminal keeps at most this much; the student's own output is the bulk of it. */
#define RECORDING_MAX_BYTES (10ull << 20)

static int session_recording_open(struct monitor *m, struct monitor_channel *c,
				  const struct session_spawn_request *sr);

enum { WARNED_SESSION = 1u << 0, WARNED_IDLE = 1u << 4 }; /* a bit per clock_warnings entry */

time_t monitor_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* The persistent home, from the configured backend, with the policy's disk quota. */
static int session_attach_home(struct monitor *m, const struct policy_effective *eff,
			       sbx_error *err)
{
	enum home_backend_kind kind;
	if (home_backend_parse(m->cfg->home_backend, &kind) < 0)
		return sbx_error_set(err, EINVAL, "HomeBackend %s", m->cfg->home_backend);
	struct home_params p = {
	    .user = m->user.name,
	    .uid = m->user.uid,
	    .gid = m->user.gid,
	    .host_home = m->user.home,
	    .quota_bytes = eff->value[POLICY_DISK],
	    .quota_inodes = eff->value[POLICY_INODES],
	    .state_dir = m->cfg->state_directory,
	    .runtime_dir = m->cfg->runtime_directory,
	};
	return home_attach(kind, &p, &m->home, err);
}

static int session_load_user(struct monitor *m, sbx_error *err)
{
	struct passwd *pw = getpwnam(m->auth_user);
	if (!pw)
		return sbx_error_set(err, ENOENT, "user %s vanished after authentication",
				     m->auth_user);
	m->user.name = strdup(pw->pw_name);
	m->user.home = strdup(pw->pw_dir);
	m->user.uid = pw->pw_uid;
	m->user.gid = pw->pw_gid;
	if (!m->user.name || !m->user.home)
		return -ENOMEM;
	int n = 64;
	for (int tries = 0; tries < 4; tries++) {
		gid_t *g = realloc(m->user.groups, sizeof(gid_t) * (size_t)n);
		if (!g)
			return -ENOMEM;
		m->user.groups = g;
		int want = n;
		if (getgrouplist(pw->pw_name, pw->pw_gid, g, &want) >= 0) {
			m->user.n_groups = want;
			return 0;
		}
		n = want > n ? want : n * 2;
	}
	return sbx_error_set(err, E2BIG, "too many groups for %s", m->auth_user);
}

static int session_answer(struct monitor *m, bool ok, const char *message)
{
	static struct wire_msg ans;
	wire_init(&ans, WIRE_ANS_SESSION);
	wire_put_u32(&ans, ok ? 0 : 1);
	wire_put_str(&ans, message);
	return monitor_send(m, &ans);
}

/* The user's limits: user, then course, then default, then built-in. A broken policy file
 * leaves the last valid policy in force. */
static int session_resolve_policy(struct monitor *m, struct policy_effective *eff, sbx_error *err)
{
	char **groups = NULL;
	/* The groups session_load_user got from NSS: a second getgrouplist costs as much again
	 * (NSS modules such as systemd's enumerate their databases for it). */
	int r = policy_group_names(m->user.groups, (size_t)m->user.n_groups, &groups, err);
	if (r == 0)
		r = policy_resolve(m->cfg->policy_directory, m->user.name,
				   (const char *const *)groups, eff, err);
	if (r < 0) {
		log_warning("policy for %s: %s; using the last valid policy", m->user.name,
			    err->msg);
		policy_store_resolve(m->runtime->policy, m->user.name, (const char *const *)groups,
				     eff);
	}
	policy_groups_free(groups);
	return 0;
}

/* Refusals a student should understand: locked by an admin, too many sessions of theirs, a
 * full host. *ret_reason is the trail's word for it. */
static const char *session_refusal(struct monitor *m, const struct policy_effective *eff, char *buf,
				   size_t size, const char **ret_reason)
{
	if (eff->value[POLICY_LOCKED]) {
		*ret_reason = "locked";
		return "sandbox: your account is locked by the course administrators; please "
		       "contact them";
	}
	uint64_t max = eff->value[POLICY_SESSIONS];
	int live = session_registry_count(m->cfg->runtime_directory, m->user.name);
	if (max != POLICY_UNLIMITED && live >= 0 && (uint64_t)live >= max) {
		*ret_reason = "sessions";
		snprintf(
		    buf, size,
		    "sandbox: you already have %d session%s open, the limit is %llu; close one "
		    "and try again",
		    live, live == 1 ? "" : "s", (unsigned long long)max);
		return buf;
	}
	if (m->cfg->max_logins > 0) {
		int all = session_registry_count(m->cfg->runtime_directory, NULL);
		if (all >= 0 && (unsigned)all >= m->cfg->max_logins) {
			*ret_reason = "host-full";
			log_warning("MaxLogins %u reached: login of %s refused", m->cfg->max_logins,
				    m->user.name);
			snprintf(
			    buf, size,
			    "sandbox: the host is full (%d sessions open); please try again in a "
			    "few minutes",
			    all);
			return buf;
		}
	}
	return NULL;
}

/* The first jail's network namespace, made meanwhile; without it that jail makes its own. */
static void session_keep_netns(struct monitor *m, struct session_netns *netns)
{
	sbx_error err = {0};
	int fd = session_netns_finish(netns, &err);
	if (fd < 0)
		log_warning("session %s: no network namespace made ahead: %s", m->conn->session_id,
			    err.msg);
	else
		m->netns_fd = fd;
}

int monitor_session_open(struct monitor *m, struct wire_msg *req)
{
	sbx_error err = {0};
	uint64_t t_begin = monitor_usec(), t_cgroup = 0, t_home = 0, t_done = 0;
	uint64_t t_user = 0, t_policy = 0, t_pam = 0;
	struct session_netns netns;
	session_netns_begin(&netns);
	int r = session_load_user(m, &err);
	t_user = monitor_usec();
	struct policy_effective eff;
	/* Counting sessions and adding this one happen under the host's lock (when MaxLogins is
	 * set) and the user's, so concurrent logins cannot all slip under a limit. */
	_cleanup_close_ int host_lock = -1, user_lock = -1;
	if (r == 0 && m->cfg->max_logins > 0)
		r = host_lock = session_registry_lock_host(m->cfg->runtime_directory, &err);
	if (r >= 0)
		r = user_lock =
		    session_registry_lock_user(m->cfg->runtime_directory, m->user.name, &err);
	if (r >= 0) {
		r = 0;
		session_resolve_policy(m, &eff, &err);
		char buf[256];
		const char *reason = NULL;
		const char *refusal = session_refusal(m, &eff, buf, sizeof(buf), &reason);
		if (refusal) {
			log_info("session for %s refused: %s", m->user.name, refusal);
			char remote[96];
			snprintf(remote, sizeof(remote), "%s:%d", m->conn->remote_addr,
				 m->conn->remote_port);
			audit_emitf(m->runtime->audit, AUDIT_ACCOUNT_REFUSED, "SANDBOX_USER",
				    m->user.name, "SANDBOX_SESSION", m->conn->session_id,
				    "SANDBOX_REMOTE", remote, "SANDBOX_REASON", reason, NULL);
			session_answer(m, false, refusal);
			session_keep_netns(m, &netns);
			return -EPERM;
		}
	}
	t_policy = monitor_usec();
	/* The session's record and cgroups are made on a thread while PAM opens its session
	 * (session_setup.c): neither needs the other, and each costs about a millisecond. */
	struct session_setup setup = {.runtime_dir = m->cfg->runtime_directory,
				      .cgroups = m->runtime->cgroups,
				      .limits = &m->limits.cgroup};
	bool setup_started = false;
	if (r == 0) {
		session_limits_default(&m->limits);
		session_limits_from_policy(&m->limits, &eff);
		session_limits_sources(&eff, m->limit_sources, sizeof(m->limit_sources));
		m->allow_processes = eff.value[POLICY_PROCESSES] != 0;
		m->record = eff.value[POLICY_RECORD] != 0;
		setup.rec = (struct session_record){.started = (long long)time(NULL),
						    .monitor_pid = getpid()};
		snprintf(setup.rec.session_id, sizeof(setup.rec.session_id), "%s",
			 m->conn->session_id);
		snprintf(setup.rec.user, sizeof(setup.rec.user), "%s", m->user.name);
		snprintf(setup.rec.remote, sizeof(setup.rec.remote), "%s", m->conn->remote_addr);
		t_cgroup = monitor_usec();
		session_setup_begin(&setup);
		setup_started = true;
	}
	bool pam_tried = r >= 0;
	if (r >= 0)
		r = auth_pam_setcred(m->pam, true, &err);
	if (r == 0) {
		m->pam_cred = true;
		r = auth_pam_open_session(m->pam, &err);
		m->pam_session_open = r == 0;
	}
	t_pam = monitor_usec();
	if (setup_started) {
		/* Always joined, so that a failed login still has its record and groups
		 * removed (monitor_session_end). */
		sbx_error setup_err = {0};
		int sr = session_setup_finish(&setup, &setup_err);
		m->registry_fd = setup.registry_fd;
		m->cgroup = setup.cgroup;
		if (sr < 0 && r >= 0) {
			r = sr;
			err = setup_err;
		}
	}
	session_keep_netns(m, &netns);
	t_home = monitor_usec();
	if ((!setup_started && r < 0) || (pam_tried && !m->pam_session_open)) {
		log_error("cannot open a session for %s: %s", m->auth_user, err.msg);
		session_answer(m, false, "the session could not be opened; please tell your admin");
		return r;
	}
	if (r >= 0) {
		r = session_attach_home(m, &eff, &err);
		t_done = monitor_usec();
	}
	if (r < 0 && err.code == EUCLEAN) {
		/* A damaged home image: the student is told plainly; nothing is reformatted. */
		log_error("session for %s refused: %s", m->user.name, err.msg);
		session_answer(
		    m, false,
		    "sandbox: your home could not be opened safely; your files are kept, "
		    "please tell your course admin");
		return r;
	}
	if (r < 0) {
		log_error("cannot set up the session of %s: %s", m->auth_user, err.msg);
		session_answer(m, false, "the session could not be set up; please tell your admin");
		return r;
	}
	m->session_started = m->last_activity = monitor_now();
	m->state = MONITOR_SESSION;
	char remote[96];
	snprintf(remote, sizeof(remote), "%s:%d", m->conn->remote_addr, m->conn->remote_port);
	audit_emitf(m->runtime->audit, AUDIT_SESSION_START, "SANDBOX_USER", m->user.name,
		    "SANDBOX_SESSION", m->conn->session_id, "SANDBOX_REMOTE", remote,
		    "SANDBOX_LIMITS", m->limit_sources, NULL);
	log_info("session %s opened for %s from %s", m->conn->session_id, m->user.name,
		 m->conn->remote_addr);
	r = session_answer(m, true, NULL);
	monitor_timing(
	    m,
	    "session_open begin=%llu end=%llu user_us=%llu policy_us=%llu "
	    "limits_us=%llu pam_us=%llu record_us=%llu cgroup_us=%llu netns_begin=%llu "
	    "netns_end=%llu wait_us=%llu home_us=%llu",
	    (unsigned long long)t_begin, (unsigned long long)monitor_usec(),
	    (unsigned long long)(t_user - t_begin), (unsigned long long)(t_policy - t_user),
	    (unsigned long long)(t_cgroup - t_policy), (unsigned long long)(t_pam - t_cgroup),
	    setup.record_us, setup.cgroup_us, netns.start_us, netns.end_us,
	    (unsigned long long)(t_home - t_pam), (unsigned long long)(t_done - t_home));
	return r;
}

static struct monitor_channel *channel_find(struct monitor *m, uint32_t id)
{
	for (size_t i = 0; i < MONITOR_MAX_CHANNELS; i++)
		if (m->channels[i].used && m->channels[i].id == id)
			return &m->channels[i];
	return NULL;
}

static int spawn_answer(struct monitor *m, uint32_t id, const char *error,
			const struct session_spawn_result *res, uint32_t record)
{
	static struct wire_msg ans;
	wire_init(&ans, WIRE_ANS_SPAWNED);
	wire_put_u32(&ans, id);
	wire_put_u32(&ans, error ? 1 : 0);
	wire_put_str(&ans, error);
	wire_put_u32(&ans, record);
	if (res)
		for (size_t i = 0; i < 3; i++)
			if (res->fds[i] >= 0)
				wire_put_fd(&ans, res->fds[i]);
	return monitor_send(m, &ans);
}

int monitor_channel_spawn(struct monitor *m, struct wire_msg *req)
{
	struct monitor_spawn_req q = {0};
	int r = monitor_decode_spawn(req, &q);
	if (r < 0)
		return r;
	if (q.refusal[0]) {
		log_info("session %s: channel %u refused: %s", m->conn->session_id, q.id,
			 q.refusal);
		r = spawn_answer(m, q.id, q.refusal, NULL, 0);
		monitor_spawn_req_done(&q);
		return r;
	}
	struct session_spawn_request sr = {
	    .kind = (enum session_kind)q.kind,
	    .command = q.command,
	    .pty = q.pty,
	    .term = q.term,
	    .rows = (unsigned short)q.rows,
	    .cols = (unsigned short)q.cols,
	    .client_env = (const char *const *)q.env,
	};
	uint32_t id = q.id;

	struct monitor_channel *slot = NULL;
	size_t live = 0;
	for (size_t i = 0; i < MONITOR_MAX_CHANNELS; i++) {
		if (m->channels[i].used)
			live++;
		else if (!slot)
			slot = &m->channels[i];
	}
	if (channel_find(m, id) || !slot || live >= m->cfg->max_sessions) {
		char why[160];
		snprintf(why, sizeof(why),
			 "sandbox: this connection already runs %zu programs, the limit is %u; "
			 "end one and try again",
			 live, m->cfg->max_sessions);
		r = spawn_answer(m, id, why, NULL, 0);
		goto out;
	}

	struct session_spawn_result res = {
	    .run = NULL, .report_fd = -1, .sftp_log_fd = -1, .scp = NULL, .fds = {-1, -1, -1}};
	sbx_error err = {0};
	static const char *const kinds[] = {"shell", "exec", "subsystem"};
	char chan[16];
	snprintf(chan, sizeof(chan), "%u", id);
	audit_emitf(m->runtime->audit, AUDIT_EXEC, "SANDBOX_USER", m->user.name, "SANDBOX_SESSION",
		    m->conn->session_id, "SANDBOX_CHANNEL", chan, "SANDBOX_KIND", kinds[sr.kind],
		    "SANDBOX_COMMAND", sr.command, NULL);
	uint64_t t_begin = monitor_usec();
	r = session_spawn(m, &sr, &res, &err);
	monitor_timing(m, "spawn begin=%llu end=%llu", (unsigned long long)t_begin,
		       (unsigned long long)monitor_usec());
	if (r < 0) {
		log_error("session %s: cannot start channel %u: %s", m->conn->session_id, id,
			  err.msg);
		r = spawn_answer(m, id, err.msg[0] ? err.msg : "cannot start the program", NULL, 0);
		goto out;
	}
	*slot = (struct monitor_channel){.used = true,
					 .id = id,
					 .terminal = sr.pty,
					 .run = res.run,
					 .sftp_fd = res.sftp_log_fd,
					 .scp = res.scp};
	if (slot->sftp_fd >= 0 && sftp_log_new(&slot->sftp_log) < 0) {
		close(slot->sftp_fd);
		slot->sftp_fd = -1;
	}
	runner_reports_init(&slot->reports, res.report_fd, m->runtime->audit, m->user.name);
	uint32_t record = 0;
	if (m->record && sr.pty && session_recording_open(m, slot, &sr) == 0)
		record = m->cfg->record_input ? 2 : 1;
	r = spawn_answer(m, id, NULL, &res, record);
	for (size_t i = 0; i < 3; i++)
		if (res.fds[i] >= 0)
			close(res.fds[i]);
out:
	monitor_spawn_req_done(&q);
	return r;
}

int monitor_channel_signal(struct monitor *m, struct wire_msg *req)
{
	uint32_t id, sig;
	if (monitor_decode_signal(req, &id, &sig) < 0)
		return -EBADMSG;
	static const int allowed[] = {SIGHUP,  SIGINT,	SIGQUIT, SIGTERM, SIGKILL,
				      SIGUSR1, SIGUSR2, SIGALRM, SIGABRT, SIGPIPE};
	bool ok = false;
	for (size_t i = 0; i < ELEMENTSOF(allowed); i++)
		ok |= allowed[i] == (int)sig;
	struct monitor_channel *c = channel_find(m, id);
	if (ok && c)
		session_signal(m, c, (int)sig);
	return 0;
}

int monitor_channel_close(struct monitor *m, struct wire_msg *req)
{
	uint32_t id;
	if (monitor_decode_channel(req, &id) < 0)
		return -EBADMSG;
	struct monitor_channel *c = channel_find(m, id);
	if (c)
		session_signal(m, c, SIGKILL);
	return 0;
}

/* Terminal channels of a recorded course: an asciicast per channel under StateDirectory. */
static int session_recording_open(struct monitor *m, struct monitor_channel *c,
				  const struct session_spawn_request *sr)
{
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/recordings", m->cfg->state_directory);
	if ((mkdir(m->cfg->state_directory, 0700) < 0 && errno != EEXIST) ||
	    (mkdir(dir, 0700) < 0 && errno != EEXIST)) {
		log_error("session %s: cannot create %s: %m", m->conn->session_id, dir);
		return -errno;
	}
	struct recording_params p = {
	    .dir = dir,
	    .session_id = m->conn->session_id,
	    .channel = c->id,
	    .cols = sr->cols ? sr->cols : 80,
	    .rows = sr->rows ? sr->rows : 24,
	    .term = sr->term,
	    .user = m->user.name,
	    .started_unix = (long long)time(NULL),
	    .max_bytes = RECORDING_MAX_BYTES,
	    .input = m->cfg->record_input,
	};
	sbx_error err = {0};
	int r = recording_open(&p, &c->rec, &err);
	if (r < 0)
		log_error("session %s: recording not started: %s", m->conn->session_id, err.msg);
	return r;
}

int monitor_record(struct monitor *m, struct wire_msg *req)
{
	struct monitor_record_req q;
	if (monitor_decode_record(req, &q) < 0)
		return -EBADMSG;
	struct recording *rec = NULL;
	struct monitor_channel *c = channel_find(m, q.id);
	if (c)
		rec = c->rec;
	for (size_t i = 0; !rec && i < MONITOR_MAX_CHANNELS; i++)
		if (m->ended_recs[i].rec && m->ended_recs[i].id == q.id)
			rec = m->ended_recs[i].rec;
	if (!rec)
		return 0; /* not recorded (or refused to open): nothing to keep */
	if (q.kind == 'o')
		recording_output(rec, q.data, q.len);
	else if (q.kind == 'i' && m->cfg->record_input)
		recording_input(rec, q.data, q.len);
	else if (q.kind == 'r') {
		char size[32];
		unsigned cols, rows;
		snprintf(size, sizeof(size), "%.*s", (int)(q.len < 31 ? q.len : 31), q.data);
		if (sscanf(size, "%ux%u", &cols, &rows) == 2 && cols <= INPUT_PTY_DIM_MAX &&
		    rows <= INPUT_PTY_DIM_MAX)
			recording_resize(rec, cols, rows);
	}
	return 0;
}

int monitor_activity(struct monitor *m, struct wire_msg *req)
{
	m->last_activity = monitor_now();
	m->warned &= ~(WARNED_IDLE * 0x7u); /* every idle warning may come again */
	return 0;
}

size_t monitor_channel_pollfds(struct monitor *m, struct pollfd *pfd, size_t n)
{
	for (size_t i = 0; i < MONITOR_MAX_CHANNELS; i++) {
		struct monitor_channel *c = &m->channels[i];
		if (!c->used)
			continue;
		pfd[n++] = (struct pollfd){.fd = jail_run_status_fd(c->run), .events = POLLIN};
		if (c->reports.fd >= 0)
			pfd[n++] = (struct pollfd){.fd = c->reports.fd, .events = POLLIN};
		if (c->sftp_fd >= 0)
			pfd[n++] = (struct pollfd){.fd = c->sftp_fd, .events = POLLIN};
	}
	return n;
}

struct file_op_ctx {
	struct monitor *m;
	struct monitor_channel *c;
};

static void channel_file_op(const struct sftp_file_op *op, void *userdata)
{
	struct file_op_ctx *ctx = userdata;
	char chan[16], bytes[32];
	snprintf(chan, sizeof(chan), "%u", ctx->c->id);
	snprintf(bytes, sizeof(bytes), "%llu", op->bytes);
	audit_emitf(ctx->m->runtime->audit, AUDIT_FILE_OP, "SANDBOX_USER", ctx->m->user.name,
		    "SANDBOX_SESSION", ctx->m->conn->session_id, "SANDBOX_CHANNEL", chan,
		    "SANDBOX_OP", op->op, "SANDBOX_PATH", op->path, "SANDBOX_TARGET_PATH",
		    op->target, "SANDBOX_BYTES", op->has_bytes ? bytes : NULL, "SANDBOX_RESULT",
		    op->result, "SANDBOX_DETAIL", op->detail, NULL);
}

/* Reads sftp-server's log records (one per message); false once it closed its end. */
static bool channel_read_sftp_log(struct monitor *m, struct monitor_channel *c)
{
	char buf[SFTP_LOG_LINE_MAX];
	ssize_t n = recv(c->sftp_fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	if (n == 0)
		return false;
	struct file_op_ctx ctx = {m, c};
	sftp_log_feed_record(c->sftp_log, buf, (size_t)n, channel_file_op, &ctx);
	return true;
}

static void channel_close_sftp_log(struct monitor *m, struct monitor_channel *c)
{
	if (c->sftp_fd < 0)
		return;
	for (int i = 0; i < 4096; i++) {
		char probe;
		if (recv(c->sftp_fd, &probe, 1, MSG_DONTWAIT | MSG_PEEK) <= 0 ||
		    !channel_read_sftp_log(m, c))
			break;
	}
	struct file_op_ctx ctx = {m, c};
	sftp_log_finish(c->sftp_log, channel_file_op, &ctx);
	sftp_log_free(c->sftp_log);
	c->sftp_log = NULL;
	close(c->sftp_fd);
	c->sftp_fd = -1;
}

static void channel_end_scp(struct monitor *m, struct monitor_channel *c)
{
	struct file_op_ctx ctx = {m, c};
	scp_audit_end(c->scp, channel_file_op, &ctx);
	c->scp = NULL;
}

static struct monitor_channel *channel_by_sftp_fd(struct monitor *m, int fd)
{
	for (size_t i = 0; i < MONITOR_MAX_CHANNELS; i++)
		if (m->channels[i].used && m->channels[i].sftp_fd == fd)
			return &m->channels[i];
	return NULL;
}

static struct monitor_channel *channel_by_report_fd(struct monitor *m, int fd)
{
	for (size_t i = 0; i < MONITOR_MAX_CHANNELS; i++)
		if (m->channels[i].used && m->channels[i].reports.fd == fd)
			return &m->channels[i];
	return NULL;
}

static struct monitor_channel *channel_by_status_fd(struct monitor *m, int fd)
{
	for (size_t i = 0; i < MONITOR_MAX_CHANNELS; i++)
		if (m->channels[i].used && jail_run_status_fd(m->channels[i].run) == fd)
			return &m->channels[i];
	return NULL;
}

/* Which limit ended (or touched) the program, from kernel-side evidence, and one plain line
 * for the student. Returns the limit's name, or "none". */
static const char *channel_limit(struct monitor *m, const struct jail_report *rep,
				 const struct cgroup_stats *before,
				 const struct cgroup_stats *after, char *line, size_t size,
				 char *evidence, size_t esize)
{
	line[0] = evidence[0] = '\0';
	if (rep->limit == JAIL_LIMIT_RUN_CPU) {
		snprintf(line, size, "sandbox: killed: CPU time limit of %us per run reached",
			 m->limits.jail.run_cpu_seconds);
		snprintf(evidence, esize, "RLIMIT_CPU %us, cpu used %.3fs",
			 m->limits.jail.run_cpu_seconds, rep->cpu_usec / 1e6);
		return "cpu";
	}
	if (rep->limit == JAIL_LIMIT_RUN_WALL) {
		snprintf(line, size, "sandbox: stopped: time limit of %us per run reached",
			 m->limits.jail.run_wall_seconds);
		snprintf(evidence, esize, "run wall clock %us, ran %.3fs",
			 m->limits.jail.run_wall_seconds, rep->wall_usec / 1e6);
		return "wall";
	}
	if (after->oom_kills > before->oom_kills) {
		snprintf(line, size, "sandbox: killed: memory limit %llu MiB reached",
			 (unsigned long long)(m->limits.cgroup.memory_max >> 20));
		snprintf(evidence, esize, "memory oom_kill %llu->%llu",
			 (unsigned long long)before->oom_kills,
			 (unsigned long long)after->oom_kills);
		return "oom";
	}
	if (after->pids_limit_hits > before->pids_limit_hits) {
		snprintf(line, size, "sandbox: note: the limit of %u processes was reached",
			 m->limits.cgroup.pids_max);
		snprintf(evidence, esize, "pids.events max %llu->%llu",
			 (unsigned long long)before->pids_limit_hits,
			 (unsigned long long)after->pids_limit_hits);
		return "pids";
	}
	return "none";
}

/* The disk quota, from the file system's own numbers: the home has no room left for the
 * student (free blocks above root's reserve, or inodes). */
static bool home_full(struct monitor *m, char *evidence, size_t size)
{
	struct statvfs st;
	if (!m->home || strcmp(m->cfg->home_backend, "directory") == 0 ||
	    statvfs(home_path(m->home), &st) < 0)
		return false;
	if (st.f_bavail > 0 && st.f_favail > 0)
		return false;
	snprintf(evidence, size, "home %s: %llu of %llu blocks and %llu of %llu inodes free",
		 m->cfg->home_backend, (unsigned long long)st.f_bavail,
		 (unsigned long long)st.f_blocks, (unsigned long long)st.f_favail,
		 (unsigned long long)st.f_files);
	return true;
}

static void session_keep_recording(struct monitor *m, struct monitor_channel *c)
{
	if (!c->rec)
		return;
	size_t slot = 0;
	for (size_t i = 0; i < MONITOR_MAX_CHANNELS; i++)
		if (!m->ended_recs[i].rec) {
			slot = i;
			break;
		}
	recording_close(m->ended_recs[slot].rec); /* when all are taken, the first one goes */
	m->ended_recs[slot].id = c->id;
	m->ended_recs[slot].rec = c->rec;
	c->rec = NULL;
}

/* The end is reported; init may still be tearing its namespaces down. */
static void session_park_exiting(struct monitor *m, struct jail_run *run)
{
	if (jail_run_reap(run)) {
		jail_run_free(run);
		return;
	}
	for (size_t i = 0; i < MONITOR_MAX_CHANNELS; i++)
		if (!m->exiting[i]) {
			m->exiting[i] = run;
			return;
		}
	jail_run_free(run); /* cannot happen (a slot per channel): wait for it here */
}

void monitor_reap_exiting(struct monitor *m)
{
	for (size_t i = 0; i < MONITOR_MAX_CHANNELS; i++)
		if (m->exiting[i] && jail_run_reap(m->exiting[i])) {
			jail_run_free(m->exiting[i]);
			m->exiting[i] = NULL;
		}
}

static void channel_finish(struct monitor *m, struct monitor_channel *c)
{
	uint64_t t_begin = monitor_usec();
	struct jail_report rep = {0};
	sbx_error err = {0};
	struct cgroup_stats after = {0};
	/* What the runner said last is read before its end is reported (bounded: untrusted). */
	for (int i = 0; i < 64 && runner_reports_read(&c->reports, m->conn->session_id, c->id) &&
			c->reports.fd >= 0 && c->reports.last_read > 0;
	     i++)
		;
	runner_reports_close(&c->reports, m->conn->session_id, c->id);
	channel_close_sftp_log(m, c);
	channel_end_scp(m, c);
	if (m->cgroup)
		cgroup_session_stats(m->cgroup, &after, NULL);
	uint64_t t_stats = monitor_usec();
	if (jail_run_finish(c->run, &rep, &err) < 0) {
		log_warning("session %s channel %u: %s", m->conn->session_id, c->id, err.msg);
		rep.exited = false;
		rep.signal = SIGKILL;
	}
	uint64_t t_finish = monitor_usec();
	char line[256], evidence[160], chan[16];
	const char *limit = channel_limit(m, &rep, &m->stats_mark, &after, line, sizeof(line),
					  evidence, sizeof(evidence));
	m->stats_mark = after;
	snprintf(chan, sizeof(chan), "%u", c->id);
	if (strcmp(limit, "none") == 0 && home_full(m, evidence, sizeof(evidence)))
		limit = "quota";
	if (strcmp(limit, "none") != 0)
		audit_emitf(m->runtime->audit, AUDIT_LIMIT_HIT, "SANDBOX_USER", m->user.name,
			    "SANDBOX_SESSION", m->conn->session_id, "SANDBOX_CHANNEL", chan,
			    "SANDBOX_LIMIT", limit, "SANDBOX_EVIDENCE", evidence, NULL);
	char code[16], cpu[32], wall[32], peak[32], ooms[32], pids[32], denials[16];
	snprintf(code, sizeof(code), "%d", rep.exited ? rep.exit_code : rep.signal);
	snprintf(cpu, sizeof(cpu), "%.3f", rep.cpu_usec / 1e6);
	snprintf(wall, sizeof(wall), "%.3f", rep.wall_usec / 1e6);
	snprintf(peak, sizeof(peak), "%llu", (unsigned long long)after.memory_peak);
	snprintf(ooms, sizeof(ooms), "%llu", (unsigned long long)after.oom_kills);
	snprintf(pids, sizeof(pids), "%llu", (unsigned long long)after.pids_limit_hits);
	snprintf(denials, sizeof(denials), "%u", rep.seccomp_denials);
	audit_emitf(m->runtime->audit, AUDIT_SESSION_REPORT, "SANDBOX_USER", m->user.name,
		    "SANDBOX_SESSION", m->conn->session_id, "SANDBOX_CHANNEL", chan, "SANDBOX_EXIT",
		    rep.exited ? code : NULL, "SANDBOX_SIGNAL",
		    rep.exited ? NULL : strsignal(rep.signal), "SANDBOX_CPU", cpu, "SANDBOX_WALL",
		    wall, "SANDBOX_PEAK_MEMORY", peak, "SANDBOX_OOM_KILLS", ooms,
		    "SANDBOX_PIDS_HITS", pids, "SANDBOX_SECCOMP_DENIALS", denials, "SANDBOX_LIMIT",
		    limit, NULL);
	uint64_t t_audit = monitor_usec();
	log_info("session %s channel %u ended: %s %d, wall %.3fs, cpu %.3fs, seccomp denials %u, "
		 "limit %s, peak memory %llu KiB, oom kills %llu, pids-limit hits %llu",
		 m->conn->session_id, c->id, rep.exited ? "exit" : "signal",
		 rep.exited ? rep.exit_code : rep.signal, rep.wall_usec / 1e6, rep.cpu_usec / 1e6,
		 rep.seccomp_denials, jail_limit_to_string(rep.limit),
		 (unsigned long long)(after.memory_peak >> 10), (unsigned long long)after.oom_kills,
		 (unsigned long long)after.pids_limit_hits);

	static struct wire_msg evt;
	wire_init(&evt, WIRE_EVT_CHANNEL_EXIT);
	wire_put_u32(&evt, c->id);
	wire_put_u32(&evt, rep.exited ? 1 : 0);
	wire_put_u32(&evt, rep.exited ? (uint32_t)rep.exit_code : (uint32_t)rep.signal);
	wire_put_str(&evt, line[0] ? line : NULL);
	monitor_send(m, &evt);
	uint64_t t_sent = monitor_usec();
	session_park_exiting(m, c->run);
	session_keep_recording(m, c);
	monitor_timing(
	    m,
	    "channel_done channel=%u begin=%llu end=%llu payload_end=%llu report_sent=%llu "
	    "stats_us=%llu finish_us=%llu audit_us=%llu sent_us=%llu",
	    c->id, (unsigned long long)t_begin, (unsigned long long)monitor_usec(),
	    (unsigned long long)rep.ended_at, (unsigned long long)rep.sent_at,
	    (unsigned long long)(t_stats - t_begin), (unsigned long long)(t_finish - t_begin),
	    (unsigned long long)(t_audit - t_begin), (unsigned long long)(t_sent - t_begin));
	*c = (struct monitor_channel){0};
}

void monitor_reap_channels(struct monitor *m, const struct pollfd *pfd, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		struct monitor_channel *c = channel_by_sftp_fd(m, pfd[i].fd);
		if (c) {
			if (!channel_read_sftp_log(m, c))
				channel_close_sftp_log(m, c);
			continue;
		}
		c = channel_by_report_fd(m, pfd[i].fd);
		if (c) {
			if (!runner_reports_read(&c->reports, m->conn->session_id, c->id))
				runner_reports_close(&c->reports, m->conn->session_id, c->id);
			continue;
		}
		c = channel_by_status_fd(m, pfd[i].fd);
		if (c)
			channel_finish(m, c);
	}
}

static void session_tell_terminals(struct monitor *m, const char *text)
{
	for (size_t i = 0; i < MONITOR_MAX_CHANNELS; i++) {
		if (!m->channels[i].used || !m->channels[i].terminal)
			continue;
		static struct wire_msg evt;
		wire_init(&evt, WIRE_EVT_MESSAGE);
		wire_put_u32(&evt, m->channels[i].id);
		wire_put_str(&evt, text);
		monitor_send(m, &evt);
	}
}

/* Warnings come at these many seconds before a clock runs out (the last one also serves the
 * shortest limit policy allows, one minute). */
static const unsigned clock_warnings[] = {300, 60, 20};

static int clock_check(struct monitor *m, unsigned limit, time_t since, const char *what,
		       unsigned warned_base, const char **ret_end)
{
	if (!limit)
		return -1;
	time_t left = (time_t)limit - (monitor_now() - since);
	if (left <= 0) {
		*ret_end = what;
		return 0;
	}
	for (size_t i = 0; i < ELEMENTSOF(clock_warnings); i++) {
		unsigned bit = warned_base << i;
		if (left <= (time_t)clock_warnings[i] && !(m->warned & bit) &&
		    limit > clock_warnings[i]) {
			m->warned |= bit;
			char text[160];
			snprintf(text, sizeof(text),
				 "sandbox: %ld minute%s left before the %s ends",
				 (long)((left + 59) / 60), (left + 59) / 60 == 1 ? "" : "s",
				 strcmp(what, "idle") == 0 ? "idle session" : "session");
			session_tell_terminals(m, text);
		}
	}
	time_t next = left;
	for (size_t i = 0; i < ELEMENTSOF(clock_warnings); i++)
		if (left > (time_t)clock_warnings[i] && left - (time_t)clock_warnings[i] < next)
			next = left - (time_t)clock_warnings[i];
	return (int)(next > 0 ? next : 1);
}

int monitor_session_clocks(struct monitor *m)
{
	if (m->state != MONITOR_SESSION)
		return -1;
	const char *end = NULL;
	int a = clock_check(m, m->limits.session_seconds, m->session_started, "session",
			    WARNED_SESSION, &end);
	int b = end ? 0
		    : clock_check(m, m->limits.idle_seconds, m->last_activity, "idle", WARNED_IDLE,
				  &end);
	if (end) {
		m->ended_by = end;
		char text[160];
		snprintf(text, sizeof(text),
			 "sandbox: the %s time limit of %u minutes is over; "
			 "your session ends now (files in your home are kept)",
			 strcmp(end, "idle") == 0 ? "idle" : "session",
			 (strcmp(end, "idle") == 0 ? m->limits.idle_seconds
						   : m->limits.session_seconds) /
			     60);
		log_info("session %s of %s: %s time limit reached", m->conn->session_id,
			 m->user.name, end);
		char evidence[96];
		snprintf(evidence, sizeof(evidence), "%s clock %us",
			 strcmp(end, "idle") == 0 ? "idle" : "session wall",
			 strcmp(end, "idle") == 0 ? m->limits.idle_seconds
						  : m->limits.session_seconds);
		audit_emitf(m->runtime->audit, AUDIT_LIMIT_HIT, "SANDBOX_USER", m->user.name,
			    "SANDBOX_SESSION", m->conn->session_id, "SANDBOX_LIMIT",
			    strcmp(end, "idle") == 0 ? "idle" : "wall", "SANDBOX_EVIDENCE",
			    evidence, NULL);
		static struct wire_msg bye;
		wire_init(&bye, WIRE_EVT_DISCONNECT);
		wire_put_str(&bye, text);
		monitor_send(m, &bye);
		return 0;
	}
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

void monitor_session_end(struct monitor *m)
{
	uint64_t t_begin = monitor_usec(), t_home = 0, t_cgroup = 0, t_done = 0;
	for (size_t i = 0; i < MONITOR_MAX_CHANNELS; i++) {
		struct monitor_channel *c = &m->channels[i];
		if (c->used) {
			jail_run_free(c->run); /* kills what is left of the jail */
			recording_close(c->rec);
			channel_close_sftp_log(m, c);
			channel_end_scp(m, c);
			runner_reports_close(&c->reports, m->conn->session_id, c->id);
		}
		*c = (struct monitor_channel){0};
	}
	for (size_t i = 0; i < MONITOR_MAX_CHANNELS; i++) {
		recording_close(m->ended_recs[i].rec);
		m->ended_recs[i].rec = NULL;
		jail_run_free(m->exiting[i]); /* waits for an init still exiting */
		m->exiting[i] = NULL;
	}
	if (m->netns_fd >= 0) {
		close(m->netns_fd);
		m->netns_fd = -1;
	}
	t_home = monitor_usec();
	home_detach(m->home); /* after every jail is gone: the last session unmounts */
	m->home = NULL;
	t_cgroup = monitor_usec();
	if (m->cgroup) {
		sbx_error err = {0};
		if (cgroup_session_destroy(m->cgroup, &err) < 0)
			log_warning("session %s: %s", m->conn->session_id, err.msg);
		cgroup_session_free(m->cgroup);
		m->cgroup = NULL;
	}
	t_done = monitor_usec();
	if (m->registry_fd >= 0) {
		session_registry_remove(m->cfg->runtime_directory, m->conn->session_id,
					m->registry_fd);
		m->registry_fd = -1;
	}
	if (m->pam) {
		sbx_error err = {0};
		if (m->pam_session_open && auth_pam_close_session(m->pam, &err) < 0)
			log_warning("closing the PAM session of %s: %s", m->auth_user, err.msg);
		if (m->pam_cred)
			auth_pam_setcred(m->pam, false, &err);
		auth_pam_end(m->pam);
		m->pam = NULL;
	}
	if (m->state == MONITOR_SESSION) {
		log_info("session %s closed for %s", m->conn->session_id, m->user.name);
		monitor_timing(m, "session_end begin=%llu jails_us=%llu home_us=%llu cgroup_us=%llu "
			       "end=%llu", (unsigned long long)t_begin,
			       (unsigned long long)(t_home - t_begin),
			       (unsigned long long)(t_cgroup - t_home),
			       (unsigned long long)(t_done - t_cgroup),
			       (unsigned long long)monitor_usec());
	}
	audit_session_end(m->runtime->audit, m->conn->session_id);
	audit_flush(m->runtime->audit);
	free(m->auth_user);
	m->auth_user = NULL;
	free(m->user.name);
	free(m->user.home);
	free(m->user.groups);
	memset(&m->user, 0, sizeof(m->user));
}
