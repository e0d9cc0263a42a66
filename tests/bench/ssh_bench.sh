#!/bin/bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# End to end against OpenSSH (not a test; run by `make bench` as root): `ssh host run hello.py`
# and `ssh host python3 -c pass` through our sandboxd (jail + sandbox-python) and through
# Debian's sshd (the user's shell + /usr/bin/python3.11), both servers started here on 127.0.0.1
# with random ports and measured in the same run. Every ssh is a full login (no ControlMaster),
# public-key auth, PAM on both sides. Also: per-connection server memory (RSS and PSS of the
# server-side processes during a 3 s session) and, unless BENCH_CONCURRENT=0, 20 concurrent
# logins. Prints medians and the ratio sandboxd/sshd; never fails on a number.
#
# Environment: top_srcdir, top_builddir (default: this tree), RUNS (hyperfine runs, default 20),
# CONC (concurrent logins, default 20), BENCH_KEEP=1 keeps the temp dir.
set -u
export LC_ALL=C
exec </dev/null

top_srcdir=${top_srcdir:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
SANDBOXD=${SANDBOXD:-$top_builddir/sandboxd}
SANDBOX_PYTHON=${SANDBOX_PYTHON:-$top_builddir/sandbox-python}
SSHD=${SSHD:-/usr/sbin/sshd}
PY=/usr/bin/python3.11
RUNS=${RUNS:-20}
CONC=${CONC:-20}
BENCH_CONCURRENT=${BENCH_CONCURRENT:-1}
# Every single ssh, and every hyperfine invocation, is bounded in time.
SSH_TIMEOUT=30
HF_TIMEOUT=$((RUNS * 15 + 60))

die() {
	echo "ssh_bench: $*" >&2
	exit 1
}

[ "$(id -u)" = 0 ] || die "needs root (throwaway user, /etc/pam.d, the servers)"
for t in hyperfine ssh ssh-keygen useradd userdel timeout "$PY" "$SSHD"; do
	command -v "$t" >/dev/null || die "missing tool: $t (Debian: hyperfine, openssh-client, openssh-server)"
done
[ -x "$SANDBOXD" ] || die "no server binary at $SANDBOXD"
[ -x "$SANDBOX_PYTHON" ] || die "no runner at $SANDBOX_PYTHON"

T=$(mktemp -d /tmp/sbxbench-ssh.XXXXXX) || die mktemp
chmod 0755 "$T"
mkdir -m 0755 "$T/empty" "$T/policy"
U=""
USERS=()
SBX_PID=""
SSHD_PID=""
PAM_SERVICE="sandboxd-bench-$$"
PAM_FILE="/etc/pam.d/$PAM_SERVICE"
MADE_RUN_SSHD=0
BG_PIDS=()

stop_pid() { # PID: TERM, up to 5 s, then KILL; reaps it
	local p=$1 i
	[ -n "$p" ] || return 0
	kill -TERM "$p" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
}

cleanup() {
	local rc=$? p pids u
	set +e
	for p in "${BG_PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	stop_pid "$SBX_PID"
	stop_pid "$SSHD_PID"
	for u in "${USERS[@]}"; do
		pids=$(ps -o pid= -u "$u" 2>/dev/null | tr -d ' ')
		# shellcheck disable=SC2086
		[ -n "$pids" ] && kill -KILL $pids 2>/dev/null
	done
	[ "${#USERS[@]}" -gt 0 ] && sleep 0.2
	for u in "${USERS[@]}"; do
		userdel -r -f "$u" >/dev/null 2>&1 || userdel -f "$u" >/dev/null 2>&1
		rm -rf "/home/${u:?}"
	done
	rm -f "$PAM_FILE"
	[ "$MADE_RUN_SSHD" = 1 ] && rmdir /run/sshd 2>/dev/null
	if [ "$rc" != 0 ]; then
		for f in sandboxd.log sshd.log; do
			[ -s "$T/$f" ] && { echo "# ---- $f (last 20 lines) ----"; tail -n 20 "$T/$f" | sed 's/^/# /'; }
		done
	fi
	if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "# kept $T"; else rm -rf "$T"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

free_port() {
	"$PY" - <<'EOF'
import random, socket
for _ in range(200):
    port = random.randint(20000, 60000)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    print(port)
    break
EOF
}

port_open() {
	"$PY" -c 'import socket,sys
s = socket.socket(); s.settimeout(1)
sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)' "$1" 2>/dev/null
}

wait_listen() { # PID PORT LOG: 10 s at most
	local i
	for ((i = 0; i < 100; i++)); do
		kill -0 "$1" 2>/dev/null || return 1
		port_open "$2" && return 0
		sleep 0.1
	done
	return 1
}

# ---- the throwaway users (one per concurrent login: the policy allows 3 sessions per user),
# one key for all, the scripts in every home ----
TAG=$(head -c 64 /dev/urandom | tr -dc 'a-z0-9' | head -c 6)
KEY="$T/id_bench"
ssh-keygen -q -t ed25519 -N '' -C "bench" -f "$KEY" >/dev/null || die ssh-keygen
printf 'print("hello")\n' >"$T/hello.py"
printf 'import time\ntime.sleep(3)\n' >"$T/sleep3.py"
make_user() { # NAME
	local u=$1 home g
	useradd -m -s /bin/bash -c "sandboxd-bench pid $$" "$u" || die "useradd $u"
	USERS+=("$u")
	# pam_unix refuses accounts with a locked password ("!") for any login, keys included:
	# give it an unusable-but-unlocked one.
	usermod -p '*' "$u"
	home=$(getent passwd "$u" | cut -d: -f6)
	g=$(id -gn "$u")
	install -d -m 0700 -o "$u" -g "$g" "$home/.ssh"
	install -m 0600 -o "$u" -g "$g" "$KEY.pub" "$home/.ssh/authorized_keys"
	install -m 0644 -o "$u" -g "$g" "$T/hello.py" "$home/hello.py"
	install -m 0644 -o "$u" -g "$g" "$T/sleep3.py" "$home/sleep3.py"
}
U="sbxbench_${TAG}_0"
make_user "$U"
if [ "$BENCH_CONCURRENT" = 1 ]; then
	for ((i = 1; i <= CONC; i++)); do
		make_user "sbxbench_${TAG}_$i"
	done
fi

# ---- our server ----
getent passwd _sandboxd >/dev/null ||
	useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin _sandboxd ||
	die "cannot create the privsep user _sandboxd"
cp "$top_srcdir/data/pam/sandboxd" "$PAM_FILE" || die "PAM service"
ssh-keygen -q -t ed25519 -N '' -f "$T/sbx_host_key" >/dev/null
SBX_PORT=$(free_port)
cat >"$T/sandboxd.conf" <<EOF
ListenAddress 127.0.0.1
Port $SBX_PORT
HostKey $T/sbx_host_key
PidFile $T/sandboxd.pid
PamService $PAM_SERVICE
PrivsepUser _sandboxd
PrivsepDirectory $T/empty
RuntimeDirectory $T/run
RunnerPath $SANDBOX_PYTHON
PolicyDirectory $T/policy
AuditFile $T/audit.jsonl
AuditJournal no
# The same home as sshd's, for a like-for-like login.
HomeBackend directory
StateDirectory $T/state
LogLevel INFO
PasswordAuthentication no
KbdInteractiveAuthentication no
MaxStartups 100:30:200
EOF
"$SANDBOXD" -f "$T/sandboxd.conf" -D >>"$T/sandboxd.log" 2>&1 &
SBX_PID=$!
wait_listen "$SBX_PID" "$SBX_PORT" || die "sandboxd did not start (log: $T/sandboxd.log)"

# ---- OpenSSH's sshd, our own instance (the system service is not touched) ----
if [ ! -d /run/sshd ]; then
	mkdir -m 0755 /run/sshd && MADE_RUN_SSHD=1
fi
ssh-keygen -q -t ed25519 -N '' -f "$T/sshd_host_key" >/dev/null
SSHD_PORT=$(free_port)
cat >"$T/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $SSHD_PORT
HostKey $T/sshd_host_key
PidFile $T/sshd.pid
UsePAM yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
AllowUsers sbxbench_${TAG}_*
PermitRootLogin no
PrintMotd no
PrintLastLog no
UseDNS no
X11Forwarding no
MaxStartups 100:30:200
Subsystem sftp /usr/lib/openssh/sftp-server
EOF
"$SSHD" -D -e -f "$T/sshd_config" >>"$T/sshd.log" 2>&1 &
SSHD_PID=$!
wait_listen "$SSHD_PID" "$SSHD_PORT" || die "sshd did not start (log: $T/sshd.log)"

SSH_BASE="ssh -F /dev/null -i $KEY -o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes \
-o PreferredAuthentications=publickey -o ControlMaster=no -o ControlPath=none \
-o UserKnownHostsFile=$T/known_hosts -o StrictHostKeyChecking=no -o LogLevel=ERROR \
-o ConnectTimeout=10"
SSH_SBX="$SSH_BASE -p $SBX_PORT $U@127.0.0.1"
SSH_OSS="$SSH_BASE -p $SSHD_PORT $U@127.0.0.1"
# OpenSSH 9 prefers the post-quantum sntrup761x25519 key exchange, which libssh does not offer:
# the same measurement with curve25519 on both sides separates that from the rest.
SSH_SBX_C="$SSH_BASE -o KexAlgorithms=curve25519-sha256 -p $SBX_PORT $U@127.0.0.1"
SSH_OSS_C="$SSH_BASE -o KexAlgorithms=curve25519-sha256 -p $SSHD_PORT $U@127.0.0.1"
SSH_SBX_N="$SSH_BASE -p $SBX_PORT" # + user@127.0.0.1
SSH_OSS_N="$SSH_BASE -p $SSHD_PORT"

# The same program on both sides: our runner in a jail vs the user's shell running python3.11.
SBX_HELLO="run hello.py"
OSS_HELLO="$PY hello.py"
SBX_PASS="python3 -c pass"
OSS_PASS="$PY -c pass"

check() { # WHAT SSH-COMMAND REMOTE-COMMAND EXPECTED
	local out
	# shellcheck disable=SC2086
	out=$(timeout -k 5 "$SSH_TIMEOUT" $2 "$3" 2>"$T/check.err")
	[ "$out" = "$4" ] || die "$1: expected '$4', got '$out' ($(head -c 300 "$T/check.err"))"
}
check "sandboxd run hello.py" "$SSH_SBX" "$SBX_HELLO" hello
check "sshd python3.11 hello.py" "$SSH_OSS" "$OSS_HELLO" hello
check "sandboxd python3 -c" "$SSH_SBX" "$SBX_PASS" ""
check "sshd python3.11 -c" "$SSH_OSS" "$OSS_PASS" ""

# What each side negotiates (key exchange, cipher): part of what the login latency measures.
negotiated() { # SSH-COMMAND REMOTE-COMMAND
	# shellcheck disable=SC2086
	timeout -k 5 "$SSH_TIMEOUT" ${1/LogLevel=ERROR/LogLevel=DEBUG1} "$2" 2>&1 >/dev/null |
		sed -n 's/^debug1: kex: algorithm: //p; s/^debug1: kex: server->client cipher: \([^ ]*\).*/\1/p' |
		tr '\n' ' '
}
KEX_SBX=$(negotiated "$SSH_SBX" "$SBX_PASS")
KEX_OSS=$(negotiated "$SSH_OSS" "$OSS_PASS")

RESULTS="$T/results.tsv" # name, ours, reference, unit
: >"$RESULTS"

hf() { # NAME OURS-COMMAND REFERENCE-COMMAND
	local name=$1
	timeout -k 5 "$HF_TIMEOUT" hyperfine -N --warmup 2 --runs "$RUNS" --style none \
		--export-json "$T/$name.json" -n sandboxd "$2" -n sshd "$3" >/dev/null 2>"$T/$name.err" ||
		die "hyperfine $name failed: $(tail -n 5 "$T/$name.err")"
	"$PY" - "$T/$name.json" "$name" >>"$RESULTS" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
print(f"{sys.argv[2]}\t{r[0]['median'] * 1000:.1f}\t{r[1]['median'] * 1000:.1f}\tms (median)")
PY
}

hf "login+run hello.py" "$SSH_SBX $SBX_HELLO" "$SSH_OSS $OSS_HELLO"
hf "login+python -c pass" "$SSH_SBX $SBX_PASS" "$SSH_OSS $OSS_PASS"
hf "login+run hello.py, both curve25519-sha256" "$SSH_SBX_C $SBX_HELLO" "$SSH_OSS_C $OSS_HELLO"

# ---- memory of one connection: the server-side processes during a 3 s session ----
descendants() { # PID: every descendant pid (not PID itself)
	local c
	for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do
		echo "$c"
		descendants "$c"
	done
}

# Sums VmRSS and Pss (smaps_rollup) over the listener's descendants, a few samples, keeps the
# highest total; prints "rss_kb pss_kb nproc" and logs the processes of the peak sample.
sample_mem() { # NAME LISTENER-PID
	local name=$1 best_rss=0 best_pss=0 best_n=0 i p rss pss tot_rss tot_pss n list
	for ((i = 0; i < 8; i++)); do
		sleep 0.3
		tot_rss=0 tot_pss=0 n=0 list=""
		for p in $(descendants "$2"); do
			rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
			pss=$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null)
			[ -n "$rss" ] || continue
			tot_rss=$((tot_rss + rss)) tot_pss=$((tot_pss + ${pss:-0})) n=$((n + 1))
			list+="  $(cat "/proc/$p/comm" 2>/dev/null) rss=${rss}kB pss=${pss:-?}kB;"
		done
		if [ "$tot_rss" -gt "$best_rss" ]; then
			best_rss=$tot_rss best_pss=$tot_pss best_n=$n
			echo "$name:$list" >"$T/mem.$name"
		fi
	done
	echo "$best_rss $best_pss $best_n"
}

mem_session() { # NAME LISTENER-PID SSH-COMMAND REMOTE-COMMAND
	local bg
	# shellcheck disable=SC2086
	timeout -k 5 "$SSH_TIMEOUT" $3 "$4" >/dev/null 2>&1 &
	bg=$!
	BG_PIDS+=("$bg")
	sleep 0.5
	sample_mem "$1" "$2"
	wait "$bg" 2>/dev/null
}
read -r S_RSS S_PSS S_N < <(mem_session sandboxd "$SBX_PID" "$SSH_SBX" "run sleep3.py")
read -r O_RSS O_PSS O_N < <(mem_session sshd "$SSHD_PID" "$SSH_OSS" "$PY sleep3.py")
printf 'peak RSS, one session (%s vs %s procs)\t%s\t%s\tMiB\n' "$S_N" "$O_N" \
	"$(awk "BEGIN { printf \"%.1f\", $S_RSS / 1024 }")" \
	"$(awk "BEGIN { printf \"%.1f\", $O_RSS / 1024 }")" >>"$RESULTS"
printf 'peak PSS, one session\t%s\t%s\tMiB\n' \
	"$(awk "BEGIN { printf \"%.1f\", $S_PSS / 1024 }")" \
	"$(awk "BEGIN { printf \"%.1f\", $O_PSS / 1024 }")" >>"$RESULTS"

# ---- CONC concurrent logins, three rounds each, the best round's wall time ----
conc_round() { # SSH-COMMAND-WITHOUT-DESTINATION REMOTE-COMMAND: wall ms, failures (user i+1 each)
	local t0 t1 i fails=0 pids=()
	t0=$(date +%s%N)
	for ((i = 0; i < CONC; i++)); do
		# shellcheck disable=SC2086
		timeout -k 5 "$SSH_TIMEOUT" $1 "sbxbench_${TAG}_$((i + 1))@127.0.0.1" "$2" \
			>/dev/null 2>"$T/conc.$i.err" &
		pids+=($!)
	done
	for ((i = 0; i < CONC; i++)); do
		if ! wait "${pids[$i]}"; then
			fails=$((fails + 1))
			# The first failure's message, for the report.
			[ -s "$T/conc.$CONC_NAME.err" ] ||
				{ head -c 200 "$T/conc.$i.err" | tr '\n' ' ' >"$T/conc.$CONC_NAME.err"; echo >>"$T/conc.$CONC_NAME.err"; }
		fi
	done
	t1=$(date +%s%N)
	echo "$(((t1 - t0) / 1000000)) $fails"
}
conc_best() { # SSH-COMMAND REMOTE-COMMAND: best wall ms of 3 rounds, total failures
	local ms f best=999999999 fails=0
	for _ in 1 2 3; do
		read -r ms f < <(conc_round "$1" "$2")
		[ "$ms" -lt "$best" ] && best=$ms
		fails=$((fails + f))
	done
	echo "$best $fails"
}
conc_row() { # LABEL EXTRA-SSH-OPTIONS
	local s_ms s_f o_ms o_f
	CONC_NAME=sandboxd
	read -r s_ms s_f < <(conc_best "$SSH_SBX_N $2" "$SBX_PASS")
	CONC_NAME=sshd
	read -r o_ms o_f < <(conc_best "$SSH_OSS_N $2" "$OSS_PASS")
	printf '%s concurrent logins as %s users%s (best of 3; failures %s/%s)\t%s\t%s\tms (wall)\n' \
		"$CONC" "$CONC" "$1" "$s_f" "$o_f" "$s_ms" "$o_ms" >>"$RESULTS"
}
if [ "$BENCH_CONCURRENT" = 1 ]; then
	conc_row "" ""
	conc_row ", curve25519" "-o KexAlgorithms=curve25519-sha256"
fi

echo "ssh end to end: sandboxd ($SBX_HELLO, jail + sandbox-python) vs sshd ($OSS_HELLO via bash), $RUNS runs"
awk -F'\t' '{ r = ($3 > 0) ? sprintf("%.2f", $2 / $3) : "-";
	printf "  %-74s ours %9s  ref %9s  %-11s x%s\n", $1, $2, $3, $4, r }' "$RESULTS"
for f in "$T"/conc.sandboxd.err "$T"/conc.sshd.err; do
	[ -s "$f" ] && echo "  first concurrent-login failure, $(basename "$f" .err | cut -d. -f2): $(cat "$f")"
done
echo "  negotiated: sandboxd: ${KEX_SBX:-?}; sshd: ${KEX_OSS:-?}"
echo "  per-process, peak sample:"
sed 's/;/\n   /g; s/^/   /' "$T/mem.sandboxd" "$T/mem.sshd" | grep -v '^ *$'
# The machine-readable lines run.sh collects.
awk -F'\t' '{ printf "RESULT\tssh: %s\t%s\t%s\t%s\n", $1, $2, $3, $4 }' "$RESULTS"
