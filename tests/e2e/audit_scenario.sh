#!/bin/bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# The audit trail of one scripted afternoon, through the real server: a failed login, a login,
# an upload, a run, a denied network call, a memory-limit kill, an admin's limit change and a
# logout yield exactly the expected records in both sinks (the JSON-lines file and journald),
# and `sandboxctl audit` finds them by user, session and event.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/runner/helpers.sh"
e2e_init
SANDBOXCTL=${SANDBOXCTL:-$top_builddir/sandboxctl}

journald_running() { pgrep -x systemd-journal >/dev/null || pgrep -f /lib/systemd/systemd-journald >/dev/null; }
if ! journald_running || [ ! -S /run/systemd/journal/socket ]; then
	mkdir -p /run/systemd/journal
	setsid /lib/systemd/systemd-journald </dev/null >/dev/null 2>&1 &
	for ((i = 0; i < 50; i++)); do
		[ -S /run/systemd/journal/socket ] && break
		sleep 0.1
	done
fi
[ -S /run/systemd/journal/socket ] && ok "journald is running" || fail "journald could not be started"

make_user
start_server AuditJournal yes
ctl() { "$SANDBOXCTL" --config "$CONF" "$@"; }

# 1. A failed login.
ssh_pw "$U" "wrong-$PW" 'python3 -c "print(1)"'
assert_contains "$ERR" "Permission denied" "a wrong password is refused"
# 2-6. One session: upload, run, a denied network call, a memory-limit kill.
printf 'print("hello from hw1")\n' >"$T/hw1.py"
upload "$T/hw1.py" "hw1.py"
assert_rc 0 "the upload worked"
ssh_pw "$U" "$PW" 'run hw1.py'
assert_eq "$OUT" "hello from hw1" "the uploaded script runs"
py 'import socket
try:
    socket.create_connection(("192.0.2.1", 80), timeout=1)
except PermissionError as e:
    print("denied")'
assert_eq "$OUT" "denied" "a network call is denied"
if ctl quota set "$U" memory=64M >/dev/null; then ok "the admin lowers the memory limit"; else fail "sandboxctl quota set"; fi
py 'x = b"x" * (200 << 20)'
assert_contains "$ERR" "memory limit 64 MiB" "a memory bomb is killed at the new limit"

sleep 1 # the last monitor writes its session end after the client is gone
FILE="$T/audit.jsonl"
events=$(/usr/bin/python3.11 - "$FILE" "$U" <<'PY'
import json, sys
path, user = sys.argv[1], sys.argv[2]
for line in open(path, encoding="ascii"):
    r = json.loads(line)
    f = r["fields"]
    if f.get("SANDBOX_USER") == user or f.get("SANDBOX_TARGET") == user:
        extra = f.get("SANDBOX_OP") or f.get("SANDBOX_RESULT") or f.get("SANDBOX_LIMIT") or f.get("SANDBOX_KIND") or f.get("SANDBOX_ACTION") or ""
        print(r["event"], extra)
PY
)
echo "$events" | sed 's/^/#   /'
expect_event() { # "EVENT EXTRA" WHAT
	if grep -qx "$1" <<<"$events"; then ok "$2"; else fail "$2: no '$1' record"; fi
}
expect_event "auth-attempt failure" "the failed login is on the trail"
expect_event "auth-attempt success" "the successful login is on the trail"
expect_event "session-start " "the session start is on the trail"
expect_event "file-op upload" "the upload is on the trail"
expect_event "exec exec" "each command is on the trail"
expect_event "runner-report " "the denied network call, as reported by the runner"
expect_event "limit-hit oom" "the memory-limit kill, from the kernel's evidence"
expect_event "session-report oom" "the session report names the limit that fired"
expect_event "admin-action success" "the admin's limit change is on the trail"
if grep -q '"SANDBOX_PASSWORD\|wrong-'"$PW" "$FILE"; then fail "a password reached the trail"; else ok "no password on the trail"; fi
CHANGE=$(ctl audit --file "$FILE" --event admin-action --json | grep quota-set)
assert_contains "$CHANGE" '"SANDBOX_OLD":"memory=unset"' "the admin change records the old value"
assert_contains "$CHANGE" '"SANDBOX_NEW":"memory=64M"' "the admin change records the new value"
REPORT=$(ctl audit --file "$FILE" --event runner-report --json | head -1)
assert_contains "$REPORT" '"SANDBOX_UNTRUSTED":"1"' "what the runner reported is marked untrusted"

# Filters.
SESSION=$(/usr/bin/python3.11 -c '
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["event"] == "limit-hit": print(r["fields"]["SANDBOX_SESSION"])' "$FILE" | tail -1)
BY_SESSION=$(ctl audit --file "$FILE" --session "$SESSION")
assert_contains "$BY_SESSION" "limit-hit" "--session finds the session's records"
assert_not_contains "$BY_SESSION" "admin-action" "--session leaves out other records"
BY_USER=$(ctl audit --file "$FILE" --user "$U" --event auth-attempt --since -1h)
assert_eq "$(grep -c auth-attempt <<<"$BY_USER")" "$(grep -c '^auth-attempt' <<<"$events")" "--user, --event and --since find every login attempt"
VERIFY=$(ctl audit --file "$FILE" --verify 2>&1)
assert_contains "$VERIFY" "chain intact" "the file's hash chain verifies"

# The same records in the journal.
for ((i = 0; i < 30; i++)); do
	J=$(ctl audit --journal --session "$SESSION" 2>&1)
	grep -q "limit-hit" <<<"$J" && break
	sleep 0.2
done
assert_contains "$J" "limit-hit" "journald has the memory-limit record of the session"
assert_contains "$J" "session-report" "journald has the session report"
JCOUNT=$(journalctl --no-pager -o cat SANDBOX_SESSION="$SESSION" 2>/dev/null | wc -l)
FCOUNT=$(ctl audit --file "$FILE" --session "$SESSION" | wc -l)
assert_eq "$JCOUNT" "$FCOUNT" "journald and the file hold the same number of records for the session"

e2e_done
