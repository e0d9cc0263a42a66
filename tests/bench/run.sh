#!/bin/bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# Every benchmark, then one summary table (`make bench`, as root, from a configured build dir).
# Each benchmark measures our number and its reference in the same run and prints the ratio
# ours/reference; nothing here passes or fails on a number. The exit status is non-zero only
# when a benchmark could not run at all (missing tool, server did not start, ...).
#
# Environment: top_srcdir, top_builddir (exported by `make bench`), BENCH_ONLY="jail runner ssh"
# (a subset), BENCH_TIMEOUT (seconds per benchmark script, default 900); each script's own
# knobs (N, MAX_S for jail; RUNS, CONC, BENCH_CONCURRENT for ssh) pass through.
set -u
export LC_ALL=C
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export top_srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
export top_builddir=${top_builddir:-$top_srcdir}
BENCH_ONLY=${BENCH_ONLY:-jail runner ssh}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-900}

[ "$(id -u)" = 0 ] || { echo "bench: needs root (throwaway users, jails, servers)"; exit 1; }

out=$(mktemp -d /tmp/sbxbench-run.XXXXXX) || exit 1
trap 'rm -rf "$out"' EXIT

failed=""
run_one() { # NAME SCRIPT ARGS...: the script's output as it comes, minus the RESULT lines
	local name=$1 rc
	shift
	echo "==== $name ($(basename "$1")) ===="
	timeout -k 10 "$BENCH_TIMEOUT" bash "$@" 2>&1 | tee "$out/$name.log" | grep -v '^RESULT	'
	rc=${PIPESTATUS[0]}
	if [ "$rc" != 0 ]; then
		echo "==== $name: could not run (exit status $rc) ===="
		failed+=" $name"
	fi
	grep '^RESULT	' "$out/$name.log" >>"$out/results.tsv"
	echo
}

: >"$out/results.tsv"
for b in $BENCH_ONLY; do
	case $b in
	jail) run_one jail "$here/jail_bench.sh" ;;
	runner) run_one runner "$here/runner_bench.sh" "$top_builddir/sandbox-python" ;;
	ssh) run_one ssh "$here/ssh_bench.sh" ;;
	*) echo "bench: unknown benchmark '$b' (jail, runner, ssh)"; failed+=" $b" ;;
	esac
done

echo "==== summary: ours vs the reference measured in the same run (ratio = ours / reference) ===="
awk -F'\t' '
BEGIN { printf "%-76s %10s %10s  %-12s %s\n", "benchmark", "ours", "reference", "unit", "ratio" }
{ r = ($4 > 0) ? sprintf("x%.2f", $3 / $4) : "-"
  printf "%-76s %10s %10s  %-12s %s\n", $2, $3, $4, $5, r }' "$out/results.tsv"
echo "references: jail = bubblewrap (bwrap), runner = /usr/bin/python3.11,"
echo "            ssh = Debian OpenSSH sshd (own instance) + python3.11; memory = the server-side"
echo "            processes of one connection (sandboxd: monitor, net child, jail-init, runner)"
if [ -n "$failed" ]; then
	echo "could not run:$failed"
	exit 1
fi
