#include "config.h"

#include "sshd-module/input_limits.h"

#include <string.h>

static bool input_is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool input_user_name_valid(const char *name)
{
	if (!name)
		return false;
	size_t len = strnlen(name, INPUT_USER_MAX + 1);
	if (len == 0 || len > INPUT_USER_MAX || name[0] == '-' || name[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (input_is_alnum(c) || c == '.' || c == '_' || c == '-' || c == '@')
			continue;
		if (c == '$' && i == len - 1 && i > 0)
			continue;
		return false;
	}
	return true;
}

bool input_term_valid(const char *term)
{
	if (!term)
		return false;
	size_t len = strnlen(term, INPUT_TERM_MAX + 1);
	if (len == 0 || len > INPUT_TERM_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!input_is_alnum(term[i]) && !strchr("._+-", term[i]))
			return false;
	return true;
}

bool input_text_valid(const char *text, size_t max)
{
	if (!text)
		return false;
	size_t len = strnlen(text, max + 1);
	if (len > max)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}
