#!/bin/bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# Logins end to end against OpenSSH (not a test; run by `make bench` as root). Our sandboxd and
# Debian's sshd, stock and tuned (lib.sh: sshd_start), run side by side on 127.0.0.1 and every
# measurement alternates between them (interleave.py). Every ssh is a full login with the stock
# OpenSSH client (no ControlMaster); the key exchange is whatever client and server negotiate.
#
#   login        `ssh host help` (ours) vs `ssh host true` (sshd), publickey
#   first output `ssh host run hello.py` to its first byte vs sshd's ForceCommand python3 hello.py
#   password     our password login vs our publickey login (both through sshpass)
#   server CPU   per login, from the listeners' own and reaped children's CPU time
#   memory       per idle session: our monitor + network child + jail init vs sshd's two
#                processes; the idle runner vs the idle python3 of the sshd session
#
# Environment: RUNS (rounds, default 20), CPU_LOGINS (default 40), MEM_SESSIONS (default 10).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
exec </dev/null
RUNS=${RUNS:-20}
CPU_LOGINS=${CPU_LOGINS:-40}
MEM_SESSIONS=${MEM_SESSIONS:-10}

bench_init ssh
bench_need sshpass "$SSHD"
[ -x "$SANDBOXD" ] || bench_die "no server binary at $SANDBOXD"
[ -x "$SANDBOX_PYTHON" ] || bench_die "no runner at $SANDBOX_PYTHON"

PW=$(head -c 64 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c 16)
U=sbxb${TAG}u  # publickey and password
UF=sbxb${TAG}f # sshd's ForceCommand python3 hello.py
bench_user "$U" "$PW"
bench_user "$UF"

sbx_start
sbx_policy "sessions=$((MEM_SESSIONS + 5))"
sshd_start stock
sshd_start tuned

OURS=$(ssh_cmd "$SBX_PORT" "$U")
STOCK=$(ssh_cmd "$SSHD_PORT_stock" "$U")
TUNED=$(ssh_cmd "$SSHD_PORT_tuned" "$U")
# shellcheck disable=SC2086
{
	bench_check "sandboxd run hello.py" hello $OURS run hello.py
	bench_check "sshd (stock) true" "" $STOCK true
	bench_check "sshd (tuned) true" "" $TUNED true
	bench_check "sshd ForceCommand" hello $(ssh_cmd "$SSHD_PORT_stock" "$UF")
	bench_check "sandboxd password" "hello" $(ssh_pw_cmd "$SBX_PORT" "$U" "$PW") run hello.py
}
echo "negotiated: sandboxd: $(ssh_negotiated "$OURS" help)"
echo "            sshd stock: $(ssh_negotiated "$STOCK" true)"
echo "            sshd tuned: $(ssh_negotiated "$TUNED" true)"

# ---- login latency ----
interleave --runs "$RUNS" --warmup 2 \
	"ours=$OURS help" "stock=$STOCK true" "tuned=$TUNED true" >"$T/login.stat"
cat "$T/login.stat"
read -r o_med o_min o_max o_n o_f < <(stat_of "$T/login.stat" ours)
read -r s_med s_min s_max s_n s_f < <(stat_of "$T/login.stat" stock)
read -r t_med t_min t_max t_n t_f < <(stat_of "$T/login.stat" tuned)
bench_result login.stock "publickey login: ssh host help vs stock sshd's ssh host true" ms \
	"$o_med $o_min $o_max" "sshd stock" "$s_med $s_min $s_max" "$o_n" "ratio<=0.50" \
	$((o_f + s_f)) "stock client; ours curve25519, sshd sntrup761x25519"
bench_result login.tuned "publickey login: ssh host help vs tuned sshd's ssh host true" ms \
	"$o_med $o_min $o_max" "sshd tuned" "$t_med $t_min $t_max" "$o_n" "ratio<=1.10" \
	$((o_f + t_f)) "tuned: curve25519-sha256, TCP_NODELAY"

# ---- first output of a program ----
interleave --runs "$RUNS" --warmup 1 --first-output \
	"ours=$OURS run hello.py" "stock=$(ssh_cmd "$SSHD_PORT_stock" "$UF")" \
	"tuned=$(ssh_cmd "$SSHD_PORT_tuned" "$UF")" >"$T/first.stat"
cat "$T/first.stat"
read -r o_med o_min o_max o_n o_f < <(stat_of "$T/first.stat" ours)
read -r s_med s_min s_max s_n s_f < <(stat_of "$T/first.stat" stock)
read -r t_med t_min t_max t_n t_f < <(stat_of "$T/first.stat" tuned)
bench_result first.stock "ssh host run hello.py to first output vs stock sshd ForceCommand python3" ms \
	"$o_med $o_min $o_max" "sshd stock" "$s_med $s_min $s_max" "$o_n" "ratio<=0.55" \
	$((o_f + s_f)) "jail + sandbox-python vs the user's shell + python3"
bench_result first.tuned "ssh host run hello.py to first output vs tuned sshd ForceCommand python3" ms \
	"$o_med $o_min $o_max" "sshd tuned" "$t_med $t_min $t_max" "$o_n" "info" $((o_f + t_f)) ""

# ---- password login ----
interleave --runs "$RUNS" --warmup 1 \
	"ours-password=$(ssh_pw_cmd "$SBX_PORT" "$U" "$PW") help" \
	"ours-publickey=sshpass -p $PW $OURS help" \
	"stock-password=$(ssh_pw_cmd "$SSHD_PORT_stock" "$U" "$PW") true" \
	"stock-publickey=sshpass -p $PW $STOCK true" >"$T/password.stat"
cat "$T/password.stat"
read -r p_med p_min p_max p_n p_f < <(stat_of "$T/password.stat" ours-password)
read -r k_med k_min k_max k_n k_f < <(stat_of "$T/password.stat" ours-publickey)
bench_result password.ours "password login vs our publickey login (both via sshpass)" ms \
	"$p_med $p_min $p_max" "ours publickey" "$k_med $k_min $k_max" "$p_n" "ratio<=1.30" \
	$((p_f + k_f)) "pam_unix, yescrypt hash"
read -r p_med p_min p_max p_n p_f < <(stat_of "$T/password.stat" stock-password)
read -r k_med k_min k_max k_n k_f < <(stat_of "$T/password.stat" stock-publickey)
bench_result password.sshd "stock sshd: password login vs its publickey login" ms \
	"$p_med $p_min $p_max" "sshd publickey" "$k_med $k_min $k_max" "$p_n" "info" \
	$((p_f + k_f)) "for reference"

# ---- server CPU per login ----
# The listener's CPU time plus that of every process it reaped (utime, stime, cutime, cstime of
# /proc/PID/stat): each connection process reaps its network child and its jails' init, and each
# init reaps the payload, so after the connection process is reaped this is all the server-side
# CPU of the login, the student's program included; the payload's own CPU (init's report, in
# the "channel ... ended" log line) is subtracted. Kernel work done later in kernel threads
# (network namespace and cgroup teardown) is not seen by any process and not counted. The
# counters tick at 10 ms, so logins are measured in batches and divided.
listener_cpu_ms() { # PID: utime+stime+cutime+cstime in ms
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13 + $14 + $15) * 1000 / hz }' \
		"/proc/$1/stat"
}
wait_no_children() { # PID: until every connection process was reaped (10 s at most)
	local i
	for ((i = 0; i < 200; i++)); do
		[ -z "$(ps -o pid= --ppid "$1" 2>/dev/null)" ] && return 0
		sleep 0.05
	done
	return 1
}
payload_cpu_ms() { # LOG-FROM-LINE: sum of the payloads' cpu in the log since that line
	tail -n +"$1" "$T/sandboxd.log" | sed -n 's/.* channel [0-9]* ended: .* cpu \([0-9.]*\)s.*/\1/p' |
		awk '{ s += $1 } END { printf "%.3f\n", s * 1000 }'
}
BATCH=10
BATCHES=$(((CPU_LOGINS + BATCH - 1) / BATCH))
: >"$T/cpu.ours"
: >"$T/cpu.sshd"
cpu_fail=0
for ((b = 0; b < BATCHES; b++)); do
	wait_no_children "$SBX_PID"
	line=$(($(wc -l <"$T/sandboxd.log") + 1))
	c0=$(listener_cpu_ms "$SBX_PID")
	for ((i = 0; i < BATCH; i++)); do
		# shellcheck disable=SC2086
		timeout -k 5 "$SSH_TIMEOUT" $OURS help >/dev/null 2>&1 || cpu_fail=$((cpu_fail + 1))
	done
	wait_no_children "$SBX_PID"
	c1=$(listener_cpu_ms "$SBX_PID")
	pay=$(payload_cpu_ms "$line")
	awk -v a="$c0" -v b="$c1" -v p="$pay" -v n="$BATCH" 'BEGIN { printf "%.2f\n", (b - a - p) / n }' >>"$T/cpu.ours"
	wait_no_children "$SSHD_PID_stock"
	c0=$(listener_cpu_ms "$SSHD_PID_stock")
	for ((i = 0; i < BATCH; i++)); do
		# shellcheck disable=SC2086
		timeout -k 5 "$SSH_TIMEOUT" $STOCK true >/dev/null 2>&1 || cpu_fail=$((cpu_fail + 1))
	done
	wait_no_children "$SSHD_PID_stock"
	c1=$(listener_cpu_ms "$SSHD_PID_stock")
	awk -v a="$c0" -v b="$c1" -v n="$BATCH" 'BEGIN { printf "%.2f\n", (b - a) / n }' >>"$T/cpu.sshd"
done
read -r c_med c_min c_max c_n < <(bench_stats <"$T/cpu.ours")
read -r d_med d_min d_max d_n < <(bench_stats <"$T/cpu.sshd")
echo "server CPU per login, batches of $BATCH: ours $(tr '\n' ' ' <"$T/cpu.ours")ms; sshd $(tr '\n' ' ' <"$T/cpu.sshd")ms"
bench_result cpu.login "server CPU per login (ssh host help), without the payload" ms \
	"$c_med $c_min $c_max" "sshd stock (true, its shell included)" "$d_med $d_min $d_max" \
	"$((c_n * BATCH))" "abs<=30" "$cpu_fail" "batches of $BATCH logins"

# ---- memory of idle sessions ----
# MEM_SESSIONS sessions on each server, each running a program that prints "up" and waits on
# its stdin (a FIFO that nobody writes to); then the PSS of every process of every session.
# Ours: the connection process (monitor), the network child, the jail's init; the runner is
# its own row. sshd: its per-connection process and the user's privilege-separated child; the
# user's python3 is the runner's anchor.
IDLE_CODE="import sys; print('up', flush=True); sys.stdin.read()"
mkfifo "$T/idle.fifo"
exec 7<>"$T/idle.fifo"
start_idle() { # NAME SSH-COMMAND REMOTE-COMMAND...
	local name=$1 cmd=$2 i
	shift 2
	for ((i = 0; i < MEM_SESSIONS; i++)); do
		# shellcheck disable=SC2086
		timeout -k 5 600 $cmd "$@" <"$T/idle.fifo" >"$T/idle.$name.$i" 2>&1 7>&- &
		BENCH_PIDS+=($!)
	done
}
wait_up() { # NAME: every session printed "up" (30 s at most)
	local i k n
	for ((k = 0; k < 300; k++)); do
		n=0
		for ((i = 0; i < MEM_SESSIONS; i++)); do
			grep -qx up "$T/idle.$1.$i" 2>/dev/null && n=$((n + 1))
		done
		[ "$n" = "$MEM_SESSIONS" ] && return 0
		sleep 0.1
	done
	echo "only $n of $MEM_SESSIONS $1 sessions came up: $(cat "$T/idle.$1."* | sort | uniq -c | head -5)"
	return 1
}
# Per connection (a direct child of the listener): the PSS of its processes that are not the
# payload, then the payload's; one "server-kB payload-kB" line per connection.
session_pss() { # LISTENER-PID PAYLOAD-COMM-REGEX
	local c p comm srv pay pss
	for c in $(ps -o pid= --ppid "$1"); do
		srv=$(bench_pss_kb "$c") pay=0
		for p in $(bench_descendants "$c"); do
			comm=$(cat "/proc/$p/comm" 2>/dev/null) || continue
			pss=$(bench_pss_kb "$p")
			if [[ $comm =~ $2 ]]; then
				pay=$((pay + ${pss:-0}))
			else
				srv=$((srv + ${pss:-0}))
			fi
		done
		echo "$srv $pay"
	done
}
start_idle ours "$OURS" python -c "\"$IDLE_CODE\""
start_idle sshd "$STOCK" /usr/bin/python3 -c "\"$IDLE_CODE\""
mem_fail=0
wait_up ours || mem_fail=$((mem_fail + 1))
wait_up sshd || mem_fail=$((mem_fail + 1))
sleep 1
session_pss "$SBX_PID" '^sandbox-python$' >"$T/mem.ours"
session_pss "$SSHD_PID_stock" '^python3' >"$T/mem.sshd"
echo "PSS per session (server kB, payload kB): ours: $(tr '\n' ',' <"$T/mem.ours")"
echo "                                         sshd: $(tr '\n' ',' <"$T/mem.sshd")"
echo "one of ours, per process:"
c=$(ps -o pid= --ppid "$SBX_PID" | head -n 1)
for p in $c $(bench_descendants "$c"); do
	printf '  %-16s pss %6s kB  rss %6s kB\n' "$(cat "/proc/$p/comm")" "$(bench_pss_kb "$p")" \
		"$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status")"
done
read -r m_med m_min m_max m_n < <(awk '{ print $1 / 1024 }' "$T/mem.ours" | bench_stats)
read -r n_med n_min n_max n_n < <(awk '{ print $1 / 1024 }' "$T/mem.sshd" | bench_stats)
bench_result mem.session "server memory per idle session (PSS, without the runner)" MiB \
	"$m_med $m_min $m_max" "sshd stock" "$n_med $n_min $n_max" "$m_n" "ratio<=1.00" "$mem_fail" \
	"$MEM_SESSIONS sessions open on each"
read -r m_med m_min m_max m_n < <(awk '{ print $2 / 1024 }' "$T/mem.ours" | bench_stats)
read -r n_med n_min n_max n_n < <(awk '{ print $2 / 1024 }' "$T/mem.sshd" | bench_stats)
bench_result mem.runner "idle jailed runner (PSS) vs the idle python3 of an sshd session" MiB \
	"$m_med $m_min $m_max" "python3" "$n_med $n_min $n_max" "$m_n" "ratio<=1.10" "$mem_fail" \
	"the same program waiting on stdin"
exec 7>&-
for p in "${BENCH_PIDS[@]}"; do
	wait "$p" 2>/dev/null
done
BENCH_PIDS=()
