#include "config.h"

#include "sshd-module/session_spawn.h"

#include "common/cleanup.h"
#include "common/log.h"
#include "jail/cgroup.h"
#include "jail/home.h"
#include "sshd-module/command_words.h"
#include "sshd-module/scp_audit.h"
#include "jail/jail.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define SFTP_SERVER_PATH "/usr/lib/openssh/sftp-server"
#define SCP_PATH "/usr/bin/scp"
/* Where the runner appears inside every jail (bound read-only from RunnerPath). */
#define JAIL_RUNNER_PATH "/opt/sandboxd/sandbox-python"

bool session_env_allowed(const char *name)
{
	return strcmp(name, "LANG") == 0 || strcmp(name, "TERM") == 0 ||
	       strncmp(name, "LC_", 3) == 0;
}

/* Legacy scp (scp -O) asks for "scp -t DIR" or "scp -f FILE": OpenSSH's own scp serves it,
 * confined by the jail like everything else. */
static bool command_is_scp_server(char **words)
{
	if (!words[0] || strcmp(words[0], "scp") != 0)
		return false;
	for (size_t i = 1; words[i]; i++)
		if (strcmp(words[i], "-t") == 0 || strcmp(words[i], "-f") == 0)
			return true;
	return false;
}

/* argv for the channel's program; exec words are split here and never seen by a shell. */
static int session_argv(struct monitor *m, const struct session_spawn_request *req,
			char ***ret_argv, sbx_error *err)
{
	char **words = NULL;
	size_t n_words = 0;
	if (req->kind == SESSION_KIND_SUBSYSTEM) {
		if (!req->command || strcmp(req->command, "sftp") != 0)
			return sbx_error_set(err, ENOTSUP, "subsystem %s is not available here",
					     req->command ? req->command : "(none)");
	} else if (req->kind == SESSION_KIND_EXEC) {
		int r = command_words_split(req->command ? req->command : "", &words);
		if (r == -EINVAL)
			return sbx_error_set(err, EINVAL,
					     "sandbox: the command has an unclosed quote or a trailing "
					     "backslash");
		if (r < 0)
			return sbx_error_set(err, -r, "sandbox: the command is too long");
		while (words[n_words])
			n_words++;
	}
	char **argv = calloc(n_words + 6, sizeof(char *));
	if (!argv) {
		command_words_free(words);
		return -ENOMEM;
	}
	size_t k = 0;
	if (req->kind == SESSION_KIND_SUBSYSTEM) {
		/* Its transaction log goes to stderr, which the monitor reads (never the client). */
		argv[k++] = strdup(SFTP_SERVER_PATH);
		argv[k++] = strdup("-e");
		argv[k++] = strdup("-l");
		argv[k++] = strdup("VERBOSE");
	} else if (words && command_is_scp_server(words)) {
		argv[k++] = strdup(SCP_PATH);
		for (size_t i = 1; i < n_words; i++)
			argv[k++] = TAKE_PTR(words[i]);
	} else {
		argv[k++] = strdup(JAIL_RUNNER_PATH);
		if (m->allow_processes)
			argv[k++] = strdup("--allow-processes");
		argv[k++] = strdup(req->kind == SESSION_KIND_SHELL ? "--login" : "--");
		for (size_t i = 0; i < n_words; i++)
			argv[k++] = TAKE_PTR(words[i]);
	}
	command_words_free(words);
	for (size_t i = 0; i < k; i++)
		if (!argv[i]) {
			command_words_free(argv);
			return -ENOMEM;
		}
	*ret_argv = argv;
	return 0;
}

static size_t env_add(char **env, size_t n, size_t max, const char *name, const char *value)
{
	if (n + 1 >= max || !value)
		return n;
	if (asprintf(&env[n], "%s=%s", name, value) < 0)
		return n;
	return n + 1;
}

static void session_build_env(struct monitor *m, const struct session_spawn_request *req,
			      char **env, size_t max)
{
	size_t n = 0;
	n = env_add(env, n, max, "HOME", m->user.home);
	n = env_add(env, n, max, "USER", m->user.name);
	n = env_add(env, n, max, "LOGNAME", m->user.name);
	n = env_add(env, n, max, "PATH", "/usr/local/bin:/usr/bin:/bin");
	n = env_add(env, n, max, "SHELL", JAIL_RUNNER_PATH);
	char limits[256];
	session_limits_describe(&m->limits, limits, sizeof(limits));
	if (m->record && req->pty) {
		/* Students are told in the banner when their terminal is recorded. */
		size_t used = strlen(limits);
		snprintf(limits + used, sizeof(limits) - used, "; this terminal session is recorded");
		n = env_add(env, n, max, "SANDBOX_RECORDED", "1");
	}
	n = env_add(env, n, max, "SANDBOX_LIMITS", limits);
	if (m->limits.session_seconds) {
		char deadline[32];
		snprintf(deadline, sizeof(deadline), "%lld",
			 (long long)time(NULL) + (long long)m->limits.session_seconds -
				 (long long)(monitor_now() - m->session_started));
		n = env_add(env, n, max, "SANDBOX_DEADLINE", deadline);
	}
	n = env_add(env, n, max, "SANDBOX_USER", m->user.name);
	n = env_add(env, n, max, "SANDBOX_SESSION", m->conn->session_id);
	if (req->pty && req->term && *req->term)
		n = env_add(env, n, max, "TERM", req->term);
	for (size_t i = 0; req->client_env && req->client_env[i]; i++) {
		const char *eq = strchr(req->client_env[i], '=');
		if (!eq)
			continue;
		char name[64];
		size_t len = (size_t)(eq - req->client_env[i]);
		if (len >= sizeof(name))
			continue;
		memcpy(name, req->client_env[i], len);
		name[len] = '\0';
		if (session_env_allowed(name) && strcmp(name, "TERM") != 0)
			n = env_add(env, n, max, name, eq + 1);
	}
	env[n] = NULL;
}

int session_signal(struct monitor *m, struct monitor_channel *c, int sig)
{
	return jail_run_signal(c->run, sig);
}

static int join_session_cgroup(void *userdata, sbx_error *err)
{
	return cgroup_session_enter(userdata, err);
}

int session_spawn(struct monitor *m, const struct session_spawn_request *req,
		  struct session_spawn_result *ret, sbx_error *err)
{
	char **argv = NULL;
	int r = session_argv(m, req, &argv, err);
	if (r < 0)
		return r;
	char *env[64];
	session_build_env(m, req, env, ELEMENTSOF(env));

	/* Only a program run by exec has per-run clocks; a login shell and file transfers live
	 * as long as the session does. */
	struct jail_limits limits = m->limits.jail;
	if (req->kind != SESSION_KIND_EXEC) {
		limits.run_cpu_seconds = 0;
		limits.run_wall_seconds = 0;
	}
	int child_fds[3] = {-1, -1, -1};
	int parent_fds[3] = {-1, -1, -1};
	int report[2] = {-1, -1};
	if (strcmp(argv[0], JAIL_RUNNER_PATH) == 0 && pipe2(report, O_CLOEXEC | O_NONBLOCK) < 0) {
		r = sbx_error_errno(err, errno, "pipe");
		goto out;
	}
	int sftp_log[2] = {-1, -1};
	if (!req->pty) {
		for (int i = 0; i < 3; i++) {
			int p[2];
			if (pipe2(p, O_CLOEXEC) < 0) {
				r = sbx_error_errno(err, errno, "pipe");
				goto out;
			}
			child_fds[i] = i == 0 ? p[0] : p[1];
			parent_fds[i] = i == 0 ? p[1] : p[0];
		}
	}
	if (req->kind == SESSION_KIND_SUBSYSTEM && !req->pty) {
		/* One log record per message: a file name cannot split or forge a record. The
		 * client's stderr stays an empty pipe. */
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sftp_log) < 0) {
			r = sbx_error_errno(err, errno, "socketpair");
			goto out;
		}
		close(child_fds[2]);
		child_fds[2] = sftp_log[1];
		sftp_log[1] = -1;
	}
	const struct jail_bind binds[] = {
		{.source = m->cfg->runner_path, .target = JAIL_RUNNER_PATH},
	};
	struct jail_spec spec = {
		.user = m->user.name,
		.uid = m->user.uid,
		.gid = m->user.gid,
		.groups = m->user.groups,
		.n_groups = (size_t)m->user.n_groups,
		.home_source = home_path(m->home),
		.home_target = m->user.home,
		.hostname = "sandbox",
		.argv = (const char *const *)argv,
		.envp = (const char *const *)env,
		.stdio = {child_fds[0], child_fds[1], child_fds[2]},
		.terminal = req->pty,
		.rows = req->rows ? req->rows : 24,
		.cols = req->cols ? req->cols : 80,
		.extra_fd = report[1],
		.limits = &limits,
		.seccomp = m->runtime->seccomp,
		.join_cgroup = m->cgroup ? join_session_cgroup : NULL,
		.join_cgroup_userdata = m->cgroup,
		.binds = binds,
		.n_binds = ELEMENTSOF(binds),
		/* The namespace made while the session was set up serves one jail only. */
		.netns_fd = m->netns_fd >= 0 ? &m->netns_fd : NULL,
	};
	/* Legacy scp leaves no log: the home is looked at before it runs and after. */
	struct scp_audit *scp = NULL;
	if (strcmp(argv[0], SCP_PATH) == 0)
		scp_audit_begin(argv, home_path(m->home), m->user.home, &scp);
	struct jail_run *run = NULL;
	r = jail_spawn(&spec, &run, err);
	if (m->netns_fd >= 0) {
		close(m->netns_fd);
		m->netns_fd = -1;
	}
	if (r < 0) {
		scp_audit_end(scp, NULL, NULL);
		goto out;
	}
	ret->scp = scp;
	if (req->pty) {
		parent_fds[0] = jail_run_take_pty_master(run);
		if (parent_fds[0] < 0) {
			jail_run_free(run);
			r = sbx_error_set(err, EIO, "the jail gave no terminal");
			goto out;
		}
	}
	ret->run = run;
	ret->report_fd = report[0];
	report[0] = -1;
	ret->sftp_log_fd = sftp_log[0];
	sftp_log[0] = -1;
	for (int i = 0; i < 3; i++) {
		ret->fds[i] = parent_fds[i];
		parent_fds[i] = -1;
	}
out:
	for (int i = 0; i < 2; i++)
		if (sftp_log[i] >= 0)
			close(sftp_log[i]);
	if (report[0] >= 0)
		close(report[0]);
	if (report[1] >= 0)
		close(report[1]);
	command_words_free(argv);
	for (size_t i = 0; env[i]; i++)
		free(env[i]);
	for (int i = 0; i < 3; i++) {
		if (child_fds[i] >= 0)
			close(child_fds[i]);
		if (parent_fds[i] >= 0)
			close(parent_fds[i]);
	}
	return r;
}
