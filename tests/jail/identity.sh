#!/bin/sh
# Who the payload is inside a jail: ids, capabilities, seccomp, network, processes, hostname, tty.
. "$(dirname "$0")/lib.sh"
jail_setup
U=sbxjid$$
new_user "$U"
UID_=$(id -u "$U"); GID_=$(id -g "$U")

jrun "$U" -- "$PROBE" id
assert_contains "uid is the user's" "$OUT" "^uid $UID_\$"
assert_contains "euid is the user's" "$OUT" "^euid $UID_\$"
assert_contains "gid is the user's" "$OUT" "^gid $GID_\$"
assert_contains "groups are the user's" "$OUT" "^groups $GID_\$"
assert_contains "setuid(0) fails" "$OUT" "^setuid0 EPERM\$"

jrun "$U" -- "$PROBE" caps
for c in CapInh CapPrm CapEff CapBnd CapAmb; do
	assert_contains "$c is empty" "$OUT" "^$c:[[:space:]]+0000000000000000\$"
done
assert_contains "NoNewPrivs is set" "$OUT" "^NoNewPrivs:[[:space:]]+1\$"
assert_contains "seccomp filter mode" "$OUT" "^Seccomp:[[:space:]]+2\$"

jrun "$U" -- "$PROBE" net
assert_eq "only one interface" "$(printf '%s\n' "$OUT" | grep -c '^if ')" 1
assert_contains "that interface is lo" "$OUT" "^if lo\$"
assert_contains "no route out" "$OUT" "^routes 0\$"
assert_contains "TCP socket refused" "$OUT" "^tcp (socket|connect) E"
assert_contains "UDP socket refused" "$OUT" "^udp (socket|connect) E"
assert_contains "AF_UNIX sockets work" "$OUT" "^unix socket ok\$"

jrun "$U" -- "$PROBE" pids
assert_not_contains "the probe is not pid 1" "$OUT" "^self 1\$"
assert_contains "pid 1 is the jail's init" "$OUT" "^pid 1 jail-init\$"
assert_eq "only init and the probe are visible" "$(printf '%s\n' "$OUT" | grep -c '^pid ')" 2

jrun "$U" -- "$PROBE" hostname
assert_contains "default hostname" "$OUT" "^hostname sandbox\$"
jrun "$U" --hostname box7 -- "$PROBE" hostname
assert_contains "hostname from the spec" "$OUT" "^hostname box7\$"

jrun "$U" -- "$PROBE" tty </dev/null
assert_contains "no tty without --tty" "$OUT" "^tty none\$"
jrun "$U" --tty -- "$PROBE" tty </dev/null
assert_contains "tty mode gives a pty of the jail's devpts" "$OUT" "^tty /dev/pts/0"
assert_contains "the pty is the controlling terminal" "$OUT" "^ctty yes"

jrun "$U" -- /usr/bin/true
assert_eq "exit status 0 comes back" "$RC" 0
jrun "$U" -- /usr/bin/sh -c 'exit 7'
assert_eq "exit status 7 comes back" "$RC" 7
jrun "$U" -- /nonexistent
assert_contains "exec failure is reported by jail_spawn" "$ERR" "execve /nonexistent: No such file"
finish
