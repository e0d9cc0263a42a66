#!/bin/bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# 20 concurrent logins (10 users, 2 sessions each: the default policy allows 3 sessions per
# user) all succeed with their own output; afterwards no connection process or user process is
# left.
. "$(dirname "$0")/lib.sh"
e2e_init
N_USERS=10
PER_USER=2
users=() pws=()
for ((i = 0; i < N_USERS; i++)); do
	make_user
	users+=("$U")
	pws+=("$PW")
done
# Twenty unauthenticated connections at once: MaxStartups must not drop any of them here.
start_server MaxStartups 100:30:100

pids=()
for ((i = 0; i < N_USERS * PER_USER; i++)); do
	u=${users[i % N_USERS]}
	p=${pws[i % N_USERS]}
	build_ssh sshpass -p "$p" --- "$u" -o PreferredAuthentications=password \
		-o PubkeyAuthentication=no --- \
		"python3 -c \"import os, pwd, time; time.sleep(1); print($i, pwd.getpwuid(os.getuid()).pw_name)\""
	timeout -k 5 50 "${ARGV[@]}" >"$T/c$i.out" 2>"$T/c$i.err" &
	pids+=($!)
done
good=0
for ((i = 0; i < N_USERS * PER_USER; i++)); do
	wait "${pids[i]}"
	rc=$?
	got=$(cat "$T/c$i.out")
	want="$i ${users[i % N_USERS]}"
	if [ "$rc" = 0 ] && [ "$got" = "$want" ]; then
		good=$((good + 1))
	else
		echo "# login $i: exit $rc, stdout '$got' (want '$want'), stderr '$(head -c 300 "$T/c$i.err")'"
	fi
done
assert_eq "$good" $((N_USERS * PER_USER)) "20 concurrent logins all succeed with their own output"

# The listener is still there and still serves.
ssh_pw "${users[0]}" "${pws[0]}" 'python3 -c "print(6*7)"'
assert_eq "$OUT" 42 "a login after the burst still works"

# Connection processes are gone once their clients are (the listener stays).
left=$(server_children_left)
assert_eq "$left" "" "no connection process of the listener outlives its client"

e2e_done
