/* The host side of a new session, set up on a thread of its own while the monitor's main
 * thread opens the PAM session: the session record, then the session's cgroups. */
#pragma once

#include "common/error.h"
#include "jail/cgroup.h"
#include "sshd-module/session_registry.h"

#include <pthread.h>
#include <stdbool.h>

struct session_setup {
	/* In: every pointer must stay valid until session_setup_finish. */
	const char *runtime_dir;
	struct session_record rec;
	struct cgroup_driver *cgroups;
	const struct cgroup_limits *limits;
	/* Out, after session_setup_finish: the record's descriptor (-1 if not written) and the
	 * cgroups (NULL if not made); both are the caller's to remove, on failure too. */
	int registry_fd;
	struct cgroup_session *cgroup;
	unsigned long long record_us, cgroup_us; /* how long each took on the thread */
	/* Private. */
	pthread_t thread;
	bool threaded;
	int r;
	sbx_error err;
};

/* Starts the work (on the calling thread if no thread can be made). */
void session_setup_begin(struct session_setup *s);
/* Waits for it; 0 or the first error (err filled). Every begin needs its finish. */
int session_setup_finish(struct session_setup *s, sbx_error *err);
