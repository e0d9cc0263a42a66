#include "config.h"

#include "admin/ctl_admin_audit.h"

#include "admin/ctl_util.h"
#include "common/audit.h"
#include "common/config_file.h"

#include <errno.h>
#include <pwd.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *ctl_admin_name(void)
{
	static char name[320];
	struct passwd *pw = getpwuid(getuid());
	const char *sudo = getenv("SUDO_USER");
	snprintf(name, sizeof(name), "%s", pw ? pw->pw_name : "?");
	if (getuid() == 0 && sudo && *sudo) {
		size_t n = strlen(name);
		snprintf(name + n, sizeof(name) - n, " (sudo by %s)", sudo);
	}
	return name;
}

void ctl_audit_admin(const char *action, const char *target, const char *old_value,
		     const char *new_value, const char *result)
{
	struct sbx_config cfg;
	sbx_error err = {0};
	config_init(&cfg);
	int r = config_load_file(&cfg, ctl_options.config_file, &err);
	if (r == -ENOENT)
		r = 0; /* no configuration file: the documented defaults */
	if (r == 0)
		r = config_finish(&cfg, &err);
	if (r < 0) {
		ctl_warning("not audited (%s)", err.msg);
		config_free(&cfg);
		return;
	}
	bool file = strcmp(cfg.audit_file, "none") != 0;
	if (file) {
		/* As the daemon does on its first start: the trail's folder, root-only. */
		char dir[4096];
		snprintf(dir, sizeof(dir), "%s", cfg.audit_file);
		for (char *p = dir + 1; (p = strchr(p, '/')); p++) {
			*p = '\0';
			mkdir(dir, 0750);
			*p = '/';
		}
	}
	struct audit_sink_config ac = {
		.journal = cfg.audit_journal,
		.file = file ? cfg.audit_file : NULL,
		.fsync = AUDIT_FSYNC_EVERY,
	};
	struct audit *a = NULL;
	if ((file || cfg.audit_journal) && audit_writer_open(&ac, &a, &err) == 0) {
		if (audit_emitf(a, AUDIT_ADMIN_ACTION, "SANDBOX_ADMIN", ctl_admin_name(),
				"SANDBOX_ACTION", action, "SANDBOX_TARGET", target, "SANDBOX_OLD",
				old_value, "SANDBOX_NEW", new_value, "SANDBOX_RESULT", result,
				NULL) < 0)
			ctl_warning("the audit trail %s could not be written", cfg.audit_file);
		audit_writer_close(a);
	} else if (file || cfg.audit_journal) {
		ctl_warning("not audited (%s)", err.msg);
	}
	config_free(&cfg);
}

void ctl_describe_keys(const struct policy_values *values, const enum policy_key *keys,
		       size_t n_keys, char *buf, size_t size)
{
	size_t o = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < n_keys && o + 1 < size; i++) {
		char v[40] = "unset";
		if (values->set[keys[i]])
			policy_format_value(keys[i], values->value[keys[i]], v, sizeof(v));
		int n = snprintf(buf + o, size - o, "%s%s=%s", o ? " " : "",
				 policy_key_name(keys[i]), v);
		if (n < 0)
			break;
		o += (size_t)n;
	}
}
