/* The C audit hook and the open-code hook, both installed before the interpreter exists.
 * Neither can be removed from Python (PySys_AddAuditHook hooks have no removal API;
 * PyFile_SetOpenCodeHook refuses a second hook), though a program that gets native code can
 * clear them: that is why the jail, not this file, is the boundary. */
#include <Python.h>

#include "config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "jail/runner/runner.h"

#define MSG_NOT_SOURCE "only Python source files (.py) from your files can be run or imported"

static void refuse(const char *event, const struct runner_decision *d)
{
	runner_report_event(event, "deny", d->message, d->detail);
	PyErr_Format(PyExc_PermissionError, "[sandbox] %s (%s)", d->message, event);
}

static int audit_hook(const char *event, PyObject *args, void *userdata)
{
	struct runner_decision d;

	runner_policy_decide(event, args, &d);
	switch (d.verdict) {
	case RUNNER_ALLOW:
		return 0;
	case RUNNER_NOTE:
		runner_report_event(event, "log", d.message, d.detail);
		return 0;
	case RUNNER_REFUSE:
	default:
		refuse(event, &d);
		return -1;
	}
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* io.open_code() and the import system's source and bytecode reads come here (the main
 * script given on the command line is read with an ordinary open). Bytecode is trusted only
 * from the system's Python trees; from the home and /tmp only .py source. A .pyc refused inside
 * an import of a .py module is harmless: the importer falls back to the source. */
static const char *open_code_refusal(const char *p)
{
	char real[PATH_MAX];

	/* The system's own files, spelled plainly, need no realpath(): one per import saved. */
	if (runner_path_spelled_system_python(p, false))
		return NULL;
	bool resolved = realpath(p, real) != NULL;
	if (has_suffix(p, ".pyc") && (!resolved || !runner_path_is_system_python(real, false)))
		return RUNNER_MSG_PYC;
	if (resolved && runner_path_is_student_writable(real) && !has_suffix(real, ".py"))
		return MSG_NOT_SOURCE;
	return NULL;
}

static PyObject *io_open; /* _io.open, for the life of the interpreter */

static PyObject *open_code_hook(PyObject *path, void *userdata)
{
	struct runner_decision d = {.verdict = RUNNER_ALLOW};
	PyObject *bytes = NULL;
	const char *p;

	if (!PyUnicode_FSConverter(path, &bytes))
		return NULL;
	p = PyBytes_AS_STRING(bytes);
	d.message = open_code_refusal(p);
	if (d.message) {
		d.verdict = RUNNER_REFUSE;
		snprintf(d.detail, sizeof(d.detail), "%s", p);
		Py_DECREF(bytes);
		refuse("open_code", &d);
		return NULL;
	}
	Py_DECREF(bytes);
	/* Every module file the importer reads comes here: _io.open is looked up once. */
	if (!io_open) {
		PyObject *io = PyImport_ImportModule("_io");
		if (!io)
			return NULL;
		io_open = PyObject_GetAttrString(io, "open");
		Py_DECREF(io);
		if (!io_open)
			return NULL;
	}
	return PyObject_CallFunction(io_open, "Os", path, "rb");
}

int runner_hook_install(void)
{
	if (PySys_AddAuditHook(audit_hook, NULL) < 0)
		return -EPERM;
	if (PyFile_SetOpenCodeHook(open_code_hook, NULL) < 0)
		return -EPERM;
	return 0;
}
