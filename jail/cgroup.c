/* The cgroup driver table and what every driver shares: layout detection, sessions, the kill
 * loop, the sweep. The per-layout parts are in cgroup_v1.c, cgroup_v2.c, cgroup_systemd.c. */
#include "config.h"

#include "jail/cgroup.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "jail/cgroup_internal.h"

#ifndef CGROUP_SUPER_MAGIC
#define CGROUP_SUPER_MAGIC 0x27e0eb
#endif
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

const char *const cg_v1_ctrl_name[CG_V1_N] = {
    [CG_V1_MEMORY] = "memory",	 [CG_V1_PIDS] = "pids",	      [CG_V1_CPU] = "cpu",
    [CG_V1_CPUACCT] = "cpuacct", [CG_V1_FREEZER] = "freezer", [CG_V1_BLKIO] = "blkio",
};

/* Implemented in cgroup_v1.c and cgroup_systemd.c. */
int cg_v1_libcgroup_init(struct cgroup_driver *d, sbx_error *err);
int cg_systemd_setup(struct cgroup_driver *d, sbx_error *err);

void cgroup_limits_default(struct cgroup_limits *l)
{
	*l = (struct cgroup_limits){
	    .memory_max = CGROUP_DEFAULT_MEMORY_MAX,
	    .swap_max = CGROUP_DEFAULT_SWAP_MAX,
	    .pids_max = CGROUP_DEFAULT_PIDS_MAX,
	    .cpu_percent = CGROUP_DEFAULT_CPU_PERCENT,
	    .io_weight = CGROUP_DEFAULT_IO_WEIGHT,
	};
}

/* ---- pure formats ---- */

static int parse_u64(const char *s, const char **end, uint64_t *ret)
{
	char *e;
	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &e, 10);
	if (errno)
		return -errno;
	*ret = v;
	if (end)
		*end = e;
	return 0;
}

int cgroup_parse_keyed(const char *text, const char *key, uint64_t *ret)
{
	size_t klen = strlen(key);
	for (const char *line = text; line && *line;) {
		const char *nl = strchr(line, '\n');
		if (strncmp(line, key, klen) == 0 && (line[klen] == ' ' || line[klen] == '\t')) {
			const char *v = line + klen;
			while (*v == ' ' || *v == '\t')
				v++;
			const char *end;
			uint64_t n;
			if (parse_u64(v, &end, &n) < 0)
				return -EINVAL;
			if (*end && *end != '\n')
				return -EINVAL;
			*ret = n;
			return 0;
		}
		line = nl ? nl + 1 : NULL;
	}
	return -ENOENT;
}

int cgroup_parse_limit(const char *text, uint64_t *ret)
{
	while (*text == ' ')
		text++;
	if (strncmp(text, "max", 3) == 0 && (text[3] == '\0' || text[3] == '\n')) {
		*ret = CGROUP_LIMIT_MAX;
		return 0;
	}
	if (strncmp(text, "-1", 2) == 0 && (text[2] == '\0' || text[2] == '\n')) {
		*ret = CGROUP_LIMIT_MAX;
		return 0;
	}
	const char *end;
	uint64_t v;
	if (parse_u64(text, &end, &v) < 0 || (*end && *end != '\n'))
		return -EINVAL;
	/* v1 shows "no limit" as LONG_MAX rounded down to a page (9223372036854771712). */
	*ret = v >= (UINT64_C(1) << 62) ? CGROUP_LIMIT_MAX : v;
	return 0;
}

void cgroup_format_limit(uint64_t v, char *buf, size_t size)
{
	if (v == CGROUP_LIMIT_MAX)
		snprintf(buf, size, "max");
	else
		snprintf(buf, size, "%" PRIu64, v);
}

static uint64_t cpu_quota_usec(uint32_t cpu_percent, uint64_t period_usec)
{
	uint64_t q = (uint64_t)cpu_percent * period_usec / 100;
	return q < 1000 ? 1000 : q; /* the kernel refuses quotas below 1 ms */
}

void cgroup_format_cpu_max(uint32_t cpu_percent, uint64_t period_usec, char *buf, size_t size)
{
	if (cpu_percent == 0)
		snprintf(buf, size, "max %" PRIu64, period_usec);
	else
		snprintf(buf, size, "%" PRIu64 " %" PRIu64,
			 cpu_quota_usec(cpu_percent, period_usec), period_usec);
}

int64_t cgroup_v1_cpu_quota(uint32_t cpu_percent, uint64_t period_usec)
{
	return cpu_percent == 0 ? -1 : (int64_t)cpu_quota_usec(cpu_percent, period_usec);
}

uint64_t cgroup_v1_memsw(uint64_t memory_max, uint64_t swap_max)
{
	if (memory_max == 0 || memory_max == CGROUP_LIMIT_MAX || swap_max == CGROUP_LIMIT_MAX)
		return CGROUP_LIMIT_MAX;
	if (memory_max + swap_max < memory_max)
		return CGROUP_LIMIT_MAX;
	return memory_max + swap_max;
}

uint64_t cgroup_v1_blkio_weight(uint64_t io_weight)
{
	if (io_weight == 0)
		return 0;
	if (io_weight > 10000)
		io_weight = 10000;
	/* Linear map of 1..10000 onto 10..1000, default 100 → 100 is not kept exactly (v2's
	 * default is 100 of 10000, v1's is 500 of 1000); the ends are what matters. */
	uint64_t w = 10 + (io_weight - 1) * 990 / 9999;
	return w;
}

bool cgroup_name_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > 64 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
			return false;
	return true;
}

/* ---- file I/O ---- */

static int join(char *buf, size_t size, const char *dir, const char *file)
{
	int n = snprintf(buf, size, "%s/%s", dir, file);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int cg_write(const char *dir, const char *file, const char *value, sbx_error *err)
{
	char path[PATH_MAX];
	if (join(path, sizeof(path), dir, file) < 0)
		return sbx_error_set(err, ENAMETOOLONG, "cgroup path too long: %s/%s", dir, file);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return sbx_error_errno(err, errno, "open %s", path);
	size_t len = strlen(value);
	ssize_t n = write(fd, value, len);
	if (n < 0)
		return sbx_error_errno(err, errno, "write \"%s\" to %s", value, path);
	if ((size_t)n != len)
		return sbx_error_set(err, EIO, "short write of \"%s\" to %s", value, path);
	return 0;
}

int cg_write_u64(const char *dir, const char *file, uint64_t v, sbx_error *err)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	return cg_write(dir, file, buf, err);
}

/* The whole of a small cgroup file (a descriptor kept open reads it again from offset 0). */
static int pread_all(int fd, char *buf, size_t size)
{
	size_t off = 0;
	while (off + 1 < size) {
		ssize_t n = pread(fd, buf + off, size - 1 - off, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	buf[off] = '\0';
	return (int)off;
}

static int open_for_reading(const char *dir, const char *file)
{
	char path[PATH_MAX];
	if (join(path, sizeof(path), dir, file) < 0)
		return -ENAMETOOLONG;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int cg_read(const char *dir, const char *file, char *buf, size_t size)
{
	_cleanup_close_ int fd = open_for_reading(dir, file);
	if (fd < 0)
		return fd;
	return pread_all(fd, buf, size);
}

int cg_read_u64(const char *dir, const char *file, uint64_t *ret)
{
	return cg_session_read_u64(NULL, dir, file, ret);
}

int cg_read_keyed(const char *dir, const char *file, const char *key, uint64_t *ret)
{
	return cg_session_read_keyed(NULL, dir, file, key, ret);
}

int cg_session_read(const struct cgroup_session *s, const char *dir, const char *file, char *buf,
		    size_t size)
{
	struct cg_stat_fds *c = s ? s->stat_fds : NULL;
	for (size_t i = 0; c && i < c->n; i++)
		if (c->e[i].dir == dir && strcmp(c->e[i].file, file) == 0)
			return pread_all(c->e[i].fd, buf, size);
	if (!c || c->n == CG_STAT_FDS)
		return cg_read(dir, file, buf, size);
	int fd = open_for_reading(dir, file);
	if (fd < 0)
		return fd;
	c->e[c->n].dir = dir;
	c->e[c->n].file = file;
	c->e[c->n].fd = fd;
	c->n++;
	return pread_all(fd, buf, size);
}

int cg_session_read_u64(const struct cgroup_session *s, const char *dir, const char *file,
			uint64_t *ret)
{
	char buf[64];
	int r = cg_session_read(s, dir, file, buf, sizeof(buf));
	if (r < 0)
		return r;
	return cgroup_parse_limit(buf, ret);
}

int cg_session_read_keyed(const struct cgroup_session *s, const char *dir, const char *file,
			  const char *key, uint64_t *ret)
{
	char buf[4096];
	int r = cg_session_read(s, dir, file, buf, sizeof(buf));
	if (r < 0)
		return r;
	return cgroup_parse_keyed(buf, key, ret);
}

static void session_close_stat_fds(struct cgroup_session *s)
{
	struct cg_stat_fds *c = s->stat_fds;
	for (size_t i = 0; c && i < c->n; i++)
		close(c->e[i].fd);
	if (c)
		c->n = 0;
}

bool cg_has(const char *dir, const char *file)
{
	char path[PATH_MAX];
	return join(path, sizeof(path), dir, file) == 0 && access(path, F_OK) == 0;
}

/* Calls fn for every pid in <dir>/cgroup.procs; returns the count or a negative errno. */
static int cg_for_each_proc(const char *dir, void (*fn)(pid_t, void *), void *data)
{
	char path[PATH_MAX];
	if (join(path, sizeof(path), dir, "cgroup.procs") < 0)
		return -ENAMETOOLONG;
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	int n = 0;
	long pid;
	while (fscanf(f, "%ld", &pid) == 1) {
		if (pid > 0) {
			n++;
			if (fn)
				fn((pid_t)pid, data);
		}
	}
	return n;
}

int cg_count_procs(const char *dir)
{
	return cg_for_each_proc(dir, NULL, NULL);
}

int cg_mkdir(const char *path, sbx_error *err)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return sbx_error_errno(err, errno, "mkdir %s", path);
	return 0;
}

int cg_rmdir(const struct cgroup_driver *d, const char *path, bool quiet, sbx_error *err)
{
	if (d->fake) {
		/* The kernel drops a cgroup's interface files by itself; a test tree has real ones.
		 */
		_cleanup_close_ int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		DIR *dir = dfd >= 0 ? fdopendir(dfd) : NULL;
		if (dir) {
			dfd = -1;
			struct dirent *de;
			bool children = false;
			while ((de = readdir(dir)))
				if (de->d_type == DT_DIR && strcmp(de->d_name, ".") != 0 &&
				    strcmp(de->d_name, "..") != 0)
					children = true;
			rewinddir(dir);
			while (!children && (de = readdir(dir)))
				if (de->d_type == DT_REG)
					unlinkat(dirfd(dir), de->d_name, 0);
			closedir(dir);
		}
	}
	if (rmdir(path) == 0 || errno == ENOENT)
		return 0;
	if (quiet && (errno == EBUSY || errno == ENOTEMPTY))
		return -errno;
	return sbx_error_errno(err, errno, "rmdir %s", path);
}

/* ---- layout detection ---- */

static char *path_join3(const char *a, const char *b, const char *c)
{
	char *p;
	if (asprintf(&p, "%s/%s%s%s", a, b, c ? "/" : "", c ? c : "") < 0)
		return NULL;
	return p;
}

/* Reads /proc/self/mountinfo: cgroup mounts at <root> or directly below it. For v1, the super
 * options name the controllers of the hierarchy (co-mounts like "cpu,cpuacct" give two). */
static int detect_from_mountinfo(struct cgroup_driver *d, bool *found_v1, bool *found_unified,
				 bool *root_is_v2)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	size_t rootlen = strlen(d->root);
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0) {
		char mnt[PATH_MAX], fstype[64], super[1024];
		char *dash = strstr(line, " - ");
		if (!dash)
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1)
			continue;
		if (sscanf(dash + 3, "%63s %*s %1023s", fstype, super) != 2)
			continue;
		bool v1 = strcmp(fstype, "cgroup") == 0, v2 = strcmp(fstype, "cgroup2") == 0;
		if (!v1 && !v2)
			continue;
		if (strcmp(mnt, d->root) == 0) {
			if (v2)
				*root_is_v2 = true;
			continue;
		}
		if (strncmp(mnt, d->root, rootlen) != 0 || mnt[rootlen] != '/' ||
		    strchr(mnt + rootlen + 1, '/'))
			continue;
		if (v2) {
			if (!d->v2_dir && strcmp(mnt + rootlen + 1, "unified") == 0) {
				d->v2_dir = strdup(mnt);
				*found_unified = true;
			}
			continue;
		}
		char *save = NULL;
		for (char *opt = strtok_r(super, ",", &save); opt; opt = strtok_r(NULL, ",", &save))
			for (int c = 0; c < CG_V1_N; c++)
				if (strcmp(opt, cg_v1_ctrl_name[c]) == 0 && !d->v1_dir[c]) {
					d->v1_dir[c] = strdup(mnt);
					*found_v1 = true;
				}
	}
	return 0;
}

/* A test tree: the layout is read from the files that are there. */
static void detect_from_files(struct cgroup_driver *d, bool *found_v1, bool *found_unified,
			      bool *root_is_v2)
{
	if (cg_has(d->root, "cgroup.controllers") && !cg_has(d->root, "memory")) {
		*root_is_v2 = true;
		return;
	}
	for (int c = 0; c < CG_V1_N; c++) {
		_cleanup_free_ char *dir = path_join3(d->root, cg_v1_ctrl_name[c], NULL);
		if (dir && cg_has(dir, "cgroup.procs")) {
			d->v1_dir[c] = TAKE_PTR(dir);
			*found_v1 = true;
		}
	}
	_cleanup_free_ char *uni = path_join3(d->root, "unified", NULL);
	if (uni && cg_has(uni, "cgroup.controllers")) {
		d->v2_dir = TAKE_PTR(uni);
		*found_unified = true;
	}
}

void cgroup_driver_free(struct cgroup_driver *d)
{
	if (!d)
		return;
	free(d->root);
	free(d->base);
	for (int c = 0; c < CG_V1_N; c++)
		free(d->v1_dir[c]);
	free(d->v2_dir);
	free(d);
}

static void driver_freep(struct cgroup_driver **d)
{
	cgroup_driver_free(*d);
}

int cgroup_driver_open(const char *mount_root, const char *base, struct cgroup_driver **ret,
		       sbx_error *err)
{
	return cgroup_driver_open_kind(CGROUP_DRIVER_AUTO, mount_root, base, ret, err);
}

/* Implemented in cgroup_systemd.c: whether systemd runs this machine. */
bool cg_systemd_booted(void);

int cgroup_driver_open_kind(enum cgroup_driver_kind kind, const char *mount_root, const char *base,
			    struct cgroup_driver **ret, sbx_error *err)
{
	if (!mount_root || mount_root[0] != '/')
		return sbx_error_set(err, EINVAL, "cgroup mount root must be an absolute path");
	if (!cgroup_name_valid(base))
		return sbx_error_set(err, EINVAL, "invalid cgroup base name \"%s\"",
				     base ? base : "");
	_cleanup_(driver_freep) struct cgroup_driver *d = calloc(1, sizeof(*d));
	if (!d)
		return sbx_error_set(err, ENOMEM, "out of memory");
	d->root = strdup(mount_root);
	d->base = strdup(base);
	if (!d->root || !d->base)
		return sbx_error_set(err, ENOMEM, "out of memory");
	size_t rl = strlen(d->root);
	while (rl > 1 && d->root[rl - 1] == '/')
		d->root[--rl] = '\0';

	struct statfs sf;
	if (statfs(d->root, &sf) < 0)
		return sbx_error_errno(err, errno, "cgroup mount root %s", d->root);

	bool found_v1 = false, found_unified = false, root_is_v2 = false;
	int r = detect_from_mountinfo(d, &found_v1, &found_unified, &root_is_v2);
	if (r < 0)
		return sbx_error_errno(err, -r, "reading /proc/self/mountinfo");
	if ((unsigned long)sf.f_type == CGROUP2_SUPER_MAGIC)
		root_is_v2 = true;
	if (!found_v1 && !found_unified && !root_is_v2) {
		d->fake = true;
		detect_from_files(d, &found_v1, &found_unified, &root_is_v2);
	}

	enum cgroup_driver_kind detected;
	if (root_is_v2)
		detected = CGROUP_DRIVER_V2;
	else if (found_v1 && found_unified)
		detected = CGROUP_DRIVER_HYBRID;
	else if (found_v1)
		detected = CGROUP_DRIVER_V1;
	else
		return sbx_error_set(err, ENOENT, "no cgroup hierarchy found under %s", d->root);

	/* On a systemd host with the unified layout, systemd owns the tree: writing our own
	 * top-level directory next to its slices would be undone or fought over, so we use the
	 * subtree it delegates to the service. */
	if (kind == CGROUP_DRIVER_AUTO)
		kind = detected == CGROUP_DRIVER_V2 && !d->fake && cg_systemd_booted()
			   ? CGROUP_DRIVER_SYSTEMD
			   : detected;

	switch (kind) {
	case CGROUP_DRIVER_V2:
		if (!root_is_v2)
			return sbx_error_set(err, ENODEV, "%s is not a cgroup2 hierarchy", d->root);
		for (int c = 0; c < CG_V1_N; c++) {
			free(d->v1_dir[c]);
			d->v1_dir[c] = NULL;
		}
		free(d->v2_dir);
		d->v2_dir = strdup(d->root);
		if (!d->v2_dir)
			return sbx_error_set(err, ENOMEM, "out of memory");
		d->ops = &cg_v2_ops;
		break;
	case CGROUP_DRIVER_V1:
	case CGROUP_DRIVER_HYBRID:
		if (!found_v1 || !d->v1_dir[CG_V1_MEMORY])
			return sbx_error_set(err, ENODEV, "no cgroup v1 memory hierarchy under %s",
					     d->root);
		if (kind == CGROUP_DRIVER_HYBRID && !found_unified)
			return sbx_error_set(err, ENODEV, "no cgroup2 at %s/unified", d->root);
		if (kind == CGROUP_DRIVER_V1) {
			free(d->v2_dir);
			d->v2_dir = NULL;
		}
		d->ops = &cg_v1_ops;
		if (!d->fake) {
			r = cg_v1_libcgroup_init(d, err);
			if (r < 0)
				return r;
		}
		break;
	case CGROUP_DRIVER_SYSTEMD:
		r = cg_systemd_setup(d, err);
		if (r < 0)
			return r;
		d->ops = &cg_v2_ops;
		break;
	default:
		return sbx_error_set(err, EINVAL, "unknown cgroup driver %d", (int)kind);
	}
	d->kind = kind;
	*ret = TAKE_PTR(d);
	return 0;
}

/* Implemented in cgroup_v1.c. */
int cg_v1_prepare(struct cgroup_driver *d, sbx_error *err);

int cgroup_driver_prepare(struct cgroup_driver *d, sbx_error *err)
{
	if (d->ops != &cg_v1_ops)
		return 0;
	return cg_v1_prepare(d, err);
}

const char *cgroup_driver_name(const struct cgroup_driver *d)
{
	switch (d->kind) {
	case CGROUP_DRIVER_V1:
		return "v1";
	case CGROUP_DRIVER_V2:
		return "v2";
	case CGROUP_DRIVER_HYBRID:
		return "hybrid";
	case CGROUP_DRIVER_SYSTEMD:
		return "systemd";
	default:
		return "none";
	}
}

enum cgroup_driver_kind cgroup_driver_kind(const struct cgroup_driver *d)
{
	return d->kind;
}

/* ---- sessions ---- */

void cgroup_session_free(struct cgroup_session *s)
{
	if (!s)
		return;
	session_close_stat_fds(s);
	free(s->stat_fds);
	free(s->user);
	free(s->id);
	for (int c = 0; c < CG_V1_N; c++)
		free(s->v1_path[c]);
	free(s->v2_path);
	free(s);
}

static void session_freep(struct cgroup_session **s)
{
	cgroup_session_free(*s);
}

const char *cgroup_session_user(const struct cgroup_session *s)
{
	return s->user;
}

const char *cgroup_session_id(const struct cgroup_session *s)
{
	return s->id;
}

static char *session_dir(const struct cgroup_driver *d, const char *hier, const char *user,
			 const char *id)
{
	char *p;
	if (asprintf(&p, "%s/%s/%s/%s", hier, d->base, user, id) < 0)
		return NULL;
	return p;
}

static int add_procs_path(struct cgroup_session *s, const char *dir)
{
	char p[sizeof(s->procs[0])];
	if (join(p, sizeof(p), dir, "cgroup.procs") < 0)
		return -ENAMETOOLONG;
	for (size_t i = 0; i < s->n_procs; i++)
		if (strcmp(s->procs[i], p) == 0)
			return 0; /* co-mounted controllers share one directory */
	memcpy(s->procs[s->n_procs++], p, sizeof(p));
	return 0;
}

/* blkio: whether the session gets a v1 blkio group (see cgroup_session_create). */
static int session_new(struct cgroup_driver *d, const char *user, const char *id, bool blkio,
		       struct cgroup_session **ret, sbx_error *err)
{
	if (!cgroup_name_valid(user))
		return sbx_error_set(err, EINVAL, "invalid user name for a cgroup: \"%s\"",
				     user ? user : "");
	if (!cgroup_name_valid(id))
		return sbx_error_set(err, EINVAL, "invalid session id for a cgroup: \"%s\"",
				     id ? id : "");
	_cleanup_(session_freep) struct cgroup_session *s = calloc(1, sizeof(*s));
	if (!s)
		return sbx_error_set(err, ENOMEM, "out of memory");
	s->d = d;
	s->user = strdup(user);
	s->id = strdup(id);
	s->stat_fds = calloc(1, sizeof(*s->stat_fds));
	if (!s->user || !s->id || !s->stat_fds)
		return sbx_error_set(err, ENOMEM, "out of memory");
	for (int c = 0; c < CG_V1_N; c++) {
		if (!cg_v1_used(d, c) || (c == CG_V1_BLKIO && !blkio))
			continue;
		s->v1_path[c] = session_dir(d, d->v1_dir[c], user, id);
		if (!s->v1_path[c] || add_procs_path(s, s->v1_path[c]) < 0)
			return sbx_error_set(err, ENOMEM, "cgroup path for %s/%s", user, id);
	}
	if (d->v2_dir) {
		s->v2_path = session_dir(d, d->v2_dir, user, id);
		if (!s->v2_path || add_procs_path(s, s->v2_path) < 0)
			return sbx_error_set(err, ENOMEM, "cgroup path for %s/%s", user, id);
	}
	*ret = TAKE_PTR(s);
	return 0;
}

/* The directory listing and emptiness are read from: v2 tree, else v1 memory. */
static const char *primary_dir(const struct cgroup_session *s)
{
	return s->v1_path[CG_V1_MEMORY] ? s->v1_path[CG_V1_MEMORY] : s->v2_path;
}

int cgroup_session_create(struct cgroup_driver *d, const char *user, const char *session_id,
			  const struct cgroup_limits *limits, struct cgroup_session **ret,
			  sbx_error *err)
{
	_cleanup_(session_freep) struct cgroup_session *s = NULL;
	struct cgroup_limits def;
	if (!limits) {
		cgroup_limits_default(&def);
		limits = &def;
	}
	/* A v1 blkio group only serves blkio.weight: without an io weight it would be two mkdir,
	 * a placement and two rmdir per login for nothing. */
	int r = session_new(d, user, session_id, limits->io_weight != 0, &s, err);
	if (r < 0)
		return r;
	r = d->ops->create(s, limits, err);
	if (r < 0) {
		d->ops->remove(s, NULL);
		return sbx_error_wrap(err, "creating cgroup %s/%s/%s (%s)", d->base, user,
				      session_id, cgroup_driver_name(d));
	}
	/* Opens the files that stats reads (cg_stat_fds), here rather than at the first
	 * channel's end. */
	struct cgroup_stats st;
	(void)d->ops->stats(s, &st, NULL);
	*ret = TAKE_PTR(s);
	return 0;
}

int cgroup_session_open(struct cgroup_driver *d, const char *user, const char *session_id,
			struct cgroup_session **ret, sbx_error *err)
{
	_cleanup_(session_freep) struct cgroup_session *s = NULL;
	struct stat st;
	bool blkio = false;
	/* Sessions created without an io weight have no blkio group. */
	if (d->v1_dir[CG_V1_BLKIO] && cgroup_name_valid(user) && cgroup_name_valid(session_id)) {
		_cleanup_free_ char *dir = session_dir(d, d->v1_dir[CG_V1_BLKIO], user, session_id);
		blkio = dir && stat(dir, &st) == 0;
	}
	int r = session_new(d, user, session_id, blkio, &s, err);
	if (r < 0)
		return r;
	if (stat(primary_dir(s), &st) < 0)
		return sbx_error_errno(err, errno, "cgroup session %s", primary_dir(s));
	*ret = TAKE_PTR(s);
	return 0;
}

/* No malloc, no stdio, no locks: this runs in a forked child before exec. */
int cgroup_session_enter(const struct cgroup_session *s, sbx_error *err)
{
	for (size_t i = 0; i < s->n_procs; i++) {
		int fd = open(s->procs[i], O_WRONLY | O_CLOEXEC);
		if (fd < 0) {
			int e = errno;
			return err ? sbx_error_errno(err, e, "open %s", s->procs[i]) : -e;
		}
		/* "0" is the writing process itself, on v1 and v2 alike. */
		ssize_t n = write(fd, "0", 1);
		int e = errno;
		close(fd);
		if (n != 1)
			return err ? sbx_error_errno(err, e, "joining %s", s->procs[i]) : -e;
	}
	return 0;
}

int cgroup_session_attach(const struct cgroup_session *s, pid_t pid, sbx_error *err)
{
	if (pid <= 0)
		return sbx_error_set(err, EINVAL, "attach: invalid pid %ld", (long)pid);
	return s->d->ops->attach(s, pid, err);
}

int cgroup_session_set_limits(struct cgroup_session *s, const struct cgroup_limits *limits,
			      sbx_error *err)
{
	int r = s->d->ops->set_limits(s, limits, err);
	if (r < 0)
		return sbx_error_wrap(err, "changing limits of %s/%s", s->user, s->id);
	return 0;
}

int cgroup_session_stats(const struct cgroup_session *s, struct cgroup_stats *ret, sbx_error *err)
{
	*ret = (struct cgroup_stats){0};
	return s->d->ops->stats(s, ret, err);
}

int cgroup_session_nprocs(const struct cgroup_session *s, sbx_error *err)
{
	int total = 0;
	for (size_t i = 0; i < s->n_procs; i++) {
		char dir[sizeof(s->procs[0])];
		memcpy(dir, s->procs[i], sizeof(dir));
		*strrchr(dir, '/') = '\0';
		int n = cg_count_procs(dir);
		if (n == -ENOENT)
			continue;
		if (n < 0)
			return sbx_error_errno(err, -n, "reading %s", s->procs[i]);
		if (n > total)
			total = n;
	}
	return total;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void kill_one(pid_t pid, void *data)
{
	(void)data;
	kill(pid, SIGKILL);
}

/* v1 freezer: FROZEN once every task is stopped, FREEZING in between. A task stuck in
 * uninterruptible sleep can hold FREEZING; then this round still sends the kills and
 * the caller thaws anyway. Returns whether the freezer was written (so must be thawed). */
static bool freezer_freeze(const char *dir)
{
	if (cg_write(dir, "freezer.state", "FROZEN", NULL) < 0)
		return false;
	long deadline = now_ms() + 100;
	char buf[32];
	while (cg_read(dir, "freezer.state", buf, sizeof(buf)) > 0 &&
	       strncmp(buf, "FROZEN", 6) != 0 && now_ms() < deadline)
		sleep_ms(1);
	return true;
}

int cgroup_session_kill(struct cgroup_session *s, sbx_error *err)
{
	long deadline = now_ms() + CG_KILL_TIMEOUT_MS;
	const char *track = primary_dir(s);
	const char *freezer = s->v1_path[CG_V1_FREEZER];
	bool via_kill_file = false;

	/* cgroup.kill (5.14+) kills the whole subtree atomically, forks in flight included; it
	 * exists in every non-root cgroup2 directory, with or without controllers. */
	if (s->v2_path && cg_has(s->v2_path, "cgroup.kill")) {
		int r = cg_write(s->v2_path, "cgroup.kill", "1", err);
		if (r < 0 && r != -ENOENT)
			return sbx_error_wrap(err, "killing session %s/%s", s->user, s->id);
		via_kill_file = r == 0;
	}
	if (s->v2_path && !s->v1_path[CG_V1_MEMORY])
		track = s->v2_path;

	for (int round = 0;; round++) {
		int n = cg_count_procs(track);
		if (n == -ENOENT)
			return 0;
		if (n < 0)
			return sbx_error_errno(err, -n, "reading %s/cgroup.procs", track);
		if (n == 0 && s->v2_path && track != s->v2_path) {
			/* hybrid: the unified group is the tracking one; check it too */
			int m = cg_count_procs(s->v2_path);
			n = m > 0 ? m : 0;
		}
		if (n == 0)
			return 0;
		if (now_ms() > deadline)
			return sbx_error_set(err, EBUSY,
					     "session %s/%s still has %d processes after %d ms",
					     s->user, s->id, n, CG_KILL_TIMEOUT_MS);
		if (via_kill_file && round > 0 && round % 50 == 0)
			cg_write(s->v2_path, "cgroup.kill", "1", NULL);
		if (!via_kill_file) {
			/* Freezing first means nothing forks between reading the list and the
			 * kill; without a freezer the loop catches the children next round. */
			bool frozen = freezer && freezer_freeze(freezer);
			cg_for_each_proc(track, kill_one, NULL);
			if (s->v2_path && track != s->v2_path)
				cg_for_each_proc(s->v2_path, kill_one, NULL);
			/* SIGKILL is delivered to frozen tasks only once they thaw. */
			if (frozen)
				cg_write(freezer, "freezer.state", "THAWED", NULL);
		}
		sleep_ms(round < 10 ? 1 : 10);
	}
}

int cgroup_session_destroy(struct cgroup_session *s, sbx_error *err)
{
	session_close_stat_fds(s);
	/* The kernel refuses to remove a group that has a process in it (EBUSY), so removing
	 * first and killing only when that was refused loses nothing, and saves the kill's
	 * writes and reads in the usual case: the monitor destroys a session after reaping
	 * every jail, whose pid namespace took all of the session's processes along. A test
	 * tree refuses nothing: there the kill comes first. */
	if (!s->d->fake && s->d->ops->remove(s, NULL) == 0)
		return 0;
	int r = cgroup_session_kill(s, err);
	if (r < 0)
		return r;
	return s->d->ops->remove(s, err);
}

/* ---- listing and sweeping ---- */

static const char *driver_primary(const struct cgroup_driver *d)
{
	return d->v1_dir[CG_V1_MEMORY] ? d->v1_dir[CG_V1_MEMORY] : d->v2_dir;
}

typedef int (*session_fn)(struct cgroup_driver *d, const char *user, const char *id, void *data,
			  sbx_error *err);

static int list_subdirs(const char *path, char ***ret)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *dir = fdopendir(fd);
	if (!dir)
		return -errno;
	fd = -1;
	char **v = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(dir))) {
		if (de->d_type != DT_DIR || !cgroup_name_valid(de->d_name))
			continue;
		char **nv = realloc(v, (n + 2) * sizeof(*v));
		if (!nv)
			break;
		v = nv;
		v[n] = strdup(de->d_name);
		if (v[n])
			n++;
		v[n] = NULL;
	}
	closedir(dir);
	if (!v)
		v = calloc(1, sizeof(*v));
	*ret = v;
	return v ? (int)n : -ENOMEM;
}

static void strv_free(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

static int for_each_session(struct cgroup_driver *d, session_fn fn, void *data, sbx_error *err)
{
	_cleanup_free_ char *basedir = path_join3(driver_primary(d), d->base, NULL);
	if (!basedir)
		return sbx_error_set(err, ENOMEM, "out of memory");
	char **users = NULL;
	int r = list_subdirs(basedir, &users);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return sbx_error_errno(err, -r, "listing %s", basedir);
	int count = 0;
	for (char **u = users; *u && r >= 0; u++) {
		_cleanup_free_ char *udir = path_join3(basedir, *u, NULL);
		char **ids = NULL;
		if (!udir || list_subdirs(udir, &ids) < 0)
			continue;
		for (char **id = ids; *id; id++) {
			r = fn(d, *u, *id, data, err);
			if (r < 0)
				break;
			count += r;
		}
		strv_free(ids);
	}
	strv_free(users);
	return r < 0 ? r : count;
}

struct sweep_data {
	bool (*is_live)(const char *, void *);
	void *userdata;
};

static int sweep_one(struct cgroup_driver *d, const char *user, const char *id, void *data,
		     sbx_error *err)
{
	struct sweep_data *sd = data;
	if (sd->is_live && sd->is_live(id, sd->userdata))
		return 0;
	_cleanup_(session_freep) struct cgroup_session *s = NULL;
	int r = cgroup_session_open(d, user, id, &s, err);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	r = cgroup_session_destroy(s, err);
	if (r < 0)
		return sbx_error_wrap(err, "sweeping orphaned session %s/%s", user, id);
	if (d->no_freezer) {
		/* A daemon before no_freezer made freezer groups too. */
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s/%s/%s", d->v1_dir[CG_V1_FREEZER], d->base, user,
			 id);
		cg_rmdir(d, path, true, NULL);
		snprintf(path, sizeof(path), "%s/%s/%s", d->v1_dir[CG_V1_FREEZER], d->base, user);
		cg_rmdir(d, path, true, NULL);
	}
	return 1;
}

int cgroup_sweep_orphans(struct cgroup_driver *d, bool (*is_live)(const char *session_id, void *),
			 void *userdata, sbx_error *err)
{
	struct sweep_data sd = {is_live, userdata};
	return for_each_session(d, sweep_one, &sd, err);
}

struct list_data {
	int (*fn)(const char *, const char *, const struct cgroup_stats *, void *);
	void *userdata;
};

static int list_one(struct cgroup_driver *d, const char *user, const char *id, void *data,
		    sbx_error *err)
{
	struct list_data *ld = data;
	_cleanup_(session_freep) struct cgroup_session *s = NULL;
	int r = cgroup_session_open(d, user, id, &s, err);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	struct cgroup_stats st;
	r = cgroup_session_stats(s, &st, err);
	if (r < 0)
		return r;
	r = ld->fn(user, id, &st, ld->userdata);
	return r < 0 ? r : 1;
}

int cgroup_list_sessions(struct cgroup_driver *d,
			 int (*fn)(const char *user, const char *session_id,
				   const struct cgroup_stats *stats, void *userdata),
			 void *userdata, sbx_error *err)
{
	struct list_data ld = {fn, userdata};
	return for_each_session(d, list_one, &ld, err);
}
