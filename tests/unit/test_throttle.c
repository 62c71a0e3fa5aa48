/* test_throttle.c: token bucket and in-flight cap on a hand-moved clock: burst, steady rate over a
 * simulated minute, rate changes taking effect within a second, the cap, pause, unlimited rate. */
#include <check.h>

#include "rekey/throttle.h"

/* Runs a poll loop like the rewrite engine's for `seconds` of clock time: wait as told, start every
 * request allowed, finish each at once. Returns how many started. */
static uint64_t drive(rk_throttle *t, rk_manual_clock *clock, double seconds)
{
	int64_t end = clock->ns + (int64_t)(seconds * RK_NS_PER_SEC);
	uint64_t started = 0;
	for (;;) {
		int64_t wait = rk_throttle_wait_ns(t);
		ck_assert_int_ge(wait, 0);
		if (wait > 0) {
			if (clock->ns + wait > end)
				break;
			clock->ns += wait;
			continue;
		}
		ck_assert_int_eq(rk_throttle_try_acquire(t), 1);
		rk_throttle_release(t);
		started++;
	}
	clock->ns = end;
	return started;
}

START_TEST(burst_then_steady_rate)
{
	rk_manual_clock clock = {1000};
	rk_throttle t;
	rk_throttle_init(&t, 10, 5, 0, rk_clock_manual(&clock));
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(rk_throttle_try_acquire(&t), 1);
	ck_assert_int_eq(rk_throttle_try_acquire(&t), 0);
	ck_assert_int_eq(rk_throttle_wait_ns(&t), 100 * RK_NS_PER_MS);
	clock.ns += 99 * RK_NS_PER_MS;
	ck_assert_int_eq(rk_throttle_try_acquire(&t), 0);
	ck_assert_int_eq(rk_throttle_wait_ns(&t), 1 * RK_NS_PER_MS);
	clock.ns += 1 * RK_NS_PER_MS;
	ck_assert_int_eq(rk_throttle_try_acquire(&t), 1);
	ck_assert_uint_eq(t.granted, 6);
	/* a long idle time does not bank more than the burst */
	clock.ns += 3600 * RK_NS_PER_SEC;
	ck_assert_uint_eq(drive(&t, &clock, 0.0001), 5);
}
END_TEST

START_TEST(rate_holds_over_a_minute)
{
	rk_manual_clock clock = {0};
	rk_throttle t;
	rk_throttle_init(&t, 200, 50, 0, rk_clock_manual(&clock));
	uint64_t n = drive(&t, &clock, 60);
	/* the burst plus 200/s for 60 s, give or take the token being earned at the very end */
	ck_assert_uint_ge(n, 50 + 12000 - 1);
	ck_assert_uint_le(n, 50 + 12000);
}
END_TEST

START_TEST(rate_change_takes_effect_within_a_second)
{
	rk_manual_clock clock = {0};
	rk_throttle t;
	rk_throttle_init(&t, 100, 100, 0, rk_clock_manual(&clock));
	drive(&t, &clock, 2);
	clock.ns += 5 * RK_NS_PER_SEC; /* idle: the bucket fills up to 100 */
	rk_throttle_set_rate(&t, 10);
	/* the first second after a slowdown: at most one second's worth of the new rate, plus what it earns
	 */
	uint64_t first = drive(&t, &clock, 1);
	ck_assert_uint_le(first, 20);
	ck_assert_uint_ge(first, 10);
	ck_assert_uint_eq(drive(&t, &clock, 10), 100);
	/* speeding up is immediate */
	rk_throttle_set_rate(&t, 1000);
	ck_assert_int_le(rk_throttle_wait_ns(&t), RK_NS_PER_MS);
	uint64_t fast = drive(&t, &clock, 1);
	ck_assert_uint_ge(fast, 999);
	ck_assert_uint_le(fast, 1001);
}
END_TEST

START_TEST(inflight_cap_blocks_until_release)
{
	rk_manual_clock clock = {0};
	rk_throttle t;
	rk_throttle_init(&t, 0, 0, 2, rk_clock_manual(&clock));
	ck_assert_int_eq(rk_throttle_try_acquire(&t), 1);
	ck_assert_int_eq(rk_throttle_try_acquire(&t), 1);
	ck_assert_int_eq(rk_throttle_try_acquire(&t), 0);
	ck_assert_int_eq(rk_throttle_wait_ns(&t), RK_THROTTLE_BLOCKED);
	clock.ns += RK_NS_PER_SEC; /* time does not help */
	ck_assert_int_eq(rk_throttle_try_acquire(&t), 0);
	rk_throttle_release(&t);
	ck_assert_int_eq(rk_throttle_wait_ns(&t), 0);
	ck_assert_int_eq(rk_throttle_try_acquire(&t), 1);
	ck_assert_uint_eq(t.inflight, 2);
	/* a cap with a rate: blocked by the cap even with tokens */
	rk_throttle_init(&t, 5, 5, 1, rk_clock_manual(&clock));
	ck_assert_int_eq(rk_throttle_try_acquire(&t), 1);
	ck_assert_int_eq(rk_throttle_wait_ns(&t), RK_THROTTLE_BLOCKED);
	rk_throttle_release(&t);
	rk_throttle_release(&t); /* an extra release is harmless */
	ck_assert_uint_eq(t.inflight, 0);
}
END_TEST

START_TEST(pause_and_unlimited)
{
	rk_manual_clock clock = {0};
	rk_throttle t;
	rk_throttle_init(&t, 0, 0, 0, rk_clock_manual(&clock));
	for (int i = 0; i < 100000; i++)
		ck_assert_int_eq(rk_throttle_try_acquire(&t), 1);
	ck_assert_int_eq(rk_throttle_wait_ns(&t), 0);
	rk_throttle_set_paused(&t, 1);
	ck_assert_int_eq(rk_throttle_try_acquire(&t), 0);
	ck_assert_int_eq(rk_throttle_wait_ns(&t), RK_THROTTLE_BLOCKED);
	rk_throttle_set_paused(&t, 0);
	ck_assert_int_eq(rk_throttle_try_acquire(&t), 1);
	/* from unlimited to a rate: the new rate holds at once; the automatic burst is one second's worth */
	rk_throttle_set_rate(&t, 50);
	ck_assert_double_eq(t.burst, 50);
	ck_assert_uint_le(drive(&t, &clock, 1), 100);
	ck_assert_uint_eq(drive(&t, &clock, 2), 100);
	clock.ns += 10 * RK_NS_PER_SEC; /* idle: a burst of one second's worth, no more */
	ck_assert_uint_eq(drive(&t, &clock, 0.0001), 50);
}
END_TEST

START_TEST(system_clock_is_monotonic)
{
	rk_clock sys = rk_clock_system();
	int64_t a = rk_clock_now(&sys), b = rk_clock_now(NULL);
	ck_assert_int_gt(a, 0);
	ck_assert_int_ge(b, a);
}
END_TEST

Suite *throttle_suite(void)
{
	Suite *s = suite_create("throttle");
	TCase *tc = tcase_create("throttle");
	tcase_add_test(tc, burst_then_steady_rate);
	tcase_add_test(tc, rate_holds_over_a_minute);
	tcase_add_test(tc, rate_change_takes_effect_within_a_second);
	tcase_add_test(tc, inflight_cap_blocks_until_release);
	tcase_add_test(tc, pause_and_unlimited);
	tcase_add_test(tc, system_clock_is_monotonic);
	suite_add_tcase(s, tc);
	return s;
}
