/* ctl.h - octostorectl internals shared by the ctl sources. */
#ifndef CTL_H
#define CTL_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "octostore.h"

/* Exit status; documented in ctl.c and usage(). */
#define CTL_EXIT_OK		0
#define CTL_EXIT_OTHER		1
#define CTL_EXIT_HELD		10
#define CTL_EXIT_WAIT		11	/* busy (run -n) or the wait timed out */
#define CTL_EXIT_LOST		20	/* run: the lease was lost */
#define CTL_EXIT_USAGE		64
#define CTL_EXIT_DATAERR	65
#define CTL_EXIT_UNAVAILABLE	69
#define CTL_EXIT_SOFTWARE	70
#define CTL_EXIT_TEMPFAIL	75
#define CTL_EXIT_NOPERM		77

/* The command line. */
struct ctl_opts {
	int		 json;
	int		 timeout_ms;
	const char	*socket;
	int		 ttl;		/* 0: daemon default */
	const char	*metadata;
	int		 lock_delay;	/* -1: not sent */
	const char	*prefix;
	int64_t		 wait_ms;	/* -1: not given */
	int		 nowait;	/* run -n */
	int64_t		 kill_after_ms;	/* run: SIGKILL this long after SIGTERM */
	int		 detach;
	int64_t		 hold_ms;	/* with detach */
};
extern struct ctl_opts ctl_opts;

/* ctl.c */
int	 ctl_exit_status(int);
int	 ctl_fail(struct octo_client *, const char *, int);

/* ctl_cmd.c: one function per command; each returns the exit status. */
int	 ctl_ping(struct octo_client *, char **);
int	 ctl_daemon_status(struct octo_client *, char **);
int	 ctl_health(struct octo_client *, char **);
int	 ctl_acquire(struct octo_client *, char **);
int	 ctl_release(struct octo_client *, char **);
int	 ctl_renew(struct octo_client *, char **);
int	 ctl_status(struct octo_client *, char **);
int	 ctl_list(struct octo_client *, char **);
int	 ctl_rotate_token(struct octo_client *, char **);

/* ctl_run.c */
int	 ctl_run(struct octo_client *, char **);

/* ctl_out.c: terminal-safe text and JSON output. */
void	 ctl_put_esc(FILE *, const char *, size_t);
void	 ctl_kv(const char *, const char *);
void	 ctl_kv_len(const char *, const char *, size_t);
void	 ctl_kv_num(const char *, long long);
void	 ctl_json_str(json_t *, const char *, const char *);
void	 ctl_json_strn(json_t *, const char *, const char *, size_t);
void	 ctl_json_str_or_null(json_t *, const char *, const char *);
void	 ctl_json_num(json_t *, const char *, long long);
void	 ctl_json_print(json_t *);

#endif /* CTL_H */
