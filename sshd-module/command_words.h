/* Splits an SSH exec command into words the way a POSIX shell would quote them, with no
 * expansion of any kind: 'single', "double" (\" \\ \$ \` escapes) and backslash outside quotes;
 * a backslash-newline outside single quotes is removed, as sh does.
 * The words are handed to the runner, never to a shell. */
#pragma once

#include <stddef.h>

#define COMMAND_MAX_WORDS 256

/* Fills words (malloc'd, NULL-terminated; free with command_words_free). -EINVAL on an unclosed
 * quote or a trailing backslash, -E2BIG past COMMAND_MAX_WORDS. */
int command_words_split(const char *command, char ***ret_words);
void command_words_free(char **words);
