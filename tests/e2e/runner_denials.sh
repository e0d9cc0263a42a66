#!/bin/bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# Every category the runner denies, tried in the real jail through the real server: the program
# gets PermissionError("[sandbox] <sentence> (<event>)"), catches it and goes on, and the denial
# reaches the audit trail as a runner-report record of that user and session, marked untrusted.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/runner/helpers.sh"
e2e_init
make_user
start_server AuditFile "$T/audit.jsonl" AuditJournal no
H=$(user_home "$U")
CTL=$top_builddir/sandboxctl
[ -x "$CTL" ] || die "no sandboxctl at $CTL"

MSG_PROCESS="starting other programs or processes is not allowed in this sandbox"
MSG_SOCKET="only local (AF_UNIX) sockets are allowed in this sandbox, there is no network"
MSG_NETWORK="network access is not allowed in this sandbox"
MSG_LOOKUP="there is no network in this sandbox, so names cannot be looked up"
MSG_NATIVE="ctypes and other ways of loading native code are not allowed in this sandbox"
MSG_MODULE="this module is not available in this sandbox"
MSG_WRITE="writing outside your home folder and /tmp is not allowed"
MSG_PROC_MEM="reading or writing a process's memory through /proc is not allowed"
MSG_PYC="compiled Python files (.pyc) are only loaded from the system's Python; run the .py source"
MSG_GC="walking all of the interpreter's objects is not allowed in this sandbox"
MSG_TIOCSTI="typing into the terminal on someone else's behalf is not allowed"
MSG_SQLITE_EXT="loading SQLite extensions is not allowed in this sandbox"
MSG_CODE="building code objects by hand is not allowed in this sandbox"

# denied NAME EVENT MESSAGE CODE: CODE (one or more lines) runs inside try/except
# PermissionError; the program then does something ordinary. Checks the message, that the
# program went on and exited 0, and the audit record of that session.
denied() {
	local name=$1 event=$2 msg=$3 code=$4 r
	py "import os, sys
try:
$(printf '%s\n' "$code" | sed 's/^/    /')
    print('NOT DENIED')
except PermissionError as e:
    print('DENIED', e)
open('after.txt', 'w').write('x')
print('continued', sum(range(5)), open('after.txt').read())"
	assert_eq "$OUT" "$(printf 'DENIED [sandbox] %s (%s)\ncontinued 10 x' "$msg" "$event")" \
		"$name: PermissionError with its message, the program continues"
	assert_rc 0 "$name"
	r=$("$PY" "$top_srcdir/tests/e2e/runner/audit_reports.py" "$T/audit.jsonl" "$U" "$PY_CMD" "$event")
	assert_eq "${r%% *}" ok "$name: runner-report on the audit trail for $U's session ($r)"
	[ "${r%% *}" = ok ] && assert_eq "${r#ok * }" "$msg" "$name: the report carries the message"
}

# Network: every socket but AF_UNIX, every name lookup, the client libraries.
denied "network: socket.socket()" socket.__new__ "$MSG_SOCKET" 'import socket
socket.socket()'
denied "network: UDP over IPv6" socket.__new__ "$MSG_SOCKET" 'import socket
socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)'
denied "network: urllib.request.urlopen" urllib.Request "$MSG_NETWORK" 'import urllib.request
urllib.request.urlopen("http://192.0.2.1/")'
denied "name lookup: getaddrinfo" socket.getaddrinfo "$MSG_LOOKUP" 'import socket
socket.getaddrinfo("example.org", 80)'
denied "name lookup: gethostbyname" socket.gethostbyname "$MSG_LOOKUP" 'import socket
socket.gethostbyname("localhost")'
py 'import socket, os
a, b = socket.socketpair()
a.sendall(b"ping")
s = socket.socket(socket.AF_UNIX)
s.bind(os.path.join(os.environ["HOME"], "sock"))
print(b.recv(4))'
assert_eq "$OUT" "b'ping'" "network: AF_UNIX sockets still work"

# Processes of every kind.
denied "process: subprocess.run" subprocess.Popen "$MSG_PROCESS" 'import subprocess
subprocess.run(["id"])'
denied "process: os.system" os.system "$MSG_PROCESS" 'os.system("id")'
denied "process: os.fork" os.fork "$MSG_PROCESS" 'os.fork()'
denied "process: os.execv" os.exec "$MSG_PROCESS" 'os.execv("/usr/bin/python3.11", ["python3"])'
denied "process: os.posix_spawn" os.posix_spawn "$MSG_PROCESS" \
	'os.posix_spawn("/usr/bin/python3.11", ["python3"], {})'
denied "process: multiprocessing" os.fork "$MSG_PROCESS" 'import multiprocessing as mp
p = mp.get_context("fork").Process(target=print)
p.start()'

# Native code: ctypes is refused, and its extension is not even in the jail.
denied "native: import ctypes" import "$MSG_NATIVE" 'import ctypes'
denied "native: import _testcapi" import "$MSG_MODULE" 'import _testcapi'
denied "native: sqlite3 extension loading" sqlite3.enable_load_extension "$MSG_SQLITE_EXT" \
	'import sqlite3
sqlite3.connect(":memory:").enable_load_extension(True)'
py 'import glob, os, stat
names = glob.glob("/usr/lib/python3.11/lib-dynload/*.so")
bad = [p for p in names if p.rsplit("/", 1)[1].startswith(("_ctypes", "_test", "_xxsubinterpreters", "_xxtestfuzz"))]
def head(p):
    try:
        return open(p, "rb").read(4)
    except OSError:
        return b"unreadable"
elf = [p for p in bad if head(p) == b"\x7fELF"]
print(len(names) > 10, open(glob.glob("/usr/lib/python3.11/lib-dynload/_bz2*.so")[0], "rb").read(4),
      any("_ctypes." in p for p in bad), all(stat.S_ISCHR(os.stat(p).st_mode) for p in bad), elf)'
assert_eq "$OUT" "True b'\x7fELF' True True []" \
	"native: _ctypes/_test*/_xxsubinterpreters in the jail's lib-dynload are devices (/dev/null), not ELF (others are)"

# Writes outside the home and /tmp (plain, os.open, through a symlink in the home, mkdir,
# remove); the home and /tmp stay writable.
denied "write: open /etc for writing" open "$MSG_WRITE" 'open("/etc/sbx-e2e", "w")'
denied "write: append to the stdlib" open "$MSG_WRITE" 'open("/usr/lib/python3.11/os.py", "a")'
denied "write: os.open O_CREAT in /var" open "$MSG_WRITE" 'os.open("/var/sbx-e2e", os.O_WRONLY | os.O_CREAT)'
denied "write: through a symlink in the home" open "$MSG_WRITE" 'if not os.path.islink("ln"):
    os.symlink("/etc/hostname", "ln")
open("ln", "w")'
denied "write: os.mkdir outside" os.mkdir "$MSG_WRITE" 'os.mkdir("/opt/sbx-e2e")'
denied "write: os.remove outside" os.remove "$MSG_WRITE" 'os.remove("/etc/hostname")'
py 'open("/tmp/t", "w").write("t"); os_ok = __import__("os").makedirs("sub/dir", exist_ok=True)
open("sub/dir/f", "w").write("h"); print(open("/tmp/t").read(), open("sub/dir/f").read())'
assert_eq "$OUT" "t h" "write: the home and /tmp stay writable"
assert_eq "$(cat "$H/sub/dir/f" "$H/after.txt" 2>&1)" "hx" "write: the files are in the real home on the host"
assert_eq "$(find /etc/sbx-e2e /var/sbx-e2e /opt/sbx-e2e 2>/dev/null | wc -l)" 0 \
	"write: nothing appeared outside on the host"

# /proc/self/mem, for reading and for writing.
denied "/proc/self/mem: write" open "$MSG_PROC_MEM" 'open("/proc/self/mem", "r+b")'
denied "/proc/<pid>/mem: read" open "$MSG_PROC_MEM" 'open("/proc/%d/mem" % os.getpid(), "rb")'

# An uploaded .pyc (compiled on the host, sent with scp) is not imported.
mkdir -p "$T/pyc"
printf 'print("EVIL BYTECODE RAN")\n' >"$T/pyc/evilmod.py"
"$PY" -c 'import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], doraise=True)' \
	"$T/pyc/evilmod.py" "$T/pyc/evilmod.pyc" || die "py_compile"
upload "$T/pyc/evilmod.pyc" evilmod.pyc
assert_eq "$RC" 0 "uploaded .pyc: sent with scp"
# The import system reads a module without source through a plain open (the "open" event).
denied "uploaded .pyc: import" open "$MSG_PYC" 'import evilmod'
assert_not_contains "$OUT" "EVIL BYTECODE RAN" "uploaded .pyc: its code did not run"

# Walking the interpreter's objects; typing into the terminal; code objects by hand.
denied "gc.get_objects" gc.get_objects "$MSG_GC" 'import gc
gc.get_objects()'
denied "gc.get_referrers" gc.get_referrers "$MSG_GC" 'import gc
gc.get_referrers(os)'
denied "fcntl.ioctl TIOCSTI" fcntl.ioctl "$MSG_TIOCSTI" 'import fcntl, termios
fcntl.ioctl(0, termios.TIOCSTI, b"x")'
denied "code.replace" code.__new__ "$MSG_CODE" '(lambda: 0).__code__.replace(co_consts=(1,))'

# Several denials in one program: each is caught, the program runs to its end.
py 'import os, socket, gc
n = 0
for f in (lambda: socket.socket(), lambda: os.system("id"), lambda: gc.get_objects(),
          lambda: open("/etc/x", "w"), lambda: __import__("ctypes")):
    try:
        f()
    except PermissionError as e:
        n += str(e).startswith("[sandbox] ")
print("denied", n, "and finished")'
assert_eq "$OUT" "denied 5 and finished" "five denials in one program, each caught, the program finishes"

# sandboxctl reads the same records back.
"$CTL" audit --file "$T/audit.jsonl" --event runner-report --user "$U" --json >"$T/ctl.out" 2>"$T/ctl.err"
CTL_RC=$?
assert_eq "$CTL_RC" 0 "sandboxctl audit --event runner-report: exit status"
N=$(grep -c . "$T/ctl.out")
if [ "$N" -ge 30 ]; then ok "sandboxctl audit lists the runner reports ($N)"; else fail "sandboxctl audit lists only $N runner reports: $(head -c 300 "$T/ctl.err")"; fi
assert_eq "$("$PY" -c 'import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(all(r["event"] == "runner-report" and r["fields"]["SANDBOX_USER"] == sys.argv[2] and
          r["fields"]["SANDBOX_UNTRUSTED"] == "1" for r in recs),
      any(json.loads(r["fields"]["SANDBOX_REPORT"])["event"] == "gc.get_objects" for r in recs))' "$T/ctl.out" "$U" 2>&1)" \
	"True True" "sandboxctl: every record is a runner-report of $U marked untrusted, gc.get_objects among them"
"$CTL" audit --verify --file "$T/audit.jsonl" >/dev/null 2>&1
assert_eq "$?" 0 "the audit file's hash chain verifies"

e2e_done
