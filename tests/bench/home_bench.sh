#!/bin/bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# The per-login home mount of the image backend (not a test; run by `make bench` as root):
# home-tool (tests/jail/home-tool.c) attaches a home exactly as the monitor does at login
# (jail/home_image.c: lock, superblock check, loop device, mount) and says how long home_attach
# took. Images are made first (mkfs is a first login's cost, not a login's); then:
#   p50        one attach at a time (then detach), RUNS times
#   20 at once 20 users' homes attached by 20 processes started together: from the first
#              attach's start to the last one's end; ROUNDS times
# No anchor: the targets are absolute (1.5 ms; 50 ms for 20).
#
# Environment: RUNS (default 30), ROUNDS (default 5), CONC (default 20).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
exec </dev/null
RUNS=${RUNS:-30}
ROUNDS=${ROUNDS:-5}
CONC=${CONC:-20}
TOOL="$top_builddir/tests/jail/home-tool"

bench_init home
bench_need mkfs.ext4 e2fsck resize2fs debugfs findmnt
[ -x "$TOOL" ] || bench_die "no $TOOL (make tests/jail/home-tool)"
[ -e /dev/loop-control ] || bench_die "no /dev/loop-control"
S=$T/state
R=$T/run
# Whatever a failed run leaves mounted under our runtime directory goes at exit.
BENCH_CLEANUP+=('for m in $(findmnt -rn -o TARGET | grep "^$R/"); do umount -l "$m"; done 2>/dev/null')
tool() { "$TOOL" -s "$S" -r "$R" -T "$@"; }

USERS=()
for ((i = 1; i <= CONC; i++)); do
	bench_user "sbxb${TAG}h$i"
	USERS+=("sbxb${TAG}h$i")
done
for u in "${USERS[@]}"; do
	tool "$u" once >"$T/make.out" 2>&1 || bench_die "first attach (mkfs) of $u: $(cat "$T/make.out")"
done

attach_us() { # one attach and detach of USER: prints the attach time in ms
	tool "$1" once 2>"$T/once.err" |
		awk '/^timing attach_begin/ { split($2, b, "="); split($3, e, "="); printf "%.3f\n", (e[2] - b[2]) / 1000 }'
}
fails=0
: >"$T/p50"
for ((r = 0; r < RUNS; r++)); do
	ms=$(attach_us "${USERS[$((r % CONC))]}")
	if [ -n "$ms" ]; then echo "$ms" >>"$T/p50"; else fails=$((fails + 1)); fi
done
read -r a_med a_min a_max a_n < <(bench_stats <"$T/p50")
echo "home attach, one at a time (ms): median $a_med, min $a_min, max $a_max ($a_n runs)"
bench_result home.mount "per-login home mount (image backend), p50" ms "$a_med $a_min $a_max" \
	"-" "" "$a_n" "abs<=1.5" "$fails" "home_attach: lock, superblock, loop device, mount"

# CONC at once: every holder prints its timing line once attached, then waits for SIGTERM.
: >"$T/conc"
cfails=0
for ((r = 0; r < ROUNDS; r++)); do
	pids=()
	for ((i = 0; i < CONC; i++)); do
		"$TOOL" -s "$S" -r "$R" -T "${USERS[$i]}" hold >"$T/hold.$i" 2>&1 &
		pids+=($!)
	done
	for ((k = 0; k < 200; k++)); do
		n=$(cat "$T"/hold.* 2>/dev/null | grep -c '^timing attach_begin')
		[ "$n" -ge "$CONC" ] && break
		# A holder that failed has exited.
		dead=0
		for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null || dead=$((dead + 1)); done
		[ $((n + dead)) -ge "$CONC" ] && break
		sleep 0.05
	done
	kill -TERM "${pids[@]}" 2>/dev/null
	wait "${pids[@]}" 2>/dev/null
	bad=$(grep -L '^detached' "$T"/hold.* | wc -l)
	if [ "$bad" != 0 ]; then
		cfails=$((cfails + bad))
		echo "round $r: $bad of $CONC attaches failed: $(grep -h 'home-tool:' "$T"/hold.* | head -n 1)"
	fi
	cat "$T"/hold.* | awk '/^timing attach_begin/ { split($2, b, "="); split($3, e, "=")
		if (lo == "" || b[2] < lo) lo = b[2]; if (e[2] > hi) hi = e[2]; n++ }
		END { if (n) printf "%.3f\n", (hi - lo) / 1000 }' >>"$T/conc"
	rm -f "$T"/hold.*
done
read -r c_med c_min c_max c_n < <(bench_stats <"$T/conc")
echo "$CONC homes at once, first start to last mounted (ms): $(tr '\n' ' ' <"$T/conc")"
bench_result home.concurrent "$CONC home mounts at once (image backend), wall" ms \
	"$c_med $c_min $c_max" "-" "" "$c_n" "abs<=50" "$cfails" "$CONC processes started together"
