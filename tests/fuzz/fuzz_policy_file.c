/* A policy level file (admin input, possibly edited by hand): policy_parse_text on the text; the
 * values it holds, written out canonically ("key = policy_format_value"), must parse back to the
 * same values. A file that parses is then edited the way sandboxctl does (policy_set, then
 * policy_unset of one key, in a temporary directory): the edit must change that key only, and
 * setting then unsetting a key the file did not have must give the file back as it was. */
#include "config.h"

#include "common/policy.h"
#include "tests/fuzz/fuzz.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];
static char path[300];

static void remove_dir(void)
{
	char p[320];

	unlink(path);
	snprintf(p, sizeof(p), "%s/.lock", dir);
	unlink(p);
	rmdir(dir);
}

/* One directory per process, on tmpfs when there is one: policy_set fsyncs every write. */
static void make_dir(void)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");

	if (dir[0])
		return;
	snprintf(dir, sizeof(dir), "%s/fuzz_policy_file.XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/default.conf", dir);
	atexit(remove_dir);
}

static void write_file(const uint8_t *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0 || fchmod(fd, 0644) < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
}

/* The file's text, or NULL when it does not exist. */
static char *read_text(size_t *ret_len)
{
	FILE *f = fopen(path, "re");
	char *text = NULL;
	size_t size = 0;

	if (!f) {
		FUZZ_ASSERT(errno == ENOENT, "%s: %s", path, strerror(errno));
		return NULL;
	}
	FILE *out = open_memstream(&text, &size);
	int c;
	while ((c = getc(f)) != EOF)
		putc(c, out);
	fclose(f);
	fclose(out);
	*ret_len = size;
	return text;
}

static void assert_values(const struct policy_values *got, const struct policy_values *want,
			  const char *what)
{
	for (size_t k = 0; k < POLICY_KEY_COUNT; k++) {
		FUZZ_ASSERT(got->set[k] == want->set[k], "%s: %s set %d, expected %d", what,
			    policy_key_name(k), got->set[k], want->set[k]);
		if (want->set[k])
			FUZZ_ASSERT(got->value[k] == want->value[k],
				    "%s: %s = %" PRIu64 ", expected %" PRIu64, what,
				    policy_key_name(k), got->value[k], want->value[k]);
	}
}

static void check_canonical(const struct policy_values *v)
{
	char text[POLICY_KEY_COUNT * 96];
	struct policy_values again;
	sbx_error err = {0};
	size_t len = 0;

	for (size_t k = 0; k < POLICY_KEY_COUNT; k++) {
		char value[64];
		if (!v->set[k])
			continue;
		policy_format_value(k, v->value[k], value, sizeof(value));
		len += (size_t)snprintf(text + len, sizeof(text) - len, "%s = %s\n",
					policy_key_name(k), value);
	}
	FUZZ_ASSERT(policy_parse_text("canonical", text, len, &again, &err) == 0,
		    "the canonical text does not parse: %s\n%s", err.msg, text);
	assert_values(&again, v, "canonical text");
}

static void check_edit(const uint8_t *data, size_t size, const struct policy_values *before)
{
	const struct policy_level level = {.kind = POLICY_LEVEL_DEFAULT};
	enum policy_key key = (enum policy_key)(size % POLICY_KEY_COUNT);
	struct policy_values want = *before, got;
	char value[64], assignment[96];
	const char *assignments[] = {assignment};
	const char *keys[] = {policy_key_name(key)};
	sbx_error err = {0};
	size_t removed = 0, len = 0;

	make_dir();
	write_file(data, size);
	policy_format_value(key, policy_builtin(key), value, sizeof(value));
	snprintf(assignment, sizeof(assignment), "%s=%s", policy_key_name(key), value);
	FUZZ_ASSERT(policy_set(dir, &level, assignments, 1, &err) == 0, "policy_set %s: %s",
		    assignment, err.msg);
	want.set[key] = true;
	want.value[key] = policy_builtin(key);
	FUZZ_ASSERT(policy_file_load(path, &got, &err) == 0, "after set %s: %s", assignment,
		    err.msg);
	assert_values(&got, &want, "after policy_set");

	FUZZ_ASSERT(policy_unset(dir, &level, keys, 1, &removed, &err) == 0, "policy_unset %s: %s",
		    keys[0], err.msg);
	FUZZ_ASSERT(removed == 1, "policy_unset %s removed %zu", keys[0], removed);
	want.set[key] = false;
	want.value[key] = 0;
	char *text = read_text(&len);
	if (text) {
		FUZZ_ASSERT(policy_file_load(path, &got, &err) == 0, "after unset: %s", err.msg);
		assert_values(&got, &want, "after policy_unset");
	}
	if (!before->set[key]) {
		/* Every line kept as it was, each ending in a newline; nothing left but blanks is
		 * no file at all. */
		bool blank = true;
		for (size_t i = 0; i < size; i++)
			blank &=
			    data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n';
		if (blank && size > 0)
			FUZZ_ASSERT(!text, "a blank file is removed");
		if (!blank) {
			bool newline = size > 0 && data[size - 1] == '\n';
			FUZZ_ASSERT(text && len == size + !newline &&
					memcmp(text, data, size) == 0 &&
					(newline || text[size] == '\n'),
				    "set then unset of %s changed the file:\n---\n%.*s---\n%s",
				    keys[0], (int)size, (const char *)data, text ? text : "(none)");
		}
	}
	free(text);
	unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy_values v;
	sbx_error err = {0};
	int r = policy_parse_text("fuzz.conf", (const char *)data, size, &v, &err);

	if (r < 0) {
		FUZZ_ASSERT(r == -EINVAL && err.code == EINVAL, "returned %d", r);
		FUZZ_ASSERT(strncmp(err.msg, "fuzz.conf:", 10) == 0, "no file name in '%s'",
			    err.msg);
		return 0;
	}
	check_canonical(&v);
	check_edit(data, size, &v);
	return 0;
}
