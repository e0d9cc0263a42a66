#include "config.h"

#include "sshd-module/authorized_keys.h"

#include "common/cleanup.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int authorized_keys_path(const char *pattern, const struct passwd *pw, char **ret)
{
	char out[PATH_MAX];
	size_t o = 0;
	if (pattern[0] != '/' && strncmp(pattern, "%h", 2) != 0) {
		int n = snprintf(out, sizeof(out), "%s/", pw->pw_dir);
		if (n < 0 || (size_t)n >= sizeof(out))
			return -ENAMETOOLONG;
		o = (size_t)n;
	}
	for (const char *p = pattern; *p; p++) {
		const char *add = NULL;
		char one[2] = {*p, 0};
		if (*p == '%') {
			p++;
			if (*p == 'h')
				add = pw->pw_dir;
			else if (*p == 'u')
				add = pw->pw_name;
			else if (*p == '%')
				add = "%";
			else
				return -EINVAL;
		} else {
			add = one;
		}
		size_t n = strlen(add);
		if (o + n >= sizeof(out))
			return -ENAMETOOLONG;
		memcpy(out + o, add, n);
		o += n;
	}
	out[o] = '\0';
	*ret = strdup(out);
	return *ret ? 0 : -ENOMEM;
}

static bool key_type_known(const char *t)
{
	static const char *const types[] = {
		"ssh-ed25519",         "ssh-rsa",
		"ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
		"ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com",
		"sk-ecdsa-sha2-nistp256@openssh.com",
	};
	for (size_t i = 0; i < ELEMENTSOF(types); i++)
		if (strcmp(t, types[i]) == 0)
			return true;
	return false;
}

bool authorized_keys_line_matches(const char *line, const char *key_type, const char *key_b64)
{
	char buf[16384];
	if (strlen(line) >= sizeof(buf))
		return false;
	strcpy(buf, line);
	char *save = NULL;
	char *type = strtok_r(buf, " \t\r\n", &save);
	if (!type || type[0] == '#')
		return false;
	/* A line that starts with options (command=, from=, restrict...) would need them
	 * enforced; we enforce none, so such a line never grants access. */
	if (!key_type_known(type))
		return false;
	char *blob = strtok_r(NULL, " \t\r\n", &save);
	if (!blob)
		return false;
	return strcmp(type, key_type) == 0 && strcmp(blob, key_b64) == 0;
}

/* StrictModes: every component from the file up to the home (and above it up to /) must be
 * owned by root or the user and not writable by group or others. */
static int authorized_keys_check_modes(const char *path, const struct passwd *pw, sbx_error *err)
{
	char buf[PATH_MAX];
	if (strlen(path) >= sizeof(buf))
		return sbx_error_set(err, ENAMETOOLONG, "path too long");
	strcpy(buf, path);
	for (;;) {
		struct stat st;
		if (lstat(buf, &st) < 0)
			return sbx_error_errno(err, errno, "%s", buf);
		if (st.st_uid != 0 && st.st_uid != pw->pw_uid)
			return sbx_error_set(err, EPERM, "bad ownership of %s", buf);
		if ((st.st_mode & 022) && !(S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX) &&
					    st.st_uid == 0))
			return sbx_error_set(err, EPERM, "bad modes of %s (writable by others)",
					     buf);
		char *slash = strrchr(buf, '/');
		if (!slash || slash == buf)
			break;
		*slash = '\0';
	}
	return 0;
}

int authorized_keys_match(const char *path, const struct passwd *pw, const char *key_type,
			  const char *key_b64, sbx_error *err)
{
	if (path[0] != '/')
		return sbx_error_set(err, EINVAL, "authorized keys path %s is not absolute", path);
	/* Open as the user, so the file is one the user could read anyway. */
	gid_t old_gid = getegid();
	uid_t old_uid = geteuid();
	if (setegid(pw->pw_gid) < 0 || seteuid(pw->pw_uid) < 0) {
		int e = errno;
		if (seteuid(old_uid) < 0 || setegid(old_gid) < 0)
			abort();
		return sbx_error_errno(err, e, "cannot switch to %s", pw->pw_name);
	}
	_cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	int open_errno = errno;
	if (seteuid(old_uid) < 0 || setegid(old_gid) < 0) {
		log_error("cannot restore root after reading %s", path);
		abort();
	}
	if (fd < 0) {
		if (open_errno == ENOENT)
			return -ENOENT;
		return sbx_error_errno(err, open_errno, "%s", path);
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return sbx_error_set(err, EPERM, "%s is not a regular file", path);
	int r = authorized_keys_check_modes(path, pw, err);
	if (r < 0)
		return r;
	_cleanup_fclose_ FILE *f = fdopen(fd, "r");
	if (!f)
		return sbx_error_errno(err, errno, "%s", path);
	TAKE_FD(fd);
	char *line = NULL;
	size_t cap = 0;
	int found = -ENOENT;
	unsigned lines = 0;
	while (getline(&line, &cap, f) > 0 && lines++ < 100000) {
		if (authorized_keys_line_matches(line, key_type, key_b64)) {
			found = 0;
			break;
		}
	}
	free(line);
	return found;
}
