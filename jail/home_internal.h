/* Shared by the home backends and the unit tests: the backend table, pure helpers (names,
 * sizes, the ext4 superblock) and the checked-directory and helper-program utilities. */
#pragma once

#include "jail/home.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HOME_BLOCK_SIZE 4096ULL
/* Smallest image we create: room for the journal, inode tables and a few files. */
#define HOME_IMAGE_MIN_BYTES (16ULL << 20)
#define HOME_IMAGE_MIN_INODES 128ULL

struct home {
	enum home_backend_kind kind;
	char user[33];
	char path[PATH_MAX]; /* what home_path() returns */
	int hold_fd;	     /* image: our shared flock on the user's hold file; -1 otherwise */
	char runtime_dir[PATH_MAX];
};

struct home_backend {
	const char *name;
	int (*attach)(const struct home_params *p, struct home *h, sbx_error *err);
	void (*detach)(struct home *h);
	int (*usage)(const struct home_params *p, uint64_t *ret_bytes, uint64_t *ret_inodes,
		     sbx_error *err);
};

extern const struct home_backend home_backend_image;
extern const struct home_backend home_backend_btrfs;
extern const struct home_backend home_backend_directory;

/* Pure parts. */
bool home_user_name_valid(const char *user);
/* The image size for a quota: rounded up to whole blocks, at least HOME_IMAGE_MIN_BYTES. */
uint64_t home_image_bytes(uint64_t quota_bytes);
uint64_t home_image_inodes(uint64_t quota_inodes);
/* Blocks reserved for root so that the user can fill only quota_bytes of an image of
 * image_bytes (0 when the image is not larger than the quota). */
uint64_t home_reserved_blocks(uint64_t image_bytes, uint64_t quota_bytes);
/* "<dir>/<name><suffix>" into buf; -ENAMETOOLONG if it does not fit. */
int home_join(char *buf, size_t size, const char *dir, const char *name, const char *suffix);

struct home_ext4_super {
	uint64_t blocks, free_blocks, reserved_blocks;
	uint64_t inodes, free_inodes;
	uint32_t block_size;
	/* What `e2fsck -p` looks at before deciding that a file system needs no check. */
	bool clean_state;    /* s_state: cleanly unmounted, no errors, no orphans being removed */
	bool needs_recovery; /* the journal has transactions to replay */
	bool orphans;	     /* an orphan list (s_last_orphan) or orphan file with entries */
	uint32_t mount_count, max_mount_count; /* max 0: no count limit (-1 on disk) */
	uint64_t last_check, check_interval;   /* seconds; interval 0: none */
	/* Where the metadata a mount reads first lies (home_ext4_gdt_end and below). */
	uint32_t first_data_block, blocks_per_group, inodes_per_group;
	uint32_t inode_size, desc_size;
	uint32_t journal_inum; /* 0: no journal in an inode */
};
#define HOME_EXT4_SUPER_OFFSET 1024
#define HOME_EXT4_SUPER_SIZE 1024
/* Parses and validates the 1024-byte primary superblock (magic, geometry, and the checksum
 * when metadata_csum is on): -EUCLEAN if it is damaged. */
int home_ext4_super_parse(const unsigned char *sb, struct home_ext4_super *ret);
/* True when `e2fsck -p` would only print "clean" and exit 0 (e2fsck's check_if_skip): cleanly
 * unmounted, no errors, no journal to replay, no orphans, no mount-count or interval check due.
 * Anything else, and the image goes through e2fsck as before. */
bool home_ext4_super_clean(const struct home_ext4_super *sb, int64_t now);
uint32_t home_crc32c(uint32_t crc, const void *data, size_t len);
/* Mounting a clean image reads, one after another, the superblock and group descriptors, the
 * inode table block with the journal's inode, and the journal's first block. These say where,
 * for a prefetch; 0 where they cannot tell (odd geometry, a journal inode outside group 0, an
 * extent tree deeper than the inode). Only hints: the kernel reads and checks everything
 * itself.
 * home_ext4_gdt_end: blocks 0 to the end of the group descriptors (at most 16 of them).
 * home_ext4_journal_inode_block: from group 0's descriptor (its first 64 bytes); the inode's
 * byte offset in that block goes to *ret_offset.
 * home_ext4_journal_start: from the journal's inode (its first 128 bytes). */
uint64_t home_ext4_gdt_end(const struct home_ext4_super *sb);
uint64_t home_ext4_journal_inode_block(const struct home_ext4_super *sb, const unsigned char *desc,
				       uint32_t *ret_offset);
uint64_t home_ext4_journal_start(const struct home_ext4_super *sb, const unsigned char *inode);

/* Utilities. */
/* Opens (creating with mode if missing) a directory that must be a real directory owned by
 * root and not writable by group or others; mode_exact also requires exactly that mode. */
int home_open_root_dir(int dirfd, const char *path, mode_t mode, bool create, bool mode_exact,
		       int *ret_fd, sbx_error *err);
/* Runs argv (absolute path) and waits: 0 and *ret_status = exit status, or -errno. stdout
 * goes to out (NUL-terminated, truncated) if not NULL, else to /dev/null; stderr likewise to
 * errbuf. keep_fd (or -1) is passed as fd 3. */
int home_run(const char *const *argv, int keep_fd, char *out, size_t out_size, char *errbuf,
	     size_t err_size, int *ret_status);
/* Sums st_blocks*512 and counts inodes under a directory (one file system, no symlinks
 * followed). */
int home_tree_usage(const char *path, uint64_t *ret_bytes, uint64_t *ret_inodes);
