#!/usr/bin/python3.11
"""clockrun.py COMMAND...: runs COMMAND (no shell), whose stdout has a "clock N" line (N =
CLOCK_MONOTONIC in microseconds, printed by tests/bench/bench-clock as its first act), and
prints "spawn N" (just before the spawn), its "clock N" and "exit N" (once reaped), all in
CLOCK_MONOTONIC microseconds. Exits with the command's status."""
import subprocess
import sys
import time

t0 = time.monotonic_ns() // 1000
p = subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
t1 = time.monotonic_ns() // 1000
clock = [l for l in p.stdout.decode(errors="replace").splitlines() if l.startswith("clock ")]
print(f"spawn {t0}\n{clock[0] if clock else 'clock -'}\nexit {t1}")
sys.exit(p.returncode)
