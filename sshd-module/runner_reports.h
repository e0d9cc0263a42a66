/* What the runner inside a jail reports on its fd 3 (denials, notable events): read by the
 * monitor, rate-limited again here because the sender is untrusted, escaped, and logged as
 * reported by the sandboxed program. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#define RUNNER_REPORT_LINE_MAX 2048

struct runner_reports {
	int fd;                               /* read end; -1 when closed */
	char buf[RUNNER_REPORT_LINE_MAX];
	size_t len;
	double tokens;                        /* token bucket: RATE per second, BURST at most */
	struct timespec refilled;
	unsigned long long suppressed;        /* lines dropped by the bucket since the last summary */
	unsigned long long total;
	ssize_t last_read;                    /* bytes the last read returned */
};

void runner_reports_init(struct runner_reports *r, int fd);
/* Reads what is there and logs complete lines; returns false once the writer is gone. */
bool runner_reports_read(struct runner_reports *r, const char *session_id, unsigned channel);
/* Logs the suppression summary, closes the descriptor. */
void runner_reports_close(struct runner_reports *r, const char *session_id, unsigned channel);
