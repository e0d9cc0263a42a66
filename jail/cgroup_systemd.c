/* The systemd driver: only where systemd is PID 1.
 *
 * sandboxd.service has Delegate=yes, so systemd hands the service's own cgroup2 directory to
 * us and promises not to touch below it. The daemon moves itself into a "supervisor" leaf
 * (cgroup2 forbids processes in a directory whose subtree_control has controllers), and
 * sessions live in <own>/<base>/<user>/<session>, driven by the same file code as v2.
 *
 * Not done: a transient scope per session via StartTransientUnit over sd-bus. It would make
 * sessions visible to systemctl, but needs a pid when the scope is created (our API creates
 * the group before the jail's child exists) and a round trip to PID 1 per login; the delegated
 * subtree gives the same kernel enforcement without either. On a machine without systemd as
 * PID 1 (this one) the driver refuses to open with a message; nothing here is exercised. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "common/cleanup.h"
#include "jail/cgroup_internal.h"

bool cg_systemd_booted(void);
int cg_systemd_setup(struct cgroup_driver *d, sbx_error *err);

bool cg_systemd_booted(void)
{
	return sd_booted() > 0;
}

/* Our cgroup2 path from the "0::/path" line of /proc/self/cgroup. */
static int own_cgroup(char *buf, size_t size)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return -errno;
	char line[PATH_MAX + 16];
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3) != 0)
			continue;
		line[strcspn(line, "\n")] = '\0';
		if ((size_t)snprintf(buf, size, "%s", line + 3) >= size)
			return -ENAMETOOLONG;
		return 0;
	}
	return -ENOENT;
}

int cg_systemd_setup(struct cgroup_driver *d, sbx_error *err)
{
	if (!cg_systemd_booted())
		return sbx_error_set(err, EOPNOTSUPP,
				     "the systemd cgroup driver needs systemd as PID 1, and this "
				     "system was not booted with systemd");
	if (d->fake || d->v1_dir[CG_V1_MEMORY])
		return sbx_error_set(err, EOPNOTSUPP,
				     "the systemd cgroup driver needs the unified cgroup2 layout "
				     "at %s",
				     d->root);
	char own[PATH_MAX];
	int r = own_cgroup(own, sizeof(own));
	if (r < 0)
		return sbx_error_errno(err, -r, "finding our cgroup in /proc/self/cgroup");
	if (strcmp(own, "/") == 0)
		return sbx_error_set(err, EOPNOTSUPP,
				     "sandboxd runs in the root cgroup: start it from "
				     "sandboxd.service (Delegate=yes)");
	char *dir;
	if (asprintf(&dir, "%s%s", d->root, own) < 0)
		return sbx_error_set(err, ENOMEM, "out of memory");
	free(d->v2_dir);
	d->v2_dir = dir;
	size_t len = strlen(dir);
	if (len > 11 && strcmp(dir + len - 11, "/supervisor") == 0) {
		/* Already moved by an earlier open in this process. */
		dir[len - 11] = '\0';
		return 0;
	}
	char sup[PATH_MAX];
	snprintf(sup, sizeof(sup), "%s/supervisor", dir);
	if ((r = cg_mkdir(sup, err)) < 0)
		return sbx_error_wrap(err, "delegated cgroup %s (is Delegate=yes set?)", dir);
	if ((r = cg_write(sup, "cgroup.procs", "0", err)) < 0)
		return sbx_error_wrap(err, "moving sandboxd into %s", sup);
	return 0;
}
