/* Errors: functions return 0 or a negative errno; where a message helps they also fill an
 * optional sbx_error that callers may wrap with context on the way up (crun's style). */
#pragma once

#include <stddef.h>

typedef struct sbx_error {
	int code;       /* positive errno */
	char msg[1024]; /* one line, no trailing newline */
} sbx_error;

/* Sets *err (if err is not NULL) and returns -code. */
int sbx_error_set(sbx_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Like sbx_error_set, appending ": strerror(code)". */
int sbx_error_errno(sbx_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prefixes the existing message with context ("while doing X: <old>"); returns -err->code. */
int sbx_error_wrap(sbx_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
