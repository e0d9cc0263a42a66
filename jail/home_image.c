/* The image backend: one sparse ext4 image per user, loop-mounted while any of the user's
 * sessions runs.
 *
 * Files (all root-only):
 *   state_dir/homes/<user>.img           the image (0600, in a 0700 directory)
 *   runtime_dir/homes/<user>             its mount point (nosuid,nodev,noexec)
 *   runtime_dir/home-locks/<user>.lock   flock(LOCK_EX) around every attach and detach
 *   runtime_dir/home-locks/<user>.hold   each live session holds flock(LOCK_SH) on it
 *   runtime_dir/home-locks/.loop-devices.lock  flock(LOCK_EX) around choosing and configuring
 *                                        a loop device (no user name starts with a dot)
 *
 * The sharing count is the set of shared flocks on the hold file: the kernel drops a dead
 * monitor's lock with its last descriptor, so a crash cannot leave a count that is wrong. Under
 * the user's lock, LOCK_EX|LOCK_NB on the hold file succeeds exactly when no live session holds
 * the home: attach then treats any mount left there as stale and starts afresh (unmount, check,
 * mount), detach unmounts. The loop device is configured with LO_FLAGS_AUTOCLEAR, so the kernel
 * frees it when the file system lets go of it (or when an attach that failed half-way closes
 * it).
 *
 * Before a mount: the primary superblock is checked here (magic, geometry, checksum) and a bad
 * one refused without running any tool, since e2fsck would quietly rebuild it from a backup;
 * then `e2fsck -p`, whose exit status 4 and above also refuses; on a file system whose
 * superblock says clean (e2fsck -p's own test, home_ext4_super_clean) it would only say so, and
 * is not run. A damaged image is reported to
 * the admin, never repaired or reformatted here.
 *
 * The quota is the image size. Raising it grows the file and the loop device at once; the file
 * system grows online (resize2fs on the mounted file system) when another session holds it and
 * we have CAP_SYS_RESOURCE, otherwise offline at the next attach that mounts it afresh. Lowering
 * it never shrinks the image (ext4 cannot shrink online, and shrinking below the usage would
 * lose data): at the next fresh mount the blocks beyond the quota become root's reserve
 * (s_r_blocks_count, set with debugfs because tune2fs caps it at half the blocks). The student's
 * writes then fail with ENOSPC while the usage is above the new quota; every file stays readable
 * and deletable, and deleting makes room again. A later raise clears the reserve. */
#include "config.h"

#include "jail/home_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"

#define MKFS_EXT4 "/usr/sbin/mkfs.ext4"
#define E2FSCK "/usr/sbin/e2fsck"
#define RESIZE2FS "/usr/sbin/resize2fs"
#define DEBUGFS "/usr/sbin/debugfs"

struct image_dirs {
	int state;  /* state_dir/homes */
	int mounts; /* runtime_dir/homes */
	int locks;  /* runtime_dir/home-locks */
	char img_name[64], new_name[64], lock_name[64], hold_name[64];
	char img_path[PATH_MAX], mount_path[PATH_MAX];
};

static void image_dirs_close(struct image_dirs *d)
{
	if (d->state >= 0)
		close(d->state);
	if (d->mounts >= 0)
		close(d->mounts);
	if (d->locks >= 0)
		close(d->locks);
	d->state = d->mounts = d->locks = -1;
}

/* base/sub1 (and base/sub2 unless NULL): root-only directories in a root-owned base, which is
 * opened once for both. */
static int open_subs(const char *base, const char *sub1, int *ret_fd1, const char *sub2,
		     int *ret_fd2, sbx_error *err)
{
	_cleanup_close_ int b = -1, fd1 = -1;
	int r = home_open_root_dir(AT_FDCWD, base, 0755, true, false, &b, err);
	if (r < 0)
		return r;
	if ((r = home_open_root_dir(b, sub1, 0700, true, true, &fd1, err)) < 0 ||
	    (sub2 && (r = home_open_root_dir(b, sub2, 0700, true, true, ret_fd2, err)) < 0))
		return sbx_error_wrap(err, "in %s", base);
	*ret_fd1 = TAKE_FD(fd1);
	return 0;
}

static int image_dirs_open(const struct home_params *p, bool state, bool runtime,
			   struct image_dirs *d, sbx_error *err)
{
	int r;
	*d = (struct image_dirs){.state = -1, .mounts = -1, .locks = -1};
	snprintf(d->img_name, sizeof(d->img_name), "%s.img", p->user);
	snprintf(d->new_name, sizeof(d->new_name), "%s.img.new", p->user);
	snprintf(d->lock_name, sizeof(d->lock_name), "%s.lock", p->user);
	snprintf(d->hold_name, sizeof(d->hold_name), "%s.hold", p->user);
	if ((p->state_dir && snprintf(d->img_path, sizeof(d->img_path), "%s/homes/%s", p->state_dir,
				      d->img_name) >= (int)sizeof(d->img_path)) ||
	    (p->runtime_dir && snprintf(d->mount_path, sizeof(d->mount_path), "%s/homes/%s",
					p->runtime_dir, p->user) >= (int)sizeof(d->mount_path)))
		return sbx_error_set(err, ENAMETOOLONG, "home paths of %s are too long", p->user);
	if (state && (r = open_subs(p->state_dir, "homes", &d->state, NULL, NULL, err)) < 0)
		goto fail;
	if (runtime &&
	    (r = open_subs(p->runtime_dir, "homes", &d->mounts, "home-locks", &d->locks, err)) < 0)
		goto fail;
	return 0;
fail:
	image_dirs_close(d);
	return r;
}

static int lock_user(const struct image_dirs *d, int *ret_fd, sbx_error *err)
{
	_cleanup_close_ int fd =
	    openat(d->locks, d->lock_name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return sbx_error_errno(err, errno, "open lock %s", d->lock_name);
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return sbx_error_errno(err, errno, "lock %s", d->lock_name);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/* Is the mount point (a root-owned directory created here) covered by a mount? */
static int mount_point(const struct home_params *p, const struct image_dirs *d, int *ret_fd,
		       bool *ret_mounted, sbx_error *err)
{
	struct stat parent, st;
	_cleanup_close_ int fd =
	    openat(d->mounts, p->user, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		if (mkdirat(d->mounts, p->user, 0700) < 0 && errno != EEXIST)
			return sbx_error_errno(err, errno, "mkdir %s", d->mount_path);
		fd = openat(d->mounts, p->user, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0)
		return sbx_error_errno(err, errno, "open %s", d->mount_path);
	if (fstat(d->mounts, &parent) < 0 || fstat(fd, &st) < 0)
		return sbx_error_errno(err, errno, "fstat %s", d->mount_path);
	*ret_mounted = st.st_dev != parent.st_dev;
	if (!*ret_mounted && st.st_uid != 0)
		return sbx_error_set(err, EPERM, "mount point %s is not owned by root",
				     d->mount_path);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static int unmount(const char *path, sbx_error *err)
{
	if (umount2(path, UMOUNT_NOFOLLOW) == 0)
		return 0;
	/* Busy only if something on the host still uses it: detach it from the tree now, the
	 * kernel finishes (and frees the loop device) when the last user lets go. */
	if (errno == EBUSY && umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
		return 0;
	if (errno == EINVAL) /* not mounted */
		return 0;
	return sbx_error_errno(err, errno, "unmount %s", path);
}

/* Image checks: a regular file owned by root, mode 0600 or stricter, one link. */
static int check_image(int fd, const char *path, struct stat *ret_st, sbx_error *err)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return sbx_error_errno(err, errno, "fstat %s", path);
	if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 0177) || st.st_nlink != 1)
		return sbx_error_set(err, EPERM,
				     "%s must be a regular file owned by root with mode 0600 "
				     "(uid %u, mode %04o, %u links)",
				     path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777),
				     (unsigned)st.st_nlink);
	*ret_st = st;
	return 0;
}

static int damaged(const struct home_params *p, const char *detail, sbx_error *err)
{
	return sbx_error_set(err, EUCLEAN,
			     "home image of %s is damaged; an admin must repair it (e2fsck): %s",
			     p->user, detail);
}

static int read_super(int fd, struct home_ext4_super *ret)
{
	unsigned char sb[HOME_EXT4_SUPER_SIZE];
	ssize_t n = pread(fd, sb, sizeof(sb), HOME_EXT4_SUPER_OFFSET);
	if (n < 0)
		return -errno;
	if (n != (ssize_t)sizeof(sb))
		return -EUCLEAN;
	return home_ext4_super_parse(sb, ret);
}

static int run_tool(const char *const *argv, int keep_fd, int *ret_status, char *errbuf,
		    size_t err_size, sbx_error *err)
{
	int r = home_run(argv, keep_fd, NULL, 0, errbuf, err_size, ret_status);
	if (r < 0)
		return sbx_error_errno(err, -r, "run %s", argv[0]);
	return 0;
}

/* First login: a sparse image made under a temporary name and renamed into place only once
 * mkfs succeeded, so a crash never leaves a half-made image where the next attach looks. */
static int create_image(const struct home_params *p, const struct image_dirs *d, int *ret_fd,
			sbx_error *err)
{
	char inodes[32], owner[96], errbuf[512];
	int status, r;

	if (unlinkat(d->state, d->new_name, 0) < 0 && errno != ENOENT)
		return sbx_error_errno(err, errno, "remove %s", d->new_name);
	_cleanup_close_ int fd =
	    openat(d->state, d->new_name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return sbx_error_errno(err, errno, "create %s.new", d->img_path);
	if (ftruncate(fd, (off_t)home_image_bytes(p->quota_bytes)) < 0) {
		r = sbx_error_errno(err, errno, "size %s.new", d->img_path);
		goto fail;
	}
	snprintf(inodes, sizeof(inodes), "%" PRIu64, home_image_inodes(p->quota_inodes));
	/* The journal stays: it is what keeps stored files intact when the host crashes during a
	 * write. root_owner makes the root directory the student's from the start. */
	snprintf(owner, sizeof(owner), "root_owner=%u:%u,nodiscard", (unsigned)p->uid,
		 (unsigned)p->gid);
	const char *argv[] = {MKFS_EXT4, "-q",	 "-F", "-t", "ext4", "-b",  "4096",
			      "-N",	 inodes, "-m", "0",  "-E",   owner, "/proc/self/fd/3",
			      NULL};
	if ((r = run_tool(argv, fd, &status, errbuf, sizeof(errbuf), err)) < 0)
		goto fail;
	if (status != 0) {
		r = sbx_error_set(err, EIO, "mkfs.ext4 for the home of %s failed (status %d): %s",
				  p->user, status, errbuf);
		goto fail;
	}
	if (fsync(fd) < 0 || renameat(d->state, d->new_name, d->state, d->img_name) < 0) {
		r = sbx_error_errno(err, errno, "install %s", d->img_path);
		goto fail;
	}
	fsync(d->state);
	*ret_fd = TAKE_FD(fd);
	return 0;
fail:
	unlinkat(d->state, d->new_name, 0);
	return r;
}

/* The image's access time means nothing, and updating it dirties the inode, which the host then
 * writes out synchronously in the fsync that LOOP_CONFIGURE does (~0.1 ms of a login).
 * The loop device reads through this same open file, so its reads do not touch it either.
 * O_NOATIME needs the file's owner or CAP_FOWNER; without them the image opens as before. */
static int open_noatime(int dir, const char *name, int flags)
{
	int fd = openat(dir, name, flags | O_NOATIME | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == EPERM)
		fd = openat(dir, name, flags | O_NOFOLLOW | O_CLOEXEC);
	return fd;
}

static int open_image(const struct home_params *p, const struct image_dirs *d, bool create,
		      int *ret_fd, struct stat *ret_st, sbx_error *err)
{
	_cleanup_close_ int fd = open_noatime(d->state, d->img_name, O_RDWR);
	int r;
	if (fd < 0 && errno == ENOENT && create) {
		if ((r = create_image(p, d, &fd, err)) < 0)
			return r;
	} else if (fd < 0)
		return sbx_error_errno(err, errno, "open %s", d->img_path);
	if ((r = check_image(fd, d->img_path, ret_st, err)) < 0)
		return r;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/* Loop devices whose backing file is this image (dev and inode, as losetup -j compares). */
static int find_loop(const struct stat *img, char *ret_name, size_t size)
{
	_cleanup_close_ int sys = open("/sys/block", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sys < 0)
		return -errno;
	DIR *dir = fdopendir(TAKE_FD(sys));
	if (!dir)
		return -errno;
	struct dirent *de;
	int found = 0;
	while (!found && (de = readdir(dir))) {
		if (strncmp(de->d_name, "loop", 4) != 0)
			continue;
		char dev[300];
		struct loop_info64 info;
		snprintf(dev, sizeof(dev), "/dev/%.256s", de->d_name);
		/* Opening and closing an unmounted AUTOCLEAR device that nobody holds frees it:
		 * exactly what a half-finished attach of a crashed monitor left behind. */
		_cleanup_close_ int fd = open(dev, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || ioctl(fd, LOOP_GET_STATUS64, &info) < 0)
			continue;
		if (info.lo_device == (uint64_t)img->st_dev &&
		    info.lo_inode == (uint64_t)img->st_ino) {
			snprintf(ret_name, size, "%s", dev);
			found = 1;
		}
	}
	closedir(dir);
	return found;
}

/* 1 when no other open file has the image open for writing: the kernel grants a write lease
 * only then (fcntl(2)), and a bound loop device keeps its backing file open for writing. One
 * question to the kernel instead of opening every loop device on the host (find_loop: ~9 us
 * each, and there is one per mounted home). (A read-only loop device is not seen; it cannot
 * write to the image either.) 0 when it cannot tell (no leases on this file system) or someone
 * else has the image open: the caller then looks at the loop devices. -errno if the lease
 * would stay on the file that the loop device is about to take over. */
static int image_unshared(int img_fd)
{
	/* The lease lives for two system calls; another process opening the image meanwhile makes
	 * the kernel signal us. SIGURG is ignored unless handled; the default, SIGIO, would kill
	 * the monitor. Removing the lease resets the signal. */
	if (fcntl(img_fd, F_SETSIG, SIGURG) < 0)
		return 0;
	if (fcntl(img_fd, F_SETLEASE, F_WRLCK) < 0) {
		fcntl(img_fd, F_SETSIG, 0);
		return 0;
	}
	return fcntl(img_fd, F_SETLEASE, F_UNLCK) == 0 ? 1 : -errno;
}

/* Waits briefly for the kernel to free a loop device still backed by the image (a stale mount
 * we just unmounted); fails if one stays: some process still uses the old mount, and a second
 * mount of the same image would corrupt it. The loop devices are looked at only when the image
 * is not plainly unshared. */
static int ensure_image_free(const struct home_params *p, int img_fd, const struct stat *img,
			     sbx_error *err)
{
	char dev[300] = "";
	int r = image_unshared(img_fd);
	if (r < 0)
		return sbx_error_errno(err, -r, "release the lease on the home image of %s",
				       p->user);
	if (r > 0)
		return 0;
	for (int i = 0; i < 40; i++) {
		r = find_loop(img, dev, sizeof(dev));
		if (r < 0)
			return sbx_error_errno(err, -r, "list loop devices");
		if (r == 0)
			return 0;
		nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
	}
	return sbx_error_set(err, EBUSY,
			     "home image of %s is still in use on %s by a process of an earlier "
			     "session",
			     p->user, dev);
}

/* LOOP_CTL_GET_FREE hands the same free device to every caller until one of them configures
 * it: concurrent logins then fight over it (each loser retries). The daemon's attaches take
 * turns under one lock in the runtime directory instead; the retries stay for anyone else
 * (losetup, another daemon) that configures loop devices meanwhile. */
static int loop_attach(const struct image_dirs *d, int img_fd, const char *img_path,
		       uint32_t block_size, int *ret_fd, char *name, size_t size, sbx_error *err)
{
	_cleanup_close_ int lock =
	    openat(d->locks, ".loop-devices.lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (lock < 0)
		return sbx_error_errno(err, errno, "open the loop device lock");
	while (flock(lock, LOCK_EX) < 0)
		if (errno != EINTR)
			return sbx_error_errno(err, errno, "lock the loop devices");
	_cleanup_close_ int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		return sbx_error_errno(err, errno, "open /dev/loop-control");
	for (int attempt = 0; attempt < 32; attempt++) {
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (n < 0)
			return sbx_error_errno(err, errno, "LOOP_CTL_GET_FREE");
		snprintf(name, size, "/dev/loop%d", n);
		_cleanup_close_ int fd = open(name, O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT) /* udev has not made the node yet */
				nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
			continue;
		}
		struct loop_config cfg = {.fd = (uint32_t)img_fd};
		/* Sectors of the file system's block size: the mount then reads the superblock
		 * once, at the size it keeps, instead of at 1 KiB first and again after switching
		 * the device's block size (which also flushes every CPU's buffer-head cache).
		 * The kernel takes 512 bytes up to a page. */
		if (block_size >= 512 && block_size <= (uint32_t)sysconf(_SC_PAGESIZE))
			cfg.block_size = block_size;
		cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
		/* For losetup's listing only (it truncates long paths as the kernel does). */
		size_t n_name = strnlen(img_path, sizeof(cfg.info.lo_file_name) - 1);
		memcpy(cfg.info.lo_file_name, img_path, n_name);
		if (ioctl(fd, LOOP_CONFIGURE, &cfg) == 0) {
			*ret_fd = TAKE_FD(fd);
			return 0;
		}
		if (errno == EBUSY) /* another attach took this one first */
			continue;
		if (errno != EINVAL && errno != ENOTTY)
			return sbx_error_errno(err, errno, "LOOP_CONFIGURE %s", name);
		/* Kernels before 5.8. */
		if (ioctl(fd, LOOP_SET_FD, img_fd) < 0) {
			if (errno == EBUSY)
				continue;
			return sbx_error_errno(err, errno, "LOOP_SET_FD %s", name);
		}
		if (ioctl(fd, LOOP_SET_STATUS64, &cfg.info) < 0) {
			int e = errno;
			ioctl(fd, LOOP_CLR_FD, 0);
			return sbx_error_errno(err, e, "LOOP_SET_STATUS64 %s", name);
		}
		*ret_fd = TAKE_FD(fd);
		return 0;
	}
	return sbx_error_set(err, EBUSY, "no free loop device");
}

/* The metadata the mount reads first, asked of the new loop device all at once: the mount reads
 * it one block after another, each a round trip through the loop device's worker thread (~60 us
 * here); asked for together, they arrive in one while we go on. The locations come from the
 * image through its page cache; they are hints only (the mount reads and checks everything
 * itself), and a wrong one costs one wasted read. */
static void prefetch_metadata(int img_fd, int loop_fd, const struct home_ext4_super *sb)
{
	unsigned char desc[64], inode[128];
	uint64_t bs = sb->block_size, end = home_ext4_gdt_end(sb), block, journal;
	uint32_t offset;
	if (!end)
		return;
	readahead(loop_fd, 0, (size_t)(end * bs));
	if (pread(img_fd, desc, sizeof(desc), (off_t)((sb->first_data_block + 1) * bs)) !=
		(ssize_t)sizeof(desc) ||
	    !(block = home_ext4_journal_inode_block(sb, desc, &offset)))
		return;
	readahead(loop_fd, (off_t)(block * bs), (size_t)bs);
	if (pread(img_fd, inode, sizeof(inode), (off_t)(block * bs + offset)) ==
		(ssize_t)sizeof(inode) &&
	    (journal = home_ext4_journal_start(sb, inode)))
		readahead(loop_fd, (off_t)(journal * bs), (size_t)bs);
}

static int grow_file(int img_fd, const struct stat *st, uint64_t want, const char *path,
		     sbx_error *err)
{
	if ((uint64_t)st->st_size >= want)
		return 0;
	if (ftruncate(img_fd, (off_t)want) < 0)
		return sbx_error_errno(err, errno, "grow %s", path);
	return 0;
}

static int resize(const struct home_params *p, const char *loopdev, sbx_error *err)
{
	char errbuf[512];
	int status, r;
	const char *argv[] = {RESIZE2FS, loopdev, NULL};
	if ((r = run_tool(argv, -1, &status, errbuf, sizeof(errbuf), err)) < 0)
		return r;
	if (status != 0)
		return sbx_error_set(err, strstr(errbuf, "Permission denied") ? EPERM : EIO,
				     "growing the home of %s failed (resize2fs %d): %s", p->user,
				     status, errbuf);
	return 0;
}

/* The blocks only root may use (the jail has no CAP_SYS_RESOURCE). debugfs, not tune2fs: the
 * reserve may exceed the half of the blocks that tune2fs allows. */
static int set_reserve(const struct home_params *p, const char *loopdev, uint64_t blocks,
		       sbx_error *err)
{
	char cmd[64], errbuf[512];
	int status, r;
	snprintf(cmd, sizeof(cmd), "ssv r_blocks_count %" PRIu64, blocks);
	const char *argv[] = {DEBUGFS, "-w", "-R", cmd, loopdev, NULL};
	if ((r = run_tool(argv, -1, &status, errbuf, sizeof(errbuf), err)) < 0)
		return r;
	/* debugfs prints its banner on stderr and exits 0 even when a request fails. */
	if (status != 0 || strstr(errbuf, "rror") || strstr(errbuf, "nvalid"))
		return sbx_error_set(err, EIO, "setting the reserve of the home of %s failed: %s",
				     p->user, errbuf);
	return 0;
}

/* The mounted root: the student's, 0700 (root_owner set it at mkfs; a changed uid is fixed). */
static int fix_root(const struct home_params *p, const struct image_dirs *d, sbx_error *err)
{
	_cleanup_close_ int fd =
	    openat(d->mounts, p->user, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st, parent;
	if (fd < 0 || fstat(fd, &st) < 0 || fstat(d->mounts, &parent) < 0)
		return sbx_error_errno(err, errno, "open %s", d->mount_path);
	if (st.st_dev == parent.st_dev)
		return sbx_error_set(err, EIO, "%s is not mounted", d->mount_path);
	if ((st.st_uid != p->uid || st.st_gid != p->gid) && fchown(fd, p->uid, p->gid) < 0)
		return sbx_error_errno(err, errno, "chown %s", d->mount_path);
	if ((st.st_mode & 07777) != 0700 && fchmod(fd, 0700) < 0)
		return sbx_error_errno(err, errno, "chmod %s", d->mount_path);
	return 0;
}

/* No live session holds the home: check the image, size it for the quota and mount it. */
static int mount_fresh(const struct home_params *p, const struct image_dirs *d, int mp_fd,
		       sbx_error *err)
{
	_cleanup_close_ int img = -1, loop = -1;
	struct stat st;
	struct home_ext4_super sb;
	char loopdev[64], errbuf[512], mp_proc[64];
	int status, r;
	uint64_t want = home_image_bytes(p->quota_bytes);

	if ((r = open_image(p, d, true, &img, &st, err)) < 0)
		return r;
	/* A damaged primary superblock is refused before any tool runs: e2fsck would repair it
	 * from a backup, changing the image behind the admin's back. */
	if ((r = read_super(img, &sb)) < 0)
		return r == -EUCLEAN ? damaged(p, "bad superblock", err)
				     : sbx_error_errno(err, -r, "read %s", d->img_path);
	if ((r = ensure_image_free(p, img, &st, err)) < 0)
		return r;
	if ((r = grow_file(img, &st, want, d->img_path, err)) < 0)
		return r;
	if ((r = loop_attach(d, img, d->img_path, sb.block_size, &loop, loopdev, sizeof(loopdev),
			     err)) < 0)
		return r;
	prefetch_metadata(img, loop, &sb);

	/* On a file system the superblock calls clean, `e2fsck -p` only says so and exits:
	 * home_ext4_super_clean is its test, done here without the fork and exec (2-4 ms of
	 * every login, measured). The kernel's mount checks the group descriptors as always.
	 * Anything else (not cleanly unmounted, errors, a journal to replay, orphans, a check
	 * due) goes through e2fsck -p, which repairs what is safe to repair or refuses. */
	if (!home_ext4_super_clean(&sb, (int64_t)time(NULL))) {
		/* e2fsck takes a reserve above half the blocks for corruption: take ours back
		 * first. */
		if (sb.reserved_blocks > sb.blocks / 2 && (r = set_reserve(p, loopdev, 0, err)) < 0)
			return r;
		const char *fsck[] = {E2FSCK, "-p", loopdev, NULL};
		if ((r = run_tool(fsck, -1, &status, errbuf, sizeof(errbuf), err)) < 0)
			return r;
		if (status & ~3) {
			char detail[600];
			snprintf(detail, sizeof(detail), "e2fsck -p exit status %d: %s", status,
				 errbuf);
			return damaged(p, detail, err);
		}
		if ((r = read_super(img, &sb)) < 0)
			return damaged(p, "bad superblock after e2fsck", err);
	}

	/* Grown offline, before the mount: resize2fs wants a full check first. (Online growth
	 * needs CAP_SYS_RESOURCE, which an offline grow does not.) */
	uint64_t fs_bytes = sb.blocks * sb.block_size;
	if (fs_bytes < want) {
		const char *full[] = {E2FSCK, "-f", "-p", loopdev, NULL};
		if ((r = run_tool(full, -1, &status, errbuf, sizeof(errbuf), err)) < 0)
			return r;
		if (status & ~3) {
			char detail[600];
			snprintf(detail, sizeof(detail), "e2fsck -f -p exit status %d: %s", status,
				 errbuf);
			return damaged(p, detail, err);
		}
		if ((r = resize(p, loopdev, err)) < 0)
			return r;
		if ((r = read_super(img, &sb)) < 0)
			return damaged(p, "bad superblock after resize2fs", err);
		fs_bytes = sb.blocks * sb.block_size;
	}

	/* Blocks beyond the quota (an image larger than a lowered quota) are root's reserve. */
	uint64_t reserve = fs_bytes > want ? (fs_bytes - want) / sb.block_size : 0;
	if (reserve != sb.reserved_blocks && (r = set_reserve(p, loopdev, reserve, err)) < 0)
		return r;

	snprintf(mp_proc, sizeof(mp_proc), "/proc/self/fd/%d", mp_fd);
	if (mount(loopdev, mp_proc, "ext4", MS_NOSUID | MS_NODEV | MS_NOEXEC, "errors=remount-ro") <
	    0)
		return sbx_error_errno(err, errno, "mount %s (%s) on %s", d->img_path, loopdev,
				       d->mount_path);
	/* From here the mount holds the loop device; AUTOCLEAR frees it at the last unmount. */
	if ((r = fix_root(p, d, err)) < 0) {
		unmount(d->mount_path, NULL);
		return r;
	}
	return 0;
}

/* Another session holds the mounted home: make sure it is this user's image (the loop device
 * behind the mount is backed by it), and grow it now if the quota went up. */
static int join_mounted(const struct home_params *p, const struct image_dirs *d, sbx_error *err)
{
	_cleanup_close_ int img = -1, loop = -1;
	struct stat st, mst;
	char loopdev[64], link[PATH_MAX], sys[96];
	uint64_t want = home_image_bytes(p->quota_bytes);
	int r;

	if ((r = open_image(p, d, false, &img, &st, err)) < 0)
		return r;
	if (fstatat(d->mounts, p->user, &mst, AT_SYMLINK_NOFOLLOW) < 0)
		return sbx_error_errno(err, errno, "stat %s", d->mount_path);
	snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u", major(mst.st_dev), minor(mst.st_dev));
	ssize_t n = readlink(sys, link, sizeof(link) - 1);
	if (n < 0)
		return sbx_error_errno(err, errno, "readlink %s", sys);
	link[n] = '\0';
	const char *base = strrchr(link, '/');
	base = base ? base + 1 : link;
	if (strncmp(base, "loop", 4) != 0)
		return sbx_error_set(err, EIO, "%s is not mounted from a loop device",
				     d->mount_path);
	if (strlen(base) > 32)
		return sbx_error_set(err, EIO, "unexpected block device name %s", base);
	snprintf(loopdev, sizeof(loopdev), "/dev/%.32s", base);
	if ((loop = open(loopdev, O_RDONLY | O_CLOEXEC)) < 0)
		return sbx_error_errno(err, errno, "open %s", loopdev);
	struct loop_info64 info;
	if (ioctl(loop, LOOP_GET_STATUS64, &info) < 0)
		return sbx_error_errno(err, errno, "LOOP_GET_STATUS64 %s", loopdev);
	if (info.lo_device != (uint64_t)st.st_dev || info.lo_inode != (uint64_t)st.st_ino)
		return sbx_error_set(err, EIO, "%s is not backed by %s", loopdev, d->img_path);
	if ((uint64_t)st.st_size >= want)
		return 0;
	if ((r = grow_file(img, &st, want, d->img_path, err)) < 0)
		return r;
	if (ioctl(loop, LOOP_SET_CAPACITY, 0) < 0)
		return sbx_error_errno(err, errno, "LOOP_SET_CAPACITY %s", loopdev);
	/* Online growth needs CAP_SYS_RESOURCE; without it the file system keeps its size until
	 * the next attach that mounts it afresh (which grows it offline). */
	r = resize(p, loopdev, err);
	return r == -EPERM ? 0 : r;
}

static int image_attach(const struct home_params *p, struct home *h, sbx_error *err)
{
	struct image_dirs d;
	_cleanup_close_ int lock = -1, hold = -1, mp = -1;
	bool mounted;
	int r;

	if (home_join(h->path, sizeof(h->path), p->runtime_dir, "homes/", p->user) < 0)
		return sbx_error_set(err, ENAMETOOLONG, "runtime directory path too long");
	if ((r = image_dirs_open(p, true, true, &d, err)) < 0)
		return r;
	if ((r = lock_user(&d, &lock, err)) < 0)
		goto out;
	hold = openat(d.locks, d.hold_name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (hold < 0) {
		r = sbx_error_errno(err, errno, "open %s", d.hold_name);
		goto out;
	}
	if ((r = mount_point(p, &d, &mp, &mounted, err)) < 0)
		goto out;
	if (flock(hold, LOCK_EX | LOCK_NB) == 0) {
		/* Nobody holds the home: whatever is mounted there is a crashed session's. */
		if (mounted) {
			if ((r = unmount(d.mount_path, err)) < 0)
				goto out;
			close(mp);
			mp = -1;
			if ((r = mount_point(p, &d, &mp, &mounted, err)) < 0)
				goto out;
		}
		if ((r = mount_fresh(p, &d, mp, err)) < 0)
			goto out;
	} else if (errno == EWOULDBLOCK) {
		r = mounted ? join_mounted(p, &d, err) : mount_fresh(p, &d, mp, err);
		if (r < 0)
			goto out;
	} else {
		r = sbx_error_errno(err, errno, "lock %s", d.hold_name);
		goto out;
	}
	if (flock(hold, LOCK_SH) < 0) {
		r = sbx_error_errno(err, errno, "lock %s", d.hold_name);
		goto out;
	}
	h->hold_fd = TAKE_FD(hold);
	r = 0;
out:
	image_dirs_close(&d);
	return r;
}

static void image_detach(struct home *h)
{
	struct image_dirs d;
	struct home_params p = {.user = h->user, .runtime_dir = h->runtime_dir};
	_cleanup_close_ int lock = -1, hold = -1;

	if (image_dirs_open(&p, false, true, &d, NULL) < 0 || lock_user(&d, &lock, NULL) < 0) {
		image_dirs_close(&d);
		return; /* our lock goes with the descriptor; the next attach cleans up */
	}
	close(h->hold_fd);
	h->hold_fd = -1;
	hold = openat(d.locks, d.hold_name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (hold >= 0 && flock(hold, LOCK_EX | LOCK_NB) == 0)
		unmount(d.mount_path, NULL);
	image_dirs_close(&d);
}

static int image_usage(const struct home_params *p, uint64_t *ret_bytes, uint64_t *ret_inodes,
		       sbx_error *err)
{
	struct image_dirs d;
	int r = image_dirs_open(p, true, false, &d, err);
	if (r < 0)
		return r;
	_cleanup_close_ int img = open_noatime(d.state, d.img_name, O_RDONLY);
	int e = errno;
	image_dirs_close(&d);
	if (img < 0)
		return e == ENOENT ? -ENOENT : sbx_error_errno(err, e, "open %s", d.img_path);

	/* Mounted: the live numbers. Otherwise the superblock's, exact after a clean unmount. */
	if (p->runtime_dir) {
		struct stat mst, pst;
		struct statvfs sv;
		char parent[PATH_MAX];
		snprintf(parent, sizeof(parent), "%s/homes", p->runtime_dir);
		if (lstat(d.mount_path, &mst) == 0 && lstat(parent, &pst) == 0 &&
		    mst.st_dev != pst.st_dev && statvfs(d.mount_path, &sv) == 0) {
			*ret_bytes = (uint64_t)(sv.f_blocks - sv.f_bfree) * sv.f_frsize;
			*ret_inodes = (uint64_t)(sv.f_files - sv.f_ffree);
			return 0;
		}
	}
	struct home_ext4_super sb;
	if ((r = read_super(img, &sb)) < 0)
		return r == -EUCLEAN ? damaged(p, "bad superblock", err)
				     : sbx_error_errno(err, -r, "read %s", d.img_path);
	*ret_bytes = (sb.blocks - sb.free_blocks) * sb.block_size;
	*ret_inodes = sb.inodes - sb.free_inodes;
	return 0;
}

int home_sweep(const char *runtime_dir, sbx_error *err)
{
	char path[PATH_MAX];
	int swept = 0;
	if (!runtime_dir || runtime_dir[0] != '/')
		return sbx_error_set(err, EINVAL, "an absolute runtime directory is required");
	if (home_join(path, sizeof(path), runtime_dir, "home-locks", NULL) < 0)
		return sbx_error_set(err, ENAMETOOLONG, "runtime directory path too long");
	_cleanup_close_ int locks = -1;
	int r = home_open_root_dir(AT_FDCWD, path, 0700, false, true, &locks, err);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	DIR *dir = fdopendir(TAKE_FD(locks));
	if (!dir)
		return sbx_error_errno(err, errno, "read %s", path);
	struct dirent *de;
	while ((de = readdir(dir))) {
		char user[64];
		size_t len = strlen(de->d_name);
		if (len <= 5 || len - 5 >= sizeof(user) ||
		    strcmp(de->d_name + len - 5, ".hold") != 0)
			continue;
		memcpy(user, de->d_name, len - 5);
		user[len - 5] = '\0';
		if (!home_user_name_valid(user))
			continue;
		struct home_params p = {.user = user, .runtime_dir = runtime_dir};
		struct image_dirs d;
		_cleanup_close_ int lock = -1, hold = -1, mp = -1;
		bool mounted;
		if (image_dirs_open(&p, false, true, &d, err) < 0 ||
		    lock_user(&d, &lock, err) < 0) {
			image_dirs_close(&d);
			closedir(dir);
			return -(err ? err->code : EIO);
		}
		hold = openat(d.locks, d.hold_name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
		if (hold >= 0 && flock(hold, LOCK_EX | LOCK_NB) == 0 &&
		    mount_point(&p, &d, &mp, &mounted, NULL) == 0 && mounted &&
		    unmount(d.mount_path, NULL) == 0)
			swept++;
		image_dirs_close(&d);
	}
	closedir(dir);
	return swept;
}

const struct home_backend home_backend_image = {
    .name = "image",
    .attach = image_attach,
    .detach = image_detach,
    .usage = image_usage,
};
