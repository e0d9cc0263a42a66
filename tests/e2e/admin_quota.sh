#!/bin/bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# sandboxctl without the daemon: quota set/unset/show/list against a temporary policy directory
# with a throwaway user and course group, lock/unlock, errors and exit codes, the permission
# check (root for changes; root or sandbox-admin to read), status. Needs root.
. "$(dirname "$0")/lib.sh"

SANDBOXCTL=${SANDBOXCTL:-$top_builddir/sandboxctl}
G=""
MADE_ADMIN_GROUP=0

admin_cleanup() {
	local rc=$?
	[ -n "$G" ] && groupdel "$G" 2>/dev/null
	[ "$MADE_ADMIN_GROUP" = 1 ] && groupdel sandbox-admin 2>/dev/null
	(exit "$rc")
	e2e_cleanup
}

require_root
[ -x "$SANDBOXCTL" ] || die "no sandboxctl at $SANDBOXCTL (set SANDBOXCTL or build it)"
for t in setpriv useradd groupadd groupdel usermod "$PY"; do
	command -v "$t" >/dev/null || die "missing tool: $t"
done
T=$(mktemp -d "/tmp/sbxe2e-$E2E_NAME.XXXXXX") || die "mktemp"
chmod 0755 "$T"
trap admin_cleanup EXIT
trap 'exit 130' INT TERM HUP
sweep_stale_users
echo "# $E2E_NAME: temp dir $T, sandboxctl $SANDBOXCTL"

# The binary may sit in a directory only root can enter: unprivileged runs use a copy.
install -m 0755 "$SANDBOXCTL" "$T/sandboxctl"
P="$T/policy"
# The admin actions of this test go to its own trail, never the host's.
NOCONF="$T/ctl.conf"
printf 'AuditFile %s\nAuditJournal no\nPolicyDirectory %s\n' "$T/audit.jsonl" "$P" >"$NOCONF"

# ctl ARGS...: runs sandboxctl as root on $P; sets RC, OUT, ERR.
ctl() {
	E2E_LAST_CMD="sandboxctl $*"
	"$T/sandboxctl" --policy-dir "$P" --config "$NOCONF" "$@" >"$T/out" 2>"$T/err"
	RC=$?
	OUT=$(cat "$T/out")
	ERR=$(cat "$T/err")
}

# ctl_as SETPRIV-OPTIONS... -- ARGS...: the same as another user.
ctl_as() {
	local opts=()
	while [ "$1" != -- ]; do
		opts+=("$1")
		shift
	done
	shift
	E2E_LAST_CMD="setpriv ${opts[*]} sandboxctl $*"
	setpriv "${opts[@]}" "$T/sandboxctl" --policy-dir "$P" --config "$NOCONF" "$@" \
		>"$T/out" 2>"$T/err"
	RC=$?
	OUT=$(cat "$T/out")
	ERR=$(cat "$T/err")
}

# effective KEY: "VALUE|SOURCE" of KEY in `quota show $U --effective` (the aligned table).
effective() {
	ctl quota show "$U" --effective
	printf '%s\n' "$OUT" | awk -v k="$1" '$1 == k { v = $2; $1 = ""; $2 = ""; sub(/^ +/, "");
		print v "|" $0 }'
}

lines() { [ -z "$1" ] && echo 0 || printf '%s\n' "$1" | wc -l; }

make_user
G="sbxe2e_g$(rand_alnum 8)"
groupadd "$G" || die "groupadd $G"
usermod -a -G "$G" "$U" || die "usermod $U"

# ---- course, user override, fall back ----

ctl quota set "@$G" memory=1G pids=100
assert_rc 0 "quota set @course"
assert_eq "$(effective memory)" "1G|group @$G" "the course's memory applies to its student"
assert_eq "$(effective pids)" "100|group @$G" "and its pids"
assert_eq "$(effective tmp)" "64M|built-in" "an unset key is built-in"

ctl quota set default cpu=50% session-time=1h30m
assert_rc 0 "quota set default"
assert_eq "$(effective cpu)" "50%|default" "the default level applies"
assert_eq "$(effective session-time)" "1h30m|default" "times are shown with units"

ctl quota set "$U" memory=2G
assert_rc 0 "quota set USER"
assert_eq "$(effective memory)" "2G|user $U" "the user's override wins over the course"
assert_eq "$(effective pids)" "100|group @$G" "other course keys still apply"
ctl quota show "$U" --effective
# The table, then a blank line and the home's usage.
assert_match "$OUT" "^home \(image\): not created yet" "--effective ends with the home's usage"
OUT=$(printf '%s\n' "$OUT" | sed '/^$/,$d')
assert_eq "$(lines "$OUT")" 16 "--effective lists every key under a header"
assert_match "$OUT" "^memory +2G +user $U\$" "the row shows the source"
# Aligned: every row's SOURCE column starts where the header's does.
col=$(printf '%s\n' "$OUT" | head -1 | awk '{ print index($0, "SOURCE") }')
assert_eq "$(printf '%s\n' "$OUT" | tail -n +2 | awk -v c="$col" \
	'substr($0, c - 2, 2) != "  " || substr($0, c, 1) == " " { bad++ } END { print bad + 0 }')" \
	0 "columns are aligned"
assert_eq "$ERR" "" "nothing on stderr"

ctl quota show "$U" --effective --json
assert_rc 0 "--effective --json"
assert_eq "$(printf '%s' "$OUT" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
m = d["limits"]["memory"]
print(m["value"], m["number"], m["source"], d["limits"]["swap"]["number"],
      d["limits"]["locked"]["number"], len(d["limits"]), sys.argv[1] in d["groups"])' "$G")" \
	"2G 2147483648 user $U 0 False 15 True" "JSON: value, number, source, groups"

ctl quota show "$U"
assert_eq "$OUT" "KEY     VALUE
memory  2G" "quota show USER lists what the user's level sets"
ctl quota show "@$G" --json
assert_eq "$(printf '%s' "$OUT" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
print(d["level"], d["kind"], sorted(d["limits"]), d["limits"]["pids"]["number"])')" \
	"@$G group ['memory', 'pids'] 100" "quota show @GROUP --json"

ctl quota list
assert_rc 0 "quota list"
assert_match "$OUT" "^LEVEL +KEY +VALUE\$" "list header"
assert_match "$OUT" "^default +cpu +50%\$" "list shows the default level"
assert_match "$OUT" "^@$G +memory +1G\$" "list shows the course"
assert_match "$OUT" "^$U +memory +2G\$" "list shows the user"
ctl quota list --json
assert_eq "$(printf '%s' "$OUT" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
print([(l["level"], l["kind"]) for l in d["levels"]][0], len(d["levels"]))')" \
	"('default', 'default') 3" "quota list --json"

ctl quota unset "$U" memory
assert_rc 0 "quota unset USER KEY"
assert_eq "$(effective memory)" "1G|group @$G" "after unset the course's value is back"
ctl quota unset "$U" memory
assert_rc 0 "unsetting a key that is not set is fine"

# ---- lock / unlock ----

ctl lock "$U"
assert_rc 0 "lock"
assert_eq "$(effective locked)" "yes|user $U" "lock sets locked=yes at the user level"
assert_eq "$(cat "$P/user/$U.conf")" "locked = yes" "the user's file holds just that"
ctl unlock "$U"
assert_rc 0 "unlock"
assert_eq "$(effective locked)" "no|built-in" "unlock removes it"
[ -e "$P/user/$U.conf" ] && fail "the emptied user file is left" || ok "the emptied user file is removed"

ctl quota set "@$G" locked=yes
ctl lock "$U"
ctl unlock "$U"
assert_rc 1 "unlock while the course still locks"
assert_eq "$ERR" "sandboxctl: $U is still locked by group @$G (sandboxctl quota set $U locked=no overrides it)" \
	"unlock says who still locks"
ctl quota unset "@$G" locked
assert_eq "$(effective locked)" "no|built-in" "the course lock removed"

# ---- errors: one line, exit 1 for runtime errors, 2 for usage ----

before=$(cat "$P/group/$G.conf")
ctl quota set "@$G" pids=200 memory=12Q
assert_rc 1 "a bad value"
assert_eq "$ERR" "sandboxctl: memory: '12Q' is not a size (examples: 512M, 2G, 1024K, bytes)" \
	"the bad value's message names key and value"
assert_eq "$(lines "$ERR")" 1 "one line"
assert_eq "$(cat "$P/group/$G.conf")" "$before" "nothing of the command was written"
ctl quota set "$U" memory=8M
assert_rc 1 "an out-of-range value"
assert_eq "$ERR" "sandboxctl: memory: '8M' is out of range (16M to 1T, or unlimited)" "range message"
ctl quota set "$U" wall=10m
assert_rc 1 "an unknown key"
assert_eq "$ERR" "sandboxctl: unknown key 'wall'" "unknown key message"

ctl quota set sbxe2e_nosuchuser memory=1G
assert_rc 1 "an unknown user"
assert_eq "$ERR" "sandboxctl: no such user: sbxe2e_nosuchuser" "no such user"
ctl quota set @sbxe2e_nosuchgroup memory=1G
assert_rc 1 "an unknown group"
assert_eq "$ERR" "sandboxctl: no such group: @sbxe2e_nosuchgroup" "no such group"
ctl quota show sbxe2e_nosuchuser --effective
assert_rc 1 "show of an unknown user"
assert_eq "$ERR" "sandboxctl: no such user: sbxe2e_nosuchuser" "show: no such user"
[ -e "$P/user/sbxe2e_nosuchuser.conf" ] && fail "a file was created for an unknown user" ||
	ok "no file for an unknown user"

ctl quota set "../$U" memory=1G
assert_rc 2 "a name with a slash"
assert_match "$ERR" "^sandboxctl: invalid user name '\.\./$U'" "invalid name message"
ctl quota set "$U"
assert_rc 2 "quota set without assignments"
ctl quota set "$U" --memory 1G
assert_rc 2 "an option instead of KEY=VALUE"
assert_contains "$ERR" "limits are written KEY=VALUE" "the hint"
ctl quota show "@$G" --effective
assert_rc 2 "--effective of a group"
ctl frobnicate
assert_rc 2 "an unknown command"
assert_eq "$ERR" "sandboxctl: unknown command 'frobnicate' (see sandboxctl --help)" "unknown command"
ctl
assert_rc 2 "no command"
ctl --help
assert_rc 0 "--help"
assert_contains "$OUT" "quota set {USER|@GROUP|default} KEY=VALUE..." "help lists the commands"
assert_contains "$OUT" "run-cpu-time" "help lists the keys"
ctl --version
assert_match "$OUT" "^sandboxctl [0-9]" "--version"

# A hand-edited file with an error: reported with file and line, never overwritten.
printf 'memory = 1G\npids = many\n' >"$P/group/$G.conf"
ctl quota show "$U" --effective
assert_rc 1 "show with a broken course file"
assert_eq "$ERR" "sandboxctl: $P/group/$G.conf:2: pids: 'many' is not a whole number" \
	"the error names file and line"
ctl quota set "@$G" tmp=128M
assert_rc 1 "set on a broken file"
assert_eq "$(cat "$P/group/$G.conf")" "$(printf 'memory = 1G\npids = many')" "broken file untouched"
ctl status
assert_rc 1 "status reports a broken policy"
assert_contains "$OUT" "error: $P/group/$G.conf:2:" "status names the broken file"
printf 'memory = 1G\npids = 100\n' >"$P/group/$G.conf"

# ---- concurrent admins ----

keys=(memory=3G swap=1G cpu=2 pids=300 tmp=100M disk=1G inodes=5000 run-time=2h)
pids=()
for kv in "${keys[@]}"; do
	"$T/sandboxctl" --policy-dir "$P" --config "$NOCONF" quota set "@$G" "$kv" 2>>"$T/concurrent.err" &
	pids+=($!)
done
crc=0
for p in "${pids[@]}"; do wait "$p" || crc=1; done
assert_eq "$crc:$(cat "$T/concurrent.err")" "0:" "eight concurrent quota set all succeed"
ctl quota show "@$G"
for kv in "${keys[@]}"; do
	k=${kv%%=*}
	v=$(printf '%s\n' "$OUT" | awk -v k="$k" '$1 == k { print $2 }')
	[ -n "$v" ] || fail "concurrent set of $k was lost"
done
assert_eq "$(lines "$OUT")" 9 "all eight keys survived concurrent writers"

# ---- permissions ----

before=$(cat "$P/group/$G.conf")
ctl_as --reuid=nobody --regid=nogroup --clear-groups -- quota set "@$G" memory=4G
assert_rc 3 "nobody: quota set"
assert_eq "$ERR" "sandboxctl: permission denied: changing the policy needs root" \
	"nobody is told why"
ctl_as --reuid=nobody --regid=nogroup --clear-groups -- lock "$U"
assert_rc 3 "nobody: lock"
ctl_as --reuid=nobody --regid=nogroup --clear-groups -- quota show "$U" --effective
assert_rc 3 "nobody: quota show"
assert_eq "$ERR" "sandboxctl: permission denied: needs root or membership in group sandbox-admin" \
	"reading needs the admin group"
ctl_as --reuid=nobody --regid=nogroup --clear-groups -- status
assert_rc 3 "nobody: status"
assert_eq "$(cat "$P/group/$G.conf")" "$before" "nothing was written by nobody"

if ! getent group sandbox-admin >/dev/null; then
	groupadd sandbox-admin || die "groupadd sandbox-admin"
	MADE_ADMIN_GROUP=1
fi
usermod -a -G sandbox-admin "$U" || die "usermod sandbox-admin"
ctl_as --reuid="$U" --regid="$U" --init-groups -- quota show "$U" --effective
assert_rc 0 "a member of sandbox-admin may read"
assert_match "$OUT" "^memory +3G +group @$G\$" "and sees the effective policy"
ctl_as --reuid="$U" --regid="$U" --init-groups -- quota set "$U" memory=4G
assert_rc 3 "but changing the policy still needs root"
gpasswd -d "$U" sandbox-admin >/dev/null 2>&1

# ---- status ----

ctl status
assert_rc 0 "status"
assert_match "$OUT" "^version: +[0-9]" "status: version"
assert_match "$OUT" "^configuration: +$NOCONF\$" "status: configuration"
assert_match "$OUT" "^policy: +$P \(default set, 1 group, 0 users\)\$" "status: policy"
assert_match "$OUT" "^daemon: +not running" "status: daemon"

# A daemon found through the configuration's PidFile; a pid that is not sandboxd is stale.
printf 'PidFile %s/sandboxd.pid\n' "$T" >"$T/sandboxd.conf"
cp "$(command -v sleep)" "$T/sandboxd"
"$T/sandboxd" 60 &
fake=$!
track_bg "$fake"
# Until the forked shell has exec'd it, the pid's name is bash (seen under load).
for ((i = 0; i < 100; i++)); do
	[ "$(cat "/proc/$fake/comm" 2>/dev/null)" = sandboxd ] && break
	sleep 0.05
done
echo "$fake" >"$T/sandboxd.pid"
"$T/sandboxctl" --policy-dir "$P" --config "$T/sandboxd.conf" status >"$T/out" 2>&1
assert_match "$(cat "$T/out")" "^daemon: +running \(pid $fake\)\$" "status: a running daemon"
"$T/sandboxctl" --policy-dir "$P" --config "$T/sandboxd.conf" status --json >"$T/out"
assert_eq "$("$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(d["running"], d["pid"], d["config_ok"], d["policy_ok"])' "$T/out")" \
	"True $fake True True" "status --json"
kill "$fake"
wait "$fake" 2>/dev/null
echo $$ >"$T/sandboxd.pid"
"$T/sandboxctl" --policy-dir "$P" --config "$T/sandboxd.conf" status >"$T/out" 2>&1
assert_match "$(cat "$T/out")" "^daemon: +not running \(stale .*pid $$ is bash\)\$" \
	"status: a pid that is not sandboxd"

echo "# $E2E_NAME: $((E2E_COUNT - E2E_FAILED)) of $E2E_COUNT passed"
[ "$E2E_FAILED" = 0 ] || exit 1
exit 0
