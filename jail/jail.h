/* The jail: one fresh set of namespaces, a root built on tmpfs, no capabilities, the user's
 * uid and a seccomp allow-list around one program. Cgroups are not done here: the caller passes
 * a join_cgroup callback that runs first in the child (jail/cgroup*.h). */
#pragma once

#include "common/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct jail_limits {
	uint64_t tmp_bytes;	   /* size of the private /tmp tmpfs; 0 = 64 MiB */
	uint64_t nofile;	   /* RLIMIT_NOFILE; 0 = leave as inherited */
	uint64_t fsize_bytes;	   /* RLIMIT_FSIZE; 0 = leave */
	uint64_t stack_bytes;	   /* RLIMIT_STACK; 0 = leave */
	uint64_t nproc;		   /* RLIMIT_NPROC (counted per real uid host-wide); 0 = leave */
	unsigned run_cpu_seconds;  /* RLIMIT_CPU of the payload; 0 = none */
	unsigned run_wall_seconds; /* init sends SIGTERM, then SIGKILL after a grace; 0 = none */
};

/* An extra read-only bind (tests put the probe's directory here). */
struct jail_bind {
	const char
	    *source; /* host path, must be owned by root or the user, not writable by others */
	const char *target; /* path inside the jail */
};

struct jail_seccomp; /* the compiled BPF program */

struct jail_spec {
	const char *user; /* name written to the jail's /etc/passwd */
	uid_t uid;
	gid_t gid;
	const gid_t *groups; /* supplementary groups */
	size_t n_groups;
	const char *home_source; /* host directory owned by uid, bound read-write at home_target */
	const char *home_target; /* e.g. /home/alice; also the payload's working directory */
	const char *hostname;	 /* NULL = "sandbox" */

	const char *const *argv; /* argv[0] is the path of the program inside the jail */
	const char *const *envp; /* complete environment of the payload */

	int stdio[3];  /* !terminal: these fds become the payload's 0, 1, 2 */
	bool terminal; /* allocate a pty in the jail's own devpts; the master comes back */
	unsigned short rows, cols;

	int extra_fd; /* -1, or an fd that becomes the payload's fd 3 (the runner's audit channel)
		       */

	const struct jail_limits *limits;   /* NULL = defaults above */
	const struct jail_seccomp *seccomp; /* from jail_seccomp_compile(); required */

	/* Runs first in the child, still root, before any other step (moves it into the session
	 * cgroup). NULL = skip. Return 0 or a negative errno. */
	int (*join_cgroup)(void *userdata, sbx_error *err);
	void *join_cgroup_userdata;

	const struct jail_bind *binds; /* optional extra read-only binds */
	size_t n_binds;

	/* NULL: the clone makes the jail's network namespace. Else an empty one from
	 * jail_netns_new(), which the child joins first; it must serve this jail only (the
	 * caller closes it after jail_spawn). */
	const int *netns_fd;
};

/* Makes an empty network namespace (only "lo", up) without entering it: the calling thread
 * is back in its own when this returns. *ret_fd (O_CLOEXEC) refers to it. Creating one costs
 * ~0.6 ms (most of a jail's clone); a caller with time to spare beforehand (the monitor, while
 * PAM opens the session) hands it to jail_spawn through spec.netns_fd. */
int jail_netns_new(int *ret_fd, sbx_error *err);

enum jail_limit {
	JAIL_LIMIT_NONE = 0,
	JAIL_LIMIT_RUN_CPU,  /* RLIMIT_CPU killed the payload */
	JAIL_LIMIT_RUN_WALL, /* the per-run wall clock fired */
};

struct jail_report {
	bool exited; /* true: exit_code is valid; false: killed by signal */
	int exit_code;
	int signal;
	uint64_t wall_usec; /* payload start to payload end */
	uint64_t cpu_usec;  /* user+system of every process of the run */
	unsigned seccomp_denials;
	int last_denied_syscall; /* -1 if none */
	enum jail_limit limit;
	uint64_t ended_at; /* CLOCK_MONOTONIC µs: init reaped the payload */
	uint64_t sent_at;  /* CLOCK_MONOTONIC µs: init sent this report */
};

const char *jail_limit_to_string(enum jail_limit limit); /* "none", "run-cpu", "run-wall" */

/* Compile the allow-list once (in the daemon, before any fork); share it across jails. */
int jail_seccomp_compile(struct jail_seccomp **ret, sbx_error *err);
void jail_seccomp_free(struct jail_seccomp *seccomp);

struct jail_run;

/* Builds the jail and starts the payload; returns once the payload has been exec'd (or with the
 * error that stopped it, whichever step of the child failed). The monitor must be root. */
int jail_spawn(const struct jail_spec *spec, struct jail_run **ret, sbx_error *err);

pid_t jail_run_pid(const struct jail_run *run); /* the jail's init (host pid) */
/* The pty master (O_CLOEXEC), or -1 without terminal. Ownership moves to the caller. */
int jail_run_take_pty_master(struct jail_run *run);
/* Forwarded by init to the payload's process group (SIGTERM/SIGINT/SIGHUP/SIGWINCH);
 * SIGKILL kills the whole jail. */
int jail_run_signal(struct jail_run *run, int sig);
/* Readable (poll POLLIN) once the payload has ended and the report is waiting. */
int jail_run_status_fd(const struct jail_run *run);
/* Reads the report (blocking until it arrives) and reaps init if it has already exited. Once
 * the report is read, every process of the jail but init has ended and been reaped, and init
 * only exits; its exit (the namespaces' teardown) need not be waited for before the end is
 * reported: jail_run_reap reaps it later (on SIGCHLD), jail_run_free at the latest. */
int jail_run_finish(struct jail_run *run, struct jail_report *ret, sbx_error *err);
/* Reaps init if it has exited, without blocking; true once reaped. */
bool jail_run_reap(struct jail_run *run);
/* Kills whatever is left of the jail (SIGKILL to init) and frees; accepts NULL. */
void jail_run_free(struct jail_run *run);

/* Window size change on a pty master (the kernel then sends SIGWINCH to the foreground). */
int jail_pty_resize(int master_fd, unsigned short rows, unsigned short cols);
