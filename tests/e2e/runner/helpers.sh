# shellcheck shell=bash disable=SC2034  # OUT, ERR, ELAPSED are for the caller
# Helpers shared by tests/e2e/runner_*.sh (sourced after lib.sh, after start_server).

# py CODE [USER PASSWORD]: runs CODE with `python3 -c` in the jail; the code travels
# base64-encoded, so there is no quoting to get wrong. Sets OUT, ERR, RC like ssh_pw, and PY_CMD
# (the command line as the server records it in the exec audit event).
py() {
	local code=$1 user=${2:-$U} pass=${3:-$PW}
	PY_CMD="python3 -c \"import base64; exec(base64.b64decode('$(printf '%s' "$code" | base64 -w0)'))\""
	ssh_pw "$user" "$pass" "$PY_CMD"
}

# ssh_stdin INPUT-FILE COMMAND...: like ssh_pw "$U" "$PW", but the remote command's stdin is
# INPUT-FILE (lib.sh gives every other call /dev/null).
ssh_stdin() {
	local input=$1
	shift
	local t0 t1
	build_ssh sshpass -p "$PW" --- "$U" -o PreferredAuthentications=password \
		-o PubkeyAuthentication=no --- "$@"
	t0=$(date +%s%N)
	timeout -k 5 "$E2E_SSH_TIMEOUT" "${ARGV[@]}" <"$input" >"$T/ssh.out" 2>"$T/ssh.err"
	RC=$?
	t1=$(date +%s%N)
	ELAPSED=$(((t1 - t0) / 1000000))
	OUT=$(cat "$T/ssh.out")
	ERR=$(cat "$T/ssh.err")
}

# upload LOCAL-PATH REMOTE-PATH: scp -r to the user's home through the server (the real
# file-submission path, not a copy on the host). Sets RC.
upload() {
	timeout -k 5 "$E2E_SSH_TIMEOUT" sshpass -p "$PW" scp -q -r -F /dev/null \
		-o "UserKnownHostsFile=$T/known_hosts" -o StrictHostKeyChecking=accept-new \
		-o BatchMode=no -o ConnectTimeout=10 -o LogLevel=ERROR -o "Port=$PORT" \
		-o PreferredAuthentications=password -o PubkeyAuthentication=no \
		"$1" "$U@127.0.0.1:$2" >"$T/scp.out" 2>"$T/scp.err"
	RC=$?
	[ "$RC" = 0 ] || echo "# scp $1 -> $2 failed ($RC): $(head -c 300 "$T/scp.err")"
	return 0
}

# user_home [USER]: the user's home on the host.
user_home() { getent passwd "${1:-$U}" | cut -d: -f6; }
