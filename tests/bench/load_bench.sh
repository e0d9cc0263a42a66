#!/bin/bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# Many students at once (not a test; run by `make bench` as root):
#
#   burst  CONC (100) real ssh clients started together, each a different user logging in and
#          running a short computation (`python -c 'print(sum(range(10**6)))'`), against the
#          tuned sshd doing the same with ForceCommand python3; the wall time until the last
#          one printed the right answer, rounds alternating; every failure is counted
#   idle   IDLE (1000) real ssh sessions held open at once (IDLE/CONC per user, started in
#          batches), each a jailed runner waiting on its stdin; all must be alive after HOLD
#          seconds; the server's memory (PSS of every process under the listener) is reported
#
# Environment: CONC (default 100), ROUNDS (burst rounds, default 3), IDLE (default 1000),
# BATCH (idle sessions started at a time, default 50), HOLD (seconds, default 10).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
exec </dev/null
CONC=${CONC:-100}
ROUNDS=${ROUNDS:-3}
IDLE=${IDLE:-1000}
BATCH=${BATCH:-50}
HOLD=${HOLD:-10}
PER_USER=$(((IDLE + CONC - 1) / CONC))

bench_init load
[ -x "$SANDBOXD" ] || bench_die "no server binary at $SANDBOXD"
# Room for the clients: every idle session is an ssh process with a socket.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

echo "making $CONC users"
for ((i = 1; i <= CONC; i++)); do
	bench_user "sbxb${TAG}c$i"
done
sbx_start MaxStartups "$((CONC * 2)):30:$((CONC * 4))"
sbx_policy "sessions=$((PER_USER + 2))" idle-time=1h
sshd_start tuned

ANSWER=499999500000
CODE='"print(sum(range(10**6)))"'
OURS=$(ssh_cmd "$SBX_PORT" "sbxb${TAG}c{i}")
TUNED=$(ssh_cmd "$SSHD_PORT_tuned" "sbxb${TAG}c{i}")
# shellcheck disable=SC2086
{
	bench_check "sandboxd" "$ANSWER" ${OURS//\{i\}/1} python -c "$CODE"
	bench_check "sshd ForceCommand" "$ANSWER" ${TUNED//\{i\}/1}
}

# ---- burst ----
interleave --runs "$ROUNDS" --warmup 0 --timeout 300 --burst "$CONC" \
	--expect "ours=$ANSWER" --expect "tuned=$ANSWER" \
	"ours=$OURS python -c $CODE" "tuned=$TUNED" >"$T/burst.stat"
cat "$T/burst.stat"
read -r o_med o_min o_max o_n o_f < <(stat_of "$T/burst.stat" ours)
read -r t_med t_min t_max t_n t_f < <(stat_of "$T/burst.stat" tuned)
err=$(awk -F'\t' '$1 == "STAT" && $9 != "" { print $2 ": " $9; exit }' "$T/burst.stat")
bench_result load.burst "$CONC simultaneous logins, each a short computation, total wall" ms \
	"$o_med $o_min $o_max" "sshd tuned" "$t_med $t_min $t_max" "$ROUNDS" "ratio<=1.00" \
	"$o_f" "failed logins: ours $o_f, sshd $t_f of $((CONC * ROUNDS))${err:+; first: $err}"

# ---- idle sessions ----
IDLE_CODE="\"import sys; print('up', flush=True); sys.stdin.read()\""
mkfifo "$T/idle.fifo"
exec 7<>"$T/idle.fifo"
mem_before=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
mkdir "$T/idle"
count_up() { grep -lx up "$T"/idle/* 2>/dev/null | wc -l; }
started=0
t0=$(date +%s.%N)
while [ "$started" -lt "$IDLE" ]; do
	for ((k = 0; k < BATCH && started < IDLE; k++)); do
		u=sbxb${TAG}c$((started % CONC + 1))
		# shellcheck disable=SC2086
		$(ssh_cmd "$SBX_PORT" "$u") python -c "$IDLE_CODE" <"$T/idle.fifo" \
			>"$T/idle/$started" 2>&1 7>&- &
		BENCH_PIDS+=($!)
		started=$((started + 1))
	done
	# Every session of the batch is up or has failed before the next batch starts (30 s at
	# most): a client that exited before saying "up" failed.
	for ((w = 0; w < 300; w++)); do
		dead=0
		for ((j = 0; j < started; j++)); do
			kill -0 "${BENCH_PIDS[$j]}" 2>/dev/null || dead=$((dead + 1))
		done
		[ $(($(count_up) + dead)) -ge "$started" ] && break
		sleep 0.1
	done
done
t1=$(date +%s.%N)
up=$(count_up)
echo "$up of $IDLE idle sessions up after $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s; holding $HOLD s"
sleep "$HOLD"
alive=0
for p in "${BENCH_PIDS[@]}"; do
	kill -0 "$p" 2>/dev/null && alive=$((alive + 1))
done
mem_after=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
read -r mem < <("$PY" "$BENCH_DIR/pss.py" "$SBX_PID" sandbox-python)
echo "alive after $HOLD s: $alive; server memory: $mem; MemAvailable dropped by $(((mem_before - mem_after) / 1024)) MiB"
failed_msg=$(grep -Lx up "$T"/idle/* 2>/dev/null | head -n 1)
[ -n "$failed_msg" ] && echo "a session that did not come up said: $(head -c 300 "$failed_msg")"
eval "$(printf '%s\n' "$mem" | tr ' ' '\n' | sed 's/^/m_/')"
bench_result load.idle "$IDLE idle sessions held (jailed runner waiting), alive" sessions \
	"$alive $alive $alive" "requested" "$IDLE $IDLE $IDLE" 1 "eq" $((IDLE - alive)) \
	"$m_children connections"
per=$(awk -v s="$m_server_pss" -v n="$m_children" 'BEGIN { if (n) printf "%.2f", s / n / 1024 }')
bench_result load.idle_mem "$IDLE idle sessions: server memory total (PSS, runners separate)" MiB \
	"$((m_server_pss / 1024)) - -" "-" "" 1 "info" 0 \
	"$per MiB per session; runners $((m_payload_pss / 1024)) MiB; MemAvailable -$(((mem_before - mem_after) / 1024)) MiB (clients included)"
# Closing the FIFO's last writer ends every session (EOF on stdin).
exec 7>&-
for p in "${BENCH_PIDS[@]}"; do
	wait "$p" 2>/dev/null
done
BENCH_PIDS=()
