/* Which request the monitor answers in which state (OpenSSH monitor.c's table). Policy only:
 * the handlers live in monitor.c, so this table can be tested on its own. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

enum monitor_state {
	MONITOR_PREAUTH = 1u << 0,       /* before authentication */
	MONITOR_KBDINT = 1u << 1,        /* a PAM conversation is waiting for answers */
	MONITOR_AUTHENTICATED = 1u << 2, /* authenticated, no session yet */
	MONITOR_SESSION = 1u << 3,       /* PAM session open: channels may be spawned */
};

enum monitor_request_flags {
	MONITOR_REQ_ONCE = 1u << 0, /* permitted at most once per connection */
};

struct monitor_request_def {
	uint32_t type; /* enum wire_type */
	const char *name;
	unsigned states; /* bitmask of enum monitor_state in which it is permitted */
	unsigned flags;
};

/* Per-connection bookkeeping of ONCE requests already answered. */
struct monitor_request_log {
	uint64_t used; /* bit per request type */
};

/* Returns 0 and the definition when TYPE may be answered in STATE, -ENOENT for a type that is
 * not a request, -EPERM for the wrong state or a ONCE request asked again. Marks ONCE requests
 * as used. */
int monitor_request_permit(struct monitor_request_log *log, uint32_t type, unsigned state,
			   const struct monitor_request_def **ret);
const char *monitor_request_name(uint32_t type);
