/* The cgroup v1 driver (also the limits half of the hybrid layout), through libcgroup.
 *
 * libcgroup checks the hierarchies at start-up, attaches tasks and changes the limits of a
 * live session. Plain file I/O does the rest, for these reasons:
 *  - creating and removing a session's groups: they are on every login's path, and
 *    cgroup_create_cgroup() also chowns and chmods every file of every controller (a few hundred
 *    system calls, 2-3 ms a login, measured) to give them the owners and modes they already
 *    have; creation is mkdir of the missing levels and the values below, removal rmdir;
 *  - memory.limit_in_bytes and memory.memsw.limit_in_bytes: the kernel requires limit ≤ memsw at
 *    every moment, so which one is written first depends on whether the limit goes up or down,
 *    while libcgroup writes values in the order they were added; and memsw files are absent
 *    when swap accounting is off, which would fail libcgroup's whole create;
 *  - stats: libcgroup's getters need cgroup_get_cgroup(), which reads every file of every
 *    controller; we need nine small files;
 *  - the unified (cgroup2, controller-less) tracking group of the hybrid layout: libcgroup
 *    addresses groups by controller and that hierarchy has none;
 *  - test trees: libcgroup only knows the mounts in /proc/mounts, so on a fake root
 *    (driver->fake) every step is file I/O. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <libcgroup.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/cleanup.h"
#include "jail/cgroup_internal.h"

int cg_v1_libcgroup_init(struct cgroup_driver *d, sbx_error *err);

static int lcg_error(int ret)
{
	if (ret == ECGOTHER)
		return cgroup_get_last_errno() ? cgroup_get_last_errno() : EIO;
	if (ret == ECGROUPNOTEXIST)
		return ENOENT;
	if (ret == ECGROUPNOTALLOWED)
		return EPERM;
	return EIO;
}

static int lcg_fail(sbx_error *err, int ret, const char *what)
{
	return sbx_error_set(err, lcg_error(ret), "libcgroup %s: %s", what, cgroup_strerror(ret));
}

int cg_v1_libcgroup_init(struct cgroup_driver *d, sbx_error *err)
{
	int ret = cgroup_init();
	if (ret)
		return lcg_fail(err, ret, "cgroup_init");
	/* libcgroup finds hierarchies from /proc/mounts by itself; it must agree with us. */
	for (int c = 0; c < CG_V1_N; c++) {
		if (!d->v1_dir[c])
			continue;
		char *mp = NULL;
		ret = cgroup_get_subsys_mount_point(cg_v1_ctrl_name[c], &mp);
		bool same = ret == 0 && mp && strcmp(mp, d->v1_dir[c]) == 0;
		free(mp);
		if (!same)
			return sbx_error_set(err, ENODEV,
					     "libcgroup does not see the %s hierarchy at %s",
					     cg_v1_ctrl_name[c], d->v1_dir[c]);
	}
	d->libcgroup = true;
	return 0;
}

static void lcg_freep(struct cgroup **cg)
{
	if (*cg)
		cgroup_free(cg);
}

/* A libcgroup handle for <base>/<user>[/<id>] in every v1 controller present; with limits, the
 * pids, cpu and blkio values to write. */
static int lcg_build(const struct cgroup_session *s, bool session_level,
		     const struct cgroup_limits *l, struct cgroup **ret_cg, sbx_error *err)
{
	const struct cgroup_driver *d = s->d;
	char name[PATH_MAX];
	if (session_level)
		snprintf(name, sizeof(name), "%s/%s/%s", d->base, s->user, s->id);
	else
		snprintf(name, sizeof(name), "%s/%s", d->base, s->user);
	_cleanup_(lcg_freep) struct cgroup *cg = cgroup_new_cgroup(name);
	if (!cg)
		return sbx_error_set(err, ENOMEM, "libcgroup: cgroup_new_cgroup %s", name);
	for (int c = 0; c < CG_V1_N; c++) {
		if (!cg_v1_used(d, c) || (session_level && !s->v1_path[c]))
			continue;
		struct cgroup_controller *ctl = cgroup_add_controller(cg, cg_v1_ctrl_name[c]);
		if (!ctl)
			return sbx_error_set(err, EIO, "libcgroup: adding controller %s",
					     cg_v1_ctrl_name[c]);
		if (!l)
			continue;
		int ret = 0;
		switch (c) {
		case CG_V1_PIDS: {
			char buf[32];
			cgroup_format_limit(l->pids_max ? l->pids_max : CGROUP_LIMIT_MAX, buf,
					    sizeof(buf));
			ret = cgroup_add_value_string(ctl, "pids.max", buf);
			break;
		}
		case CG_V1_CPU:
			ret = cgroup_add_value_uint64(ctl, "cpu.cfs_period_us",
						      CGROUP_CPU_PERIOD_USEC);
			if (!ret)
				ret = cgroup_add_value_int64(
				    ctl, "cpu.cfs_quota_us",
				    cgroup_v1_cpu_quota(l->cpu_percent, CGROUP_CPU_PERIOD_USEC));
			break;
		case CG_V1_BLKIO:
			if (l->io_weight && cg_has(d->v1_dir[c], "blkio.weight"))
				ret = cgroup_add_value_uint64(ctl, "blkio.weight",
							      cgroup_v1_blkio_weight(l->io_weight));
			break;
		default:
			break;
		}
		if (ret)
			return lcg_fail(err, ret, "adding a value");
	}
	*ret_cg = TAKE_PTR(cg);
	return 0;
}

/* The same values with file I/O: a new session's, and every value on test trees. */
static int files_write_values(const struct cgroup_session *s, const struct cgroup_limits *l,
			      sbx_error *err)
{
	char buf[32];
	int r;
	const char *pids = s->v1_path[CG_V1_PIDS], *cpu = s->v1_path[CG_V1_CPU],
		   *blkio = s->v1_path[CG_V1_BLKIO];
	if (pids) {
		cgroup_format_limit(l->pids_max ? l->pids_max : CGROUP_LIMIT_MAX, buf, sizeof(buf));
		if ((r = cg_write(pids, "pids.max", buf, err)) < 0)
			return r;
	}
	if (cpu) {
		if ((r = cg_write_u64(cpu, "cpu.cfs_period_us", CGROUP_CPU_PERIOD_USEC, err)) < 0)
			return r;
		snprintf(buf, sizeof(buf), "%" PRId64,
			 cgroup_v1_cpu_quota(l->cpu_percent, CGROUP_CPU_PERIOD_USEC));
		if ((r = cg_write(cpu, "cpu.cfs_quota_us", buf, err)) < 0)
			return r;
	}
	if (blkio && l->io_weight && cg_has(blkio, "blkio.weight") &&
	    (r = cg_write_u64(blkio, "blkio.weight", cgroup_v1_blkio_weight(l->io_weight), err)) <
		0)
		return r;
	return 0;
}

static void format_v1_bytes(uint64_t v, char *buf, size_t size)
{
	if (v == CGROUP_LIMIT_MAX)
		snprintf(buf, size, "-1");
	else
		snprintf(buf, size, "%" PRIu64, v);
}

/* memory.limit_in_bytes and memory.memsw.limit_in_bytes in the order the kernel accepts. */
static int v1_write_memory(const char *dir, const struct cgroup_limits *l, sbx_error *err)
{
	uint64_t limit = l->memory_max ? l->memory_max : CGROUP_LIMIT_MAX;
	uint64_t memsw = cgroup_v1_memsw(l->memory_max, l->swap_max);
	char lbuf[32], sbuf[32];
	format_v1_bytes(limit, lbuf, sizeof(lbuf));
	format_v1_bytes(memsw, sbuf, sizeof(sbuf));

	if (!cg_has(dir, "memory.memsw.limit_in_bytes"))
		return cg_write(dir, "memory.limit_in_bytes", lbuf, err);
	uint64_t cur_memsw;
	if (cg_read_u64(dir, "memory.memsw.limit_in_bytes", &cur_memsw) < 0)
		cur_memsw = CGROUP_LIMIT_MAX;
	int r;
	if (limit > cur_memsw) {
		/* Going up past the current memsw: memsw first. */
		if ((r = cg_write(dir, "memory.memsw.limit_in_bytes", sbuf, err)) < 0)
			return r;
		return cg_write(dir, "memory.limit_in_bytes", lbuf, err);
	}
	if ((r = cg_write(dir, "memory.limit_in_bytes", lbuf, err)) < 0)
		return r;
	return cg_write(dir, "memory.memsw.limit_in_bytes", sbuf, err);
}

/* Exposed for the unit tests. */
int cg_v1_write_memory(const char *dir, const struct cgroup_limits *l, sbx_error *err);
int cg_v1_write_memory(const char *dir, const struct cgroup_limits *l, sbx_error *err)
{
	return v1_write_memory(dir, l, err);
}

static int mkdir_levels(const struct cgroup_driver *d, const char *hier, const char *user,
			const char *id, sbx_error *err)
{
	char path[PATH_MAX];
	int r;
	snprintf(path, sizeof(path), "%s/%s", hier, d->base);
	if ((r = cg_mkdir(path, err)) < 0)
		return r;
	snprintf(path, sizeof(path), "%s/%s/%s", hier, d->base, user);
	if ((r = cg_mkdir(path, err)) < 0)
		return r;
	snprintf(path, sizeof(path), "%s/%s/%s/%s", hier, d->base, user, id);
	return cg_mkdir(path, err);
}

/* Old kernels (before 5.16 made it always 1) start with a flat memory hierarchy: a child's
 * usage would not count against our levels. It can only be switched on while there are no
 * children, so do it when the base directory is new. */
static int memory_base_hierarchical(const struct cgroup_driver *d, sbx_error *err)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", d->v1_dir[CG_V1_MEMORY], d->base);
	int r = cg_mkdir(path, err);
	if (r < 0)
		return r;
	uint64_t h;
	if (cg_read_u64(path, "memory.use_hierarchy", &h) == 0 && h == 0)
		return cg_write(path, "memory.use_hierarchy", "1", err);
	return 0;
}

/* <base> in every hierarchy, the memory one hierarchical. */
static int v1_make_base(const struct cgroup_driver *d, sbx_error *err)
{
	char path[PATH_MAX];
	int r = memory_base_hierarchical(d, err);
	for (int c = 0; c < CG_V1_N && r >= 0; c++) {
		if (!d->v1_dir[c])
			continue;
		snprintf(path, sizeof(path), "%s/%s", d->v1_dir[c], d->base);
		r = cg_mkdir(path, err);
	}
	if (r >= 0 && d->v2_dir) {
		snprintf(path, sizeof(path), "%s/%s", d->v2_dir, d->base);
		r = cg_mkdir(path, err);
	}
	return r;
}

int cg_v1_prepare(struct cgroup_driver *d, sbx_error *err);
int cg_v1_prepare(struct cgroup_driver *d, sbx_error *err)
{
	int r = v1_make_base(d, err);
	d->base_ready = r >= 0;
	if (r >= 0 && !d->fake && d->v2_dir && d->v1_dir[CG_V1_FREEZER]) {
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s", d->v2_dir, d->base);
		d->no_freezer = cg_has(path, "cgroup.kill");
	}
	return r;
}

/* With <base> made at start-up, a session is the user and session levels in each hierarchy
 * (14 mkdir on a hybrid host instead of 21, and no memory.use_hierarchy read). A base that
 * went away meanwhile (ENOENT on the user level) is made again, then everything. */
static int v1_mkdir_session(const struct cgroup_driver *d, const struct cgroup_session *s,
			    sbx_error *err)
{
	int r;
	if (d->base_ready) {
		char path[PATH_MAX];
		bool again = false;
		for (int c = 0; c <= CG_V1_N && !again; c++) {
			const char *hier =
			    c < CG_V1_N ? (s->v1_path[c] ? d->v1_dir[c] : NULL) : d->v2_dir;
			if (!hier)
				continue;
			snprintf(path, sizeof(path), "%s/%s/%s", hier, d->base, s->user);
			if (mkdir(path, 0755) < 0 && errno != EEXIST) {
				if (errno != ENOENT)
					return sbx_error_errno(err, errno, "mkdir %s", path);
				again = true;
				break;
			}
			snprintf(path, sizeof(path), "%s/%s/%s/%s", hier, d->base, s->user, s->id);
			if ((r = cg_mkdir(path, err)) < 0)
				return r;
		}
		if (!again)
			return 0;
	}
	if ((r = memory_base_hierarchical(d, err)) < 0)
		return r;
	for (int c = 0; c < CG_V1_N; c++)
		if (s->v1_path[c] && (r = mkdir_levels(d, d->v1_dir[c], s->user, s->id, err)) < 0)
			return r;
	if (d->v2_dir && (r = mkdir_levels(d, d->v2_dir, s->user, s->id, err)) < 0)
		return r;
	return 0;
}

static int v1_create(struct cgroup_session *s, const struct cgroup_limits *l, sbx_error *err)
{
	const struct cgroup_driver *d = s->d;
	int r = v1_mkdir_session(d, s, err);
	if (r < 0)
		return r;
	if ((r = files_write_values(s, l, err)) < 0)
		return r;
	return v1_write_memory(s->v1_path[CG_V1_MEMORY], l, err);
}

static int v1_set_limits(struct cgroup_session *s, const struct cgroup_limits *l, sbx_error *err)
{
	if (l->io_weight && s->d->v1_dir[CG_V1_BLKIO] && !s->v1_path[CG_V1_BLKIO])
		return sbx_error_set(
		    err, EOPNOTSUPP,
		    "an io weight needs a session created with one (no blkio group)");
	int r = v1_write_memory(s->v1_path[CG_V1_MEMORY], l, err);
	if (r < 0)
		return r;
	if (!s->d->libcgroup)
		return files_write_values(s, l, err);
	_cleanup_(lcg_freep) struct cgroup *cg = NULL;
	if ((r = lcg_build(s, true, l, &cg, err)) < 0)
		return r;
	int ret = cgroup_modify_cgroup(cg);
	if (ret)
		return lcg_fail(err, ret, "cgroup_modify_cgroup");
	return 0;
}

static int v1_stats(const struct cgroup_session *s, struct cgroup_stats *st, sbx_error *err)
{
	const char *mem = s->v1_path[CG_V1_MEMORY], *pids = s->v1_path[CG_V1_PIDS],
		   *acct = s->v1_path[CG_V1_CPUACCT];
	int r = cg_session_read_u64(s, mem, "memory.usage_in_bytes", &st->memory_current);
	if (r < 0)
		return sbx_error_errno(err, -r, "reading %s/memory.usage_in_bytes", mem);
	if (cg_session_read_u64(s, mem, "memory.max_usage_in_bytes", &st->memory_peak) < 0)
		st->memory_peak = st->memory_current;
	if (cg_session_read_u64(s, mem, "memory.limit_in_bytes", &st->memory_max) < 0)
		st->memory_max = CGROUP_LIMIT_MAX;
	if (cg_session_read_u64(s, mem, "memory.failcnt", &st->memory_limit_hits) < 0)
		st->memory_limit_hits = 0;
	/* "oom_kill N" in memory.oom_control since 4.13. */
	if (cg_session_read_keyed(s, mem, "memory.oom_control", "oom_kill", &st->oom_kills) < 0)
		st->oom_kills = 0;
	st->pids_max = CGROUP_LIMIT_MAX;
	if (pids) {
		if (cg_session_read_u64(s, pids, "pids.current", &st->pids_current) < 0)
			st->pids_current = 0;
		if (cg_session_read_u64(s, pids, "pids.max", &st->pids_max) < 0)
			st->pids_max = CGROUP_LIMIT_MAX;
		if (cg_session_read_keyed(s, pids, "pids.events", "max", &st->pids_limit_hits) < 0)
			st->pids_limit_hits = 0;
	}
	uint64_t ns;
	if (acct && cg_session_read_u64(s, acct, "cpuacct.usage", &ns) == 0)
		st->cpu_usage_usec = ns / 1000;
	return 0;
}

static int v1_attach(const struct cgroup_session *s, pid_t pid, sbx_error *err)
{
	char buf[32];
	int r;
	snprintf(buf, sizeof(buf), "%ld", (long)pid);
	if (s->d->libcgroup) {
		_cleanup_(lcg_freep) struct cgroup *cg = NULL;
		if ((r = lcg_build(s, true, NULL, &cg, err)) < 0)
			return r;
		/* libcgroup moves one task (thread); callers attach a freshly forked,
		 * single-threaded child, so that is the whole process. */
		int ret = cgroup_attach_task_pid(cg, pid);
		if (ret)
			return lcg_fail(err, ret, "cgroup_attach_task_pid");
	} else {
		for (int c = 0; c < CG_V1_N; c++)
			if (s->v1_path[c] &&
			    (r = cg_write(s->v1_path[c], "cgroup.procs", buf, err)) < 0)
				return r;
	}
	if (s->v2_path && (r = cg_write(s->v2_path, "cgroup.procs", buf, err)) < 0)
		return r;
	return 0;
}

static int v1_remove(struct cgroup_session *s, sbx_error *err)
{
	const struct cgroup_driver *d = s->d;
	int r;
	char path[PATH_MAX];
	/* rmdir fails on a group with tasks: nothing is ever migrated to the parent. */
	for (int c = 0; c < CG_V1_N; c++) {
		if (!s->v1_path[c])
			continue;
		if ((r = cg_rmdir(d, s->v1_path[c], false, err)) < 0)
			return r;
		snprintf(path, sizeof(path), "%s/%s/%s", d->v1_dir[c], d->base, s->user);
		cg_rmdir(d, path, true, NULL);
	}
	if (s->v2_path) {
		if ((r = cg_rmdir(d, s->v2_path, false, err)) < 0)
			return r;
		snprintf(path, sizeof(path), "%s/%s/%s", d->v2_dir, d->base, s->user);
		cg_rmdir(d, path, true, NULL);
	}
	return 0;
}

const struct cg_ops cg_v1_ops = {
    .name = "v1",
    .create = v1_create,
    .set_limits = v1_set_limits,
    .stats = v1_stats,
    .attach = v1_attach,
    .remove = v1_remove,
};
