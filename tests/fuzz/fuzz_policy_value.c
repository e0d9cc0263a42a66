/* Policy units and names (admin input: sandboxctl quota set KEY=VALUE, @group, user). The first
 * byte picks a key, the rest is the text. A value that parses must format (policy_format_value)
 * to text that parses back to the same value; a level or name that is accepted must be one the
 * documented grammar allows. */
#include "config.h"

#include "common/policy.h"
#include "tests/fuzz/fuzz.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

/* policy.c formats a value into 64 bytes when it rewrites a level file. */
#define VALUE_TEXT_MAX 64

static bool name_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || c == '_' ||
	       (!first && ((c >= '0' && c <= '9') || c == '.' || c == '-'));
}

static void check_value(enum policy_key key, const char *text)
{
	char buf[VALUE_TEXT_MAX], again_buf[VALUE_TEXT_MAX], human[128];
	sbx_error err = {0};
	uint64_t v = 0, again = 0;
	int n, r;

	r = policy_parse_value(key, text, &v, &err);
	if (r < 0) {
		FUZZ_ASSERT(r == -EINVAL || r == -ERANGE, "%s '%s': returned %d",
			    policy_key_name(key), text, r);
		FUZZ_ASSERT(err.code == -r && strncmp(err.msg, policy_key_name(key),
						      strlen(policy_key_name(key))) == 0,
			    "the message names the key: '%s'", err.msg);
		return;
	}
	if (policy_key_kind(key) == POLICY_KIND_BOOL)
		FUZZ_ASSERT(v <= 1, "%s '%s' is %" PRIu64, policy_key_name(key), text, v);
	n = policy_format_value(key, v, buf, sizeof(buf));
	FUZZ_ASSERT(n > 0 && (size_t)n < sizeof(buf), "%s %" PRIu64 ": %d bytes",
		    policy_key_name(key), v, n);
	r = policy_parse_value(key, buf, &again, &err);
	FUZZ_ASSERT(r == 0 && again == v,
		    "%s '%s' = %" PRIu64 " formats as '%s', read back as %" PRIu64 " (%s)",
		    policy_key_name(key), text, v, buf, again, r < 0 ? err.msg : "ok");
	n = policy_format_value(key, again, again_buf, sizeof(again_buf));
	FUZZ_ASSERT(strcmp(buf, again_buf) == 0, "'%s' then '%s'", buf, again_buf);
	n = policy_describe_value(key, v, human, sizeof(human));
	FUZZ_ASSERT(n > 0 && (size_t)n < sizeof(human), "describe %" PRIu64 ": %d", v, n);
}

/* Any number, formatted: the canonical text is always well-formed, at worst out of range. */
static void check_format_any(enum policy_key key, uint64_t v)
{
	char buf[VALUE_TEXT_MAX], human[128];
	sbx_error err = {0};
	uint64_t again = 0;
	int n, r;

	n = policy_format_value(key, v, buf, sizeof(buf));
	FUZZ_ASSERT(n > 0 && (size_t)n < sizeof(buf), "%s %" PRIu64 ": %d bytes",
		    policy_key_name(key), v, n);
	n = policy_describe_value(key, v, human, sizeof(human));
	FUZZ_ASSERT(n > 0 && (size_t)n < sizeof(human), "describe %" PRIu64 ": %d", v, n);
	if (policy_key_kind(key) == POLICY_KIND_BOOL)
		return;
	r = policy_parse_value(key, buf, &again, &err);
	if (r == 0)
		FUZZ_ASSERT(again == v, "%s %" PRIu64 " formats as '%s', read back as %" PRIu64,
			    policy_key_name(key), v, buf, again);
	else
		FUZZ_ASSERT(r == -ERANGE || (r == -EINVAL && v == POLICY_UNLIMITED),
			    "%s %" PRIu64 " formats as '%s', which does not parse: %s",
			    policy_key_name(key), v, buf, err.msg);
}

static void check_level(const char *text)
{
	struct policy_level level;
	char described[POLICY_NAME_MAX + 16], rebuilt[POLICY_NAME_MAX + 2];
	sbx_error err = {0};
	int r = policy_level_parse(text, &level, &err);

	if (r < 0) {
		FUZZ_ASSERT(r == -EINVAL && err.code == EINVAL && err.msg[0], "level '%s': %d",
			    text, r);
		return;
	}
	switch (level.kind) {
	case POLICY_LEVEL_DEFAULT:
		snprintf(rebuilt, sizeof(rebuilt), "default");
		break;
	case POLICY_LEVEL_GROUP:
		FUZZ_ASSERT(policy_name_valid(level.name), "group '%s'", level.name);
		snprintf(rebuilt, sizeof(rebuilt), "@%s", level.name);
		break;
	case POLICY_LEVEL_USER:
		FUZZ_ASSERT(policy_name_valid(level.name), "user '%s'", level.name);
		snprintf(rebuilt, sizeof(rebuilt), "%s", level.name);
		break;
	default:
		FUZZ_ASSERT(0, "level kind %d", (int)level.kind);
	}
	FUZZ_ASSERT(strcmp(rebuilt, text) == 0, "'%s' parsed as '%s'", text, rebuilt);
	policy_level_describe(&level, described, sizeof(described));
}

static void check_name(const char *name)
{
	size_t len = strlen(name);
	bool expected = len >= 1 && len <= POLICY_NAME_MAX;

	for (size_t i = 0; expected && i < len; i++)
		expected = name_char(name[i], i == 0);
	FUZZ_ASSERT(policy_name_valid(name) == expected, "'%s': valid %d, expected %d", name,
		    policy_name_valid(name), expected);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum policy_key key, named;
	uint64_t any = 0;
	char *text;

	if (size == 0)
		return 0;
	key = (enum policy_key)(data[0] % POLICY_KEY_COUNT);
	text = fuzz_cstring(data + 1, size - 1);

	check_value(key, text);
	memcpy(&any, data + 1, size - 1 < sizeof(any) ? size - 1 : sizeof(any));
	check_format_any(key, any);
	check_level(text);
	check_name(text);
	if (policy_key_from_name(text, &named, NULL) == 0)
		FUZZ_ASSERT(strcmp(policy_key_name(named), text) == 0, "key '%s'", text);
	FUZZ_ASSERT(policy_key_name(POLICY_KEY_COUNT) == NULL, "no key past the table");

	/* "KEY=VALUE" as sandboxctl quota set takes it, split at the first '='. */
	char *eq = strchr(text, '=');
	if (eq) {
		*eq = '\0';
		if (policy_key_from_name(text, &named, NULL) == 0)
			check_value(named, eq + 1);
	}
	free(text);
	return 0;
}
