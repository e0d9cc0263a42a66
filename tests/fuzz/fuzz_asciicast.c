/* Session recordings: what the student's program printed goes into the asciicast file, and
 * sandboxctl replay reads that file back (its header and event lines).
 *
 * - the input as a header line and as an event line: asciicast_parse_header and
 *   asciicast_parse_event; an event that parses, written again with asciicast_format_event,
 *   parses to the same event;
 * - the input as terminal output: asciicast_json_string gives valid UTF-8 without control
 *   characters, gives the same text however the output is chunked (with the UTF-8 state), and
 *   an event line written from it parses back to the text, exactly when it was valid UTF-8. */
#include "config.h"

#include "common/asciicast.h"
#include "tests/fuzz/fuzz.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

/* Valid UTF-8 as RFC 3629 defines it (no overlongs, no surrogates, at most U+10FFFF). */
static bool valid_utf8(const unsigned char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		unsigned char c = s[i];
		uint32_t cp;
		size_t n;
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c < 0xe0) {
			n = 2, cp = c & 0x1f;
		} else if (c >= 0xe0 && c < 0xf0) {
			n = 3, cp = c & 0x0f;
		} else if (c >= 0xf0 && c < 0xf5) {
			n = 4, cp = c & 0x07;
		} else {
			return false;
		}
		if (i + n > len)
			return false;
		for (size_t k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n;
	}
	return true;
}

static void check_event_line(const uint8_t *data, size_t size)
{
	struct asciicast_event ev, again;
	struct asciicast_buf out = {0};
	sbx_error err = {0};
	bool simple_code = true;

	if (asciicast_parse_event((const char *)data, size, &ev, &err) < 0) {
		FUZZ_ASSERT(err.code == EINVAL || err.code == ENOMEM, "error code %d", err.code);
		FUZZ_ASSERT(err.msg[0], "an error without a message");
		return;
	}
	size_t code_len = strlen(ev.code);
	FUZZ_ASSERT(code_len > 0 && code_len < sizeof(ev.code), "code '%s'", ev.code);
	FUZZ_ASSERT(ev.usec <= 1000000000000000000ull, "time %" PRIu64, ev.usec);
	if (ev.data)
		FUZZ_ASSERT(ev.data[ev.len] == '\0', "data not terminated");
	/* The writer's codes are plain letters; only those are written back. */
	for (size_t i = 0; i < code_len; i++)
		simple_code &= ev.code[i] >= 'a' && ev.code[i] <= 'z';
	if (ev.data && simple_code) {
		FUZZ_ASSERT(asciicast_format_event(&out, ev.usec, ev.code, NULL, ev.data, ev.len) >=
				0,
			    "format_event");
		FUZZ_ASSERT(out.len > 0 && out.data[out.len - 1] == '\n', "one line");
		FUZZ_ASSERT(asciicast_parse_event(out.data, out.len - 1, &again, &err) == 0,
			    "written again, the event does not parse: %s\n%s", err.msg, out.data);
		FUZZ_ASSERT(strcmp(again.code, ev.code) == 0, "code");
		/* Seconds go through a double: exact for any time a recording can have. */
		if (ev.usec < (1ull << 50))
			FUZZ_ASSERT(again.usec == ev.usec, "time %" PRIu64 " read back as %" PRIu64,
				    ev.usec, again.usec);
		if (valid_utf8((const unsigned char *)ev.data, ev.len))
			FUZZ_ASSERT(again.len == ev.len && memcmp(again.data, ev.data, ev.len) == 0,
				    "data differs after writing it again: %s", out.data);
		free(again.data);
		free(out.data);
	}
	free(ev.data);
}

static void check_output(const uint8_t *data, size_t size)
{
	struct asciicast_buf whole = {0}, chunked = {0}, line = {0};
	struct asciicast_utf8 state = {0};
	struct asciicast_event ev;
	sbx_error err = {0};
	unsigned x = (unsigned)size * 2654435761u + 7;

	FUZZ_ASSERT(asciicast_json_string(&whole, NULL, (const char *)data, size) == 0, "whole");
	if (!whole.data)
		asciicast_buf_append(&whole, "", 0);
	for (size_t i = 0; i < whole.len; i++)
		FUZZ_ASSERT((unsigned char)whole.data[i] >= 0x20 && whole.data[i] != 0x7f,
			    "control byte 0x%02x in the JSON text", (unsigned char)whole.data[i]);
	FUZZ_ASSERT(valid_utf8((const unsigned char *)whole.data, whole.len), "invalid UTF-8");

	/* In chunks with the state; the end of the stream is one more call without it. */
	for (size_t off = 0; off < size;) {
		x = x * 1103515245u + 12345u;
		size_t n = 1 + (x >> 16) % 7;
		if (n > size - off)
			n = size - off;
		FUZZ_ASSERT(asciicast_json_string(&chunked, &state, (const char *)data + off, n) ==
				0,
			    "chunk");
		FUZZ_ASSERT(state.n_pending <= 3, "%u bytes pending", state.n_pending);
		off += n;
	}
	if (state.n_pending) {
		char pending[3];
		memcpy(pending, state.pending, state.n_pending);
		size_t np = state.n_pending;
		state.n_pending = 0;
		FUZZ_ASSERT(asciicast_json_string(&chunked, NULL, pending, np) == 0, "flush");
	}
	if (!chunked.data)
		asciicast_buf_append(&chunked, "", 0);
	FUZZ_ASSERT(whole.len == chunked.len && memcmp(whole.data, chunked.data, whole.len) == 0,
		    "chunking changed the text:\n%s\n%s", whole.data, chunked.data);

	FUZZ_ASSERT(asciicast_format_event(&line, 1234567, "o", NULL, (const char *)data, size) >=
			0,
		    "format_event");
	FUZZ_ASSERT(asciicast_parse_event(line.data, line.len - 1, &ev, &err) == 0,
		    "a written event does not parse: %s\n%s", err.msg, line.data);
	FUZZ_ASSERT(ev.usec == 1234567 && strcmp(ev.code, "o") == 0 && ev.data, "event header");
	if (valid_utf8(data, size))
		FUZZ_ASSERT(ev.len == size && memcmp(ev.data, data, size) == 0,
			    "valid UTF-8 did not come back");
	else
		FUZZ_ASSERT(valid_utf8((const unsigned char *)ev.data, ev.len),
			    "invalid UTF-8 back");
	free(ev.data);
	free(whole.data);
	free(chunked.data);
	free(line.data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned width, height;
	sbx_error err = {0};

	if (asciicast_parse_header((const char *)data, size, &width, &height, &err) == 0)
		FUZZ_ASSERT(width <= 65535 && height <= 65535, "size %ux%u", width, height);
	else
		FUZZ_ASSERT(err.code == EINVAL || err.code == ENOMEM, "header error %d", err.code);
	check_event_line(data, size);
	check_output(data, size);
	return 0;
}
