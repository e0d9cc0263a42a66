#!/bin/bash
# The audit file: 20 processes writing at once keep one intact chain; sandboxctl audit reads,
# filters, follows across a rotation, escapes hostile values, and --verify names an edited or a
# deleted line. Needs no privileges and no server.
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

T=$(mktemp -d /tmp/audit_file.XXXXXX)
FOLLOW_PID=""
cleanup() {
	[ -n "$FOLLOW_PID" ] && kill "$FOLLOW_PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
F=$T/log/audit.jsonl

"$WRITER" --file "$F" --procs 20 --count 10 exec SANDBOX_USER=user%i SANDBOX_SESSION=s%i \
	SANDBOX_KIND=exec "SANDBOX_COMMAND=run hw%n.py"
assert_eq "$?" 0 "20 processes wrote 10 records each"
assert_eq "$(wc -l <"$F")" 200 "200 lines in the file"
assert_eq "$(stat -c %a "$F")" 640 "the file is mode 0640"
assert_eq "$("$CTL" audit --file "$F" --json | wc -l)" 200 "200 records read back"
assert_eq "$("$CTL" audit --file "$F" | wc -l)" 200 "200 human lines"
OUT=$("$CTL" audit --verify --file "$F" 2>&1)
RC=$?
assert_eq "$RC:$OUT" "0:200 records, chain intact" "--verify: chain intact"
assert_eq "$(seq 1 200 | tr '\n' ' ')" "$(grep -o '"seq":[0-9]*' "$F" | cut -d: -f2 | tr '\n' ' ')" \
	"seq runs 1..200 in file order"
for i in 0 7 19; do
	assert_eq "$("$CTL" audit --file "$F" --user "user$i" | grep -c " user=user$i session=s$i ")" 10 \
		"--user user$i finds its 10 records"
done
assert_eq "$("$CTL" audit --file "$F" --session s3 | wc -l)" 10 "--session s3"

# A hostile file name: escape sequences and a newline must not reach the terminal.
"$WRITER" --file "$F" file-op SANDBOX_USER=eve SANDBOX_SESSION=s99 SANDBOX_OP=upload \
	"SANDBOX_PATH=$(printf 'evil\033[2J\033]0;owned\007\nuser=root session=s1 fake.py')"
OUT=$("$CTL" audit --file "$F" --event file-op)
assert_eq "$(printf '%s\n' "$OUT" | wc -l)" 1 "--event file-op: one line, the newline did not fake a second"
if printf '%s' "$OUT" | grep -qP '[\x00-\x08\x0b-\x1f\x7f]'; then
	fail "human output carries raw control bytes: $(printf '%s' "$OUT" | od -c | head -3)"
else
	ok "human output has no raw ESC/BEL/control byte"
fi
case "$OUT" in
*' user=eve session=s99 op=upload path="evil\x1b[2J\x1b]0;owned\x07\x0auser\x3droot session\x3ds1 fake.py" writer=0'*)
	fail "unexpected quoting: $OUT" ;;
*' user=eve session=s99 op=upload path="evil\x1b[2J\x1b]0;owned\x07\x0auser=root session=s1 fake.py" writer=0') ok "hostile path escaped and quoted" ;;
*) fail "unexpected human line: $OUT" ;;
esac
if "$CTL" audit --file "$F" --json --event file-op | grep -qP '[\x00-\x1f\x7f-\xff]'; then
	fail "--json output carries raw control bytes"
else
	ok "--json output is printable ASCII"
fi
assert_eq "$(grep -cP '\x1b' "$F")" 0 "no raw ESC byte in the file either"

# Time filters.
assert_eq "$("$CTL" audit --file "$F" --since -1h | wc -l)" 201 "--since -1h"
assert_eq "$("$CTL" audit --file "$F" --since today | wc -l)" 201 "--since today"
assert_eq "$("$CTL" audit --file "$F" --since 2099-01-01 | wc -l)" 0 "--since in the future"
assert_eq "$("$CTL" audit --file "$F" --until 2000-01-01T00:00:00Z | wc -l)" 0 "--until in the past"
assert_eq "$("$CTL" audit --file "$F" --since -1h --until now --event exec --user user3 | wc -l)" 10 \
	"filters combine"

# Tampering.
cp "$F" "$T/edited"
sed -i '17s/hw/HW/' "$T/edited"
OUT=$("$CTL" audit --verify --file "$T/edited" 2>&1)
RC=$?
assert_eq "$RC:$OUT" "1:sandboxctl: line 17: hash mismatch (record edited?)" "--verify names the edited line"
sed '50d' "$F" >"$T/deleted"
OUT=$("$CTL" audit --verify --file "$T/deleted" 2>&1)
RC=$?
assert_eq "$RC:$OUT" "1:sandboxctl: line 50: chain broken: prev does not match line 49" \
	"--verify names the line after a deleted one"
sed '1d' "$F" >"$T/head-removed"
OUT=$("$CTL" audit --verify --file "$T/head-removed" 2>&1)
assert_eq "$?" 1 "--verify fails when the first line is removed ($OUT)"

# Usage errors exit 2.
"$CTL" audit --file "$F" --event no-such-event >/dev/null 2>&1
assert_eq "$?" 2 "unknown event is a usage error"
"$CTL" audit --file "$F" --since sometime >/dev/null 2>&1
assert_eq "$?" 2 "bad time is a usage error"
"$CTL" audit --verify --user x --file "$F" >/dev/null 2>&1
assert_eq "$?" 2 "--verify with a filter is a usage error"
"$CTL" audit --file "$T/missing" >/dev/null 2>&1
assert_eq "$?" 1 "a missing file fails with 1"

# Follow, across a logrotate-style rename.
"$CTL" audit --file "$F" -f --event daemon-reload >"$T/follow.out" 2>&1 &
FOLLOW_PID=$!
sleep 0.5
"$WRITER" --file "$F" --count 3 daemon-reload SANDBOX_PID=1
mv "$F" "$F.1"
"$WRITER" --file "$F" --count 2 daemon-reload SANDBOX_PID=2
for _ in $(seq 50); do
	[ "$(wc -l <"$T/follow.out")" -ge 5 ] && break
	sleep 0.1
done
kill "$FOLLOW_PID" 2>/dev/null
wait "$FOLLOW_PID" 2>/dev/null
FOLLOW_PID=""
assert_eq "$(grep -c 'daemon-reload' "$T/follow.out")" 5 "-f followed 5 records across the rotation"
OUT=$("$CTL" audit --verify --file "$F.1" --file "$F" 2>&1)
assert_eq "$?:$OUT" "0:206 records, chain intact" "the rotated pair verifies as one chain"
assert_eq "$(grep -c '"prev":"rotated:' "$F")" 1 "the new file starts with a rotated: segment"
OUT=$("$CTL" audit --verify --file "$F" 2>&1)
assert_eq "$?" 0 "the new file alone verifies ($OUT)"

echo "1..$COUNT"
[ "$FAILED" -eq 0 ]
