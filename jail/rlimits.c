/* Resource limits of the payload.
 *
 * RLIMIT_NPROC is counted per real uid over the whole host, not per jail: two sessions of the
 * same student share one budget, and the value must therefore be a per-user total. The real
 * fork-bomb limit is the session cgroup's pids controller; this one is a second line. */
#include "config.h"

#include "jail/jail-internal.h"

#include <errno.h>
#include <sys/resource.h>

static int set_limit(int resource, const char *name, rlim_t soft, rlim_t hard, sbx_error *err)
{
	struct rlimit rl = {.rlim_cur = soft, .rlim_max = hard};
	if (setrlimit(resource, &rl) < 0)
		return sbx_error_errno(err, errno, "setrlimit(%s, %llu)", name,
				       (unsigned long long)soft);
	return 0;
}

int jail_rlimits_apply(const struct jail_limits *l, sbx_error *err)
{
	int r = set_limit(RLIMIT_CORE, "RLIMIT_CORE", 0, 0, err);
	if (r < 0)
		return r;
	if (!l)
		return 0;
	if (l->nofile &&
	    (r = set_limit(RLIMIT_NOFILE, "RLIMIT_NOFILE", l->nofile, l->nofile, err)) < 0)
		return r;
	if (l->fsize_bytes &&
	    (r = set_limit(RLIMIT_FSIZE, "RLIMIT_FSIZE", l->fsize_bytes, l->fsize_bytes, err)) < 0)
		return r;
	if (l->stack_bytes &&
	    (r = set_limit(RLIMIT_STACK, "RLIMIT_STACK", l->stack_bytes, l->stack_bytes, err)) < 0)
		return r;
	if (l->nproc && (r = set_limit(RLIMIT_NPROC, "RLIMIT_NPROC", l->nproc, l->nproc, err)) < 0)
		return r;
	/* Soft limit: SIGXCPU, then SIGKILL one second later at the hard limit. */
	if (l->run_cpu_seconds && (r = set_limit(RLIMIT_CPU, "RLIMIT_CPU", l->run_cpu_seconds,
						 l->run_cpu_seconds + 1, err)) < 0)
		return r;
	return 0;
}
