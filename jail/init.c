/* The jail's init (pid 1 of the jail's pid namespace) and the payload it starts.
 *
 * Init forks the payload (so the student's program is never pid 1), drops every privilege,
 * then only waits: it reaps every process, forwards SIGTERM/SIGINT/SIGHUP/SIGQUIT/SIGWINCH to
 * the payload's process group, enforces the per-run wall clock, answers the payload's seccomp
 * notifications with EPERM while counting them, and finally sends the report to the monitor.
 *
 * Why init runs as the user without capabilities: it needs no privilege for any of its jobs
 * (kill(-1) reaches exactly the jail's processes, which all run as the user; the seccomp
 * listener needs none), and a compromised init would then hold nothing. The payload cannot
 * harm it: as pid 1 of the namespace it only receives signals it handles (all of which it
 * merely forwards), it is non-dumpable (no ptrace, no /proc/1/mem, and ptrace is denied by
 * seccomp anyway), and if it dies the kernel kills every process of the namespace. If the
 * monitor dies, init sees the status socket hang up (and gets PR_SET_PDEATHSIG) and kills the
 * jail. */
#include "config.h"

#include "jail/jail-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"

static const int forwarded_signals[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGWINCH};

static uint64_t now_usec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static uint64_t timeval_usec(const struct timeval *tv)
{
	return (uint64_t)tv->tv_sec * 1000000 + (uint64_t)tv->tv_usec;
}

/* Moves fds 0-2 (and 3) into place from any numbers, even if they overlap the targets. */
static int install_fds(const int *src, int n, sbx_error *err)
{
	int tmp[4];
	for (int i = 0; i < n; i++) {
		tmp[i] = src[i] < 0 ? -1 : fcntl(src[i], F_DUPFD_CLOEXEC, 10);
		if (src[i] >= 0 && tmp[i] < 0)
			return sbx_error_errno(err, errno, "dup fd %d", src[i]);
	}
	for (int i = 0; i < n; i++) {
		if (tmp[i] < 0)
			continue;
		if (dup2(tmp[i], i) < 0)
			return sbx_error_errno(err, errno, "dup2 fd %d", i);
		close(tmp[i]);
	}
	return 0;
}

static void reset_signals(void)
{
	sigset_t none;
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* The payload's steps, in order; seccomp is the last one before execve. */
static _Noreturn void payload_exec(const struct jail_spec *spec, const char *slave, int exec_sock)
{
	sbx_error err = {0};
	int listener;
	int first_closed = 3;

#define STEP(x)                                                                                    \
	do {                                                                                       \
		if ((x) < 0)                                                                       \
			jail_child_fail(exec_sock, &err);                                          \
	} while (0)

	if (slave) {
		STEP(jail_pty_make_controlling(slave, spec->uid, spec->gid, &err));
	} else {
		if (setsid() < 0)
			STEP(sbx_error_errno(&err, errno, "setsid"));
		STEP(install_fds(spec->stdio, 3, &err));
	}
	if (spec->extra_fd >= 0) {
		int fd3[4] = {-1, -1, -1, spec->extra_fd};
		STEP(install_fds(fd3, 4, &err));
		first_closed = 4;
	}
	STEP(jail_rlimits_apply(spec->limits, &err));
	STEP(jail_caps_drop_bounding(&err));
	STEP(jail_caps_become_user(spec, &err));
	STEP(jail_caps_clear_all(&err));
	if (chdir(spec->home_target) < 0)
		STEP(sbx_error_errno(&err, errno, "chdir %s", spec->home_target));
	/* Close-on-exec rather than close: exec_sock must live until execve. */
	if (syscall(SYS_close_range, first_closed, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		STEP(sbx_error_errno(&err, errno, "close_range"));
	reset_signals();
	STEP(listener = jail_seccomp_install(spec->seccomp, &err));
	struct jail_msg msg = {.type = JAIL_MSG_LISTENER};
	int r = jail_msg_send(exec_sock, &msg, listener);
	if (r < 0)
		STEP(sbx_error_errno(&err, -r, "sending the seccomp listener"));
	close(listener);
	execve(spec->argv[0], (char *const *)spec->argv, (char *const *)spec->envp);
	STEP(sbx_error_errno(&err, errno, "execve %s", spec->argv[0]));
	_exit(127);
#undef STEP
}

struct payload_args {
	const struct jail_spec *spec;
	const char *slave;
	int exec_sock;
};

static int payload_main(void *arg)
{
	const struct payload_args *a = arg;
	payload_exec(a->spec, a->slave, a->exec_sock);
}

/* The payload shares init's memory until its execve, as posix_spawn's child does (CLONE_VM |
 * CLONE_VFORK, on a stack of its own): a fork would copy init's page tables (init is a clone of
 * the monitor) only for execve to throw them away, about 0.3 ms plus the teardown. Init sleeps
 * until the payload has exec'd or died. Everything payload_exec changes is the payload's own
 * task state (descriptors, credentials, limits, signal dispositions, seccomp), never init's,
 * and the payload's own code only runs after execve gave it a new address space. */
static pid_t payload_spawn(const struct jail_spec *spec, const char *slave, int exec_sock)
{
	static char stack[256 * 1024] __attribute__((aligned(64)));
	struct payload_args a = {.spec = spec, .slave = slave, .exec_sock = exec_sock};
	return clone(payload_main, stack + sizeof(stack), CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
}

static int close_all_except(const int *keep, size_t n)
{
	/* keep[] is small: close every gap between the kept fds. */
	unsigned lo = 0;
	for (;;) {
		unsigned next = ~0U;
		for (size_t i = 0; i < n; i++)
			if (keep[i] >= 0 && (unsigned)keep[i] >= lo && (unsigned)keep[i] < next)
				next = keep[i];
		if (next > lo && syscall(SYS_close_range, lo, next == ~0U ? ~0U : next - 1, 0) < 0)
			return -errno;
		if (next == ~0U)
			return 0;
		lo = next + 1;
	}
}

struct init_state {
	const struct jail_spec *spec;
	pid_t payload;
	bool payload_done;
	int payload_status;
	struct rusage payload_rusage;
	uint64_t start_usec, end_usec;
	int listener;
	struct seccomp_notif_sizes sizes;
	unsigned denials;
	int last_denied;
	enum jail_limit limit;
	int wall_phase; /* 0 running, 1 SIGTERM sent, 2 SIGKILL sent */
};

static void init_answer_notification(struct init_state *s)
{
	size_t req_size = s->sizes.seccomp_notif > sizeof(struct seccomp_notif)
			      ? s->sizes.seccomp_notif
			      : sizeof(struct seccomp_notif);
	size_t resp_size = s->sizes.seccomp_notif_resp > sizeof(struct seccomp_notif_resp)
			       ? s->sizes.seccomp_notif_resp
			       : sizeof(struct seccomp_notif_resp);
	char req_buf[req_size] __attribute__((aligned(8)));
	char resp_buf[resp_size] __attribute__((aligned(8)));
	struct seccomp_notif *req = (void *)req_buf;
	struct seccomp_notif_resp *resp = (void *)resp_buf;

	memset(req_buf, 0, req_size);
	if (ioctl(s->listener, SECCOMP_IOCTL_NOTIF_RECV, req) < 0)
		return; /* the caller died meanwhile (ENOENT) or EINTR: nothing to answer */
	memset(resp_buf, 0, resp_size);
	resp->id = req->id;
	resp->error = -EPERM;
	s->denials++;
	s->last_denied = req->data.nr;
	(void)ioctl(s->listener, SECCOMP_IOCTL_NOTIF_SEND, resp);
}

static void init_reap(struct init_state *s)
{
	for (;;) {
		int status;
		struct rusage ru;
		pid_t pid = wait4(-1, &status, WNOHANG, &ru);
		if (pid <= 0)
			return;
		if (pid == s->payload) {
			s->payload_done = true;
			s->payload_status = status;
			s->payload_rusage = ru;
			s->end_usec = now_usec();
			/* The run is over: nothing the payload left behind survives it. */
			kill(-1, SIGKILL);
		}
	}
}

static void init_on_signal(struct init_state *s, int sig)
{
	if (sig == SIGCHLD) {
		init_reap(s);
		return;
	}
	if (!s->payload_done && kill(-s->payload, sig) < 0)
		kill(s->payload, sig);
}

static void init_on_wall_timer(struct init_state *s, int timer)
{
	uint64_t expirations;
	if (read(timer, &expirations, sizeof(expirations)) < 0)
		return;
	if (s->payload_done)
		return;
	if (s->wall_phase == 0) {
		s->limit = JAIL_LIMIT_RUN_WALL;
		s->wall_phase = 1;
		kill(-1, SIGTERM);
		struct itimerspec grace = {.it_value = {.tv_sec = JAIL_WALL_GRACE_SECONDS}};
		timerfd_settime(timer, 0, &grace, NULL);
	} else {
		s->wall_phase = 2;
		kill(-1, SIGKILL);
	}
}

static void init_fill_report(struct init_state *s, struct jail_report *r)
{
	struct rusage all;
	const struct jail_limits *l = s->spec->limits;

	memset(r, 0, sizeof(*r));
	r->exited = WIFEXITED(s->payload_status);
	r->exit_code = r->exited ? WEXITSTATUS(s->payload_status) : -1;
	r->signal = WIFSIGNALED(s->payload_status) ? WTERMSIG(s->payload_status) : 0;
	r->wall_usec = s->end_usec - s->start_usec;
	if (getrusage(RUSAGE_CHILDREN, &all) == 0)
		r->cpu_usec = timeval_usec(&all.ru_utime) + timeval_usec(&all.ru_stime);
	r->seccomp_denials = s->denials;
	r->last_denied_syscall = s->last_denied;
	r->limit = s->limit;
	r->ended_at = s->end_usec;
	uint64_t payload_cpu =
	    timeval_usec(&s->payload_rusage.ru_utime) + timeval_usec(&s->payload_rusage.ru_stime);
	/* RLIMIT_CPU sends SIGXCPU at the soft limit (tick-accurate, so possibly a little under
	 * it by rusage) and SIGKILL one second later if SIGXCPU was caught. */
	if (r->limit == JAIL_LIMIT_NONE && l && l->run_cpu_seconds && !r->exited &&
	    (r->signal == SIGXCPU ||
	     (r->signal == SIGKILL && payload_cpu >= (uint64_t)l->run_cpu_seconds * 1000000)))
		r->limit = JAIL_LIMIT_RUN_CPU;
}

/* Waits until the payload has exec'd: the exec socket closes on execve after the payload sent
 * its seccomp listener. Returns the listener fd, or fails the jail. */
static int init_wait_for_exec(int exec_sock, int status_sock, pid_t payload)
{
	struct jail_msg msg;
	int listener = -1;

	for (;;) {
		int fd;
		ssize_t n = jail_msg_recv(exec_sock, &msg, &fd);
		if (n > 0 && msg.type == JAIL_MSG_LISTENER && fd >= 0 && listener < 0) {
			listener = fd;
			continue;
		}
		if (fd >= 0)
			close(fd);
		if (n == 0 && listener >= 0)
			return listener;
		kill(payload, SIGKILL);
		if (n > 0 && msg.type == JAIL_MSG_ERROR)
			jail_child_fail(status_sock, &msg.err);
		sbx_error err;
		sbx_error_set(&err, ECHILD, "the payload ended before it was executed");
		jail_child_fail(status_sock, &err);
	}
}

static int init_drop_privileges(const struct jail_spec *spec, sbx_error *err)
{
	int r;
	if ((r = jail_caps_drop_bounding(err)) < 0 || (r = jail_caps_become_user(spec, err)) < 0 ||
	    (r = jail_caps_clear_all(err)) < 0)
		return sbx_error_wrap(err, "init");
	/* After setuid: both are reset by a credential change. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return sbx_error_errno(err, errno, "PR_SET_DUMPABLE");
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		return sbx_error_errno(err, errno, "PR_SET_PDEATHSIG");
	return 0;
}

_Noreturn void jail_init_run(struct jail_init_ctx *ctx)
{
	const struct jail_spec *spec = ctx->spec;
	struct init_state s = {.spec = spec, .listener = -1, .last_denied = -1};
	sbx_error err = {0};
	int exec_pair[2];
	sigset_t mask;

	prctl(PR_SET_NAME, "jail-init", 0, 0, 0);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	for (size_t i = 0; i < ELEMENTSOF(forwarded_signals); i++)
		sigaddset(&mask, forwarded_signals[i]);
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	int timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (sfd < 0 || timer < 0)
		jail_child_fail(ctx->status_sock, (sbx_error_errno(&err, errno, "signalfd"), &err));
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, exec_pair) < 0)
		jail_child_fail(ctx->status_sock,
				(sbx_error_errno(&err, errno, "socketpair"), &err));

	s.start_usec = now_usec();
	/* The payload does not need init's end of the exec socket; close-on-exec is enough. */
	s.payload = payload_spawn(spec, ctx->pty_slave, exec_pair[1]);
	if (s.payload < 0)
		jail_child_fail(ctx->status_sock, (sbx_error_errno(&err, errno, "clone"), &err));
	close(exec_pair[1]);

	int keep[] = {ctx->status_sock, ctx->pty_master, exec_pair[0], sfd, timer};
	if (close_all_except(keep, ELEMENTSOF(keep)) < 0)
		jail_child_fail(ctx->status_sock,
				(sbx_error_errno(&err, errno, "close_range"), &err));
	if (init_drop_privileges(spec, &err) < 0) {
		kill(s.payload, SIGKILL);
		jail_child_fail(ctx->status_sock, &err);
	}
	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &s.sizes) < 0)
		memset(&s.sizes, 0, sizeof(s.sizes));

	s.listener = init_wait_for_exec(exec_pair[0], ctx->status_sock, s.payload);
	close(exec_pair[0]);
	struct jail_msg ready = {.type = JAIL_MSG_READY};
	if (jail_msg_send(ctx->status_sock, &ready, ctx->pty_master) < 0) {
		kill(-1, SIGKILL);
		_exit(127);
	}
	if (ctx->pty_master >= 0)
		close(ctx->pty_master);
	if (spec->limits && spec->limits->run_wall_seconds) {
		struct itimerspec wall = {.it_value = {.tv_sec = spec->limits->run_wall_seconds}};
		timerfd_settime(timer, 0, &wall, NULL);
	}

	for (;;) {
		init_reap(&s);
		if (s.payload_done) {
			/* Everything else got SIGKILL when the payload ended; reap it all. */
			while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
				;
			break;
		}
		struct pollfd p[] = {
		    {.fd = sfd, .events = POLLIN},
		    {.fd = timer, .events = POLLIN},
		    {.fd = ctx->status_sock, .events = POLLIN},
		    {.fd = s.listener, .events = POLLIN},
		};
		if (poll(p, ELEMENTSOF(p), -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[2].revents) {
			/* The monitor is gone (or broke the protocol): end the jail. */
			kill(-1, SIGKILL);
			_exit(1);
		}
		if (p[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) == sizeof(si))
				init_on_signal(&s, (int)si.ssi_signo);
		}
		if (p[1].revents & POLLIN)
			init_on_wall_timer(&s, timer);
		if (p[3].revents & POLLIN)
			init_answer_notification(&s);
		else if (p[3].revents & (POLLHUP | POLLERR)) {
			close(s.listener);
			s.listener = -1;
		}
	}

	struct jail_msg report = {.type = JAIL_MSG_REPORT};
	init_fill_report(&s, &report.report);
	report.report.sent_at = now_usec();
	(void)jail_msg_send(ctx->status_sock, &report, -1);
	_exit(0);
}
