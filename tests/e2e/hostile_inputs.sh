#!/bin/bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# Oversized and malformed input from a real OpenSSH client: user names, passwords, commands,
# subsystem names, environment variables, terminal types and sizes. Each is refused (or
# clamped) with a clear answer, the connection or the server carries on, and nothing is lost.
. "$(dirname "$0")/lib.sh"
e2e_init
make_user
make_user_key
start_server MaxAuthTries 6

CMD='python3 -c "print(6*7)"'
long() { head -c "$2" /dev/zero | tr '\0' "$1"; } # CHAR COUNT

# ---- user names ----
for name in "$(long u 300)" "$(long u 65)" "bad name" ".hidden" 'a$b' "caf$(printf '\303\251')"; do
	run_ssh sshpass -p "$PW" --- "$name" -o PreferredAuthentications=password \
		-o PubkeyAuthentication=no -o NumberOfPasswordPrompts=1 --- "$CMD"
	shown=$(printf '%s' "$name" | head -c 20)
	assert_eq "$RC" 255 "user name '$shown…' (${#name} bytes): refused"
	assert_contains "$ERR" "Permission denied" "user name '$shown…': the client hears Permission denied, as for an unknown user"
done
grep -q 'invalid user name "uuuu' "$T/server.log" &&
	ok "the server log names the invalid user, escaped and cut short" ||
	fail "no 'invalid user name' line in the server log"
assert_eq "$(grep -c '"SANDBOX_USER":"(invalid)"' "$T/audit.jsonl" 2>/dev/null || true)" 6 \
	"each attempt is on the audit trail as user (invalid), never the raw bytes"
ssh_pw "$U" "$PW" "$CMD"
assert_eq "$OUT" 42 "a valid login still works after the invalid names"

# A valid user name after an invalid one on the same connection is refused: the name is fixed
# by the first attempt, as in OpenSSH (the client cannot send that; the unit tests cover it).

# ---- passwords ----
# The client sends at most 1023 bytes of a typed password; PAM takes at most 512.
ssh_askpass "$U" "$(long p 1000)" -o PreferredAuthentications=password -o NumberOfPasswordPrompts=2 -- "$CMD"
assert_eq "$RC" 255 "a 1000-byte password is refused"
assert_eq "$PROMPTS" 2 "after an oversized password the connection goes on (asked again)"
assert_contains "$ERR" "Permission denied" "an oversized password: Permission denied"
grep -q "password too long" "$T/server.log" && ok "the log says the password was too long" ||
	fail "no 'password too long' in the server log"

# ---- exec commands ----
pad=$(long a 16000)
ssh_key "$U" "$KEY" "python3 -c 'print(len(\"$pad\"))'"
assert_eq "$OUT" 16000 "a command of about 16 KB runs"
cmd=$(printf "python3 -c 'print(len(\"%s\"))'" "$(long b 20000)")
ssh_key "$U" "$KEY" "$cmd"
assert_eq "$RC" 1 "a 20 KB command is refused (exit status 1)"
assert_contains "$ERR" "sandbox: the command is too long (${#cmd} bytes, at most 16384)" \
	"a 20 KB command: the student is told the limit"
ssh_key "$U" "$KEY" "python3 -c 'print(\"x\" * 3)'"
assert_eq "$OUT" "xxx" "the next command runs"

# ---- subsystem names ----
ssh_key "$U" "$KEY" -s -- "$(long s 100)"
assert_eq "$RC" 1 "a 100-byte subsystem name is refused (exit status 1)"
assert_contains "$ERR" "the subsystem name is too long (100 bytes, at most 64)" \
	"a long subsystem name: the student is told"
ssh_key "$U" "$KEY" -s -- nosuch
assert_contains "$ERR" "subsystem nosuch is not available here" "an unknown subsystem is named in the refusal"

# ---- environment variables ----
LANG="$(long L 2000)" LC_TIME=C.UTF-8 ssh_key "$U" "$KEY" -o SendEnv=LANG -o SendEnv=LC_TIME -- \
	'python3 -c "import os; print(len(os.environ.get(\"LANG\", \"\")), os.environ.get(\"LC_TIME\"))"'
assert_rc 0 "an oversized LANG does not stop the command"
assert_eq "$OUT" "0 C.UTF-8" "an oversized LANG is dropped, a normal LC_TIME passes"
ssh_key "$U" "$KEY" -o "SetEnv=LC_CTYPE=$(printf 'a\033]0;x\007b')" -- \
	'python3 -c "import os; print(os.environ.get(\"LC_CTYPE\"))"'
assert_eq "$OUT" "None" "a value with control characters is dropped"

# ---- terminals ----
# With -tt the OpenSSH client itself gives up when the terminal is refused (as with sshd).
TERM='xterm;rm -rf' ssh_key "$U" "$KEY" -tt -- 'python3 -c "import os; print(os.isatty(0))"'
assert_contains "$ERR" "sandbox: terminal type refused" "an invalid terminal type is refused with a reason"
assert_contains "$ERR" "PTY allocation request failed" "the client reports the refused terminal"
TERM=xterm ssh_key "$U" "$KEY" -tt -- 'python3 -c "import os; print(os.isatty(0))"'
assert_eq "$(printf '%s' "$OUT" | tr -d '\r')" "True" "with a valid TERM the next login has its terminal"
TERM=$(long x 200) ssh_key "$U" "$KEY" -tt -- 'python3 -c "print(1)"'
assert_contains "$ERR" "terminal type refused" "a 200-byte terminal type is refused"

# A terminal of 30000x20000 characters (the client sends its own tty's size) is clamped.
pty_run() { # ROWS COLS COMMAND: ssh -tt with the key on a pty of that size; sets OUT
	build_ssh --- "$U" -i "$KEY" -o IdentitiesOnly=yes -o IdentityAgent=none \
		-o PreferredAuthentications=publickey -o BatchMode=yes -tt --- "$3"
	OUT=$(timeout 40 "$PY" -c '
import fcntl, os, pty, struct, sys, termios
rows, cols, argv = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    os.execvp(argv[0], argv)
out = b""
while True:
    try:
        chunk = os.read(fd, 65536)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace").replace("\r", ""))
' "$1" "$2" "${ARGV[@]}")
}
pty_run 20000 30000 'python3 -c "import os; s = os.get_terminal_size(); print(s.columns, s.lines)"'
assert_contains "$OUT" "9999 9999" "a 30000x20000 terminal is clamped to 9999x9999"
pty_run 40 120 'python3 -c "import os; s = os.get_terminal_size(); print(s.columns, s.lines)"'
assert_contains "$OUT" "120 40" "an ordinary terminal size arrives as it is"

e2e_done
