/* The audit trail's JSON lines: sandboxctl audit reads the trail file, so every line is input.
 *
 * - the input as trail lines: audit_record_parse and the chain verifier (an empty line starts
 *   the next file of a rotation); a parsed record encoded again parses to the same record;
 * - the input as a record to write (NUL-separated: time, then key suffix and value pairs):
 *   audit_record_encode writes one printable ASCII line that parses back to exactly the bytes
 *   given, carries the hash it returned, and verifies as the start of a chain followed by a
 *   second record;
 * - the input as --since/--until text, and audit_format_time read back by
 *   audit_parse_iso_time. */
#include "config.h"

#include "common/audit_record.h"
#include "tests/fuzz/fuzz.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#define YEAR_9999_END_USEC (253402300800ull * 1000000)

static bool printable(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

static bool has_nul(const char *s, size_t len)
{
	return memchr(s, '\0', len) != NULL;
}

static void assert_same_record(const struct audit_record *a, const struct audit_record *b)
{
	FUZZ_ASSERT(a->seq == b->seq && strcmp(a->time, b->time) == 0 &&
			strcmp(a->event, b->event) == 0 &&
			strcmp(a->message_id, b->message_id) == 0 && strcmp(a->prev, b->prev) == 0,
		    "header differs");
	FUZZ_ASSERT(a->n_fields == b->n_fields, "%zu fields, then %zu", a->n_fields, b->n_fields);
	for (size_t i = 0; i < a->n_fields; i++)
		FUZZ_ASSERT(
		    strcmp(a->fields[i].key, b->fields[i].key) == 0 &&
			a->fields[i].value_len == b->fields[i].value_len &&
			memcmp(a->fields[i].value, b->fields[i].value, a->fields[i].value_len) == 0,
		    "field %zu (%s) differs", i, a->fields[i].key);
}

/* Encodes R again (with its own event name and id) and parses the result. */
static void check_reencode(const struct audit_record *r)
{
	struct audit_event_info ev = {.name = r->event, .message_id = r->message_id};
	struct audit_field fields[AUDIT_FIELDS_MAX * 2];
	struct audit_buf out = {0};
	struct audit_record again;
	char hash[SHA256_HEX_SIZE];

	/* Values with a NUL inside cannot be written (the writer takes C strings). */
	for (size_t i = 0; i < r->n_fields; i++) {
		if (has_nul(r->fields[i].value, r->fields[i].value_len))
			return;
		fields[i] = (struct audit_field){r->fields[i].key, r->fields[i].value};
	}
	FUZZ_ASSERT(audit_record_encode(&out, r->seq, r->time, &ev, fields, r->n_fields, r->prev,
					hash) == 0,
		    "a parsed record does not encode");
	FUZZ_ASSERT(out.len > 0 && out.data[out.len - 1] == '\n' &&
			printable(out.data, out.len - 1),
		    "encoded line is not one printable line");
	FUZZ_ASSERT(audit_record_parse(out.data, out.len - 1, &again) == 0,
		    "re-encoded record does not parse: %s", out.data);
	assert_same_record(r, &again);
	FUZZ_ASSERT(strcmp(again.hash, hash) == 0, "hash member is not the returned hash");
	audit_record_free(&again);
	audit_buf_free(&out);
}

static void check_lines(const uint8_t *data, size_t size)
{
	struct audit_verifier v;
	char msg[256];

	audit_verifier_init(&v);
	for (size_t start = 0; start <= size;) {
		const uint8_t *nl = memchr(data + start, '\n', size - start);
		size_t end = nl ? (size_t)(nl - data) : size;
		const char *line = (const char *)data + start;
		size_t len = end - start;
		struct audit_record r;
		char computed[SHA256_HEX_SIZE], claimed[SHA256_HEX_SIZE];

		if (len == 0) {
			audit_verifier_next_file(&v);
		} else {
			if (audit_record_parse(line, len, &r) == 0) {
				FUZZ_ASSERT(r.time && r.event && r.message_id && r.prev && r.hash,
					    "parsed record lacks a member");
				for (size_t i = 0; i < r.n_fields; i++)
					FUZZ_ASSERT(audit_field_key_valid(r.fields[i].key) &&
							r.fields[i].value[r.fields[i].value_len] ==
							    '\0',
						    "field %zu", i);
				check_reencode(&r);
				audit_record_free(&r);
			}
			if (audit_line_hash(line, len, computed, claimed) == 0)
				FUZZ_ASSERT(strlen(computed) == SHA256_HEX_SIZE - 1 &&
						strlen(claimed) == SHA256_HEX_SIZE - 1,
					    "hash lengths");
			msg[0] = '\0';
			int rv = audit_verify_line(&v, line, len, msg, sizeof(msg));
			FUZZ_ASSERT(rv == 0 || (rv == -EBADMSG && msg[0]), "verify: %d '%s'", rv,
				    msg);
		}
		if (!nl)
			break;
		start = end + 1;
	}
}

/* Splits the input at NUL bytes: time, then key suffix, value pairs. */
static void check_encode(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1), *parts[1 + AUDIT_FIELDS_MAX * 2];
	char keys[AUDIT_FIELDS_MAX][80];
	struct audit_field fields[AUDIT_FIELDS_MAX];
	const struct audit_event_info *ev = audit_event_info(size % AUDIT_EVENT_COUNT);
	struct audit_buf out = {0}, second = {0};
	struct audit_record r;
	struct audit_verifier v;
	char hash[SHA256_HEX_SIZE], hash2[SHA256_HEX_SIZE], computed[SHA256_HEX_SIZE],
	    claimed[SHA256_HEX_SIZE], msg[256];
	size_t n_parts = 0, n = 0;
	bool keys_valid = true;
	int rv;

	if (!copy)
		abort();
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (char *p = copy; n_parts < sizeof(parts) / sizeof(parts[0]) && p <= copy + size;) {
		parts[n_parts++] = p;
		p += strlen(p) + 1;
	}
	for (size_t i = 1; i + 1 < n_parts; i += 2, n++) {
		snprintf(keys[n], sizeof(keys[n]), "SANDBOX_%.70s", parts[i]);
		keys_valid &= audit_field_key_valid(keys[n]);
		fields[n] = (struct audit_field){keys[n], parts[i + 1]};
	}
	rv = audit_record_encode(&out, size, parts[0], ev, fields, n, AUDIT_GENESIS_PREV, hash);
	if (!keys_valid) {
		FUZZ_ASSERT(rv == -EINVAL, "an invalid key was written");
		goto out;
	}
	FUZZ_ASSERT(rv == 0, "encode: %d", rv);
	FUZZ_ASSERT(out.len > 0 && out.data[out.len - 1] == '\n' &&
			printable(out.data, out.len - 1),
		    "not one printable line: %s", out.data);
	FUZZ_ASSERT(audit_record_parse(out.data, out.len - 1, &r) == 0, "does not parse: %s",
		    out.data);
	FUZZ_ASSERT(r.seq == size && strcmp(r.time, parts[0]) == 0 &&
			strcmp(r.event, ev->name) == 0 &&
			strcmp(r.message_id, ev->message_id) == 0 &&
			strcmp(r.prev, AUDIT_GENESIS_PREV) == 0 && strcmp(r.hash, hash) == 0,
		    "header read back differently: %s", out.data);
	FUZZ_ASSERT(r.n_fields == n, "%zu fields written, %zu read", n, r.n_fields);
	for (size_t i = 0; i < n; i++)
		FUZZ_ASSERT(strcmp(r.fields[i].key, keys[i]) == 0 &&
				r.fields[i].value_len == strlen(fields[i].value) &&
				memcmp(r.fields[i].value, fields[i].value, r.fields[i].value_len) ==
				    0,
			    "field %zu read back differently: %s", i, out.data);
	audit_record_free(&r);
	FUZZ_ASSERT(audit_line_hash(out.data, out.len - 1, computed, claimed) == 0 &&
			strcmp(computed, hash) == 0 && strcmp(claimed, hash) == 0,
		    "hash of the line");

	FUZZ_ASSERT(audit_record_encode(&second, size + 1, parts[0], ev, fields, n, hash, hash2) ==
			0,
		    "second record");
	audit_verifier_init(&v);
	rv = audit_verify_line(&v, out.data, out.len - 1, msg, sizeof(msg));
	FUZZ_ASSERT(rv == 0, "first record: %s", msg);
	rv = audit_verify_line(&v, second.data, second.len - 1, msg, sizeof(msg));
	FUZZ_ASSERT(rv == 0 && v.records == 2, "second record: %s", msg);
out:
	audit_buf_free(&out);
	audit_buf_free(&second);
	free(copy);
}

static void check_times(const uint8_t *data, size_t size)
{
	char *text = fuzz_cstring(data, size), formatted[AUDIT_TIME_SIZE];
	uint64_t usec = 0, back = 0, now = 1714566896123456ull; /* 2024-05-01T12:34:56Z */

	(void)audit_parse_time_spec(text, now, &usec);
	free(text);
	memcpy(&usec, data, size < sizeof(usec) ? size : sizeof(usec));
	usec %= YEAR_9999_END_USEC;
	audit_format_time(usec, formatted);
	FUZZ_ASSERT(audit_parse_iso_time(formatted, &back) == 0 && back == usec,
		    "%" PRIu64 " formats as '%s', read back as %" PRIu64, usec, formatted, back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_lines(data, size);
	check_encode(data, size);
	check_times(data, size);
	return 0;
}
