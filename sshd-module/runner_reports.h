/* What the runner inside a jail reports on its fd 3 (denials, notable events): read by the
 * monitor in lines of bounded length and put on the audit trail as reported by the sandboxed
 * program, where the writer marks them untrusted and rate-limits them per session. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#define RUNNER_REPORT_LINE_MAX 2048

struct audit;

struct runner_reports {
	int fd; /* read end; -1 when closed */
	char buf[RUNNER_REPORT_LINE_MAX];
	size_t len;
	ssize_t last_read; /* bytes the last read returned */
	bool cut;	   /* the last line logged was cut at RUNNER_REPORT_LINE_MAX */
	struct audit *audit;
	const char *user;
};

void runner_reports_init(struct runner_reports *r, int fd, struct audit *audit, const char *user);
/* Reads what is there and logs complete lines; returns false once the writer is gone. */
bool runner_reports_read(struct runner_reports *r, const char *session_id, unsigned channel);
/* Logs the suppression summary, closes the descriptor. */
void runner_reports_close(struct runner_reports *r, const char *session_id, unsigned channel);
