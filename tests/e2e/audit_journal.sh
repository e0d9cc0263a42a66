#!/bin/bash
# The journal sink: records sent with MESSAGE_ID and SANDBOX_* fields are found by
# `sandboxctl audit --journal` (sd_journal matches) and by journalctl; losing the journal socket
# loses no file record. Root; starts a standalone systemd-journald when none runs (as
# `./quickstart check` does) and skips (77) only when that is impossible.
set -u
export LC_ALL=C
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
CTL=${SANDBOXCTL:-$top_builddir/sandboxctl}
WRITER=$top_builddir/tests/unit/audit-writer
FAILED=0
COUNT=0
ok() { COUNT=$((COUNT + 1)); echo "ok - $*"; }
fail() { COUNT=$((COUNT + 1)); FAILED=$((FAILED + 1)); echo "not ok - $*"; }
assert_eq() { if [ "$1" == "$2" ]; then ok "$3"; else fail "$3: expected '$2', got '$1'"; fi; }
# In CI (CI=true: root, namespaces, cgroups, journald all present) nothing may skip: what would
# be a skip elsewhere is a hard error there (automake's exit 99).
skip() {
	if [ -n "${CI:-}" ]; then echo "ERROR (CI must not skip): $*"; exit 99; fi
	echo "SKIP: $*"
	exit 77
}

[ "$(id -u)" -eq 0 ] || skip "needs root (journald, a mount namespace)"
command -v journalctl >/dev/null || skip "journalctl missing (package systemd)"

# The kernel truncates the name to "systemd-journal"; a zombie does not count.
journald_running() {
	ps -o stat= -C systemd-journal 2>/dev/null | awk '$1 !~ /^Z/ { up = 1 } END { exit !up }'
}
if ! journald_running; then
	[ -x /lib/systemd/systemd-journald ] || skip "no journald running and /lib/systemd/systemd-journald missing"
	mkdir -p /run/systemd/journal
	# Like quickstart: it outlives the test (other tests may log to it too).
	setsid /lib/systemd/systemd-journald </dev/null >/dev/null 2>&1 &
	for _ in $(seq 50); do
		[ -S /run/systemd/journal/socket ] && journald_running && break
		sleep 0.1
	done
	journald_running && [ -S /run/systemd/journal/socket ] ||
		skip "could not start systemd-journald"
	echo "# started a standalone systemd-journald"
fi

T=$(mktemp -d /tmp/audit_journal.XXXXXX)
trap 'rm -rf "$T"' EXIT
S="e2e-$$-$RANDOM"
U="auditj$$"
SESSION_START_ID=06a71a07cbee497fbfc1125373bdce52
EXEC_ID=901bd4f481f546f084569ede2a606f7f

"$WRITER" --journal --file "$T/audit.jsonl" --procs 3 --count 2 session-start SANDBOX_USER="$U" \
	SANDBOX_SESSION="$S" "SANDBOX_LIMITS=memory=512M(user) pids=64(default)"
assert_eq "$?" 0 "3 processes sent 6 session-start records to both sinks"
"$WRITER" --journal exec SANDBOX_USER="$U" SANDBOX_SESSION="$S" SANDBOX_KIND=exec \
	"SANDBOX_COMMAND=$(printf 'run \033[2Jx.py\nfake line')"
assert_eq "$?" 0 "a hostile exec record sent"
"$WRITER" --journal exec SANDBOX_USER=someoneelse SANDBOX_SESSION="$S-other" SANDBOX_KIND=shell

# journald stores asynchronously.
N=0
for _ in $(seq 50); do
	N=$("$CTL" audit --journal --session "$S" | wc -l)
	[ "$N" -ge 7 ] && break
	sleep 0.2
done
assert_eq "$N" 7 "sandboxctl audit --journal --session finds the 7 records"
OUT=$("$CTL" audit --journal --session "$S")
assert_eq "$(printf '%s\n' "$OUT" | grep -c " session-start user=$U session=$S limits=\"memory=512M(user) pids=64(default)\" writer=")" 6 \
	"session-start lines carry user, session and limits"
if printf '%s' "$OUT" | grep -qP '\x1b'; then fail "raw ESC in journal human output"; else ok "no raw ESC in journal human output"; fi
assert_eq "$(printf '%s\n' "$OUT" | grep -c 'command="run \\x1b\[2Jx.py\\x0afake line"')" 1 \
	"the hostile command is escaped on one line"
assert_eq "$("$CTL" audit --journal --session "$S" --event exec | wc -l)" 1 "--journal --event exec"
assert_eq "$("$CTL" audit --journal --user "$U" --since -1h | wc -l)" 7 "--journal --user --since -1h"
assert_eq "$("$CTL" audit --journal --user "$U" --since 2099-01-01 | wc -l)" 0 "--journal --since in the future"
assert_eq "$("$CTL" audit --journal --session "$S" --json | grep -c '"SANDBOX_SESSION":"'"$S"'"')" 7 \
	"--journal --json"
assert_eq "$(journalctl --no-pager -o cat MESSAGE_ID=$SESSION_START_ID SANDBOX_SESSION="$S" | wc -l)" 6 \
	"journalctl MESSAGE_ID=<session-start> finds them"
assert_eq "$(journalctl --no-pager -o cat MESSAGE_ID=$EXEC_ID SANDBOX_SESSION="$S" | wc -l)" 1 \
	"journalctl MESSAGE_ID=<exec> finds the exec"
assert_eq "$(journalctl --no-pager -o export MESSAGE_ID=$SESSION_START_ID SANDBOX_SESSION="$S" | grep -c '^SANDBOX_EVENT=session-start$')" 6 \
	"SANDBOX_EVENT is set"
assert_eq "$("$CTL" audit --file "$T/audit.jsonl" --session "$S" | wc -l)" 6 "the file sink got them too"

# Without a journal socket the file still gets every record; the errors are counted.
unshare -m bash -c "mount -t tmpfs none /run/systemd/journal &&
	'$WRITER' --journal --allow-journal-errors --file '$T/nojournal.jsonl' --procs 2 --count 5 \
		limit-hit SANDBOX_SESSION=x SANDBOX_LIMIT=oom" 2>"$T/err"
assert_eq "$?" 0 "writer survives a missing journal socket"
assert_eq "$(grep -c 'journal_errors=5' "$T/err")" 2 "journal errors are counted ($(head -c 200 "$T/err"))"
OUT=$("$CTL" audit --verify --file "$T/nojournal.jsonl" 2>&1)
assert_eq "$OUT" "10 records, chain intact" "every file record is there"

echo "1..$COUNT"
[ "$FAILED" -eq 0 ]
