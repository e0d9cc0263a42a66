#!/bin/bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# `make bench-smoke` as a test: every benchmark area runs a round or two and the harness must
# finish, produce its table and JSON, and leave nothing behind (users, servers, temp dirs,
# mounts, loop devices, cgroups). No number is judged: timings belong to `make bench` on a
# quiet machine. Root only (throwaway users, jails, servers); skips (77) otherwise.
set -u
export LC_ALL=C
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
if [ "$(id -u)" != 0 ]; then
	[ -n "${CI:-}" ] && { echo "FAIL: the bench smoke needs root, and CI runs as root"; exit 1; }
	echo "SKIP: the bench smoke needs root"
	exit 77
fi
W=$(mktemp -d /tmp/sbx-bench-smoke.XXXXXX) || exit 1
trap 'rm -rf "$W"' EXIT

bench_users() { getent passwd | awk -F: '$5 ~ /^sandboxd-bench pid / { print $1 }' | sort; }
bench_dirs() { ls -d /tmp/sbxbench-* 2>/dev/null | sort; }
bench_mounts() { findmnt -rn -o TARGET | grep '^/tmp/sbxbench-' | sort; }
bench_loops() { losetup -n -O BACK-FILE 2>/dev/null | grep '/tmp/sbxbench-' | sort; }
bench_cgroups() { ls -d /sys/fs/cgroup/*/sandboxd/sbxb* /sys/fs/cgroup/sandboxd/sbxb* 2>/dev/null | sort; }
bench_procs() { pgrep -af '/tmp/sbxbench-' | sort; }
snapshot() { { bench_users; bench_dirs; bench_mounts; bench_loops; bench_cgroups; bench_procs; } >"$1"; }

snapshot "$W/before"
BENCH_SMOKE=1 BENCH_JSON=$W/results.json top_srcdir=$top_srcdir top_builddir=$top_builddir \
	bash "$top_srcdir/tests/bench/run.sh" >"$W/out" 2>&1
rc=$?
fail=0
if [ "$rc" != 0 ]; then
	echo "FAIL: the bench harness exited with $rc"
	fail=1
fi
grep -q '^==== summary' "$W/out" || { echo "FAIL: no summary table"; fail=1; }
rows=$(/usr/bin/python3.11 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["rows"]))' \
	"$W/results.json" 2>/dev/null || echo 0)
if [ "$rows" -lt 15 ]; then
	echo "FAIL: the JSON has $rows rows"
	fail=1
fi
# Servers stop and clients end asynchronously: a moment for the last ones.
for _ in 1 2 3 4 5 6 7 8 9 10; do
	snapshot "$W/after"
	cmp -s "$W/before" "$W/after" && break
	sleep 1
done
if ! cmp -s "$W/before" "$W/after"; then
	echo "FAIL: the bench left things behind (users, dirs, mounts, loops, cgroups, processes):"
	comm -13 "$W/before" "$W/after" | sed 's/^/  /'
	fail=1
fi
if [ "$fail" != 0 ]; then
	echo "---- bench output (last 60 lines) ----"
	tail -n 60 "$W/out"
	exit 1
fi
echo "PASS: bench smoke ($rows rows, everything cleaned up)"
grep -A40 '^==== summary' "$W/out"
