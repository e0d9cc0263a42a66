/* What the Python runner reports on its descriptor 3 (untrusted: code in the jail can write
 * anything there). The input goes through a pipe, in chunks of varying sizes, to
 * runner_reports_read; audit_emitf is replaced here to collect what would reach the trail. The
 * reports must be the input's lines in order, lines longer than RUNNER_REPORT_LINE_MAX cut into
 * pieces of that size, nothing more (an audit value is a C string, so a report ends at a NUL). */
#include "config.h"

#include "common/audit.h"
#include "sshd-module/runner_reports.h"
#include "tests/fuzz/fuzz.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

static char **reports;
static size_t n_reports;

int audit_emitf(struct audit *a, enum audit_event event, ...)
{
	va_list ap;
	const char *key;

	FUZZ_ASSERT(event == AUDIT_RUNNER_REPORT, "event %d", (int)event);
	va_start(ap, event);
	while ((key = va_arg(ap, const char *))) {
		const char *value = va_arg(ap, const char *);
		if (strcmp(key, "SANDBOX_REPORT") != 0)
			continue;
		reports = realloc(reports, (n_reports + 1) * sizeof(*reports));
		if (!reports || !(reports[n_reports] = strdup(value)))
			abort();
		n_reports++;
	}
	va_end(ap);
	return 0;
}

/* The input's lines (the text after the last '\n' too, when there is any), each cut into
 * pieces of at most RUNNER_REPORT_LINE_MAX bytes, compared as C strings. */
static void check_reports(const uint8_t *data, size_t size)
{
	size_t k = 0;

	for (size_t start = 0; start < size;) {
		const uint8_t *nl = memchr(data + start, '\n', size - start);
		size_t end = nl ? (size_t)(nl - data) : size;
		size_t off = start;
		do {
			size_t n =
			    end - off < RUNNER_REPORT_LINE_MAX ? end - off : RUNNER_REPORT_LINE_MAX;
			char *want = fuzz_cstring(data + off, n);
			FUZZ_ASSERT(k < n_reports, "report %zu missing ('%s')", k, want);
			FUZZ_ASSERT(strcmp(reports[k], want) == 0,
				    "report %zu is '%s', expected '%s'", k, reports[k], want);
			free(want);
			k++;
			off += n;
		} while (off < end);
		start = end + 1;
	}
	FUZZ_ASSERT(k == n_reports, "%zu reports, expected %zu (extra: '%s')", n_reports, k,
		    reports[k]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct runner_reports r;
	unsigned x = (unsigned)size * 2654435761u + 3;
	int p[2];

	if (size > 60000 || pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
		return 0;
	runner_reports_init(&r, p[0], NULL, "alice");
	for (size_t off = 0; off < size;) {
		x = x * 1103515245u + 12345u;
		size_t n = 1 + (x >> 16) % 3000;
		if (n > size - off)
			n = size - off;
		FUZZ_ASSERT(write(p[1], data + off, n) == (ssize_t)n, "pipe write");
		off += n;
		while (runner_reports_read(&r, "s1", 0) && r.last_read > 0)
			;
	}
	close(p[1]);
	while (runner_reports_read(&r, "s1", 0))
		;
	runner_reports_close(&r, "s1", 0);
	FUZZ_ASSERT(r.fd == -1, "descriptor left open");

	check_reports(data, size);
	for (size_t i = 0; i < n_reports; i++)
		free(reports[i]);
	free(reports);
	reports = NULL;
	n_reports = 0;
	return 0;
}
