/* Rate limits the listener's records of refused connections, so that a flood cannot flood the
 * log or the audit trail: per (source block, reason), the first refusal in a window of
 * REFUSAL_LOG_WINDOW_MS gets a record at once; later ones are counted, and when the window
 * ends the last of them gets a record that also says how many were not recorded one by one
 * (SANDBOX_SUPPRESSED). So every record names one refusal, and records plus suppressed counts
 * add up to every refusal. All records share a token bucket (REFUSAL_LOG_RATE a second, burst
 * REFUSAL_LOG_BURST); the table keeps REFUSAL_LOG_ENTRIES (block, reason) pairs, and the counts
 * of pairs that fall out of it are summed into one "untracked" summary.
 *
 * Pure: the caller passes CLOCK_MONOTONIC milliseconds and writes the records. */
#pragma once

#include "common/netblock.h"

#include <stdbool.h>
#include <stdint.h>

#define REFUSAL_LOG_WINDOW_MS 5000
#define REFUSAL_LOG_ENTRIES 256
#define REFUSAL_LOG_RATE 20
#define REFUSAL_LOG_BURST 60
#define REFUSAL_LOG_REMOTE_LEN 96
#define REFUSAL_LOG_DETAIL_LEN 256

struct refusal_record {
	bool untracked; /* a summary: `suppressed` refusals of pairs no longer tracked */
	struct netblock block;
	unsigned reason;		     /* the caller's reason code */
	char remote[REFUSAL_LOG_REMOTE_LEN]; /* "address:port" of the refusal this record names */
	char detail[REFUSAL_LOG_DETAIL_LEN];
	uint64_t suppressed; /* refusals of this pair since its previous record, without one */
};

typedef void (*refusal_emit_fn)(void *userdata, const struct refusal_record *rec);

struct refusal_log;

int refusal_log_new(struct refusal_log **ret);
void refusal_log_free(struct refusal_log *rl);
/* A connection from REMOTE in BLOCK was refused for REASON: true (and *ret filled) when it
 * gets a record now, false when it was counted. */
bool refusal_log_note(struct refusal_log *rl, const struct netblock *block, unsigned reason,
		      const char *remote, const char *detail, uint64_t now_ms,
		      struct refusal_record *ret);
/* Emits the records that are due (windows that ended with refusals counted, the untracked
 * summary); returns the milliseconds until the next one may be due, or -1 for none. */
int64_t refusal_log_flush(struct refusal_log *rl, uint64_t now_ms, refusal_emit_fn emit,
			  void *userdata);
