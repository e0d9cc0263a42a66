#!/bin/bash
# The image home backend for real (root, loop devices): a per-user ext4 image, loop-mounted,
# shared by concurrent sessions, freed by the last one, cleaned after a crash, grown and
# "lowered" with the quota, and refused (untouched) when damaged. home-tool plays the monitor.
. "$(dirname "$0")/lib.sh"
TOOL="$top_builddir/tests/jail/home-tool"
[ "$(id -u)" = 0 ] || skip "the image backend needs root"
[ -x "$TOOL" ] || { echo "FAIL: build tests/jail/home-tool first"; exit 1; }
for t in mkfs.ext4 e2fsck resize2fs tune2fs losetup setpriv findmnt sha256sum; do
	command -v "$t" >/dev/null || { echo "FAIL: missing tool $t"; exit 1; }
done
[ -e /dev/loop-control ] || { echo "FAIL: no /dev/loop-control"; exit 1; }
trap on_exit EXIT
trap 'exit 1' INT TERM

W=$(mktemp -d /tmp/sbx-home-image.XXXXXX)
chmod 0755 "$W"
mkdir -m 0755 "$W/pub"
S=$W/state
R=$W/run
HOLDERS=""
add_cleanup "rm -rf $W"
add_cleanup 'for m in $(findmnt -rn -o TARGET | grep "^$R/"); do umount -l "$m"; done 2>/dev/null'
add_cleanup 'for p in $HOLDERS; do kill -9 $p 2>/dev/null; done'
U=sbxhomei$$
new_user "$U"
G=$(id -g "$U")
IMG=$S/homes/$U.img
MP=$R/homes/$U

# as_user CMD...: runs CMD as the student with the home bound at $W/pub (a private mount
# namespace, as in the jail: the runtime directory itself stays root-only). $H is the home there.
H=$W/pub
as_user() {
	unshare --mount --propagation private -- /bin/bash -c \
		'mount --bind "$1" "$2" && shift 2 && exec setpriv --reuid "$U" --regid "$G" --clear-groups "$@"' \
		_ "$MP" "$H" "$@"
}
export U G
tool() { "$TOOL" -s "$S" -r "$R" "$@"; }

# hold NAME [OPTIONS]: a session holding the home in the background; waits for its path line.
hold() {
	local name=$1
	shift
	"$TOOL" -s "$S" -r "$R" "$@" "$U" hold >"$W/$name.out" 2>"$W/$name.err" &
	eval "PID_$name=$!"
	HOLDERS="$HOLDERS $!"
	for _ in $(seq 100); do
		grep -q '^path=' "$W/$name.out" 2>/dev/null && return 0
		kill -0 "$(eval echo \$PID_"$name")" 2>/dev/null || break
		sleep 0.1
	done
	fail "hold $name: no path line: $(cat "$W/$name.err")"
	return 1
}
release() { # NAME: SIGTERM, wait, "detached"
	local pid
	pid=$(eval echo \$PID_"$1")
	kill -TERM "$pid"
	wait "$pid" 2>/dev/null
	grep -q '^detached' "$W/$1.out" || fail "release $1: no 'detached' line"
}
dev_of() { sed -n 's/.* dev=//p' "$W/$1.out"; }
mounts_of_mp() { findmnt -rn -o TARGET | grep -cx "$MP"; }
loops_of_img() { losetup -j "$IMG" | grep -c .; }
wait_loops_gone() {
	for _ in $(seq 50); do [ "$(loops_of_img)" = 0 ] && return 0; sleep 0.1; done
	return 1
}
fs_size() { df -B1 --output=size "$MP" | tail -1 | tr -d ' '; }

# First login creates the image and mounts it for the student.
hold A -q 32M -i 2000 || finish
assert_contains "attach mounts at the runtime directory" "$(cat "$W/A.out")" "^path=$MP "
assert_eq "image file: root-only" "$(stat -c '%U %a' "$IMG")" "root 600"
assert_eq "image directory: root-only" "$(stat -c '%U %a' "$S/homes")" "root 700"
assert_eq "image is sparse, size = quota" "$(stat -c %s "$IMG")" "$((32 << 20))"
assert_eq "home root owned by the user, 0700" "$(stat -c '%U %a' "$MP")" "$U 700"
OPTS=$(findmnt -rn -o OPTIONS "$MP")
assert_contains "mounted nosuid,nodev,noexec" "$(echo "$OPTS" | tr , '\n')" '^nosuid$'
assert_contains "mounted nodev" "$(echo "$OPTS" | tr , '\n')" '^nodev$'
assert_contains "mounted noexec" "$(echo "$OPTS" | tr , '\n')" '^noexec$'
assert_eq "one loop device for the image" "$(loops_of_img)" 1

# Writing past the quota fails with ENOSPC; what was stored before is intact.
as_user dd if=/dev/urandom of="$H/f1" bs=1M count=4 status=none
SUM1=$(sha256sum <"$MP/f1")
OUT=$(as_user dd if=/dev/zero of="$H/big" bs=1M 2>&1)
RC=$?
assert_eq "writing past the quota fails" "$RC" 1
assert_contains "with 'No space left on device'" "$OUT" "No space left on device|Disk quota exceeded"
BIG=$(stat -c %s "$MP/big")
[ "$BIG" -gt $((16 << 20)) ] && [ "$BIG" -lt $((32 << 20)) ] &&
	pass "the student got most of the 32M ($BIG bytes)" || fail "filled only $BIG bytes of 32M"
assert_eq "earlier file intact after the quota hit" "$(sha256sum <"$MP/f1")" "$SUM1"
U_OUT=$(tool "$U" usage)
USED=$(echo "$U_OUT" | sed -n 's/bytes=\([0-9]*\).*/\1/p')
[ "$USED" -ge "$BIG" ] && pass "usage reports the bytes in use ($U_OUT)" || fail "usage: $U_OUT"
rm -f "$MP/big"

# The inode limit: creating files stops at about the -i count.
OUT=$(as_user bash -c 'mkdir "$1/many" && for i in $(seq 4000); do { : >"$1/many/$i"; } 2>/dev/null || { echo "stopped at $i"; exit 0; }; done; echo "no limit"' _ "$H")
N=$(echo "$OUT" | sed -n 's/stopped at //p')
[ -n "$N" ] && [ "$N" -gt 1500 ] && [ "$N" -le 2100 ] && pass "inode limit: file creation stopped at $N (limit 2000)" ||
	fail "inode limit: $OUT"
rm -rf "$MP/many"

# A second concurrent session shares the same mount.
hold B -q 32M -i 2000 || finish
assert_eq "second attach: same file system (st_dev)" "$(dev_of B)" "$(dev_of A)"
assert_eq "still one mount" "$(mounts_of_mp)" 1
assert_eq "still one loop device" "$(loops_of_img)" 1
release A
assert_eq "detaching one session keeps the home mounted" "$(mounts_of_mp)" 1
assert_eq "file visible to the remaining session" "$(sha256sum <"$MP/f1")" "$SUM1"
release B
assert_eq "the last detach unmounts" "$(mounts_of_mp)" 0
wait_loops_gone && pass "the last detach frees the loop device" || fail "loop device left: $(losetup -j "$IMG")"

# Many sessions of one user attaching and detaching at once: the lock serializes them, every
# one succeeds, and the last one out leaves nothing mounted.
PIDS=""
for i in $(seq 12); do
	tool -q 32M -i 2000 "$U" once >"$W/par.$i.out" 2>&1 &
	PIDS="$PIDS $!"
done
BAD=0
for p in $PIDS; do wait "$p" || BAD=$((BAD + 1)); done
assert_eq "12 concurrent attach/detach cycles all succeed" "$BAD" 0
assert_eq "each one got the home" "$(cat "$W"/par.*.out | grep -c "^path=$MP ")" 12
assert_eq "nothing mounted after the last one" "$(mounts_of_mp)" 0
wait_loops_gone && pass "no loop device after the last one" || fail "loop device left: $(losetup -j "$IMG")"

# A crashed monitor (SIGKILL): its mount is stale; the next attach cleans it and goes on.
hold C -q 32M -i 2000 || finish
kill -9 "$PID_C"
wait "$PID_C" 2>/dev/null
assert_eq "a killed holder leaves the mount behind" "$(mounts_of_mp)" 1
OUT=$(tool -q 32M -i 2000 "$U" once 2>&1)
assert_contains "attach after a crash works" "$OUT" "^detached"
assert_eq "and the stale mount is gone afterwards" "$(mounts_of_mp)" 0
wait_loops_gone && pass "and its loop device is freed" || fail "loop device left: $(losetup -j "$IMG")"
assert_eq "files survive the crash" "$(tool -q 32M "$U" once >/dev/null; echo ok)" ok
# The daemon's start-up sweep does the same for every user.
hold C -q 32M -i 2000 || finish
kill -9 "$PID_C"
wait "$PID_C" 2>/dev/null
hold C2 -q 32M -i 2000 || finish
assert_eq "sweep leaves a home that a live session holds" "$("$TOOL" -r "$R" sweep)" "swept=0"
release C2
hold C -q 32M -i 2000 || finish
kill -9 "$PID_C"
wait "$PID_C" 2>/dev/null
assert_eq "sweep unmounts a crashed session's home" "$("$TOOL" -r "$R" sweep)" "swept=1"
assert_eq "nothing mounted after the sweep" "$(mounts_of_mp)" 0
wait_loops_gone && pass "the sweep frees the loop device" || fail "loop device left: $(losetup -j "$IMG")"

# Raising the quota: at the next attach, and online while another session holds the home.
hold D -q 32M -i 2000 || finish
SZ0=$(fs_size)
OUT=$(tool -q 64M -i 2000 "$U" once 2>&1)
assert_contains "attach with a raised quota while mounted" "$OUT" "^detached"
SZ1=$(fs_size)
assert_eq "image file grown to 64M at once" "$(stat -c %s "$IMG")" "$((64 << 20))"
# Online growth (resize2fs on the mounted file system) needs CAP_SYS_RESOURCE; without it the
# file system grows offline at the next attach that mounts it afresh.
if [ $((0x$(sed -n 's/^CapEff:\t//p' /proc/self/status) >> 24 & 1)) = 1 ]; then
	[ "$SZ1" -gt $((SZ0 + (24 << 20))) ] && pass "grown online: $SZ0 -> $SZ1 bytes" ||
		fail "not grown online: $SZ0 -> $SZ1"
else
	assert_eq "no CAP_SYS_RESOURCE here: the mounted size stays until the next fresh mount" "$SZ1" "$SZ0"
	release D
	hold D -q 64M -i 2000 || finish
	SZ1=$(fs_size)
	[ "$SZ1" -gt $((SZ0 + (24 << 20))) ] && pass "grown at the next fresh attach: $SZ0 -> $SZ1 bytes" ||
		fail "not grown at the next attach: $SZ0 -> $SZ1"
fi
as_user dd if=/dev/urandom of="$H/f2" bs=1M count=40 status=none &&
	pass "40M fit after raising the quota to 64M" || fail "40M did not fit in 64M"
SUM2=$(sha256sum <"$MP/f2")
release D
assert_eq "unmounted after the grow" "$(mounts_of_mp)" 0

# Lowering below the usage: the data stays, new writes are refused, deleting makes room.
hold E -q 24M -i 2000 || finish
assert_eq "image keeps its size when the quota is lowered" "$(stat -c %s "$IMG")" "$((64 << 20))"
assert_eq "f1 intact under a lowered quota" "$(sha256sum <"$MP/f1")" "$SUM1"
assert_eq "f2 intact under a lowered quota" "$(sha256sum <"$MP/f2")" "$SUM2"
OUT=$(as_user dd if=/dev/zero of="$H/more" bs=1M count=1 2>&1)
assert_contains "writes refused while usage is above the lowered quota" "$OUT" "No space left on device"
as_user rm -f "$H/f2" "$H/more" && pass "the student can delete above the quota" || fail "rm refused"
as_user dd if=/dev/zero of="$H/more" bs=1M count=8 status=none &&
	pass "after deleting, writes work again" || fail "write after delete failed"
OUT=$(as_user dd if=/dev/zero of="$H/big" bs=1M 2>&1)
BIG=$(stat -c %s "$MP/big")
[ "$BIG" -lt $((20 << 20)) ] && pass "the lowered quota holds ($BIG more bytes fit)" || fail "lowered quota not enforced: $BIG"
as_user rm -f "$H/big" "$H/more"
release E
# The reserve above half the blocks is not taken for damage by the next check.
OUT=$(tool -q 24M "$U" once 2>&1)
assert_contains "attach again under the lowered quota" "$OUT" "^detached"
OUT=$(tool -q 64M "$U" once 2>&1)
assert_contains "attach with the quota raised back" "$OUT" "^detached"
assert_contains "the reserve is gone with the raised quota" "$(dumpe2fs -h "$IMG" 2>/dev/null)" "^Reserved block count: +0$"

# The directory backend: the user's own home, checked, never a symlink.
HOME_U=$(getent passwd "$U" | cut -d: -f6)
OUT=$(tool -b directory "$U" once 2>&1)
assert_contains "directory backend: the home is pw_dir" "$OUT" "^path=$HOME_U "
mv "$HOME_U" "$HOME_U.real"
ln -s "$HOME_U.real" "$HOME_U"
OUT=$(tool -b directory "$U" once 2>&1)
assert_contains "directory backend: a symlinked home is refused" "$OUT" "Too many levels of symbolic links|Not a directory"
rm "$HOME_U"
mv "$HOME_U.real" "$HOME_U"
chown root "$HOME_U"
OUT=$(tool -b directory "$U" once 2>&1)
assert_contains "directory backend: a home owned by someone else is refused" "$OUT" "is owned by uid 0"
chown "$U" "$HOME_U"

# A clean file system is mounted without running e2fsck (its superblock says what e2fsck -p
# would); one marked with errors, or not cleanly unmounted, still goes through e2fsck -p.
wait_loops_gone || fail "loop device still there before the e2fsck test"
debugfs -w -R "ssv state 3" "$IMG" >/dev/null 2>&1
assert_contains "the file system is marked with errors" "$(dumpe2fs -h "$IMG" 2>/dev/null)" \
	"^Filesystem state: +clean with errors$"
OUT=$(tool -q 64M "$U" once 2>&1)
assert_contains "an image marked with errors is checked, then mounted" "$OUT" "^detached"
assert_contains "e2fsck -p cleared the mark" "$(dumpe2fs -h "$IMG" 2>/dev/null)" \
	"^Filesystem state: +clean$"
wait_loops_gone || fail "loop device still there after the e2fsck test"
debugfs -w -R "ssv state 0" "$IMG" >/dev/null 2>&1
OUT=$(tool -q 64M "$U" once 2>&1)
assert_contains "an image not cleanly unmounted is checked, then mounted" "$OUT" "^detached"
assert_contains "and is clean again" "$(dumpe2fs -h "$IMG" 2>/dev/null)" \
	"^Filesystem state: +clean$"

# An image still in use is never mounted a second time: bound to a loop device by someone else,
# or mounted by a crashed session whose mount a process in another mount namespace (a jail that
# outlived its monitor) keeps alive. The attach waits briefly for the kernel to let go, then
# refuses; once the image is free again, it mounts.
wait_loops_gone || fail "loop device still there before the in-use test"
LOOP=$(losetup -f --show "$IMG")
OUT=$(tool -q 64M "$U" once 2>&1)
assert_contains "an image bound to another loop device is refused" "$OUT" "still in use on $LOOP"
assert_eq "and not mounted" "$(mounts_of_mp)" 0
losetup -d "$LOOP"
wait_loops_gone || fail "losetup -d left the loop device"
hold G -q 64M -i 2000 || finish
unshare --mount --propagation private -- /bin/sh -c 'echo ready; exec sleep 600' >"$W/keeper.out" &
KEEPER=$!
HOLDERS="$HOLDERS $KEEPER"
for _ in $(seq 50); do grep -q ready "$W/keeper.out" && break; sleep 0.1; done
kill -9 "$PID_G"
wait "$PID_G" 2>/dev/null
OUT=$(tool -q 64M "$U" once 2>&1)
assert_contains "a crashed session's mount still alive elsewhere is not mounted twice" "$OUT" \
	"home image of $U is still in use on /dev/loop"
kill "$KEEPER"
wait "$KEEPER" 2>/dev/null
wait_loops_gone || fail "the loop device outlived the namespace that held it"
OUT=$(tool -q 64M "$U" once 2>&1)
assert_contains "once free, the image mounts again" "$OUT" "^detached"

# A damaged image is refused and left exactly as it was (no repair, no reformat).
wait_loops_gone || fail "loop device still there before the damage test"
SUM_IMG=$(sha256sum <"$IMG")
dd if=/dev/urandom of="$IMG" bs=1024 seek=1 count=1 conv=notrunc status=none
SUM_BAD=$(sha256sum <"$IMG")
OUT=$(tool -q 64M "$U" once 2>&1)
RC=$?
assert_eq "a damaged image is refused" "$RC" 1
assert_contains "with the admin's message" "$OUT" "home image of $U is damaged; an admin must repair it \(e2fsck\)"
assert_eq "the damaged image is unchanged" "$(sha256sum <"$IMG")" "$SUM_BAD"
assert_eq "nothing mounted" "$(mounts_of_mp)" 0
assert_eq "no loop device" "$(loops_of_img)" 0
[ "$SUM_IMG" != "$SUM_BAD" ] || fail "the corruption did not change the image"

finish
