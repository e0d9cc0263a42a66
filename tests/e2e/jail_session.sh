#!/bin/bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# Every login runs in a jail of its own, reached through the real server and client: who the
# program is, what it can see, what survives a login, and that nothing outlives a session, even
# when the client or the session's monitor is killed.
. "$(dirname "$0")/lib.sh"
e2e_init
make_user
A=$U
A_PW=$PW
make_user
B=$U
B_PW=$PW
start_server

py() { # USER PASSWORD CODE  (the code travels base64-encoded: no quoting to get wrong)
	ssh_pw "$1" "$2" "python3 -c \"import base64; exec(base64.b64decode('$(printf '%s' "$3" | base64 -w0)'))\""
}

# Identity and privileges.
py "$A" "$A_PW" 'import os
s = dict(l.split(":\t", 1) for l in open("/proc/self/status").read().splitlines() if ":\t" in l)
print(os.getuid() == os.geteuid() != 0, s["CapEff"].strip(), s["CapBnd"].strip(), s["NoNewPrivs"].strip(), s["Seccomp"].strip())
print(os.uname().nodename, os.path.exists("/etc/shadow"), os.getcwd() == os.environ["HOME"])'
assert_rc 0 "identity probe runs"
assert_eq "$(echo "$OUT" | head -1)" "True 0000000000000000 0000000000000000 1 2" \
	"the program runs as the user, with no capabilities, no_new_privs and seccomp"
assert_eq "$(echo "$OUT" | tail -1)" "sandbox False True" "hostname, no /etc/shadow, starts in the home"

py "$A" "$A_PW" 'print([l.split(":")[0].strip() for l in open("/proc/net/dev").read().splitlines()[2:]], open("/proc/net/route").read().count("\n"))'
assert_eq "$OUT" "['lo'] 1" "the only network interface is loopback, and there is no route"
py "$A" "$A_PW" 'print("127.0.0.1" in open("/proc/net/fib_trie").read())'
assert_eq "$OUT" "True" "the loopback is up (its address is in the local table)"

py "$A" "$A_PW" 'import os
pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
print(len(pids) <= 3, 1 in pids and os.getpid() != 1, open("/proc/1/comm").read().strip())'
assert_eq "$OUT" "True True jail-init" "own pid namespace: pid 1 is the jail's init, not the program"

# Writes: only the home and /tmp, and nothing there can be executed.
py "$A" "$A_PW" 'import os, errno
res = []
for p in ("/usr/x", "/etc/x", "/x", "/var/x", "/home/x"):
    try:
        os.close(os.open(p, os.O_WRONLY | os.O_CREAT, 0o644)); res.append("written")
    except OSError as e:
        res.append("refused")
print(" ".join(res))'
assert_eq "$OUT" "refused refused refused refused refused" "nothing outside the home and /tmp is writable"

# /tmp is private to one login; the home persists and belongs to the user on the host.
py "$A" "$A_PW" 'open("/tmp/scratch", "w").write("t"); open("kept.txt", "w").write("h"); print("ok")'
assert_eq "$OUT" "ok" "files written in /tmp and the home"
py "$A" "$A_PW" 'import os; print(os.path.exists("/tmp/scratch"), open("kept.txt").read())'
assert_eq "$OUT" "False h" "next login: /tmp is fresh, the home file is still there"
assert_eq "$(stat -c %U "$(getent passwd "$A" | cut -d: -f6)/kept.txt")" "$A" \
	"the home file is owned by the user on the host"

# Two students: separate homes, separate processes.
ssh_pw_bg "$B" "$B_PW" 'python3 -c "import time; open(\"b-was-here\", \"w\"); time.sleep(15)"'
B_BG=$BG_PID
for ((i = 0; i < 50; i++)); do
	[ -e "$(getent passwd "$B" | cut -d: -f6)/b-was-here" ] && break
	sleep 0.2
done
B_HOME=$(getent passwd "$B" | cut -d: -f6)
py "$A" "$A_PW" "import os
print(os.path.exists('$B_HOME'), len([p for p in os.listdir('/proc') if p.isdigit()]) <= 3)"
assert_eq "$OUT" "False True" "a student sees neither another student's home nor their processes"
stop_bg "$B_BG"

# Memory: a bomb is killed at the session's limit, the student is told, the session goes on.
py "$A" "$A_PW" 'x = b"x" * (600 << 20); print("survived")'
assert_contains "$ERR" "memory limit" "a memory bomb is killed at the memory limit and told so"
assert_not_contains "$OUT" "survived" "the memory bomb did not survive"
py "$A" "$A_PW" 'print("after")'
assert_eq "$OUT" "after" "the next command runs normally after the memory kill"

# Threads count against the pids limit; hitting it raises in the program, which goes on.
py "$A" "$A_PW" 'import threading, time
ev = threading.Event(); n = 0
try:
    for _ in range(1000):
        threading.Thread(target=ev.wait, daemon=True).start(); n += 1
except RuntimeError:
    pass
ev.set(); print("stopped", n < 1000)'
assert_eq "$OUT" "stopped True" "a thread bomb stops at the pids limit and the program continues"

# Process creation is refused by default (the runner's policy and seccomp).
py "$A" "$A_PW" 'import os
try:
    os.fork(); print("forked")
except PermissionError as e:
    print("refused")'
assert_eq "$OUT" "refused" "fork is refused"

session_gone() { # USER: no process, no cgroup, no session record left
	local u=$1 i
	for ((i = 0; i < 100; i++)); do
		if [ -z "$(ps -o pid= -u "$u" 2>/dev/null)" ] &&
			[ ! -e "/sys/fs/cgroup/memory/sandboxd/$u" ] &&
			[ ! -e "/sys/fs/cgroup/pids/sandboxd/$u" ] &&
			[ -z "$(ls -A "$T/run/sessions" 2>/dev/null)" ]; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

wait_running() { # USER
	local i
	for ((i = 0; i < 100; i++)); do
		[ -n "$(ps -o pid= -u "$1" 2>/dev/null)" ] && [ -n "$(ls -A "$T/run/sessions" 2>/dev/null)" ] && return 0
		sleep 0.1
	done
	return 1
}

# kill -9 of the ssh client: the session's jail, cgroup and record are gone.
ssh_pw_bg "$A" "$A_PW" 'python3 -c "import time; time.sleep(120)"'
wait_running "$A" || fail "the background session did not start"
pkill -KILL -f "sshpass -p $A_PW" 2>/dev/null
pkill -KILL -f "ssh .*$A@127.0.0.1" 2>/dev/null
if session_gone "$A"; then ok "after kill -9 of the client nothing of the session is left"; else
	fail "after kill -9 of the client: left $(ps -o pid=,args= -u "$A" | tr '\n' ';') $(ls "$T/run/sessions" 2>/dev/null)"
fi

# kill -9 of the session's monitor: the listener sweeps what it left.
ssh_pw_bg "$A" "$A_PW" 'python3 -c "import time; time.sleep(120)"'
wait_running "$A" || fail "the background session did not start"
MON=$(sed -n 's/^monitor=//p' "$T"/run/sessions/* 2>/dev/null | head -1)
if [ -n "$MON" ] && kill -KILL "$MON"; then ok "killed the session's monitor ($MON)"; else fail "no monitor pid in the session record"; fi
if session_gone "$A"; then ok "after kill -9 of the monitor nothing of the session is left"; else
	fail "after kill -9 of the monitor: left $(ps -o pid=,args= -u "$A" | tr '\n' ';') $(ls "$T/run/sessions" 2>/dev/null)"
fi
py "$A" "$A_PW" 'print("still serving")'
assert_eq "$OUT" "still serving" "the host still serves after a monitor was killed"

e2e_done
