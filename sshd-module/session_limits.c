#include "config.h"

#include "sshd-module/session_limits.h"

#include <stdio.h>
#include <string.h>

void session_limits_default(struct session_limits *l)
{
	memset(l, 0, sizeof(*l));
	cgroup_limits_default(&l->cgroup);
	l->jail = (struct jail_limits){
		.tmp_bytes = 64ull << 20,
		.nofile = 1024,
		.fsize_bytes = 256ull << 20,
		.stack_bytes = 8ull << 20,
		/* Per real uid, host-wide: room for a few sessions; pids.max is the real bound. */
		.nproc = 512,
		.run_cpu_seconds = 600,
		.run_wall_seconds = 1800,
	};
	l->session_seconds = 4 * 3600;
	l->idle_seconds = 30 * 60;
}

static void describe_bytes(char *buf, size_t size, unsigned long long b)
{
	if (b >= (1ull << 30) && b % (1ull << 30) == 0)
		snprintf(buf, size, "%llu GiB", b >> 30);
	else
		snprintf(buf, size, "%llu MiB", b >> 20);
}

void session_limits_describe(const struct session_limits *l, char *buf, size_t size)
{
	char mem[32] = "unlimited", tmp[32];
	if (l->cgroup.memory_max && l->cgroup.memory_max != CGROUP_LIMIT_MAX)
		describe_bytes(mem, sizeof(mem), l->cgroup.memory_max);
	describe_bytes(tmp, sizeof(tmp), l->jail.tmp_bytes);
	snprintf(buf, size,
		 "memory %s, %u processes, %u%% of a CPU, /tmp %s, %us CPU and %us per run, "
		 "session %uh%02um",
		 mem, l->cgroup.pids_max, l->cgroup.cpu_percent, tmp, l->jail.run_cpu_seconds,
		 l->jail.run_wall_seconds, l->session_seconds / 3600,
		 (l->session_seconds % 3600) / 60);
}
