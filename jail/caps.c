/* Capabilities and identity: the bounding set and ambient set are emptied while we still hold
 * CAP_SETPCAP, then the process becomes the user (which clears the permitted and effective
 * sets), then every set is verified empty and no_new_privs is set, so no exec can give anything
 * back (setuid binaries and file capabilities are inert under no_new_privs). */
#include "config.h"

#include "jail/jail-internal.h"

#include <errno.h>
#include <grp.h>
#include <linux/securebits.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

int jail_caps_drop_bounding(sbx_error *err)
{
	int last = (int)cap_max_bits() - 1;

	for (int cap = 0; cap <= last; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return sbx_error_errno(err, errno, "PR_CAPBSET_DROP %d", cap);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return sbx_error_errno(err, errno, "PR_CAP_AMBIENT_CLEAR_ALL");
	/* uid 0 never means "all capabilities" again in this process tree. */
	if (prctl(PR_SET_SECUREBITS,
		  SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
		      SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED,
		  0, 0, 0) < 0)
		return sbx_error_errno(err, errno, "PR_SET_SECUREBITS");
	return 0;
}

int jail_caps_become_user(const struct jail_spec *spec, sbx_error *err)
{
	if (spec->uid == 0 || spec->gid == 0)
		return sbx_error_set(err, EPERM, "refusing to run a jail as root");
	if (setgroups(spec->n_groups, spec->groups) < 0)
		return sbx_error_errno(err, errno, "setgroups");
	if (setresgid(spec->gid, spec->gid, spec->gid) < 0)
		return sbx_error_errno(err, errno, "setresgid(%u)", (unsigned)spec->gid);
	if (setresuid(spec->uid, spec->uid, spec->uid) < 0)
		return sbx_error_errno(err, errno, "setresuid(%u)", (unsigned)spec->uid);
	/* Paranoia, as OpenSSH's permanently_set_uid(): the way back must be closed. */
	if (setuid(0) == 0 || setgid(0) == 0)
		return sbx_error_set(err, EPERM, "could regain root after dropping it");
	return 0;
}

int jail_caps_clear_all(sbx_error *err)
{
	cap_t empty = cap_init();
	cap_t now;
	int r = 0;

	if (!empty)
		return sbx_error_errno(err, errno, "cap_init");
	if (cap_set_proc(empty) < 0) {
		r = sbx_error_errno(err, errno, "cap_set_proc(empty)");
		goto out;
	}
	now = cap_get_proc();
	if (!now) {
		r = sbx_error_errno(err, errno, "cap_get_proc");
		goto out;
	}
	if (cap_compare(now, empty) != 0)
		r = sbx_error_set(err, EPERM, "capabilities left after dropping them");
	cap_free(now);
	if (r == 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		r = sbx_error_errno(err, errno, "PR_SET_NO_NEW_PRIVS");
out:
	cap_free(empty);
	return r;
}
