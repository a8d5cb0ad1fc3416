/* procstat.h - whether a pid still names the same process: its start time in /proc. */
#ifndef PROCSTAT_H
#define PROCSTAT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Answers of procstat_read(). */
#define PROCSTAT_ALIVE		1	/* running; start time read */
#define PROCSTAT_GONE		0	/* no such process, or it has exited (zombie) */
#define PROCSTAT_UNKNOWN	(-1)	/* /proc does not say: hidden, other namespace, odd */

/* Longest /proc/<pid>/stat prefix parsed; the start time (field 22) is well inside it. */
#define PROCSTAT_LINE_MAX	1024

/*
 * Parse len bytes of a /proc/<pid>/stat line: the state letter (field 3) and the start
 * time (field 22, clock ticks after boot).  The command name (field 2) may hold spaces
 * and parentheses, so fields are counted from the last ')'.  Returns 0, or -1 if the
 * line is not shaped like one.
 */
int procstat_parse(const char *buf, size_t len, char *state, uint64_t *start);

/* Read pid's start time: PROCSTAT_ALIVE (*start set), PROCSTAT_GONE or PROCSTAT_UNKNOWN. */
int procstat_read(pid_t pid, uint64_t *start);

/* Is pid still the process that started at start?  1 yes, 0 gone or reused, -1 unknown. */
int procstat_same(pid_t pid, uint64_t start);

#endif
