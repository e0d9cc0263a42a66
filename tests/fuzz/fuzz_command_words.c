/* The words of an SSH exec command (untrusted: the client sends any bytes). command_words_split
 * is compared with a reference written from POSIX's token rules (XCU 2.2 and 2.3, quoting only:
 * blanks and newlines separate words, '\' outside quotes keeps the next character and removes
 * itself and a following newline, '...' keeps everything, "..." keeps everything but the
 * escapes \" \\ \$ \` and \<newline>). At most COMMAND_MAX_WORDS words, never a quote or an
 * escape that was consumed, and the words quoted again split back to the same words. */
#include "config.h"

#include "sshd-module/command_words.h"
#include "tests/fuzz/fuzz.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

struct words {
	char **w;
	size_t n;
};

/* False past COMMAND_MAX_WORDS: the split stops at the word that is one too many. */
static bool words_add(struct words *ws, const char *word, size_t len)
{
	if (ws->n == COMMAND_MAX_WORDS)
		return false;
	char **grown = realloc(ws->w, (ws->n + 1) * sizeof(*grown));
	if (!grown)
		abort();
	ws->w = grown;
	ws->w[ws->n] = strndup(word, len);
	if (!ws->w[ws->n])
		abort();
	ws->n++;
	return true;
}

static void words_free(struct words *ws)
{
	for (size_t i = 0; i < ws->n; i++)
		free(ws->w[i]);
	free(ws->w);
}

/* The reference: a state machine over the characters, -EINVAL on an unclosed quote or a
 * trailing backslash, -E2BIG as soon as a word is one too many. */
static int reference_split(const char *s, struct words *ws)
{
	enum { BLANK, WORD, SINGLE, DOUBLE } state = BLANK;
	size_t len = strlen(s), w = 0;
	char *word = malloc(len + 1);

	if (!word)
		abort();
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		switch (state) {
		case BLANK:
		case WORD:
			if (c == ' ' || c == '\t' || c == '\n') {
				if (state == WORD && !words_add(ws, word, w)) {
					free(word);
					return -E2BIG;
				}
				w = 0;
				state = BLANK;
			} else if (c == '\\') {
				if (i + 1 == len) {
					free(word);
					return -EINVAL;
				}
				i++;
				if (s[i] == '\n')
					continue; /* a line continuation starts no word */
				word[w++] = s[i];
				state = WORD;
			} else if (c == '\'') {
				state = SINGLE;
			} else if (c == '"') {
				state = DOUBLE;
			} else {
				word[w++] = c;
				state = WORD;
			}
			break;
		case SINGLE:
			if (c == '\'')
				state = WORD;
			else
				word[w++] = c;
			break;
		case DOUBLE:
			if (c == '"') {
				state = WORD;
			} else if (c == '\\' && i + 1 < len && strchr("\"\\$`\n", s[i + 1])) {
				i++;
				if (s[i] != '\n')
					word[w++] = s[i];
			} else {
				word[w++] = c;
			}
			break;
		}
	}
	if (state == SINGLE || state == DOUBLE) {
		free(word);
		return -EINVAL;
	}
	if (state == WORD && !words_add(ws, word, w)) {
		free(word);
		return -E2BIG;
	}
	free(word);
	return 0;
}

/* Each word in single quotes (a quote itself as '\''), joined by blanks. */
static char *requote(char **words)
{
	size_t size = 1;
	char *out, *o;

	for (size_t i = 0; words[i]; i++)
		size += 4 * strlen(words[i]) + 3;
	out = o = malloc(size);
	if (!out)
		abort();
	for (size_t i = 0; words[i]; i++) {
		if (i)
			*o++ = ' ';
		*o++ = '\'';
		for (const char *c = words[i]; *c; c++) {
			if (*c == '\'') {
				memcpy(o, "'\\''", 4);
				o += 4;
			} else {
				*o++ = *c;
			}
		}
		*o++ = '\'';
	}
	*o = '\0';
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *command = fuzz_cstring(data, size), **words = NULL, **again = NULL;
	struct words ref = {0};
	int r = command_words_split(command, &words);
	int want = reference_split(command, &ref);
	size_t n = 0, total = 0;

	FUZZ_ASSERT(r == want, "'%s': returned %d, the reference %d", command, r, want);
	if (r < 0)
		goto out;
	for (; words[n]; n++) {
		FUZZ_ASSERT(n < ref.n && strcmp(words[n], ref.w[n]) == 0,
			    "'%s': word %zu is '%s', the reference has '%s'", command, n, words[n],
			    n < ref.n ? ref.w[n] : "(none)");
		total += strlen(words[n]);
	}
	FUZZ_ASSERT(n == ref.n && n <= COMMAND_MAX_WORDS, "'%s': %zu words, the reference %zu",
		    command, n, ref.n);
	FUZZ_ASSERT(total <= strlen(command), "words longer than the command");

	char *quoted = requote(words);
	FUZZ_ASSERT(command_words_split(quoted, &again) == 0, "'%s' does not split", quoted);
	for (size_t i = 0; i < n; i++)
		FUZZ_ASSERT(again[i] && strcmp(again[i], words[i]) == 0, "'%s': word %zu", quoted,
			    i);
	FUZZ_ASSERT(again[n] == NULL, "'%s': more words", quoted);
	free(quoted);
	command_words_free(again);
out:
	command_words_free(words);
	words_free(&ref);
	free(command);
	return 0;
}
