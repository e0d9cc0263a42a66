/* What the daemon hands us: [--allow-processes] [--login] [--] [WORD...], where the words are
 * the student's SSH command split like a shell would. Everything before "--" is the daemon's;
 * nothing after it is ever read as a runner option. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#include "common/cleanup.h"
#include "jail/runner/runner.h"

#define VERBS "run, python, python3, quota, help"

static char python_name[] = "python3";

static void set_python(struct runner_options *ret, int argc, char **words)
{
	/* words[-1] exists (it is the verb or argv[0]) and becomes argv[0] for Python. */
	ret->verb = RUNNER_VERB_PYTHON;
	ret->py_argc = argc + 1;
	ret->py_argv = words - 1;
	ret->py_argv[0] = python_name;
}

int runner_cli_parse(int argc, char **argv, struct runner_options *ret)
{
	bool login = false;
	int i;

	*ret = (struct runner_options){.verb = RUNNER_VERB_LOGIN};
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--allow-processes") == 0) {
			ret->allow_processes = true;
		} else if (strcmp(argv[i], "--login") == 0) {
			login = true;
		} else if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else {
			break;
		}
	}
	/* The login shell: banner and prompt on a terminal, otherwise stdin is the program. */
	if (i >= argc) {
		ret->py_argc = 1;
		ret->py_argv = argv;
		argv[0] = python_name;
		return 0;
	}
	if (login) {
		ret->usage_error = "--login takes no command";
		return -EINVAL;
	}

	const char *verb = argv[i];
	int rest = argc - i - 1;
	if (strcmp(verb, "run") == 0) {
		if (rest == 0) {
			ret->usage_error = "run: which file? usage: run FILE [ARGS...]";
			return -EINVAL;
		}
		set_python(ret, rest, argv + i + 1);
	} else if (strcmp(verb, "python") == 0 || strcmp(verb, "python3") == 0 ||
		   strcmp(verb, "python3.11") == 0) {
		set_python(ret, rest, argv + i + 1);
	} else if (strcmp(verb, "quota") == 0) {
		ret->verb = RUNNER_VERB_QUOTA;
	} else if (strcmp(verb, "help") == 0 || strcmp(verb, "--help") == 0) {
		ret->verb = RUNNER_VERB_HELP;
	} else if (verb[0] == '-' && verb[1] != '\0') {
		/* Python's own options (-c CODE, -m MOD, -u ...): what sys.executable is run with.
		 */
		set_python(ret, argc - i, argv + i);
	} else {
		ret->verb = RUNNER_VERB_UNKNOWN;
		ret->unknown = verb;
	}
	return 0;
}

void runner_cli_print_unknown(const struct runner_options *opt)
{
	fprintf(stderr, "sandbox-python: unknown command '%s'; the commands are: " VERBS "\n",
		opt->unknown);
}

int runner_cli_help(void)
{
	fputs("Commands (ssh HOST COMMAND):\n"
	      "  (none)                      a Python prompt in your sandbox\n"
	      "  run FILE [ARGS...]          run a Python program; modules next to it import\n"
	      "  python [-c CODE | - | FILE] [ARGS...]\n"
	      "                              Python's own command line (also: python3)\n"
	      "  quota                       your limits and what you use\n"
	      "  help                        this list\n"
	      "Copy files with scp or sftp. Your home folder is kept; /tmp is not.\n",
	      stdout);
	return fflush(stdout) == 0 ? 0 : 1;
}

static const char *env_or(const char *name, const char *fallback)
{
	const char *v = getenv(name);

	return v && *v ? v : fallback;
}

/* "47 min left" from SANDBOX_DEADLINE (unix time), or NULL if there is none. */
static const char *time_left(char *buf, size_t size)
{
	const char *deadline = getenv("SANDBOX_DEADLINE");
	char *end;
	long long d, left;

	if (!deadline || !*deadline)
		return NULL;
	errno = 0;
	d = strtoll(deadline, &end, 10);
	if (errno || *end || d <= 0)
		return NULL;
	left = d - (long long)time(NULL);
	if (left <= 0)
		snprintf(buf, size, "none, the session is over");
	else if (left < 120)
		snprintf(buf, size, "%lld s", left);
	else if (left < 2 * 3600)
		snprintf(buf, size, "%lld min", left / 60);
	else
		snprintf(buf, size, "%lld h %lld min", left / 3600, left % 3600 / 60);
	return buf;
}

void runner_cli_banner(FILE *out)
{
	char left[64];
	const char *t = time_left(left, sizeof(left));

	fprintf(out, "Welcome, %s. This is your Python sandbox.\n",
		env_or("SANDBOX_USER", env_or("USER", "student")));
	if (getenv("SANDBOX_LIMITS") && *getenv("SANDBOX_LIMITS"))
		fprintf(out, "Limits: %s\n", getenv("SANDBOX_LIMITS"));
	if (t)
		fprintf(out, "Time left: %s\n", t);
	fputs("Files in your home folder are kept; help() for Python help, exit() or Ctrl-D to "
	      "leave.\n",
	      out);
	fflush(out);
}

static void human_size(unsigned long long bytes, char *buf, size_t size)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)bytes;
	size_t u = 0;

	while (v >= 1024 && u + 1 < ELEMENTSOF(units)) {
		v /= 1024;
		u++;
	}
	snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

int runner_cli_quota(void)
{
	const char *usage_file = getenv("SANDBOX_USAGE_FILE");
	const char *home = getenv("HOME");
	char left[64], used[32], total[32], line[512];
	const char *t = time_left(left, sizeof(left));
	struct statvfs sv;

	printf("user:       %s\n", env_or("SANDBOX_USER", env_or("USER", "(unknown)")));
	printf("limits:     %s\n", env_or("SANDBOX_LIMITS", "(not given to this session)"));
	if (t)
		printf("time left:  %s\n", t);
	if (home && statvfs(home, &sv) == 0 && sv.f_blocks) {
		human_size((unsigned long long)(sv.f_blocks - sv.f_bfree) * sv.f_frsize, used,
			   sizeof(used));
		human_size((unsigned long long)sv.f_blocks * sv.f_frsize, total, sizeof(total));
		/* Honest about what it measures: with a per-user image this is the student's own
		 * usage; on a shared file system it is everybody's. */
		printf("home disk:  %s used of %s (the file system that holds %s)\n", used, total,
		       home);
	}
	if (usage_file && *usage_file) {
		_cleanup_fclose_ FILE *f = fopen(usage_file, "re");
		if (f) {
			puts("usage:");
			while (fgets(line, sizeof(line), f)) {
				line[strcspn(line, "\n")] = '\0';
				printf("  %s\n", line);
			}
		}
	}
	return fflush(stdout) == 0 ? 0 : 1;
}
