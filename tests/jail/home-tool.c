/* Drives the home storage layer for tests/jail/home_*.sh, as the monitor would.
 *
 *   home-tool [-b image|btrfs|directory] -s STATE_DIR -r RUNTIME_DIR [-q BYTES] [-i INODES]
 *             [-T] USER COMMAND
 *   COMMAND:  hold    attach, print "path=P dev=MAJ:MIN", wait for SIGTERM/SIGINT, detach,
 *                     print "detached"  (SIGKILL it to play a crashed monitor)
 *             once    attach, print the path line, detach
 *             usage   print "bytes=N inodes=N"
 *   home-tool -r RUNTIME_DIR sweep     unmount homes no live session holds; print "swept=N"
 * -T (benchmarks): hold and once also print "timing attach_begin=T attach_end=T" after the path
 * line and "timing detach_us=N" before "detached" (CLOCK_MONOTONIC microseconds).
 * BYTES accepts K, M, G suffixes. Errors go to stderr as "home-tool: MESSAGE", exit 1. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "jail/home.h"

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

static unsigned long long now_usec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000;
}

static int usage(void)
{
	fprintf(stderr, "usage: home-tool [-b BACKEND] -s STATE -r RUNTIME [-q BYTES] [-i INODES] "
			"USER hold|once|usage\n");
	return 2;
}

static void print_path(const struct home *h)
{
	struct stat st;
	if (stat(home_path(h), &st) < 0) {
		printf("path=%s dev=?\n", home_path(h));
	} else {
		printf("path=%s dev=%u:%u\n", home_path(h), major(st.st_dev), minor(st.st_dev));
	}
	fflush(stdout);
}

int main(int argc, char **argv)
{
	enum home_backend_kind kind = HOME_BACKEND_IMAGE;
	struct home_params p = {.quota_bytes = 200ULL << 20, .quota_inodes = 20000};
	sbx_error err = {0};
	bool timed = false;
	int c;

	while ((c = getopt(argc, argv, "b:s:r:q:i:T")) != -1) {
		switch (c) {
		case 'b':
			if (home_backend_parse(optarg, &kind) < 0) {
				fprintf(stderr, "home-tool: unknown backend %s\n", optarg);
				return 2;
			}
			break;
		case 's':
			p.state_dir = optarg;
			break;
		case 'r':
			p.runtime_dir = optarg;
			break;
		case 'q':
			p.quota_bytes = parse_size(optarg);
			break;
		case 'i':
			p.quota_inodes = strtoull(optarg, NULL, 10);
			break;
		case 'T':
			timed = true;
			break;
		default:
			return usage();
		}
	}
	if (argc - optind == 1 && strcmp(argv[optind], "sweep") == 0) {
		int r = home_sweep(p.runtime_dir, &err);
		if (r < 0) {
			fprintf(stderr, "home-tool: %s\n", err.msg);
			return 1;
		}
		printf("swept=%d\n", r);
		return 0;
	}
	if (argc - optind != 2)
		return usage();
	struct passwd *pw = getpwnam(argv[optind]);
	if (!pw) {
		fprintf(stderr, "home-tool: no user %s\n", argv[optind]);
		return 1;
	}
	p.user = pw->pw_name;
	p.uid = pw->pw_uid;
	p.gid = pw->pw_gid;
	p.host_home = pw->pw_dir;
	const char *cmd = argv[optind + 1];

	if (strcmp(cmd, "usage") == 0) {
		uint64_t bytes, inodes;
		int r = home_usage(kind, &p, &bytes, &inodes, &err);
		if (r < 0) {
			fprintf(stderr, "home-tool: %s\n",
				r == -ENOENT && !err.msg[0] ? "no home" : err.msg);
			return 1;
		}
		printf("bytes=%" PRIu64 " inodes=%" PRIu64 "\n", bytes, inodes);
		return 0;
	}
	if (strcmp(cmd, "hold") != 0 && strcmp(cmd, "once") != 0)
		return usage();

	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);

	struct home *h;
	unsigned long long t0 = now_usec();
	if (home_attach(kind, &p, &h, &err) < 0) {
		fprintf(stderr, "home-tool: %s\n", err.msg);
		return 1;
	}
	unsigned long long t1 = now_usec();
	print_path(h);
	if (timed) {
		printf("timing attach_begin=%llu attach_end=%llu\n", t0, t1);
		fflush(stdout);
	}
	if (strcmp(cmd, "hold") == 0) {
		int sig;
		sigwait(&set, &sig);
	}
	t0 = now_usec();
	home_detach(h);
	if (timed)
		printf("timing detach_us=%llu\n", now_usec() - t0);
	printf("detached\n");
	return 0;
}
