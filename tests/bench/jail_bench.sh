#!/bin/bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# Jail set-up/teardown against bubblewrap with a comparable configuration (not a test; run by
# `make bench` as root). Prints per-run times of /bin/true and the ratio jail/bwrap, both measured
# in this run. Every loop stops after N runs or MAX_S seconds, whichever comes first.
set -u
: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
N=${N:-100}
MAX_S=${MAX_S:-60}
JAIL_RUN="$top_builddir/tests/jail/jail-run"
[ "$(id -u)" = 0 ] || { echo "jail_bench: needs root"; exit 1; }
command -v bwrap >/dev/null || { echo "jail_bench: bwrap not installed"; exit 1; }
[ -x "$JAIL_RUN" ] || { echo "jail_bench: no $JAIL_RUN (make tests/jail/jail-run)"; exit 1; }

U=sbxbench$$
useradd -m -s /usr/sbin/nologin "$U" || exit 1
trap 'userdel -r -f "$U" >/dev/null 2>&1' EXIT
HOME_DIR=$(getent passwd "$U" | cut -d: -f6)

now_us() { echo "${EPOCHREALTIME/./}"; } # no fork: cheap enough to call every iteration

# Runs "$@" up to N times, at most MAX_S seconds: prints the mean microseconds per run.
per_run_us() {
	local t0 t1 deadline i=0
	t0=$(now_us)
	deadline=$((t0 + MAX_S * 1000000))
	t1=$t0
	while [ "$i" -lt "$N" ] && [ "$t1" -lt "$deadline" ]; do
		"$@" >/dev/null 2>&1
		i=$((i + 1))
		t1=$(now_us)
	done
	echo $(((t1 - t0) / i))
}

# 1. The library as the daemon uses it: filter compiled once, N jails in a row.
LIB=$(timeout -k 5 "$MAX_S" "$JAIL_RUN" --user "$U" --repeat "$N" -- /bin/true) ||
	{ echo "jail_bench: jail-run --repeat failed"; exit 1; }
echo "jail (library, one process):   $LIB"

# 2. One jail-run process per jail (process start + filter compile + jail), like bwrap below.
"$JAIL_RUN" --user "$U" -- /bin/true >/dev/null 2>&1 || { echo "jail_bench: jail-run failed"; exit 1; }
JR=$(per_run_us "$JAIL_RUN" --user "$U" -- /bin/true)
echo "jail (jail-run per run):        per_run_us=$JR"

# 3. bubblewrap: same namespaces, read-only /usr and links, fresh /proc, /dev, tmpfs /tmp,
#    the home bound, hostname, no capabilities, the user's uid (bwrap has no seccomp here).
#    The ids are looked up once: an `id` process per run would be counted against bwrap.
UID_U=$(id -u "$U")
GID_U=$(id -g "$U")
bw() {
	bwrap --unshare-all --die-with-parent --new-session --cap-drop ALL \
		--uid "$UID_U" --gid "$GID_U" --hostname sandbox \
		--ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib \
		--symlink usr/lib64 /lib64 --symlink usr/sbin /sbin \
		--ro-bind /etc/ld.so.cache /etc/ld.so.cache --proc /proc --dev /dev \
		--tmpfs /tmp --bind "$HOME_DIR" "$HOME_DIR" --chdir "$HOME_DIR" /bin/true
}
bw || { echo "jail_bench: bwrap failed"; exit 1; }
BW=$(per_run_us bw)
echo "bwrap (per run):                per_run_us=$BW"

LIB_RUN=$(printf '%s\n' "$LIB" | tr ' ' '\n' | sed -n 's/^per_run_us=//p')
echo "ratio jail-library/bwrap: $(awk "BEGIN { printf \"%.2f\", $LIB_RUN / $BW }")"
echo "ratio jail-run/bwrap:     $(awk "BEGIN { printf \"%.2f\", $JR / $BW }")"
# The machine-readable lines run.sh collects: name, ours, reference, unit.
awk -v l="$LIB_RUN" -v j="$JR" -v b="$BW" 'BEGIN {
	printf "RESULT\tjail: set-up+teardown, library (vs bwrap process)\t%.2f\t%.2f\tms per run\n", l / 1000, b / 1000
	printf "RESULT\tjail: set-up+teardown, jail-run process (vs bwrap)\t%.2f\t%.2f\tms per run\n", j / 1000, b / 1000
}'
