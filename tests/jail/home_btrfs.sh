#!/bin/bash
# The btrfs home backend for real (root): a btrfs made on a file in a temp dir and loop-mounted,
# a subvolume per user with a qgroup limit; writes past it fail, earlier files stay intact, the
# limit follows the quota at each attach, and a state directory elsewhere is refused.
. "$(dirname "$0")/lib.sh"
TOOL="$top_builddir/tests/jail/home-tool"
[ "$(id -u)" = 0 ] || skip "the btrfs backend test needs root"
[ -x "$TOOL" ] || { echo "FAIL: build tests/jail/home-tool first"; exit 1; }
for t in mkfs.btrfs btrfs setpriv unshare sha256sum; do
	command -v "$t" >/dev/null || { echo "FAIL: missing tool $t"; exit 1; }
done
trap on_exit EXIT
trap 'exit 1' INT TERM

W=$(mktemp -d /tmp/sbx-home-btrfs.XXXXXX)
chmod 0755 "$W"
mkdir -m 0755 "$W/fs" "$W/pub"
add_cleanup "rm -rf $W"
truncate -s 512M "$W/btrfs.img"
mkfs.btrfs -q "$W/btrfs.img" >/dev/null 2>&1 || { echo "FAIL: mkfs.btrfs"; exit 1; }
mount -o loop "$W/btrfs.img" "$W/fs" || { echo "FAIL: cannot mount a btrfs image here"; exit 1; }
add_cleanup "umount -l $W/fs"
S=$W/fs/state
U=sbxhomeb$$
new_user "$U"
G=$(id -g "$U")
export U G
H=$W/pub
SV=$S/homes/$U

as_user() { # CMD...: as the student, with the home bound at $H in a private mount namespace
	unshare --mount --propagation private -- /bin/bash -c \
		'mount --bind "$1" "$2" && shift 2 && exec setpriv --reuid "$U" --regid "$G" --clear-groups "$@"' \
		_ "$SV" "$H" "$@"
}
tool() { "$TOOL" -b btrfs -s "$S" "$@"; }

OUT=$(tool -q 32M "$U" once 2>&1)
assert_contains "first attach creates the subvolume" "$OUT" "^path=$SV "
assert_eq "the home is a subvolume (inode 256)" "$(stat -c %i "$SV")" 256
assert_eq "owned by the user, 0700" "$(stat -c '%U %a' "$SV")" "$U 700"
assert_eq "homes directory root-only" "$(stat -c '%U %a' "$S/homes")" "root 700"
assert_contains "quotas enabled with a limit of 32M" "$(btrfs qgroup show -r --raw -f "$SV")" "^0/[0-9]+ .* $((32 << 20)) "

as_user dd if=/dev/urandom of="$H/f1" bs=1M count=4 status=none
SUM1=$(sha256sum <"$SV/f1")
OUT=$(as_user dd if=/dev/zero of="$H/big" bs=1M 2>&1)
RC=$?
assert_eq "writing past the qgroup limit fails" "$RC" 1
assert_contains "with 'Disk quota exceeded'" "$OUT" "Disk quota exceeded"
sync
BIG=$(stat -c %s "$SV/big")
[ "$BIG" -ge $((16 << 20)) ] && [ "$BIG" -le $((32 << 20)) ] &&
	pass "the student got most of the 32M ($BIG bytes)" || fail "filled $BIG bytes of 32M"
assert_eq "earlier file intact" "$(sha256sum <"$SV/f1")" "$SUM1"
USAGE=$(tool "$U" usage)
USED=$(echo "$USAGE" | sed -n 's/bytes=\([0-9]*\).*/\1/p')
[ -n "$USED" ] && [ "$USED" -ge $((20 << 20)) ] && pass "usage: $USAGE" || fail "usage: $USAGE"
rm -f "$SV/big"

OUT2=$(tool -q 32M "$U" once 2>&1)
assert_eq "a second attach gives the same home" "$(echo "$OUT2" | head -1)" "$(tool -q 32M "$U" once | head -1)"

# Raising the quota: the next attach sets the new limit.
tool -q 64M "$U" once >/dev/null
as_user dd if=/dev/urandom of="$H/f2" bs=1M count=40 status=none &&
	pass "40M fit after raising the quota to 64M" || fail "40M did not fit in 64M"
sync
SUM2=$(sha256sum <"$SV/f2")

# Lowering below the usage: data kept, writes refused, deleting works.
tool -q 16M "$U" once >/dev/null
assert_eq "f1 intact under a lowered quota" "$(sha256sum <"$SV/f1")" "$SUM1"
assert_eq "f2 intact under a lowered quota" "$(sha256sum <"$SV/f2")" "$SUM2"
OUT=$(as_user dd if=/dev/zero of="$H/more" bs=1M count=1 2>&1)
assert_contains "writes refused above the lowered quota" "$OUT" "Disk quota exceeded"
as_user rm -f "$H/f2" "$H/more" && pass "the student can delete above the quota" || fail "rm refused"
sync
as_user dd if=/dev/zero of="$H/more" bs=1M count=4 status=none &&
	pass "after deleting, writes work again" || fail "write after delete failed"

# A state directory that is not on btrfs is refused with a clear message.
OUT=$("$TOOL" -b btrfs -s "$W/plain" "$U" once 2>&1)
assert_contains "state directory not on btrfs: refused" "$OUT" "needs $W/plain on btrfs"

finish
