/* The policy: one row per audit event, as data. An event not in the table is allowed without a
 * word, which is what the hot events (exec, compile, object.__getattr__, sys._getframe,
 * builtins.id, os.listdir, glob.glob, ...) need: a miss costs one hash of the name and, almost
 * always, one empty slot. Rows either decide outright (SILENT, LOG, DENY) or name a check
 * function that looks at the event's arguments. Messages are plain sentences for a student;
 * the hook appends the event name. */
#include <Python.h>

#include "config.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "common/cleanup.h"
#include "jail/runner/runner.h"

enum rule_kind { RULE_SILENT, RULE_LOG, RULE_DENY, RULE_CHECK };

/* Lifted by --allow-processes (a course that uses multiprocessing; the pids cgroup limits it). */
#define RULE_PROCESS 0x1u

struct rule;
typedef enum runner_verdict (*rule_check_fn)(const struct rule *rule, PyObject *args,
					     struct runner_decision *d);

struct rule {
	const char *event;
	enum rule_kind kind;
	rule_check_fn check;
	const char *message;
	unsigned flags;
	/* For the path checks: which arguments are paths to be written and which hold their
	 * dir_fd (-1: none), and whether the operation follows a symlink in the last component. */
	signed char path[2], dir_fd[2];
	bool follow;
};

#define MSG_PROCESS "starting other programs or processes is not allowed in this sandbox"
#define MSG_NETWORK "network access is not allowed in this sandbox"
#define MSG_SOCKET "only local (AF_UNIX) sockets are allowed in this sandbox, there is no network"
#define MSG_LOOKUP "there is no network in this sandbox, so names cannot be looked up"
#define MSG_NATIVE "ctypes and other ways of loading native code are not allowed in this sandbox"
#define MSG_MODULE "this module is not available in this sandbox"
#define MSG_EXTENSION                                                                              \
	"extension modules are only loaded from the system's Python, not from your own files"
#define MSG_WRITE "writing outside your home folder and /tmp is not allowed"
#define MSG_PROC_MEM "reading or writing a process's memory through /proc is not allowed"
#define MSG_GC "walking all of the interpreter's objects is not allowed in this sandbox"
#define MSG_TIOCSTI "typing into the terminal on someone else's behalf is not allowed"
#define MSG_CODE "building code objects by hand is not allowed in this sandbox"
#define MSG_SQLITE_EXT "loading SQLite extensions is not allowed in this sandbox"
#define MSG_OPEN_CODE_HOOK "the sandbox's code loader cannot be replaced"
#define MSG_HOSTNAME "changing the host name is not allowed"
#define MSG_AUDIT_HOOK "the program added its own audit hook; the sandbox's hook stays in place"
#define MSG_MARSHAL "the program unmarshalled data outside the import system"
#define MSG_ALLOWED_PROCESS "the program started a process (allowed for this course)"

static enum runner_verdict check_import(const struct rule *, PyObject *, struct runner_decision *);
static enum runner_verdict check_open(const struct rule *, PyObject *, struct runner_decision *);
static enum runner_verdict check_paths(const struct rule *, PyObject *, struct runner_decision *);
static enum runner_verdict check_socket_new(const struct rule *, PyObject *,
					    struct runner_decision *);
static enum runner_verdict check_socket_address(const struct rule *, PyObject *,
						struct runner_decision *);
static enum runner_verdict check_sqlite_connect(const struct rule *, PyObject *,
						struct runner_decision *);
static enum runner_verdict check_sqlite_enable(const struct rule *, PyObject *,
					       struct runner_decision *);
static enum runner_verdict check_ioctl(const struct rule *, PyObject *, struct runner_decision *);
static enum runner_verdict check_code_new(const struct rule *, PyObject *,
					  struct runner_decision *);
static enum runner_verdict check_marshal(const struct rule *, PyObject *, struct runner_decision *);

/* The table reads best one row per line. */
/* clang-format off */
#define NO_PATHS .path = {-1, -1}, .dir_fd = {-1, -1}
#define DENY(ev, msg) {ev, RULE_DENY, NULL, msg, 0, NO_PATHS, false}
#define DENY_PROCESS(ev) {ev, RULE_DENY, NULL, MSG_PROCESS, RULE_PROCESS, NO_PATHS, false}
#define LOG(ev, msg) {ev, RULE_LOG, NULL, msg, 0, NO_PATHS, false}
#define CHECK(ev, fn, msg) {ev, RULE_CHECK, fn, msg, 0, NO_PATHS, false}
/* Path rule: up to two (path argument, dir_fd argument) pairs. */
#define WRITES(ev, p0, d0, p1, d1, fol)                                                            \
	{ev, RULE_CHECK, check_paths, MSG_WRITE, 0, .path = {p0, p1}, .dir_fd = {d0, d1},         \
	 .follow = fol}

static const struct rule rules[] = {
	/* Process creation of every kind. _posixsubprocess.fork_exec raises no event in 3.11:
	 * the runner's seccomp filter is what stops it. */
	DENY_PROCESS("os.exec"),
	DENY_PROCESS("os.fork"),
	DENY_PROCESS("os.forkpty"),
	DENY_PROCESS("os.posix_spawn"),
	DENY_PROCESS("os.system"),
	DENY_PROCESS("pty.spawn"),
	DENY_PROCESS("subprocess.Popen"),
	DENY_PROCESS("webbrowser.open"),

	/* Network: sockets other than AF_UNIX, every name lookup, the client libraries (for a
	 * clearer message than the socket underneath would give). */
	CHECK("socket.__new__", check_socket_new, MSG_SOCKET),
	CHECK("socket.bind", check_socket_address, MSG_NETWORK),
	CHECK("socket.connect", check_socket_address, MSG_NETWORK),
	CHECK("socket.sendto", check_socket_address, MSG_NETWORK),
	CHECK("socket.sendmsg", check_socket_address, MSG_NETWORK),
	DENY("socket.getaddrinfo", MSG_LOOKUP),
	DENY("socket.gethostbyname", MSG_LOOKUP),
	DENY("socket.gethostbyaddr", MSG_LOOKUP),
	DENY("socket.getnameinfo", MSG_LOOKUP),
	DENY("socket.getservbyname", MSG_LOOKUP),
	DENY("socket.getservbyport", MSG_LOOKUP),
	DENY("socket.sethostname", MSG_HOSTNAME),
	DENY("urllib.Request", MSG_NETWORK),
	DENY("http.client.connect", MSG_NETWORK),
	DENY("ftplib.connect", MSG_NETWORK),
	DENY("imaplib.open", MSG_NETWORK),
	DENY("nntplib.connect", MSG_NETWORK),
	DENY("poplib.connect", MSG_NETWORK),
	DENY("smtplib.connect", MSG_NETWORK),
	DENY("telnetlib.Telnet.open", MSG_NETWORK),
	DENY("ensurepip.bootstrap", MSG_NETWORK),

	/* Native code: ctypes.* is matched as a prefix in runner_policy_decide. */
	CHECK("import", check_import, MSG_MODULE),
	DENY("sqlite3.load_extension", MSG_SQLITE_EXT),
	CHECK("sqlite3.enable_load_extension", check_sqlite_enable, MSG_SQLITE_EXT),
	DENY("setopencodehook", MSG_OPEN_CODE_HOOK),
	CHECK("code.__new__", check_code_new, MSG_CODE),
	CHECK("marshal.loads", check_marshal, MSG_MARSHAL),
	LOG("marshal.load", MSG_MARSHAL),
	DENY("gc.get_objects", MSG_GC),
	DENY("gc.get_referrers", MSG_GC),
	DENY("gc.get_referents", MSG_GC),
	CHECK("fcntl.ioctl", check_ioctl, MSG_TIOCSTI),
	/* A Python hook cannot remove ours; it is worth a line on the trail all the same. */
	LOG("sys.addaudithook", MSG_AUDIT_HOOK),

	/* Files: writes only in the home and /tmp; /proc/<pid>/mem never. */
	CHECK("open", check_open, MSG_WRITE),
	CHECK("sqlite3.connect", check_sqlite_connect, MSG_WRITE),
	WRITES("os.remove", 0, 1, -1, -1, false),
	WRITES("os.rmdir", 0, 1, -1, -1, false),
	WRITES("os.mkdir", 0, 2, -1, -1, false),
	WRITES("os.rename", 0, 2, 1, 3, false),
	/* A hard link to an outside file would make later writes in the home land outside. */
	WRITES("os.link", 0, 2, 1, 3, false),
	WRITES("os.symlink", 1, 2, -1, -1, false),
	WRITES("os.truncate", 0, -1, -1, -1, true),
	WRITES("os.chmod", 0, 2, -1, -1, true),
	WRITES("os.chown", 0, 3, -1, -1, true),
	WRITES("os.utime", 0, 3, -1, -1, true),
	WRITES("os.setxattr", 0, -1, -1, -1, true),
	WRITES("os.removexattr", 0, -1, -1, -1, true),
	WRITES("shutil.copyfile", 1, -1, -1, -1, true),
	WRITES("shutil.copymode", 1, -1, -1, -1, true),
	WRITES("shutil.copystat", 1, -1, -1, -1, true),
	WRITES("shutil.copytree", 1, -1, -1, -1, true),
	WRITES("shutil.move", 0, -1, 1, -1, false),
	WRITES("shutil.rmtree", 0, 1, -1, -1, false),
	WRITES("shutil.chown", 0, -1, -1, -1, true),
	WRITES("shutil.unpack_archive", 1, -1, -1, -1, true),
	WRITES("shutil.make_archive", 0, -1, -1, -1, false),
};
/* clang-format on */

/* Modules that must not load even if their file exists, matched on the last dotted component:
 * the init symbol comes from it, so ExtensionFileLoader("innocent._ctypes", path) is _ctypes. */
/* clang-format off */
static const char *const denied_modules[] = {
	"_ctypes",	     "_ctypes_test",	   "_testcapi",	       "_testinternalcapi",
	"_testbuffer",	     "_testmultiphase",	   "_testimportmultiple", "_testclinic",
	"_testsinglephase",  "_xxsubinterpreters", "_xxtestfuzz",
};
/* clang-format on */

#define TABLE_SIZE 256u /* a power of two, well above 2x the rows */

static uint16_t table[TABLE_SIZE]; /* row index + 1; 0 = empty */
static bool processes_allowed;

static struct {
	PyObject *types_coroutine;
	PyObject *compile_bytecode;
	PyObject *source_get_code;
	PyObject *sourceless_get_code;
} trusted;

static inline uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 16777619u;
	}
	return h;
}

int runner_policy_init(bool allow_processes)
{
	_Static_assert(ELEMENTSOF(rules) * 2 < TABLE_SIZE, "policy hash table too small");
	processes_allowed = allow_processes;
	memset(table, 0, sizeof(table));
	for (size_t i = 0; i < ELEMENTSOF(rules); i++) {
		uint32_t slot = name_hash(rules[i].event) & (TABLE_SIZE - 1);
		while (table[slot]) {
			if (strcmp(rules[table[slot] - 1].event, rules[i].event) == 0)
				return -EEXIST;
			slot = (slot + 1) & (TABLE_SIZE - 1);
		}
		table[slot] = (uint16_t)(i + 1);
	}
	return 0;
}

size_t runner_policy_rule_count(void)
{
	return ELEMENTSOF(rules);
}

static const struct rule *rule_lookup(const char *event)
{
	uint32_t slot = name_hash(event) & (TABLE_SIZE - 1);

	while (table[slot]) {
		const struct rule *r = &rules[table[slot] - 1];
		if (strcmp(r->event, event) == 0)
			return r;
		slot = (slot + 1) & (TABLE_SIZE - 1);
	}
	return NULL;
}

void runner_policy_trust_code(PyObject *types_coroutine, PyObject *compile_bytecode,
			      PyObject *source_get_code, PyObject *sourceless_get_code)
{
	/* References are kept for the life of the process: identity must not be recycled. */
	Py_XINCREF(types_coroutine);
	Py_XINCREF(compile_bytecode);
	Py_XINCREF(source_get_code);
	Py_XINCREF(sourceless_get_code);
	trusted.types_coroutine = types_coroutine;
	trusted.compile_bytecode = compile_bytecode;
	trusted.source_get_code = source_get_code;
	trusted.sourceless_get_code = sourceless_get_code;
}

/* A short, safe description of an argument for the audit line. Never calls Python code (no
 * repr(), no __fspath__): only exact C-level views of str, bytes, int, and flat sequences. */
static size_t describe(PyObject *o, char *out, size_t size, int depth)
{
	size_t n = 0;

	if (size == 0)
		return 0;
	out[0] = '\0';
	if (PyUnicode_Check(o)) {
		Py_ssize_t len;
		const char *s = PyUnicode_AsUTF8AndSize(o, &len);
		if (!s) {
			PyErr_Clear();
			s = "(undecodable)";
		}
		n = (size_t)snprintf(out, size, "%s", s);
	} else if (PyBytes_Check(o)) {
		n = (size_t)snprintf(out, size, "%.*s", (int)PyBytes_GET_SIZE(o),
				     PyBytes_AS_STRING(o));
	} else if (PyLong_Check(o)) {
		long v = PyLong_AsLong(o);
		if (v == -1 && PyErr_Occurred())
			PyErr_Clear();
		n = (size_t)snprintf(out, size, "%ld", v);
	} else if (depth == 0 && (PyTuple_Check(o) || PyList_Check(o))) {
		Py_ssize_t len = PySequence_Fast_GET_SIZE(o);
		PyObject **items = PySequence_Fast_ITEMS(o);
		n = (size_t)snprintf(out, size, "[");
		for (Py_ssize_t i = 0; i < len && i < 16 && n + 2 < size; i++) {
			if (i)
				n += (size_t)snprintf(out + n, size - n, " ");
			n += describe(items[i], out + n, size - n, depth + 1);
		}
		if (n + 2 < size)
			n += (size_t)snprintf(out + n, size - n, "]");
	}
	return n < size ? n : size - 1;
}

/* The detail of a plain DENY/LOG row: the first argument worth showing. */
static void describe_args(PyObject *args, struct runner_decision *d)
{
	if (!args || !PyTuple_Check(args))
		return;
	for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(args); i++) {
		PyObject *o = PyTuple_GET_ITEM(args, i);
		if (PyUnicode_Check(o) || PyBytes_Check(o) || PyLong_Check(o) || PyTuple_Check(o) ||
		    PyList_Check(o)) {
			describe(o, d->detail, sizeof(d->detail), 0);
			return;
		}
	}
}

static PyObject *arg(PyObject *args, int i)
{
	if (i < 0 || !PyTuple_Check(args) || i >= PyTuple_GET_SIZE(args))
		return NULL;
	return PyTuple_GET_ITEM(args, i);
}

/* File system path of an event argument. Returns 1 and sets *ret (valid while *holder lives),
 * 0 if the argument is not a path (None, a descriptor), -1 if it cannot be one (the operation
 * itself will raise). Only str and bytes are read directly; anything else goes through
 * os.fspath() as the operation itself did a moment ago. */
static int path_arg(PyObject *o, PyObject **holder, const char **ret)
{
	Py_ssize_t len;
	const char *s;

	*holder = NULL;
	if (!o || o == Py_None || PyLong_Check(o))
		return 0;
	if (PyUnicode_Check(o)) {
		s = PyUnicode_AsUTF8AndSize(o, &len);
		if (s && strlen(s) == (size_t)len) {
			*ret = s;
			return 1;
		}
		PyErr_Clear();
	} else if (PyBytes_Check(o)) {
		if (strlen(PyBytes_AS_STRING(o)) != (size_t)PyBytes_GET_SIZE(o))
			return -1;
		*ret = PyBytes_AS_STRING(o);
		return 1;
	}
	if (!PyUnicode_FSConverter(o, holder)) {
		PyErr_Clear();
		return -1;
	}
	*ret = PyBytes_AS_STRING(*holder);
	return 1;
}

static int fd_arg(PyObject *o)
{
	long v;

	if (!o || !PyLong_Check(o))
		return -1;
	v = PyLong_AsLong(o);
	if (v == -1 && PyErr_Occurred())
		PyErr_Clear();
	return v >= 0 && v <= INT_MAX ? (int)v : -1;
}

static enum runner_verdict verdict_for_path(enum runner_path_verdict v, struct runner_decision *d)
{
	switch (v) {
	case RUNNER_PATH_OK:
		return RUNNER_ALLOW;
	case RUNNER_PATH_PROC_MEM:
		d->message = MSG_PROC_MEM;
		return RUNNER_REFUSE;
	case RUNNER_PATH_OUTSIDE:
	default:
		d->message = MSG_WRITE;
		return RUNNER_REFUSE;
	}
}

static enum runner_verdict check_write(PyObject *path_obj, int dir_fd, bool follow,
				       struct runner_decision *d)
{
	PyObject *holder;
	const char *path;
	enum runner_verdict v;
	int r = path_arg(path_obj, &holder, &path);

	if (r <= 0)
		return RUNNER_ALLOW;
	v = verdict_for_path(
	    runner_path_check_write(path, dir_fd, follow, d->detail, sizeof(d->detail)), d);
	Py_XDECREF(holder);
	return v;
}

static enum runner_verdict check_paths(const struct rule *rule, PyObject *args,
				       struct runner_decision *d)
{
	for (int i = 0; i < 2; i++) {
		if (rule->path[i] < 0)
			continue;
		enum runner_verdict v = check_write(
		    arg(args, rule->path[i]), fd_arg(arg(args, rule->dir_fd[i])), rule->follow, d);
		if (v != RUNNER_ALLOW)
			return v;
	}
	return RUNNER_ALLOW;
}

/* open(path, mode, flags): builtin open gives a mode string and the flags it computed;
 * os.open gives None and the caller's flags. The 3.11 event carries no dir_fd, so a relative
 * path is checked against the working directory; a write-open through a directory descriptor
 * is refused by the runner's seccomp filter instead (seccomp.c). */
static PyObject *frame_code(int depth);

/* A module without its source is read by SourcelessFileLoader.get_code through get_data's
 * plain open, never through io.open_code: a file read there is bytecode about to run, and is
 * refused unless it is the system's own (uploaded bytecode is native-code-grade trust). */
static bool opened_as_bytecode(const char *path)
{
	char real[PATH_MAX];

	if (!trusted.sourceless_get_code || frame_code(1) != trusted.sourceless_get_code)
		return false;
	return !realpath(path, real) || !runner_path_is_system_python(real, false);
}

static enum runner_verdict check_open(const struct rule *rule, PyObject *args,
				      struct runner_decision *d)
{
	PyObject *path_obj = arg(args, 0), *mode = arg(args, 1), *flags_obj = arg(args, 2);
	PyObject *holder;
	const char *path;
	long flags = 0;
	bool writing = false;
	enum runner_verdict v;

	if (flags_obj && PyLong_Check(flags_obj)) {
		flags = PyLong_AsLong(flags_obj);
		if (flags == -1 && PyErr_Occurred())
			PyErr_Clear();
	}
	writing = (flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC | O_APPEND));
	if (!writing && mode && PyUnicode_Check(mode)) {
		const char *m = PyUnicode_AsUTF8(mode);
		if (!m)
			PyErr_Clear();
		else
			writing = strpbrk(m, "wax+") != NULL;
	}
	if (writing)
		return check_write(path_obj, -1, true, d);

	if (path_arg(path_obj, &holder, &path) <= 0)
		return RUNNER_ALLOW;
	if (opened_as_bytecode(path)) {
		snprintf(d->detail, sizeof(d->detail), "%s", path);
		d->message = RUNNER_MSG_PYC;
		Py_XDECREF(holder);
		return RUNNER_REFUSE;
	}
	v = verdict_for_path(runner_path_check_read(path, -1), d);
	if (v != RUNNER_ALLOW)
		snprintf(d->detail, sizeof(d->detail), "%s", path);
	Py_XDECREF(holder);
	return v;
}

static enum runner_verdict check_sqlite_connect(const struct rule *rule, PyObject *args,
						struct runner_decision *d)
{
	PyObject *db = arg(args, 0), *holder;
	const char *path;
	char file[PATH_MAX];
	enum runner_verdict v;

	if (path_arg(db, &holder, &path) <= 0)
		return RUNNER_ALLOW;
	if (strcmp(path, ":memory:") == 0 || path[0] == '\0') {
		v = RUNNER_ALLOW;
	} else if (strncmp(path, "file:", 5) == 0) {
		/* A URI: the path ends at '?'; a read-only or in-memory one writes nothing. */
		size_t n = strcspn(path + 5, "?");
		const char *query = path + 5 + n;
		if (strstr(query, "mode=ro") || strstr(query, "mode=memory") || n == 0 ||
		    strncmp(path + 5, ":memory:", 8) == 0 || n >= sizeof(file)) {
			v = RUNNER_ALLOW;
		} else {
			memcpy(file, path + 5, n);
			file[n] = '\0';
			v = verdict_for_path(
			    runner_path_check_write(file, -1, true, d->detail, sizeof(d->detail)),
			    d);
		}
	} else {
		v = verdict_for_path(
		    runner_path_check_write(path, -1, true, d->detail, sizeof(d->detail)), d);
	}
	Py_XDECREF(holder);
	return v;
}

static bool module_denied(const char *name)
{
	const char *last = strrchr(name, '.');

	last = last ? last + 1 : name;
	if (strcmp(name, "ctypes") == 0 || strncmp(name, "ctypes.", 7) == 0)
		return true;
	if (last[0] != '_')
		return false;
	for (size_t i = 0; i < ELEMENTSOF(denied_modules); i++)
		if (strcmp(last, denied_modules[i]) == 0)
			return true;
	return false;
}

/* import(module, filename, sys.path, sys.meta_path, sys.path_hooks): raised once when the
 * import system starts looking (filename None) and again by _imp.create_dynamic with the path
 * of the extension module about to be dlopen()ed. */
static enum runner_verdict check_import(const struct rule *rule, PyObject *args,
					struct runner_decision *d)
{
	PyObject *module = arg(args, 0), *holder;
	const char *name, *file;
	char real[PATH_MAX];
	enum runner_verdict v = RUNNER_ALLOW;

	if (!module || !PyUnicode_Check(module))
		return RUNNER_ALLOW;
	name = PyUnicode_AsUTF8(module);
	if (!name) {
		PyErr_Clear();
		return RUNNER_ALLOW;
	}
	if (module_denied(name)) {
		snprintf(d->detail, sizeof(d->detail), "%s", name);
		d->message = strstr(name, "ctypes") ? MSG_NATIVE : MSG_MODULE;
		return RUNNER_REFUSE;
	}
	if (path_arg(arg(args, 1), &holder, &file) <= 0)
		return RUNNER_ALLOW;
	if (!runner_path_spelled_system_python(file, true) &&
	    (!realpath(file, real) || !runner_path_is_system_python(real, true))) {
		snprintf(d->detail, sizeof(d->detail), "%s", file);
		d->message = MSG_EXTENSION;
		v = RUNNER_REFUSE;
	}
	Py_XDECREF(holder);
	return v;
}

static enum runner_verdict check_socket_new(const struct rule *rule, PyObject *args,
					    struct runner_decision *d)
{
	PyObject *family = arg(args, 1);
	long f;

	if (!family || !PyLong_Check(family))
		return RUNNER_REFUSE;
	f = PyLong_AsLong(family);
	if (f == -1 && PyErr_Occurred())
		PyErr_Clear();
	if (f == AF_UNIX)
		return RUNNER_ALLOW;
	/* -1: socket.socket(fileno=...) without a family; we cannot tell, so we say no. */
	snprintf(d->detail, sizeof(d->detail), "family %ld", f);
	return RUNNER_REFUSE;
}

/* AF_UNIX addresses are str or bytes; anything else (a (host, port) tuple) is the network. */
static enum runner_verdict check_socket_address(const struct rule *rule, PyObject *args,
						struct runner_decision *d)
{
	PyObject *addr = arg(args, 1);

	if (!addr || addr == Py_None || PyUnicode_Check(addr) || PyBytes_Check(addr) ||
	    PyByteArray_Check(addr))
		return RUNNER_ALLOW;
	describe(addr, d->detail, sizeof(d->detail), 0);
	return RUNNER_REFUSE;
}

static enum runner_verdict check_sqlite_enable(const struct rule *rule, PyObject *args,
					       struct runner_decision *d)
{
	PyObject *enabled = arg(args, 1);

	/* Only bool/int reach here from the C API; anything else is treated as "on". */
	if (enabled && (PyBool_Check(enabled) || PyLong_Check(enabled)) &&
	    !PyObject_IsTrue(enabled))
		return RUNNER_ALLOW;
	return RUNNER_REFUSE;
}

static enum runner_verdict check_ioctl(const struct rule *rule, PyObject *args,
				       struct runner_decision *d)
{
	PyObject *req = arg(args, 1);
	unsigned long r;

	if (!req || !PyLong_Check(req))
		return RUNNER_ALLOW;
	r = PyLong_AsUnsignedLongMask(req);
	if (r == (unsigned long)-1 && PyErr_Occurred())
		PyErr_Clear();
	if ((unsigned int)r == TIOCSTI || (unsigned int)r == TIOCLINUX) {
		snprintf(d->detail, sizeof(d->detail), "request 0x%x", (unsigned int)r);
		return RUNNER_REFUSE;
	}
	return RUNNER_ALLOW;
}

/* The code object of the Python function running depth frames up (0: the caller of the C
 * function that raised the event), as a borrowed identity for comparison only. */
static PyObject *frame_code(int depth)
{
	PyFrameObject *f = PyEval_GetFrame(), *next;
	PyObject *code;

	if (!f)
		return NULL;
	Py_INCREF(f);
	for (; depth > 0 && f; depth--) {
		next = PyFrame_GetBack(f);
		Py_DECREF(f);
		f = next;
	}
	if (!f)
		return NULL;
	code = (PyObject *)PyFrame_GetCode(f);
	Py_DECREF(f);
	Py_DECREF(code); /* the frame's code lives at least as long as the caller's frame */
	return code;
}

/* code.__new__ (also raised by code.replace): types.coroutine needs it when asyncio is
 * imported. Trust that function by the identity of its code object captured at start-up, never
 * by a co_filename, which a program can forge. */
static enum runner_verdict check_code_new(const struct rule *rule, PyObject *args,
					  struct runner_decision *d)
{
	PyObject *code = frame_code(0);

	if (code && code == trusted.types_coroutine)
		return RUNNER_ALLOW;
	if (arg(args, 1))
		describe(arg(args, 1), d->detail, sizeof(d->detail), 0);
	return RUNNER_REFUSE;
}

/* marshal.loads: the importer unmarshals every .pyc it reads, so this is only worth a line
 * when it does not come from SourceLoader/SourcelessFileLoader.get_code -> _compile_bytecode. */
static enum runner_verdict check_marshal(const struct rule *rule, PyObject *args,
					 struct runner_decision *d)
{
	PyObject *code, *parent;

	/* Before the identities are captured it is the interpreter's own start-up. */
	if (!trusted.compile_bytecode)
		return RUNNER_ALLOW;
	code = frame_code(0);
	if (code && code == trusted.compile_bytecode) {
		parent = frame_code(1);
		if (parent &&
		    (parent == trusted.source_get_code || parent == trusted.sourceless_get_code))
			return RUNNER_ALLOW;
	}
	return RUNNER_NOTE;
}

void runner_policy_decide(const char *event, PyObject *args, struct runner_decision *d)
{
	const struct rule *r = rule_lookup(event);

	d->verdict = RUNNER_ALLOW;
	if (!r) {
		if (event[0] == 'c' && strncmp(event, "ctypes.", 7) == 0) {
			d->message = MSG_NATIVE;
			d->detail[0] = '\0';
			d->verdict = RUNNER_REFUSE;
		}
		return;
	}
	d->message = r->message;
	d->detail[0] = '\0';
	if ((r->flags & RULE_PROCESS) && processes_allowed) {
		d->message = MSG_ALLOWED_PROCESS;
		describe_args(args, d);
		d->verdict = RUNNER_NOTE;
		return;
	}
	switch (r->kind) {
	case RULE_SILENT:
		return;
	case RULE_LOG:
		describe_args(args, d);
		d->verdict = RUNNER_NOTE;
		return;
	case RULE_DENY:
		describe_args(args, d);
		d->verdict = RUNNER_REFUSE;
		return;
	case RULE_CHECK:
		d->verdict = r->check(r, args, d);
		if (PyErr_Occurred())
			PyErr_Clear();
		return;
	}
}
