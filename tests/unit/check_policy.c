/* check_policy.c - lease timing rules (daemon/policy.c), with no clock involved. */
#include <stdint.h>
#include <stdlib.h>

#include <check.h>

#include "../../daemon/policy.h"

/* Authority is 80% of the TTL. */
START_TEST(test_authority)
{
	ck_assert_int_eq(policy_authority_ms(2000), 1600);
	ck_assert_int_eq(policy_authority_ms(30000), 24000);
	ck_assert_int_eq(policy_authority_ms(1000), 800);
}
END_TEST

/* Server guidance is clamped to 100 ms .. ttl/2, ttl/3 when absent. */
START_TEST(test_renew_clamp)
{
	ck_assert_int_eq(policy_renew_delay(10000, 30000, 0), 10000);
	ck_assert_int_eq(policy_renew_delay(-1, 30000, 0), 10000);	/* ttl/3 */
	ck_assert_int_eq(policy_renew_delay(29000, 30000, 0), 15000);	/* ttl/2 */
	ck_assert_int_eq(policy_renew_delay(0, 30000, 0), 100);
	ck_assert_int_eq(policy_renew_delay(5, 1000, 0), 100);
	/* A 1 s TTL: half of it at most, never below 100 ms. */
	ck_assert_int_eq(policy_renew_delay(5000, 1000, 0), 500);
}
END_TEST

/* Jitter makes renewals 0-10% earlier, never later, never more. */
START_TEST(test_renew_jitter)
{
	uint32_t rnd;
	int64_t d, lo = INT64_MAX, hi = 0;
	int i;

	ck_assert_int_eq(policy_renew_delay(10000, 30000, UINT32_MAX), 9000);
	srandom(1);
	for (i = 0; i < 10000; i++) {
		rnd = policy_rand32();
		d = policy_renew_delay(10000, 30000, rnd);
		ck_assert_int_ge(d, 9000);
		ck_assert_int_le(d, 10000);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	/* The spread is actually used. */
	ck_assert_int_lt(lo, 9100);
	ck_assert_int_gt(hi, 9900);
}
END_TEST

/* Renewal slots: on the grid, at most one grid step early, never late. */
START_TEST(test_renew_slot)
{
	int64_t now, d, r, grid;
	int i;

	ck_assert_int_eq(policy_renew_slot(12345, 10000), 10000 - 95);	/* grid 250 */
	ck_assert_int_eq(policy_renew_slot(12250, 10000), 10000);	/* on the grid */
	ck_assert_int_eq(policy_renew_slot(7, 100), 98);		/* grid 5 */
	ck_assert_int_eq(policy_renew_slot(7, 10), 10);			/* grid 1 */
	ck_assert_int_eq(policy_renew_slot(7, 0), 0);
	ck_assert_int_eq(policy_renew_slot(7, -5), 0);
	srandom(3);
	for (i = 0; i < 100000; i++) {
		now = policy_rand32();
		d = 1 + policy_rand32() % 20000;
		grid = d / 20 > 250 ? 250 : d / 20 < 1 ? 1 : d / 20;
		r = policy_renew_slot(now, d);
		ck_assert_int_le(r, d);
		ck_assert_int_gt(r, d - grid);
		ck_assert_int_eq((now + r) % grid, 0);
	}
	/* Leases due within one grid step of each other share the slot. */
	ck_assert_int_eq(1000 + policy_renew_slot(1000, 9950),
	    1037 + policy_renew_slot(1037, 9920));
}
END_TEST

/* The first renewal spreads over 25-100% of the clamped delay, never past it. */
START_TEST(test_first_renew)
{
	int buckets[4] = { 0, 0, 0, 0 };
	int64_t d;
	int i;

	ck_assert_int_eq(policy_first_renew_delay(10000, 30000, 0), 2500);
	ck_assert_int_eq(policy_first_renew_delay(10000, 30000, UINT32_MAX), 10000);
	/* Clamping applies first: a server guidance past ttl/2 is cut. */
	ck_assert_int_le(policy_first_renew_delay(60000, 30000, UINT32_MAX), 15000);
	srandom(2);
	for (i = 0; i < 30000; i++) {
		d = policy_first_renew_delay(10000, 30000, policy_rand32());
		ck_assert_int_ge(d, 2500);
		ck_assert_int_le(d, 10000);
		buckets[(d - 2500) * 4 / 7501]++;
	}
	/* Roughly uniform: each quarter of the window gets 20-30% of the leases. */
	for (i = 0; i < 4; i++) {
		ck_assert_int_gt(buckets[i], 6000);
		ck_assert_int_lt(buckets[i], 9000);
	}
}
END_TEST

/* Backoff doubles from 100 ms to 5 s with jitter in the upper half, and honours
 * retry_after_ms. */
START_TEST(test_backoff)
{
	unsigned a;

	ck_assert_int_eq(policy_backoff(0, -1, 0), 50);
	ck_assert_int_eq(policy_backoff(0, -1, UINT32_MAX), 100);
	ck_assert_int_eq(policy_backoff(1, -1, UINT32_MAX), 200);
	ck_assert_int_eq(policy_backoff(3, -1, UINT32_MAX), 800);
	for (a = 6; a < 40; a++) {
		ck_assert_int_le(policy_backoff(a, -1, UINT32_MAX), 5000);
		ck_assert_int_ge(policy_backoff(a, -1, 0), 2500);
	}
	ck_assert_int_eq(policy_backoff(0, 1234, 0), 1234);
	ck_assert_int_eq(policy_backoff(9, 20000, UINT32_MAX), 20000);
	/* A small retry_after_ms does not shorten the backoff. */
	ck_assert_int_eq(policy_backoff(3, 10, UINT32_MAX), 800);
}
END_TEST

/* policy_rand32 covers all 32 bits: random() alone gives 31, which halved every
 * jitter window (the bug this test is for). */
START_TEST(test_rand32)
{
	int high = 0, low = 0, i;
	uint32_t v;

	for (i = 0; i < 10000; i++) {
		v = policy_rand32();
		high += v >= 0x80000000u;
		low += v < 0x80000000u;
	}
	ck_assert_int_gt(high, 4000);
	ck_assert_int_gt(low, 4000);
}
END_TEST

/* The boot-time clock never runs behind the monotonic one. */
START_TEST(test_clocks)
{
	int64_t m = policy_mono_ms(), b = policy_boot_ms();

	ck_assert_int_ge(b, m);
	ck_assert_int_ge(policy_mono_ms(), m);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("policy");
	TCase	*tc = tcase_create("timing");
	SRunner	*sr;
	int	 failed;

	tcase_add_test(tc, test_authority);
	tcase_add_test(tc, test_renew_clamp);
	tcase_add_test(tc, test_renew_jitter);
	tcase_add_test(tc, test_first_renew);
	tcase_add_test(tc, test_renew_slot);
	tcase_add_test(tc, test_backoff);
	tcase_add_test(tc, test_rand32);
	tcase_add_test(tc, test_clocks);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
