# Shared helpers for the jail tests: a throwaway user, jail-run with the probe bound in,
# and PASS/FAIL assertions. Source it; call jail_setup first.

: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
JAIL_RUN="$top_builddir/tests/jail/jail-run"
PROBE_DIR="$top_builddir/tests/jail"
PROBE=/run/probe/probe
FAILURES=0
CLEANUP_CMDS=""

# In CI (CI=true: root, namespaces, cgroups, journald all present) nothing may skip: what would
# be a skip elsewhere is a hard error there (automake's exit 99).
skip() {
	if [ -n "${CI:-}" ]; then echo "ERROR (CI must not skip): $*"; exit 99; fi
	echo "SKIP: $*"
	exit 77
}
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; FAILURES=$((FAILURES + 1)); }

on_exit() { eval "$CLEANUP_CMDS"; }
add_cleanup() { CLEANUP_CMDS="$1; $CLEANUP_CMDS"; }

# assert_contains NAME OUTPUT PATTERN (grep -E on a line)
assert_contains() {
	if printf '%s\n' "$2" | grep -Eq -- "$3"; then pass "$1"; else
		fail "$1: no line matching /$3/ in:"; printf '%s\n' "$2" | sed 's/^/    /'; fi
}
assert_not_contains() {
	if printf '%s\n' "$2" | grep -Eq -- "$3"; then
		fail "$1: unexpected line matching /$3/ in:"; printf '%s\n' "$2" | sed 's/^/    /'
	else pass "$1"; fi
}
assert_eq() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: expected '$3', got '$2'"; fi
}

# jail_setup: root and namespaces are required; CI has both, so this never skips there.
jail_setup() {
	[ "$(id -u)" = 0 ] || skip "jail tests need root"
	unshare --mount --pid --net --uts --ipc --fork true 2>/dev/null ||
		skip "cannot create namespaces here (unshare failed)"
	[ -x "$JAIL_RUN" ] && [ -x "$PROBE_DIR/probe" ] || { echo "FAIL: build jail-run and probe first"; exit 1; }
	trap on_exit EXIT
	trap 'exit 1' INT TERM
}

# new_user NAME: a throwaway user with a home, removed at exit (with every process of it).
new_user() {
	userdel -r "$1" >/dev/null 2>&1
	useradd -m -s /usr/sbin/nologin "$1" || { echo "FAIL: useradd $1"; exit 1; }
	add_cleanup "userdel -r $1 >/dev/null 2>&1"
}

# jrun USER [jail-run options] -- PROGRAM ARGS: output in $OUT (stdout), $REPORT, $RC.
jrun() {
	_user=$1; shift
	_err=$(mktemp)
	OUT=$("$JAIL_RUN" --user "$_user" --bind "$PROBE_DIR:/run/probe" "$@" 2>"$_err")
	RC=$?
	REPORT=$(grep '^report:' "$_err")
	ERR=$(grep -v '^report:' "$_err")
	rm -f "$_err"
}

# report_field KEY: value of KEY in $REPORT
report_field() { printf '%s\n' "$REPORT" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

finish() {
	if [ "$FAILURES" -gt 0 ]; then echo "$FAILURES failure(s)"; exit 1; fi
	echo "all passed"; exit 0
}
