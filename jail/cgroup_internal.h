/* Internals shared by the cgroup drivers and the unit tests. Not for the rest of the tree. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jail/cgroup.h"

/* v1 controllers we use, each its own hierarchy (two may share a directory when co-mounted,
 * e.g. "cpu,cpuacct"). The memory one is the primary: listing and sweeping walk it. */
enum cg_v1_ctrl {
	CG_V1_MEMORY,
	CG_V1_PIDS,
	CG_V1_CPU,
	CG_V1_CPUACCT,
	CG_V1_FREEZER,
	CG_V1_BLKIO,
	CG_V1_N,
};
extern const char *const cg_v1_ctrl_name[CG_V1_N];

/* At most every v1 hierarchy plus one cgroup2 directory. */
#define CG_MAX_DIRS (CG_V1_N + 1)
#define CG_KILL_TIMEOUT_MS 5000

struct cg_ops;

struct cgroup_driver {
	enum cgroup_driver_kind kind;
	const struct cg_ops *ops;
	char *root;	       /* the mount root given to open */
	char *base;	       /* "sandboxd" */
	bool fake;	       /* no cgroup filesystem under root: a test tree */
	bool libcgroup;	       /* v1 and hybrid on real mounts: libcgroup is initialised */
	char *v1_dir[CG_V1_N]; /* hierarchy mount directory, NULL when the controller is absent */
	char *v2_dir;	       /* the cgroup2 directory <base> lives in (v2, hybrid, systemd) */
	bool base_ready;       /* cgroup_driver_prepare made <base> everywhere (v1, hybrid) */
	/* Hybrid with cgroup.kill (5.14+), prepared: the kill never needs the v1 freezer, so
	 * sessions get no freezer group (two mkdir and two rmdir fewer a login). */
	bool no_freezer;
};
/* Whether sessions of this driver have a group in v1 hierarchy c. */
static inline bool cg_v1_used(const struct cgroup_driver *d, int c)
{
	return d->v1_dir[c] && !(c == CG_V1_FREEZER && d->no_freezer);
}

/* The interface files that stats reads, kept open per session: reading one again (at every
 * channel's end) is then one pread instead of a path walk, open, read and close (9 files on v1,
 * 120-180 µs of each channel's end measured, 30-40 µs this way). Closed by destroy and free. */
#define CG_STAT_FDS 16
struct cg_stat_fds {
	size_t n;
	struct {
		const char *dir; /* one of the session's own paths (compared as a pointer) */
		const char *file;
		int fd;
	} e[CG_STAT_FDS];
};

struct cgroup_session {
	struct cgroup_driver *d;
	struct cg_stat_fds *stat_fds; /* a pointer: filled through a const session */
	char *user;
	char *id;
	char *v1_path[CG_V1_N]; /* <v1_dir>/<base>/<user>/<id>, NULL when absent */
	char *v2_path;		/* <v2_dir>/<base>/<user>/<id> or NULL */
	/* Distinct "<dir>/cgroup.procs" paths, computed at create so that enter needs no malloc. */
	char procs[CG_MAX_DIRS][4096];
	size_t n_procs;
};

struct cg_ops {
	const char *name;
	int (*create)(struct cgroup_session *s, const struct cgroup_limits *l, sbx_error *err);
	int (*set_limits)(struct cgroup_session *s, const struct cgroup_limits *l, sbx_error *err);
	int (*stats)(const struct cgroup_session *s, struct cgroup_stats *ret, sbx_error *err);
	int (*attach)(const struct cgroup_session *s, pid_t pid, sbx_error *err);
	int (*remove)(struct cgroup_session *s, sbx_error *err); /* rmdir, after kill */
};
extern const struct cg_ops cg_v1_ops;
extern const struct cg_ops cg_v2_ops;

/* Pure formats (unit-tested on their own). */
/* Finds "key N" in a keyed file (memory.events, pids.events, cpu.stat, memory.oom_control);
 * 0 if found, -ENOENT if the key is absent, -EINVAL if its value is not a number. */
int cgroup_parse_keyed(const char *text, const char *key, uint64_t *ret);
/* "max", "-1" or a number (with trailing newline) → value; "max"/"-1" → CGROUP_LIMIT_MAX.
 * v1 reports "unlimited" as a page-rounded LONG_MAX: values ≥ 2^62 are CGROUP_LIMIT_MAX too. */
int cgroup_parse_limit(const char *text, uint64_t *ret);
/* v2 "max" or the decimal number. */
void cgroup_format_limit(uint64_t v, char *buf, size_t size);
/* v2 cpu.max: "50000 100000", "max 100000" for 0 (no limit). */
void cgroup_format_cpu_max(uint32_t cpu_percent, uint64_t period_usec, char *buf, size_t size);
/* v1 cpu.cfs_quota_us: -1 for 0 (no limit); never below the kernel's 1000 µs minimum. */
int64_t cgroup_v1_cpu_quota(uint32_t cpu_percent, uint64_t period_usec);
/* v1 memory.memsw.limit_in_bytes = memory + swap; -1 (as CGROUP_LIMIT_MAX) when either is. */
uint64_t cgroup_v1_memsw(uint64_t memory_max, uint64_t swap_max);
/* v2 io.weight 1..10000 → v1 blkio.weight 10..1000. */
uint64_t cgroup_v1_blkio_weight(uint64_t io_weight);
/* [A-Za-z0-9._-]+, not "." or "..", at most 64 bytes. */
bool cgroup_name_valid(const char *name);

/* File I/O on a cgroup directory (no O_CREAT: a missing interface file is -ENOENT, as on the
 * kernel's cgroupfs). */
int cg_write(const char *dir, const char *file, const char *value, sbx_error *err);
int cg_write_u64(const char *dir, const char *file, uint64_t v, sbx_error *err);
int cg_read(const char *dir, const char *file, char *buf, size_t size);
int cg_read_u64(const char *dir, const char *file, uint64_t *ret);
int cg_read_keyed(const char *dir, const char *file, const char *key, uint64_t *ret);
bool cg_has(const char *dir, const char *file);
/* cg_read, cg_read_u64, cg_read_keyed of a session's file through its kept descriptors
 * (S NULL: opened for this read only). */
int cg_session_read(const struct cgroup_session *s, const char *dir, const char *file, char *buf,
		    size_t size);
int cg_session_read_u64(const struct cgroup_session *s, const char *dir, const char *file,
			uint64_t *ret);
int cg_session_read_keyed(const struct cgroup_session *s, const char *dir, const char *file,
			  const char *key, uint64_t *ret);
int cg_count_procs(const char *dir);
/* mkdir; EEXIST is fine. */
int cg_mkdir(const char *path, sbx_error *err);
/* rmdir; on a fake tree first removes the files a kernel would remove by itself.
 * -ENOENT is 0; -EBUSY/-ENOTEMPTY are returned without touching err when quiet. */
int cg_rmdir(const struct cgroup_driver *d, const char *path, bool quiet, sbx_error *err);
