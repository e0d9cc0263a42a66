/* sandbox-python: the restricted Python runner every login lands in inside the jail.
 *
 * The audit hook is the friendly face and the telemetry, never the boundary: the jail is
 * (see ../shared/python-layer-facts.md). Everything here keeps that split honest: a denial is
 * a catchable PermissionError plus one line to the monitor; the runner's own seccomp filter
 * backs the rules that a hook cannot keep on its own. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Python.h must come first in files that use it; this header needs none of it. */
typedef struct _object PyObject;

/* What the daemon asked for (cli.c). */
enum runner_verb {
	RUNNER_VERB_LOGIN,  /* no words or --login: banner + REPL, or stdin as a script */
	RUNNER_VERB_PYTHON, /* run / python / python3 / python-style options */
	RUNNER_VERB_QUOTA,
	RUNNER_VERB_HELP,
	RUNNER_VERB_UNKNOWN,
};

struct runner_options {
	enum runner_verb verb;
	bool allow_processes; /* --allow-processes: a course that needs multiprocessing */
	int py_argc;	      /* the python command line, argv[0] included, for PyConfig */
	char **py_argv;
	const char *unknown; /* the word we did not understand (RUNNER_VERB_UNKNOWN) */
	const char *usage_error;
};

int runner_cli_parse(int argc, char **argv, struct runner_options *ret);
void runner_cli_print_unknown(const struct runner_options *opt);
int runner_cli_help(void);
int runner_cli_quota(void);
/* Who, limits, time left: one short block for the terminal (the daemon's environment). */
void runner_cli_banner(FILE *out);

/* paths.c: where a write would really land, and whether that is allowed. */
int runner_paths_init(const char *home);
enum runner_path_verdict {
	RUNNER_PATH_OK,
	RUNNER_PATH_OUTSIDE, /* outside the home, /tmp and the few writable devices */
	RUNNER_PATH_PROC_MEM,
};
/* path as given by the program; dir_fd < 0 for "relative to the working directory";
 * follow_last: the operation follows a symlink in the last component (open, truncate, chmod),
 * not (unlink, rename, mkdir, symlink). resolved (may be NULL) receives what was checked. */
enum runner_path_verdict runner_path_check_write(const char *path, int dir_fd, bool follow_last,
						 char *resolved, size_t resolved_size);
/* Reads are free except the memory files of processes. */
enum runner_path_verdict runner_path_check_read(const char *path, int dir_fd);
/* Is path (resolved) under one of the system Python trees (stdlib, lib-dynload, dist-packages)?
 * dynload_only: only lib-dynload and dist-packages (native extension modules). */
bool runner_path_is_system_python(const char *path, bool dynload_only);
/* PATH, as spelled, lies in a system Python tree: absolute, without ".", ".." or empty
 * components. Only root can make symlinks in those trees (read-only in the jail), so such a path
 * needs no realpath() to be trusted. */
bool runner_path_spelled_system_python(const char *path, bool dynload_only);
/* Is path (resolved) inside the home or /tmp, where the student can write? */
bool runner_path_is_student_writable(const char *path);
const char *runner_path_home(void);

/* policy.c: the table of audit events. */
enum runner_verdict {
	RUNNER_ALLOW,
	RUNNER_NOTE, /* allowed, but the monitor hears about it */
	RUNNER_REFUSE,
};
struct runner_decision {
	enum runner_verdict verdict;
	const char *message; /* plain sentence, no trailing period */
	char detail[256];    /* what it was about (a path, an address), for the audit line */
};
/* Said by both the open-code hook and the policy: bytecode runs only from the system's Python. */
#define RUNNER_MSG_PYC                                                                             \
	"compiled Python files (.pyc) are only loaded from the system's Python; run the .py "      \
	"source"
int runner_policy_init(bool allow_processes);
/* The hook's whole job: one lookup, maybe a check. args is the event's tuple. */
void runner_policy_decide(const char *event, PyObject *args, struct runner_decision *ret);
/* Code objects the policy trusts by identity, captured right after start-up. */
void runner_policy_trust_code(PyObject *types_coroutine, PyObject *compile_bytecode,
			      PyObject *source_get_code, PyObject *sourceless_get_code);
size_t runner_policy_rule_count(void);

/* hook.c */
int runner_hook_install(void);

/* report.c: one JSON line per event on the monitor's descriptor, rate-limited, never blocking. */
#define RUNNER_REPORT_FD 3
void runner_report_open(int fd);
void runner_report_event(const char *event, const char *action, const char *message,
			 const char *detail);
void runner_report_flush(void);

/* seccomp.c */
int runner_seccomp_apply(bool allow_processes);

/* interp.c: PyConfig, start-up and the run itself; returns the exit status. */
int runner_interp_run(const struct runner_options *opt);

/* repl.c: what the interactive prompt needs beyond Py_RunMain (pager, completion). */
int runner_repl_prepare(void);
