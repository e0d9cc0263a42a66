# shellcheck shell=bash
# Harness for the end-to-end tests: the real sandboxd, the real OpenSSH client, the real PAM stack
# (pam_unix with throwaway users). Sourced by every tests/e2e/*.sh; needs root.
#
# A test does:
#   . "$(dirname "$0")/lib.sh"
#   e2e_init                      # root check, temp dir $T, PAM service, privsep user, EXIT trap
#   make_user                     # sets $U (name) and $PW (password); removed at exit
#   start_server [KEYWORD VALUE]  # config in $T/sandboxd.conf, server on 127.0.0.1:$PORT
#   ssh_pw "$U" "$PW" [SSH-OPTIONS...] -- COMMAND   # stdout, stderr, status in $OUT $ERR $RC
#   assert_eq "$OUT" 42 "what it checks"
#   e2e_done                      # leftover-process checks; exit 1 if anything failed
#
# Environment: SANDBOXD and SANDBOX_PYTHON (default: the build tree's), E2E_KEEP=1 keeps $T,
# E2E_LOGLEVEL (default DEBUG).

set -u
export LC_ALL=C

top_srcdir=${top_srcdir:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
SANDBOXD=${SANDBOXD:-$top_builddir/sandboxd}
SANDBOX_PYTHON=${SANDBOX_PYTHON:-$top_builddir/sandbox-python}
PY=/usr/bin/python3.11
# shellcheck source=tests/free_port.sh
. "$(dirname "${BASH_SOURCE[0]}")/../free_port.sh"
E2E_NAME=$(basename "$0" .sh)
E2E_LOGLEVEL=${E2E_LOGLEVEL:-DEBUG}
# Every remote command is bounded so that a hung server fails the test instead of the CI job.
E2E_SSH_TIMEOUT=${E2E_SSH_TIMEOUT:-40}

T=""
CONF=""
PORT=""
SERVER_PID=""
PAM_SERVICE="sandboxd-e2e-$$"
PAM_FILE="/etc/pam.d/$PAM_SERVICE"
E2E_USERS=()
E2E_BG_PIDS=()
E2E_FAILED=0
E2E_COUNT=0
OUT=""
ERR=""
RC=0
ELAPSED=0

# Tests never read the runner's terminal: a command that wants stdin gets it from a pipe.
exec </dev/null

# Sanitizer builds (configure --enable-sanitizers): every process the test starts writes its
# AddressSanitizer, LeakSanitizer and UBSan reports to E2E_SANITIZER_LOG.PID, and any report
# fails the test (e2e_sanitizer_check). Other builds ignore these variables.
E2E_SANITIZER_LOG=/tmp/sbxe2e-sanitizer.$E2E_NAME.$$
# Tests crash processes on purpose with SIGSEGV (penalties, faults): the signal must kill them as
# it would without the sanitizers, not become a report (handle_segv=0).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$E2E_SANITIZER_LOG:handle_segv=0"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$E2E_SANITIZER_LOG:print_stacktrace=1"
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$top_srcdir/tests/sanitizers/lsan.supp:print_suppressions=0"
# Such a server answers a few times slower (LeakSanitizer checks every connection process as it
# ends), so a burst of logins needs a longer wait for the banner.
E2E_CONNECT_TIMEOUT=10
grep -qs __asan_init "$SANDBOXD" && E2E_CONNECT_TIMEOUT=30

# ---- reporting ----

ok() {
	E2E_COUNT=$((E2E_COUNT + 1))
	echo "ok - $*"
}

fail() {
	E2E_COUNT=$((E2E_COUNT + 1))
	E2E_FAILED=$((E2E_FAILED + 1))
	echo "not ok - $*"
}

# Shows the last ssh call's result under a failed assertion (as "# " comment lines).
e2e_diag() {
	{
		[ -n "${E2E_LAST_CMD:-}" ] && echo "last command: $E2E_LAST_CMD"
		echo "exit status: $RC"
		echo "stdout: $(printf '%s' "$OUT" | head -c 600)"
		echo "stderr: $(printf '%s' "$ERR" | head -c 600)"
	} | sed 's/^/#   /'
}

assert_eq() { # GOT EXPECTED WHAT
	if [ "$1" == "$2" ]; then
		ok "$3"
	else
		fail "$3: expected '$(printf '%s' "$2" | head -c 300)', got '$(printf '%s' "$1" | head -c 300)'"
		e2e_diag
	fi
}

assert_ne() { # GOT UNEXPECTED WHAT
	if [ "$1" != "$2" ]; then
		ok "$3"
	else
		fail "$3: expected anything but '$2'"
		e2e_diag
	fi
}

assert_contains() { # HAYSTACK NEEDLE WHAT  (fixed string)
	if [[ "$1" == *"$2"* ]]; then
		ok "$3"
	else
		fail "$3: '$(printf '%s' "$1" | head -c 400)' does not contain '$2'"
		e2e_diag
	fi
}

assert_not_contains() { # HAYSTACK NEEDLE WHAT
	if [[ "$1" != *"$2"* ]]; then
		ok "$3"
	else
		fail "$3: '$(printf '%s' "$1" | head -c 400)' contains '$2'"
		e2e_diag
	fi
}

assert_match() { # HAYSTACK EXTENDED-REGEX WHAT  (case-insensitive)
	if printf '%s' "$1" | grep -qiE -- "$2"; then
		ok "$3"
	else
		fail "$3: '$(printf '%s' "$1" | head -c 400)' does not match /$2/"
		e2e_diag
	fi
}

assert_rc() { # EXPECTED WHAT  (checks $RC of the last ssh call)
	assert_eq "$RC" "$1" "$2 (exit status)"
}

die() {
	echo "not ok - $E2E_NAME: $*"
	E2E_FAILED=$((E2E_FAILED + 1))
	exit 1
}

# ---- set-up and tear-down ----

require_root() {
	if [ "$(id -u)" != 0 ]; then
		# In CI (CI=true) nothing may skip: a missing requirement is a hard error there.
		if [ -n "${CI:-}" ]; then
			echo "ERROR (CI must not skip): $E2E_NAME needs root"
			exit 99
		fi
		echo "SKIP: $E2E_NAME needs root (throwaway users, /etc/pam.d, the privileged listener)"
		exit 77
	fi
}

# Everything the tests need is a hard requirement: CI has all of it, so nothing skips there.
require_tools() {
	local t
	for t in ssh sshpass ssh-keygen ssh-agent useradd userdel usermod chpasswd timeout "$PY"; do
		command -v "$t" >/dev/null || die "missing tool: $t"
	done
	[ -x "$SANDBOXD" ] || die "no server binary at $SANDBOXD (set SANDBOXD or build it)"
}

e2e_init() {
	require_root
	require_tools
	T=$(mktemp -d "/tmp/sbxe2e-$E2E_NAME.XXXXXX") || die "mktemp"
	chmod 0755 "$T"
	mkdir -m 0755 "$T/empty"
	trap e2e_cleanup EXIT
	trap 'exit 130' INT TERM HUP
	sweep_stale_users
	ensure_privsep_user
	install_pam_service
	echo "# $E2E_NAME: temp dir $T, server $SANDBOXD"
}

# Users left by a test that was killed with SIGKILL: their GECOS names the test's pid.
sweep_stale_users() {
	local name gecos pid
	while IFS=: read -r name _ _ _ gecos _; do
		[[ "$name" == sbxe2e_* ]] || continue
		[[ "$gecos" =~ ^sandboxd-e2e\ pid\ ([0-9]+)$ ]] || continue
		pid=${BASH_REMATCH[1]}
		kill -0 "$pid" 2>/dev/null && continue
		echo "# removing stale test user $name (pid $pid is gone)"
		remove_user "$name"
	done < <(getent passwd)
}

ensure_privsep_user() {
	getent passwd _sandboxd >/dev/null && return 0
	useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
		_sandboxd 2>/dev/null
	# Another test may have created it at the same moment.
	getent passwd _sandboxd >/dev/null || die "cannot create the privsep user _sandboxd"
}

install_pam_service() {
	if [ -f "$top_srcdir/data/pam/sandboxd" ]; then
		cp "$top_srcdir/data/pam/sandboxd" "$PAM_FILE"
	else
		printf '@include common-auth\n@include common-account\n@include common-session\n' \
			>"$PAM_FILE"
	fi
}

# Kills what is left of the throwaway users' processes (by pid) and removes the account.
remove_user() {
	local u=$1 pids
	pids=$(ps -o pid= -u "$u" 2>/dev/null | tr -d ' ')
	# shellcheck disable=SC2086
	[ -n "$pids" ] && kill -KILL $pids 2>/dev/null
	userdel -r -f "$u" >/dev/null 2>&1 || userdel -f "$u" >/dev/null 2>&1
	rm -rf "/home/${u:?}"
}

e2e_cleanup() {
	local rc=$? p u
	set +e
	stop_server quiet
	for p in "${E2E_BG_PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for u in "${E2E_USERS[@]}"; do
		remove_user "$u"
	done
	rm -f "$PAM_FILE"
	e2e_sanitizer_check || rc=1
	if [ "$rc" != 0 ] || [ "$E2E_FAILED" != 0 ]; then
		if [ -n "$T" ] && [ -s "$T/server.log" ]; then
			echo "# ---- server log (last 60 lines of $T/server.log) ----"
			tail -n 60 "$T/server.log" | sed 's/^/# /'
		fi
		if [ -n "$T" ] && [ -s "$T/inetd.log" ]; then
			echo "# ---- -i mode log (last 30 lines of $T/inetd.log) ----"
			tail -n 30 "$T/inetd.log" | sed 's/^/# /'
		fi
	fi
	if [ -n "$T" ]; then
		if [ "${E2E_KEEP:-0}" = 1 ]; then
			echo "# kept $T"
		else
			rm -rf "$T"
		fi
	fi
	exit "$rc"
}

# Fails (once) when a sanitizer report is in E2E_SANITIZER_LOG.* or a server log, and shows it.
E2E_SANITIZER_CHECKED=0
e2e_sanitizer_check() {
	local f bad=0
	[ "$E2E_SANITIZER_CHECKED" = 0 ] || return 0
	E2E_SANITIZER_CHECKED=1
	for f in "$E2E_SANITIZER_LOG".* ${T:+"$T/server.log" "$T/inetd.log"}; do
		[ -f "$f" ] && grep -qE 'Sanitizer|runtime error:' "$f" || continue
		fail "sanitizer report in $f"
		grep -E -A 40 'ERROR: .*Sanitizer|runtime error:' "$f" | head -n 80 | sed 's/^/#   /'
		bad=1
	done
	[ "${E2E_KEEP:-0}" = 1 ] || rm -f "$E2E_SANITIZER_LOG".*
	return "$bad"
}

# Ends a test: leftover checks, a summary line, exit 1 if anything failed.
# Waits up to 5 s for the listener to have no child left; prints the pids still there.
server_children_left() {
	local i left=""
	for ((i = 0; i < 50; i++)); do
		left=$(pgrep -P "$SERVER_PID" | tr '\n' ' ')
		[ -z "$left" ] && break
		sleep 0.1
	done
	printf '%s' "$left"
}

e2e_done() {
	stop_server
	assert_no_leftovers
	e2e_sanitizer_check
	echo "# $E2E_NAME: $((E2E_COUNT - E2E_FAILED)) of $E2E_COUNT passed"
	[ "$E2E_FAILED" = 0 ] || exit 1
	exit 0
}

# ---- users ----

rand_alnum() { # LENGTH
	local s=""
	while [ "${#s}" -lt "$1" ]; do
		s+=$(head -c 64 /dev/urandom | tr -dc 'a-z0-9')
	done
	printf '%s' "${s:0:$1}"
}

# Creates a throwaway user with a home and a random password: sets U and PW.
make_user() {
	U="sbxe2e_$(rand_alnum 8)"
	PW="Pw-$(rand_alnum 16)"
	useradd -m -s /bin/bash -c "sandboxd-e2e pid $$" "$U" || die "useradd $U"
	E2E_USERS+=("$U")
	printf '%s:%s\n' "$U" "$PW" | chpasswd || die "chpasswd $U"
}

# A fresh ed25519 key for U in ~U/.ssh/authorized_keys (dir 0700, file 0600, owned by U):
# sets KEY (the private key file, owned by root in $T).
make_user_key() {
	local home
	home=$(getent passwd "$U" | cut -d: -f6)
	KEY="$T/id_$U"
	rm -f "$KEY" "$KEY.pub"
	ssh-keygen -q -t ed25519 -N '' -C "$U@e2e" -f "$KEY" >/dev/null || die "ssh-keygen"
	install -d -m 0700 -o "$U" -g "$(id -gn "$U")" "$home/.ssh"
	install -m 0600 -o "$U" -g "$(id -gn "$U")" "$KEY.pub" "$home/.ssh/authorized_keys"
}

# ---- the server ----

# Writes $CONF with the harness's base keywords, then "KEYWORD VALUE" pairs from the arguments
# (a keyword given here replaces the base one). Every test connects from 127.0.0.1, and many
# fail logins on purpose: PerSourcePenalties is off unless a test turns it on.
write_config() {
	local -A over=()
	local -a order=()
	while [ $# -ge 2 ]; do
		[ -n "${over[$1]+x}" ] || order+=("$1")
		over[$1]=$2
		shift 2
	done
	CONF="$T/sandboxd.conf"
	{
		echo "# written by tests/e2e/lib.sh for $E2E_NAME"
		local kv k
		for kv in "ListenAddress=127.0.0.1" "Port=$PORT" "HostKey=$T/ssh_host_ed25519_key" \
			"PidFile=$T/sandboxd.pid" "PamService=$PAM_SERVICE" "PrivsepUser=_sandboxd" \
			"PrivsepDirectory=$T/empty" "RuntimeDirectory=$T/run" \
			"RunnerPath=$SANDBOX_PYTHON" "PolicyDirectory=$T/policy" \
			"AuditFile=$T/audit.jsonl" "AuditJournal=no" "StateDirectory=$T/state" \
			"HomeBackend=${E2E_HOME_BACKEND:-directory}" \
			"PerSourcePenalties=no" \
			"LogLevel=$E2E_LOGLEVEL"; do
			k=${kv%%=*}
			if [ -n "${over[$k]+x}" ]; then
				continue
			fi
			echo "$k ${kv#*=}"
		done
		for k in "${order[@]}"; do
			echo "$k ${over[$k]}"
		done
	} >"$CONF"
}

port_open() { # PORT
	"$PY" -c 'import socket,sys
s = socket.socket(); s.settimeout(1)
sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)' "$1" 2>/dev/null
}

# start_server [KEYWORD VALUE]...: the server in the foreground (-D) in the background, its
# stderr in $T/server.log; returns when it accepts on $PORT. Picks another port if the chosen
# one was taken in between.
start_server() {
	local attempt i
	for attempt in 1 2 3 4 5; do
		PORT=$(free_port)
		[ -n "$PORT" ] || die "no free port"
		write_config "$@"
		echo "# server start $attempt on port $PORT" >>"$T/server.log"
		"$SANDBOXD" -f "$CONF" -D >>"$T/server.log" 2>&1 &
		SERVER_PID=$!
		for ((i = 0; i < 100; i++)); do
			if ! kill -0 "$SERVER_PID" 2>/dev/null; then
				wait "$SERVER_PID" 2>/dev/null
				SERVER_PID=""
				break
			fi
			port_open "$PORT" && return 0
			sleep 0.1
		done
		if [ -n "$SERVER_PID" ]; then
			stop_server quiet
			die "server did not accept on port $PORT within 10 s (log: $T/server.log)"
		fi
		grep -qiE 'in use|EADDRINUSE' "$T/server.log" || break
	done
	echo "# ---- server log ----"
	sed 's/^/# /' "$T/server.log" | tail -n 30
	die "server exited at start-up"
}

# Stops the listener (TERM, then KILL after 5 s) and reaps it.
stop_server() {
	local i
	[ -n "$SERVER_PID" ] || return 0
	kill -TERM "$SERVER_PID" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$SERVER_PID" 2>/dev/null; then
		[ "${1:-}" = quiet ] || fail "server pid $SERVER_PID ignored SIGTERM for 5 s"
		kill -KILL "$SERVER_PID" 2>/dev/null
	fi
	wait "$SERVER_PID" 2>/dev/null
	SERVER_PID=""
}

# Pids of any process whose command line names this test's temp dir (listener, connection
# processes, -i servers), other than this shell and its helpers.
server_pids() {
	[ -n "$T" ] || return 0
	pgrep -f -- "$T/sandboxd.conf" | grep -vx "$$" || true
}

# Waits up to 5 s for every server process and every throwaway user's process to be gone; fails
# (and kills them by pid) otherwise.
assert_no_leftovers() {
	local i pids u left=""
	for ((i = 0; i < 50; i++)); do
		left=$(server_pids)
		for u in "${E2E_USERS[@]}"; do
			pids=$(ps -o pid= -u "$u" 2>/dev/null | tr -d ' ')
			[ -n "$pids" ] && left+=" $pids"
		done
		left=$(echo $left)
		[ -z "$left" ] && break
		sleep 0.1
	done
	if [ -z "$left" ]; then
		ok "no server or user processes left over"
	else
		fail "processes left over: $(ps -o pid=,user=,args= -p "${left// /,}" 2>/dev/null | tr '\n' ';')"
		# shellcheck disable=SC2086
		kill -KILL $left 2>/dev/null
	fi
}

# ---- the client ----

ssh_base_opts() {
	SSH_OPTS=(-F /dev/null -o "UserKnownHostsFile=$T/known_hosts"
		-o StrictHostKeyChecking=accept-new -o BatchMode=no -o ConnectTimeout=$E2E_CONNECT_TIMEOUT
		-o LogLevel=ERROR)
	if [ "${E2E_INETD:-0}" = 1 ]; then
		# One server on stdin/stdout per connection, no port (sandboxd -i); its log goes to a
		# file, not to the client's stderr.
		SSH_OPTS+=(-o "ProxyCommand=$SANDBOXD -f $CONF -i 2>>$T/inetd.log"
			-o HostKeyAlias=sandboxd-e2e-inetd)
	else
		SSH_OPTS+=(-p "$PORT")
	fi
}

# build_ssh [WRAPPER...] --- USER [FIXED-OPTIONS...] --- [SSH-OPTIONS... --] COMMAND...
# (internal): sets ARGV. ssh takes the first value of an option it sees, so the caller's options
# come first, then the wrapper's fixed ones, then the base.
build_ssh() {
	local -a pre=() fixed=() opts=() cmd=()
	while [ $# -gt 0 ] && [ "$1" != "---" ]; do
		pre+=("$1")
		shift
	done
	shift
	local user=$1
	shift
	while [ $# -gt 0 ] && [ "$1" != "---" ]; do
		fixed+=("$1")
		shift
	done
	[ $# -gt 0 ] && shift
	local a has_sep=0
	for a in "$@"; do
		[ "$a" = "--" ] && has_sep=1
	done
	if [ "$has_sep" = 1 ]; then
		while [ "$1" != "--" ]; do
			opts+=("$1")
			shift
		done
		shift
	fi
	cmd=("$@")
	ssh_base_opts
	ARGV=("${pre[@]}" ssh "${opts[@]}" "${fixed[@]}" "${SSH_OPTS[@]}" "$user@127.0.0.1"
		"${cmd[@]}")
	E2E_LAST_CMD="${ARGV[*]}"
}

# Runs the ssh built by build_ssh with a time bound: sets OUT, ERR, RC and ELAPSED (ms).
run_ssh() {
	local t0 t1
	build_ssh "$@"
	t0=$(date +%s%N)
	timeout -k 5 "$E2E_SSH_TIMEOUT" "${ARGV[@]}" >"$T/ssh.out" 2>"$T/ssh.err"
	RC=$?
	t1=$(date +%s%N)
	ELAPSED=$(((t1 - t0) / 1000000))
	OUT=$(cat "$T/ssh.out")
	ERR=$(cat "$T/ssh.err")
	[ "$RC" = 124 ] && echo "# timed out after ${E2E_SSH_TIMEOUT}s: $E2E_LAST_CMD"
	return 0
}

# Starts the ssh built by build_ssh in the background: BG_PID, output in $T/bg.N.{out,err}
# with N=$BG_N. The caller stops it with stop_bg.
BG_N=0
run_ssh_bg() {
	build_ssh "$@"
	BG_N=$((BG_N + 1))
	timeout -k 5 "$E2E_SSH_TIMEOUT" "${ARGV[@]}" >"$T/bg.$BG_N.out" 2>"$T/bg.$BG_N.err" &
	BG_PID=$!
	track_bg "$BG_PID"
}

# Stops a background job started by this test (by its pid) and reaps it: sets RC.
stop_bg() {
	kill -TERM "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	RC=$?
}

# ssh_pw USER PASSWORD [SSH-OPTIONS... --] COMMAND: password authentication via sshpass.
ssh_pw() {
	local user=$1 pass=$2
	shift 2
	${E2E_RUN:-run_ssh} sshpass -p "$pass" --- "$user" -o PreferredAuthentications=password \
		-o PubkeyAuthentication=no --- "$@"
}

# ssh_pw_bg USER PASSWORD [SSH-OPTIONS... --] COMMAND: ssh_pw in the background (run_ssh_bg).
ssh_pw_bg() { E2E_RUN=run_ssh_bg ssh_pw "$@"; }

# ssh_kbd USER PASSWORD [SSH-OPTIONS... --] COMMAND: keyboard-interactive; sshpass answers
# PAM's "Password: " prompt.
ssh_kbd() {
	local user=$1 pass=$2
	shift 2
	run_ssh sshpass -P "assword:" -p "$pass" --- "$user" \
		-o PreferredAuthentications=keyboard-interactive -o PubkeyAuthentication=no --- "$@"
}

# ssh_key USER KEYFILE [SSH-OPTIONS... --] COMMAND: publickey only, no prompts.
ssh_key() {
	local user=$1 key=$2
	shift 2
	run_ssh --- "$user" -i "$key" -o IdentitiesOnly=yes -o IdentityAgent=none \
		-o PreferredAuthentications=publickey -o BatchMode=yes --- "$@"
}

# ssh_askpass USER PASSWORD [SSH-OPTIONS... --] COMMAND: every password or keyboard-interactive
# prompt is answered with PASSWORD by an SSH_ASKPASS program, which counts its calls in $PROMPTS
# and keeps the prompt texts in $T/askpass.prompts (sshpass gives up after one wrong answer;
# this one keeps answering).
ssh_askpass() {
	local user=$1 pass=$2
	shift 2
	local ap="$T/askpass"
	cat >"$ap" <<'APEOF'
#!/bin/bash
printf '%s\n' "$1" >>"$E2E_ASKPASS_DIR/askpass.prompts"
printf '%s\n' "$E2E_ASKPASS_ANSWER"
APEOF
	chmod 0700 "$ap"
	: >"$T/askpass.prompts"
	run_ssh env SSH_ASKPASS="$ap" SSH_ASKPASS_REQUIRE=force DISPLAY=:0 \
		E2E_ASKPASS_DIR="$T" E2E_ASKPASS_ANSWER="$pass" --- "$user" \
		-o PubkeyAuthentication=no --- "$@"
	PROMPTS=$(grep -c . "$T/askpass.prompts")
}

# Seconds (with millisecond decimals) from milliseconds.
ms_to_s() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }

# Runs a background helper whose pid the cleanup kills if the test forgets.
track_bg() { E2E_BG_PIDS+=("$1"); }
