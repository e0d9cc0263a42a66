/* The cgroup layer without privileges: the file formats on their own, then the v2 driver and
 * the file-I/O parts of the v1 driver against fake trees in a temporary directory. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/cleanup.h"

#include "jail/cgroup.h"
#include "jail/cgroup_internal.h"

int cg_v1_write_memory(const char *dir, const struct cgroup_limits *l, sbx_error *err);

/* ---- helpers ---- */

static void put(const char *dir, const char *file, const char *content)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	FILE *f = fopen(path, "we");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static char *get(const char *dir, const char *file)
{
	static char buf[4096];
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

struct tree {
	char root[256];
};

static int tree_teardown(void **state)
{
	struct tree *t = *state;
	nftw(t->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(t);
	return 0;
}

static struct tree *tree_new(void)
{
	struct tree *t = calloc(1, sizeof(*t));
	snprintf(t->root, sizeof(t->root), "/tmp/test_cgroup.XXXXXX");
	assert_non_null(mkdtemp(t->root));
	return t;
}

/* A cgroup2 directory with the files the kernel would show when `controllers` are enabled. */
static void v2_dir(const char *path, const char *controllers, bool swap)
{
	mkdir(path, 0755);
	put(path, "cgroup.controllers", controllers);
	put(path, "cgroup.subtree_control", "");
	put(path, "cgroup.procs", "");
	put(path, "cgroup.kill", "");
	put(path, "cgroup.events", "populated 0\nfrozen 0\n");
	if (strstr(controllers, "memory")) {
		put(path, "memory.max", "max\n");
		put(path, "memory.current", "0\n");
		put(path, "memory.peak", "0\n");
		put(path, "memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n");
		if (swap)
			put(path, "memory.swap.max", "max\n");
	}
	if (strstr(controllers, "pids")) {
		put(path, "pids.max", "max\n");
		put(path, "pids.current", "0\n");
		put(path, "pids.events", "max 0\n");
	}
	if (strstr(controllers, "cpu")) {
		put(path, "cpu.max", "max 100000\n");
		put(path, "cpu.stat", "usage_usec 0\nuser_usec 0\nsystem_usec 0\n");
	}
	if (strstr(controllers, "io"))
		put(path, "io.weight", "default 100\n");
}

/* root + sandboxd + sandboxd/<user> + each session, as after the kernel made them. */
static void v2_tree(const char *root, const char *user, const char *const *sessions, bool swap)
{
	char p[4096];
	v2_dir(root, "cpu io memory pids", swap);
	snprintf(p, sizeof(p), "%s/sandboxd", root);
	v2_dir(p, "cpu io memory pids", swap);
	snprintf(p, sizeof(p), "%s/sandboxd/%s", root, user);
	v2_dir(p, "cpu io memory pids", swap);
	for (; *sessions; sessions++) {
		snprintf(p, sizeof(p), "%s/sandboxd/%s/%s", root, user, *sessions);
		v2_dir(p, "cpu io memory pids", swap);
	}
}

static void v1_dir(const char *path, const char *ctrl, bool memsw)
{
	mkdir(path, 0755);
	put(path, "cgroup.procs", "");
	put(path, "tasks", "");
	if (strcmp(ctrl, "memory") == 0) {
		put(path, "memory.limit_in_bytes", "9223372036854771712\n");
		put(path, "memory.usage_in_bytes", "0\n");
		put(path, "memory.max_usage_in_bytes", "0\n");
		put(path, "memory.failcnt", "0\n");
		put(path, "memory.use_hierarchy", "1\n");
		put(path, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n");
		if (memsw)
			put(path, "memory.memsw.limit_in_bytes", "9223372036854771712\n");
	} else if (strcmp(ctrl, "pids") == 0) {
		put(path, "pids.max", "max\n");
		put(path, "pids.current", "0\n");
		put(path, "pids.events", "max 0\n");
	} else if (strcmp(ctrl, "cpu") == 0) {
		put(path, "cpu.cfs_quota_us", "-1\n");
		put(path, "cpu.cfs_period_us", "100000\n");
	} else if (strcmp(ctrl, "cpuacct") == 0) {
		put(path, "cpuacct.usage", "0\n");
	} else if (strcmp(ctrl, "freezer") == 0) {
		put(path, "freezer.state", "THAWED\n");
	}
}

static void v1_tree(const char *root, bool memsw, bool unified, const char *user,
		    const char *const *sessions)
{
	static const char *const ctrls[] = {"memory", "pids", "cpu", "cpuacct", "freezer"};
	char p[4096];
	for (size_t i = 0; i < ELEMENTSOF(ctrls); i++) {
		snprintf(p, sizeof(p), "%s/%s", root, ctrls[i]);
		v1_dir(p, ctrls[i], memsw);
		snprintf(p, sizeof(p), "%s/%s/sandboxd", root, ctrls[i]);
		v1_dir(p, ctrls[i], memsw);
		snprintf(p, sizeof(p), "%s/%s/sandboxd/%s", root, ctrls[i], user);
		v1_dir(p, ctrls[i], memsw);
		for (const char *const *s = sessions; *s; s++) {
			snprintf(p, sizeof(p), "%s/%s/sandboxd/%s/%s", root, ctrls[i], user, *s);
			v1_dir(p, ctrls[i], memsw);
		}
	}
	if (unified) {
		snprintf(p, sizeof(p), "%s/unified", root);
		v2_dir(p, "", false);
		snprintf(p, sizeof(p), "%s/unified/sandboxd", root);
		v2_dir(p, "", false);
		snprintf(p, sizeof(p), "%s/unified/sandboxd/%s", root, user);
		v2_dir(p, "", false);
		for (const char *const *s = sessions; *s; s++) {
			snprintf(p, sizeof(p), "%s/unified/sandboxd/%s/%s", root, user, *s);
			v2_dir(p, "", false);
		}
	}
}

static char *pathf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *pathf(const char *fmt, ...)
{
	static char bufs[4][4096];
	static int i;
	char *b = bufs[i++ % 4];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b, sizeof(bufs[0]), fmt, ap);
	va_end(ap);
	return b;
}

/* ---- pure formats ---- */

static void test_parse_keyed(void **state)
{
	(void)state;
	uint64_t v = 99;
	const char *events = "low 0\nhigh 4\nmax 17\noom 3\noom_kill 2\noom_group_kill 0\n";
	assert_int_equal(cgroup_parse_keyed(events, "max", &v), 0);
	assert_int_equal(v, 17);
	assert_int_equal(cgroup_parse_keyed(events, "oom_kill", &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(cgroup_parse_keyed(events, "oom", &v), 0); /* not oom_kill's prefix */
	assert_int_equal(v, 3);
	assert_int_equal(cgroup_parse_keyed(events, "oom_g", &v), -ENOENT);
	assert_int_equal(cgroup_parse_keyed("max 5", "max", &v), 0); /* pids.events, no newline */
	assert_int_equal(v, 5);
	assert_int_equal(cgroup_parse_keyed("usage_usec 123456789\nuser_usec 1\nsystem_usec 2\n"
					    "nr_periods 0\n",
					    "usage_usec", &v),
			 0);
	assert_int_equal(v, 123456789);
	assert_int_equal(
	    cgroup_parse_keyed("oom_kill_disable 0\nunder_oom 0\noom_kill 4\n", "oom_kill", &v), 0);
	assert_int_equal(v, 4);
	assert_int_equal(cgroup_parse_keyed("max abc\n", "max", &v), -EINVAL);
	assert_int_equal(cgroup_parse_keyed("max 12x\n", "max", &v), -EINVAL);
	assert_int_equal(cgroup_parse_keyed("", "max", &v), -ENOENT);
}

static void test_parse_limit(void **state)
{
	(void)state;
	uint64_t v;
	assert_int_equal(cgroup_parse_limit("max\n", &v), 0);
	assert_true(v == CGROUP_LIMIT_MAX);
	assert_int_equal(cgroup_parse_limit("-1\n", &v), 0);
	assert_true(v == CGROUP_LIMIT_MAX);
	assert_int_equal(cgroup_parse_limit("9223372036854771712\n", &v), 0);
	assert_true(v == CGROUP_LIMIT_MAX);
	assert_int_equal(cgroup_parse_limit("268435456\n", &v), 0);
	assert_int_equal(v, 268435456);
	assert_int_equal(cgroup_parse_limit("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(cgroup_parse_limit("maxi", &v), -EINVAL);
	assert_int_equal(cgroup_parse_limit("", &v), -EINVAL);
	assert_int_equal(cgroup_parse_limit("12 34", &v), -EINVAL);
}

static void test_format(void **state)
{
	(void)state;
	char buf[64];
	cgroup_format_cpu_max(50, 100000, buf, sizeof(buf));
	assert_string_equal(buf, "50000 100000");
	cgroup_format_cpu_max(100, 100000, buf, sizeof(buf));
	assert_string_equal(buf, "100000 100000");
	cgroup_format_cpu_max(250, 100000, buf, sizeof(buf));
	assert_string_equal(buf, "250000 100000");
	cgroup_format_cpu_max(0, 100000, buf, sizeof(buf));
	assert_string_equal(buf, "max 100000");
	cgroup_format_cpu_max(0 + 1, 50000, buf, sizeof(buf)); /* 500 µs → the 1 ms minimum */
	assert_string_equal(buf, "1000 50000");
	cgroup_format_limit(CGROUP_LIMIT_MAX, buf, sizeof(buf));
	assert_string_equal(buf, "max");
	cgroup_format_limit(64, buf, sizeof(buf));
	assert_string_equal(buf, "64");

	assert_int_equal(cgroup_v1_cpu_quota(50, 100000), 50000);
	assert_int_equal(cgroup_v1_cpu_quota(0, 100000), -1);
	assert_true(cgroup_v1_memsw(64 << 20, 0) == 64 << 20);
	assert_true(cgroup_v1_memsw(64 << 20, 32 << 20) == 96 << 20);
	assert_true(cgroup_v1_memsw(0, 32 << 20) == CGROUP_LIMIT_MAX);
	assert_true(cgroup_v1_memsw(64 << 20, CGROUP_LIMIT_MAX) == CGROUP_LIMIT_MAX);
	assert_true(cgroup_v1_memsw(CGROUP_LIMIT_MAX - 1, 10) == CGROUP_LIMIT_MAX); /* overflow */
	assert_int_equal(cgroup_v1_blkio_weight(1), 10);
	assert_int_equal(cgroup_v1_blkio_weight(10000), 1000);
	assert_int_equal(cgroup_v1_blkio_weight(0), 0);
}

static void test_names(void **state)
{
	(void)state;
	assert_true(cgroup_name_valid("alice"));
	assert_true(cgroup_name_valid("s-20240101.3_x"));
	assert_false(cgroup_name_valid(""));
	assert_false(cgroup_name_valid("."));
	assert_false(cgroup_name_valid(".."));
	assert_false(cgroup_name_valid("a/b"));
	assert_false(cgroup_name_valid("a b"));
	assert_false(cgroup_name_valid(NULL));
	assert_false(cgroup_name_valid(
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")); /* 65 */
}

static void test_defaults(void **state)
{
	(void)state;
	struct cgroup_limits l;
	cgroup_limits_default(&l);
	assert_true(l.memory_max == 256ULL << 20);
	assert_int_equal(l.swap_max, 0);
	assert_int_equal(l.pids_max, 64);
	assert_int_equal(l.cpu_percent, 100);
	/* 100 sessions at the default stay around the host's 24 GiB. */
	assert_true(100 * l.memory_max <= 25ULL << 30);
}

/* ---- v2 driver on a fake tree ---- */

static int setup_v2(void **state)
{
	struct tree *t = tree_new();
	static const char *const sessions[] = {"s1", "s2", NULL};
	v2_tree(t->root, "alice", sessions, true);
	*state = t;
	return 0;
}

static void test_v2_detect_and_create(void **state)
{
	struct tree *t = *state;
	struct cgroup_driver *d = NULL;
	sbx_error err = {0};
	assert_int_equal(cgroup_driver_open(t->root, "sandboxd", &d, &err), 0);
	assert_string_equal(cgroup_driver_name(d), "v2");

	struct cgroup_limits l = {.memory_max = 64 << 20,
				  .swap_max = 0,
				  .pids_max = 20,
				  .cpu_percent = 50,
				  .io_weight = 200};
	struct cgroup_session *s = NULL;
	assert_int_equal(cgroup_session_create(d, "alice", "s1", &l, &s, &err), 0);
	assert_string_equal(get(t->root, "cgroup.subtree_control"), "+cpu +io +memory +pids");
	assert_string_equal(get(pathf("%s/sandboxd", t->root), "cgroup.subtree_control"),
			    "+cpu +io +memory +pids");
	assert_string_equal(get(pathf("%s/sandboxd/alice", t->root), "cgroup.subtree_control"),
			    "+cpu +io +memory +pids");
	const char *sd = pathf("%s/sandboxd/alice/s1", t->root);
	assert_string_equal(get(sd, "memory.max"), "67108864");
	assert_string_equal(get(sd, "memory.swap.max"), "0");
	assert_string_equal(get(sd, "pids.max"), "20");
	assert_string_equal(get(sd, "cpu.max"), "50000 100000");
	assert_string_equal(get(sd, "io.weight"), "default 200");
	/* a leaf: no controllers enabled below the session */
	assert_string_equal(get(sd, "cgroup.subtree_control"), "");

	/* live change, including back to "no limit" */
	struct cgroup_limits l2 = {
	    .memory_max = 0, .swap_max = CGROUP_LIMIT_MAX, .pids_max = 0, .cpu_percent = 0};
	assert_int_equal(cgroup_session_set_limits(s, &l2, &err), 0);
	assert_string_equal(get(sd, "memory.max"), "max");
	assert_string_equal(get(sd, "memory.swap.max"), "max");
	assert_string_equal(get(sd, "pids.max"), "max");
	assert_string_equal(get(sd, "cpu.max"), "max 100000");
	assert_string_equal(get(sd, "io.weight"), "default 200"); /* 0 = left alone */

	cgroup_session_free(s);
	cgroup_driver_free(d);
}

static void test_v2_subtree_already_enabled(void **state)
{
	struct tree *t = *state;
	put(t->root, "cgroup.subtree_control", "cpu memory pids io\n");
	put(t->root, "cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
	struct cgroup_driver *d = NULL;
	struct cgroup_session *s = NULL;
	sbx_error err = {0};
	assert_int_equal(cgroup_driver_open(t->root, "sandboxd", &d, &err), 0);
	assert_int_equal(cgroup_session_create(d, "alice", "s1", NULL, &s, &err), 0);
	/* nothing to add at the root: the file is not rewritten */
	assert_string_equal(get(t->root, "cgroup.subtree_control"), "cpu memory pids io");
	const char *sd = pathf("%s/sandboxd/alice/s1", t->root);
	assert_string_equal(get(sd, "memory.max"), "268435456"); /* the defaults */
	assert_string_equal(get(sd, "pids.max"), "64");
	assert_string_equal(get(sd, "cpu.max"), "100000 100000");
	cgroup_session_free(s);
	cgroup_driver_free(d);
}

static void test_v2_no_swap_accounting(void **state)
{
	struct tree *t = *state;
	const char *sd = pathf("%s/sandboxd/alice/s1", t->root);
	unlink(pathf("%s/memory.swap.max", sd));
	struct cgroup_driver *d = NULL;
	struct cgroup_session *s = NULL;
	sbx_error err = {0};
	assert_int_equal(cgroup_driver_open(t->root, "sandboxd", &d, &err), 0);
	assert_int_equal(cgroup_session_create(d, "alice", "s1", NULL, &s, &err), 0);
	assert_false(exists(pathf("%s/memory.swap.max", sd)));
	assert_string_equal(get(sd, "memory.max"), "268435456");
	cgroup_session_free(s);
	cgroup_driver_free(d);
}

static void test_v2_stats(void **state)
{
	struct tree *t = *state;
	const char *sd = pathf("%s/sandboxd/alice/s1", t->root);
	put(sd, "memory.current", "1048576\n");
	put(sd, "memory.peak", "67100000\n");
	put(sd, "memory.max", "67108864\n");
	put(sd, "memory.events", "low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\noom_group_kill 0\n");
	put(sd, "pids.current", "3\n");
	put(sd, "pids.max", "20\n");
	put(sd, "pids.events", "max 4\n");
	put(sd, "cpu.stat", "usage_usec 2500000\nuser_usec 2400000\nsystem_usec 100000\n");
	struct cgroup_driver *d = NULL;
	struct cgroup_session *s = NULL;
	sbx_error err = {0};
	assert_int_equal(cgroup_driver_open(t->root, "sandboxd", &d, &err), 0);
	assert_int_equal(cgroup_session_open(d, "alice", "s1", &s, &err), 0);
	struct cgroup_stats st;
	assert_int_equal(cgroup_session_stats(s, &st, &err), 0);
	assert_int_equal(st.memory_current, 1048576);
	assert_int_equal(st.memory_peak, 67100000);
	assert_int_equal(st.memory_max, 67108864);
	assert_int_equal(st.memory_limit_hits, 12);
	assert_int_equal(st.oom_kills, 2);
	assert_int_equal(st.pids_current, 3);
	assert_int_equal(st.pids_max, 20);
	assert_int_equal(st.pids_limit_hits, 4);
	assert_int_equal(st.cpu_usage_usec, 2500000);

	/* before 5.19 there is no memory.peak: the current value stands in (a session opened
	 * afresh: one keeps its stats files open, and a kernel's never vanish under it) */
	unlink(pathf("%s/memory.peak", sd));
	cgroup_session_free(s);
	s = NULL;
	assert_int_equal(cgroup_session_open(d, "alice", "s1", &s, &err), 0);
	assert_int_equal(cgroup_session_stats(s, &st, &err), 0);
	assert_int_equal(st.memory_peak, 1048576);
	cgroup_session_free(s);

	assert_int_equal(cgroup_session_open(d, "alice", "nope", &s, &err), -ENOENT);
	cgroup_driver_free(d);
}

static void test_v2_enter_attach_kill_destroy(void **state)
{
	struct tree *t = *state;
	struct cgroup_driver *d = NULL;
	struct cgroup_session *s = NULL;
	sbx_error err = {0};
	assert_int_equal(cgroup_driver_open(t->root, "sandboxd", &d, &err), 0);
	assert_int_equal(cgroup_session_create(d, "alice", "s1", NULL, &s, &err), 0);
	const char *sd = pathf("%s/sandboxd/alice/s1", t->root);

	assert_int_equal(cgroup_session_enter(s, NULL), 0);
	assert_string_equal(get(sd, "cgroup.procs"), "0");
	assert_int_equal(cgroup_session_attach(s, 4242, &err), 0);
	assert_string_equal(get(sd, "cgroup.procs"), "4242");
	assert_int_equal(cgroup_session_attach(s, 0, &err), -EINVAL);

	put(sd, "cgroup.procs", "");
	assert_int_equal(cgroup_session_kill(s, &err), 0);
	assert_string_equal(get(sd, "cgroup.kill"), "1");
	assert_int_equal(cgroup_session_nprocs(s, &err), 0);

	/* s2 still lives: the user level stays */
	assert_int_equal(cgroup_session_destroy(s, &err), 0);
	assert_false(exists(sd));
	assert_true(exists(pathf("%s/sandboxd/alice/cgroup.procs", t->root)));
	cgroup_session_free(s);

	assert_int_equal(cgroup_session_open(d, "alice", "s2", &s, &err), 0);
	assert_int_equal(cgroup_session_destroy(s, &err), 0);
	assert_false(exists(pathf("%s/sandboxd/alice", t->root)));
	assert_true(exists(pathf("%s/sandboxd", t->root)));
	cgroup_session_free(s);
	cgroup_driver_free(d);
}

static bool live_s2(const char *id, void *data)
{
	(*(int *)data)++;
	return strcmp(id, "s2") == 0;
}

static int count_session(const char *user, const char *id, const struct cgroup_stats *st,
			 void *data)
{
	(void)st;
	assert_string_equal(user, "alice");
	assert_true(strcmp(id, "s1") == 0 || strcmp(id, "s2") == 0);
	(*(int *)data)++;
	return 0;
}

static void test_v2_list_and_sweep(void **state)
{
	struct tree *t = *state;
	struct cgroup_driver *d = NULL;
	sbx_error err = {0};
	assert_int_equal(cgroup_driver_open(t->root, "sandboxd", &d, &err), 0);
	int n = 0;
	assert_int_equal(cgroup_list_sessions(d, count_session, &n, &err), 2);
	assert_int_equal(n, 2);
	int asked = 0;
	assert_int_equal(cgroup_sweep_orphans(d, live_s2, &asked, &err), 1);
	assert_int_equal(asked, 2);
	assert_false(exists(pathf("%s/sandboxd/alice/s1", t->root)));
	assert_true(exists(pathf("%s/sandboxd/alice/s2", t->root)));
	assert_int_equal(cgroup_sweep_orphans(d, NULL, NULL, &err), 1);
	assert_false(exists(pathf("%s/sandboxd/alice", t->root)));
	cgroup_driver_free(d);
}

static void test_bad_input(void **state)
{
	struct tree *t = *state;
	struct cgroup_driver *d = NULL;
	struct cgroup_session *s = NULL;
	sbx_error err = {0};
	assert_int_equal(cgroup_driver_open(t->root, "../x", &d, &err), -EINVAL);
	assert_int_equal(cgroup_driver_open("relative", "sandboxd", &d, &err), -EINVAL);
	assert_int_equal(cgroup_driver_open("/nonexistent-cgroup-root", "sandboxd", &d, &err),
			 -ENOENT);
	assert_int_equal(cgroup_driver_open(t->root, "sandboxd", &d, &err), 0);
	assert_int_equal(cgroup_session_create(d, "../root", "s1", NULL, &s, &err), -EINVAL);
	assert_int_equal(cgroup_session_create(d, "alice", "a/b", NULL, &s, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "session id"));
	cgroup_driver_free(d);

	/* a v2 tree cannot be driven as v1, and systemd refuses cleanly off systemd/test trees */
	assert_int_equal(cgroup_driver_open_kind(CGROUP_DRIVER_V1, t->root, "sandboxd", &d, &err),
			 -ENODEV);
	assert_int_equal(
	    cgroup_driver_open_kind(CGROUP_DRIVER_SYSTEMD, t->root, "sandboxd", &d, &err),
	    -EOPNOTSUPP);
	assert_true(strlen(err.msg) > 0);
}

/* ---- v1 driver (file I/O) on fake trees ---- */

static int setup_v1(void **state)
{
	struct tree *t = tree_new();
	static const char *const sessions[] = {"s1", NULL};
	v1_tree(t->root, true, false, "alice", sessions);
	*state = t;
	return 0;
}

static int setup_hybrid(void **state)
{
	struct tree *t = tree_new();
	static const char *const sessions[] = {"s1", NULL};
	v1_tree(t->root, false, true, "alice", sessions);
	*state = t;
	return 0;
}

static void test_v1_create_and_limits(void **state)
{
	struct tree *t = *state;
	struct cgroup_driver *d = NULL;
	struct cgroup_session *s = NULL;
	sbx_error err = {0};
	assert_int_equal(cgroup_driver_open(t->root, "sandboxd", &d, &err), 0);
	assert_string_equal(cgroup_driver_name(d), "v1");
	struct cgroup_limits l = {
	    .memory_max = 64 << 20, .swap_max = 16 << 20, .pids_max = 20, .cpu_percent = 50};
	assert_int_equal(cgroup_session_create(d, "alice", "s1", &l, &s, &err), 0);
	const char *mem = pathf("%s/memory/sandboxd/alice/s1", t->root);
	assert_string_equal(get(mem, "memory.limit_in_bytes"), "67108864");
	assert_string_equal(get(mem, "memory.memsw.limit_in_bytes"), "83886080");
	assert_string_equal(get(pathf("%s/pids/sandboxd/alice/s1", t->root), "pids.max"), "20");
	const char *cpu = pathf("%s/cpu/sandboxd/alice/s1", t->root);
	assert_string_equal(get(cpu, "cpu.cfs_quota_us"), "50000");
	assert_string_equal(get(cpu, "cpu.cfs_period_us"), "100000");

	struct cgroup_limits up = {
	    .memory_max = 1ULL << 30, .swap_max = 0, .pids_max = 0, .cpu_percent = 0};
	assert_int_equal(cgroup_session_set_limits(s, &up, &err), 0);
	assert_string_equal(get(mem, "memory.limit_in_bytes"), "1073741824");
	assert_string_equal(get(mem, "memory.memsw.limit_in_bytes"), "1073741824");
	assert_string_equal(get(pathf("%s/pids/sandboxd/alice/s1", t->root), "pids.max"), "max");
	assert_string_equal(get(cpu, "cpu.cfs_quota_us"), "-1");
	struct cgroup_limits none = {0};
	assert_int_equal(cgroup_session_set_limits(s, &none, &err), 0);
	assert_string_equal(get(mem, "memory.limit_in_bytes"), "-1");
	assert_string_equal(get(mem, "memory.memsw.limit_in_bytes"), "-1");

	assert_int_equal(cgroup_session_attach(s, 777, &err), 0);
	assert_string_equal(get(mem, "cgroup.procs"), "777");
	assert_string_equal(get(cpu, "cgroup.procs"), "777");
	cgroup_session_free(s);
	cgroup_driver_free(d);
}

static void test_v1_memory_without_memsw(void **state)
{
	struct tree *t = *state;
	const char *mem = pathf("%s/memory/sandboxd/alice/s1", t->root);
	unlink(pathf("%s/memory.memsw.limit_in_bytes", mem));
	struct cgroup_limits l = {.memory_max = 128 << 20, .swap_max = 64 << 20};
	sbx_error err = {0};
	assert_int_equal(cg_v1_write_memory(mem, &l, &err), 0);
	assert_string_equal(get(mem, "memory.limit_in_bytes"), "134217728");
	assert_false(exists(pathf("%s/memory.memsw.limit_in_bytes", mem)));
}

static void test_v1_stats(void **state)
{
	struct tree *t = *state;
	const char *mem = pathf("%s/memory/sandboxd/alice/s1", t->root);
	put(mem, "memory.usage_in_bytes", "4096\n");
	put(mem, "memory.max_usage_in_bytes", "67108864\n");
	put(mem, "memory.limit_in_bytes", "67108864\n");
	put(mem, "memory.failcnt", "31\n");
	put(mem, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n");
	const char *pids = pathf("%s/pids/sandboxd/alice/s1", t->root);
	put(pids, "pids.current", "2\n");
	put(pids, "pids.max", "20\n");
	put(pids, "pids.events", "max 5\n");
	put(pathf("%s/cpuacct/sandboxd/alice/s1", t->root), "cpuacct.usage", "2500000000\n");
	struct cgroup_driver *d = NULL;
	struct cgroup_session *s = NULL;
	sbx_error err = {0};
	assert_int_equal(cgroup_driver_open(t->root, "sandboxd", &d, &err), 0);
	assert_int_equal(cgroup_session_open(d, "alice", "s1", &s, &err), 0);
	struct cgroup_stats st;
	assert_int_equal(cgroup_session_stats(s, &st, &err), 0);
	assert_int_equal(st.memory_current, 4096);
	assert_int_equal(st.memory_peak, 67108864);
	assert_int_equal(st.memory_max, 67108864);
	assert_int_equal(st.memory_limit_hits, 31);
	assert_int_equal(st.oom_kills, 3);
	assert_int_equal(st.pids_current, 2);
	assert_int_equal(st.pids_max, 20);
	assert_int_equal(st.pids_limit_hits, 5);
	assert_int_equal(st.cpu_usage_usec, 2500000);
	put(mem, "memory.limit_in_bytes", "9223372036854771712\n");
	assert_int_equal(cgroup_session_stats(s, &st, &err), 0);
	assert_true(st.memory_max == CGROUP_LIMIT_MAX);

	assert_int_equal(cgroup_session_destroy(s, &err), 0);
	assert_false(exists(mem));
	assert_false(exists(pathf("%s/memory/sandboxd/alice", t->root)));
	assert_false(exists(pathf("%s/freezer/sandboxd/alice", t->root)));
	cgroup_session_free(s);
	cgroup_driver_free(d);
}

static void test_hybrid(void **state)
{
	struct tree *t = *state;
	struct cgroup_driver *d = NULL;
	struct cgroup_session *s = NULL;
	sbx_error err = {0};
	assert_int_equal(cgroup_driver_open(t->root, "sandboxd", &d, &err), 0);
	assert_string_equal(cgroup_driver_name(d), "hybrid");
	assert_int_equal(cgroup_session_create(d, "alice", "s1", NULL, &s, &err), 0);
	const char *mem = pathf("%s/memory/sandboxd/alice/s1", t->root);
	const char *uni = pathf("%s/unified/sandboxd/alice/s1", t->root);
	/* no memsw in this tree: only the limit */
	assert_string_equal(get(mem, "memory.limit_in_bytes"), "268435456");
	assert_int_equal(cgroup_session_enter(s, NULL), 0);
	assert_string_equal(get(mem, "cgroup.procs"), "0");
	assert_string_equal(get(uni, "cgroup.procs"), "0"); /* tracked in unified too */
	put(mem, "cgroup.procs", "");
	put(uni, "cgroup.procs", "");
	for (int c = 0; c < CG_V1_N; c++)
		if (s->v1_path[c])
			put(s->v1_path[c], "cgroup.procs", "");
	assert_int_equal(cgroup_session_kill(s, &err), 0);
	assert_string_equal(get(uni, "cgroup.kill"), "1"); /* the atomic kill was used */
	assert_int_equal(cgroup_session_destroy(s, &err), 0);
	assert_false(exists(uni));
	assert_false(exists(mem));
	cgroup_session_free(s);
	cgroup_driver_free(d);

	/* forced v1 on the same tree: no unified tracking */
	assert_int_equal(cgroup_driver_open_kind(CGROUP_DRIVER_V1, t->root, "sandboxd", &d, &err),
			 0);
	cgroup_driver_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_keyed),
	    cmocka_unit_test(test_parse_limit),
	    cmocka_unit_test(test_format),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test_setup_teardown(test_v2_detect_and_create, setup_v2, tree_teardown),
	    cmocka_unit_test_setup_teardown(test_v2_subtree_already_enabled, setup_v2,
					    tree_teardown),
	    cmocka_unit_test_setup_teardown(test_v2_no_swap_accounting, setup_v2, tree_teardown),
	    cmocka_unit_test_setup_teardown(test_v2_stats, setup_v2, tree_teardown),
	    cmocka_unit_test_setup_teardown(test_v2_enter_attach_kill_destroy, setup_v2,
					    tree_teardown),
	    cmocka_unit_test_setup_teardown(test_v2_list_and_sweep, setup_v2, tree_teardown),
	    cmocka_unit_test_setup_teardown(test_bad_input, setup_v2, tree_teardown),
	    cmocka_unit_test_setup_teardown(test_v1_create_and_limits, setup_v1, tree_teardown),
	    cmocka_unit_test_setup_teardown(test_v1_memory_without_memsw, setup_v1, tree_teardown),
	    cmocka_unit_test_setup_teardown(test_v1_stats, setup_v1, tree_teardown),
	    cmocka_unit_test_setup_teardown(test_hybrid, setup_hybrid, tree_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
