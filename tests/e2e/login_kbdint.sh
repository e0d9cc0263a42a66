#!/bin/bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# keyboard-interactive: PAM's own conversation (pam_unix's "Password: " prompt) reaches the
# client, and the answer goes back to PAM.
. "$(dirname "$0")/lib.sh"
e2e_init
make_user
start_server PasswordAuthentication no KbdInteractiveAuthentication yes

ssh_kbd "$U" "$PW" 'python3 -c "print(6*7)"'
assert_rc 0 "keyboard-interactive login runs a command"
assert_eq "$OUT" 42 "keyboard-interactive: command output"

# The prompt the client shows is PAM's (pam_unix asks "Password: "); askpass records it.
ssh_askpass "$U" "$PW" -o PreferredAuthentications=keyboard-interactive -- 'python3 -c "print(6*7)"'
assert_rc 0 "keyboard-interactive through askpass"
assert_eq "$PROMPTS" 1 "keyboard-interactive: one PAM prompt"
assert_contains "$(cat "$T/askpass.prompts")" "Password:" "the client shows PAM's prompt text"

# A wrong answer: the client is asked again (the conversation is PAM's, rounds are the server's).
ssh_askpass "$U" "wrong-$PW" -o PreferredAuthentications=keyboard-interactive \
	-o NumberOfPasswordPrompts=2 -- 'python3 -c "print(6*7)"'
assert_eq "$RC" 255 "keyboard-interactive with a wrong password is refused"
assert_eq "$OUT" "" "keyboard-interactive with a wrong password runs nothing"
assert_contains "$ERR" "Permission denied" "keyboard-interactive refusal: the client says so"

# Password authentication is off here: the server must not offer or accept it.
ssh_pw "$U" "$PW" 'python3 -c "print(6*7)"'
assert_ne "$RC" 0 "PasswordAuthentication no: password method refused"
assert_eq "$OUT" "" "PasswordAuthentication no: nothing ran"
methods=$(sed -n 's/.*Permission denied (\(.*\))\..*/\1/p' <<<"$ERR")
assert_ne "$methods" "" "PasswordAuthentication no: refused at authentication"
if [[ ",$methods," != *,password,* ]]; then
	ok "PasswordAuthentication no: password is not among the offered methods ($methods)"
else
	fail "PasswordAuthentication no: the server still offers password ($methods)"
fi

E2E_INETD=1 ssh_kbd "$U" "$PW" 'python3 -c "print(6*7)"'
assert_eq "$OUT" 42 "keyboard-interactive in -i mode"

e2e_done
