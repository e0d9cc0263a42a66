/* Unit tests of the per-source penalty table with a fake clock: accumulation, the cap, the min
 * threshold, expiry, the exempt list, grouping by netblock (IPv4-mapped IPv6 included), both
 * overflow modes, reloads, clearing, and the hash and heap against a plain model. */
#include "config.h"

#include "common/cleanup.h"
#include "common/config_file.h"
#include "sshd-module/source_penalty.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#define S(x) ((uint64_t)(x)*1000)

static struct netblock addr(const char *text)
{
	struct netblock n;
	if (netblock_parse(text, &n) < 0)
		fail_msg("not an address: %s", text);
	return n;
}

/* The PerSource* keywords as a config file would give them. */
static struct config_per_source settings(const char *penalties, const char *block_size,
					 const char *exempt)
{
	struct sbx_config cfg;
	sbx_error err = {0};
	char opt[512];

	config_init(&cfg);
	snprintf(opt, sizeof(opt), "PerSourcePenalties=%s", penalties);
	if (config_apply_option(&cfg, opt, NULL, &err) < 0)
		fail_msg("%s", err.msg);
	if (block_size) {
		snprintf(opt, sizeof(opt), "PerSourceNetBlockSize=%s", block_size);
		if (config_apply_option(&cfg, opt, NULL, &err) < 0)
			fail_msg("%s", err.msg);
	}
	if (exempt) {
		snprintf(opt, sizeof(opt), "PerSourcePenaltyExemptList=%s", exempt);
		if (config_apply_option(&cfg, opt, NULL, &err) < 0)
			fail_msg("%s", err.msg);
	}
	struct config_per_source ps = cfg.per_source;
	config_free(&cfg);
	return ps;
}

static struct source_penalties *table(const char *penalties, const char *block_size,
				      const char *exempt)
{
	struct source_penalties *sp = NULL;
	struct config_per_source ps = settings(penalties, block_size, exempt);
	assert_int_equal(source_penalties_new(&sp), 0);
	assert_int_equal(source_penalties_configure(sp, &ps, 0), 0);
	return sp;
}

static enum source_penalty_verdict check(struct source_penalties *sp, const char *a, uint64_t now)
{
	struct netblock n = addr(a);
	return source_penalties_check(sp, &n, now, NULL);
}

static enum source_penalty_result add(struct source_penalties *sp, const char *a,
				      enum source_penalty_kind kind, uint64_t now)
{
	struct netblock n = addr(a);
	return source_penalties_add(sp, &n, kind, now, NULL);
}

static void test_penalties_accumulate_until_above_min(void **state)
{
	struct source_penalties *sp = table("authfail:5s min:12s max:60s", NULL, NULL);

	assert_int_equal(add(sp, "192.0.2.1", SOURCE_PENALTY_AUTHFAIL, S(100)),
			 SOURCE_PENALTY_RECORDED);
	assert_int_equal(check(sp, "192.0.2.1", S(100)), SOURCE_PENALTY_ALLOW);
	assert_int_equal(add(sp, "192.0.2.1", SOURCE_PENALTY_AUTHFAIL, S(101)),
			 SOURCE_PENALTY_RECORDED); /* 4 + 5 = 9 owed */
	assert_int_equal(check(sp, "192.0.2.1", S(101)), SOURCE_PENALTY_ALLOW);
	struct netblock a = addr("192.0.2.1");
	struct source_penalty_info info;
	/* 8 + 5 = 13 > 12: refused from now on, for the 13 s owed. */
	assert_int_equal(source_penalties_add(sp, &a, SOURCE_PENALTY_AUTHFAIL, S(102), &info),
			 SOURCE_PENALTY_ACTIVATED);
	assert_true(info.active);
	assert_int_equal(info.left_ms, S(13));
	assert_int_equal(info.reason, SOURCE_PENALTY_AUTHFAIL);
	assert_int_equal(check(sp, "192.0.2.1", S(102)), SOURCE_PENALTY_REFUSE);
	/* Another address is not affected. */
	assert_int_equal(check(sp, "192.0.2.2", S(102)), SOURCE_PENALTY_ALLOW);
	size_t active = 0;
	assert_int_equal(source_penalties_count(sp, S(102), &active), 1);
	assert_int_equal(active, 1);
	source_penalties_free(sp);
}

static void test_owed_time_is_capped_at_max(void **state)
{
	struct source_penalties *sp = table("crash:90s min:15s max:100s", NULL, NULL);
	struct netblock a = addr("2001:db8::7");
	struct source_penalty_info info;

	for (int i = 0; i < 5; i++)
		source_penalties_add(sp, &a, SOURCE_PENALTY_CRASH, S(10), &info);
	assert_int_equal(info.left_ms, S(100));
	assert_int_equal(source_penalties_check(sp, &a, S(109), &info), SOURCE_PENALTY_REFUSE);
	assert_int_equal(info.left_ms, S(1));
	assert_int_equal(source_penalties_check(sp, &a, S(110), NULL), SOURCE_PENALTY_ALLOW);
	source_penalties_free(sp);

	/* A single penalty longer than max is cut to max too. */
	sp = table("crash:10m min:15s max:1m", NULL, NULL);
	assert_int_equal(source_penalties_add(sp, &a, SOURCE_PENALTY_CRASH, S(0), &info),
			 SOURCE_PENALTY_ACTIVATED);
	assert_int_equal(info.left_ms, S(60));
	source_penalties_free(sp);
}

static void test_refusal_ends_when_the_penalty_expires(void **state)
{
	struct source_penalties *sp = table("crash:30s min:15s", NULL, NULL);

	assert_int_equal(add(sp, "198.51.100.9", SOURCE_PENALTY_CRASH, S(1000)),
			 SOURCE_PENALTY_ACTIVATED);
	/* Once refused, refused until the end, even when less than min is left. */
	assert_int_equal(check(sp, "198.51.100.9", S(1020)), SOURCE_PENALTY_REFUSE);
	assert_int_equal(check(sp, "198.51.100.9", S(1029)), SOURCE_PENALTY_REFUSE);
	assert_int_equal(check(sp, "198.51.100.9", S(1030)), SOURCE_PENALTY_ALLOW);
	assert_int_equal(source_penalties_count(sp, S(1030), NULL), 0);
	/* A penalty below min after expiry starts from nothing again. */
	assert_int_equal(add(sp, "198.51.100.9", SOURCE_PENALTY_NOAUTH, S(1031)),
			 SOURCE_PENALTY_RECORDED);
	assert_int_equal(check(sp, "198.51.100.9", S(1031)), SOURCE_PENALTY_ALLOW);
	assert_int_equal(source_penalties_count(sp, S(1032), NULL), 0);
	source_penalties_free(sp);
}

static void test_each_kind_uses_its_own_duration(void **state)
{
	struct source_penalties *sp =
	    table("crash:40s authfail:30s noauth:20s grace-exceeded:10s min:1s max:1h", NULL, NULL);
	static const struct {
		const char *a;
		enum source_penalty_kind kind;
		uint64_t ms;
	} cases[] = {
	    {"10.0.0.1", SOURCE_PENALTY_CRASH, S(40)},
	    {"10.0.0.2", SOURCE_PENALTY_AUTHFAIL, S(30)},
	    {"10.0.0.3", SOURCE_PENALTY_NOAUTH, S(20)},
	    {"10.0.0.4", SOURCE_PENALTY_GRACE, S(10)},
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		struct netblock a = addr(cases[i].a);
		struct source_penalty_info info;
		assert_int_equal(source_penalties_add(sp, &a, cases[i].kind, S(5), &info),
				 SOURCE_PENALTY_ACTIVATED);
		assert_int_equal(info.left_ms, cases[i].ms);
		assert_int_equal(info.reason, cases[i].kind);
	}
	assert_int_equal(add(sp, "10.0.0.5", SOURCE_PENALTY_NONE, S(5)), SOURCE_PENALTY_IGNORED);
	source_penalties_free(sp);

	/* A zero duration is no penalty at all. */
	sp = table("noauth:0s", NULL, NULL);
	assert_int_equal(add(sp, "10.0.0.6", SOURCE_PENALTY_NOAUTH, S(5)), SOURCE_PENALTY_IGNORED);
	assert_int_equal(source_penalties_count(sp, S(5), NULL), 0);
	source_penalties_free(sp);
}

static void test_names_of_kinds(void **state)
{
	assert_string_equal(source_penalty_kind_name(SOURCE_PENALTY_CRASH), "crash");
	assert_string_equal(source_penalty_kind_name(SOURCE_PENALTY_AUTHFAIL), "authfail");
	assert_string_equal(source_penalty_kind_name(SOURCE_PENALTY_NOAUTH), "noauth");
	assert_string_equal(source_penalty_kind_name(SOURCE_PENALTY_GRACE), "grace-exceeded");
	assert_string_equal(source_penalty_kind_description(SOURCE_PENALTY_AUTHFAIL),
			    "failed authentication");
}

static void test_penalties_off_record_and_refuse_nothing(void **state)
{
	struct source_penalties *sp = table("no", NULL, NULL);

	assert_int_equal(add(sp, "192.0.2.1", SOURCE_PENALTY_CRASH, S(1)), SOURCE_PENALTY_IGNORED);
	assert_int_equal(check(sp, "192.0.2.1", S(1)), SOURCE_PENALTY_ALLOW);
	source_penalties_free(sp);
}

static void test_exempt_sources_earn_nothing(void **state)
{
	struct source_penalties *sp =
	    table("crash:90s", "24", "192.0.2.0/28,2001:db8:1::/48,198.51.100.7");

	assert_int_equal(add(sp, "192.0.2.5", SOURCE_PENALTY_CRASH, S(1)), SOURCE_PENALTY_IGNORED);
	assert_int_equal(add(sp, "2001:db8:1:2::3", SOURCE_PENALTY_CRASH, S(1)),
			 SOURCE_PENALTY_IGNORED);
	assert_int_equal(add(sp, "198.51.100.7", SOURCE_PENALTY_CRASH, S(1)),
			 SOURCE_PENALTY_IGNORED);
	assert_int_equal(add(sp, "::ffff:198.51.100.7", SOURCE_PENALTY_CRASH, S(1)),
			 SOURCE_PENALTY_IGNORED);
	assert_int_equal(source_penalties_count(sp, S(1), NULL), 0);
	/* 192.0.2.20 shares the /24 but not the exempt /28: its penalty refuses the block, yet
	 * the exempt addresses in it still get through. */
	assert_int_equal(add(sp, "192.0.2.20", SOURCE_PENALTY_CRASH, S(1)),
			 SOURCE_PENALTY_ACTIVATED);
	assert_int_equal(check(sp, "192.0.2.21", S(2)), SOURCE_PENALTY_REFUSE);
	assert_int_equal(check(sp, "192.0.2.5", S(2)), SOURCE_PENALTY_ALLOW);
	struct netblock a = addr("192.0.2.5"), b = addr("192.0.2.200");
	assert_true(source_penalties_exempt(sp, &a));
	assert_false(source_penalties_exempt(sp, &b));
	source_penalties_free(sp);
}

static void test_sources_are_grouped_by_netblock(void **state)
{
	struct source_penalties *sp = table("crash:90s", "24:64", NULL);

	assert_int_equal(add(sp, "203.0.113.17", SOURCE_PENALTY_CRASH, S(1)),
			 SOURCE_PENALTY_ACTIVATED);
	assert_int_equal(check(sp, "203.0.113.200", S(2)), SOURCE_PENALTY_REFUSE);
	assert_int_equal(check(sp, "203.0.114.1", S(2)), SOURCE_PENALTY_ALLOW);
	/* An IPv4-mapped IPv6 peer is the IPv4 address it carries. */
	assert_int_equal(check(sp, "::ffff:203.0.113.99", S(2)), SOURCE_PENALTY_REFUSE);
	assert_int_equal(check(sp, "::ffff:203.0.115.99", S(2)), SOURCE_PENALTY_ALLOW);
	/* IPv6 by /64. */
	assert_int_equal(add(sp, "2001:db8:0:1::1", SOURCE_PENALTY_CRASH, S(1)),
			 SOURCE_PENALTY_ACTIVATED);
	assert_int_equal(check(sp, "2001:db8:0:1:ffff::9", S(2)), SOURCE_PENALTY_REFUSE);
	assert_int_equal(check(sp, "2001:db8:0:2::1", S(2)), SOURCE_PENALTY_ALLOW);

	/* Penalties of different addresses in one block add up. */
	source_penalties_free(sp);
	sp = table("authfail:6s min:10s", "24", NULL);
	assert_int_equal(add(sp, "::ffff:10.1.2.3", SOURCE_PENALTY_AUTHFAIL, S(1)),
			 SOURCE_PENALTY_RECORDED);
	struct netblock a = addr("10.1.2.4");
	struct source_penalty_info info;
	assert_int_equal(source_penalties_add(sp, &a, SOURCE_PENALTY_AUTHFAIL, S(1), &info),
			 SOURCE_PENALTY_ACTIVATED);
	char buf[NETBLOCK_STRLEN];
	netblock_format(&info.block, buf, sizeof(buf));
	assert_string_equal(buf, "10.1.2.0/24");
	assert_int_equal(source_penalties_count(sp, S(1), NULL), 1);
	source_penalties_free(sp);
}

static void test_overflow_permissive_forgets_the_entry_closest_to_its_end(void **state)
{
	struct source_penalties *sp =
	    table("crash:60s noauth:2s min:1s max-sources4:3", NULL, NULL);

	assert_int_equal(add(sp, "10.0.0.1", SOURCE_PENALTY_CRASH, S(0)), SOURCE_PENALTY_ACTIVATED);
	assert_int_equal(add(sp, "10.0.0.2", SOURCE_PENALTY_CRASH, S(10)),
			 SOURCE_PENALTY_ACTIVATED);
	assert_int_equal(add(sp, "10.0.0.3", SOURCE_PENALTY_CRASH, S(20)),
			 SOURCE_PENALTY_ACTIVATED);
	/* Full: a fourth forgets 10.0.0.1, the one ending first. */
	assert_int_equal(add(sp, "10.0.0.4", SOURCE_PENALTY_CRASH, S(30)),
			 SOURCE_PENALTY_ACTIVATED);
	assert_int_equal(source_penalties_count(sp, S(30), NULL), 3);
	assert_int_equal(check(sp, "10.0.0.1", S(30)), SOURCE_PENALTY_ALLOW);
	assert_int_equal(check(sp, "10.0.0.2", S(30)), SOURCE_PENALTY_REFUSE);
	assert_int_equal(check(sp, "10.0.0.4", S(30)), SOURCE_PENALTY_REFUSE);
	/* A new penalty that would end first is itself the one forgotten. */
	assert_int_equal(add(sp, "10.0.0.5", SOURCE_PENALTY_NOAUTH, S(31)), SOURCE_PENALTY_DROPPED);
	assert_int_equal(check(sp, "10.0.0.2", S(31)), SOURCE_PENALTY_REFUSE);
	/* IPv6 has its own table. */
	assert_int_equal(add(sp, "2001:db8::1", SOURCE_PENALTY_CRASH, S(31)),
			 SOURCE_PENALTY_ACTIVATED);
	assert_int_equal(source_penalties_count(sp, S(31), NULL), 4);
	source_penalties_free(sp);
}

static void test_overflow_deny_all_refuses_the_family_while_full(void **state)
{
	struct source_penalties *sp = table(
	    "crash:60s noauth:5s min:10s max-sources4:2 overflow:deny-all", NULL, "10.9.0.0/16");

	assert_int_equal(add(sp, "10.0.0.1", SOURCE_PENALTY_NOAUTH, S(0)), SOURCE_PENALTY_RECORDED);
	assert_int_equal(check(sp, "10.0.0.3", S(0)), SOURCE_PENALTY_ALLOW);
	assert_int_equal(add(sp, "10.0.0.2", SOURCE_PENALTY_CRASH, S(0)), SOURCE_PENALTY_ACTIVATED);
	/* Full: every IPv4 source is refused, penalised or not, and nothing more is recorded. */
	assert_int_equal(check(sp, "10.0.0.3", S(1)), SOURCE_PENALTY_REFUSE_FULL);
	assert_int_equal(add(sp, "10.0.0.3", SOURCE_PENALTY_CRASH, S(1)), SOURCE_PENALTY_DROPPED);
	/* ...but an existing entry still accumulates. */
	assert_int_equal(add(sp, "10.0.0.1", SOURCE_PENALTY_NOAUTH, S(1)), SOURCE_PENALTY_RECORDED);
	/* Exempt sources and the other family are not affected. */
	assert_int_equal(check(sp, "10.9.1.1", S(1)), SOURCE_PENALTY_ALLOW);
	assert_int_equal(check(sp, "2001:db8::1", S(1)), SOURCE_PENALTY_ALLOW);
	/* Once the entry below min expires (owed until 10 s), there is room again. */
	assert_int_equal(check(sp, "10.0.0.3", S(9)), SOURCE_PENALTY_REFUSE_FULL);
	assert_int_equal(check(sp, "10.0.0.3", S(10)), SOURCE_PENALTY_ALLOW);
	source_penalties_free(sp);
}

static void test_reload_keeps_penalties(void **state)
{
	struct source_penalties *sp = table("crash:60s authfail:5s min:15s", "32", NULL);
	struct config_per_source ps;

	assert_int_equal(add(sp, "10.1.1.1", SOURCE_PENALTY_CRASH, S(0)), SOURCE_PENALTY_ACTIVATED);
	assert_int_equal(add(sp, "10.1.1.2", SOURCE_PENALTY_AUTHFAIL, S(0)),
			 SOURCE_PENALTY_RECORDED);
	assert_int_equal(add(sp, "10.1.2.1", SOURCE_PENALTY_AUTHFAIL, S(0)),
			 SOURCE_PENALTY_RECORDED);

	/* The same settings again: nothing changes. */
	ps = settings("crash:60s authfail:5s min:15s", "32", NULL);
	assert_int_equal(source_penalties_configure(sp, &ps, S(1)), 0);
	assert_int_equal(source_penalties_count(sp, S(1), NULL), 3);
	assert_int_equal(check(sp, "10.1.1.1", S(1)), SOURCE_PENALTY_REFUSE);
	assert_int_equal(check(sp, "10.1.1.3", S(1)), SOURCE_PENALTY_ALLOW);

	/* Coarser blocks: entries merge into their /24, the longest expiry and any refusal win. */
	ps = settings("crash:60s authfail:5s min:15s", "24", NULL);
	assert_int_equal(source_penalties_configure(sp, &ps, S(2)), 0);
	assert_int_equal(source_penalties_count(sp, S(2), NULL), 2);
	assert_int_equal(check(sp, "10.1.1.77", S(2)), SOURCE_PENALTY_REFUSE);
	assert_int_equal(check(sp, "10.1.2.77", S(2)), SOURCE_PENALTY_ALLOW);

	/* Finer blocks again: the /24 entry stays until it expires and still refuses. */
	ps = settings("crash:60s authfail:5s min:15s", "32", NULL);
	assert_int_equal(source_penalties_configure(sp, &ps, S(3)), 0);
	assert_int_equal(check(sp, "10.1.1.200", S(3)), SOURCE_PENALTY_REFUSE);
	assert_int_equal(add(sp, "10.1.1.200", SOURCE_PENALTY_AUTHFAIL, S(3)),
			 SOURCE_PENALTY_RECORDED);
	assert_int_equal(source_penalties_count(sp, S(3), NULL), 3);
	assert_int_equal(check(sp, "10.1.1.200", S(61)), SOURCE_PENALTY_ALLOW);

	/* A smaller max-sources forgets those closest to their end. */
	assert_int_equal(add(sp, "10.7.0.1", SOURCE_PENALTY_CRASH, S(10)),
			 SOURCE_PENALTY_ACTIVATED);
	ps = settings("crash:60s authfail:5s min:15s max-sources4:1", "32", NULL);
	assert_int_equal(source_penalties_configure(sp, &ps, S(11)), 0);
	assert_int_equal(source_penalties_count(sp, S(11), NULL), 1);
	assert_int_equal(check(sp, "10.7.0.1", S(11)), SOURCE_PENALTY_REFUSE);

	/* New durations apply to new penalties, not to time already owed. */
	ps = settings("crash:5s authfail:5s min:1s", "32", NULL);
	assert_int_equal(source_penalties_configure(sp, &ps, S(12)), 0);
	assert_int_equal(check(sp, "10.7.0.1", S(60)), SOURCE_PENALTY_REFUSE);

	/* PerSourcePenalties no forgets them all. */
	ps = settings("no", "32", NULL);
	assert_int_equal(source_penalties_configure(sp, &ps, S(13)), 0);
	assert_int_equal(source_penalties_count(sp, S(13), NULL), 0);
	assert_int_equal(check(sp, "10.7.0.1", S(13)), SOURCE_PENALTY_ALLOW);
	source_penalties_free(sp);
}

static void test_clear_lifts_blocks(void **state)
{
	struct source_penalties *sp = table("crash:60s", "24:48", NULL);

	add(sp, "10.1.1.1", SOURCE_PENALTY_CRASH, S(0));
	add(sp, "10.1.2.1", SOURCE_PENALTY_CRASH, S(0));
	add(sp, "10.2.0.1", SOURCE_PENALTY_CRASH, S(0));
	add(sp, "2001:db8:1::1", SOURCE_PENALTY_CRASH, S(0));
	/* An address lifts the block that holds it. */
	struct netblock b = addr("10.1.1.99");
	assert_int_equal(source_penalties_clear(sp, &b), 1);
	assert_int_equal(check(sp, "10.1.1.1", S(1)), SOURCE_PENALTY_ALLOW);
	assert_int_equal(check(sp, "10.1.2.1", S(1)), SOURCE_PENALTY_REFUSE);
	/* A CIDR block lifts every block inside it. */
	b = addr("10.0.0.0/8");
	assert_int_equal(source_penalties_clear(sp, &b), 2);
	b = addr("192.0.2.0/24");
	assert_int_equal(source_penalties_clear(sp, &b), 0);
	assert_int_equal(source_penalties_count(sp, S(1), NULL), 1);
	assert_int_equal(source_penalties_clear(sp, NULL), 1);
	assert_int_equal(source_penalties_count(sp, S(1), NULL), 0);
	source_penalties_free(sp);
}

static void test_list_shows_refused_first(void **state)
{
	struct source_penalties *sp = table("crash:60s authfail:5s min:15s", NULL, NULL);
	_cleanup_free_ struct source_penalty_info *list = NULL;
	char buf[NETBLOCK_STRLEN];

	add(sp, "10.0.0.1", SOURCE_PENALTY_AUTHFAIL, S(0));
	add(sp, "10.0.0.2", SOURCE_PENALTY_CRASH, S(0));
	add(sp, "2001:db8::2", SOURCE_PENALTY_CRASH, S(10));
	assert_int_equal(source_penalties_list(sp, S(20), &list), 2);
	/* At 20 s the authfail entry (5 s) is gone; the IPv6 crash has the most time left. */
	netblock_format(&list[0].block, buf, sizeof(buf));
	assert_string_equal(buf, "2001:db8::2/128");
	assert_int_equal(list[0].left_ms, S(50));
	netblock_format(&list[1].block, buf, sizeof(buf));
	assert_string_equal(buf, "10.0.0.2/32");
	free(list);
	list = NULL;
	assert_int_equal(source_penalties_list(sp, S(1), &list), 3);
	assert_true(list[0].active && list[1].active);
	assert_false(list[2].active);
	assert_string_equal(source_penalty_kind_name(list[2].reason), "authfail");
	source_penalties_free(sp);
}

/* Random adds, checks, clears and time against a plain array: the hash chains, the heap and
 * the moves on removal must never lose or confuse an entry. */
struct model_entry {
	struct netblock block;
	uint64_t expiry;
	bool active;
};

static void test_table_matches_a_plain_model(void **state)
{
	struct source_penalties *sp =
	    table("crash:7s authfail:3s noauth:1s min:5s max:20s max-sources4:300", "32", NULL);
	static struct model_entry model[400];
	size_t n = 0;
	uint64_t now = S(1);
	unsigned seed = 12345;

	for (int step = 0; step < 20000; step++) {
		seed = seed * 1103515245u + 12345u;
		unsigned r = (seed >> 8) % 1000;
		now += (seed >> 20) % 150;
		/* The model expires too. */
		for (size_t i = 0; i < n;)
			if (model[i].expiry <= now)
				model[i] = model[--n];
			else
				i++;
		char a[32];
		snprintf(a, sizeof(a), "10.0.%u.%u", (r / 7) % 2, r % 200);
		struct netblock block = addr(a);
		size_t k;
		for (k = 0; k < n; k++)
			if (netblock_equal(&model[k].block, &block))
				break;
		if (r < 600) {
			static const enum source_penalty_kind kinds[] = {
			    SOURCE_PENALTY_CRASH, SOURCE_PENALTY_AUTHFAIL, SOURCE_PENALTY_NOAUTH};
			static const uint64_t secs[] = {S(7), S(3), S(1)};
			size_t kind = (seed >> 4) % 3;
			enum source_penalty_result res =
			    source_penalties_add(sp, &block, kinds[kind], now, NULL);
			if (k < n) {
				uint64_t e = model[k].expiry + secs[kind];
				if (e - now > S(20))
					e = now + S(20);
				model[k].expiry = e;
				bool was = model[k].active;
				model[k].active |= e - now > S(5);
				assert_int_equal(res, !was && model[k].active
							  ? SOURCE_PENALTY_ACTIVATED
							  : SOURCE_PENALTY_RECORDED);
			} else {
				assert_true(n < 300); /* 400 addresses, but never that many alive */
				model[n++] = (struct model_entry){.block = block,
								  .expiry = now + secs[kind],
								  .active = secs[kind] > S(5)};
			}
		} else if (r < 990) {
			enum source_penalty_verdict v =
			    source_penalties_check(sp, &block, now, NULL);
			assert_int_equal(v, k < n && model[k].active ? SOURCE_PENALTY_REFUSE
								     : SOURCE_PENALTY_ALLOW);
		} else if (k < n) {
			assert_int_equal(source_penalties_clear(sp, &block), 1);
			model[k] = model[--n];
		}
		size_t active = 0, model_active = 0;
		assert_int_equal(source_penalties_count(sp, now, &active), n);
		for (size_t i = 0; i < n; i++)
			model_active += model[i].active;
		assert_int_equal(active, model_active);
	}
	source_penalties_free(sp);
}

/* A table at its bound keeps working: many sources, permissive overflow. */
static void test_many_sources_stay_bounded(void **state)
{
	struct source_penalties *sp = table("crash:60s min:15s max-sources6:5000", "32:128", NULL);

	for (unsigned i = 0; i < 20000; i++) {
		char a[64];
		snprintf(a, sizeof(a), "2001:db8::%x:%x", i >> 16, i & 0xffff);
		struct netblock b = addr(a);
		source_penalties_add(sp, &b, SOURCE_PENALTY_CRASH, S(1) + i, NULL);
	}
	assert_int_equal(source_penalties_count(sp, S(30), NULL), 5000);
	/* The newest survive (they end last). */
	assert_int_equal(check(sp, "2001:db8::0:4e1f", S(30)), SOURCE_PENALTY_REFUSE);
	assert_int_equal(check(sp, "2001:db8::0:1", S(30)), SOURCE_PENALTY_ALLOW);
	source_penalties_free(sp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_penalties_accumulate_until_above_min),
	    cmocka_unit_test(test_owed_time_is_capped_at_max),
	    cmocka_unit_test(test_refusal_ends_when_the_penalty_expires),
	    cmocka_unit_test(test_each_kind_uses_its_own_duration),
	    cmocka_unit_test(test_names_of_kinds),
	    cmocka_unit_test(test_penalties_off_record_and_refuse_nothing),
	    cmocka_unit_test(test_exempt_sources_earn_nothing),
	    cmocka_unit_test(test_sources_are_grouped_by_netblock),
	    cmocka_unit_test(test_overflow_permissive_forgets_the_entry_closest_to_its_end),
	    cmocka_unit_test(test_overflow_deny_all_refuses_the_family_while_full),
	    cmocka_unit_test(test_reload_keeps_penalties),
	    cmocka_unit_test(test_clear_lifts_blocks),
	    cmocka_unit_test(test_list_shows_refused_first),
	    cmocka_unit_test(test_table_matches_a_plain_model),
	    cmocka_unit_test(test_many_sources_stay_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
