#include "config.h"

#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *log_ident = "sandboxd";
static enum log_level log_max = LOG_LEVEL_INFO;
static void (*log_sink)(int priority, const char *line);

void log_setup(const char *ident, enum log_level max_level)
{
	log_ident = ident;
	log_max = max_level;
}

void log_set_level(enum log_level max_level) { log_max = max_level; }

bool log_enabled(enum log_level level) { return level <= log_max; }

void log_set_sink(void (*sink)(int priority, const char *line)) { log_sink = sink; }

void log_msg(enum log_level level, const char *fmt, ...)
{
	/* <N> prefixes are read by journald as syslog priorities when stderr is the journal. */
	static const int prio[] = {3, 4, 6, 7};
	if (level > log_max)
		return;
	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (log_sink) {
		log_sink(prio[level], line);
		return;
	}
	fprintf(stderr, "<%d>%s[%d]: %s\n", prio[level], log_ident, (int)getpid(), line);
}
