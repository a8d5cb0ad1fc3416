/* check_tslot.c - timers sharing expiry instants (daemon/tslot.c) on a real event loop. */
#include <stdlib.h>
#include <time.h>

#include <check.h>
#include <event2/event.h>

#include "../../daemon/tslot.h"

#define N	1000

struct item {
	struct tslot_ent	 ent;
	int			 fired;
	int			 order;
	struct item		*victim;	/* disarmed by this item's callback */
	int			 rearm;		/* re-arm for the same instant, once */
};

static struct event_base	*base;
static struct item		 items[N];
static int			 seq;
static int64_t			 t0;

/* Monotonic milliseconds. */
static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
item_cb(void *arg)
{
	struct item *it = arg;

	it->fired++;
	it->order = ++seq;
	if (it->victim != NULL)
		tslot_disarm(&it->victim->ent);
	if (it->rearm) {
		it->rearm = 0;
		ck_assert_int_eq(tslot_arm(&it->ent, t0 - 1, now_ms()), 0);
	}
}

static void
setup(void)
{
	int i;

	ck_assert_ptr_nonnull(base = event_base_new());
	tslot_init(base);
	for (i = 0; i < N; i++) {
		items[i] = (struct item){ 0 };
		tslot_ent_init(&items[i].ent, item_cb, &items[i]);
	}
	seq = 0;
	t0 = now_ms();
}

static void
teardown(void)
{
	tslot_free_all();
	event_base_free(base);
}

/* One loop turn that runs what is due (instants in the past are due at once). */
static void
turn(void)
{
	ck_assert_int_ge(event_base_loop(base, EVLOOP_ONCE), 0);
}

START_TEST(test_shared_instant)
{
	int i;

	for (i = 0; i < 3; i++)
		ck_assert_int_eq(tslot_arm(&items[i].ent, t0 - 1, t0), 0);
	ck_assert_uint_eq(tslot_instants(), 1);
	ck_assert(tslot_armed(&items[0].ent));
	turn();
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(items[i].fired, 1);
		ck_assert_int_eq(items[i].order, i + 1);
		ck_assert(!tslot_armed(&items[i].ent));
	}
	ck_assert_uint_eq(tslot_instants(), 0);
}
END_TEST

START_TEST(test_disarm_frees)
{
	ck_assert_int_eq(tslot_arm(&items[0].ent, t0 + 60000, t0), 0);
	ck_assert_int_eq(tslot_arm(&items[1].ent, t0 + 60000, t0), 0);
	ck_assert_int_eq(tslot_arm(&items[2].ent, t0 + 30000, t0), 0);
	ck_assert_uint_eq(tslot_instants(), 2);
	tslot_disarm(&items[0].ent);
	ck_assert_uint_eq(tslot_instants(), 2);
	tslot_disarm(&items[1].ent);
	ck_assert_uint_eq(tslot_instants(), 1);
	tslot_disarm(&items[1].ent);		/* twice: harmless */
	/* Moving the last entry of an instant frees it. */
	ck_assert_int_eq(tslot_arm(&items[2].ent, t0 - 1, t0), 0);
	ck_assert_uint_eq(tslot_instants(), 1);
	turn();
	ck_assert_int_eq(items[0].fired + items[1].fired, 0);
	ck_assert_int_eq(items[2].fired, 1);
	ck_assert_uint_eq(tslot_instants(), 0);
}
END_TEST

START_TEST(test_future_waits)
{
	ck_assert_int_eq(tslot_arm(&items[0].ent, t0 + 60000, t0), 0);
	ck_assert_int_eq(tslot_arm(&items[1].ent, t0 - 1, t0), 0);
	turn();
	ck_assert_int_eq(items[1].fired, 1);
	ck_assert_int_eq(items[0].fired, 0);
	ck_assert(tslot_armed(&items[0].ent));
}
END_TEST

START_TEST(test_callback_disarms_sibling)
{
	items[0].victim = &items[2];
	ck_assert_int_eq(tslot_arm(&items[0].ent, t0 - 1, t0), 0);
	ck_assert_int_eq(tslot_arm(&items[1].ent, t0 - 1, t0), 0);
	ck_assert_int_eq(tslot_arm(&items[2].ent, t0 - 1, t0), 0);
	turn();
	ck_assert_int_eq(items[0].fired, 1);
	ck_assert_int_eq(items[1].fired, 1);
	ck_assert_int_eq(items[2].fired, 0);
	ck_assert(!tslot_armed(&items[2].ent));
	ck_assert_uint_eq(tslot_instants(), 0);
}
END_TEST

START_TEST(test_rearm_same_instant)
{
	items[0].rearm = 1;
	ck_assert_int_eq(tslot_arm(&items[0].ent, t0 - 1, t0), 0);
	turn();
	/* Re-armed for the instant being fired: a new instant, the next turn. */
	ck_assert_int_eq(items[0].fired, 1);
	ck_assert(tslot_armed(&items[0].ent));
	ck_assert_uint_eq(tslot_instants(), 1);
	turn();
	ck_assert_int_eq(items[0].fired, 2);
	ck_assert_uint_eq(tslot_instants(), 0);
}
END_TEST

START_TEST(test_many_instants)
{
	int i;

	for (i = 0; i < N; i++)
		ck_assert_int_eq(tslot_arm(&items[i].ent, t0 + 10000 + i * 7, t0), 0);
	ck_assert_uint_eq(tslot_instants(), N);
	/* Re-arming onto a grid of 10 instants frees the others. */
	for (i = 0; i < N; i++)
		ck_assert_int_eq(tslot_arm(&items[i].ent, t0 + 20000 + (i % 10) * 250, t0),
		    0);
	ck_assert_uint_eq(tslot_instants(), 10);
	for (i = 0; i < N; i += 2)
		tslot_disarm(&items[i].ent);
	ck_assert_uint_eq(tslot_instants(), 5);
	for (i = 1; i < N; i += 2)
		tslot_disarm(&items[i].ent);
	ck_assert_uint_eq(tslot_instants(), 0);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("tslot");
	TCase	*tc = tcase_create("instants");
	SRunner	*sr;
	int	 failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_shared_instant);
	tcase_add_test(tc, test_disarm_frees);
	tcase_add_test(tc, test_future_waits);
	tcase_add_test(tc, test_callback_disarms_sibling);
	tcase_add_test(tc, test_rearm_same_instant);
	tcase_add_test(tc, test_many_instants);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
