#!/bin/sh
# The jail's file system: mounts and flags, generated /etc, read-only everywhere but home and
# /tmp, no exec from writable places, no ctypes.
. "$(dirname "$0")/lib.sh"
jail_setup
U=sbxjfs$$
new_user "$U"

jrun "$U" -- "$PROBE" mounts
m() { printf '%s\n' "$OUT" | awk -v t="$1" '$5 == t { print $6 }'; }
assert_contains "/ is read-only tmpfs" "$(m /)" "^ro,nosuid,nodev"
assert_contains "/usr is read-only, nosuid, nodev" "$(m /usr)" "^ro,nosuid,nodev"
assert_contains "/tmp is nosuid,nodev,noexec" "$(m /tmp)" "^rw,nosuid,nodev,noexec"
assert_contains "home is nosuid,nodev,noexec" "$(m /home/$U)" "^rw,nosuid,nodev,noexec"
assert_contains "/proc is read-only" "$(m /proc)" "^ro,nosuid,nodev,noexec"
assert_contains "/dev is read-only" "$(m /dev)" "^ro,nosuid,noexec"
assert_contains "devpts is the jail's own" "$OUT" " /dev/pts .* - devpts devpts .*ptmxmode=666"
assert_contains "/usr/local is hidden" "$(m /usr/local)" "^ro,nosuid,nodev,noexec"
assert_not_contains "no /sys" "$OUT" " /sys "

jrun "$U" -- "$PROBE" cat /etc/shadow
assert_contains "/etc/shadow absent" "$OUT" "ENOENT"
jrun "$U" -- "$PROBE" cat /etc/passwd
assert_eq "/etc/passwd holds only the user" "$(printf '%s\n' "$OUT" | cut -d: -f1 | tr '\n' ' ')" "$U "
jrun "$U" -- "$PROBE" ls /dev
assert_eq "/dev holds only the expected nodes" "$(printf '%s\n' "$OUT" | sort | tr '\n' ' ')" \
	"fd full null ptmx pts random stderr stdin stdout tty urandom zero "

jrun "$U" -- "$PROBE" writable / /usr /usr/lib /etc /dev /run/probe /var /home /tmp "/home/$U"
for p in / /usr /usr/lib /etc /dev /run/probe; do
	assert_contains "$p is read-only" "$OUT" "^writable $p EROFS\$"
done
assert_contains "/var does not exist" "$OUT" "^writable /var (EROFS|ENOENT)\$"
assert_contains "/home (outside the user's) is read-only" "$OUT" "^writable /home EROFS\$"
assert_contains "/tmp is writable" "$OUT" "^writable /tmp ok\$"
assert_contains "home is writable" "$OUT" "^writable /home/$U ok\$"

jrun "$U" -- "$PROBE" execcopy /tmp
assert_contains "exec from /tmp refused" "$OUT" "^exec /tmp/.* EACCES\$"
jrun "$U" -- "$PROBE" execcopy "/home/$U"
assert_contains "exec from home refused" "$OUT" "^exec /home/$U/.* EACCES\$"

jrun "$U" -- /usr/bin/python3.11 -c 'import ctypes'
assert_contains "import ctypes fails" "$ERR" "(ModuleNotFoundError|ImportError).*_ctypes"
for mod in _testcapi _testinternalcapi _xxsubinterpreters _xxtestfuzz _ctypes_test _cffi_backend; do
	jrun "$U" -- /usr/bin/python3.11 -c "import $mod"
	assert_contains "import $mod fails" "$ERR" "(ModuleNotFoundError|ImportError)"
done
jrun "$U" -- /usr/bin/python3.11 -c 'import json, sqlite3, os, socket; print("py", os.getcwd(), os.environ["HOME"])'
assert_contains "python works, starting in the home" "$OUT" "^py /home/$U /home/$U\$"
jrun "$U" -- /usr/bin/python3.11 -c 'import os; fd = os.open("/proc/self/mem", os.O_RDWR)'
assert_contains "/proc/self/mem cannot be opened for writing" "$ERR" "OSError|PermissionError"
finish
