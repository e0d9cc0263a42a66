#!/bin/bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# Session recording: a course with record=yes gets its terminal sessions kept as asciicast v2,
# the student is told, and `sandboxctl replay` gives back exactly what the client saw.
. "$(dirname "$0")/lib.sh"
e2e_init
SANDBOXCTL=${SANDBOXCTL:-$top_builddir/sandboxctl}
make_user
start_server StateDirectory "$T/state"
ctl() { "$SANDBOXCTL" --config "$CONF" "$@"; }

# Not recorded by default.
ssh_pw "$U" "$PW" -tt -- 'python3 -c "print(\"not kept\")"'
assert_eq "$(ls "$T/state/recordings" 2>/dev/null | wc -l)" "0" "nothing is recorded unless policy says so"

if ctl quota set "$U" record=yes >/dev/null; then ok "recording switched on for the user"; else fail "quota set record=yes"; fi
ssh_pw "$U" "$PW" -tt -- 'python3 -c "import os
for i in range(3): print(\"line\", i, \"\\u00e9\\u4e16\")
print(os.environ.get(\"SANDBOX_RECORDED\"), \"recorded\" in os.environ[\"SANDBOX_LIMITS\"])"'
assert_rc 0 "the recorded session runs"
printf '%s' "$OUT" >"$T/seen"
assert_contains "$(tr -d '\r' <"$T/seen")" "1 True" "the student is told the terminal is recorded"
CAST=$(ls "$T"/state/recordings/*.cast 2>/dev/null | head -1)
if [ -n "$CAST" ]; then ok "an asciicast was written ($(basename "$CAST"))"; else fail "no recording"; fi
assert_eq "$(stat -c %a "$CAST")" "600" "the recording is readable by root only"
assert_eq "$(head -c 12 "$CAST")" '{"version": ' "it is asciicast v2"
SID=$(basename "$CAST" | cut -d- -f1)
ctl replay "$SID" --no-wait >"$T/replayed"
# $OUT lost its trailing newline to the shell; compare what the client printed byte for byte.
cmp <(cat "$T/seen") <(head -c "$(stat -c %s "$T/seen")" "$T/replayed") &&
	ok "the recording replays to exactly what the client saw" ||
	fail "replay differs: $(od -c "$T/replayed" | head -5 | tr '\n' ' ')"
ssh_pw "$U" "$PW" 'python3 -c "print(\"no terminal\")"'
assert_eq "$(ls "$T"/state/recordings/*.cast | wc -l)" "1" "sessions without a terminal (scripts, file transfer) are not recorded"

e2e_done
