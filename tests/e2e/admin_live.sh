#!/bin/bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# sandboxctl against the running daemon (its control socket): sessions with live usage, a
# course limit and a user override reaching the session's cgroup, a live raise with quota set,
# kill, lock --kill, reload, status, a non-admin refused and audited, the daemon down. Needs
# root, and the cgroup v1/hybrid memory and pids hierarchies that the jail tests use.
. "$(dirname "$0")/lib.sh"

SANDBOXCTL=${SANDBOXCTL:-$top_builddir/sandboxctl}
G=""

live_cleanup() {
	local rc=$?
	[ -n "$G" ] && groupdel "$G" 2>/dev/null
	(exit "$rc")
	e2e_cleanup
}

e2e_init
trap live_cleanup EXIT
[ -x "$SANDBOXCTL" ] || die "no sandboxctl at $SANDBOXCTL (set SANDBOXCTL or build it)"
command -v setpriv >/dev/null || die "missing tool: setpriv"
CG=/sys/fs/cgroup
[ -d "$CG/memory" ] || [ -f "$CG/cgroup.controllers" ] || die "no cgroup tree at $CG"
# Unprivileged runs need a copy outside a build tree only root may enter.
install -m 0755 "$SANDBOXCTL" "$T/sandboxctl"

make_user
make_user_key
G="sbxe2e_g$(rand_alnum 6)"
groupadd "$G" || die "groupadd $G"
usermod -aG "$G" "$U" || die "usermod -aG $G $U"

# Until start_server writes the real configuration, sandboxctl reads this one: the test's
# admin actions go to its own trail, never the host's.
printf 'AuditFile %s\nAuditJournal no\nPolicyDirectory %s\n' "$T/audit.jsonl" "$T/policy" >"$T/sandboxd.conf"

# ctl ARGS...: sandboxctl as root against this test's daemon; sets RC, OUT, ERR.
ctl() {
	E2E_LAST_CMD="sandboxctl $*"
	"$T/sandboxctl" --config "$T/sandboxd.conf" --policy-dir "$T/policy" "$@" \
		>"$T/ctl.out" 2>"$T/ctl.err"
	RC=$?
	OUT=$(cat "$T/ctl.out")
	ERR=$(cat "$T/ctl.err")
}

# cgroup_file CONTROLLER FILE: the live session's file (v1/hybrid layout, or v2).
cgroup_file() {
	if [ -d "$CG/$1/sandboxd" ]; then
		cat "$CG/$1/sandboxd/$U/$SID/$2"
	else
		cat "$CG/sandboxd/$U/$SID/$3"
	fi
}

# json_get EXPR: evaluates a Python expression on the last output parsed as JSON (s).
json_get() {
	printf '%s' "$OUT" | "$PY" -c 'import json, sys
s = json.load(sys.stdin)
print(eval(sys.argv[1]))' "$1" 2>&1
}

# wait_session: until sessions --json shows one session of $U with a process in it; sets SID.
wait_session() {
	local i
	SID=""
	for ((i = 0; i < 100; i++)); do
		ctl sessions --json
		if [ "$RC" = 0 ] && [ "$(json_get 'len(s)')" = 1 ] &&
			[ "$(json_get '(s[0]["pids"] or 0) >= 1')" = True ]; then
			SID=$(json_get 's[0]["id"]')
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# The policy exists before the daemon: a course limit and the student's own override.
ctl quota set "@$G" memory=300M pids=40
assert_rc 0 "quota set @course (daemon not running yet: no error)"
assert_eq "$ERR" "" "quota set without a daemon prints nothing"
ctl quota set "$U" memory=200M
assert_rc 0 "quota set user override"

# Without a daemon, the live commands fail with one clear line.
ctl sessions
assert_rc 1 "sessions with no daemon"
assert_match "$ERR" "^sandboxctl: the daemon is not running \(no control socket at .*control.sock\)$" \
	"sessions with no daemon: one clear line"

start_server
[ -S "$T/run/control.sock" ] || die "no control socket at $T/run/control.sock"
assert_eq "$(stat -c %a "$T/run/control.sock")" 666 "the control socket is reachable by anyone (the daemon checks the peer)"

# ---- sessions ----
ssh_pw_bg "$U" "$PW" 'python3 -c "import time; time.sleep(60)"'
BG1=$BG_PID
if wait_session; then
	ok "sessions --json shows the background session"
else
	fail "no session of $U appeared in sessions --json: $OUT $ERR"
	e2e_done
fi
assert_eq "$(json_get 'len(s)')" 1 "exactly one session"
assert_eq "$(json_get 's[0]["user"]')" "$U" "the session's user"
assert_eq "$(ls "$T/run/sessions")" "$SID" "the id is the session record's"
assert_eq "$(json_get 's[0]["remote"]')" 127.0.0.1 "the source address"
assert_eq "$(json_get 'abs(s[0]["started"] - __import__("time").time()) < 60')" True \
	"the start time is now"
assert_eq "$(json_get 's[0]["memory"] > 0')" True "memory use is plausible (> 0)"
assert_eq "$(json_get '1 <= s[0]["pids"] <= 40')" True "pids are plausible (1..40)"
assert_eq "$(json_get 's[0]["memory_max"]')" 209715200 "the session's memory limit is the user override"
assert_eq "$(json_get 's[0]["pids_max"]')" 40 "the pids limit comes from the course"
assert_eq "$(json_get 's[0]["time_left"] is None or s[0]["time_left"] > 0')" True "time left"
assert_contains "$(json_get 's[0]["running"]')" "time.sleep(60)" "what is running"

ctl sessions
assert_rc 0 "sessions (table)"
assert_match "$OUT" "^ID +USER +FROM +STARTED +LEFT +MEM +CPU +PIDS +RUNNING" "the table's header"
assert_contains "$OUT" "$SID  $U  127.0.0.1" "the table's row"
ctl sessions --user nobody --json
assert_eq "$OUT" "[]" "sessions --user of someone else: none"

# ---- limits reach the running session's cgroup ----
assert_eq "$(cgroup_file memory memory.limit_in_bytes memory.max)" 209715200 \
	"the jail's cgroup has the override (200M), not the course's 300M"
assert_eq "$(cgroup_file pids pids.max pids.max)" 40 "the jail's cgroup has the course's pids"
ctl quota set "$U" memory=400M
assert_rc 0 "quota set while the session runs"
assert_eq "$ERR" "" "quota set with the daemon up: no warning"
assert_eq "$(cgroup_file memory memory.limit_in_bytes memory.max)" 419430400 \
	"raised live: the running session's cgroup changed at once"
ctl quota set "@$G" pids=50
assert_eq "$(cgroup_file pids pids.max pids.max)" 50 "a course change reaches its members' sessions"
ctl quota unset "$U" memory
assert_eq "$(cgroup_file memory memory.limit_in_bytes memory.max)" 314572800 \
	"quota unset of the override: back to the course's 300M at once"

# ---- status and reload ----
ctl status
assert_rc 0 "status"
assert_match "$OUT" "^sessions: +1 live" "status shows the live session count"
ctl reload
assert_rc 0 "reload"
assert_contains "$OUT" "reloaded" "reload says so"
if kill -0 "$BG1" 2>/dev/null; then
	ok "the session survives a reload"
else
	fail "a reload ended the session"
fi
assert_contains "$(cat "$T/audit.jsonl")" '"reload"' "the reload is on the audit trail"

# ---- clients that connect and say nothing never hold up the daemon ----
"$PY" - "$T/run/control.sock" <<'PYEOF' &
import socket, sys, time
held = []
for _ in range(20):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    held.append(s)
time.sleep(4)
PYEOF
SILENT=$!
track_bg "$SILENT"
sleep 0.3
t0=$(date +%s%N)
ctl status
t1=$(date +%s%N)
assert_rc 0 "status while 20 silent clients hold connections"
ms=$(((t1 - t0) / 1000000))
if [ "$ms" -lt 1500 ]; then
	ok "answered at once (${ms} ms)"
else
	fail "status took ${ms} ms behind silent clients"
fi
wait "$SILENT" 2>/dev/null

# ---- a non-admin is refused and audited ----
E2E_LAST_CMD="setpriv nobody sandboxctl sessions"
setpriv --reuid=nobody --regid=nogroup --clear-groups "$T/sandboxctl" --config "$T/sandboxd.conf" \
	sessions >"$T/ctl.out" 2>"$T/ctl.err"
RC=$?
ERR=$(cat "$T/ctl.err")
assert_rc 3 "a non-admin user"
assert_match "$ERR" "^sandboxctl: permission denied" "a non-admin user: permission denied"
assert_eq "$(grep '"admin-action"' "$T/audit.jsonl" | grep -c '"denied"')" 1 \
	"the refused attempt is on the audit trail"
setpriv --reuid=nobody --regid=nogroup --clear-groups "$T/sandboxctl" --config "$T/sandboxd.conf" \
	kill "$SID" >/dev/null 2>&1
RC=$?
assert_rc 3 "a non-admin cannot kill"
if kill -0 "$BG1" 2>/dev/null; then
	ok "the session is still there"
else
	fail "a refused kill killed"
fi

# ---- kill ----
ctl kill "$SID"
assert_rc 0 "kill SESSION"
assert_eq "$OUT" "killed session $SID of $U" "kill says what it killed"
assert_eq "$(ls "$T/run/sessions")" "" "the session record is gone"
for ((i = 0; i < 50; i++)); do
	kill -0 "$BG1" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$BG1" 2>/dev/null; then
	fail "the ssh client is still connected after kill"
else
	ok "the ssh client ended"
fi
ctl sessions --json
assert_eq "$OUT" "[]" "sessions: none left"
assert_eq "$(grep '"admin-action"' "$T/audit.jsonl" | grep '"kill"' | grep '"success"' |
	grep -c "$SID")" 1 "the kill is on the audit trail with the session"
ctl kill "$SID"
assert_rc 1 "kill of a session that is gone"
assert_eq "$ERR" "sandboxctl: no such session: $SID" "kill of a session that is gone: one line"

# ---- lock --kill ----
ssh_pw_bg "$U" "$PW" 'python3 -c "import time; time.sleep(60)"'
BG2=$BG_PID
wait_session || fail "the second session did not appear"
ctl lock "$U" --kill
assert_rc 0 "lock --kill"
assert_eq "$OUT" "killed session $SID of $U" "lock --kill killed the live session"
for ((i = 0; i < 50; i++)); do
	kill -0 "$BG2" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$BG2" 2>/dev/null; then
	fail "the ssh client is still connected after lock --kill"
else
	ok "lock --kill ended the ssh client"
fi
# The refusal is the reason of the server's disconnect, shown even at LogLevel ERROR (the
# harness's), by every method; the client is not asked for its password again (the askpass
# program would answer as often as asked).
LOCKED="sandbox: your account is locked by the course administrators; please contact them"
ssh_askpass "$U" "$PW" -o PreferredAuthentications=password -- 'python3 -c "print(6 * 7)"'
assert_eq "$RC" 255 "a locked user cannot log in (password)"
assert_contains "$ERR" "$LOCKED" "a locked user is told why (password)"
assert_eq "$PROMPTS" 1 "a locked user is asked for the password once"
ssh_kbd "$U" "$PW" 'python3 -c "print(6 * 7)"'
assert_eq "$RC" 255 "a locked user cannot log in (keyboard-interactive)"
assert_contains "$ERR" "$LOCKED" "a locked user is told why (keyboard-interactive)"
ssh_key "$U" "$KEY" 'python3 -c "print(6 * 7)"'
assert_eq "$RC" 255 "a locked user cannot log in (public key)"
assert_contains "$ERR" "$LOCKED" "a locked user is told why (public key)"
ctl unlock "$U"
ssh_pw "$U" "$PW" 'python3 -c "print(6 * 7)"'
assert_eq "$OUT" 42 "unlocked: login works again"

# ---- the daemon stops: the socket goes with it ----
stop_server
if [ -e "$T/run/control.sock" ]; then
	fail "control.sock left behind"
else
	ok "control.sock removed at stop"
fi
ctl quota set "$U" memory=100M
assert_rc 0 "quota set with the daemon gone still works"
assert_eq "$ERR" "" "and says nothing about the daemon"

e2e_done
