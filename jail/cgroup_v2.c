/* The cgroup2 driver: plain files in one tree (also used under systemd's delegated subtree). */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "jail/cgroup_internal.h"

static const char *const wanted_controllers[] = {"cpu", "io", "memory", "pids"};

static bool word_in(const char *list, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = list; (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ' ' || p[-1] == '\n') &&
		    (p[n] == '\0' || p[n] == ' ' || p[n] == '\n'))
			return true;
	return false;
}

/* Lets the children of dir use every controller we want that dir itself has. */
static int enable_controllers(const char *dir, sbx_error *err)
{
	char have[512], on[512];
	int r = cg_read(dir, "cgroup.controllers", have, sizeof(have));
	if (r < 0)
		return sbx_error_errno(err, -r, "reading %s/cgroup.controllers", dir);
	if (cg_read(dir, "cgroup.subtree_control", on, sizeof(on)) < 0)
		on[0] = '\0';
	char add[128] = "";
	for (size_t i = 0; i < ELEMENTSOF(wanted_controllers); i++) {
		const char *c = wanted_controllers[i];
		if (!word_in(have, c) || word_in(on, c))
			continue;
		size_t len = strlen(add);
		snprintf(add + len, sizeof(add) - len, "%s+%s", len ? " " : "", c);
	}
	if (!add[0])
		return 0;
	/* One write: all enabled or none, and a test tree's file ends up with the whole list. */
	r = cg_write(dir, "cgroup.subtree_control", add, err);
	if (r < 0)
		return sbx_error_wrap(err, "enabling controllers");
	return 0;
}

static int v2_set_limits(struct cgroup_session *s, const struct cgroup_limits *l, sbx_error *err)
{
	const char *dir = s->v2_path;
	char buf[64];
	int r;

	if (cg_has(dir, "memory.max")) {
		cgroup_format_limit(l->memory_max ? l->memory_max : CGROUP_LIMIT_MAX, buf,
				    sizeof(buf));
		if ((r = cg_write(dir, "memory.max", buf, err)) < 0)
			return r;
	}
	/* memory.swap.max is absent when the kernel does no swap accounting. */
	if (cg_has(dir, "memory.swap.max")) {
		cgroup_format_limit(l->swap_max, buf, sizeof(buf));
		if ((r = cg_write(dir, "memory.swap.max", buf, err)) < 0)
			return r;
	}
	if (cg_has(dir, "pids.max")) {
		cgroup_format_limit(l->pids_max ? l->pids_max : CGROUP_LIMIT_MAX, buf, sizeof(buf));
		if ((r = cg_write(dir, "pids.max", buf, err)) < 0)
			return r;
	}
	if (cg_has(dir, "cpu.max")) {
		cgroup_format_cpu_max(l->cpu_percent, CGROUP_CPU_PERIOD_USEC, buf, sizeof(buf));
		if ((r = cg_write(dir, "cpu.max", buf, err)) < 0)
			return r;
	}
	if (l->io_weight && cg_has(dir, "io.weight")) {
		uint64_t w = l->io_weight > 10000 ? 10000 : l->io_weight;
		snprintf(buf, sizeof(buf), "default %" PRIu64, w);
		if ((r = cg_write(dir, "io.weight", buf, err)) < 0)
			return r;
	}
	return 0;
}

static int v2_create(struct cgroup_session *s, const struct cgroup_limits *l, sbx_error *err)
{
	const struct cgroup_driver *d = s->d;
	char path[PATH_MAX];
	int r;

	/* Controllers must be enabled on each level above the session; a leaf takes processes. */
	if ((r = enable_controllers(d->v2_dir, err)) < 0)
		return r;
	snprintf(path, sizeof(path), "%s/%s", d->v2_dir, d->base);
	if ((r = cg_mkdir(path, err)) < 0 || (r = enable_controllers(path, err)) < 0)
		return r;
	snprintf(path, sizeof(path), "%s/%s/%s", d->v2_dir, d->base, s->user);
	if ((r = cg_mkdir(path, err)) < 0 || (r = enable_controllers(path, err)) < 0)
		return r;
	if ((r = cg_mkdir(s->v2_path, err)) < 0)
		return r;
	return v2_set_limits(s, l, err);
}

static void read_opt(const struct cgroup_session *s, const char *dir, const char *file, uint64_t *v)
{
	if (cg_session_read_u64(s, dir, file, v) < 0)
		*v = 0;
}

static void read_opt_keyed(const struct cgroup_session *s, const char *dir, const char *file,
			   const char *key, uint64_t *v)
{
	if (cg_session_read_keyed(s, dir, file, key, v) < 0)
		*v = 0;
}

static int v2_stats(const struct cgroup_session *s, struct cgroup_stats *st, sbx_error *err)
{
	const char *dir = s->v2_path;
	int r = cg_session_read_u64(s, dir, "memory.current", &st->memory_current);
	if (r == -ENOENT && !cg_has(dir, "cgroup.procs"))
		return sbx_error_errno(err, ENOENT, "cgroup %s", dir);
	if (r < 0)
		st->memory_current = 0;
	/* memory.peak is 5.19+; before it, the best we know is the current value. */
	if (cg_session_read_u64(s, dir, "memory.peak", &st->memory_peak) < 0)
		st->memory_peak = st->memory_current;
	if (cg_session_read_u64(s, dir, "memory.max", &st->memory_max) < 0)
		st->memory_max = CGROUP_LIMIT_MAX;
	read_opt_keyed(s, dir, "memory.events", "max", &st->memory_limit_hits);
	read_opt_keyed(s, dir, "memory.events", "oom_kill", &st->oom_kills);
	read_opt(s, dir, "pids.current", &st->pids_current);
	if (cg_session_read_u64(s, dir, "pids.max", &st->pids_max) < 0)
		st->pids_max = CGROUP_LIMIT_MAX;
	read_opt_keyed(s, dir, "pids.events", "max", &st->pids_limit_hits);
	read_opt_keyed(s, dir, "cpu.stat", "usage_usec", &st->cpu_usage_usec);
	return 0;
}

static int v2_attach(const struct cgroup_session *s, pid_t pid, sbx_error *err)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%ld", (long)pid);
	return cg_write(s->v2_path, "cgroup.procs", buf, err);
}

static int v2_remove(struct cgroup_session *s, sbx_error *err)
{
	const struct cgroup_driver *d = s->d;
	int r = cg_rmdir(d, s->v2_path, false, err);
	if (r < 0)
		return r;
	/* The user level goes when its last session does; EBUSY means another one lives. */
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s/%s", d->v2_dir, d->base, s->user);
	cg_rmdir(d, path, true, NULL);
	return 0;
}

const struct cg_ops cg_v2_ops = {
    .name = "v2",
    .create = v2_create,
    .set_limits = v2_set_limits,
    .stats = v2_stats,
    .attach = v2_attach,
    .remove = v2_remove,
};
