/* The jail's terminal: the pair comes from the jail's own devpts instance (opened after
 * pivot_root, so /dev/ptmx is the jail's), the master goes to the monitor over the status
 * socket (as crun's console socket does), the slave becomes the payload's controlling tty. */
#include "config.h"

#include "jail/jail-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "common/cleanup.h"

int jail_pty_resize(int master_fd, unsigned short rows, unsigned short cols)
{
	struct winsize ws = {.ws_row = rows, .ws_col = cols};
	if (rows == 0 || cols == 0)
		return 0;
	return ioctl(master_fd, TIOCSWINSZ, &ws) < 0 ? -errno : 0;
}

int jail_pty_open_master(unsigned short rows, unsigned short cols, char **ret_slave, sbx_error *err)
{
	_cleanup_close_ int fd = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	char name[64];
	int r;

	if (fd < 0)
		return sbx_error_errno(err, errno, "open /dev/ptmx");
	if (unlockpt(fd) < 0)
		return sbx_error_errno(err, errno, "unlockpt");
	if ((r = ptsname_r(fd, name, sizeof(name))) != 0)
		return sbx_error_errno(err, r, "ptsname");
	if ((r = jail_pty_resize(fd, rows, cols)) < 0)
		return sbx_error_errno(err, -r, "TIOCSWINSZ");
	*ret_slave = strdup(name);
	if (!*ret_slave)
		return sbx_error_set(err, ENOMEM, "pty name");
	return TAKE_FD(fd);
}

/* In the payload, before it drops root: a new session whose controlling terminal is the
 * slave, owned by the user, on fds 0-2. */
int jail_pty_make_controlling(const char *slave, uid_t uid, gid_t gid, sbx_error *err)
{
	if (setsid() < 0)
		return sbx_error_errno(err, errno, "setsid");
	_cleanup_close_ int fd = open(slave, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return sbx_error_errno(err, errno, "open %s", slave);
	if (fchown(fd, uid, gid) < 0 || fchmod(fd, 0620) < 0)
		return sbx_error_errno(err, errno, "chown %s", slave);
	if (ioctl(fd, TIOCSCTTY, 0) < 0)
		return sbx_error_errno(err, errno, "TIOCSCTTY");
	for (int i = 0; i < 3; i++)
		if (dup2(fd, i) < 0)
			return sbx_error_errno(err, errno, "dup2 tty");
	return 0;
}
