/* Denials and notable events for the monitor: one JSON object per line on an inherited
 * descriptor (fd 3). The program being watched must never wait for the watcher, so writes are
 * non-blocking and a full pipe drops the line (counted); a token bucket keeps a loop of denials
 * from flooding the audit trail and says how many similar lines it swallowed. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "jail/runner/runner.h"

#define REPORT_RATE_PER_SEC 20.0
#define REPORT_BURST 50.0
/* One line stays below PIPE_BUF, so a line is written whole or not at all. */
#define REPORT_LINE_MAX 4000

static struct {
	int fd;
	bool is_socket;
	double tokens;
	double last; /* monotonic seconds of the last refill */
	unsigned long suppressed;
	unsigned long dropped;
} report = {.fd = -1};

static double now_monotonic(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void runner_report_open(int fd)
{
	struct stat st;
	int flags;

	/* An absent descriptor is fine: the events then go nowhere, silently. */
	if (fcntl(fd, F_GETFD) < 0 || fstat(fd, &st) < 0)
		return;
	if (!S_ISSOCK(st.st_mode) && !S_ISFIFO(st.st_mode) && !S_ISREG(st.st_mode))
		return;
	(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	report.is_socket = S_ISSOCK(st.st_mode);
	if (!report.is_socket) {
		flags = fcntl(fd, F_GETFL);
		if (flags >= 0 && !(flags & O_NONBLOCK))
			(void)fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	}
	report.fd = fd;
	report.tokens = REPORT_BURST;
	report.last = now_monotonic();
}

/* JSON string body; bytes that are not printable ASCII are written as \u00XX so that a path
 * with escape sequences can never reach an admin's terminal raw. */
static size_t json_escape(char *out, size_t size, const char *in)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	if (!in)
		in = "";
	for (; *in && n + 7 < size; in++) {
		unsigned char c = (unsigned char)*in;
		if (c == '"' || c == '\\') {
			out[n++] = '\\';
			out[n++] = (char)c;
		} else if (c >= 0x20 && c < 0x7f) {
			out[n++] = (char)c;
		} else {
			memcpy(out + n, "\\u00", 4);
			out[n + 4] = hex[c >> 4];
			out[n + 5] = hex[c & 15];
			n += 6;
		}
	}
	out[n] = '\0';
	return n;
}

static void report_write(const char *line, size_t len)
{
	ssize_t r;

	do {
		if (report.is_socket)
			r = send(report.fd, line, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		else
			r = write(report.fd, line, len);
	} while (r < 0 && errno == EINTR);
	if (r != (ssize_t)len)
		report.dropped++;
}

static void report_summary(void)
{
	char line[256];
	struct timespec ts;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	n = snprintf(line, sizeof(line),
		     "{\"source\":\"sandbox-python\",\"trust\":\"untrusted\",\"ts\":%lld.%03ld,"
		     "\"pid\":%d,\"event\":\"sandbox.suppressed\",\"action\":\"summary\","
		     "\"message\":\"%lu similar events suppressed\",\"suppressed\":%lu,"
		     "\"dropped\":%lu}\n",
		     (long long)ts.tv_sec, ts.tv_nsec / 1000000, (int)getpid(), report.suppressed,
		     report.suppressed, report.dropped);
	report.suppressed = 0;
	report.dropped = 0;
	report_write(line, (size_t)n);
}

void runner_report_event(const char *event, const char *action, const char *message,
			 const char *detail)
{
	char line[REPORT_LINE_MAX + 1], ev[192], msg[768], det[1536];
	struct timespec ts;
	double now;
	int n;

	if (report.fd < 0)
		return;
	now = now_monotonic();
	report.tokens += (now - report.last) * REPORT_RATE_PER_SEC;
	if (report.tokens > REPORT_BURST)
		report.tokens = REPORT_BURST;
	report.last = now;
	if (report.tokens < 1.0) {
		report.suppressed++;
		return;
	}
	report.tokens -= 1.0;
	if (report.suppressed || report.dropped)
		report_summary();

	json_escape(ev, sizeof(ev), event);
	json_escape(msg, sizeof(msg), message);
	json_escape(det, sizeof(det), detail);
	clock_gettime(CLOCK_REALTIME, &ts);
	n = snprintf(line, sizeof(line),
		     "{\"source\":\"sandbox-python\",\"trust\":\"untrusted\",\"ts\":%lld.%03ld,"
		     "\"pid\":%d,\"event\":\"%s\",\"action\":\"%s\",\"message\":\"%s\","
		     "\"detail\":\"%s\"}\n",
		     (long long)ts.tv_sec, ts.tv_nsec / 1000000, (int)getpid(), ev, action, msg,
		     det);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		/* Escaping bounds every field; only a pathological mix gets here. */
		n = snprintf(line, sizeof(line),
			     "{\"source\":\"sandbox-python\",\"trust\":\"untrusted\",\"pid\":%d,"
			     "\"event\":\"%s\",\"action\":\"%s\",\"message\":\"(truncated)\"}\n",
			     (int)getpid(), ev, action);
	}
	report_write(line, (size_t)n);
}

void runner_report_flush(void)
{
	if (report.fd >= 0 && (report.suppressed || report.dropped))
		report_summary();
}
