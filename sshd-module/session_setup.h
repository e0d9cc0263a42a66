/* The host side of a new session, set up on threads of their own while the monitor's main
 * thread resolves the policy and opens the PAM session: the session record, then the session's
 * cgroups; and an empty network namespace for the session's first jail. */
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

/* The network namespace of the session's first jail (jail_netns_new), made from the start of
 * the session's set-up: it depends on nothing, and costs ~0.6 ms that the jail's clone would
 * otherwise spend after the client asked for a channel. */
struct session_netns {
	pthread_t thread;
	bool threaded;
	int fd;
	int r;
	sbx_error err;
	unsigned long long start_us, end_us; /* CLOCK_MONOTONIC, on the thread */
};
void session_netns_begin(struct session_netns *n);
/* The namespace's descriptor, or a negative errno (err filled): the jail then makes its own. */
int session_netns_finish(struct session_netns *n, sbx_error *err);
