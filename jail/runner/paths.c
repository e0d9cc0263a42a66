/* Where a write would really land. The hook sees the path a program passed; the kernel
 * follows symlinks, "..", and a directory descriptor. We resolve the parent with realpath()
 * and then follow the last component by hand (a dangling symlink in the home pointing at
 * /etc/x would otherwise let open(..., "w") create /etc/x). This is a check before the act,
 * so a racing thread can still swap a symlink in between: the jail's read-only mounts are the
 * boundary, this is the clear message. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "jail/runner/runner.h"

#define SYMLINK_MAX_DEPTH 40

static char home_dir[PATH_MAX];
static char tmp_dir[PATH_MAX];

/* Devices a program may open for writing wherever they live. */
static const char *const writable_devices[] = {
    "/dev/null", "/dev/zero", "/dev/full", "/dev/tty", "/dev/ptmx",
};

static const char *const system_python_trees[] = {
    PYTHON_STDLIB_DIR,
    "/usr/lib/python3/dist-packages",
    "/usr/local/lib/python3.11/dist-packages",
};
static const char *const system_native_trees[] = {
    PYTHON_DYNLOAD_DIR,
    "/usr/lib/python3/dist-packages",
    "/usr/local/lib/python3.11/dist-packages",
};

static bool has_dir_prefix(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (n == 0)
		return false;
	if (strncmp(path, dir, n) != 0)
		return false;
	return path[n] == '\0' || path[n] == '/' || dir[n - 1] == '/';
}

int runner_paths_init(const char *home)
{
	if (!realpath("/tmp", tmp_dir))
		snprintf(tmp_dir, sizeof(tmp_dir), "/tmp");
	/* A home that does not resolve, or that is "/", grants nothing. */
	if (!home || home[0] != '/' || !realpath(home, home_dir) || strcmp(home_dir, "/") == 0)
		home_dir[0] = '\0';
	return 0;
}

const char *runner_path_home(void)
{
	return home_dir[0] ? home_dir : NULL;
}

bool runner_path_is_student_writable(const char *path)
{
	return (home_dir[0] && has_dir_prefix(path, home_dir)) || has_dir_prefix(path, tmp_dir);
}

/* No ".", ".." or empty component: the path names what it spells, up to symlinks. */
static bool is_plain_absolute(const char *path)
{
	if (path[0] != '/')
		return false;
	for (const char *c = path + 1;; c++) {
		const char *end = strchrnul(c, '/');
		size_t n = (size_t)(end - c);
		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		if (*end == '\0')
			return true;
		c = end;
	}
}

bool runner_path_spelled_system_python(const char *path, bool dynload_only)
{
	return is_plain_absolute(path) && runner_path_is_system_python(path, dynload_only);
}

bool runner_path_is_system_python(const char *path, bool dynload_only)
{
	const char *const *trees = dynload_only ? system_native_trees : system_python_trees;
	size_t n = dynload_only ? ELEMENTSOF(system_native_trees) : ELEMENTSOF(system_python_trees);

	for (size_t i = 0; i < n; i++)
		if (has_dir_prefix(path, trees[i]))
			return true;
	return false;
}

/* "/proc/<pid>/fd" or "/proc/<pid>/task/<tid>/fd": a symlink there whose target is not a path
 * (pipe:[..], socket:[..], anon_inode:..) reopens an object the program already holds. */
static bool is_proc_fd_dir(const char *dir)
{
	const char *p;

	if (strncmp(dir, "/proc/", 6) != 0)
		return false;
	p = strrchr(dir, '/');
	return p && strcmp(p, "/fd") == 0;
}

static bool is_proc_mem(const char *path)
{
	const char *p = strrchr(path, '/');

	return strncmp(path, "/proc/", 6) == 0 && p && strcmp(p, "/mem") == 0;
}

/* Absolute form of path: relative paths start at dir_fd's directory or the working one. */
static int absolute(const char *path, int dir_fd, char *out, size_t size)
{
	char base[PATH_MAX], link[64];
	ssize_t n;

	if (path[0] == '/') {
		if (strlen(path) >= size)
			return -ENAMETOOLONG;
		strcpy(out, path);
		return 0;
	}
	if (dir_fd >= 0) {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", dir_fd);
		n = readlink(link, base, sizeof(base) - 1);
		if (n < 0 || base[0] != '/')
			return -EBADF;
		base[n] = '\0';
	} else if (!getcwd(base, sizeof(base))) {
		return -errno;
	}
	if ((size_t)snprintf(out, size, "%s/%s", base, path) >= size)
		return -ENAMETOOLONG;
	return 0;
}

/* Resolves the directory part with realpath(); if it does not exist, the nearest existing
 * ancestor stands in (the operation itself will fail with ENOENT). The home and /tmp themselves
 * resolve to what runner_paths_init found: in the jail both are mount points on a read-only
 * root, which no one inside can rename, remove or replace by a symlink, so realpath's lstat of
 * every component (three system calls for /home/alice, a third of a write-open's cost,
 * measured) would only find the same answer again. */
static int resolve_parent(char *dir, char *out)
{
	char *slash;

	if ((home_dir[0] && strcmp(dir, home_dir) == 0) || strcmp(dir, tmp_dir) == 0) {
		strcpy(out, dir);
		return 0;
	}
	for (;;) {
		if (realpath(dir[0] ? dir : "/", out))
			return 0;
		if (errno != ENOENT && errno != ENOTDIR)
			return -errno;
		slash = strrchr(dir, '/');
		if (!slash)
			return -ENOENT;
		*slash = '\0';
		if (!dir[0])
			return realpath("/", out) ? 0 : -errno;
	}
}

enum resolve_result { RESOLVED_PATH, RESOLVED_PSEUDO, RESOLVED_ERROR };

static enum resolve_result resolve(const char *path, int dir_fd, bool follow_last, char *out,
				   size_t size)
{
	char cur[PATH_MAX], dir[PATH_MAX], rdir[PATH_MAX], target[PATH_MAX];
	const char *base;
	size_t len;
	ssize_t n;

	if (absolute(path, dir_fd, cur, sizeof(cur)) < 0)
		return RESOLVED_ERROR;
	for (int depth = 0; depth < SYMLINK_MAX_DEPTH; depth++) {
		len = strlen(cur);
		while (len > 1 && cur[len - 1] == '/')
			cur[--len] = '\0';
		char *slash = strrchr(cur, '/');
		base = slash + 1;
		memcpy(dir, cur, (size_t)(slash - cur));
		dir[slash - cur] = '\0';
		if (strcmp(base, ".") == 0 || strcmp(base, "..") == 0 || base[0] == '\0') {
			strcpy(dir, cur);
			if (resolve_parent(dir, rdir) < 0)
				return RESOLVED_ERROR;
			snprintf(out, size, "%s", rdir);
			return RESOLVED_PATH;
		}
		if (resolve_parent(dir, rdir) < 0)
			return RESOLVED_ERROR;
		if ((size_t)snprintf(out, size, "%s%s%s", rdir, strcmp(rdir, "/") ? "/" : "",
				     base) >= size)
			return RESOLVED_ERROR;
		if (!follow_last)
			return RESOLVED_PATH;
		/* One call instead of lstat() then readlink(): EINVAL is "not a symlink", ENOENT
		 * a file the open will create; either way the path is what it spells. */
		n = readlink(out, target, sizeof(target) - 1);
		if (n < 0)
			return RESOLVED_PATH;
		if ((size_t)n >= sizeof(target) - 1)
			return RESOLVED_ERROR; /* a target this long may have been cut short */
		target[n] = '\0';
		if (target[0] == '/') {
			strcpy(cur, target);
		} else if (is_proc_fd_dir(rdir)) {
			return RESOLVED_PSEUDO;
		} else if ((size_t)snprintf(cur, sizeof(cur), "%s/%s", rdir, target) >=
			   sizeof(cur)) {
			return RESOLVED_ERROR;
		}
	}
	return RESOLVED_ERROR; /* a symlink loop: the kernel would say ELOOP */
}

enum runner_path_verdict runner_path_check_write(const char *path, int dir_fd, bool follow_last,
						 char *resolved, size_t resolved_size)
{
	char buf[PATH_MAX];
	enum resolve_result r = resolve(path, dir_fd, follow_last, buf, sizeof(buf));

	if (resolved && resolved_size)
		snprintf(resolved, resolved_size, "%s", r == RESOLVED_PATH ? buf : path);
	if (r == RESOLVED_PSEUDO)
		return RUNNER_PATH_OK;
	if (r == RESOLVED_ERROR)
		return RUNNER_PATH_OUTSIDE;
	if (is_proc_mem(buf))
		return RUNNER_PATH_PROC_MEM;
	if (runner_path_is_student_writable(buf) || has_dir_prefix(buf, "/dev/pts"))
		return RUNNER_PATH_OK;
	for (size_t i = 0; i < ELEMENTSOF(writable_devices); i++)
		if (strcmp(buf, writable_devices[i]) == 0)
			return RUNNER_PATH_OK;
	return RUNNER_PATH_OUTSIDE;
}

enum runner_path_verdict runner_path_check_read(const char *path, int dir_fd)
{
	char buf[PATH_MAX];
	const char *base = strrchr(path, '/');

	/* Only a last component called "mem" can name a process's memory: everything else
	 * stays a plain string compare on this hot path. */
	base = base ? base + 1 : path;
	if (strcmp(base, "mem") != 0)
		return RUNNER_PATH_OK;
	if (resolve(path, dir_fd, true, buf, sizeof(buf)) != RESOLVED_PATH)
		return RUNNER_PATH_OK;
	return is_proc_mem(buf) ? RUNNER_PATH_PROC_MEM : RUNNER_PATH_OK;
}
