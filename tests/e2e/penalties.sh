#!/bin/bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# PerSourcePenalties with the real OpenSSH client and PAM: a brute force from 127.0.0.1 is
# refused after a few failed connections (the client sees an immediate close, the log and the
# audit trail say why), so is a correct login during the penalty and the rest of the /24, and
# after the penalty the correct login works; a reload keeps penalties; an exempt source is never
# refused; concurrent failures add up; a crash of the network child or of the monitor before
# authentication earns the crash penalty, after authentication nothing; sandboxctl penalties
# lists and lifts them. Other loopback sources (ssh -b 127.0.x.y) stand for other hosts.
. "$(dirname "$0")/lib.sh"
SANDBOXCTL=${SANDBOXCTL:-$top_builddir/sandboxctl}
e2e_init
[ -x "$SANDBOXCTL" ] || die "no sandboxctl at $SANDBOXCTL (set SANDBOXCTL or build it)"
make_user
CMD='python3 -c "print(6*7)"'
T_START=$(date +%s)

# A failed connection takes about 2.7 s (the monitor answers a failure no sooner than 2.5 s)
# and earns 6 s: what the block owes grows by about 3.3 s per connection in a row, so it is
# refused after the second or third (more than 8 s owed; later on a slow machine), for at
# most 15 s.
start_server PerSourcePenalties "authfail:6s crash:30s noauth:0s grace-exceeded:0s min:8s max:15s" \
	PerSourceNetBlockSize 24 PerSourcePenaltyExemptList 127.0.2.0/24

ctl() {
	E2E_LAST_CMD="sandboxctl $*"
	"$SANDBOXCTL" --config "$CONF" "$@" >"$T/ctl.out" 2>"$T/ctl.err"
	RC=$?
	OUT=$(cat "$T/ctl.out")
	ERR=$(cat "$T/ctl.err")
}

# wrong SOURCE: one wrong password from SOURCE; PROMPTS is 0 when the server refused at once.
wrong() {
	ssh_askpass "$U" "wrong-$PW" -b "$1" -o PreferredAuthentications=password \
		-o NumberOfPasswordPrompts=1 -o LogLevel=INFO -- "$CMD"
}

# right SOURCE: the correct password from SOURCE.
right() {
	ssh_pw "$U" "$PW" -b "$1" -o LogLevel=INFO -- "$CMD"
}

assert_refused_fast() { # WHAT
	assert_eq "$RC" 255 "$1: refused"
	assert_eq "$OUT" "" "$1: nothing ran"
	assert_match "$ERR" "closed by remote host|reset by peer" "$1: the client sees the connection closed"
	if [ "$ELAPSED" -lt 3000 ]; then
		ok "$1: the client fails fast ($(ms_to_s "$ELAPSED") s)"
	else
		fail "$1: the client took $(ms_to_s "$ELAPSED") s to fail"
	fi
}

audit_count() { # JQ-LIKE PYTHON CONDITION on r (a record's fields)
	"$PY" - "$T/audit.jsonl" "$1" <<'PYEOF'
import json, sys
n = 0
for line in open(sys.argv[1]):
    rec = json.loads(line)
    r = dict(rec["fields"], event=rec["event"])
    if eval(sys.argv[2]):
        n += 1
print(n)
PYEOF
}

# ---- brute force from 127.0.0.1 ----
attempts=0
refused_at=0
for ((i = 1; i <= 8; i++)); do
	wrong 127.0.0.1
	if [ "$PROMPTS" = 0 ]; then
		refused_at=$i
		break
	fi
	attempts=$i
	assert_eq "$RC" 255 "brute force, connection $i: the wrong password is refused"
done
echo "# brute force: $attempts failed connections, connection $refused_at refused at once"
if [ "$refused_at" -ge 3 ] && [ "$refused_at" -le 7 ]; then
	ok "brute force: refused from connection $refused_at on (after $attempts failures)"
else
	fail "brute force: connection $refused_at refused (want 3-7, after 2-6 failures)"
fi
assert_refused_fast "brute force, connection $refused_at"

right 127.0.0.1
assert_refused_fast "the correct password from the penalised source"
right 127.0.0.2
assert_refused_fast "the correct password from the same /24 (127.0.0.2)"
right 127.0.1.1
assert_eq "$OUT" 42 "the correct password from another /24 (127.0.1.1) works"

assert_match "$(cat "$T/server.log")" \
	"source block 127\.0\.0\.0/24 penalised: refused for [0-9]+s \(failed authentication" \
	"the server log says the block is penalised and why"
assert_match "$(cat "$T/server.log")" \
	"refused connection from 127\.0\.0\.[12]:[0-9]+ \(block 127\.0\.0\.0/24\): penalty: failed authentication, [0-9]+s left" \
	"the server log says why a connection was refused"
assert_eq "$(audit_count 'r["event"] == "source-penalised" and r["SANDBOX_BLOCK"] == "127.0.0.0/24" and r["SANDBOX_REASON"] == "authfail"')" 1 \
	"audit: one source-penalised record for 127.0.0.0/24 (authfail)"
n=$(audit_count 'r["event"] == "connection-refused" and r["SANDBOX_REASON"] == "PerSourcePenalties" and r["SANDBOX_BLOCK"] == "127.0.0.0/24"')
if [ "$n" -ge 1 ]; then
	ok "audit: the refusals are on the trail ($n connection-refused records, rate-limited)"
else
	fail "audit: no connection-refused record for 127.0.0.0/24"
fi

ctl penalties
assert_rc 0 "sandboxctl penalties"
assert_match "$OUT" "127\.0\.0\.0/24 +refused +authfail +[0-9]+s" "sandboxctl penalties lists the block, reason and time left"

# A reload keeps the penalty.
kill -HUP "$SERVER_PID"
for ((i = 0; i < 50; i++)); do
	grep -q "configuration reloaded" "$T/server.log" && break
	sleep 0.1
done
right 127.0.0.1
assert_refused_fast "after a reload, the penalised source"

ctl penalties --json
left=$(printf '%s' "$OUT" | "$PY" -c 'import json, sys
for p in json.load(sys.stdin):
    if p["block"] == "127.0.0.0/24":
        print(p["seconds_left"])')
echo "# penalty of 127.0.0.0/24: ${left:-?} s left"
[ -n "$left" ] && [ "$left" -le 15 ] && ok "the penalty is capped at max (15 s): $left s left" ||
	fail "penalty time left '${left:-}' (want at most 15 s)"
sleep "$((${left:-15} + 1))"
right 127.0.0.1
assert_eq "$OUT" 42 "after the penalty, the correct password from 127.0.0.1 works"
# Four refusals of 127.0.0.0/24 (the brute force's last connection, two correct passwords, one
# after the reload): records and their SANDBOX_SUPPRESSED counts add up to them, whatever the
# rate limit kept back (its late record is due 5 s after the first, long past by now).
refused=$("$PY" - "$T/audit.jsonl" <<'PYEOF'
import json, sys
n = 0
for line in open(sys.argv[1]):
    rec = json.loads(line)
    f = rec["fields"]
    if rec["event"] == "connection-refused" and f.get("SANDBOX_BLOCK") == "127.0.0.0/24":
        n += 1 + int(f.get("SANDBOX_SUPPRESSED", "0"))
print(n)
PYEOF
)
assert_eq "$refused" 4 "audit: connection-refused records plus their suppressed counts are every refusal"

# ---- concurrent failures add up; the exempt block never is refused ----
# batch SOURCE N: N wrong passwords from SOURCE at once; BATCH_PROMPTS counts the prompts.
batch() {
	local src=$1 n=$2 i
	local dir="$T/batch.$src"
	mkdir -p "$dir"
	: >"$dir/askpass.prompts"
	cat >"$T/askpass" <<'APEOF'
#!/bin/bash
printf '%s\n' "$1" >>"$E2E_ASKPASS_DIR/askpass.prompts"
printf '%s\n' "$E2E_ASKPASS_ANSWER"
APEOF
	chmod 0700 "$T/askpass"
	local pids=()
	for ((i = 0; i < n; i++)); do
		build_ssh env SSH_ASKPASS="$T/askpass" SSH_ASKPASS_REQUIRE=force DISPLAY=:0 \
			E2E_ASKPASS_DIR="$dir" E2E_ASKPASS_ANSWER="wrong-$PW" --- "$U" \
			-o PubkeyAuthentication=no --- -b "$src" -o PreferredAuthentications=password \
			-o NumberOfPasswordPrompts=1 -- "$CMD"
		timeout -k 5 "$E2E_SSH_TIMEOUT" "${ARGV[@]}" >/dev/null 2>&1 &
		pids+=($!)
	done
	wait "${pids[@]}"
	BATCH_PROMPTS=$(grep -c . "$dir/askpass.prompts")
	wait_reaped
}

# A client ends before its connection process does (much later in a sanitizer build, where
# that process checks for leaks as it exits), and the penalty is added when the listener reaps
# it: wait until only the listener's cgroup warmer is left among its children.
wait_reaped() {
	local i pid busy
	for ((i = 0; i < 200; i++)); do
		busy=0
		for pid in $(pgrep -P "$SERVER_PID"); do
			[ "$(ps -o comm= -p "$pid" 2>/dev/null)" = cgroup-warmer ] || busy=1
		done
		[ "$busy" = 0 ] && return 0
		sleep 0.1
	done
	fail "connection processes still running 20 s after their clients ended"
}

batch 127.0.3.9 4
assert_eq "$BATCH_PROMPTS" 4 "4 concurrent wrong passwords from 127.0.3.9 all reach authentication"
right 127.0.3.10
assert_refused_fast "concurrent failures add up (4 x 6 s): 127.0.3.0/24 is refused"

batch 127.0.2.9 4
assert_eq "$BATCH_PROMPTS" 4 "exempt 127.0.2.9: 4 concurrent wrong passwords reach authentication"
batch 127.0.2.9 4
assert_eq "$BATCH_PROMPTS" 4 "exempt 127.0.2.9: 4 more are not refused either"
right 127.0.2.9
assert_eq "$OUT" 42 "exempt 127.0.2.9: the correct password works after 8 failures"
ctl penalties
assert_not_contains "$OUT" "127.0.2.0/24" "exempt block: no penalty recorded"

# ---- crashes before authentication ----
# hold SOURCE: a TCP connection from SOURCE that reads the banner and waits (background); its
# report goes to $T/hold.SOURCE.
hold() {
	"$PY" - "$PORT" "$1" >"$T/hold.$1" 2>&1 <<'PYEOF' &
import socket, sys, time
s = socket.socket()
s.bind((sys.argv[2], 0))
s.settimeout(30)
s.connect(("127.0.0.1", int(sys.argv[1])))
t0 = time.monotonic()
banner = s.recv(256)
print("BANNER", banner[:4].decode(errors="replace"), flush=True)
try:
    while s.recv(4096):
        pass
    print("EOF %.1f" % (time.monotonic() - t0), flush=True)
except OSError as e:
    print("CLOSED %.1f %s" % (time.monotonic() - t0, e), flush=True)
PYEOF
	HOLD_PID=$!
	track_bg "$HOLD_PID"
	for ((i = 0; i < 100; i++)); do
		grep -q BANNER "$T/hold.$1" 2>/dev/null && break
		sleep 0.1
	done
}

# monitor_of SOURCE: the pid of the connection process of SOURCE's latest connection (its log
# line "sandboxd[PID]: connection from SOURCE port ...").
monitor_of() {
	grep -o "sandboxd\[[0-9]*\]: connection from $1 port" "$T/server.log" | tail -n 1 |
		sed 's/^sandboxd\[\([0-9]*\)\].*/\1/'
}

hold 127.0.4.9
mon=$(monitor_of 127.0.4.9)
net=$(pgrep -P "$mon" | head -n 1)
assert_eq "$(ps -o user= -p "$net" 2>/dev/null | tr -d ' ')" "_sandboxd" "the held connection's network child runs as _sandboxd"
kill -SEGV "$net"
wait "$HOLD_PID" 2>/dev/null
assert_match "$(cat "$T/hold.127.0.4.9")" "EOF|CLOSED" "the client of the crashed network child is disconnected"
# The client sees EOF when the network child dies; the penalty comes when the listener reaps
# the monitor, which in a sanitizer build first checks for leaks.
wait_reaped
right 127.0.4.10
assert_refused_fast "a crash of the network child (SIGSEGV): its /24 is refused"
assert_match "$(cat "$T/server.log")" "network child killed by signal 11 before authentication" \
	"the monitor logs the network child's crash"
assert_eq "$(audit_count 'r["event"] == "source-penalised" and r["SANDBOX_BLOCK"] == "127.0.4.0/24" and r["SANDBOX_REASON"] == "crash"')" 1 \
	"audit: source-penalised for 127.0.4.0/24, reason crash"

hold 127.0.5.9
mon=$(monitor_of 127.0.5.9)
kill -SEGV "$mon"
wait "$HOLD_PID" 2>/dev/null
wait_reaped
right 127.0.5.9
assert_refused_fast "a crash of the monitor itself (SIGSEGV): its /24 is refused"
assert_eq "$(audit_count 'r["event"] == "source-penalised" and r["SANDBOX_BLOCK"] == "127.0.5.0/24" and r["SANDBOX_REASON"] == "crash"')" 1 \
	"audit: source-penalised for 127.0.5.0/24, reason crash"

# ---- after authentication, nothing is held against the source ----
ssh_pw_bg "$U" "$PW" -b 127.0.6.9 -- 'python3 -c "import time; print(1, flush=True); time.sleep(30)"'
for ((i = 0; i < 100; i++)); do
	[ -s "$T/bg.$BG_N.out" ] && break
	sleep 0.1
done
mon=$(monitor_of 127.0.6.9)
net=""
for p in $(pgrep -P "$mon"); do
	[ "$(ps -o user= -p "$p" | tr -d ' ')" = _sandboxd ] && net=$p
done
[ -n "$net" ] || fail "no network child of the authenticated connection"
kill -SEGV "$net"
stop_bg "$BG_PID"
right 127.0.6.9
assert_eq "$OUT" 42 "a crash after authentication earns the source nothing"
ctl penalties
assert_not_contains "$OUT" "127.0.6.0/24" "no penalty for the authenticated connection's block"

# ---- sandboxctl penalties --clear ----
ctl penalties --clear 10.1.2.3/8
assert_eq "$RC" 2 "penalties --clear with host bits set is a usage error"
assert_contains "$ERR" "did you mean 10.0.0.0/8" "penalties --clear: the message names the block meant"
ctl penalties --clear 127.0.4.77
assert_rc 0 "penalties --clear ADDRESS"
assert_contains "$OUT" "lifted 1 penalty" "an address lifts the penalty of its block"
right 127.0.4.9
assert_eq "$OUT" 42 "after --clear, 127.0.4.9 logs in"
ctl penalties --clear all
assert_rc 0 "penalties --clear all"
assert_match "$OUT" "lifted [0-9]+ penalt" "--clear all lifts the rest"
right 127.0.5.9
assert_eq "$OUT" 42 "after --clear all, 127.0.5.9 logs in"
ctl penalties
assert_contains "$OUT" "no source block has a penalty" "the table is empty"
assert_eq "$(audit_count 'r["event"] == "admin-action" and r["SANDBOX_ACTION"] == "penalty-clear" and r["SANDBOX_RESULT"] == "success"')" 2 \
	"audit: both --clear runs are admin actions"

echo "# penalties.sh ran for $(($(date +%s) - T_START)) s"
e2e_done
