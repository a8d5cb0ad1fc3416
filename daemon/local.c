/* local.c - the daemon as its own lock authority: lock table, sessions, group commit. */
#include <sys/queue.h>
#include <sys/random.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>

#include "dispatch.h"
#include "fsyncer.h"
#include "local.h"
#include "log.h"
#include "nametab.h"
#include "octostore_err.h"
#include "policy.h"
#include "wal.h"

/* Compact once the log is past this size and twice the last snapshot. */
#define LOCAL_COMPACT_MIN	(4 * 1024 * 1024)
#define LOCAL_TIME_SIZE		32
#define LOCAL_UUID_SIZE		37
#define LOCAL_RESTORED_HOLDER	"previous-run"
/* Tokens reserved in tokens.hwm at a time: one durable write per this many grants. */
#define LOCAL_HWM_BLOCK		1024
/* A sweep that freed nothing is not repeated sooner (a table full of held names). */
#define LOCAL_SWEEP_MS		100

/*
 * One lock name.  A free one (no lease, no lock delay running, no call in flight) may
 * be forgotten at any time: every token comes from one counter (local_last), so a
 * name made again still gets a token above any it had.
 */
struct llock {
	char		*name;
	int64_t		 token;		/* its latest (or being made durable) */
	int		 held;
	int		 has_owner;	/* owner is known (logged with the grant) */
	uid_t		 owner;		/* uid that took it; counted in local_uidv */
	unsigned	 pins;		/* calls in flight pointing at it */
	char		 lease_id[WAL_ID_MAX + 1];
	const struct lsession *session;	/* NULL: restored from the log */
	int64_t		 exp_mono;	/* expiry on the boot-time clock (counts suspend) */
	int64_t		 exp_wall;	/* the same on the wall clock, as persisted */
	char		 expires_at[LOCAL_TIME_SIZE];
	uint32_t	 ttl;
	uint32_t	 lock_delay;
	char		*metadata;
	int64_t		 delay_mono;	/* release delay ends */
	int64_t		 delay_wall;
	struct nament	 ent;		/* in local_tab, by name */
};

struct lsession {
	char		 id[LOCAL_UUID_SIZE];
	char		 holder[LOCAL_UUID_SIZE];	/* public pseudonym */
	LIST_ENTRY(lsession) entry;
};

/* A call answered from the loop once its records are written (and synced if durable). */
struct lcall {
	backend_cb		 cb;
	void			*arg;
	int			 durable;
	struct llock		*grant;		/* a fresh grant: undone if the write fails */
	struct backend_result	 res;
	char			 lease_id[WAL_ID_MAX + 1];
	char			 expires_at[LOCAL_TIME_SIZE];
	char			 available_at[LOCAL_TIME_SIZE];
	char			 holder_id[LOCAL_UUID_SIZE];
	char			 session_id[LOCAL_UUID_SIZE];
	char			*metadata;
	char			 msg[128];
	TAILQ_ENTRY(lcall)	 q;
};
TAILQ_HEAD(lcallq, lcall);

static struct event_base	*local_base;
static struct event		*local_commit_ev;
static struct wal		 local_wal;
static int			 local_open;
static int			 local_stopping;
static char			*local_dir;
static struct nametab		 local_tab;
static int64_t			 local_last;	/* highest token ever issued or known */
static int64_t			 local_hwm;	/* durable in tokens.hwm: no token above */
static unsigned			 local_max_names = 100000;
static unsigned			 local_max_per_uid = 10000;
static int64_t			 local_swept_ms = -LOCAL_SWEEP_MS;	/* last sweep */
static size_t			 local_swept_n;			/* names it freed */
/* Names per owner uid, for max_names_per_uid: few uids, so an array. */
static struct local_uidn {
	uid_t		uid;
	unsigned	n;
}				*local_uidv;
static size_t			 local_nuid, local_uidcap;
static off_t			 local_snap_size;
static off_t			 local_compact_min = LOCAL_COMPACT_MIN;
static char			 local_err[256];	/* last storage failure, for health */
static struct lcallq		 local_calls = TAILQ_HEAD_INITIALIZER(local_calls);
static struct lcallq		 local_durable = TAILQ_HEAD_INITIALIZER(local_durable);
static struct lcallq		 local_syncing = TAILQ_HEAD_INITIALIZER(local_syncing);
static int64_t			 local_sync_t0;		/* when it started */
static uint64_t			 local_nsyncs, local_nsynced;	/* for the exit log */
static int64_t			 local_sync_us;		/* total time in fsync */
static LIST_HEAD(, lsession)	 local_sessions = LIST_HEAD_INITIALIZER(local_sessions);
static struct llock		**local_listv;	/* the last list answer's entries */

static void	local_commit_cb(evutil_socket_t, short, void *);

/* Wall clock in milliseconds. */
static int64_t
local_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* RFC 3339 UTC with milliseconds. */
static void
local_fmt_time(int64_t wall_ms, char *buf, size_t len)
{
	time_t		t = (time_t)(wall_ms / 1000);
	struct tm	tm;
	char		s[24];

	gmtime_r(&t, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03dZ", s, (int)(wall_ms % 1000));
}

/* A random (version 4) UUID. */
static int
local_uuid(char *out)
{
	unsigned char b[16];

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return -1;
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, LOCAL_UUID_SIZE, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
	    b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
	return 0;
}

#define LOCAL_LOCK(e)	NAMETAB_ENTRY(e, struct llock, ent)

static struct llock *
local_find(const char *name)
{
	struct nament *e = nametab_find(&local_tab, name);

	return e != NULL ? LOCAL_LOCK(e) : NULL;
}

/* The entry for name, created free when missing; NULL on ENOMEM. */
static struct llock *
local_get(const char *name)
{
	struct llock	*l;

	if ((l = local_find(name)) != NULL)
		return l;
	if ((l = calloc(1, sizeof(*l))) == NULL || (l->name = strdup(name)) == NULL) {
		free(l);
		return NULL;
	}
	l->ent.key = l->name;
	if (nametab_insert(&local_tab, &l->ent) != 0) {
		free(l->name);
		free(l);
		return NULL;
	}
	return l;
}

/* The slot of uid in local_uidv (local_nuid: none), made when create is set. */
static size_t
local_uid_slot(uid_t uid, int create)
{
	struct local_uidn	*v;
	size_t			 i;

	for (i = 0; i < local_nuid; i++)
		if (local_uidv[i].uid == uid)
			return i;
	if (!create)
		return local_nuid;
	if (local_nuid == local_uidcap) {
		if ((v = reallocarray(local_uidv, local_uidcap + 16, sizeof(*v))) == NULL)
			return local_nuid;
		local_uidv = v;
		local_uidcap += 16;
	}
	local_uidv[local_nuid].uid = uid;
	local_uidv[local_nuid].n = 0;
	return local_nuid++;
}

/* Names counted for uid. */
static unsigned
local_uid_names(uid_t uid)
{
	size_t i = local_uid_slot(uid, 0);

	return i < local_nuid ? local_uidv[i].n : 0;
}

/* Count l for its owner uid (when has_owner), or stop counting it (has_owner 0). */
static void
local_set_owner(struct llock *l, int has_owner, uid_t uid)
{
	size_t i;

	if (l->has_owner && (i = local_uid_slot(l->owner, 0)) < local_nuid &&
	    --local_uidv[i].n == 0)
		local_uidv[i] = local_uidv[--local_nuid];
	l->has_owner = 0;
	if (has_owner && (i = local_uid_slot(uid, 1)) < local_nuid) {
		local_uidv[i].n++;
		l->has_owner = 1;
		l->owner = uid;
	}
}

/* Forget the current lease, keeping the token. */
static void
local_drop(struct llock *l)
{
	l->held = 0;
	l->session = NULL;
	explicit_bzero(l->lease_id, sizeof(l->lease_id));
	l->expires_at[0] = '\0';
	free(l->metadata);
	l->metadata = NULL;
}

/* Expire the lease if its TTL has run out. */
static void
local_refresh(struct llock *l, int64_t now)
{
	if (l->held && now >= l->exp_mono)
		local_drop(l);
}

/* Remove l from the table and free it. */
static void
local_forget(struct llock *l)
{
	local_set_owner(l, 0, 0);
	nametab_remove(&local_tab, &l->ent);
	local_drop(l);
	free(l->name);
	free(l);
}

/* Forget every free name; how many. */
static size_t
local_sweep(void)
{
	struct nament	*e, *next;
	struct llock	*l;
	int64_t		 now = policy_boot_ms();
	size_t		 i, n = 0;

	for (i = 0; i < local_tab.nb; i++) {
		for (e = local_tab.b[i]; e != NULL; e = next) {
			next = e->hnext;
			l = LOCAL_LOCK(e);
			local_refresh(l, now);
			if (l->held || now < l->delay_mono || l->pins > 0)
				continue;
			local_forget(l);
			n++;
		}
	}
	local_swept_ms = now;
	local_swept_n = n;
	return n;
}

/*
 * May uid make one more name?  When a bound is reached the free names are forgotten
 * first.  NULL, or why not (in buf).
 */
static const char *
local_full(uid_t uid, char *buf, size_t len)
{
	int pass;

	for (pass = 0; pass < 2; pass++) {
		if (local_tab.n < local_max_names && local_uid_names(uid) < local_max_per_uid)
			return NULL;
		if (pass == 0 && (local_swept_n > 0 ||
		    policy_boot_ms() - local_swept_ms >= LOCAL_SWEEP_MS))
			local_sweep();
	}
	if (local_tab.n >= local_max_names)
		snprintf(buf, len, "the local lock table is full (max_names=%u)",
		    local_max_names);
	else
		snprintf(buf, len, "uid %u has max_names_per_uid=%u names in use",
		    (unsigned)uid, local_max_per_uid);
	return buf;
}

/* The next token, after making sure tokens.hwm covers it; -1 when it cannot. */
static int64_t
local_next_token(void)
{
	if (local_last >= local_hwm) {
		if (wal_hwm_write(&local_wal, local_last + LOCAL_HWM_BLOCK) != 0) {
			snprintf(local_err, sizeof(local_err), "writing %s/%s", local_dir,
			    local_wal.errmsg);
			log_error("local: %s", local_err);
			return -1;
		}
		local_hwm = local_last + LOCAL_HWM_BLOCK;
	}
	return ++local_last;
}

/* Set the expiry ttl seconds from now on both clocks. */
static void
local_set_expiry(struct llock *l, uint32_t ttl)
{
	l->ttl = ttl;
	l->exp_mono = policy_boot_ms() + (int64_t)ttl * 1000;
	l->exp_wall = local_wall_ms() + (int64_t)ttl * 1000;
	local_fmt_time(l->exp_wall, l->expires_at, sizeof(l->expires_at));
}

/* Queue a log record; on ENOMEM the log is marked broken and repaired by compaction. */
static void
local_log(int type, const struct llock *l, int64_t expires_ms)
{
	struct wal_rec r;

	memset(&r, 0, sizeof(r));
	r.type = type;
	snprintf(r.name, sizeof(r.name), "%s", l->name);
	snprintf(r.lease_id, sizeof(r.lease_id), "%s", l->lease_id);
	r.token = l->token;
	r.expires_ms = expires_ms;
	r.ttl = l->ttl;
	r.lock_delay = l->lock_delay;
	if (type == WAL_GRANT && l->metadata != NULL) {
		r.has_metadata = 1;
		snprintf(r.metadata, sizeof(r.metadata), "%s", l->metadata);
	}
	r.has_uid = type == WAL_GRANT && l->has_owner;
	r.uid = (uint32_t)l->owner;
	if (wal_append(&local_wal, &r) != 0)
		local_wal.broken = 1;
}

/* New call record for cb; answered at the end of this loop turn. */
static struct lcall *
local_call(backend_cb cb, void *arg, int durable)
{
	struct lcall *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->cb = cb;
	c->arg = arg;
	c->durable = durable;
	c->res.retry_after_ms = -1;
	c->res.renew_after_ms = -1;
	TAILQ_INSERT_TAIL(&local_calls, c, q);
	event_active(local_commit_ev, EV_TIMEOUT, 0);
	return c;
}

/* Fill an error result. */
static void
local_fail(struct lcall *c, int err, const char *message)
{
	c->res.err = err;
	c->res.message = message;
	c->res.lost = err == OCTO_ERR_LEASE_NOT_CURRENT || err == OCTO_ERR_NOT_FOUND;
	c->res.transient = err == OCTO_ERR_UNAVAILABLE;
}

static struct lsession *
local_session_find(const char *id)
{
	struct lsession *s;

	LIST_FOREACH(s, &local_sessions, entry)
		if (strcmp(s->id, id) == 0)
			return s;
	return NULL;
}

/* Fill an acquired result from l. */
static int
local_result_acquired(struct lcall *c, const struct llock *l)
{
	c->res.status = BACKEND_ACQUIRED;
	snprintf(c->lease_id, sizeof(c->lease_id), "%s", l->lease_id);
	snprintf(c->expires_at, sizeof(c->expires_at), "%s", l->expires_at);
	c->res.lease_id = c->lease_id;
	c->res.expires_at = c->expires_at;
	c->res.fencing_token = l->token;
	c->res.renew_after_ms = (int64_t)l->ttl * 1000 / 3;
	if (l->metadata != NULL && (c->metadata = strdup(l->metadata)) == NULL)
		return -1;
	c->res.metadata = c->metadata;
	return 0;
}

/* acquire: grant, renew for the same session, or say held or delayed. */
static int
local_acquire(const char *name, int64_t ttl, const char *metadata, int64_t lock_delay,
    const char *session_id, uid_t uid, backend_cb cb, void *arg)
{
	const struct lsession	*s = NULL;
	struct llock		*l;
	struct lcall		*c;
	int64_t			 now = policy_boot_ms(), token;
	const char		*full;

	if (local_stopping)
		return OCTO_ERR_SHUTTING_DOWN;
	if (ttl < API_TTL_MIN || ttl > API_TTL_MAX)
		return OCTO_ERR_INVALID_TTL;
	if ((c = local_call(cb, arg, 0)) == NULL)
		return OCTO_ERR_NOMEM;
	if (session_id != NULL && (s = local_session_find(session_id)) == NULL) {
		local_fail(c, OCTO_ERR_NOT_FOUND, "session not found");
		return OCTO_OK;
	}
	if (local_find(name) == NULL &&
	    (full = local_full(uid, c->msg, sizeof(c->msg))) != NULL) {
		local_fail(c, OCTO_ERR_LOCK_LIMIT_EXCEEDED, full);
		return OCTO_OK;
	}
	if ((l = local_get(name)) == NULL) {
		local_fail(c, OCTO_ERR_NOMEM, NULL);
		return OCTO_OK;
	}
	local_refresh(l, now);
	if (l->held && s != NULL && l->session == s) {
		/* The same holder again: the same lease, extended by the new TTL. */
		local_set_expiry(l, (uint32_t)ttl);
		local_log(WAL_RENEW, l, l->exp_wall);
		c->durable = 1;
		if (local_result_acquired(c, l) != 0)
			local_fail(c, OCTO_ERR_NOMEM, NULL);
		return OCTO_OK;
	}
	if (l->held) {
		c->res.status = BACKEND_HELD;
		snprintf(c->holder_id, sizeof(c->holder_id), "%s", l->session != NULL ?
		    l->session->holder : LOCAL_RESTORED_HOLDER);
		snprintf(c->expires_at, sizeof(c->expires_at), "%s", l->expires_at);
		c->res.holder_id = c->holder_id;
		c->res.expires_at = c->expires_at;
		c->res.retry_after_ms = l->exp_mono - now;
		if (l->metadata != NULL && (c->metadata = strdup(l->metadata)) == NULL)
			local_fail(c, OCTO_ERR_NOMEM, NULL);
		c->res.metadata = c->metadata;
		return OCTO_OK;
	}
	if (now < l->delay_mono) {
		c->res.status = BACKEND_DELAYED;
		local_fmt_time(l->delay_wall, c->available_at, sizeof(c->available_at));
		c->res.available_at = c->available_at;
		c->res.retry_after_ms = l->delay_mono - now;
		return OCTO_OK;
	}
	if (local_uuid(l->lease_id) != 0) {
		local_fail(c, OCTO_ERR_INTERNAL, "no random bytes for a lease id");
		return OCTO_OK;
	}
	/* Strictly above every token ever issued, of any name. */
	if ((token = local_next_token()) < 0) {
		local_fail(c, OCTO_ERR_UNAVAILABLE, "the token high-water mark could not "
		    "be written to disk");
		return OCTO_OK;
	}
	if (metadata != NULL && (l->metadata = strdup(metadata)) == NULL) {
		local_fail(c, OCTO_ERR_NOMEM, NULL);
		return OCTO_OK;
	}
	l->token = token;
	local_set_owner(l, 1, uid);
	l->held = 1;
	l->session = s;
	l->lock_delay = lock_delay > 0 ? (uint32_t)lock_delay : 0;
	l->delay_mono = l->delay_wall = 0;
	local_set_expiry(l, (uint32_t)ttl);
	local_log(WAL_GRANT, l, l->exp_wall);
	c->durable = 1;
	c->grant = l;
	l->pins++;
	if (local_result_acquired(c, l) != 0) {
		local_fail(c, OCTO_ERR_NOMEM, NULL);
		c->grant = NULL;
		l->pins--;
		local_log(WAL_RELEASE, l, 0);
		local_drop(l);
	}
	return OCTO_OK;
}

/* The held, unexpired lock whose lease is lease_id, or NULL. */
static struct llock *
local_current(const char *name, const char *lease_id)
{
	struct llock *l = local_find(name);

	if (l == NULL)
		return NULL;
	local_refresh(l, policy_boot_ms());
	if (!l->held || strcasecmp(l->lease_id, lease_id) != 0)
		return NULL;
	return l;
}

/* renew: a new expiry, durable before it is reported. */
static int
local_renew(const char *name, const char *lease_id, int64_t ttl, backend_cb cb,
    void *arg)
{
	struct llock	*l;
	struct lcall	*c;

	if (local_stopping)
		return OCTO_ERR_SHUTTING_DOWN;
	if (ttl < API_TTL_MIN || ttl > API_TTL_MAX)
		return OCTO_ERR_INVALID_TTL;
	if ((c = local_call(cb, arg, 0)) == NULL)
		return OCTO_ERR_NOMEM;
	if ((l = local_current(name, lease_id)) == NULL) {
		local_fail(c, OCTO_ERR_LEASE_NOT_CURRENT, "the lease is not current");
		return OCTO_OK;
	}
	local_set_expiry(l, (uint32_t)ttl);
	local_log(WAL_RENEW, l, l->exp_wall);
	c->durable = 1;
	snprintf(c->lease_id, sizeof(c->lease_id), "%s", l->lease_id);
	snprintf(c->expires_at, sizeof(c->expires_at), "%s", l->expires_at);
	c->res.lease_id = c->lease_id;
	c->res.expires_at = c->expires_at;
	c->res.renew_after_ms = ttl * 1000 / 3;
	return OCTO_OK;
}

/*
 * End l's lease.  The record is written but not waited for: losing it in a crash only
 * keeps the lease held until its TTL runs out, which is safe.
 */
static void
local_end(struct llock *l, int with_delay)
{
	int64_t delay_wall = 0;

	if (with_delay && l->lock_delay > 0) {
		l->delay_mono = policy_boot_ms() + (int64_t)l->lock_delay * 1000;
		l->delay_wall = delay_wall = local_wall_ms() + (int64_t)l->lock_delay * 1000;
	}
	local_log(WAL_RELEASE, l, delay_wall);
	local_drop(l);
}

/* release. */
static int
local_release(const char *name, const char *lease_id, backend_cb cb, void *arg)
{
	struct llock	*l;
	struct lcall	*c;

	if (local_stopping)
		return OCTO_ERR_SHUTTING_DOWN;
	if ((c = local_call(cb, arg, 0)) == NULL)
		return OCTO_ERR_NOMEM;
	if ((l = local_current(name, lease_id)) == NULL) {
		local_fail(c, OCTO_ERR_LEASE_NOT_CURRENT, "the lease is not current");
		return OCTO_OK;
	}
	local_end(l, 1);
	return OCTO_OK;
}

/* Sessions live in memory: the daemon is their only user, and a restart ends them. */
static int
local_session_create(int64_t ttl, backend_cb cb, void *arg)
{
	struct lsession	*s;
	struct lcall	*c;

	if (local_stopping)
		return OCTO_ERR_SHUTTING_DOWN;
	if ((c = local_call(cb, arg, 0)) == NULL)
		return OCTO_ERR_NOMEM;
	if ((s = calloc(1, sizeof(*s))) == NULL || local_uuid(s->id) != 0 ||
	    local_uuid(s->holder) != 0) {
		free(s);
		local_fail(c, OCTO_ERR_NOMEM, NULL);
		return OCTO_OK;
	}
	LIST_INSERT_HEAD(&local_sessions, s, entry);
	snprintf(c->session_id, sizeof(c->session_id), "%s", s->id);
	c->res.session_id = c->session_id;
	/* As the server does: keepalive at half the TTL, clamped to 10-300 s. */
	ttl = ttl < 10 ? 10 : ttl > 300 ? 300 : ttl;
	c->res.keepalive_ms = ttl * 1000 / 2;
	return OCTO_OK;
}

static int
local_session_keepalive(const char *session_id, backend_cb cb, void *arg)
{
	struct lcall *c;

	if (local_stopping)
		return OCTO_ERR_SHUTTING_DOWN;
	if ((c = local_call(cb, arg, 0)) == NULL)
		return OCTO_ERR_NOMEM;
	if (local_session_find(session_id) == NULL)
		local_fail(c, OCTO_ERR_NOT_FOUND, "session not found");
	else {
		snprintf(c->session_id, sizeof(c->session_id), "%s", session_id);
		c->res.session_id = c->session_id;
	}
	return OCTO_OK;
}

/* End a session and the leases taken on it. */
static int
local_session_terminate(const char *session_id, backend_cb cb, void *arg)
{
	struct lsession	*s;
	struct llock	*l;
	struct nament	*e;
	struct lcall	*c;
	size_t		 i;

	if (local_stopping)
		return OCTO_ERR_SHUTTING_DOWN;
	if ((c = local_call(cb, arg, 0)) == NULL)
		return OCTO_ERR_NOMEM;
	if ((s = local_session_find(session_id)) == NULL) {
		local_fail(c, OCTO_ERR_NOT_FOUND, "session not found");
		return OCTO_OK;
	}
	NAMETAB_FOREACH(e, &local_tab, i) {
		l = LOCAL_LOCK(e);
		if (l->held && l->session == s)
			local_end(l, 0);
	}
	LIST_REMOVE(s, entry);
	explicit_bzero(s, sizeof(*s));
	free(s);
	return OCTO_OK;
}

/* Write the whole table as a snapshot over the log. */
static int
local_compact(void)
{
	struct wal_rec	 r;
	struct llock	*l;
	struct nament	*ent;
	int64_t		 now = policy_boot_ms();
	size_t		 i;
	int		 e = 0;

	/* Free names are dropped: the floor keeps every later token above theirs. */
	local_sweep();
	wal_compact_begin(&local_wal);
	if (local_last > 0) {
		memset(&r, 0, sizeof(r));
		r.type = WAL_FLOOR;
		r.token = local_last;
		e |= wal_compact_add(&local_wal, &r);
	}
	NAMETAB_FOREACH(ent, &local_tab, i) {
		if (e != 0)
			continue;	/* the snapshot has failed: add nothing more */
		l = LOCAL_LOCK(ent);
		local_refresh(l, now);
		memset(&r, 0, sizeof(r));
		snprintf(r.name, sizeof(r.name), "%s", l->name);
		r.token = l->token;
		if (l->held) {
			r.type = WAL_GRANT;
			snprintf(r.lease_id, sizeof(r.lease_id), "%s", l->lease_id);
			r.expires_ms = l->exp_wall;
			r.ttl = l->ttl;
			r.lock_delay = l->lock_delay;
			r.has_uid = l->has_owner;
			r.uid = (uint32_t)l->owner;
			if (l->metadata != NULL) {
				r.has_metadata = 1;
				snprintf(r.metadata, sizeof(r.metadata), "%s",
				    l->metadata);
			}
		} else {
			r.type = WAL_TOKEN;
			r.expires_ms = now < l->delay_mono ? l->delay_wall : 0;
		}
		e |= wal_compact_add(&local_wal, &r);
	}
	if (e != 0 || wal_compact_commit(&local_wal) != 0) {
		if (e == 0 && local_wal.errmsg[0] != '\0')
			snprintf(local_err, sizeof(local_err), "compacting %s/%s: %s; "
			    "compaction skipped", local_dir, WAL_FILE, local_wal.errmsg);
		else
			snprintf(local_err, sizeof(local_err), "compacting %s/%s: %s",
			    local_dir, WAL_FILE, strerror(errno));
		log_error("%s", local_err);
		return -1;
	}
	local_snap_size = local_wal.size;
	log_debug("local: log compacted to %lld bytes, %zu names",
	    (long long)local_wal.size, local_tab.n);
	return 0;
}

/* Monotonic microseconds. */
static int64_t
local_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * Write the queued records, and fsync if sync is set.  A failed write is repaired by
 * rewriting the whole state (the snapshot holds every change).  0, or -1 when the
 * state could not be made durable.
 */
static int
local_write(int sync)
{
	int ok;

	if (local_wal.broken)
		ok = local_compact();
	else if ((ok = wal_flush(&local_wal, sync)) != 0) {
		snprintf(local_err, sizeof(local_err), "writing %s/%s: %s", local_dir,
		    WAL_FILE, strerror(errno));
		log_error("local: %s; rewriting the state", local_err);
		ok = local_compact();
	}
	if (ok == 0 && local_err[0] != '\0' && !local_wal.broken) {
		log_info("local: the state directory works again");
		local_err[0] = '\0';
	}
	return ok;
}

/* Free a call, unpinning its grant. */
static void
local_call_free(struct lcall *c)
{
	if (c->grant != NULL)
		c->grant->pins--;
	free(c->metadata);
	free(c);
}

/* Answer one call; if its durability could not be had, undo a fresh grant and fail it
 * as unavailable (transient). */
static void
local_answer(struct lcall *c, int ok)
{
	if (ok != 0 && c->durable && c->res.err == OCTO_OK) {
		if (c->grant != NULL && c->grant->held &&
		    strcmp(c->grant->lease_id, c->lease_id) == 0)
			local_drop(c->grant);
		local_fail(c, OCTO_ERR_UNAVAILABLE, "the lock state could not be written "
		    "to disk");
	}
	c->cb(&c->res, c->arg);
	local_call_free(c);
}

/* Answer every call in q with ok; how many there were. */
static unsigned
local_answer_all(struct lcallq *q, int ok)
{
	struct lcall	*c;
	unsigned	 n = 0;

	while ((c = TAILQ_FIRST(q)) != NULL) {
		TAILQ_REMOVE(q, c, q);
		n++;
		local_answer(c, ok);
	}
	return n;
}

/* Hand the calls whose records are written to the fsync thread, unless it is busy. */
static void
local_sync_start(void)
{
	if (TAILQ_EMPTY(&local_durable) || fsyncer_busy())
		return;
	TAILQ_CONCAT(&local_syncing, &local_durable, q);
	local_sync_t0 = local_now_us();
	if (fsyncer_start(local_wal.fd) != 0) {
		/* Cannot happen (not busy); fail safe: nothing is answered unsynced. */
		log_error("local: fsync thread: %s", strerror(errno));
		local_answer_all(&local_syncing, -1);
	}
}

/* Compact when the log has grown, between syncs. */
static void
local_maybe_compact(void)
{
	if (!fsyncer_busy() && TAILQ_EMPTY(&local_durable) &&
	    local_wal.size > local_compact_min && local_wal.size > 2 * local_snap_size &&
	    !local_wal.broken && wal_pending(&local_wal) == 0 && local_compact() != 0)
		local_snap_size = local_wal.size;	/* retried once the log doubles */
}

/*
 * The fsync thread is done: answer the calls it covered.  A failed fsync leaves the
 * page cache untrustworthy, so the whole state is rewritten (with its own fsync) before
 * anyone is told yes; that snapshot also covers the calls written since.
 */
static void
local_synced(int err, void *arg)
{
	struct lcallq	q = TAILQ_HEAD_INITIALIZER(q);
	unsigned	n;
	int		ok = 0;

	(void)arg;
	local_sync_us += local_now_us() - local_sync_t0;
	local_nsyncs++;
	TAILQ_CONCAT(&q, &local_syncing, q);
	if (err != 0) {
		local_wal.broken = 1;
		snprintf(local_err, sizeof(local_err), "fsync of %s/%s: %s", local_dir,
		    WAL_FILE, strerror(err));
		log_error("local: %s; rewriting the state", local_err);
		ok = local_compact();
		TAILQ_CONCAT(&q, &local_durable, q);
	}
	n = local_answer_all(&q, ok);
	if (ok == 0)
		local_nsynced += n;
	if (!TAILQ_EMPTY(&local_calls))
		local_commit_cb(-1, 0, NULL);	/* deferred while a broken log waited */
	else {
		local_sync_start();
		local_maybe_compact();
	}
}

/*
 * End of a loop turn with calls waiting (group commit): their records are written
 * with one write; calls that need no durability (release, held, delayed, sessions)
 * are answered at once, the others wait for an fsync on the fsync thread, which
 * covers everything written before it started.  The loop never waits for the disk.
 */
static void
local_commit_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lcallq	 q = TAILQ_HEAD_INITIALIZER(q);
	struct lcall	*c;
	int		 ok;

	(void)fd;
	(void)what;
	(void)arg;
	/* Repairing a broken log replaces the file: not under a sync in flight. */
	if (local_wal.broken && fsyncer_busy())
		return;
	TAILQ_CONCAT(&q, &local_calls, q);
	ok = local_write(0);
	while ((c = TAILQ_FIRST(&q)) != NULL) {
		TAILQ_REMOVE(&q, c, q);
		if (ok == 0 && c->durable && c->res.err == OCTO_OK) {
			TAILQ_INSERT_TAIL(&local_durable, c, q);
			continue;
		}
		local_answer(c, ok);
	}
	local_sync_start();
	local_maybe_compact();
}

/* Replay one record into the table. */
static void
local_replay(const struct wal_rec *r, void *arg)
{
	struct llock *l;

	(void)arg;
	if (r->token > local_last)
		local_last = r->token;
	if (r->type == WAL_FLOOR)
		return;
	if ((l = local_get(r->name)) == NULL)
		return;
	if (r->token > l->token)
		l->token = r->token;
	switch (r->type) {
	case WAL_GRANT:
		local_drop(l);
		/* A grant logged before owners were recorded: only root may end it. */
		local_set_owner(l, r->has_uid, (uid_t)r->uid);
		l->held = 1;
		snprintf(l->lease_id, sizeof(l->lease_id), "%s", r->lease_id);
		l->exp_wall = r->expires_ms;
		l->ttl = r->ttl;
		l->lock_delay = r->lock_delay;
		l->metadata = r->has_metadata ? strdup(r->metadata) : NULL;
		l->delay_wall = 0;
		break;
	case WAL_RENEW:
		if (l->held && strcmp(l->lease_id, r->lease_id) == 0) {
			l->exp_wall = r->expires_ms;
			l->ttl = r->ttl;
		}
		break;
	case WAL_RELEASE:
		if (l->held && strcmp(l->lease_id, r->lease_id) == 0) {
			local_drop(l);
			l->delay_wall = r->expires_ms;
		}
		break;
	case WAL_TOKEN:
		local_drop(l);
		l->delay_wall = r->expires_ms;
		break;
	}
}

/* After replay: wall-clock expiries become boot-time ones; expired leases end. */
static unsigned
local_restore_clocks(void)
{
	int64_t		 mono = policy_boot_ms(), wall = local_wall_ms();
	struct llock	*l;
	struct nament	*e;
	unsigned	 held = 0;
	size_t		 i;

	NAMETAB_FOREACH(e, &local_tab, i) {
		l = LOCAL_LOCK(e);
		l->delay_mono = l->delay_wall > wall ? mono + l->delay_wall - wall : 0;
		if (!l->held)
			continue;
		l->exp_mono = mono + (l->exp_wall - wall);
		local_fmt_time(l->exp_wall, l->expires_at, sizeof(l->expires_at));
		local_refresh(l, mono);
		if (l->held)
			held++;
	}
	return held;
}

/*
 * Where tokens continue, from the log (local_last after replay) and tokens.hwm: above
 * both, and a missing one of the two is reported, never taken as a fresh start.
 */
static int
local_init_tokens(const char *state_dir, char *err, size_t errlen)
{
	int64_t	 logged = local_last, hwm = 0;
	char	 e[256];
	int	 h;

	if ((h = wal_hwm_read(&local_wal, &hwm, e, sizeof(e))) < 0) {
		snprintf(err, errlen, "%s/%s", state_dir, e);
		return -1;
	}
	if (h == 1 && local_wal.created)
		log_warn("local: %s/%s was missing but %s says tokens up to %lld may have "
		    "been handed out: a new log is started, tokens continue above %lld",
		    state_dir, WAL_FILE, WAL_HWM_FILE, (long long)hwm, (long long)hwm);
	else if (h == 0 && logged > 0) {
		/* The mark was at most one block above the highest token issued. */
		local_last = logged + LOCAL_HWM_BLOCK;
		log_warn("local: %s/%s is missing but the log has tokens up to %lld: "
		    "tokens continue above %lld", state_dir, WAL_HWM_FILE,
		    (long long)logged, (long long)local_last);
	} else if (h == 0)
		log_info("local: %s: a fresh state directory, tokens start at 1", state_dir);
	else if (hwm < logged)
		log_warn("local: %s/%s (%lld) is below the log's highest token (%lld): an "
		    "older copy?  Tokens continue above %lld", state_dir, WAL_HWM_FILE,
		    (long long)hwm, (long long)logged, (long long)logged);
	if (h == 1 && hwm > local_last)
		local_last = hwm;
	local_hwm = h == 1 ? hwm : 0;
	if (local_hwm <= local_last) {
		if (wal_hwm_write(&local_wal, local_last + LOCAL_HWM_BLOCK) != 0) {
			snprintf(err, errlen, "writing %s/%s", state_dir, local_wal.errmsg);
			return -1;
		}
		local_hwm = local_last + LOCAL_HWM_BLOCK;
	}
	return 0;
}

/* Open the state and start. */
int
local_init(struct event_base *base, const char *state_dir, char *err, size_t errlen)
{
	const char	*v;
	unsigned	 held;

	local_base = base;
	if ((v = getenv("OCTOSTORED_LOCAL_COMPACT_BYTES")) != NULL && *v != '\0')
		local_compact_min = (off_t)strtoll(v, NULL, 10);	/* tests only */
	if ((local_dir = strdup(state_dir)) == NULL ||
	    (local_commit_ev = event_new(base, -1, 0, local_commit_cb, NULL)) == NULL ||
	    nametab_init(&local_tab, 1024) != 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (wal_open(&local_wal, state_dir, local_replay, NULL, err, errlen) != 0)
		goto fail;
	local_open = 1;
	held = local_restore_clocks();
	if (local_wal.ignored > 0) {
		/*
		 * The lost tail may have held grants already answered (a disk that lied,
		 * a bit flip): no later token may fall to or below one of them.
		 */
		local_last += (int64_t)(local_wal.ignored / WAL_RECORD_MIN) + 1;
		log_warn("local: %s/%s: ignored %lld bytes of %s at offset %lld; tokens "
		    "continue above %lld", state_dir, WAL_FILE, (long long)local_wal.ignored,
		    local_wal.ignored_why, (long long)local_wal.ignored_at,
		    (long long)local_last);
	}
	if (local_init_tokens(state_dir, err, errlen) != 0)
		goto fail;
	/* A repaired tail, or a big log of names now free, is rewritten at once. */
	if (local_wal.ignored > 0 || local_wal.size > local_compact_min) {
		if (local_compact() != 0) {
			snprintf(err, errlen, "%s", local_err);
			goto fail;
		}
	}
	if (fsyncer_init(base, local_synced, NULL) != 0) {
		snprintf(err, errlen, "starting the fsync thread: %s", strerror(errno));
		goto fail;
	}
	local_snap_size = local_wal.size;
	log_info("local: state %s/%s: %llu records, %zu names, %u leases held until their "
	    "TTL runs out, tokens continue above %lld", state_dir, WAL_FILE,
	    (unsigned long long)local_wal.replayed, local_tab.n, held,
	    (long long)local_last);
	return 0;
fail:
	local_shutdown();
	return -1;
}

/* Flush, answer, close, free. */
void
local_shutdown(void)
{
	struct lsession	*s;
	struct llock	*l;
	struct nament	*e, *next;
	struct lcall	*c;
	size_t		 i;

	local_stopping = 1;
	if (local_nsyncs > 0)
		log_info("local: %llu fsyncs for %llu grants and renewals (%.1f per fsync), "
		    "fsync %lld us on average", (unsigned long long)local_nsyncs,
		    (unsigned long long)local_nsynced,
		    (double)local_nsynced / (double)local_nsyncs,
		    (long long)(local_sync_us / (int64_t)local_nsyncs));
	/* Let a sync in flight end; its calls are failed below with the others. */
	fsyncer_shutdown();
	TAILQ_CONCAT(&local_syncing, &local_durable, q);
	TAILQ_CONCAT(&local_syncing, &local_calls, q);
	TAILQ_CONCAT(&local_calls, &local_syncing, q);
	/* A grant nobody will hear of is undone rather than left to expire. */
	TAILQ_FOREACH(c, &local_calls, q) {
		if (c->grant != NULL && c->grant->held &&
		    strcmp(c->grant->lease_id, c->lease_id) == 0)
			local_end(c->grant, 0);
	}
	if (local_open && wal_flush(&local_wal, 1) != 0)
		log_error("local: final write of %s/%s: %s", local_dir, WAL_FILE,
		    strerror(errno));
	while ((c = TAILQ_FIRST(&local_calls)) != NULL) {
		TAILQ_REMOVE(&local_calls, c, q);
		memset(&c->res, 0, sizeof(c->res));
		c->res.retry_after_ms = c->res.renew_after_ms = -1;
		local_fail(c, OCTO_ERR_SHUTTING_DOWN, "the daemon is shutting down");
		c->cb(&c->res, c->arg);
		local_call_free(c);
	}
	if (local_open)
		wal_close(&local_wal);
	local_open = 0;
	for (i = 0; i < local_tab.nb; i++) {
		for (e = local_tab.b[i]; e != NULL; e = next) {
			next = e->hnext;
			l = LOCAL_LOCK(e);
			local_drop(l);
			free(l->name);
			free(l);
		}
	}
	nametab_free(&local_tab);
	free(local_uidv);
	local_uidv = NULL;
	local_nuid = local_uidcap = 0;
	local_last = local_hwm = 0;
	while ((s = LIST_FIRST(&local_sessions)) != NULL) {
		LIST_REMOVE(s, entry);
		free(s);
	}
	free(local_listv);
	local_listv = NULL;
	if (local_commit_ev != NULL)
		event_free(local_commit_ev);
	local_commit_ev = NULL;
	free(local_dir);
	local_dir = NULL;
}

/* LockStatus of l (NULL: never used). */
static void
local_fill_status(const char *name, struct llock *l, struct api_lock_status *out)
{
	memset(out, 0, sizeof(*out));
	out->name = name;
	if (l == NULL)
		return;
	local_refresh(l, policy_boot_ms());
	out->fencing_token = l->token;
	if (!l->held)
		return;
	out->held = 1;
	out->holder_id = l->session != NULL ? l->session->holder : LOCAL_RESTORED_HOLDER;
	out->expires_at = l->expires_at;
	out->metadata = l->metadata;
}

/* status. */
void
local_status(const char *name, struct api_lock_status *out)
{
	struct llock *l = local_find(name);

	local_fill_status(l != NULL ? l->name : name, l, out);
}

static int
local_cmp(const void *a, const void *b)
{
	return strcmp((*(struct llock *const *)a)->name, (*(struct llock *const *)b)->name);
}

/* list: held locks whose names start with prefix, sorted by name. */
int
local_list(const char *prefix, struct api_list *out)
{
	struct llock	*l, **v;
	struct nament	*e;
	int64_t		 now = policy_boot_ms();
	size_t		 i, n = 0, plen = prefix != NULL ? strlen(prefix) : 0;

	memset(out, 0, sizeof(*out));
	free(local_listv);
	local_listv = NULL;
	if ((v = calloc(local_tab.n + 1, sizeof(*v))) == NULL)
		return -1;
	NAMETAB_FOREACH(e, &local_tab, i) {
		l = LOCAL_LOCK(e);
		local_refresh(l, now);
		if (l->held && strncmp(l->name, prefix != NULL ? prefix : "", plen) == 0)
			v[n++] = l;
	}
	qsort(v, n, sizeof(*v), local_cmp);
	if ((out->locks = calloc(n + 1, sizeof(*out->locks))) == NULL) {
		free(v);
		return -1;
	}
	for (i = 0; i < n; i++)
		local_fill_status(v[i]->name, v[i], &out->locks[i]);
	out->n = n;
	out->total = (int64_t)n;
	out->prefix = prefix;
	local_listv = v;
	return 0;
}

/* Pack a string or nil. */
static void
local_pack_str(msgpack_packer *pk, const char *key, const char *v)
{
	octo_proto_pack_str(pk, key);
	if (v == NULL)
		msgpack_pack_nil(pk);
	else
		octo_proto_pack_str(pk, v);
}

/* health: the local authority stands in for the server. */
void
local_op_health(struct req *r)
{
	msgpack_packer	*pk = req_result_begin(r);
	const char	*status = local_err[0] != '\0' ? "degraded" : "ok";
	char		 url[512];

	snprintf(url, sizeof(url), "local:%s", local_dir != NULL ? local_dir : "");
	msgpack_pack_map(pk, 4);
	local_pack_str(pk, "status", status);
	octo_proto_pack_str(pk, "upstream");
	msgpack_pack_map(pk, 6);
	octo_proto_pack_str(pk, "reachable");
	msgpack_pack_true(pk);
	octo_proto_pack_str(pk, "auth_ok");
	msgpack_pack_true(pk);
	local_pack_str(pk, "last_error", local_err[0] != '\0' ? local_err : NULL);
	local_pack_str(pk, "status", status);
	local_pack_str(pk, "storage", "local");
	octo_proto_pack_str(pk, "db_size_bytes");
	msgpack_pack_int64(pk, (int64_t)local_wal.size);
	local_pack_str(pk, "base_url", url);
	local_pack_str(pk, "backend", "local");
	req_result_end(r);
}

/* A direct release or renew answered. */
struct local_direct {
	struct req	*r;
	char		 name[API_NAME_MAX + 1];
	int		 renew;
};

static void
local_direct_done(const struct backend_result *res, void *arg)
{
	struct local_direct	*d = arg;
	msgpack_packer		*pk;

	if (res->err != OCTO_OK)
		req_error(d->r, res->err, "%s", res->message != NULL ? res->message :
		    octo_strerror(res->err));
	else if (d->renew) {
		pk = req_result_begin(d->r);
		msgpack_pack_map(pk, 4);
		local_pack_str(pk, "name", d->name);
		local_pack_str(pk, "lease_id", res->lease_id);
		local_pack_str(pk, "expires_at", res->expires_at);
		octo_proto_pack_str(pk, "renew_after_ms");
		msgpack_pack_int64(pk, res->renew_after_ms);
		req_result_end(d->r);
	} else {
		pk = req_result_begin(d->r);
		msgpack_pack_map(pk, 2);
		local_pack_str(pk, "name", d->name);
		octo_proto_pack_str(pk, "released");
		msgpack_pack_true(pk);
		req_result_end(d->r);
	}
	free(d);
}

/* Start a direct release (ttl < 0) or renew: its owner uid or root only. */
static void
local_direct(struct req *r, const char *name, const char *lease_id, int64_t ttl)
{
	struct local_direct	*d;
	struct llock		*l;
	int			 e;

	if ((l = local_current(name, lease_id)) != NULL && r->uid != 0 &&
	    (!l->has_owner || l->owner != r->uid)) {
		req_error(r, OCTO_ERR_NOT_OWNER, "%s is held by another user", name);
		return;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		req_error(r, OCTO_ERR_NOMEM, NULL);
		return;
	}
	d->r = r;
	d->renew = ttl >= 0;
	snprintf(d->name, sizeof(d->name), "%s", name);
	if (d->renew)
		e = local_renew(name, lease_id, ttl, local_direct_done, d);
	else
		e = local_release(name, lease_id, local_direct_done, d);
	if (e != OCTO_OK) {
		req_error(r, e, NULL);
		free(d);
	}
}

void
local_op_release(struct req *r, const char *name, const char *lease_id)
{
	local_direct(r, name, lease_id, -1);
}

void
local_op_renew(struct req *r, const char *name, const char *lease_id, int64_t ttl)
{
	local_direct(r, name, lease_id, ttl);
}

/* Set max_names and max_names_per_uid. */
void
local_set_limits(unsigned max_names, unsigned max_per_uid)
{
	local_max_names = max_names;
	local_max_per_uid = max_per_uid;
}

/* Whether the local backend is open. */
int
local_active(void)
{
	return local_open;
}

/* daemon_status "names": the table's size and bounds, and names per owner uid. */
void
local_pack_status(msgpack_packer *pk)
{
	size_t i;

	octo_proto_pack_str(pk, "names");
	msgpack_pack_map(pk, 4);
	octo_proto_pack_str(pk, "count");
	msgpack_pack_uint64(pk, local_tab.n);
	octo_proto_pack_str(pk, "max_names");
	msgpack_pack_uint32(pk, local_max_names);
	octo_proto_pack_str(pk, "max_names_per_uid");
	msgpack_pack_uint32(pk, local_max_per_uid);
	octo_proto_pack_str(pk, "by_uid");
	msgpack_pack_map(pk, local_nuid);
	for (i = 0; i < local_nuid; i++) {
		char uid[16];

		snprintf(uid, sizeof(uid), "%u", (unsigned)local_uidv[i].uid);
		octo_proto_pack_str(pk, uid);
		msgpack_pack_uint32(pk, local_uidv[i].n);
	}
}

const struct backend backend_local = {
	.name = "local",
	.acquire_uid = local_acquire,
	.renew = local_renew,
	.release = local_release,
	.session_create = local_session_create,
	.session_keepalive = local_session_keepalive,
	.session_terminate = local_session_terminate,
};
