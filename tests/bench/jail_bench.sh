#!/bin/bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# Jail build and teardown against bubblewrap (not a test; run by `make bench` as root).
#
# Ours is the daemon's real path, not a shortcut: a publickey login to sandboxd whose runner is
# the bench-clock payload (RunnerPath), with LogLevel DEBUG so that the monitor logs its
# "timing" lines. From them and the payload's own first reading of CLOCK_MONOTONIC:
#   build    = the monitor's session set-up after authentication (PAM session, policy, the
#              session's cgroups, the home) + channel request -> the payload's first instruction
#              (clone, namespaces, cgroup placement, mounts, pivot, rlimits, capabilities, uid,
#              seccomp, execve)
#   teardown = the payload's first instruction -> the channel reported (init reaped it and
#              the rest of the jail) + unmounting the home + killing and removing the cgroups
# The time the server only waits for the client (its channel and exec requests, its goodbye)
# is not counted. bubblewrap (a jail comparable to ours: every namespace, read-only /usr, tmpfs
# /tmp, /proc, /dev, the home, no capabilities, the user's uid; no seccomp and no cgroup) runs
# the same payload: build = spawn -> first instruction, teardown = first instruction -> reaped.
# jail-run (tests/jail/jail-run.c: the jail library alone, one process per jail, no cgroup) is
# measured alongside for reference. Rounds alternate the three.
#
# Environment: RUNS (rounds, default 30).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
exec </dev/null
RUNS=${RUNS:-30}
CLOCK="$top_builddir/tests/bench/bench-clock"
JAIL_RUN="$top_builddir/tests/jail/jail-run"

bench_init jail
bench_need bwrap
[ -x "$SANDBOXD" ] || bench_die "no server binary at $SANDBOXD"
[ -x "$CLOCK" ] || bench_die "no $CLOCK (make tests/bench/bench-clock)"
[ -x "$JAIL_RUN" ] || bench_die "no $JAIL_RUN (make tests/jail/jail-run)"

U=sbxb${TAG}j
bench_user "$U"
HOME_DIR=$(getent passwd "$U" | cut -d: -f6)
UID_U=$(id -u "$U")
GID_U=$(id -g "$U")

sbx_start RunnerPath "$CLOCK" LogLevel DEBUG
OURS=$(ssh_cmd "$SBX_PORT" "$U")
CLOCK_DIR=$(dirname "$CLOCK")
BWRAP="bwrap --unshare-all --die-with-parent --new-session --cap-drop ALL --uid $UID_U --gid $GID_U
	--hostname sandbox --ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib
	--symlink usr/lib64 /lib64 --symlink usr/sbin /sbin --ro-bind /etc/ld.so.cache /etc/ld.so.cache
	--proc /proc --dev /dev --tmpfs /tmp --bind $HOME_DIR $HOME_DIR --chdir $HOME_DIR
	--ro-bind $CLOCK_DIR /opt/bench /opt/bench/bench-clock"
JR="$JAIL_RUN --user $U --bind $CLOCK_DIR:/opt/bench -- /opt/bench/bench-clock"

# One login; prints "build teardown" in ms from the monitor's timing lines and the payload's
# clock, or fails.
ours_once() {
	local from out sid i
	from=$(($(wc -l <"$T/sandboxd.log") + 1))
	# shellcheck disable=SC2086
	out=$(timeout -k 5 "$SSH_TIMEOUT" $OURS clock 2>"$T/ours.err") || return 1
	# The monitor ends the session after the client left: wait for its last timing line.
	for ((i = 0; i < 100; i++)); do
		tail -n +"$from" "$T/sandboxd.log" | grep -q ' timing [0-9a-f]* session_end ' && break
		sleep 0.05
	done
	tail -n +"$from" "$T/sandboxd.log" | grep ' timing ' >"$T/ours.timing"
	printf '%s\n' "$out" | awk -v f="$T/ours.timing" '
		function val(line, key,    a, n, i) {
			n = split(line, a, /[ =]/)
			for (i = 1; i < n; i++) if (a[i] == key) return a[i + 1]
			return ""
		}
		/^clock / { clock = $2 }
		END {
			while ((getline l < f) > 0) {
				if (l ~ / session_open /) { ob = val(l, "begin"); oe = val(l, "end") }
				if (l ~ / spawn /) sb = val(l, "begin")
				if (l ~ / channel_done /) ce = val(l, "end")
				if (l ~ / session_end /) { h = val(l, "home_us"); c = val(l, "cgroup_us") }
			}
			if (clock == "" || ob == "" || sb == "" || ce == "" || c == "") exit 1
			printf "%.3f %.3f\n", ((oe - ob) + (clock - sb)) / 1000, ((ce - clock) + h + c) / 1000
		}'
}

clock_once() { # COMMAND...: "build teardown" in ms from clockrun.py
	"$PY" "$BENCH_DIR/clockrun.py" "$@" 2>"$T/clock.err" | awk '
		{ v[$1] = $2 }
		END { if (v["clock"] == "" || v["clock"] == "-") exit 1
		      printf "%.3f %.3f\n", (v["clock"] - v["spawn"]) / 1000, (v["exit"] - v["clock"]) / 1000 }'
}

ours_once >/dev/null || bench_die "a login to sandboxd with the bench-clock runner failed: $(cat "$T/ours.err")"
# shellcheck disable=SC2086
clock_once $BWRAP >/dev/null || bench_die "bwrap failed: $(cat "$T/clock.err")"
# shellcheck disable=SC2086
clock_once $JR >/dev/null || bench_die "jail-run failed: $(cat "$T/clock.err")"

: >"$T/ours" && : >"$T/bwrap" && : >"$T/jailrun"
fails=0
for ((r = 0; r < RUNS; r++)); do
	for k in 0 1 2; do
		case $(((r + k) % 3)) in
		0) ours_once >>"$T/ours" || fails=$((fails + 1)) ;;
		# shellcheck disable=SC2086
		1) clock_once $BWRAP >>"$T/bwrap" || fails=$((fails + 1)) ;;
		# shellcheck disable=SC2086
		2) clock_once $JR >>"$T/jailrun" || fails=$((fails + 1)) ;;
		esac
	done
done

summary() { # FILE: "total-median min max n build-median teardown-median"
	local tot b t
	tot=$(awk '{ print $1 + $2 }' "$1" | bench_stats)
	b=$(awk '{ print $1 }' "$1" | bench_stats | cut -d' ' -f1)
	t=$(awk '{ print $2 }' "$1" | bench_stats | cut -d' ' -f1)
	echo "$tot $b $t"
}
read -r o_med o_min o_max o_n o_b o_t < <(summary "$T/ours")
read -r b_med b_min b_max b_n b_b b_t < <(summary "$T/bwrap")
read -r j_med j_min j_max j_n j_b j_t < <(summary "$T/jailrun")
echo "build + teardown (ms, median): sandboxd $o_b + $o_t, bwrap $b_b + $b_t, jail-run $j_b + $j_t"
echo "sandboxd, last login's timing lines:"
sed 's/^.*timing /  /' "$T/ours.timing"
bench_result jail.build "jail build + teardown, auth done -> payload, cgroup placement included (p50)" ms \
	"$o_med $o_min $o_max" "bwrap" "$b_med $b_min $b_max" "$o_n" "ratio<=1.00;stretch<=0.75" "$fails" \
	"build $o_b + teardown $o_t vs $b_b + $b_t"
bench_result jail.library "jail library alone (jail-run process, no cgroup, no daemon)" ms \
	"$j_med $j_min $j_max" "bwrap" "$b_med $b_min $b_max" "$j_n" "info" 0 \
	"build $j_b + teardown $j_t"
