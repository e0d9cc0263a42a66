/* The penalty table: per address family, entries in a dense array, found through a hash of
 * the block (SipHash with a random key, so sources cannot be chosen to collide) and ordered by
 * expiry in a binary heap, which gives both the expiry sweep and permissive overflow's "the
 * entry closest to its end" in O(log n). */
#include "config.h"

#include "sshd-module/source_penalty.h"

#include "common/cleanup.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#define SP_MIN_CAP 64
#define SP_MS 1000ull

struct sp_entry {
	struct netblock block;
	uint64_t expiry_ms;
	uint32_t next;	   /* next entry in the hash chain, index + 1; 0 ends the chain */
	uint32_t heap_pos; /* where this entry sits in the heap */
	enum source_penalty_kind reason;
	bool active;
};

struct sp_table {
	struct sp_entry *e;
	uint32_t *heap; /* entry indices, a min-heap on expiry_ms */
	uint32_t *buckets;
	size_t n, cap, n_buckets, n_active;
	size_t max;
	bool deny_all;
	unsigned bits; /* the block size new penalties are keyed by */
	/* Entries per prefix length: after a reload to a finer PerSourceNetBlockSize the old,
	 * wider blocks stay until they expire, and a look-up tries each length in use. */
	unsigned prefix_count[129];
};

struct source_penalties {
	struct config_per_source cfg;
	bool configured;
	uint64_t key[2];
	struct sp_table t4, t6;
};

#define SP_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SP_SIPROUND                                                                                \
	do {                                                                                       \
		v0 += v1;                                                                          \
		v1 = SP_ROTL(v1, 13);                                                              \
		v1 ^= v0;                                                                          \
		v0 = SP_ROTL(v0, 32);                                                              \
		v2 += v3;                                                                          \
		v3 = SP_ROTL(v3, 16);                                                              \
		v3 ^= v2;                                                                          \
		v0 += v3;                                                                          \
		v3 = SP_ROTL(v3, 21);                                                              \
		v3 ^= v0;                                                                          \
		v2 += v1;                                                                          \
		v1 = SP_ROTL(v1, 17);                                                              \
		v1 ^= v2;                                                                          \
		v2 = SP_ROTL(v2, 32);                                                              \
	} while (0)

/* SipHash-2-4. */
static uint64_t sp_siphash(const uint8_t *in, size_t len, const uint64_t k[2])
{
	uint64_t v0 = 0x736f6d6570736575ull ^ k[0], v1 = 0x646f72616e646f6dull ^ k[1];
	uint64_t v2 = 0x6c7967656e657261ull ^ k[0], v3 = 0x7465646279746573ull ^ k[1];
	uint64_t b = (uint64_t)len << 56;
	size_t whole = len - len % 8;

	for (size_t i = 0; i < whole; i += 8) {
		uint64_t m = 0;
		for (size_t j = 0; j < 8; j++)
			m |= (uint64_t)in[i + j] << (8 * j);
		v3 ^= m;
		SP_SIPROUND;
		SP_SIPROUND;
		v0 ^= m;
	}
	for (size_t j = 0; j < len % 8; j++)
		b |= (uint64_t)in[whole + j] << (8 * j);
	v3 ^= b;
	SP_SIPROUND;
	SP_SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SP_SIPROUND;
	SP_SIPROUND;
	SP_SIPROUND;
	SP_SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

static size_t sp_bucket(const struct source_penalties *sp, const struct sp_table *t,
			const struct netblock *block)
{
	uint8_t buf[2 + sizeof(block->addr)];
	buf[0] = (uint8_t)block->family;
	buf[1] = (uint8_t)block->bits;
	memcpy(buf + 2, block->addr, sizeof(block->addr));
	return (size_t)(sp_siphash(buf, sizeof(buf), sp->key) & (t->n_buckets - 1));
}

static struct sp_table *sp_table_of(struct source_penalties *sp, int family)
{
	return family == AF_INET ? &sp->t4 : &sp->t6;
}

static bool sp_earlier(const struct sp_table *t, size_t a, size_t b)
{
	return t->e[t->heap[a]].expiry_ms < t->e[t->heap[b]].expiry_ms;
}

static void sp_heap_swap(struct sp_table *t, size_t a, size_t b)
{
	uint32_t tmp = t->heap[a];
	t->heap[a] = t->heap[b];
	t->heap[b] = tmp;
	t->e[t->heap[a]].heap_pos = (uint32_t)a;
	t->e[t->heap[b]].heap_pos = (uint32_t)b;
}

/* Restores the heap order around POS after its entry's expiry changed. */
static void sp_heap_fix(struct sp_table *t, size_t pos)
{
	while (pos > 0 && sp_earlier(t, pos, (pos - 1) / 2)) {
		sp_heap_swap(t, pos, (pos - 1) / 2);
		pos = (pos - 1) / 2;
	}
	for (;;) {
		size_t l = 2 * pos + 1, r = l + 1, least = pos;
		if (l < t->n && sp_earlier(t, l, least))
			least = l;
		if (r < t->n && sp_earlier(t, r, least))
			least = r;
		if (least == pos)
			return;
		sp_heap_swap(t, pos, least);
		pos = least;
	}
}

static size_t sp_find(const struct source_penalties *sp, const struct sp_table *t,
		      const struct netblock *block)
{
	if (t->n == 0)
		return SIZE_MAX;
	for (uint32_t i = t->buckets[sp_bucket(sp, t, block)]; i; i = t->e[i - 1].next)
		if (netblock_equal(&t->e[i - 1].block, block))
			return i - 1;
	return SIZE_MAX;
}

static void sp_chain_push(const struct source_penalties *sp, struct sp_table *t, size_t i)
{
	size_t b = sp_bucket(sp, t, &t->e[i].block);
	t->e[i].next = t->buckets[b];
	t->buckets[b] = (uint32_t)i + 1;
}

static int sp_grow(const struct source_penalties *sp, struct sp_table *t)
{
	size_t cap = t->cap ? 2 * t->cap : SP_MIN_CAP;
	struct sp_entry *e = realloc(t->e, cap * sizeof(*e));
	if (!e)
		return -ENOMEM;
	t->e = e;
	uint32_t *heap = realloc(t->heap, cap * sizeof(*heap));
	if (!heap)
		return -ENOMEM;
	t->heap = heap;
	uint32_t *buckets = calloc(cap, sizeof(*buckets));
	if (!buckets)
		return -ENOMEM;
	free(t->buckets);
	t->buckets = buckets;
	t->n_buckets = cap; /* a power of two, as the mask in sp_bucket needs */
	t->cap = cap;
	for (size_t i = 0; i < t->n; i++)
		sp_chain_push(sp, t, i);
	return 0;
}

static int sp_insert(const struct source_penalties *sp, struct sp_table *t,
		     const struct netblock *block, uint64_t expiry_ms,
		     enum source_penalty_kind reason, bool active)
{
	if (t->n == t->cap || t->n >= UINT32_MAX - 1) {
		int r = t->n >= UINT32_MAX - 1 ? -ENOSPC : sp_grow(sp, t);
		if (r < 0)
			return r;
	}
	size_t i = t->n++;
	t->e[i] = (struct sp_entry){.block = *block,
				    .expiry_ms = expiry_ms,
				    .heap_pos = (uint32_t)i,
				    .reason = reason,
				    .active = active};
	t->heap[i] = (uint32_t)i;
	sp_chain_push(sp, t, i);
	sp_heap_fix(t, i);
	t->prefix_count[block->bits]++;
	t->n_active += active;
	return 0;
}

static void sp_remove(const struct source_penalties *sp, struct sp_table *t, size_t i)
{
	size_t last = t->n - 1, pos = t->e[i].heap_pos;
	uint32_t *p;

	/* Out of the heap: the last heap slot takes its place. */
	if (pos != last) {
		sp_heap_swap(t, pos, last);
		t->n--;
		sp_heap_fix(t, pos);
		t->n++;
	}
	/* Out of its chain. */
	for (p = &t->buckets[sp_bucket(sp, t, &t->e[i].block)]; *p != i + 1; p = &t->e[*p - 1].next)
		;
	*p = t->e[i].next;
	t->prefix_count[t->e[i].block.bits]--;
	t->n_active -= t->e[i].active;
	/* The last entry moves into the hole. */
	if (i != last) {
		for (p = &t->buckets[sp_bucket(sp, t, &t->e[last].block)]; *p != last + 1;
		     p = &t->e[*p - 1].next)
			;
		*p = (uint32_t)i + 1;
		t->e[i] = t->e[last];
		t->heap[t->e[i].heap_pos] = (uint32_t)i;
	}
	t->n--;
}

static void sp_expire(const struct source_penalties *sp, struct sp_table *t, uint64_t now_ms)
{
	while (t->n > 0 && t->e[t->heap[0]].expiry_ms <= now_ms)
		sp_remove(sp, t, t->heap[0]);
}

/* Permissive overflow: the entries closest to their end give way. */
static void sp_trim(const struct source_penalties *sp, struct sp_table *t)
{
	while (t->n > t->max)
		sp_remove(sp, t, t->heap[0]);
}

static void sp_table_free(struct sp_table *t)
{
	free(t->e);
	free(t->heap);
	free(t->buckets);
	memset(t, 0, sizeof(*t));
}

int source_penalties_new(struct source_penalties **ret)
{
	struct source_penalties *sp = calloc(1, sizeof(*sp));
	if (!sp)
		return -ENOMEM;
	if (getrandom(sp->key, sizeof(sp->key), 0) != (ssize_t)sizeof(sp->key)) {
		free(sp);
		return -EIO;
	}
	sp->t4.bits = 32;
	sp->t6.bits = 128;
	sp->t4.max = sp->t6.max = SIZE_MAX;
	*ret = sp;
	return 0;
}

void source_penalties_free(struct source_penalties *sp)
{
	if (!sp)
		return;
	sp_table_free(&sp->t4);
	sp_table_free(&sp->t6);
	free(sp);
}

/* Re-keys every entry wider than the new block size into its new block, merging entries
 * that now share one. */
static int sp_rekey(struct source_penalties *sp, struct sp_table *t, unsigned bits)
{
	size_t n_moved = 0;
	struct sp_entry *moved = NULL;
	int r = 0;

	for (size_t i = t->n; i-- > 0;) {
		if (t->e[i].block.bits <= bits)
			continue;
		struct sp_entry *m = realloc(moved, (n_moved + 1) * sizeof(*m));
		if (!m) {
			r = -ENOMEM;
			break;
		}
		moved = m;
		moved[n_moved] = t->e[i];
		moved[n_moved++].block = netblock_mask(&t->e[i].block, bits);
		sp_remove(sp, t, i);
	}
	for (size_t k = 0; k < n_moved; k++) {
		size_t i = sp_find(sp, t, &moved[k].block);
		if (i == SIZE_MAX) {
			int q = sp_insert(sp, t, &moved[k].block, moved[k].expiry_ms,
					  moved[k].reason, moved[k].active);
			if (q < 0)
				r = q;
			continue;
		}
		struct sp_entry *e = &t->e[i];
		if (moved[k].expiry_ms > e->expiry_ms) {
			e->expiry_ms = moved[k].expiry_ms;
			e->reason = moved[k].reason;
			sp_heap_fix(t, e->heap_pos);
		}
		if (moved[k].active && !e->active) {
			e->active = true;
			t->n_active++;
		}
	}
	free(moved);
	return r;
}

int source_penalties_configure(struct source_penalties *sp, const struct config_per_source *cfg,
			       uint64_t now_ms)
{
	int r = 0;

	sp->cfg = *cfg;
	struct {
		struct sp_table *t;
		unsigned bits;
		size_t max;
		bool deny_all;
	} fam[] = {
	    {&sp->t4, cfg->netblock4, cfg->max_sources4, cfg->overflow_deny_all},
	    {&sp->t6, cfg->netblock6, cfg->max_sources6, cfg->overflow6_deny_all},
	};
	for (size_t f = 0; f < ELEMENTSOF(fam); f++) {
		struct sp_table *t = fam[f].t;
		if (!cfg->penalties)
			while (t->n > 0)
				sp_remove(sp, t, t->n - 1);
		sp_expire(sp, t, now_ms);
		if (t->n > 0 && fam[f].bits < t->bits) {
			int q = sp_rekey(sp, t, fam[f].bits);
			if (q < 0)
				r = q;
		}
		t->bits = fam[f].bits;
		t->max = fam[f].max;
		t->deny_all = fam[f].deny_all;
		sp_trim(sp, t);
	}
	sp->configured = true;
	return r;
}

bool source_penalties_exempt(const struct source_penalties *sp, const struct netblock *addr)
{
	for (size_t i = 0; i < sp->cfg.n_exempt; i++)
		if (netblock_contains(&sp->cfg.exempt[i], addr))
			return true;
	return false;
}

static void sp_info(const struct sp_entry *e, uint64_t now_ms, struct source_penalty_info *ret)
{
	if (!ret)
		return;
	*ret = (struct source_penalty_info){
	    .block = e->block,
	    .reason = e->reason,
	    .active = e->active,
	    .left_ms = e->expiry_ms > now_ms ? e->expiry_ms - now_ms : 0,
	};
}

enum source_penalty_verdict source_penalties_check(struct source_penalties *sp,
						   const struct netblock *addr, uint64_t now_ms,
						   struct source_penalty_info *ret)
{
	if (!sp->cfg.penalties || source_penalties_exempt(sp, addr))
		return SOURCE_PENALTY_ALLOW;
	struct sp_table *t = sp_table_of(sp, addr->family);
	sp_expire(sp, t, now_ms);
	if (t->deny_all && t->n >= t->max) {
		if (ret)
			*ret = (struct source_penalty_info){.block = netblock_mask(addr, t->bits)};
		return SOURCE_PENALTY_REFUSE_FULL;
	}
	for (unsigned bits = 0; bits <= addr->bits && t->n > 0; bits++) {
		if (t->prefix_count[bits] == 0)
			continue;
		struct netblock block = netblock_mask(addr, bits);
		size_t i = sp_find(sp, t, &block);
		if (i != SIZE_MAX && t->e[i].active) {
			sp_info(&t->e[i], now_ms, ret);
			return SOURCE_PENALTY_REFUSE;
		}
	}
	return SOURCE_PENALTY_ALLOW;
}

static unsigned sp_seconds(const struct config_per_source *cfg, enum source_penalty_kind kind)
{
	switch (kind) {
	case SOURCE_PENALTY_CRASH:
		return cfg->crash;
	case SOURCE_PENALTY_AUTHFAIL:
		return cfg->authfail;
	case SOURCE_PENALTY_NOAUTH:
		return cfg->noauth;
	case SOURCE_PENALTY_GRACE:
		return cfg->grace_exceeded;
	case SOURCE_PENALTY_NONE:
		break;
	}
	return 0;
}

enum source_penalty_result source_penalties_add(struct source_penalties *sp,
						const struct netblock *addr,
						enum source_penalty_kind kind, uint64_t now_ms,
						struct source_penalty_info *ret)
{
	const struct config_per_source *cfg = &sp->cfg;
	uint64_t penalty = sp_seconds(cfg, kind) * SP_MS, max = cfg->max * SP_MS,
		 min = cfg->min * SP_MS;

	if (!cfg->penalties || penalty == 0 || source_penalties_exempt(sp, addr))
		return SOURCE_PENALTY_IGNORED;
	struct sp_table *t = sp_table_of(sp, addr->family);
	sp_expire(sp, t, now_ms);
	struct netblock block = netblock_mask(addr, t->bits);
	size_t i = sp_find(sp, t, &block);

	if (i != SIZE_MAX) {
		/* Penalties add up, to at most max from now. */
		struct sp_entry *e = &t->e[i];
		uint64_t expiry = e->expiry_ms + penalty;
		if (expiry - now_ms > max)
			expiry = now_ms + max;
		e->expiry_ms = expiry;
		e->reason = kind;
		sp_heap_fix(t, e->heap_pos);
		bool activated = !e->active && expiry - now_ms > min;
		if (activated) {
			e->active = true;
			t->n_active++;
		}
		sp_info(e, now_ms, ret);
		return activated ? SOURCE_PENALTY_ACTIVATED : SOURCE_PENALTY_RECORDED;
	}
	if (t->n >= t->max && t->deny_all)
		return SOURCE_PENALTY_DROPPED;
	if (penalty > max)
		penalty = max;
	bool active = penalty > min;
	if (sp_insert(sp, t, &block, now_ms + penalty, kind, active) < 0)
		return SOURCE_PENALTY_DROPPED;
	sp_trim(sp, t);
	i = sp_find(sp, t, &block);
	if (i == SIZE_MAX)
		return SOURCE_PENALTY_DROPPED;
	sp_info(&t->e[i], now_ms, ret);
	return active ? SOURCE_PENALTY_ACTIVATED : SOURCE_PENALTY_RECORDED;
}

size_t source_penalties_count(struct source_penalties *sp, uint64_t now_ms, size_t *ret_active)
{
	sp_expire(sp, &sp->t4, now_ms);
	sp_expire(sp, &sp->t6, now_ms);
	if (ret_active)
		*ret_active = sp->t4.n_active + sp->t6.n_active;
	return sp->t4.n + sp->t6.n;
}

static int sp_info_cmp(const void *a, const void *b)
{
	const struct source_penalty_info *x = a, *y = b;
	if (x->active != y->active)
		return x->active ? -1 : 1;
	if (x->left_ms != y->left_ms)
		return x->left_ms > y->left_ms ? -1 : 1;
	return memcmp(&x->block, &y->block, sizeof(x->block));
}

int source_penalties_list(const struct source_penalties *sp, uint64_t now_ms,
			  struct source_penalty_info **ret)
{
	const struct sp_table *tables[] = {&sp->t4, &sp->t6};
	size_t n = 0;
	struct source_penalty_info *list = calloc(sp->t4.n + sp->t6.n + 1, sizeof(*list));

	if (!list)
		return -ENOMEM;
	for (size_t k = 0; k < ELEMENTSOF(tables); k++)
		for (size_t i = 0; i < tables[k]->n; i++)
			if (tables[k]->e[i].expiry_ms > now_ms)
				sp_info(&tables[k]->e[i], now_ms, &list[n++]);
	qsort(list, n, sizeof(*list), sp_info_cmp);
	*ret = list;
	return (int)n;
}

size_t source_penalties_clear(struct source_penalties *sp, const struct netblock *block)
{
	struct sp_table *tables[] = {&sp->t4, &sp->t6};
	size_t cleared = 0;

	for (size_t k = 0; k < ELEMENTSOF(tables); k++) {
		struct sp_table *t = tables[k];
		/* From the end: a removal moves the last entry, already looked at, into the hole.
		 */
		for (size_t i = t->n; i-- > 0;) {
			const struct netblock *b = &t->e[i].block;
			if (block && !netblock_contains(block, b) && !netblock_contains(b, block))
				continue;
			sp_remove(sp, t, i);
			cleared++;
		}
	}
	return cleared;
}

const char *source_penalty_kind_name(enum source_penalty_kind kind)
{
	switch (kind) {
	case SOURCE_PENALTY_CRASH:
		return "crash";
	case SOURCE_PENALTY_AUTHFAIL:
		return "authfail";
	case SOURCE_PENALTY_NOAUTH:
		return "noauth";
	case SOURCE_PENALTY_GRACE:
		return "grace-exceeded";
	case SOURCE_PENALTY_NONE:
		break;
	}
	return "none";
}

const char *source_penalty_kind_description(enum source_penalty_kind kind)
{
	switch (kind) {
	case SOURCE_PENALTY_CRASH:
		return "caused a crash";
	case SOURCE_PENALTY_AUTHFAIL:
		return "failed authentication";
	case SOURCE_PENALTY_NOAUTH:
		return "connections without attempting authentication";
	case SOURCE_PENALTY_GRACE:
		return "exceeded LoginGraceTime";
	case SOURCE_PENALTY_NONE:
		break;
	}
	return "no penalty";
}
