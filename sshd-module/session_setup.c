/* A session's record and cgroups on a thread of its own (session_setup.h).
 *
 * After authentication the monitor has two independent jobs of about a millisecond each: the
 * PAM session (NSS lookups, configuration files, the modules' own work) and the host's side
 * (the session record, then ~20 mkdir and a few writes in seven cgroup hierarchies on a hybrid
 * host, and the stats files opened). On a host with a free core they overlap. The thread only
 * makes system calls on values the caller keeps valid, under the caller's locks (the user's
 * and the host's registry locks are held until after finish); it blocks every signal, so the
 * monitor's signalfd and handlers keep receiving them. No process is placed in the groups
 * before finish has returned them, and the record still comes before the cgroups: if the
 * monitor dies, the record is what leads the listener to them. */
#include "config.h"

#include "sshd-module/session_setup.h"

#include "jail/jail.h"

#include <signal.h>
#include <string.h>
#include <time.h>

static unsigned long long now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000;
}

/* FN(ARG) on a new thread with every signal blocked (it inherits the mask in force at
 * pthread_create), or right here if no thread can be made. Returns whether it is threaded. */
static bool run_aside(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	bool ok = pthread_create(t, NULL, fn, arg) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!ok)
		fn(arg);
	return ok;
}

static void join_aside(pthread_t t, bool *threaded)
{
	if (*threaded)
		pthread_join(t, NULL);
	*threaded = false;
}

static void *setup_thread(void *arg)
{
	struct session_setup *s = arg;
	unsigned long long t0 = now_us();
	s->r = s->registry_fd = session_registry_add(s->runtime_dir, &s->rec, &s->err);
	unsigned long long t1 = now_us();
	if (s->r >= 0 && s->cgroups)
		s->r = cgroup_session_create(s->cgroups, s->rec.user, s->rec.session_id, s->limits,
					     &s->cgroup, &s->err);
	s->record_us = t1 - t0;
	s->cgroup_us = now_us() - t1;
	return NULL;
}

void session_setup_begin(struct session_setup *s)
{
	s->registry_fd = -1;
	s->cgroup = NULL;
	s->r = 0;
	memset(&s->err, 0, sizeof(s->err));
	s->threaded = run_aside(&s->thread, setup_thread, s);
}

int session_setup_finish(struct session_setup *s, sbx_error *err)
{
	join_aside(s->thread, &s->threaded);
	if (s->r < 0 && err)
		*err = s->err;
	return s->r < 0 ? s->r : 0;
}

static void *netns_thread(void *arg)
{
	struct session_netns *n = arg;
	n->start_us = now_us();
	n->r = jail_netns_new(&n->fd, &n->err);
	n->end_us = now_us();
	return NULL;
}

void session_netns_begin(struct session_netns *n)
{
	n->fd = -1;
	n->r = 0;
	memset(&n->err, 0, sizeof(n->err));
	n->threaded = run_aside(&n->thread, netns_thread, n);
}

int session_netns_finish(struct session_netns *n, sbx_error *err)
{
	join_aside(n->thread, &n->threaded);
	if (n->r < 0) {
		if (err)
			*err = n->err;
		return n->r;
	}
	return n->fd;
}
