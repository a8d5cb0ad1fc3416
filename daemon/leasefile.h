/* leasefile.h - the remote backend's record of detached leases in state_dir, so that a
 * crash cannot leave one open to anyone who holds its id. */
#ifndef LEASEFILE_H
#define LEASEFILE_H

#include <sys/types.h>

#include <stddef.h>

#include "api.h"

#define LEASEFILE_NAME	"remote-leases"

struct leasefile_rec {
	char	name[API_NAME_MAX + 1];
	char	lease_id[API_LEASE_ID_MAX + 1];
	uid_t	uid;
};

/*
 * Start-up, remote backend only (without this call every other function is a no-op
 * that succeeds).  When state_dir exists and this daemon may use it, take it (flock,
 * one daemon per directory) and hand back the leases a daemon that did not stop
 * cleanly recorded: *recs (free() it) and *n.  A state_dir or record that is a
 * symlink, is owned by another uid than ours or root, or is writable by group or
 * others is an error: -1 with err.  A missing state_dir, or one another daemon holds,
 * is not: detached leases are then refused until it can be taken (leasefile_ready).
 */
int leasefile_init(const char *state_dir, struct leasefile_rec **recs, size_t *n,
    char *err, size_t errlen);

/* True when a detached lease can be recorded (creating state_dir if needed); else err. */
int leasefile_ready(char *err, size_t errlen);

/* Record a detached lease, durably (the file is replaced atomically): 0 or -1. */
int leasefile_put(const char *name, const char *lease_id, uid_t uid);

/* Forget one (its release is over, or it was never recorded). */
void leasefile_del(const char *name, const char *lease_id);

/* Leases recorded now. */
size_t leasefile_count(void);

/* Close and free (clean exit: what is still recorded stays for the next start). */
void leasefile_close(void);

#endif
