/* Per-user / per-session cgroups: <base>/<user>/<session> in every controller we use.
 *
 * A driver is chosen once at start-up from the layout under the mount root:
 *   v2      pure cgroup2 (cgroup.controllers at the root); plain file I/O
 *   v1      legacy controllers at <root>/<controller>, through libcgroup
 *   hybrid  v1 controllers for the limits plus the controller-less cgroup2 at <root>/unified
 *           for tracking: every cgroup2 directory has cgroup.kill, cgroup.freeze and
 *           cgroup.events even without controllers, which gives an atomic kill and a reliable
 *           "empty" signal that v1 lacks
 *   systemd only when systemd is PID 1: the service's delegated cgroup2 subtree
 *           (Delegate=yes in sandboxd.service); fails cleanly elsewhere
 *
 * All functions return 0 or a negative errno and fill the optional sbx_error. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"

/* "No limit" for the 64-bit fields ("max" on v2, -1 on v1). */
#define CGROUP_LIMIT_MAX UINT64_MAX

/* Default limits for a 2-core, 24 GiB host with 100 students logged in at once.
 *
 * Memory: 100 × 256 MiB = 25 GiB, just above the 24 GiB of RAM. That overcommit is deliberate:
 * most sessions sit idle in a REPL at 20-40 MiB, so the realistic sum is far below RAM, while
 * one student's homework (numpy arrays, a recursive list) gets a useful 256 MiB. 512 MiB would
 * be 50 GiB, twice the RAM, and a class-wide "run the big test case" moment would push the
 * host into global reclaim; 256 MiB keeps the worst case at about RAM, and the per-user level
 * is not limited separately, so one user with two logins gets two budgets (the policy layer's
 * `sessions` key bounds that).
 * Swap: 0. There is no swap on the host, and swapping student code only turns a clean OOM kill
 * into a minute of thrashing for everyone.
 * Pids: 64 per session. Python, a few subprocesses or multiprocessing workers fit; 100 × 64 =
 * 6400 tasks is far below the kernel's pid_max and threads-max, and a fork bomb stops at 64.
 * CPU: 100% = one core per session. With 2 cores and 100 sessions the CFS share does the fair
 * splitting when many run at once; the quota only stops one student's busy loop from taking
 * both cores while the host is otherwise idle, which keeps the daemon and sshd responsive. */
#define CGROUP_DEFAULT_MEMORY_MAX (256ULL << 20)
#define CGROUP_DEFAULT_SWAP_MAX 0ULL
#define CGROUP_DEFAULT_PIDS_MAX 64U
#define CGROUP_DEFAULT_CPU_PERCENT 100U
#define CGROUP_DEFAULT_IO_WEIGHT 0ULL
/* The CFS period the cpu quota is expressed in (the kernel's default). */
#define CGROUP_CPU_PERIOD_USEC 100000ULL

/* Every field is applied by create and by set_limits (live change = the whole resolved set). */
struct cgroup_limits {
	uint64_t memory_max; /* bytes; 0 or CGROUP_LIMIT_MAX = no limit */
	uint64_t swap_max;   /* bytes of swap on top of memory_max; 0 = no swap; CGROUP_LIMIT_MAX */
	uint32_t pids_max;   /* 0 = no limit */
	uint32_t cpu_percent; /* 100 = one core, 50 = half a core; 0 = no limit */
	uint64_t io_weight;   /* 1..10000 (v2 io.weight; v1 blkio.weight scaled to 10..1000);
				 0 = leave the controller's default; skipped without the controller.
				 On v1 a session created with 0 has no blkio group at all, and a live
				 change to a weight is refused (EOPNOTSUPP) */
};

/* Fills *l with the CGROUP_DEFAULT_* values. */
void cgroup_limits_default(struct cgroup_limits *l);

struct cgroup_stats {
	uint64_t memory_current;    /* bytes */
	uint64_t memory_peak;	    /* bytes (v2 memory.peak, v1 memory.max_usage_in_bytes) */
	uint64_t memory_max;	    /* the limit in force, CGROUP_LIMIT_MAX if none */
	uint64_t memory_limit_hits; /* v2 memory.events "max", v1 memory.failcnt */
	uint64_t oom_kills; /* v2 memory.events "oom_kill", v1 memory.oom_control "oom_kill" */
	uint64_t pids_current;
	uint64_t pids_max;	  /* the limit in force, CGROUP_LIMIT_MAX if none */
	uint64_t pids_limit_hits; /* pids.events "max" */
	uint64_t cpu_usage_usec;  /* v2 cpu.stat usage_usec, v1 cpuacct.usage / 1000 */
};

enum cgroup_driver_kind {
	CGROUP_DRIVER_AUTO = 0,
	CGROUP_DRIVER_V1,
	CGROUP_DRIVER_V2,
	CGROUP_DRIVER_HYBRID,
	CGROUP_DRIVER_SYSTEMD,
};

struct cgroup_driver;
struct cgroup_session;

/* mount_root: "/sys/fs/cgroup", or a fake tree in tests (then the layout is read from the files
 * present, and libcgroup is not used: it only knows the real mounts).
 * base: the top directory of ours in every hierarchy, e.g. "sandboxd".
 * Never mounts or unmounts anything. */
int cgroup_driver_open(const char *mount_root, const char *base, struct cgroup_driver **ret,
		       sbx_error *err);
/* The same with the driver forced (CGROUP_DRIVER_AUTO = detect). */
int cgroup_driver_open_kind(enum cgroup_driver_kind kind, const char *mount_root, const char *base,
			    struct cgroup_driver **ret, sbx_error *err);
void cgroup_driver_free(struct cgroup_driver *d);
/* Once at the daemon's start: creates <base> in every hierarchy (v1 and hybrid; a no-op
 * elsewhere), so that creating a session in this process or its children is only the user
 * and session levels (a base removed meanwhile is made again). */
int cgroup_driver_prepare(struct cgroup_driver *d, sbx_error *err);
/* "v1", "v2", "hybrid", "systemd". */
const char *cgroup_driver_name(const struct cgroup_driver *d);
enum cgroup_driver_kind cgroup_driver_kind(const struct cgroup_driver *d);

/* Creates <base>/<user>/<session_id> in every hierarchy (the levels that do not exist yet) and
 * applies the limits. user and session_id: [A-Za-z0-9._-]+, not "." or "..". */
int cgroup_session_create(struct cgroup_driver *d, const char *user, const char *session_id,
			  const struct cgroup_limits *limits, struct cgroup_session **ret,
			  sbx_error *err);
/* Moves the calling process in. Safe in a child after fork (no malloc, no locks, no stdio:
 * only open/write/close of paths computed at create time); err may be NULL there. */
int cgroup_session_enter(const struct cgroup_session *s, sbx_error *err);
int cgroup_session_attach(const struct cgroup_session *s, pid_t pid, sbx_error *err);
/* Live change of every limit (memory, swap, pids, cpu, io). */
int cgroup_session_set_limits(struct cgroup_session *s, const struct cgroup_limits *limits,
			      sbx_error *err);
int cgroup_session_stats(const struct cgroup_session *s, struct cgroup_stats *ret, sbx_error *err);
/* Number of processes in the session (0 = empty). */
int cgroup_session_nprocs(const struct cgroup_session *s, sbx_error *err);
/* SIGKILLs every process, including ones forked during the kill, and waits (bounded, about 5 s)
 * until the session is empty: cgroup.kill where the kernel has it (v2, and the unified tracking
 * group in hybrid), else freeze + kill every pid + thaw, in a loop. -EBUSY if it stayed
 * populated. */
int cgroup_session_kill(struct cgroup_session *s, sbx_error *err);
/* rmdir the session level everywhere, and the user level if no other session is left under it
 * (a concurrent create of the same user may race: its rmdir fails with EBUSY and is ignored);
 * a session with processes left (the kernel refuses the rmdir) is killed first. */
int cgroup_session_destroy(struct cgroup_session *s, sbx_error *err);
/* Frees memory only; the cgroups stay. NULL is fine. */
void cgroup_session_free(struct cgroup_session *s);
const char *cgroup_session_user(const struct cgroup_session *s);
const char *cgroup_session_id(const struct cgroup_session *s);
/* Opens an existing session (sandboxctl, the sweep); -ENOENT if it is not there. */
int cgroup_session_open(struct cgroup_driver *d, const char *user, const char *session_id,
			struct cgroup_session **ret, sbx_error *err);

/* At daemon start: every <base>/<user>/<session> for which is_live(session_id) is false (or
 * is_live is NULL) is killed and removed, and empty user levels with it. Returns the number of
 * sessions swept, or a negative errno. */
int cgroup_sweep_orphans(struct cgroup_driver *d, bool (*is_live)(const char *session_id, void *),
			 void *userdata, sbx_error *err);

/* The placement warmer (cgroup_warm.c). Moving a process into a cgroup takes a global kernel
 * lock whose first writer after a quiet spell waits for an RCU grace period (7-20 ms measured):
 * a login's jail would pay it. The warmer is a small child process that re-enters its own cgroup
 * every CGROUP_WARMER_INTERVAL_MS, which keeps that lock warm, until CGROUP_WARMER_LINGER_MS
 * after the last poke. The listener pokes it when a connection arrives and when it has
 * authenticated (its jail follows within a round trip or two); it is started on the first poke,
 * and again after it lingered out. It exits when *warmer is freed (or its parent dies), and the
 * parent reaps it like any child. No-op on test trees. Each second of warming costs ~6 ms of
 * CPU (measured), so it lingers only a little. */
#define CGROUP_WARMER_INTERVAL_MS 5
#define CGROUP_WARMER_LINGER_MS 250
struct cgroup_warmer;
int cgroup_warmer_poke(const struct cgroup_driver *d, struct cgroup_warmer **warmer);
void cgroup_warmer_free(struct cgroup_warmer *warmer);

/* For sandboxctl sessions: calls fn once per existing session (in the primary hierarchy: memory
 * on v1/hybrid, the one tree on v2) with its stats; stops and returns fn's value if negative. */
int cgroup_list_sessions(struct cgroup_driver *d,
			 int (*fn)(const char *user, const char *session_id,
				   const struct cgroup_stats *stats, void *userdata),
			 void *userdata, sbx_error *err);
