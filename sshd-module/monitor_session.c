/* After authentication: the PAM session, one process per channel, signals, exits. */
#include "config.h"

#include "sshd-module/monitor.h"

#include "common/cleanup.h"
#include "common/log.h"
#include "sshd-module/session_spawn.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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

int monitor_session_open(struct monitor *m, struct wire_msg *req)
{
	sbx_error err = {0};
	int r = session_load_user(m, &err);
	if (r == 0)
		r = auth_pam_setcred(m->pam, true, &err);
	if (r == 0) {
		m->pam_cred = true;
		r = auth_pam_open_session(m->pam, &err);
	}
	if (r < 0) {
		log_error("cannot open a session for %s: %s", m->auth_user, err.msg);
		session_answer(m, false, "the session could not be opened; please tell your admin");
		return r;
	}
	m->pam_session_open = true;
	m->state = MONITOR_SESSION;
	log_info("session %s opened for %s from %s", m->conn->session_id, m->user.name,
		 m->conn->remote_addr);
	return session_answer(m, true, NULL);
}

static struct monitor_channel *channel_find(struct monitor *m, uint32_t id)
{
	for (size_t i = 0; i < MONITOR_MAX_CHANNELS; i++)
		if (m->channels[i].used && m->channels[i].id == id)
			return &m->channels[i];
	return NULL;
}

static int spawn_answer(struct monitor *m, uint32_t id, const char *error,
			const struct session_spawn_result *res)
{
	static struct wire_msg ans;
	wire_init(&ans, WIRE_ANS_SPAWNED);
	wire_put_u32(&ans, id);
	wire_put_u32(&ans, error ? 1 : 0);
	wire_put_str(&ans, error);
	if (res)
		for (size_t i = 0; i < 3; i++)
			if (res->fds[i] >= 0)
				wire_put_fd(&ans, res->fds[i]);
	return monitor_send(m, &ans);
}

int monitor_channel_spawn(struct monitor *m, struct wire_msg *req)
{
	struct session_spawn_request sr = {0};
	uint32_t id, kind, pty, rows, cols, n_env;
	char *env[33] = {0};
	int r = -EBADMSG;
	if (wire_get_u32(req, &id) < 0 || wire_get_u32(req, &kind) < 0 ||
	    wire_get_str(req, &sr.command) < 0 || wire_get_u32(req, &pty) < 0 ||
	    wire_get_str(req, &sr.term) < 0 || wire_get_u32(req, &rows) < 0 ||
	    wire_get_u32(req, &cols) < 0 || wire_get_u32(req, &n_env) < 0 || n_env > 32 ||
	    kind > SESSION_KIND_SUBSYSTEM)
		goto out;
	for (uint32_t i = 0; i < n_env; i++)
		if (wire_get_str(req, &env[i]) < 0 || !env[i])
			goto out;
	sr.kind = (enum session_kind)kind;
	sr.pty = pty != 0;
	sr.rows = (unsigned short)rows;
	sr.cols = (unsigned short)cols;
	sr.client_env = (const char *const *)env;

	struct monitor_channel *slot = NULL;
	for (size_t i = 0; i < MONITOR_MAX_CHANNELS && !slot; i++)
		if (!m->channels[i].used)
			slot = &m->channels[i];
	if (channel_find(m, id) || !slot) {
		r = spawn_answer(m, id, "too many channels in this session", NULL);
		goto out;
	}

	struct session_spawn_result res = {.fds = {-1, -1, -1}};
	sbx_error err = {0};
	r = session_spawn(m, &sr, &res, &err);
	if (r < 0) {
		log_error("session %s: cannot start channel %u: %s", m->conn->session_id, id,
			  err.msg);
		r = spawn_answer(m, id, err.msg[0] ? err.msg : "cannot start the program", NULL);
		goto out;
	}
	*slot = (struct monitor_channel){.used = true, .id = id, .pid = res.pid};
	r = spawn_answer(m, id, NULL, &res);
	for (size_t i = 0; i < 3; i++)
		if (res.fds[i] >= 0)
			close(res.fds[i]);
out:
	free(sr.command);
	free(sr.term);
	for (size_t i = 0; i < 33; i++)
		free(env[i]);
	return r;
}

int monitor_channel_signal(struct monitor *m, struct wire_msg *req)
{
	uint32_t id, sig;
	if (wire_get_u32(req, &id) < 0 || wire_get_u32(req, &sig) < 0)
		return -EBADMSG;
	static const int allowed[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGKILL, SIGUSR1, SIGUSR2,
				      SIGALRM, SIGABRT, SIGPIPE};
	bool ok = false;
	for (size_t i = 0; i < ELEMENTSOF(allowed); i++)
		ok |= allowed[i] == (int)sig;
	struct monitor_channel *c = channel_find(m, id);
	if (ok && c && !c->exited)
		session_signal(m, c->pid, (int)sig);
	return 0;
}

int monitor_channel_close(struct monitor *m, struct wire_msg *req)
{
	uint32_t id;
	if (wire_get_u32(req, &id) < 0)
		return -EBADMSG;
	struct monitor_channel *c = channel_find(m, id);
	if (c && !c->exited)
		session_signal(m, c->pid, SIGKILL);
	return 0;
}

int monitor_activity(struct monitor *m, struct wire_msg *req)
{
	return 0;
}

void monitor_reap_channels(struct monitor *m)
{
	for (size_t i = 0; i < MONITOR_MAX_CHANNELS; i++) {
		struct monitor_channel *c = &m->channels[i];
		if (!c->used || c->exited)
			continue;
		int status;
		if (waitpid(c->pid, &status, WNOHANG) != c->pid)
			continue;
		c->exited = true;
		static struct wire_msg evt;
		wire_init(&evt, WIRE_EVT_CHANNEL_EXIT);
		wire_put_u32(&evt, c->id);
		wire_put_u32(&evt, WIFEXITED(status) ? 1 : 0);
		wire_put_u32(&evt, WIFEXITED(status) ? (uint32_t)WEXITSTATUS(status)
						     : (uint32_t)WTERMSIG(status));
		wire_put_str(&evt, NULL);
		monitor_send(m, &evt);
		c->used = false;
	}
}

void monitor_session_end(struct monitor *m)
{
	for (size_t i = 0; i < MONITOR_MAX_CHANNELS; i++) {
		struct monitor_channel *c = &m->channels[i];
		if (c->used && !c->exited) {
			session_signal(m, c->pid, SIGKILL);
			waitpid(c->pid, NULL, 0);
		}
		c->used = false;
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
	if (m->state == MONITOR_SESSION)
		log_info("session %s closed for %s", m->conn->session_id, m->user.name);
	free(m->auth_user);
	m->auth_user = NULL;
	free(m->user.name);
	free(m->user.home);
	free(m->user.groups);
	memset(&m->user, 0, sizeof(m->user));
}
