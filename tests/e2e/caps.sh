#!/bin/bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# Caps on concurrency, each with a clear answer: programs per connection (MaxSessions, reached
# by a multiplexing client), sessions per student (policy `sessions`), sessions on the host
# (MaxLogins). Nothing over a cap starts; everything under it goes on; a freed slot is reusable.
. "$(dirname "$0")/lib.sh"
e2e_init
SANDBOXCTL=${SANDBOXCTL:-$top_builddir/sandboxctl}
make_user
A=$U A_PW=$PW
make_user_key
A_KEY=$KEY
make_user
B=$U B_PW=$PW
make_user
C=$U C_PW=$PW
start_server MaxSessions 2 MaxLogins 2
ctl() { "$SANDBOXCTL" --config "$CONF" "$@"; }

SLEEP='python3 -c "import time; print(\"started\", flush=True); time.sleep(60)"'

runners_of() { # USER: how many runners the user has
	ps -o args= -u "$1" 2>/dev/null | grep -c 'sandbox-python' || true
}

wait_runners() { # USER COUNT
	local i
	for ((i = 0; i < 150; i++)); do
		[ "$(runners_of "$1")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

live_sessions() { ls "$T/run/sessions" 2>/dev/null | wc -l; }

wait_sessions() { # COUNT
	local i
	for ((i = 0; i < 150; i++)); do
		[ "$(live_sessions)" -eq "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

# ---- MaxSessions: programs on one connection ----
ctl quota set default sessions=3 >/dev/null || fail "quota set default sessions=3"
MUX=(-o "ControlPath=$T/mux" -o IdentitiesOnly=yes -o IdentityAgent=none -i "$A_KEY"
	-o PreferredAuthentications=publickey -o BatchMode=yes)
build_ssh --- "$A" "${MUX[@]}" -o ControlMaster=yes -o ControlPersist=no -N ---
"${ARGV[@]}" >"$T/master.out" 2>"$T/master.err" &
MASTER=$!
track_bg "$MASTER"
for ((i = 0; i < 100; i++)); do
	[ -S "$T/mux" ] && break
	sleep 0.1
done
[ -S "$T/mux" ] && ok "a multiplexing master connection is up" || fail "no master socket"

run_ssh_bg --- "$A" "${MUX[@]}" -o ControlMaster=no --- "$SLEEP"
MUX1=$BG_PID
run_ssh_bg --- "$A" "${MUX[@]}" -o ControlMaster=no --- "$SLEEP"
MUX2=$BG_PID
wait_runners "$A" 2 && ok "two programs run on one connection" || fail "two programs did not start"
# The OpenSSH client reports the refusal, then falls back to a connection of its own.
run_ssh --- "$A" "${MUX[@]}" -o ControlMaster=no --- 'python3 -c "print(3)"'
assert_contains "$ERR" "Session open refused by peer" \
	"MaxSessions 2: a third program on the connection is refused, and the client says so"
assert_eq "$(grep -c 'channel refused' "$T/server.log")" 1 "MaxSessions 2: refused once, on the shared connection"
grep -q "channel refused, 2 open (MaxSessions 2)" "$T/server.log" &&
	ok "the server log names MaxSessions" || fail "no MaxSessions line in the server log"
stop_bg "$MUX1"
for ((i = 0; i < 100; i++)); do
	[ "$(runners_of "$A")" -lt 2 ] && break
	sleep 0.1
done
run_ssh --- "$A" "${MUX[@]}" -o ControlMaster=no --- 'python3 -c "print(4)"'
assert_eq "$OUT" 4 "a freed slot on the connection can be used again"
stop_bg "$MUX2"
stop_bg "$MASTER"
wait_sessions 0 || fail "the multiplexed session did not end"

# ---- the student's own sessions (policy) ----
ctl quota set "$B" sessions=1 >/dev/null || fail "quota set $B sessions=1"
ssh_pw_bg "$B" "$B_PW" "$SLEEP"
B1=$BG_PID
wait_runners "$B" 1 || fail "$B's first session did not start"
# The refusal is the reason of the server's disconnect, which OpenSSH shows even at LogLevel
# ERROR (the harness's), and the client is not asked for its password again.
ssh_pw "$B" "$B_PW" -- 'python3 -c "print(5)"'
assert_eq "$RC" 255 "sessions=1: a second session of the same student is refused"
assert_contains "$ERR" "you already have 1 session open, the limit is 1" \
	"sessions=1: the student is told why"
assert_not_contains "$ERR" "Permission denied" "sessions=1: the client is not asked to try again"
stop_bg "$B1"
wait_sessions 0 || fail "$B's session did not end"

# ---- MaxLogins: sessions on the whole host ----
ssh_pw_bg "$A" "$A_PW" "$SLEEP"
H1=$BG_PID
ssh_pw_bg "$B" "$B_PW" "$SLEEP"
H2=$BG_PID
wait_sessions 2 && ok "two sessions on the host" || fail "two sessions did not start"
ssh_pw "$C" "$C_PW" -- 'python3 -c "print(6)"'
assert_eq "$RC" 255 "MaxLogins 2: a third session on the host is refused"
assert_contains "$ERR" "the host is full (2 sessions open); please try again in a few minutes" \
	"MaxLogins 2: the student is told the host is full"
assert_not_contains "$ERR" "Permission denied" "MaxLogins 2: the client is not asked to try again"
assert_eq "$OUT" "" "MaxLogins 2: nothing ran"
assert_eq "$(grep -c '"SANDBOX_REASON":"host-full"' "$T/audit.jsonl")" 1 \
	"MaxLogins 2: the refusal is on the audit trail (reason host-full)"
stop_bg "$H1"
for ((i = 0; i < 100; i++)); do
	[ "$(live_sessions)" -lt 2 ] && break
	sleep 0.1
done
ssh_pw "$C" "$C_PW" 'python3 -c "print(7)"'
assert_eq "$OUT" 7 "MaxLogins 2: once a session ends the next student gets in"
stop_bg "$H2"

# Concurrent logins cannot slip past the cap together (the host lock).
ssh_pw_bg "$A" "$A_PW" "$SLEEP"
R1=$BG_PID
wait_sessions 1 || fail "the first session did not start"
pids=()
for u in "$B:$B_PW" "$C:$C_PW" "$B:$B_PW" "$C:$C_PW"; do
	ssh_pw_bg "${u%%:*}" "${u#*:}" 'python3 -c "import time; time.sleep(8)"'
	pids+=("$BG_PID")
done
max=0
for ((i = 0; i < 60; i++)); do
	n=$(live_sessions)
	[ "$n" -gt "$max" ] && max=$n
	sleep 0.1
done
[ "$max" -le 2 ] && ok "four logins at once against one free slot: at most 2 sessions ever ($max)" ||
	fail "four logins at once: $max sessions at the same time with MaxLogins 2"
for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
stop_bg "$R1"

e2e_done
