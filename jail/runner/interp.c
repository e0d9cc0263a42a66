/* Start-up of the embedded interpreter and the run itself. Isolated mode (no PYTHON*
 * environment, no user site), UTF-8, no bytecode writing, and a module search path we write
 * out ourselves: the program's folder (or the working directory for -c, -m, stdin and the
 * prompt) first, then the system's Python. The command line after the verb is Python's own,
 * parsed by CPython, so `python -c`, `-m`, `-`, `-u` behave exactly as students know them. */
#include <Python.h>

#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jail/runner/runner.h"

#define DIST_PACKAGES "/usr/lib/python3/dist-packages"

static int status_error(const char *what, PyStatus st)
{
	if (PyStatus_IsExit(st))
		return st.exitcode;
	fprintf(stderr, "sandbox-python: %s: %s%s%s\n", what, st.func ? st.func : "",
		st.func ? ": " : "", st.err_msg ? st.err_msg : "failed");
	return 1;
}

static PyStatus append_path(PyConfig *c, const char *path)
{
	wchar_t *w = Py_DecodeLocale(path, NULL);
	PyStatus st;

	if (!w)
		return PyStatus_NoMemory();
	st = PyWideStringList_Append(&c->module_search_paths, w);
	PyMem_RawFree(w);
	return st;
}

/* The folder that goes first on sys.path: the script's (resolved, so that a symlinked script
 * imports its real neighbours, as CPython does), else the working directory. */
static void first_path(const PyConfig *c, char *out, size_t size)
{
	char *file = NULL, *slash;
	char real[PATH_MAX];

	if (c->run_filename)
		file = Py_EncodeLocale(c->run_filename, NULL);
	if (file && realpath(file, real)) {
		slash = strrchr(real, '/');
		*slash = '\0';
		snprintf(out, size, "%s", real[0] ? real : "/");
	} else if (file && strchr(file, '/')) {
		/* A script that does not exist: Python will say so; keep the path sensible. */
		slash = strrchr(file, '/');
		*slash = '\0';
		snprintf(out, size, "%s", file[0] ? file : "/");
	} else if (!getcwd(out, size)) {
		snprintf(out, size, "/");
	}
	PyMem_Free(file);
}

static PyObject *getattr_chain(PyObject *o, const char *a, const char *b, const char *c)
{
	const char *names[] = {a, b, c};
	PyObject *cur = o, *next;

	Py_XINCREF(cur);
	for (size_t i = 0; i < 3 && cur && names[i]; i++) {
		next = PyObject_GetAttrString(cur, names[i]);
		Py_DECREF(cur);
		cur = next;
	}
	return cur;
}

/* Code objects the policy trusts by identity (policy.c: code.__new__, marshal.loads). */
static int trust_stdlib_code(void)
{
	PyObject *types = PyImport_ImportModule("types");
	PyObject *ext = PyImport_ImportModule("_frozen_importlib_external");
	PyObject *coroutine = getattr_chain(types, "coroutine", "__code__", NULL);
	PyObject *compile = getattr_chain(ext, "_compile_bytecode", "__code__", NULL);
	PyObject *source = getattr_chain(ext, "SourceLoader", "get_code", "__code__");
	PyObject *sourceless = getattr_chain(ext, "SourcelessFileLoader", "get_code", "__code__");
	int r = coroutine && compile && source && sourceless ? 0 : -ENOENT;

	if (!r)
		runner_policy_trust_code(coroutine, compile, source, sourceless);
	PyErr_Clear();
	Py_XDECREF(types);
	Py_XDECREF(ext);
	Py_XDECREF(coroutine);
	Py_XDECREF(compile);
	Py_XDECREF(source);
	Py_XDECREF(sourceless);
	return r;
}

int runner_interp_run(const struct runner_options *opt)
{
	PyPreConfig pre;
	PyConfig c;
	PyStatus st;
	char first[PATH_MAX], exe[PATH_MAX];
	bool interactive;
	ssize_t n;
	int r;

	PyPreConfig_InitIsolatedConfig(&pre);
	pre.utf8_mode = 1;
	st = Py_PreInitialize(&pre);
	if (PyStatus_Exception(st))
		return status_error("pre-initialisation", st);

	PyConfig_InitIsolatedConfig(&c);
	c.parse_argv = 1;
	/* Isolated mode leaves these off for embedders; a student's Python has them. */
	c.install_signal_handlers = 1;
	c.configure_c_stdio = 1;
	c.write_bytecode = 0;
	c.user_site_directory = 0;
	c.use_environment = 0;
	c.safe_path = 1;
	st = PyConfig_SetBytesString(&c, &c.program_name, "python3");
	if (!PyStatus_Exception(st))
		st = PyConfig_SetBytesString(&c, &c.home, "/usr");
	/* sys.executable is the runner, never /usr/bin/python3.11, which has no hook. */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (!PyStatus_Exception(st) && n > 0) {
		exe[n] = '\0';
		st = PyConfig_SetBytesString(&c, &c.executable, exe);
	}
	if (!PyStatus_Exception(st))
		st = PyConfig_SetBytesArgv(&c, opt->py_argc, opt->py_argv);
	if (!PyStatus_Exception(st))
		st = PyConfig_Read(&c);
	if (PyStatus_Exception(st))
		goto fail;

	first_path(&c, first, sizeof(first));
	c.module_search_paths_set = 1;
	st = append_path(&c, first);
	if (!PyStatus_Exception(st))
		st = append_path(&c, PYTHON_STDLIB_DIR);
	if (!PyStatus_Exception(st))
		st = append_path(&c, PYTHON_DYNLOAD_DIR);
	if (!PyStatus_Exception(st))
		st = append_path(&c, DIST_PACKAGES);
	if (PyStatus_Exception(st))
		goto fail;

	interactive = !c.run_command && !c.run_module && !c.run_filename && isatty(STDIN_FILENO);
	st = Py_InitializeFromConfig(&c);
	if (PyStatus_Exception(st))
		goto fail;
	PyConfig_Clear(&c);

	if (trust_stdlib_code() < 0)
		fprintf(stderr,
			"sandbox-python: warning: asyncio may not work (types.coroutine)\n");
	if (interactive) {
		if (runner_repl_prepare() < 0)
			fprintf(stderr, "sandbox-python: warning: no line editing or help()\n");
		if (opt->verb == RUNNER_VERB_LOGIN)
			runner_cli_banner(stderr);
	}
	/* Last step before the student's code: from here on no new process, no memfd. */
	r = runner_seccomp_apply(opt->allow_processes);
	if (r < 0) {
		fprintf(stderr, "sandbox-python: cannot install the seccomp filter: %s\n",
			strerror(-r));
		Py_FinalizeEx();
		return 70;
	}
	r = Py_RunMain();
	runner_report_flush();
	return r;

fail:
	PyConfig_Clear(&c);
	return status_error("start-up", st);
}
