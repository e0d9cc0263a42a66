#!/bin/sh
# Jails are fresh and separate: /tmp does not survive, home does; two jails cannot see each
# other; the per-run wall and CPU limits end the run; a fork bomb stops at RLIMIT_NPROC; nothing
# outlives a jail.
. "$(dirname "$0")/lib.sh"
jail_setup
U=sbxjlc$$
V=sbxjlv$$
new_user "$U"
new_user "$V"

jrun "$U" -- /usr/bin/sh -c 'echo secret > /tmp/t && echo kept > "$HOME/h" && echo done'
assert_contains "files written" "$OUT" "^done\$"
jrun "$U" -- /usr/bin/sh -c 'cat /tmp/t 2>/dev/null || echo no-tmp; cat "$HOME/h"'
assert_contains "/tmp file gone in the next jail" "$OUT" "^no-tmp\$"
assert_contains "home file still there" "$OUT" "^kept\$"
assert_eq "home file owned by the user on the host" "$(stat -c %U "$(getent passwd "$U" | cut -d: -f6)/h")" "$U"

# Two jails at once (two students, and the same student twice): neither sees the other.
"$JAIL_RUN" --user "$V" --bind "$PROBE_DIR:/run/probe" -- "$PROBE" sleep 3 >/dev/null 2>&1 &
BG=$!
add_cleanup "kill $BG 2>/dev/null"
sleep 0.5
jrun "$U" -- "$PROBE" pids
assert_eq "a jail sees only its own processes" "$(printf '%s\n' "$OUT" | grep -c '^pid ')" 2
jrun "$U" -- "$PROBE" ls /home
assert_eq "another student's home is not there" "$(printf '%s\n' "$OUT" | tr '\n' ' ')" "$U "
jrun "$V" -- "$PROBE" pids
assert_eq "a second jail of the same user is separate" "$(printf '%s\n' "$OUT" | grep -c '^pid ')" 2
wait $BG

jrun "$U" --run-wall 1 -- "$PROBE" sleep 30
assert_eq "run wall limit fired" "$(report_field limit)" run-wall
assert_eq "sleep ended by SIGTERM" "$(report_field signal)" 15
[ "$(report_field wall_ms)" -lt 4000 ] && pass "within a second of the limit" || fail "took $(report_field wall_ms) ms"

jrun "$U" --run-wall 1 -- /usr/bin/sh -c 'trap "" TERM; while :; do :; done'
assert_eq "a payload ignoring SIGTERM is killed after the grace" "$(report_field signal)" 9
assert_eq "...and the report names the wall limit" "$(report_field limit)" run-wall

jrun "$U" --run-cpu 1 -- "$PROBE" spin
assert_eq "run CPU limit fired" "$(report_field limit)" run-cpu
[ "$(report_field wall_ms)" -lt 4000 ] && pass "spin ended within the CPU limit" || fail "took $(report_field wall_ms) ms"

jrun "$U" --nproc 40 -- "$PROBE" forkbomb
assert_contains "fork bomb stops at RLIMIT_NPROC" "$OUT" "^forkbomb stopped after [0-9]+: EAGAIN\$"
assert_eq "the jail ends normally after it" "$RC" 0

# Background processes do not outlive the run.
jrun "$U" -- /usr/bin/sh -c '/usr/bin/sleep 60 & echo started'
sleep 0.2
assert_eq "no process of the user remains" "$(pgrep -u "$U" | wc -l)" 0
finish
