/* Untrusted text (file names, what a student's program reports) made safe for a log line or a
 * terminal: printable ASCII stays, backslash and everything else become \\ or \xNN, so no byte
 * can move a cursor, end a line or fake a record. */
#pragma once

#include <stddef.h>

/* Always NUL-terminates out (size > 0); cuts at a character boundary when out is too small.
 * Returns the number of input bytes consumed. */
size_t escape_untrusted(const char *in, size_t len, char *out, size_t size);
