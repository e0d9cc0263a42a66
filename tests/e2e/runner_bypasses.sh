#!/bin/bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# The bypasses recorded in ../shared/python-layer-facts.md, each tried inside the real jail
# through the real server, each ending without reaching its goal. The runner's hook is not the
# boundary: these check the jail's layers (seccomp, read-only /proc and root, noexec homes and
# /tmp, the missing native modules) with the specific error each one gives.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/runner/helpers.sh"
e2e_init
make_user
start_server AuditFile "$T/audit.jsonl" AuditJournal no
H=$(user_home "$U")
command -v gcc >/dev/null || die "missing tool: gcc"

# 1. /proc/self/mem opened for writing through a dir_fd (the 3.11 open event has no dir_fd, so
#    a path check never sees "mem"), then clearing the hooks: the open itself fails.
py 'import os, errno, socket
d = os.open("/proc/self", os.O_RDONLY | os.O_DIRECTORY)
for flags in (os.O_RDWR, os.O_WRONLY):
    try:
        fd = os.open("mem", flags, dir_fd=d)
        print("MEM OPENED")
    except PermissionError as e:
        print("sandbox" if "[sandbox]" in str(e) else errno.errorcode[e.errno])
    except OSError as e:
        print(errno.errorcode[e.errno])
try:
    socket.socket()
    print("HOOK GONE")
except PermissionError as e:
    print("hook still there")'
assert_rc 0 "/proc/self/mem via dir_fd"
assert_match "$(echo "$OUT" | head -2 | tr '\n' ' ')" "^(EROFS|EPERM) (EROFS|EPERM) $" \
	"/proc/self/mem via dir_fd: refused with EROFS/EPERM for O_RDWR and O_WRONLY"
assert_eq "$(echo "$OUT" | tail -1)" "hook still there" "/proc/self/mem via dir_fd: the hook is still in place"
py 'import os
print(" ".join(l.split()[5].split(",")[0] for l in open("/proc/self/mountinfo") if l.split()[4] == "/proc"))'
assert_eq "$OUT" "ro" "/proc is mounted read-only in the jail"

# 2. _posixsubprocess.fork_exec from a fresh module built by _imp.create_builtin (no audit
#    event in 3.11): the runner's seccomp filter answers EPERM, nothing runs.
py 'import _imp, importlib.machinery, os, errno
spec = importlib.machinery.ModuleSpec("_posixsubprocess", None, origin="built-in")
m = _imp.create_builtin(spec)
r, w = os.pipe()
for vfork in (True, False):
    try:
        pid = m.fork_exec([b"/usr/bin/python3.11"], [b"/usr/bin/python3.11", b"-c", b"open(\"/tmp/spawned\", \"w\")"],
                          True, (w,), None, None, -1, -1, -1, -1, -1, -1, r, w, True, False, -1,
                          None, None, None, -1, None, vfork)
        print("SPAWNED", pid)
    except OSError as e:
        print("fork_exec:", errno.errorcode.get(e.errno))
posix = _imp.create_builtin(importlib.machinery.ModuleSpec("posix", None, origin="built-in"))
try:
    posix.fork()
    print("FORKED")
except PermissionError as e:
    print("posix.fork:", "sandbox" if "[sandbox]" in str(e) else errno.errorcode.get(e.errno))
print("exists", os.path.exists("/tmp/spawned"))'
assert_rc 0 "fork_exec via _imp.create_builtin"
assert_eq "$OUT" "$(printf 'fork_exec: EPERM\nfork_exec: EPERM\nposix.fork: sandbox\nexists False')" \
	"fork_exec via _imp.create_builtin: EPERM (vfork and fork), nothing ran; a fresh posix.fork still hits the hook"

# 3. Writes outside the home through os.open(..., dir_fd=...): EROFS/EPERM, nothing appears.
py 'import os, errno
res = []
for folder in ("/etc", "/usr/lib/python3.11", "/usr", "/opt/sandboxd", "/", os.path.dirname(os.environ["HOME"])):
    d = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    for flags in (os.O_WRONLY | os.O_CREAT, os.O_RDWR | os.O_CREAT | os.O_TRUNC):
        try:
            os.close(os.open("sbx-e2e-bypass", flags, 0o644, dir_fd=d))
            res.append("WROTE " + folder)
        except OSError as e:
            res.append(errno.errorcode[e.errno])
d = os.open("/etc", os.O_RDONLY | os.O_DIRECTORY)
try:
    os.close(os.open("hostname", os.O_WRONLY | os.O_APPEND, dir_fd=d))
    res.append("APPENDED")
except OSError as e:
    res.append(errno.errorcode[e.errno])
print(" ".join(sorted(set(res))))
print(len(res))'
assert_rc 0 "writes outside the home via dir_fd"
assert_match "$(echo "$OUT" | head -1)" "^(EPERM|EROFS)( (EPERM|EROFS))?$" \
	"writes outside the home via dir_fd: only EROFS/EPERM"
assert_eq "$(echo "$OUT" | tail -1)" 13 "writes outside the home via dir_fd: thirteen attempts made"
assert_eq "$(find /etc/sbx-e2e-bypass /usr/lib/python3.11/sbx-e2e-bypass /usr/sbx-e2e-bypass /sbx-e2e-bypass /home/sbx-e2e-bypass 2>/dev/null | wc -l)" \
	0 "writes outside the home via dir_fd: nothing appeared on the host"

# 4. An uploaded evil.so imported from the home: the hook refuses the loader, and the home is
#    noexec underneath (no executable mapping of a file there at all).
cat >"$T/evil.c" <<'CEOF'
#include <stdio.h>
#include <fcntl.h>
#include <unistd.h>
__attribute__((constructor)) static void evil_init(void)
{
	int fd = open("/tmp/EVIL_RAN", O_WRONLY | O_CREAT, 0644);
	if (fd >= 0)
		close(fd);
	fputs("EVIL NATIVE CODE RAN\n", stderr);
}
void *PyInit_evil(void) { return 0; }
CEOF
gcc -shared -fPIC -o "$T/evil.so" "$T/evil.c" || die "gcc evil.so"
mkdir -p "$T/up/lib"
cp "$T/evil.so" "$T/up/lib/evil.cpython-311-x86_64-linux-gnu.so"
upload "$T/evil.so" evil.so
upload "$T/up/lib" lib
assert_eq "$(find "$H/evil.so" "$H/lib/evil.cpython-311-x86_64-linux-gnu.so" -type f 2>/dev/null | wc -l)" 2 \
	"evil.so: uploaded to the home"
py 'import os, sys, errno, mmap, importlib.machinery, importlib.util, shutil
home = os.environ["HOME"]
def attempt(what, f):
    try:
        f()
        print(what, "LOADED")
    except PermissionError as e:
        print(what, "sandbox" if "[sandbox]" in str(e) else errno.errorcode.get(e.errno))
    except (ImportError, OSError) as e:
        print(what, type(e).__name__)
sys.path.insert(0, home + "/lib")
attempt("import", lambda: __import__("evil"))
def loader(path, name="evil"):
    l = importlib.machinery.ExtensionFileLoader(name, path)
    l.create_module(importlib.util.spec_from_loader(name, l))
attempt("loader", lambda: loader(home + "/evil.so"))
import _imp
attempt("create_dynamic", lambda: _imp.create_dynamic(importlib.util.spec_from_file_location("evil", home + "/evil.so")))
shutil.copy(home + "/evil.so", "/tmp/evil.so")
attempt("tmp loader", lambda: loader("/tmp/evil.so"))
for p in (home + "/evil.so", "/tmp/evil.so"):
    fd = os.open(p, os.O_RDONLY)
    try:
        mmap.mmap(fd, 4096, prot=mmap.PROT_READ | mmap.PROT_EXEC)
        print("exec map", p.startswith("/tmp") and "tmp" or "home", "MAPPED")
    except OSError as e:
        print("exec map", p.startswith("/tmp") and "tmp" or "home", errno.errorcode.get(e.errno))
noexec = {l.split()[4]: "noexec" in l.split()[5].split(",") for l in open("/proc/self/mountinfo")}
print("noexec", noexec.get(home), noexec.get("/tmp"))
print("ran", os.path.exists("/tmp/EVIL_RAN"))'
assert_rc 0 "evil.so"
assert_eq "$OUT" "$(printf 'import sandbox\nloader sandbox\ncreate_dynamic sandbox\ntmp loader sandbox\nexec map home EPERM\nexec map tmp EPERM\nnoexec True True\nran False')" \
	"evil.so: refused by import, ExtensionFileLoader, _imp.create_dynamic, from /tmp too; home and /tmp are noexec (PROT_EXEC mmap: EPERM)"
assert_not_contains "$ERR" "EVIL NATIVE CODE RAN" "evil.so: its constructor never ran"

# 5. Native code through memfd_create and the loader on /proc/self/fd/N: memfd_create is EPERM,
#    and an O_TMPFILE in /tmp gives a noexec file.
py 'import os, errno, mmap
try:
    fd = os.memfd_create("x")
    print("MEMFD", fd)
except OSError as e:
    print("memfd_create:", errno.errorcode.get(e.errno))
try:
    fd = os.open("/tmp", os.O_TMPFILE | os.O_RDWR, 0o700)
    os.write(fd, open(os.environ["HOME"] + "/evil.so", "rb").read())
    mmap.mmap(fd, 4096, prot=mmap.PROT_READ | mmap.PROT_EXEC)
    print("TMPFILE MAPPED")
except OSError as e:
    print("tmpfile exec map:", errno.errorcode.get(e.errno))'
assert_rc 0 "memfd_create"
assert_eq "$OUT" "$(printf 'memfd_create: EPERM\ntmpfile exec map: EPERM')" \
	"memfd_create + loader: memfd_create is EPERM; an anonymous /tmp file cannot be mapped executable"

# 6. ExtensionFileLoader("innocent._ctypes", path): the init symbol comes from the last
#    component. The hook refuses it by name; under another name the hook lets the system path
#    through and the jail's _ctypes (a /dev/null bind) cannot be loaded.
py 'import glob, importlib.machinery, importlib.util
dyn = glob.glob("/usr/lib/python3.11/lib-dynload/_ctypes.cpython-311*.so")[0]
for name in ("innocent._ctypes", "a.b._ctypes", "_ctypes", "innocent"):
    l = importlib.machinery.ExtensionFileLoader(name, dyn)
    try:
        m = l.create_module(importlib.util.spec_from_loader(name, l))
        print(name, "LOADED", m)
    except PermissionError as e:
        print(name, "sandbox" if "[sandbox]" in str(e) else "EACCES")
    except ImportError as e:
        print(name, "ImportError")
try:
    import ctypes
    print("CTYPES")
except (PermissionError, ImportError) as e:
    print("ctypes", type(e).__name__)'
assert_rc 0 "ExtensionFileLoader trick"
assert_eq "$(echo "$OUT" | head -3 | tr '\n' ' ')" "innocent._ctypes sandbox a.b._ctypes sandbox _ctypes sandbox " \
	"ExtensionFileLoader('innocent._ctypes', path): refused by the last component"
assert_match "$(echo "$OUT" | sed -n 4p)" "^innocent (ImportError|EACCES)$" \
	"ExtensionFileLoader('innocent', _ctypes path): the jail has no loadable _ctypes"
assert_not_contains "$OUT" "LOADED" "ExtensionFileLoader trick: nothing loaded"
assert_eq "$(echo "$OUT" | tail -1)" "ctypes PermissionError" "ctypes stays unavailable afterwards"

# 7. Crafted bytecode through importlib._bootstrap_external._compile_bytecode: it runs (the
#    facts say: assume it does), and it is still confined by the hook and the jail.
py 'import importlib._bootstrap_external as be, marshal
src = """
import os, errno, socket, _imp, importlib.machinery
print("crafted code ran")
for what, f in (("socket", lambda: socket.socket()), ("system", lambda: os.system("id")),
                ("fork", lambda: os.fork()), ("write", lambda: open("/etc/x", "w"))):
    try:
        f()
        print(what, "ALLOWED")
    except PermissionError as e:
        print(what, "sandbox" if "[sandbox]" in str(e) else "EPERM")
m = _imp.create_builtin(importlib.machinery.ModuleSpec("_posixsubprocess", None, origin="built-in"))
r, w = os.pipe()
try:
    m.fork_exec([b"/usr/bin/id"], [b"/usr/bin/id"], True, (w,), None, None, -1, -1, -1, -1,
                -1, -1, r, w, True, False, -1, None, None, None, -1, None, True)
    print("exec SPAWNED")
except OSError as e:
    print("exec", errno.errorcode.get(e.errno))
d = os.open("/etc", os.O_RDONLY | os.O_DIRECTORY)
try:
    os.open("x", os.O_WRONLY | os.O_CREAT, dir_fd=d)
    print("dirfd WROTE")
except OSError as e:
    print("dirfd", "EROFS/EPERM" if e.errno in (errno.EROFS, errno.EPERM) else errno.errorcode.get(e.errno))
"""
exec(be._compile_bytecode(marshal.dumps(compile(src, "crafted", "exec"))))'
assert_rc 0 "crafted bytecode"
assert_eq "$OUT" "$(printf 'crafted code ran\nsocket sandbox\nsystem sandbox\nfork sandbox\nwrite sandbox\nexec EPERM\ndirfd EROFS/EPERM')" \
	"crafted bytecode runs but stays confined: sockets, processes, exec and writes outside all fail"
R=$("$PY" "$top_srcdir/tests/e2e/runner/audit_reports.py" "$T/audit.jsonl" "$U" "$PY_CMD" marshal.loads log)
assert_eq "${R%% *}" ok "crafted bytecode: the unmarshalling outside the importer is noted on the audit trail ($R)"

# 8. Forging a code object's filename (modulefinder replace_paths) to look like the stdlib.
py 'import modulefinder, types
def f():
    return 1
mf = modulefinder.ModuleFinder(replace_paths=[(f.__code__.co_filename, types.__file__)])
try:
    mf.replace_paths_in_code(f.__code__)
    print("FORGED")
except PermissionError as e:
    print("refused", "[sandbox]" in str(e))'
assert_eq "$OUT" "refused True" "forging co_filename with modulefinder is refused"

e2e_done
