/* The jail's file system: a root built fresh on tmpfs in the jail's own mount namespace.
 *
 * Order matters: propagation private first (nothing we mount leaks to the host and nothing from
 * the host arrives later), then the root tmpfs, everything that lives in it, the root sealed
 * read-only, and pivot_root last so every source path is still the host's while we bind.
 * Bind sources are opened with O_PATH|O_NOFOLLOW, checked with fstat (owner, mode) and bound
 * through /proc/self/fd/N, so what we checked is what we bind. Bind mounts take their flags
 * from a second MS_REMOUNT|MS_BIND call (the kernel ignores them on the first); the flags the
 * source mount already has (nosuid, noexec, ro, atime) are carried over. */
#include "config.h"

#include "jail/jail-internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/cleanup.h"

#define JAIL_ROOT_MOUNTPOINT RUNSTATEDIR "/sandboxd/jail-root"

enum bind_owner { OWNER_ROOT, OWNER_ROOT_OR_USER, OWNER_USER };

static int path_in(char *buf, size_t size, const char *root, const char *rel, sbx_error *err)
{
	int n = snprintf(buf, size, "%s/%s", root, rel[0] == '/' ? rel + 1 : rel);
	if (n < 0 || (size_t)n >= size)
		return sbx_error_set(err, ENAMETOOLONG, "path %s/%s too long", root, rel);
	return 0;
}

static int mkdir_p(const char *path, mode_t mode, sbx_error *err)
{
	char buf[PATH_MAX];

	if (strlen(path) >= sizeof(buf))
		return sbx_error_set(err, ENAMETOOLONG, "%s", path);
	strcpy(buf, path);
	for (char *p = buf + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(buf, mode) < 0 && errno != EEXIST)
				return sbx_error_errno(err, errno, "mkdir %s", buf);
			*p = c;
			if (c == '\0')
				break;
		}
	}
	return 0;
}

static int write_file(const char *root, const char *rel, const char *content, mode_t mode,
		      sbx_error *err)
{
	char path[PATH_MAX];
	int r = path_in(path, sizeof(path), root, rel, err);
	if (r < 0)
		return r;
	_cleanup_close_ int fd =
	    open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return sbx_error_errno(err, errno, "create %s", path);
	size_t len = strlen(content);
	if (write(fd, content, len) != (ssize_t)len)
		return sbx_error_errno(err, errno ? errno : EIO, "write %s", path);
	return 0;
}

static unsigned long statvfs_to_mount_flags(unsigned long f)
{
	unsigned long m = 0;
	if (f & ST_RDONLY)
		m |= MS_RDONLY;
	if (f & ST_NOSUID)
		m |= MS_NOSUID;
	if (f & ST_NODEV)
		m |= MS_NODEV;
	if (f & ST_NOEXEC)
		m |= MS_NOEXEC;
	if (f & ST_NOATIME)
		m |= MS_NOATIME;
	if (f & ST_NODIRATIME)
		m |= MS_NODIRATIME;
	if (f & ST_RELATIME)
		m |= MS_RELATIME;
	return m;
}

static int check_source(int fd, const char *source, enum bind_owner owner, uid_t uid,
			struct stat *ret_st, sbx_error *err)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return sbx_error_errno(err, errno, "fstat %s", source);
	bool owner_ok =
	    (owner != OWNER_USER && st.st_uid == 0) || (owner != OWNER_ROOT && st.st_uid == uid);
	if (!owner_ok)
		return sbx_error_set(err, EPERM, "%s is owned by uid %u", source,
				     (unsigned)st.st_uid);
	if (!S_ISCHR(st.st_mode) && (st.st_mode & (S_IWGRP | S_IWOTH)) &&
	    !(S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX)))
		return sbx_error_set(err, EPERM, "%s is writable by group or others (mode %04o)",
				     source, (unsigned)(st.st_mode & 07777));
	*ret_st = st;
	return 0;
}

/* Binds `source` (host) at `target` (full path, created if missing) and applies `flags` plus
 * the source mount's own flags. */
static int bind_checked(const char *source, const char *target, enum bind_owner owner, uid_t uid,
			unsigned long flags, sbx_error *err)
{
	_cleanup_close_ int fd = open(source, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	struct statvfs sv;
	char proc_path[64];
	int r;

	if (fd < 0)
		return sbx_error_errno(err, errno, "open %s", source);
	if ((r = check_source(fd, source, owner, uid, &st, err)) < 0)
		return r;
	if (S_ISDIR(st.st_mode)) {
		if ((r = mkdir_p(target, 0755, err)) < 0)
			return r;
	} else {
		char parent[PATH_MAX];
		snprintf(parent, sizeof(parent), "%s", target);
		char *slash = strrchr(parent, '/');
		if (slash && slash != parent) {
			*slash = '\0';
			if ((r = mkdir_p(parent, 0755, err)) < 0)
				return r;
		}
		_cleanup_close_ int t =
		    open(target, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0);
		if (t < 0)
			return sbx_error_errno(err, errno, "create mount point %s", target);
	}
	if (fstatvfs(fd, &sv) < 0)
		return sbx_error_errno(err, errno, "statvfs %s", source);
	snprintf(proc_path, sizeof(proc_path), "/proc/self/fd/%d", fd);
	if (mount(proc_path, target, NULL, MS_BIND, NULL) < 0)
		return sbx_error_errno(err, errno, "bind %s on %s", source, target);
	flags |= statvfs_to_mount_flags(sv.f_flag);
	if (mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | flags, NULL) < 0)
		return sbx_error_errno(err, errno, "remount %s", target);
	return 0;
}

int jail_mount_root_dir(char **ret_root, sbx_error *err)
{
	struct stat st;
	int r = mkdir_p(JAIL_ROOT_MOUNTPOINT, 0700, err);
	if (r < 0)
		return r;
	if (lstat(JAIL_ROOT_MOUNTPOINT, &st) < 0)
		return sbx_error_errno(err, errno, "lstat %s", JAIL_ROOT_MOUNTPOINT);
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)))
		return sbx_error_set(err, EPERM, "%s must be a root-owned directory",
				     JAIL_ROOT_MOUNTPOINT);
	*ret_root = (char *)JAIL_ROOT_MOUNTPOINT;
	return 0;
}

int jail_mount_private_propagation(sbx_error *err)
{
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return sbx_error_errno(err, errno, "make / private");
	return 0;
}

int jail_mount_root_tmpfs(const char *root, sbx_error *err)
{
	if (mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "size=1m,nr_inodes=4096,mode=0755") < 0)
		return sbx_error_errno(err, errno, "tmpfs on %s", root);
	return 0;
}

/* /usr read-only, and /bin, /lib, ... as the host has them: symlinks into usr on merged-/usr
 * systems (Debian 12), read-only binds otherwise. /usr/local is hidden under an empty
 * read-only tmpfs: the jail's runtime is the distribution's, and a locally built Python there
 * would bring its own _ctypes. */
int jail_mount_runtime(const char *root, sbx_error *err)
{
	static const char *const top_links[] = {"bin", "sbin", "lib", "lib32", "lib64", "libx32"};
	char target[PATH_MAX], host[PATH_MAX], link[PATH_MAX];
	int r;

	if ((r = path_in(target, sizeof(target), root, "usr", err)) < 0)
		return r;
	if ((r = bind_checked("/usr", target, OWNER_ROOT, 0, MS_RDONLY | MS_NOSUID | MS_NODEV,
			      err)) < 0)
		return r;
	for (size_t i = 0; i < ELEMENTSOF(top_links); i++) {
		struct stat st;
		snprintf(host, sizeof(host), "/%s", top_links[i]);
		if (lstat(host, &st) < 0)
			continue;
		if ((r = path_in(target, sizeof(target), root, top_links[i], err)) < 0)
			return r;
		if (S_ISLNK(st.st_mode)) {
			ssize_t n = readlink(host, link, sizeof(link) - 1);
			if (n < 0)
				return sbx_error_errno(err, errno, "readlink %s", host);
			link[n] = '\0';
			if (symlink(link, target) < 0)
				return sbx_error_errno(err, errno, "symlink %s", target);
		} else if (S_ISDIR(st.st_mode)) {
			if ((r = bind_checked(host, target, OWNER_ROOT, 0,
					      MS_RDONLY | MS_NOSUID | MS_NODEV, err)) < 0)
				return r;
		}
	}
	if ((r = path_in(target, sizeof(target), root, "usr/local", err)) < 0)
		return r;
	if (access(target, F_OK) == 0 &&
	    mount("tmpfs", target, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "size=4k,nr_inodes=16,mode=0755") < 0)
		return sbx_error_errno(err, errno, "hide %s", target);
	return 0;
}

/* Extension modules that give Python code raw memory access or test hooks into the
 * interpreter: ctypes and cffi's backend are a memory-write primitive, _test* and _xx* expose
 * internals. */
static const char *const hidden_module_prefixes[] = {
    "_ctypes", "_test", "_xxsubinterpreters", "_xxtestfuzz", "_cffi_backend",
};

static bool module_is_hidden(const char *name)
{
	if (!strstr(name, ".so"))
		return false;
	for (size_t i = 0; i < ELEMENTSOF(hidden_module_prefixes); i++)
		if (strncmp(name, hidden_module_prefixes[i], strlen(hidden_module_prefixes[i])) ==
		    0)
			return true;
	return false;
}

/* The flags every hiding bind must carry: a bind copies them from its source mount. */
#define HIDE_FLAGS (ST_RDONLY | ST_NOSUID | ST_NODEV | ST_NOEXEC)

/* template: "" before the first module; then the path of the first hiding bind, which later
 * ones are bound from (they inherit its read-only, nosuid, nodev, noexec flags: one mount call
 * each instead of a bind and a remount). */
static int hide_modules_in(const char *root, const char *dir, char *template, size_t tsize,
			   sbx_error *err)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char target[PATH_MAX], rel[PATH_MAX];
	int r = 0;

	if (!d)
		return errno == ENOENT ? 0 : sbx_error_errno(err, errno, "opendir %s", dir);
	while ((de = readdir(d))) {
		if (!module_is_hidden(de->d_name))
			continue;
		snprintf(rel, sizeof(rel), "%s/%s", dir, de->d_name);
		if ((r = path_in(target, sizeof(target), root, rel, err)) < 0)
			break;
		struct statvfs sv;
		if (template[0]) {
			if (mount(template, target, NULL, MS_BIND, NULL) < 0) {
				r = sbx_error_errno(err, errno, "hide %s", rel);
				break;
			}
			if (statvfs(target, &sv) == 0 && (sv.f_flag & HIDE_FLAGS) == HIDE_FLAGS)
				continue;
		} else if (mount("/dev/null", target, NULL, MS_BIND, NULL) < 0) {
			r = sbx_error_errno(err, errno, "hide %s", rel);
			break;
		}
		/* The first one (or a bind that did not inherit the flags, which the kernel
		 * always copies): read-only, nosuid, nodev, noexec. */
		if (mount(NULL, target, NULL,
			  MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
			  NULL) < 0) {
			r = sbx_error_errno(err, errno, "hide %s", rel);
			break;
		}
		if (!template[0])
			snprintf(template, tsize, "%s", target);
	}
	closedir(d);
	return r;
}

/* Each dangerous extension module gets the host's /dev/null bound over it, read-only and
 * nodev, so opening it fails and the import fails (ImportError) in any Python on the image. One
 * bind per module (about ten) is far cheaper than rebuilding lib-dynload from ~70 binds of the
 * allowed files. (An unlinked empty file would do too, but keeps the root tmpfs from being
 * remounted read-only: the kernel refuses while unlinked inodes are in use.) */
int jail_mount_hide_python_modules(const char *root, sbx_error *err)
{
	char dir[PATH_MAX], template[PATH_MAX] = "";
	struct dirent *de;
	int r;
	DIR *d;

	/* /usr/lib/python3.N/lib-dynload for every N, and the system dist-packages. */
	d = opendir("/usr/lib");
	if (!d)
		return sbx_error_errno(err, errno, "opendir /usr/lib");
	r = 0;
	while (r == 0 && (de = readdir(d)))
		if (strncmp(de->d_name, "python3.", 8) == 0) {
			snprintf(dir, sizeof(dir), "/usr/lib/%s/lib-dynload", de->d_name);
			r = hide_modules_in(root, dir, template, sizeof(template), err);
		}
	closedir(d);
	if (r == 0)
		r = hide_modules_in(root, "/usr/lib/python3/dist-packages", template,
				    sizeof(template), err);
	return r;
}

/* A generated /etc: only this user and group, local name resolution from files. */
int jail_mount_etc(const char *root, const struct jail_spec *spec, sbx_error *err)
{
	char path[PATH_MAX], buf[4096];
	const char *hostname = spec->hostname ? spec->hostname : JAIL_DEFAULT_HOSTNAME;
	int r;

	if ((r = path_in(path, sizeof(path), root, "etc", err)) < 0)
		return r;
	if (mkdir(path, 0755) < 0)
		return sbx_error_errno(err, errno, "mkdir %s", path);
	snprintf(buf, sizeof(buf), "%s:x:%u:%u::%s:/usr/bin/python3\n", spec->user,
		 (unsigned)spec->uid, (unsigned)spec->gid, spec->home_target);
	if ((r = write_file(root, "etc/passwd", buf, 0644, err)) < 0)
		return r;
	snprintf(buf, sizeof(buf), "%s:x:%u:\n", spec->user, (unsigned)spec->gid);
	if ((r = write_file(root, "etc/group", buf, 0644, err)) < 0)
		return r;
	snprintf(buf, sizeof(buf), "%s\n", hostname);
	if ((r = write_file(root, "etc/hostname", buf, 0644, err)) < 0)
		return r;
	snprintf(buf, sizeof(buf), "127.0.0.1\tlocalhost %s\n::1\tlocalhost ip6-localhost\n",
		 hostname);
	if ((r = write_file(root, "etc/hosts", buf, 0644, err)) < 0)
		return r;
	if ((r = write_file(root, "etc/nsswitch.conf",
			    "passwd: files\ngroup: files\nshadow: files\nhosts: files\n"
			    "networks: files\nprotocols: files\nservices: files\n",
			    0644, err)) < 0)
		return r;
	if ((r = path_in(path, sizeof(path), root, "etc/ld.so.cache", err)) < 0)
		return r;
	if (access("/etc/ld.so.cache", F_OK) == 0 &&
	    (r = bind_checked("/etc/ld.so.cache", path, OWNER_ROOT, 0,
			      MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, err)) < 0)
		return r;
	ssize_t n = readlink("/etc/localtime", buf, sizeof(buf) - 1);
	if (n > 0 && strncmp(buf, "/usr/", 5) == 0) {
		buf[n] = '\0';
		if ((r = path_in(path, sizeof(path), root, "etc/localtime", err)) < 0)
			return r;
		if (symlink(buf, path) < 0)
			return sbx_error_errno(err, errno, "symlink %s", path);
	}
	return 0;
}

/* /dev: a small tmpfs with six device nodes, the jail's own devpts instance (ptys of other jails
 * and of the host are invisible), then sealed read-only. The nodes are made with mknod, with the
 * host device's number and mode (each one checked to be a character device): the same devices as
 * binds of the host's nodes would be, for a fifth of the system calls (measured: 0.25 ms of
 * every jail's start with six binds). */
int jail_mount_dev(const char *root, sbx_error *err)
{
	static const char *const devices[] = {"null", "zero", "full", "random", "urandom", "tty"};
	static const char *const links[][2] = {
	    {"pts/ptmx", "ptmx"},	   {"/proc/self/fd", "fd"},
	    {"/proc/self/fd/0", "stdin"},  {"/proc/self/fd/1", "stdout"},
	    {"/proc/self/fd/2", "stderr"},
	};
	char dev[PATH_MAX], path[PATH_MAX], host[64];
	int r;

	if ((r = path_in(dev, sizeof(dev), root, "dev", err)) < 0)
		return r;
	if (mkdir(dev, 0755) < 0)
		return sbx_error_errno(err, errno, "mkdir %s", dev);
	if (mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,nr_inodes=64,mode=0755") <
	    0)
		return sbx_error_errno(err, errno, "tmpfs on %s", dev);
	for (size_t i = 0; i < ELEMENTSOF(devices); i++) {
		struct stat st;
		snprintf(host, sizeof(host), "/dev/%s", devices[i]);
		if (stat(host, &st) < 0 || !S_ISCHR(st.st_mode))
			return sbx_error_set(err, ENODEV, "%s is not a character device", host);
		if ((r = path_in(path, sizeof(path), dev, devices[i], err)) < 0)
			return r;
		/* chmod after mknod: the mode must not depend on the monitor's umask. */
		if (mknod(path, S_IFCHR | 0600, st.st_rdev) < 0 ||
		    chmod(path, st.st_mode & 0777) < 0)
			return sbx_error_errno(err, errno, "mknod %s", path);
	}
	if ((r = path_in(path, sizeof(path), dev, "pts", err)) < 0)
		return r;
	if (mkdir(path, 0755) < 0)
		return sbx_error_errno(err, errno, "mkdir %s", path);
	if (mount("devpts", path, "devpts", MS_NOSUID | MS_NOEXEC,
		  "newinstance,ptmxmode=0666,mode=0620") < 0)
		return sbx_error_errno(err, errno, "devpts on %s", path);
	for (size_t i = 0; i < ELEMENTSOF(links); i++) {
		if ((r = path_in(path, sizeof(path), dev, links[i][1], err)) < 0)
			return r;
		if (symlink(links[i][0], path) < 0)
			return sbx_error_errno(err, errno, "symlink %s", path);
	}
	if (mount(NULL, dev, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC,
		  "size=64k,nr_inodes=64,mode=0755") < 0)
		return sbx_error_errno(err, errno, "remount %s read-only", dev);
	return 0;
}

/* A fresh, read-only /proc for the new pid namespace: it shows only the jail's processes, and
 * read-only closes /proc/self/mem and friends as a write primitive. */
int jail_mount_proc(const char *root, sbx_error *err)
{
	char path[PATH_MAX];
	int r = path_in(path, sizeof(path), root, "proc", err);
	if (r < 0)
		return r;
	if (mkdir(path, 0555) < 0)
		return sbx_error_errno(err, errno, "mkdir %s", path);
	if (mount("proc", path, "proc", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return sbx_error_errno(err, errno, "proc on %s", path);
	return 0;
}

int jail_mount_tmp(const char *root, uint64_t bytes, sbx_error *err)
{
	char path[PATH_MAX], opts[128];
	int r = path_in(path, sizeof(path), root, "tmp", err);
	if (r < 0)
		return r;
	if (mkdir(path, 01777) < 0)
		return sbx_error_errno(err, errno, "mkdir %s", path);
	snprintf(opts, sizeof(opts), "size=%llu,mode=1777",
		 (unsigned long long)(bytes ? bytes : JAIL_DEFAULT_TMP_BYTES));
	if (mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) < 0)
		return sbx_error_errno(err, errno, "tmpfs on %s", path);
	return 0;
}

/* The persistent home: must be a real directory owned by the user (O_NOFOLLOW on the last
 * component) and not writable by others; writable, but nosuid,nodev,noexec. */
int jail_mount_home(const char *root, const struct jail_spec *spec, sbx_error *err)
{
	char target[PATH_MAX];
	int r;

	if (!spec->home_source || !spec->home_target || spec->home_target[0] != '/')
		return sbx_error_set(err, EINVAL, "home source and absolute target are required");
	_cleanup_close_ int fd =
	    open(spec->home_source, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return sbx_error_errno(err, errno, "open home %s", spec->home_source);
	struct stat st;
	if ((r = check_source(fd, spec->home_source, OWNER_USER, spec->uid, &st, err)) < 0)
		return r;
	if ((r = path_in(target, sizeof(target), root, spec->home_target, err)) < 0)
		return r;
	if ((r = mkdir_p(target, 0755, err)) < 0)
		return r;
	char proc_path[64];
	snprintf(proc_path, sizeof(proc_path), "/proc/self/fd/%d", fd);
	if (mount(proc_path, target, NULL, MS_BIND, NULL) < 0)
		return sbx_error_errno(err, errno, "bind home %s", spec->home_source);
	struct statvfs sv;
	if (fstatvfs(fd, &sv) < 0)
		return sbx_error_errno(err, errno, "statvfs %s", spec->home_source);
	unsigned long flags = statvfs_to_mount_flags(sv.f_flag) | MS_NOSUID | MS_NODEV | MS_NOEXEC;
	if (mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | flags, NULL) < 0)
		return sbx_error_errno(err, errno, "remount home %s", target);
	return 0;
}

/* Extra read-only binds (tests: the probe's directory). Executable, never suid or devices. */
int jail_mount_extra_binds(const char *root, const struct jail_spec *spec, sbx_error *err)
{
	char target[PATH_MAX];
	int r;

	for (size_t i = 0; i < spec->n_binds; i++) {
		const struct jail_bind *b = &spec->binds[i];
		if (!b->source || !b->target || b->target[0] != '/')
			return sbx_error_set(err, EINVAL,
					     "bind needs a source and an absolute target");
		if ((r = path_in(target, sizeof(target), root, b->target, err)) < 0)
			return r;
		if ((r = bind_checked(b->source, target, OWNER_ROOT_OR_USER, spec->uid,
				      MS_RDONLY | MS_NOSUID | MS_NODEV, err)) < 0)
			return r;
	}
	return 0;
}

int jail_mount_seal_root(const char *root, sbx_error *err)
{
	if (mount(NULL, root, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "size=1m,nr_inodes=4096,mode=0755") < 0)
		return sbx_error_errno(err, errno, "remount %s read-only", root);
	return 0;
}

/* pivot_root(".", ".") stacks the old root on top of the new one; detaching it leaves only
 * the jail's tree (runc's trick, no directory for the old root needed). */
int jail_mount_pivot(const char *root, sbx_error *err)
{
	if (chdir(root) < 0)
		return sbx_error_errno(err, errno, "chdir %s", root);
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return sbx_error_errno(err, errno, "pivot_root %s", root);
	if (umount2(".", MNT_DETACH) < 0)
		return sbx_error_errno(err, errno, "detach the old root");
	if (chdir("/") < 0)
		return sbx_error_errno(err, errno, "chdir /");
	return 0;
}
