/* jail_spawn: the list of steps that turns a clone of the monitor into a jail, and the
 * monitor's handle on a running jail. Each step is a function with one job (ns.c, mounts.c,
 * rlimits.c, caps.c, seccomp.c, pty.c); init.c runs the jail once it is built. */
#include "config.h"

#include "jail/jail-internal.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"

struct jail_run {
	pid_t pid;	 /* init, host pid */
	int status_sock; /* init's reports */
	int pty_master;
	bool reported; /* jail_run_finish has read the end */
	bool reaped;
};

const char *jail_limit_to_string(enum jail_limit limit)
{
	switch (limit) {
	case JAIL_LIMIT_RUN_CPU:
		return "run-cpu";
	case JAIL_LIMIT_RUN_WALL:
		return "run-wall";
	case JAIL_LIMIT_NONE:
	default:
		return "none";
	}
}

/* Runs in the clone, as pid 1 of the new namespaces and still root. */
static _Noreturn void jail_child(const struct jail_spec *spec, int status_sock)
{
	sbx_error err = {0};
	struct jail_init_ctx ctx = {.spec = spec, .status_sock = status_sock, .pty_master = -1};
	const uint64_t tmp_bytes = spec->limits ? spec->limits->tmp_bytes : 0;
	char *root = NULL, *slave = NULL;
	sigset_t mask;

#define STEP(x)                                                                                    \
	do {                                                                                       \
		if ((x) < 0)                                                                       \
			jail_child_fail(status_sock, &err);                                        \
	} while (0)

	/* Signals for init stay pending until its signalfd reads them. */
	sigfillset(&mask);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);

	if (spec->netns_fd)
		STEP(jail_ns_join_net(*spec->netns_fd, &err));
	if (spec->join_cgroup)
		STEP(spec->join_cgroup(spec->join_cgroup_userdata, &err));
	STEP(jail_ns_enter_cgroup_ns(&err));
	STEP(jail_mount_root_dir(&root, &err));
	STEP(jail_mount_private_propagation(&err));
	STEP(jail_mount_root_tmpfs(root, &err));
	STEP(jail_mount_runtime(root, &err));
	STEP(jail_mount_hide_python_modules(root, &err));
	STEP(jail_mount_etc(root, spec, &err));
	STEP(jail_mount_dev(root, &err));
	STEP(jail_mount_proc(root, &err));
	STEP(jail_mount_tmp(root, tmp_bytes, &err));
	STEP(jail_mount_home(root, spec, &err));
	STEP(jail_mount_extra_binds(root, spec, &err));
	STEP(jail_mount_seal_root(root, &err));
	STEP(jail_mount_pivot(root, &err));
	STEP(jail_ns_set_hostname(spec->hostname, &err));
	if (!spec->netns_fd) /* one made ahead has its loopback up already */
		STEP(jail_ns_loopback_up(&err));
	if (spec->terminal)
		STEP(ctx.pty_master = jail_pty_open_master(spec->rows, spec->cols, &slave, &err));
	ctx.pty_slave = slave;
	/* init forks the payload (rlimits, capabilities, uid, seccomp, exec), then waits. */
	jail_init_run(&ctx);
#undef STEP
}

static int validate_spec(const struct jail_spec *spec, sbx_error *err)
{
	if (!spec->argv || !spec->argv[0] || spec->argv[0][0] != '/')
		return sbx_error_set(err, EINVAL, "the payload needs an absolute argv[0]");
	if (!spec->envp)
		return sbx_error_set(err, EINVAL, "the payload needs an environment");
	if (!spec->seccomp)
		return sbx_error_set(err, EINVAL, "a jail without seccomp filter is refused");
	if (spec->netns_fd && *spec->netns_fd < 0)
		return sbx_error_set(err, EINVAL, "invalid network namespace descriptor");
	if (!spec->user || spec->uid == 0 || spec->gid == 0)
		return sbx_error_set(err, EINVAL, "a jail needs a non-root user");
	if (geteuid() != 0)
		return sbx_error_set(err, EPERM, "building a jail needs root");
	return 0;
}

int jail_spawn(const struct jail_spec *spec, struct jail_run **ret, sbx_error *err)
{
	_cleanup_free_ struct jail_run *run = NULL;
	_cleanup_close_ int parent_end = -1;
	int pair[2], r, fd = -1;
	struct jail_msg msg;

	if ((r = validate_spec(spec, err)) < 0)
		return r;
	run = calloc(1, sizeof(*run));
	if (!run)
		return sbx_error_set(err, ENOMEM, "jail_run");
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
		return sbx_error_errno(err, errno, "socketpair");
	parent_end = pair[0];

	run->pid = jail_ns_clone(!spec->netns_fd);
	if (run->pid < 0) {
		close(pair[1]);
		return sbx_error_errno(err, errno, "clone");
	}
	if (run->pid == 0) {
		close(pair[0]);
		jail_child(spec, pair[1]);
	}
	close(pair[1]);

	ssize_t n = jail_msg_recv(parent_end, &msg, &fd);
	if (n <= 0 || msg.type != JAIL_MSG_READY) {
		if (fd >= 0)
			close(fd);
		kill(run->pid, SIGKILL);
		while (waitpid(run->pid, NULL, 0) < 0 && errno == EINTR)
			;
		if (n > 0 && msg.type == JAIL_MSG_ERROR) {
			if (err)
				*err = msg.err;
			return sbx_error_wrap(err, "jail");
		}
		return sbx_error_errno(err, n < 0 ? -n : ECHILD, "jail: init ended during set-up");
	}
	if (spec->terminal && fd < 0) {
		kill(run->pid, SIGKILL);
		waitpid(run->pid, NULL, 0);
		return sbx_error_set(err, EPROTO, "jail: no pty master received");
	}
	run->pty_master = fd;
	run->status_sock = TAKE_FD(parent_end);
	*ret = TAKE_PTR(run);
	return 0;
}

pid_t jail_run_pid(const struct jail_run *run)
{
	return run->pid;
}

int jail_run_take_pty_master(struct jail_run *run)
{
	return TAKE_FD(run->pty_master);
}

int jail_run_signal(struct jail_run *run, int sig)
{
	if (run->reaped || run->reported)
		return -ESRCH;
	return kill(run->pid, sig) < 0 ? -errno : 0;
}

int jail_run_status_fd(const struct jail_run *run)
{
	return run->status_sock;
}

/* Reaps init if it has exited (or, with wait, once it has); true once it is reaped. */
static bool run_reap(struct jail_run *run, bool wait, int *status)
{
	if (run->reaped)
		return true;
	for (;;) {
		pid_t p = waitpid(run->pid, status, wait ? 0 : WNOHANG);
		if (p == run->pid || (p < 0 && errno == ECHILD)) {
			run->reaped = true;
			return true;
		}
		if (p < 0 && errno == EINTR)
			continue;
		return false;
	}
}

int jail_run_finish(struct jail_run *run, struct jail_report *ret, sbx_error *err)
{
	struct jail_msg msg;
	int fd, status = 0;
	ssize_t n;

	if (run->reaped || run->reported)
		return sbx_error_set(err, EALREADY, "jail already finished");
	n = jail_msg_recv(run->status_sock, &msg, &fd);
	if (fd >= 0)
		close(fd);
	if (n > 0 && msg.type == JAIL_MSG_REPORT) {
		/* Init sends the report after it reaped every other process of the jail; what is
		 * left is its own exit (the namespaces' teardown, most of a millisecond): reaped
		 * here if already over, else by jail_run_reap later. */
		run->reported = true;
		run_reap(run, false, &status);
		*ret = msg.report;
		return 0;
	}
	/* Init died without a report (killed from outside): wait for it, report what killed it. */
	run_reap(run, true, &status);
	run->reported = true;
	memset(ret, 0, sizeof(*ret));
	ret->exited = WIFEXITED(status);
	ret->exit_code = ret->exited ? WEXITSTATUS(status) : -1;
	ret->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	ret->last_denied_syscall = -1;
	return 0;
}

bool jail_run_reap(struct jail_run *run)
{
	int status;
	return run_reap(run, false, &status);
}

void jail_run_free(struct jail_run *run)
{
	if (!run)
		return;
	if (!run->reaped) {
		/* Not reaped: the pid is still init's, whatever state it is in. */
		kill(run->pid, SIGKILL);
		int status;
		run_reap(run, true, &status);
	}
	if (run->status_sock >= 0)
		close(run->status_sock);
	if (run->pty_master >= 0)
		close(run->pty_master);
	free(run);
}
