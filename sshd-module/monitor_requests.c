#include "config.h"

#include "sshd-module/monitor_requests.h"

#include "sshd-module/wire.h"

#include <errno.h>
#include <stddef.h>

static const struct monitor_request_def monitor_requests[] = {
	{WIRE_REQ_AUTH_PASSWORD, "auth-password", MONITOR_PREAUTH, 0},
	{WIRE_REQ_KBDINT_START, "auth-kbdint", MONITOR_PREAUTH, 0},
	/* Answers are read inside the PAM conversation, only while it waits for them. */
	{WIRE_REQ_KBDINT_RESPONSE, "kbdint-response", MONITOR_KBDINT, 0},
	{WIRE_REQ_PUBKEY_CHECK, "pubkey-check", MONITOR_PREAUTH, 0},
	{WIRE_REQ_AUTH_PUBKEY, "auth-pubkey", MONITOR_PREAUTH, 0},
	{WIRE_REQ_SESSION_OPEN, "session-open", MONITOR_AUTHENTICATED, MONITOR_REQ_ONCE},
	{WIRE_REQ_CHANNEL_SPAWN, "channel-spawn", MONITOR_SESSION, 0},
	{WIRE_REQ_CHANNEL_SIGNAL, "channel-signal", MONITOR_SESSION, 0},
	{WIRE_REQ_CHANNEL_CLOSE, "channel-close", MONITOR_SESSION, 0},
	{WIRE_REQ_ACTIVITY, "activity", MONITOR_SESSION, 0},
	{WIRE_REQ_RECORD, "record", MONITOR_SESSION, 0},
};

static const struct monitor_request_def *monitor_request_find(uint32_t type)
{
	for (size_t i = 0; i < sizeof(monitor_requests) / sizeof(monitor_requests[0]); i++)
		if (monitor_requests[i].type == type)
			return &monitor_requests[i];
	return NULL;
}

int monitor_request_permit(struct monitor_request_log *log, uint32_t type, unsigned state,
			   const struct monitor_request_def **ret)
{
	const struct monitor_request_def *def = monitor_request_find(type);
	if (!def)
		return -ENOENT;
	if (!(def->states & state))
		return -EPERM;
	if (def->flags & MONITOR_REQ_ONCE) {
		uint64_t bit = 1ull << (type % 64);
		if (log->used & bit)
			return -EPERM;
		log->used |= bit;
	}
	if (ret)
		*ret = def;
	return 0;
}

const char *monitor_request_name(uint32_t type)
{
	const struct monitor_request_def *def = monitor_request_find(type);
	return def ? def->name : "unknown";
}
