#include "config.h"

#include "sshd-module/inetd_relay.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

struct relay {
	int from, to;
	char buf[65536];
	size_t len, off;
	bool eof;
};

static void relay_pump(struct relay *r)
{
	if (r->len == 0 && !r->eof) {
		ssize_t n = read(r->from, r->buf, sizeof(r->buf));
		if (n > 0) {
			r->len = (size_t)n;
			r->off = 0;
		} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
			r->eof = true;
			shutdown(r->to, SHUT_WR);
			return;
		}
	}
	while (r->off < r->len) {
		ssize_t n = write(r->to, r->buf + r->off, r->len - r->off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r->eof = true;
			return;
		}
		r->off += (size_t)n;
	}
	r->len = r->off = 0;
}

static __attribute__((noreturn)) void relay_run(int in_fd, int out_fd, int sock)
{
	struct relay up = {.from = in_fd, .to = sock};
	struct relay down = {.from = sock, .to = out_fd};
	while (!up.eof || !down.eof) {
		struct pollfd pfd[2] = {
			{.fd = up.eof ? -1 : up.from, .events = POLLIN},
			{.fd = down.eof ? -1 : down.from, .events = POLLIN},
		};
		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents)
			relay_pump(&up);
		if (pfd[1].revents)
			relay_pump(&down);
		if (down.eof)
			break; /* the server closed: nothing more for the client */
	}
	_exit(0);
}

int inetd_relay_start(int in_fd, int out_fd, const char *unprivileged_user, sbx_error *err)
{
	struct passwd *pw = getpwnam(unprivileged_user);
	if (!pw || pw->pw_uid == 0)
		return sbx_error_set(err, ENOENT, "no unprivileged user %s for the relay",
				     unprivileged_user);
	uid_t uid = pw->pw_uid;
	gid_t gid = pw->pw_gid;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return sbx_error_errno(err, errno, "socketpair");
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		return sbx_error_errno(err, e, "fork");
	}
	if (pid == 0) {
		close(sv[1]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		signal(SIGPIPE, SIG_IGN);
		pid_t parent = getppid();
		if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
		    setresuid(uid, uid, uid) < 0)
			_exit(1);
		/* Changing credentials cleared the parent-death signal. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		relay_run(in_fd, out_fd, sv[0]);
	}
	close(sv[0]);
	close(in_fd);
	close(out_fd);
	return sv[1];
}
