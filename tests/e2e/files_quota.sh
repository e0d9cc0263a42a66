#!/bin/bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# The default home backend through the real server: a per-user ext4 image with the policy's
# disk quota. Uploads past the quota fail plainly and damage nothing; concurrent sessions share
# one mount; the image is detached after the last session; raising the quota takes effect.
. "$(dirname "$0")/lib.sh"
e2e_init
SANDBOXCTL=${SANDBOXCTL:-$top_builddir/sandboxctl}
E2E_HOME_BACKEND=image
make_user
start_server
ctl() { "$SANDBOXCTL" --config "$CONF" "$@"; }
scp_o() { # legacy scp (scp -O): its errors name the file and the reason
	timeout -k 5 60 sshpass -p "$PW" scp -O -q -F /dev/null -o "UserKnownHostsFile=$T/known_hosts" \
		-o StrictHostKeyChecking=accept-new -o LogLevel=ERROR -o "Port=$PORT" \
		-o PreferredAuthentications=password -o PubkeyAuthentication=no "$@" 2>"$T/scp.err"
	RC=$?
	ERR=$(cat "$T/scp.err")
}
mounted() { grep -q " $T/run/homes/$U " /proc/self/mounts; }

ctl quota set "$U" disk=20M >/dev/null || fail "quota set disk=20M"
head -c $((4 << 20)) /dev/urandom >"$T/small.bin"
head -c $((30 << 20)) /dev/urandom >"$T/big.bin"

scp_o "$T/small.bin" "$U@127.0.0.1:small.bin"
assert_eq "$RC" "0" "an upload within the quota works"
[ -f "$T/state/homes/$U.img" ] && ok "the first login created the user's image" || fail "no image under StateDirectory/homes"
assert_eq "$(stat -c %a "$T/state/homes/$U.img")" "600" "the image is root-only"
scp_o "$T/big.bin" "$U@127.0.0.1:big.bin"
assert_ne "$RC" "0" "an upload past the quota fails"
assert_contains "$ERR" "No space left on device" "the client says plainly why"
ssh_pw "$U" "$PW" 'python3 -c "import hashlib; print(hashlib.sha256(open(\"small.bin\",\"rb\").read()).hexdigest())"'
assert_eq "$OUT" "$(sha256sum "$T/small.bin" | cut -d' ' -f1)" "the file stored earlier is intact"
ssh_pw "$U" "$PW" 'python3 -c "
try:
    open(\"more.bin\", \"wb\").write(b\"x\" * (40 << 20))
except OSError as e:
    print(e.strerror)"'
assert_eq "$OUT" "No space left on device" "a program writing past the quota gets ENOSPC"
ssh_pw "$U" "$PW" 'python3 -c "import os
for f in (\"big.bin\", \"more.bin\"):
    if os.path.exists(f): os.remove(f)
print(sorted(os.listdir(\".\")))"'
assert_contains "$OUT" "'small.bin'" "deleting the partial files makes room again"

# Two sessions of one user share one mount of one image.
ssh_pw_bg "$U" "$PW" 'python3 -c "import time, os
for _ in range(100):
    if os.path.exists(\"from-second\"): break
    time.sleep(0.1)
print(open(\"from-second\").read())"'
BG=$BG_N
ssh_pw "$U" "$PW" 'python3 -c "open(\"from-second\", \"w\").write(\"shared\")"'
wait "$BG_PID" 2>/dev/null
assert_eq "$(cat "$T/bg.$BG.out")" "shared" "a second concurrent session sees the same files"
for ((i = 0; i < 50; i++)); do mounted || break; sleep 0.1; done
if mounted; then fail "the image is still mounted after the last session"; else ok "the image is detached after the last session"; fi

# Raising the quota takes effect at the next login.
ctl quota set "$U" disk=80M >/dev/null || fail "quota set disk=80M"
scp_o "$T/big.bin" "$U@127.0.0.1:big.bin"
assert_eq "$RC" "0" "after raising the quota the big upload works"
ssh_pw "$U" "$PW" 'python3 -c "import os; print(os.path.getsize(\"big.bin\"), open(\"from-second\").read())"'
assert_eq "$OUT" "$((30 << 20)) shared" "files persist across logins and the raise"

# Lowering below the usage keeps the data and refuses new writes.
ctl quota set "$U" disk=16M >/dev/null || fail "quota set disk=16M"
scp_o "$T/small.bin" "$U@127.0.0.1:again.bin"
assert_ne "$RC" "0" "below the quota no new upload is accepted"
ssh_pw "$U" "$PW" 'python3 -c "import os; print(os.path.getsize(\"big.bin\"))"'
assert_eq "$OUT" "$((30 << 20))" "the data above the new quota is kept"

SHOW=$(ctl quota show "$U" --effective)
assert_match "$SHOW" "home \(image\): [0-9.]+ MiB used of 16 MiB" "sandboxctl shows the home's usage against its quota"

# The audit trail: legacy scp's uploads (seen in the home after the run) and the full disk.
OPS=$("$SANDBOXCTL" audit --file "$T/audit.jsonl" --event file-op)
assert_contains "$OPS" "op=upload path=$(getent passwd "$U" | cut -d: -f6)/small.bin bytes=$((4 << 20))" "a legacy scp upload is on the audit trail with its size"
LIMITS=$("$SANDBOXCTL" audit --file "$T/audit.jsonl" --event limit-hit)
assert_contains "$LIMITS" "limit=quota" "the full disk is on the audit trail as a quota limit"

e2e_done
