#!/bin/bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# Floods of connections that open and say nothing (200) or drip one byte a second (20), first
# from one source, then from 220 sources: while they hold, a student with the real ssh client
# logs in and runs a command within a few seconds. Afterwards the server log and the audit
# trail account for what was refused, evicted and cut, the flood sources that stayed until
# LoginGraceTime are penalised, the listener still serves, and nothing is left over.
#
# Why it holds, with the settings below:
# - one source: PerSourceMaxStartups 5 lets it hold 5 unauthenticated slots; its other
#   connections are closed before anything is forked for them, so MaxStartups (10:30:60) never
#   even reaches start and the student, from another block, is let in at once.
# - many sources (one connection each): MaxStartups drops at random from 10 pending and all
#   from 60, but a newcomer whose block holds fewer pending connections than the busiest block
#   makes that block give way instead (its oldest connection, among equals): the student's
#   block holds none, every flood block one, so the student is never the one dropped.
# - LoginGraceTime 15 ends every flood connection that is still there, drip or not (the
#   deadline runs from the connect), and grace-exceeded (20 s, above min 10 s) then refuses
#   those sources; the single source's 5 connections, closed by the flooder, earn noauth
#   (5 x 3 s, above min), so it is refused when it comes back.
. "$(dirname "$0")/lib.sh"
FLOODER="$top_srcdir/tests/e2e/flooder.py"
SANDBOXCTL=${SANDBOXCTL:-$top_builddir/sandboxctl}
e2e_init
[ -f "$FLOODER" ] || die "no flooder at $FLOODER"
make_user
T_START=$(date +%s)
CMD='python3 -c "print(6*7)"'
LIMIT_MS=10000

start_server LoginGraceTime 15 MaxStartups 10:30:60 PerSourceMaxStartups 5 \
	PerSourcePenalties "noauth:3s grace-exceeded:20s authfail:5s crash:30s min:10s max:60s"

# flood NAME FLOODER-ARGS...: starts the flooder in the background and waits until every
# connection is open; its report will be $T/NAME.json.
flood() {
	local name=$1 i
	shift
	"$PY" "$FLOODER" "$PORT" "$T/$name.json" "$@" >"$T/$name.out" 2>&1 &
	FLOOD_PID=$!
	track_bg "$FLOOD_PID"
	for ((i = 0; i < 600; i++)); do
		[ -s "$T/$name.json.ready" ] && return 0
		kill -0 "$FLOOD_PID" 2>/dev/null || break
		sleep 0.1
	done
	die "flooder $name did not get its connections open: $(cat "$T/$name.out")"
}

# summary NAME: counts of the flooder's report, one "key=value" a line.
summary() {
	"$PY" - "$T/$1.json" <<'PYEOF'
import json, sys
conns = json.load(open(sys.argv[1]))["connections"]
def n(f):
    return sum(1 for c in conns if f(c))
print("connections=%d" % len(conns))
print("connect_errors=%d" % n(lambda c: c["connect_error"]))
# Refused: closed by the server without its SSH banner (before anything was forked).
print("refused=%d" % n(lambda c: c["closed_after"] is not None and not c["banner"]))
print("refused_text=%s" % ",".join(sorted({c["text"] for c in conns if c["text"]})).replace(" ", "_"))
# Cut: had the banner, then the server closed it (evicted, or LoginGraceTime).
print("cut=%d" % n(lambda c: c["closed_after"] is not None and c["banner"]))
print("still_open=%d" % n(lambda c: c["closed_after"] is None and not c["connect_error"]))
cut = [c["closed_after"] for c in conns if c["closed_after"] is not None and c["banner"]]
late = [t for t in cut if t >= 14]
print("cut_by_grace=%d" % len(late))
print("cut_early=%d" % (len(cut) - len(late)))
drip = [c["closed_after"] for c in conns if c["kind"] == "drip" and c["banner"] and c["closed_after"] is not None]
print("drip_cut_max=%s" % (max(drip) if drip else "none"))
print("drip_cut=%d" % len(drip))
PYEOF
}

get() { printf '%s\n' "$1" | sed -n "s/^$2=//p"; }

student_login() { # WHAT
	ssh_pw "$U" "$PW" -o LogLevel=INFO -- "$CMD"
	echo "# $1: the student's login took $(ms_to_s "$ELAPSED") s (exit $RC)"
	assert_eq "$OUT" 42 "$1: the student logs in and runs a command"
	if [ "$ELAPSED" -le "$LIMIT_MS" ]; then
		ok "$1: within $((LIMIT_MS / 1000)) s ($(ms_to_s "$ELAPSED") s)"
	else
		fail "$1: the login took $(ms_to_s "$ELAPSED") s"
	fi
}

# audit_refusals REASON: refusals the trail accounts for with that SANDBOX_REASON (records plus
# their SANDBOX_SUPPRESSED counts).
audit_refusals() {
	"$PY" - "$T/audit.jsonl" "$1" <<'PYEOF'
import json, sys
n = 0
for line in open(sys.argv[1]):
    rec = json.loads(line)
    f = rec["fields"]
    if rec["event"] == "connection-refused" and f.get("SANDBOX_REASON") == sys.argv[2]:
        n += 1 + int(f.get("SANDBOX_SUPPRESSED", "0"))
print(n)
PYEOF
}

# ---- one source: 200 idle and 20 drip connections from 127.0.0.2 ----
t0=$(date +%s%N)
flood single --idle 200 --drip 20 --sources 127.0.0.2 --seconds 120
echo "# single-source flood: 220 connections open in $((($(date +%s%N) - t0) / 1000000)) ms"
student_login "single-source flood"
kill -TERM "$FLOOD_PID"
wait "$FLOOD_PID"
S=$(summary single)
echo "# single-source flood: $(echo $S)"
assert_eq "$(get "$S" connect_errors)" 0 "single-source flood: every connection was accepted by TCP"
assert_eq "$(get "$S" refused)" 215 "single-source flood: all but PerSourceMaxStartups (5) refused before the banner"
assert_eq "$(get "$S" still_open)" 5 "single-source flood: 5 held until the flooder let go"
assert_eq "$(get "$S" refused_text)" "Not_allowed_at_this_time" "single-source flood: refused with sshd's words"
# The rate limit's late record for the block is due 5 s after its first refusal.
while [ $((($(date +%s%N) - t0) / 1000000)) -lt 6500 ]; do sleep 0.2; done
n=$(audit_refusals PerSourceMaxStartups)
assert_eq "$n" 215 "single-source flood: the trail accounts for all 215 refusals"
records=$(grep -c '"SANDBOX_REASON":"PerSourceMaxStartups"' "$T/audit.jsonl")
echo "# single-source flood: $records connection-refused records for 215 refusals"
if [ "$records" -le 3 ]; then
	ok "single-source flood: rate-limited to $records records"
else
	fail "single-source flood: $records records for one block in a few seconds"
fi
# Its 5 held connections ended without trying: 5 x noauth 3 s is more than min.
for ((i = 0; i < 50; i++)); do
	grep -q "source block 127.0.0.2/32 penalised" "$T/server.log" && break
	sleep 0.1
done
assert_match "$(cat "$T/server.log")" "source block 127\.0\.0\.2/32 penalised: refused for [0-9]+s \(connections without attempting authentication" \
	"single-source flood: the flood source is penalised (noauth)"
ssh_pw "$U" "$PW" -b 127.0.0.2 -o LogLevel=INFO -- "$CMD"
assert_match "$ERR" "closed by remote host|reset by peer" "single-source flood: the flood source is refused when it comes back"

# ---- many sources: 200 idle from 127.0.1.1-200, 20 drip from 127.0.2.1-20 ----
t0=$(date +%s%N)
flood many --idle 200 --drip 20 --sources 127.0.1.1-127.0.1.200 --drip-sources 127.0.2.1-127.0.2.20 \
	--seconds 40
echo "# many-source flood: 220 connections open in $((($(date +%s%N) - t0) / 1000000)) ms"
student_login "many-source flood"
# The flooder is ready when the kernel has completed its handshakes; by the time the student is
# in, the listener has accepted them all.
pending=$(pgrep -P "$SERVER_PID" | wc -l)
echo "# many-source flood: $pending connection processes while the flood holds"
if [ "$pending" -le 70 ]; then
	ok "many-source flood: MaxStartups holds ($pending connection processes, full is 60)"
else
	fail "many-source flood: $pending connection processes (full is 60)"
fi
# The flooder holds what it has until LoginGraceTime (15 s) ends it.
wait "$FLOOD_PID"
S=$(summary many)
echo "# many-source flood: $(echo $S)"
assert_eq "$(get "$S" connect_errors)" 0 "many-source flood: every connection was accepted by TCP"
assert_eq "$(get "$S" still_open)" 0 "many-source flood: no flood connection outlived LoginGraceTime"
cut_by_grace=$(get "$S" cut_by_grace)
cut_early=$(get "$S" cut_early)
refused=$(get "$S" refused)
assert_eq "$((cut_by_grace + cut_early + refused))" 220 "many-source flood: every connection was refused or cut"
if [ "$cut_by_grace" -ge 20 ] && [ "$cut_by_grace" -le 62 ]; then
	ok "many-source flood: $cut_by_grace held a slot until LoginGraceTime"
else
	fail "many-source flood: $cut_by_grace cut by LoginGraceTime (want 20-62)"
fi
drip_max=$(get "$S" drip_cut_max)
if [ "$drip_max" = none ] || awk -v t="$drip_max" 'BEGIN { exit !(t < 20) }'; then
	ok "many-source flood: dripping a byte a second does not extend LoginGraceTime (last drip cut after ${drip_max} s)"
else
	fail "many-source flood: a drip connection lasted $drip_max s"
fi
echo "# many-source flood: evicted $cut_early, refused $refused, cut by LoginGraceTime $cut_by_grace"
if [ "$cut_early" -ge 100 ]; then
	ok "many-source flood: $cut_early flood connections evicted to make room (MaxStartups fairness)"
else
	fail "many-source flood: only $cut_early evicted"
fi
grace_logged=$(grep -cE "login grace time (of 15s )?ran out" "$T/server.log")
assert_eq "$grace_logged" "$cut_by_grace" "many-source flood: the server log names each LoginGraceTime cut"
penalised=$(grep -c '"event":"source-penalised".*"SANDBOX_REASON":"grace-exceeded"' "$T/audit.jsonl")
assert_eq "$penalised" "$cut_by_grace" "many-source flood: each source that stayed until LoginGraceTime is penalised"
# A source cut by LoginGraceTime is refused when it comes back.
src=$("$PY" -c 'import json, sys
for c in json.load(open(sys.argv[1]))["connections"]:
    if c["banner"] and c["closed_after"] and c["closed_after"] >= 14:
        print(c["source"]); break' "$T/many.json")
ssh_pw "$U" "$PW" -b "$src" -o LogLevel=INFO -- "$CMD"
assert_match "$ERR" "closed by remote host|reset by peer" "many-source flood: $src (grace-exceeded) is refused when it comes back"

# Every refusal and eviction is on the trail, one by one or counted (rate limit, untracked
# blocks): 215 + 2 comebacks + the many-source evictions and refusals.
accounted=$("$PY" - "$T/audit.jsonl" <<'PYEOF'
import json, sys
n = records = 0
for line in open(sys.argv[1]):
    rec = json.loads(line)
    f = rec["fields"]
    if rec["event"] == "connection-refused":
        records += 1
        n += 1 + int(f.get("SANDBOX_SUPPRESSED", "0"))
    elif rec["event"] == "events-suppressed" and f.get("SANDBOX_SUPPRESSED_EVENT") == "connection-refused":
        n += int(f["SANDBOX_COUNT"])
print(n, records)
PYEOF
)
set -- $accounted
echo "# audit: $2 connection-refused records account for $1 refusals and evictions"
assert_eq "$1" "$((215 + 2 + cut_early + refused))" "the trail accounts for every refusal and eviction"

# The listener is healthy: the student logs in again, sandboxctl reaches it, no connection
# process is left of the flood.
student_login "after the floods"
"$SANDBOXCTL" --config "$CONF" penalties >"$T/pen.out" 2>&1
assert_match "$(cat "$T/pen.out")" "refused +grace-exceeded" "sandboxctl penalties lists the grace-exceeded sources"
left=$(server_children_left)
assert_eq "$left" "" "no connection process of the floods is left"

echo "# flood.sh ran for $(($(date +%s) - T_START)) s"
e2e_done
