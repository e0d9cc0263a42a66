#!/bin/bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# The login REPL through a real pty: `ssh -tt` runs inside a tmux pane (its own server socket in
# $T), keys go in with send-keys and the screen comes back with capture-pane. Banner, prompt, an
# expression, a denial that leaves the REPL running, Ctrl-C, tab completion, help() without a
# pager process, history kept in the home across two logins, Ctrl-D and exit().
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/runner/helpers.sh"
e2e_init
command -v tmux >/dev/null || die "missing tool: tmux"
make_user
start_server AuditFile "$T/audit.jsonl" AuditJournal no
H=$(user_home "$U")

unset TMUX
TSOCK="$T/tmux.sock"
printf 'set -g remain-on-exit on\nset -g history-limit 5000\n' >"$T/tmux.conf"
tm() { tmux -S "$TSOCK" -f "$T/tmux.conf" "$@"; }
E2E_TMUX_UP=0
# shellcheck disable=SC2317  # run by the EXIT trap
repl_cleanup() {
	local rc=$?
	[ "$E2E_TMUX_UP" = 1 ] && tmux -S "$TSOCK" kill-server 2>/dev/null
	(exit "$rc")
	e2e_cleanup
}
trap repl_cleanup EXIT

# login NAME: a pane running ssh -tt to the server (a login shell request, so the REPL).
login() {
	build_ssh sshpass -p "$PW" --- "$U" -o PreferredAuthentications=password \
		-o PubkeyAuthentication=no -tt ---
	local cmd
	rm -f "$T/$1.status"
	# shellcheck disable=SC2016  # expanded by the pane's bash
	printf -v cmd '%q ' bash -c '"$@"; echo $? >"$0"' "$T/$1.status" \
		env TERM=xterm LINES=50 COLUMNS=150 timeout -k 5 80 "${ARGV[@]}"
	tm new-session -d -s "$1" -x 150 -y 50 "$cmd" || die "tmux new-session"
	E2E_TMUX_UP=1
}

screen() { tm capture-pane -p -J -S -2000 -t "$1" 2>/dev/null; }

# wait_screen NAME FIXED-STRING [COUNT] [SECONDS]: until the pane shows the string COUNT times
# (LINE_MATCH=1: as a whole line).
wait_screen() {
	local i n=${3:-1} limit=$((${4:-10} * 10))
	for ((i = 0; i < limit; i++)); do
		[ "$(screen "$1" | grep -cF${LINE_MATCH:+x} -- "$2")" -ge "$n" ] && return 0
		sleep 0.1
	done
	return 1
}

# expect_screen NAME FIXED-STRING WHAT [COUNT]
expect_screen() {
	if wait_screen "$1" "$2" "${4:-1}"; then
		ok "$3"
	else
		fail "$3: the screen never showed '$2'"
		screen "$1" | tail -n 25 | sed 's/^/#   | /'
	fi
}

keys() { tm send-keys -t "$@"; }

# pane_status NAME: waits up to 15 s for the pane's ssh to end; prints its exit status, as the
# pane's shell wrote it to $T/NAME.status ("running" if it did not end).
pane_status() {
	local i
	for ((i = 0; i < 150; i++)); do
		if [ -s "$T/$1.status" ]; then
			cat "$T/$1.status"
			return 0
		fi
		sleep 0.1
	done
	echo running
}

# ---- first login ----
login one
expect_screen one "Welcome, $U. This is your Python sandbox." "banner names the user"
expect_screen one "Limits: memory" "banner shows the limits"
expect_screen one "Time left:" "banner shows the time left"
expect_screen one ">>> " "the prompt"

keys one "6*7" Enter
LINE_MATCH=1 expect_screen one "42" "an expression: 6*7 gives 42"

keys one "import socket; socket.socket()" Enter
expect_screen one "PermissionError: [sandbox] only local (AF_UNIX) sockets are allowed in this sandbox, there is no network (socket.__new__)" \
	"a denial shows the [sandbox] message"
keys one "print('still', 40 + 1)" Enter
expect_screen one "still 41" "the REPL goes on after the denial"

keys one "import time; time.sleep(60)" Enter
sleep 1
keys one C-c
expect_screen one "KeyboardInterrupt" "Ctrl-C interrupts a running statement with KeyboardInterrupt"
keys one "print('after', 'interrupt')" Enter
expect_screen one "after interrupt" "a fresh prompt after Ctrl-C"
keys one "x = 5 +" C-c
sleep 0.3
keys one "print('line', 'dropped')" Enter
expect_screen one "line dropped" "Ctrl-C on a half-typed line gives a fresh prompt"

keys one "import os" Enter
keys one "os.path.expandu" Tab
expect_screen one ">>> os.path.expanduser(" "tab completion: os.path.expandu + Tab gives os.path.expanduser("
keys one "'~')" Enter
expect_screen one "'$H'" "the completed call runs (~ is the user's home)"
keys one "imp" Tab
expect_screen one ">>> import" "tab completion of a keyword: imp + Tab gives import"
keys one C-u C-c
sleep 0.3

keys one "help(len)" Enter
expect_screen one "Help on built-in function len in module builtins:" "help(len) shows its text"
expect_screen one "Return the number of items in a container." "help(len) shows the docstring"
# (Short text: the tty pager prints it and returns without waiting for a key.)
keys one "print('help', 'done')" Enter
expect_screen one "help done" "the prompt is back after help()"

keys one "print('hist' + '-' + 'marker')" Enter
expect_screen one "hist-marker" "a line for the history"
keys one C-d
ST=$(pane_status one)
assert_eq "$ST" 0 "Ctrl-D ends the session; ssh exits 0"
assert_contains "$(cat "$H/.python_history" 2>&1)" "print('hist' + '-' + 'marker')" \
	"the history is kept in the home (~/.python_history on the host)"
assert_eq "$(stat -c %U "$H/.python_history" 2>&1)" "$U" "the history file belongs to the user"
SCREEN1=$(screen one)
assert_not_contains "$SCREEN1" "pydoc.py" "help() did not fail"
assert_eq "$(printf '%s\n' "$SCREEN1" | grep -c '^Traceback')" 1 \
	"first login: the only traceback is the socket denial's"
tm kill-session -t one

# No pager or other process was tried: the only runner reports are the socket denial.
"$PY" - "$T/audit.jsonl" "$U" >"$T/reports.txt" 2>&1 <<'PYEOF'
import json, sys
evs = []
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["event"] == "runner-report" and r["fields"]["SANDBOX_USER"] == sys.argv[2]:
        rep = json.loads(r["fields"]["SANDBOX_REPORT"])
        evs.append(rep["event"] + "/" + rep["action"])
print(" ".join(evs))
PYEOF
assert_eq "$(cat "$T/reports.txt")" "socket.__new__/deny" \
	"audit: the REPL's only runner report is the socket denial (help() started no pager process)"

# ---- second login: history, exit() ----
login two
expect_screen two ">>> " "second login: the prompt"
keys two Up
expect_screen two ">>> print('hist' + '-' + 'marker')" "second login: Up recalls the last line of the first"
keys two Enter
expect_screen two "hist-marker" "second login: the recalled line runs"
keys two "exit()" Enter
ST=$(pane_status two)
assert_eq "$ST" 0 "exit() ends the session; ssh exits 0"
assert_eq "$(screen two | grep -c 'Traceback')" 0 "second login: no traceback anywhere"
tm kill-session -t two
tm kill-server 2>/dev/null
E2E_TMUX_UP=0

e2e_done
