#!/bin/bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# Session channels: exit status and signals, stdout/stderr, the env filter, pty, bulk data both
# ways.
. "$(dirname "$0")/lib.sh"
e2e_init
make_user
start_server

for code in 0 3 42; do
	ssh_pw "$U" "$PW" "python3 -c \"import sys; sys.exit($code)\""
	assert_rc "$code" "exit status $code is propagated"
done

# exit-signal: the OpenSSH client has no exit status to report and exits 255 (what it does
# with sshd too), printing nothing.
ssh_pw "$U" "$PW" 'python3 -c "import os, signal; print(\"before\", flush=True); os.kill(os.getpid(), signal.SIGTERM); print(\"after\")"'
assert_rc 255 "a program killed by SIGTERM: ssh exits 255"
assert_eq "$OUT" "before" "a program killed by SIGTERM: output up to the signal, nothing after"
ssh_pw "$U" "$PW" -o LogLevel=DEBUG1 -- 'python3 -c "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"'
assert_contains "$ERR" "rtype exit-signal" "a program killed by SIGTERM: the server sends exit-signal"
assert_not_contains "$ERR" "rtype exit-status" "a program killed by SIGTERM: and no exit-status"

ssh_pw "$U" "$PW" 'python3 -c "import sys; print(\"to-out\"); print(\"to-err\", file=sys.stderr); sys.exit(5)"'
assert_rc 5 "stdout/stderr program: exit status"
assert_eq "$OUT" "to-out" "stdout carries only stdout"
assert_eq "$ERR" "to-err" "stderr carries only stderr"

# env: only LANG, LC_* and TERM are accepted.
LANG=C.UTF-8 LC_MESSAGES=C.UTF-8 FOO=bar ssh_pw "$U" "$PW" -o SendEnv=LANG -o SendEnv=FOO \
	-o SendEnv=LC_MESSAGES -- \
	'python3 -c "import os; e = os.environ; print(e.get(\"LANG\"), e.get(\"LC_MESSAGES\"), e.get(\"FOO\"))"'
assert_rc 0 "env: command runs"
assert_eq "$OUT" "C.UTF-8 C.UTF-8 None" "env: LANG and LC_* are passed, FOO is not"

# pty.
ssh_pw "$U" "$PW" -tt -- 'python3 -c "import os; print(os.isatty(0), os.isatty(1))"'
assert_rc 0 "-tt: command runs"
assert_eq "$(printf '%s' "$OUT" | tr -d '\r')" "True True" "-tt: stdin and stdout are a terminal"
ssh_pw "$U" "$PW" 'python3 -c "import os; print(os.isatty(0), os.isatty(1))"'
assert_eq "$OUT" "False False" "without -t: no terminal"
TERM=xterm-256color ssh_pw "$U" "$PW" -tt -- 'python3 -c "import os; print(os.environ.get(\"TERM\"))"'
assert_eq "$(printf '%s' "$OUT" | tr -d '\r')" "xterm-256color" "-tt: TERM comes from the pty request"

# Large output arrives intact (5 MiB of a known pattern).
GEN='import hashlib, sys; sys.stdout.buffer.write(b"".join(hashlib.sha256(b"%d" % i).digest() for i in range(163840)))'
want=$("$PY" -c "$GEN" | sha256sum | cut -d' ' -f1)
build_ssh sshpass -p "$PW" --- "$U" -o PreferredAuthentications=password \
	-o PubkeyAuthentication=no --- "python3 -c '$GEN'"
timeout 60 "${ARGV[@]}" >"$T/big.out" 2>"$T/big.err"
RC=$?
assert_rc 0 "5 MiB output: command runs"
assert_eq "$(stat -c %s "$T/big.out")" $((5 * 1024 * 1024)) "5 MiB output: every byte arrives"
assert_eq "$(sha256sum <"$T/big.out" | cut -d' ' -f1)" "$want" "5 MiB output: content intact"

# stdin reaches the program, up to EOF.
head -c 1000000 /dev/urandom >"$T/in.bin"
want=$(sha256sum <"$T/in.bin" | cut -d' ' -f1)
ssh_pw "$U" "$PW" 'python3 -c "import hashlib, sys; d = sys.stdin.buffer.read(); print(len(d), hashlib.sha256(d).hexdigest())"' <"$T/in.bin"
assert_rc 0 "stdin: command runs"
assert_eq "$OUT" "1000000 $want" "stdin: 1 MB arrive intact and EOF is delivered"
ssh_pw "$U" "$PW" 'python3 -c "import sys; print(len(sys.stdin.read()))"' <<<data
assert_eq "$OUT" 5 "stdin: a short line"

e2e_done
