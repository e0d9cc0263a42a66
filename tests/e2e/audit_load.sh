#!/bin/bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# 200 concurrent sessions write to one audit trail: every record written is read back, the chain
# holds, and one student flooding denials is summarised without pushing out anyone's records.
. "$(dirname "$0")/lib.sh"
e2e_init
SANDBOXCTL=${SANDBOXCTL:-$top_builddir/sandboxctl}
USERS=40
PER_USER=5
DENIALS=3
start_server MaxStartups 400:30:500 LoginGraceTime 300
ctl() { "$SANDBOXCTL" --config "$CONF" "$@"; }
declare -a NAMES PWS
for ((u = 0; u < USERS; u++)); do
	make_user
	NAMES[u]=$U
	PWS[u]=$PW
done
make_user
FLOODER=$U
FLOODER_PW=$PW
ctl quota set default sessions=10 >/dev/null || fail "quota set default sessions=10"

CODE="import socket
for i in range($DENIALS):
    try: socket.socket()
    except PermissionError: pass
print('done')"
CMD="python3 -c \"import base64; exec(base64.b64decode('$(printf '%s' "$CODE" | base64 -w0)'))\""
FLOOD="python3 -c \"import base64; exec(base64.b64decode('$(printf '%s' "import socket
for i in range(3000):
    try: socket.socket()
    except PermissionError: pass
print('done')" | base64 -w0)'))\""

E2E_SSH_TIMEOUT=180
ssh_pw_bg "$FLOODER" "$FLOODER_PW" "$FLOOD"
first=$BG_N
for ((u = 0; u < USERS; u++)); do
	for ((k = 0; k < PER_USER; k++)); do
		ssh_pw_bg "${NAMES[u]}" "${PWS[u]}" -o LogLevel=INFO -- "$CMD"
	done
done
last=$BG_N
wait "${E2E_BG_PIDS[@]}" 2>/dev/null
# A login lost in the burst (seen once in a few CI runs: the client ended with no output; the
# cause is not known yet) is said plainly and tried once more, so the trail checks below still
# see every student's records.
retried=0
for ((n = first + 1; n <= last; n++)); do
	grep -qx done "$T/bg.$n.out" 2>/dev/null && continue
	u=$(((n - first - 1) / PER_USER))
	echo "# session $n of ${NAMES[u]} did not run: $(head -c 300 "$T/bg.$n.err" 2>/dev/null)"
	retried=$((retried + 1))
	ssh_pw "${NAMES[u]}" "${PWS[u]}" -o LogLevel=INFO -- "$CMD"
	printf '%s\n' "$OUT" >"$T/bg.$n.out"
	printf '%s\n' "$ERR" >"$T/bg.$n.err"
done
done_count=$(cat "$T"/bg.*.out 2>/dev/null | grep -c '^done$')
assert_eq "$done_count" "$((USERS * PER_USER + 1))" "all $((USERS * PER_USER)) sessions and the flooder ran to the end"
if [ "$retried" -le 2 ]; then ok "$retried of $((USERS * PER_USER)) logins needed a second try"; else fail "$retried logins were lost"; fi

sleep 1
FILE="$T/audit.jsonl"
written=$(wc -l <"$FILE")
read_back=$(ctl audit --file "$FILE" | wc -l)
assert_eq "$read_back" "$written" "every record written ($written) is read back"
VERIFY=$(ctl audit --file "$FILE" --verify 2>&1)
assert_contains "$VERIFY" "chain intact" "the chain holds with $((USERS * PER_USER + 1)) sessions writing at once"

counts=$(/usr/bin/python3.11 - "$FILE" "$FLOODER" <<'PY'
import json, sys, collections
path, flooder = sys.argv[1], sys.argv[2]
per_session = collections.Counter()
flood = suppressed = 0
sessions = set()
for line in open(path):
    r = json.loads(line)
    f = r["fields"]
    if r["event"] == "session-start" and f["SANDBOX_USER"] != flooder:
        sessions.add(f["SANDBOX_SESSION"])
    if r["event"] == "runner-report":
        if f["SANDBOX_USER"] == flooder:
            flood += 1
            # The runner summarises first; the trail's writer summarises what still floods.
            if '"sandbox.suppressed"' in f.get("SANDBOX_REPORT", ""):
                suppressed += json.loads(f["SANDBOX_REPORT"]).get("suppressed", 0)
        else:
            per_session[f["SANDBOX_SESSION"]] += 1
    if r["event"] == "events-suppressed":
        suppressed += int(f.get("SANDBOX_COUNT", "0") or 0)
complete = sum(1 for s in sessions if per_session[s] >= 3)
print(len(sessions), complete, flood, suppressed)
PY
)
read -r n_sessions complete flood suppressed <<<"$counts"
if [ "$n_sessions" -ge "$((USERS * PER_USER))" ]; then ok "every session started is on the trail ($n_sessions)"; else
	fail "only $n_sessions sessions on the trail"
fi
if [ "$complete" -ge "$((USERS * PER_USER))" ]; then ok "every student's denials are on the trail, none pushed out by the flood"; else
	fail "only $complete sessions have all their denials on the trail"
fi
if [ "$flood" -lt 500 ]; then ok "the flood was cut to $flood records"; else fail "the flood wrote $flood records"; fi
if [ "$suppressed" -gt 0 ]; then ok "the flood is summarised ($suppressed similar events suppressed)"; else fail "no suppression summary for the flood"; fi

e2e_done
