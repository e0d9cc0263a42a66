#include "config.h"

#include "sshd-module/runner_reports.h"

#include "common/escape.h"
#include "common/log.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define REPORT_RATE 20.0
#define REPORT_BURST 50.0

void runner_reports_init(struct runner_reports *r, int fd)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->tokens = REPORT_BURST;
	clock_gettime(CLOCK_MONOTONIC, &r->refilled);
}

static bool report_take_token(struct runner_reports *r)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double dt = (double)(now.tv_sec - r->refilled.tv_sec) +
		    (double)(now.tv_nsec - r->refilled.tv_nsec) / 1e9;
	r->refilled = now;
	r->tokens += dt * REPORT_RATE;
	if (r->tokens > REPORT_BURST)
		r->tokens = REPORT_BURST;
	if (r->tokens < 1.0)
		return false;
	r->tokens -= 1.0;
	return true;
}

static void report_line(struct runner_reports *r, const char *line, size_t len,
			const char *session_id, unsigned channel)
{
	r->total++;
	if (!report_take_token(r)) {
		r->suppressed++;
		return;
	}
	if (r->suppressed) {
		log_info("session %s channel %u: %llu similar runner reports suppressed", session_id,
			 channel, r->suppressed);
		r->suppressed = 0;
	}
	char safe[RUNNER_REPORT_LINE_MAX * 4 + 1];
	escape_untrusted(line, len, safe, sizeof(safe));
	log_info("session %s channel %u: reported by the sandboxed program (untrusted): %s",
		 session_id, channel, safe);
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
	for (size_t i = 0; i < r->len; i++) {
		if (r->buf[i] != '\n')
			continue;
		report_line(r, r->buf + start, i - start, session_id, channel);
		start = i + 1;
	}
	if (start == 0 && r->len == sizeof(r->buf)) {
		/* An over-long line is cut, logged, and the rest of it read as a new one. */
		report_line(r, r->buf, r->len, session_id, channel);
		start = r->len;
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
	if (r->suppressed)
		log_info("session %s channel %u: %llu similar runner reports suppressed", session_id,
			 channel, r->suppressed);
	close(r->fd);
	r->fd = -1;
}
