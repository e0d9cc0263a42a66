/* authorized_keys with OpenSSH's StrictModes checks: the file and every directory above it up
 * to the home must be owned by root or the user and writable by nobody else. */
#pragma once

#include "common/error.h"

#include <pwd.h>
#include <stdbool.h>

/* Expands %h, %u and %% in pattern; relative results are taken from the home directory. */
int authorized_keys_path(const char *pattern, const struct passwd *pw, char **ret);
/* 0 when the key (type name and base64 blob) is listed, -ENOENT when not, another negative
 * errno (with a reason in err) when the file may not be trusted. Reads as the user. */
int authorized_keys_match(const char *path, const struct passwd *pw, const char *key_type,
			  const char *key_b64, sbx_error *err);
/* Matches one line; exposed for unit tests. Lines with options are not honoured: rejected. */
bool authorized_keys_line_matches(const char *line, const char *key_type, const char *key_b64);
