/* Namespaces: the clone that creates the jail, its hostname and its loopback.
 *
 * Why no user namespace: the monitor is real root and the payload must run as the student's
 * real uid, so that files written to the persistent home (and counted by the home's quota) belong
 * to that uid on the host, with no id mapping to maintain. A user namespace would add nothing we
 * need: the payload never holds capabilities in any namespace (bounding set cleared,
 * no_new_privs, seccomp denies unshare/setns and clone with CLONE_NEW*), and user namespaces
 * are themselves a large kernel attack surface we would rather keep out of reach. */
#include "config.h"

#include "jail/jail-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/cleanup.h"

/* fork()-like raw clone: the child continues on a copy of our stack as pid 1 of the new pid
 * namespace (crun and bubblewrap do the same). The monitor is single-threaded when it builds
 * jails, so no lock can be held across it. */
pid_t jail_ns_clone(bool new_net)
{
	unsigned long flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | SIGCHLD;
	if (new_net)
		flags |= CLONE_NEWNET;
	return (pid_t)syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
}

/* unshare(CLONE_NEWNET) moves only the calling thread; setns takes it back. */
int jail_netns_new(int *ret_fd, sbx_error *err)
{
	_cleanup_close_ int own = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (own < 0)
		return sbx_error_errno(err, errno, "open /proc/thread-self/ns/net");
	if (unshare(CLONE_NEWNET) < 0)
		return sbx_error_errno(err, errno, "unshare(CLONE_NEWNET)");
	/* Its loopback is brought up here too, in the namespace it belongs to. */
	int r = jail_ns_loopback_up(err);
	int fd = r < 0 ? -1 : open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	int e = errno;
	if (setns(own, CLONE_NEWNET) < 0) {
		/* Cannot happen (root, the namespace we came from): never stay in the new one. */
		abort();
	}
	if (r < 0)
		return r;
	if (fd < 0)
		return sbx_error_errno(err, e, "open the new network namespace");
	*ret_fd = fd;
	return 0;
}

int jail_ns_join_net(int fd, sbx_error *err)
{
	if (setns(fd, CLONE_NEWNET) < 0)
		return sbx_error_errno(err, errno, "setns(CLONE_NEWNET)");
	close(fd);
	return 0;
}

/* The cgroup namespace comes after joining the session cgroup, so that its root is the session
 * cgroup: /proc/self/cgroup inside shows "/" and nothing of the host's hierarchy. */
int jail_ns_enter_cgroup_ns(sbx_error *err)
{
	if (unshare(CLONE_NEWCGROUP) < 0)
		return sbx_error_errno(err, errno, "unshare(CLONE_NEWCGROUP)");
	return 0;
}

int jail_ns_set_hostname(const char *hostname, sbx_error *err)
{
	if (!hostname)
		hostname = JAIL_DEFAULT_HOSTNAME;
	if (sethostname(hostname, strlen(hostname)) < 0)
		return sbx_error_errno(err, errno, "sethostname(%s)", hostname);
	if (setdomainname("", 0) < 0)
		return sbx_error_errno(err, errno, "setdomainname");
	return 0;
}

/* The new network namespace has only a down "lo"; bring it up so local sockets work. */
int jail_ns_loopback_up(sbx_error *err)
{
	_cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = {0};

	if (fd < 0)
		return sbx_error_errno(err, errno, "socket for lo");
	strncpy(ifr.ifr_name, "lo", sizeof(ifr.ifr_name) - 1);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return sbx_error_errno(err, errno, "SIOCGIFFLAGS lo");
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		return sbx_error_errno(err, errno, "SIOCSIFFLAGS lo");
	return 0;
}
