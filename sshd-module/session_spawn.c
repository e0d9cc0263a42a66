#include "config.h"

#include "sshd-module/session_spawn.h"

#include "common/cleanup.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#define SFTP_SERVER_PATH "/usr/lib/openssh/sftp-server"

bool session_env_allowed(const char *name)
{
	return strcmp(name, "LANG") == 0 || strcmp(name, "TERM") == 0 ||
	       strncmp(name, "LC_", 3) == 0;
}

static int session_argv(struct monitor *m, const struct session_spawn_request *req,
			const char **argv, sbx_error *err)
{
	const char *runner = m->cfg->runner_path;
	switch (req->kind) {
	case SESSION_KIND_SHELL:
		argv[0] = runner;
		argv[1] = "--login";
		argv[2] = NULL;
		return 0;
	case SESSION_KIND_EXEC:
		argv[0] = runner;
		argv[1] = "--command";
		argv[2] = req->command ? req->command : "";
		argv[3] = NULL;
		return 0;
	case SESSION_KIND_SUBSYSTEM:
		if (req->command && strcmp(req->command, "sftp") == 0) {
			argv[0] = SFTP_SERVER_PATH;
			argv[1] = NULL;
			return 0;
		}
		return sbx_error_set(err, ENOTSUP, "subsystem %s is not available here",
				     req->command ? req->command : "(none)");
	}
	return sbx_error_set(err, EINVAL, "unknown channel kind");
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
	n = env_add(env, n, max, "SHELL", m->cfg->runner_path);
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

int session_signal(struct monitor *m, pid_t pid, int sig)
{
	/* The channel's program leads its own process group. */
	if (kill(-pid, sig) < 0 && kill(pid, sig) < 0)
		return -errno;
	return 0;
}

static int open_pty(unsigned short rows, unsigned short cols, uid_t uid, int *ret_master,
		    int *ret_slave, sbx_error *err)
{
	_cleanup_close_ int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		return sbx_error_errno(err, errno, "cannot allocate a terminal");
	if (grantpt(master) < 0 || unlockpt(master) < 0)
		return sbx_error_errno(err, errno, "cannot allocate a terminal");
	char name[128];
	if (ptsname_r(master, name, sizeof(name)) != 0)
		return sbx_error_errno(err, errno, "cannot allocate a terminal");
	int slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		return sbx_error_errno(err, errno, "cannot open %s", name);
	if (fchown(slave, uid, (gid_t)-1) < 0 || fchmod(slave, 0620) < 0) {
		close(slave);
		return sbx_error_errno(err, errno, "cannot hand %s to the user", name);
	}
	struct winsize ws = {.ws_row = rows ? rows : 24, .ws_col = cols ? cols : 80};
	ioctl(master, TIOCSWINSZ, &ws);
	*ret_slave = slave;
	*ret_master = TAKE_FD(master);
	return 0;
}

int session_spawn(struct monitor *m, const struct session_spawn_request *req,
		  struct session_spawn_result *ret, sbx_error *err)
{
	const char *argv[8];
	int r = session_argv(m, req, argv, err);
	if (r < 0)
		return r;
	char *env[64];
	session_build_env(m, req, env, ELEMENTSOF(env));

	int child_fds[3] = {-1, -1, -1};
	int parent_fds[3] = {-1, -1, -1};
	if (req->pty) {
		r = open_pty(req->rows, req->cols, m->user.uid, &parent_fds[0], &child_fds[0], err);
		if (r < 0)
			goto fail;
		child_fds[1] = child_fds[2] = child_fds[0];
	} else {
		for (int i = 0; i < 3; i++) {
			int p[2];
			if (pipe2(p, O_CLOEXEC) < 0) {
				r = sbx_error_errno(err, errno, "pipe");
				goto fail;
			}
			child_fds[i] = i == 0 ? p[0] : p[1];
			parent_fds[i] = i == 0 ? p[1] : p[0];
		}
	}

	pid_t pid = fork();
	if (pid < 0) {
		r = sbx_error_errno(err, errno, "fork");
		goto fail;
	}
	if (pid == 0) {
		setsid();
		if (req->pty)
			ioctl(child_fds[0], TIOCSCTTY, 0);
		for (int i = 0; i < 3; i++)
			if (dup2(child_fds[i], i) < 0)
				_exit(126);
		signal(SIGPIPE, SIG_DFL);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (setgroups((size_t)m->user.n_groups, m->user.groups) < 0 ||
		    setgid(m->user.gid) < 0 || setuid(m->user.uid) < 0 || setuid(0) == 0)
			_exit(126);
		if (chdir(m->user.home) < 0 && chdir("/") < 0)
			_exit(126);
		execve(argv[0], (char *const *)argv, env);
		dprintf(2, "sandboxd: cannot start %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	for (int i = 0; i < 3; i++)
		if (child_fds[i] >= 0 && (i == 0 || child_fds[i] != child_fds[0]))
			close(child_fds[i]);
	for (size_t i = 0; env[i]; i++)
		free(env[i]);
	ret->pid = pid;
	for (int i = 0; i < 3; i++)
		ret->fds[i] = parent_fds[i];
	return 0;
fail:
	for (size_t i = 0; env[i]; i++)
		free(env[i]);
	for (int i = 0; i < 3; i++) {
		if (child_fds[i] >= 0 && (i == 0 || child_fds[i] != child_fds[0]))
			close(child_fds[i]);
		if (parent_fds[i] >= 0)
			close(parent_fds[i]);
	}
	return r;
}
