/* The btrfs backend: state_dir (on btrfs) holds a subvolume per user, homes/<user>, with a
 * qgroup limit on the bytes it references. No mount and no loop device: the subvolume is the
 * home, bound into the jail like any directory, and the kernel refuses writes past the limit
 * with EDQUOT. btrfs has no inode limit; quota_inodes is ignored here. The limit is set again
 * at every attach, so a changed quota applies at the next login; a limit below the usage keeps
 * the data and refuses new writes (deleting still works). Uses the btrfs-progs CLI. */
#include "config.h"

#include "jail/home_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "common/cleanup.h"

#define BTRFS "/usr/bin/btrfs"
#define BTRFS_FIRST_FREE_OBJECTID 256 /* the inode number of every subvolume's root */

static int btrfs(const struct home_params *p, const char *const *argv, char *out, size_t out_size,
		 sbx_error *err)
{
	char errbuf[512];
	int status;
	int r = home_run(argv, -1, out, out_size, errbuf, sizeof(errbuf), &status);
	if (r < 0)
		return sbx_error_errno(err, -r, "run %s", BTRFS);
	if (status != 0)
		return sbx_error_set(err, EIO,
				     "btrfs %s %s for the home of %s failed (status %d): %s",
				     argv[1], argv[2], p->user, status, errbuf);
	return 0;
}

static int open_homes(const struct home_params *p, int *ret_fd, sbx_error *err)
{
	_cleanup_close_ int state = -1;
	struct statfs sf;
	int r = home_open_root_dir(AT_FDCWD, p->state_dir, 0755, true, false, &state, err);
	if (r < 0)
		return r;
	if (fstatfs(state, &sf) < 0)
		return sbx_error_errno(err, errno, "statfs %s", p->state_dir);
	if ((unsigned long)sf.f_type != (unsigned long)BTRFS_SUPER_MAGIC)
		return sbx_error_set(err, EOPNOTSUPP,
				     "the btrfs home backend needs %s on btrfs (it is not)",
				     p->state_dir);
	if ((r = home_open_root_dir(state, "homes", 0700, true, true, ret_fd, err)) < 0)
		return sbx_error_wrap(err, "in %s", p->state_dir);
	return 0;
}

static int btrfs_attach(const struct home_params *p, struct home *h, sbx_error *err)
{
	_cleanup_close_ int homes = -1, fd = -1;
	struct stat st;
	char limit[32];
	int r;

	if (home_join(h->path, sizeof(h->path), p->state_dir, "homes/", p->user) < 0)
		return sbx_error_set(err, ENAMETOOLONG, "state directory path too long");
	if ((r = open_homes(p, &homes, err)) < 0)
		return r;
	if (fstatat(homes, p->user, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT)
			return sbx_error_errno(err, errno, "stat %s", h->path);
		const char *create[] = {BTRFS, "-q", "subvolume", "create", h->path, NULL};
		if ((r = btrfs(p, create, NULL, 0, err)) < 0)
			return r;
	}
	fd = openat(homes, p->user, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return sbx_error_errno(err, errno, "open %s", h->path);
	if (st.st_ino != BTRFS_FIRST_FREE_OBJECTID)
		return sbx_error_set(err, EPERM, "%s is not a btrfs subvolume", h->path);
	/* Root: a creation that did not get as far as the chown. */
	if (st.st_uid != p->uid && st.st_uid != 0)
		return sbx_error_set(err, EPERM, "%s belongs to uid %u, not %u", h->path,
				     (unsigned)st.st_uid, (unsigned)p->uid);
	if ((st.st_uid != p->uid || st.st_gid != p->gid) && fchown(fd, p->uid, p->gid) < 0)
		return sbx_error_errno(err, errno, "chown %s", h->path);
	if ((st.st_mode & 07777) != 0700 && fchmod(fd, 0700) < 0)
		return sbx_error_errno(err, errno, "chmod %s", h->path);

	snprintf(limit, sizeof(limit), "%" PRIu64, p->quota_bytes);
	const char *lim[] = {BTRFS, "qgroup", "limit", limit, h->path, NULL};
	if (btrfs(p, lim, NULL, 0, NULL) < 0) {
		/* Quotas are off on this file system: turn them on once (a rescan follows). */
		const char *enable[] = {BTRFS, "quota", "enable", p->state_dir, NULL};
		if ((r = btrfs(p, enable, NULL, 0, err)) < 0)
			return r;
		if ((r = btrfs(p, lim, NULL, 0, err)) < 0)
			return r;
	}
	return 0;
}

/* Referenced bytes from `btrfs qgroup show -f --raw PATH` (the line of qgroup 0/<id>); the
 * inodes are counted by walking the subvolume. */
static int btrfs_usage(const struct home_params *p, uint64_t *ret_bytes, uint64_t *ret_inodes,
		       sbx_error *err)
{
	char path[PATH_MAX], out[4096];
	struct stat st;
	int r;

	if (home_join(path, sizeof(path), p->state_dir, "homes/", p->user) < 0)
		return sbx_error_set(err, ENAMETOOLONG, "state directory path too long");
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? -ENOENT : sbx_error_errno(err, errno, "stat %s", path);
	const char *show[] = {BTRFS, "qgroup", "show", "-f", "--raw", path, NULL};
	if ((r = btrfs(p, show, out, sizeof(out), err)) < 0)
		return r;
	bool found = false;
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		unsigned long long id, rfer;
		if (sscanf(line, " 0/%llu %llu", &id, &rfer) == 2) {
			*ret_bytes = rfer;
			found = true;
			break;
		}
	}
	if (!found)
		return sbx_error_set(err, EIO, "no qgroup line for %s", path);
	uint64_t bytes;
	if ((r = home_tree_usage(path, &bytes, ret_inodes)) < 0)
		return sbx_error_errno(err, -r, "walk %s", path);
	return 0;
}

const struct home_backend home_backend_btrfs = {
    .name = "btrfs",
    .attach = btrfs_attach,
    .detach = NULL,
    .usage = btrfs_usage,
};
