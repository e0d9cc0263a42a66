/* The limits of one session, as the monitor applies them: cgroup limits for the whole session,
 * rlimits and run clocks for every jail in it, and the session's own clocks. */
#pragma once

#include "common/policy.h"
#include "jail/cgroup.h"
#include "jail/jail.h"

struct session_limits {
	struct cgroup_limits cgroup;
	struct jail_limits jail;
	unsigned session_seconds; /* wall clock of the whole session; 0 = none */
	unsigned idle_seconds;    /* no channel I/O in either direction; 0 = none */
};

/* Defaults safe for a 2-core, 24 GiB host with 100 students logged in at once. */
void session_limits_default(struct session_limits *l);
/* The limits a resolved policy gives (keys without a session meaning are left as they are). */
void session_limits_from_policy(struct session_limits *l, const struct policy_effective *eff);
/* "memory=256M(built-in) pids=64(group @cs101) ..." for the audit trail. */
void session_limits_sources(const struct policy_effective *eff, char *buf, size_t size);
/* One line for the student, e.g. "memory 256 MiB, 64 processes, 1 CPU, session 4h". */
void session_limits_describe(const struct session_limits *l, char *buf, size_t size);
