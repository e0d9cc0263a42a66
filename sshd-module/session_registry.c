#include "config.h"

#include "sshd-module/session_registry.h"

#include "common/cleanup.h"

#include <dirent.h>
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

int session_registry_add(const char *runtime_dir, const struct session_record *rec, sbx_error *err)
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

int session_registry_sweep(const char *runtime_dir,
			   void (*fn)(const char *user, const char *session_id, void *userdata),
			   void *userdata)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/sessions", runtime_dir);
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	int swept = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char path[PATH_MAX], line[300];
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path))
			continue;
		_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0)
			continue; /* its monitor is alive */
		FILE *f = fdopen(fd, "r");
		if (!f)
			continue;
		TAKE_FD(fd);
		if (fgets(line, sizeof(line), f) && strncmp(line, "user=", 5) == 0) {
			line[strcspn(line, "\n")] = '\0';
			fn(line + 5, de->d_name, userdata);
		}
		unlink(path);
		fclose(f);
		swept++;
	}
	closedir(d);
	return swept;
}

/* An exclusive flock on PATH, created as needed; returns the descriptor holding it. */
static int registry_lock_file(const char *path, sbx_error *err)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return sbx_error_errno(err, errno, "cannot open %s", path);
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			int e = errno;
			close(fd);
			return sbx_error_errno(err, e, "cannot lock %s", path);
		}
	}
	return fd;
}

int session_registry_lock_user(const char *runtime_dir, const char *user, sbx_error *err)
{
	char dir[PATH_MAX], path[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/user-locks", runtime_dir);
	if (mkdir(runtime_dir, 0755) < 0 && errno != EEXIST)
		return sbx_error_errno(err, errno, "cannot create %s", runtime_dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return sbx_error_errno(err, errno, "cannot create %s", dir);
	if (snprintf(path, sizeof(path), "%s/%s", dir, user) >= (int)sizeof(path))
		return sbx_error_set(err, ENAMETOOLONG, "user name too long");
	return registry_lock_file(path, err);
}

int session_registry_lock_host(const char *runtime_dir, sbx_error *err)
{
	char path[PATH_MAX];
	if (mkdir(runtime_dir, 0755) < 0 && errno != EEXIST)
		return sbx_error_errno(err, errno, "cannot create %s", runtime_dir);
	if (snprintf(path, sizeof(path), "%s/host.lock", runtime_dir) >= (int)sizeof(path))
		return sbx_error_set(err, ENAMETOOLONG, "RuntimeDirectory too long");
	return registry_lock_file(path, err);
}

int session_registry_count(const char *runtime_dir, const char *user)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/sessions", runtime_dir);
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	int count = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char path[PATH_MAX], want[300], line[300];
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path))
			continue;
		bool counted = true;
		if (user) {
			FILE *f = fopen(path, "re");
			if (!f)
				continue;
			snprintf(want, sizeof(want), "user=%s\n", user);
			counted = fgets(line, sizeof(line), f) && strcmp(line, want) == 0;
			fclose(f);
		}
		if (counted && session_registry_is_live(runtime_dir, de->d_name))
			count++;
	}
	closedir(d);
	return count;
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
