#include "config.h"

#include "sshd-module/session_limits.h"

#include <stdint.h>
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

static uint32_t limit_u32(uint64_t v)
{
	return v == POLICY_UNLIMITED || v > UINT32_MAX ? 0 : (uint32_t)v;
}

static unsigned limit_seconds(uint64_t v)
{
	return v == POLICY_UNLIMITED || v > UINT32_MAX ? 0 : (unsigned)v;
}

void session_limits_from_policy(struct session_limits *l, const struct policy_effective *eff)
{
	const uint64_t *v = eff->value;
	l->cgroup.memory_max = v[POLICY_MEMORY];
	l->cgroup.swap_max = v[POLICY_SWAP];
	l->cgroup.cpu_percent = limit_u32(v[POLICY_CPU]);
	l->cgroup.pids_max = limit_u32(v[POLICY_PIDS]);
	l->jail.tmp_bytes = v[POLICY_TMP];
	l->jail.run_cpu_seconds = limit_seconds(v[POLICY_RUN_CPU_TIME]);
	l->jail.run_wall_seconds = limit_seconds(v[POLICY_RUN_TIME]);
	l->session_seconds = limit_seconds(v[POLICY_SESSION_TIME]);
	l->idle_seconds = limit_seconds(v[POLICY_IDLE_TIME]);
}

void session_limits_sources(const struct policy_effective *eff, char *buf, size_t size)
{
	size_t o = 0;
	buf[0] = '\0';
	for (int k = 0; k < POLICY_KEY_COUNT && o < size; k++) {
		char value[32];
		policy_format_value((enum policy_key)k, eff->value[k], value, sizeof(value));
		int n = snprintf(buf + o, size - o, "%s%s=%s(%s)", o ? " " : "",
				 policy_key_name((enum policy_key)k), value, eff->source[k]);
		if (n < 0)
			break;
		o += (size_t)n;
	}
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
		 "session %uh%02um, idle %um",
		 mem, l->cgroup.pids_max, l->cgroup.cpu_percent, tmp, l->jail.run_cpu_seconds,
		 l->jail.run_wall_seconds, l->session_seconds / 3600,
		 (l->session_seconds % 3600) / 60, l->idle_seconds / 60);
}
