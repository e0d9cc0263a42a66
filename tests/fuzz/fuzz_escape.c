/* escape_untrusted and audit_format_value (what an admin's terminal shows of untrusted bytes).
 * The first input byte is an output size to try besides one that is always big enough. The
 * output is printable ASCII only, NUL-terminated within the buffer, unescapes to exactly the
 * bytes consumed, and a cut output is a prefix of the whole one, cut between two escapes. */
#include "config.h"

#include "common/audit_record.h"
#include "common/escape.h"
#include "tests/fuzz/fuzz.h"

#include <stdbool.h>
#include <string.h>

static bool printable(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The inverse of escape_untrusted: \\ and \xNN (lower-case hex), nothing else after a '\'. */
static size_t unescape(const char *s, unsigned char *out)
{
	size_t o = 0;

	for (size_t i = 0; s[i];) {
		if (s[i] != '\\') {
			out[o++] = (unsigned char)s[i++];
			continue;
		}
		if (s[i + 1] == '\\') {
			out[o++] = '\\';
			i += 2;
			continue;
		}
		FUZZ_ASSERT(s[i + 1] == 'x' && hex_digit(s[i + 2]) >= 0 && hex_digit(s[i + 3]) >= 0,
			    "bad escape at %zu in '%s'", i, s);
		out[o++] = (unsigned char)(hex_digit(s[i + 2]) * 16 + hex_digit(s[i + 3]));
		i += 4;
	}
	return o;
}

static void check_escape(const uint8_t *in, size_t len, size_t size, const char *whole)
{
	char *out = malloc(size ? size : 1);
	unsigned char *back = malloc(len + 1);
	size_t consumed, n;

	if (!out || !back)
		abort();
	consumed = escape_untrusted((const char *)in, len, out, size);
	if (size == 0) {
		FUZZ_ASSERT(consumed == 0, "nothing fits in 0 bytes, %zu consumed", consumed);
		goto out;
	}
	n = strnlen(out, size);
	FUZZ_ASSERT(n < size, "not NUL-terminated within %zu bytes", size);
	FUZZ_ASSERT(consumed <= len, "%zu of %zu consumed", consumed, len);
	FUZZ_ASSERT(printable(out, n), "unprintable output '%s'", out);
	FUZZ_ASSERT(unescape(out, back) == consumed && memcmp(back, in, consumed) == 0,
		    "'%s' does not unescape to the %zu bytes consumed", out, consumed);
	if (whole) {
		FUZZ_ASSERT(strncmp(out, whole, n) == 0, "a cut output is not a prefix");
		/* Cut only where the next escape would not fit. */
		if (consumed < len) {
			size_t next = strlen(whole) - n;
			FUZZ_ASSERT(next > 0 &&
					n + (in[consumed] == '\\'			   ? 2
					     : in[consumed] >= 0x20 && in[consumed] < 0x7f ? 1
											   : 4) >=
					    size,
				    "cut at %zu of %zu bytes with room left", n, size);
		}
	}
out:
	free(out);
	free(back);
}

static void check_format_value(const uint8_t *in, size_t len)
{
	struct audit_buf b = {0};
	size_t n;

	FUZZ_ASSERT(audit_format_value(&b, (const char *)in, len) == 0, "audit_format_value");
	n = b.len;
	FUZZ_ASSERT(b.data && strlen(b.data) == n && printable(b.data, n), "unprintable '%s'",
		    b.data);
	/* One value, never two fields: bare without a space, '"' or '=', or quoted throughout. */
	if (n >= 2 && b.data[0] == '"' && b.data[n - 1] == '"')
		FUZZ_ASSERT(!memchr(b.data + 1, '"', n - 2), "quote inside '%s'", b.data);
	else
		FUZZ_ASSERT(n > 0 && !strpbrk(b.data, " \"="), "'%s' should be quoted", b.data);
	audit_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t small, full;
	const uint8_t *in;
	size_t len;
	char *whole;

	if (size == 0)
		return 0;
	small = data[0];
	in = data + 1;
	len = size - 1;
	full = 4 * len + 1;
	whole = malloc(full);
	if (!whole)
		abort();
	FUZZ_ASSERT(escape_untrusted((const char *)in, len, whole, full) == len,
		    "4 bytes per byte are always enough");
	check_escape(in, len, full, NULL);
	check_escape(in, len, small, whole);
	check_format_value(in, len);
	free(whole);
	return 0;
}
