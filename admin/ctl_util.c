#include "config.h"

#include "admin/ctl_util.h"

#include "common/cleanup.h"
#include "common/escape.h"

#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct ctl_options ctl_options;

static void ctl_vmessage(const char *prefix, const char *fmt, va_list ap)
{
	char msg[2048], safe[4096];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	escape_untrusted(msg, strlen(msg), safe, sizeof(safe));
	fprintf(stderr, "sandboxctl: %s%s\n", prefix, safe);
}

void ctl_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ctl_vmessage("", fmt, ap);
	va_end(ap);
}

void ctl_warning(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ctl_vmessage("warning: ", fmt, ap);
	va_end(ap);
}

int ctl_usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ctl_vmessage("", fmt, ap);
	va_end(ap);
	return CTL_EXIT_USAGE;
}

int ctl_option_error(const char *command, int c, char *const argv[])
{
	const char *opt = optind > 0 ? argv[optind - 1] : "?";
	const char *sep = command ? ": " : "";

	command = command ? command : "";
	if (c == ':')
		return ctl_usage_error("%s%soption '%s' needs an argument", command, sep, opt);
	return ctl_usage_error("%s%sunknown option '%s' (see sandboxctl %s%s--help)", command, sep,
			       opt, command, command[0] ? " " : "");
}

void ctl_format_duration(uint64_t s, char *buf, size_t size)
{
	if (s >= 3600)
		snprintf(buf, size, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, size, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
	else
		snprintf(buf, size, "%" PRIu64 "s", s);
}

static bool in_admin_group(void)
{
	struct group *gr = getgrnam(CTL_ADMIN_GROUP);
	_cleanup_free_ gid_t *gids = NULL;
	int n;

	if (!gr)
		return false;
	if (getegid() == gr->gr_gid)
		return true;
	n = getgroups(0, NULL);
	if (n <= 0)
		return false;
	gids = calloc((size_t)n, sizeof(*gids));
	if (!gids)
		return false;
	n = getgroups(n, gids);
	for (int i = 0; i < n; i++)
		if (gids[i] == gr->gr_gid)
			return true;
	return false;
}

int ctl_require_admin(bool write)
{
	if (geteuid() == 0)
		return 0;
	if (write) {
		ctl_error("permission denied: changing the policy needs root");
		return CTL_EXIT_DENIED;
	}
	if (in_admin_group())
		return 0;
	ctl_error("permission denied: needs root or membership in group %s", CTL_ADMIN_GROUP);
	return CTL_EXIT_DENIED;
}

int ctl_check_level_exists(const struct policy_level *level)
{
	switch (level->kind) {
	case POLICY_LEVEL_DEFAULT:
		return 0;
	case POLICY_LEVEL_GROUP:
		errno = 0;
		if (getgrnam(level->name))
			return 0;
		if (errno && errno != ENOENT && errno != ESRCH) {
			ctl_error("cannot look up group @%s: %s", level->name, strerror(errno));
			return CTL_EXIT_FAILURE;
		}
		ctl_error("no such group: @%s", level->name);
		return CTL_EXIT_FAILURE;
	case POLICY_LEVEL_USER:
		errno = 0;
		if (getpwnam(level->name))
			return 0;
		if (errno && errno != ENOENT && errno != ESRCH) {
			ctl_error("cannot look up user %s: %s", level->name, strerror(errno));
			return CTL_EXIT_FAILURE;
		}
		ctl_error("no such user: %s", level->name);
		return CTL_EXIT_FAILURE;
	}
	return CTL_EXIT_FAILURE;
}

int ctl_parse_level(const char *text, struct policy_level *ret)
{
	sbx_error err;

	if (policy_level_parse(text, ret, &err) < 0)
		return ctl_usage_error("%s", err.msg);
	return 0;
}

int ctl_table_init(struct ctl_table *t, size_t n_cols, const char *const *header)
{
	*t = (struct ctl_table){.n_cols = n_cols};
	return ctl_table_add(t, header);
}

int ctl_table_add(struct ctl_table *t, const char *const *row)
{
	char **cells = realloc(t->cells, (t->n_rows + 1) * t->n_cols * sizeof(*cells));

	if (!cells)
		return -ENOMEM;
	t->cells = cells;
	for (size_t c = 0; c < t->n_cols; c++) {
		char *s = strdup(row[c] ? row[c] : "");
		if (!s) {
			for (size_t d = 0; d < c; d++)
				free(cells[t->n_rows * t->n_cols + d]);
			return -ENOMEM;
		}
		cells[t->n_rows * t->n_cols + c] = s;
	}
	t->n_rows++;
	return 0;
}

void ctl_table_print(const struct ctl_table *t, FILE *out)
{
	size_t width[8] = {0};

	for (size_t r = 0; r < t->n_rows; r++)
		for (size_t c = 0; c < t->n_cols && c < ELEMENTSOF(width); c++) {
			size_t len = strlen(t->cells[r * t->n_cols + c]);
			if (len > width[c])
				width[c] = len;
		}
	for (size_t r = 0; r < t->n_rows; r++) {
		for (size_t c = 0; c < t->n_cols; c++) {
			const char *cell = t->cells[r * t->n_cols + c];
			if (c + 1 == t->n_cols)
				fprintf(out, "%s\n", cell);
			else
				fprintf(out, "%-*s  ", (int)width[c < ELEMENTSOF(width) ? c : 0],
					cell);
		}
	}
}

void ctl_table_free(struct ctl_table *t)
{
	for (size_t i = 0; i < t->n_rows * t->n_cols; i++)
		free(t->cells[i]);
	free(t->cells);
	*t = (struct ctl_table){0};
}

void ctl_json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", out);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(out, "\\u%04x", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

void ctl_json_value(FILE *out, enum policy_key key, uint64_t value, const char *source)
{
	char text[64];

	policy_format_value(key, value, text, sizeof(text));
	fputs("{\"value\":", out);
	ctl_json_string(out, text);
	fputs(",\"number\":", out);
	if (policy_key_kind(key) == POLICY_KIND_BOOL)
		fputs(value ? "true" : "false", out);
	else if (value == POLICY_UNLIMITED)
		fputs("null", out);
	else
		fprintf(out, "%" PRIu64, value);
	if (source) {
		fputs(",\"source\":", out);
		ctl_json_string(out, source);
	}
	fputc('}', out);
}
