/* asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/), the pure half: JSON strings
 * that are always valid UTF-8 (for the writer, sshd-module/recording.c) and a strict reader of
 * header and event lines (for sandboxctl replay). libc only. */
#pragma once

#include "common/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where the monitor writes recordings and sandboxctl replay reads them (until the configuration
 * has a StateDirectory keyword): <dir>/<session>-<channel>.cast. */
#define RECORDINGS_DEFAULT_DIR LOCALSTATEDIR "/lib/sandboxd/recordings"

/* A growable byte buffer; zero-initialise, free data when done. */
struct asciicast_buf {
	char *data;
	size_t len, size;
};
int asciicast_buf_reserve(struct asciicast_buf *b, size_t extra);
int asciicast_buf_append(struct asciicast_buf *b, const char *s, size_t len);

/* UTF-8 decoding state of one stream: the start of a character whose remaining bytes have not
 * come yet (at most 3 bytes). Zero-initialise. */
struct asciicast_utf8 {
	unsigned char pending[3];
	unsigned n_pending;
};

/* Appends DATA as the inside of a JSON string (no quotes): '"' and '\\' escaped, C0 controls and
 * DEL as \u00XX, valid UTF-8 copied, each invalid sequence (maximal subpart) replaced by U+FFFD.
 * With STATE, an incomplete character at the end is kept in STATE and completed by the next
 * call; without STATE (or when STATE's bytes turn out invalid) it becomes U+FFFD. -ENOMEM. */
int asciicast_json_string(struct asciicast_buf *b, struct asciicast_utf8 *state, const char *data,
			  size_t len);

/* Appends one event line "[SECONDS, \"CODE\", \"DATA\"]\n", SECONDS with microsecond precision.
 * The data goes through asciicast_json_string with STATE. -ENOMEM. */
int asciicast_format_event(struct asciicast_buf *b, uint64_t usec, const char *code,
			   struct asciicast_utf8 *state, const char *data, size_t len);

/* A parsed event: CODE ("o", "i", "r", "m", ...); DATA the decoded string (NUL-terminated, may
 * hold NULs, LEN without the terminator) or NULL when the event's data is not a string. */
struct asciicast_event {
	uint64_t usec;
	char code[16];
	char *data;
	size_t len;
};

/* Checks that LINE (LEN bytes, no newline) is a JSON object with "version": 2; fills WIDTH and
 * HEIGHT (0 when absent). -EINVAL with a message on anything else. */
int asciicast_parse_header(const char *line, size_t len, unsigned *width, unsigned *height,
			   sbx_error *err);
/* Parses one event line [time, "code", data]. -EINVAL with a message, -ENOMEM. On success the
 * caller frees ev->data. */
int asciicast_parse_event(const char *line, size_t len, struct asciicast_event *ev, sbx_error *err);
