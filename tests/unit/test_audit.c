/* The audit trail: SHA-256, JSON encoding, the hash chain and its verifier, rotation, flood
 * control and the disk guard, using the real writer on temporary files (journal off). */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/audit.h"
#include "common/audit_record.h"
#include "common/cleanup.h"
#include "common/sha256.h"

static void test_sha256_vectors(void **state)
{
	char hex[SHA256_HEX_SIZE];
	sha256_hex("", 0, hex);
	assert_string_equal(hex,
			    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	sha256_hex("abc", 3, hex);
	assert_string_equal(hex,
			    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	sha256_hex(m448, strlen(m448), hex);
	assert_string_equal(hex,
			    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");

	/* A million 'a', fed in uneven pieces so that block boundaries fall everywhere. */
	struct sha256_ctx ctx;
	uint8_t d[SHA256_DIGEST_SIZE];
	char chunk[1000];
	memset(chunk, 'a', sizeof(chunk));
	sha256_init(&ctx);
	size_t left = 1000000, step = 1;
	while (left) {
		size_t n = step < left ? step : left;
		if (n > sizeof(chunk))
			n = sizeof(chunk);
		sha256_update(&ctx, chunk, n);
		left -= n;
		step = step % 997 + 13;
	}
	sha256_final(&ctx, d);
	for (int i = 0; i < SHA256_DIGEST_SIZE; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	assert_string_equal(hex,
			    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");

	/* 55, 56 and 64 bytes: the padding edge cases. */
	sha256_hex("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 55, hex);
	assert_string_equal(hex,
			    "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
	sha256_hex("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 56, hex);
	assert_string_equal(hex,
			    "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
	sha256_hex("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 64, hex);
	assert_string_equal(hex,
			    "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

static char *escape_json(const char *s, size_t len)
{
	struct audit_buf b = {0};
	assert_int_equal(audit_json_escape(&b, s, len), 0);
	return b.data;
}

static void test_json_escaping(void **state)
{
	_cleanup_free_ char *a = escape_json("say \"hi\"\\\n\t\r\b\f", 14);
	assert_string_equal(a, "\"say \\\"hi\\\"\\\\\\n\\t\\r\\b\\f\"");
	_cleanup_free_ char *b = escape_json("\x1b[2J\x01\x7f", 6);
	assert_string_equal(b, "\"\\u001b[2J\\u0001\\u007f\"");
	/* Valid UTF-8 becomes \u escapes (a C1 CSI too); an emoji a surrogate pair. */
	_cleanup_free_ char *c = escape_json("\xc3\xa9\xc2\x9b\xf0\x9f\x98\x80", 8);
	assert_string_equal(c, "\"\\u00e9\\u009b\\ud83d\\ude00\"");
	/* Invalid UTF-8 (a lone continuation, an overlong "/", a surrogate, a cut sequence) keeps
	 * its bytes as lone \udcXX. */
	_cleanup_free_ char *d = escape_json("\x80\xc0\xaf\xed\xa0\x80\xe2\x82", 8);
	assert_string_equal(d, "\"\\udc80\\udcc0\\udcaf\\udced\\udca0\\udc80\\udce2\\udc82\"");
	for (const char *p = d; *p; p++)
		assert_true(*p >= 0x20 && *p < 0x7f);
}

static void test_json_round_trip(void **state)
{
	const char value[] = "a\"b\\c\nd\x1b[2J\xc3\xa9\xff\xf0\x9f\x98\x80\x80z";
	struct audit_field f[] = {{"SANDBOX_PATH", value}, {"SANDBOX_USER", "alice"}};
	struct audit_buf line = {0};
	char hash[SHA256_HEX_SIZE];
	assert_int_equal(audit_record_encode(&line, 7, "2024-05-01T12:00:00.000001Z",
					     audit_event_info(AUDIT_FILE_OP), f, 2,
					     AUDIT_GENESIS_PREV, hash),
			 0);
	struct audit_record rec;
	assert_int_equal(audit_record_parse(line.data, line.len - 1, &rec), 0);
	assert_int_equal(rec.seq, 7);
	assert_string_equal(rec.event, "file-op");
	assert_string_equal(rec.message_id, "744800769c1d43c182b5b402baae177c");
	assert_string_equal(rec.hash, hash);
	const struct audit_kv *kv = audit_record_field(&rec, "SANDBOX_PATH");
	assert_non_null(kv);
	assert_int_equal(kv->value_len, sizeof(value) - 1);
	assert_memory_equal(kv->value, value, sizeof(value) - 1);
	assert_string_equal(audit_record_field(&rec, "SANDBOX_USER")->value, "alice");
	audit_record_free(&rec);
	audit_buf_free(&line);
}

static void test_record_encoding_is_canonical(void **state)
{
	struct audit_field f[] = {
	    {"SANDBOX_USER", "alice"}, {"SANDBOX_SKIPPED", NULL}, {"SANDBOX_KIND", "shell"}};
	struct audit_buf line = {0};
	char hash[SHA256_HEX_SIZE], body_hash[SHA256_HEX_SIZE];
	assert_int_equal(audit_record_encode(&line, 1, "2024-05-01T12:00:00.000000Z",
					     audit_event_info(AUDIT_EXEC), f, 3, AUDIT_GENESIS_PREV,
					     hash),
			 0);
	const char body[] =
	    "{\"seq\":1,\"time\":\"2024-05-01T12:00:00.000000Z\",\"event\":\"exec\","
	    "\"message_id\":\"901bd4f481f546f084569ede2a606f7f\",\"fields\":{"
	    "\"SANDBOX_USER\":\"alice\",\"SANDBOX_KIND\":\"shell\"},\"prev\":\"" AUDIT_GENESIS_PREV
	    "\"}";
	sha256_hex(body, sizeof(body) - 1, body_hash);
	assert_string_equal(hash, body_hash);
	char expect[1024];
	snprintf(expect, sizeof(expect), "%.*s,\"hash\":\"%s\"}\n", (int)(sizeof(body) - 2), body,
		 hash);
	assert_string_equal(line.data, expect);

	char computed[SHA256_HEX_SIZE], claimed[SHA256_HEX_SIZE];
	assert_int_equal(audit_line_hash(line.data, line.len - 1, computed, claimed), 0);
	assert_string_equal(computed, hash);
	assert_string_equal(claimed, hash);

	/* Keys must be journal field names of ours. */
	struct audit_field bad[] = {{"user", "x"}};
	assert_int_equal(audit_record_encode(&line, 1, "t", audit_event_info(AUDIT_EXEC), bad, 1,
					     AUDIT_GENESIS_PREV, hash),
			 -EINVAL);
	audit_buf_free(&line);
}

/* A chain of n lines in memory, first prev given. */
static char **make_chain(size_t n, const char *first_prev, uint64_t first_seq)
{
	char **lines = calloc(n + 1, sizeof(*lines));
	char prev[AUDIT_PREV_SIZE];
	snprintf(prev, sizeof(prev), "%s", first_prev);
	for (size_t i = 0; i < n; i++) {
		char num[16], hash[SHA256_HEX_SIZE];
		snprintf(num, sizeof(num), "%zu", i);
		struct audit_field f[] = {{"SANDBOX_USER", "alice"}, {"SANDBOX_BYTES", num}};
		struct audit_buf b = {0};
		assert_int_equal(
		    audit_record_encode(&b, first_seq + i, "2024-05-01T12:00:00.000000Z",
					audit_event_info(AUDIT_FILE_OP), f, 2, prev, hash),
		    0);
		b.data[--b.len] = '\0'; /* lines are verified without their "\n" */
		lines[i] = b.data;
		snprintf(prev, sizeof(prev), "%s", hash);
	}
	return lines;
}

static void free_chain(char **lines)
{
	for (char **p = lines; *p; p++)
		free(*p);
	free(lines);
}

/* Verifies lines[order[0]], lines[order[1]]...; returns the message of the first failure ("" if
 * none). */
static const char *verify(char **lines, const int *order, size_t n, uint64_t *ret_records)
{
	static char msg[256];
	struct audit_verifier v;
	audit_verifier_init(&v);
	msg[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const char *l = lines[order[i]];
		if (audit_verify_line(&v, l, strlen(l), msg, sizeof(msg)) < 0)
			break;
	}
	if (ret_records)
		*ret_records = v.records;
	return msg;
}

static void test_verify_intact_edited_deleted_reordered(void **state)
{
	char **lines = make_chain(20, AUDIT_GENESIS_PREV, 1);
	int order[20];
	uint64_t records;
	for (int i = 0; i < 20; i++)
		order[i] = i;
	assert_string_equal(verify(lines, order, 20, &records), "");
	assert_int_equal(records, 20);

	/* Deleted line 5: line 5 is now the old line 6. */
	int deleted[19];
	for (int i = 0, k = 0; i < 20; i++)
		if (i != 4)
			deleted[k++] = i;
	assert_string_equal(verify(lines, deleted, 19, NULL),
			    "line 5: chain broken: prev does not match line 4");

	/* Reordered lines 3 and 4. */
	int swapped[20];
	memcpy(swapped, order, sizeof(order));
	swapped[2] = 3;
	swapped[3] = 2;
	assert_string_equal(verify(lines, swapped, 20, NULL),
			    "line 3: chain broken: prev does not match line 2");

	/* Deleted first line. */
	assert_string_equal(verify(lines, order + 1, 19, NULL),
			    "line 1: chain broken: the first record does not start a chain (lines "
			    "before it removed?)");

	/* Edited line 17: a field changed, hash left alone. */
	char *p = strstr(lines[16], "\"16\"");
	assert_non_null(p);
	p[1] = '9';
	assert_string_equal(verify(lines, order, 20, NULL),
			    "line 17: hash mismatch (record edited?)");
	p[1] = '1';

	/* Garbage. */
	char *saved = lines[11];
	lines[11] = strdup("{\"seq\":12,");
	assert_string_equal(verify(lines, order, 20, NULL),
			    "line 12: not a valid record (truncated or edited?)");
	free(lines[11]);
	lines[11] = saved;

	/* Edited line 9 with its own hash recomputed: the next line's prev gives it away. */
	char *q = strstr(lines[8], "\"8\"");
	q[1] = '7';
	char computed[SHA256_HEX_SIZE], claimed[SHA256_HEX_SIZE];
	assert_int_equal(audit_line_hash(lines[8], strlen(lines[8]), computed, claimed), 0);
	memcpy(strstr(lines[8], claimed), computed, SHA256_HEX_SIZE - 1);
	assert_string_equal(verify(lines, order, 20, NULL),
			    "line 10: chain broken: prev does not match line 9");

	free_chain(lines);
}

static void test_verify_rotation_segments(void **state)
{
	char **a = make_chain(5, AUDIT_GENESIS_PREV, 1);
	char computed[SHA256_HEX_SIZE], last[SHA256_HEX_SIZE];
	assert_int_equal(audit_line_hash(a[4], strlen(a[4]), computed, last), 0);
	char rotated[AUDIT_PREV_SIZE];
	snprintf(rotated, sizeof(rotated), "rotated:%s", last);
	char **b = make_chain(5, rotated, 6);
	int order[5] = {0, 1, 2, 3, 4};
	uint64_t records;

	/* A file that starts a segment after a rotation verifies on its own... */
	assert_string_equal(verify(b, order, 5, &records), "");
	assert_int_equal(records, 5);

	/* ...and links to the file before it. */
	struct audit_verifier v;
	char msg[256] = "";
	audit_verifier_init(&v);
	for (int i = 0; i < 5; i++)
		assert_int_equal(audit_verify_line(&v, a[i], strlen(a[i]), msg, sizeof(msg)), 0);
	audit_verifier_next_file(&v);
	for (int i = 0; i < 5; i++)
		assert_int_equal(audit_verify_line(&v, b[i], strlen(b[i]), msg, sizeof(msg)), 0);
	assert_int_equal(v.records, 10);

	/* A file that does not continue the previous one is named. */
	audit_verifier_init(&v);
	for (int i = 0; i < 4; i++)
		assert_int_equal(audit_verify_line(&v, a[i], strlen(a[i]), msg, sizeof(msg)), 0);
	audit_verifier_next_file(&v);
	assert_int_not_equal(audit_verify_line(&v, b[0], strlen(b[0]), msg, sizeof(msg)), 0);
	assert_non_null(strstr(msg, "line 1: chain broken: does not continue the previous file"));

	/* "rotated:" in the middle of a file is a break, not a segment start. */
	char **c = make_chain(3, rotated, 6);
	char *mixed[] = {a[0], a[1], c[0], NULL};
	assert_string_equal(verify(mixed, order, 3, NULL),
			    "line 3: chain broken: prev does not match line 2");
	free_chain(a);
	free_chain(b);
	free_chain(c);
}

/* Found by tests/fuzz/fuzz_audit_record (LeakSanitizer): a record that parses but does not end
 * in its hash member is refused without keeping what it parsed. */
static void test_verify_refuses_hash_not_last(void **state)
{
	const char line[] = "{\"seq\":1,\"hash\":\"h\",\"time\":\"t\",\"event\":\"e\","
			    "\"message_id\":\"m\",\"fields\":{},\"prev\":\"p\"}";
	struct audit_record r;
	struct audit_verifier v;
	char msg[256] = "";

	assert_int_equal(audit_record_parse(line, strlen(line), &r), 0);
	audit_record_free(&r);
	audit_verifier_init(&v);
	assert_int_equal(audit_verify_line(&v, line, strlen(line), msg, sizeof(msg)), -EBADMSG);
	assert_string_equal(msg, "line 1: not a valid record (truncated or edited?)");
}

static void test_bucket(void **state)
{
	struct audit_bucket b;
	uint64_t t = 1000000000;
	audit_bucket_init(&b, 50, t);
	int taken = 0;
	for (int i = 0; i < 200; i++)
		taken += audit_bucket_take(&b, 20, 50, t);
	assert_int_equal(taken, 50);
	/* 20 a second refill; never more than the burst. */
	taken = 0;
	for (int i = 0; i < 200; i++)
		taken += audit_bucket_take(&b, 20, 50, t + 1000000);
	assert_int_equal(taken, 20);
	taken = 0;
	for (int i = 0; i < 200; i++)
		taken += audit_bucket_take(&b, 20, 50, t + 3600000000ULL);
	assert_int_equal(taken, 50);
}

static void test_time_formats(void **state)
{
	char s[AUDIT_TIME_SIZE];
	uint64_t t;
	audit_format_time(1714564800123456ULL, s);
	assert_string_equal(s, "2024-05-01T12:00:00.123456Z");
	assert_int_equal(audit_parse_iso_time(s, &t), 0);
	assert_int_equal(t, 1714564800123456ULL);
	assert_int_equal(audit_parse_iso_time("2024-05-01T12:00Z", &t), 0);
	assert_int_equal(t, 1714564800000000ULL);
	assert_int_equal(audit_parse_time_spec("-1h", 1714564800000000ULL, &t), 0);
	assert_int_equal(t, 1714561200000000ULL);
	assert_int_equal(audit_parse_time_spec("-30m", 1714564800000000ULL, &t), 0);
	assert_int_equal(t, 1714563000000000ULL);
	assert_int_equal(audit_parse_time_spec("today", 1714564800000000ULL, &t), 0);
	assert_true(t <= 1714564800000000ULL && t > 1714564800000000ULL - 86400000000ULL);
	uint64_t y;
	assert_int_equal(audit_parse_time_spec("yesterday", 1714564800000000ULL, &y), 0);
	assert_true(y < t);
	assert_int_equal(audit_parse_time_spec("-1x", 1714564800000000ULL, &t), -EINVAL);
	assert_int_equal(audit_parse_time_spec("2024-13-01", 1714564800000000ULL, &t), -EINVAL);
	assert_int_equal(audit_parse_time_spec("soon", 1714564800000000ULL, &t), -EINVAL);
}

static void test_human_values_cannot_fake_fields(void **state)
{
	struct audit_buf b = {0};
	const char v[] = "x\" user=bob\n\x1b[2J";
	assert_int_equal(audit_format_value(&b, v, sizeof(v) - 1), 0);
	assert_string_equal(b.data, "\"x\\x22 user=bob\\x0a\\x1b[2J\"");
	b.len = 0;
	assert_int_equal(audit_format_value(&b, "", 0), 0);
	assert_string_equal(b.data, "\"\"");
	b.len = 0;
	assert_int_equal(audit_format_value(&b, "hw1.py", 6), 0);
	assert_string_equal(b.data, "hw1.py");
	audit_buf_free(&b);
	char name[32];
	audit_field_short_name("SANDBOX_PEAK_MEMORY", name, sizeof(name));
	assert_string_equal(name, "peak_memory");
}

static void test_event_table(void **state)
{
	for (int e = 0; e < AUDIT_EVENT_COUNT; e++) {
		const struct audit_event_info *ev = audit_event_info((enum audit_event)e);
		assert_non_null(ev);
		assert_int_equal(ev->event, e);
		assert_int_equal(strlen(ev->message_id), 32);
		assert_ptr_equal(audit_event_by_name(ev->name), ev);
		assert_ptr_equal(audit_event_by_message_id(ev->message_id), ev);
		for (const char *const *f = ev->fields; *f; f++)
			assert_true(audit_field_key_valid(*f));
		for (int o = 0; o < e; o++)
			assert_string_not_equal(audit_event_info((enum audit_event)o)->message_id,
						ev->message_id);
	}
	assert_true(audit_event_info(AUDIT_RUNNER_REPORT)->untrusted);
	assert_false(audit_event_info(AUDIT_EXEC)->untrusted);
	assert_false(audit_field_key_valid("SANDBOX_"));
	assert_false(audit_field_key_valid("SANDBOX_a"));
	assert_false(audit_field_key_valid("MESSAGE"));
}

/* docs/audit-events.md documents every event, with its MESSAGE_ID and fields. */
static void test_docs_name_every_event(void **state)
{
	const char *srcdir = getenv("top_srcdir");
	char path[4096];
	snprintf(path, sizeof(path), "%s/docs/audit-events.md", srcdir ? srcdir : ".");
	FILE *f = fopen(path, "re");
	assert_non_null(f);
	static char doc[256 * 1024];
	size_t n = fread(doc, 1, sizeof(doc) - 1, f);
	doc[n] = '\0';
	fclose(f);
	for (int e = 0; e < AUDIT_EVENT_COUNT; e++) {
		const struct audit_event_info *ev = audit_event_info((enum audit_event)e);
		char heading[128];
		snprintf(heading, sizeof(heading), "### %s", ev->name);
		assert_non_null(strstr(doc, heading));
		assert_non_null(strstr(doc, ev->message_id));
		for (const char *const *k = ev->fields; *k; k++)
			assert_non_null(strstr(doc, *k));
	}
}

/* ---- the writer on real files ---- */

static char tmpdir[] = "/tmp/test_audit.XXXXXX";

static int setup_dir(void **state)
{
	strcpy(tmpdir, "/tmp/test_audit.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Verifies a file; returns records or -1 and leaves the message in msg. */
static long verify_file(const char *path, struct audit_verifier *v, char *msg, size_t size)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	long r = 0;
	while ((len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (audit_verify_line(v, line, (size_t)len, msg, size) < 0) {
			r = -1;
			break;
		}
	}
	free(line);
	fclose(f);
	return r < 0 ? r : (long)v->records;
}

static long count_events(const char *path, const char *event, const char *count_field,
			 long *ret_count)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	long n = 0;
	if (ret_count)
		*ret_count = 0;
	assert_non_null(f);
	while ((len = getline(&line, &cap, f)) > 0) {
		struct audit_record rec;
		assert_int_equal(audit_record_parse(line, (size_t)len - 1, &rec), 0);
		if (strcmp(rec.event, event) == 0) {
			n++;
			const struct audit_kv *kv =
			    count_field ? audit_record_field(&rec, count_field) : NULL;
			if (kv && ret_count)
				*ret_count += atol(kv->value);
		}
		audit_record_free(&rec);
	}
	free(line);
	fclose(f);
	return n;
}

static void test_writer_chain_and_restart(void **state)
{
	char path[512], msg[256];
	snprintf(path, sizeof(path), "%s/sub/audit.jsonl", tmpdir);
	struct audit_sink_config cfg = {.file = path, .fsync = AUDIT_FSYNC_BATCH};
	struct audit *a;
	sbx_error err;
	assert_int_equal(audit_writer_open(&cfg, &a, &err), 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	for (int i = 0; i < 10; i++)
		assert_int_equal(audit_emitf(a, AUDIT_EXEC, "SANDBOX_USER", "alice", "SANDBOX_KIND",
					     "exec", "SANDBOX_COMMAND", "run hw1.py", NULL),
				 0);
	assert_int_equal(audit_emitf(a, AUDIT_EXEC, "bad key", "x", NULL), -EINVAL);
	audit_writer_close(a);
	/* A restarted daemon continues the chain from the last line. */
	assert_int_equal(audit_writer_open(&cfg, &a, &err), 0);
	assert_int_equal(audit_emitf(a, AUDIT_DAEMON_START, "SANDBOX_PID", "1", NULL), 0);
	audit_writer_close(a);
	struct audit_verifier v;
	audit_verifier_init(&v);
	assert_int_equal(verify_file(path, &v, msg, sizeof(msg)), 11);
	assert_int_equal(v.last_seq, 11);
	assert_string_equal(v.first_prev, AUDIT_GENESIS_PREV);
}

static void test_writer_rotation(void **state)
{
	char path[512], old[512], msg[256];
	snprintf(path, sizeof(path), "%s/rot.jsonl", tmpdir);
	snprintf(old, sizeof(old), "%s/rot.jsonl.1", tmpdir);
	struct audit_sink_config cfg = {.file = path};
	struct audit *a, *b;
	sbx_error err;
	assert_int_equal(audit_writer_open(&cfg, &a, &err), 0);
	assert_int_equal(audit_writer_open(&cfg, &b, &err), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(audit_emitf(a, AUDIT_DAEMON_RELOAD, "SANDBOX_PID", "1", NULL), 0);
		assert_int_equal(audit_emitf(b, AUDIT_EXEC, "SANDBOX_USER", "bob", NULL), 0);
	}
	/* logrotate's "create": rename, new file, SIGHUP to the daemon (a). */
	assert_int_equal(rename(path, old), 0);
	assert_int_equal(audit_reopen(a, &err), 0);
	assert_int_equal(audit_emitf(a, AUDIT_DAEMON_RELOAD, "SANDBOX_PID", "1", NULL), 0);
	/* b got no signal and still notices. */
	assert_int_equal(audit_emitf(b, AUDIT_EXEC, "SANDBOX_USER", "bob", NULL), 0);
	/* A second rotation that only b sees first. */
	char older[512];
	snprintf(older, sizeof(older), "%s/rot.jsonl.2", tmpdir);
	assert_int_equal(rename(old, older), 0);
	assert_int_equal(rename(path, old), 0);
	assert_int_equal(audit_emitf(b, AUDIT_EXEC, "SANDBOX_USER", "bob", NULL), 0);
	assert_int_equal(audit_emitf(a, AUDIT_DAEMON_RELOAD, "SANDBOX_PID", "1", NULL), 0);
	audit_writer_close(a);
	audit_writer_close(b);

	struct audit_verifier v;
	audit_verifier_init(&v);
	assert_int_equal(verify_file(older, &v, msg, sizeof(msg)), 6);
	audit_verifier_next_file(&v);
	assert_int_equal(verify_file(old, &v, msg, sizeof(msg)), 8);
	assert_int_equal(strncmp(v.first_prev, "rotated:", 8), 0);
	audit_verifier_next_file(&v);
	assert_int_equal(verify_file(path, &v, msg, sizeof(msg)), 10);
	assert_int_equal(v.last_seq, 10);

	/* copytruncate: the file shrinks under the writer. */
	assert_int_equal(audit_writer_open(&cfg, &a, &err), 0);
	assert_int_equal(audit_emitf(a, AUDIT_DAEMON_RELOAD, "SANDBOX_PID", "1", NULL), 0);
	assert_int_equal(truncate(path, 0), 0);
	assert_int_equal(audit_emitf(a, AUDIT_DAEMON_RELOAD, "SANDBOX_PID", "1", NULL), 0);
	audit_writer_close(a);
	audit_verifier_init(&v);
	assert_int_equal(verify_file(path, &v, msg, sizeof(msg)), 1);
	assert_int_equal(strncmp(v.first_prev, "rotated:", 8), 0);
	assert_int_equal(v.last_seq, 12);
}

static void test_writer_flood_is_summarised(void **state)
{
	char path[512], msg[256];
	snprintf(path, sizeof(path), "%s/flood.jsonl", tmpdir);
	struct audit_sink_config cfg = {.file = path, .min_free_percent = -1};
	struct audit *a;
	sbx_error err;
	assert_int_equal(audit_writer_open(&cfg, &a, &err), 0);
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(audit_emitf(a, AUDIT_RUNNER_REPORT, "SANDBOX_USER", "mallory",
					     "SANDBOX_SESSION", "s1", "SANDBOX_REPORT",
					     "denied socket.connect", NULL),
				 0);
		if (i % 100 == 0) /* other students and trusted records are not pushed out */
			assert_int_equal(audit_emitf(a, AUDIT_RUNNER_REPORT, "SANDBOX_USER",
						     "alice", "SANDBOX_SESSION", "s2",
						     "SANDBOX_REPORT", "denied open", NULL),
					 0);
		if (i % 50 == 0)
			assert_int_equal(audit_emitf(a, AUDIT_EXEC, "SANDBOX_USER", "mallory",
						     "SANDBOX_SESSION", "s1", NULL),
					 0);
	}
	audit_session_end(a, "s1");
	struct audit_stats st;
	audit_get_stats(a, &st);
	audit_writer_close(a);
	long count;
	/* 1000 in far less than a second: the burst of 50 (plus what refilled) gets through. */
	long reports = count_events(path, "runner-report", NULL, NULL);
	assert_true(reports >= 60 && reports < 120);
	assert_int_equal(count_events(path, "exec", NULL, NULL), 20);
	assert_int_equal(count_events(path, "events-suppressed", "SANDBOX_COUNT", &count), 1);
	assert_int_equal(count, 1000 - (reports - 10));
	assert_int_equal((long)st.suppressed, count);
	struct audit_verifier v;
	audit_verifier_init(&v);
	assert_true(verify_file(path, &v, msg, sizeof(msg)) > 0);
}

static void test_writer_disk_guard_drops_only_untrusted(void **state)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/disk.jsonl", tmpdir);
	/* 100% free is never true: the guard is always on. */
	struct audit_sink_config cfg = {.file = path, .min_free_percent = 100};
	struct audit *a;
	sbx_error err;
	assert_int_equal(audit_writer_open(&cfg, &a, &err), 0);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(audit_emitf(a, AUDIT_RUNNER_REPORT, "SANDBOX_SESSION", "s1",
					     "SANDBOX_REPORT", "x", NULL),
				 0);
		assert_int_equal(audit_emitf(a, AUDIT_LIMIT_HIT, "SANDBOX_SESSION", "s1",
					     "SANDBOX_LIMIT", "oom", NULL),
				 0);
	}
	audit_writer_close(a);
	long count;
	assert_int_equal(count_events(path, "runner-report", NULL, NULL), 0);
	assert_int_equal(count_events(path, "limit-hit", NULL, NULL), 10);
	assert_int_equal(count_events(path, "events-suppressed", "SANDBOX_COUNT", &count), 1);
	assert_int_equal(count, 10);
}

static void test_writer_cuts_long_values(void **state)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/long.jsonl", tmpdir);
	struct audit_sink_config cfg = {.file = path};
	struct audit *a;
	sbx_error err;
	char *big = malloc(100000);
	memset(big, 'x', 99999);
	big[99999] = '\0';
	assert_int_equal(audit_writer_open(&cfg, &a, &err), 0);
	assert_int_equal(audit_emitf(a, AUDIT_FILE_OP, "SANDBOX_PATH", big, NULL), 0);
	audit_writer_close(a);
	free(big);
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len = getline(&line, &cap, f);
	fclose(f);
	struct audit_record rec;
	assert_int_equal(audit_record_parse(line, (size_t)len - 1, &rec), 0);
	assert_int_equal(audit_record_field(&rec, "SANDBOX_PATH")->value_len, AUDIT_VALUE_MAX);
	assert_string_equal(audit_record_field(&rec, "SANDBOX_TRUNCATED")->value, "1");
	audit_record_free(&rec);
	free(line);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sha256_vectors),
	    cmocka_unit_test(test_json_escaping),
	    cmocka_unit_test(test_json_round_trip),
	    cmocka_unit_test(test_record_encoding_is_canonical),
	    cmocka_unit_test(test_verify_intact_edited_deleted_reordered),
	    cmocka_unit_test(test_verify_rotation_segments),
	    cmocka_unit_test(test_verify_refuses_hash_not_last),
	    cmocka_unit_test(test_bucket),
	    cmocka_unit_test(test_time_formats),
	    cmocka_unit_test(test_human_values_cannot_fake_fields),
	    cmocka_unit_test(test_event_table),
	    cmocka_unit_test(test_docs_name_every_event),
	    cmocka_unit_test_setup_teardown(test_writer_chain_and_restart, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_writer_rotation, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_writer_flood_is_summarised, setup_dir,
					    teardown_dir),
	    cmocka_unit_test_setup_teardown(test_writer_disk_guard_drops_only_untrusted, setup_dir,
					    teardown_dir),
	    cmocka_unit_test_setup_teardown(test_writer_cuts_long_values, setup_dir, teardown_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
