/* Per-source penalties, in the spirit of OpenSSH 9.8's PerSourcePenalties: a connection that
 * crashes, fails to authenticate, runs out of LoginGraceTime or never tries earns its source
 * block (PerSourceNetBlockSize) a penalty. Penalties of one block add up to a cap (max); once
 * more than min is owed the listener refuses the block until the time owed has run out.
 *
 * The table is bounded per address family (max-sources4, max-sources6). When it is full,
 * overflow:permissive forgets the penalty closest to its end (possibly the new one), and
 * overflow:deny-all refuses every new connection of that family, exempt sources aside, until
 * entries expire. Exempt sources (PerSourcePenaltyExemptList) earn nothing and are never refused.
 *
 * Listener-only state, pure: no sockets, no clock of its own (callers pass CLOCK_MONOTONIC
 * milliseconds, tests a fake clock). */
#pragma once

#include "common/config_file.h"
#include "common/netblock.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum source_penalty_kind {
	SOURCE_PENALTY_NONE,
	SOURCE_PENALTY_CRASH,	 /* the connection's network child or monitor crashed */
	SOURCE_PENALTY_AUTHFAIL, /* authentication was attempted and never succeeded */
	SOURCE_PENALTY_NOAUTH,	 /* the connection ended without trying to authenticate */
	SOURCE_PENALTY_GRACE,	 /* LoginGraceTime ran out */
};

enum source_penalty_verdict {
	SOURCE_PENALTY_ALLOW,
	SOURCE_PENALTY_REFUSE,	    /* the block is serving a penalty */
	SOURCE_PENALTY_REFUSE_FULL, /* overflow deny-all and the family's table is full */
};

enum source_penalty_result {
	SOURCE_PENALTY_IGNORED,	  /* penalties off, exempt source, or a zero penalty */
	SOURCE_PENALTY_RECORDED,  /* owed time grew; the block is not (or already was) refused */
	SOURCE_PENALTY_ACTIVATED, /* the block is refused from now on */
	SOURCE_PENALTY_DROPPED,	  /* the table is full: deny-all could not record it, or
				     permissive forgot it as the entry closest to its end */
};

/* One entry, for the log, the audit trail and sandboxctl penalties. */
struct source_penalty_info {
	struct netblock block;
	enum source_penalty_kind reason; /* of the latest penalty */
	bool active;			 /* connections from the block are refused */
	uint64_t left_ms;		 /* until the entry expires */
};

struct source_penalties;

int source_penalties_new(struct source_penalties **ret);
void source_penalties_free(struct source_penalties *sp);
/* (Re)configures from the PerSource* keywords. Penalties already earned are kept across a
 * reload: a coarser PerSourceNetBlockSize merges them into the new blocks, a finer one keeps
 * the old blocks until they expire; a smaller max-sources forgets those closest to their end;
 * PerSourcePenalties no forgets them all. */
int source_penalties_configure(struct source_penalties *sp, const struct config_per_source *cfg,
			       uint64_t now_ms);
/* Is ADDR (a full address, /32 or /128) in PerSourcePenaltyExemptList? */
bool source_penalties_exempt(const struct source_penalties *sp, const struct netblock *addr);
/* May a connection from ADDR start now? When refused for a penalty, *ret (if not NULL)
 * describes the entry. */
enum source_penalty_verdict source_penalties_check(struct source_penalties *sp,
						   const struct netblock *addr, uint64_t now_ms,
						   struct source_penalty_info *ret);
/* Adds the penalty of KIND for a connection from ADDR to its block; *ret (if not NULL)
 * describes the entry afterwards (for ACTIVATED: the block, the reason and how long it is
 * refused). */
enum source_penalty_result source_penalties_add(struct source_penalties *sp,
						const struct netblock *addr,
						enum source_penalty_kind kind, uint64_t now_ms,
						struct source_penalty_info *ret);
/* Entries held (refused or still below min); *ret_active (if not NULL) counts the refused. */
size_t source_penalties_count(struct source_penalties *sp, uint64_t now_ms, size_t *ret_active);
/* Every live entry, refused ones first, then by time left (longest first); the caller frees
 * *ret. Returns the count or -ENOMEM. */
int source_penalties_list(const struct source_penalties *sp, uint64_t now_ms,
			  struct source_penalty_info **ret);
/* Forgets the entries inside BLOCK and those whose block holds BLOCK (so an address lifts the
 * penalty of its block); NULL forgets all. Returns how many. */
size_t source_penalties_clear(struct source_penalties *sp, const struct netblock *block);
/* "crash", "authfail", "noauth", "grace-exceeded": the PerSourcePenalties words. */
const char *source_penalty_kind_name(enum source_penalty_kind kind);
/* "caused a crash", "failed authentication", ...: for the log. */
const char *source_penalty_kind_description(enum source_penalty_kind kind);
