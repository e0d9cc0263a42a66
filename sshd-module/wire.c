#include "config.h"

#include "sshd-module/wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define WIRE_ABSENT UINT32_MAX

void wire_init(struct wire_msg *m, uint32_t type)
{
	m->type = type;
	m->len = 0;
	m->pos = 0;
	m->n_fds = 0;
}

static int wire_put_raw(struct wire_msg *m, const void *p, size_t n)
{
	if (n > sizeof(m->buf) - m->len)
		return -EMSGSIZE;
	memcpy(m->buf + m->len, p, n);
	m->len += n;
	return 0;
}

int wire_put_u32(struct wire_msg *m, uint32_t v)
{
	return wire_put_raw(m, &v, sizeof(v));
}

int wire_put_str(struct wire_msg *m, const char *s)
{
	if (!s)
		return wire_put_u32(m, WIRE_ABSENT);
	size_t n = strlen(s);
	if (n >= WIRE_MAX_SIZE)
		return -EMSGSIZE;
	int r = wire_put_u32(m, (uint32_t)n);
	if (r < 0)
		return r;
	return wire_put_raw(m, s, n);
}

int wire_put_bytes(struct wire_msg *m, const void *data, size_t len)
{
	if (len >= WIRE_MAX_SIZE)
		return -EMSGSIZE;
	int r = wire_put_u32(m, (uint32_t)len);
	if (r < 0)
		return r;
	return wire_put_raw(m, data, len);
}

int wire_get_bytes(struct wire_msg *m, const char **ret, size_t *ret_len)
{
	uint32_t n;
	int r = wire_get_u32(m, &n);
	if (r < 0)
		return r;
	if (n > m->len - m->pos)
		return -EBADMSG;
	*ret = (const char *)m->buf + m->pos;
	*ret_len = n;
	m->pos += n;
	return 0;
}

int wire_put_fd(struct wire_msg *m, int fd)
{
	if (m->n_fds >= WIRE_MAX_FDS || fd < 0)
		return -EINVAL;
	m->fds[m->n_fds++] = fd;
	return 0;
}

int wire_get_u32(struct wire_msg *m, uint32_t *ret)
{
	if (m->len - m->pos < sizeof(*ret))
		return -EBADMSG;
	memcpy(ret, m->buf + m->pos, sizeof(*ret));
	m->pos += sizeof(*ret);
	return 0;
}

int wire_get_str(struct wire_msg *m, char **ret)
{
	uint32_t n;
	int r = wire_get_u32(m, &n);
	if (r < 0)
		return r;
	if (n == WIRE_ABSENT) {
		*ret = NULL;
		return 0;
	}
	if (n > m->len - m->pos)
		return -EBADMSG;
	if (memchr(m->buf + m->pos, '\0', n))
		return -EBADMSG;
	char *s = malloc((size_t)n + 1);
	if (!s)
		return -ENOMEM;
	memcpy(s, m->buf + m->pos, n);
	s[n] = '\0';
	m->pos += n;
	*ret = s;
	return 0;
}

int wire_take_fd(struct wire_msg *m)
{
	for (size_t i = 0; i < m->n_fds; i++) {
		if (m->fds[i] >= 0) {
			int fd = m->fds[i];
			m->fds[i] = -1;
			return fd;
		}
	}
	return -1;
}

bool wire_at_end(const struct wire_msg *m)
{
	return m->pos == m->len;
}

void wire_close_fds(struct wire_msg *m)
{
	for (size_t i = 0; i < m->n_fds; i++)
		if (m->fds[i] >= 0)
			close(m->fds[i]);
	m->n_fds = 0;
}

int wire_send(int sock, const struct wire_msg *m)
{
	struct iovec iov[2] = {
		{.iov_base = (void *)&m->type, .iov_len = sizeof(m->type)},
		{.iov_base = (void *)m->buf, .iov_len = m->len},
	};
	union {
		char buf[CMSG_SPACE(sizeof(int) * WIRE_MAX_FDS)];
		struct cmsghdr align;
	} control;
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
	if (m->n_fds > 0) {
		memset(&control, 0, sizeof(control));
		mh.msg_control = control.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * m->n_fds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * m->n_fds);
		memcpy(CMSG_DATA(c), m->fds, sizeof(int) * m->n_fds);
	}
	ssize_t n;
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return 0;
}

int wire_parse(const void *buf, size_t len, struct wire_msg *ret)
{
	if (len < sizeof(ret->type))
		return -EBADMSG;
	if (len - sizeof(ret->type) > sizeof(ret->buf))
		return -EMSGSIZE;
	memcpy(&ret->type, buf, sizeof(ret->type));
	memcpy(ret->buf, (const uint8_t *)buf + sizeof(ret->type), len - sizeof(ret->type));
	ret->len = len - sizeof(ret->type);
	ret->pos = 0;
	ret->n_fds = 0;
	return 0;
}

int wire_recv(int sock, struct wire_msg *m)
{
	struct iovec iov[2] = {
		{.iov_base = &m->type, .iov_len = sizeof(m->type)},
		{.iov_base = m->buf, .iov_len = sizeof(m->buf)},
	};
	union {
		char buf[CMSG_SPACE(sizeof(int) * WIRE_MAX_FDS)];
		struct cmsghdr align;
	} control;
	struct msghdr mh = {
		.msg_iov = iov,
		.msg_iovlen = 2,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	ssize_t n;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -EPIPE;
	m->n_fds = 0;
	m->pos = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int fds[WIRE_MAX_FDS * 2];
		if (k > (sizeof(fds) / sizeof(fds[0])))
			k = (sizeof(fds) / sizeof(fds[0]));
		memcpy(fds, CMSG_DATA(c), k * sizeof(int));
		for (size_t i = 0; i < k; i++) {
			if (m->n_fds < WIRE_MAX_FDS)
				m->fds[m->n_fds++] = fds[i];
			else
				close(fds[i]);
		}
	}
	if ((size_t)n < sizeof(m->type) || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		wire_close_fds(m);
		return -EBADMSG;
	}
	m->len = (size_t)n - sizeof(m->type);
	return 0;
}
