/* LD_PRELOAD shim for the "tuned" OpenSSH anchor of the benchmarks (not part of sandboxd):
 * every socket sshd accepts gets TCP_NODELAY at once. OpenSSH sets it only when a session
 * starts, so its key exchange and authentication run with Nagle's algorithm, which together with
 * delayed ACKs can hold a small packet for ~40 ms. Built by tests/bench/lib.sh with cc. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

static void nodelay(int fd)
{
	int on = 1;
	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)); /* fails on non-TCP */
}

int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	static int (*real)(int, struct sockaddr *, socklen_t *);
	if (!real)
		real = (int (*)(int, struct sockaddr *, socklen_t *))dlsym(RTLD_NEXT, "accept");
	int r = real(fd, addr, len);
	nodelay(r);
	return r;
}

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	static int (*real)(int, struct sockaddr *, socklen_t *, int);
	if (!real)
		real =
		    (int (*)(int, struct sockaddr *, socklen_t *, int))dlsym(RTLD_NEXT, "accept4");
	int r = real(fd, addr, len, flags);
	nodelay(r);
	return r;
}
