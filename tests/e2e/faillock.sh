#!/bin/bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# Per-user lockout stays PAM's job: the pam_faillock lines documented (commented out) in the
# shipped data/pam/sandboxd, turned on as the comment says, lock the account after 3 failed
# logins, and pam_faillock's own message reaches a keyboard-interactive client through the
# daemon; a password client is refused without it; faillock --reset unlocks. The tally lives in
# $T/faillock (dir=), with an empty faillock.conf (conf=), so nothing global changes.
. "$(dirname "$0")/lib.sh"
e2e_init
command -v faillock >/dev/null || die "missing tool: faillock (libpam-modules-bin)"
make_user
CMD='python3 -c "print(6*7)"'
SHIPPED="$top_srcdir/data/pam/sandboxd"
mkdir -m 0700 "$T/faillock"
: >"$T/faillock.conf"

# The shipped file with its pam_faillock lines turned on: "@include common-auth" replaced by
# the commented auth lines, the commented account line uncommented; the module pointed at this
# test's tally and configuration.
opts="dir=$T/faillock conf=$T/faillock.conf deny=3 unlock_time=600"
sed -e '/^@include common-auth$/d' \
	-e 's/^#\(auth \+.*pam_\(faillock\|unix\|deny\)\.so.*\)$/\1/' \
	-e 's/^#\(account \+required \+pam_faillock\.so.*\)$/\1/' \
	-e "s|\(pam_faillock\.so[a-z ]*\)\$|\1 $opts|" \
	"$SHIPPED" >"$PAM_FILE"
echo "# the PAM service under test:"
grep -E "^(auth|account)" "$PAM_FILE" | sed 's/^/#   /'
assert_eq "$(grep -c 'pam_faillock.so' "$PAM_FILE")" "$(grep -c '^#.*pam_faillock.so' "$SHIPPED")" \
	"every documented pam_faillock line is turned on"
assert_eq "$(grep -c '^@include common-auth' "$PAM_FILE")" 0 "common-auth is replaced, as documented"

start_server KbdInteractiveAuthentication yes PasswordAuthentication yes

# kbd PASSWORD: one keyboard-interactive attempt answering every prompt with PASSWORD.
kbd() {
	ssh_askpass "$U" "$1" -o PreferredAuthentications=keyboard-interactive \
		-o NumberOfPasswordPrompts=1 -o LogLevel=INFO -- "$CMD"
}

kbd "$PW"
assert_eq "$OUT" 42 "before any failure, keyboard-interactive login works"
for i in 1 2 3; do
	kbd "wrong-$PW"
	assert_eq "$RC" 255 "wrong password $i is refused"
	assert_eq "$PROMPTS" 1 "wrong password $i: PAM asked for the password"
done
faillock --dir "$T/faillock" --user "$U" >"$T/tally" 2>&1
echo "# faillock says:"
sed 's/^/#   /' "$T/tally"
assert_eq "$(grep -cE '^[0-9]{4}-' "$T/tally")" 3 "pam_faillock counted 3 failures"

kbd "$PW"
assert_eq "$RC" 255 "locked: the right password is refused"
assert_eq "$OUT" "" "locked: nothing ran"
assert_eq "$PROMPTS" 0 "locked: not even asked for the password (preauth is requisite)"
assert_match "$ERR" "The account is locked due to 3 failed logins" \
	"locked: pam_faillock's message reaches the keyboard-interactive client"
assert_match "$ERR" "minutes? left to unlock" "locked: so does the time left"

ssh_pw "$U" "$PW" -o LogLevel=INFO -- "$CMD"
assert_ne "$RC" 0 "locked: the right password by the password method is refused too"
assert_eq "$OUT" "" "locked, password method: nothing ran"
assert_not_contains "$ERR" "locked" "password method: no message (a wrong password and a lock look alike)"

faillock --dir "$T/faillock" --user "$U" --reset
kbd "$PW"
assert_eq "$OUT" 42 "after faillock --reset, keyboard-interactive login works again"
assert_match "$(cat "$T/audit.jsonl")" "The account is locked due to 3 failed logins" \
	"the audit trail keeps PAM's message of the refused attempt"

e2e_done
