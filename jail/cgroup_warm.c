/* The placement warmer (cgroup.h): keeps the kernel's cgroup migration lock warm while logins
 * come in.
 *
 * Every write to a cgroup.procs file takes the global cgroup_threadgroup_rwsem for writing. That
 * percpu rwsem switches its readers (every fork and exit) to the slow path first, through an
 * RCU-sync, and the switch waits for a full RCU grace period unless another writer passed
 * within the last grace period or so. So the first placement after a quiet spell waits 7-20 ms
 * (measured on this project's 2-core machines), and on a host where one student logs in at a
 * time that is every jail's placement. A write that moves a process into the cgroup it is
 * already in takes the lock like any other and changes nothing: the warmer does that every
 * CGROUP_WARMER_INTERVAL_MS while logins are under way (until CGROUP_WARMER_LINGER_MS after the
 * last poke), and a jail placed meanwhile joins its session's cgroups in tens of microseconds
 * (measured: 5 ms apart keeps it warm here, 10 ms does not always). The cost is one small
 * process and ~200 tiny writes a second while logins arrive. */
#include "config.h"

#include "jail/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "jail/cgroup_internal.h"

struct cgroup_warmer {
	int sock; /* our end; the warmer exits when it sees EOF */
	pid_t pid;
};

static long warm_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* "<hierarchy>/<our own group>/cgroup.procs" in the primary hierarchy (v1 memory, else the
 * cgroup2 mount), from /proc/self/cgroup. */
static int own_procs_path(const struct cgroup_driver *d, char *buf, size_t size)
{
	const char *mount = d->v1_dir[CG_V1_MEMORY] ? d->v1_dir[CG_V1_MEMORY] : d->root;
	const char *want = d->v1_dir[CG_V1_MEMORY] ? "memory" : "";
	_cleanup_fclose_ FILE *f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return -errno;
	char line[PATH_MAX + 64];
	while (fgets(line, sizeof(line), f)) {
		/* "ID:CONTROLLERS:PATH"; cgroup2's line is "0::PATH". */
		char *ctl = strchr(line, ':');
		char *path = ctl ? strchr(ctl + 1, ':') : NULL;
		if (!path)
			continue;
		*path++ = '\0';
		ctl++;
		path[strcspn(path, "\n")] = '\0';
		bool match = false;
		if (*want == '\0') {
			match = *ctl == '\0';
		} else {
			for (char *save = NULL, *c = strtok_r(ctl, ",", &save); c && !match;
			     c = strtok_r(NULL, ",", &save))
				match = strcmp(c, want) == 0;
		}
		if (!match)
			continue;
		int n =
		    snprintf(buf, size, "%s%s/cgroup.procs", mount, strcmp(path, "/") ? path : "");
		return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
	}
	return -ENOENT;
}

static _Noreturn void warmer_run(int sock, const char *procs)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	prctl(PR_SET_NAME, "cgroup-warmer", 0, 0, 0);
	int fd = open(procs, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		_exit(1);
	/* Nothing of the parent's stays open here (sockets, pipes, the audit trail) but the
	 * standard descriptors. */
	unsigned lo = (unsigned)(sock < fd ? sock : fd), hi = (unsigned)(sock < fd ? fd : sock);
	if (lo > 3)
		syscall(SYS_close_range, 3U, lo - 1, 0);
	if (hi > lo + 1)
		syscall(SYS_close_range, lo + 1, hi - 1, 0);
	syscall(SYS_close_range, hi + 1, ~0U, 0);
	long last = warm_now_ms();
	for (;;) {
		/* "0" is the writer itself: a move to where it already is. Failures (a group we
		 * may not write to) still took the lock, which is all this is for. */
		if (write(fd, "0", 1) < 0 && errno == EBADF)
			_exit(1);
		struct pollfd p = {.fd = sock, .events = POLLIN};
		int r = poll(&p, 1, CGROUP_WARMER_INTERVAL_MS);
		if (r > 0) {
			char buf[64];
			ssize_t n = recv(sock, buf, sizeof(buf), MSG_DONTWAIT);
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
				_exit(0); /* the parent is gone */
			last = warm_now_ms();
		}
		if (warm_now_ms() - last > CGROUP_WARMER_LINGER_MS)
			_exit(0);
	}
}

static int warmer_start(const struct cgroup_driver *d, struct cgroup_warmer *w)
{
	char procs[PATH_MAX];
	int r = own_procs_path(d, procs, sizeof(procs));
	if (r < 0)
		return r;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		r = -errno;
		close(sv[0]);
		close(sv[1]);
		return r;
	}
	if (pid == 0)
		warmer_run(sv[1], procs);
	close(sv[1]);
	w->sock = sv[0];
	w->pid = pid;
	return 0;
}

int cgroup_warmer_poke(const struct cgroup_driver *d, struct cgroup_warmer **ret)
{
	if (!d || d->fake)
		return 0;
	struct cgroup_warmer *w = *ret;
	if (w && send(w->sock, "p", 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1)
		return 0;
	if (w && errno == EAGAIN)
		return 0; /* alive, and pokes are queued already */
	if (!w) {
		w = calloc(1, sizeof(*w));
		if (!w)
			return -ENOMEM;
		*ret = w;
	} else {
		/* It lingered out (or died): reap it if it is our child, start another. */
		close(w->sock);
		waitpid(w->pid, NULL, WNOHANG);
	}
	w->sock = -1;
	return warmer_start(d, w);
}

void cgroup_warmer_free(struct cgroup_warmer *w)
{
	if (!w)
		return;
	if (w->sock >= 0)
		close(w->sock); /* the warmer sees EOF and exits; whoever reaps children reaps it */
	free(w);
}
