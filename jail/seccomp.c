/* The payload's seccomp allow-list.
 *
 * Compiled once in the daemon with libseccomp and kept as raw BPF; the payload loads it with
 * seccomp(2) as its very last step before execve, so every step before it runs unfiltered.
 *
 * Actions:
 * - the allow-list below: allowed;
 * - calls we deny on purpose (mount family, namespaces, keyrings, bpf, ptrace, ...):
 *   SECCOMP_RET_USER_NOTIF. The jail's init answers each notification with EPERM and counts it
 *   for the session report, so the student's program sees a plain EPERM and goes on;
 * - clone3: ENOSYS, as its flags live in memory a filter cannot read; glibc then falls back to
 *   clone, whose flags we do check;
 * - everything else (unknown and future syscalls): ENOSYS, so libc falls back like on an older
 *   kernel, and nothing new is reachable before someone looked at it.
 * If init is gone the listener is closed and notifying calls fail with ENOSYS; the payload is
 * killed with the pid namespace anyway. */
#include "config.h"

#include "jail/jail-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/cleanup.h"

static const char *const allowed_syscalls[] = {
    /* files and descriptors */
    "read",
    "write",
    "readv",
    "writev",
    "pread64",
    "pwrite64",
    "preadv",
    "pwritev",
    "preadv2",
    "pwritev2",
    "open",
    "openat",
    "openat2",
    "creat",
    "close",
    "close_range",
    "stat",
    "fstat",
    "lstat",
    "newfstatat",
    "statx",
    "statfs",
    "fstatfs",
    "lseek",
    "access",
    "faccessat",
    "faccessat2",
    "dup",
    "dup2",
    "dup3",
    "fcntl",
    "flock",
    "fsync",
    "fdatasync",
    "sync",
    "syncfs",
    "sync_file_range",
    "truncate",
    "ftruncate",
    "fallocate",
    "fadvise64",
    "getdents",
    "getdents64",
    "getcwd",
    "chdir",
    "fchdir",
    "rename",
    "renameat",
    "renameat2",
    "mkdir",
    "mkdirat",
    "rmdir",
    "link",
    "linkat",
    "unlink",
    "unlinkat",
    "symlink",
    "symlinkat",
    "readlink",
    "readlinkat",
    "chmod",
    "fchmod",
    "fchmodat",
    "chown",
    "fchown",
    "lchown",
    "fchownat",
    "umask",
    "utime",
    "utimes",
    "utimensat",
    "futimesat",
    "mknod",
    "mknodat",
    "sendfile",
    "copy_file_range",
    "splice",
    "tee",
    "getxattr",
    "lgetxattr",
    "fgetxattr",
    "listxattr",
    "llistxattr",
    "flistxattr",
    "pipe",
    "pipe2",
    "memfd_create",
    "inotify_init",
    "inotify_init1",
    "inotify_add_watch",
    "inotify_rm_watch",
    /* waiting and events */
    "poll",
    "ppoll",
    "select",
    "pselect6",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_wait",
    "epoll_pwait",
    "epoll_pwait2",
    "eventfd",
    "eventfd2",
    "signalfd",
    "signalfd4",
    "timerfd_create",
    "timerfd_settime",
    "timerfd_gettime",
    "futex",
    "futex_waitv",
    "nanosleep",
    "clock_nanosleep",
    "pause",
    "alarm",
    "getitimer",
    "setitimer",
    "clock_gettime",
    "clock_getres",
    "gettimeofday",
    "time",
    /* memory */
    "mmap",
    "mprotect",
    "munmap",
    "mremap",
    "msync",
    "mincore",
    "madvise",
    "brk",
    "mlock",
    "munlock",
    "mlock2",
    "get_mempolicy",
    "membarrier",
    /* signals */
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "rt_sigpending",
    "rt_sigtimedwait",
    "rt_sigsuspend",
    "rt_sigqueueinfo",
    "rt_tgsigqueueinfo",
    "sigaltstack",
    "kill",
    "tkill",
    "tgkill",
    "pidfd_open",
    "pidfd_send_signal",
    /* processes (clone is checked below, clone3 gets ENOSYS) */
    "fork",
    "vfork",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "wait4",
    "waitid",
    "set_tid_address",
    "set_robust_list",
    "get_robust_list",
    "rseq",
    "arch_prctl",
    "prctl",
    "seccomp",
    "getpid",
    "gettid",
    "getppid",
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "getresuid",
    "getresgid",
    "getgroups",
    "setuid",
    "setgid",
    "setreuid",
    "setregid",
    "setresuid",
    "setresgid",
    "setgroups",
    "setfsuid",
    "setfsgid",
    "getpgid",
    "getpgrp",
    "getsid",
    "setsid",
    "setpgid",
    "capget",
    "getrlimit",
    "setrlimit",
    "prlimit64",
    "getrusage",
    "times",
    "sysinfo",
    "uname",
    "getpriority",
    "setpriority",
    "getrandom",
    "getcpu",
    "sched_yield",
    "sched_getaffinity",
    "sched_setaffinity",
    "sched_getparam",
    "sched_setparam",
    "sched_getscheduler",
    "sched_setscheduler",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_rr_get_interval",
    "restart_syscall",
    /* sockets (socket/socketpair are checked below) */
    "connect",
    "accept",
    "accept4",
    "bind",
    "listen",
    "shutdown",
    "sendto",
    "recvfrom",
    "sendmsg",
    "recvmsg",
    "sendmmsg",
    "recvmmsg",
    "getsockname",
    "getpeername",
    "setsockopt",
    "getsockopt",
    /* System V IPC, private to the jail's ipc namespace */
    "shmget",
    "shmat",
    "shmdt",
    "shmctl",
    "semget",
    "semop",
    "semtimedop",
    "semctl",
    "msgget",
    "msgsnd",
    "msgrcv",
    "msgctl",
};

/* Denied with EPERM and counted. */
static const char *const denied_syscalls[] = {
    "mount",
    "umount2",
    "pivot_root",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "chroot",
    "unshare",
    "setns",
    "keyctl",
    "add_key",
    "request_key",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "quotactl",
    "quotactl_fd",
    "sethostname",
    "setdomainname",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "iopl",
    "ioperm",
    "syslog",
    "name_to_handle_at",
    "open_by_handle_at",
    "fanotify_init",
    "kcmp",
    "lookup_dcookie",
    "vhangup",
    "pidfd_getfd",
    "process_madvise",
    "move_pages",
    "migrate_pages",
    "mbind",
    "set_mempolicy",
    "uselib",
    "ustat",
    "sysfs",
    "_sysctl",
    "nfsservctl",
};

/* Flags that would create namespaces (CLONE_NEWTIME may be missing from old headers). */
static const uint32_t clone_namespace_flags[] = {
    CLONE_NEWNS,  CLONE_NEWUTS, CLONE_NEWIPC,	 CLONE_NEWUSER,
    CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP, 0x00000080 /* CLONE_NEWTIME */,
};

static const uint32_t denied_ioctls[] = {TIOCSTI, TIOCLINUX};
static const uint32_t allowed_personalities[] = {0xffffffffU /* query */, PER_LINUX};

static bool set_has_prefix(const uint32_t *set, size_t n, uint32_t mask, uint32_t prefix)
{
	for (size_t i = 0; i < n; i++)
		if ((set[i] & mask) == prefix)
			return true;
	return false;
}

/* Adds `action` for every 32-bit value of argument `arg` NOT in `set`, as a union of masked
 * equalities (libseccomp 2.5 has no masked "not equal", and an unconditional rule would
 * override the conditional ones). Walks the binary prefix tree from the top bit and emits one
 * rule for each largest subtree that holds no member of the set: at most 32 rules per member.
 * Only the low 32 bits are compared because the kernel truncates these arguments to int. */
static int add_rules_for_complement(scmp_filter_ctx ctx, uint32_t action, int nr, unsigned arg,
				    const uint32_t *set, size_t n, uint32_t prefix, unsigned fixed,
				    sbx_error *err)
{
	uint32_t mask = fixed == 0 ? 0 : 0xffffffffU << (32 - fixed);

	if (!set_has_prefix(set, n, mask, prefix)) {
		int r = fixed == 0
			    ? seccomp_rule_add(ctx, action, nr, 0)
			    : seccomp_rule_add(ctx, action, nr, 1,
					       SCMP_CMP(arg, SCMP_CMP_MASKED_EQ, mask, prefix));
		if (r < 0)
			return sbx_error_errno(err, -r, "seccomp rule for syscall %d", nr);
		return 0;
	}
	if (fixed == 32)
		return 0; /* a member of the set itself */
	uint32_t bit = 1U << (31 - fixed);
	int r = add_rules_for_complement(ctx, action, nr, arg, set, n, prefix, fixed + 1, err);
	if (r < 0)
		return r;
	return add_rules_for_complement(ctx, action, nr, arg, set, n, prefix | bit, fixed + 1, err);
}

static int add_rules_for_members(scmp_filter_ctx ctx, uint32_t action, int nr, unsigned arg,
				 const uint32_t *set, size_t n, sbx_error *err)
{
	for (size_t i = 0; i < n; i++) {
		int r = seccomp_rule_add(ctx, action, nr, 1,
					 SCMP_CMP(arg, SCMP_CMP_MASKED_EQ, 0xffffffffU, set[i]));
		if (r < 0)
			return sbx_error_errno(err, -r, "seccomp rule for syscall %d", nr);
	}
	return 0;
}

static int add_rule(scmp_filter_ctx ctx, uint32_t action, const char *name, sbx_error *err)
{
	int nr = seccomp_syscall_resolve_name(name);
	if (nr == __NR_SCMP_ERROR)
		return 0; /* not on this architecture */
	int r = seccomp_rule_add(ctx, action, nr, 0);
	if (r < 0)
		return sbx_error_errno(err, -r, "seccomp rule for %s", name);
	return 0;
}

static int add_conditional_rules(scmp_filter_ctx ctx, sbx_error *err)
{
	int r;

	/* ioctl: everything but TIOCSTI (typing into the terminal's input) and TIOCLINUX. */
	r = add_rules_for_members(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(ioctl), 1, denied_ioctls,
				  ELEMENTSOF(denied_ioctls), err);
	if (r < 0)
		return r;
	r = add_rules_for_complement(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, denied_ioctls,
				     ELEMENTSOF(denied_ioctls), 0, 0, err);
	if (r < 0)
		return r;

	/* personality: only the query and plain PER_LINUX. */
	r = add_rules_for_members(ctx, SCMP_ACT_ALLOW, SCMP_SYS(personality), 0,
				  allowed_personalities, ELEMENTSOF(allowed_personalities), err);
	if (r < 0)
		return r;
	r = add_rules_for_complement(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(personality), 0,
				     allowed_personalities, ELEMENTSOF(allowed_personalities), 0, 0,
				     err);
	if (r < 0)
		return r;

	/* socket/socketpair: AF_UNIX only. A full 64-bit comparison errs on the side of denying. */
	static const int socket_calls[] = {SCMP_SYS(socket), SCMP_SYS(socketpair)};
	for (size_t i = 0; i < ELEMENTSOF(socket_calls); i++) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, socket_calls[i], 1,
				     SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
		if (r < 0)
			return sbx_error_errno(err, -r, "seccomp rule for socket");
		r = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, socket_calls[i], 1,
				     SCMP_A0(SCMP_CMP_NE, AF_UNIX));
		if (r < 0)
			return sbx_error_errno(err, -r, "seccomp rule for socket");
	}

	/* clone: processes and threads, never new namespaces. */
	uint32_t ns_mask = 0;
	for (size_t i = 0; i < ELEMENTSOF(clone_namespace_flags); i++) {
		ns_mask |= clone_namespace_flags[i];
		r = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(clone), 1,
				     SCMP_A0(SCMP_CMP_MASKED_EQ, clone_namespace_flags[i],
					     clone_namespace_flags[i]));
		if (r < 0)
			return sbx_error_errno(err, -r, "seccomp rule for clone");
	}
	r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
			     SCMP_A0(SCMP_CMP_MASKED_EQ, ns_mask, 0));
	if (r < 0)
		return sbx_error_errno(err, -r, "seccomp rule for clone");
	/* clone3 is deliberately in no list: it gets the default ENOSYS. */
	return 0;
}

static int export_bpf(scmp_filter_ctx ctx, struct sock_fprog *ret, sbx_error *err)
{
	_cleanup_close_ int fd = memfd_create("jail-seccomp", MFD_CLOEXEC);
	struct stat st;
	int r;

	if (fd < 0)
		return sbx_error_errno(err, errno, "memfd_create");
	r = seccomp_export_bpf(ctx, fd);
	if (r < 0)
		return sbx_error_errno(err, -r, "seccomp_export_bpf");
	if (fstat(fd, &st) < 0)
		return sbx_error_errno(err, errno, "fstat");
	if (st.st_size == 0 || st.st_size % sizeof(struct sock_filter) != 0 ||
	    st.st_size / sizeof(struct sock_filter) > BPF_MAXINSNS)
		return sbx_error_set(err, EINVAL, "seccomp program of %lld bytes",
				     (long long)st.st_size);
	struct sock_filter *insns = malloc(st.st_size);
	if (!insns)
		return sbx_error_set(err, ENOMEM, "seccomp program");
	if (pread(fd, insns, st.st_size, 0) != st.st_size) {
		free(insns);
		return sbx_error_set(err, EIO, "reading the seccomp program back");
	}
	ret->filter = insns;
	ret->len = st.st_size / sizeof(struct sock_filter);
	return 0;
}

int jail_seccomp_compile(struct jail_seccomp **ret, sbx_error *err)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(ENOSYS));
	struct jail_seccomp *s = NULL;
	int r;

	if (!ctx)
		return sbx_error_set(err, ENOMEM, "seccomp_init");
	/* 32-bit and x32 entry points are no way around the filter: answer them ENOSYS. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ERRNO(ENOSYS));
	if (r < 0) {
		r = sbx_error_errno(err, -r, "seccomp bad-arch action");
		goto out;
	}
	/* A binary search over the ~300 syscall numbers instead of a linear list: every system
	 * call of the payload runs through the filter, and so do the kernel's ~450 trial runs that
	 * build its per-syscall cache when the filter is installed (measured: installing it took
	 * 0.44 ms of each jail's start with the list). Same rules, same program semantics. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	if (r < 0) {
		r = sbx_error_errno(err, -r, "seccomp optimisation level");
		goto out;
	}
	for (size_t i = 0; i < ELEMENTSOF(allowed_syscalls); i++)
		if ((r = add_rule(ctx, SCMP_ACT_ALLOW, allowed_syscalls[i], err)) < 0)
			goto out;
	for (size_t i = 0; i < ELEMENTSOF(denied_syscalls); i++)
		if ((r = add_rule(ctx, SCMP_ACT_NOTIFY, denied_syscalls[i], err)) < 0)
			goto out;
	if ((r = add_conditional_rules(ctx, err)) < 0)
		goto out;
	if (getenv("SANDBOXD_SECCOMP_DUMP"))
		seccomp_export_pfc(ctx, STDERR_FILENO);

	s = calloc(1, sizeof(*s));
	if (!s) {
		r = sbx_error_set(err, ENOMEM, "seccomp");
		goto out;
	}
	if ((r = export_bpf(ctx, &s->prog, err)) < 0) {
		free(s);
		goto out;
	}
	*ret = s;
out:
	seccomp_release(ctx);
	return r;
}

void jail_seccomp_free(struct jail_seccomp *s)
{
	if (!s)
		return;
	free(s->prog.filter);
	free(s);
}

/* The last step before execve: from here on only allowed calls work. Returns the listener fd
 * (close-on-exec) that init answers. */
int jail_seccomp_install(const struct jail_seccomp *s, sbx_error *err)
{
	int fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
			      SECCOMP_FILTER_FLAG_NEW_LISTENER, &s->prog);
	if (fd < 0)
		return sbx_error_errno(err, errno, "seccomp(SECCOMP_SET_MODE_FILTER)");
	return fd;
}
