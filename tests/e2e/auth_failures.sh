#!/bin/bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# Refusals: wrong password, unknown user (same message, similar time), `none`, MaxAuthTries,
# locked and expired accounts.
. "$(dirname "$0")/lib.sh"
e2e_init
make_user
U_EXPIRED=$U PW_EXPIRED=$PW
usermod -e 1 "$U_EXPIRED"
make_user
U_LOCKED=$U PW_LOCKED=$PW
passwd -q -l "$U_LOCKED" >/dev/null
make_user
U_EMPTY=$U
passwd -q -d "$U_EMPTY" >/dev/null
make_user
start_server MaxAuthTries 2 PasswordAuthentication yes KbdInteractiveAuthentication yes

CMD='python3 -c "print(6*7)"'
NOBODY="sbxe2e_nx$(rand_alnum 6)"
getent passwd "$NOBODY" >/dev/null && die "$NOBODY exists"

# One wrong password, then the client gives up (NumberOfPasswordPrompts=1).
wrong_once() { # USER
	ssh_askpass "$1" "wrong-$PW" -o PreferredAuthentications=password \
		-o NumberOfPasswordPrompts=1 -- "$CMD"
}

wrong_once "$U"
assert_eq "$RC" 255 "wrong password is refused"
assert_eq "$OUT" "" "wrong password: nothing ran"
assert_contains "$ERR" "Permission denied" "wrong password: the client says Permission denied"
err_wrong=${ERR//$U/USER}
t_wrong1=$ELAPSED

wrong_once "$NOBODY"
assert_eq "$RC" 255 "unknown user is refused"
t_unknown1=$ELAPSED
err_unknown=${ERR//$NOBODY/USER}
assert_eq "$err_unknown" "$err_wrong" "unknown user: the client sees the same message as for a wrong password"
assert_eq "$PROMPTS" 1 "unknown user: the client is asked for a password all the same"

# Timing: an unknown user must not answer measurably faster (or slower) than a wrong password.
median3() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
tw=("$t_wrong1") tu=("$t_unknown1")
for i in 2 3; do
	wrong_once "$U"
	tw+=("$ELAPSED")
	wrong_once "$NOBODY"
	tu+=("$ELAPSED")
done
mw=$(median3 "${tw[@]}")
mu=$(median3 "${tu[@]}")
d=$((mw > mu ? mw - mu : mu - mw))
echo "# wrong password: ${tw[*]} ms (median $mw); unknown user: ${tu[*]} ms (median $mu)"
if [ "$d" -lt 1500 ]; then
	ok "unknown user and wrong password take similar time (medians $(ms_to_s "$mw") s / $(ms_to_s "$mu") s)"
else
	fail "unknown user and wrong password differ by $(ms_to_s "$d") s (medians $(ms_to_s "$mw") s / $(ms_to_s "$mu") s)"
fi

# `none` never succeeds, not even for an account with an empty password.
for who in "$U" "$U_EMPTY"; do
	run_ssh --- "$who" -o PreferredAuthentications=none -o PubkeyAuthentication=no \
		-o BatchMode=yes --- "$CMD"
	assert_eq "$RC" 255 "none authentication fails ($([ "$who" = "$U" ] && echo "normal account" || echo "empty password"))"
	assert_eq "$OUT" "" "none authentication: nothing ran"
	assert_contains "$ERR" "Permission denied" "none authentication: refused at authentication"
done

# MaxAuthTries 2: the server disconnects after the second failure although the client would
# try five times.
ssh_askpass "$U" "wrong-$PW" -o PreferredAuthentications=password -o NumberOfPasswordPrompts=5 \
	-o LogLevel=INFO -- "$CMD"
assert_eq "$RC" 255 "MaxAuthTries 2: refused"
assert_eq "$PROMPTS" 2 "MaxAuthTries 2: exactly two password attempts before the disconnect"
assert_match "$ERR" "too many authentication failures" "MaxAuthTries: the client is told why"

ssh_askpass "$U" "wrong-$PW" -o PreferredAuthentications=keyboard-interactive,password \
	-o NumberOfPasswordPrompts=5 -o LogLevel=INFO -- "$CMD"
assert_eq "$RC" 255 "MaxAuthTries 2 across methods: refused"
assert_eq "$PROMPTS" 2 "MaxAuthTries 2 across keyboard-interactive and password: two attempts"

# The right password after one wrong one still works within MaxAuthTries.
cat >"$T/askpass2" <<APEOF
#!/bin/bash
n=\$(grep -c . "$T/askpass2.count" 2>/dev/null)
echo x >>"$T/askpass2.count"
if [ "\${n:-0}" = 0 ]; then echo "wrong-$PW"; else echo "$PW"; fi
APEOF
chmod 0700 "$T/askpass2"
run_ssh env SSH_ASKPASS="$T/askpass2" SSH_ASKPASS_REQUIRE=force DISPLAY=:0 --- "$U" \
	-o PreferredAuthentications=password -o PubkeyAuthentication=no \
	-o NumberOfPasswordPrompts=3 --- "$CMD"
assert_eq "$OUT" 42 "one wrong password, then the right one: logged in"

# Expired account: refused even with the right password, with PAM's message.
ssh_pw "$U_EXPIRED" "$PW_EXPIRED" -o LogLevel=INFO -- "$CMD"
assert_ne "$RC" 0 "expired account (password): refused"
assert_eq "$OUT" "" "expired account (password): nothing ran"
assert_match "$ERR" "expired" "expired account (password): PAM's message reaches the client"

ssh_kbd "$U_EXPIRED" "$PW_EXPIRED" -o LogLevel=INFO -- "$CMD"
assert_ne "$RC" 0 "expired account (keyboard-interactive): refused"
assert_match "$ERR" "expired" "expired account (keyboard-interactive): PAM's message reaches the client"

# Locked password (passwd -l): pam_unix refuses the right password.
ssh_pw "$U_LOCKED" "$PW_LOCKED" -o LogLevel=INFO -- "$CMD"
assert_ne "$RC" 0 "locked account (passwd -l): refused"
assert_eq "$OUT" "" "locked account: nothing ran"
assert_match "$ERR" "Permission denied|expired|locked" "locked account: refused at authentication"

e2e_done
