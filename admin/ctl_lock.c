/* sandboxctl lock|unlock USER: locked=yes at the user's level, or its removal. */
#include "config.h"

#include "admin/ctl_commands.h"
#include "admin/ctl_control.h"
#include "admin/ctl_admin_audit.h"
#include "admin/ctl_util.h"

#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>

static bool lock_kill; /* lock --kill: end the user's live sessions too */

/* Checks "COMMAND USER" and returns the user's level, or an exit status. */
static int parse_user(int argc, char **argv, struct policy_level *ret)
{
	static const struct option options[] = {
	    {"help", no_argument, NULL, 'h'}, {"kill", no_argument, NULL, 'k'}, {0}};
	int c, r;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
		if (c == 'k' && strcmp(argv[0], "lock") == 0) {
			lock_kill = true;
			continue;
		}
		if (c == 'h') {
			printf("Usage: sandboxctl %s USER\n", argv[0]);
			return -1;
		}
		return ctl_option_error(argv[0], c, argv);
	}
	if (argc - optind != 1)
		return ctl_usage_error("usage: %s USER", argv[0]);
	r = ctl_parse_level(argv[optind], ret);
	if (r)
		return r;
	if (ret->kind != POLICY_LEVEL_USER)
		return ctl_usage_error("%s: expected a user name, not %s", argv[0], argv[optind]);
	r = ctl_require_admin(true);
	if (r)
		return r;
	return ctl_check_level_exists(ret);
}

int ctl_lock_main(int argc, char **argv)
{
	static const char *const assignment[] = {"locked=yes"};
	struct policy_level level;
	sbx_error err;
	int r = parse_user(argc, argv, &level);

	if (r)
		return r < 0 ? CTL_EXIT_OK : r;
	if (policy_set(ctl_options.policy_dir, &level, assignment, 1, &err) < 0) {
		ctl_error("%s", err.msg);
		return CTL_EXIT_FAILURE;
	}
	ctl_audit_admin("lock", level.name, NULL, "locked=yes", "success");
	if (lock_kill)
		return ctl_control_kill_user(level.name);
	return CTL_EXIT_OK;
}

int ctl_unlock_main(int argc, char **argv)
{
	static const char *const key[] = {"locked"};
	struct policy_effective eff;
	struct passwd *pw;
	struct policy_level level;
	char **groups = NULL;
	sbx_error err;
	int r = parse_user(argc, argv, &level);

	if (r)
		return r < 0 ? CTL_EXIT_OK : r;
	if (policy_unset(ctl_options.policy_dir, &level, key, 1, NULL, &err) < 0) {
		ctl_error("%s", err.msg);
		return CTL_EXIT_FAILURE;
	}
	ctl_audit_admin("unlock", level.name, "locked=yes", "locked=unset", "success");
	/* A course or the default may lock too: say so rather than report a success that is not. */
	pw = getpwnam(level.name);
	if (pw && policy_user_groups(level.name, pw->pw_gid, &groups, &err) == 0 &&
	    policy_resolve(ctl_options.policy_dir, level.name, (const char *const *)groups, &eff,
			   &err) == 0 &&
	    eff.value[POLICY_LOCKED]) {
		ctl_error("%s is still locked by %s (sandboxctl quota set %s locked=no overrides "
			  "it)",
			  level.name, eff.source[POLICY_LOCKED], level.name);
		policy_groups_free(groups);
		return CTL_EXIT_FAILURE;
	}
	policy_groups_free(groups);
	return CTL_EXIT_OK;
}
