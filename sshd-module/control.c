#include "config.h"

#include "sshd-module/control.h"

#include "common/audit.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/policy.h"
#include "jail/cgroup.h"
#include "sshd-module/session_limits.h"
#include "sshd-module/session_registry.h"
#include "sshd-module/source_penalty.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define CONTROL_MAX_PENDING 16
#define CONTROL_REQUEST_MAX 256
/* A client that connects and sends nothing is dropped after this. */
#define CONTROL_READ_DEADLINE_MS 2000
/* The forked child gives up on a client that does not read its answer. */
#define CONTROL_SEND_TIMEOUT_S 5
/* kill waits this long for the monitors to end their sessions before it answers. */
#define CONTROL_KILL_WAIT_MS 8000
/* Anyone may connect so that a refused attempt reaches the audit trail; the peer check below
 * is what decides. */
#define CONTROL_SOCKET_MODE 0666
/* Bounds the walk over a session's processes. */
#define CONTROL_MAX_PROCS 512

enum { EV_LISTEN = 0, EV_TIMER = 1, EV_CLIENT = 2 };

struct control_client {
	int fd; /* -1: free */
	uint64_t deadline_ms;
	size_t len;
	char buf[CONTROL_REQUEST_MAX + 1];
};

struct control {
	int listen_fd, epoll_fd, timer_fd;
	char *path;
	bool have_admin_gid;
	gid_t admin_gid;
	struct control_client clients[CONTROL_MAX_PENDING];
};

struct control_request {
	char line[CONTROL_REQUEST_MAX + 1];
	const char *verb;
	const char *arg; /* NULL when none */
	struct ucred peer;
	char who[64];
	const struct control_context *ctx;
	int listener_pid;
	char errmsg[512]; /* set by a handler that fails */
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- answers ---- */

static void put_encoded(FILE *out, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p <= ' ' || *p >= 0x7f || *p == '%' || *p == '=')
			fprintf(out, "%%%02X", *p);
		else
			fputc(*p, out);
	}
}

struct record {
	FILE *out;
	bool first;
};

static void rec_begin(struct record *r, FILE *out)
{
	*r = (struct record){.out = out, .first = true};
}

static void rec_str(struct record *r, const char *key, const char *value)
{
	if (!value)
		return;
	fprintf(r->out, "%s%s=", r->first ? "" : " ", key);
	put_encoded(r->out, value);
	r->first = false;
}

static void rec_u64(struct record *r, const char *key, uint64_t value)
{
	char buf[32];
	if (value == UINT64_MAX)
		snprintf(buf, sizeof(buf), "max");
	else
		snprintf(buf, sizeof(buf), "%" PRIu64, value);
	rec_str(r, key, buf);
}

static void rec_end(struct record *r)
{
	fputc('\n', r->out);
}

static int req_fail(struct control_request *req, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int req_fail(struct control_request *req, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(req->errmsg, sizeof(req->errmsg), fmt, ap);
	va_end(ap);
	return -code;
}

static const char *error_kind(int r)
{
	switch (-r) {
	case EPERM:
	case EACCES:
		return "denied";
	case EINVAL:
		return "usage";
	case ENOENT:
	case ESRCH:
		return "notfound";
	default:
		return "failed";
	}
}

/* Sends the whole answer; the listener's calls are non-blocking (a fresh socket's buffer
 * takes a short answer), the child's are bounded by SO_SNDTIMEO. */
static void send_all(int fd, const char *buf, size_t len, bool nonblocking)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | (nonblocking ? MSG_DONTWAIT : 0));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

static void send_answer(int fd, int r, const char *errmsg, const char *body, size_t body_len,
			bool nonblocking)
{
	_cleanup_free_ char *head = NULL;
	int n;
	if (r < 0) {
		char line[600];
		/* One line whatever the message holds. */
		snprintf(line, sizeof(line), "%s", errmsg[0] ? errmsg : strerror(-r));
		for (char *p = line; *p; p++)
			if ((unsigned char)*p < ' ' || *p == 0x7f)
				*p = ' ';
		n = asprintf(&head, "ERR %s %s\nEND\n", error_kind(r), line);
		body_len = 0;
	} else {
		n = asprintf(&head, "OK\n");
	}
	if (n < 0)
		return;
	send_all(fd, head, (size_t)n, nonblocking);
	if (r >= 0) {
		send_all(fd, body, body_len, nonblocking);
		send_all(fd, "END\n", 4, nonblocking);
	}
}

/* ---- the registry, read-only ---- */

static bool session_id_valid(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n >= sizeof(((struct session_record *)0)->session_id))
		return false;
	for (const char *p = id; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= 'A' && *p <= 'Z')))
			return false;
	return true;
}

static int read_record(const char *runtime_dir, const char *id, struct session_record *ret)
{
	char path[PATH_MAX], buf[1024];
	if (snprintf(path, sizeof(path), "%s/sessions/%s", runtime_dir, id) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	*ret = (struct session_record){0};
	snprintf(ret->session_id, sizeof(ret->session_id), "%s", id);
	char *save = NULL;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "user=", 5) == 0)
			snprintf(ret->user, sizeof(ret->user), "%s", line + 5);
		else if (strncmp(line, "remote=", 7) == 0)
			snprintf(ret->remote, sizeof(ret->remote), "%s", line + 7);
		else if (strncmp(line, "started=", 8) == 0)
			ret->started = strtoll(line + 8, NULL, 10);
		else if (strncmp(line, "monitor=", 8) == 0)
			ret->monitor_pid = (pid_t)strtol(line + 8, NULL, 10);
	}
	if (!ret->user[0] || ret->monitor_pid <= 0)
		return -EBADMSG; /* being written right now, or damaged */
	return 0;
}

static int cmp_record(const void *a, const void *b)
{
	const struct session_record *x = a, *y = b;
	if (x->started != y->started)
		return x->started < y->started ? -1 : 1;
	return strcmp(x->session_id, y->session_id);
}

/* Every live session (optionally of USER), oldest first. */
static int live_sessions(const char *runtime_dir, const char *user, struct session_record **ret,
			 size_t *ret_n)
{
	char dir[PATH_MAX];
	struct session_record *recs = NULL;
	size_t n = 0;
	*ret = NULL;
	*ret_n = 0;
	snprintf(dir, sizeof(dir), "%s/sessions", runtime_dir);
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	struct dirent *de;
	while ((de = readdir(d))) {
		struct session_record rec;
		if (!session_id_valid(de->d_name))
			continue;
		if (read_record(runtime_dir, de->d_name, &rec) < 0)
			continue;
		if (user && strcmp(rec.user, user) != 0)
			continue;
		if (!session_registry_is_live(runtime_dir, de->d_name))
			continue;
		struct session_record *more = realloc(recs, (n + 1) * sizeof(*recs));
		if (!more) {
			free(recs);
			closedir(d);
			return -ENOMEM;
		}
		recs = more;
		recs[n++] = rec;
	}
	closedir(d);
	if (n > 1)
		qsort(recs, n, sizeof(*recs), cmp_record);
	*ret = recs;
	*ret_n = n;
	return 0;
}

/* ---- processes ---- */

static int read_small(const char *path, char *buf, size_t size)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, size - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return (int)n;
}

static bool proc_comm_is(pid_t pid, const char *comm)
{
	char path[64], buf[64];
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	if (read_small(path, buf, sizeof(buf)) < 0)
		return false;
	buf[strcspn(buf, "\n")] = '\0';
	return strcmp(buf, comm) == 0;
}

/* Parent pid and start time (clock ticks since boot) from /proc/PID/stat. */
static int proc_stat(pid_t pid, pid_t *ret_ppid, unsigned long long *ret_start)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_small(path, buf, sizeof(buf)) < 0)
		return -ESRCH;
	/* comm may hold spaces and parentheses: the fields start after the last ')'. */
	char *p = strrchr(buf, ')');
	if (!p)
		return -EBADMSG;
	int ppid = 0;
	unsigned long long start = 0;
	/* state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
	 * cutime cstime priority nice threads itrealvalue starttime */
	if (sscanf(p + 1,
		   " %*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d "
		   "%llu",
		   &ppid, &start) != 2)
		return -EBADMSG;
	if (ret_ppid)
		*ret_ppid = (pid_t)ppid;
	if (ret_start)
		*ret_start = start;
	return 0;
}

/* The monitor of a record is ours: a child of this listener, still called sandboxd. */
static bool monitor_is_ours(pid_t pid, int listener_pid)
{
	pid_t ppid = 0;
	return proc_comm_is(pid, "sandboxd") && proc_stat(pid, &ppid, NULL) == 0 &&
	       ppid == listener_pid;
}

/* Appends the children of every thread of PID to list. */
static void proc_children(pid_t pid, pid_t *list, size_t *n, size_t max)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d)) && *n < max) {
		char cpath[PATH_MAX], buf[4096];
		if (de->d_name[0] == '.')
			continue;
		snprintf(cpath, sizeof(cpath), "/proc/%d/task/%s/children", (int)pid, de->d_name);
		if (read_small(cpath, buf, sizeof(buf)) <= 0)
			continue;
		char *save = NULL;
		for (char *t = strtok_r(buf, " \n", &save); t && *n < max;
		     t = strtok_r(NULL, " \n", &save))
			list[(*n)++] = (pid_t)strtol(t, NULL, 10);
	}
	closedir(d);
}

/* The command line of the youngest process under the monitor that is not one of ours (the
 * network child and the jail's init are sandboxd too): what the student is running now. */
static void youngest_command(pid_t monitor, char *buf, size_t size)
{
	pid_t list[CONTROL_MAX_PROCS];
	size_t n = 0;
	pid_t best = 0;
	unsigned long long best_start = 0;
	buf[0] = '\0';
	proc_children(monitor, list, &n, ELEMENTSOF(list));
	for (size_t i = 0; i < n; i++) {
		unsigned long long start;
		proc_children(list[i], list, &n, ELEMENTSOF(list));
		if (proc_comm_is(list[i], "sandboxd") || proc_stat(list[i], NULL, &start) < 0)
			continue;
		if (!best || start > best_start || (start == best_start && list[i] > best)) {
			best = list[i];
			best_start = start;
		}
	}
	if (!best)
		return;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)best);
	int len = read_small(path, buf, size);
	if (len <= 0) {
		buf[0] = '\0';
		return;
	}
	for (int i = 0; i < len; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	while (len > 0 && buf[len - 1] == ' ')
		buf[--len] = '\0';
}

/* ---- policy ---- */

/* The user's policy as a new login would get it (the last valid policy when a file is broken);
 * *ret_groups (optional) gets the user's group names. */
static int resolve_user(const struct control_context *ctx, const char *user,
			struct policy_effective *eff, char ***ret_groups, sbx_error *err)
{
	char **groups = NULL;
	struct passwd *pw = getpwnam(user);
	if (!pw)
		return sbx_error_set(err, ENOENT, "no such user: %s", user);
	int r = policy_user_groups(user, pw->pw_gid, &groups, err);
	if (r < 0)
		return r;
	r = policy_resolve(ctx->config->policy_directory, user, (const char *const *)groups, eff,
			   err);
	if (r < 0 && ctx->policy) {
		log_warning("control: policy for %s: %s; using the last valid policy", user,
			    err->msg);
		policy_store_resolve(ctx->policy, user, (const char *const *)groups, eff);
		r = 0;
	}
	if (r == 0 && ret_groups)
		*ret_groups = TAKE_PTR(groups);
	policy_groups_free(groups);
	return r;
}

static void audit_action(struct control_request *req, const char *action, const char *target,
			 const char *new_value, const char *result)
{
	if (!req->ctx->audit)
		return;
	audit_emitf(req->ctx->audit, AUDIT_ADMIN_ACTION, "SANDBOX_ADMIN", req->who,
		    "SANDBOX_ACTION", action, "SANDBOX_TARGET", target, "SANDBOX_NEW", new_value,
		    "SANDBOX_RESULT", result, NULL);
}

/* ---- requests ---- */

static int serve_status(struct control_request *req, FILE *out)
{
	const struct control_context *ctx = req->ctx;
	_cleanup_free_ struct session_record *recs = NULL;
	size_t n = 0;
	struct record r;
	int ret = live_sessions(ctx->config->runtime_directory, NULL, &recs, &n);
	if (ret < 0)
		return req_fail(req, -ret, "cannot read the sessions: %s", strerror(-ret));
	rec_begin(&r, out);
	rec_str(&r, "version", PACKAGE_VERSION);
	rec_u64(&r, "pid", (uint64_t)req->listener_pid);
	rec_u64(&r, "sessions", n);
	rec_str(&r, "config", ctx->config_path);
	rec_str(&r, "cgroup", ctx->cgroups ? cgroup_driver_name(ctx->cgroups) : "none");
	rec_str(&r, "runtime", ctx->config->runtime_directory);
	rec_str(&r, "policy", ctx->config->policy_directory);
	rec_end(&r);
	return 0;
}

static int serve_sessions(struct control_request *req, FILE *out)
{
	const struct control_context *ctx = req->ctx;
	_cleanup_free_ struct session_record *recs = NULL;
	size_t n = 0;
	if (req->arg && !policy_name_valid(req->arg))
		return req_fail(req, EINVAL, "not a user name: %s", req->arg);
	int ret = live_sessions(ctx->config->runtime_directory, req->arg, &recs, &n);
	if (ret < 0)
		return req_fail(req, -ret, "cannot read the sessions: %s", strerror(-ret));
	long long now = (long long)time(NULL);
	for (size_t i = 0; i < n; i++) {
		struct record r;
		struct policy_effective eff;
		sbx_error err = {0};
		struct cgroup_session *cg = NULL;
		struct cgroup_stats st;
		char cmd[256];
		rec_begin(&r, out);
		rec_str(&r, "session", recs[i].session_id);
		rec_str(&r, "user", recs[i].user);
		rec_str(&r, "remote", recs[i].remote);
		rec_u64(&r, "started", (uint64_t)recs[i].started);
		if (resolve_user(ctx, recs[i].user, &eff, NULL, &err) == 0) {
			uint64_t limit = eff.value[POLICY_SESSION_TIME];
			if (limit == POLICY_UNLIMITED || limit == 0) {
				rec_u64(&r, "left", UINT64_MAX);
			} else {
				long long left = recs[i].started + (long long)limit - now;
				rec_u64(&r, "left", left > 0 ? (uint64_t)left : 0);
			}
		}
		if (ctx->cgroups && cgroup_session_open(ctx->cgroups, recs[i].user,
							recs[i].session_id, &cg, &err) == 0) {
			if (cgroup_session_stats(cg, &st, &err) == 0) {
				rec_u64(&r, "mem", st.memory_current);
				rec_u64(&r, "mem_peak", st.memory_peak);
				rec_u64(&r, "mem_max", st.memory_max);
				rec_u64(&r, "cpu_usec", st.cpu_usage_usec);
				rec_u64(&r, "pids", st.pids_current);
				rec_u64(&r, "pids_max", st.pids_max);
			}
			int procs = cgroup_session_nprocs(cg, &err);
			if (procs >= 0)
				rec_u64(&r, "procs", (uint64_t)procs);
			cgroup_session_free(cg);
		}
		youngest_command(recs[i].monitor_pid, cmd, sizeof(cmd));
		if (cmd[0])
			rec_str(&r, "running", cmd);
		rec_end(&r);
	}
	return 0;
}

/* SIGTERMs the sessions' monitors (each ends its session cleanly), then waits a bounded time
 * for them to be gone. */
static int kill_sessions(struct control_request *req, FILE *out, struct session_record *recs,
			 size_t n)
{
	const char *runtime_dir = req->ctx->config->runtime_directory;
	_cleanup_free_ bool *signalled = calloc(n > 0 ? n : 1, sizeof(*signalled));
	size_t failed = 0;
	if (!signalled)
		return req_fail(req, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		signalled[i] = monitor_is_ours(recs[i].monitor_pid, req->listener_pid) &&
			       kill(recs[i].monitor_pid, SIGTERM) == 0;
		if (!signalled[i])
			failed++;
	}
	uint64_t deadline = now_ms() + CONTROL_KILL_WAIT_MS;
	for (;;) {
		bool any = false;
		for (size_t i = 0; i < n; i++)
			if (signalled[i] &&
			    session_registry_is_live(runtime_dir, recs[i].session_id))
				any = true;
		if (!any || now_ms() >= deadline)
			break;
		usleep(50 * 1000);
	}
	for (size_t i = 0; i < n; i++) {
		struct record r;
		bool ended =
		    signalled[i] && !session_registry_is_live(runtime_dir, recs[i].session_id);
		rec_begin(&r, out);
		rec_str(&r, "session", recs[i].session_id);
		rec_str(&r, "user", recs[i].user);
		rec_u64(&r, "pid", (uint64_t)recs[i].monitor_pid);
		rec_str(&r, "result", !signalled[i] ? "not-ours" : ended ? "ended" : "signalled");
		rec_end(&r);
		log_info("control: %s killed session %s of %s (%s)", req->who, recs[i].session_id,
			 recs[i].user, ended ? "ended" : "still ending");
		audit_action(req, "kill", recs[i].session_id, recs[i].user,
			     signalled[i] ? "success" : "failure");
	}
	if (failed)
		return req_fail(
		    req, EPERM,
		    "%zu of %zu sessions have a monitor that is not this daemon's child", failed,
		    n);
	return 0;
}

static int serve_kill(struct control_request *req, FILE *out)
{
	struct session_record rec;
	const char *runtime_dir = req->ctx->config->runtime_directory;
	if (!session_id_valid(req->arg))
		return req_fail(req, EINVAL, "not a session id: %s", req->arg);
	if (read_record(runtime_dir, req->arg, &rec) < 0 ||
	    !session_registry_is_live(runtime_dir, req->arg)) {
		audit_action(req, "kill", req->arg, NULL, "failure");
		return req_fail(req, ENOENT, "no such session: %s", req->arg);
	}
	return kill_sessions(req, out, &rec, 1);
}

static int serve_kill_user(struct control_request *req, FILE *out)
{
	_cleanup_free_ struct session_record *recs = NULL;
	size_t n = 0;
	if (!policy_name_valid(req->arg))
		return req_fail(req, EINVAL, "not a user name: %s", req->arg);
	int ret = live_sessions(req->ctx->config->runtime_directory, req->arg, &recs, &n);
	if (ret < 0)
		return req_fail(req, -ret, "cannot read the sessions: %s", strerror(-ret));
	/* No session is not a failure: "lock --kill" of a user who is not logged in. */
	return kill_sessions(req, out, recs, n);
}

static bool in_groups(char **groups, const char *name)
{
	for (size_t i = 0; groups && groups[i]; i++)
		if (strcmp(groups[i], name) == 0)
			return true;
	return false;
}

static int serve_apply_limits(struct control_request *req, FILE *out)
{
	const struct control_context *ctx = req->ctx;
	_cleanup_free_ struct session_record *recs = NULL;
	struct policy_level level;
	sbx_error err = {0};
	size_t n = 0, applied = 0, failed = 0;
	if (policy_level_parse(req->arg, &level, &err) < 0)
		return req_fail(req, EINVAL, "%s", err.msg);
	int ret = live_sessions(ctx->config->runtime_directory,
				level.kind == POLICY_LEVEL_USER ? level.name : NULL, &recs, &n);
	if (ret < 0)
		return req_fail(req, -ret, "cannot read the sessions: %s", strerror(-ret));
	for (size_t i = 0; i < n; i++) {
		struct policy_effective eff;
		struct session_limits limits;
		struct cgroup_session *cg = NULL;
		char **groups = NULL;
		struct record r;
		int q = resolve_user(ctx, recs[i].user, &eff, &groups, &err);
		if (q == 0 && level.kind == POLICY_LEVEL_GROUP && !in_groups(groups, level.name)) {
			policy_groups_free(groups);
			continue;
		}
		policy_groups_free(groups);
		if (q == 0) {
			session_limits_default(&limits);
			session_limits_from_policy(&limits, &eff);
			q = ctx->cgroups ? cgroup_session_open(ctx->cgroups, recs[i].user,
							       recs[i].session_id, &cg, &err)
					 : sbx_error_set(&err, ENODEV, "no cgroup driver");
		}
		if (q == 0)
			q = cgroup_session_set_limits(cg, &limits.cgroup, &err);
		cgroup_session_free(cg);
		rec_begin(&r, out);
		rec_str(&r, "session", recs[i].session_id);
		rec_str(&r, "user", recs[i].user);
		if (q == 0) {
			char text[64];
			policy_format_value(POLICY_MEMORY, eff.value[POLICY_MEMORY], text,
					    sizeof(text));
			rec_str(&r, "memory", text);
			policy_format_value(POLICY_PIDS, eff.value[POLICY_PIDS], text,
					    sizeof(text));
			rec_str(&r, "pids", text);
			policy_format_value(POLICY_CPU, eff.value[POLICY_CPU], text, sizeof(text));
			rec_str(&r, "cpu", text);
			rec_str(&r, "result", "applied");
			applied++;
		} else {
			rec_str(&r, "result", "failed");
			rec_str(&r, "error", err.msg);
			log_warning("control: limits of session %s (%s): %s", recs[i].session_id,
				    recs[i].user, err.msg);
			failed++;
		}
		rec_end(&r);
	}
	char summary[64];
	snprintf(summary, sizeof(summary), "%zu sessions updated, %zu failed", applied, failed);
	audit_action(req, "apply-limits", req->arg, summary, failed ? "failure" : "success");
	if (failed)
		return req_fail(req, EIO, "%zu of %zu sessions could not be updated", failed,
				applied + failed);
	return 0;
}

/* Source blocks with a penalty, refused ones first: block, state (refused, or counting while
 * below min), the reason of the latest penalty, seconds left. */
static int serve_penalties(struct control_request *req, FILE *out)
{
	const struct control_context *ctx = req->ctx;
	_cleanup_free_ struct source_penalty_info *list = NULL;
	if (!ctx->penalties)
		return 0;
	int n = source_penalties_list(ctx->penalties, now_ms(), &list);
	if (n < 0)
		return req_fail(req, ENOMEM, "out of memory");
	for (int i = 0; i < n; i++) {
		char block[NETBLOCK_STRLEN];
		struct record r;
		netblock_format(&list[i].block, block, sizeof(block));
		rec_begin(&r, out);
		rec_str(&r, "block", block);
		rec_str(&r, "state", list[i].active ? "refused" : "counting");
		rec_str(&r, "reason", source_penalty_kind_name(list[i].reason));
		rec_u64(&r, "left", (list[i].left_ms + 999) / 1000);
		rec_end(&r);
	}
	return 0;
}

struct control_verb {
	const char *name;
	bool needs_arg, takes_arg;
	int (*serve)(struct control_request *req, FILE *out);
};

static const struct control_verb verbs[] = {
    {"sessions", false, true, serve_sessions},
    {"kill", true, true, serve_kill},
    {"kill-user", true, true, serve_kill_user},
    {"apply-limits", true, true, serve_apply_limits},
    {"reload", false, false, NULL}, /* in the listener */
    {"status", false, false, serve_status},
    {"penalties", false, false, serve_penalties},
    {"penalties-clear", true, true, NULL}, /* in the listener */
};

/* ---- peers ---- */

static bool peer_is_admin(const struct control *c, int fd, const struct ucred *peer)
{
	if (peer->uid == 0)
		return true;
	if (!c->have_admin_gid)
		return false;
	if (peer->gid == c->admin_gid)
		return true;
	/* The peer's supplementary groups as they were at connect(): no NSS look-up here, and
	 * nothing a later setgroups could change. */
	socklen_t len = 64 * sizeof(gid_t);
	for (int tries = 0; tries < 3; tries++) {
		_cleanup_free_ gid_t *gids = malloc(len);
		if (!gids)
			return false;
		socklen_t got = len;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, gids, &got) == 0) {
			for (size_t i = 0; i < got / sizeof(gid_t); i++)
				if (gids[i] == c->admin_gid)
					return true;
			return false;
		}
		if (errno != ERANGE || got <= len)
			return false;
		len = got;
	}
	return false;
}

/* ---- serving ---- */

static void client_drop(struct control *c, size_t i)
{
	if (c->clients[i].fd < 0)
		return;
	epoll_ctl(c->epoll_fd, EPOLL_CTL_DEL, c->clients[i].fd, NULL);
	close(c->clients[i].fd);
	c->clients[i].fd = -1;
}

/* Splits "verb [arg]": printable ASCII, one space between words. */
static int parse_request(struct control_request *req)
{
	for (const char *p = req->line; *p; p++)
		if ((unsigned char)*p < ' ' || (unsigned char)*p >= 0x7f)
			return req_fail(req, EINVAL, "bad request (control characters)");
	char *space = strchr(req->line, ' ');
	req->verb = req->line;
	req->arg = NULL;
	if (space) {
		*space = '\0';
		req->arg = space + 1;
		if (!*req->arg || strchr(req->arg, ' '))
			return req_fail(req, EINVAL, "bad request (expected VERB [ARGUMENT])");
	}
	return 0;
}

/* penalties-clear BLOCK|all, in the listener (the table is the listener's): an address lifts
 * the penalty of the block that holds it, a CIDR block every penalty inside it. */
static void clear_penalties(struct control_request *req, int fd)
{
	const struct control_context *ctx = req->ctx;
	struct netblock block;
	const struct netblock *which = NULL;
	char body[64] = "", count[32] = "";
	int r = parse_request(req);
	if (r == 0 && !req->arg) {
		r = req_fail(req, EINVAL, "penalties-clear needs an address, a CIDR block or all");
	} else if (r == 0 && strcmp(req->arg, "all") != 0) {
		int q = netblock_parse(req->arg, &block);
		if (q == -EDOM) {
			char meant[NETBLOCK_STRLEN];
			netblock_format(&block, meant, sizeof(meant));
			r = req_fail(req, EINVAL,
				     "'%s' has bits set past its prefix length (did you mean %s?)",
				     req->arg, meant);
		} else if (q < 0) {
			r = req_fail(req, EINVAL, "'%s' is not an address, a CIDR block or all",
				     req->arg);
		} else {
			which = &block;
		}
	}
	if (r == 0 && !ctx->clear_penalties)
		r = req_fail(req, EOPNOTSUPP, "this daemon keeps no penalties");
	if (r == 0) {
		size_t n = ctx->clear_penalties(ctx->userdata, which);
		snprintf(count, sizeof(count), "%zu", n);
		snprintf(body, sizeof(body), "cleared=%zu\n", n);
		log_info("control: %s lifted %zu penalt%s (%s)", req->who, n, n == 1 ? "y" : "ies",
			 req->arg);
	}
	audit_action(req, "penalty-clear", req->arg ? req->arg : "", r == 0 ? count : NULL,
		     r < 0 ? "failure" : "success");
	send_answer(fd, r, req->errmsg, body, strlen(body), true);
}

static void run_request(struct control *c, int fd, struct control_request *req)
{
	const struct control_verb *verb = NULL;
	int r = parse_request(req);
	bool admin = peer_is_admin(c, fd, &req->peer);
	if (r == 0) {
		for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
			if (strcmp(req->verb, verbs[i].name) == 0)
				verb = &verbs[i];
		if (!verb)
			r = req_fail(req, EINVAL, "unknown request '%.40s'", req->verb);
		else if (verb->needs_arg && !req->arg)
			r = req_fail(req, EINVAL, "%s needs an argument", verb->name);
		else if (!verb->takes_arg && req->arg)
			r = req_fail(req, EINVAL, "%s takes no argument", verb->name);
		else if (!verb->serve)
			r = req_fail(req, EINVAL, "%s is answered by the listener only",
				     verb->name);
	}
	if (!admin) {
		/* Whatever they asked for, and even a malformed request, is on the trail. */
		log_warning("control: permission denied to %s for '%s'", req->who, req->line);
		audit_action(req, verb ? verb->name : "unknown", req->arg ? req->arg : req->verb,
			     NULL, "denied");
		req_fail(req, EPERM, "permission denied: needs root or membership in group %s",
			 CONTROL_ADMIN_GROUP);
		send_answer(fd, -EPERM, req->errmsg, NULL, 0, false);
		return;
	}
	if (r < 0) {
		send_answer(fd, r, req->errmsg, NULL, 0, false);
		return;
	}
	_cleanup_free_ char *body = NULL;
	size_t body_len = 0;
	FILE *out = open_memstream(&body, &body_len);
	if (!out) {
		send_answer(fd, -ENOMEM, "out of memory", NULL, 0, false);
		return;
	}
	r = verb->serve(req, out);
	fclose(out);
	send_answer(fd, r, req->errmsg, body, body_len, false);
}

static void who_of(const struct ucred *peer, char *buf, size_t size, bool lookup)
{
	struct passwd *pw = lookup ? getpwuid(peer->uid) : NULL;
	if (pw)
		snprintf(buf, size, "%s", pw->pw_name);
	else if (peer->uid == 0)
		snprintf(buf, size, "root");
	else
		snprintf(buf, size, "uid %u", (unsigned)peer->uid);
}

/* The reload runs in the listener itself (it is what a SIGHUP does); everything else in a
 * child, so that NSS look-ups, /proc walks and slow readers never hold up the listener. */
static void client_request(struct control *c, size_t i, const struct control_context *ctx)
{
	struct control_client *cl = &c->clients[i];
	struct control_request req = {.ctx = ctx, .listener_pid = (int)getpid()};
	socklen_t len = sizeof(req.peer);
	memcpy(req.line, cl->buf, cl->len);
	req.line[cl->len] = '\0';
	if (getsockopt(cl->fd, SOL_SOCKET, SO_PEERCRED, &req.peer, &len) < 0) {
		client_drop(c, i);
		return;
	}
	if (strcmp(req.line, "reload") == 0 && peer_is_admin(c, cl->fd, &req.peer)) {
		who_of(&req.peer, req.who, sizeof(req.who), false);
		int r = ctx->reload ? ctx->reload(ctx->userdata) : -EOPNOTSUPP;
		if (r < 0)
			req_fail(&req, -r,
				 "reload failed, the running configuration is kept (see the "
				 "daemon's log)");
		else
			control_refresh_admin_group(c);
		audit_action(&req, "reload", ctx->config_path, NULL, r < 0 ? "failure" : "success");
		send_answer(cl->fd, r, req.errmsg, "", 0, true);
		client_drop(c, i);
		return;
	}
	if (strncmp(req.line, "penalties-clear", 15) == 0 &&
	    (req.line[15] == ' ' || req.line[15] == '\0') && peer_is_admin(c, cl->fd, &req.peer)) {
		who_of(&req.peer, req.who, sizeof(req.who), false);
		clear_penalties(&req, cl->fd);
		client_drop(c, i);
		return;
	}
	pid_t pid = fork();
	if (pid < 0) {
		req_fail(&req, errno, "cannot fork: %s", strerror(errno));
		send_answer(cl->fd, -EAGAIN, req.errmsg, NULL, 0, true);
		client_drop(c, i);
		return;
	}
	if (pid == 0) {
		struct timeval tv = {.tv_sec = CONTROL_SEND_TIMEOUT_S};
		int fd = cl->fd;
		int fl = fcntl(fd, F_GETFL);
		if (fl >= 0)
			fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		who_of(&req.peer, req.who, sizeof(req.who), true);
		run_request(c, fd, &req);
		if (ctx->audit)
			audit_flush(ctx->audit);
		shutdown(fd, SHUT_RDWR);
		_exit(0);
	}
	client_drop(c, i);
}

static void client_read(struct control *c, size_t i, const struct control_context *ctx)
{
	struct control_client *cl = &c->clients[i];
	for (;;) {
		ssize_t n = recv(cl->fd, cl->buf + cl->len, CONTROL_REQUEST_MAX - cl->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			client_drop(c, i); /* gone before a whole line */
			return;
		}
		char *nl = memchr(cl->buf + cl->len, '\n', (size_t)n);
		cl->len += (size_t)n;
		if (nl) {
			cl->len = (size_t)(nl - cl->buf);
			client_request(c, i, ctx);
			return;
		}
		if (cl->len >= CONTROL_REQUEST_MAX) {
			send_answer(cl->fd, -EINVAL, "request too long", NULL, 0, true);
			client_drop(c, i);
			return;
		}
	}
}

static void accept_clients(struct control *c)
{
	for (int k = 0; k < CONTROL_MAX_PENDING; k++) {
		int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return; /* EAGAIN, or an error the next poll will show again */
		size_t slot = SIZE_MAX, oldest = 0;
		for (size_t i = 0; i < CONTROL_MAX_PENDING; i++) {
			if (c->clients[i].fd < 0) {
				slot = i;
				break;
			}
			if (c->clients[i].deadline_ms < c->clients[oldest].deadline_ms)
				oldest = i;
		}
		if (slot == SIZE_MAX) {
			/* Full of clients that say nothing: the oldest makes room. */
			client_drop(c, oldest);
			slot = oldest;
		}
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = EV_CLIENT + slot};
		if (epoll_ctl(c->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			continue;
		}
		c->clients[slot] = (struct control_client){
		    .fd = fd, .deadline_ms = now_ms() + CONTROL_READ_DEADLINE_MS};
	}
}

static void expire_and_arm(struct control *c)
{
	uint64_t now = now_ms(), next = 0;
	for (size_t i = 0; i < CONTROL_MAX_PENDING; i++) {
		if (c->clients[i].fd < 0)
			continue;
		if (c->clients[i].deadline_ms <= now) {
			client_drop(c, i);
			continue;
		}
		if (!next || c->clients[i].deadline_ms < next)
			next = c->clients[i].deadline_ms;
	}
	struct itimerspec its = {0};
	if (next) {
		uint64_t d = next - now;
		its.it_value.tv_sec = (time_t)(d / 1000);
		its.it_value.tv_nsec = (long)(d % 1000) * 1000000L;
	}
	timerfd_settime(c->timer_fd, 0, &its, NULL);
}

void control_accept_and_serve(struct control *c, const struct control_context *ctx)
{
	struct epoll_event ev[CONTROL_MAX_PENDING + 2];
	int n = epoll_wait(c->epoll_fd, ev, (int)ELEMENTSOF(ev), 0);
	for (int k = 0; k < n; k++) {
		uint64_t id = ev[k].data.u64;
		if (id == EV_LISTEN) {
			accept_clients(c);
		} else if (id == EV_TIMER) {
			uint64_t ticks;
			if (read(c->timer_fd, &ticks, sizeof(ticks)) < 0) {
				/* EAGAIN: nothing to drain */
			}
		} else if (id - EV_CLIENT < CONTROL_MAX_PENDING &&
			   c->clients[id - EV_CLIENT].fd >= 0) {
			client_read(c, (size_t)(id - EV_CLIENT), ctx);
		}
	}
	expire_and_arm(c);
}

/* ---- set-up ---- */

void control_refresh_admin_group(struct control *c)
{
	struct group *gr = getgrnam(CONTROL_ADMIN_GROUP);
	c->have_admin_gid = gr != NULL;
	c->admin_gid = gr ? gr->gr_gid : 0;
}

int control_fd(const struct control *c)
{
	return c->epoll_fd;
}

void control_close(struct control *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < CONTROL_MAX_PENDING; i++)
		client_drop(c, i);
	if (c->listen_fd >= 0)
		close(c->listen_fd);
	if (c->epoll_fd >= 0)
		close(c->epoll_fd);
	if (c->timer_fd >= 0)
		close(c->timer_fd);
	if (c->path) {
		struct stat st;
		if (lstat(c->path, &st) == 0 && S_ISSOCK(st.st_mode))
			unlink(c->path);
		free(c->path);
	}
	free(c);
}

static int control_bind(struct control *c, const char *path, sbx_error *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	if (strlen(path) >= sizeof(sa.sun_path))
		return sbx_error_set(err, ENAMETOOLONG, "control socket path too long: %s", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);

	_cleanup_free_ char *dir = strdup(path);
	if (!dir)
		return sbx_error_set(err, ENOMEM, "out of memory");
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return sbx_error_errno(err, errno, "cannot create %s", dir);
	}
	/* A socket left by a daemon that died is replaced; anything else there is not ours. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return sbx_error_set(err, EEXIST, "%s exists and is not a socket", path);
		if (unlink(path) < 0)
			return sbx_error_errno(err, errno, "cannot remove the stale %s", path);
	}
	c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->listen_fd < 0)
		return sbx_error_errno(err, errno, "socket");
	if (bind(c->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return sbx_error_errno(err, errno, "cannot bind %s", path);
	c->path = strdup(path);
	if (!c->path)
		return sbx_error_set(err, ENOMEM, "out of memory");
	if (chown(path, 0, c->have_admin_gid ? c->admin_gid : 0) < 0 ||
	    chmod(path, CONTROL_SOCKET_MODE) < 0)
		return sbx_error_errno(err, errno, "cannot set the owner and mode of %s", path);
	if (listen(c->listen_fd, CONTROL_MAX_PENDING) < 0)
		return sbx_error_errno(err, errno, "cannot listen on %s", path);
	return 0;
}

int control_open(const char *path, struct control **ret, sbx_error *err)
{
	struct control *c = calloc(1, sizeof(*c));
	if (!c)
		return sbx_error_set(err, ENOMEM, "out of memory");
	c->listen_fd = c->epoll_fd = c->timer_fd = -1;
	for (size_t i = 0; i < CONTROL_MAX_PENDING; i++)
		c->clients[i].fd = -1;
	control_refresh_admin_group(c);
	int r = control_bind(c, path, err);
	if (r == 0) {
		c->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
		c->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (c->epoll_fd < 0 || c->timer_fd < 0)
			r = sbx_error_errno(err, errno, "control socket: epoll/timerfd");
	}
	if (r == 0) {
		struct epoll_event a = {.events = EPOLLIN, .data.u64 = EV_LISTEN};
		struct epoll_event b = {.events = EPOLLIN, .data.u64 = EV_TIMER};
		if (epoll_ctl(c->epoll_fd, EPOLL_CTL_ADD, c->listen_fd, &a) < 0 ||
		    epoll_ctl(c->epoll_fd, EPOLL_CTL_ADD, c->timer_fd, &b) < 0)
			r = sbx_error_errno(err, errno, "control socket: epoll_ctl");
	}
	if (r < 0) {
		control_close(c);
		return r;
	}
	*ret = c;
	return 0;
}
