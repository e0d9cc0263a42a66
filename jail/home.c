/* The home backend table and what the backends share: name checks, sizes, the ext4 superblock
 * check, root-owned directories and running the e2fsprogs/btrfs-progs helpers. */
#include "config.h"

#include "jail/home_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"

static const struct home_backend *const backends[] = {
    [HOME_BACKEND_IMAGE] = &home_backend_image,
    [HOME_BACKEND_BTRFS] = &home_backend_btrfs,
    [HOME_BACKEND_DIRECTORY] = &home_backend_directory,
};

int home_backend_parse(const char *name, enum home_backend_kind *ret)
{
	for (size_t i = 0; i < ELEMENTSOF(backends); i++)
		if (name && strcmp(name, backends[i]->name) == 0) {
			*ret = (enum home_backend_kind)i;
			return 0;
		}
	return -EINVAL;
}

const char *home_backend_name(enum home_backend_kind kind)
{
	return (unsigned)kind < ELEMENTSOF(backends) ? backends[kind]->name : "unknown";
}

static int check_params(enum home_backend_kind kind, const struct home_params *p, sbx_error *err)
{
	if ((unsigned)kind >= ELEMENTSOF(backends))
		return sbx_error_set(err, EINVAL, "unknown home backend %d", (int)kind);
	if (!p || !home_user_name_valid(p->user))
		return sbx_error_set(err, EINVAL, "invalid user name for a home");
	if (kind == HOME_BACKEND_DIRECTORY ? !p->host_home || p->host_home[0] != '/'
					   : !p->state_dir || p->state_dir[0] != '/')
		return sbx_error_set(err, EINVAL, "home of %s: an absolute %s is required", p->user,
				     kind == HOME_BACKEND_DIRECTORY ? "home directory"
								    : "state directory");
	if (kind == HOME_BACKEND_IMAGE && (!p->runtime_dir || p->runtime_dir[0] != '/'))
		return sbx_error_set(
		    err, EINVAL, "home of %s: an absolute runtime directory is required", p->user);
	if (p->uid == 0)
		return sbx_error_set(err, EPERM, "no sandbox home for uid 0");
	return 0;
}

int home_attach(enum home_backend_kind kind, const struct home_params *p, struct home **ret,
		sbx_error *err)
{
	int r = check_params(kind, p, err);
	if (r < 0)
		return r;
	_cleanup_free_ struct home *h = calloc(1, sizeof(*h));
	if (!h)
		return sbx_error_set(err, ENOMEM, "out of memory");
	h->kind = kind;
	h->hold_fd = -1;
	snprintf(h->user, sizeof(h->user), "%s", p->user);
	if (p->runtime_dir)
		snprintf(h->runtime_dir, sizeof(h->runtime_dir), "%s", p->runtime_dir);
	if ((r = backends[kind]->attach(p, h, err)) < 0)
		return r;
	*ret = TAKE_PTR(h);
	return 0;
}

const char *home_path(const struct home *h)
{
	return h ? h->path : NULL;
}

void home_detach(struct home *h)
{
	if (!h)
		return;
	if (backends[h->kind]->detach)
		backends[h->kind]->detach(h);
	if (h->hold_fd >= 0)
		close(h->hold_fd);
	free(h);
}

int home_usage(enum home_backend_kind kind, const struct home_params *p, uint64_t *ret_bytes,
	       uint64_t *ret_inodes, sbx_error *err)
{
	int r = check_params(kind, p, err);
	if (r < 0)
		return r;
	uint64_t b = 0, i = 0;
	if ((r = backends[kind]->usage(p, &b, &i, err)) < 0)
		return r;
	if (ret_bytes)
		*ret_bytes = b;
	if (ret_inodes)
		*ret_inodes = i;
	return 0;
}

/* Portable login names (useradd's default NAME_REGEX is stricter); never "." or "..", never a
 * slash, so the name is safe as one path component. */
bool home_user_name_valid(const char *user)
{
	if (!user || !user[0] || strlen(user) > 32 || user[0] == '-' || user[0] == '.')
		return false;
	for (const char *c = user; *c; c++) {
		bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			  (*c >= '0' && *c <= '9') || *c == '_' || *c == '-' || *c == '.';
		if (!ok)
			return false;
	}
	return true;
}

uint64_t home_image_bytes(uint64_t quota_bytes)
{
	if (quota_bytes < HOME_IMAGE_MIN_BYTES)
		return HOME_IMAGE_MIN_BYTES;
	if (quota_bytes > UINT64_MAX - HOME_BLOCK_SIZE)
		return UINT64_MAX / HOME_BLOCK_SIZE * HOME_BLOCK_SIZE;
	return (quota_bytes + HOME_BLOCK_SIZE - 1) / HOME_BLOCK_SIZE * HOME_BLOCK_SIZE;
}

uint64_t home_image_inodes(uint64_t quota_inodes)
{
	return quota_inodes < HOME_IMAGE_MIN_INODES ? HOME_IMAGE_MIN_INODES : quota_inodes;
}

uint64_t home_reserved_blocks(uint64_t image_bytes, uint64_t quota_bytes)
{
	uint64_t q = home_image_bytes(quota_bytes);
	return image_bytes > q ? (image_bytes - q) / HOME_BLOCK_SIZE : 0;
}

int home_join(char *buf, size_t size, const char *dir, const char *name, const char *suffix)
{
	int n = snprintf(buf, size, "%s/%s%s", dir, name, suffix ? suffix : "");
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* CRC-32C (Castagnoli), reflected, without the final inversion: what ext4 stores
 * (e2fsprogs' ext2fs_crc32c_le). */
uint32_t home_crc32c(uint32_t crc, const void *data, size_t len)
{
	const unsigned char *p = data;
	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82F63B78U & (0U - (crc & 1U)));
	}
	return crc;
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

int home_ext4_super_parse(const unsigned char *sb, struct home_ext4_super *ret)
{
	enum {
		S_INODES_COUNT = 0x0,
		S_BLOCKS_COUNT_LO = 0x4,
		S_R_BLOCKS_COUNT_LO = 0x8,
		S_FREE_BLOCKS_COUNT_LO = 0xC,
		S_FREE_INODES_COUNT = 0x10,
		S_FIRST_DATA_BLOCK = 0x14,
		S_LOG_BLOCK_SIZE = 0x18,
		S_BLOCKS_PER_GROUP = 0x20,
		S_INODES_PER_GROUP = 0x28,
		S_MNT_COUNT = 0x34,
		S_MAX_MNT_COUNT = 0x36,
		S_MAGIC = 0x38,
		S_STATE = 0x3A,
		S_LASTCHECK = 0x40,
		S_CHECKINTERVAL = 0x44,
		S_REV_LEVEL = 0x4C,
		S_INODE_SIZE = 0x58,
		S_FEATURE_COMPAT = 0x5C,
		S_FEATURE_INCOMPAT = 0x60,
		S_FEATURE_RO_COMPAT = 0x64,
		S_JOURNAL_INUM = 0xE0,
		S_LAST_ORPHAN = 0xE8,
		S_DESC_SIZE = 0xFE,
		S_LASTCHECK_HI = 0x275,
		S_BLOCKS_COUNT_HI = 0x150,
		S_R_BLOCKS_COUNT_HI = 0x154,
		S_FREE_BLOCKS_COUNT_HI = 0x158,
		S_CHECKSUM = 0x3FC,
	};
	const uint32_t incompat_64bit = 0x80, ro_compat_metadata_csum = 0x400;
	const uint32_t compat_has_journal = 0x4;
	const uint32_t incompat_recover = 0x4, ro_compat_orphan_present = 0x10000;
	const uint16_t state_valid = 0x1, state_error = 0x2, state_orphan = 0x4;

	if ((sb[S_MAGIC] | sb[S_MAGIC + 1] << 8) != 0xEF53)
		return -EUCLEAN;
	if (le32(sb + S_FEATURE_RO_COMPAT) & ro_compat_metadata_csum) {
		if (home_crc32c(~0U, sb, S_CHECKSUM) != le32(sb + S_CHECKSUM))
			return -EUCLEAN;
	}
	uint32_t log = le32(sb + S_LOG_BLOCK_SIZE);
	if (log > 6)
		return -EUCLEAN;
	struct home_ext4_super s = {.block_size = 1024U << log};
	bool is64 = le32(sb + S_FEATURE_INCOMPAT) & incompat_64bit;
	s.blocks = le32(sb + S_BLOCKS_COUNT_LO);
	s.reserved_blocks = le32(sb + S_R_BLOCKS_COUNT_LO);
	s.free_blocks = le32(sb + S_FREE_BLOCKS_COUNT_LO);
	if (is64) {
		s.blocks |= (uint64_t)le32(sb + S_BLOCKS_COUNT_HI) << 32;
		s.reserved_blocks |= (uint64_t)le32(sb + S_R_BLOCKS_COUNT_HI) << 32;
		s.free_blocks |= (uint64_t)le32(sb + S_FREE_BLOCKS_COUNT_HI) << 32;
	}
	s.inodes = le32(sb + S_INODES_COUNT);
	s.free_inodes = le32(sb + S_FREE_INODES_COUNT);
	uint16_t state = (uint16_t)(sb[S_STATE] | sb[S_STATE + 1] << 8);
	s.clean_state = (state & state_valid) && !(state & (state_error | state_orphan));
	s.needs_recovery = le32(sb + S_FEATURE_INCOMPAT) & incompat_recover;
	s.orphans = le32(sb + S_LAST_ORPHAN) != 0 ||
		    (le32(sb + S_FEATURE_RO_COMPAT) & ro_compat_orphan_present);
	s.mount_count = (uint32_t)(sb[S_MNT_COUNT] | sb[S_MNT_COUNT + 1] << 8);
	int16_t max = (int16_t)(sb[S_MAX_MNT_COUNT] | sb[S_MAX_MNT_COUNT + 1] << 8);
	s.max_mount_count = max > 0 ? (uint32_t)max : 0;
	s.last_check = le32(sb + S_LASTCHECK) | (uint64_t)sb[S_LASTCHECK_HI] << 32;
	s.check_interval = le32(sb + S_CHECKINTERVAL);
	/* Where things are, for prefetching only (home_ext4_gdt_end and the journal helpers check
	 * them): not validated here. */
	s.first_data_block = le32(sb + S_FIRST_DATA_BLOCK);
	s.blocks_per_group = le32(sb + S_BLOCKS_PER_GROUP);
	s.inodes_per_group = le32(sb + S_INODES_PER_GROUP);
	s.inode_size = le32(sb + S_REV_LEVEL) == 0 ? 128 : le16(sb + S_INODE_SIZE);
	s.desc_size = is64 ? le16(sb + S_DESC_SIZE) : 32;
	s.journal_inum =
	    (le32(sb + S_FEATURE_COMPAT) & compat_has_journal) ? le32(sb + S_JOURNAL_INUM) : 0;
	if (s.blocks == 0 || s.inodes == 0 || s.free_blocks > s.blocks ||
	    s.free_inodes > s.inodes || s.reserved_blocks > s.blocks)
		return -EUCLEAN;
	*ret = s;
	return 0;
}

bool home_ext4_super_clean(const struct home_ext4_super *sb, int64_t now)
{
	if (!sb->clean_state || sb->needs_recovery || sb->orphans)
		return false;
	if (sb->max_mount_count && sb->mount_count >= sb->max_mount_count)
		return false;
	if (sb->check_interval && (now < (int64_t)sb->last_check ||
				   (uint64_t)(now - (int64_t)sb->last_check) >= sb->check_interval))
		return false;
	return true;
}

/* Blocks that hold metadata a mount reads lie inside the file system, past block 0. */
static bool in_fs(const struct home_ext4_super *sb, uint64_t block)
{
	return block > 0 && block < sb->blocks;
}

uint64_t home_ext4_gdt_end(const struct home_ext4_super *sb)
{
	if (sb->block_size > 65536 || sb->blocks_per_group == 0 || sb->desc_size < 32 ||
	    sb->desc_size > 1024 || sb->first_data_block > 1 || sb->blocks > (1ULL << 48))
		return 0;
	uint64_t groups =
	    (sb->blocks - sb->first_data_block + sb->blocks_per_group - 1) / sb->blocks_per_group;
	uint64_t gdt = (groups * sb->desc_size + sb->block_size - 1) / sb->block_size;
	uint64_t end = sb->first_data_block + 1 + (gdt < 16 ? gdt : 16);
	return end <= sb->blocks ? end : 0;
}

uint64_t home_ext4_journal_inode_block(const struct home_ext4_super *sb, const unsigned char *desc,
				       uint32_t *ret_offset)
{
	if (!home_ext4_gdt_end(sb) || sb->journal_inum == 0 || sb->inodes_per_group == 0 ||
	    sb->inode_size < 128 || sb->inode_size > sb->block_size ||
	    (sb->journal_inum - 1) / sb->inodes_per_group != 0)
		return 0;
	uint64_t table = le32(desc + 0x8);
	if (sb->desc_size >= 64)
		table |= (uint64_t)le32(desc + 0x28) << 32;
	uint64_t byte = (uint64_t)(sb->journal_inum - 1) * sb->inode_size;
	if (!in_fs(sb, table))
		return 0;
	uint64_t block = table + byte / sb->block_size;
	if (!in_fs(sb, block))
		return 0;
	*ret_offset = (uint32_t)(byte % sb->block_size);
	return block;
}

uint64_t home_ext4_journal_start(const struct home_ext4_super *sb, const unsigned char *inode)
{
	const uint32_t extents_fl = 0x80000;
	const unsigned char *iblock = inode + 0x28;
	uint64_t start;
	if (le32(inode + 0x20) & extents_fl) {
		/* An extent header (magic, entries, max, depth) and, at depth 0, the extents
		 * themselves; the journal's first one maps its block 0. */
		if (le16(iblock) != 0xF30A || le16(iblock + 2) == 0 || le16(iblock + 6) != 0 ||
		    le32(iblock + 12) != 0)
			return 0;
		start = (uint64_t)le16(iblock + 18) << 32 | le32(iblock + 20);
	} else {
		start = le32(iblock); /* the first direct block */
	}
	return in_fs(sb, start) ? start : 0;
}

int home_open_root_dir(int dirfd, const char *path, mode_t mode, bool create, bool mode_exact,
		       int *ret_fd, sbx_error *err)
{
	/* Opened first, made only when missing: every login after the first finds it. */
	_cleanup_close_ int fd =
	    openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && create) {
		if (mkdirat(dirfd, path, mode) < 0 && errno != EEXIST)
			return sbx_error_errno(err, errno, "mkdir %s", path);
		fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0)
		return sbx_error_errno(err, errno, "open %s", path);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return sbx_error_errno(err, errno, "fstat %s", path);
	if (st.st_uid != 0)
		return sbx_error_set(err, EPERM, "%s is owned by uid %u, not root", path,
				     (unsigned)st.st_uid);
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) || (mode_exact && (st.st_mode & 07777) != mode))
		return sbx_error_set(err, EPERM, "%s has mode %04o (expected %04o)", path,
				     (unsigned)(st.st_mode & 07777), (unsigned)mode);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int home_run(const char *const *argv, int keep_fd, char *out, size_t out_size, char *errbuf,
	     size_t err_size, int *ret_status)
{
	int opipe[2], epipe[2];
	if (pipe2(opipe, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(epipe, O_CLOEXEC) < 0) {
		int e = errno;
		close(opipe[0]);
		close(opipe[1]);
		return -e;
	}
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(opipe[0]);
		close(opipe[1]);
		close(epipe[0]);
		close(epipe[1]);
		return -e;
	}
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (nul < 0 || dup2(nul, 0) < 0 || dup2(opipe[1], 1) < 0 || dup2(epipe[1], 2) < 0)
			_exit(127);
		if (keep_fd >= 0 && dup2(keep_fd, 3) < 0)
			_exit(127);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		static char *const env[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL};
		execve(argv[0], (char *const *)argv, env);
		_exit(127);
	}
	close(opipe[1]);
	close(epipe[1]);
	/* Two pipes, small outputs: read them in turn with poll so neither can fill up. */
	char obuf[8192] = "", ebuf[4096] = "";
	size_t olen = 0, elen = 0;
	struct pollfd pfd[2] = {{opipe[0], POLLIN, 0}, {epipe[0], POLLIN, 0}};
	int open_fds = 2;
	while (open_fds > 0) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < 2; i++) {
			if (pfd[i].fd < 0 || !pfd[i].revents)
				continue;
			char tmp[1024];
			ssize_t n = read(pfd[i].fd, tmp, sizeof(tmp));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				close(pfd[i].fd);
				pfd[i].fd = -1;
				open_fds--;
				continue;
			}
			char *b = i == 0 ? obuf : ebuf;
			size_t *l = i == 0 ? &olen : &elen;
			size_t cap = (i == 0 ? sizeof(obuf) : sizeof(ebuf)) - 1;
			size_t take = (size_t)n < cap - *l ? (size_t)n : cap - *l;
			memcpy(b + *l, tmp, take);
			*l += take;
		}
	}
	obuf[olen] = ebuf[elen] = '\0';
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (out && out_size)
		snprintf(out, out_size, "%s", obuf);
	if (errbuf && err_size) {
		/* One line for error messages: the last non-empty line of stderr. */
		while (elen > 0 && (ebuf[elen - 1] == '\n' || ebuf[elen - 1] == ' '))
			ebuf[--elen] = '\0';
		for (size_t i = 0; i < elen; i++)
			if (ebuf[i] == '\n')
				ebuf[i] = ';';
		snprintf(errbuf, err_size, "%s", ebuf);
	}
	*ret_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	return 0;
}

static uint64_t tree_bytes, tree_inodes;

static int tree_visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)path;
	(void)type;
	(void)ftw;
	tree_bytes += (uint64_t)st->st_blocks * 512;
	tree_inodes++;
	return 0;
}

int home_tree_usage(const char *path, uint64_t *ret_bytes, uint64_t *ret_inodes)
{
	tree_bytes = tree_inodes = 0;
	if (nftw(path, tree_visit, 32, FTW_PHYS | FTW_MOUNT) < 0)
		return -errno;
	*ret_bytes = tree_bytes;
	*ret_inodes = tree_inodes;
	return 0;
}
