#include "config.h"

#include "common/config_file.h"
#include "common/cleanup.h"
#include "common/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CONFIG_LINE_MAX 4096
#define CONFIG_TIME_MAX INT_MAX
#define CONFIG_DEFAULT_HOST_KEY SYSCONFDIR "/sandboxd/ssh_host_ed25519_key"
#define CONFIG_DEFAULT_ORIGIN "command line"

enum config_type {
	CONFIG_TYPE_PORT,   /* int, 1-65535 */
	CONFIG_TYPE_UINT,   /* unsigned, min..max */
	CONFIG_TYPE_TIME,   /* unsigned seconds, 0..CONFIG_TIME_MAX */
	CONFIG_TYPE_BOOL,   /* bool, yes or no */
	CONFIG_TYPE_STRING, /* char *, non-empty, optionally validated by check */
	CONFIG_TYPE_PATH,   /* char *, absolute */
	CONFIG_TYPE_CUSTOM, /* parse and dump functions */
};

struct config_keyword;

/* Parsers fill err with a message that has no "file:line: " prefix; the caller adds it. */
typedef int (*config_parse_fn)(struct sbx_config *cfg, const struct config_keyword *kw,
			       const char *value, bool replace_list, sbx_error *err);
typedef void (*config_dump_fn)(const struct sbx_config *cfg, const char *name, FILE *out);
typedef int (*config_check_fn)(const struct config_keyword *kw, const char *value, sbx_error *err);

struct config_keyword {
	const char *name;
	enum config_type type;
	size_t offset;
	unsigned min, max;     /* CONFIG_TYPE_UINT */
	config_check_fn check; /* CONFIG_TYPE_STRING, optional */
	config_parse_fn parse; /* CONFIG_TYPE_CUSTOM */
	config_dump_fn dump;   /* CONFIG_TYPE_CUSTOM */
	bool repeatable;       /* a list: may appear more than once in a source */
	bool words;            /* the value is every word to the end of the line (sshd's lists) */
	const char *def;       /* default in file syntax; NULL: a list config_finish fills */
	const char *doc;       /* one line, as in data/sandboxd.conf */
};

static bool config_is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool config_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool config_is_alnum(char c)
{
	return config_is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Decimal digits only: strtoul would also take blanks, signs and "0x". */
static int config_parse_decimal(const char *s, unsigned long long max, unsigned long long *ret)
{
	unsigned long long v = 0;

	if (!config_is_digit(*s))
		return -EINVAL;
	for (; config_is_digit(*s); s++) {
		unsigned d = (unsigned)(*s - '0');
		if (v > (max - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	if (*s)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int config_parse_port_number(const char *s, int *ret)
{
	unsigned long long v;

	if (config_parse_decimal(s, 65535, &v) < 0 || v == 0)
		return -EINVAL;
	*ret = (int)v;
	return 0;
}

/* sshd's time format: a number of seconds, or numbers with units s, m, h, d, w ("1h30m"). */
static int config_parse_time(const char *s, unsigned *ret)
{
	unsigned long long total = 0;

	if (!*s)
		return -EINVAL;
	while (*s) {
		unsigned long long n = 0, unit = 1;

		if (!config_is_digit(*s))
			return -EINVAL;
		for (; config_is_digit(*s); s++) {
			n = n * 10 + (unsigned)(*s - '0');
			if (n > CONFIG_TIME_MAX)
				return -ERANGE;
		}
		switch (*s) {
		case '\0':
			break;
		case 's':
		case 'S':
			break;
		case 'm':
		case 'M':
			unit = 60;
			break;
		case 'h':
		case 'H':
			unit = 60 * 60;
			break;
		case 'd':
		case 'D':
			unit = 24 * 60 * 60;
			break;
		case 'w':
		case 'W':
			unit = 7 * 24 * 60 * 60;
			break;
		default:
			return -EINVAL;
		}
		if (*s)
			s++;
		total += n * unit;
		if (total > CONFIG_TIME_MAX)
			return -ERANGE;
	}
	*ret = (unsigned)total;
	return 0;
}

static int config_set_string(char **field, const char *value, sbx_error *err)
{
	char *copy = strdup(value);

	if (!copy)
		return sbx_error_set(err, ENOMEM, "out of memory");
	free(*field);
	*field = copy;
	return 0;
}

static bool config_is_ipv6(const char *s)
{
	struct in6_addr a;

	return inet_pton(AF_INET6, s, &a) == 1;
}

/* A numeric IPv4 address, or a host name after RFC 1123 (labels of letters, digits and inner
 * hyphens); something made only of digits and dots must be a valid IPv4 address. */
static bool config_is_ipv4_or_hostname(const char *s)
{
	struct in_addr a;
	size_t label = 0, total = 0;
	bool only_numeric = true;

	if (!*s)
		return false;
	for (const char *p = s; *p; p++) {
		if (!config_is_digit(*p) && *p != '.')
			only_numeric = false;
	}
	if (only_numeric)
		return inet_pton(AF_INET, s, &a) == 1;
	for (const char *p = s; *p; p++, total++) {
		if (*p == '.') {
			if (label == 0 || p[-1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!config_is_alnum(*p) && *p != '-')
			return false;
		if (*p == '-' && label == 0)
			return false;
		if (++label > 63)
			return false;
	}
	if (label > 0 && s[total - 1] == '-')
		return false;
	return total <= 253;
}

static void config_free_listen(struct sbx_config *cfg)
{
	for (size_t i = 0; i < cfg->n_listen; i++) {
		free(cfg->listen[i].host);
		cfg->listen[i].host = NULL;
		cfg->listen[i].port = 0;
	}
	cfg->n_listen = 0;
}

static void config_free_host_keys(struct sbx_config *cfg)
{
	for (size_t i = 0; i < cfg->n_host_keys; i++) {
		free(cfg->host_keys[i]);
		cfg->host_keys[i] = NULL;
	}
	cfg->n_host_keys = 0;
}

static int config_add_listen(struct sbx_config *cfg, const char *host, int port, sbx_error *err)
{
	if (cfg->n_listen >= CONFIG_MAX_LISTEN)
		return sbx_error_set(err, EINVAL, "ListenAddress: too many addresses (at most %d)",
				     CONFIG_MAX_LISTEN);
	char *copy = strdup(host);
	if (!copy)
		return sbx_error_set(err, ENOMEM, "out of memory");
	cfg->listen[cfg->n_listen].host = copy;
	cfg->listen[cfg->n_listen].port = port;
	cfg->n_listen++;
	return 0;
}

static int config_add_host_key(struct sbx_config *cfg, const char *path, sbx_error *err)
{
	if (cfg->n_host_keys >= CONFIG_MAX_HOSTKEYS)
		return sbx_error_set(err, EINVAL, "HostKey: too many host keys (at most %d)",
				     CONFIG_MAX_HOSTKEYS);
	char *copy = strdup(path);
	if (!copy)
		return sbx_error_set(err, ENOMEM, "out of memory");
	cfg->host_keys[cfg->n_host_keys++] = copy;
	return 0;
}

/* Forms: "1.2.3.4", "1.2.3.4:2222", "::1", "[::1]", "[::1]:2222", "host", "host:2222". */
static int config_parse_listen(struct sbx_config *cfg, const struct config_keyword *kw,
			       const char *value, bool replace_list, sbx_error *err)
{
	_cleanup_free_ char *host = NULL;
	const char *port_str = NULL;
	int port = 0;

	if (value[0] == '[') {
		const char *close = strchr(value, ']');
		if (!close)
			return sbx_error_set(err, EINVAL, "%s: '%s' has '[' without ']'", kw->name,
					     value);
		host = strndup(value + 1, (size_t)(close - value - 1));
		if (!host)
			return sbx_error_set(err, ENOMEM, "out of memory");
		if (!config_is_ipv6(host))
			return sbx_error_set(err, EINVAL, "%s: '%s' in '%s' is not an IPv6 address",
					     kw->name, host, value);
		if (close[1] == ':')
			port_str = close + 2;
		else if (close[1] != '\0')
			return sbx_error_set(err, EINVAL, "%s: unexpected '%s' after ']' in '%s'",
					     kw->name, close + 1, value);
	} else {
		const char *colon = strchr(value, ':');
		if (colon && strchr(colon + 1, ':')) {
			/* Two colons or more: a bare IPv6 address, which cannot carry a port. */
			if (!config_is_ipv6(value))
				return sbx_error_set(
				    err, EINVAL,
				    "%s: '%s' is not an IPv6 address (write [address]:port "
				    "for a port)",
				    kw->name, value);
			host = strdup(value);
		} else if (colon) {
			host = strndup(value, (size_t)(colon - value));
			port_str = colon + 1;
		} else {
			host = strdup(value);
		}
		if (!host)
			return sbx_error_set(err, ENOMEM, "out of memory");
		if (!strchr(host, ':') && !config_is_ipv4_or_hostname(host))
			return sbx_error_set(err, EINVAL,
					     "%s: '%s' is not an IPv4 address or host name",
					     kw->name, host);
	}
	if (port_str && config_parse_port_number(port_str, &port) < 0)
		return sbx_error_set(err, EINVAL,
				     "%s: port '%s' in '%s' is not a port number (1-65535)",
				     kw->name, port_str, value);
	if (replace_list)
		config_free_listen(cfg);
	return config_add_listen(cfg, host, port, err);
}

static void config_dump_listen_one(const char *name, const char *host, int port, FILE *out)
{
	if (strchr(host, ':'))
		fprintf(out, "%s [%s]:%d\n", name, host, port);
	else
		fprintf(out, "%s %s:%d\n", name, host, port);
}

static void config_dump_listen(const struct sbx_config *cfg, const char *name, FILE *out)
{
	if (cfg->n_listen == 0) {
		config_dump_listen_one(name, "0.0.0.0", cfg->port, out);
		config_dump_listen_one(name, "::", cfg->port, out);
		return;
	}
	for (size_t i = 0; i < cfg->n_listen; i++)
		config_dump_listen_one(name, cfg->listen[i].host,
				       cfg->listen[i].port ? cfg->listen[i].port : cfg->port, out);
}

static int config_parse_host_key(struct sbx_config *cfg, const struct config_keyword *kw,
				 const char *value, bool replace_list, sbx_error *err)
{
	if (value[0] != '/')
		return sbx_error_set(err, EINVAL, "%s: '%s' is not an absolute path", kw->name,
				     value);
	if (replace_list)
		config_free_host_keys(cfg);
	for (size_t i = 0; i < cfg->n_host_keys; i++)
		if (strcmp(cfg->host_keys[i], value) == 0)
			return sbx_error_set(err, EINVAL, "%s: '%s' given twice", kw->name, value);
	return config_add_host_key(cfg, value, err);
}

static void config_dump_quoted(const char *name, const char *value, FILE *out);

static void config_dump_host_keys(const struct sbx_config *cfg, const char *name, FILE *out)
{
	if (cfg->n_host_keys == 0)
		config_dump_quoted(name, CONFIG_DEFAULT_HOST_KEY, out);
	for (size_t i = 0; i < cfg->n_host_keys; i++)
		config_dump_quoted(name, cfg->host_keys[i], out);
}

/* "start" (drop every new unauthenticated connection beyond it) or "start:rate:full". */
static int config_parse_max_startups(struct sbx_config *cfg, const struct config_keyword *kw,
				     const char *value, bool replace_list, sbx_error *err)
{
	unsigned long long v[3];
	size_t n = 0;
	const char *p = value;

	for (;;) {
		char part[32];
		size_t len = strcspn(p, ":");
		if (n == 3 || len >= sizeof(part))
			goto bad_form;
		memcpy(part, p, len);
		part[len] = '\0';
		if (config_parse_decimal(part, INT_MAX, &v[n]) < 0)
			goto bad_form;
		n++;
		if (p[len] == '\0')
			break;
		p += len + 1;
	}
	if (n == 1) {
		v[1] = 100;
		v[2] = v[0];
	} else if (n != 3) {
		goto bad_form;
	}
	if (v[0] < 1)
		return sbx_error_set(err, EINVAL, "%s: start must be at least 1 in '%s'", kw->name,
				     value);
	if (v[1] < 1 || v[1] > 100)
		return sbx_error_set(err, EINVAL, "%s: rate %llu in '%s' is out of range (1-100)",
				     kw->name, v[1], value);
	if (v[0] > v[2])
		return sbx_error_set(err, EINVAL,
				     "%s: start %llu is greater than full %llu in '%s'", kw->name,
				     v[0], v[2], value);
	cfg->max_startups_begin = (unsigned)v[0];
	cfg->max_startups_rate = (unsigned)v[1];
	cfg->max_startups_full = (unsigned)v[2];
	return 0;

bad_form:
	return sbx_error_set(
	    err, EINVAL, "%s: '%s' is not 'start' or 'start:rate:full' (numbers, e.g. 10:30:100)",
	    kw->name, value);
}

static void config_dump_max_startups(const struct sbx_config *cfg, const char *name, FILE *out)
{
	fprintf(out, "%s %u:%u:%u\n", name, cfg->max_startups_begin, cfg->max_startups_rate,
		cfg->max_startups_full);
}

/* A count, or "none" for no limit (stored as 0). */
static int config_parse_max_logins(struct sbx_config *cfg, const struct config_keyword *kw,
				   const char *value, bool replace_list, sbx_error *err)
{
	unsigned long long v;

	if (strcasecmp(value, "none") == 0) {
		cfg->max_logins = 0;
		return 0;
	}
	if (config_parse_decimal(value, 1000000, &v) < 0 || v == 0)
		return sbx_error_set(err, EINVAL,
				     "%s: '%s' is not a number of sessions (1-1000000) or 'none'",
				     kw->name, value);
	cfg->max_logins = (unsigned)v;
	return 0;
}

static void config_dump_max_logins(const struct sbx_config *cfg, const char *name, FILE *out)
{
	if (cfg->max_logins == 0)
		fprintf(out, "%s none\n", name);
	else
		fprintf(out, "%s %u\n", name, cfg->max_logins);
}

static const struct {
	const char *name;
	enum log_level level;
} config_log_levels[] = {
    {"ERROR", LOG_LEVEL_ERROR}, {"WARNING", LOG_LEVEL_WARNING}, {"WARN", LOG_LEVEL_WARNING},
    {"INFO", LOG_LEVEL_INFO},	{"DEBUG", LOG_LEVEL_DEBUG},
};

static int config_parse_log_level(struct sbx_config *cfg, const struct config_keyword *kw,
				  const char *value, bool replace_list, sbx_error *err)
{
	for (size_t i = 0; i < ELEMENTSOF(config_log_levels); i++) {
		if (strcasecmp(value, config_log_levels[i].name) == 0) {
			cfg->log_level = (int)config_log_levels[i].level;
			return 0;
		}
	}
	return sbx_error_set(err, EINVAL, "%s: '%s' is not one of ERROR, WARNING, INFO, DEBUG",
			     kw->name, value);
}

static void config_dump_log_level(const struct sbx_config *cfg, const char *name, FILE *out)
{
	for (size_t i = 0; i < ELEMENTSOF(config_log_levels); i++) {
		if (cfg->log_level == (int)config_log_levels[i].level) {
			fprintf(out, "%s %s\n", name, config_log_levels[i].name);
			return;
		}
	}
	fprintf(out, "%s %d\n", name, cfg->log_level);
}

/* Relative to the user's home or absolute; %h (home), %u (user name) and %% are the only
 * tokens, so that a typo cannot silently become a literal path. */
static int config_check_authorized_keys(const struct config_keyword *kw, const char *value,
					sbx_error *err)
{
	for (const char *p = value; *p; p++) {
		if (*p != '%')
			continue;
		p++;
		if (*p == '\0')
			return sbx_error_set(err, EINVAL, "%s: '%%' at the end of '%s'", kw->name,
					     value);
		if (*p != 'h' && *p != 'u' && *p != '%')
			return sbx_error_set(
			    err, EINVAL, "%s: unknown token '%%%c' in '%s' (only %%h, %%u, %%%%)",
			    kw->name, *p, value);
	}
	return 0;
}

/* A file name in /etc/pam.d. */
static int config_check_audit_file(const struct config_keyword *kw, const char *value,
				   sbx_error *err)
{
	if (strcmp(value, "none") != 0 && value[0] != '/')
		return sbx_error_set(err, EINVAL, "%s: '%s' is neither an absolute path nor 'none'",
				     kw->name, value);
	return 0;
}

static int config_check_audit_fsync(const struct config_keyword *kw, const char *value,
				    sbx_error *err)
{
	if (strcmp(value, "never") != 0 && strcmp(value, "batch") != 0 &&
	    strcmp(value, "every") != 0)
		return sbx_error_set(err, EINVAL, "%s: '%s' is not one of never, batch, every",
				     kw->name, value);
	return 0;
}

static int config_check_home_backend(const struct config_keyword *kw, const char *value,
				     sbx_error *err)
{
	if (strcmp(value, "image") != 0 && strcmp(value, "btrfs") != 0 &&
	    strcmp(value, "directory") != 0)
		return sbx_error_set(err, EINVAL, "%s: '%s' is not one of image, btrfs, directory",
				     kw->name, value);
	return 0;
}

static int config_check_pam_service(const struct config_keyword *kw, const char *value,
				    sbx_error *err)
{
	bool ok = value[0] != '.';

	for (const char *p = value; ok && *p; p++)
		ok = config_is_alnum(*p) || *p == '.' || *p == '_' || *p == '-';
	if (!ok)
		return sbx_error_set(err, EINVAL,
				     "%s: '%s' is not a PAM service name (letters, digits, '.', "
				     "'_', '-', not starting with '.')",
				     kw->name, value);
	return 0;
}

/* The portable user name set (POSIX), plus a trailing '$' as useradd allows. */
static int config_check_user_name(const struct config_keyword *kw, const char *value,
				  sbx_error *err)
{
	bool ok = value[0] != '-' && strlen(value) <= 256;

	for (const char *p = value; ok && *p; p++)
		ok = config_is_alnum(*p) || *p == '.' || *p == '_' || *p == '-' ||
		     (*p == '$' && p[1] == '\0' && p != value);
	if (!ok)
		return sbx_error_set(err, EINVAL, "%s: '%s' is not a user name", kw->name, value);
	return 0;
}

/* ---- PerSource*: penalties and limits per source address block ---- */

static void config_penalty_defaults(struct config_per_source *ps)
{
	/* OpenSSH 9.8's defaults. */
	ps->penalties = true;
	ps->crash = 90;
	ps->authfail = 5;
	ps->noauth = 1;
	ps->grace_exceeded = 10;
	ps->max = 600;
	ps->min = 15;
	ps->max_sources4 = 65536;
	ps->max_sources6 = 65536;
	ps->overflow_deny_all = false;
	ps->overflow6_deny_all = false;
}

enum config_penalty_type { CONFIG_PENALTY_TIME, CONFIG_PENALTY_COUNT, CONFIG_PENALTY_OVERFLOW };

static const struct {
	const char *name;
	enum config_penalty_type type;
	size_t offset;
} config_penalty_words[] = {
#define PS(f) offsetof(struct config_per_source, f)
    {"crash", CONFIG_PENALTY_TIME, PS(crash)},
    {"authfail", CONFIG_PENALTY_TIME, PS(authfail)},
    {"noauth", CONFIG_PENALTY_TIME, PS(noauth)},
    {"grace-exceeded", CONFIG_PENALTY_TIME, PS(grace_exceeded)},
    {"max", CONFIG_PENALTY_TIME, PS(max)},
    {"min", CONFIG_PENALTY_TIME, PS(min)},
    {"max-sources4", CONFIG_PENALTY_COUNT, PS(max_sources4)},
    {"max-sources6", CONFIG_PENALTY_COUNT, PS(max_sources6)},
    {"overflow", CONFIG_PENALTY_OVERFLOW, PS(overflow_deny_all)},
    {"overflow6", CONFIG_PENALTY_OVERFLOW, PS(overflow6_deny_all)},
#undef PS
};

static int config_parse_penalty_word(struct config_per_source *ps, const char *kw, const char *word,
				     unsigned *seen, sbx_error *err)
{
	const char *colon = strchr(word, ':');
	size_t name_len = colon ? (size_t)(colon - word) : strlen(word);
	size_t i;

	for (i = 0; i < ELEMENTSOF(config_penalty_words); i++)
		if (strlen(config_penalty_words[i].name) == name_len &&
		    strncmp(config_penalty_words[i].name, word, name_len) == 0)
			break;
	if (i == ELEMENTSOF(config_penalty_words))
		return sbx_error_set(err, EINVAL,
				     "%s: unknown setting '%s' (crash, authfail, noauth, "
				     "grace-exceeded, max, min, max-sources4, max-sources6, "
				     "overflow, overflow6)",
				     kw, word);
	const char *name = config_penalty_words[i].name;
	void *field = (char *)ps + config_penalty_words[i].offset;
	const char *value = colon ? colon + 1 : "";
	if (!colon || !*value)
		return sbx_error_set(err, EINVAL, "%s: '%s' has no value (write %s:VALUE)", kw,
				     word, name);
	if (*seen & (1u << i))
		return sbx_error_set(err, EINVAL, "%s: '%s' given twice", kw, name);
	*seen |= 1u << i;

	unsigned long long v;
	unsigned t;
	int r;
	switch (config_penalty_words[i].type) {
	case CONFIG_PENALTY_TIME:
		r = config_parse_time(value, &t);
		if (r == -ERANGE)
			return sbx_error_set(err, EINVAL,
					     "%s: '%s' is too long (at most %d seconds)", kw, word,
					     CONFIG_TIME_MAX);
		if (r < 0)
			return sbx_error_set(
			    err, EINVAL,
			    "%s: '%s' is not a time (seconds, or numbers with units "
			    "s, m, h, d, w as in 90s, 2m, 1h30m)",
			    kw, word);
		*(unsigned *)field = t;
		return 0;
	case CONFIG_PENALTY_COUNT:
		r = config_parse_decimal(value, UINT_MAX, &v);
		if (r == -EINVAL)
			return sbx_error_set(err, EINVAL, "%s: '%s' is not a number", kw, word);
		if (r < 0 || v < 1 || v > CONFIG_MAX_PENALTY_SOURCES)
			return sbx_error_set(err, EINVAL, "%s: '%s' is out of range (1-%d)", kw,
					     word, CONFIG_MAX_PENALTY_SOURCES);
		*(unsigned *)field = (unsigned)v;
		return 0;
	case CONFIG_PENALTY_OVERFLOW:
		if (strcmp(value, "permissive") == 0)
			*(bool *)field = false;
		else if (strcmp(value, "deny-all") == 0)
			*(bool *)field = true;
		else
			return sbx_error_set(err, EINVAL,
					     "%s: '%s' is not %s:permissive or %s:deny-all", kw,
					     word, name, name);
		return 0;
	}
	return sbx_error_set(err, EINVAL, "%s: unhandled setting '%s'", kw, name);
}

/* "yes", "no", or settings as in sshd_config: "crash:2m authfail:10s max-sources4:1024". A
 * list starts from the defaults, and turns penalties on. */
static int config_parse_penalties(struct sbx_config *cfg, const struct config_keyword *kw,
				  const char *value, bool replace_list, sbx_error *err)
{
	struct config_per_source ps = cfg->per_source;
	char words[CONFIG_LINE_MAX + 1];
	unsigned seen = 0;
	int r;

	config_penalty_defaults(&ps);
	if (strcasecmp(value, "yes") == 0 || strcasecmp(value, "no") == 0) {
		ps.penalties = strcasecmp(value, "yes") == 0;
		cfg->per_source = ps;
		return 0;
	}
	snprintf(words, sizeof(words), "%s", value);
	for (char *save = NULL, *w = strtok_r(words, " \t", &save); w;
	     w = strtok_r(NULL, " \t", &save)) {
		if (strcasecmp(w, "yes") == 0 || strcasecmp(w, "no") == 0)
			return sbx_error_set(err, EINVAL,
					     "%s: '%s' stands alone, not in a list of settings",
					     kw->name, w);
		r = config_parse_penalty_word(&ps, kw->name, w, &seen, err);
		if (r < 0)
			return r;
	}
	if (ps.min >= ps.max)
		return sbx_error_set(err, EINVAL,
				     "%s: min (%us) is not less than max (%us): no source could "
				     "ever be refused",
				     kw->name, ps.min, ps.max);
	cfg->per_source = ps;
	return 0;
}

static void config_dump_penalties(const struct sbx_config *cfg, const char *name, FILE *out)
{
	const struct config_per_source *ps = &cfg->per_source;

	if (!ps->penalties) {
		fprintf(out, "%s no\n", name);
		return;
	}
	fprintf(out,
		"%s crash:%us authfail:%us noauth:%us grace-exceeded:%us max:%us min:%us "
		"max-sources4:%u max-sources6:%u overflow:%s overflow6:%s\n",
		name, ps->crash, ps->authfail, ps->noauth, ps->grace_exceeded, ps->max, ps->min,
		ps->max_sources4, ps->max_sources6,
		ps->overflow_deny_all ? "deny-all" : "permissive",
		ps->overflow6_deny_all ? "deny-all" : "permissive");
}

/* "bits4" or "bits4:bits6", as sshd's PerSourceNetBlockSize. */
static int config_parse_netblock_size(struct sbx_config *cfg, const struct config_keyword *kw,
				      const char *value, bool replace_list, sbx_error *err)
{
	unsigned long long v4, v6 = 128;
	char part[16];
	const char *colon = strchr(value, ':');
	size_t len = colon ? (size_t)(colon - value) : strlen(value);

	if (len >= sizeof(part))
		goto bad_form;
	memcpy(part, value, len);
	part[len] = '\0';
	if (config_parse_decimal(part, 1000, &v4) < 0 ||
	    (colon && config_parse_decimal(colon + 1, 1000, &v6) < 0))
		goto bad_form;
	if (v4 < 1 || v4 > 32)
		return sbx_error_set(err, EINVAL,
				     "%s: IPv4 prefix length %llu is out of range (1-32)", kw->name,
				     v4);
	if (v6 < 1 || v6 > 128)
		return sbx_error_set(err, EINVAL,
				     "%s: IPv6 prefix length %llu is out of range (1-128)",
				     kw->name, v6);
	cfg->per_source.netblock4 = (unsigned)v4;
	cfg->per_source.netblock6 = (unsigned)v6;
	return 0;
bad_form:
	return sbx_error_set(
	    err, EINVAL, "%s: '%s' is not 'bits4' or 'bits4:bits6' (prefix lengths, e.g. 32:128)",
	    kw->name, value);
}

static void config_dump_netblock_size(const struct sbx_config *cfg, const char *name, FILE *out)
{
	fprintf(out, "%s %u:%u\n", name, cfg->per_source.netblock4, cfg->per_source.netblock6);
}

static int config_parse_per_source_max_startups(struct sbx_config *cfg,
						const struct config_keyword *kw, const char *value,
						bool replace_list, sbx_error *err)
{
	unsigned long long v;

	if (strcasecmp(value, "none") == 0) {
		cfg->per_source.max_startups = 0;
		return 0;
	}
	int r = config_parse_decimal(value, UINT_MAX, &v);
	if (r == -EINVAL)
		return sbx_error_set(err, EINVAL, "%s: '%s' is not a number or 'none'", kw->name,
				     value);
	if (r < 0 || v < 1 || v > INT_MAX)
		return sbx_error_set(err, EINVAL, "%s: '%s' is out of range (1-%d)", kw->name,
				     value, INT_MAX);
	cfg->per_source.max_startups = (unsigned)v;
	return 0;
}

static void config_dump_per_source_max_startups(const struct sbx_config *cfg, const char *name,
						FILE *out)
{
	if (cfg->per_source.max_startups == 0)
		fprintf(out, "%s none\n", name);
	else
		fprintf(out, "%s %u\n", name, cfg->per_source.max_startups);
}

/* "none", or addresses and CIDR blocks separated by commas: "192.0.2.1,10.0.0.0/8". */
static int config_parse_penalty_exempt(struct sbx_config *cfg, const struct config_keyword *kw,
				       const char *value, bool replace_list, sbx_error *err)
{
	struct config_per_source *ps = &cfg->per_source;
	struct netblock list[CONFIG_MAX_PENALTY_EXEMPT];
	size_t n = 0;

	if (strcasecmp(value, "none") == 0) {
		ps->n_exempt = 0;
		return 0;
	}
	for (const char *p = value;;) {
		size_t len = strcspn(p, ",");
		char item[NETBLOCK_STRLEN];
		if (len == 0)
			return sbx_error_set(err, EINVAL, "%s: empty address in '%s'", kw->name,
					     value);
		if (n == CONFIG_MAX_PENALTY_EXEMPT)
			return sbx_error_set(err, EINVAL, "%s: more than %d addresses", kw->name,
					     CONFIG_MAX_PENALTY_EXEMPT);
		if (len >= sizeof(item))
			return sbx_error_set(err, EINVAL,
					     "%s: '%.*s' is not an address or CIDR block (e.g. "
					     "192.0.2.1, 10.0.0.0/8, 2001:db8::/32)",
					     kw->name, (int)len, p);
		memcpy(item, p, len);
		item[len] = '\0';
		int r = netblock_parse(item, &list[n]);
		if (r == -EDOM) {
			char meant[NETBLOCK_STRLEN];
			netblock_format(&list[n], meant, sizeof(meant));
			return sbx_error_set(
			    err, EINVAL,
			    "%s: '%s' has bits set past its prefix length (did you "
			    "mean %s?)",
			    kw->name, item, meant);
		}
		if (r < 0)
			return sbx_error_set(err, EINVAL,
					     "%s: '%s' is not an address or CIDR block (e.g. "
					     "192.0.2.1, 10.0.0.0/8, 2001:db8::/32)",
					     kw->name, item);
		n++;
		if (p[len] == '\0')
			break;
		p += len + 1;
	}
	memcpy(ps->exempt, list, n * sizeof(list[0]));
	ps->n_exempt = n;
	return 0;
}

static void config_dump_penalty_exempt(const struct sbx_config *cfg, const char *name, FILE *out)
{
	const struct config_per_source *ps = &cfg->per_source;

	fprintf(out, "%s ", name);
	if (ps->n_exempt == 0)
		fputs("none", out);
	for (size_t i = 0; i < ps->n_exempt; i++) {
		char buf[NETBLOCK_STRLEN];
		netblock_format(&ps->exempt[i], buf, sizeof(buf));
		fprintf(out, "%s%s", i ? "," : "", buf);
	}
	fputc('\n', out);
}

#define FIELD(f) offsetof(struct sbx_config, f)

/* Alphabetical, as in the man page. */
static const struct config_keyword config_keywords[] = {
    {.name = "AuditFile",
     .type = CONFIG_TYPE_STRING,
     .offset = FIELD(audit_file),
     .check = config_check_audit_file,
     .def = LOCALSTATEDIR "/log/sandboxd/audit.jsonl",
     .doc = "the audit trail's JSON-lines file, absolute path, or none"},
    {.name = "AuditFsync",
     .type = CONFIG_TYPE_STRING,
     .offset = FIELD(audit_fsync),
     .check = config_check_audit_fsync,
     .def = "batch",
     .doc = "when audit records reach the disk: never, batch (each second) or every record"},
    {.name = "AuditJournal",
     .type = CONFIG_TYPE_BOOL,
     .offset = FIELD(audit_journal),
     .def = "yes",
     .doc = "also send audit records to the systemd journal"},
    {.name = "AuthorizedKeysFile",
     .type = CONFIG_TYPE_STRING,
     .offset = FIELD(authorized_keys_file),
     .check = config_check_authorized_keys,
     .def = ".ssh/authorized_keys",
     .doc = "public keys file, relative to the home or absolute; %h home, %u user"},
    {.name = "ClientAliveCountMax",
     .type = CONFIG_TYPE_UINT,
     .offset = FIELD(client_alive_count_max),
     .min = 0,
     .max = INT_MAX,
     .def = "3",
     .doc = "unanswered keepalives before disconnecting; 0 never disconnects"},
    {.name = "ClientAliveInterval",
     .type = CONFIG_TYPE_TIME,
     .offset = FIELD(client_alive_interval),
     .def = "15",
     .doc = "idle time before a keepalive is sent; 0 sends none"},
    {.name = "HomeBackend",
     .type = CONFIG_TYPE_STRING,
     .offset = FIELD(home_backend),
     .check = config_check_home_backend,
     .def = "image",
     .doc = "where homes live: image (per-user ext4 image with a quota), btrfs, directory"},
    {.name = "HostKey",
     .type = CONFIG_TYPE_CUSTOM,
     .parse = config_parse_host_key,
     .dump = config_dump_host_keys,
     .repeatable = true,
     .doc = "private host key file, absolute path; repeat for several keys"},
    {.name = "KbdInteractiveAuthentication",
     .type = CONFIG_TYPE_BOOL,
     .offset = FIELD(kbd_interactive_authentication),
     .def = "yes",
     .doc = "allow keyboard-interactive authentication through PAM"},
    {.name = "ListenAddress",
     .type = CONFIG_TYPE_CUSTOM,
     .parse = config_parse_listen,
     .dump = config_dump_listen,
     .repeatable = true,
     .doc = "address to listen on, with an optional port; repeat for several"},
    {.name = "LogLevel",
     .type = CONFIG_TYPE_CUSTOM,
     .parse = config_parse_log_level,
     .dump = config_dump_log_level,
     .def = "INFO",
     .doc = "ERROR, WARNING, INFO or DEBUG"},
    {.name = "LoginGraceTime",
     .type = CONFIG_TYPE_TIME,
     .offset = FIELD(login_grace_time),
     .def = "120",
     .doc = "time allowed to authenticate; 0 is unlimited"},
    {.name = "MaxAuthTries",
     .type = CONFIG_TYPE_UINT,
     .offset = FIELD(max_auth_tries),
     .min = 1,
     .max = 100,
     .def = "6",
     .doc = "authentication attempts per connection (1-100)"},
    {.name = "MaxLogins",
     .type = CONFIG_TYPE_CUSTOM,
     .parse = config_parse_max_logins,
     .dump = config_dump_max_logins,
     .def = "500",
     .doc = "logged-in sessions on the whole host at once, or none; the next login is told the host is full"},
    {.name = "MaxSessions",
     .type = CONFIG_TYPE_UINT,
     .offset = FIELD(max_sessions),
     .min = 1,
     .max = 64, /* INPUT_CHANNELS_MAX, the network child's and monitor's table size */
     .def = "10",
     .doc = "programs (shell, exec, sftp) one connection may run at once (1-64)"},
    {.name = "MaxStartups",
     .type = CONFIG_TYPE_CUSTOM,
     .parse = config_parse_max_startups,
     .dump = config_dump_max_startups,
     .def = "10:30:100",
     .doc = "unauthenticated connections: start:rate:full random early drop"},
    {.name = "PamService",
     .type = CONFIG_TYPE_STRING,
     .offset = FIELD(pam_service),
     .check = config_check_pam_service,
     .def = "sandboxd",
     .doc = "PAM service name (a file in /etc/pam.d)"},
    {.name = "PasswordAuthentication",
     .type = CONFIG_TYPE_BOOL,
     .offset = FIELD(password_authentication),
     .def = "yes",
     .doc = "allow password authentication through PAM"},
    {.name = "PerSourceMaxStartups",
     .type = CONFIG_TYPE_CUSTOM,
     .parse = config_parse_per_source_max_startups,
     .dump = config_dump_per_source_max_startups,
     .def = "none",
     .doc = "unauthenticated connections per source block, or none"},
    {.name = "PerSourceNetBlockSize",
     .type = CONFIG_TYPE_CUSTOM,
     .parse = config_parse_netblock_size,
     .dump = config_dump_netblock_size,
     .def = "32:128",
     .doc = "prefix lengths that group IPv4:IPv6 sources into one block"},
    {.name = "PerSourcePenalties",
     .type = CONFIG_TYPE_CUSTOM,
     .parse = config_parse_penalties,
     .dump = config_dump_penalties,
     .words = true,
     .def = "yes",
     .doc = "refuse source blocks whose connections crash, fail or stall: yes, no or settings"},
    {.name = "PerSourcePenaltyExemptList",
     .type = CONFIG_TYPE_CUSTOM,
     .parse = config_parse_penalty_exempt,
     .dump = config_dump_penalty_exempt,
     .def = "none",
     .doc = "addresses and CIDR blocks never penalised, comma-separated, or none"},
    {.name = "PidFile",
     .type = CONFIG_TYPE_PATH,
     .offset = FIELD(pid_file),
     .def = "/run/sandboxd.pid",
     .doc = "file the daemon writes its process id to, absolute path"},
    {.name = "Port",
     .type = CONFIG_TYPE_PORT,
     .offset = FIELD(port),
     .def = "22",
     .doc = "port for every ListenAddress without its own port (1-65535)"},
    {.name = "PolicyDirectory",
     .type = CONFIG_TYPE_PATH,
     .offset = FIELD(policy_directory),
     .def = SYSCONFDIR "/sandboxd/policy",
     .doc = "where sandboxctl keeps the limits of users, courses and the default"},
    {.name = "PrivsepDirectory",
     .type = CONFIG_TYPE_PATH,
     .offset = FIELD(privsep_directory),
     .def = "/run/sandboxd/empty",
     .doc = "empty root-owned directory the network process chroots into"},
    {.name = "PrivsepUser",
     .type = CONFIG_TYPE_STRING,
     .offset = FIELD(privsep_user),
     .check = config_check_user_name,
     .def = "_sandboxd",
     .doc = "unprivileged user the network process runs as"},
    {.name = "PubkeyAuthentication",
     .type = CONFIG_TYPE_BOOL,
     .offset = FIELD(pubkey_authentication),
     .def = "yes",
     .doc = "allow public key authentication"},
    {.name = "RecordInput",
     .type = CONFIG_TYPE_BOOL,
     .offset = FIELD(record_input),
     .def = "no",
     .doc =
	 "recorded terminal sessions also keep what the student typed (never at hidden prompts)"},
    {.name = "RuntimeDirectory",
     .type = CONFIG_TYPE_PATH,
     .offset = FIELD(runtime_directory),
     .def = "/run/sandboxd",
     .doc = "root-owned directory for live session records and the jails' mount points"},
    {.name = "StateDirectory",
     .type = CONFIG_TYPE_PATH,
     .offset = FIELD(state_directory),
     .def = LOCALSTATEDIR "/lib/sandboxd",
     .doc = "root-only directory for session recordings and home images"},
    {.name = "RunnerPath",
     .type = CONFIG_TYPE_PATH,
     .offset = FIELD(runner_path),
     .def = LIBEXECDIR "/sandbox-python",
     .doc = "the restricted Python runner started in every jail, absolute path"},
};

_Static_assert(ELEMENTSOF(config_keywords) <= 8 * sizeof(unsigned long long),
	       "options_given has one bit per keyword");

static int config_set_value(struct sbx_config *cfg, const struct config_keyword *kw,
			    const char *value, bool replace_list, sbx_error *err)
{
	void *field = (char *)cfg + kw->offset;
	unsigned long long v;
	unsigned t;
	int r;

	if (value[0] == '\0')
		return sbx_error_set(err, EINVAL, "%s: empty value", kw->name);

	switch (kw->type) {
	case CONFIG_TYPE_PORT:
		if (config_parse_port_number(value, field) < 0)
			return sbx_error_set(err, EINVAL, "%s: '%s' is not a port number (1-65535)",
					     kw->name, value);
		return 0;
	case CONFIG_TYPE_UINT:
		r = config_parse_decimal(value, UINT_MAX, &v);
		if (r == -EINVAL)
			return sbx_error_set(err, EINVAL, "%s: '%s' is not a number", kw->name,
					     value);
		if (r < 0 || v < kw->min || v > kw->max)
			return sbx_error_set(err, EINVAL, "%s: '%s' is out of range (%u-%u)",
					     kw->name, value, kw->min, kw->max);
		*(unsigned *)field = (unsigned)v;
		return 0;
	case CONFIG_TYPE_TIME:
		r = config_parse_time(value, &t);
		if (r == -ERANGE)
			return sbx_error_set(err, EINVAL,
					     "%s: '%s' is too long (at most %d seconds)", kw->name,
					     value, CONFIG_TIME_MAX);
		if (r < 0)
			return sbx_error_set(err, EINVAL,
					     "%s: '%s' is not a time (seconds, or numbers with "
					     "units s, m, h, d, w as in 90s, 2m, 1h30m)",
					     kw->name, value);
		*(unsigned *)field = t;
		return 0;
	case CONFIG_TYPE_BOOL:
		if (strcasecmp(value, "yes") == 0)
			*(bool *)field = true;
		else if (strcasecmp(value, "no") == 0)
			*(bool *)field = false;
		else
			return sbx_error_set(err, EINVAL, "%s: '%s' is not 'yes' or 'no'", kw->name,
					     value);
		return 0;
	case CONFIG_TYPE_PATH:
		if (value[0] != '/')
			return sbx_error_set(err, EINVAL, "%s: '%s' is not an absolute path",
					     kw->name, value);
		return config_set_string(field, value, err);
	case CONFIG_TYPE_STRING:
		if (kw->check) {
			r = kw->check(kw, value, err);
			if (r < 0)
				return r;
		}
		return config_set_string(field, value, err);
	case CONFIG_TYPE_CUSTOM:
		return kw->parse(cfg, kw, value, replace_list, err);
	}
	return sbx_error_set(err, EINVAL, "%s: unhandled type", kw->name);
}

static const struct config_keyword *config_find_keyword(const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(config_keywords); i++)
		if (strcasecmp(config_keywords[i].name, name) == 0)
			return &config_keywords[i];
	return NULL;
}

/* Where a line comes from. line 0: an -o option, whose repeats are tracked in the config. */
struct config_source {
	const char *origin;
	unsigned line;
	unsigned *first_line; /* per keyword, for a file; NULL for options */
};

/* Cuts the next word out of *pp in place: bare (no blanks, no '"') or "double quoted" (no
 * escapes). '#' at the start of a word starts a comment, as in OpenSSH 8.x. Sets *ret_word to
 * NULL at the end of the line. */
static int config_next_word(char **pp, const char *keyword, char **ret_word, sbx_error *err)
{
	char *p = *pp, *word;

	while (config_is_blank(*p))
		p++;
	if (*p == '\0' || *p == '#') {
		*ret_word = NULL;
		*pp = p;
		return 0;
	}
	if (*p == '"') {
		word = p + 1;
		char *close = strchr(word, '"');
		if (!close)
			return sbx_error_set(err, EINVAL, "%s: unterminated quote in '%s'", keyword,
					     p);
		*close = '\0';
		p = close + 1;
		if (*p != '\0' && !config_is_blank(*p))
			return sbx_error_set(err, EINVAL,
					     "%s: unexpected '%s' right after the quoted \"%s\"",
					     keyword, p, word);
	} else {
		word = p;
		while (*p != '\0' && !config_is_blank(*p)) {
			if (*p == '"')
				return sbx_error_set(err, EINVAL, "%s: quote inside the value '%s'",
						     keyword, word);
			p++;
		}
	}
	if (*p != '\0')
		*p++ = '\0';
	*pp = p;
	*ret_word = word;
	return 0;
}

/* Applies one line (without its newline). Messages carry no origin; the caller adds it. */
static int config_apply_line(struct sbx_config *cfg, char *line, const struct config_source *src,
			     sbx_error *err)
{
	char *p = line, *keyword, *keyword_end, *value, *extra;
	int r;

	while (config_is_blank(*p))
		p++;
	if (*p == '\0' || *p == '#') {
		if (!src->first_line)
			return sbx_error_set(err, EINVAL, "missing keyword");
		return 0;
	}

	keyword = p;
	while (*p != '\0' && !config_is_blank(*p) && *p != '=')
		p++;
	keyword_end = p;
	while (config_is_blank(*p))
		p++;
	if (*p == '=')
		p++;
	*keyword_end = '\0';

	if (keyword[0] == '\0')
		return sbx_error_set(err, EINVAL, "missing keyword before '='");
	for (const char *c = keyword; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return sbx_error_set(err, EINVAL, "control character 0x%02x in keyword",
					     (unsigned char)*c);
	const struct config_keyword *kw = config_find_keyword(keyword);
	if (!kw)
		return sbx_error_set(err, EINVAL, "unknown keyword '%s'", keyword);
	for (const char *c = p; *c; c++)
		if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
			return sbx_error_set(err, EINVAL, "%s: control character 0x%02x in value",
					     kw->name, (unsigned char)*c);

	r = config_next_word(&p, kw->name, &value, err);
	if (r < 0)
		return r;
	if (!value)
		return sbx_error_set(err, EINVAL, "%s: missing value", kw->name);
	r = config_next_word(&p, kw->name, &extra, err);
	if (r < 0)
		return r;
	char joined[CONFIG_LINE_MAX + 1];
	if (extra && kw->words) {
		/* Every word to the end of the line, one space apart. */
		size_t len = (size_t)snprintf(joined, sizeof(joined), "%s", value);
		while (extra) {
			len += (size_t)snprintf(joined + len, sizeof(joined) - len, " %s", extra);
			if (len >= sizeof(joined))
				return sbx_error_set(err, EINVAL, "%s: value too long", kw->name);
			r = config_next_word(&p, kw->name, &extra, err);
			if (r < 0)
				return r;
		}
		value = joined;
	} else if (extra) {
		return sbx_error_set(err, EINVAL, "%s: trailing garbage '%s' after value '%s'",
				     kw->name, extra, value);
	}

	size_t row = (size_t)(kw - config_keywords);
	bool first;
	if (src->first_line) {
		first = src->first_line[row] == 0;
		if (!first && !kw->repeatable)
			return sbx_error_set(err, EINVAL, "%s given twice (first at line %u)",
					     kw->name, src->first_line[row]);
	} else {
		first = !(cfg->options_given & (1ULL << row));
		if (!first && !kw->repeatable)
			return sbx_error_set(err, EINVAL, "%s given twice", kw->name);
	}

	r = config_set_value(cfg, kw, value, first, err);
	if (r < 0)
		return r;
	if (src->first_line) {
		if (first)
			src->first_line[row] = src->line;
	} else {
		cfg->options_given |= 1ULL << row;
	}
	return 0;
}

static int config_apply_source_line(struct sbx_config *cfg, char *line, size_t len,
				    const struct config_source *src, sbx_error *err)
{
	sbx_error inner = {0};
	int r;

	if (len > CONFIG_LINE_MAX)
		r = sbx_error_set(&inner, EINVAL, "line too long (more than %d characters)",
				  CONFIG_LINE_MAX);
	else if (memchr(line, '\0', len))
		r = sbx_error_set(&inner, EINVAL, "NUL byte in line");
	else
		r = config_apply_line(cfg, line, src, &inner);
	if (r >= 0)
		return 0;
	if (src->line > 0)
		return sbx_error_set(err, inner.code, "%s:%u: %s", src->origin, src->line,
				     inner.msg);
	return sbx_error_set(err, inner.code, "%s: %s", src->origin, inner.msg);
}

void config_init(struct sbx_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	/* The defaults go through the parsers, so they obey the same rules as the file. Out of
	 * memory leaves a string NULL, which config_finish repairs or reports. */
	for (size_t i = 0; i < ELEMENTSOF(config_keywords); i++)
		if (config_keywords[i].def)
			(void)config_set_value(cfg, &config_keywords[i], config_keywords[i].def,
					       true, NULL);
}

int config_load_stream(struct sbx_config *cfg, FILE *f, const char *origin, sbx_error *err)
{
	_cleanup_free_ char *line = NULL;
	unsigned first_line[ELEMENTSOF(config_keywords)] = {0};
	struct config_source src = {.origin = origin, .first_line = first_line};
	size_t size = 0;
	ssize_t len;
	int r;

	for (;;) {
		errno = 0;
		len = getline(&line, &size, f);
		if (len < 0)
			break;
		src.line++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		r = config_apply_source_line(cfg, line, (size_t)len, &src, err);
		if (r < 0)
			return r;
	}
	if (ferror(f))
		return sbx_error_errno(err, errno ? errno : EIO, "%s", origin);
	return 0;
}

int config_load_file(struct sbx_config *cfg, const char *path, sbx_error *err)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");

	if (!f)
		return sbx_error_errno(err, errno, "%s", path);
	return config_load_stream(cfg, f, path, err);
}

int config_apply_option(struct sbx_config *cfg, const char *option, const char *origin,
			sbx_error *err)
{
	struct config_source src = {.origin = origin ? origin : CONFIG_DEFAULT_ORIGIN};
	size_t len = strlen(option);
	_cleanup_free_ char *copy = strdup(option);

	if (!copy)
		return sbx_error_set(err, ENOMEM, "%s: out of memory", src.origin);
	return config_apply_source_line(cfg, copy, len, &src, err);
}

static bool config_same_listen(const struct sbx_config *cfg, size_t a, size_t b)
{
	int port_a = cfg->listen[a].port ? cfg->listen[a].port : cfg->port;
	int port_b = cfg->listen[b].port ? cfg->listen[b].port : cfg->port;

	return port_a == port_b && strcasecmp(cfg->listen[a].host, cfg->listen[b].host) == 0;
}

int config_finish(struct sbx_config *cfg, sbx_error *err)
{
	int r;

	for (size_t i = 0; i < ELEMENTSOF(config_keywords); i++) {
		const struct config_keyword *kw = &config_keywords[i];
		if ((kw->type == CONFIG_TYPE_STRING || kw->type == CONFIG_TYPE_PATH) &&
		    !*(char **)((char *)cfg + kw->offset)) {
			r = config_set_value(cfg, kw, kw->def, true, err);
			if (r < 0)
				return r;
		}
	}
	if (cfg->n_listen == 0) {
		r = config_add_listen(cfg, "0.0.0.0", 0, err);
		if (r < 0)
			return r;
		r = config_add_listen(cfg, "::", 0, err);
		if (r < 0)
			return r;
	}
	if (cfg->n_host_keys == 0) {
		r = config_add_host_key(cfg, CONFIG_DEFAULT_HOST_KEY, err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < cfg->n_listen; i++)
		for (size_t j = 0; j < i; j++)
			if (config_same_listen(cfg, i, j))
				return sbx_error_set(
				    err, EINVAL, "ListenAddress: '%s' port %d given twice",
				    cfg->listen[i].host,
				    cfg->listen[i].port ? cfg->listen[i].port : cfg->port);
	if (!cfg->password_authentication && !cfg->kbd_interactive_authentication &&
	    !cfg->pubkey_authentication)
		return sbx_error_set(err, EINVAL,
				     "PasswordAuthentication, KbdInteractiveAuthentication and "
				     "PubkeyAuthentication are all 'no': nobody could log in");
	return 0;
}

/* Quotes what the word splitter would otherwise cut or take for a comment, and a leading '='
 * that the keyword's separator would swallow. */
static void config_dump_quoted(const char *name, const char *value, FILE *out)
{
	if (value[0] == '\0' || value[0] == '#' || value[0] == '=' || strpbrk(value, " \t"))
		fprintf(out, "%s \"%s\"\n", name, value);
	else
		fprintf(out, "%s %s\n", name, value);
}

void config_dump(const struct sbx_config *cfg, FILE *out)
{
	for (size_t i = 0; i < ELEMENTSOF(config_keywords); i++) {
		const struct config_keyword *kw = &config_keywords[i];
		const void *field = (const char *)cfg + kw->offset;
		char name[64];
		size_t n;

		for (n = 0; kw->name[n] && n < sizeof(name) - 1; n++)
			name[n] = (kw->name[n] >= 'A' && kw->name[n] <= 'Z')
				      ? (char)(kw->name[n] - 'A' + 'a')
				      : kw->name[n];
		name[n] = '\0';

		switch (kw->type) {
		case CONFIG_TYPE_PORT:
			fprintf(out, "%s %d\n", name, *(const int *)field);
			break;
		case CONFIG_TYPE_UINT:
		case CONFIG_TYPE_TIME:
			fprintf(out, "%s %u\n", name, *(const unsigned *)field);
			break;
		case CONFIG_TYPE_BOOL:
			fprintf(out, "%s %s\n", name, *(const bool *)field ? "yes" : "no");
			break;
		case CONFIG_TYPE_STRING:
		case CONFIG_TYPE_PATH: {
			const char *s = *(char *const *)field;
			config_dump_quoted(name, s ? s : kw->def, out);
			break;
		}
		case CONFIG_TYPE_CUSTOM:
			kw->dump(cfg, name, out);
			break;
		}
	}
}

void config_free(struct sbx_config *cfg)
{
	if (!cfg)
		return;
	config_free_listen(cfg);
	config_free_host_keys(cfg);
	for (size_t i = 0; i < ELEMENTSOF(config_keywords); i++) {
		const struct config_keyword *kw = &config_keywords[i];
		if (kw->type == CONFIG_TYPE_STRING || kw->type == CONFIG_TYPE_PATH) {
			char **s = (char **)((char *)cfg + kw->offset);
			free(*s);
			*s = NULL;
		}
	}
	memset(cfg, 0, sizeof(*cfg));
}
