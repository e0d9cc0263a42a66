/* Which unauthenticated connection gives way when too many are waiting: MaxStartups'
 * start:rate:full random early drop, PerSourceMaxStartups, and a fairer drop between source
 * blocks. Pure (the caller passes the pending connections and a random number), so the policy
 * can be tested on its own.
 *
 * Fairness: when MaxStartups would drop a new connection whose block holds fewer pending
 * connections than the busiest block, the busiest block gives way instead: its youngest
 * pending connection is evicted and the new one admitted. Among equally busy blocks the one
 * with the oldest pending connection gives way. So a flood from one block (or many) cannot
 * keep a newcomer from an idle block out, a flood from many one-connection blocks evicts its
 * own oldest members first, and the busiest block's older connections live on to run into
 * LoginGraceTime (and its penalty). Connections from PerSourcePenaltyExemptList (the campus
 * gateway) are never evicted and are not held to PerSourceMaxStartups. */
#pragma once

#include "common/netblock.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct startups_params {
	unsigned begin, rate, full; /* MaxStartups */
	unsigned per_source;	    /* PerSourceMaxStartups; 0 is none */
};

/* A connection that has not authenticated yet. */
struct startups_pending {
	struct netblock block; /* its PerSourceNetBlockSize block */
	uint64_t started_ms;
	bool exempt; /* never evicted */
};

enum startups_verdict {
	STARTUPS_ADMIT,
	STARTUPS_EVICT,		    /* admit, after evicting *ret_victim */
	STARTUPS_REFUSE_PER_SOURCE, /* PerSourceMaxStartups */
	STARTUPS_REFUSE_FULL,	    /* MaxStartups, and its block is among the busiest */
};

/* Decides for a new connection from BLOCK given the N pending ones. RANDOM_PERCENT (0-99)
 * draws MaxStartups' random early drop. */
enum startups_verdict startups_decide(const struct startups_params *p,
				      const struct startups_pending *pending, size_t n,
				      const struct netblock *block, bool exempt,
				      unsigned random_percent, size_t *ret_victim);
/* MaxStartups' probability (percent) of dropping a new connection with N pending. */
unsigned startups_drop_percent(const struct startups_params *p, size_t n);
