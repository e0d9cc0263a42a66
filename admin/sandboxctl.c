/* sandboxctl: global options, then one command from the table. */
#include "config.h"

#include "admin/ctl_commands.h"
#include "admin/ctl_util.h"
#include "common/cleanup.h"
#include "common/config_file.h"

#include <getopt.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

struct ctl_command {
	const char *name;
	int (*main)(int argc, char **argv);
	const char *usage;
};

static const struct ctl_command commands[] = {
    {"quota", ctl_quota_main,
     "quota set {USER|@GROUP|default} KEY=VALUE...\n"
     "  quota unset {USER|@GROUP|default} KEY...\n"
     "  quota show {USER|@GROUP|default} [--effective] [--json]\n"
     "  quota list [--json]"},
    {"lock", ctl_lock_main, "lock USER [--kill]"},
    {"unlock", ctl_unlock_main, "unlock USER"},
    {"status", ctl_status_main, "status [--json]"},
    {"audit", ctl_audit_main, "audit [--user U] [--event E] [--since T] [-f] [--json] [--verify]"},
    {"sessions", ctl_sessions_main, "sessions [--user U] [--json]"},
    {"kill", ctl_kill_main, "kill SESSION|--user U"},
    {"reload", ctl_reload_main, "reload"},
    {"replay", ctl_replay_main, "replay SESSION [--channel N] [--speed X] [--no-wait] [--dir D]"},
    {"penalties", ctl_penalties_main, "penalties [--json] | penalties --clear BLOCK|all"},
};

static void usage(FILE *out)
{
	fprintf(out, "Usage: sandboxctl [--policy-dir DIR] [--config FILE] COMMAND [ARGS...]\n\n"
		     "Commands:\n");
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		fprintf(out, "  %s\n", commands[i].usage);
	fprintf(out, "\nKeys:\n");
	for (size_t k = 0; k < POLICY_KEY_COUNT; k++)
		fprintf(out, "  %-13s %s\n", policy_key_name((enum policy_key)k),
			policy_key_description((enum policy_key)k));
	fprintf(out, "\nSee sandboxctl(8).\n");
}

/* The daemon's PolicyDirectory, so sandboxctl and sandboxd read the same files. A
 * configuration that exists but does not parse is an error: guessing could edit the wrong
 * policy. */
static int policy_dir_from_config(const char *path, const char **ret)
{
	static char dir[4096];
	struct sbx_config cfg;
	sbx_error err = {0};
	config_init(&cfg);
	int r = config_load_file(&cfg, path, &err);
	if (r == 0)
		r = config_finish(&cfg, &err);
	if (r == 0)
		snprintf(dir, sizeof(dir), "%s", cfg.policy_directory);
	config_free(&cfg);
	if (r == -ENOENT) {
		*ret = POLICY_DEFAULT_DIR;
		return 0;
	}
	if (r < 0) {
		ctl_error("%s", err.msg);
		return CTL_EXIT_FAILURE;
	}
	*ret = dir;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
	    {"policy-dir", required_argument, NULL, 'P'},
	    {"config", required_argument, NULL, 'C'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {0},
	};
	int c;
	bool policy_dir_given = false;

	ctl_options.policy_dir = POLICY_DEFAULT_DIR;
	ctl_options.config_file = SANDBOXD_DEFAULT_CONFIG;
	opterr = 0;
	/* '+': options after the command belong to the command. */
	while ((c = getopt_long(argc, argv, "+:h", options, NULL)) != -1) {
		switch (c) {
		case 'P':
			ctl_options.policy_dir = optarg;
			policy_dir_given = true;
			break;
		case 'C':
			ctl_options.config_file = optarg;
			break;
		case 'h':
			usage(stdout);
			return CTL_EXIT_OK;
		case 'V':
			printf("sandboxctl %s\n", PACKAGE_VERSION);
			return CTL_EXIT_OK;
		default:
			return ctl_option_error(NULL, c, argv);
		}
	}
	if (!policy_dir_given) {
		int r = policy_dir_from_config(ctl_options.config_file, &ctl_options.policy_dir);
		if (r)
			return r;
	}
	if (optind >= argc)
		return ctl_usage_error("no command given (see sandboxctl --help)");
	if (strcmp(argv[optind], "help") == 0) {
		usage(stdout);
		return CTL_EXIT_OK;
	}
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		if (strcmp(argv[optind], commands[i].name) == 0) {
			char **cmd_argv = argv + optind;
			int cmd_argc = argc - optind;
			/* Each command parses its own options from a fresh start. */
			optind = 0;
			return commands[i].main(cmd_argc, cmd_argv);
		}
	return ctl_usage_error("unknown command '%s' (see sandboxctl --help)", argv[optind]);
}
