"""Helpers for the runner tests: run the built ./sandbox-python directly (outside a jail)
with a temporary HOME, an audit descriptor on fd 3, and check what came back."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap

BUILDDIR = os.environ.get("top_builddir", ".")
RUNNER = os.path.abspath(os.path.join(BUILDDIR, "sandbox-python"))

failures = []
passes = 0


def outside_dir():
    """A directory that is neither under the home nor under /tmp (writes there must fail)."""
    for base in ("/var/tmp", "/dev/shm", os.path.abspath(BUILDDIR)):
        real = os.path.realpath(base)
        if os.path.isdir(real) and not (real == "/tmp" or real.startswith("/tmp/")):
            return tempfile.mkdtemp(prefix="sbx-outside.", dir=real)
    raise SystemExit("no writable directory outside /tmp for the test")


class Env:
    def __init__(self):
        self.home = os.path.realpath(tempfile.mkdtemp(prefix="sbx-home."))
        self.outside = outside_dir()

    def close(self):
        shutil.rmtree(self.home, ignore_errors=True)
        shutil.rmtree(self.outside, ignore_errors=True)

    def write(self, rel, text, mode=0o644):
        path = os.path.join(self.home, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(textwrap.dedent(text))
        os.chmod(path, mode)
        return path

    def environ(self, extra=None):
        env = {
            "HOME": self.home,
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "SANDBOX_USER": "alice",
            "SANDBOX_LIMITS": "memory 512M, cpu 60s, disk 100M",
            "SANDBOX_OUTSIDE": self.outside,
            # Must be ignored: isolated mode.
            "PYTHONPATH": self.outside,
            "PYTHONSTARTUP": os.path.join(self.outside, "startup.py"),
        }
        env.update(extra or {})
        return env

    def run(self, args, stdin=b"", extra_env=None, audit=True, timeout=60, cwd=None):
        """Runs sandbox-python ARGS; returns (rc, stdout, stderr, audit records)."""
        afd = None
        apath = os.path.join(self.outside, "audit.jsonl")
        if audit:
            afd = os.open(apath, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)

        def child():
            if afd is not None:
                os.dup2(afd, 3)
                os.set_inheritable(3, True)  # dup2(3, 3) would keep O_CLOEXEC
            else:
                try:
                    os.close(3)
                except OSError:
                    pass

        p = subprocess.run([RUNNER] + list(args), input=stdin, capture_output=True,
                           env=self.environ(extra_env), cwd=cwd or self.home,
                           preexec_fn=child, close_fds=False, timeout=timeout)
        records = []
        if afd is not None:
            os.close(afd)
            with open(apath) as f:
                for line in f:
                    records.append(json.loads(line))
        return p.returncode, p.stdout.decode(errors="replace"), \
            p.stderr.decode(errors="replace"), records

    def py(self, code, *args, **kw):
        path = self.write("prog.py", code)
        return self.run(["--", "run", path] + list(args), **kw)


def check(name, cond, info=""):
    global passes
    if cond:
        passes += 1
        print(f"ok   {name}")
    else:
        failures.append(name)
        print(f"FAIL {name}")
        if info:
            print(textwrap.indent(str(info).rstrip(), "     | "))


def finish():
    print(f"{passes} passed, {len(failures)} failed")
    if failures:
        print("failed: " + ", ".join(failures))
        sys.exit(1)
    sys.exit(0)
