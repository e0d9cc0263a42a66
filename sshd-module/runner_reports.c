#include "config.h"

#include "sshd-module/runner_reports.h"

#include "common/audit.h"
#include "common/escape.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void runner_reports_init(struct runner_reports *r, int fd, struct audit *audit, const char *user)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->audit = audit;
	r->user = user;
}

static void report_line(struct runner_reports *r, const char *line, size_t len,
			const char *session_id, unsigned channel)
{
	char text[RUNNER_REPORT_LINE_MAX + 1], chan[16];
	memcpy(text, line, len);
	text[len] = '\0';
	snprintf(chan, sizeof(chan), "%u", channel);
	audit_emitf(r->audit, AUDIT_RUNNER_REPORT, "SANDBOX_USER", r->user, "SANDBOX_SESSION",
		    session_id, "SANDBOX_CHANNEL", chan, "SANDBOX_REPORT", text, NULL);
	if (log_enabled(LOG_LEVEL_DEBUG)) {
		char safe[RUNNER_REPORT_LINE_MAX * 4 + 1];
		escape_untrusted(line, len, safe, sizeof(safe));
		log_debug("session %s channel %u: reported by the sandboxed program: %s",
			  session_id, channel, safe);
	}
}
bool runner_reports_read(struct runner_reports *r, const char *session_id, unsigned channel)
{
	if (r->fd < 0)
		return false;
	ssize_t n = read(r->fd, r->buf + r->len, sizeof(r->buf) - r->len);
	r->last_read = n;
	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	if (n == 0)
		return false;
	r->len += (size_t)n;
	size_t start = 0;
	/* A newline right after a cut ends the line already logged in pieces, not an empty one. */
	if (r->cut) {
		if (r->buf[0] == '\n')
			start = 1;
		r->cut = false;
	}
	for (size_t i = start; i < r->len; i++) {
		if (r->buf[i] != '\n')
			continue;
		report_line(r, r->buf + start, i - start, session_id, channel);
		start = i + 1;
	}
	if (start == 0 && r->len == sizeof(r->buf)) {
		/* An over-long line is cut, logged, and the rest of it read as a new one. */
		report_line(r, r->buf, r->len, session_id, channel);
		start = r->len;
		r->cut = true;
	}
	memmove(r->buf, r->buf + start, r->len - start);
	r->len -= start;
	return true;
}

void runner_reports_close(struct runner_reports *r, const char *session_id, unsigned channel)
{
	if (r->fd < 0)
		return;
	if (r->len)
		report_line(r, r->buf, r->len, session_id, channel);
	close(r->fd);
	r->fd = -1;
}
