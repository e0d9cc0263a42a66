"""Tests of sandbox-python run directly (outside a jail). Usage: driver.py GROUP
(programs, denials, bypasses, cli, repl). The jail itself is tested elsewhere; here the runner's
own layers are: the audit hook, the open-code hook, its seccomp filter and the audit channel."""
import errno
import glob
import os
import pty
import py_compile
import select
import shutil
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runnerlib import Env, check, finish, RUNNER  # noqa: E402

DENY_WRAPPER = """\
import os, sys
OUT = os.environ["SANDBOX_OUTSIDE"]
HOME = os.environ["HOME"]
try:
{body}
    print("NOT DENIED")
except PermissionError as e:
    print("denied:", e)
print("continued")
"""


def indent(code):
    return "\n".join("    " + line for line in code.strip().splitlines())


def expect_denied(env, name, body, event, extra_env=None, args=()):
    rc, out, err, recs = env.py(DENY_WRAPPER.format(body=indent(body)), *args,
                                extra_env=extra_env)
    ok = (rc == 0 and "denied: [sandbox] " in out and f"({event})" in out
          and "continued" in out and "NOT DENIED" not in out)
    check(f"{name}: PermissionError [sandbox] ... ({event}), program continues", ok,
          f"rc={rc}\nstdout={out}\nstderr={err}")
    rec = [r for r in recs if r.get("event") == event and r.get("action") == "deny"]
    check(f"{name}: audit line on fd 3", bool(rec), f"records={recs}")
    return out, recs


def programs():
    env = Env()
    try:
        rc, out, err, _ = env.py("""
            import threading, concurrent.futures
            results = []
            lock = threading.Lock()
            def work(i):
                s = sum(range(i * 1000))
                with lock:
                    results.append(s)
            ts = [threading.Thread(target=work, args=(i,)) for i in range(8)]
            [t.start() for t in ts]; [t.join() for t in ts]
            with concurrent.futures.ThreadPoolExecutor(4) as ex:
                print("pool", sum(ex.map(lambda x: x * x, range(100))))
            print("threads", len(results))
        """)
        check("threads and a thread pool", rc == 0 and "threads 8" in out and "pool 328350" in out,
              out + err)

        rc, out, err, _ = env.py("""
            import asyncio
            async def job(i):
                await asyncio.sleep(0.01)
                return i * 2
            async def main():
                q = asyncio.Queue()
                await q.put(1)
                r = await asyncio.gather(*(job(i) for i in range(10)))
                return sum(r) + await q.get()
            print("asyncio", asyncio.run(main()))
        """)
        check("asyncio (types.coroutine's code.replace is trusted)", rc == 0 and "asyncio 91" in out,
              out + err)

        rc, out, err, _ = env.py("""
            import sqlite3, os
            con = sqlite3.connect(os.path.join(os.environ["HOME"], "grades.db"))
            con.execute("create table g (name text, score int)")
            con.executemany("insert into g values (?, ?)", [("a", 1), ("b", 2)])
            con.commit()
            print("sqlite", con.execute("select sum(score) from g").fetchone()[0])
            mem = sqlite3.connect(":memory:")
            print("memory", mem.execute("select 40 + 2").fetchone()[0])
        """)
        check("sqlite3 on a file in HOME and in memory",
              rc == 0 and "sqlite 3" in out and "memory 42" in out and
              os.path.exists(os.path.join(env.home, "grades.db")), out + err)

        rc, out, err, _ = env.py("""
            import json, csv, io, os, tempfile, re, decimal, fractions, statistics, datetime
            import collections, dataclasses, random, itertools, functools, pathlib
            d = {"a": [1, 2, {"b": None}]}
            assert json.loads(json.dumps(d)) == d
            p = pathlib.Path(os.environ["HOME"]) / "t.csv"
            with open(p, "w", newline="") as f:
                csv.writer(f).writerows([["x", "y"], [1, 2]])
            with open(p, newline="") as f:
                rows = list(csv.reader(f))
            with tempfile.NamedTemporaryFile("w", dir="/tmp") as t:
                t.write("x")
            with open(os.devnull, "w") as n:
                n.write("x")
            @dataclasses.dataclass
            class P:
                x: int
            print("stdlib", rows, P(3), statistics.mean([1, 2, 3]),
                  decimal.Decimal("1.1") + 1, fractions.Fraction(1, 3))
        """)
        check("json/csv/tempfile in /tmp/dataclasses and friends",
              rc == 0 and "stdlib [['x', 'y'], ['1', '2']] P(x=3) 2 2.1 1/3" in out, out + err)

        env.write("hw/test_calc.py", """
            import unittest
            from calc import add
            class T(unittest.TestCase):
                def test_add(self):
                    self.assertEqual(add(2, 3), 5)
                def test_fail(self):
                    self.assertEqual(add(2, 2), 4)
            if __name__ == "__main__":
                unittest.main()
        """)
        env.write("hw/calc.py", "def add(a, b):\n    return a + b\n")
        rc, out, err, _ = env.run(["--", "run", "hw/test_calc.py", "-v"])
        check("unittest, importing a neighbour module", rc == 0 and "OK" in err, out + err)

        env.write("proj/main.py", """
            import sys
            from shapes import area
            from shapes.circle import Circle
            import util
            print("package", area(Circle(1)), util.twice(sys.argv[1:]))
        """)
        env.write("proj/shapes/__init__.py", "def area(s):\n    return s.area()\n")
        env.write("proj/shapes/circle.py",
                  "class Circle:\n    def __init__(self, r):\n        self.r = r\n"
                  "    def area(self):\n        return 3 * self.r * self.r\n")
        env.write("proj/util.py", "def twice(x):\n    return x * 2\n")
        rc, out, err, _ = env.run(["--", "run", os.path.join(env.home, "proj/main.py"), "3", "4"],
                                  cwd="/")
        check("a package of several modules from the script's folder (cwd elsewhere)",
              rc == 0 and "package 3 ['3', '4', '3', '4']" in out, out + err)
        check("no bytecode written next to the sources",
              not glob.glob(os.path.join(env.home, "proj", "**", "__pycache__"), recursive=True))

        rc, out, err, _ = env.py("""
            name = input("name? ")
            total = sum(int(line) for line in __import__("sys").stdin)
            print("hello", name, total)
        """, stdin=b"Ada\n1\n2\n3\n")
        check("reading input from stdin", rc == 0 and "hello Ada 6" in out, out + err)

        rc, out, err, _ = env.py("""
            import sys
            line = "x" * 1023 + "\\n"
            for _ in range(10 * 1024):
                sys.stdout.write(line)
            print("to stderr", file=sys.stderr)
        """)
        check("10 MB of output, stderr separate",
              rc == 0 and len(out) == 10 * 1024 * 1024 and err.strip() == "to stderr",
              f"len={len(out)} err={err[:300]}")

        rc, out, err, _ = env.py("""
            import os
            os.makedirs("sub/dir", exist_ok=True)
            with open("sub/dir/f.txt", "w") as f:
                f.write("data")
            os.rename("sub/dir/f.txt", "sub/g.txt")
            os.symlink("g.txt", "sub/link")
            with open("sub/link", "a") as f:
                f.write("!")
            os.chmod("sub/g.txt", 0o600)
            os.remove("sub/link")
            import shutil
            shutil.copy("sub/g.txt", "/tmp/")
            shutil.rmtree("sub")
            os.remove("/tmp/g.txt")
            print("files ok")
        """)
        check("writes, renames, symlinks, rmtree inside HOME and /tmp", rc == 0 and "files ok" in out,
              out + err)
    finally:
        env.close()


def denials():
    env = Env()
    try:
        o = env.outside
        with open(os.path.join(o, "victim"), "w") as f:
            f.write("keep")
        os.mkdir(os.path.join(o, "victimdir"))
        with open(os.path.join(env.home, "mine"), "w") as f:
            f.write("mine")

        # Process creation of every kind.
        for name, body, ev in [
            ("os.system", 'os.system("true")', "os.system"),
            ("os.execv", 'os.execv("/bin/true", ["true"])', "os.exec"),
            ("os.posix_spawn", 'os.posix_spawn("/bin/true", ["true"], {})', "os.posix_spawn"),
            ("os.fork", "os.fork()", "os.fork"),
            ("os.forkpty", "os.forkpty()", "os.forkpty"),
            ("os.spawnv", 'os.spawnv(os.P_WAIT, "/bin/true", ["true"])', "os.fork"),
            ("subprocess.run", 'import subprocess\nsubprocess.run(["true"])', "subprocess.Popen"),
            ("pty.spawn", 'import pty\npty.spawn("true")', "pty.spawn"),
            ("multiprocessing", "import multiprocessing as m\n"
             "p = m.Process(target=print)\np.start()", "os.fork"),
        ]:
            expect_denied(env, f"process: {name}", body, ev)

        # Network: non-AF_UNIX sockets and every name lookup.
        for name, body, ev in [
            ("socket() AF_INET", "import socket\nsocket.socket()", "socket.__new__"),
            ("socket AF_INET6 UDP",
             "import socket\nsocket.socket(socket.AF_INET6, socket.SOCK_DGRAM)", "socket.__new__"),
            ("getaddrinfo", 'import socket\nsocket.getaddrinfo("localhost", 80)',
             "socket.getaddrinfo"),
            ("gethostbyname", 'import socket\nsocket.gethostbyname("localhost")',
             "socket.gethostbyname"),
            ("gethostbyaddr", 'import socket\nsocket.gethostbyaddr("127.0.0.1")',
             "socket.gethostbyaddr"),
            ("getnameinfo", 'import socket\nsocket.getnameinfo(("127.0.0.1", 80), 0)',
             "socket.getnameinfo"),
            ("urlopen", 'import urllib.request\nurllib.request.urlopen("http://192.0.2.1/")',
             "urllib.Request"),
            ("http.client", 'import http.client\nhttp.client.HTTPConnection("192.0.2.1").connect()',
             "http.client.connect"),
        ]:
            expect_denied(env, f"network: {name}", body, ev)
        rc, out, err, _ = env.py("""
            import socket, os
            a, b = socket.socketpair()
            a.sendall(b"ping"); print("unix", b.recv(4))
            s = socket.socket(socket.AF_UNIX)
            s.bind(os.path.join(os.environ["HOME"], "sock")); s.listen()
            print("bound")
        """)
        check("AF_UNIX sockets still work (socketpair, bind in HOME)",
              rc == 0 and "unix b'ping'" in out and "bound" in out, out + err)

        # Native code loaders.
        dyn = glob.glob("/usr/lib/python3.11/lib-dynload/_ctypes.cpython-311*.so")[0]
        bz2 = glob.glob("/usr/lib/python3.11/lib-dynload/_bz2.cpython-311*.so")[0]
        os.mkdir(os.path.join(env.home, "ext"))
        shutil.copy(bz2, os.path.join(env.home, "ext", os.path.basename(bz2)))
        for name, body, ev in [
            ("import ctypes", "import ctypes", "import"),
            ("import _ctypes", "import _ctypes", "import"),
            ("import _testcapi", "import _testcapi", "import"),
            ("import _xxsubinterpreters", "import _xxsubinterpreters", "import"),
            ("ExtensionFileLoader('innocent._ctypes')",
             "import importlib.machinery, importlib.util\n"
             f"l = importlib.machinery.ExtensionFileLoader('innocent._ctypes', {dyn!r})\n"
             "s = importlib.util.spec_from_file_location('innocent._ctypes', "
             f"{dyn!r}, loader=l)\nl.create_module(s)", "import"),
            ("an extension module uploaded to HOME",
             "sys.path.insert(0, HOME + '/ext')\nimport _bz2", "import"),
            ("sqlite3.enable_load_extension",
             'import sqlite3\nsqlite3.connect(":memory:").enable_load_extension(True)',
             "sqlite3.enable_load_extension"),
            ("sqlite3.load_extension",
             'import sqlite3\nsqlite3.connect(":memory:").load_extension("x")',
             "sqlite3.load_extension"),
        ]:
            expect_denied(env, f"native: {name}", body, ev)

        # Writes outside the home and /tmp.
        rel = os.path.relpath(o, env.home)
        for name, body, ev in [
            ("open(w)", 'open(OUT + "/new", "w")', "open"),
            ("open(a) existing file", 'open(OUT + "/victim", "a")', "open"),
            ("os.open O_WRONLY|O_CREAT", 'os.open(OUT + "/new", os.O_WRONLY | os.O_CREAT)', "open"),
            ("relative path with ..", f'open("{rel}/new", "w")', "open"),
            ("pathlib write_text", 'import pathlib\npathlib.Path(OUT, "new").write_text("x")',
             "open"),
            ("symlink in HOME to outside",
             'os.symlink(OUT + "/victim", HOME + "/ln")\nopen(HOME + "/ln", "w")', "open"),
            ("dangling symlink in HOME to outside",
             'os.symlink(OUT + "/created", HOME + "/dl")\nopen(HOME + "/dl", "w")', "open"),
            ("symlinked folder in HOME",
             'os.symlink(OUT, HOME + "/dirlink")\nopen(HOME + "/dirlink/new", "w")', "open"),
            ("os.rename to outside", 'os.rename(HOME + "/mine", OUT + "/mine")', "os.rename"),
            ("os.remove", 'os.remove(OUT + "/victim")', "os.remove"),
            ("os.remove with dir_fd",
             'fd = os.open(OUT, os.O_RDONLY | os.O_DIRECTORY)\nos.remove("victim", dir_fd=fd)',
             "os.remove"),
            ("os.mkdir", 'os.mkdir(OUT + "/d")', "os.mkdir"),
            ("os.rmdir", 'os.rmdir(OUT + "/victimdir")', "os.rmdir"),
            ("os.chmod", 'os.chmod(OUT + "/victim", 0o777)', "os.chmod"),
            ("os.truncate", 'os.truncate(OUT + "/victim", 0)', "os.truncate"),
            ("os.symlink placed outside", 'os.symlink("x", OUT + "/sl")', "os.symlink"),
            ("os.link of an outside file into HOME",
             'os.link(OUT + "/victim", HOME + "/hard")', "os.link"),
            ("shutil.copy", 'import shutil\nshutil.copy(HOME + "/mine", OUT)', "shutil.copyfile"),
            ("shutil.rmtree", 'import shutil\nshutil.rmtree(OUT + "/victimdir")', "shutil.rmtree"),
            ("sqlite3.connect outside", 'import sqlite3\nsqlite3.connect(OUT + "/x.db")',
             "sqlite3.connect"),
            ("/proc/self/mem read", 'open("/proc/self/mem", "rb")', "open"),
            ("/proc/<pid>/mem write", 'open("/proc/%d/mem" % os.getpid(), "r+b")', "open"),
        ]:
            expect_denied(env, f"write: {name}", body, ev)
        for n in ("new", "mine", "d", "sl", "x.db", "created"):
            check(f"write: nothing named {n!r} appeared outside",
                  not os.path.lexists(os.path.join(o, n)))
        with open(os.path.join(o, "victim")) as f:
            check("write: the outside file is unchanged", f.read() == "keep")
        check("write: the outside folder is still there", os.path.isdir(os.path.join(o, "victimdir")))

        # Uploaded bytecode and other open_code reads.
        src = env.write("evil_src.py", 'print("EVIL BYTECODE RAN")\n')
        py_compile.compile(src, cfile=os.path.join(env.home, "evilmod.pyc"), doraise=True)
        os.remove(src)
        # Sourceless modules are read with a plain open (the "open" event), not io.open_code.
        expect_denied(env, "uploaded .pyc", "import evilmod", "open")
        src = env.write("evil_src2.py", 'print("EVIL BYTECODE RAN")\n')
        py_compile.compile(src, cfile=os.path.join(env.home, "evil.dat"), doraise=True)
        os.remove(src)
        expect_denied(env, "uploaded bytecode under another name",
                      "import importlib.machinery as m\n"
                      "m.SourcelessFileLoader('evil', HOME + '/evil.dat').load_module()", "open")
        rc, out, err, _ = env.py("import os\n"
                                 "path = os.environ['HOME'] + '/evilmod.pyc'\n"
                                 "print(len(open(path, 'rb').read()) > 0)")
        check("a .pyc can still be read as data", rc == 0 and "True" in out, out + err)
        env.write("data.txt", "print('not python source')\n")
        expect_denied(env, "io.open_code of a non-.py file in HOME",
                      'import io\nio.open_code(HOME + "/data.txt")', "open_code")
        # Spelled from inside the stdlib with "..": resolved, not taken for the stdlib.
        expect_denied(env, "io.open_code of a HOME file through /usr/lib/python3.11/..",
                      'import io\nio.open_code("/usr/lib/python3.11/../../.." + HOME + "/data.txt")',
                      "open_code")
        # A stale or forged __pycache__ next to a .py is ignored: the source runs.
        env.write("goodmod.py", 'print("SOURCE RAN")\n')
        forged = env.write("forged.py", 'print("FORGED BYTECODE RAN")\n')
        os.makedirs(os.path.join(env.home, "__pycache__"), exist_ok=True)
        py_compile.compile(forged, doraise=True,
                           cfile=os.path.join(env.home, "__pycache__", "goodmod.cpython-311.pyc"),
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        rc, out, err, _ = env.py("import goodmod\n")
        check("a forged __pycache__ .pyc is refused, the .py source runs instead",
              rc == 0 and "SOURCE RAN" in out and "FORGED" not in out, out + err)

        # Introspection, terminal, code objects.
        for name, body, ev in [
            ("gc.get_objects", "import gc\ngc.get_objects()", "gc.get_objects"),
            ("gc.get_referrers", "import gc\ngc.get_referrers(os)", "gc.get_referrers"),
            ("gc.get_referents", "import gc\ngc.get_referents(os)", "gc.get_referents"),
            ("TIOCSTI", 'import fcntl, termios\nfcntl.ioctl(0, termios.TIOCSTI, b"x")',
             "fcntl.ioctl"),
            ("code.replace", "(lambda: 0).__code__.replace(co_consts=(1,))", "code.__new__"),
            ("types.CodeType", "import types\nc = (lambda: 0).__code__\n"
             "types.CodeType(c.co_argcount, 0, 0, 0, 0, 0, b'', (), (), (), 'x', 'x', 'x', 1,"
             " b'', b'')", "code.__new__"),
        ]:
            expect_denied(env, f"other: {name}", body, ev)

        # Allowed but noted.
        rc, out, err, recs = env.py("""
            import sys, marshal, socket
            sys.addaudithook(lambda ev, args: None)
            print("hook added", marshal.loads(marshal.dumps(7)))
            try:
                socket.socket()
            except PermissionError:
                print("still denied after a Python hook")
        """)
        evs = {(r["event"], r["action"]) for r in recs}
        check("sys.addaudithook is allowed and noted; our hook stays",
              rc == 0 and "hook added 7" in out and "still denied" in out and
              ("sys.addaudithook", "log") in evs, f"{out}{err}{recs}")
        check("marshal.loads outside the importer is logged, not refused",
              ("marshal.loads", "log") in evs, recs)
        check("ordinary imports log nothing", all(r["event"] != "marshal.loads" or
                                                 r["action"] == "log" for r in recs) and
              sum(1 for r in recs if r["event"] == "marshal.loads") == 1, recs)

        # The audit channel: format, rate limit, never blocking, may be absent.
        rc, out, err, recs = env.py("import socket\ntry:\n    socket.socket()\n"
                                    "except PermissionError:\n    pass\nprint('done')\n")
        r = recs[0] if recs else {}
        check("audit record format",
              r.get("source") == "sandbox-python" and r.get("trust") == "untrusted" and
              isinstance(r.get("ts"), float) and isinstance(r.get("pid"), int) and
              r.get("event") == "socket.__new__" and r.get("action") == "deny" and
              "network" in r.get("message", "") and r.get("detail") == "family 2", recs)
        rc, out, err, recs = env.py("""
            import os
            for i in range(2000):
                try:
                    os.system("true")
                except PermissionError:
                    pass
            print("looped")
        """)
        denies = [r for r in recs if r["event"] == "os.system"]
        summ = [r for r in recs if r["event"] == "sandbox.suppressed"]
        check("rate limit: a burst of 50, then a summary line",
              rc == 0 and "looped" in out and 45 <= len(denies) <= 60 and summ and
              sum(s["suppressed"] for s in summ) + len(denies) == 2000,
              f"denies={len(denies)} summaries={summ}")
        rc, out, err, recs = env.py("import os\ntry:\n    os.fork()\nexcept PermissionError as e:\n"
                                    "    print(e)\n", audit=False)
        check("no fd 3: denials still work, events go nowhere",
              rc == 0 and "[sandbox]" in out, out + err)
        # A full pipe that nobody reads must not block the program.
        import fcntl
        rfd, wfd = os.pipe()
        fcntl.fcntl(wfd, 1031, 4096)  # F_SETPIPE_SZ: one page
        prog = env.write("flood.py", """
            import os, time
            for i in range(200):
                try:
                    os.system("x" * 1000)
                except PermissionError:
                    pass
            print("not blocked")
        """)
        import subprocess
        t0 = time.monotonic()
        p = subprocess.run([RUNNER, "--", "run", prog], env=env.environ(), capture_output=True,
                           close_fds=False, timeout=30,
                           preexec_fn=lambda: (os.dup2(wfd, 3), os.set_inheritable(3, True)))
        os.close(wfd)
        os.set_blocking(rfd, False)
        data = b""
        try:
            while True:
                chunk = os.read(rfd, 65536)
                if not chunk:
                    break
                data += chunk
        except BlockingIOError:
            pass
        os.close(rfd)
        import json
        lines = [json.loads(x) for x in data.decode().splitlines()]
        check("a full audit pipe never blocks; lines are whole",
              p.returncode == 0 and b"not blocked" in p.stdout and
              time.monotonic() - t0 < 20 and 0 < len(lines) < 50,
              f"rc={p.returncode} lines={len(lines)} {p.stderr[-300:]}")
    finally:
        env.close()


def bypasses():
    env = Env()
    try:
        o = env.outside
        # python-layer-facts.md, row by row, at the runner level.
        rc, out, err, _ = env.py("""
            import _imp, importlib.machinery, os, errno
            spec = importlib.machinery.ModuleSpec("_posixsubprocess", None, origin="built-in")
            m = _imp.create_builtin(spec)
            r, w = os.pipe()
            try:
                pid = m.fork_exec([b"/bin/true"], [b"/bin/true"], True, (w,), None, None,
                                  -1, -1, -1, -1, -1, -1, r, w, True, False, -1,
                                  None, None, None, -1, None, True)
                print("SPAWNED", pid)
            except OSError as e:
                print("fork_exec:", errno.errorcode.get(e.errno))
            import _posixsubprocess
            try:
                _posixsubprocess.fork_exec([b"/bin/true"], [b"/bin/true"], True, (w,), None,
                                  None, -1, -1, -1, -1, -1, -1, r, w, True, False, -1,
                                  None, None, None, -1, None, False)
                print("SPAWNED")
            except OSError as e:
                print("fork_exec (fork):", errno.errorcode.get(e.errno))
            import socket
            try:
                socket.socket()
            except PermissionError:
                print("continued")
        """)
        check("fork_exec via _imp.create_builtin: EPERM from the runner's seccomp",
              rc == 0 and "fork_exec: EPERM" in out and "fork_exec (fork): EPERM" in out and
              "SPAWNED" not in out and "continued" in out, out + err)

        rc, out, err, _ = env.py("""
            import os, errno
            try:
                os.memfd_create("x")
                print("MEMFD")
            except OSError as e:
                print("memfd_create:", errno.errorcode.get(e.errno))
        """)
        check("memfd_create: EPERM", rc == 0 and "memfd_create: EPERM" in out, out + err)

        rc, out, err, _ = env.py("""
            import os, errno, socket
            d = os.open("/proc/self", os.O_RDONLY | os.O_DIRECTORY)
            try:
                fd = os.open("mem", os.O_RDWR, dir_fd=d)
                print("MEM OPENED")
            except OSError as e:
                print("mem via dir_fd:", errno.errorcode.get(e.errno))
            try:
                socket.socket()
                print("HOOKS GONE")
            except PermissionError:
                print("hook still there")
        """)
        check("/proc/self/mem write via dir_fd: EPERM (seccomp), the hook stays",
              rc == 0 and "mem via dir_fd: EPERM" in out and "hook still there" in out, out + err)

        rc, out, err, _ = env.py(f"""
            import os, errno
            d = os.open({o!r}, os.O_RDONLY | os.O_DIRECTORY)
            for flags in (os.O_WRONLY | os.O_CREAT, os.O_RDWR | os.O_CREAT, os.O_WRONLY | os.O_TRUNC):
                try:
                    os.open("viafd", flags, 0o644, dir_fd=d)
                    print("WROTE")
                except OSError as e:
                    print("dir_fd write:", errno.errorcode.get(e.errno))
            h = os.open(os.environ["HOME"], os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.open("inhome", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=h)
            except OSError as e:
                print("dir_fd write in home:", errno.errorcode.get(e.errno))
            open(os.path.join(os.environ["HOME"], "r.txt"), "w").write("r")
            fd = os.open("r.txt", os.O_RDONLY, dir_fd=h)
            print("dir_fd read:", os.read(fd, 1))
        """)
        check("write outside HOME via dir_fd: EPERM (seccomp); reads via dir_fd work",
              rc == 0 and out.count("dir_fd write: EPERM") == 3 and "WROTE" not in out and
              "dir_fd read: b'r'" in out and not os.path.exists(os.path.join(o, "viafd")),
              out + err)

        dyn = glob.glob("/usr/lib/python3.11/lib-dynload/_ctypes.cpython-311*.so")[0]
        rc, out, err, _ = env.py(f"""
            import importlib.machinery, importlib.util
            for name in ("innocent._ctypes", "a.b._ctypes", "_ctypes"):
                l = importlib.machinery.ExtensionFileLoader(name, {dyn!r})
                try:
                    l.create_module(importlib.util.spec_from_loader(name, l))
                    print("LOADED", name)
                except PermissionError as e:
                    print("refused", name)
        """)
        check("ExtensionFileLoader last-component trick refused",
              rc == 0 and out.count("refused") == 3 and "LOADED" not in out, out + err)

        rc, out, err, recs = env.py(f"""
            import modulefinder, types
            def f():
                return 1
            mf = modulefinder.ModuleFinder(replace_paths=[(f.__code__.co_filename,
                                                            types.__file__)])
            try:
                mf.replace_paths_in_code(f.__code__)
                print("FORGED")
            except PermissionError as e:
                print("refused", e)
        """)
        check("forging co_filename (modulefinder replace_paths) is refused (code.__new__)",
              rc == 0 and "refused [sandbox]" in out and "FORGED" not in out, out + err)

        rc, out, err, recs = env.py("""
            import importlib._bootstrap_external as be, importlib.util, marshal
            code = compile("import os\\ntry:\\n    os.system('true')\\n"
                           "except PermissionError as e:\\n    print('crafted code ran;', e)",
                           "x", "exec")
            exec(be._compile_bytecode(marshal.dumps(code)))
        """)
        check("crafted bytecode via _compile_bytecode runs (jail contains it) but is still "
              "under the hook, and is noted",
              rc == 0 and "crafted code ran; [sandbox]" in out and
              any(r["event"] == "marshal.loads" and r["action"] == "log" for r in recs),
              f"{out}{err}{recs}")

        # The per-course switch.
        rc, out, err, recs = env.run(["--allow-processes", "--", "python", "-c", """
import os, subprocess, multiprocessing, errno
pid = os.fork()
if pid == 0:
    os._exit(7)
print("child status", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
print(subprocess.run(["/bin/echo", "from a child"], capture_output=True, text=True).stdout.strip())
with multiprocessing.get_context("fork").Pool(2) as p:
    print("pool", sum(p.map(abs, [-1, -2, -3])))
try:
    os.memfd_create("x")
except OSError as e:
    print("memfd:", errno.errorcode[e.errno])
"""])
        check("--allow-processes: fork, subprocess, multiprocessing work; memfd still EPERM",
              rc == 0 and "child status 7" in out and "from a child" in out and "pool 6" in out
              and "memfd: EPERM" in out, out + err)
        check("--allow-processes: process creation is noted on fd 3",
              any(r["event"] == "os.fork" and r["action"] == "log" for r in recs), recs)
        rc, out, err, _ = env.run(["--", "--allow-processes", "-c", "print(1)"])
        check("a student cannot pass --allow-processes (after --)", rc != 0 and "1" not in out,
              out + err)
    finally:
        env.close()


def cli():
    env = Env()
    try:
        rc, out, err, _ = env.run(["--", "help"])
        check("help lists the verbs", rc == 0 and all(v in out for v in ("run", "python", "quota")),
              out + err)
        rc, out, err, _ = env.run(["--", "ls", "-l"])
        check("unknown verb: one line on stderr naming the verbs, status 127",
              rc == 127 and out == "" and err.count("\n") == 1 and "'ls'" in err and
              "run, python, python3, quota, help" in err, f"rc={rc} {err}")
        usage = os.path.join(env.outside, "usage")
        with open(usage, "w") as f:
            f.write("cpu: 12 s of 60 s\n")
        rc, out, err, _ = env.run(["--", "quota"], extra_env={
            "SANDBOX_USAGE_FILE": usage, "SANDBOX_DEADLINE": str(int(time.time()) + 600)})
        check("quota: user, limits, time left, usage, home disk",
              rc == 0 and "alice" in out and "memory 512M" in out and "time left:" in out and
              "cpu: 12 s of 60 s" in out and "home disk:" in out, out + err)
        env.write("hw1.py", """
            import sys
            print("args", sys.argv)
            print("path0", sys.path[0])
            sys.exit(int(sys.argv[1]) + int(sys.argv[2]))
        """)
        rc, out, err, _ = env.run(["--", "run", "hw1.py", "3", "4"])
        check("run hw1.py 3 4: argv, script folder first on sys.path, exit status",
              rc == 7 and "args ['hw1.py', '3', '4']" in out and f"path0 {env.home}" in out,
              f"rc={rc} {out}{err}")
        for verb in ("python", "python3"):
            rc, out, err, _ = env.run(["--", verb, "hw1.py", "1", "1"])
            check(f"{verb} hw1.py", rc == 2 and "args" in out, f"rc={rc}")
        rc, out, err, _ = env.run(["--", "python", "-c", "import sys; print(sys.argv); sys.exit(5)",
                                   "a"])
        check("python -c CODE ARGS", rc == 5 and "['-c', 'a']" in out, f"rc={rc} {out}{err}")
        rc, out, err, _ = env.run(["--", "python", "-", "x"],
                                  stdin=b"import sys\nprint('stdin prog', sys.argv)\n")
        check("python - (program from stdin)", rc == 0 and "stdin prog ['-', 'x']" in out,
              out + err)
        rc, out, err, _ = env.run([], stdin=b"print('piped', 6 * 7)\n")
        check("no args, stdin not a tty: stdin is the program, no banner",
              rc == 0 and out == "piped 42\n" and "Welcome" not in err, f"{out!r} {err!r}")
        rc, out, err, _ = env.run(["--login"], stdin=b"raise SystemExit(4)\n")
        check("--login with piped stdin: runs it, status comes back", rc == 4, f"rc={rc} {err}")
        rc, out, err, _ = env.run(["--login", "--", "run", "x.py"])
        check("--login takes no command", rc == 2 and "--login" in err, f"rc={rc} {err}")
        rc, out, err, _ = env.run(["--", "run"])
        check("run without a file: usage, status 2", rc == 2 and "run" in err, f"rc={rc} {err}")
        rc, out, err, _ = env.run(["--", "run", "missing.py"])
        check("run missing.py: Python's message, status 2", rc == 2 and "missing.py" in err,
              f"rc={rc} {err}")
        rc, out, err, _ = env.py("raise ValueError('boom')\n")
        check("uncaught exception: traceback on stderr, status 1",
              rc == 1 and "ValueError: boom" in err and out == "", f"rc={rc} {err}")
        rc, out, err, _ = env.py("import sys\nsys.exit('bye')\n")
        check("sys.exit('msg'): message on stderr, status 1", rc == 1 and "bye" in err, f"rc={rc}")
        rc, out, err, _ = env.py("raise KeyboardInterrupt\n")
        check("uncaught KeyboardInterrupt: dies of SIGINT like python3",
              rc in (-signal.SIGINT, 130), f"rc={rc}")
        rc, out, err, _ = env.run(["-c", "import sys; print(sys.executable)"])
        check("python-style options directly (what sys.executable is run with)",
              rc == 0 and out.strip() == RUNNER, out + err)
        rc, out, err, _ = env.py("""
            import sys, os
            print(sys.flags.isolated, sys.flags.utf8_mode, sys.dont_write_bytecode,
                  sys.flags.no_user_site)
            print(any(os.environ["SANDBOX_OUTSIDE"] in p for p in sys.path))
        """)
        check("isolated, UTF-8 mode, no bytecode, no user site, PYTHONPATH/STARTUP ignored",
              rc == 0 and out.splitlines() == ["1 1 True 1", "False"], out + err)
    finally:
        env.close()


class Pty:
    def __init__(self, env, args, extra_env=None, audit_path=None):
        e = env.environ(dict({"TERM": "xterm", "SANDBOX_DEADLINE": str(int(time.time()) + 3000)},
                             **(extra_env or {})))
        afd = os.open(audit_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND) if audit_path else None
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            try:
                os.chdir(env.home)
                if afd is not None:
                    os.dup2(afd, 3)
                    os.set_inheritable(3, True)
                os.execve(RUNNER, [RUNNER] + args, e)
            finally:
                os._exit(99)
        if afd is not None:
            os.close(afd)
        self.buf = b""

    def send(self, s):
        os.write(self.fd, s.encode())

    def expect(self, pattern, timeout=10):
        end = time.monotonic() + timeout
        pat = pattern.encode()
        while pat not in self.buf:
            left = end - time.monotonic()
            if left <= 0:
                return False
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                try:
                    data = os.read(self.fd, 65536)
                except OSError:
                    return False
                if not data:
                    return False
                self.buf += data
        i = self.buf.index(pat) + len(pat)
        self.seen, self.buf = self.buf[:i], self.buf[i:]
        return True

    def wait(self, timeout=10):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                r, _, _ = select.select([self.fd], [], [], 0.1)
                if r:
                    os.read(self.fd, 65536)
            except OSError:
                pass
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        os.close(self.fd)
        return None


def repl():
    env = Env()
    try:
        audit = os.path.join(env.outside, "audit-pty.jsonl")
        t = Pty(env, ["--login"], audit_path=audit)
        check("login: banner with who, limits, time left",
              t.expect("Welcome, alice") and t.expect("memory 512M") and t.expect("Time left: ") and t.expect(" min"),
              t.buf)
        check("login: the prompt", t.expect(">>> "), t.buf)
        t.send("6*7\r")
        check("an expression", t.expect("42") and t.expect(">>> "), t.buf)
        t.send("import socket; socket.socket()\r")
        check("a denial is a PermissionError at the prompt, which goes on",
              t.expect("PermissionError: [sandbox]") and t.expect(">>> "), t.buf)
        t.send("while True: pass\r\r")
        time.sleep(0.7)
        t.send("\x03")
        check("Ctrl-C: KeyboardInterrupt, back to the prompt",
              t.expect("KeyboardInterrupt") and t.expect(">>> "), t.buf)
        t.send("pri\t")
        ok = t.expect("print(")
        t.send("'tab' + 'ok')\r")
        check("tab completion (pri<TAB> -> print()", ok and t.expect("tabok") and t.expect(">>> "),
              t.buf)
        t.send("help(len)\r")
        check("help() works (tty pager, no `less`)",
              t.expect("Return the number of items") and t.expect(">>> "), t.buf)
        t.send("import os; os.system('ls')\r")
        check("os.system refused at the prompt",
              t.expect("[sandbox] starting other programs") and t.expect(">>> "), t.buf)
        t.send("exit()\r")
        rc = t.wait()
        check("exit() ends the session with status 0", rc == 0, f"rc={rc}")
        hist = os.path.join(env.home, ".python_history")
        text = open(hist).read() if os.path.exists(hist) else ""
        check("history written to $HOME/.python_history", "6*7" in text, text)
        with open(audit) as f:
            recs = f.read()
        check("the prompt's denials reach fd 3", '"event":"socket.__new__"' in recs, recs)

        t = Pty(env, [])
        check("second login: prompt", t.expect(">>> "), t.buf)
        t.send("import readline; print('item', readline.get_history_item(1))\r")
        check("history across two logins", t.expect("item 6*7") and t.expect(">>> "), t.buf)
        t.send("\x04")
        rc = t.wait()
        check("Ctrl-D ends the session with status 0", rc == 0, f"rc={rc}")
    finally:
        env.close()


GROUPS = {"programs": programs, "denials": denials, "bypasses": bypasses, "cli": cli,
          "repl": repl}

if __name__ == "__main__":
    if not os.access(RUNNER, os.X_OK):
        print(f"{RUNNER} is not built")
        sys.exit(99)
    GROUPS[sys.argv[1]]()
    finish()
