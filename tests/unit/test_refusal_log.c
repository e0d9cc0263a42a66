/* Unit tests of the refusal records' rate limit with a fake clock: one record per block and
 * reason per window, late records with the count of what was not recorded, the shared token
 * bucket and the bounded table; records plus counts always add up to every refusal. */
#include "config.h"

#include "sshd-module/refusal_log.h"

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

struct sink {
	size_t records;
	uint64_t accounted; /* refusals the records stand for */
	struct refusal_record last;
};

static void sink_emit(void *userdata, const struct refusal_record *rec)
{
	struct sink *s = userdata;
	s->records++;
	s->accounted += rec->untracked ? rec->suppressed : 1 + rec->suppressed;
	s->last = *rec;
}

static bool note(struct refusal_log *rl, const char *b, unsigned reason, const char *remote,
		 uint64_t now, struct sink *s)
{
	struct netblock nb = block(b);
	struct refusal_record rec;
	bool r = refusal_log_note(rl, &nb, reason, remote, "detail", now, &rec);
	if (r)
		sink_emit(s, &rec);
	return r;
}

static void test_one_record_per_window_then_a_late_one_with_the_count(void **state)
{
	struct refusal_log *rl = NULL;
	struct sink s = {0};

	assert_int_equal(refusal_log_new(&rl), 0);
	assert_true(note(rl, "10.0.0.1/32", 1, "10.0.0.1:1000", 1000, &s));
	assert_int_equal(s.last.suppressed, 0);
	assert_string_equal(s.last.remote, "10.0.0.1:1000");
	assert_string_equal(s.last.detail, "detail");
	for (int i = 1; i <= 9; i++) {
		char remote[32];
		snprintf(remote, sizeof(remote), "10.0.0.1:%d", 1000 + i);
		assert_false(note(rl, "10.0.0.1/32", 1, remote, 1000 + (uint64_t)i * 100, &s));
	}
	/* Nothing due before the window ends. */
	int64_t next = refusal_log_flush(rl, 2000, sink_emit, &s);
	assert_int_equal(next, 1000 + REFUSAL_LOG_WINDOW_MS - 2000);
	assert_int_equal(s.records, 1);
	/* Then the last refusal gets its record, saying 8 others had none. */
	next = refusal_log_flush(rl, 1000 + REFUSAL_LOG_WINDOW_MS, sink_emit, &s);
	assert_int_equal(s.records, 2);
	assert_int_equal(s.last.suppressed, 8);
	assert_string_equal(s.last.remote, "10.0.0.1:1009");
	assert_int_equal(next, -1);
	assert_int_equal(s.accounted, 10);
	refusal_log_free(rl);
}

static void test_a_refusal_after_the_window_carries_the_count(void **state)
{
	struct refusal_log *rl = NULL;
	struct sink s = {0};

	assert_int_equal(refusal_log_new(&rl), 0);
	assert_true(note(rl, "10.0.0.1/32", 1, "a", 0, &s));
	assert_false(note(rl, "10.0.0.1/32", 1, "b", 10, &s));
	assert_false(note(rl, "10.0.0.1/32", 1, "c", 20, &s));
	assert_true(note(rl, "10.0.0.1/32", 1, "d", REFUSAL_LOG_WINDOW_MS, &s));
	assert_int_equal(s.last.suppressed, 2);
	assert_string_equal(s.last.remote, "d");
	assert_int_equal(s.accounted, 4);
	refusal_log_free(rl);
}

static void test_blocks_and_reasons_are_counted_apart(void **state)
{
	struct refusal_log *rl = NULL;
	struct sink s = {0};

	assert_int_equal(refusal_log_new(&rl), 0);
	assert_true(note(rl, "10.0.0.1/32", 1, "a", 0, &s));
	assert_true(note(rl, "10.0.0.2/32", 1, "b", 0, &s));
	assert_true(note(rl, "10.0.0.1/32", 2, "c", 0, &s));
	assert_false(note(rl, "10.0.0.1/32", 1, "d", 1, &s));
	assert_int_equal(s.records, 3);
	refusal_log_free(rl);
}

static void test_a_flood_of_blocks_is_bounded_by_the_bucket(void **state)
{
	struct refusal_log *rl = NULL;
	struct sink s = {0};
	uint64_t refusals = 0, now = 0;

	assert_int_equal(refusal_log_new(&rl), 0);
	/* 10000 distinct sources in 10 s, then a minute of quiet. */
	for (unsigned i = 0; i < 10000; i++, now++) {
		char b[32];
		snprintf(b, sizeof(b), "10.%u.%u.%u/32", i >> 16, (i >> 8) & 255, i & 255);
		note(rl, b, 1, "x", now, &s);
		refusals++;
		refusal_log_flush(rl, now, sink_emit, &s);
	}
	size_t during = s.records;
	assert_true(during <= REFUSAL_LOG_BURST + 10 * REFUSAL_LOG_RATE + 1);
	for (; now < 70000; now += 50)
		refusal_log_flush(rl, now, sink_emit, &s);
	assert_int_equal(refusal_log_flush(rl, now, sink_emit, &s), -1);
	/* Every refusal is accounted for, in a record or a count. */
	assert_int_equal(s.accounted, refusals);
	assert_true(s.records <= during + 1);
	refusal_log_free(rl);
}

static void test_one_busy_block_gets_a_record_per_window(void **state)
{
	struct refusal_log *rl = NULL;
	struct sink s = {0};
	uint64_t refusals = 0;

	assert_int_equal(refusal_log_new(&rl), 0);
	/* 100 refusals a second for 60 s. */
	for (uint64_t now = 0; now < 60000; now += 10) {
		note(rl, "192.0.2.0/24", 3, "192.0.2.7:4000", now, &s);
		refusals++;
		refusal_log_flush(rl, now, sink_emit, &s);
	}
	for (uint64_t now = 60000; now < 70000; now += 100)
		refusal_log_flush(rl, now, sink_emit, &s);
	assert_true(s.records <= 60000 / REFUSAL_LOG_WINDOW_MS + 2);
	assert_int_equal(s.accounted, refusals);
	refusal_log_free(rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_one_record_per_window_then_a_late_one_with_the_count),
	    cmocka_unit_test(test_a_refusal_after_the_window_carries_the_count),
	    cmocka_unit_test(test_blocks_and_reasons_are_counted_apart),
	    cmocka_unit_test(test_a_flood_of_blocks_is_bounded_by_the_bucket),
	    cmocka_unit_test(test_one_busy_block_gets_a_record_per_window),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
