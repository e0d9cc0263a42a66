#!/bin/bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# sandboxd -t: errors name file and line; -o overrides; LoginGraceTime and MaxStartups enforced.
. "$(dirname "$0")/lib.sh"
e2e_init
ssh-keygen -q -t ed25519 -N '' -f "$T/ssh_host_ed25519_key" >/dev/null

# check_config NAME EXTRA-LINES...: writes $T/NAME.conf (the harness's base config, then the
# lines) and runs sandboxd -t on it; sets RC, OUT, ERR and C (the file).
check_config() {
	local name=$1
	shift
	PORT=2222
	write_config
	C="$T/$name.conf"
	mv "$CONF" "$C"
	printf '%s\n' "$@" >>"$C"
	E2E_LAST_CMD="$SANDBOXD -t -f $C"
	"$SANDBOXD" -t -f "$C" >"$T/t.out" 2>"$T/t.err"
	RC=$?
	OUT=$(cat "$T/t.out")
	ERR=$(cat "$T/t.err")
}
last_line() { wc -l <"$C"; }

check_config good "LoginGraceTime 30" "MaxAuthTries 3" "MaxStartups 5:50:20"
assert_rc 0 "a good configuration passes -t"

check_config unknown "NoSuchKeyword yes"
assert_ne "$RC" 0 "an unknown keyword fails -t"
assert_contains "$OUT$ERR" "$C:$(last_line):" "an unknown keyword: file:line"
assert_contains "$OUT$ERR" "NoSuchKeyword" "an unknown keyword: the message names it"

check_config badport "Port 99999"
assert_ne "$RC" 0 "Port 99999 fails -t"
assert_contains "$OUT$ERR" "$C:$(last_line):" "Port 99999: file:line"

check_config portabc "Port abc"
assert_ne "$RC" 0 "Port abc fails -t"
assert_contains "$OUT$ERR" "$C:$(last_line):" "Port abc: file:line"

check_config repeated "MaxAuthTries 3" "MaxAuthTries 4"
assert_ne "$RC" 0 "a repeated keyword fails -t"
assert_contains "$OUT$ERR" "$C:$(last_line):" "a repeated keyword: file:line of the repetition"

check_config badbool "PasswordAuthentication maybe"
assert_ne "$RC" 0 "a bad yes/no value fails -t"
assert_contains "$OUT$ERR" "$C:$(last_line):" "a bad yes/no value: file:line"

check_config badstartups "MaxStartups 10:150:5"
assert_ne "$RC" 0 "MaxStartups with rate > 100 and full < start fails -t"
assert_contains "$OUT$ERR" "$C:$(last_line):" "bad MaxStartups: file:line"

check_config nokeyvalue "LoginGraceTime"
assert_ne "$RC" 0 "a keyword without a value fails -t"
assert_contains "$OUT$ERR" "$C:$(last_line):" "a keyword without a value: file:line"

check_config good2
"$SANDBOXD" -t -f "$C" -o Port=abc >"$T/t.out" 2>"$T/t.err"
RC=$? OUT=$(cat "$T/t.out") ERR=$(cat "$T/t.err")
assert_ne "$RC" 0 "-o Port=abc fails"
assert_match "$OUT$ERR" "port|abc" "-o Port=abc: the message names the keyword or the value"
"$SANDBOXD" -t -f "$C" -o Port=2200 >"$T/t.out" 2>"$T/t.err"
RC=$? ERR=$(cat "$T/t.err")
assert_rc 0 "-o Port=2200 passes -t"
"$SANDBOXD" -t -f "$T/does-not-exist.conf" >"$T/t.out" 2>"$T/t.err"
RC=$? ERR=$(cat "$T/t.err")
assert_ne "$RC" 0 "a missing configuration file fails -t"
assert_contains "$ERR" "does-not-exist.conf" "a missing configuration file is named"

# LoginGraceTime 2: a TCP client that never speaks is cut off after about 2 s.
start_server LoginGraceTime 2 MaxStartups 10:30:100
grace=$("$PY" - "$PORT" <<'PYEOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
t0 = time.monotonic()
banner = b""
try:
    while True:
        d = s.recv(4096)
        if not d:
            break
        banner += d
except ConnectionResetError:
    pass
except socket.timeout:
    print("TIMEOUT %.1f %s" % (time.monotonic() - t0, banner[:4].decode(errors="replace") or "-"))
    sys.exit()
print("EOF %.1f %s" % (time.monotonic() - t0, banner[:4].decode(errors="replace") or "-"))
PYEOF
)
echo "# silent client: $grace"
set -- $grace
E2E_LAST_CMD="" RC="" OUT="$grace" ERR=""
assert_eq "$1" EOF "LoginGraceTime 2: the server closes a silent connection"
if awk -v t="${2:-99}" 'BEGIN { exit !(t >= 1.5 && t <= 5.5) }'; then
	ok "LoginGraceTime 2: closed after ${2}s (1.5-5.5 s)"
else
	fail "LoginGraceTime 2: closed after ${2:-?}s, want 1.5-5.5 s"
fi
assert_eq "${3:-}" "SSH-" "LoginGraceTime: the server had sent its banner first"
stop_server

# MaxStartups 1:100:1: while one connection is unauthenticated, another is dropped before the
# banner; once it is gone, new connections are served again.
start_server MaxStartups 1:100:1
startups=$("$PY" - "$PORT" <<'PYEOF'
import socket, sys, time
port = int(sys.argv[1])
def banner(s):
    s.settimeout(5)
    try:
        d = s.recv(256)
        if not d:
            return "EOF"
        # sshd writes "Exceeded MaxStartups" before it closes; any non-banner text counts.
        return "SSH-" if d.startswith(b"SSH-") else "TEXT"
    except ConnectionResetError:
        return "RESET"
    except socket.timeout:
        return "TIMEOUT"
# The harness's own probe of the port may still count as unauthenticated for a moment (longer
# in a sanitizer build, whose processes check for leaks as they end): wait it out.
deadline = time.monotonic() + 15
while True:
    first = socket.create_connection(("127.0.0.1", port), timeout=5)
    r1 = banner(first)
    if r1 == "SSH-" or time.monotonic() > deadline:
        break
    first.close()
    time.sleep(0.2)
second = socket.create_connection(("127.0.0.1", port), timeout=5)
r2 = banner(second)
second.close()
first.close()
time.sleep(1)
third = socket.create_connection(("127.0.0.1", port), timeout=5)
r3 = banner(third)
print(r1, r2, r3)
PYEOF
)
set -- $startups
E2E_LAST_CMD="" RC="" OUT="$startups" ERR=""
assert_eq "${1:-}" "SSH-" "MaxStartups 1:100:1: the first connection gets the banner"
assert_match "${2:-}" "^(EOF|RESET|TEXT)$" "MaxStartups 1:100:1: a second unauthenticated connection is dropped before the banner"
assert_eq "${3:-}" "SSH-" "MaxStartups: a connection after the first closed gets the banner"
stop_server

e2e_done
