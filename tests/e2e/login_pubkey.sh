#!/bin/bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# publickey: the user's authorized_keys with OpenSSH's ownership and mode checks, then PAM's
# account checks as well.
. "$(dirname "$0")/lib.sh"
e2e_init
make_user
make_user_key
HOME_U=$(getent passwd "$U" | cut -d: -f6)
AK=$HOME_U/.ssh/authorized_keys
start_server PubkeyAuthentication yes

ssh_key "$U" "$KEY" 'python3 -c "print(6*7)"'
assert_rc 0 "publickey login runs a command"
assert_eq "$OUT" 42 "publickey: command output"

E2E_INETD=1 ssh_key "$U" "$KEY" 'python3 -c "print(6*7)"'
assert_eq "$OUT" 42 "publickey in -i mode"

ssh-keygen -q -t ed25519 -N '' -f "$T/other_key" >/dev/null
ssh_key "$U" "$T/other_key" 'python3 -c "print(6*7)"'
assert_eq "$RC" 255 "a key not in authorized_keys is refused"
assert_eq "$OUT" "" "a refused key runs nothing"
assert_contains "$ERR" "Permission denied" "a refused key: the client says so"

refused_with() { # WHAT: the right key must now be refused
	ssh_key "$U" "$KEY" 'python3 -c "print(6*7)"'
	assert_eq "$RC" 255 "$1: the right key is refused"
	assert_eq "$OUT" "" "$1: nothing ran"
	assert_contains "$ERR" "Permission denied" "$1: refused at authentication"
}

# Group-writable with a group other users are in (Debian's sshd tolerates a private group).
G_U=$(id -gn "$U")
chgrp users "$AK"
chmod 0620 "$AK"
refused_with "authorized_keys group-writable"
chgrp "$G_U" "$AK"
chmod 0602 "$AK"
refused_with "authorized_keys world-writable"
chmod 0600 "$AK"

chown nobody "$AK"
refused_with "authorized_keys owned by another user"
chown "$U" "$AK"

chgrp users "$HOME_U/.ssh"
chmod 0770 "$HOME_U/.ssh"
refused_with "~/.ssh group-writable"
chmod 0700 "$HOME_U/.ssh"
chgrp "$G_U" "$HOME_U/.ssh"

chmod 0777 "$HOME_U"
refused_with "home directory world-writable"
chmod 0755 "$HOME_U"

ssh_key "$U" "$KEY" 'python3 -c "print(6*7)"'
assert_eq "$OUT" 42 "modes restored: the key works again"

# PAM account management runs for publickey logins too: an expired account is refused even with
# the right key, and PAM's message reaches the client (shown at LogLevel INFO and above).
usermod -e 1 "$U"
ssh_key "$U" "$KEY" -o LogLevel=INFO -- 'python3 -c "print(6*7)"'
assert_eq "$RC" 255 "expired account: the right key is refused"
assert_eq "$OUT" "" "expired account: nothing ran"
assert_match "$ERR" "expired" "expired account: PAM's message reaches the client"
usermod -e '' "$U"

ssh_key "$U" "$KEY" 'python3 -c "print(6*7)"'
assert_eq "$OUT" 42 "expiry lifted: the key works again"

stop_server
# AuthorizedKeysFile with %h and %u.
mv "$AK" "$HOME_U/.ssh/keys_$U"
start_server PubkeyAuthentication yes AuthorizedKeysFile "%h/.ssh/keys_%u"
ssh_key "$U" "$KEY" 'python3 -c "print(6*7)"'
assert_eq "$OUT" 42 "AuthorizedKeysFile %h/.ssh/keys_%u is read"
stop_server

start_server PubkeyAuthentication no AuthorizedKeysFile "%h/.ssh/keys_%u"
ssh_key "$U" "$KEY" 'python3 -c "print(6*7)"'
assert_eq "$RC" 255 "PubkeyAuthentication no: the right key is refused"
assert_contains "$ERR" "Permission denied" "PubkeyAuthentication no: refused at authentication"

e2e_done
