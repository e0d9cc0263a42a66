/* The event table: one row per event type. A MESSAGE_ID never changes once released (readers
 * and journalctl filters depend on it); a new event gets a new row and a new id. Keep
 * docs/audit-events.md in step (a unit test checks that it names every id). */
#include "config.h"

#include "common/audit_record.h"

#include <string.h>

#define FIELDS(...) ((const char *const[]){__VA_ARGS__, NULL})

static const struct audit_event_info audit_events[AUDIT_EVENT_COUNT] = {
    [AUDIT_CONNECTION_ACCEPTED] =
	{
	    .event = AUDIT_CONNECTION_ACCEPTED,
	    .name = "connection-accepted",
	    .message_id = "c1303ce45f274af2875bf2c646d07b1d",
	    .priority = 6,
	    .untrusted = false,
	    .summary = "Connection accepted",
	    .fields = FIELDS("SANDBOX_SESSION", "SANDBOX_REMOTE", "SANDBOX_LOCAL", "SANDBOX_PID"),
	},
    [AUDIT_CONNECTION_REFUSED] =
	{
	    .event = AUDIT_CONNECTION_REFUSED,
	    .name = "connection-refused",
	    .message_id = "525c49314449484088d38ba6e6ac6fcc",
	    .priority = 5,
	    .untrusted = false,
	    .summary = "Connection refused",
	    .fields = FIELDS("SANDBOX_REMOTE", "SANDBOX_LOCAL", "SANDBOX_REASON", "SANDBOX_BLOCK",
			     "SANDBOX_DETAIL", "SANDBOX_SUPPRESSED"),
	},
    [AUDIT_AUTH_ATTEMPT] =
	{
	    .event = AUDIT_AUTH_ATTEMPT,
	    .name = "auth-attempt",
	    .message_id = "9be96d532c9747598310f5093cb160b1",
	    .priority = 5,
	    .untrusted = false,
	    .summary = "Authentication attempt",
	    .fields = FIELDS("SANDBOX_USER", "SANDBOX_SESSION", "SANDBOX_REMOTE", "SANDBOX_METHOD",
			     "SANDBOX_RESULT", "SANDBOX_PAM_MESSAGE", "SANDBOX_KEY_FINGERPRINT"),
	},
    [AUDIT_ACCOUNT_REFUSED] =
	{
	    .event = AUDIT_ACCOUNT_REFUSED,
	    .name = "account-refused",
	    .message_id = "d8267ac770ea41c7a1719c0389c4210a",
	    .priority = 5,
	    .untrusted = false,
	    .summary = "Account refused",
	    .fields = FIELDS("SANDBOX_USER", "SANDBOX_SESSION", "SANDBOX_REMOTE", "SANDBOX_REASON",
			     "SANDBOX_PAM_MESSAGE"),
	},
    [AUDIT_SESSION_START] =
	{
	    .event = AUDIT_SESSION_START,
	    .name = "session-start",
	    .message_id = "06a71a07cbee497fbfc1125373bdce52",
	    .priority = 6,
	    .untrusted = false,
	    .summary = "Session started",
	    .fields = FIELDS("SANDBOX_USER", "SANDBOX_SESSION", "SANDBOX_REMOTE", "SANDBOX_LIMITS"),
	},
    [AUDIT_EXEC] =
	{
	    .event = AUDIT_EXEC,
	    .name = "exec",
	    .message_id = "901bd4f481f546f084569ede2a606f7f",
	    .priority = 6,
	    .untrusted = false,
	    .summary = "Channel started",
	    .fields = FIELDS("SANDBOX_USER", "SANDBOX_SESSION", "SANDBOX_CHANNEL", "SANDBOX_KIND",
			     "SANDBOX_COMMAND"),
	},
    [AUDIT_FILE_OP] =
	{
	    .event = AUDIT_FILE_OP,
	    .name = "file-op",
	    .message_id = "744800769c1d43c182b5b402baae177c",
	    .priority = 6,
	    .untrusted = false,
	    .summary = "File operation",
	    .fields =
		FIELDS("SANDBOX_USER", "SANDBOX_SESSION", "SANDBOX_CHANNEL", "SANDBOX_OP",
		       "SANDBOX_PATH", "SANDBOX_TARGET_PATH", "SANDBOX_BYTES", "SANDBOX_RESULT",
		       "SANDBOX_DETAIL"),
	},
    [AUDIT_RUNNER_REPORT] =
	{
	    .event = AUDIT_RUNNER_REPORT,
	    .name = "runner-report",
	    .message_id = "b6bde90513194dec8ac2815986b60a73",
	    .priority = 6,
	    .untrusted = true,
	    .summary = "Reported by the sandboxed program (untrusted)",
	    .fields = FIELDS("SANDBOX_USER", "SANDBOX_SESSION", "SANDBOX_CHANNEL", "SANDBOX_REPORT",
			     "SANDBOX_UNTRUSTED"),
	},
    [AUDIT_LIMIT_HIT] =
	{
	    .event = AUDIT_LIMIT_HIT,
	    .name = "limit-hit",
	    .message_id = "8c3678b6b449453fa650a10f7d5289b3",
	    .priority = 4,
	    .untrusted = false,
	    .summary = "Limit hit",
	    .fields = FIELDS("SANDBOX_USER", "SANDBOX_SESSION", "SANDBOX_CHANNEL", "SANDBOX_LIMIT",
			     "SANDBOX_EVIDENCE"),
	},
    [AUDIT_SESSION_REPORT] =
	{
	    .event = AUDIT_SESSION_REPORT,
	    .name = "session-report",
	    .message_id = "2c8a854eb5d4437c8217fc39bc6c6374",
	    .priority = 6,
	    .untrusted = false,
	    .summary = "Session report",
	    .fields = FIELDS("SANDBOX_USER", "SANDBOX_SESSION", "SANDBOX_CHANNEL", "SANDBOX_EXIT",
			     "SANDBOX_SIGNAL", "SANDBOX_CPU", "SANDBOX_WALL", "SANDBOX_PEAK_MEMORY",
			     "SANDBOX_OOM_KILLS", "SANDBOX_PIDS_HITS", "SANDBOX_SECCOMP_DENIALS",
			     "SANDBOX_LIMIT"),
	},
    [AUDIT_ADMIN_ACTION] =
	{
	    .event = AUDIT_ADMIN_ACTION,
	    .name = "admin-action",
	    .message_id = "bdb7549f791a4c13bc640347e6aea003",
	    .priority = 5,
	    .untrusted = false,
	    .summary = "Admin action",
	    .fields = FIELDS("SANDBOX_ADMIN", "SANDBOX_ACTION", "SANDBOX_TARGET", "SANDBOX_OLD",
			     "SANDBOX_NEW", "SANDBOX_RESULT"),
	},
    [AUDIT_DAEMON_START] =
	{
	    .event = AUDIT_DAEMON_START,
	    .name = "daemon-start",
	    .message_id = "248bbdcf9dd0414ab9888afaa5554bcc",
	    .priority = 6,
	    .untrusted = false,
	    .summary = "Daemon started",
	    .fields = FIELDS("SANDBOX_PID", "SANDBOX_VERSION", "SANDBOX_CONFIG"),
	},
    [AUDIT_DAEMON_STOP] =
	{
	    .event = AUDIT_DAEMON_STOP,
	    .name = "daemon-stop",
	    .message_id = "1df09f0bd11f449b88810bfa49f63156",
	    .priority = 6,
	    .untrusted = false,
	    .summary = "Daemon stopping",
	    .fields = FIELDS("SANDBOX_PID", "SANDBOX_REASON"),
	},
    [AUDIT_DAEMON_RELOAD] =
	{
	    .event = AUDIT_DAEMON_RELOAD,
	    .name = "daemon-reload",
	    .message_id = "9d40de3a9d70430487980973e12a17ba",
	    .priority = 6,
	    .untrusted = false,
	    .summary = "Configuration reloaded",
	    .fields = FIELDS("SANDBOX_PID", "SANDBOX_CONFIG", "SANDBOX_RESULT"),
	},
    [AUDIT_EVENTS_SUPPRESSED] =
	{
	    .event = AUDIT_EVENTS_SUPPRESSED,
	    .name = "events-suppressed",
	    .message_id = "5454bd219ff340a2aba01fa25eff556f",
	    .priority = 4,
	    .untrusted = false,
	    .summary = "Similar events suppressed",
	    .fields = FIELDS("SANDBOX_USER", "SANDBOX_SESSION", "SANDBOX_SUPPRESSED_EVENT",
			     "SANDBOX_COUNT", "SANDBOX_REASON"),
	},
    [AUDIT_SOURCE_PENALISED] =
	{
	    .event = AUDIT_SOURCE_PENALISED,
	    .name = "source-penalised",
	    .message_id = "68bff760d7b04b0ead98ffb2471648a1",
	    .priority = 4,
	    .untrusted = false,
	    .summary = "Source block penalised",
	    .fields = FIELDS("SANDBOX_BLOCK", "SANDBOX_REASON", "SANDBOX_DURATION",
			     "SANDBOX_REMOTE", "SANDBOX_SESSION"),
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
