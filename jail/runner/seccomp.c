/* The runner's own seccomp filter, stacked on the jail's after start-up (the interpreter has
 * loaded what it needs; the student's code has not run yet). It backs the rules an audit hook
 * cannot keep: _posixsubprocess.fork_exec raises no event, native code ignores the hook, and the
 * 3.11 open event carries no dir_fd. A filter cannot be removed once loaded, by anyone. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <seccomp.h>

#include "jail/runner/runner.h"

static int add(scmp_filter_ctx ctx, int err, int nr, unsigned count, const struct scmp_arg_cmp *cmp)
{
	int r = seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO(err), nr, count, cmp);

	/* A syscall this libseccomp or architecture does not know cannot be called either. */
	return r == -EDOM || r == -EFAULT ? 0 : r;
}

static int deny_process_creation(scmp_filter_ctx ctx)
{
	/* clone without CLONE_THREAD is a new process; threads must keep working. */
	struct scmp_arg_cmp not_thread = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0);
	int r = 0;

	r = r ?: add(ctx, EPERM, SCMP_SYS(execve), 0, NULL);
	r = r ?: add(ctx, EPERM, SCMP_SYS(execveat), 0, NULL);
	r = r ?: add(ctx, EPERM, SCMP_SYS(fork), 0, NULL);
	r = r ?: add(ctx, EPERM, SCMP_SYS(vfork), 0, NULL);
	r = r ?: add(ctx, EPERM, SCMP_SYS(clone), 1, &not_thread);
	/* clone3 passes its flags in memory, which seccomp cannot read. ENOSYS makes glibc's
	 * pthread_create fall back to clone, where the flags are visible. */
	r = r ?: add(ctx, ENOSYS, SCMP_SYS(clone3), 0, NULL);
	return r;
}

/* A write-open relative to a directory descriptor: the hook cannot see where it lands (the
 * 3.11 open event has no dir_fd), so it is refused outright. The standard library only opens
 * directories for reading this way (shutil.rmtree), and glibc's open() uses AT_FDCWD. */
static int deny_dirfd_writes(scmp_filter_ctx ctx)
{
	static const int write_bits[] = {O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND};
	int r = 0;

	for (size_t i = 0; i < sizeof(write_bits) / sizeof(write_bits[0]) && !r; i++) {
		struct scmp_arg_cmp cmp[2] = {
		    /* dirfd is an int: glibc leaves the upper half of the register undefined
		     * and the kernel ignores it, so only the low 32 bits count. Bit 31 clear
		     * is a real descriptor; AT_FDCWD (-100) has it set. */
		    SCMP_A0(SCMP_CMP_MASKED_EQ, 0x80000000u, 0),
		    SCMP_A2(SCMP_CMP_MASKED_EQ, (scmp_datum_t)write_bits[i],
			    (scmp_datum_t)write_bits[i]),
		};
		r = add(ctx, EPERM, SCMP_SYS(openat), 2, cmp);
	}
	/* openat2 keeps its flags in memory too; nothing we run uses it. */
	return r ?: add(ctx, ENOSYS, SCMP_SYS(openat2), 0, NULL);
}

int runner_seccomp_apply(bool allow_processes)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int r;

	if (!ctx)
		return -ENOMEM;
	/* All threads, and no_new_privs (libseccomp's default) so that no privilege is needed. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (!r && !allow_processes)
		r = deny_process_creation(ctx);
	/* Code written to a memfd can be dlopen()ed from /proc/self/fd/N, even with
	 * vm.memfd_noexec=2; denying the call is what worked. */
	if (!r)
		r = add(ctx, EPERM, SCMP_SYS(memfd_create), 0, NULL);
	if (!r)
		r = deny_dirfd_writes(ctx);
	if (!r)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	return r;
}
