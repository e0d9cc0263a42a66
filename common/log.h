/* Operational log of the daemon (not the audit trail): stderr in the foreground or under
 * systemd, which both end in the journal. */
#pragma once

#include <stdbool.h>

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARNING, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

void log_setup(const char *ident, enum log_level max_level);
void log_set_level(enum log_level max_level);
bool log_enabled(enum log_level level);
/* Sends lines somewhere else than stderr (the journal, a file); NULL restores stderr. The
 * priority is syslog's (3 error ... 7 debug). */
void log_set_sink(void (*sink)(int priority, const char *line));
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
