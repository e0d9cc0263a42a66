/* The event table: one row per event type. A MESSAGE_ID never changes once released (readers
 * and journalctl filters depend on it); a new event gets a new row and a new id. Keep
 * docs/audit-events.md in step (a unit test checks that it names every id). */
#include "config.h"

#include "common/audit_record.h"

#include <string.h>

#define FIELDS(...) ((const char *const[]){__VA_ARGS__, NULL})

static const struct audit_event_info audit_events[AUDIT_EVENT_COUNT] = {
	[AUDIT_CONNECTION_ACCEPTED] = {
		AUDIT_CONNECTION_ACCEPTED, "connection-accepted", "c1303ce45f274af2875bf2c646d07b1d",
		6, false, "Connection accepted",
		FIELDS("SANDBOX_SESSION", "SANDBOX_REMOTE", "SANDBOX_LOCAL", "SANDBOX_PID"),
	},
	[AUDIT_CONNECTION_REFUSED] = {
		AUDIT_CONNECTION_REFUSED, "connection-refused", "525c49314449484088d38ba6e6ac6fcc",
		5, false, "Connection refused",
		FIELDS("SANDBOX_REMOTE", "SANDBOX_LOCAL", "SANDBOX_REASON"),
	},
	[AUDIT_AUTH_ATTEMPT] = {
		AUDIT_AUTH_ATTEMPT, "auth-attempt", "9be96d532c9747598310f5093cb160b1",
		5, false, "Authentication attempt",
		FIELDS("SANDBOX_USER", "SANDBOX_SESSION", "SANDBOX_REMOTE", "SANDBOX_METHOD",
		       "SANDBOX_RESULT", "SANDBOX_PAM_MESSAGE", "SANDBOX_KEY_FINGERPRINT"),
	},
	[AUDIT_ACCOUNT_REFUSED] = {
		AUDIT_ACCOUNT_REFUSED, "account-refused", "d8267ac770ea41c7a1719c0389c4210a",
		5, false, "Account refused",
		FIELDS("SANDBOX_USER", "SANDBOX_SESSION", "SANDBOX_REMOTE", "SANDBOX_REASON",
		       "SANDBOX_PAM_MESSAGE"),
	},
	[AUDIT_SESSION_START] = {
		AUDIT_SESSION_START, "session-start", "06a71a07cbee497fbfc1125373bdce52",
		6, false, "Session started",
		FIELDS("SANDBOX_USER", "SANDBOX_SESSION", "SANDBOX_REMOTE", "SANDBOX_LIMITS"),
	},
	[AUDIT_EXEC] = {
		AUDIT_EXEC, "exec", "901bd4f481f546f084569ede2a606f7f",
		6, false, "Channel started",
		FIELDS("SANDBOX_USER", "SANDBOX_SESSION", "SANDBOX_CHANNEL", "SANDBOX_KIND",
		       "SANDBOX_COMMAND"),
	},
	[AUDIT_FILE_OP] = {
		AUDIT_FILE_OP, "file-op", "744800769c1d43c182b5b402baae177c",
		6, false, "File operation",
		FIELDS("SANDBOX_USER", "SANDBOX_SESSION", "SANDBOX_CHANNEL", "SANDBOX_OP",
		       "SANDBOX_PATH", "SANDBOX_TARGET_PATH", "SANDBOX_BYTES", "SANDBOX_RESULT"),
	},
	[AUDIT_RUNNER_REPORT] = {
		AUDIT_RUNNER_REPORT, "runner-report", "b6bde90513194dec8ac2815986b60a73",
		6, true, "Reported by the sandboxed program (untrusted)",
		FIELDS("SANDBOX_USER", "SANDBOX_SESSION", "SANDBOX_CHANNEL", "SANDBOX_REPORT",
		       "SANDBOX_UNTRUSTED"),
	},
	[AUDIT_LIMIT_HIT] = {
		AUDIT_LIMIT_HIT, "limit-hit", "8c3678b6b449453fa650a10f7d5289b3",
		4, false, "Limit hit",
		FIELDS("SANDBOX_USER", "SANDBOX_SESSION", "SANDBOX_CHANNEL", "SANDBOX_LIMIT",
		       "SANDBOX_EVIDENCE"),
	},
	[AUDIT_SESSION_REPORT] = {
		AUDIT_SESSION_REPORT, "session-report", "2c8a854eb5d4437c8217fc39bc6c6374",
		6, false, "Session report",
		FIELDS("SANDBOX_USER", "SANDBOX_SESSION", "SANDBOX_CHANNEL", "SANDBOX_EXIT",
		       "SANDBOX_SIGNAL", "SANDBOX_CPU", "SANDBOX_WALL", "SANDBOX_PEAK_MEMORY",
		       "SANDBOX_OOM_KILLS", "SANDBOX_PIDS_HITS", "SANDBOX_SECCOMP_DENIALS",
		       "SANDBOX_LIMIT"),
	},
	[AUDIT_ADMIN_ACTION] = {
		AUDIT_ADMIN_ACTION, "admin-action", "bdb7549f791a4c13bc640347e6aea003",
		5, false, "Admin action",
		FIELDS("SANDBOX_ADMIN", "SANDBOX_ACTION", "SANDBOX_TARGET", "SANDBOX_OLD",
		       "SANDBOX_NEW", "SANDBOX_RESULT"),
	},
	[AUDIT_DAEMON_START] = {
		AUDIT_DAEMON_START, "daemon-start", "248bbdcf9dd0414ab9888afaa5554bcc",
		6, false, "Daemon started",
		FIELDS("SANDBOX_PID", "SANDBOX_VERSION", "SANDBOX_CONFIG"),
	},
	[AUDIT_DAEMON_STOP] = {
		AUDIT_DAEMON_STOP, "daemon-stop", "1df09f0bd11f449b88810bfa49f63156",
		6, false, "Daemon stopping",
		FIELDS("SANDBOX_PID", "SANDBOX_REASON"),
	},
	[AUDIT_DAEMON_RELOAD] = {
		AUDIT_DAEMON_RELOAD, "daemon-reload", "9d40de3a9d70430487980973e12a17ba",
		6, false, "Configuration reloaded",
		FIELDS("SANDBOX_PID", "SANDBOX_CONFIG", "SANDBOX_RESULT"),
	},
	[AUDIT_EVENTS_SUPPRESSED] = {
		AUDIT_EVENTS_SUPPRESSED, "events-suppressed", "5454bd219ff340a2aba01fa25eff556f",
		4, false, "Similar events suppressed",
		FIELDS("SANDBOX_USER", "SANDBOX_SESSION", "SANDBOX_SUPPRESSED_EVENT", "SANDBOX_COUNT",
		       "SANDBOX_REASON"),
	},
};

const struct audit_event_info *audit_event_info(enum audit_event event)
{
	if ((unsigned)event >= AUDIT_EVENT_COUNT)
		return NULL;
	return &audit_events[event];
}

const struct audit_event_info *audit_event_by_name(const char *name)
{
	for (size_t i = 0; i < AUDIT_EVENT_COUNT; i++)
		if (strcmp(audit_events[i].name, name) == 0)
			return &audit_events[i];
	return NULL;
}

const struct audit_event_info *audit_event_by_message_id(const char *message_id)
{
	for (size_t i = 0; i < AUDIT_EVENT_COUNT; i++)
		if (strcmp(audit_events[i].message_id, message_id) == 0)
			return &audit_events[i];
	return NULL;
}

const char *audit_event_name(enum audit_event event)
{
	const struct audit_event_info *ev = audit_event_info(event);
	return ev ? ev->name : "unknown";
}
