/* check_nametab.c - the daemon's table of named entries (daemon/nametab.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "../../daemon/nametab.h"

struct item {
	int		 n;
	struct nament	 ent;
	char		 name[32];
};

#define N	5000

static struct item	items[N];

/* Fill t with items[0..N) named "lock/<i>", starting from nb buckets. */
static void
fill(struct nametab *t, size_t nb)
{
	int i;

	ck_assert_int_eq(nametab_init(t, nb), 0);
	for (i = 0; i < N; i++) {
		items[i].n = i;
		snprintf(items[i].name, sizeof(items[i].name), "lock/%d", i);
		items[i].ent.key = items[i].name;
		ck_assert_int_eq(nametab_insert(t, &items[i].ent), 0);
	}
	ck_assert_uint_eq(t->n, N);
}

/* Every name is found, through growth from a small table, and an absent one is not. */
START_TEST(test_find)
{
	struct nametab	 t;
	struct nament	*e;
	char		 name[32];
	int		 i;

	fill(&t, 4);
	ck_assert_uint_ge(t.nb, N);
	ck_assert_uint_eq(t.nb & (t.nb - 1), 0);	/* a power of two */
	for (i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "lock/%d", i);
		ck_assert_ptr_nonnull(e = nametab_find(&t, name));
		ck_assert_int_eq(NAMETAB_ENTRY(e, struct item, ent)->n, i);
	}
	ck_assert_ptr_null(nametab_find(&t, "lock/"));
	ck_assert_ptr_null(nametab_find(&t, "lock/5000"));
	nametab_free(&t);
	ck_assert_ptr_null(nametab_find(&t, "lock/1"));
}
END_TEST

/* Removal takes exactly that entry; iteration sees each remaining entry once. */
START_TEST(test_remove_iterate)
{
	struct nametab	 t;
	struct nament	*e;
	char		 name[32];
	size_t		 i;
	int		 k, seen[N];

	fill(&t, 1024);
	for (k = 0; k < N; k += 2)
		nametab_remove(&t, &items[k].ent);
	ck_assert_uint_eq(t.n, N / 2);
	memset(seen, 0, sizeof(seen));
	NAMETAB_FOREACH(e, &t, i)
		seen[NAMETAB_ENTRY(e, struct item, ent)->n]++;
	for (k = 0; k < N; k++) {
		ck_assert_int_eq(seen[k], k % 2);
		snprintf(name, sizeof(name), "lock/%d", k);
		if (k % 2)
			ck_assert_ptr_eq(nametab_find(&t, name), &items[k].ent);
		else
			ck_assert_ptr_null(nametab_find(&t, name));
	}
	/* Removing an entry that is not there changes nothing. */
	nametab_remove(&t, &items[0].ent);
	ck_assert_uint_eq(t.n, N / 2);
	nametab_free(&t);
}
END_TEST

/* A table with no buckets finds nothing, ignores removals and grows on the first insert. */
START_TEST(test_empty)
{
	struct nametab	t = { NULL, 0, 0 };
	struct item	it = { .n = 1, .name = "x" };

	it.ent.key = it.name;
	ck_assert_ptr_null(nametab_find(&t, "x"));
	nametab_remove(&t, &it.ent);
	/* Growing from nothing works when memory is there. */
	ck_assert_int_eq(nametab_insert(&t, &it.ent), 0);
	ck_assert_ptr_eq(nametab_find(&t, "x"), &it.ent);
	nametab_free(&t);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("nametab");
	TCase	*tc = tcase_create("table");
	SRunner	*sr;
	int	 failed;

	tcase_add_test(tc, test_find);
	tcase_add_test(tc, test_remove_iterate);
	tcase_add_test(tc, test_empty);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
