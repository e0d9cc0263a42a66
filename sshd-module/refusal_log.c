#include "config.h"

#include "sshd-module/refusal_log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct refusal_entry {
	bool used;
	struct netblock block;
	unsigned reason;
	uint64_t window_end_ms; /* no record for this pair before then */
	uint64_t last_seen_ms;
	uint64_t suppressed;
	char remote[REFUSAL_LOG_REMOTE_LEN]; /* of the last refusal counted */
	char detail[REFUSAL_LOG_DETAIL_LEN];
};

struct refusal_log {
	struct refusal_entry entries[REFUSAL_LOG_ENTRIES];
	uint64_t tokens_milli; /* thousandths of a record */
	uint64_t refilled_ms;
	bool started;
	uint64_t untracked;
};

#define REFUSAL_LOG_BURST_MILLI ((uint64_t)REFUSAL_LOG_BURST * 1000)

int refusal_log_new(struct refusal_log **ret)
{
	struct refusal_log *rl = calloc(1, sizeof(*rl));
	if (!rl)
		return -ENOMEM;
	rl->tokens_milli = REFUSAL_LOG_BURST_MILLI;
	*ret = rl;
	return 0;
}

void refusal_log_free(struct refusal_log *rl)
{
	free(rl);
}

static void refusal_refill(struct refusal_log *rl, uint64_t now_ms)
{
	if (!rl->started) {
		rl->started = true;
		rl->refilled_ms = now_ms;
	}
	if (now_ms > rl->refilled_ms) {
		rl->tokens_milli += (now_ms - rl->refilled_ms) * REFUSAL_LOG_RATE;
		if (rl->tokens_milli > REFUSAL_LOG_BURST_MILLI)
			rl->tokens_milli = REFUSAL_LOG_BURST_MILLI;
		rl->refilled_ms = now_ms;
	}
}

static bool refusal_take(struct refusal_log *rl, uint64_t now_ms)
{
	refusal_refill(rl, now_ms);
	if (rl->tokens_milli < 1000)
		return false;
	rl->tokens_milli -= 1000;
	return true;
}

static void refusal_copy(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

static struct refusal_entry *refusal_find(struct refusal_log *rl, const struct netblock *block,
					  unsigned reason)
{
	for (size_t i = 0; i < REFUSAL_LOG_ENTRIES; i++) {
		struct refusal_entry *e = &rl->entries[i];
		if (e->used && e->reason == reason && netblock_equal(&e->block, block))
			return e;
	}
	return NULL;
}

/* A free entry, or the least recently seen one, whose count goes to the untracked sum. */
static struct refusal_entry *refusal_new_entry(struct refusal_log *rl)
{
	struct refusal_entry *lru = &rl->entries[0];
	for (size_t i = 0; i < REFUSAL_LOG_ENTRIES; i++) {
		struct refusal_entry *e = &rl->entries[i];
		if (!e->used)
			return e;
		if (e->last_seen_ms < lru->last_seen_ms)
			lru = e;
	}
	rl->untracked += lru->suppressed;
	return lru;
}

static void refusal_fill(struct refusal_record *rec, const struct refusal_entry *e,
			 uint64_t suppressed)
{
	*rec = (struct refusal_record){
	    .block = e->block, .reason = e->reason, .suppressed = suppressed};
	refusal_copy(rec->remote, sizeof(rec->remote), e->remote);
	refusal_copy(rec->detail, sizeof(rec->detail), e->detail);
}

bool refusal_log_note(struct refusal_log *rl, const struct netblock *block, unsigned reason,
		      const char *remote, const char *detail, uint64_t now_ms,
		      struct refusal_record *ret)
{
	struct refusal_entry *e = refusal_find(rl, block, reason);

	if (!e) {
		if (!refusal_take(rl, now_ms)) {
			rl->untracked++;
			return false;
		}
		e = refusal_new_entry(rl);
		*e = (struct refusal_entry){.used = true, .block = *block, .reason = reason};
		e->window_end_ms = now_ms + REFUSAL_LOG_WINDOW_MS;
		e->last_seen_ms = now_ms;
		refusal_copy(e->remote, sizeof(e->remote), remote);
		refusal_copy(e->detail, sizeof(e->detail), detail);
		refusal_fill(ret, e, 0);
		return true;
	}
	e->last_seen_ms = now_ms;
	refusal_copy(e->remote, sizeof(e->remote), remote);
	refusal_copy(e->detail, sizeof(e->detail), detail);
	if (now_ms < e->window_end_ms || !refusal_take(rl, now_ms)) {
		e->suppressed++;
		return false;
	}
	refusal_fill(ret, e, e->suppressed);
	e->suppressed = 0;
	e->window_end_ms = now_ms + REFUSAL_LOG_WINDOW_MS;
	return true;
}

int64_t refusal_log_flush(struct refusal_log *rl, uint64_t now_ms, refusal_emit_fn emit,
			  void *userdata)
{
	int64_t next = -1;
	struct refusal_record rec;

	for (size_t i = 0; i < REFUSAL_LOG_ENTRIES; i++) {
		struct refusal_entry *e = &rl->entries[i];
		if (!e->used || e->suppressed == 0)
			continue;
		if (now_ms >= e->window_end_ms && refusal_take(rl, now_ms)) {
			/* The last refusal counted gets its record late, with the others' count. */
			refusal_fill(&rec, e, e->suppressed - 1);
			e->suppressed = 0;
			e->window_end_ms = now_ms + REFUSAL_LOG_WINDOW_MS;
			emit(userdata, &rec);
			continue;
		}
		int64_t due = e->window_end_ms > now_ms ? (int64_t)(e->window_end_ms - now_ms) : 0;
		if (due == 0)
			due = 1000 / REFUSAL_LOG_RATE; /* waiting for a token */
		if (next < 0 || due < next)
			next = due;
	}
	if (rl->untracked > 0) {
		if (refusal_take(rl, now_ms)) {
			rec =
			    (struct refusal_record){.untracked = true, .suppressed = rl->untracked};
			rl->untracked = 0;
			emit(userdata, &rec);
		} else if (next < 0 || next > 1000 / REFUSAL_LOG_RATE) {
			next = 1000 / REFUSAL_LOG_RATE;
		}
	}
	return next;
}
