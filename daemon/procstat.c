/* procstat.c - a process's identity as pid plus start time, read from /proc/<pid>/stat. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procstat.h"

/* Parse the state (field 3) and start time (field 22) of a stat line. */
int
procstat_parse(const char *buf, size_t len, char *state, uint64_t *start)
{
	char			 line[PROCSTAT_LINE_MAX + 1];
	char			*p, *end;
	unsigned long long	 v;
	size_t			 n;
	int			 cut = 0, field;

	if (len > PROCSTAT_LINE_MAX) {
		len = PROCSTAT_LINE_MAX;
		cut = 1;
	}
	memcpy(line, buf, len);
	line[len] = '\0';
	if (strlen(line) != len)
		return -1;
	/* "pid (comm) S ...": comm is whatever the process chose, ')' included. */
	if ((p = strrchr(line, ')')) == NULL || p == line)
		return -1;
	p++;
	if (p[0] != ' ' || p[1] == '\0' || isspace((unsigned char)p[1]) ||
	    (p[2] != ' ' && p[2] != '\0'))
		return -1;
	*state = p[1];
	p += 2;
	/* Fields 4 to 21: skip them, each one non-empty. */
	for (field = 4; field < 22; field++) {
		if (*p != ' ')
			return -1;
		p++;
		if ((n = strcspn(p, " \n")) == 0)
			return -1;
		p += n;
	}
	if (p[0] != ' ' || !isdigit((unsigned char)p[1]))
		return -1;
	errno = 0;
	v = strtoull(p + 1, &end, 10);
	if (errno != 0 || (*end != ' ' && *end != '\n' && *end != '\0'))
		return -1;
	/* A number that runs into the end of a cut line may itself be cut. */
	if (*end == '\0' && cut)
		return -1;
	*start = (uint64_t)v;
	return 0;
}

/* /proc has no entry for pid: is that because it is gone, or only hidden from us? */
static int
procstat_absent(pid_t pid)
{
	if (kill(pid, 0) == -1 && errno == ESRCH)
		return PROCSTAT_GONE;
	return PROCSTAT_UNKNOWN;
}

/* Read pid's start time: one open, one read, one close. */
int
procstat_read(pid_t pid, uint64_t *start)
{
	char	 path[64], buf[PROCSTAT_LINE_MAX + 1], state;
	ssize_t	 n;
	int	 fd, error;

	if (pid <= 0)
		return PROCSTAT_UNKNOWN;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		if (errno == ENOENT || errno == ESRCH)
			return procstat_absent(pid);
		return PROCSTAT_UNKNOWN;
	}
	do
		n = read(fd, buf, sizeof(buf));
	while (n == -1 && errno == EINTR);
	error = errno;
	close(fd);
	if (n == -1)
		return error == ESRCH ? PROCSTAT_GONE : PROCSTAT_UNKNOWN;
	if (procstat_parse(buf, (size_t)n, &state, start) == -1)
		return PROCSTAT_UNKNOWN;
	/* A zombie has exited; only its pid waits for the parent. */
	if (state == 'Z' || state == 'X' || state == 'x')
		return PROCSTAT_GONE;
	return PROCSTAT_ALIVE;
}

/* Is pid still the process that started at start? */
int
procstat_same(pid_t pid, uint64_t start)
{
	uint64_t	now;
	int		r;

	if ((r = procstat_read(pid, &now)) != PROCSTAT_ALIVE)
		return r == PROCSTAT_GONE ? 0 : -1;
	return now == start;
}
