#include "config.h"

#include "sshd-module/session_registry.h"

#include "common/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static int registry_path(const char *runtime_dir, const char *session_id, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/sessions/%s", runtime_dir, session_id);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int session_registry_add(const char *runtime_dir, const struct session_record *rec,
			 sbx_error *err)
{
	char dir[PATH_MAX], path[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/sessions", runtime_dir);
	if (mkdir(runtime_dir, 0755) < 0 && errno != EEXIST)
		return sbx_error_errno(err, errno, "cannot create %s", runtime_dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return sbx_error_errno(err, errno, "cannot create %s", dir);
	if (registry_path(runtime_dir, rec->session_id, path, sizeof(path)) < 0)
		return sbx_error_set(err, ENAMETOOLONG, "session record path too long");
	_cleanup_close_ int fd =
		open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return sbx_error_errno(err, errno, "cannot create %s", path);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		return sbx_error_errno(err, errno, "cannot lock %s", path);
	dprintf(fd, "user=%s\nremote=%s\nstarted=%lld\nmonitor=%d\n", rec->user, rec->remote,
		rec->started, (int)rec->monitor_pid);
	return TAKE_FD(fd);
}

void session_registry_remove(const char *runtime_dir, const char *session_id, int fd)
{
	char path[PATH_MAX];
	if (registry_path(runtime_dir, session_id, path, sizeof(path)) == 0)
		unlink(path);
	if (fd >= 0)
		close(fd);
}

bool session_registry_is_live(const char *runtime_dir, const char *session_id)
{
	char path[PATH_MAX];
	if (registry_path(runtime_dir, session_id, path, sizeof(path)) < 0)
		return false;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return false;
	if (flock(fd, LOCK_SH | LOCK_NB) < 0)
		return errno == EWOULDBLOCK;
	/* Nobody holds it: the monitor is gone, and so is the record. */
	unlink(path);
	return false;
}
