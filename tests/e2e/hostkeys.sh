#!/bin/bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# Host keys: a missing HostKey is generated on first start (ed25519, 0600, root's); a restart
# serves the same key, so known_hosts keeps accepting it.
. "$(dirname "$0")/lib.sh"
e2e_init
HK=$T/ssh_host_ed25519_key
[ -e "$HK" ] && die "$HK exists before the first start"

start_server
if [ -f "$HK" ]; then
	ok "a missing host key is generated on first start"
else
	fail "no host key at $HK after the first start"
fi
assert_eq "$(stat -c '%a %U' "$HK" 2>/dev/null)" "600 root" "the generated host key is 0600 and root's"
fp1=$(ssh-keygen -l -f "$HK" 2>/dev/null | awk '{print $2, $NF}')
assert_contains "$fp1" "(ED25519)" "the generated host key is ed25519"

# What the client sees: none authentication fails after the host key check, so "Permission
# denied" (not "Host key verification failed") proves the key was accepted.
probe_hostkey() { # STRICT
	run_ssh --- root -o StrictHostKeyChecking="$1" -o PreferredAuthentications=none \
		-o PubkeyAuthentication=no -o BatchMode=yes --- true
}
probe_hostkey accept-new
assert_contains "$ERR" "Permission denied" "first contact: the host key is recorded"
recorded=$(ssh-keygen -F "[127.0.0.1]:$PORT" -f "$T/known_hosts" | grep -v '^#' | awk '{print $3}')
assert_eq "$recorded" "$(awk '{print $2}' <(ssh-keygen -y -f "$HK"))" "known_hosts holds the generated key"

stop_server
old_port=$PORT
# Same port again, so the known_hosts entry applies (the server sets SO_REUSEADDR).
write_config
sed -i "s/^Port .*/Port $old_port/" "$CONF"
"$SANDBOXD" -f "$CONF" -D >>"$T/server.log" 2>&1 &
SERVER_PID=$!
for ((i = 0; i < 100; i++)); do
	port_open "$old_port" && break
	sleep 0.1
done
PORT=$old_port
fp2=$(ssh-keygen -l -f "$HK" 2>/dev/null | awk '{print $2, $NF}')
assert_eq "$fp2" "$fp1" "a restart keeps the host key file"
probe_hostkey yes
assert_contains "$ERR" "Permission denied" "after a restart the client accepts the host key (StrictHostKeyChecking=yes)"
assert_not_contains "$ERR" "REMOTE HOST IDENTIFICATION HAS CHANGED" "no host key change warning"

# -i mode serves the same key.
E2E_INETD=1 run_ssh --- root -o "HostKeyAlias=[127.0.0.1]:$PORT" -o StrictHostKeyChecking=yes \
	-o PreferredAuthentications=none -o PubkeyAuthentication=no -o BatchMode=yes --- true
assert_contains "$ERR" "Permission denied" "-i mode serves the same host key"

e2e_done
