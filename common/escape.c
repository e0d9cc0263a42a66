#include "config.h"

#include "common/escape.h"

#include <stdio.h>

size_t escape_untrusted(const char *in, size_t len, char *out, size_t size)
{
	size_t o = 0, i = 0;
	if (size == 0)
		return 0;
	for (; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		char tmp[5];
		size_t n;
		if (c == '\\') {
			tmp[0] = '\\';
			tmp[1] = '\\';
			n = 2;
		} else if (c >= 0x20 && c < 0x7f) {
			tmp[0] = (char)c;
			n = 1;
		} else {
			snprintf(tmp, sizeof(tmp), "\\x%02x", c);
			n = 4;
		}
		if (o + n >= size)
			break;
		for (size_t k = 0; k < n; k++)
			out[o++] = tmp[k];
	}
	out[o] = '\0';
	return i;
}
