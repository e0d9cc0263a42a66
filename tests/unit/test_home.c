/* The home storage layer's pure parts: backend names, user names as path components, image
 * sizes and reserves, and the ext4 superblock check that keeps a damaged image from being
 * "repaired" behind the admin's back. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "jail/home_internal.h"

static void test_backend_names(void **state)
{
	enum home_backend_kind k;
	assert_int_equal(home_backend_parse("image", &k), 0);
	assert_int_equal(k, HOME_BACKEND_IMAGE);
	assert_int_equal(home_backend_parse("btrfs", &k), 0);
	assert_int_equal(k, HOME_BACKEND_BTRFS);
	assert_int_equal(home_backend_parse("directory", &k), 0);
	assert_int_equal(k, HOME_BACKEND_DIRECTORY);
	assert_int_equal(home_backend_parse("Image", &k), -EINVAL);
	assert_int_equal(home_backend_parse("", &k), -EINVAL);
	assert_int_equal(home_backend_parse(NULL, &k), -EINVAL);
	assert_string_equal(home_backend_name(HOME_BACKEND_BTRFS), "btrfs");
	assert_string_equal(home_backend_name((enum home_backend_kind)7), "unknown");
}

static void test_user_names_are_single_path_components(void **state)
{
	assert_true(home_user_name_valid("alice"));
	assert_true(home_user_name_valid("sbxe2e_ab12cd34"));
	assert_true(home_user_name_valid("j.doe-2"));
	assert_false(home_user_name_valid(""));
	assert_false(home_user_name_valid(NULL));
	assert_false(home_user_name_valid("."));
	assert_false(home_user_name_valid(".."));
	assert_false(home_user_name_valid(".hidden"));
	assert_false(home_user_name_valid("-rf"));
	assert_false(home_user_name_valid("a/b"));
	assert_false(home_user_name_valid("a b"));
	assert_false(home_user_name_valid("a\nb"));
	assert_false(home_user_name_valid("abcdefghijabcdefghijabcdefghijabc")); /* 33 */
	assert_true(home_user_name_valid("abcdefghijabcdefghijabcdefghijab"));	 /* 32 */
}

static void test_image_sizes_round_up_to_blocks(void **state)
{
	assert_int_equal(home_image_bytes(0), HOME_IMAGE_MIN_BYTES);
	assert_int_equal(home_image_bytes(1), HOME_IMAGE_MIN_BYTES);
	assert_int_equal(home_image_bytes(200ULL << 20), 200ULL << 20);
	assert_int_equal(home_image_bytes((200ULL << 20) + 1), (200ULL << 20) + 4096);
	assert_int_equal(home_image_bytes(UINT64_MAX) % 4096, 0);
	assert_true(home_image_bytes(UINT64_MAX) > (1ULL << 62));
	assert_int_equal(home_image_inodes(0), HOME_IMAGE_MIN_INODES);
	assert_int_equal(home_image_inodes(20000), 20000);
}

static void test_reserve_covers_what_is_above_a_lowered_quota(void **state)
{
	assert_int_equal(home_reserved_blocks(64ULL << 20, 64ULL << 20), 0);
	assert_int_equal(home_reserved_blocks(32ULL << 20, 64ULL << 20), 0);
	assert_int_equal(home_reserved_blocks(64ULL << 20, 32ULL << 20), (32ULL << 20) / 4096);
	assert_int_equal(home_reserved_blocks(64ULL << 20, 1), (48ULL << 20) / 4096);
}

static void test_join_refuses_truncation(void **state)
{
	char buf[16];
	assert_int_equal(home_join(buf, sizeof(buf), "/run", "homes/", "bob"), 0);
	assert_string_equal(buf, "/run/homes/bob");
	assert_int_equal(home_join(buf, sizeof(buf), "/run", "homes/", "bobby"), -ENAMETOOLONG);
}

static void test_crc32c_known_vector(void **state)
{
	/* The standard check value of CRC-32C over "123456789" (with both inversions). */
	assert_int_equal(~home_crc32c(~0U, "123456789", 9), 0xE3069283U);
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

static void make_super(unsigned char *sb, int csum)
{
	memset(sb, 0, HOME_EXT4_SUPER_SIZE);
	put32(sb + 0x0, 5120);	/* inodes */
	put32(sb + 0x4, 16384); /* blocks */
	put32(sb + 0x8, 100);	/* reserved */
	put32(sb + 0xC, 12000); /* free blocks */
	put32(sb + 0x10, 5000); /* free inodes */
	put32(sb + 0x18, 2);	/* 4096-byte blocks */
	sb[0x38] = 0x53;
	sb[0x39] = 0xEF;
	if (csum) {
		put32(sb + 0x64, 0x400);
		put32(sb + 0x3FC, home_crc32c(~0U, sb, 0x3FC));
	}
}

/* Where a mount's first reads go, for the prefetch: the layout of a 200 MiB image as mkfs.ext4
 * makes it (4 KiB blocks, 64-bit descriptors, journal inode 8 in group 0's table at block 30,
 * journal at block 1286). */
static void test_prefetch_locations(void **state)
{
	unsigned char sb[HOME_EXT4_SUPER_SIZE], desc[64] = {0}, inode[128] = {0};
	struct home_ext4_super s;
	uint32_t offset = 0;

	make_super(sb, 0);
	put32(sb + 0x4, 51200);	 /* blocks */
	put32(sb + 0x20, 32768); /* blocks per group */
	put32(sb + 0x28, 10000); /* inodes per group */
	put32(sb + 0x4C, 1);	 /* revision 1: the inode size is in the superblock */
	sb[0x58] = 0;		 /* 256-byte inodes */
	sb[0x59] = 1;
	put32(sb + 0x5C, 0x4);	/* has_journal */
	put32(sb + 0x60, 0x80); /* 64bit */
	put32(sb + 0xE0, 8);	/* journal inode */
	sb[0xFE] = 64;		/* descriptor size */
	assert_int_equal(home_ext4_super_parse(sb, &s), 0);
	assert_int_equal(home_ext4_gdt_end(&s), 2); /* superblock and one descriptor block */

	put32(desc + 0x8, 30); /* group 0's inode table */
	assert_int_equal(home_ext4_journal_inode_block(&s, desc, &offset), 30);
	assert_int_equal(offset, 7 * 256);

	put32(inode + 0x20, 0x80000); /* extents */
	inode[0x28] = 0x0A;	      /* extent header: magic, 1 entry, max 4, depth 0 */
	inode[0x29] = 0xF3;
	inode[0x2A] = 1;
	inode[0x2C] = 4;
	put32(inode + 0x28 + 20, 1286); /* the first extent starts the journal there */
	assert_int_equal(home_ext4_journal_start(&s, inode), 1286);

	/* Anything odd: no hint (the mount reads for itself). */
	put32(inode + 0x28 + 20, 60000); /* beyond the file system */
	assert_int_equal(home_ext4_journal_start(&s, inode), 0);
	put32(inode + 0x28 + 20, 1286);
	inode[0x2E] = 1; /* depth 1: the extents are in another block */
	assert_int_equal(home_ext4_journal_start(&s, inode), 0);
	inode[0x2E] = 0;
	inode[0x28] = 0; /* no extent magic */
	assert_int_equal(home_ext4_journal_start(&s, inode), 0);
	put32(inode + 0x20, 0); /* a block-mapped journal: its first direct block */
	put32(inode + 0x28, 1286);
	assert_int_equal(home_ext4_journal_start(&s, inode), 1286);

	put32(desc + 0x8, 0); /* no inode table */
	assert_int_equal(home_ext4_journal_inode_block(&s, desc, &offset), 0);
	put32(desc + 0x8, 30);
	put32(desc + 0x28, 1); /* a table 2^32 blocks further: beyond the file system */
	assert_int_equal(home_ext4_journal_inode_block(&s, desc, &offset), 0);
	put32(desc + 0x28, 0);
	s.journal_inum = 10001; /* not in group 0 */
	assert_int_equal(home_ext4_journal_inode_block(&s, desc, &offset), 0);
	s.journal_inum = 0; /* no journal inode */
	assert_int_equal(home_ext4_journal_inode_block(&s, desc, &offset), 0);
	s.blocks_per_group = 0;
	assert_int_equal(home_ext4_gdt_end(&s), 0);

	make_super(sb, 0); /* what the other tests use: no geometry at all, still parses */
	assert_int_equal(home_ext4_super_parse(sb, &s), 0);
	assert_int_equal(home_ext4_gdt_end(&s), 0);
}

static void test_superblock_parse(void **state)
{
	unsigned char sb[HOME_EXT4_SUPER_SIZE];
	struct home_ext4_super s;

	make_super(sb, 1);
	assert_int_equal(home_ext4_super_parse(sb, &s), 0);
	assert_int_equal(s.block_size, 4096);
	assert_int_equal(s.blocks, 16384);
	assert_int_equal(s.free_blocks, 12000);
	assert_int_equal(s.reserved_blocks, 100);
	assert_int_equal(s.inodes - s.free_inodes, 120);

	sb[0x200] ^= 1; /* any flipped bit fails the checksum */
	assert_int_equal(home_ext4_super_parse(sb, &s), -EUCLEAN);

	make_super(sb, 0);
	assert_int_equal(home_ext4_super_parse(sb, &s), 0);
	sb[0x38] = 0;
	assert_int_equal(home_ext4_super_parse(sb, &s), -EUCLEAN);

	make_super(sb, 0);
	put32(sb + 0xC, 20000); /* more free blocks than blocks */
	assert_int_equal(home_ext4_super_parse(sb, &s), -EUCLEAN);

	unsigned char zero[HOME_EXT4_SUPER_SIZE] = {0};
	assert_int_equal(home_ext4_super_parse(zero, &s), -EUCLEAN);
}

/* The superblock fields e2fsck -p decides "clean" by (its check_if_skip). */
static void test_superblock_clean(void **state)
{
	unsigned char sb[HOME_EXT4_SUPER_SIZE];
	struct home_ext4_super s;
	const int64_t now = 1700000000;

	make_super(sb, 0);
	sb[0x3A] = 0x1;	 /* s_state: valid */
	sb[0x36] = 0xFF; /* s_max_mnt_count -1: no count limit */
	sb[0x37] = 0xFF;
	sb[0x34] = 200; /* mounted 200 times */
	assert_int_equal(home_ext4_super_parse(sb, &s), 0);
	assert_true(home_ext4_super_clean(&s, now));

	sb[0x3A] = 0x0; /* not cleanly unmounted */
	assert_int_equal(home_ext4_super_parse(sb, &s), 0);
	assert_false(home_ext4_super_clean(&s, now));
	sb[0x3A] = 0x3; /* errors */
	assert_int_equal(home_ext4_super_parse(sb, &s), 0);
	assert_false(home_ext4_super_clean(&s, now));
	sb[0x3A] = 0x1;

	put32(sb + 0x60, 0x4); /* the journal needs recovery */
	assert_int_equal(home_ext4_super_parse(sb, &s), 0);
	assert_false(home_ext4_super_clean(&s, now));
	put32(sb + 0x60, 0);

	put32(sb + 0xE8, 12); /* an orphan list */
	assert_int_equal(home_ext4_super_parse(sb, &s), 0);
	assert_false(home_ext4_super_clean(&s, now));
	put32(sb + 0xE8, 0);

	sb[0x36] = 20; /* a mount count limit that was reached */
	sb[0x37] = 0;
	assert_int_equal(home_ext4_super_parse(sb, &s), 0);
	assert_false(home_ext4_super_clean(&s, now));
	sb[0x34] = 3;
	assert_int_equal(home_ext4_super_parse(sb, &s), 0);
	assert_true(home_ext4_super_clean(&s, now));

	put32(sb + 0x44, 86400);     /* checked daily: */
	put32(sb + 0x40, now - 100); /* not yet due */
	assert_int_equal(home_ext4_super_parse(sb, &s), 0);
	assert_true(home_ext4_super_clean(&s, now));
	put32(sb + 0x40, now - 90000); /* due */
	assert_int_equal(home_ext4_super_parse(sb, &s), 0);
	assert_false(home_ext4_super_clean(&s, now));
	put32(sb + 0x40, now + 1000); /* in the future */
	assert_int_equal(home_ext4_super_parse(sb, &s), 0);
	assert_false(home_ext4_super_clean(&s, now));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_backend_names),
	    cmocka_unit_test(test_user_names_are_single_path_components),
	    cmocka_unit_test(test_image_sizes_round_up_to_blocks),
	    cmocka_unit_test(test_reserve_covers_what_is_above_a_lowered_quota),
	    cmocka_unit_test(test_join_refuses_truncation),
	    cmocka_unit_test(test_crc32c_known_vector),
	    cmocka_unit_test(test_superblock_parse),
	    cmocka_unit_test(test_superblock_clean),
	    cmocka_unit_test(test_prefetch_locations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
