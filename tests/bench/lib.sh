# shellcheck shell=bash
# Shared by the benchmark scripts (tests/bench/*_bench.sh; not tests): a temp dir, throwaway
# users, our server and OpenSSH's sshd on 127.0.0.1 with random ports, the interleaving driver,
# the RESULT lines run.sh turns into the table, and the cleanup of every user, server, cgroup
# and mount a script made (EXIT trap, also on ^C and timeouts).
#
# A script does:
#   . "$(dirname "$0")/lib.sh"
#   bench_init NAME                      # root check, $T, EXIT trap
#   bench_user NAME [PASSWORD]           # a user with the bench key, hello.py in the home
#   sbx_start [KEYWORD VALUE]...         # sandboxd on $SBX_PORT (config $T/sandboxd.conf)
#   sshd_start stock|tuned               # Debian's sshd on $SSHD_PORT_stock / $SSHD_PORT_tuned
#   interleave --runs N NAME=CMD...      # alternating runs; "STAT" lines
#   bench_result ...                     # one RESULT line (see the function)
#
# Environment: top_srcdir, top_builddir, SANDBOXD, SANDBOX_PYTHON, SSHD, BENCH_KEEP=1 keeps $T.

set -u
export LC_ALL=C

top_srcdir=${top_srcdir:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
BENCH_DIR=$top_srcdir/tests/bench
SANDBOXD=${SANDBOXD:-$top_builddir/sandboxd}
SANDBOX_PYTHON=${SANDBOX_PYTHON:-$top_builddir/sandbox-python}
SANDBOXCTL=${SANDBOXCTL:-$top_builddir/sandboxctl}
SSHD=${SSHD:-/usr/sbin/sshd}
PY=/usr/bin/python3.11
# shellcheck source=tests/free_port.sh
. "$(dirname "${BASH_SOURCE[0]}")/../free_port.sh"
# Every single ssh is bounded in time.
SSH_TIMEOUT=${SSH_TIMEOUT:-60}

T=""
BENCH_NAME=""
BENCH_USERS=()
BENCH_PIDS=()    # background processes to TERM at exit (clients)
BENCH_SERVERS=() # server pids to stop at exit
BENCH_CGROUPS=() # cgroup directories made by the script (removed at exit, deepest first)
BENCH_CLEANUP=() # extra shell commands run at exit
BENCH_MADE_RUN_SSHD=0
PAM_SERVICE="sandboxd-bench-$$"
PAM_FILE="/etc/pam.d/$PAM_SERVICE"
TAG=$(head -c 64 /dev/urandom | tr -dc 'a-z0-9' | head -c 5)
KEY=""

bench_die() {
	echo "${BENCH_NAME:-bench}: $*" >&2
	exit 1
}

bench_need() { # TOOL...: all of them, or a clear message
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null || bench_die "missing tool: $t"
	done
}

bench_stop_pid() { # PID: TERM, up to 5 s, then KILL; reaps it
	local p=$1 i
	[ -n "$p" ] || return 0
	kill -TERM "$p" 2>/dev/null || return 0
	for ((i = 0; i < 50; i++)); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
}

bench_cleanup() {
	local rc=$? p pids u c i
	set +e
	trap - EXIT INT TERM HUP
	for p in "${BENCH_PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${BENCH_SERVERS[@]}"; do
		bench_stop_pid "$p"
	done
	for c in "${BENCH_CLEANUP[@]}"; do
		eval "$c"
	done
	for u in "${BENCH_USERS[@]}"; do
		pids=$(ps -o pid= -u "$u" 2>/dev/null | tr -d ' ')
		# shellcheck disable=SC2086
		[ -n "$pids" ] && kill -KILL $pids 2>/dev/null
	done
	[ "${#BENCH_USERS[@]}" -gt 0 ] && sleep 0.2
	for u in "${BENCH_USERS[@]}"; do
		userdel -r -f "$u" >/dev/null 2>&1 || userdel -f "$u" >/dev/null 2>&1
		rm -rf "/home/${u:?}"
	done
	for ((i = ${#BENCH_CGROUPS[@]} - 1; i >= 0; i--)); do
		rmdir "${BENCH_CGROUPS[$i]}" 2>/dev/null
	done
	rm -f "$PAM_FILE"
	[ "$BENCH_MADE_RUN_SSHD" = 1 ] && rmdir /run/sshd 2>/dev/null
	if [ "$rc" != 0 ] && [ -n "$T" ]; then
		for f in sandboxd.log sshd-stock.log sshd-tuned.log; do
			[ -s "$T/$f" ] && { echo "# ---- $f (last 15 lines) ----"; tail -n 15 "$T/$f" | sed 's/^/# /'; }
		done
	fi
	if [ -n "$T" ]; then
		if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "# kept $T"; else rm -rf "$T"; fi
	fi
	exit "$rc"
}

bench_init() { # NAME
	BENCH_NAME=$1
	[ "$(id -u)" = 0 ] || bench_die "needs root (throwaway users, jails, servers)"
	bench_need ssh ssh-keygen useradd userdel usermod chpasswd timeout "$PY"
	T=$(mktemp -d "/tmp/sbxbench-$1.XXXXXX") || bench_die mktemp
	chmod 0755 "$T"
	mkdir -m 0755 "$T/empty" "$T/policy"
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM HUP
	KEY="$T/id_bench"
	ssh-keygen -q -t ed25519 -N '' -C bench -f "$KEY" >/dev/null || bench_die ssh-keygen
	printf 'print("hello")\n' >"$T/hello.py"
}

# ---- users ----

# A user with the bench key authorized and hello.py in the home; a password when given.
bench_user() { # NAME [PASSWORD]
	local u=$1 home g
	useradd -m -s /bin/bash -c "sandboxd-bench pid $$" "$u" || bench_die "useradd $u"
	BENCH_USERS+=("$u")
	if [ -n "${2:-}" ]; then
		printf '%s:%s\n' "$u" "$2" | chpasswd || bench_die "chpasswd $u"
	else
		# pam_unix refuses a locked password ("!") for any login, keys included.
		usermod -p '*' "$u"
	fi
	home=$(getent passwd "$u" | cut -d: -f6)
	g=$(id -gn "$u")
	install -d -m 0700 -o "$u" -g "$g" "$home/.ssh"
	install -m 0600 -o "$u" -g "$g" "$KEY.pub" "$home/.ssh/authorized_keys"
	install -m 0644 -o "$u" -g "$g" "$T/hello.py" "$home/hello.py"
}

# ---- servers ----

bench_port_open() {
	"$PY" -c 'import socket,sys
s = socket.socket(); s.settimeout(1)
sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)' "$1" 2>/dev/null
}

bench_wait_listen() { # PID PORT: 10 s at most
	local i
	for ((i = 0; i < 100; i++)); do
		kill -0 "$1" 2>/dev/null || return 1
		bench_port_open "$2" && return 0
		sleep 0.1
	done
	return 1
}

# Our server, configured for a benchmark: KEYWORD VALUE pairs replace the defaults below (a
# keyword may appear only once in sandboxd.conf). SBX_WRAP, when set, is a command prefix the
# server runs under (it must exec the server, so that $SBX_PID is the listener).
sbx_start() { # [KEYWORD VALUE]...
	local -A conf=()
	local -a order=(ListenAddress Port HostKey PidFile PamService PrivsepUser PrivsepDirectory
		RuntimeDirectory RunnerPath PolicyDirectory AuditFile AuditJournal HomeBackend
		StateDirectory LogLevel PasswordAuthentication KbdInteractiveAuthentication MaxStartups
		MaxLogins PerSourcePenalties)
	getent passwd _sandboxd >/dev/null ||
		useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
			_sandboxd || bench_die "cannot create the privsep user _sandboxd"
	[ -e "$PAM_FILE" ] || cp "$top_srcdir/data/pam/sandboxd" "$PAM_FILE" || bench_die "PAM service"
	[ -e "$T/sbx_host_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$T/sbx_host_key" >/dev/null
	SBX_PORT=$(free_port)
	# Every client comes from 127.0.0.1: per-source penalties would measure the bench, not us.
	conf=([ListenAddress]=127.0.0.1 [Port]=$SBX_PORT [HostKey]=$T/sbx_host_key
		[PidFile]=$T/sandboxd.pid [PamService]=$PAM_SERVICE [PrivsepUser]=_sandboxd
		[PrivsepDirectory]=$T/empty [RuntimeDirectory]=$T/run [RunnerPath]=$SANDBOX_PYTHON
		[PolicyDirectory]=$T/policy [AuditFile]=$T/audit.jsonl [AuditJournal]=no
		[HomeBackend]=directory [StateDirectory]=$T/state [LogLevel]=INFO
		[PasswordAuthentication]=yes [KbdInteractiveAuthentication]=no
		[MaxStartups]=200:30:400 [MaxLogins]=none [PerSourcePenalties]=no)
	while [ $# -ge 2 ]; do
		[ -n "${conf[$1]+set}" ] || order+=("$1")
		conf[$1]=$2
		shift 2
	done
	local k
	for k in "${order[@]}"; do
		printf '%s %s\n' "$k" "${conf[$k]}"
	done >"$T/sandboxd.conf"
	${SBX_WRAP:-} "$SANDBOXD" -f "$T/sandboxd.conf" -D >>"$T/sandboxd.log" 2>&1 &
	SBX_PID=$!
	BENCH_SERVERS+=("$SBX_PID")
	bench_wait_listen "$SBX_PID" "$SBX_PORT" || bench_die "sandboxd did not start (log: $T/sandboxd.log)"
	bench_cpu_group sandboxd "$SBX_PID"
}

# Each server runs in a CPU cgroup of its own, as a service would (systemd gives every service
# one): the students' processes of either server then compete for the CPU as one group (ours
# are in the daemon's sandboxd/<user>/<session> groups anyway), and the clients of the bench,
# which in real life run elsewhere, are not what decides who gets the CPU. v1 "cpu" hierarchy,
# or the cgroup2 root when it has the cpu controller; nothing happens otherwise.
bench_cpu_group() { # NAME PID
	local dir=""
	if [ -d /sys/fs/cgroup/cpu ] && [ -e /sys/fs/cgroup/cpu/cgroup.procs ]; then
		dir=/sys/fs/cgroup/cpu/sbxbench-$TAG-$1
	elif grep -qw cpu /sys/fs/cgroup/cgroup.controllers 2>/dev/null &&
		grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; then
		dir=/sys/fs/cgroup/sbxbench-$TAG-$1
	fi
	[ -n "$dir" ] || return 0
	mkdir -p "$dir" && BENCH_CGROUPS+=("$dir")
	# Before the groups are removed at exit, whatever is left in them goes back to the root.
	BENCH_CLEANUP+=("for p in \$(cat $dir/cgroup.procs 2>/dev/null); do echo \$p >${dir%/*}/cgroup.procs; done 2>/dev/null")
	echo "$2" >"$dir/cgroup.procs" || echo "# could not move $1 into its CPU group"
}

sbx_stop() {
	bench_stop_pid "$SBX_PID"
}

# The policy every bench user gets (sandboxctl writes the files, like an admin would).
sbx_policy() { # KEY=VALUE...
	"$SANDBOXCTL" --config "$T/sandboxd.conf" quota set default "$@" >/dev/null ||
		bench_die "sandboxctl quota set default $*"
}

# An LD_PRELOAD shim that sets TCP_NODELAY on every accepted socket (the "tuned" sshd: OpenSSH
# only sets it once a session starts, so key exchange and authentication run with Nagle).
bench_nodelay_shim() {
	[ -e "$T/nodelay.so" ] && return 0
	${CC:-cc} -O2 -shared -fPIC -o "$T/nodelay.so" "$BENCH_DIR/nodelay.c" -ldl ||
		bench_die "cannot build the TCP_NODELAY shim (cc)"
}

# Debian's sshd, our own instance (the system service is never touched), with Debian's stock
# sshd_config settings; "tuned" adds curve25519-sha256 as the only key exchange and TCP_NODELAY
# from the first byte. Users matching $TAG's "f" prefix get a ForceCommand (python3 hello.py),
# the "c" prefix the short computation of the load test.
sshd_start() { # stock|tuned
	local kind=$1 port pid
	[ -x "$SSHD" ] || bench_die "no sshd at $SSHD (Debian: openssh-server)"
	if [ ! -d /run/sshd ]; then
		mkdir -m 0755 /run/sshd && BENCH_MADE_RUN_SSHD=1
	fi
	[ -e "$T/sshd_host_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$T/sshd_host_key" >/dev/null
	port=$(free_port)
	{
		cat <<EOF
ListenAddress 127.0.0.1
Port $port
HostKey $T/sshd_host_key
PidFile $T/sshd-$kind.pid
# Debian 12's /etc/ssh/sshd_config, uncommented lines:
KbdInteractiveAuthentication no
UsePAM yes
X11Forwarding yes
PrintMotd no
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
# For the benchmark:
PasswordAuthentication yes
AllowUsers sbxb${TAG}*
MaxStartups 200:30:400
EOF
		[ "$kind" = tuned ] && echo "KexAlgorithms curve25519-sha256"
		cat <<EOF
Match User sbxb${TAG}f*
	ForceCommand /usr/bin/python3 hello.py
Match User sbxb${TAG}c*
	ForceCommand /usr/bin/python3 -c 'print(sum(range(10**6)))'
EOF
	} >"$T/sshd-$kind.conf"
	if [ "$kind" = tuned ]; then
		bench_nodelay_shim
		LD_PRELOAD="$T/nodelay.so" "$SSHD" -D -e -f "$T/sshd-$kind.conf" >>"$T/sshd-$kind.log" 2>&1 &
	else
		"$SSHD" -D -e -f "$T/sshd-$kind.conf" >>"$T/sshd-$kind.log" 2>&1 &
	fi
	pid=$!
	BENCH_SERVERS+=("$pid")
	bench_wait_listen "$pid" "$port" || bench_die "sshd ($kind) did not start (log: $T/sshd-$kind.log)"
	bench_cpu_group "sshd-$kind" "$pid"
	printf -v "SSHD_PORT_$kind" '%s' "$port"
	printf -v "SSHD_PID_$kind" '%s' "$pid"
}

# The client as a student runs it: OpenSSH's defaults (no -o for algorithms), the bench key, no
# agent, no ControlMaster, no known_hosts prompts. "$(ssh_cmd PORT USER)" + remote command.
ssh_cmd() { # PORT USER [EXTRA-OPTIONS...]
	local port=$1 user=$2
	shift 2
	echo "ssh -F /dev/null -i $KEY -o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes" \
		"-o ControlMaster=no -o ControlPath=none -o UserKnownHostsFile=$T/known_hosts" \
		"-o StrictHostKeyChecking=no -o LogLevel=ERROR -o ConnectTimeout=20 $* -p $port $user@127.0.0.1"
}

# The same with a password: sshpass answers the prompt.
ssh_pw_cmd() { # PORT USER PASSWORD [EXTRA-OPTIONS...]
	local port=$1 user=$2 pw=$3
	shift 3
	echo "sshpass -p $pw ssh -F /dev/null -o PubkeyAuthentication=no" \
		"-o PreferredAuthentications=password -o IdentityAgent=none" \
		"-o ControlMaster=no -o ControlPath=none -o UserKnownHostsFile=$T/known_hosts" \
		"-o StrictHostKeyChecking=no -o LogLevel=ERROR -o ConnectTimeout=20 $* -p $port $user@127.0.0.1"
}

# What a client and a server negotiate (key exchange, cipher).
ssh_negotiated() { # SSH-COMMAND REMOTE-COMMAND
	# shellcheck disable=SC2086
	timeout -k 5 "$SSH_TIMEOUT" ${1/LogLevel=ERROR/LogLevel=DEBUG1} "$2" 2>&1 >/dev/null |
		sed -n 's/^debug1: kex: algorithm: //p; s/^debug1: kex: server->client cipher: \([^ ]*\).*/\1/p' |
		tr '\n' ' '
}

bench_check() { # WHAT EXPECTED COMMAND...: the command's stdout must be EXPECTED
	local what=$1 want=$2 out
	shift 2
	out=$(timeout -k 5 "$SSH_TIMEOUT" "$@" 2>"$T/check.err")
	[ "$out" = "$want" ] || bench_die "$what: expected '$want', got '$out' ($(head -c 300 "$T/check.err"))"
}

# ---- measuring ----

# interleave.py: runs the commands in turn (one round = each once, the order rotating), prints
# "STAT<TAB>name<TAB>median<TAB>min<TAB>max<TAB>runs<TAB>failures<TAB>first error" in ms.
interleave() {
	"$PY" "$BENCH_DIR/interleave.py" "$@"
}

# The STAT line of NAME from interleave's output FILE, as "median min max runs failures".
stat_of() { # FILE NAME
	awk -F'\t' -v n="$2" '$1 == "STAT" && $2 == n { print $3, $4, $5, $6, $7 }' "$1"
}

# One row of the summary table (run.sh): tab-separated
#   RESULT id label unit ours-median ours-min ours-max anchor anchor-median anchor-min
#   anchor-max runs target failures note
# target: "ratio<=X" (ours/anchor), "abs<=X" (ours, in unit), "eq" (ours == anchor), "info";
# ";stretch<=X" may follow a ratio. An anchor of "-" has no numbers ("-").
bench_result() { # ID LABEL UNIT "OURS-MED MIN MAX" ANCHOR "ANCHOR-MED MIN MAX" RUNS TARGET FAILURES NOTE
	local o a
	read -r -a o <<<"$4"
	read -r -a a <<<"$6"
	printf 'RESULT\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" \
		"${o[0]:--}" "${o[1]:--}" "${o[2]:--}" "$5" "${a[0]:--}" "${a[1]:--}" "${a[2]:--}" \
		"$7" "$8" "$9" "${10:-}"
}

# Median/min/max of numbers on stdin (one a line): "median min max count".
bench_stats() {
	sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "- - - 0"; exit }
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.2f %.2f %.2f %d\n", m, v[1], v[NR], NR }'
}

# Every descendant pid of PID (not PID itself).
bench_descendants() {
	local c
	for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do
		echo "$c"
		bench_descendants "$c"
	done
}

bench_pss_kb() { # PID: Pss of smaps_rollup in kB (empty if gone)
	awk '/^Pss:/ { print $2 }' "/proc/$1/smaps_rollup" 2>/dev/null
}
