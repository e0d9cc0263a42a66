/* Drives the cgroup layer for tests/jail/cgroup_v1.sh: one sub-command per step, output as
 * key=value lines the script greps.
 *
 *   cgroup-tool [-r ROOT] [-b BASE] driver
 *   cgroup-tool ... create USER SID [--memory B] [--swap B] [--pids N] [--cpu PCT]
 *   cgroup-tool ... set USER SID [same options]      live change
 *   cgroup-tool ... stats USER SID
 *   cgroup-tool ... path USER SID CONTROLLER          session directory in a v1 hierarchy
 *   cgroup-tool ... memhog USER SID MIB               child in the session touches MIB MiB
 *   cgroup-tool ... forkbomb USER SID                 child forks until refused
 *   cgroup-tool ... spin USER SID SECONDS             child spins; prints cpu use vs wall
 *   cgroup-tool ... spawn USER SID N                  leaves N sleeping forkers in the session
 *   cgroup-tool ... churn USER SID N                  leaves N forkers whose children fork
 *                                                     on and on (a live fork bomb to kill)
 *   cgroup-tool ... kill USER SID | destroy USER SID | nprocs USER SID
 * -k v1|v2|hybrid forces the driver (v1 on the hybrid machine: kill without cgroup.kill).  *
 * cgroup-tool ... sweep                             every session under BASE is an orphan */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "jail/cgroup.h"
#include "jail/cgroup_internal.h"

static struct cgroup_driver *drv;

static int fail(const char *what, const sbx_error *err)
{
	fprintf(stderr, "cgroup-tool: %s: %s\n", what, err->msg);
	return 1;
}

static uint64_t parse_size(const char *s)
{
	char *end;
	uint64_t v = strtoull(s, &end, 10);
	switch (*end) {
	case 'K':
		return v << 10;
	case 'M':
		return v << 20;
	case 'G':
		return v << 30;
	default:
		return v;
	}
}

static void parse_limits(int argc, char **argv, struct cgroup_limits *l)
{
	cgroup_limits_default(l);
	static const struct option opts[] = {
	    {"memory", required_argument, NULL, 'm'},
	    {"swap", required_argument, NULL, 's'},
	    {"pids", required_argument, NULL, 'p'},
	    {"cpu", required_argument, NULL, 'c'},
	    {NULL, 0, NULL, 0},
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			l->memory_max = parse_size(optarg);
			break;
		case 's':
			l->swap_max = parse_size(optarg);
			break;
		case 'p':
			l->pids_max = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'c':
			l->cpu_percent = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		default:
			exit(2);
		}
	}
}

static void print_stats(const struct cgroup_stats *st)
{
	printf("memory_current=%" PRIu64 "\nmemory_peak=%" PRIu64 "\nmemory_max=%" PRIu64
	       "\nmemory_limit_hits=%" PRIu64 "\noom_kills=%" PRIu64 "\npids_current=%" PRIu64
	       "\npids_max=%" PRIu64 "\npids_limit_hits=%" PRIu64 "\ncpu_usage_usec=%" PRIu64 "\n",
	       st->memory_current, st->memory_peak, st->memory_max, st->memory_limit_hits,
	       st->oom_kills, st->pids_current, st->pids_max, st->pids_limit_hits,
	       st->cpu_usage_usec);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Forks a child that joins the session with cgroup_session_enter (as the jail child does) and
 * runs fn; returns its wait status. */
static int run_in_session(struct cgroup_session *s, void (*fn)(long), long arg, double *wall)
{
	double t0 = now_s();
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (cgroup_session_enter(s, NULL) < 0)
			_exit(120);
		fn(arg);
		_exit(0);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (wall)
		*wall = now_s() - t0;
	return status;
}

static void do_memhog(long mib)
{
	size_t len = (size_t)mib << 20;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		_exit(121);
	for (size_t off = 0; off < len; off += 4096)
		p[off] = 1;
	_exit(0);
}

/* Forks sleepers until the kernel refuses; exits with how many it got (capped at 250). */
static void do_forkbomb(long unused)
{
	(void)unused;
	int n = 0;
	for (; n < 250; n++) {
		pid_t p = fork();
		if (p < 0)
			break;
		if (p == 0) {
			pause();
			_exit(0);
		}
	}
	printf("forked=%d\nfork_errno=%s\n", n, n < 250 ? strerror(errno) : "none");
	fflush(stdout);
	kill(0, SIGKILL); /* the tool runs the bomb in its own process group */
	_exit(0);
}

static void do_spin(long seconds)
{
	double end = now_s() + (double)seconds;
	volatile unsigned long x = 0;
	while (now_s() < end)
		x++;
	_exit(0);
}

/* Leaves n processes that each fork a child and sleep: reparented to init, still in the
 * session, as after a crash of the connection process. */
/* Background children must not hold the caller's stdout: `$(cgroup-tool ...)` would wait. */
static void detach_stdio(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
	}
}

static void do_spawn(long n)
{
	detach_stdio();
	for (long i = 0; i < n; i++) {
		pid_t p = fork();
		if (p == 0) {
			setsid();
			if (fork() == 0)
				for (;;)
					pause();
			for (;;)
				pause();
		}
	}
	_exit(0);
}

/* Every process forks forever, children included, so the session never stops changing. */
static void do_churn(long n)
{
	detach_stdio();
	for (long i = 0; i < n; i++) {
		if (fork() == 0) {
			setsid();
			for (;;) {
				pid_t p = fork();
				if (p < 0)
					usleep(1000);
				else if (p > 0 && fork() == 0)
					continue;
			}
		}
	}
	_exit(0);
}

static int with_session(const char *cmd, int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "cgroup-tool: %s USER SID ...\n", cmd);
		return 2;
	}
	const char *user = argv[1], *sid = argv[2];
	sbx_error err = {0};
	struct cgroup_session *s = NULL;
	struct cgroup_limits l;
	struct cgroup_stats st;
	int rc = 0;

	if (strcmp(cmd, "create") == 0) {
		parse_limits(argc - 2, argv + 2, &l);
		if (cgroup_session_create(drv, user, sid, &l, &s, &err) < 0)
			return fail("create", &err);
		cgroup_session_free(s);
		return 0;
	}
	if (cgroup_session_open(drv, user, sid, &s, &err) < 0)
		return fail("open", &err);

	if (strcmp(cmd, "set") == 0) {
		parse_limits(argc - 2, argv + 2, &l);
		if (cgroup_session_set_limits(s, &l, &err) < 0)
			rc = fail("set", &err);
	} else if (strcmp(cmd, "stats") == 0) {
		if (cgroup_session_stats(s, &st, &err) < 0)
			rc = fail("stats", &err);
		else
			print_stats(&st);
	} else if (strcmp(cmd, "path") == 0 && argc > 3) {
		for (int c = 0; c < CG_V1_N; c++)
			if (strcmp(argv[3], cg_v1_ctrl_name[c]) == 0 && s->v1_path[c])
				printf("%s\n", s->v1_path[c]);
		if (strcmp(argv[3], "unified") == 0 && s->v2_path)
			printf("%s\n", s->v2_path);
	} else if (strcmp(cmd, "memhog") == 0 && argc > 3) {
		int status = run_in_session(s, do_memhog, strtol(argv[3], NULL, 10), NULL);
		printf("memhog_signal=%d\nmemhog_exit=%d\n",
		       WIFSIGNALED(status) ? WTERMSIG(status) : 0,
		       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	} else if (strcmp(cmd, "forkbomb") == 0) {
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			setpgid(0, 0);
			if (cgroup_session_enter(s, NULL) < 0)
				_exit(120);
			do_forkbomb(0);
		}
		int status;
		waitpid(pid, &status, 0);
	} else if (strcmp(cmd, "spin") == 0 && argc > 3) {
		struct cgroup_stats before;
		if (cgroup_session_stats(s, &before, &err) < 0)
			return fail("stats", &err);
		double wall;
		run_in_session(s, do_spin, strtol(argv[3], NULL, 10), &wall);
		if (cgroup_session_stats(s, &st, &err) < 0)
			return fail("stats", &err);
		double cpu = (double)(st.cpu_usage_usec - before.cpu_usage_usec) / 1e6;
		printf("spin_wall=%.3f\nspin_cpu=%.3f\nspin_ratio_pct=%d\n", wall, cpu,
		       (int)(cpu / wall * 100.0 + 0.5));
	} else if (strcmp(cmd, "spawn") == 0 && argc > 3) {
		run_in_session(s, do_spawn, strtol(argv[3], NULL, 10), NULL);
		usleep(100000);
		printf("nprocs=%d\n", cgroup_session_nprocs(s, NULL));
	} else if (strcmp(cmd, "churn") == 0 && argc > 3) {
		run_in_session(s, do_churn, strtol(argv[3], NULL, 10), NULL);
		usleep(300000);
		printf("nprocs=%d\n", cgroup_session_nprocs(s, NULL));
	} else if (strcmp(cmd, "nprocs") == 0) {
		printf("nprocs=%d\n", cgroup_session_nprocs(s, NULL));
	} else if (strcmp(cmd, "kill") == 0) {
		double t0 = now_s();
		if (cgroup_session_kill(s, &err) < 0)
			rc = fail("kill", &err);
		printf("kill_ms=%.1f\nnprocs=%d\n", (now_s() - t0) * 1000,
		       cgroup_session_nprocs(s, NULL));
	} else if (strcmp(cmd, "destroy") == 0) {
		if (cgroup_session_destroy(s, &err) < 0)
			rc = fail("destroy", &err);
	} else {
		fprintf(stderr, "cgroup-tool: unknown command %s\n", cmd);
		rc = 2;
	}
	cgroup_session_free(s);
	return rc;
}

int main(int argc, char **argv)
{
	const char *root = "/sys/fs/cgroup", *base = "sandboxd-test";
	enum cgroup_driver_kind kind = CGROUP_DRIVER_AUTO;
	bool prepare = false; /* -P 1: as the daemon does at start (cgroup_driver_prepare) */
	int i = 1;
	for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (strcmp(argv[i], "-r") == 0)
			root = argv[i + 1];
		else if (strcmp(argv[i], "-b") == 0)
			base = argv[i + 1];
		else if (strcmp(argv[i], "-P") == 0)
			prepare = strcmp(argv[i + 1], "1") == 0;
		else if (strcmp(argv[i], "-k") == 0)
			kind = strcmp(argv[i + 1], "v1") == 0	    ? CGROUP_DRIVER_V1
			       : strcmp(argv[i + 1], "v2") == 0	    ? CGROUP_DRIVER_V2
			       : strcmp(argv[i + 1], "hybrid") == 0 ? CGROUP_DRIVER_HYBRID
								    : CGROUP_DRIVER_SYSTEMD;
		else
			break;
	}
	if (i >= argc) {
		fprintf(stderr,
			"usage: cgroup-tool [-r ROOT] [-b BASE] [-k KIND] [-P 1] COMMAND ...\n");
		return 2;
	}
	sbx_error err = {0};
	if (cgroup_driver_open_kind(kind, root, base, &drv, &err) < 0)
		return fail("open driver", &err);
	if (prepare && cgroup_driver_prepare(drv, &err) < 0)
		return fail("prepare driver", &err);
	int rc;
	if (strcmp(argv[i], "driver") == 0) {
		printf("driver=%s\n", cgroup_driver_name(drv));
		rc = 0;
	} else if (strcmp(argv[i], "sweep") == 0) {
		int n = cgroup_sweep_orphans(drv, NULL, NULL, &err);
		if (n < 0)
			rc = fail("sweep", &err);
		else {
			printf("swept=%d\n", n);
			rc = 0;
		}
	} else {
		rc = with_session(argv[i], argc - i, argv + i);
	}
	cgroup_driver_free(drv);
	return rc;
}
