/* check_procstat.c - a pid's start time from /proc/<pid>/stat (daemon/procstat.c). */
#include <sys/types.h>
#include <sys/wait.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "../../daemon/procstat.h"

/* A stat line for comm and state with start time start; fields 4-21 hold their number. */
static void
line(char *buf, size_t len, const char *comm, char state, const char *start)
{
	size_t	n;
	int	f;

	n = (size_t)snprintf(buf, len, "4242 (%s) %c", comm, state);
	for (f = 4; f <= 21; f++)
		n += (size_t)snprintf(buf + n, len - n, " %d", f);
	snprintf(buf + n, len - n, " %s 23 24 -1 0\n", start);
}

/* Parse a string; the start time, or -1 if refused. */
static long long
parse(const char *s, char *state)
{
	uint64_t start;

	if (procstat_parse(s, strlen(s), state, &start) == -1)
		return -1;
	return (long long)start;
}

/* A plain line, and names that hold spaces and parentheses. */
START_TEST(test_parse_comm)
{
	char	buf[512], st;

	line(buf, sizeof(buf), "cat", 'R', "987654");
	ck_assert_int_eq(parse(buf, &st), 987654);
	ck_assert_int_eq(st, 'R');
	line(buf, sizeof(buf), "a) b (c", 'S', "1234567890123");
	ck_assert_int_eq(parse(buf, &st), 1234567890123LL);
	ck_assert_int_eq(st, 'S');
	line(buf, sizeof(buf), ") Z 1 2 (", 'S', "77");
	ck_assert_int_eq(parse(buf, &st), 77);
	ck_assert_int_eq(st, 'S');
	line(buf, sizeof(buf), "", 'Z', "5");
	ck_assert_int_eq(parse(buf, &st), 5);
	ck_assert_int_eq(st, 'Z');
	/* The line as the kernel ends it, and without its newline. */
	ck_assert_int_eq(parse("1 (x) S 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22\n",
	    &st), 22);
	ck_assert_int_eq(parse("1 (x) S 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22",
	    &st), 22);
}
END_TEST

/* Anything not shaped like a stat line is refused, never read past. */
START_TEST(test_parse_bad)
{
	char		buf[2 * PROCSTAT_LINE_MAX], pad[900], st;
	uint64_t	start;
	size_t		n;
	int		f;

	ck_assert_int_eq(parse("", &st), -1);
	ck_assert_int_eq(parse(")", &st), -1);
	ck_assert_int_eq(parse("1 (x", &st), -1);
	ck_assert_int_eq(parse("1 (x)", &st), -1);
	ck_assert_int_eq(parse("1 (x) S", &st), -1);
	ck_assert_int_eq(parse("1 (x) S 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21", &st),
	    -1);
	ck_assert_int_eq(parse("1 (x) S 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 ",
	    &st), -1);
	/* An empty field shifts the count. */
	ck_assert_int_eq(parse("1 (x) S 4  6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23",
	    &st), -1);
	ck_assert_int_eq(parse("1 (x) SS 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22",
	    &st), -1);
	line(buf, sizeof(buf), "x", 'S', "-5");
	ck_assert_int_eq(parse(buf, &st), -1);
	line(buf, sizeof(buf), "x", 'S', "12x");
	ck_assert_int_eq(parse(buf, &st), -1);
	line(buf, sizeof(buf), "x", 'S', "99999999999999999999999");
	ck_assert_int_eq(parse(buf, &st), -1);
	/* A NUL inside the line. */
	line(buf, sizeof(buf), "x", 'S', "8");
	n = strlen(buf);
	buf[3] = '\0';
	ck_assert_int_eq(procstat_parse(buf, n, &st, &start), -1);
	/* A line longer than the limit whose start time runs into the cut. */
	memset(pad, 'c', sizeof(pad));
	n = (size_t)snprintf(buf, sizeof(buf), "1 (%.*s) S", (int)sizeof(pad), pad);
	for (f = 4; f <= 21; f++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, " %d", f);
	buf[n++] = ' ';
	memset(buf + n, '7', sizeof(buf) - n);
	ck_assert_int_eq(procstat_parse(buf, PROCSTAT_LINE_MAX + 10, &st, &start), -1);
	/* The same number, whole within the limit, is read. */
	ck_assert_int_eq(procstat_parse(buf, n + 3, &st, &start), 0);
	ck_assert_uint_eq(start, 777);
}
END_TEST

/* This process: alive, the same as itself, not the same as another start time. */
START_TEST(test_read_self)
{
	uint64_t	start, again;

	ck_assert_int_eq(procstat_read(getpid(), &start), PROCSTAT_ALIVE);
	ck_assert_int_eq(procstat_read(getpid(), &again), PROCSTAT_ALIVE);
	ck_assert_uint_eq(start, again);
	ck_assert_int_eq(procstat_same(getpid(), start), 1);
	ck_assert_int_eq(procstat_same(getpid(), start + 1), 0);
	ck_assert_int_eq(procstat_read(0, &start), PROCSTAT_UNKNOWN);
	ck_assert_int_eq(procstat_same(0, start), -1);
}
END_TEST

/* A child that exited is gone, as a zombie and once reaped. */
START_TEST(test_read_exited)
{
	siginfo_t	si;
	uint64_t	start, child_start;
	pid_t		pid;
	int		status, fds[2];
	char		c;

	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		/* Wait for the parent's look at the running child. */
		close(fds[1]);
		(void)read(fds[0], &c, 1);
		_exit(0);
	}
	close(fds[0]);
	ck_assert_int_eq(procstat_read(pid, &child_start), PROCSTAT_ALIVE);
	ck_assert_int_eq(procstat_same(pid, child_start), 1);
	close(fds[1]);
	/* Exited but not reaped: a zombie. */
	memset(&si, 0, sizeof(si));
	ck_assert_int_eq(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
	ck_assert_int_eq(procstat_read(pid, &start), PROCSTAT_GONE);
	ck_assert_int_eq(procstat_same(pid, child_start), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(procstat_read(pid, &start), PROCSTAT_GONE);
	ck_assert_int_eq(procstat_same(pid, child_start), 0);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("procstat");
	TCase	*tc = tcase_create("procstat");
	SRunner	*sr;
	int	 failed;

	tcase_add_test(tc, test_parse_comm);
	tcase_add_test(tc, test_parse_bad);
	tcase_add_test(tc, test_read_self);
	tcase_add_test(tc, test_read_exited);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
