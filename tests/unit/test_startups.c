/* Unit tests of the listener's admission policy: MaxStartups' random early drop,
 * PerSourceMaxStartups, and the fairer drop that makes the busiest block give way. */
#include "config.h"

#include "common/cleanup.h"
#include "sshd-module/startups.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static struct netblock block(const char *text)
{
	struct netblock n;
	if (netblock_parse(text, &n) < 0)
		fail_msg("not a block: %s", text);
	return n;
}

static struct startups_pending pend(const char *b, uint64_t started, bool exempt)
{
	return (struct startups_pending){
	    .block = block(b), .started_ms = started, .exempt = exempt};
}

static void test_drop_percent_rises_from_rate_to_full(void **state)
{
	const struct startups_params p = {.begin = 10, .rate = 30, .full = 100};

	assert_int_equal(startups_drop_percent(&p, 0), 0);
	assert_int_equal(startups_drop_percent(&p, 9), 0);
	assert_int_equal(startups_drop_percent(&p, 10), 30);
	assert_int_equal(startups_drop_percent(&p, 55), 65);
	assert_int_equal(startups_drop_percent(&p, 99), 99);
	assert_int_equal(startups_drop_percent(&p, 100), 100);
	assert_int_equal(startups_drop_percent(&p, 4000), 100);
	const struct startups_params one = {.begin = 1, .rate = 100, .full = 1};
	assert_int_equal(startups_drop_percent(&one, 0), 0);
	assert_int_equal(startups_drop_percent(&one, 1), 100);
}

static void test_below_start_everyone_is_admitted(void **state)
{
	const struct startups_params p = {.begin = 3, .rate = 30, .full = 5};
	struct startups_pending q[] = {pend("10.0.0.1/32", 1, false),
				       pend("10.0.0.1/32", 2, false)};
	struct netblock b = block("10.0.0.1/32");
	size_t victim = 99;

	assert_int_equal(startups_decide(&p, q, 2, &b, false, 0, &victim), STARTUPS_ADMIT);
	assert_int_equal(victim, 99);
}

static void test_random_early_drop_follows_the_dice(void **state)
{
	const struct startups_params p = {.begin = 2, .rate = 50, .full = 10};
	struct startups_pending q[] = {pend("10.0.0.1/32", 1, false),
				       pend("10.0.0.1/32", 2, false)};
	struct netblock b = block("10.0.0.1/32");
	size_t victim;

	/* 2 pending: 50% drop; one block holds them all, so the newcomer from it is the one
	 * dropped. */
	assert_int_equal(startups_decide(&p, q, 2, &b, false, 50, &victim), STARTUPS_ADMIT);
	assert_int_equal(startups_decide(&p, q, 2, &b, false, 49, &victim), STARTUPS_REFUSE_FULL);
}

static void test_per_source_max_startups(void **state)
{
	const struct startups_params p = {.begin = 100, .rate = 30, .full = 100, .per_source = 2};
	struct startups_pending q[] = {pend("10.0.0.0/24", 1, false), pend("10.0.0.0/24", 2, false),
				       pend("10.0.1.0/24", 3, false)};
	struct netblock busy = block("10.0.0.0/24"), other = block("10.0.1.0/24");
	size_t victim;

	assert_int_equal(startups_decide(&p, q, 3, &busy, false, 99, &victim),
			 STARTUPS_REFUSE_PER_SOURCE);
	assert_int_equal(startups_decide(&p, q, 3, &other, false, 99, &victim), STARTUPS_ADMIT);
	/* The exempt list (a campus gateway) is not held to it. */
	assert_int_equal(startups_decide(&p, q, 3, &busy, true, 99, &victim), STARTUPS_ADMIT);
	/* none */
	const struct startups_params none = {.begin = 100, .rate = 30, .full = 100};
	assert_int_equal(startups_decide(&none, q, 3, &busy, false, 99, &victim), STARTUPS_ADMIT);
}

static void test_when_full_the_busiest_block_gives_way(void **state)
{
	const struct startups_params p = {.begin = 4, .rate = 100, .full = 4};
	/* 10.0.0.0/24 holds three (the youngest started at 30), 10.0.9.0/24 one. */
	struct startups_pending q[] = {
	    pend("10.0.0.0/24", 10, false), pend("10.0.9.0/24", 5, false),
	    pend("10.0.0.0/24", 30, false), pend("10.0.0.0/24", 20, false)};
	struct netblock idle = block("10.0.5.0/24"), busy = block("10.0.0.0/24"),
			small = block("10.0.9.0/24");
	size_t victim = 99;

	assert_int_equal(startups_decide(&p, q, 4, &idle, false, 0, &victim), STARTUPS_EVICT);
	assert_int_equal(victim, 2);
	/* A block with one pending still has fewer than the busiest: it may evict too. */
	assert_int_equal(startups_decide(&p, q, 4, &small, false, 0, &victim), STARTUPS_EVICT);
	assert_int_equal(victim, 2);
	/* The busiest block's own newcomer is the one refused. */
	assert_int_equal(startups_decide(&p, q, 4, &busy, false, 0, &victim), STARTUPS_REFUSE_FULL);
}

static void test_among_equal_blocks_the_oldest_gives_way(void **state)
{
	const struct startups_params p = {.begin = 3, .rate = 100, .full = 3};
	/* A flood from many blocks of one connection each. */
	struct startups_pending q[] = {pend("10.0.0.1/32", 50, false),
				       pend("10.0.0.2/32", 20, false),
				       pend("10.0.0.3/32", 70, false)};
	struct netblock fresh = block("10.0.0.4/32"), member = block("10.0.0.3/32");
	size_t victim = 99;

	assert_int_equal(startups_decide(&p, q, 3, &fresh, false, 0, &victim), STARTUPS_EVICT);
	assert_int_equal(victim, 1);
	/* A block that already has one pending is refused: it is among the busiest. */
	assert_int_equal(startups_decide(&p, q, 3, &member, false, 0, &victim),
			 STARTUPS_REFUSE_FULL);
}

static void test_exempt_connections_are_never_evicted(void **state)
{
	const struct startups_params p = {.begin = 3, .rate = 100, .full = 3};
	/* The gateway holds the most, but only the outsider may give way. */
	struct startups_pending q[] = {pend("192.0.2.1/32", 1, true), pend("192.0.2.1/32", 2, true),
				       pend("10.0.0.1/32", 3, false)};
	struct netblock fresh = block("10.0.0.2/32"), outsider = block("10.0.0.1/32");
	size_t victim = 99;

	/* Its weight (1) is what the newcomer is measured against. */
	assert_int_equal(startups_decide(&p, q, 3, &fresh, false, 0, &victim), STARTUPS_EVICT);
	assert_int_equal(victim, 2);
	assert_int_equal(startups_decide(&p, q, 3, &outsider, false, 0, &victim),
			 STARTUPS_REFUSE_FULL);
	/* Only exempt connections pending: nobody gives way. */
	const struct startups_params two = {.begin = 2, .rate = 100, .full = 2};
	assert_int_equal(startups_decide(&two, q, 2, &fresh, false, 0, &victim),
			 STARTUPS_REFUSE_FULL);
}

/* A many-block flood at full never keeps out a newcomer from a block with nothing pending. */
static void test_flood_of_many_blocks_cannot_lock_out_a_newcomer(void **state)
{
	const struct startups_params p = {.begin = 10, .rate = 30, .full = 60};
	_cleanup_free_ struct startups_pending *q = calloc(200, sizeof(*q));
	size_t n = 0, refused = 0;
	unsigned seed = 7;

	for (unsigned i = 0; i < 200; i++) {
		char b[32];
		snprintf(b, sizeof(b), "127.0.%u.%u/32", i / 200, 2 + i % 200);
		struct netblock nb = block(b);
		size_t victim;
		seed = seed * 1103515245u + 12345u;
		switch (startups_decide(&p, q, n, &nb, false, (seed >> 8) % 100, &victim)) {
		case STARTUPS_ADMIT:
			q[n++] = (struct startups_pending){.block = nb, .started_ms = i};
			break;
		case STARTUPS_EVICT:
			q[victim] = (struct startups_pending){.block = nb, .started_ms = i};
			break;
		default:
			refused++;
		}
	}
	assert_int_equal(refused, 0);
	assert_true(n <= 60);
	struct netblock student = block("127.0.0.1/32");
	size_t victim;
	for (unsigned r = 0; r < 100; r++)
		assert_int_not_equal(startups_decide(&p, q, n, &student, false, r, &victim),
				     STARTUPS_REFUSE_FULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_drop_percent_rises_from_rate_to_full),
	    cmocka_unit_test(test_below_start_everyone_is_admitted),
	    cmocka_unit_test(test_random_early_drop_follows_the_dice),
	    cmocka_unit_test(test_per_source_max_startups),
	    cmocka_unit_test(test_when_full_the_busiest_block_gives_way),
	    cmocka_unit_test(test_among_equal_blocks_the_oldest_gives_way),
	    cmocka_unit_test(test_exempt_connections_are_never_evicted),
	    cmocka_unit_test(test_flood_of_many_blocks_cannot_lock_out_a_newcomer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
