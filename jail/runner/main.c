/* sandbox-python: the program every login lands in inside the jail (see runner.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "jail/runner/runner.h"

int main(int argc, char **argv)
{
	struct runner_options opt;

	if (runner_cli_parse(argc, argv, &opt) < 0) {
		fprintf(stderr, "sandbox-python: %s\n", opt.usage_error);
		return 2;
	}
	switch (opt.verb) {
	case RUNNER_VERB_HELP:
		return runner_cli_help();
	case RUNNER_VERB_QUOTA:
		return runner_cli_quota();
	case RUNNER_VERB_UNKNOWN:
		runner_cli_print_unknown(&opt);
		return 127;
	default:
		break;
	}

	runner_report_open(RUNNER_REPORT_FD);
	runner_paths_init(getenv("HOME"));
	if (runner_policy_init(opt.allow_processes) < 0 || runner_hook_install() < 0) {
		fprintf(stderr, "sandbox-python: cannot install the sandbox's audit hook\n");
		return 70;
	}
	return runner_interp_run(&opt);
}
