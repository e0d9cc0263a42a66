/* Session recordings: the asciicast v2 writer, and sandboxctl replay reading what it wrote. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/asciicast.h"
#include "common/cleanup.h"
#include "sshd-module/recording.h"

static char dir[64];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/test_recording.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct recording_params params(const char *session)
{
	return (struct recording_params){.dir = dir,
					 .session_id = session,
					 .channel = 0,
					 .cols = 80,
					 .rows = 24,
					 .term = "xterm-256color",
					 .user = "alice",
					 .started_unix = 1700000000,
					 .max_bytes = 0};
}

static struct recording *open_rec(const char *session, uint64_t max_bytes)
{
	struct recording_params p = params(session);
	struct recording *rec = NULL;
	sbx_error err = {0};
	p.max_bytes = max_bytes;
	int r = recording_open(&p, &rec, &err);
	if (r < 0)
		fail_msg("recording_open: %s", err.msg);
	return rec;
}

/* The file's lines (NULL-terminated array, caller frees). */
static char **read_lines(const char *session, unsigned channel, size_t *n_ret, off_t *size)
{
	char path[256], *line = NULL;
	size_t cap = 0, n = 0;
	ssize_t len;
	char **lines = calloc(4096, sizeof(char *));
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s-%u.cast", dir, session, channel);
	FILE *f = fopen(path, "re");
	assert_non_null(f);
	assert_int_equal(fstat(fileno(f), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	if (size)
		*size = st.st_size;
	while ((len = getline(&line, &cap, f)) >= 0 && n < 4095) {
		assert_true(len > 0 && line[len - 1] == '\n');
		line[len - 1] = '\0';
		lines[n++] = strdup(line);
	}
	free(line);
	fclose(f);
	*n_ret = n;
	return lines;
}

static void free_lines(char **lines)
{
	for (size_t i = 0; lines[i]; i++)
		free(lines[i]);
	free(lines);
}

/* Event line I parsed back: checks the code and returns the data. */
static char *event_data(const char *line, const char *code, size_t *len)
{
	struct asciicast_event ev;
	sbx_error err = {0};
	if (asciicast_parse_event(line, strlen(line), &ev, &err) < 0)
		fail_msg("bad event line '%s': %s", line, err.msg);
	assert_string_equal(ev.code, code);
	assert_non_null(ev.data);
	if (len)
		*len = ev.len;
	return ev.data;
}

static void test_header(void **state)
{
	struct recording *rec = open_rec("hdr", 0);
	recording_close(rec);
	size_t n;
	char **lines = read_lines("hdr", 0, &n, NULL);
	assert_int_equal(n, 1);
	assert_string_equal(lines[0],
			    "{\"version\": 2, \"width\": 80, \"height\": 24, \"timestamp\": "
			    "1700000000, \"env\": {\"TERM\": \"xterm-256color\"}, "
			    "\"title\": \"alice session hdr\"}");
	unsigned w, h;
	assert_int_equal(asciicast_parse_header(lines[0], strlen(lines[0]), &w, &h, NULL), 0);
	assert_int_equal(w, 80);
	assert_int_equal(h, 24);
	free_lines(lines);

	/* A hostile TERM stays inside its JSON string. */
	struct recording_params p = params("hdr2");
	p.term = "x\"}, \"version\": 3\n\x1b";
	sbx_error err = {0};
	assert_int_equal(recording_open(&p, &rec, &err), 0);
	recording_close(rec);
	lines = read_lines("hdr2", 0, &n, NULL);
	assert_int_equal(n, 1);
	assert_non_null(
	    strstr(lines[0], "\"TERM\": \"x\\\"}, \\\"version\\\": 3\\u000a\\u001b\"}"));
	assert_int_equal(asciicast_parse_header(lines[0], strlen(lines[0]), &w, &h, NULL), 0);
	free_lines(lines);
}

static void test_output_input_resize_events(void **state)
{
	struct recording *rec = open_rec("ev", 0);
	assert_int_equal(recording_output(rec, "hello", 5), 0);
	assert_int_equal(recording_input(rec, "ls\r", 3), 0);
	assert_int_equal(recording_resize(rec, 132, 43), 0);
	assert_int_equal(recording_output(rec, "", 0), 0); /* nothing */
	recording_close(rec);
	size_t n;
	char **lines = read_lines("ev", 0, &n, NULL);
	assert_int_equal(n, 4);
	assert_memory_equal(lines[1], "[0.", 3);
	assert_string_equal(lines[1] + 9, ", \"o\", \"hello\"]");
	assert_string_equal(lines[2] + 9, ", \"i\", \"ls\\u000d\"]");
	assert_string_equal(lines[3] + 9, ", \"r\", \"132x43\"]");
	char *d = event_data(lines[2], "i", NULL);
	assert_string_equal(d, "ls\r");
	free(d);
	free_lines(lines);
}

static void test_utf8_split_across_calls(void **state)
{
	struct recording *rec = open_rec("utf8", 0);
	/* é (2 bytes) cut after its lead; € (3) cut 1+2; 😀 (4) cut 1+1+2. */
	assert_int_equal(recording_output(rec, "a\xc3", 2), 0);
	assert_int_equal(recording_output(rec,
					  "\xa9"
					  "b\xe2",
					  3),
			 0);
	assert_int_equal(recording_output(rec, "\x82\xac", 2), 0);
	assert_int_equal(recording_output(rec, "\xf0", 1), 0); /* no event: only a lead byte */
	assert_int_equal(recording_output(rec, "\x9f", 1), 0);
	assert_int_equal(recording_output(rec, "\x98\x80!", 3), 0);
	/* Input has its own state: an input lead byte does not swallow output. */
	assert_int_equal(recording_input(rec, "\xc3", 1), 0);
	assert_int_equal(recording_output(rec, "x", 1), 0);
	assert_int_equal(recording_input(rec, "\xb6", 1), 0);
	recording_close(rec);
	size_t n;
	char **lines = read_lines("utf8", 0, &n, NULL);
	const char *want[][2] = {{"o", "a"},
				 {"o", "\xc3\xa9"
				       "b"},
				 {"o", "\xe2\x82\xac"},
				 {"o", "\xf0\x9f\x98\x80!"},
				 {"o", "x"},
				 {"i", "\xc3\xb6"}};
	assert_int_equal(n, 1 + ELEMENTSOF(want));
	for (size_t i = 0; i < ELEMENTSOF(want); i++) {
		char *d = event_data(lines[i + 1], want[i][0], NULL);
		assert_string_equal(d, want[i][1]);
		free(d);
	}
	free_lines(lines);
}

static void test_invalid_utf8_is_replaced(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"\xff", "\xef\xbf\xbd"},
	    {"\xc3(", "\xef\xbf\xbd("},
	    {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"},		      /* overlong */
	    {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* surrogate */
	    {"\xe2\x82"
	     "A",
	     "\xef\xbf\xbd"
	     "A"}, /* cut short */
	    {"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
	    {"\x80z", "\xef\xbf\xbdz"},
	};
	struct recording *rec = open_rec("bad", 0);
	for (size_t i = 0; i < ELEMENTSOF(cases); i++)
		assert_int_equal(recording_output(rec, cases[i].in, strlen(cases[i].in)), 0);
	/* A pending lead byte followed by a bad byte in the next call. */
	assert_int_equal(recording_output(rec, "\xe2", 1), 0);
	assert_int_equal(recording_output(rec, "q", 1), 0);
	recording_close(rec);
	size_t n;
	char **lines = read_lines("bad", 0, &n, NULL);
	assert_int_equal(n, 1 + ELEMENTSOF(cases) + 1);
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		char *d = event_data(lines[i + 1], "o", NULL);
		assert_string_equal(d, cases[i].out);
		free(d);
	}
	char *d = event_data(lines[n - 1], "o", NULL);
	assert_string_equal(d, "\xef\xbf\xbdq");
	free(d);
	/* Every line is ASCII or valid UTF-8 made by us: no raw byte >= 0xf5 or C0/C1 junk. */
	for (size_t i = 0; i < n; i++)
		for (const unsigned char *p = (const unsigned char *)lines[i]; *p; p++)
			assert_true(*p >= 0x20 && *p != 0x7f && *p < 0xf5);
	free_lines(lines);
}

static void test_controls_and_quotes_are_escaped(void **state)
{
	struct recording *rec = open_rec("esc", 0);
	const char in[] = "\x1b[1m\"q\"\\\n\t\x7f\0end";
	assert_int_equal(recording_output(rec, in, sizeof(in) - 1), 0);
	recording_close(rec);
	size_t n, len;
	char **lines = read_lines("esc", 0, &n, NULL);
	assert_int_equal(n, 2);
	assert_string_equal(lines[1] + 9, ", \"o\", \"\\u001b[1m\\\"q\\\"\\\\\\u000a\\u0009\\u007f"
					  "\\u0000end\"]");
	char *d = event_data(lines[1], "o", &len);
	assert_int_equal(len, sizeof(in) - 1);
	assert_memory_equal(d, in, len);
	free(d);
	free_lines(lines);
}

static void test_size_cap(void **state)
{
	const uint64_t cap = 4096;
	char chunk[100];
	memset(chunk, 'x', sizeof(chunk));
	struct recording *rec = open_rec("cap", cap);
	for (int i = 0; i < 200; i++)
		assert_int_equal(recording_output(rec, chunk, sizeof(chunk)), 0);
	assert_true(recording_stopped(rec));
	assert_int_equal(recording_input(rec, "y", 1), 0);
	assert_int_equal(recording_resize(rec, 1, 1), 0);
	recording_close(rec);

	size_t n;
	off_t size;
	char **lines = read_lines("cap", 0, &n, &size);
	size_t markers = 0, last_len = strlen(lines[n - 1]) + 1;
	for (size_t i = 1; i < n; i++) {
		char *d = event_data(lines[i], "o", NULL);
		if (strcmp(d, RECORDING_STOPPED_MARKER) == 0)
			markers++;
		free(d);
	}
	assert_int_equal(markers, 1);
	char *d = event_data(lines[n - 1], "o", NULL);
	assert_string_equal(d, RECORDING_STOPPED_MARKER);
	free(d);
	assert_true((uint64_t)size <= cap + last_len);
	assert_true((uint64_t)size - last_len <= cap);
	assert_true(n > 10); /* it did record up to the cap */
	free_lines(lines);
}

static void test_existing_file_is_refused(void **state)
{
	struct recording_params p = params("dup");
	struct recording *rec = NULL, *rec2 = NULL;
	sbx_error err = {0};
	assert_int_equal(recording_open(&p, &rec, &err), 0);
	assert_int_equal(recording_open(&p, &rec2, &err), -EEXIST);
	assert_null(rec2);
	recording_close(rec);

	/* A symlink planted where the file goes is not followed. */
	char link[128];
	snprintf(link, sizeof(link), "%s/sym-0.cast", dir);
	assert_int_equal(symlink("/tmp/should-not-exist-recording", link), 0);
	p.session_id = "sym";
	assert_int_equal(recording_open(&p, &rec2, &err), -EEXIST);
	assert_int_equal(access("/tmp/should-not-exist-recording", F_OK), -1);

	p.session_id = "../x";
	assert_int_equal(recording_open(&p, &rec2, &err), -EINVAL);
	p.session_id = "a/b";
	assert_int_equal(recording_open(&p, &rec2, &err), -EINVAL);
}

static void test_write_error_is_returned(void **state)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* A file size limit makes write() fail with EFBIG once the cap is hit. */
		struct rlimit rl = {.rlim_cur = 1024, .rlim_max = 1024};
		signal(SIGXFSZ, SIG_IGN);
		setrlimit(RLIMIT_FSIZE, &rl);
		struct recording *rec = open_rec("efbig", 0);
		char chunk[100];
		int r = 0, i;
		memset(chunk, 'z', sizeof(chunk));
		for (i = 0; i < 100 && r == 0; i++)
			r = recording_output(rec, chunk, sizeof(chunk));
		if (r != -EFBIG || recording_output(rec, "a", 1) != -EFBIG)
			_exit(1);
		recording_close(rec);
		_exit(0);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* What is in the file is whole lines. */
	size_t n;
	char **lines = read_lines("efbig", 0, &n, NULL);
	assert_true(n >= 2);
	free_lines(lines);
}

/* Runs sandboxctl with ARGS, stdout to OUT_PATH; returns its exit status. */
static int run_sandboxctl(const char *const *args, const char *out_path)
{
	const char *top = getenv("top_builddir");
	char prog[512];
	snprintf(prog, sizeof(prog), "%s/sandboxctl", top ? top : ".");
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (fd < 0 || dup2(fd, 1) < 0 ||
		    (getenv("RECORDING_TEST_VERBOSE") == NULL && null >= 0 && dup2(null, 2) < 0))
			_exit(126);
		char *argv[16];
		size_t i = 0;
		argv[i++] = prog;
		for (; args[i - 1] && i < 15; i++)
			argv[i] = (char *)args[i - 1];
		argv[i] = NULL;
		execv(prog, argv);
		_exit(127);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_not_equal(WEXITSTATUS(status), 127);
	return WEXITSTATUS(status);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	assert_non_null(f);
	char *buf = malloc(1 << 20);
	*len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	return buf;
}

static void test_replay_round_trip(void **state)
{
	static const char *chunks[] = {"$ ls\r\n",
				       "\x1b[01;34mdir\x1b[0m  f\xc3",
				       "\xa9.py\r\n",
				       "\x1b]0;title\x07",
				       "quote \" back \\ nul ",
				       "\0",
				       "\r\n$ "};
	static const size_t lens[] = {6, 19, 6, 10, 19, 1, 4}; /* "\0" is one byte */
	char out[128], chan3[128];
	struct asciicast_buf all = {0};

	/* Channel 3 exists too: replay picks the lowest, 1. */
	struct recording_params p = params("rt");
	struct recording *rec;
	p.channel = 3;
	assert_int_equal(recording_open(&p, &rec, NULL), 0);
	assert_int_equal(recording_output(rec, "other channel", 13), 0);
	recording_close(rec);
	p.channel = 1;
	assert_int_equal(recording_open(&p, &rec, NULL), 0);
	for (size_t i = 0; i < ELEMENTSOF(chunks); i++) {
		assert_int_equal(strlen(chunks[i]) <= lens[i], 1);
		assert_int_equal(recording_output(rec, chunks[i], lens[i]), 0);
		assert_int_equal(recording_input(rec, "typed", 5), 0); /* not replayed */
		assert_int_equal(asciicast_buf_append(&all, chunks[i], lens[i]), 0);
	}
	assert_int_equal(recording_resize(rec, 100, 30), 0);
	recording_close(rec);

	snprintf(out, sizeof(out), "%s/out", dir);
	const char *args[] = {"replay", "rt", "--no-wait", "--dir", dir, NULL};
	assert_int_equal(run_sandboxctl(args, out), 0);
	size_t len;
	char *got = slurp(out, &len);
	assert_int_equal(len, all.len);
	assert_memory_equal(got, all.data, len);
	free(got);

	const char *args3[] = {"replay", "rt", "--channel", "3", "--no-wait", "--dir", dir, NULL};
	snprintf(chan3, sizeof(chan3), "%s/out3", dir);
	assert_int_equal(run_sandboxctl(args3, chan3), 0);
	got = slurp(chan3, &len);
	assert_int_equal(len, 13);
	assert_memory_equal(got, "other channel", 13);
	free(got);

	/* With waiting (short pauses here), the same bytes. */
	const char *argsw[] = {"replay", "rt", "--speed", "4", "--dir", dir, NULL};
	assert_int_equal(run_sandboxctl(argsw, out), 0);
	got = slurp(out, &len);
	assert_int_equal(len, all.len);
	assert_memory_equal(got, all.data, len);
	free(got);
	free(all.data);
}

static void test_replay_errors(void **state)
{
	char path[128], out[128];
	snprintf(out, sizeof(out), "%s/out", dir);
	snprintf(path, sizeof(path), "%s/broken-0.cast", dir);
	FILE *f = fopen(path, "we");
	assert_non_null(f);
	fputs("{\"version\": 2, \"width\": 80, \"height\": 24}\n[0.1, \"o\", \"ok\"]\n"
	      "[0.2, \"o\", \"unterminated]\n",
	      f);
	fclose(f);
	const char *broken[] = {"replay", "broken", "--no-wait", "--dir", dir, NULL};
	assert_int_equal(run_sandboxctl(broken, out), 1);

	const char *missing[] = {"replay", "nosuch", "--dir", dir, NULL};
	assert_int_equal(run_sandboxctl(missing, out), 1);
	const char *dotdot[] = {"replay", "..", "--dir", dir, NULL};
	assert_int_equal(run_sandboxctl(dotdot, out), 2);
	const char *slash[] = {"replay", "a/b", "--dir", dir, NULL};
	assert_int_equal(run_sandboxctl(slash, out), 2);
	const char *speed[] = {"replay", "broken", "--speed", "0", "--dir", dir, NULL};
	assert_int_equal(run_sandboxctl(speed, out), 2);
	const char *none[] = {"replay", NULL};
	assert_int_equal(run_sandboxctl(none, out), 2);
}

static void test_reader_rejects_bad_lines(void **state)
{
	static const char *bad[] = {
	    "",
	    "[",
	    "[1.0, \"o\"]",
	    "[1.0, \"o\", \"x\"] junk",
	    "[-1, \"o\", \"x\"]",
	    "[1.0, \"o\", \"a\x01\"]",
	    "[1.0, \"o\", \"\\q\"]",
	    "[01, \"o\", \"x\"]",
	    "{\"o\": 1}",
	};
	struct asciicast_event ev;
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		assert_int_equal(asciicast_parse_event(bad[i], strlen(bad[i]), &ev, NULL), -EINVAL);
	const char *ok = "[ 1.5e0 , \"o\" , \"\\ud83d\\ude00\\u00e9\\/\" ]";
	assert_int_equal(asciicast_parse_event(ok, strlen(ok), &ev, NULL), 0);
	assert_int_equal(ev.usec, 1500000);
	assert_string_equal(ev.data, "\xf0\x9f\x98\x80\xc3\xa9/");
	free(ev.data);
	unsigned w, h;
	const char *hdr = "{\"version\": 1}";
	assert_int_equal(asciicast_parse_header(hdr, strlen(hdr), &w, &h, NULL), -EINVAL);
	hdr = "{\"width\": 80, \"theme\": {\"fg\": [1, true, null]}, \"version\": 2}";
	assert_int_equal(asciicast_parse_header(hdr, strlen(hdr), &w, &h, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_header),
	    cmocka_unit_test(test_output_input_resize_events),
	    cmocka_unit_test(test_utf8_split_across_calls),
	    cmocka_unit_test(test_invalid_utf8_is_replaced),
	    cmocka_unit_test(test_controls_and_quotes_are_escaped),
	    cmocka_unit_test(test_size_cap),
	    cmocka_unit_test(test_existing_file_is_refused),
	    cmocka_unit_test(test_write_error_is_returned),
	    cmocka_unit_test(test_replay_round_trip),
	    cmocka_unit_test(test_replay_errors),
	    cmocka_unit_test(test_reader_rejects_bad_lines),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
