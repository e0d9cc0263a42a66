/* jail-run: builds one jail for an existing user and runs a program in it (test driver).
 *
 *   jail-run [--user U] [--home DIR] [--home-target PATH] [--tmp BYTES] [--run-wall N]
 *            [--run-cpu N] [--nproc N] [--nofile N] [--fsize BYTES] [--tty]
 *            [--bind SRC:DST]... [--hostname NAME] [--extra-fd] [--repeat N] -- PROGRAM ARGS
 *
 * --repeat N (benchmarks) runs the payload N times with one compiled filter and prints
 * "bench: ..." medians of set-up (jail_spawn until the payload exec'd) and teardown.
 *
 * Relays the terminal in --tty mode (otherwise the payload gets our stdio), prints the report
 * on stderr as "report: key=value ..." and exits with the payload's status (128+signal). */
#include "config.h"

#include "jail/jail.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_usec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void usage(void)
{
	fprintf(stderr, "usage: jail-run [--user U] [--home DIR] [--home-target PATH] [--tmp BYTES]"
			" [--run-wall N] [--run-cpu N] [--nproc N] [--nofile N] [--fsize BYTES]"
			" [--tty] [--bind SRC:DST]... [--hostname NAME] [--extra-fd] -- PROGRAM"
			" ARGS\n");
	exit(2);
}

static int relay(int from, int to)
{
	char buf[4096];
	ssize_t n = read(from, buf, sizeof(buf));
	if (n <= 0)
		return -1;
	for (ssize_t off = 0; off < n;) {
		ssize_t w = write(to, buf + off, n - off);
		if (w < 0)
			return -1;
		off += w;
	}
	return 0;
}

/* Copies stdin -> master and master -> stdout until the jail reports. */
static void relay_terminal(int master, int status_fd)
{
	bool stdin_open = true;
	for (;;) {
		struct pollfd p[] = {{.fd = master, .events = POLLIN},
				     {.fd = stdin_open ? STDIN_FILENO : -1, .events = POLLIN},
				     {.fd = status_fd, .events = POLLIN}};
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (p[0].revents & POLLIN) {
			if (relay(master, STDOUT_FILENO) < 0)
				return;
			continue; /* drain output before looking at the status */
		}
		if (p[0].revents & (POLLHUP | POLLERR))
			return;
		if (p[1].revents && relay(STDIN_FILENO, master) < 0)
			stdin_open = false;
		if (p[2].revents)
			return;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int bench(const struct jail_spec *spec, int n)
{
	uint64_t *setup = calloc(n, sizeof(*setup)), *teardown = calloc(n, sizeof(*teardown));
	uint64_t start = now_usec();
	sbx_error err = {0};

	for (int i = 0; i < n; i++) {
		struct jail_run *run;
		struct jail_report rep;
		uint64_t t0 = now_usec();
		if (jail_spawn(spec, &run, &err) < 0) {
			fprintf(stderr, "jail-run: %s\n", err.msg);
			return 2;
		}
		uint64_t t1 = now_usec();
		struct pollfd p = {.fd = jail_run_status_fd(run), .events = POLLIN};
		while (poll(&p, 1, -1) < 0 && errno == EINTR)
			;
		uint64_t t2 = now_usec();
		if (jail_run_finish(run, &rep, &err) < 0) {
			fprintf(stderr, "jail-run: %s\n", err.msg);
			return 2;
		}
		jail_run_free(run);
		setup[i] = t1 - t0;
		teardown[i] = now_usec() - t2;
	}
	uint64_t total = now_usec() - start;
	qsort(setup, n, sizeof(*setup), cmp_u64);
	qsort(teardown, n, sizeof(*teardown), cmp_u64);
	printf("bench: n=%d total_ms=%.1f per_run_us=%llu setup_median_us=%llu setup_p90_us=%llu "
	       "teardown_median_us=%llu\n",
	       n, total / 1000.0, (unsigned long long)(total / n), (unsigned long long)setup[n / 2],
	       (unsigned long long)setup[n * 9 / 10], (unsigned long long)teardown[n / 2]);
	free(setup);
	free(teardown);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"user", required_argument, NULL, 'u'},
	    {"home", required_argument, NULL, 'H'},
	    {"home-target", required_argument, NULL, 'T'},
	    {"tmp", required_argument, NULL, 't'},
	    {"run-wall", required_argument, NULL, 'w'},
	    {"run-cpu", required_argument, NULL, 'c'},
	    {"nproc", required_argument, NULL, 'p'},
	    {"nofile", required_argument, NULL, 'n'},
	    {"fsize", required_argument, NULL, 'f'},
	    {"tty", no_argument, NULL, 'y'},
	    {"bind", required_argument, NULL, 'b'},
	    {"hostname", required_argument, NULL, 'h'},
	    {"extra-fd", no_argument, NULL, 'x'},
	    {"repeat", required_argument, NULL, 'r'},
	    {NULL, 0, NULL, 0},
	};
	const char *user = "nobody", *home = NULL, *home_target = NULL, *hostname = NULL;
	struct jail_limits limits = {0};
	struct jail_bind binds[8];
	size_t n_binds = 0;
	bool tty = false, extra = false;
	int c, repeat = 0;

	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			user = optarg;
			break;
		case 'H':
			home = optarg;
			break;
		case 'T':
			home_target = optarg;
			break;
		case 't':
			limits.tmp_bytes = strtoull(optarg, NULL, 0);
			break;
		case 'w':
			limits.run_wall_seconds = (unsigned)atoi(optarg);
			break;
		case 'c':
			limits.run_cpu_seconds = (unsigned)atoi(optarg);
			break;
		case 'p':
			limits.nproc = strtoull(optarg, NULL, 0);
			break;
		case 'n':
			limits.nofile = strtoull(optarg, NULL, 0);
			break;
		case 'f':
			limits.fsize_bytes = strtoull(optarg, NULL, 0);
			break;
		case 'y':
			tty = true;
			break;
		case 'h':
			hostname = optarg;
			break;
		case 'x':
			extra = true;
			break;
		case 'r':
			repeat = atoi(optarg);
			break;
		case 'b': {
			char *colon = strchr(optarg, ':');
			if (!colon || n_binds == sizeof(binds) / sizeof(binds[0]))
				usage();
			*colon = '\0';
			binds[n_binds++] =
			    (struct jail_bind){.source = optarg, .target = colon + 1};
			break;
		}
		default:
			usage();
		}
	}
	if (optind >= argc)
		usage();

	struct passwd *pw = getpwnam(user);
	if (!pw) {
		fprintf(stderr, "jail-run: no user %s\n", user);
		return 2;
	}
	gid_t groups[64];
	int n_groups = 64;
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n_groups) < 0)
		n_groups = 0;
	char target_buf[512], env_home[600], env_user[300], env_logname[300], env_term[300];
	if (!home)
		home = pw->pw_dir;
	if (!home_target) {
		snprintf(target_buf, sizeof(target_buf), "/home/%s", pw->pw_name);
		home_target = target_buf;
	}
	snprintf(env_home, sizeof(env_home), "HOME=%s", home_target);
	snprintf(env_user, sizeof(env_user), "USER=%s", pw->pw_name);
	snprintf(env_logname, sizeof(env_logname), "LOGNAME=%s", pw->pw_name);
	snprintf(env_term, sizeof(env_term), "TERM=%s", getenv("TERM") ? getenv("TERM") : "xterm");
	const char *envp[] = {
	    "PATH=/usr/bin:/bin",  env_home, env_user, env_logname, "LANG=C.UTF-8",
	    tty ? env_term : NULL, NULL};

	sbx_error err = {0};
	struct jail_seccomp *seccomp = NULL;
	uint64_t t0 = now_usec();
	if (jail_seccomp_compile(&seccomp, &err) < 0) {
		fprintf(stderr, "jail-run: %s\n", err.msg);
		return 2;
	}
	uint64_t t1 = now_usec();

	struct winsize ws = {0};
	if (tty && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) < 0)
		ws = (struct winsize){.ws_row = 24, .ws_col = 80};
	struct jail_spec spec = {
	    .user = pw->pw_name,
	    .uid = pw->pw_uid,
	    .gid = pw->pw_gid,
	    .groups = groups,
	    .n_groups = (size_t)n_groups,
	    .home_source = home,
	    .home_target = home_target,
	    .hostname = hostname,
	    .argv = (const char *const *)argv + optind,
	    .envp = envp,
	    .stdio = {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO},
	    .terminal = tty,
	    .rows = ws.ws_row,
	    .cols = ws.ws_col,
	    .extra_fd = extra ? STDERR_FILENO : -1,
	    .limits = &limits,
	    .seccomp = seccomp,
	    .binds = binds,
	    .n_binds = n_binds,
	};
	if (repeat > 0)
		return bench(&spec, repeat);
	struct jail_run *run = NULL;
	uint64_t t2 = now_usec();
	if (jail_spawn(&spec, &run, &err) < 0) {
		fprintf(stderr, "jail-run: %s\n", err.msg);
		return 2;
	}
	uint64_t t3 = now_usec();

	if (tty) {
		int master = jail_run_take_pty_master(run);
		struct termios saved, raw;
		bool restore = tcgetattr(STDIN_FILENO, &saved) == 0;
		if (restore) {
			raw = saved;
			cfmakeraw(&raw);
			tcsetattr(STDIN_FILENO, TCSANOW, &raw);
		}
		relay_terminal(master, jail_run_status_fd(run));
		if (restore)
			tcsetattr(STDIN_FILENO, TCSANOW, &saved);
		close(master);
	} else {
		struct pollfd p = {.fd = jail_run_status_fd(run), .events = POLLIN};
		while (poll(&p, 1, -1) < 0 && errno == EINTR)
			;
	}
	uint64_t t4 = now_usec();
	struct jail_report rep;
	if (jail_run_finish(run, &rep, &err) < 0) {
		fprintf(stderr, "jail-run: %s\n", err.msg);
		return 2;
	}
	uint64_t t5 = now_usec();
	jail_run_free(run);
	jail_seccomp_free(seccomp);

	fprintf(stderr,
		"report: exited=%d exit_code=%d signal=%d wall_ms=%llu cpu_ms=%llu "
		"seccomp_denials=%u last_denied_syscall=%d limit=%s compile_us=%llu "
		"setup_us=%llu teardown_us=%llu\n",
		rep.exited, rep.exit_code, rep.signal, (unsigned long long)rep.wall_usec / 1000,
		(unsigned long long)rep.cpu_usec / 1000, rep.seccomp_denials,
		rep.last_denied_syscall, jail_limit_to_string(rep.limit),
		(unsigned long long)(t1 - t0), (unsigned long long)(t3 - t2),
		(unsigned long long)(t5 - t4));
	return rep.exited ? rep.exit_code : 128 + rep.signal;
}
