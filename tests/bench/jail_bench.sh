#!/bin/sh
# Jail set-up/teardown against bubblewrap with a comparable configuration (not a test; run by
# `make bench` as root). Prints medians and the ratio jail/bwrap per run of /bin/true.
: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
N=${N:-100}
JAIL_RUN="$top_builddir/tests/jail/jail-run"
[ "$(id -u)" = 0 ] || { echo "jail_bench: needs root"; exit 1; }
command -v bwrap >/dev/null || { echo "jail_bench: bwrap not installed"; exit 1; }

U=sbxbench$$
useradd -m -s /usr/sbin/nologin "$U" || exit 1
trap 'userdel -r "$U" >/dev/null 2>&1' EXIT
HOME_DIR=$(getent passwd "$U" | cut -d: -f6)

now_ms() { date +%s%3N; }

# 1. The library as the daemon uses it: filter compiled once, N jails in a row.
LIB=$("$JAIL_RUN" --user "$U" --repeat "$N" -- /bin/true)
echo "jail (library, one process):   $LIB"

# 2. One jail-run process per jail (process start + filter compile + jail), like bwrap below.
t0=$(now_ms)
i=0; while [ $i -lt "$N" ]; do "$JAIL_RUN" --user "$U" -- /bin/true 2>/dev/null; i=$((i + 1)); done
t1=$(now_ms)
JR=$(( (t1 - t0) * 1000 / N ))
echo "jail (jail-run per run):        per_run_us=$JR"

# 3. bubblewrap: same namespaces, read-only /usr and links, fresh /proc, /dev, tmpfs /tmp,
#    the home bound, hostname, no capabilities, the user's uid (bwrap has no seccomp here).
bw() {
	bwrap --unshare-all --die-with-parent --new-session --cap-drop ALL \
		--uid "$(id -u "$U")" --gid "$(id -g "$U")" --hostname sandbox \
		--ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib \
		--symlink usr/lib64 /lib64 --symlink usr/sbin /sbin \
		--ro-bind /etc/ld.so.cache /etc/ld.so.cache --proc /proc --dev /dev \
		--tmpfs /tmp --bind "$HOME_DIR" "$HOME_DIR" --chdir "$HOME_DIR" /bin/true
}
bw || { echo "jail_bench: bwrap failed"; exit 1; }
t0=$(now_ms)
i=0; while [ $i -lt "$N" ]; do bw; i=$((i + 1)); done
t1=$(now_ms)
BW=$(( (t1 - t0) * 1000 / N ))
echo "bwrap (per run):                per_run_us=$BW"

LIB_RUN=$(printf '%s\n' "$LIB" | tr ' ' '\n' | sed -n 's/^per_run_us=//p')
echo "ratio jail-library/bwrap: $(awk "BEGIN { printf \"%.2f\", $LIB_RUN / $BW }")"
echo "ratio jail-run/bwrap:     $(awk "BEGIN { printf \"%.2f\", $JR / $BW }")"
