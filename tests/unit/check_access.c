/* check_access.c - peer groups and name components (daemon/access.c), on socketpairs. */
#include <sys/socket.h>

#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "access.h"

/* A socketpair's peer is this process: its groups are getgroups()'s, sorted. */
START_TEST(test_groups_self)
{
	struct access_peer	p;
	gid_t			mine[4096];
	int			sv[2], n, i, j, found;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	memset(&p, 0, sizeof(p));
	ck_assert_int_eq(access_read_groups(sv[0], &p), 0);
	n = getgroups(4096, mine);
	ck_assert_int_eq(p.ngroups, n);
	for (i = 0; i < n; i++) {
		for (found = 0, j = 0; j < p.ngroups; j++)
			found |= p.groups[j] == mine[i];
		ck_assert(found);
	}
	for (i = 1; i < p.ngroups; i++)
		ck_assert(p.groups[i - 1] <= p.groups[i]);
	access_peer_clear(&p);
	ck_assert_ptr_null(p.groups);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* More groups than the first buffer holds (root only: setgroups). */
START_TEST(test_groups_grow)
{
	struct access_peer	p;
	gid_t			g[1500];
	int			sv[2], i;

	if (geteuid() != 0)
		return;
	for (i = 0; i < 1500; i++)
		g[i] = (gid_t)(401500 - i);
	ck_assert_int_eq(setgroups(1500, g), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	memset(&p, 0, sizeof(p));
	ck_assert_int_eq(access_read_groups(sv[0], &p), 0);
	ck_assert_int_eq(p.ngroups, 1500);
	ck_assert_uint_eq(p.groups[0], 400001);
	ck_assert_uint_eq(p.groups[1499], 401500);
	access_peer_clear(&p);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* Any other error fails: the caller refuses the peer. */
START_TEST(test_groups_fail_closed)
{
	struct access_peer	p;
	int			pfd[2];

	ck_assert_int_eq(pipe(pfd), 0);
	memset(&p, 0, sizeof(p));
	ck_assert_int_eq(access_read_groups(pfd[0], &p), -1);
	ck_assert_int_eq(errno, ENOTSOCK);
	ck_assert_ptr_null(p.groups);
	ck_assert_int_eq(p.ngroups, 0);
	close(pfd[0]);
	close(pfd[1]);
}
END_TEST

static int
dots(const char *name)
{
	const char *why = NULL;

	return access_name_check(name, strlen(name), &why);
}

START_TEST(test_name_dots)
{
	ck_assert_int_eq(dots("team-b/../team-a/x"), -1);
	ck_assert_int_eq(dots("./x"), -1);
	ck_assert_int_eq(dots("a/./b"), -1);
	ck_assert_int_eq(dots("a/.."), -1);
	ck_assert_int_eq(dots(".."), -1);
	ck_assert_int_eq(dots("."), -1);
	ck_assert_int_eq(dots("a/.b"), 0);
	ck_assert_int_eq(dots("a..b/c..."), 0);
	ck_assert_int_eq(dots(".x/y"), 0);
	ck_assert_int_eq(dots("ci/deploy/prod"), 0);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("access");
	TCase	*tc = tcase_create("access");
	SRunner	*sr;
	int	 failed;

	tcase_add_test(tc, test_groups_self);
	tcase_add_test(tc, test_groups_grow);
	tcase_add_test(tc, test_groups_fail_closed);
	tcase_add_test(tc, test_name_dots);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
