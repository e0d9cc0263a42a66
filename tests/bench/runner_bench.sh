#!/bin/sh
# Benchmark of sandbox-python against Debian's /usr/bin/python3.11 (not part of `make check`).
# Usage: runner_bench.sh [./sandbox-python] [OTHER-RUNNER-BUILD]
# Prints hyperfine medians and the ratio runner/python3.11 for: start-up (-c pass), a pure
# Python loop, a loop raising a hot audit event (builtins.id), and write-mode open() calls (the
# policy's path check). A second runner build (e.g. linked against the shared libpython) is
# measured alongside when given. Each hyperfine has 10 to 30 runs and a time bound; the
# "RESULT" lines (name, ours, reference, unit) are for tests/bench/run.sh.
set -eu
runner=$(realpath "${1:-./sandbox-python}")
other=${2:+$(realpath "$2")}
py=/usr/bin/python3.11
command -v hyperfine >/dev/null || { echo "hyperfine is not installed (apt-get install hyperfine)"; exit 1; }

work=$(mktemp -d /tmp/runner-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
export HOME="$work"

cat >"$work/loop.py" <<'PY'
def work(n):
    s = 0
    d = {}
    for i in range(n):
        s += (i * i) % 7
        d[i & 255] = s
        s ^= len(str(i))
    return s
work(2_000_000)
PY
cat >"$work/hot.py" <<'PY'
x = object()
for _ in range(1_000_000):
    id(x)
PY
cat >"$work/opens.py" <<'PY'
import os
p = os.path.join(os.environ["HOME"], "f.txt")
for _ in range(20_000):
    with open(p, "w") as f:
        pass
PY

bench() { # name, then commands
	name=$1
	shift
	timeout -k 5 300 hyperfine -N --warmup 3 --min-runs 10 --max-runs 30 --style none \
		--export-json "$work/$name.json" "$@" >/dev/null 2>&1 ||
		timeout -k 5 300 hyperfine --warmup 3 --min-runs 10 --max-runs 30 --style none \
			--export-json "$work/$name.json" "$@" >/dev/null
	"$py" - "$work/$name.json" "$name" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))["results"]
base = res[0]["median"]
for r in res:
    print(f"{sys.argv[2]:8} {r['median'] * 1000:9.1f} ms  x{r['median'] / base:5.2f}  {r['command']}")
for r in res[1:]:
    print(f"RESULT\trunner: {sys.argv[2]} ({r['command'].split()[0].rsplit('/', 1)[-1]} vs python3.11)"
          f"\t{r['median'] * 1000:.1f}\t{base * 1000:.1f}\tms (median)")
PY
}

run_all() { # label, script-or-code args...
	name=$1
	shift
	if [ -n "$other" ]; then
		bench "$name" "$py $*" "$runner -- python $*" "$other -- python $*"
	else
		bench "$name" "$py $*" "$runner -- python $*"
	fi
}

echo "ratios are against the first line ($py)"
run_all startup -I -c pass
run_all loop "$work/loop.py"
run_all hot "$work/hot.py"
run_all opens "$work/opens.py"
