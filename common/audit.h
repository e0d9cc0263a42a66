/* The audit trail: one structured record per security-relevant event, written by the monitor
 * (never by code in a jail) to journald and to an append-only, hash-chained JSON-lines file.
 * Event types, MESSAGE_IDs, fields and the file format are documented in docs/audit-events.md.
 *
 * Every process that writes (the listener, each connection monitor) opens its own handle; records
 * from several processes never interleave and keep one chain (see audit.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

#define AUDIT_DEFAULT_FILE LOCALSTATEDIR "/log/sandboxd/audit.jsonl"

enum audit_event {
	AUDIT_CONNECTION_ACCEPTED,
	AUDIT_CONNECTION_REFUSED,
	AUDIT_AUTH_ATTEMPT,
	AUDIT_ACCOUNT_REFUSED,
	AUDIT_SESSION_START,
	AUDIT_EXEC,
	AUDIT_FILE_OP,
	AUDIT_RUNNER_REPORT,
	AUDIT_LIMIT_HIT,
	AUDIT_SESSION_REPORT,
	AUDIT_ADMIN_ACTION,
	AUDIT_DAEMON_START,
	AUDIT_DAEMON_STOP,
	AUDIT_DAEMON_RELOAD,
	AUDIT_EVENTS_SUPPRESSED, /* written by the writer itself: flood and disk-guard summaries */
	AUDIT_SOURCE_PENALISED,  /* PerSourcePenalties: a source block is refused from now on */
	AUDIT_EVENT_COUNT,
};

/* A field: key is SANDBOX_[A-Z0-9_]+ (a journal field name); value is any NUL-terminated byte
 * string and may be untrusted (it is escaped by every reader, never interpreted). A NULL value
 * leaves the field out. */
struct audit_field {
	const char *key;
	const char *value;
};

enum audit_fsync {
	AUDIT_FSYNC_NEVER, /* the kernel writes back when it likes */
	AUDIT_FSYNC_BATCH, /* fdatasync at most once a second, and in audit_flush/audit_writer_close */
	AUDIT_FSYNC_EVERY, /* fdatasync after every record */
};

struct audit_sink_config {
	bool journal;	  /* send to journald (errors are counted, never fatal) */
	const char *file; /* JSON-lines file; NULL: no file sink */
	enum audit_fsync fsync;
	/* Untrusted records (runner-report) are dropped while the file system holding the file has
	 * less than this percentage free; 0 means the default (5), negative disables the guard. */
	int min_free_percent;
	/* Token bucket per (session, untrusted event type); 0 means the defaults (20/s, 50). */
	double untrusted_rate;
	double untrusted_burst;
};

struct audit_stats {
	unsigned long long written;	   /* records handed to at least one sink */
	unsigned long long journal_errors; /* sd_journal_sendv failures */
	unsigned long long file_errors;	   /* records the file sink could not take */
	unsigned long long suppressed;	   /* untrusted records dropped by the rate limit */
	unsigned long long disk_dropped;   /* untrusted records dropped by the disk guard */
};

/* Not audit_open/audit_close: those are libaudit's, which PAM modules load into this process. */
struct audit;

int audit_writer_open(const struct audit_sink_config *config, struct audit **ret, sbx_error *err);
/* Writes pending summaries, syncs and frees; accepts NULL. */
void audit_writer_close(struct audit *a);
/* After logrotate (SIGHUP): reopens the file by name. A rotation is also noticed by every emit
 * on its own (inode changed or file shrank), so forked monitors need no signal. */
int audit_reopen(struct audit *a, sbx_error *err);

/* One record. Returns 0 when at least one enabled sink took it or when it was deliberately
 * dropped (rate limit, disk guard: counted and summarised); a negative errno when the file sink
 * failed (the journal copy, if enabled, may still have been sent). */
int audit_emit(struct audit *a, enum audit_event event, const struct audit_field *fields, size_t n);
/* audit_emit with key, value pairs ending in NULL: audit_emitf(a, AUDIT_EXEC, "SANDBOX_USER",
 * user, "SANDBOX_KIND", "shell", NULL). */
int audit_emitf(struct audit *a, enum audit_event event, ...) __attribute__((sentinel));

/* Writes the summaries of floods that have stopped, and a due batch fsync; call it from the
 * poll loop now and then (once a second is plenty). */
void audit_flush(struct audit *a);
/* Writes the pending summaries of this session and forgets its rate-limit state. */
void audit_session_end(struct audit *a, const char *session);

void audit_get_stats(const struct audit *a, struct audit_stats *ret);

const char *audit_event_name(enum audit_event event);
