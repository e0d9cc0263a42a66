#!/bin/bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# Every benchmark, then one table (`make bench`, as root, from a configured build dir).
# Each area script measures our numbers and their anchors in the same run, interleaved, and
# prints RESULT lines (tests/bench/lib.sh: bench_result); this driver prints them as a table
# with the ratio and PASS/MISS against the targets of issue 9, and writes the same as JSON.
# Absolute times drift 5-20% on shared machines: the ratios are what count, and final numbers
# want a quiet machine (the load average is recorded before and after).
#
# Environment:
#   BENCH_ONLY     areas to run, in order (default "runner ssh jail home load": the runner's
#                  few-percent targets first, before other areas leave the kernel tearing down
#                  hundreds of namespaces in the background)
#   BENCH_SMOKE=1  a few rounds of a few rows: checks that the harness runs and cleans up
#   BENCH_JSON     where the JSON goes (default $top_builddir/bench-results.json); the same
#                  table as Markdown goes next to it (.md), ready for the README
#   BENCH_TIMEOUT  seconds per area (default 1800)
#   each area's own knobs pass through: RUNS (rounds), CPU_LOGINS, MEM_SESSIONS (ssh); CONC,
#   ROUNDS, IDLE, BATCH, HOLD (load; CONC is also the home area's "at once"), ...
set -u
export LC_ALL=C
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export top_srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
export top_builddir=${top_builddir:-$top_srcdir}
BENCH_ONLY=${BENCH_ONLY:-runner ssh jail home load}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-1800}
BENCH_JSON=${BENCH_JSON:-$top_builddir/bench-results.json}
PY=/usr/bin/python3.11

[ "$(id -u)" = 0 ] || { echo "bench: needs root (throwaway users, jails, servers)"; exit 1; }

if [ "${BENCH_SMOKE:-0}" = 1 ]; then
	# Enough to run every code path of the harness once or twice, nothing to judge by.
	export RUNS=${RUNS:-2} CPU_LOGINS=${CPU_LOGINS:-10} MEM_SESSIONS=${MEM_SESSIONS:-2}
	export ROUNDS=${ROUNDS:-1} CONC=${CONC:-4} IDLE=${IDLE:-6} BATCH=${BATCH:-6} HOLD=${HOLD:-1}
	BENCH_ONLY=${BENCH_SMOKE_ONLY:-ssh jail runner home load}
fi

out=$(mktemp -d /tmp/sbxbench-run.XXXXXX) || exit 1
AREA_PID=""
# An area runs in a process group of its own; stopping it means SIGTERM to the whole group, so
# that whatever it waits for ends at once and its EXIT trap removes every user, server, cgroup
# and mount it made (a signal to the script alone would wait for its current step). After 60 s,
# SIGKILL.
stop_area() {
	local i
	[ -n "$AREA_PID" ] || return 0
	kill -TERM -- "-$AREA_PID" 2>/dev/null
	for ((i = 0; i < 600; i++)); do
		kill -0 "$AREA_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL -- "-$AREA_PID" 2>/dev/null
	wait "$AREA_PID" 2>/dev/null
	AREA_PID=""
}
trap 'stop_area; rm -rf "$out"' EXIT
trap 'echo "bench: interrupted, cleaning up"; exit 130' INT TERM HUP

# Runs one area script with its output shown as it comes (minus the RESULT lines) and kept in
# $out/NAME.log; at most BENCH_TIMEOUT seconds. Returns the script's exit status.
run_area() { # NAME SCRIPT [ARGS...]
	local name=$1 rc deadline=$((SECONDS + BENCH_TIMEOUT))
	shift
	: >"$out/$name.log"
	setsid bash "$@" >"$out/$name.log" 2>&1 </dev/null &
	AREA_PID=$!
	tail -n +1 -f --pid="$AREA_PID" "$out/$name.log" | grep --line-buffered -v '^RESULT	' &
	local tail_pid=$!
	while kill -0 "$AREA_PID" 2>/dev/null; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "bench: $name ran for more than $BENCH_TIMEOUT s, stopping it"
			stop_area
			break
		fi
		sleep 1
	done
	if [ -n "$AREA_PID" ]; then
		wait "$AREA_PID"
		rc=$?
	else
		rc=124
	fi
	AREA_PID=""
	wait "$tail_pid" 2>/dev/null
	return "$rc"
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
LOAD_BEFORE=$(loadavg)
STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
t0=$(date +%s)
failed=""
: >"$out/results.tsv"
for b in $BENCH_ONLY; do
	case $b in
	ssh | jail | runner | home | load) script=$here/${b}_bench.sh ;;
	*)
		echo "bench: unknown area '$b' (ssh, jail, runner, home, load)"
		failed+=" $b"
		continue
		;;
	esac
	echo "==== $b ($(basename "$script")), load average $(loadavg) ===="
	run_area "$b" "$script"
	rc=$?
	if [ "$rc" != 0 ]; then
		echo "==== $b: could not run (exit status $rc) ===="
		failed+=" $b"
	fi
	grep '^RESULT	' "$out/$b.log" >>"$out/results.tsv"
	echo
done
LOAD_AFTER=$(loadavg)
ELAPSED=$(($(date +%s) - t0))

"$PY" - "$out/results.tsv" "$BENCH_JSON" "$STARTED" "$LOAD_BEFORE" "$LOAD_AFTER" "$ELAPSED" \
	"$(nproc)" "$(uname -r)" "$(git -C "$top_srcdir" describe --always --dirty 2>/dev/null || echo -)" \
	"${BENCH_SMOKE:-0}" <<'PY'
import json, sys

(tsv, json_path, started, load_before, load_after, elapsed, nproc, kernel, commit,
 smoke) = sys.argv[1:]


def num(s):
    try:
        return float(s)
    except ValueError:
        return None


rows = []
for line in open(tsv):
    f = line.rstrip("\n").split("\t")
    if len(f) < 15:
        continue
    (_, rid, label, unit, o_med, o_min, o_max, anchor, a_med, a_min, a_max, runs, target,
     fails, note) = f[:15]
    o, a = num(o_med), num(a_med)
    ratio = o / a if o is not None and a not in (None, 0.0) else None
    fails = int(fails or 0)
    verdict, stretch = "-", None
    parts = target.split(";")
    goal = parts[0]
    if goal.startswith("ratio<="):
        lim = float(goal[7:])
        verdict = "PASS" if ratio is not None and ratio <= lim else "MISS"
    elif goal.startswith("abs<="):
        lim = float(goal[5:])
        verdict = "PASS" if o is not None and o <= lim else "MISS"
    elif goal == "eq":
        verdict = "PASS" if o is not None and o == a else "MISS"
    for p in parts[1:]:
        if p.startswith("stretch<=") and ratio is not None:
            stretch = "PASS" if ratio <= float(p[9:]) else "MISS"
    if fails and verdict != "-":
        verdict = "MISS"
    rows.append(dict(id=rid, label=label, unit=unit, ours=dict(median=o, min=num(o_min),
                max=num(o_max)), anchor=anchor, anchor_value=dict(median=a, min=num(a_min),
                max=num(a_max)), ratio=ratio, runs=int(runs or 0), target=target,
                failures=fails, result=verdict, stretch=stretch, note=note))


def fmt(v):
    if v is None:
        return "-"
    return f"{v:.0f}" if abs(v) >= 1000 else f"{v:.3g}" if abs(v) < 10 else f"{v:.1f}"


def rng(d):
    return "-" if d["min"] is None else f"{fmt(d['min'])}–{fmt(d['max'])}"


print("==== summary: ours vs the anchor measured in the same run (ratio = ours / anchor) ====")
hdr = ("row", "ours", "anchor", "ratio", "ours min–max", "anchor min–max", "runs", "target",
       "result")
table = [hdr]
for r in rows:
    res = r["result"] + (f" (stretch {r['stretch']})" if r["stretch"] else "")
    if r["failures"]:
        res += f" ({r['failures']} failed)"
    anchor = "-" if r["anchor"] == "-" else f"{fmt(r['anchor_value']['median'])} {r['anchor']}"
    table.append((f"{r['label']} [{r['unit']}]", fmt(r["ours"]["median"]), anchor,
                  "-" if r["ratio"] is None else f"{r['ratio']:.2f}", rng(r["ours"]),
                  rng(r["anchor_value"]), str(r["runs"]), r["target"].replace(";", " "), res))
w = [max(len(row[i]) for row in table) for i in range(len(hdr))]
w[0] = min(w[0], 78)
for row in table:
    cells = [row[0][:w[0]].ljust(w[0])] + [c.rjust(w[i]) if 0 < i < 7 else c.ljust(w[i])
                                           for i, c in enumerate(row[1:], 1)]
    print("  ".join(cells).rstrip())
for r in rows:
    if r["note"]:
        print(f"  {r['id']}: {r['note']}")
n_pass = sum(r["result"] == "PASS" for r in rows)
n_miss = sum(r["result"] == "MISS" for r in rows)
print(f"{n_pass} PASS, {n_miss} MISS, {sum(r['result'] == '-' for r in rows)} for reference; "
      f"{nproc} CPUs, kernel {kernel}, load average {load_before} before, {load_after} after, "
      f"{elapsed} s")
doc = dict(started=started, commit=commit, smoke=smoke == "1", machine=dict(
    nproc=int(nproc), kernel=kernel, loadavg_before=load_before, loadavg_after=load_after),
    elapsed_seconds=int(elapsed), rows=rows)
with open(json_path, "w") as f:
    json.dump(doc, f, indent=1)
md_path = json_path[:-5] + ".md" if json_path.endswith(".json") else json_path + ".md"
with open(md_path, "w") as f:
    f.write("| row | ours | anchor | ratio | ours min–max | anchor min–max | runs | target | result |\n")
    f.write("|---|--:|--:|--:|--:|--:|--:|---|---|\n")
    for r in rows:
        res = r["result"] + (f" (stretch {r['stretch']})" if r["stretch"] else "")
        if r["failures"]:
            res += f" ({r['failures']} failed)"
        anchor = "–" if r["anchor"] == "-" else f"{fmt(r['anchor_value']['median'])} ({r['anchor']})"
        f.write(f"| {r['label']} [{r['unit']}] | {fmt(r['ours']['median'])} | {anchor} | "
                f"{'–' if r['ratio'] is None else format(r['ratio'], '.2f')} | {rng(r['ours'])} | "
                f"{rng(r['anchor_value'])} | {r['runs']} | {r['target'].replace(';', ', ')} | {res} |\n")
    f.write(f"\n{nproc} CPUs, kernel {kernel}; load average {load_before} before, {load_after} "
            f"after; {started}, commit {commit}, {elapsed} s.\n")
print(f"JSON: {json_path}")
print(f"Markdown: {md_path}")
PY
if [ -n "$failed" ]; then
	echo "could not run:$failed"
	exit 1
fi
