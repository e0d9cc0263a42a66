#include "config.h"

#include "sshd-module/command_words.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void command_words_free(char **words)
{
	if (!words)
		return;
	for (size_t i = 0; words[i]; i++)
		free(words[i]);
	free(words);
}

int command_words_split(const char *command, char ***ret_words)
{
	size_t len = strlen(command);
	char **words = calloc(COMMAND_MAX_WORDS + 1, sizeof(char *));
	char *word = malloc(len + 1);
	if (!words || !word) {
		free(words);
		free(word);
		return -ENOMEM;
	}
	size_t n = 0, w = 0;
	bool in_word = false;
	int r = 0;
	const char *p = command;
	while (*p) {
		char c = *p;
		if (c == ' ' || c == '\t' || c == '\n') {
			p++;
			if (!in_word)
				continue;
			if (n >= COMMAND_MAX_WORDS) {
				r = -E2BIG;
				break;
			}
			word[w] = '\0';
			if (!(words[n++] = strdup(word))) {
				r = -ENOMEM;
				break;
			}
			w = 0;
			in_word = false;
			continue;
		}
		if (c == '\\' && p[1] == '\n') {
			/* A line continuation: sh removes it before splitting words, so it neither
			 * ends a word nor starts one. */
			p += 2;
			continue;
		}
		in_word = true;
		if (c == '\\') {
			if (!p[1]) {
				r = -EINVAL;
				break;
			}
			word[w++] = p[1];
			p += 2;
		} else if (c == '\'') {
			const char *end = strchr(p + 1, '\'');
			if (!end) {
				r = -EINVAL;
				break;
			}
			memcpy(word + w, p + 1, (size_t)(end - p - 1));
			w += (size_t)(end - p - 1);
			p = end + 1;
		} else if (c == '"') {
			p++;
			while (*p && *p != '"') {
				if (*p == '\\' && p[1] && strchr("\"\\$`\n", p[1])) {
					if (p[1] != '\n')
						word[w++] = p[1];
					p += 2;
				} else {
					word[w++] = *p++;
				}
			}
			if (*p != '"') {
				r = -EINVAL;
				break;
			}
			p++;
		} else {
			word[w++] = c;
			p++;
		}
	}
	if (r == 0 && in_word) {
		if (n >= COMMAND_MAX_WORDS)
			r = -E2BIG;
		else {
			word[w] = '\0';
			if (!(words[n++] = strdup(word)))
				r = -ENOMEM;
		}
	}
	free(word);
	if (r < 0) {
		command_words_free(words);
		return r;
	}
	*ret_words = words;
	return 0;
}
