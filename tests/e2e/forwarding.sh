#!/bin/bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# Local (-L), remote (-R) and dynamic (-D) TCP forwarding, agent (-A) and X11 (-X) forwarding
# are all refused; refusing agent and X11 does not break the session.
. "$(dirname "$0")/lib.sh"
e2e_init
make_user
start_server

# A target the forwards would reach: records any connection it accepts in $T/target.hits.
TP=$(free_port)
"$PY" - "$TP" "$T/target.hits" <<'PYEOF' &
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8); s.settimeout(1)
end = time.time() + 50
while time.time() < end:
    try:
        c, _ = s.accept()
    except socket.timeout:
        continue
    with open(sys.argv[2], "a") as f:
        f.write("hit\n")
    c.sendall(b"TARGET\n"); c.close()
PYEOF
track_bg $!
: >"$T/target.hits"

wait_port() { # PORT PID: until PORT accepts or PID dies (10 s)
	local i
	for ((i = 0; i < 100; i++)); do
		port_open "$1" && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# What a client gets through a forward: TARGET if it reached the target, EOF/RESET otherwise.
probe_plain() { # PORT
	"$PY" - "$1" <<'PYEOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
try:
    d = s.recv(100)
    print(d.decode(errors="replace").strip() if d else "EOF")
except ConnectionResetError:
    print("RESET")
except socket.timeout:
    print("TIMEOUT")
PYEOF
}

# SOCKS5 CONNECT to 127.0.0.1:TARGET through PORT: prints the reply code (0 = granted) or EOF.
probe_socks() { # PORT TARGET
	"$PY" - "$1" "$2" <<'PYEOF'
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
try:
    s.sendall(b"\x05\x01\x00")
    if s.recv(2) != b"\x05\x00":
        print("NOAUTH"); sys.exit()
    s.sendall(b"\x05\x01\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack("!H", int(sys.argv[2])))
    r = s.recv(10)
    print("EOF" if len(r) < 2 else "REPLY%d" % r[1])
except ConnectionResetError:
    print("RESET")
except socket.timeout:
    print("TIMEOUT")
PYEOF
}

# -L: the client listens locally; the server must refuse the direct-tcpip channel.
LP=$(free_port)
ssh_pw_bg "$U" "$PW" -N -L "$LP:127.0.0.1:$TP" -o LogLevel=INFO --
if wait_port "$LP" "$BG_PID"; then
	got=$(probe_plain "$LP")
	assert_ne "$got" "TARGET" "-L: a connection through a local forward does not reach the target"
	sleep 0.5
	assert_match "$(cat "$T/bg.$BG_N.err")" "open failed|prohibited|refused|denied" \
		"-L: the client reports the refused channel"
else
	fail "-L: ssh -N -L did not come up: $(cat "$T/bg.$BG_N.err")"
fi
stop_bg "$BG_PID"

# -R: the server must refuse the tcpip-forward request; ExitOnForwardFailure makes ssh quit.
ssh_pw "$U" "$PW" -N -R "0:127.0.0.1:$TP" -o ExitOnForwardFailure=yes --
assert_eq "$RC" 255 "-R with ExitOnForwardFailure: ssh fails"
assert_contains "$ERR" "remote port forwarding failed" "-R: the client says the forward was refused"
ssh_pw "$U" "$PW" -N -R "$(free_port):127.0.0.1:$TP" -o ExitOnForwardFailure=yes --
assert_eq "$RC" 255 "-R with a fixed port: ssh fails"

# -D: SOCKS in the client; the server must refuse the direct-tcpip channel.
DP=$(free_port)
ssh_pw_bg "$U" "$PW" -N -D "127.0.0.1:$DP" -o ExitOnForwardFailure=yes -o LogLevel=INFO --
if wait_port "$DP" "$BG_PID"; then
	got=$(probe_socks "$DP" "$TP")
	assert_ne "$got" "REPLY0" "-D: a SOCKS connect through the dynamic forward is not granted"
	sleep 0.5
	assert_match "$(cat "$T/bg.$BG_N.err")" "open failed|prohibited|refused|denied" \
		"-D: the client reports the refused channel"
else
	fail "-D: ssh -N -D did not come up: $(cat "$T/bg.$BG_N.err")"
fi
stop_bg "$BG_PID"

assert_eq "$(wc -l <"$T/target.hits")" 0 "no forward ever reached the target"

# -A: the agent request is refused (OpenSSH sends it without want-reply, so the client prints
# nothing); the command still runs and sees no agent socket.
agent_out=$(ssh-agent -s -a "$T/agent.sock") || die "ssh-agent"
AGENT_PID=$(printf '%s' "$agent_out" | sed -n 's/^SSH_AGENT_PID=\([0-9]*\);.*/\1/p')
track_bg "$AGENT_PID"
SSH_AUTH_SOCK=$T/agent.sock ssh_pw "$U" "$PW" -A -- \
	'python3 -c "import os; print(os.environ.get(\"SSH_AUTH_SOCK\"))"'
assert_rc 0 "-A: the session still works"
assert_eq "$OUT" "None" "-A: no agent socket inside the session"
kill "$AGENT_PID" 2>/dev/null

# -X: refused with a reply the client reports; the command still runs.
DISPLAY=:99 ssh_pw "$U" "$PW" -X -- 'python3 -c "import os; print(os.environ.get(\"DISPLAY\"))"'
assert_rc 0 "-X: the session still works"
assert_eq "$OUT" "None" "-X: no DISPLAY inside the session"
assert_contains "$ERR" "X11 forwarding request failed" "-X: the client reports the refusal"

e2e_done
