#include "config.h"

#include "admin/ctl_control.h"

#include "admin/ctl_util.h"
#include "common/cleanup.h"
#include "common/config_file.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define CTL_CONTROL_SOCKET_NAME "control.sock"
/* kill waits up to 8 s for the sessions to end, and a cgroup kill may take 5 s more. */
#define CTL_CONTROL_TIMEOUT_S 20
#define CTL_CONTROL_ANSWER_MAX (16u << 20)

/* RuntimeDirectory/control.sock from the configuration file (built-in defaults when the file
 * does not exist). */
static int control_path(char *buf, size_t size, char *msg, size_t msg_size)
{
	struct sbx_config cfg;
	sbx_error err = {0};
	config_init(&cfg);
	int r = config_load_file(&cfg, ctl_options.config_file, &err);
	if (r == 0 || r == -ENOENT)
		r = config_finish(&cfg, &err);
	if (r < 0) {
		snprintf(msg, msg_size, "%s", err.msg);
		config_free(&cfg);
		return r;
	}
	int n = snprintf(buf, size, "%s/%s", cfg.runtime_directory, CTL_CONTROL_SOCKET_NAME);
	config_free(&cfg);
	if (n < 0 || (size_t)n >= size) {
		snprintf(msg, msg_size, "control socket path too long");
		return -ENAMETOOLONG;
	}
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decodes %XX in place. */
static void decode(char *s)
{
	char *o = s;
	for (char *p = s; *p; p++) {
		int h, l;
		if (*p == '%' && (h = hexval(p[1])) >= 0 && (l = hexval(p[2])) >= 0) {
			*o++ = (char)(h * 16 + l);
			p += 2;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
}

static int parse_record(char *line, struct ctl_record *ret)
{
	*ret = (struct ctl_record){0};
	char *save = NULL;
	for (char *t = strtok_r(line, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(t, '=');
		if (!eq)
			continue;
		*eq = '\0';
		char **k = realloc(ret->keys, (ret->n + 1) * sizeof(*k));
		if (!k)
			return -ENOMEM;
		ret->keys = k;
		char **v = realloc(ret->values, (ret->n + 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		ret->values = v;
		decode(eq + 1);
		ret->keys[ret->n] = strdup(t);
		ret->values[ret->n] = strdup(eq + 1);
		ret->n++;
		if (!ret->keys[ret->n - 1] || !ret->values[ret->n - 1])
			return -ENOMEM;
	}
	return 0;
}

void ctl_answer_free(struct ctl_answer *a)
{
	for (size_t i = 0; i < a->n; i++) {
		for (size_t j = 0; j < a->records[i].n; j++) {
			free(a->records[i].keys[j]);
			free(a->records[i].values[j]);
		}
		free(a->records[i].keys);
		free(a->records[i].values);
	}
	free(a->records);
	*a = (struct ctl_answer){0};
}

const char *ctl_record_get(const struct ctl_record *r, const char *key)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->keys[i], key) == 0)
			return r->values[i];
	return NULL;
}

bool ctl_record_u64(const struct ctl_record *r, const char *key, uint64_t *ret)
{
	const char *v = ctl_record_get(r, key);
	char *end;
	if (!v || *v < '0' || *v > '9')
		return false;
	*ret = strtoull(v, &end, 10);
	return *end == '\0';
}

static enum ctl_control_result error_kind(const char *kind)
{
	if (strcmp(kind, "denied") == 0)
		return CTL_CONTROL_DENIED;
	if (strcmp(kind, "notfound") == 0)
		return CTL_CONTROL_NOT_FOUND;
	if (strcmp(kind, "usage") == 0)
		return CTL_CONTROL_USAGE;
	return CTL_CONTROL_FAILED;
}

static enum ctl_control_result parse_answer(char *text, struct ctl_answer *ret, char *msg,
					    size_t size)
{
	char *save = NULL, *line = strtok_r(text, "\n", &save);
	bool ended = false;
	if (!line) {
		snprintf(msg, size, "the daemon closed the connection without an answer");
		return CTL_CONTROL_FAILED;
	}
	if (strncmp(line, "ERR ", 4) == 0) {
		char *kind = line + 4, *space = strchr(kind, ' ');
		if (space)
			*space = '\0';
		snprintf(msg, size, "%s", space ? space + 1 : "the daemon refused the request");
		return error_kind(kind);
	}
	if (strcmp(line, "OK") != 0) {
		snprintf(msg, size, "unexpected answer from the daemon");
		return CTL_CONTROL_FAILED;
	}
	while ((line = strtok_r(NULL, "\n", &save))) {
		if (strcmp(line, "END") == 0) {
			ended = true;
			break;
		}
		struct ctl_record *recs = realloc(ret->records, (ret->n + 1) * sizeof(*recs));
		if (!recs) {
			snprintf(msg, size, "out of memory");
			return CTL_CONTROL_FAILED;
		}
		ret->records = recs;
		int r = parse_record(line, &ret->records[ret->n]);
		ret->n++;
		if (r < 0) {
			snprintf(msg, size, "out of memory");
			return CTL_CONTROL_FAILED;
		}
	}
	if (!ended) {
		snprintf(msg, size, "the daemon's answer was cut short");
		return CTL_CONTROL_FAILED;
	}
	return CTL_CONTROL_OK;
}

enum ctl_control_result ctl_control_call(const char *request, struct ctl_answer *ret, char *msg,
					 size_t size)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char path[sizeof(sa.sun_path)];
	*ret = (struct ctl_answer){0};
	msg[0] = '\0';
	if (control_path(path, sizeof(path), msg, size) < 0)
		return CTL_CONTROL_FAILED;
	memcpy(sa.sun_path, path, strlen(path) + 1);

	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(msg, size, "socket: %s", strerror(errno));
		return CTL_CONTROL_FAILED;
	}
	struct timeval tv = {.tv_sec = CTL_CONTROL_TIMEOUT_S};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		if (e == ENOENT || e == ECONNREFUSED || e == ENOTDIR) {
			snprintf(msg, size, "the daemon is not running (no control socket at %s)",
				 path);
			return CTL_CONTROL_NOT_RUNNING;
		}
		if (e == EACCES || e == EPERM) {
			snprintf(msg, size,
				 "permission denied: needs root or membership in group %s (%s)",
				 CTL_ADMIN_GROUP, path);
			return CTL_CONTROL_DENIED;
		}
		snprintf(msg, size, "cannot connect to %s: %s", path, strerror(e));
		return CTL_CONTROL_FAILED;
	}
	_cleanup_free_ char *line = NULL;
	if (asprintf(&line, "%s\n", request) < 0) {
		snprintf(msg, size, "out of memory");
		return CTL_CONTROL_FAILED;
	}
	size_t len = strlen(line);
	for (size_t off = 0; off < len;) {
		ssize_t n = send(fd, line + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(msg, size, "cannot send to the daemon: %s", strerror(errno));
			return CTL_CONTROL_FAILED;
		}
		off += (size_t)n;
	}
	_cleanup_free_ char *buf = NULL;
	size_t used = 0, cap = 0;
	for (;;) {
		if (cap - used < 4096) {
			if (cap >= CTL_CONTROL_ANSWER_MAX) {
				snprintf(msg, size, "the daemon's answer is too long");
				return CTL_CONTROL_FAILED;
			}
			cap = cap ? cap * 2 : 16384;
			char *more = realloc(buf, cap);
			if (!more) {
				snprintf(msg, size, "out of memory");
				return CTL_CONTROL_FAILED;
			}
			buf = more;
		}
		ssize_t n = recv(fd, buf + used, cap - used - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(msg, size, "no answer from the daemon: %s",
				 errno == EAGAIN ? "timed out" : strerror(errno));
			return CTL_CONTROL_FAILED;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	if (!buf) {
		snprintf(msg, size, "the daemon closed the connection without an answer");
		return CTL_CONTROL_FAILED;
	}
	buf[used] = '\0';
	enum ctl_control_result r = parse_answer(buf, ret, msg, size);
	if (r != CTL_CONTROL_OK)
		ctl_answer_free(ret);
	return r;
}

int ctl_control_exit_status(enum ctl_control_result r)
{
	switch (r) {
	case CTL_CONTROL_OK:
		return CTL_EXIT_OK;
	case CTL_CONTROL_DENIED:
		return CTL_EXIT_DENIED;
	case CTL_CONTROL_USAGE:
		return CTL_EXIT_USAGE;
	default:
		return CTL_EXIT_FAILURE;
	}
}

/* Prints the result of a kill or kill-user answer. */
static int report_kills(const struct ctl_answer *a)
{
	int status = CTL_EXIT_OK;
	for (size_t i = 0; i < a->n; i++) {
		const char *id = ctl_record_get(&a->records[i], "session");
		const char *user = ctl_record_get(&a->records[i], "user");
		const char *result = ctl_record_get(&a->records[i], "result");
		if (!id || !user || !result)
			continue;
		if (strcmp(result, "ended") == 0) {
			printf("killed session %s of %s\n", id, user);
		} else if (strcmp(result, "signalled") == 0) {
			ctl_warning("session %s of %s was told to end and is still ending", id,
				    user);
		} else {
			ctl_error("session %s of %s was not killed (%s)", id, user, result);
			status = CTL_EXIT_FAILURE;
		}
	}
	return status;
}

int ctl_control_request(struct ctl_answer *ret, const char *fmt, ...)
{
	_cleanup_free_ char *req = NULL;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&req, fmt, ap);
	va_end(ap);
	if (n < 0) {
		req = NULL;
		ctl_error("out of memory");
		return CTL_EXIT_FAILURE;
	}
	enum ctl_control_result r = ctl_control_call(req, ret, msg, sizeof(msg));
	if (r != CTL_CONTROL_OK) {
		ctl_error("%s", msg);
		return ctl_control_exit_status(r);
	}
	return 0;
}

int ctl_control_kill_user(const char *user)
{
	struct ctl_answer a;
	int r = ctl_control_request(&a, "kill-user %s", user);
	if (r)
		return r;
	int status = report_kills(&a);
	if (a.n == 0)
		printf("no live session of %s\n", user);
	ctl_answer_free(&a);
	return status;
}

int ctl_control_kill_session(const char *id)
{
	struct ctl_answer a;
	int r = ctl_control_request(&a, "kill %s", id);
	if (r)
		return r;
	int status = report_kills(&a);
	ctl_answer_free(&a);
	return status;
}

void ctl_control_apply_limits(const char *level)
{
	_cleanup_free_ char *req = NULL;
	struct ctl_answer a;
	char msg[1024];
	if (asprintf(&req, "apply-limits %s", level) < 0)
		return;
	enum ctl_control_result r = ctl_control_call(req, &a, msg, sizeof(msg));
	if (r == CTL_CONTROL_NOT_RUNNING)
		return;
	if (r != CTL_CONTROL_OK) {
		ctl_warning("the policy is saved, but the running sessions were not updated: %s",
			    msg);
		return;
	}
	ctl_answer_free(&a);
}
