/* probe: runs inside test jails and reports what it can see and do (crun's tests/init.c).
 * One subcommand per question; output is line-oriented "key value" for the shell tests. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define WRONG_POINTER ((void *)1)

static int cmd_exec(const char *path);

static const char *errname(int e)
{
	const char *n = strerrorname_np(e);
	return n ? n : "E?";
}

static int cmd_id(void)
{
	gid_t groups[64];
	int n = getgroups(64, groups);
	printf("uid %u\neuid %u\ngid %u\negid %u\ngroups", getuid(), geteuid(), getgid(),
	       getegid());
	for (int i = 0; i < n; i++)
		printf(" %u", groups[i]);
	printf("\nsetuid0 %s\n", setuid(0) == 0 ? "ok" : errname(errno));
	return 0;
}

static int cmd_caps(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[512];
	if (!f)
		return perror("status"), 1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "Cap", 3) || !strncmp(line, "NoNewPrivs", 10) ||
		    !strncmp(line, "Seccomp:", 8))
			fputs(line, stdout);
	fclose(f);
	return 0;
}

static void try_connect(const char *label, int type)
{
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		printf("%s socket %s\n", label, errname(errno));
		return;
	}
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(53)};
	inet_pton(AF_INET, "1.1.1.1", &sa.sin_addr);
	int r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	printf("%s connect %s\n", label, r == 0 ? "ok" : errname(errno));
	close(fd);
}

static int cmd_net(void)
{
	struct if_nameindex *ifs = if_nameindex();
	for (struct if_nameindex *i = ifs; i && i->if_index; i++)
		printf("if %s\n", i->if_name);
	if (ifs) {
		if_freenameindex(ifs);
	} else {
		/* if_nameindex needs netlink, which the jail denies: read /proc/net/dev. */
		printf("if_nameindex %s\n", errname(errno));
		FILE *d = fopen("/proc/net/dev", "re");
		char line[512];
		for (int l = 0; d && fgets(line, sizeof(line), d); l++) {
			char name[64];
			if (l >= 2 && sscanf(line, " %63[^:]:", name) == 1)
				printf("if %s\n", name);
		}
		if (d)
			fclose(d);
	}
	FILE *f = fopen("/proc/net/route", "re");
	int routes = -1;
	if (f) {
		char line[512];
		routes = 0;
		while (fgets(line, sizeof(line), f))
			routes++;
		routes--; /* header */
		fclose(f);
	}
	printf("routes %d\n", routes);
	try_connect("tcp", SOCK_STREAM);
	try_connect("udp", SOCK_DGRAM);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	printf("unix socket %s\n", fd >= 0 ? "ok" : errname(errno));
	return 0;
}

static int cmd_pids(void)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	if (!d)
		return perror("/proc"), 1;
	printf("self %d\n", getpid());
	while ((de = readdir(d))) {
		char path[300], comm[64] = "";
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
		FILE *f = fopen(path, "re");
		if (f) {
			if (fgets(comm, sizeof(comm), f))
				comm[strcspn(comm, "\n")] = 0;
			fclose(f);
		}
		printf("pid %s %s\n", de->d_name, comm);
	}
	closedir(d);
	return 0;
}

static int cmd_cat(const char *path)
{
	FILE *f = fopen(path, "re");
	char line[4096];
	if (!f) {
		printf("%s %s\n", path, errname(errno));
		return 1;
	}
	while (fgets(line, sizeof(line), f))
		fputs(line, stdout);
	fclose(f);
	return 0;
}

static int cmd_writable(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/.probe-%d", argv[i], getpid());
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0) {
			close(fd);
			unlink(path);
			printf("writable %s ok\n", argv[i]);
		} else {
			printf("writable %s %s\n", argv[i], errname(errno));
		}
	}
	return 0;
}

/* Copies this program into DIR and tries to run the copy (noexec must refuse it). */
static int cmd_execcopy(const char *dir)
{
	char path[4096], buf[65536];
	snprintf(path, sizeof(path), "%s/probe-copy-%d", dir, getpid());
	int in = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	int out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	if (in < 0 || out < 0) {
		printf("execcopy %s %s\n", dir, errname(errno));
		return 1;
	}
	ssize_t n;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, n) != n)
			return perror("write"), 1;
	close(in);
	close(out);
	int r = cmd_exec(path);
	unlink(path);
	return r;
}

static int cmd_exec(const char *path)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return perror("pipe"), 1;
	pid_t pid = fork();
	if (pid == 0) {
		char *const argv[] = {(char *)path, NULL};
		execve(path, argv, (char *const[]){NULL});
		int e = errno;
		(void)!write(p[1], &e, sizeof(e));
		_exit(127);
	}
	close(p[1]);
	int e = 0, status;
	ssize_t n = read(p[0], &e, sizeof(e));
	waitpid(pid, &status, 0);
	printf("exec %s %s\n", path, n == sizeof(e) ? errname(e) : "ok");
	return 0;
}

/* Arguments are chosen so that, without the filter, most calls fail with something other than
 * EPERM (bubblewrap's tests/try-syscall.c); the ones whose capability check comes first are
 * proven by the report's seccomp denial count instead. */
static long try_syscall(const char *name, int *found)
{
	*found = 1;
	if (!strcmp(name, "mount"))
		return syscall(SYS_mount, WRONG_POINTER, WRONG_POINTER, WRONG_POINTER, 0,
			       WRONG_POINTER);
	if (!strcmp(name, "umount2"))
		return syscall(SYS_umount2, "/", ~0);
	if (!strcmp(name, "pivot_root"))
		return syscall(SYS_pivot_root, WRONG_POINTER, WRONG_POINTER);
	if (!strcmp(name, "move_mount"))
		return syscall(SYS_move_mount, -1, WRONG_POINTER, -1, WRONG_POINTER, ~0);
	if (!strcmp(name, "open_tree"))
		return syscall(SYS_open_tree, -1, WRONG_POINTER, ~0);
	if (!strcmp(name, "fsopen"))
		return syscall(SYS_fsopen, WRONG_POINTER, ~0);
	if (!strcmp(name, "fsconfig"))
		return syscall(SYS_fsconfig, -1, -1, NULL, NULL, 0);
	if (!strcmp(name, "fsmount"))
		return syscall(SYS_fsmount, -1, ~0, ~0);
	if (!strcmp(name, "fspick"))
		return syscall(SYS_fspick, -1, WRONG_POINTER, ~0);
	if (!strcmp(name, "mount_setattr"))
		return syscall(SYS_mount_setattr, -1, WRONG_POINTER, ~0, NULL, 0);
	if (!strcmp(name, "chroot"))
		return syscall(SYS_chroot, WRONG_POINTER);
	if (!strcmp(name, "unshare"))
		return syscall(SYS_unshare, CLONE_NEWUSER);
	if (!strcmp(name, "setns"))
		return syscall(SYS_setns, -1, 0);
	if (!strcmp(name, "clone-newuser")) {
		long r = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL);
		if (r == 0)
			_exit(0);
		return r;
	}
	if (!strcmp(name, "keyctl"))
		return syscall(SYS_keyctl, 1000, 0, 0, 0, 0);
	if (!strcmp(name, "add_key"))
		return syscall(SYS_add_key, WRONG_POINTER, WRONG_POINTER, NULL, 0, 0);
	if (!strcmp(name, "request_key"))
		return syscall(SYS_request_key, WRONG_POINTER, WRONG_POINTER, NULL, 0);
	if (!strcmp(name, "bpf"))
		return syscall(SYS_bpf, -1, NULL, 0);
	if (!strcmp(name, "perf_event_open"))
		return syscall(SYS_perf_event_open, NULL, 0, -1, -1, ~0);
	if (!strcmp(name, "userfaultfd"))
		return syscall(SYS_userfaultfd, ~0);
	if (!strcmp(name, "io_uring_setup"))
		return syscall(SYS_io_uring_setup, 0, NULL);
	if (!strcmp(name, "io_uring_enter"))
		return syscall(SYS_io_uring_enter, -1, 0, 0, 0, NULL, 0);
	if (!strcmp(name, "io_uring_register"))
		return syscall(SYS_io_uring_register, -1, 0, NULL, 0);
	if (!strcmp(name, "ptrace"))
		return syscall(SYS_ptrace, 2 /* PTRACE_PEEKDATA */, 0, NULL, NULL);
	if (!strcmp(name, "process_vm_readv"))
		return syscall(SYS_process_vm_readv, 0, NULL, 0, NULL, 0, ~0);
	if (!strcmp(name, "process_vm_writev"))
		return syscall(SYS_process_vm_writev, 0, NULL, 0, NULL, 0, ~0);
	if (!strcmp(name, "kexec_load"))
		return syscall(SYS_kexec_load, 0, 0, NULL, ~0);
	if (!strcmp(name, "kexec_file_load"))
		return syscall(SYS_kexec_file_load, -1, -1, 0, NULL, ~0);
	if (!strcmp(name, "init_module"))
		return syscall(SYS_init_module, NULL, 0, NULL);
	if (!strcmp(name, "finit_module"))
		return syscall(SYS_finit_module, -1, NULL, ~0);
	if (!strcmp(name, "delete_module"))
		return syscall(SYS_delete_module, WRONG_POINTER, 0);
	if (!strcmp(name, "reboot"))
		return syscall(SYS_reboot, 0, 0, 0, NULL);
	if (!strcmp(name, "swapon"))
		return syscall(SYS_swapon, WRONG_POINTER, 0);
	if (!strcmp(name, "swapoff"))
		return syscall(SYS_swapoff, WRONG_POINTER);
	if (!strcmp(name, "acct"))
		return syscall(SYS_acct, WRONG_POINTER);
	if (!strcmp(name, "quotactl"))
		return syscall(SYS_quotactl, ~0, NULL, 0, NULL);
	if (!strcmp(name, "personality"))
		return syscall(SYS_personality, PER_LINUX32);
	if (!strcmp(name, "ioctl-tiocsti"))
		return syscall(SYS_ioctl, -1, TIOCSTI, WRONG_POINTER);
	if (!strcmp(name, "ioctl-tiocsti-high"))
		return syscall(SYS_ioctl, -1, 0x100000000UL | TIOCSTI, WRONG_POINTER);
	if (!strcmp(name, "ioctl-tioclinux"))
		return syscall(SYS_ioctl, -1, TIOCLINUX, WRONG_POINTER);
	if (!strcmp(name, "socket-inet"))
		return syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
	if (!strcmp(name, "socket-inet6"))
		return syscall(SYS_socket, AF_INET6, SOCK_DGRAM, 0);
	if (!strcmp(name, "socket-netlink"))
		return syscall(SYS_socket, AF_NETLINK, SOCK_RAW, 0);
	if (!strcmp(name, "socket-packet"))
		return syscall(SYS_socket, AF_PACKET, SOCK_RAW, 0);
	if (!strcmp(name, "socketpair-inet"))
		return syscall(SYS_socketpair, AF_INET, SOCK_STREAM, 0, WRONG_POINTER);
	*found = 0;
	return 0;
}

static int cmd_syscall(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		int found;
		errno = 0;
		long r = try_syscall(argv[i], &found);
		if (!found) {
			printf("syscall %s unknown\n", argv[i]);
			return 2;
		}
		printf("syscall %s %s\n", argv[i], r >= 0 ? "ok" : errname(errno));
	}
	return 0;
}

static int cmd_memhog(long mb)
{
	for (long i = 0; i < mb; i++) {
		char *p = malloc(1 << 20);
		if (!p) {
			printf("memhog failed at %ld MiB\n", i);
			return 1;
		}
		memset(p, 1, 1 << 20);
	}
	printf("memhog %ld MiB ok\n", mb);
	return 0;
}

static int cmd_forkbomb(void)
{
	long n = 0;
	for (;;) {
		pid_t pid = fork();
		if (pid == 0) {
			pause();
			_exit(0);
		}
		if (pid < 0) {
			printf("forkbomb stopped after %ld: %s\n", n, errname(errno));
			return 0;
		}
		n++;
	}
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Cost of an allowed call and of a denied (notified, answered by init) call. */
static int cmd_denybench(long n)
{
	uint64_t t0 = now_ns();
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	uint64_t t1 = now_ns();
	for (long i = 0; i < n; i++)
		syscall(SYS_chroot, WRONG_POINTER);
	uint64_t t2 = now_ns();
	printf("allowed_ns %.0f\ndenied_ns %.0f\n", (double)(t1 - t0) / n, (double)(t2 - t1) / n);
	return 0;
}

static int cmd_ls(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	if (!d) {
		printf("ls %s %s\n", path, errname(errno));
		return 1;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			printf("%s\n", de->d_name);
	closedir(d);
	return 0;
}

static int cmd_tty(void)
{
	char name[256];
	if (!isatty(0) || ttyname_r(0, name, sizeof(name)) != 0) {
		printf("tty none\n");
		return 0;
	}
	struct winsize ws = {0};
	ioctl(0, TIOCGWINSZ, &ws);
	printf("tty %s\nwinsize %ux%u\nctty %s\n", name, ws.ws_row, ws.ws_col,
	       tcgetsid(0) == getsid(0) ? "yes" : "no");
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		fprintf(stderr, "usage: probe id|caps|net|pids|hostname|mounts|writable P..|exec P|"
				"syscall NAME..|memhog MB|forkbomb|spin|sleep N|ls P|tty|cat P|"
				"denybench N\n");
		return 2;
	}
	const char *c = argv[1];
	if (!strcmp(c, "id"))
		return cmd_id();
	if (!strcmp(c, "caps"))
		return cmd_caps();
	if (!strcmp(c, "net"))
		return cmd_net();
	if (!strcmp(c, "pids"))
		return cmd_pids();
	if (!strcmp(c, "hostname")) {
		char h[256];
		gethostname(h, sizeof(h));
		printf("hostname %s\n", h);
		return 0;
	}
	if (!strcmp(c, "mounts"))
		return cmd_cat("/proc/self/mountinfo");
	if (!strcmp(c, "cat") && argc > 2)
		return cmd_cat(argv[2]);
	if (!strcmp(c, "writable"))
		return cmd_writable(argc - 2, argv + 2);
	if (!strcmp(c, "exec") && argc > 2)
		return cmd_exec(argv[2]);
	if (!strcmp(c, "execcopy") && argc > 2)
		return cmd_execcopy(argv[2]);
	if (!strcmp(c, "syscall"))
		return cmd_syscall(argc - 2, argv + 2);
	if (!strcmp(c, "memhog") && argc > 2)
		return cmd_memhog(atol(argv[2]));
	if (!strcmp(c, "forkbomb"))
		return cmd_forkbomb();
	if (!strcmp(c, "spin"))
		for (volatile unsigned long i = 0;; i++)
			;
	if (!strcmp(c, "sleep") && argc > 2) {
		sleep((unsigned)atoi(argv[2]));
		printf("slept %s\n", argv[2]);
		return 0;
	}
	if (!strcmp(c, "ls") && argc > 2)
		return cmd_ls(argv[2]);
	if (!strcmp(c, "tty"))
		return cmd_tty();
	if (!strcmp(c, "denybench") && argc > 2)
		return cmd_denybench(atol(argv[2]));
	fprintf(stderr, "probe: unknown command %s\n", c);
	return 2;
}
