#!/bin/bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# Submitting files through the real server with the stock OpenSSH clients: sftp (batch),
# scp in sftp mode and in legacy mode (-O), recursive copies, resumes, and the checksums of
# everything that comes back. The jail confines sftp-server and scp: "..", absolute paths and
# symlinks lead nowhere outside the home, odd names round-trip, uploaded files persist, belong to
# the user on the host and run with `run`. Twenty students upload at once.
# Storage-agnostic: the same test holds whether the home is a plain directory or an image.
. "$(dirname "$0")/lib.sh"
e2e_init
for t in sftp scp sha256sum; do command -v "$t" >/dev/null || die "missing tool: $t"; done
make_user
start_server MaxStartups 100:30:100
H=$(getent passwd "$U" | cut -d: -f6)

client_opts() {
	CLIENT_OPTS=(-F /dev/null -o "UserKnownHostsFile=$T/known_hosts"
		-o StrictHostKeyChecking=accept-new -o BatchMode=no -o ConnectTimeout=10
		-o LogLevel=ERROR -o PreferredAuthentications=password -o PubkeyAuthentication=no)
}

# sftp_batch USER PASSWORD COMMANDS: `sftp -b` with COMMANDS as the batch file (a "-" prefix on
# a command lets the batch go on when it fails). OUT, ERR, RC.
sftp_batch() {
	local user=$1 pass=$2
	printf '%s\n' "$3" >"$T/batch"
	client_opts
	# BatchMode=no before -b: ssh keeps the first value, so sshpass can answer the password.
	E2E_LAST_CMD="sftp -b <<$3>>"
	timeout -k 5 "$E2E_SSH_TIMEOUT" sshpass -p "$pass" sftp "${CLIENT_OPTS[@]}" -P "$PORT" \
		-b "$T/batch" "$user@127.0.0.1" >"$T/sftp.out" 2>"$T/sftp.err"
	RC=$?
	OUT=$(cat "$T/sftp.out")
	ERR=$(cat "$T/sftp.err")
}

# scp_pw USER PASSWORD [SCP-OPTIONS...] SOURCE... TARGET: remote paths are written "R:path".
scp_pw() {
	local user=$1 pass=$2 a
	shift 2
	local -a args=()
	for a in "$@"; do
		[[ "$a" == R:* ]] && a="$user@127.0.0.1:${a#R:}"
		args+=("$a")
	done
	client_opts
	E2E_LAST_CMD="scp $*"
	timeout -k 5 "$E2E_SSH_TIMEOUT" sshpass -p "$pass" scp -q "${CLIENT_OPTS[@]}" -P "$PORT" \
		"${args[@]}" >"$T/scp.out" 2>"$T/scp.err"
	RC=$?
	OUT=$(cat "$T/scp.out")
	ERR=$(cat "$T/scp.err")
}

sum() { sha256sum <"$1" | cut -d' ' -f1; }
tree_sum() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }

mkdir -p "$T/up/tree/sub/deeper" "$T/down"
chmod 0755 "$T/up" "$T/down"
head -c 1048576 /dev/urandom >"$T/up/a.bin"
printf 'hello\n' >"$T/up/b.txt"
head -c 3145728 /dev/urandom >"$T/up/big.bin"
head -c 70000 /dev/urandom >"$T/up/tree/one"
printf 'two\n' >"$T/up/tree/sub/two"
head -c 5000 /dev/urandom >"$T/up/tree/sub/deeper/three"

# ---- sftp -b: the everyday operations ----
sftp_batch "$U" "$PW" "mkdir sub
put $T/up/a.bin sub/a.bin
ls -l sub
rename sub/a.bin sub/a2.bin
chmod 600 sub/a2.bin
get sub/a2.bin $T/down/a2.bin
put $T/up/b.txt b.txt
rm b.txt
mkdir gone
rmdir gone"
assert_eq "$RC" 0 "sftp -b: mkdir, put, ls, rename, chmod, get, rm, rmdir all succeed"
assert_contains "$OUT" "a.bin" "sftp ls lists the uploaded file"
assert_eq "$(sum "$T/down/a2.bin")" "$(sum "$T/up/a.bin")" "sftp put/get round-trip: same checksum"
assert_eq "$(stat -c '%U %a' "$H/sub/a2.bin" 2>&1)" "$U 600" "renamed and chmod-ed file on the host: owned by the user, mode 600"
LEFT=""
for f in b.txt gone a.bin; do [ -e "$H/$f" ] && LEFT+=" $f"; done
assert_eq "$LEFT" "" "removed file and directory are gone"

# Resumes: reput finishes a partial upload, reget a partial download.
head -c 1048576 "$T/up/big.bin" >"$T/up/big.part"
sftp_batch "$U" "$PW" "put $T/up/big.part big.bin
reput $T/up/big.bin big.bin"
assert_eq "$RC" 0 "sftp reput runs"
assert_eq "$(sum "$H/big.bin")" "$(sum "$T/up/big.bin")" "reput completes the partial upload"
head -c 1048576 "$T/up/big.bin" >"$T/down/big.bin"
sftp_batch "$U" "$PW" "reget big.bin $T/down/big.bin"
assert_eq "$RC" 0 "sftp reget runs"
assert_eq "$(sum "$T/down/big.bin")" "$(sum "$T/up/big.bin")" "reget completes the partial download"

# ---- scp, sftp mode (the default) and legacy mode (-O), files and -r directories ----
for mode in sftp legacy; do
	opt=()
	[ "$mode" = legacy ] && opt=(-O)
	scp_pw "$U" "$PW" "${opt[@]}" "$T/up/a.bin" "R:scp-$mode.bin"
	assert_eq "$RC" 0 "scp ($mode) upload"
	scp_pw "$U" "$PW" "${opt[@]}" -r "$T/up/tree" "R:tree-$mode"
	assert_eq "$RC" 0 "scp -r ($mode) upload of a directory"
	rm -rf "$T/down/$mode"
	mkdir -p "$T/down/$mode"
	scp_pw "$U" "$PW" "${opt[@]}" "R:scp-$mode.bin" "$T/down/$mode/a.bin"
	assert_eq "$RC" 0 "scp ($mode) download"
	assert_eq "$(sum "$T/down/$mode/a.bin")" "$(sum "$T/up/a.bin")" "scp ($mode): checksum after the round-trip"
	scp_pw "$U" "$PW" "${opt[@]}" -r "R:tree-$mode" "$T/down/$mode/tree"
	assert_eq "$RC" 0 "scp -r ($mode) download of a directory"
	assert_eq "$(tree_sum "$T/down/$mode/tree")" "$(tree_sum "$T/up/tree")" "scp -r ($mode): every file comes back the same"
	assert_eq "$(tree_sum "$H/tree-$mode")" "$(tree_sum "$T/up/tree")" "scp -r ($mode): the host home holds the same tree"
done

# ---- nothing outside the home ----
SHADOW_SUM=$(sum /etc/shadow)
rm -f "$T/down/shadow1" "$T/down/shadow2" "$T/down/shadow3"
sftp_batch "$U" "$PW" "-get ../../etc/shadow $T/down/shadow1
-get /etc/shadow $T/down/shadow2
symlink /etc/shadow shadow-link
-get shadow-link $T/down/shadow3"
for f in shadow1 shadow2 shadow3; do
	if [ -e "$T/down/$f" ] && [ "$(sum "$T/down/$f")" = "$SHADOW_SUM" ]; then
		fail "sftp get ($f) yielded the host's /etc/shadow"
	else
		ok "sftp get ($f) does not yield the host's /etc/shadow"
	fi
done
assert_match "$ERR" "not found|No such file" "sftp reports the file as missing"
assert_eq "$(readlink "$H/shadow-link")" "/etc/shadow" "the symlink was created in the home (and leads nowhere in the jail)"
scp_pw "$U" "$PW" -O "R:../../etc/shadow" "$T/down/shadow4"
assert_ne "$RC" 0 "scp -O ../../etc/shadow fails"
[ -e "$T/down/shadow4" ] && [ "$(sum "$T/down/shadow4")" = "$SHADOW_SUM" ] &&
	fail "scp -O yielded the host's /etc/shadow" || ok "scp -O does not yield the host's /etc/shadow"
scp_pw "$U" "$PW" -O "R:shadow-link" "$T/down/shadow5"
[ -e "$T/down/shadow5" ] && [ "$(sum "$T/down/shadow5")" = "$SHADOW_SUM" ] &&
	fail "scp -O of the symlink yielded /etc/shadow" || ok "scp -O through a symlink does not yield /etc/shadow"
ESC="sbx-escape-$$-$RANDOM"
scp_pw "$U" "$PW" -O "$T/up/b.txt" "R:../../tmp/$ESC"
[ -e "/tmp/$ESC" ] && fail "scp -O ../../tmp/NAME wrote to the host's /tmp" || ok "scp -O with ../ in the target stays in the jail"
scp_pw "$U" "$PW" -O "$T/up/b.txt" "R:../$ESC"
[ -e "$(dirname "$H")/$ESC" ] && fail "scp -O ../NAME wrote next to the home on the host" || ok "scp -O ../NAME does not write beside the home"
rm -f "/tmp/$ESC" "$(dirname "$H")/$ESC"

# ---- odd names: a newline and a terminal escape sequence round-trip ----
NL=$'line1\nline2.txt'
ESCN=$'red\e[31m\a.txt'
printf 'nl\n' >"$T/up/$NL"
printf 'esc\n' >"$T/up/$ESCN"
scp_pw "$U" "$PW" "$T/up/$NL" "$T/up/$ESCN" "R:"
assert_eq "$RC" 0 "scp uploads names with a newline and an escape sequence"
scp_pw "$U" "$PW" -O "$T/up/$ESCN" "R:legacy-$ESCN"
assert_eq "$RC" 0 "scp -O uploads a name with an escape sequence"
assert_eq "$(cat "$H/legacy-$ESCN" 2>&1)" "esc" "scp -O stores the escape-sequence name as is"
assert_eq "$(cat "$H/$NL" 2>&1)" "nl" "the newline name is stored as is"
assert_eq "$(cat "$H/$ESCN" 2>&1)" "esc" "the escape-sequence name is stored as is"
scp_pw "$U" "$PW" "R:$NL" "$T/down/nl.txt"
assert_eq "$(cat "$T/down/nl.txt" 2>&1)" "nl" "the newline name downloads back"
# (Legacy scp's client pattern-matches the remote name: an unbalanced "[" is escaped for it.)
scp_pw "$U" "$PW" -O "R:${ESCN//[/\\[}" "$T/down/esc.txt"
assert_eq "$(cat "$T/down/esc.txt" 2>&1)" "esc" "the escape-sequence name downloads back with scp -O"

# ---- upload, run, persist ----
printf 'import sys\nprint("ran", sum(map(int, sys.argv[1:])))\n' >"$T/up/hw1.py"
scp_pw "$U" "$PW" "$T/up/hw1.py" "R:hw1.py"
assert_eq "$RC" 0 "hw1.py uploaded"
ssh_pw "$U" "$PW" run hw1.py 3 4
assert_rc 0 "run hw1.py"
assert_eq "$OUT" "ran 7" "the uploaded script runs"
sftp_batch "$U" "$PW" "ls -1"
assert_contains "$OUT" "hw1.py" "a new login sees the earlier uploads"
assert_contains "$OUT" "scp-sftp.bin" "files persist across logins"
BAD=$(find "$H" -mindepth 1 ! -user "$U" | head -3)
assert_eq "$BAD" "" "every uploaded file is owned by the user on the host"

# ---- twenty students upload at once ----
USERS=()
PWS=()
for i in $(seq 20); do
	make_user
	USERS+=("$U")
	PWS+=("$PW")
done
head -c 2097152 /dev/urandom >"$T/up/c.bin"
C_SUM=$(sum "$T/up/c.bin")
PIDS=()
client_opts
for i in $(seq 0 19); do
	timeout -k 5 90 sshpass -p "${PWS[$i]}" scp -q "${CLIENT_OPTS[@]}" -P "$PORT" \
		"$T/up/c.bin" "${USERS[$i]}@127.0.0.1:c.bin" >"$T/par.$i.out" 2>"$T/par.$i.err" &
	PIDS+=($!)
done
FAILED=0
for i in $(seq 0 19); do
	wait "${PIDS[$i]}"; rc=$?; [ "$rc" = 0 ] || { FAILED=$((FAILED + 1)); echo "# user $i: exit $rc: $(head -c 200 "$T/par.$i.err")"; }
done
assert_eq "$FAILED" 0 "20 concurrent uploads all succeed"
GOOD=0
for i in $(seq 0 19); do
	h=$(getent passwd "${USERS[$i]}" | cut -d: -f6)
	[ "$(sum "$h/c.bin" 2>/dev/null)" = "$C_SUM" ] && [ "$(stat -c %U "$h/c.bin")" = "${USERS[$i]}" ] &&
		GOOD=$((GOOD + 1))
done
assert_eq "$GOOD" 20 "each of the 20 homes holds the file, intact and owned by its student"

e2e_done
