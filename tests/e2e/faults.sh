#!/bin/bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# Faults: any child of the listener may die and the host goes on; a monitor that loses its
# network child cleans up its jails, cgroup, home mount and record; the listener itself may be
# killed without ending live sessions; SIGTERM ends every session with a word to each student,
# and a restart finds nothing left over. Homes on the image backend, so mounts are checked too.
. "$(dirname "$0")/lib.sh"
E2E_HOME_BACKEND=image
e2e_init
make_user
A=$U A_PW=$PW
make_user
B=$U B_PW=$PW
start_server

LONG='python3 -c "import time; print(\"up\", flush=True); time.sleep(120)"'

# What a session leaves behind while it lives: processes, cgroups, a record, a home mount.
leftovers() { # USER...
	local u out=""
	for u in "$@"; do
		[ -n "$(ps -o pid= -u "$u" 2>/dev/null)" ] && out+=" processes of $u;"
		[ -e "/sys/fs/cgroup/memory/sandboxd/$u" ] && out+=" memory cgroup of $u;"
		[ -e "/sys/fs/cgroup/pids/sandboxd/$u" ] && out+=" pids cgroup of $u;"
	done
	[ -n "$(ls -A "$T/run/sessions" 2>/dev/null)" ] && out+=" session records;"
	grep -q " $T/run/homes/" /proc/mounts && out+=" home mounts;"
	printf '%s' "$out"
}

wait_clean() { # USER...: up to 10 s for nothing to be left
	local i
	for ((i = 0; i < 100; i++)); do
		[ -z "$(leftovers "$@")" ] && return 0
		sleep 0.1
	done
	return 1
}

wait_up() { # FILE: the background session printed "up"
	local i
	for ((i = 0; i < 150; i++)); do
		grep -q up "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

monitor_of() { # USER: the monitor pid from the user's session record
	local f
	for f in "$T"/run/sessions/*; do
		grep -qx "user=$1" "$f" 2>/dev/null && sed -n 's/^monitor=//p' "$f" && return
	done
}

net_child_of() { # MONITOR_PID
	ps -o pid=,user= --ppid "$1" | awk '$2 == "_sandboxd" { print $1 }'
}

# ---- the network child of a live session dies ----
ssh_pw_bg "$A" "$A_PW" "$LONG"
BG=$BG_PID
wait_up "$T/bg.$BG_N.out" || fail "the session did not start"
MON=$(monitor_of "$A")
NET=$(net_child_of "$MON")
[ -n "$NET" ] && kill -KILL "$NET" && ok "killed the network child ($NET) of a running session" ||
	fail "no network child under monitor '$MON'"
wait "$BG" 2>/dev/null
assert_ne "$?" 0 "the client's connection ends"
if wait_clean "$A"; then ok "the monitor cleaned up: no jail, cgroup, record or home mount left"; else
	fail "after the network child died:$(leftovers "$A")"
fi

# ---- a pre-authentication network child crashes ----
# From 127.0.0.2, so that whatever the crash costs its source is not the students' address.
"$PY" -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.2", 0)); s.connect(("127.0.0.1", int(sys.argv[1])))
time.sleep(30)' "$PORT" &
RAW=$!
track_bg "$RAW"
CRASHED=""
for ((i = 0; i < 100; i++)); do
	for mon in $(pgrep -P "$SERVER_PID"); do
		CRASHED=$(net_child_of "$mon")
		[ -n "$CRASHED" ] && break
	done
	[ -n "$CRASHED" ] && break
	sleep 0.1
done
[ -n "$CRASHED" ] && kill -SEGV "$CRASHED" && ok "crashed a pre-authentication network child" ||
	fail "no pre-authentication network child found"
kill "$RAW" 2>/dev/null
ssh_pw "$B" "$B_PW" 'python3 -c "print(42)"'
assert_eq "$OUT" 42 "after the crash the listener still serves"

# ---- the listener is killed; live sessions go on ----
ssh_pw_bg "$A" "$A_PW" 'python3 -c "import time, sys
for i in range(12):
    print(\"tick\", i, flush=True); time.sleep(0.5)"'
BG=$BG_PID
BGOUT="$T/bg.$BG_N.out"
for ((i = 0; i < 100; i++)); do
	grep -q "tick 1" "$BGOUT" 2>/dev/null && break
	sleep 0.1
done
kill -KILL "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null
SERVER_PID=""
wait "$BG" 2>/dev/null
RC=$?
assert_eq "$RC" 0 "after kill -9 of the listener a running session finishes normally"
assert_eq "$(grep -c tick "$BGOUT")" 12 "all of its output arrived"
if wait_clean "$A"; then ok "its monitor cleaned up by itself"; else fail "left after the session:$(leftovers "$A")"; fi
start_server
ssh_pw "$B" "$B_PW" 'python3 -c "print(43)"'
assert_eq "$OUT" 43 "a restarted listener serves again"

# ---- SIGTERM: every student is told, everything is cleaned ----
ssh_pw_bg "$A" "$A_PW" "$LONG"
BG_A=$BG_PID
OUT_A=$BG_N
ssh_pw_bg "$B" "$B_PW" -tt -- "$LONG"
BG_B=$BG_PID
OUT_B=$BG_N
wait_up "$T/bg.$OUT_A.out" && wait_up "$T/bg.$OUT_B.out" || fail "the two sessions did not start"
T0=$(date +%s%N)
kill -TERM "$SERVER_PID"
wait "$BG_A" 2>/dev/null
wait "$BG_B" 2>/dev/null
T1=$(date +%s%N)
for ((i = 0; i < 100; i++)); do
	kill -0 "$SERVER_PID" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$SERVER_PID" 2>/dev/null && fail "the listener is still running 10 s after SIGTERM" ||
	ok "the listener exited after SIGTERM"
wait "$SERVER_PID" 2>/dev/null
SERVER_PID=""
echo "# both clients disconnected $(ms_to_s $(((T1 - T0) / 1000000))) s after SIGTERM"
msg="the host is shutting down; your session ends now"
assert_contains "$(cat "$T/bg.$OUT_A.err")" "$msg" "SIGTERM: the student running a command is told"
assert_contains "$(cat "$T/bg.$OUT_B.out" "$T/bg.$OUT_B.err")" "$msg" "SIGTERM: the student at a terminal is told"
if wait_clean "$A" "$B"; then ok "SIGTERM: no jail, cgroup, record or home mount left"; else
	fail "SIGTERM left:$(leftovers "$A" "$B")"
fi
grep -q "stopped" "$T/server.log" && ok "the listener logged its stop" || fail "no 'stopped' in the log"
N_SWEPT=$(grep -c "swept session" "$T/server.log")
start_server
ssh_pw "$A" "$A_PW" 'python3 -c "print(44)"'
assert_eq "$OUT" 44 "after the restart students log in"
assert_eq "$(grep -c "swept session" "$T/server.log")" "$N_SWEPT" "the restart found no session to sweep"
grep -q "unmounted .* left by a crash" "$T/server.log" && fail "the restart found homes left mounted" ||
	ok "the restart found no home left mounted"

e2e_done
