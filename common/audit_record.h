/* The pure half of the audit trail (no I/O, no libsystemd; unit-tested): the event table, JSON
 * encoding and decoding of records, the hash chain and its verifier, the flood bucket, and the
 * time formats. The definitions are in docs/audit-events.md. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/audit.h"
#include "common/sha256.h"

/* prev of the first record of a new trail; a segment started after a rotation has
 * "rotated:<last hash of the previous file>" instead. */
#define AUDIT_GENESIS_PREV "0000000000000000000000000000000000000000000000000000000000000000"
#define AUDIT_ROTATED_PREFIX "rotated:"
/* Longer values are cut (at a UTF-8 boundary is not attempted: bytes are bytes) and the record
 * gets SANDBOX_TRUNCATED=1. */
#define AUDIT_VALUE_MAX 4096
#define AUDIT_FIELDS_MAX 32
#define AUDIT_TIME_SIZE 32
#define AUDIT_PREV_SIZE (sizeof(AUDIT_ROTATED_PREFIX) + SHA256_HEX_SIZE)

struct audit_event_info {
	enum audit_event event;
	const char *name;	   /* SANDBOX_EVENT, "event" in the file */
	const char *message_id;	   /* 32 lowercase hex digits, never changes */
	int priority;		   /* syslog priority for the journal */
	bool untrusted;		   /* content comes from the sandboxed program: rate-limited */
	const char *summary;	   /* start of the human MESSAGE */
	const char *const *fields; /* documented fields, NULL-terminated */
};

const struct audit_event_info *audit_event_info(enum audit_event event);
const struct audit_event_info *audit_event_by_name(const char *name);
const struct audit_event_info *audit_event_by_message_id(const char *message_id);
/* SANDBOX_ followed by at least one of [A-Z0-9_]: a valid journal field name of ours. */
bool audit_field_key_valid(const char *key);

struct audit_buf {
	char *data; /* NUL-terminated when not NULL */
	size_t len;
	size_t cap;
};
int audit_buf_append(struct audit_buf *b, const void *data, size_t len);
int audit_buf_puts(struct audit_buf *b, const char *s);
void audit_buf_free(struct audit_buf *b);

/* Appends s as a JSON string (with quotes) in pure printable ASCII: \" \\ \b \f \n \r \t,
 * other control bytes and DEL as \u00XX, valid UTF-8 as \uXXXX (surrogate pairs beyond the BMP),
 * and every byte that is not part of valid UTF-8 as the lone surrogate \uDCXX (Python's
 * "surrogateescape"), so decoding gives back exactly the bytes that were encoded. */
int audit_json_escape(struct audit_buf *b, const char *s, size_t len);

/* Encodes one complete line (ending in "\n") and returns its hash. time is from
 * audit_format_time; prev is the previous record's hash, AUDIT_GENESIS_PREV or
 * "rotated:<hash>". Fields with a NULL value are left out. */
int audit_record_encode(struct audit_buf *out, uint64_t seq, const char *time,
			const struct audit_event_info *ev, const struct audit_field *fields,
			size_t n, const char *prev, char ret_hash[SHA256_HEX_SIZE]);

/* The hash a line (without its "\n") should carry: SHA-256 of the line with its trailing
 * ,"hash":"<64 hex>" member removed. Fills ret_claimed with the hash the line does carry.
 * -EBADMSG when the line does not end in a hash member. */
int audit_line_hash(const char *line, size_t len, char ret_computed[SHA256_HEX_SIZE],
		    char ret_claimed[SHA256_HEX_SIZE]);

struct audit_kv {
	char *key;
	char *value; /* decoded bytes, NUL-terminated; may contain NULs (value_len) */
	size_t value_len;
};

struct audit_record {
	uint64_t seq;
	char *time;
	char *event;
	char *message_id;
	char *prev;
	char *hash;
	struct audit_kv *fields;
	size_t n_fields;
};

/* Parses one line (without "\n"); -EBADMSG if it is not a record. */
int audit_record_parse(const char *line, size_t len, struct audit_record *ret);
void audit_record_free(struct audit_record *r);
/* Value of a field, NULL if absent. */
const struct audit_kv *audit_record_field(const struct audit_record *r, const char *key);

/* Checks a file line by line. Feed lines in order (without "\n"); a non-zero return means the
 * chain is broken at this line and msg says how ("line 17: hash mismatch (record edited?)").
 * For several files in rotation order call audit_verifier_next_file between them: the first
 * record of the next file must then say "rotated:<last hash>". */
struct audit_verifier {
	uint64_t line;	  /* lines seen in this file */
	uint64_t records; /* records verified in total */
	uint64_t last_seq;
	char last_hash[SHA256_HEX_SIZE];
	bool have_last;
	bool expect_rotation;
	char first_prev[AUDIT_PREV_SIZE]; /* prev of this file's first record */
};
void audit_verifier_init(struct audit_verifier *v);
void audit_verifier_next_file(struct audit_verifier *v);
int audit_verify_line(struct audit_verifier *v, const char *line, size_t len, char *msg,
		      size_t msg_size);

/* Token bucket: rate tokens a second, at most burst. */
struct audit_bucket {
	double tokens;
	uint64_t refilled_usec;
};
void audit_bucket_init(struct audit_bucket *b, double burst, uint64_t now_usec);
bool audit_bucket_take(struct audit_bucket *b, double rate, double burst, uint64_t now_usec);

/* "2024-05-01T12:34:56.123456Z" (UTC, microseconds). */
void audit_format_time(uint64_t realtime_usec, char out[AUDIT_TIME_SIZE]);
/* ISO 8601: "2024-05-01", "2024-05-01T12:34", "2024-05-01 12:34:56.5"; local time unless it
 * ends in "Z" (UTC). */
int audit_parse_iso_time(const char *s, uint64_t *ret_usec);
/* What --since/--until take: now, today, yesterday, -30s, -30m, -1h, -2d, -1w, or ISO 8601. */
int audit_parse_time_spec(const char *s, uint64_t now_usec, uint64_t *ret_usec);

/* A value for one line of human output: escape_untrusted, then in double quotes (a quote written
 * \x22) when it is empty or holds a space, a quote or an "=", so one value can never look like
 * two fields. */
int audit_format_value(struct audit_buf *b, const char *value, size_t len);
/* SANDBOX_PEAK_MEMORY -> peak_memory. */
void audit_field_short_name(const char *key, char *out, size_t size);
