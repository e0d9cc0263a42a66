#!/bin/bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# Password authentication through PAM (pam_unix, a throwaway user), over TCP and in -i mode.
. "$(dirname "$0")/lib.sh"
e2e_init
make_user
start_server PasswordAuthentication yes KbdInteractiveAuthentication no

ssh_pw "$U" "$PW" 'python3 -c "print(6*7)"'
assert_rc 0 "password login runs a command"
assert_eq "$OUT" 42 "password login: command output"
assert_eq "$ERR" "" "password login: nothing on stderr"

ssh_pw "$U" "$PW" 'python3 -c "import os, pwd; print(pwd.getpwuid(os.getuid()).pw_name)"'
assert_eq "$OUT" "$U" "the command runs as the user who logged in"

E2E_INETD=1 ssh_pw "$U" "$PW" 'python3 -c "print(6*7)"'
assert_rc 0 "password login in -i mode (ProxyCommand)"
assert_eq "$OUT" 42 "-i mode: command output"

E2E_INETD=1 ssh_pw "$U" "wrong-$PW" 'python3 -c "print(6*7)"'
assert_eq "$RC" 5 "-i mode: a wrong password is refused (sshpass is asked again)"
assert_eq "$OUT" "" "-i mode: a wrong password runs nothing"

e2e_done
