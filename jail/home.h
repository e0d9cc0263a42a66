/* The persistent home's storage: a table of backends that turn a user and a quota into a host
 * directory the jail binds read-write at the user's home.
 *
 *   image      a per-user ext4 image (state_dir/homes/<user>.img, sparse, size = quota) loop-
 *              mounted at runtime_dir/homes/<user>, shared by the user's concurrent sessions;
 *              the last session unmounts it and the loop device is freed (LO_FLAGS_AUTOCLEAR).
 *   btrfs      a subvolume state_dir/homes/<user> with a qgroup limit (state_dir on btrfs).
 *   directory  the user's existing home (pw_dir); the quota is the filer's job.
 *
 * home_attach() is called by the monitor once per session after the policy is resolved, and
 * home_detach() when the session ends; both are cheap when another session of the user holds
 * the home. A monitor that dies without detaching leaves nothing that the next attach does not
 * clean: the sharing count is a shared flock held by each live session. */
#pragma once

#include "common/error.h"

#include <stdint.h>
#include <sys/types.h>

enum home_backend_kind {
	HOME_BACKEND_IMAGE,
	HOME_BACKEND_BTRFS,
	HOME_BACKEND_DIRECTORY,
};

struct home_params {
	const char *user; /* login name: [A-Za-z0-9_][A-Za-z0-9_.-]*, at most 32 bytes */
	uid_t uid;
	gid_t gid;
	const char *host_home;	 /* pw_dir: the directory backend's home */
	uint64_t quota_bytes;	 /* POLICY_DISK */
	uint64_t quota_inodes;	 /* POLICY_INODES (image only; btrfs has no inode limit) */
	const char *state_dir;	 /* e.g. /var/lib/sandboxd: images in state_dir/homes/<user>.img */
	const char *runtime_dir; /* e.g. /run/sandboxd: mount points and locks */
};

struct home; /* one session's attachment */

/* Returns with the home ready (created on first use, checked, mounted, resized to the quota);
 * *ret is freed by home_detach(). */
int home_attach(enum home_backend_kind kind, const struct home_params *p, struct home **ret,
		sbx_error *err);
/* The host directory to bind read-write at the user's home inside the jail. */
const char *home_path(const struct home *h);
/* Ends this session's hold; the last holder of an image unmounts it. Accepts NULL. */
void home_detach(struct home *h);

/* Space and inodes in use, with or without a live attachment (for sandboxctl and `quota`).
 * -ENOENT when the user has no home in this backend yet. inodes is 0 where not counted. */
int home_usage(enum home_backend_kind kind, const struct home_params *p, uint64_t *ret_bytes,
	       uint64_t *ret_inodes, sbx_error *err);

/* Unmounts every image home under runtime_dir that no live session holds (what monitors that
 * crashed left behind). For the daemon's start-up; attach does the same for its own user.
 * Returns the number of homes unmounted, or -errno. */
int home_sweep(const char *runtime_dir, sbx_error *err);

/* "image", "btrfs", "directory" → kind; -EINVAL otherwise. */
int home_backend_parse(const char *name, enum home_backend_kind *ret);
const char *home_backend_name(enum home_backend_kind kind);
