#!/bin/bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# Time limits on every layer, set per user with sandboxctl and enforced through the real
# server: CPU time per run, wall clock per run, idle and session clocks with a warning first.
. "$(dirname "$0")/lib.sh"
e2e_init
SANDBOXCTL=${SANDBOXCTL:-$top_builddir/sandboxctl}
make_user
RUNNER=$U
RUNNER_PW=$PW
make_user
IDLE=$U
IDLE_PW=$PW
make_user
BUSY=$U
BUSY_PW=$PW
start_server
ctl() { "$SANDBOXCTL" --config "$CONF" "$@"; }

# A generous wall clock first, so the CPU limit is what ends the spin even on a busy host.
ctl quota set "$RUNNER" run-cpu-time=1s run-time=20s >/dev/null || fail "sandboxctl quota set"
ctl quota set "$IDLE" idle-time=1m >/dev/null || fail "sandboxctl quota set"
ctl quota set "$BUSY" session-time=1m >/dev/null || fail "sandboxctl quota set"

# The two one-minute clocks run in the background while the per-run limits are checked.
E2E_SSH_TIMEOUT=100 ssh_pw_bg "$IDLE" "$IDLE_PW" -tt -- 'python3 -c "import time; time.sleep(600)"'
IDLE_BG=$BG_N
IDLE_PID=$BG_PID
E2E_SSH_TIMEOUT=100 ssh_pw_bg "$BUSY" "$BUSY_PW" -tt -- 'python3 -c "import time
while True:
    print(\"working\", flush=True); time.sleep(3)"'
BUSY_BG=$BG_N
BUSY_PID=$BG_PID
started=$(date +%s)

ssh_pw "$RUNNER" "$RUNNER_PW" 'python3 -c "while True: pass"'
assert_contains "$ERR" "CPU time limit of 1s per run reached" "a CPU spin ends at the per-run CPU limit, and the student is told"
assert_rc 255 "the spinning program was killed by a signal"
ctl quota set "$RUNNER" run-time=3s >/dev/null || fail "sandboxctl quota set"
ssh_pw "$RUNNER" "$RUNNER_PW" 'python3 -c "import time; time.sleep(30)"'
assert_contains "$ERR" "time limit of 3s per run reached" "a sleep ends at the per-run wall clock, and the student is told"
if [ "$ELAPSED" -lt 10000 ]; then ok "the sleep ended after ${ELAPSED} ms, not 30 s"; else fail "the sleep took ${ELAPSED} ms"; fi
ssh_pw "$RUNNER" "$RUNNER_PW" 'python3 -c "print(\"short runs are fine\")"'
assert_eq "$OUT" "short runs are fine" "a run inside the limits is untouched"

wait "$IDLE_PID" 2>/dev/null
wait "$BUSY_PID" 2>/dev/null
ended=$(($(date +%s) - started))
idle_out=$(tr -d '\r' <"$T/bg.$IDLE_BG.out" "$T/bg.$IDLE_BG.err" 2>/dev/null; cat "$T/bg.$IDLE_BG.err" | tr -d '\r')
busy_out=$(cat "$T/bg.$BUSY_BG.out" "$T/bg.$BUSY_BG.err" | tr -d '\r')
assert_contains "$idle_out" "left before the idle session ends" "an idle session is warned before it ends"
assert_contains "$idle_out" "idle time limit of 1 minutes is over" "an idle session ends at the idle limit with a message"
assert_contains "$busy_out" "working" "the busy session was producing output"
assert_contains "$busy_out" "left before the session ends" "a session is warned before its wall clock runs out"
assert_contains "$busy_out" "session time limit of 1 minutes is over" "a busy session ends at the session limit with a message"
if [ "$ended" -ge 55 ] && [ "$ended" -le 95 ]; then ok "both sessions ended after about a minute (${ended}s)"; else
	fail "the sessions ended after ${ended}s, expected about 60"
fi
AUDIT=$("$SANDBOXCTL" audit --file "$T/audit.jsonl" --event limit-hit 2>&1)
assert_contains "$AUDIT" "limit=idle" "the idle limit is on the audit trail"
assert_contains "$AUDIT" "limit=wall" "the wall clock limits are on the audit trail"
assert_contains "$AUDIT" "limit=cpu" "the CPU limit is on the audit trail"

e2e_done
