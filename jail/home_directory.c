/* The directory backend: the user's existing home (pw_dir), for homes on a filer that enforces
 * its own quota. Nothing is created or mounted; the home must be a real directory (not a
 * symlink) owned by the user and not writable by group or others. */
#include "config.h"

#include "jail/home_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"

static int directory_attach(const struct home_params *p, struct home *h, sbx_error *err)
{
	struct stat st;
	if (snprintf(h->path, sizeof(h->path), "%s", p->host_home) >= (int)sizeof(h->path))
		return sbx_error_set(err, ENAMETOOLONG, "home path too long");
	_cleanup_close_ int fd =
	    open(p->host_home, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return sbx_error_errno(err, errno, "open home %s of %s", p->host_home, p->user);
	if (fstat(fd, &st) < 0)
		return sbx_error_errno(err, errno, "fstat %s", p->host_home);
	if (st.st_uid != p->uid)
		return sbx_error_set(err, EPERM, "home %s of %s is owned by uid %u", p->host_home,
				     p->user, (unsigned)st.st_uid);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return sbx_error_set(err, EPERM, "home %s of %s is writable by group or others",
				     p->host_home, p->user);
	return 0;
}

static int directory_usage(const struct home_params *p, uint64_t *ret_bytes, uint64_t *ret_inodes,
			   sbx_error *err)
{
	struct stat st;
	if (lstat(p->host_home, &st) < 0)
		return errno == ENOENT ? -ENOENT
				       : sbx_error_errno(err, errno, "stat %s", p->host_home);
	if (!S_ISDIR(st.st_mode))
		return sbx_error_set(err, ENOTDIR, "%s is not a directory", p->host_home);
	int r = home_tree_usage(p->host_home, ret_bytes, ret_inodes);
	if (r < 0)
		return sbx_error_errno(err, -r, "walk %s", p->host_home);
	return 0;
}

const struct home_backend home_backend_directory = {
    .name = "directory",
    .attach = directory_attach,
    .detach = NULL,
    .usage = directory_usage,
};
