/* Unit tests of the policy: every unit and every value error, names, resolution order with the
 * source of each value, several courses, atomic writes under concurrent writer processes, and
 * a broken hand-edited file (reported with file:line, the previous store kept). */
#include "config.h"

#include "common/cleanup.h"
#include "common/policy.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define MIB (1ull << 20)
#define GIB (1ull << 30)

static char base_dir[256];
static char dir[512]; /* a fresh policy directory for each test */
static unsigned dir_seq;

static int group_setup(void **state)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(base_dir, sizeof(base_dir), "%s/test_policy.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	return mkdtemp(base_dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base_dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int test_setup(void **state)
{
	snprintf(dir, sizeof(dir), "%s/p%u", base_dir, dir_seq++);
	return mkdir(dir, 0755);
}

static void write_file(const char *rel, const char *text)
{
	char path[1024], sub[1024];
	FILE *f;

	snprintf(sub, sizeof(sub), "%s/group", dir);
	mkdir(sub, 0755);
	snprintf(sub, sizeof(sub), "%s/user", dir);
	mkdir(sub, 0755);
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "we");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, 0644), 0);
}

static char *read_text(const char *rel)
{
	static char buf[8192];
	char path[1024];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "re");
	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static bool file_exists(const char *rel)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	return access(path, F_OK) == 0;
}

static struct policy_level level(const char *spec)
{
	struct policy_level l;
	sbx_error err;

	assert_int_equal(policy_level_parse(spec, &l, &err), 0);
	return l;
}

static void set(const char *spec, const char *assignment)
{
	struct policy_level l = level(spec);
	const char *a[] = {assignment};
	sbx_error err = {0};
	int r = policy_set(dir, &l, a, 1, &err);

	if (r < 0)
		fail_msg("policy_set %s %s: %s", spec, assignment, err.msg);
}

static uint64_t parse_ok(enum policy_key key, const char *text)
{
	uint64_t v = 0;
	sbx_error err = {0};
	int r = policy_parse_value(key, text, &v, &err);

	if (r < 0)
		fail_msg("%s=%s: %s", policy_key_name(key), text, err.msg);
	return v;
}

static void parse_fails(enum policy_key key, const char *text, int code, const char *msg)
{
	uint64_t v = 12345;
	sbx_error err = {0};

	assert_int_equal(policy_parse_value(key, text, &v, &err), -code);
	assert_int_equal(v, 12345);
	if (strcmp(err.msg, msg) != 0)
		fail_msg("%s=%s: expected \"%s\", got \"%s\"", policy_key_name(key), text, msg,
			 err.msg);
}

static void test_keys(void **state)
{
	static const char *const names[] = {"memory",	 "swap",	 "cpu",	     "pids",
					    "tmp",	 "disk",	 "inodes",   "session-time",
					    "idle-time", "run-cpu-time", "run-time", "sessions",
					    "processes", "record",	 "locked"};
	enum policy_key k;
	sbx_error err;

	assert_int_equal(ELEMENTSOF(names), POLICY_KEY_COUNT);
	for (size_t i = 0; i < ELEMENTSOF(names); i++) {
		assert_string_equal(policy_key_name((enum policy_key)i), names[i]);
		assert_int_equal(policy_key_from_name(names[i], &k, &err), 0);
		assert_int_equal(k, i);
		assert_non_null(policy_key_description(k));
	}
	assert_int_equal(policy_key_from_name("Memory", &k, &err), -EINVAL);
	assert_string_equal(err.msg, "unknown key 'Memory'");
	assert_int_equal(policy_key_from_name("wall", &k, &err), -EINVAL);
	assert_int_equal(policy_key_from_name("", &k, &err), -EINVAL);
}

static void test_builtin_defaults(void **state)
{
	static const struct {
		enum policy_key key;
		const char *text;
	} expected[] = {
	    {POLICY_MEMORY, "256M"},	  {POLICY_SWAP, "0"},	       {POLICY_CPU, "100%"},
	    {POLICY_PIDS, "64"},	  {POLICY_TMP, "64M"},	       {POLICY_DISK, "200M"},
	    {POLICY_INODES, "20000"},	  {POLICY_SESSION_TIME, "4h"}, {POLICY_IDLE_TIME, "30m"},
	    {POLICY_RUN_CPU_TIME, "10m"}, {POLICY_RUN_TIME, "30m"},    {POLICY_SESSIONS, "3"},
	    {POLICY_PROCESSES, "no"},	  {POLICY_RECORD, "no"},       {POLICY_LOCKED, "no"},
	};
	char buf[64];

	assert_int_equal(ELEMENTSOF(expected), POLICY_KEY_COUNT);
	for (size_t i = 0; i < ELEMENTSOF(expected); i++) {
		policy_format_value(expected[i].key, policy_builtin(expected[i].key), buf,
				    sizeof(buf));
		assert_string_equal(buf, expected[i].text);
	}
}

static void test_sizes(void **state)
{
	assert_int_equal(parse_ok(POLICY_MEMORY, "512M"), 512 * MIB);
	assert_int_equal(parse_ok(POLICY_MEMORY, "512m"), 512 * MIB);
	assert_int_equal(parse_ok(POLICY_MEMORY, "512MiB"), 512 * MIB);
	assert_int_equal(parse_ok(POLICY_MEMORY, "2G"), 2 * GIB);
	assert_int_equal(parse_ok(POLICY_MEMORY, "2g"), 2 * GIB);
	assert_int_equal(parse_ok(POLICY_MEMORY, "1T"), 1ull << 40);
	assert_int_equal(parse_ok(POLICY_MEMORY, "32768K"), 32 * MIB);
	assert_int_equal(parse_ok(POLICY_MEMORY, "16777216"), 16 * MIB);
	assert_int_equal(parse_ok(POLICY_MEMORY, "max"), POLICY_UNLIMITED);
	assert_int_equal(parse_ok(POLICY_MEMORY, "unlimited"), POLICY_UNLIMITED);
	assert_int_equal(parse_ok(POLICY_SWAP, "0"), 0);
	assert_int_equal(parse_ok(POLICY_TMP, "1024K"), MIB);
	assert_int_equal(parse_ok(POLICY_DISK, "16T"), 16ull << 40);

	parse_fails(POLICY_MEMORY, "12Q", EINVAL,
		    "memory: '12Q' is not a size (examples: 512M, 2G, 1024K, bytes)");
	parse_fails(POLICY_MEMORY, "", EINVAL,
		    "memory: '' is not a size (examples: 512M, 2G, 1024K, bytes)");
	parse_fails(POLICY_MEMORY, "M", EINVAL,
		    "memory: 'M' is not a size (examples: 512M, 2G, 1024K, bytes)");
	parse_fails(POLICY_MEMORY, "-1G", EINVAL,
		    "memory: '-1G' is not a size (examples: 512M, 2G, 1024K, bytes)");
	parse_fails(POLICY_MEMORY, "1.5G", EINVAL,
		    "memory: '1.5G' is not a size (examples: 512M, 2G, 1024K, bytes)");
	parse_fails(POLICY_MEMORY, "512 M", EINVAL,
		    "memory: '512 M' is not a size (examples: 512M, 2G, 1024K, bytes)");
	parse_fails(POLICY_MEMORY, "512MB", EINVAL,
		    "memory: '512MB' is not a size (examples: 512M, 2G, 1024K, bytes)");
	parse_fails(POLICY_MEMORY, "8M", ERANGE,
		    "memory: '8M' is out of range (16M to 1T, or unlimited)");
	parse_fails(POLICY_MEMORY, "2T", ERANGE,
		    "memory: '2T' is out of range (16M to 1T, or unlimited)");
	parse_fails(POLICY_MEMORY, "0", ERANGE,
		    "memory: '0' is out of range (16M to 1T, or unlimited)");
	parse_fails(POLICY_MEMORY, "99999999999999999999", ERANGE,
		    "memory: '99999999999999999999' is out of range (16M to 1T, or unlimited)");
	parse_fails(POLICY_MEMORY, "17179869184T", ERANGE,
		    "memory: '17179869184T' is out of range (16M to 1T, or unlimited)");
	parse_fails(POLICY_TMP, "unlimited", EINVAL,
		    "tmp: 'unlimited' is not allowed here, tmp cannot be unlimited");
	parse_fails(POLICY_TMP, "512K", ERANGE, "tmp: '512K' is out of range (1M to 64G)");
	parse_fails(POLICY_DISK, "yes", EINVAL,
		    "disk: 'yes' is not a size (examples: 512M, 2G, 1024K, bytes)");
}

static void test_times(void **state)
{
	assert_int_equal(parse_ok(POLICY_RUN_TIME, "90s"), 90);
	assert_int_equal(parse_ok(POLICY_RUN_TIME, "90"), 90);
	assert_int_equal(parse_ok(POLICY_RUN_TIME, "10m"), 600);
	assert_int_equal(parse_ok(POLICY_RUN_TIME, "1h"), 3600);
	assert_int_equal(parse_ok(POLICY_RUN_TIME, "1h30m"), 5400);
	assert_int_equal(parse_ok(POLICY_RUN_TIME, "1h30m15s"), 5415);
	assert_int_equal(parse_ok(POLICY_RUN_TIME, "2d"), 2 * 86400);
	assert_int_equal(parse_ok(POLICY_RUN_TIME, "1d1s"), 86401);
	assert_int_equal(parse_ok(POLICY_SESSION_TIME, "4h"), 4 * 3600);
	assert_int_equal(parse_ok(POLICY_SESSION_TIME, "max"), POLICY_UNLIMITED);
	assert_int_equal(parse_ok(POLICY_IDLE_TIME, "unlimited"), POLICY_UNLIMITED);
	assert_int_equal(parse_ok(POLICY_RUN_CPU_TIME, "1s"), 1);

	parse_fails(POLICY_RUN_TIME, "10x", EINVAL,
		    "run-time: '10x' is not a time (examples: 90s, 10m, 1h30m, seconds)");
	parse_fails(POLICY_RUN_TIME, "30m1h", EINVAL,
		    "run-time: '30m1h' is not a time (examples: 90s, 10m, 1h30m, seconds)");
	parse_fails(POLICY_RUN_TIME, "1h1h", EINVAL,
		    "run-time: '1h1h' is not a time (examples: 90s, 10m, 1h30m, seconds)");
	parse_fails(POLICY_RUN_TIME, "1h30", EINVAL,
		    "run-time: '1h30' is not a time (examples: 90s, 10m, 1h30m, seconds)");
	parse_fails(POLICY_RUN_TIME, "h", EINVAL,
		    "run-time: 'h' is not a time (examples: 90s, 10m, 1h30m, seconds)");
	parse_fails(POLICY_RUN_TIME, "1.5h", EINVAL,
		    "run-time: '1.5h' is not a time (examples: 90s, 10m, 1h30m, seconds)");
	parse_fails(POLICY_RUN_TIME, "10M", EINVAL,
		    "run-time: '10M' is not a time (examples: 90s, 10m, 1h30m, seconds)");
	parse_fails(POLICY_RUN_TIME, "0", ERANGE,
		    "run-time: '0' is out of range (1s to 30d, or unlimited)");
	parse_fails(POLICY_RUN_TIME, "31d", ERANGE,
		    "run-time: '31d' is out of range (1s to 30d, or unlimited)");
	parse_fails(POLICY_SESSION_TIME, "30s", ERANGE,
		    "session-time: '30s' is out of range (1m to 30d, or unlimited)");
	parse_fails(POLICY_IDLE_TIME, "99999999999999999999d", ERANGE,
		    "idle-time: '99999999999999999999d' is out of range (1m to 30d, or unlimited)");
	parse_fails(POLICY_IDLE_TIME, "999999999999999999d", ERANGE,
		    "idle-time: '999999999999999999d' is out of range (1m to 30d, or unlimited)");
}

static void test_cpu(void **state)
{
	assert_int_equal(parse_ok(POLICY_CPU, "50%"), 50);
	assert_int_equal(parse_ok(POLICY_CPU, "150%"), 150);
	assert_int_equal(parse_ok(POLICY_CPU, "1.5"), 150);
	assert_int_equal(parse_ok(POLICY_CPU, "0.25"), 25);
	assert_int_equal(parse_ok(POLICY_CPU, "2"), 200);
	assert_int_equal(parse_ok(POLICY_CPU, "0.5"), 50);
	assert_int_equal(parse_ok(POLICY_CPU, "max"), POLICY_UNLIMITED);

	parse_fails(POLICY_CPU, "0%", ERANGE,
		    "cpu: '0%' is out of range (1% to 6400%, or unlimited)");
	parse_fails(POLICY_CPU, "0", ERANGE,
		    "cpu: '0' is out of range (1% to 6400%, or unlimited)");
	parse_fails(POLICY_CPU, "65", ERANGE,
		    "cpu: '65' is out of range (1% to 6400%, or unlimited)");
	parse_fails(
	    POLICY_CPU, "1.234", EINVAL,
	    "cpu: '1.234' is not a CPU share (examples: 50%, 1.5 for one and a half cores)");
	parse_fails(POLICY_CPU, "1.", EINVAL,
		    "cpu: '1.' is not a CPU share (examples: 50%, 1.5 for one and a half cores)");
	parse_fails(POLICY_CPU, "50%%", EINVAL,
		    "cpu: '50%%' is not a CPU share (examples: 50%, 1.5 for one and a half cores)");
	parse_fails(POLICY_CPU, "1.5%", EINVAL,
		    "cpu: '1.5%' is not a CPU share (examples: 50%, 1.5 for one and a half cores)");
	parse_fails(POLICY_CPU, "half", EINVAL,
		    "cpu: 'half' is not a CPU share (examples: 50%, 1.5 for one and a half cores)");
}

static void test_counts_and_bools(void **state)
{
	assert_int_equal(parse_ok(POLICY_PIDS, "64"), 64);
	assert_int_equal(parse_ok(POLICY_PIDS, "max"), POLICY_UNLIMITED);
	assert_int_equal(parse_ok(POLICY_INODES, "100000"), 100000);
	assert_int_equal(parse_ok(POLICY_SESSIONS, "1"), 1);
	assert_int_equal(parse_ok(POLICY_PROCESSES, "yes"), 1);
	assert_int_equal(parse_ok(POLICY_RECORD, "no"), 0);
	assert_int_equal(parse_ok(POLICY_LOCKED, "yes"), 1);

	parse_fails(POLICY_PIDS, "3", ERANGE,
		    "pids: '3' is out of range (4 to 4194304, or unlimited)");
	parse_fails(POLICY_PIDS, "64k", EINVAL, "pids: '64k' is not a whole number");
	parse_fails(POLICY_PIDS, "-1", EINVAL, "pids: '-1' is not a whole number");
	parse_fails(POLICY_INODES, "50", ERANGE,
		    "inodes: '50' is out of range (100 to 1000000000, or unlimited)");
	parse_fails(POLICY_SESSIONS, "0", ERANGE, "sessions: '0' is out of range (1 to 1000)");
	parse_fails(POLICY_SESSIONS, "unlimited", EINVAL,
		    "sessions: 'unlimited' is not allowed here, sessions cannot be unlimited");
	parse_fails(POLICY_PROCESSES, "true", EINVAL, "processes: 'true' is not yes or no");
	parse_fails(POLICY_RECORD, "1", EINVAL, "record: '1' is not yes or no");
	parse_fails(POLICY_LOCKED, "Yes", EINVAL, "locked: 'Yes' is not yes or no");
	parse_fails(POLICY_LOCKED, "max", EINVAL,
		    "locked: 'max' is not allowed here, locked cannot be unlimited");
}

/* Every canonical text reads back as the same value. */
static void test_format_round_trip(void **state)
{
	static const struct {
		enum policy_key key;
		const char *in, *out, *human;
	} cases[] = {
	    {POLICY_MEMORY, "536870912", "512M", "512 MiB"},
	    {POLICY_MEMORY, "2048M", "2G", "2 GiB"},
	    {POLICY_MEMORY, "1536M", "1536M", "1.5 GiB"},
	    {POLICY_MEMORY, "16777217", "16777217", "16.0 MiB"},
	    {POLICY_MEMORY, "unlimited", "unlimited", "unlimited"},
	    {POLICY_SWAP, "0", "0", "0 bytes"},
	    {POLICY_TMP, "1025K", "1025K", "1.0 MiB"},
	    {POLICY_RUN_TIME, "5400", "1h30m", "1 h 30 min"},
	    {POLICY_RUN_TIME, "90s", "1m30s", "1 min 30 s"},
	    {POLICY_RUN_TIME, "86400", "1d", "24 h"},
	    {POLICY_RUN_TIME, "1d1h1m1s", "1d1h1m1s", "25 h 1 min 1 s"},
	    {POLICY_RUN_TIME, "45", "45s", "45 s"},
	    {POLICY_IDLE_TIME, "max", "unlimited", "unlimited"},
	    {POLICY_CPU, "1.5", "150%", "1.50 cores"},
	    {POLICY_CPU, "50%", "50%", "50% of a core"},
	    {POLICY_CPU, "1", "100%", "1 core"},
	    {POLICY_CPU, "2", "200%", "2 cores"},
	    {POLICY_PIDS, "max", "unlimited", "unlimited"},
	    {POLICY_SESSIONS, "7", "7", "7"},
	    {POLICY_RECORD, "yes", "yes", "yes"},
	    {POLICY_LOCKED, "no", "no", "no"},
	};
	char buf[64];

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		uint64_t v = parse_ok(cases[i].key, cases[i].in);
		policy_format_value(cases[i].key, v, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].out);
		assert_int_equal(parse_ok(cases[i].key, buf), v);
		policy_describe_value(cases[i].key, v, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].human);
	}
	/* A short buffer is cut, never overrun, and the full length is reported. */
	assert_int_equal(policy_format_value(POLICY_RUN_TIME, 86400 + 3600 + 61, buf, 4), 8);
	assert_string_equal(buf, "1d1");
}

static void test_names(void **state)
{
	static const char *const good[] = {
	    "alice", "_svc", "cs101", "a.b", "a-b_c.d", "x", "abcdefghijklmnopqrstuvwxyz012345"};
	static const char *const bad[] = {
	    "",	       "../etc", "a/b",	 "/abs", ".",	"..",
	    ".hidden", "Alice",	 "1abc", "-x",	 "a b", "abcdefghijklmnopqrstuvwxyz0123456",
	    "a\nb",    "a$",	 "é"};
	struct policy_level l;
	sbx_error err;
	char buf[64];

	for (size_t i = 0; i < ELEMENTSOF(good); i++)
		assert_true(policy_name_valid(good[i]));
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		char spec[64];
		if (policy_name_valid(bad[i]))
			fail_msg("'%s' accepted", bad[i]);
		assert_int_equal(policy_level_parse(bad[i], &l, &err), -EINVAL);
		snprintf(spec, sizeof(spec), "@%s", bad[i]);
		assert_int_equal(policy_level_parse(spec, &l, &err), -EINVAL);
	}
	assert_int_equal(policy_level_parse("../etc", &l, &err), -EINVAL);
	assert_string_equal(err.msg, "invalid user name '../etc' (expected [a-z_][a-z0-9_.-]*, at "
				     "most 32 characters)");
	assert_int_equal(policy_level_parse("@a/b", &l, &err), -EINVAL);
	assert_string_equal(err.msg, "invalid group name 'a/b' (expected [a-z_][a-z0-9_.-]*, at "
				     "most 32 characters)");
	assert_false(policy_name_valid(NULL));
	assert_false(policy_name_valid("@x"));

	l = level("default");
	assert_int_equal(l.kind, POLICY_LEVEL_DEFAULT);
	policy_level_describe(&l, buf, sizeof(buf));
	assert_string_equal(buf, "default");
	l = level("@cs101");
	assert_int_equal(l.kind, POLICY_LEVEL_GROUP);
	assert_string_equal(l.name, "cs101");
	policy_level_describe(&l, buf, sizeof(buf));
	assert_string_equal(buf, "group @cs101");
	l = level("alice");
	assert_int_equal(l.kind, POLICY_LEVEL_USER);
	policy_level_describe(&l, buf, sizeof(buf));
	assert_string_equal(buf, "user alice");

	/* A level built by hand with a bad name never becomes a path. */
	l = (struct policy_level){.kind = POLICY_LEVEL_USER};
	snprintf(l.name, sizeof(l.name), "../../etc/passwd");
	{
		char *path = NULL;
		const char *a[] = {"memory=1G"};
		assert_int_equal(policy_level_path(dir, &l, &path, &err), -EINVAL);
		assert_null(path);
		assert_int_equal(policy_set(dir, &l, a, 1, &err), -EINVAL);
	}
}

static void test_resolve_order_and_sources(void **state)
{
	static const char *const groups[] = {"cs101", NULL};
	struct policy_effective eff;
	sbx_error err = {0};

	/* Nothing at all: every key built-in, even without the directory. */
	assert_int_equal(policy_resolve("/nonexistent/policy", "alice", groups, &eff, &err), 0);
	for (size_t k = 0; k < POLICY_KEY_COUNT; k++) {
		assert_int_equal(eff.value[k], policy_builtin((enum policy_key)k));
		assert_int_equal(eff.source_kind[k], POLICY_SOURCE_BUILTIN);
		assert_string_equal(eff.source[k], "built-in");
	}

	set("default", "memory=512M");
	set("default", "pids=100");
	set("default", "cpu=50%");
	set("@cs101", "memory=1G");
	set("@cs101", "pids=200");
	set("alice", "memory=2G");
	set("bob", "cpu=3");

	assert_int_equal(policy_resolve(dir, "alice", groups, &eff, &err), 0);
	assert_int_equal(eff.value[POLICY_MEMORY], 2 * GIB);
	assert_string_equal(eff.source[POLICY_MEMORY], "user alice");
	assert_int_equal(eff.source_kind[POLICY_MEMORY], POLICY_SOURCE_USER);
	assert_int_equal(eff.value[POLICY_PIDS], 200);
	assert_string_equal(eff.source[POLICY_PIDS], "group @cs101");
	assert_int_equal(eff.source_kind[POLICY_PIDS], POLICY_SOURCE_GROUP);
	assert_int_equal(eff.value[POLICY_CPU], 50);
	assert_string_equal(eff.source[POLICY_CPU], "default");
	assert_int_equal(eff.source_kind[POLICY_CPU], POLICY_SOURCE_DEFAULT);
	assert_int_equal(eff.value[POLICY_TMP], 64 * MIB);
	assert_string_equal(eff.source[POLICY_TMP], "built-in");

	/* Not in the course: the course does not apply; another user's file neither. */
	assert_int_equal(policy_resolve(dir, "carol", NULL, &eff, &err), 0);
	assert_int_equal(eff.value[POLICY_MEMORY], 512 * MIB);
	assert_string_equal(eff.source[POLICY_MEMORY], "default");
	assert_int_equal(eff.value[POLICY_CPU], 50);

	/* The course's value until the user's override is removed, then the course again. */
	assert_int_equal(policy_resolve(dir, "alice", groups, &eff, &err), 0);
	assert_int_equal(eff.value[POLICY_MEMORY], 2 * GIB);
	{
		struct policy_level l = level("alice");
		const char *k[] = {"memory"};
		size_t removed = 9;
		assert_int_equal(policy_unset(dir, &l, k, 1, &removed, &err), 0);
		assert_int_equal(removed, 1);
		assert_false(file_exists("user/alice.conf"));
		assert_int_equal(policy_unset(dir, &l, k, 1, &removed, &err), 0);
		assert_int_equal(removed, 0);
	}
	assert_int_equal(policy_resolve(dir, "alice", groups, &eff, &err), 0);
	assert_int_equal(eff.value[POLICY_MEMORY], GIB);
	assert_string_equal(eff.source[POLICY_MEMORY], "group @cs101");

	/* The store resolves exactly as the directory does. */
	{
		struct policy_store *store = NULL;
		struct policy_effective from_store;
		assert_int_equal(policy_load_all(dir, &store, &err), 0);
		assert_true(store->has_default);
		assert_int_equal(store->n_groups, 1);
		assert_int_equal(store->n_users, 1);
		assert_non_null(policy_store_group(store, "cs101"));
		assert_null(policy_store_group(store, "cs102"));
		assert_non_null(policy_store_user(store, "bob"));
		assert_null(policy_store_user(store, "alice"));
		policy_store_resolve(store, "alice", groups, &from_store);
		assert_memory_equal(&from_store, &eff, sizeof(eff));
		policy_store_resolve(store, "bob", NULL, &from_store);
		assert_int_equal(from_store.value[POLICY_CPU], 300);
		assert_string_equal(from_store.source[POLICY_CPU], "user bob");
		policy_store_free(store);
	}
}

static void test_several_courses(void **state)
{
	/* Unsorted, duplicated, and with names no policy file can have. */
	static const char *const groups[] = {"cs201", "math", "Domain Users", "cs101", "cs201",
					     "../x",  NULL};
	struct policy_effective eff, from_store;
	struct policy_store *store = NULL;
	sbx_error err = {0};

	set("default", "memory=512M");
	set("@cs101", "memory=1G");
	set("@cs201", "memory=4G");
	set("@math", "memory=2G");
	set("@cs101", "run-time=unlimited");
	set("@cs201", "run-time=2h");
	set("@cs101", "pids=100");
	set("@math", "pids=100");
	set("@cs201", "locked=yes");
	set("@math", "locked=no");
	set("@cs101", "locked=yes");
	set("@cs201", "record=yes");
	set("@cs101", "record=no");
	set("@math", "processes=yes");
	set("@other", "memory=8G");

	assert_int_equal(policy_resolve(dir, "alice", groups, &eff, &err), 0);
	/* The most generous value wins, whatever the order of the groups. */
	assert_int_equal(eff.value[POLICY_MEMORY], 4 * GIB);
	assert_string_equal(eff.source[POLICY_MEMORY], "group @cs201");
	assert_int_equal(eff.value[POLICY_RUN_TIME], POLICY_UNLIMITED);
	assert_string_equal(eff.source[POLICY_RUN_TIME], "group @cs101");
	/* A tie goes to the group first in name order. */
	assert_int_equal(eff.value[POLICY_PIDS], 100);
	assert_string_equal(eff.source[POLICY_PIDS], "group @cs101");
	/* locked: no beats yes; record and processes: yes beats no. */
	assert_int_equal(eff.value[POLICY_LOCKED], 0);
	assert_string_equal(eff.source[POLICY_LOCKED], "group @math");
	assert_int_equal(eff.value[POLICY_RECORD], 1);
	assert_string_equal(eff.source[POLICY_RECORD], "group @cs201");
	assert_int_equal(eff.value[POLICY_PROCESSES], 1);
	assert_string_equal(eff.source[POLICY_PROCESSES], "group @math");

	/* Two locking courses lock. */
	{
		static const char *const two[] = {"cs201", "cs101", NULL};
		assert_int_equal(policy_resolve(dir, "alice", two, &eff, &err), 0);
		assert_int_equal(eff.value[POLICY_LOCKED], 1);
		assert_string_equal(eff.source[POLICY_LOCKED], "group @cs101");
	}

	/* The user's own level still overrides every course. */
	set("alice", "memory=256M");
	assert_int_equal(policy_resolve(dir, "alice", groups, &eff, &err), 0);
	assert_int_equal(eff.value[POLICY_MEMORY], 256 * MIB);
	assert_string_equal(eff.source[POLICY_MEMORY], "user alice");

	assert_int_equal(policy_load_all(dir, &store, &err), 0);
	assert_int_equal(store->n_groups, 4);
	assert_string_equal(store->groups[0].name, "cs101");
	assert_string_equal(store->groups[3].name, "other");
	policy_store_resolve(store, "alice", groups, &from_store);
	assert_memory_equal(&from_store, &eff, sizeof(eff));
	policy_store_free(store);
}

static void test_file_format(void **state)
{
	struct policy_values v;
	struct policy_level l = level("@cs101");
	sbx_error err = {0};
	char path[1024];
	const char *a[] = {"memory = 3G", " pids=max ", "tmp=128M"};

	write_file("group/cs101.conf", "# CS 101, autumn\n"
				       "\n"
				       "memory=1G   # raised for the lab\n"
				       "  cpu   =   50%\n"
				       "# end\n");
	snprintf(path, sizeof(path), "%s/group/cs101.conf", dir);
	assert_int_equal(policy_file_load(path, &v, &err), 0);
	assert_true(v.set[POLICY_MEMORY]);
	assert_int_equal(v.value[POLICY_MEMORY], GIB);
	assert_int_equal(v.value[POLICY_CPU], 50);
	assert_false(v.set[POLICY_PIDS]);

	/* Comments, blank lines and order survive; the changed line keeps its comment. */
	assert_int_equal(policy_set(dir, &l, a, 3, &err), 0);
	assert_string_equal(read_text("group/cs101.conf"), "# CS 101, autumn\n"
							   "\n"
							   "memory = 3G # raised for the lab\n"
							   "  cpu   =   50%\n"
							   "# end\n"
							   "pids = unlimited\n"
							   "tmp = 128M\n");
	{
		const char *k[] = {"cpu", "tmp", "memory", "pids"};
		size_t removed;
		assert_int_equal(policy_unset(dir, &l, k, 4, &removed, &err), 0);
		assert_int_equal(removed, 4);
		/* Comments left: the file stays. */
		assert_string_equal(read_text("group/cs101.conf"), "# CS 101, autumn\n\n# end\n");
	}

	/* A bad assignment changes nothing, even next to good ones. */
	{
		const char *bad[] = {"memory=1G", "pids=lots"};
		assert_int_equal(policy_set(dir, &l, bad, 2, &err), -EINVAL);
		assert_string_equal(err.msg, "pids: 'lots' is not a whole number");
		const char *twice[] = {"memory=1G", "memory=2G"};
		assert_int_equal(policy_set(dir, &l, twice, 2, &err), -EINVAL);
		assert_string_equal(err.msg, "memory given twice");
		const char *noeq[] = {"memory"};
		assert_int_equal(policy_set(dir, &l, noeq, 1, &err), -EINVAL);
		assert_string_equal(err.msg, "expected KEY=VALUE, got 'memory'");
		const char *unknown[] = {"wall=10m"};
		assert_int_equal(policy_set(dir, &l, unknown, 1, &err), -EINVAL);
		assert_string_equal(err.msg, "unknown key 'wall'");
		const char *k[] = {"memroy"};
		assert_int_equal(policy_unset(dir, &l, k, 1, NULL, &err), -EINVAL);
		assert_string_equal(err.msg, "unknown key 'memroy'");
		assert_string_equal(read_text("group/cs101.conf"), "# CS 101, autumn\n\n# end\n");
	}

	/* A level we created and emptied disappears. */
	set("dave", "sessions=5");
	assert_string_equal(read_text("user/dave.conf"), "sessions = 5\n");
	{
		struct policy_level d = level("dave");
		const char *k[] = {"sessions"};
		assert_int_equal(policy_unset(dir, &d, k, 1, NULL, &err), 0);
		assert_false(file_exists("user/dave.conf"));
	}

	/* Files in group/ that are not NAME.conf are not levels. */
	write_file("group/.cs101.conf.AbCdEf", "memory = garbage\n");
	write_file("group/cs101.conf~", "memory = garbage\n");
	write_file("group/README", "not a policy\n");
	write_file("group/Bad.conf", "memory = garbage\n");
	{
		struct policy_store *store = NULL;
		assert_int_equal(policy_load_all(dir, &store, &err), 0);
		assert_int_equal(store->n_groups, 1);
		policy_store_free(store);
	}
}

static void load_error(const char *text, const char *expected_suffix)
{
	char path[1024], expected[1400];
	struct policy_values v;
	sbx_error err = {0};

	write_file("default.conf", text);
	snprintf(path, sizeof(path), "%s/default.conf", dir);
	snprintf(expected, sizeof(expected), "%s:%s", path, expected_suffix);
	assert_int_equal(policy_file_load(path, &v, &err), -EINVAL);
	if (strcmp(err.msg, expected) != 0)
		fail_msg("expected \"%s\", got \"%s\"", expected, err.msg);
}

static void test_file_errors(void **state)
{
	load_error("memory = 512M\nmemory = 1G\n", "2: memory is already set on line 1");
	load_error("# fine\nmemory 512M\n", "2: expected 'key = value'");
	load_error("\n\n\nwall = 10m\n", "4: unknown key 'wall'");
	load_error("memory =\n", "1: memory: empty value");
	load_error("memory = # nothing\n", "1: memory: empty value");
	load_error("cpu = 50%\npids = 3\n", "2: pids: '3' is out of range (4 to 4194304, or "
					    "unlimited)");
	load_error("tmp = 1G\nlocked = maybe", "2: locked: 'maybe' is not yes or no");
	load_error("= 5\n", "1: unknown key ''");
	{
		char big[2000];
		memset(big, '#', sizeof(big) - 2);
		big[sizeof(big) - 2] = '\n';
		big[sizeof(big) - 1] = '\0';
		load_error(big, "1: line longer than 1024 characters");
	}
}

/* The same rules on text in memory, with the caller's name in messages. */
static void test_parse_text(void **state)
{
	const char text[] = "# course\nmemory = 1G # more\nrecord = yes\n";
	struct policy_values v;
	sbx_error err = {0};

	assert_int_equal(policy_parse_text("cs101", text, strlen(text), &v, &err), 0);
	assert_true(v.set[POLICY_MEMORY] && v.set[POLICY_RECORD] && !v.set[POLICY_CPU]);
	assert_int_equal(v.value[POLICY_MEMORY], 1ull << 30);
	assert_int_equal(policy_parse_text("cs101", "cpu = 1\0", 8, &v, &err), -EINVAL);
	assert_string_equal(err.msg, "cs101: contains a NUL byte");
	assert_int_equal(policy_parse_text("x", "", 0, &v, &err), 0);
	assert_false(v.set[POLICY_MEMORY]);
}

static void test_ownership(void **state)
{
	char path[1024];
	struct policy_values v;
	struct policy_store *store = NULL;
	sbx_error err = {0};

	write_file("default.conf", "memory = 1G\n");
	snprintf(path, sizeof(path), "%s/default.conf", dir);
	assert_int_equal(chmod(path, 0666), 0);
	assert_int_equal(policy_file_load(path, &v, &err), -EPERM);
	assert_non_null(strstr(err.msg, "writable by group or others (mode 0666)"));
	assert_int_equal(policy_load_all(dir, &store, &err), -EPERM);
	assert_null(store);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(chmod(dir, 0777), 0);
	assert_int_equal(policy_file_load(path, &v, &err), -EPERM);
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(policy_file_load(path, &v, &err), 0);

	/* A symbolic link is not followed. */
	snprintf(path, sizeof(path), "%s/user/eve.conf", dir);
	assert_int_equal(symlink("/etc/passwd", path), 0);
	assert_int_equal(policy_file_load(path, &v, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "is a symbolic link"));
}

/* A broken hand edit: reported with file and line, and the old store stays in force. */
static void test_broken_file_keeps_previous_store(void **state)
{
	static const char *const groups[] = {"cs101", NULL};
	struct policy_store *store = NULL, *before;
	struct policy_effective eff;
	sbx_error err = {0};
	char expected[1200];

	set("@cs101", "memory=1G");
	set("alice", "pids=100");
	assert_int_equal(policy_load_all(dir, &store, &err), 0);
	before = store;

	write_file("group/cs101.conf", "memory = 2G\npids = 500\ncpu = lots\n");
	assert_int_equal(policy_store_reload(dir, &store, &err), -EINVAL);
	snprintf(expected, sizeof(expected),
		 "%s/group/cs101.conf:3: cpu: 'lots' is not a CPU share (examples: 50%%, 1.5 for "
		 "one and a half cores)",
		 dir);
	assert_string_equal(err.msg, expected);
	assert_ptr_equal(store, before);
	policy_store_resolve(store, "alice", groups, &eff);
	assert_int_equal(eff.value[POLICY_MEMORY], GIB);
	assert_int_equal(eff.value[POLICY_PIDS], 100);

	/* policy_load_all alone leaves the out-parameter alone too. */
	{
		struct policy_store *untouched = (struct policy_store *)0x1;
		assert_int_equal(policy_load_all(dir, &untouched, &err), -EINVAL);
		assert_ptr_equal(untouched, (struct policy_store *)0x1);
	}
	/* Resolving through the broken file is an error, not a silent default. */
	assert_int_equal(policy_resolve(dir, "alice", groups, &eff, &err), -EINVAL);
	assert_string_equal(err.msg, expected);
	/* ... but one who is not in the course does not depend on it. */
	assert_int_equal(policy_resolve(dir, "alice", NULL, &eff, &err), 0);

	/* Writers refuse to build on a broken file instead of overwriting it. */
	{
		struct policy_level l = level("@cs101");
		const char *a[] = {"tmp=128M"};
		assert_int_equal(policy_set(dir, &l, a, 1, &err), -EINVAL);
		assert_string_equal(err.msg, expected);
		assert_string_equal(read_text("group/cs101.conf"),
				    "memory = 2G\npids = 500\ncpu = lots\n");
	}

	/* Fixed: the reload takes the new values. */
	write_file("group/cs101.conf", "memory = 2G\npids = 500\ncpu = 2\n");
	assert_int_equal(policy_store_reload(dir, &store, &err), 0);
	policy_store_resolve(store, "alice", groups, &eff);
	assert_int_equal(eff.value[POLICY_MEMORY], 2 * GIB);
	assert_int_equal(eff.value[POLICY_CPU], 200);
	assert_int_equal(eff.value[POLICY_PIDS], 100);
	policy_store_free(store);
}

#define WRITERS 8
#define ROUNDS 25

/* Eight processes each set their own key ROUNDS times on the same file, and a ninth key is set
 * and unset in between by all of them: with the lock, every writer's last value survives. */
static void test_concurrent_writers(void **state)
{
	static const char *const values[WRITERS] = {"1G", "2G",	  "3",	"100",
						    "2G", "1000", "2h", "7"};
	static const char *const interim[WRITERS] = {"max", "max", "max", "max",
						     "max", "max", "max", "999"};
	static const enum policy_key key_of[WRITERS] = {
	    POLICY_MEMORY, POLICY_SWAP,	  POLICY_CPU,	   POLICY_PIDS,
	    POLICY_DISK,   POLICY_INODES, POLICY_RUN_TIME, POLICY_SESSIONS};
	struct policy_level l = level("@cs101");
	struct policy_values v;
	pid_t pids[WRITERS];
	sbx_error err = {0};

	set("@cs101", "record=yes");
	for (int w = 0; w < WRITERS; w++) {
		pids[w] = fork();
		assert_true(pids[w] >= 0);
		if (pids[w] == 0) {
			int failed = 0;
			for (int round = 0; round < ROUNDS && !failed; round++) {
				char a[64], b[64];
				const char *assign[] = {a};
				const char *scratch[] = {b};
				const char *scratch_key[] = {"idle-time"};
				snprintf(a, sizeof(a), "%s=%s", policy_key_name(key_of[w]),
					 round == ROUNDS - 1 ? values[w] : interim[w]);
				snprintf(b, sizeof(b), "idle-time=%dm", w + 1);
				failed |= policy_set(dir, &l, assign, 1, NULL) < 0;
				failed |= policy_set(dir, &l, scratch, 1, NULL) < 0;
				failed |= policy_unset(dir, &l, scratch_key, 1, NULL, NULL) < 0;
			}
			_exit(failed);
		}
	}
	for (int w = 0; w < WRITERS; w++) {
		int status;
		assert_int_equal(waitpid(pids[w], &status, 0), pids[w]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_int_equal(policy_level_load(dir, &l, &v, &err), 0);
	for (int w = 0; w < WRITERS; w++) {
		assert_true(v.set[key_of[w]]);
		assert_int_equal(v.value[key_of[w]], parse_ok(key_of[w], values[w]));
	}
	assert_true(v.set[POLICY_RECORD]);
	assert_false(v.set[POLICY_IDLE_TIME]);
	/* No temporary file is left behind. */
	{
		char cmd[1200];
		snprintf(cmd, sizeof(cmd),
			 "test -z \"$(ls -A '%s/group' | grep -v '^cs101.conf$')\"", dir);
		assert_int_equal(system(cmd), 0);
	}
}

static void test_user_groups(void **state)
{
	char **groups = NULL;
	sbx_error err = {0};
	bool root = false;

	assert_int_equal(policy_user_groups("root", 0, &groups, &err), 0);
	for (size_t i = 0; groups[i]; i++)
		root |= strcmp(groups[i], "root") == 0;
	assert_true(root);
	policy_groups_free(groups);
	policy_groups_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_keys),
	    cmocka_unit_test(test_builtin_defaults),
	    cmocka_unit_test(test_sizes),
	    cmocka_unit_test(test_times),
	    cmocka_unit_test(test_cpu),
	    cmocka_unit_test(test_counts_and_bools),
	    cmocka_unit_test(test_format_round_trip),
	    cmocka_unit_test_setup(test_names, test_setup),
	    cmocka_unit_test_setup(test_resolve_order_and_sources, test_setup),
	    cmocka_unit_test_setup(test_several_courses, test_setup),
	    cmocka_unit_test_setup(test_file_format, test_setup),
	    cmocka_unit_test_setup(test_file_errors, test_setup),
	    cmocka_unit_test(test_parse_text),
	    cmocka_unit_test_setup(test_ownership, test_setup),
	    cmocka_unit_test_setup(test_broken_file_keeps_previous_store, test_setup),
	    cmocka_unit_test_setup(test_concurrent_writers, test_setup),
	    cmocka_unit_test(test_user_groups),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
