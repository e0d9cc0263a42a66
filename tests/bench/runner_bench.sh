#!/bin/bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# sandbox-python against Debian's python3 (not a test; run by `make bench` as root, or alone:
# `make bench-runner`). Usage: runner_bench.sh [./sandbox-python]
#
#   in the jail  `python -c pass` run by a shell inside one of our jails (jail-run: the jail the
#                daemon builds, seccomp filter included) vs `python3 -c pass` run by a shell on
#                the host; each shell times its own command (loopserve.py), rounds alternate
#   overhead     the runner (audit hook + its own seccomp filter, outside a jail) vs
#                /usr/bin/python3.11 -E -s (the runner's own search path: the program's
#                folder first, no user site, no PYTHON* variables) on three programs: 20 000 write-mode open() calls
#                (every one a path check), importing 40 stdlib modules, a loop of arithmetic;
#                in CPU time (user + system, start-up included), which other work on a shared
#                machine disturbs far less than wall time
#   start-up     `-c pass`, outside a jail (for reference)
# The idle runner's memory is measured with the sessions of ssh_bench.sh.
#
# Environment: RUNS (rounds, default 20); MICRO_RUNS (rounds of the three overhead rows,
# default 3 x RUNS: their targets are a few percent, and one run's CPU time here swings +-20%
# with whatever else the machine does, so a median of 20 moves the ratio by several percent).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
exec </dev/null
RUNS=${RUNS:-20}
MICRO_RUNS=${MICRO_RUNS:-$((RUNS * 3))}
RUNNER=$(realpath "${1:-$SANDBOX_PYTHON}")
JAIL_RUN="$top_builddir/tests/jail/jail-run"
PY3=/usr/bin/python3

bench_init runner
[ -x "$RUNNER" ] || bench_die "no runner at $RUNNER"
[ -x "$JAIL_RUN" ] || bench_die "no $JAIL_RUN (make tests/jail/jail-run)"
export HOME=$T

U=sbxb${TAG}r
bench_user "$U"
W=$T/work
mkdir -m 0755 "$W"
cat >"$W/loop.py" <<'PY'
def work(n):
    s = 0
    d = {}
    for i in range(n):
        s += (i * i) % 7
        d[i & 255] = s
        s ^= len(str(i))
    return s
work(1_000_000)
PY
cat >"$W/imports.py" <<'PY'
import argparse, ast, base64, bisect, calendar, collections, csv, dataclasses, datetime
import decimal, difflib, email.message, enum, fractions, functools, gettext, glob, gzip
import hashlib, heapq, html.parser, inspect, ipaddress, itertools, json, logging, pathlib
import pickle, pprint, random, re, shlex, statistics, string, tarfile, textwrap, typing
import unittest, uuid, zipfile
PY
cat >"$W/opens.py" <<'PY'
import os
p = os.path.join(os.environ["HOME"], "f.txt")
for _ in range(20_000):
    with open(p, "w") as f:
        pass
PY

# ---- python -c pass inside our jail vs bare python3 ----
# The jail's shell runs the runner as the daemon does (`ssh host python -c pass`: the runner
# gets "-- python -c pass"), with the runner's report channel as fd 3.
JAIL_SHELL="$JAIL_RUN --user $U --extra-fd --bind $RUNNER:/opt/sandboxd/sandbox-python -- /bin/bash -c \$LOOP"
"$PY" "$BENCH_DIR/loopserve.py" --runs "$RUNS" --warmup 3 \
	"jail=$JAIL_SHELL=>/opt/sandboxd/sandbox-python -- python -c pass" \
	"bare=/bin/bash -c \$LOOP=>$PY3 -c pass" >"$T/jail.stat" 2>"$T/jail.err" ||
	bench_die "python in the jail: $(tail -n 5 "$T/jail.err")"
cat "$T/jail.stat"
read -r j_med j_min j_max j_n j_f < <(stat_of "$T/jail.stat" jail)
read -r b_med b_min b_max b_n b_f < <(stat_of "$T/jail.stat" bare)
bench_result runner.jail "python -c pass inside our jail vs bare python3 -c pass" ms \
	"$j_med $j_min $j_max" "python3" "$b_med $b_min $b_max" "$j_n" "ratio<=1.30" $((j_f + b_f)) \
	"timed by a shell inside the jail / on the host"

# ---- the runner's own overhead: hook and seccomp, outside a jail ----
micro() { # ID LABEL TARGET SCRIPT-ARGS...
	local id=$1 label=$2 target=$3
	shift 3
	interleave --runs "$MICRO_RUNS" --warmup 2 --timeout 120 --cpu \
		"runner=$RUNNER -- python $*" "python3=$PY -E -s $*" >"$T/$id.stat"
	cat "$T/$id.stat"
	read -r r_med r_min r_max r_n r_f < <(stat_of "$T/$id.stat" runner)
	read -r p_med p_min p_max p_n p_f < <(stat_of "$T/$id.stat" python3)
	bench_result "$id" "$label" ms "$r_med $r_min $r_max" "python3.11" "$p_med $p_min $p_max" \
		"$r_n" "$target" $((r_f + p_f)) ""
}
micro runner.open "runner overhead (CPU): 20 000 write-mode open() (hook path checks + seccomp)" \
	"ratio<=1.10" "$W/opens.py"
micro runner.import "runner overhead (CPU): importing 40 stdlib modules" "ratio<=1.03" "$W/imports.py"
micro runner.arith "runner overhead (CPU): arithmetic loop" "ratio<=1.03" "$W/loop.py"
micro runner.startup "runner start-up, -c pass, outside a jail (CPU time)" "info" -c pass
