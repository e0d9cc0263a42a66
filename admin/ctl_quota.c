/* sandboxctl quota set|unset|show|list: the policy files, with or without the daemon. */
#include "config.h"

#include "admin/ctl_commands.h"
#include "admin/ctl_control.h"
#include "admin/ctl_admin_audit.h"
#include "admin/ctl_util.h"
#include "common/config_file.h"
#include "jail/home.h"
#include "common/cleanup.h"

#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct quota_flags {
	bool effective;
	bool json;
};

/* Parses the options of a quota subcommand (argv[0] is its name), leaving the positional
 * arguments in argv[optind..]. Returns 0, -1 after --help, or CTL_EXIT_USAGE. */
static int parse_flags(int argc, char **argv, bool allow_effective, bool allow_json,
		       struct quota_flags *ret)
{
	static const struct option options[] = {
	    {"effective", no_argument, NULL, 'e'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	int c;

	*ret = (struct quota_flags){0};
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
		switch (c) {
		case 'e':
			if (!allow_effective)
				goto bad;
			ret->effective = true;
			break;
		case 'j':
			if (!allow_json)
				goto bad;
			ret->json = true;
			break;
		case 'h':
			printf("See sandboxctl --help and sandboxctl(8).\n");
			return -1;
		default:
			goto bad;
		}
	}
	return 0;
bad:
	ctl_usage_error("quota %s: unknown option '%s'%s", argv[0], argv[optind - 1],
			strcmp(argv[0], "set") == 0 ? " (limits are written KEY=VALUE)" : "");
	return CTL_EXIT_USAGE;
}

/* Refuses names that are neither known to NSS nor already in the policy (so that a stale
 * file of a deleted account can still be cleaned up with unset). */
static int check_level(const struct policy_level *level, bool allow_if_file)
{
	_cleanup_free_ char *path = NULL;
	struct stat st;

	if (allow_if_file && level->kind != POLICY_LEVEL_DEFAULT &&
	    policy_level_path(ctl_options.policy_dir, level, &path, NULL) == 0 &&
	    lstat(path, &st) == 0)
		return 0;
	return ctl_check_level_exists(level);
}

/* Puts a change of a level on the audit trail: the named keys' values before and after.
 * ARGS are "key=value" or "key" words. */
static void quota_audit(const char *action, const char *target, const struct policy_level *level,
			char **args, int n_args, const struct policy_values *before)
{
	enum policy_key keys[POLICY_KEY_COUNT];
	size_t n_keys = 0;
	for (int i = 0; i < n_args && n_keys < POLICY_KEY_COUNT; i++) {
		char name[64];
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(args[i], "="), args[i]);
		if (policy_key_from_name(name, &keys[n_keys], NULL) == 0)
			n_keys++;
	}
	struct policy_values after = {0};
	policy_level_load(ctl_options.policy_dir, level, &after, NULL);
	char old_text[1024], new_text[1024];
	ctl_describe_keys(before, keys, n_keys, old_text, sizeof(old_text));
	ctl_describe_keys(&after, keys, n_keys, new_text, sizeof(new_text));
	ctl_audit_admin(action, target, old_text, new_text, "success");
}

static int quota_set(int argc, char **argv)
{
	struct quota_flags flags;
	struct policy_level level;
	sbx_error err;
	int r = parse_flags(argc, argv, false, false, &flags);

	if (r)
		return r < 0 ? CTL_EXIT_OK : r;
	if (argc - optind < 2)
		return ctl_usage_error("usage: quota set {USER|@GROUP|default} KEY=VALUE...");
	r = ctl_parse_level(argv[optind], &level);
	if (r)
		return r;
	r = ctl_require_admin(true);
	if (r)
		return r;
	r = ctl_check_level_exists(&level);
	if (r)
		return r;
	struct policy_values before = {0};
	policy_level_load(ctl_options.policy_dir, &level, &before, NULL);
	if (policy_set(ctl_options.policy_dir, &level, (const char *const *)argv + optind + 1,
		       (size_t)(argc - optind - 1), &err) < 0) {
		ctl_error("%s", err.msg);
		return CTL_EXIT_FAILURE;
	}
	quota_audit("quota-set", argv[optind], &level, argv + optind + 1, argc - optind - 1,
		    &before);
	ctl_control_apply_limits(argv[optind]);
	return CTL_EXIT_OK;
}

static int quota_unset(int argc, char **argv)
{
	struct quota_flags flags;
	struct policy_level level;
	sbx_error err;
	int r = parse_flags(argc, argv, false, false, &flags);

	if (r)
		return r < 0 ? CTL_EXIT_OK : r;
	if (argc - optind < 2)
		return ctl_usage_error("usage: quota unset {USER|@GROUP|default} KEY...");
	r = ctl_parse_level(argv[optind], &level);
	if (r)
		return r;
	for (int i = optind + 1; i < argc; i++) {
		enum policy_key k;
		if (policy_key_from_name(argv[i], &k, &err) < 0)
			return ctl_usage_error("%s", err.msg);
	}
	r = ctl_require_admin(true);
	if (r)
		return r;
	r = check_level(&level, true);
	if (r)
		return r;
	struct policy_values before = {0};
	policy_level_load(ctl_options.policy_dir, &level, &before, NULL);
	if (policy_unset(ctl_options.policy_dir, &level, (const char *const *)argv + optind + 1,
			 (size_t)(argc - optind - 1), NULL, &err) < 0) {
		ctl_error("%s", err.msg);
		return CTL_EXIT_FAILURE;
	}
	quota_audit("quota-unset", argv[optind], &level, argv + optind + 1, argc - optind - 1,
		    &before);
	ctl_control_apply_limits(argv[optind]);
	return CTL_EXIT_OK;
}

static void json_limits(FILE *out, const struct policy_values *v)
{
	bool first = true;

	fputc('{', out);
	for (size_t k = 0; k < POLICY_KEY_COUNT; k++) {
		if (!v->set[k])
			continue;
		if (!first)
			fputc(',', out);
		first = false;
		ctl_json_string(out, policy_key_name((enum policy_key)k));
		fputc(':', out);
		ctl_json_value(out, (enum policy_key)k, v->value[k], NULL);
	}
	fputc('}', out);
}

static const char *level_kind_name(enum policy_level_kind kind)
{
	return kind == POLICY_LEVEL_DEFAULT ? "default"
	       : kind == POLICY_LEVEL_GROUP ? "group"
					    : "user";
}

/* The level as sandboxctl writes it on a command line: default, @cs101, alice. */
static void level_spec(const struct policy_level *level, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s", level->kind == POLICY_LEVEL_GROUP ? "@" : "",
		 level->kind == POLICY_LEVEL_DEFAULT ? "default" : level->name);
}

/* What the user's home holds now, from its storage backend (sandboxd.conf's HomeBackend).
 * -ENOENT when the home does not exist yet (no login so far). */
static int disk_usage(const struct passwd *pw, const struct policy_effective *eff,
		      uint64_t *bytes, uint64_t *inodes, char *backend, size_t size)
{
	struct sbx_config cfg;
	sbx_error err = {0};
	config_init(&cfg);
	int r = config_load_file(&cfg, ctl_options.config_file, &err);
	if (r == 0 || r == -ENOENT)
		r = config_finish(&cfg, &err);
	enum home_backend_kind kind;
	if (r == 0 && home_backend_parse(cfg.home_backend, &kind) < 0)
		r = -EINVAL;
	if (r == 0) {
		snprintf(backend, size, "%s", cfg.home_backend);
		struct home_params p = {
			.user = pw->pw_name,
			.uid = pw->pw_uid,
			.gid = pw->pw_gid,
			.host_home = pw->pw_dir,
			.quota_bytes = eff->value[POLICY_DISK],
			.quota_inodes = eff->value[POLICY_INODES],
			.state_dir = cfg.state_directory,
			.runtime_dir = cfg.runtime_directory,
		};
		r = home_usage(kind, &p, bytes, inodes, &err);
	}
	config_free(&cfg);
	return r;
}

static int show_effective(const char *user, bool json)
{
	struct policy_effective eff;
	struct ctl_table t;
	struct passwd *pw;
	char **groups = NULL;
	sbx_error err;
	int r;

	errno = 0;
	pw = getpwnam(user);
	if (!pw) {
		ctl_error("no such user: %s", user);
		return CTL_EXIT_FAILURE;
	}
	if (policy_user_groups(user, pw->pw_gid, &groups, &err) < 0 ||
	    policy_resolve(ctl_options.policy_dir, user, (const char *const *)groups, &eff, &err) <
		0) {
		policy_groups_free(groups);
		ctl_error("%s", err.msg);
		return CTL_EXIT_FAILURE;
	}
	if (json) {
		printf("{\"user\":");
		ctl_json_string(stdout, user);
		printf(",\"groups\":[");
		for (size_t i = 0; groups[i]; i++) {
			if (i)
				putchar(',');
			ctl_json_string(stdout, groups[i]);
		}
		printf("],\"limits\":{");
		for (size_t k = 0; k < POLICY_KEY_COUNT; k++) {
			if (k)
				putchar(',');
			ctl_json_string(stdout, policy_key_name((enum policy_key)k));
			fputc(':', stdout);
			ctl_json_value(stdout, (enum policy_key)k, eff.value[k], eff.source[k]);
		}
		printf("}");
		uint64_t bytes = 0, inodes = 0;
		char backend[32];
		if (disk_usage(pw, &eff, &bytes, &inodes, backend, sizeof(backend)) == 0)
			printf(",\"usage\":{\"disk\":%llu,\"inodes\":%llu}",
			       (unsigned long long)bytes, (unsigned long long)inodes);
		else
			printf(",\"usage\":null");
		printf("}\n");
		policy_groups_free(groups);
		return CTL_EXIT_OK;
	}
	policy_groups_free(groups);
	r = ctl_table_init(&t, 3, (const char *const[]){"KEY", "VALUE", "SOURCE"});
	for (size_t k = 0; r == 0 && k < POLICY_KEY_COUNT; k++) {
		char value[64];
		policy_format_value((enum policy_key)k, eff.value[k], value, sizeof(value));
		r = ctl_table_add(&t, (const char *const[]){policy_key_name((enum policy_key)k),
							    value, eff.source[k]});
	}
	if (r == 0)
		ctl_table_print(&t, stdout);
	ctl_table_free(&t);
	if (r < 0) {
		ctl_error("out of memory");
		return CTL_EXIT_FAILURE;
	}
	uint64_t bytes = 0, inodes = 0;
	char backend[32] = "", used[64], quota[64];
	int u = disk_usage(pw, &eff, &bytes, &inodes, backend, sizeof(backend));
	policy_describe_value(POLICY_DISK, bytes, used, sizeof(used));
	policy_describe_value(POLICY_DISK, eff.value[POLICY_DISK], quota, sizeof(quota));
	if (u == 0)
		printf("\nhome (%s): %s used of %s, %llu files and folders\n", backend, used, quota,
		       (unsigned long long)inodes);
	else if (u == -ENOENT)
		printf("\nhome (%s): not created yet (first login creates it)\n", backend);
	return CTL_EXIT_OK;
}

static int show_level(const struct policy_level *level, bool json)
{
	struct policy_values v;
	struct ctl_table t;
	char spec[POLICY_NAME_MAX + 2];
	sbx_error err;
	size_t n = 0;
	int r;

	if (policy_level_load(ctl_options.policy_dir, level, &v, &err) < 0) {
		ctl_error("%s", err.msg);
		return CTL_EXIT_FAILURE;
	}
	level_spec(level, spec, sizeof(spec));
	if (json) {
		printf("{\"level\":");
		ctl_json_string(stdout, spec);
		printf(",\"kind\":\"%s\",\"limits\":", level_kind_name(level->kind));
		json_limits(stdout, &v);
		printf("}\n");
		return CTL_EXIT_OK;
	}
	r = ctl_table_init(&t, 2, (const char *const[]){"KEY", "VALUE"});
	for (size_t k = 0; r == 0 && k < POLICY_KEY_COUNT; k++) {
		char value[64];
		if (!v.set[k])
			continue;
		policy_format_value((enum policy_key)k, v.value[k], value, sizeof(value));
		r = ctl_table_add(
		    &t, (const char *const[]){policy_key_name((enum policy_key)k), value});
		n++;
	}
	if (r == 0 && n)
		ctl_table_print(&t, stdout);
	else if (r == 0) {
		char what[POLICY_NAME_MAX + 16];
		policy_level_describe(level, what, sizeof(what));
		printf("%s sets no limits\n", what);
	}
	ctl_table_free(&t);
	if (r < 0) {
		ctl_error("out of memory");
		return CTL_EXIT_FAILURE;
	}
	return CTL_EXIT_OK;
}

static int quota_show(int argc, char **argv)
{
	struct quota_flags flags;
	struct policy_level level;
	int r = parse_flags(argc, argv, true, true, &flags);

	if (r)
		return r < 0 ? CTL_EXIT_OK : r;
	if (argc - optind != 1)
		return ctl_usage_error(
		    "usage: quota show {USER|@GROUP|default} [--effective] [--json]");
	r = ctl_parse_level(argv[optind], &level);
	if (r)
		return r;
	if (flags.effective && level.kind != POLICY_LEVEL_USER)
		return ctl_usage_error("quota show: --effective needs a user, not %s",
				       argv[optind]);
	r = ctl_require_admin(false);
	if (r)
		return r;
	r = ctl_check_level_exists(&level);
	if (r)
		return r;
	return flags.effective ? show_effective(level.name, flags.json)
			       : show_level(&level, flags.json);
}

/* Every level in the store, default first, then groups and users in name order. */
static int list_levels(const struct policy_store *store,
		       int (*each)(const struct policy_level *level, const struct policy_values *v,
				   void *userdata),
		       void *userdata)
{
	struct policy_level level = {.kind = POLICY_LEVEL_DEFAULT};
	int r = 0;

	if (store->has_default)
		r = each(&level, &store->default_values, userdata);
	level.kind = POLICY_LEVEL_GROUP;
	for (size_t i = 0; r == 0 && i < store->n_groups; i++) {
		snprintf(level.name, sizeof(level.name), "%s", store->groups[i].name);
		r = each(&level, &store->groups[i].values, userdata);
	}
	level.kind = POLICY_LEVEL_USER;
	for (size_t i = 0; r == 0 && i < store->n_users; i++) {
		snprintf(level.name, sizeof(level.name), "%s", store->users[i].name);
		r = each(&level, &store->users[i].values, userdata);
	}
	return r;
}

static int list_json_one(const struct policy_level *level, const struct policy_values *v,
			 void *userdata)
{
	size_t *count = userdata;
	char spec[POLICY_NAME_MAX + 2];

	level_spec(level, spec, sizeof(spec));
	if ((*count)++)
		putchar(',');
	printf("{\"level\":");
	ctl_json_string(stdout, spec);
	printf(",\"kind\":\"%s\",\"limits\":", level_kind_name(level->kind));
	json_limits(stdout, v);
	putchar('}');
	return 0;
}

static int list_table_one(const struct policy_level *level, const struct policy_values *v,
			  void *userdata)
{
	struct ctl_table *t = userdata;
	char spec[POLICY_NAME_MAX + 2];
	bool any = false;

	level_spec(level, spec, sizeof(spec));
	for (size_t k = 0; k < POLICY_KEY_COUNT; k++) {
		char value[64];
		if (!v->set[k])
			continue;
		any = true;
		policy_format_value((enum policy_key)k, v->value[k], value, sizeof(value));
		if (ctl_table_add(t, (const char *const[]){
					 spec, policy_key_name((enum policy_key)k), value}) < 0)
			return -ENOMEM;
	}
	/* A file with only comments is still a level the admin created. */
	if (!any && ctl_table_add(t, (const char *const[]){spec, "-", "-"}) < 0)
		return -ENOMEM;
	return 0;
}

static int quota_list(int argc, char **argv)
{
	struct quota_flags flags;
	struct policy_store *store = NULL;
	struct ctl_table t;
	sbx_error err;
	int r = parse_flags(argc, argv, false, true, &flags);

	if (r)
		return r < 0 ? CTL_EXIT_OK : r;
	if (argc - optind != 0)
		return ctl_usage_error("usage: quota list [--json]");
	r = ctl_require_admin(false);
	if (r)
		return r;
	if (policy_load_all(ctl_options.policy_dir, &store, &err) < 0) {
		ctl_error("%s", err.msg);
		return CTL_EXIT_FAILURE;
	}
	if (flags.json) {
		size_t count = 0;
		printf("{\"policy_dir\":");
		ctl_json_string(stdout, ctl_options.policy_dir);
		printf(",\"levels\":[");
		list_levels(store, list_json_one, &count);
		printf("]}\n");
		policy_store_free(store);
		return CTL_EXIT_OK;
	}
	r = ctl_table_init(&t, 3, (const char *const[]){"LEVEL", "KEY", "VALUE"});
	if (r == 0)
		r = list_levels(store, list_table_one, &t);
	if (r == 0 && t.n_rows > 1)
		ctl_table_print(&t, stdout);
	else if (r == 0)
		printf("no policy files in %s: every limit is built-in\n", ctl_options.policy_dir);
	ctl_table_free(&t);
	policy_store_free(store);
	if (r < 0) {
		ctl_error("out of memory");
		return CTL_EXIT_FAILURE;
	}
	return CTL_EXIT_OK;
}

int ctl_quota_main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(int argc, char **argv);
	} subcommands[] = {
	    {"set", quota_set},
	    {"unset", quota_unset},
	    {"show", quota_show},
	    {"list", quota_list},
	};

	if (argc < 2)
		return ctl_usage_error("quota: expected set, unset, show or list");
	for (size_t i = 0; i < ELEMENTSOF(subcommands); i++)
		if (strcmp(argv[1], subcommands[i].name) == 0)
			return subcommands[i].run(argc - 1, argv + 1);
	return ctl_usage_error("quota: unknown subcommand '%s' (expected set, unset, show or list)",
			       argv[1]);
}
