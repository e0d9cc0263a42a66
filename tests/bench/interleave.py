#!/usr/bin/python3.11
"""Runs benchmark commands in turn, so every command sees the same machine (tests/bench).

    interleave.py [--runs N] [--warmup N] [--timeout S] [--budget S] [--first-output | --cpu]
                  [--burst K] [--expect NAME=TEXT]... [--raw FILE] NAME=COMMAND...

One round runs every command once; the order rotates from round to round so that no command
always follows the same one. A command is split like a shell would (shlex) and executed
without a shell. The time of a run is from just before the spawn to the exit (or, with
--first-output, to the first byte on stdout; a run that prints nothing counts its exit). With
--cpu the measure is the command's CPU time instead (user + system, from wait4: its own and
its reaped children's), which other work on the machine changes far less than wall time. With
--burst K a run starts K copies at once, "{i}" in the command replaced by 1..K, and lasts until
the last one ended; a copy that fails makes the run count as failed, and the failed copies are
counted. A run fails when the command exits non-zero, times out, or (--expect) prints anything
other than TEXT. --budget stops after that many seconds (at least 3 rounds are kept).

Prints one line per command, tab-separated:
    STAT name median min max runs failures p90 first-error
(milliseconds over the successful runs; failures counts failed runs, or failed copies with
--burst).
"""
import argparse
import os
import select
import shlex
import statistics
import subprocess
import sys
import time


def run_once(argv, timeout, first_output, expect, cpu=False):
    """Returns (ms, ok, error text)."""
    t0 = time.monotonic_ns()
    try:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    except OSError as e:
        return 0.0, False, f"spawn: {e}"
    t_first = None
    out = b""
    err = b""
    deadline = time.monotonic() + timeout
    fds = {p.stdout.fileno(): "out", p.stderr.fileno(): "err"}
    while fds:
        left = deadline - time.monotonic()
        if left <= 0:
            p.kill()
            p.wait()
            return 0.0, False, f"timeout after {timeout:.0f} s"
        ready, _, _ = select.select(list(fds), [], [], left)
        for fd in ready:
            chunk = os.read(fd, 65536)
            if fds[fd] == "out":
                if t_first is None:
                    t_first = time.monotonic_ns()
                out += chunk
            else:
                err += chunk
            if not chunk:
                del fds[fd]
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = rc = os.waitstatus_to_exitcode(status)
    t_end = time.monotonic_ns()
    t = t_first if first_output and t_first is not None else t_end
    ms = (ru.ru_utime + ru.ru_stime) * 1000 if cpu else (t - t0) / 1e6
    if rc != 0:
        return ms, False, f"exit {rc}: {err.decode(errors='replace').strip()[:200]}"
    if expect is not None and out.decode(errors="replace").strip() != expect:
        return ms, False, f"unexpected output {out[:100]!r} {err.decode(errors='replace').strip()[:100]}"
    return ms, True, ""


def run_burst(template, k, timeout, expect):
    """K copies at once; returns (ms, failed copies, first error)."""
    t0 = time.monotonic_ns()
    procs = []
    for i in range(1, k + 1):
        argv = [w.replace("{i}", str(i)) for w in template]
        procs.append(subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE))
    failed = 0
    first_err = ""
    deadline = time.monotonic() + timeout
    for p in procs:
        try:
            out, err = p.communicate(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            failed += 1
            first_err = first_err or f"timeout after {timeout:.0f} s"
            continue
        bad = p.returncode != 0 or (expect is not None and
                                    out.decode(errors="replace").strip() != expect)
        if bad:
            failed += 1
            first_err = first_err or (f"exit {p.returncode}: "
                                      f"{err.decode(errors='replace').strip()[:200]}")
    return (time.monotonic_ns() - t0) / 1e6, failed, first_err


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--budget", type=float, default=0.0)
    ap.add_argument("--first-output", action="store_true")
    ap.add_argument("--cpu", action="store_true")
    ap.add_argument("--burst", type=int, default=0)
    ap.add_argument("--expect", action="append", default=[])
    ap.add_argument("--raw")
    ap.add_argument("commands", nargs="+")
    a = ap.parse_args()

    names, argvs = [], {}
    for c in a.commands:
        name, sep, cmd = c.partition("=")
        if not sep or not name:
            ap.error(f"expected NAME=COMMAND, got {c!r}")
        names.append(name)
        argvs[name] = shlex.split(cmd)
    expect = {}
    for e in a.expect:
        name, _, text = e.partition("=")
        expect[name] = text

    samples = {n: [] for n in names}
    failures = {n: 0 for n in names}
    errors = {n: "" for n in names}
    raw = open(a.raw, "w") if a.raw else None
    start = time.monotonic()
    for rnd in range(-a.warmup, a.runs):
        if a.budget and rnd >= 3 and time.monotonic() - start > a.budget:
            break
        k = rnd % len(names)
        for n in names[k:] + names[:k]:
            if a.burst:
                ms, failed, err = run_burst(argvs[n], a.burst, a.timeout, expect.get(n))
                ok = failed == 0
            else:
                ms, ok, err = run_once(argvs[n], a.timeout, a.first_output, expect.get(n),
                                       a.cpu)
                failed = 0 if ok else 1
            if rnd < 0:
                continue
            if raw:
                print(f"{n}\t{rnd}\t{ms:.3f}\t{int(ok)}", file=raw)
            failures[n] += failed
            if ok:
                samples[n].append(ms)
            elif not errors[n]:
                errors[n] = err.replace("\t", " ").replace("\n", " ")
    for n in names:
        s = sorted(samples[n])
        if s:
            med = statistics.median(s)
            p90 = s[min(len(s) - 1, int(len(s) * 0.9))]
            print(f"STAT\t{n}\t{med:.2f}\t{s[0]:.2f}\t{s[-1]:.2f}\t{len(s)}\t{failures[n]}\t"
                  f"{p90:.2f}\t{errors[n]}")
        else:
            print(f"STAT\t{n}\t-\t-\t-\t0\t{failures[n]}\t-\t{errors[n]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
