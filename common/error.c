#include "config.h"

#include "common/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

__attribute__((format(printf, 2, 0))) static void error_vformat(sbx_error *err, const char *fmt,
								va_list ap)
{
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
}

int sbx_error_set(sbx_error *err, int code, const char *fmt, ...)
{
	if (code < 0)
		code = -code;
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		error_vformat(err, fmt, ap);
		va_end(ap);
		err->code = code;
	}
	return -code;
}

int sbx_error_errno(sbx_error *err, int code, const char *fmt, ...)
{
	if (code < 0)
		code = -code;
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		error_vformat(err, fmt, ap);
		va_end(ap);
		size_t len = strlen(err->msg);
		snprintf(err->msg + len, sizeof(err->msg) - len, ": %s", strerror(code));
		err->code = code;
	}
	return -code;
}

int sbx_error_wrap(sbx_error *err, const char *fmt, ...)
{
	if (!err)
		return -EINVAL;
	char prefix[512], old[sizeof(err->msg)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	/* Built by hand: the message is cut at the buffer's end, never overflowed. */
	size_t cap = sizeof(err->msg) - 1, len = 0;
	for (const char *parts[] = {prefix, ": ", old}, **p = parts; p < parts + 3; p++) {
		size_t n = strnlen(*p, cap - len);
		memcpy(err->msg + len, *p, n);
		len += n;
	}
	err->msg[len] = '\0';
	return -err->code;
}
