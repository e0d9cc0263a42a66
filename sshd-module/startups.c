#include "config.h"

#include "sshd-module/startups.h"

#include <stdlib.h>
#include <string.h>

unsigned startups_drop_percent(const struct startups_params *p, size_t n)
{
	if (n < p->begin)
		return 0;
	if (n >= p->full)
		return 100;
	/* OpenSSH's linear rise from rate% at start to 100% at full. */
	return p->rate + (unsigned)((100 - p->rate) * (n - p->begin) / (p->full - p->begin));
}

static int startups_block_cmp(const struct netblock *a, const struct netblock *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if (a->bits != b->bits)
		return a->bits < b->bits ? -1 : 1;
	return memcmp(a->addr, b->addr, sizeof(a->addr));
}

static int startups_index_cmp(const void *a, const void *b, void *base)
{
	const struct startups_pending *pending = base;
	return startups_block_cmp(&pending[*(const size_t *)a].block,
				  &pending[*(const size_t *)b].block);
}

/* The block that gives way: the most pending connections with at least one that may be
 * evicted, ties to the block whose oldest evictable connection is oldest. Returns its weight
 * and its youngest evictable connection, or 0 when nothing may be evicted. */
static size_t startups_busiest(const struct startups_pending *pending, size_t n, size_t *ret_victim)
{
	size_t *order = malloc((n ? n : 1) * sizeof(*order));
	size_t best_weight = 0;
	uint64_t best_oldest = 0;

	if (!order)
		return 0;
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	qsort_r(order, n, sizeof(*order), startups_index_cmp, (void *)pending);
	for (size_t run = 0; run < n;) {
		size_t end = run, youngest = SIZE_MAX;
		uint64_t oldest = UINT64_MAX;
		while (end < n && startups_block_cmp(&pending[order[end]].block,
						     &pending[order[run]].block) == 0) {
			const struct startups_pending *c = &pending[order[end]];
			if (!c->exempt) {
				if (youngest == SIZE_MAX ||
				    c->started_ms >= pending[youngest].started_ms)
					youngest = order[end];
				if (c->started_ms < oldest)
					oldest = c->started_ms;
			}
			end++;
		}
		size_t weight = end - run;
		if (youngest != SIZE_MAX &&
		    (weight > best_weight || (weight == best_weight && oldest < best_oldest))) {
			best_weight = weight;
			best_oldest = oldest;
			*ret_victim = youngest;
		}
		run = end;
	}
	free(order);
	return best_weight;
}

enum startups_verdict startups_decide(const struct startups_params *p,
				      const struct startups_pending *pending, size_t n,
				      const struct netblock *block, bool exempt,
				      unsigned random_percent, size_t *ret_victim)
{
	size_t mine = 0;

	for (size_t i = 0; i < n; i++)
		mine += netblock_equal(&pending[i].block, block);
	if (p->per_source && !exempt && mine >= p->per_source)
		return STARTUPS_REFUSE_PER_SOURCE;
	if (random_percent >= startups_drop_percent(p, n))
		return STARTUPS_ADMIT;
	size_t victim = SIZE_MAX;
	size_t busiest = startups_busiest(pending, n, &victim);
	if (busiest == 0 || mine >= busiest)
		return STARTUPS_REFUSE_FULL;
	*ret_victim = victim;
	return STARTUPS_EVICT;
}
