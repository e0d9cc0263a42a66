/* The small message protocol between the payload, the jail's init and the monitor:
 * fixed-size records on SOCK_SEQPACKET sockets, optionally carrying one fd (SCM_RIGHTS). */
#include "config.h"

#include "jail/jail-internal.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int jail_msg_send(int sock, const struct jail_msg *msg, int fd_to_pass)
{
	struct iovec iov = {.iov_base = (void *)msg, .iov_len = sizeof(*msg)};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

	if (fd_to_pass >= 0) {
		memset(&control, 0, sizeof(control));
		mh.msg_control = control.buf;
		mh.msg_controllen = sizeof(control.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd_to_pass, sizeof(int));
	}
	for (;;) {
		ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);
		if (n >= 0)
			return n == (ssize_t)sizeof(*msg) ? 0 : -EIO;
		if (errno != EINTR)
			return -errno;
	}
}

ssize_t jail_msg_recv(int sock, struct jail_msg *msg, int *ret_fd)
{
	struct iovec iov = {.iov_base = msg, .iov_len = sizeof(*msg)};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = control.buf,
			    .msg_controllen = sizeof(control.buf)};
	ssize_t n;

	*ret_fd = -1;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(ret_fd, CMSG_DATA(c), sizeof(int));
	if (n > 0 && n != (ssize_t)sizeof(*msg)) {
		if (*ret_fd >= 0)
			close(*ret_fd);
		*ret_fd = -1;
		return -EBADMSG;
	}
	return n;
}

_Noreturn void jail_child_fail(int sock, const sbx_error *err)
{
	struct jail_msg msg = {.type = JAIL_MSG_ERROR};
	if (err)
		msg.err = *err;
	if (msg.err.code == 0)
		msg.err.code = EIO;
	(void)jail_msg_send(sock, &msg, -1);
	_exit(127);
}
