/* cgroup_session_create on a thread of its own (cgroup.h), for a caller that has other work to
 * do meanwhile.
 *
 * A session's groups are ~20 mkdir and a few writes in seven hierarchies on a hybrid host, about
 * 1 ms of kernel time, none of which depends on the PAM session that the monitor opens at the
 * same moment (another ~1 ms, mostly NSS and file reads). On a host with a free core the two
 * overlap and a login is ready ~1 ms sooner. The thread only makes system calls on paths and
 * values copied here; it blocks every signal, so the caller's handlers and signalfd keep
 * receiving them. No process is placed in the groups before finish has returned them. */
#include "config.h"

#include "jail/cgroup.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

struct cgroup_create_job {
	pthread_t thread;
	struct cgroup_driver *d;
	char *user, *id;
	struct cgroup_limits limits;
	/* Written by the thread, read after pthread_join. */
	struct cgroup_session *session;
	sbx_error err;
	int r;
};

static void job_free(struct cgroup_create_job *job)
{
	free(job->user);
	free(job->id);
	free(job);
}

static void *job_run(void *arg)
{
	struct cgroup_create_job *job = arg;
	job->r = cgroup_session_create(job->d, job->user, job->id, &job->limits, &job->session,
				       &job->err);
	return NULL;
}

int cgroup_session_create_begin(struct cgroup_driver *d, const char *user, const char *session_id,
				const struct cgroup_limits *limits, struct cgroup_create_job **ret,
				sbx_error *err)
{
	struct cgroup_create_job *job = calloc(1, sizeof(*job));
	if (!job)
		return sbx_error_set(err, ENOMEM, "out of memory");
	job->d = d;
	job->user = strdup(user ? user : "");
	job->id = strdup(session_id ? session_id : "");
	if (limits)
		job->limits = *limits;
	else
		cgroup_limits_default(&job->limits);
	if (!job->user || !job->id) {
		job_free(job);
		return sbx_error_set(err, ENOMEM, "out of memory");
	}
	/* The thread starts with every signal blocked (it inherits the mask in force here). */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = pthread_create(&job->thread, NULL, job_run, job);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		/* No thread: do it here, the result is the same. */
		job->r = cgroup_session_create(d, job->user, job->id, &job->limits, &job->session,
					       &job->err);
		job->thread = pthread_self();
	}
	*ret = job;
	return 0;
}

int cgroup_session_create_finish(struct cgroup_create_job *job, struct cgroup_session **ret,
				 sbx_error *err)
{
	if (!pthread_equal(job->thread, pthread_self()))
		pthread_join(job->thread, NULL);
	int r = job->r;
	if (r < 0) {
		if (err)
			*err = job->err;
	} else {
		*ret = job->session;
	}
	job_free(job);
	return r;
}
