/* Admin actions on the audit trail: who changed which limit from what to what, locks, kills.
 * Written to the sinks sandboxd.conf names (AuditFile, AuditJournal). */
#pragma once

#include "common/policy.h"

/* "root", or "root (sudo by alice)", or the caller's login. */
const char *ctl_admin_name(void);
/* One admin-action record; a trail that cannot be written is a warning, not a failure of the
 * change that already happened. */
void ctl_audit_admin(const char *action, const char *target, const char *old_value,
		     const char *new_value, const char *result);
/* "memory=256M pids=64" for KEYS of a level's values ("memory=unset" where not set). */
void ctl_describe_keys(const struct policy_values *values, const enum policy_key *keys,
		       size_t n_keys, char *buf, size_t size);
