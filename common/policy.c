#include "config.h"

#include "common/policy.h"

#include "common/cleanup.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define KIB (1ull << 10)
#define MIB (1ull << 20)
#define GIB (1ull << 30)
#define TIB (1ull << 40)
#define MINUTE 60ull
#define HOUR 3600ull
#define DAY 86400ull

/* A level file is a few lines; anything bigger is not one of ours. */
#define POLICY_FILE_MAX (256 * 1024)
#define POLICY_LINE_MAX 1024

enum merge {
	MERGE_MAX, /* the larger value is the more generous one */
	MERGE_MIN, /* the smaller one is (locked: no beats yes) */
};

struct key_info {
	const char *name;
	enum policy_kind kind;
	uint64_t min, max; /* inclusive range of finite values */
	bool unlimited_ok;
	uint64_t builtin;
	enum merge merge;
	const char *description;
};

/* Built-in values are safe for a 2-core, 24 GiB host with 100 students logged in at once. */
static const struct key_info keys[POLICY_KEY_COUNT] = {
    [POLICY_MEMORY] = {"memory", POLICY_KIND_SIZE, 16 * MIB, TIB, true, 256 * MIB, MERGE_MAX,
		       "memory of a session (RAM, page cache and /tmp included)"},
    [POLICY_SWAP] = {"swap", POLICY_KIND_SIZE, 0, TIB, true, 0, MERGE_MAX,
		     "swap a session may use on top of its memory"},
    [POLICY_CPU] = {"cpu", POLICY_KIND_CPU, 1, 6400, true, 100, MERGE_MAX,
		    "CPU share of a session (100% = one core)"},
    [POLICY_PIDS] = {"pids", POLICY_KIND_COUNT, 4, 4194304, true, 64, MERGE_MAX,
		     "processes and threads of a session"},
    [POLICY_TMP] = {"tmp", POLICY_KIND_SIZE, MIB, 64 * GIB, false, 64 * MIB, MERGE_MAX,
		    "size of the private /tmp"},
    [POLICY_DISK] = {"disk", POLICY_KIND_SIZE, MIB, 16 * TIB, true, 200 * MIB, MERGE_MAX,
		     "size of the home directory"},
    [POLICY_INODES] = {"inodes", POLICY_KIND_COUNT, 100, 1000000000, true, 20000, MERGE_MAX,
		       "files and directories in the home directory"},
    [POLICY_SESSION_TIME] = {"session-time", POLICY_KIND_TIME, MINUTE, 30 * DAY, true, 4 * HOUR,
			     MERGE_MAX, "wall clock of a session"},
    [POLICY_IDLE_TIME] = {"idle-time", POLICY_KIND_TIME, MINUTE, 30 * DAY, true, 30 * MINUTE,
			  MERGE_MAX, "time without input or output before a session ends"},
    [POLICY_RUN_CPU_TIME] = {"run-cpu-time", POLICY_KIND_TIME, 1, 30 * DAY, true, 10 * MINUTE,
			     MERGE_MAX, "CPU time of one program run"},
    [POLICY_RUN_TIME] = {"run-time", POLICY_KIND_TIME, 1, 30 * DAY, true, 30 * MINUTE, MERGE_MAX,
			 "wall clock of one program run"},
    [POLICY_SESSIONS] = {"sessions", POLICY_KIND_COUNT, 1, 1000, false, 3, MERGE_MAX,
			 "concurrent sessions of a user"},
    [POLICY_PROCESSES] = {"processes", POLICY_KIND_BOOL, 0, 1, false, 0, MERGE_MAX,
			  "whether Python programs may start processes (multiprocessing)"},
    [POLICY_RECORD] = {"record", POLICY_KIND_BOOL, 0, 1, false, 0, MERGE_MAX,
		       "whether terminal sessions are recorded"},
    [POLICY_LOCKED] = {"locked", POLICY_KIND_BOOL, 0, 1, false, 0, MERGE_MIN,
		       "whether logins are refused"},
};

const char *policy_key_name(enum policy_key key)
{
	return key < POLICY_KEY_COUNT ? keys[key].name : NULL;
}

int policy_key_from_name(const char *name, enum policy_key *ret, sbx_error *err)
{
	for (size_t k = 0; k < POLICY_KEY_COUNT; k++)
		if (strcmp(keys[k].name, name) == 0) {
			*ret = (enum policy_key)k;
			return 0;
		}
	return sbx_error_set(err, EINVAL, "unknown key '%s'", name);
}

enum policy_kind policy_key_kind(enum policy_key key)
{
	return keys[key].kind;
}

const char *policy_key_description(enum policy_key key)
{
	return keys[key].description;
}

uint64_t policy_builtin(enum policy_key key)
{
	return keys[key].builtin;
}

/* ---- values ---- */

/* Leading decimal digits of *p as a number; advances *p. -ERANGE on overflow, -EINVAL if none. */
static int parse_digits(const char **p, uint64_t *ret)
{
	uint64_t v = 0;
	const char *s = *p;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	for (; isdigit((unsigned char)*s); s++)
		if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, *s - '0', &v))
			return -ERANGE;
	*p = s;
	*ret = v;
	return 0;
}

static int parse_size(const char *text, uint64_t *ret)
{
	const char *p = text;
	uint64_t v, mult = 1;
	int r = parse_digits(&p, &v);

	if (r < 0)
		return r;
	if (*p) {
		switch (*p) {
		case 'K':
		case 'k':
			mult = KIB;
			break;
		case 'M':
		case 'm':
			mult = MIB;
			break;
		case 'G':
		case 'g':
			mult = GIB;
			break;
		case 'T':
		case 't':
			mult = TIB;
			break;
		default:
			return -EINVAL;
		}
		p++;
		if (strcmp(p, "iB") == 0)
			p += 2;
		if (*p)
			return -EINVAL;
	}
	if (__builtin_mul_overflow(v, mult, &v))
		return -ERANGE;
	*ret = v;
	return 0;
}

/* Plain seconds, or components such as 1d2h30m15s with units in decreasing order. */
static int parse_time(const char *text, uint64_t *ret)
{
	static const struct {
		char unit;
		uint64_t seconds;
	} units[] = {{'d', DAY}, {'h', HOUR}, {'m', MINUTE}, {'s', 1}};
	const char *p = text;
	uint64_t total = 0, v;
	size_t next_unit = 0;
	int r = parse_digits(&p, &v);

	if (r < 0)
		return r;
	if (!*p) {
		*ret = v;
		return 0;
	}
	p = text;
	while (*p) {
		size_t u;
		uint64_t part;

		r = parse_digits(&p, &v);
		if (r < 0)
			return r;
		for (u = next_unit; u < ELEMENTSOF(units) && units[u].unit != *p; u++)
			;
		if (u == ELEMENTSOF(units))
			return -EINVAL;
		p++;
		next_unit = u + 1;
		if (__builtin_mul_overflow(v, units[u].seconds, &part) ||
		    __builtin_add_overflow(total, part, &total))
			return -ERANGE;
	}
	*ret = total;
	return 0;
}

/* "50%" (percent of one core) or "1.5" (cores, at most two decimals). */
static int parse_cpu(const char *text, uint64_t *ret)
{
	const char *p = text;
	uint64_t v, frac = 0;
	int r = parse_digits(&p, &v);

	if (r < 0)
		return r;
	if (strcmp(p, "%") == 0) {
		*ret = v;
		return 0;
	}
	if (*p == '.') {
		const char *f = ++p;
		r = parse_digits(&p, &frac);
		if (r < 0 || *p || p - f > 2)
			return -EINVAL;
		if (p - f == 1)
			frac *= 10;
	} else if (*p)
		return -EINVAL;
	if (__builtin_mul_overflow(v, 100, &v) || __builtin_add_overflow(v, frac, &v))
		return -ERANGE;
	*ret = v;
	return 0;
}

static const char *kind_examples(enum policy_kind kind)
{
	switch (kind) {
	case POLICY_KIND_SIZE:
		return "a size (examples: 512M, 2G, 1024K, bytes)";
	case POLICY_KIND_TIME:
		return "a time (examples: 90s, 10m, 1h30m, seconds)";
	case POLICY_KIND_CPU:
		return "a CPU share (examples: 50%, 1.5 for one and a half cores)";
	case POLICY_KIND_COUNT:
		return "a whole number";
	case POLICY_KIND_BOOL:
		return "yes or no";
	}
	return "a value";
}

int policy_parse_value(enum policy_key key, const char *text, uint64_t *ret, sbx_error *err)
{
	const struct key_info *k;
	uint64_t v = 0;
	int r;

	if (key >= POLICY_KEY_COUNT)
		return sbx_error_set(err, EINVAL, "unknown key");
	k = &keys[key];
	if (strcmp(text, "unlimited") == 0 || strcmp(text, "max") == 0) {
		if (!k->unlimited_ok)
			return sbx_error_set(err, EINVAL,
					     "%s: '%s' is not allowed here, %s cannot be "
					     "unlimited",
					     k->name, text, k->name);
		*ret = POLICY_UNLIMITED;
		return 0;
	}
	switch (k->kind) {
	case POLICY_KIND_SIZE:
		r = parse_size(text, &v);
		break;
	case POLICY_KIND_TIME:
		r = parse_time(text, &v);
		break;
	case POLICY_KIND_CPU:
		r = parse_cpu(text, &v);
		break;
	case POLICY_KIND_COUNT: {
		const char *p = text;
		r = parse_digits(&p, &v);
		if (r == 0 && *p)
			r = -EINVAL;
		break;
	}
	case POLICY_KIND_BOOL:
		r = -EINVAL;
		if (strcmp(text, "yes") == 0)
			v = 1, r = 0;
		else if (strcmp(text, "no") == 0)
			v = 0, r = 0;
		break;
	default:
		r = -EINVAL;
	}
	if (r == -EINVAL)
		return sbx_error_set(err, EINVAL, "%s: '%s' is not %s", k->name, text,
				     kind_examples(k->kind));
	if (r == -ERANGE || v < k->min || v > k->max) {
		char lo[32], hi[32];
		policy_format_value(key, k->min, lo, sizeof(lo));
		policy_format_value(key, k->max, hi, sizeof(hi));
		return sbx_error_set(err, ERANGE, "%s: '%s' is out of range (%s to %s%s)", k->name,
				     text, lo, hi, k->unlimited_ok ? ", or unlimited" : "");
	}
	*ret = v;
	return 0;
}

static int format_time(uint64_t v, char *buf, size_t size)
{
	static const struct {
		char unit;
		uint64_t seconds;
	} units[] = {{'d', DAY}, {'h', HOUR}, {'m', MINUTE}, {'s', 1}};
	size_t len = 0;

	if (v == 0)
		return snprintf(buf, size, "0s");
	if (size)
		buf[0] = '\0';
	for (size_t u = 0; u < ELEMENTSOF(units); u++) {
		uint64_t n = v / units[u].seconds;
		if (!n)
			continue;
		v %= units[u].seconds;
		len +=
		    (size_t)snprintf(buf + (len < size ? len : size), len < size ? size - len : 0,
				     "%" PRIu64 "%c", n, units[u].unit);
	}
	return (int)len;
}

int policy_format_value(enum policy_key key, uint64_t v, char *buf, size_t size)
{
	static const struct {
		const char *suffix;
		uint64_t unit;
	} sizes[] = {{"T", TIB}, {"G", GIB}, {"M", MIB}, {"K", KIB}};

	if (key >= POLICY_KEY_COUNT)
		return snprintf(buf, size, "?");
	if (v == POLICY_UNLIMITED && keys[key].kind != POLICY_KIND_BOOL)
		return snprintf(buf, size, "unlimited");
	switch (keys[key].kind) {
	case POLICY_KIND_SIZE:
		for (size_t i = 0; v && i < ELEMENTSOF(sizes); i++)
			if (v % sizes[i].unit == 0)
				return snprintf(buf, size, "%" PRIu64 "%s", v / sizes[i].unit,
						sizes[i].suffix);
		return snprintf(buf, size, "%" PRIu64, v);
	case POLICY_KIND_TIME:
		return format_time(v, buf, size);
	case POLICY_KIND_CPU:
		return snprintf(buf, size, "%" PRIu64 "%%", v);
	case POLICY_KIND_COUNT:
		return snprintf(buf, size, "%" PRIu64, v);
	case POLICY_KIND_BOOL:
		return snprintf(buf, size, "%s", v ? "yes" : "no");
	}
	return snprintf(buf, size, "?");
}

int policy_describe_value(enum policy_key key, uint64_t v, char *buf, size_t size)
{
	static const struct {
		const char *suffix;
		uint64_t unit;
	} sizes[] = {{"TiB", TIB}, {"GiB", GIB}, {"MiB", MIB}, {"KiB", KIB}};

	if (key >= POLICY_KEY_COUNT)
		return snprintf(buf, size, "?");
	if (v == POLICY_UNLIMITED && keys[key].kind != POLICY_KIND_BOOL)
		return snprintf(buf, size, "unlimited");
	switch (keys[key].kind) {
	case POLICY_KIND_SIZE:
		for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
			if (v < sizes[i].unit)
				continue;
			if (v % sizes[i].unit == 0)
				return snprintf(buf, size, "%" PRIu64 " %s", v / sizes[i].unit,
						sizes[i].suffix);
			return snprintf(buf, size, "%.1f %s", (double)v / (double)sizes[i].unit,
					sizes[i].suffix);
		}
		return snprintf(buf, size, "%" PRIu64 " bytes", v);
	case POLICY_KIND_TIME: {
		uint64_t h = v / HOUR, m = v % HOUR / MINUTE, s = v % MINUTE;
		if (h && !m && !s)
			return snprintf(buf, size, "%" PRIu64 " h", h);
		if (h && !s)
			return snprintf(buf, size, "%" PRIu64 " h %" PRIu64 " min", h, m);
		if (h)
			return snprintf(buf, size, "%" PRIu64 " h %" PRIu64 " min %" PRIu64 " s", h,
					m, s);
		if (m && !s)
			return snprintf(buf, size, "%" PRIu64 " min", m);
		if (m)
			return snprintf(buf, size, "%" PRIu64 " min %" PRIu64 " s", m, s);
		return snprintf(buf, size, "%" PRIu64 " s", s);
	}
	case POLICY_KIND_CPU:
		if (v % 100 == 0)
			return snprintf(buf, size, "%" PRIu64 " core%s", v / 100,
					v == 100 ? "" : "s");
		if (v < 100)
			return snprintf(buf, size, "%" PRIu64 "%% of a core", v);
		return snprintf(buf, size, "%" PRIu64 ".%02" PRIu64 " cores", v / 100, v % 100);
	case POLICY_KIND_COUNT:
		return snprintf(buf, size, "%" PRIu64, v);
	case POLICY_KIND_BOOL:
		return snprintf(buf, size, "%s", v ? "yes" : "no");
	}
	return snprintf(buf, size, "?");
}

/* ---- levels ---- */

bool policy_name_valid(const char *name)
{
	size_t n = 0;

	if (!name || !((*name >= 'a' && *name <= 'z') || *name == '_'))
		return false;
	for (const char *p = name; *p; p++, n++) {
		if (n >= POLICY_NAME_MAX)
			return false;
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' ||
		      *p == '.' || *p == '-'))
			return false;
	}
	return true;
}

int policy_level_parse(const char *text, struct policy_level *ret, sbx_error *err)
{
	struct policy_level l = {0};
	const char *name = text;

	if (strcmp(text, "default") == 0) {
		*ret = l;
		return 0;
	}
	l.kind = POLICY_LEVEL_USER;
	if (text[0] == '@') {
		l.kind = POLICY_LEVEL_GROUP;
		name = text + 1;
	}
	if (!policy_name_valid(name))
		return sbx_error_set(
		    err, EINVAL,
		    "invalid %s name '%s' (expected [a-z_][a-z0-9_.-]*, at most %d "
		    "characters)",
		    l.kind == POLICY_LEVEL_GROUP ? "group" : "user", name, POLICY_NAME_MAX);
	snprintf(l.name, sizeof(l.name), "%s", name);
	*ret = l;
	return 0;
}

void policy_level_describe(const struct policy_level *level, char *buf, size_t size)
{
	switch (level->kind) {
	case POLICY_LEVEL_DEFAULT:
		snprintf(buf, size, "default");
		break;
	case POLICY_LEVEL_GROUP:
		snprintf(buf, size, "group @%s", level->name);
		break;
	case POLICY_LEVEL_USER:
		snprintf(buf, size, "user %s", level->name);
		break;
	}
}

int policy_level_path(const char *dir, const struct policy_level *level, char **ret, sbx_error *err)
{
	int r;

	if (level->kind != POLICY_LEVEL_DEFAULT && !policy_name_valid(level->name))
		return sbx_error_set(err, EINVAL, "invalid name '%s'", level->name);
	switch (level->kind) {
	case POLICY_LEVEL_DEFAULT:
		r = asprintf(ret, "%s/default.conf", dir);
		break;
	case POLICY_LEVEL_GROUP:
		r = asprintf(ret, "%s/group/%s.conf", dir, level->name);
		break;
	default:
		r = asprintf(ret, "%s/user/%s.conf", dir, level->name);
		break;
	}
	if (r < 0) {
		*ret = NULL;
		return sbx_error_set(err, ENOMEM, "out of memory");
	}
	return 0;
}

/* ---- reading ---- */

/* Only root (or whoever runs us: tests, a non-root daemon) may decide a policy. */
static int check_owner(const char *path, const struct stat *st, bool want_dir, sbx_error *err)
{
	if (want_dir ? !S_ISDIR(st->st_mode) : !S_ISREG(st->st_mode))
		return sbx_error_set(err, EINVAL, "%s: not a %s", path,
				     want_dir ? "directory" : "regular file");
	if (st->st_uid != 0 && st->st_uid != geteuid())
		return sbx_error_set(err, EPERM, "%s: owned by uid %u, must be owned by root", path,
				     (unsigned)st->st_uid);
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return sbx_error_set(err, EPERM, "%s: writable by group or others (mode %04o)",
				     path, (unsigned)(st->st_mode & 07777));
	return 0;
}

/* Checks the directory that holds PATH. */
static int check_parent(const char *path, sbx_error *err)
{
	_cleanup_free_ char *parent = strdup(path);
	struct stat st;
	char *slash;

	if (!parent)
		return sbx_error_set(err, ENOMEM, "out of memory");
	slash = strrchr(parent, '/');
	if (!slash)
		snprintf(parent, strlen(parent) + 1, ".");
	else if (slash == parent)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (stat(parent, &st) < 0)
		return sbx_error_errno(err, errno, "%s", parent);
	return check_owner(parent, &st, true, err);
}

/* One line of a level file, kept for rewriting: KEY is -1 for blank and comment lines. */
struct policy_line {
	char *text;
	int key;
	char *comment; /* trailing "# ..." of a key line, or NULL; points into text */
};

struct policy_lines {
	struct policy_line *line;
	size_t n;
};

static void lines_free(struct policy_lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->line[i].text);
	free(l->line);
	*l = (struct policy_lines){0};
}

static int lines_append(struct policy_lines *l, char *text, int key, char *comment)
{
	struct policy_line *n = realloc(l->line, (l->n + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	l->line = n;
	l->line[l->n++] = (struct policy_line){text, key, comment};
	return 0;
}

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t' || *s == '\r')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

/* Parses TEXT (LEN bytes, of file PATH) into *ret and, if LINES is not NULL, keeps every line. */
static int parse_text(const char *path, const char *text, size_t len, struct policy_values *ret,
		      struct policy_lines *lines, sbx_error *err)
{
	struct policy_values v = {0};
	unsigned first_line[POLICY_KEY_COUNT] = {0};
	unsigned lineno = 0;
	const char *p = text, *end = text + len;

	if (memchr(text, '\0', len))
		return sbx_error_set(err, EINVAL, "%s: contains a NUL byte", path);
	while (p < end) {
		const char *start = p, *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char buf[POLICY_LINE_MAX + 1], *s, *eq, *hash, *key, *value;
		enum policy_key k = POLICY_MEMORY;
		sbx_error verr;
		int key_index = -1, r;

		lineno++;
		if (n > POLICY_LINE_MAX)
			return sbx_error_set(err, EINVAL, "%s:%u: line longer than %d characters",
					     path, lineno, POLICY_LINE_MAX);
		memcpy(buf, p, n);
		buf[n] = '\0';
		p += n + (nl ? 1 : 0);
		s = trim(buf);
		if (*s && *s != '#') {
			hash = strchr(s, '#');
			if (hash)
				*hash = '\0';
			eq = strchr(s, '=');
			if (!eq)
				return sbx_error_set(err, EINVAL, "%s:%u: expected 'key = value'",
						     path, lineno);
			*eq = '\0';
			key = trim(s);
			value = trim(eq + 1);
			if (policy_key_from_name(key, &k, &verr) < 0)
				return sbx_error_set(err, EINVAL, "%s:%u: %s", path, lineno,
						     verr.msg);
			if (!*value)
				return sbx_error_set(err, EINVAL, "%s:%u: %s: empty value", path,
						     lineno, key);
			if (v.set[k])
				return sbx_error_set(err, EINVAL,
						     "%s:%u: %s is already set on line %u", path,
						     lineno, key, first_line[k]);
			r = policy_parse_value(k, value, &v.value[k], &verr);
			if (r < 0)
				return sbx_error_set(err, EINVAL, "%s:%u: %s", path, lineno,
						     verr.msg);
			v.set[k] = true;
			first_line[k] = lineno;
			key_index = (int)k;
		}
		if (lines) {
			/* Re-read the untouched line for rewriting; the trailing comment, if any,
			 * starts at its first '#'. */
			char *copy = strndup(start, n), *comment = NULL;
			if (!copy)
				return sbx_error_set(err, ENOMEM, "out of memory");
			if (key_index >= 0)
				comment = strchr(copy, '#');
			if (lines_append(lines, copy, key_index, comment) < 0) {
				free(copy);
				return sbx_error_set(err, ENOMEM, "out of memory");
			}
		}
	}
	*ret = v;
	return 0;
}

/* Reads a whole level file after checking who owns it. */
static int read_file(const char *path, char **ret_text, size_t *ret_len, sbx_error *err)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *text = NULL;
	struct stat st;
	size_t len = 0;
	int r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0) {
		if (errno == ELOOP)
			return sbx_error_set(err, EINVAL, "%s: is a symbolic link", path);
		return sbx_error_errno(err, errno, "%s", path);
	}
	if (fstat(fd, &st) < 0)
		return sbx_error_errno(err, errno, "%s", path);
	r = check_owner(path, &st, false, err);
	if (r < 0)
		return r;
	r = check_parent(path, err);
	if (r < 0)
		return r;
	if (st.st_size > POLICY_FILE_MAX)
		return sbx_error_set(err, EFBIG, "%s: larger than %d bytes", path, POLICY_FILE_MAX);
	text = malloc((size_t)st.st_size + 1);
	if (!text)
		return sbx_error_set(err, ENOMEM, "out of memory");
	for (;;) {
		ssize_t n = read(fd, text + len, (size_t)st.st_size + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return sbx_error_errno(err, errno, "%s", path);
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > (size_t)st.st_size)
			return sbx_error_set(err, EBUSY, "%s: grew while being read", path);
	}
	text[len] = '\0';
	*ret_text = TAKE_PTR(text);
	*ret_len = len;
	return 0;
}

static int load_file(const char *path, struct policy_values *ret, struct policy_lines *lines,
		     sbx_error *err)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = read_file(path, &text, &len, err);

	if (r < 0)
		return r;
	return parse_text(path, text, len, ret, lines, err);
}

int policy_parse_text(const char *name, const char *text, size_t len, struct policy_values *ret,
		      sbx_error *err)
{
	return parse_text(name, text, len, ret, NULL, err);
}

int policy_file_load(const char *path, struct policy_values *ret, sbx_error *err)
{
	return load_file(path, ret, NULL, err);
}

int policy_level_load(const char *dir, const struct policy_level *level, struct policy_values *ret,
		      sbx_error *err)
{
	_cleanup_free_ char *path = NULL;
	int r = policy_level_path(dir, level, &path, err);

	if (r < 0)
		return r;
	r = policy_file_load(path, ret, err);
	if (r == -ENOENT) {
		*ret = (struct policy_values){0};
		return 0;
	}
	return r;
}

static int entry_compare(const void *a, const void *b)
{
	return strcmp(((const struct policy_entry *)a)->name,
		      ((const struct policy_entry *)b)->name);
}

/* Loads every NAME.conf of DIR/SUB into a sorted array. */
static int load_level_dir(const char *dir, const char *sub, struct policy_entry **ret,
			  size_t *ret_n, sbx_error *err)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_free_ struct policy_entry *entries = NULL;
	size_t n = 0;
	struct stat st;
	DIR *d;
	struct dirent *de;
	int r = 0;

	if (asprintf(&path, "%s/%s", dir, sub) < 0) {
		path = NULL;
		return sbx_error_set(err, ENOMEM, "out of memory");
	}
	if (stat(path, &st) < 0) {
		if (errno == ENOENT) {
			*ret = NULL;
			*ret_n = 0;
			return 0;
		}
		return sbx_error_errno(err, errno, "%s", path);
	}
	r = check_owner(path, &st, true, err);
	if (r < 0)
		return r;
	d = opendir(path);
	if (!d)
		return sbx_error_errno(err, errno, "%s", path);
	while ((errno = 0, de = readdir(d))) {
		size_t len = strlen(de->d_name);
		char name[POLICY_NAME_MAX + 1];
		_cleanup_free_ char *file = NULL;
		struct policy_entry *grown;

		if (len <= 5 || len - 5 > POLICY_NAME_MAX || strcmp(de->d_name + len - 5, ".conf"))
			continue;
		memcpy(name, de->d_name, len - 5);
		name[len - 5] = '\0';
		if (!policy_name_valid(name))
			continue;
		grown = realloc(entries, (n + 1) * sizeof(*entries));
		if (!grown) {
			r = sbx_error_set(err, ENOMEM, "out of memory");
			break;
		}
		entries = grown;
		memset(&entries[n], 0, sizeof(entries[n]));
		memcpy(entries[n].name, name, len - 4);
		if (asprintf(&file, "%s/%s", path, de->d_name) < 0) {
			file = NULL;
			r = sbx_error_set(err, ENOMEM, "out of memory");
			break;
		}
		r = policy_file_load(file, &entries[n].values, err);
		/* Removed by a concurrent unset between readdir and open: not there, fine. */
		if (r == -ENOENT) {
			r = 0;
			continue;
		}
		if (r < 0)
			break;
		n++;
	}
	if (r == 0 && errno)
		r = sbx_error_errno(err, errno, "%s", path);
	closedir(d);
	if (r < 0)
		return r;
	if (n)
		qsort(entries, n, sizeof(*entries), entry_compare);
	*ret = TAKE_PTR(entries);
	*ret_n = n;
	return 0;
}

void policy_store_free(struct policy_store *store)
{
	if (!store)
		return;
	free(store->groups);
	free(store->users);
	free(store);
}

int policy_load_all(const char *dir, struct policy_store **ret, sbx_error *err)
{
	struct policy_store *s = calloc(1, sizeof(*s));
	_cleanup_free_ char *path = NULL;
	struct stat st;
	int r;

	if (!s)
		return sbx_error_set(err, ENOMEM, "out of memory");
	if (stat(dir, &st) < 0) {
		if (errno == ENOENT) {
			*ret = s;
			return 0;
		}
		r = sbx_error_errno(err, errno, "%s", dir);
		goto fail;
	}
	r = check_owner(dir, &st, true, err);
	if (r < 0)
		goto fail;
	if (asprintf(&path, "%s/default.conf", dir) < 0) {
		path = NULL;
		r = sbx_error_set(err, ENOMEM, "out of memory");
		goto fail;
	}
	r = policy_file_load(path, &s->default_values, err);
	if (r == 0)
		s->has_default = true;
	else if (r != -ENOENT)
		goto fail;
	r = load_level_dir(dir, "group", &s->groups, &s->n_groups, err);
	if (r < 0)
		goto fail;
	r = load_level_dir(dir, "user", &s->users, &s->n_users, err);
	if (r < 0)
		goto fail;
	*ret = s;
	return 0;
fail:
	policy_store_free(s);
	return r;
}

int policy_store_reload(const char *dir, struct policy_store **store, sbx_error *err)
{
	struct policy_store *fresh = NULL;
	int r = policy_load_all(dir, &fresh, err);

	if (r < 0)
		return r;
	policy_store_free(*store);
	*store = fresh;
	return 0;
}

static const struct policy_entry *find_entry(const struct policy_entry *entries, size_t n,
					     const char *name)
{
	struct policy_entry key;

	if (!name || !n || !policy_name_valid(name))
		return NULL;
	snprintf(key.name, sizeof(key.name), "%s", name);
	return bsearch(&key, entries, n, sizeof(*entries), entry_compare);
}

const struct policy_entry *policy_store_group(const struct policy_store *store, const char *name)
{
	return find_entry(store->groups, store->n_groups, name);
}

const struct policy_entry *policy_store_user(const struct policy_store *store, const char *name)
{
	return find_entry(store->users, store->n_users, name);
}

/* ---- resolving ---- */

/* The groups' contribution, merged one group at a time in any order. */
struct group_merge {
	bool set[POLICY_KEY_COUNT];
	uint64_t value[POLICY_KEY_COUNT];
	char name[POLICY_KEY_COUNT][POLICY_NAME_MAX + 1];
};

static void group_merge_add(struct group_merge *m, const char *name, const struct policy_values *v)
{
	for (size_t k = 0; k < POLICY_KEY_COUNT; k++) {
		bool better;

		if (!v->set[k])
			continue;
		if (!m->set[k])
			better = true;
		else if (v->value[k] == m->value[k])
			better = strcmp(name, m->name[k]) < 0;
		else if (keys[k].merge == MERGE_MAX)
			better = v->value[k] > m->value[k];
		else
			better = v->value[k] < m->value[k];
		if (!better)
			continue;
		m->set[k] = true;
		m->value[k] = v->value[k];
		snprintf(m->name[k], sizeof(m->name[k]), "%s", name);
	}
}

static void resolve_levels(const struct policy_values *def, const struct group_merge *groups,
			   const char *user, const struct policy_values *user_values,
			   struct policy_effective *ret)
{
	memset(ret, 0, sizeof(*ret));
	for (size_t k = 0; k < POLICY_KEY_COUNT; k++) {
		ret->value[k] = keys[k].builtin;
		ret->source_kind[k] = POLICY_SOURCE_BUILTIN;
		snprintf(ret->source[k], sizeof(ret->source[k]), "built-in");
		if (def && def->set[k]) {
			ret->value[k] = def->value[k];
			ret->source_kind[k] = POLICY_SOURCE_DEFAULT;
			snprintf(ret->source[k], sizeof(ret->source[k]), "default");
		}
		if (groups->set[k]) {
			ret->value[k] = groups->value[k];
			ret->source_kind[k] = POLICY_SOURCE_GROUP;
			snprintf(ret->source[k], sizeof(ret->source[k]), "group @%s",
				 groups->name[k]);
		}
		if (user_values && user_values->set[k]) {
			ret->value[k] = user_values->value[k];
			ret->source_kind[k] = POLICY_SOURCE_USER;
			snprintf(ret->source[k], sizeof(ret->source[k]), "user %s", user);
		}
	}
}

void policy_store_resolve(const struct policy_store *store, const char *user,
			  const char *const *groups, struct policy_effective *ret)
{
	struct group_merge m = {0};
	const struct policy_entry *u = policy_store_user(store, user);

	for (size_t i = 0; groups && groups[i]; i++) {
		const struct policy_entry *g = policy_store_group(store, groups[i]);
		if (g)
			group_merge_add(&m, g->name, &g->values);
	}
	resolve_levels(store->has_default ? &store->default_values : NULL, &m, user,
		       u ? &u->values : NULL, ret);
}

int policy_resolve(const char *dir, const char *user, const char *const *groups,
		   struct policy_effective *ret, sbx_error *err)
{
	struct policy_level level = {.kind = POLICY_LEVEL_DEFAULT};
	struct policy_values def, user_values = {0}, v;
	struct group_merge m = {0};
	int r;

	r = policy_level_load(dir, &level, &def, err);
	if (r < 0)
		return r;
	level.kind = POLICY_LEVEL_GROUP;
	for (size_t i = 0; groups && groups[i]; i++) {
		if (!policy_name_valid(groups[i]))
			continue;
		snprintf(level.name, sizeof(level.name), "%s", groups[i]);
		r = policy_level_load(dir, &level, &v, err);
		if (r < 0)
			return r;
		group_merge_add(&m, groups[i], &v);
	}
	if (policy_name_valid(user)) {
		level.kind = POLICY_LEVEL_USER;
		snprintf(level.name, sizeof(level.name), "%s", user);
		r = policy_level_load(dir, &level, &user_values, err);
		if (r < 0)
			return r;
	}
	resolve_levels(&def, &m, user, &user_values, ret);
	return 0;
}

int policy_user_groups(const char *user, gid_t gid, char ***ret, sbx_error *err)
{
	_cleanup_free_ gid_t *gids = NULL;
	int n = 32, got;

	for (;;) {
		gid_t *grown = realloc(gids, (size_t)n * sizeof(*gids));
		if (!grown)
			return sbx_error_set(err, ENOMEM, "out of memory");
		gids = grown;
		got = n;
		if (getgrouplist(user, gid, gids, &got) >= 0)
			break;
		if (got <= n)
			n *= 2;
		else
			n = got;
		if (n > 1 << 20)
			return sbx_error_set(err, E2BIG, "%s: too many groups", user);
	}
	return policy_group_names(gids, (size_t)got, ret, err);
}

int policy_group_names(const gid_t *gids, size_t got, char ***ret, sbx_error *err)
{
	char **names;
	size_t out = 0;

	names = calloc(got + 1, sizeof(*names));
	if (!names)
		return sbx_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < got; i++) {
		struct group gr, *result = NULL;
		_cleanup_free_ char *buf = NULL;
		size_t size = 16384;
		int r;

		/* A course's group entry lists every student: grow the buffer as NSS asks. */
		for (;;) {
			free(buf);
			buf = malloc(size);
			if (!buf) {
				policy_groups_free(names);
				return sbx_error_set(err, ENOMEM, "out of memory");
			}
			r = getgrgid_r(gids[i], &gr, buf, size, &result);
			if (r != ERANGE || size >= 16u << 20)
				break;
			size *= 2;
		}
		if (r != 0 || !result)
			continue;
		names[out] = strdup(gr.gr_name);
		if (!names[out]) {
			policy_groups_free(names);
			return sbx_error_set(err, ENOMEM, "out of memory");
		}
		out++;
	}
	*ret = names;
	return 0;
}

void policy_groups_free(char **groups)
{
	for (size_t i = 0; groups && groups[i]; i++)
		free(groups[i]);
	free(groups);
}

/* ---- writing ---- */

static int mkdir_policy(const char *path, sbx_error *err)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return sbx_error_errno(err, errno, "cannot create %s", path);
	return 0;
}

/* Takes the writers' lock: every read-modify-write of any level file happens under it. */
static int lock_policy(const char *dir, int *ret_fd, sbx_error *err)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int fd = -1;
	int r = mkdir_policy(dir, err);

	if (r < 0)
		return r;
	if (asprintf(&path, "%s/.lock", dir) < 0) {
		path = NULL;
		return sbx_error_set(err, ENOMEM, "out of memory");
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (fd < 0)
		return sbx_error_errno(err, errno, "%s", path);
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return sbx_error_errno(err, errno, "cannot lock %s", path);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static int fsync_dir(const char *dir, sbx_error *err)
{
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return sbx_error_errno(err, errno, "%s", dir);
	if (fsync(fd) < 0)
		return sbx_error_errno(err, errno, "cannot sync %s", dir);
	return 0;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Replaces PATH (in directory PARENT) with LINES, or removes it when nothing is left. */
static int write_lines(const char *parent, const char *path, const struct policy_lines *lines,
		       sbx_error *err)
{
	_cleanup_free_ char *tmp = NULL, *text = NULL;
	_cleanup_close_ int fd = -1;
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	size_t len = 0, size = 1;
	bool empty = true;
	int r;

	for (size_t i = 0; i < lines->n; i++) {
		size += strlen(lines->line[i].text) + 1;
		if (lines->line[i].text[strspn(lines->line[i].text, " \t\r")])
			empty = false;
	}
	if (empty) {
		if (unlink(path) < 0 && errno != ENOENT)
			return sbx_error_errno(err, errno, "cannot remove %s", path);
		return fsync_dir(parent, err);
	}
	text = malloc(size);
	if (!text)
		return sbx_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < lines->n; i++)
		len += (size_t)sprintf(text + len, "%s\n", lines->line[i].text);
	if (asprintf(&tmp, "%s/.%s.XXXXXX", parent, base) < 0) {
		tmp = NULL;
		return sbx_error_set(err, ENOMEM, "out of memory");
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return sbx_error_errno(err, errno, "cannot create a temporary file in %s", parent);
	r = write_all(fd, text, len);
	if (r < 0) {
		sbx_error_errno(err, -r, "cannot write %s", tmp);
		goto fail;
	}
	if (fchmod(fd, 0644) < 0 || fsync(fd) < 0) {
		r = sbx_error_errno(err, errno, "cannot write %s", tmp);
		goto fail;
	}
	r = close(TAKE_FD(fd));
	if (r < 0) {
		r = sbx_error_errno(err, errno, "cannot write %s", tmp);
		goto fail;
	}
	if (rename(tmp, path) < 0) {
		r = sbx_error_errno(err, errno, "cannot rename %s to %s", tmp, path);
		goto fail;
	}
	return fsync_dir(parent, err);
fail:
	unlink(tmp);
	return r;
}

/* Runs EDIT on the level's lines under the writers' lock, then writes them back. */
static int edit_level(const char *dir, const struct policy_level *level,
		      int (*edit)(struct policy_lines *lines, void *userdata), void *userdata,
		      sbx_error *err)
{
	_cleanup_free_ char *path = NULL, *parent = NULL;
	_cleanup_close_ int lock_fd = -1;
	struct policy_lines lines = {0};
	struct policy_values current;
	int r;

	r = policy_level_path(dir, level, &path, err);
	if (r < 0)
		return r;
	parent = strdup(path);
	if (!parent)
		return sbx_error_set(err, ENOMEM, "out of memory");
	*strrchr(parent, '/') = '\0';
	r = lock_policy(dir, &lock_fd, err);
	if (r < 0)
		return r;
	r = mkdir_policy(parent, err);
	if (r < 0)
		return r;
	r = load_file(path, &current, &lines, err);
	if (r == -ENOENT)
		r = 0;
	else if (r < 0)
		goto out;
	r = edit(&lines, userdata);
	if (r < 0) {
		sbx_error_set(err, -r, "out of memory");
		goto out;
	}
	r = write_lines(parent, path, &lines, err);
out:
	lines_free(&lines);
	return r;
}

struct set_request {
	uint64_t value[POLICY_KEY_COUNT];
	bool set[POLICY_KEY_COUNT];
};

static int format_line(struct policy_line *line, enum policy_key k, uint64_t value,
		       const char *comment)
{
	char v[64];
	char *text;

	policy_format_value(k, value, v, sizeof(v));
	if (asprintf(&text, "%s = %s%s%s", keys[k].name, v, comment ? " " : "",
		     comment ? comment : "") < 0)
		return -ENOMEM;
	free(line->text);
	line->text = text;
	line->key = (int)k;
	line->comment = comment ? strchr(text, '#') : NULL;
	return 0;
}

static int apply_set(struct policy_lines *lines, void *userdata)
{
	const struct set_request *req = userdata;

	for (size_t k = 0; k < POLICY_KEY_COUNT; k++) {
		size_t i;
		if (!req->set[k])
			continue;
		for (i = 0; i < lines->n && lines->line[i].key != (int)k; i++)
			;
		if (i < lines->n) {
			_cleanup_free_ char *comment =
			    lines->line[i].comment ? strdup(lines->line[i].comment) : NULL;
			if (lines->line[i].comment && !comment)
				return -ENOMEM;
			if (format_line(&lines->line[i], k, req->value[k], comment) < 0)
				return -ENOMEM;
			continue;
		}
		if (lines_append(lines, NULL, -1, NULL) < 0)
			return -ENOMEM;
		if (format_line(&lines->line[lines->n - 1], k, req->value[k], NULL) < 0)
			return -ENOMEM;
	}
	return 0;
}

int policy_set(const char *dir, const struct policy_level *level, const char *const *assignments,
	       size_t n_assignments, sbx_error *err)
{
	struct set_request req = {0};

	for (size_t i = 0; i < n_assignments; i++) {
		char buf[POLICY_LINE_MAX + 1], *eq, *key, *value;
		enum policy_key k = POLICY_MEMORY;
		int r;

		if (strlen(assignments[i]) > POLICY_LINE_MAX)
			return sbx_error_set(err, EINVAL, "assignment longer than %d characters",
					     POLICY_LINE_MAX);
		snprintf(buf, sizeof(buf), "%s", assignments[i]);
		eq = strchr(buf, '=');
		if (!eq)
			return sbx_error_set(err, EINVAL, "expected KEY=VALUE, got '%s'", buf);
		*eq = '\0';
		key = trim(buf);
		value = trim(eq + 1);
		r = policy_key_from_name(key, &k, err);
		if (r < 0)
			return r;
		if (req.set[k])
			return sbx_error_set(err, EINVAL, "%s given twice", key);
		r = policy_parse_value(k, value, &req.value[k], err);
		if (r < 0)
			return r;
		req.set[k] = true;
	}
	return edit_level(dir, level, apply_set, &req, err);
}

struct unset_request {
	bool unset[POLICY_KEY_COUNT];
	size_t removed;
};

static int apply_unset(struct policy_lines *lines, void *userdata)
{
	struct unset_request *req = userdata;
	size_t out = 0;

	for (size_t i = 0; i < lines->n; i++) {
		int k = lines->line[i].key;
		if (k >= 0 && req->unset[k]) {
			free(lines->line[i].text);
			req->removed++;
			continue;
		}
		lines->line[out++] = lines->line[i];
	}
	lines->n = out;
	return 0;
}

int policy_unset(const char *dir, const struct policy_level *level, const char *const *names,
		 size_t n_keys, size_t *ret_removed, sbx_error *err)
{
	struct unset_request req = {0};
	int r;

	for (size_t i = 0; i < n_keys; i++) {
		enum policy_key k = POLICY_MEMORY;
		r = policy_key_from_name(names[i], &k, err);
		if (r < 0)
			return r;
		req.unset[k] = true;
	}
	r = edit_level(dir, level, apply_unset, &req, err);
	if (r < 0)
		return r;
	if (ret_removed)
		*ret_removed = req.removed;
	return 0;
}
