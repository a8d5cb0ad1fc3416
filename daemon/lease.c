/* lease.c - leases held through the daemon: one owner per name, renewal, loss, release. */
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "api.h"
#include "backend.h"
#include "conn.h"
#include "dispatch.h"
#include "lease.h"
#include "leasefile.h"
#include "log.h"
#include "nametab.h"
#include "policy.h"
#include "procstat.h"
#include "session.h"
#include "tslot.h"

/* Transient acquire failures are retried this long even without a wait. */
#define ACQUIRE_RETRY_MS	2000
/* How long a lost lease's fencing token is remembered for status. */
#define TOMBSTONE_MAX		1024

enum lease_state {
	L_ACQUIRING,	/* acquire in progress (or waiting for a remote holder) */
	L_HELD,		/* vouched for until the authority deadline */
	L_RELEASING	/* no owner; released upstream or left to expire */
};

struct waiter {
	struct req		*r;
	struct lease_args	 a;
	struct lease		*ln;
	struct event		*ev;		/* wait timeout */
	TAILQ_ENTRY(waiter)	 q;		/* per name, FIFO */
};
TAILQ_HEAD(waitq, waiter);

/*
 * One name held, being acquired or being released through this daemon.  At most one
 * backend call is in flight per lease (inflight), so sent_* belong to that call.
 */
struct lease {
	char		*name;
	enum lease_state state;
	char		 lease_id[API_LEASE_ID_MAX + 1];
	int64_t		 fencing_token;
	char		 expires_at[40];
	char		*metadata;
	int64_t		 ttl_ms;

	struct conn	*owner;		/* attached owner (referenced), else NULL */
	struct conn	*counted_conn;	/* counted against this client's limit */
	int		 counted_uid;	/* counted against uid's limit */
	uid_t		 uid;
	pid_t		 pid;
	int		 pid_proc;	/* PROCSTAT_*: pid's process at connect time */
	uint64_t	 pid_start;	/* and its start time */
	int		 detached;
	int64_t		 hold_until;	/* detached: renew until (monotonic) */

	struct lease_args *args;	/* acquire being served, NULL once held */
	struct req	*acq_req;	/* client waiting for the acquire */
	struct req	*ctl_req;	/* client waiting for a renew or release */
	int64_t		 wait_until;	/* acquire: keep trying until (monotonic) */
	int		 renew_again;	/* an explicit renew arrived during a renewal */

	int		 inflight;
	int64_t		 sent_mono, sent_boot;
	int64_t		 sent_ttl_ms;
	unsigned	 sent_gen;		/* session an acquire was sent on */		/* the TTL that call asked for */
	int64_t		 dl_mono, dl_boot;	/* authority deadline */
	int64_t		 hard_mono;		/* server-side expiry estimate */
	unsigned	 attempt;

	struct tslot_ent renew_ent;	/* renewal due: shared instants on the grid */
	struct event	*timer;		/* retry, acquire, release */
	struct event	*deadline_ev;	/* authority deadline */
	struct waitq	 waiters;

	struct nament	 ent;		/* in lease_tab, by name */
	LIST_ENTRY(lease) all;
};

struct tomb {
	char		name[API_NAME_MAX + 1];
	int64_t		fencing_token;
	int64_t		until;
};

static struct event_base *lease_base;
static struct nametab	  lease_tab;
static LIST_HEAD(, lease) lease_all = LIST_HEAD_INITIALIZER(lease_all);
static struct tomb	  lease_tombs[TOMBSTONE_MAX];
static unsigned		  lease_ntombs;
static int		  lease_stopping;
static unsigned		  lease_max_client = 1000;
static unsigned		  lease_max_uid = 10000;

/* Leases per uid, for max_leases_per_uid: few uids use a daemon, so an array. */
#define LEASE_MAX_UIDS	1024
static struct {
	uid_t		uid;
	unsigned	n;
}			  lease_uids[LEASE_MAX_UIDS];
static unsigned		  lease_nuids;

static void	lease_timer_cb(evutil_socket_t, short, void *);
static void	lease_deadline_cb(evutil_socket_t, short, void *);
static void	lease_renew_due(void *);
static void	lease_try_acquire(struct lease *);
static void	lease_release_start(struct lease *);
static void	lease_release_send(struct lease *);
static void	lease_done(struct lease *);
static void	lease_renewed(const struct backend_result *, void *);

/* Set up. */
void
lease_init(struct event_base *base)
{
	lease_base = base;
	tslot_init(base);
	nametab_init(&lease_tab, 1024);
	srandom((unsigned)policy_mono_ms() ^ (unsigned)getpid());
}

/* Look up a name. */
static struct lease *
lease_find(const char *name)
{
	struct nament *e = nametab_find(&lease_tab, name);

	return e != NULL ? NAMETAB_ENTRY(e, struct lease, ent) : NULL;
}

/* New entry for name. */
static struct lease *
lease_new(const char *name)
{
	struct lease	*ln;

	if ((ln = calloc(1, sizeof(*ln))) == NULL)
		return NULL;
	if ((ln->name = strdup(name)) == NULL) {
		free(ln);
		return NULL;
	}
	ln->timer = evtimer_new(lease_base, lease_timer_cb, ln);
	ln->deadline_ev = evtimer_new(lease_base, lease_deadline_cb, ln);
	ln->ent.key = ln->name;
	if (ln->timer == NULL || ln->deadline_ev == NULL ||
	    nametab_insert(&lease_tab, &ln->ent) != 0) {
		if (ln->timer != NULL)
			event_free(ln->timer);
		if (ln->deadline_ev != NULL)
			event_free(ln->deadline_ev);
		free(ln->name);
		free(ln);
		return NULL;
	}
	ln->pid_proc = PROCSTAT_UNKNOWN;
	tslot_ent_init(&ln->renew_ent, lease_renew_due, ln);
	TAILQ_INIT(&ln->waiters);
	LIST_INSERT_HEAD(&lease_all, ln, all);
	return ln;
}

/* Remove and free an entry with nothing in flight and no waiters. */
static void
lease_free(struct lease *ln)
{
	nametab_remove(&lease_tab, &ln->ent);
	LIST_REMOVE(ln, all);
	tslot_disarm(&ln->renew_ent);
	event_free(ln->timer);
	event_free(ln->deadline_ev);
	free(ln->metadata);
	free(ln->args);
	free(ln->name);
	explicit_bzero(ln->lease_id, sizeof(ln->lease_id));
	free(ln);
}

/* Leases in the registry. */
unsigned
lease_count(void)
{
	return (unsigned)lease_tab.n;
}

/* Stop the renewal and the retry timer. */
static void
lease_timer_stop(struct lease *ln)
{
	tslot_disarm(&ln->renew_ent);
	evtimer_del(ln->timer);
}

/* Arm ev ms from now. */
static void
lease_arm(struct event *ev, int64_t ms)
{
	struct timeval tv;

	if (ms < 0)
		ms = 0;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(ev, &tv);
}

/*
 * Milliseconds of authority left, the smaller by the monotonic and the boot-time
 * clock, so that a suspended machine cannot stretch a lease.  A margin of 2% of the
 * TTL (50 to 500 ms) makes sure the holder hears of a loss before the deadline.
 */
static int64_t
lease_left(const struct lease *ln)
{
	int64_t	a = ln->dl_mono - policy_mono_ms();
	int64_t	b = ln->dl_boot - policy_boot_ms();
	int64_t	margin = ln->sent_ttl_ms / 50;

	if (margin > 500)
		margin = 500;
	/* A short TTL still leaves the loop and the client time to act on the news. */
	if (margin < 50)
		margin = 50;
	return (a < b ? a : b) - margin;
}

/*
 * The holder's pid to report: 0 for a detached lease, and 0 with *stale set when the
 * process that connected has exited (its connection, inherited, may live on), so that
 * nobody is pointed at an unrelated process that reuses the pid.
 */
static pid_t
lease_holder_pid(const struct lease *ln, int *stale)
{
	int r;

	*stale = 0;
	if (ln->detached)
		return 0;
	if (ln->owner != NULL)
		r = conn_peer_current(ln->owner);
	else if (ln->pid_proc == PROCSTAT_ALIVE)
		r = procstat_same(ln->pid, ln->pid_start);
	else
		r = ln->pid_proc == PROCSTAT_GONE ? 0 : -1;
	if (r == 0) {
		*stale = 1;
		return 0;
	}
	return ln->pid;
}

/* Short holder description for "held" answers; pid is from lease_holder_pid(). */
static void
lease_holder(const struct lease *ln, pid_t pid, char *buf, size_t len)
{
	if (pid == 0)
		snprintf(buf, len, "local:uid=%u", (unsigned)ln->uid);
	else
		snprintf(buf, len, "local:pid=%d,uid=%u", (int)pid, (unsigned)ln->uid);
}

/* Lease ids appear in logs shortened: enough to correlate, not to use. */
static const char *
lease_short(const struct lease *ln)
{
	static char buf[12];

	snprintf(buf, sizeof(buf), "%.8s", ln->lease_id);
	return buf;
}

/* Pack a string or nil. */
static void
pack_kv_str(msgpack_packer *pk, const char *key, const char *v)
{
	octo_proto_pack_str(pk, key);
	if (v == NULL)
		msgpack_pack_nil(pk);
	else
		octo_proto_pack_str(pk, v);
}

/* Pack a boolean. */
static void
pack_kv_bool(msgpack_packer *pk, const char *key, int v)
{
	octo_proto_pack_str(pk, key);
	if (v)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
}

/* Answer an acquire with the lease we hold. */
static void
lease_reply_acquired(struct req *r, const struct lease *ln, int64_t renew_after_ms)
{
	msgpack_packer *pk = req_result_begin(r);

	msgpack_pack_map(pk, 7);
	pack_kv_str(pk, "status", "acquired");
	pack_kv_str(pk, "name", ln->name);
	pack_kv_str(pk, "lease_id", ln->lease_id);
	octo_proto_pack_str(pk, "fencing_token");
	msgpack_pack_int64(pk, ln->fencing_token);
	pack_kv_str(pk, "expires_at", ln->expires_at);
	octo_proto_pack_str(pk, "renew_after_ms");
	msgpack_pack_int64(pk, renew_after_ms);
	pack_kv_str(pk, "metadata", ln->metadata);
	req_result_end(r);
}

/* Answer an acquire: another local client holds the name. */
static void
lease_reply_local_held(struct req *r, const struct lease *ln)
{
	msgpack_packer	*pk;
	char		 holder[64];
	pid_t		 pid;
	int		 stale;

	pid = lease_holder_pid(ln, &stale);
	lease_holder(ln, pid, holder, sizeof(holder));
	pk = req_result_begin(r);
	msgpack_pack_map(pk, 10);
	pack_kv_str(pk, "status", "held");
	pack_kv_str(pk, "name", ln->name);
	pack_kv_str(pk, "holder_id", holder);
	pack_kv_str(pk, "expires_at", ln->state == L_HELD ? ln->expires_at : NULL);
	octo_proto_pack_str(pk, "retry_after_ms");
	msgpack_pack_int64(pk, ln->state == L_HELD ? 1000 : 100);
	pack_kv_str(pk, "metadata", ln->state == L_HELD ? ln->metadata : NULL);
	pack_kv_bool(pk, "local", 1);
	octo_proto_pack_str(pk, "holder_pid");
	msgpack_pack_int32(pk, pid);
	pack_kv_bool(pk, "holder_pid_stale", stale);
	octo_proto_pack_str(pk, "holder_uid");
	msgpack_pack_uint32(pk, ln->uid);
	req_result_end(r);
}

/* Answer an acquire with the server's held or delayed result. */
static void
lease_reply_remote(struct req *r, const char *name, const struct backend_result *res)
{
	msgpack_packer *pk = req_result_begin(r);

	if (res->status == BACKEND_DELAYED) {
		msgpack_pack_map(pk, 4);
		pack_kv_str(pk, "status", "delayed");
		pack_kv_str(pk, "name", name);
		pack_kv_str(pk, "available_at", res->available_at);
		octo_proto_pack_str(pk, "retry_after_ms");
		msgpack_pack_int64(pk, res->retry_after_ms);
	} else {
		msgpack_pack_map(pk, 6);
		pack_kv_str(pk, "status", "held");
		pack_kv_str(pk, "name", name);
		pack_kv_str(pk, "holder_id", res->holder_id);
		pack_kv_str(pk, "expires_at", res->expires_at);
		octo_proto_pack_str(pk, "retry_after_ms");
		msgpack_pack_int64(pk, res->retry_after_ms);
		pack_kv_str(pk, "metadata", res->metadata);
	}
	req_result_end(r);
}

/* Answer with a backend error, passing the server's code through. */
static void
lease_reply_error(struct req *r, const struct backend_result *res)
{
	req_error_upstream(r, res->err, res->code_name, res->message, res->retry_after_ms,
	    res->request_id);
}

/* Tell the owner its lease is gone; it must stop acting on it now. */
static void
lease_notify_lost(struct lease *ln, const char *reason)
{
	msgpack_packer *pk;

	if (ln->owner == NULL || conn_dead(ln->owner))
		return;
	pk = conn_packer(ln->owner);
	octo_proto_pack_notify(pk, OCTO_NOTIFY_LEASE_LOST);
	msgpack_pack_map(pk, 4);
	pack_kv_str(pk, "name", ln->name);
	pack_kv_str(pk, "lease_id", ln->lease_id);
	octo_proto_pack_str(pk, "fencing_token");
	msgpack_pack_int64(pk, ln->fencing_token);
	pack_kv_str(pk, "reason", reason);
	conn_message_done(ln->owner, 0);
}

/* Remember a lost lease's token until the server forgets it too. */
static void
lease_tomb_add(const struct lease *ln)
{
	int64_t		 now = policy_mono_ms();
	struct tomb	*t = NULL;
	unsigned	 i;

	for (i = 0; i < lease_ntombs; i++) {
		if (lease_tombs[i].until <= now || strcmp(lease_tombs[i].name, ln->name) == 0) {
			t = &lease_tombs[i];
			break;
		}
	}
	if (t == NULL) {
		if (lease_ntombs == TOMBSTONE_MAX)
			return;
		t = &lease_tombs[lease_ntombs++];
	}
	snprintf(t->name, sizeof(t->name), "%s", ln->name);
	t->fencing_token = ln->fencing_token;
	t->until = ln->hard_mono + 1000;
}

/* Is (name, token) a lease this daemon declared lost that the server may still show? */
static int
lease_tomb_match(const char *name, int64_t token)
{
	int64_t		now = policy_mono_ms();
	unsigned	i;

	for (i = 0; i < lease_ntombs; i++)
		if (lease_tombs[i].until > now && lease_tombs[i].fencing_token == token &&
		    strcmp(lease_tombs[i].name, name) == 0)
			return 1;
	return 0;
}

/* Leases counted against a uid's max_leases_per_uid. */
static unsigned *
lease_uid_slot(uid_t uid, int create)
{
	unsigned i;

	for (i = 0; i < lease_nuids; i++)
		if (lease_uids[i].uid == uid)
			return &lease_uids[i].n;
	if (!create || lease_nuids == LEASE_MAX_UIDS)
		return NULL;
	lease_uids[lease_nuids].uid = uid;
	lease_uids[lease_nuids].n = 0;
	return &lease_uids[lease_nuids++].n;
}

/* Set the per-client and per-uid lease limits. */
void
lease_set_limits(unsigned per_client, unsigned per_uid)
{
	lease_max_client = per_client;
	lease_max_uid = per_uid;
}

/* May r's client and uid take one more lease?  Answers r with busy when not. */
static int
lease_limit_ok(struct req *r, const struct lease_args *a)
{
	unsigned *n = lease_uid_slot(r->uid, 0);

	if (!a->detach && conn_leases_adjust(r->conn, 0) >= lease_max_client) {
		req_error(r, OCTO_ERR_BUSY, "this client holds max_leases_per_client=%u leases",
		    lease_max_client);
		return 0;
	}
	if ((n != NULL && *n >= lease_max_uid) ||
	    (n == NULL && lease_nuids == LEASE_MAX_UIDS)) {
		req_error(r, OCTO_ERR_BUSY, "uid %u holds max_leases_per_uid=%u leases",
		    (unsigned)r->uid, lease_max_uid);
		return 0;
	}
	return 1;
}

/* Give ln to the client of r, for the acquire a; -1 (r answered) without memory. */
static int
lease_take(struct lease *ln, struct req *r, const struct lease_args *a)
{
	unsigned *n;

	free(ln->args);
	if ((ln->args = malloc(sizeof(*ln->args))) == NULL) {
		req_error(r, OCTO_ERR_NOMEM, NULL);
		return -1;
	}
	*ln->args = *a;
	n = lease_uid_slot(r->uid, 1);
	ln->state = L_ACQUIRING;
	ln->acq_req = r;
	ln->uid = r->uid;
	ln->pid = r->pid;
	ln->pid_proc = conn_peer_start(r->conn, &ln->pid_start);
	ln->detached = a->detach;
	ln->owner = a->detach ? NULL : r->conn;
	if (ln->owner != NULL)
		conn_ref(ln->owner);
	/* Detached leases count against their uid only. */
	conn_leases_adjust(r->conn, a->detach ? 0 : 1);
	ln->counted_conn = a->detach ? NULL : r->conn;
	if (ln->counted_conn != NULL)
		conn_ref(ln->counted_conn);
	if (n != NULL) {
		(*n)++;
		ln->counted_uid = 1;
	}
	ln->wait_until = policy_mono_ms() + (a->wait_ms > 0 ? a->wait_ms : 0);
	return 0;
}

/* Drop the owner: the lease no longer belongs to any client or counts against it. */
static void
lease_disown(struct lease *ln)
{
	unsigned *n;

	if (ln->owner != NULL) {
		conn_unref(ln->owner);
		ln->owner = NULL;
	}
	if (ln->counted_conn != NULL) {
		conn_leases_adjust(ln->counted_conn, -1);
		conn_unref(ln->counted_conn);
		ln->counted_conn = NULL;
	}
	if (ln->counted_uid && (n = lease_uid_slot(ln->uid, 0)) != NULL && *n > 0)
		(*n)--;
	ln->counted_uid = 0;
}

/*
 * The lease is lost: tell the owner, forget it as held, and keep the name reserved
 * until the server has let go of it too, so that no local waiter is handed the same
 * lease again by the server's same-holder idempotence.
 */
static void
lease_lost(struct lease *ln, const char *reason, int proven)
{
	log_warn("lease lost name=%s lease=%s pid=%d reason=%s", ln->name, lease_short(ln),
	    (int)ln->pid, reason);
	lease_notify_lost(ln, reason);
	lease_tomb_add(ln);
	lease_disown(ln);
	evtimer_del(ln->deadline_ev);
	if (ln->ctl_req != NULL) {
		req_error(ln->ctl_req, OCTO_ERR_LEASE_LOST, "lease lost: %s", reason);
		ln->ctl_req = NULL;
	}
	if (proven) {
		ln->state = L_RELEASING;
		if (ln->inflight == 0)
			lease_done(ln);
		return;
	}
	lease_release_start(ln);
}

/*
 * Schedule the next renewal and the deadline after a successful acquire or renew.  The
 * server granted the TTL that call was sent with; an explicit renew may have changed
 * ttl_ms meanwhile, for later calls only.
 */
static void
lease_vouch(struct lease *ln, const char *expires_at, int64_t renew_after_ms, int first)
{
	uint32_t rnd = policy_rand32();
	int64_t	 now, delay;

	ln->dl_mono = ln->sent_mono + policy_authority_ms(ln->sent_ttl_ms);
	ln->dl_boot = ln->sent_boot + policy_authority_ms(ln->sent_ttl_ms);
	ln->hard_mono = ln->sent_mono + ln->sent_ttl_ms;
	ln->attempt = 0;
	if (expires_at != NULL)
		snprintf(ln->expires_at, sizeof(ln->expires_at), "%s", expires_at);
	now = policy_mono_ms();
	delay = policy_renew_slot(now, first ?
	    policy_first_renew_delay(renew_after_ms, ln->sent_ttl_ms, rnd) :
	    policy_renew_delay(renew_after_ms, ln->sent_ttl_ms, rnd));
	/* On the grid, so renewals due together share one timer. */
	lease_timer_stop(ln);
	if (tslot_arm(&ln->renew_ent, now + delay, now) != 0)
		lease_arm(ln->timer, delay);
	/*
	 * The renewal is due well before the deadline (at most half the TTL against 80%),
	 * so the deadline timer is armed only from then on, while renewals are out or
	 * failing: quiet leases keep no timer of their own in libevent's heap.
	 */
	evtimer_del(ln->deadline_ev);
}

/* Grant the name to the next waiter, or free the entry. */
static void
lease_done(struct lease *ln)
{
	struct waiter *w;

	lease_timer_stop(ln);
	evtimer_del(ln->deadline_ev);
	lease_disown(ln);
	if (ln->acq_req != NULL) {
		req_error(ln->acq_req, OCTO_ERR_INTERNAL, "acquire abandoned");
		ln->acq_req = NULL;
	}
	if (ln->ctl_req != NULL) {
		req_error(ln->ctl_req, OCTO_ERR_INTERNAL, "request abandoned");
		ln->ctl_req = NULL;
	}
	free(ln->metadata);
	ln->metadata = NULL;
	if (ln->detached && ln->lease_id[0] != '\0')
		leasefile_del(ln->name, ln->lease_id);
	ln->lease_id[0] = '\0';
	ln->expires_at[0] = '\0';
	ln->renew_again = 0;
	if ((w = TAILQ_FIRST(&ln->waiters)) == NULL || lease_stopping) {
		lease_free(ln);
		return;
	}
	/* FIFO: the first local waiter within its limits takes over the entry. */
	TAILQ_REMOVE(&ln->waiters, w, q);
	event_free(w->ev);
	if (!lease_limit_ok(w->r, &w->a)) {
		free(w);
		lease_done(ln);
		return;
	}
	if (lease_take(ln, w->r, &w->a) != 0) {
		free(w);
		lease_done(ln);
		return;
	}
	free(w);
	lease_try_acquire(ln);
}

/* The client that asked for this acquire is still there (or it was detached). */
static int
lease_owner_alive(const struct lease *ln)
{
	return ln->detached || (ln->owner != NULL && !conn_dead(ln->owner));
}

/* Backend answered an acquire. */
static void
lease_acquired(const struct backend_result *res, void *arg)
{
	struct lease	*ln = arg;
	int64_t		 now = policy_mono_ms(), delay, until;

	ln->inflight--;
	if (res->err == OCTO_OK && res->status == BACKEND_ACQUIRED) {
		snprintf(ln->lease_id, sizeof(ln->lease_id), "%s", res->lease_id);
		ln->fencing_token = res->fencing_token;
		free(ln->metadata);
		ln->metadata = res->metadata != NULL ? strdup(res->metadata) : NULL;
		ln->state = L_HELD;
		lease_vouch(ln, res->expires_at, res->renew_after_ms, 1);
		if (ln->detached)
			ln->hold_until = ln->sent_mono + ln->args->hold_ms;
		/* The request's parameters are not needed once the lease is held. */
		free(ln->args);
		ln->args = NULL;
		log_debug("lease acquired name=%s lease=%s token=%lld pid=%d uid=%u%s",
		    ln->name, lease_short(ln), (long long)ln->fencing_token, (int)ln->pid,
		    (unsigned)ln->uid, ln->detached ? " detached" : "");
		/* Recorded before anyone hears of it, or given back (leasefile.c). */
		if (ln->detached && leasefile_put(ln->name, ln->lease_id, ln->uid) != 0) {
			if (ln->acq_req != NULL)
				req_error(ln->acq_req, OCTO_ERR_SYSTEM, "cannot record the "
				    "detached lease in state_dir; released");
			ln->acq_req = NULL;
			lease_release_start(ln);
			return;
		}
		if (ln->acq_req != NULL) {
			lease_reply_acquired(ln->acq_req, ln, res->renew_after_ms);
			ln->acq_req = NULL;
		}
		if (!lease_owner_alive(ln) || lease_stopping)
			lease_release_start(ln);
		return;
	}
	if (!lease_owner_alive(ln) || lease_stopping) {
		lease_done(ln);
		return;
	}
	if (res->err == OCTO_OK) {
		/* Held or delayed by someone else upstream: wait, or answer. */
		if (now < ln->wait_until) {
			delay = res->retry_after_ms > 0 ? res->retry_after_ms : 500;
			delay += (int64_t)((uint64_t)delay * policy_rand32() / UINT32_MAX / 5);
			if (now + delay > ln->wait_until)
				delay = ln->wait_until - now;
			lease_arm(ln->timer, delay);
			return;
		}
		if (ln->args->wait_ms > 0)
			req_error(ln->acq_req, OCTO_ERR_TIMEOUT, "%s still held after %lld ms",
			    ln->name, (long long)ln->args->wait_ms);
		else
			lease_reply_remote(ln->acq_req, ln->name, res);
		ln->acq_req = NULL;
		lease_done(ln);
		return;
	}
	/*
	 * A transport error may hide a success; retrying is safe because the server
	 * treats a same-holder acquisition as idempotent.
	 */
	until = ln->wait_until > ln->sent_mono + ACQUIRE_RETRY_MS ? ln->wait_until :
	    ln->sent_mono + ACQUIRE_RETRY_MS;
	/*
	 * 404 or 410 on an acquire: the server does not know our session (it restarted
	 * or expired it before a keepalive told us).  Drop it and retry once on a new one.
	 */
	if ((res->err == OCTO_ERR_NOT_FOUND || res->err == OCTO_ERR_SESSION_EXPIRED) &&
	    ln->attempt == 0) {
		session_invalidate(ln->sent_gen, "the server does not know the session");
		ln->attempt++;
		lease_arm(ln->timer, 0);
		return;
	}
	if (res->transient) {
		delay = policy_backoff(ln->attempt++, res->retry_after_ms, policy_rand32());
		if (now + delay < until) {
			log_debug("acquire name=%s: %s, retrying in %lld ms", ln->name,
			    octo_err_name(res->err), (long long)delay);
			lease_arm(ln->timer, delay);
			return;
		}
	}
	lease_reply_error(ln->acq_req, res);
	ln->acq_req = NULL;
	lease_done(ln);
}

/* A session exists (or cannot be had): send the acquire. */
static void
lease_session_ready(int err, const char *session_id, const char *message, void *arg)
{
	struct lease		*ln = arg;
	struct backend_result	 res;
	const char		*md = ln->args->has_metadata ? ln->args->metadata : NULL;
	int			 e;

	ln->inflight--;
	if (err == OCTO_OK) {
		ln->sent_mono = policy_mono_ms();
		ln->sent_boot = policy_boot_ms();
		ln->sent_ttl_ms = ln->ttl_ms;
		ln->sent_gen = session_generation();
		e = backend_acquire(ln->name, ln->args->ttl, md, ln->args->lock_delay,
		    session_id, ln->uid, lease_acquired, ln);
		if (e == OCTO_OK) {
			ln->inflight++;
			return;
		}
		err = e;
		message = NULL;
	}
	memset(&res, 0, sizeof(res));
	res.err = err;
	res.message = message;
	res.retry_after_ms = -1;
	res.transient = err == OCTO_ERR_UNAVAILABLE || err == OCTO_ERR_TIMEOUT ||
	    err == OCTO_ERR_BUSY;
	ln->inflight++;
	lease_acquired(&res, ln);
}

/* Start (or retry) the acquire of ln->args. */
static void
lease_try_acquire(struct lease *ln)
{
	int e;

	ln->ttl_ms = ln->args->ttl * 1000;
	ln->inflight++;
	if (session_current() != NULL) {
		lease_session_ready(OCTO_OK, session_current(), NULL, ln);
		return;
	}
	if ((e = session_wait(lease_session_ready, ln)) != OCTO_OK)
		lease_session_ready(e, NULL, NULL, ln);
}

/* Wait timeout of a queued local acquire. */
static void
lease_waiter_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct waiter	*w = arg;
	struct lease	*ln = w->ln;

	(void)fd;
	(void)what;
	TAILQ_REMOVE(&ln->waiters, w, q);
	req_error(w->r, OCTO_ERR_TIMEOUT, "%s still held locally after %lld ms", ln->name,
	    (long long)w->a.wait_ms);
	event_free(w->ev);
	free(w);
}

/* acquire. */
void
lease_acquire(struct req *r, const struct lease_args *a)
{
	struct lease	*ln;
	struct waiter	*w;
	char		 why[512];

	if (lease_stopping) {
		req_error(r, OCTO_ERR_SHUTTING_DOWN, NULL);
		return;
	}
	if (a->detach && !leasefile_ready(why, sizeof(why))) {
		req_error(r, OCTO_ERR_CONFIG, "detached leases need a state_dir: %s", why);
		return;
	}
	if ((ln = lease_find(a->name)) != NULL) {
		if (ln->state == L_HELD && !ln->detached && ln->owner == r->conn &&
		    ln->ctl_req == NULL) {
			/* Same connection again: its lease, as the server would say. */
			lease_reply_acquired(r, ln, policy_renew_delay(-1, ln->ttl_ms, 0));
			return;
		}
		if (a->wait_ms <= 0) {
			lease_reply_local_held(r, ln);
			return;
		}
		if ((w = calloc(1, sizeof(*w))) == NULL ||
		    (w->ev = evtimer_new(lease_base, lease_waiter_timeout, w)) == NULL) {
			free(w);
			req_error(r, OCTO_ERR_NOMEM, NULL);
			return;
		}
		w->r = r;
		w->a = *a;
		w->ln = ln;
		TAILQ_INSERT_TAIL(&ln->waiters, w, q);
		lease_arm(w->ev, a->wait_ms);
		log_debug("acquire name=%s pid=%d queued behind a local holder", a->name,
		    (int)r->pid);
		return;
	}
	if (!lease_limit_ok(r, a))
		return;
	if ((ln = lease_new(a->name)) == NULL) {
		req_error(r, OCTO_ERR_NOMEM, NULL);
		return;
	}
	if (lease_take(ln, r, a) != 0) {
		lease_done(ln);
		return;
	}
	lease_try_acquire(ln);
}

/* May r act on ln?  Attached: its connection.  Detached: its uid, or root. */
static int
lease_may(const struct lease *ln, const struct req *r)
{
	if (ln->detached)
		return r->uid == ln->uid || r->uid == 0;
	return ln->owner == r->conn;
}

/*
 * The held lease (name, lease_id) if r may act on it.  NULL with *answered 0: this
 * daemon holds no such lease; NULL with *answered 1: r was refused.
 */
static struct lease *
lease_claim(struct req *r, const char *name, const char *lease_id, int *answered)
{
	struct lease *ln = lease_find(name);

	*answered = 0;
	if (ln == NULL || strcmp(ln->lease_id, lease_id) != 0)
		return NULL;
	/*
	 * A detached lease being released (its hold is over, or a previous daemon left
	 * it, lease_recover) still belongs to its uid: others are refused, not forwarded.
	 */
	if (ln->state == L_RELEASING && ln->detached && !lease_may(ln, r)) {
		*answered = 1;
		req_error(r, OCTO_ERR_NOT_OWNER, "%s is held by another user", name);
		return NULL;
	}
	if (ln->state != L_HELD)
		return NULL;
	*answered = 1;
	if (!lease_may(ln, r)) {
		req_error(r, OCTO_ERR_NOT_OWNER, "%s is held by another %s", name,
		    ln->detached ? "user" : "client");
		return NULL;
	}
	if (ln->ctl_req != NULL) {
		req_error(r, OCTO_ERR_BUSY, "another request on this lease is in progress");
		return NULL;
	}
	ln->ctl_req = r;
	return ln;
}

/* release. */
int
lease_release(struct req *r, const char *name, const char *lease_id)
{
	struct lease	*ln;
	int		 answered;

	if ((ln = lease_claim(r, name, lease_id, &answered)) == NULL)
		return answered;
	log_debug("release name=%s lease=%s pid=%d", name, lease_short(ln), (int)r->pid);
	lease_release_start(ln);
	return 1;
}

/* Send a renewal for ln now. */
static void
lease_renew_send(struct lease *ln)
{
	if (!evtimer_pending(ln->deadline_ev, NULL))
		lease_arm(ln->deadline_ev, lease_left(ln));
	ln->sent_mono = policy_mono_ms();
	ln->sent_boot = policy_boot_ms();
	ln->sent_ttl_ms = ln->ttl_ms;
	ln->renew_again = 0;
	if (backend_renew(ln->name, ln->lease_id, ln->ttl_ms / 1000, lease_renewed,
	    ln) == OCTO_OK)
		ln->inflight++;
	else
		lease_arm(ln->timer, policy_backoff(ln->attempt++, -1, policy_rand32()));
}

/* renew. */
int
lease_renew(struct req *r, const char *name, const char *lease_id, int64_t ttl)
{
	struct lease	*ln;
	int		 answered;

	if ((ln = lease_claim(r, name, lease_id, &answered)) == NULL)
		return answered;
	ln->ttl_ms = ttl * 1000;
	if (ln->inflight > 0)
		ln->renew_again = 1;
	else {
		lease_timer_stop(ln);
		lease_renew_send(ln);
	}
	return 1;
}

/* Why a server answer proves the lease gone, as the lease_lost reason. */
static const char *
lease_loss_reason(const struct backend_result *res)
{
	switch (res->err) {
	case OCTO_ERR_AUTHENTICATION_FAILED:
	case OCTO_ERR_AUTHENTICATION_REQUIRED:
		return "authentication_failed";
	case OCTO_ERR_SESSION_EXPIRED:
		return "session_expired";
	case OCTO_ERR_NOT_FOUND:
		return "not_found";
	default:
		return "lease_not_current";
	}
}

/* Backend answered a renewal. */
static void
lease_renewed(const struct backend_result *res, void *arg)
{
	struct lease	*ln = arg;
	msgpack_packer	*pk;
	int64_t		 delay;

	ln->inflight--;
	if (ln->state != L_HELD) {
		/* Released or lost while the renewal was out: carry on with that. */
		lease_release_send(ln);
		return;
	}
	if (res->err == OCTO_OK) {
		lease_vouch(ln, res->expires_at, res->renew_after_ms, 0);
		log_trace("lease renewed name=%s lease=%s", ln->name, lease_short(ln));
		if (ln->ctl_req != NULL && !ln->renew_again) {
			pk = req_result_begin(ln->ctl_req);
			msgpack_pack_map(pk, 4);
			pack_kv_str(pk, "name", ln->name);
			pack_kv_str(pk, "lease_id", ln->lease_id);
			pack_kv_str(pk, "expires_at", ln->expires_at);
			octo_proto_pack_str(pk, "renew_after_ms");
			msgpack_pack_int64(pk, res->renew_after_ms);
			req_result_end(ln->ctl_req);
			ln->ctl_req = NULL;
		}
		if (ln->renew_again) {
			lease_timer_stop(ln);
			lease_renew_send(ln);
		}
		return;
	}
	if (res->lost) {
		lease_lost(ln, lease_loss_reason(res), 1);
		return;
	}
	if (ln->ctl_req != NULL) {
		/* The client hears of the failure; the daemon keeps trying meanwhile. */
		lease_reply_error(ln->ctl_req, res);
		ln->ctl_req = NULL;
	}
	if (!res->transient) {
		lease_lost(ln, api_code_check(res->code_name) ? res->code_name :
		    octo_err_name(res->err), 0);
		return;
	}
	delay = policy_backoff(ln->attempt++, res->retry_after_ms, policy_rand32());
	log_debug("renew name=%s lease=%s: %s, retry in %lld ms, %lld ms of authority left",
	    ln->name, lease_short(ln), octo_err_name(res->err), (long long)delay,
	    (long long)lease_left(ln));
	/* Past the deadline the deadline timer declares the loss. */
	if (delay < lease_left(ln))
		lease_arm(ln->timer, delay);
}

/* Renewal, retry or hold timer. */
static void
lease_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lease *ln = arg;

	(void)fd;
	(void)what;
	if (ln->inflight > 0)
		return;
	switch (ln->state) {
	case L_ACQUIRING:
		lease_try_acquire(ln);
		break;
	case L_HELD:
		if (ln->detached && policy_mono_ms() >= ln->hold_until) {
			log_debug("lease name=%s lease=%s: hold elapsed, releasing", ln->name,
			    lease_short(ln));
			lease_release_start(ln);
			break;
		}
		lease_renew_send(ln);
		break;
	case L_RELEASING:
		lease_release_send(ln);
		break;
	}
}

/* A renewal is due (a shared instant fired). */
static void
lease_renew_due(void *arg)
{
	lease_timer_cb(-1, 0, arg);
}

/* Authority deadline: past it the lease is never reported held. */
static void
lease_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lease	*ln = arg;
	int64_t		 left;

	(void)fd;
	(void)what;
	if (ln->state != L_HELD)
		return;
	if ((left = lease_left(ln)) > 0) {
		lease_arm(ln->deadline_ev, left);
		return;
	}
	lease_lost(ln, "expired", 0);
}

/* Stop renewing and give the lease back to the server (or let it expire there). */
static void
lease_release_start(struct lease *ln)
{
	ln->state = L_RELEASING;
	lease_disown(ln);
	lease_timer_stop(ln);
	evtimer_del(ln->deadline_ev);
	ln->attempt = 0;
	if (ln->inflight == 0)
		lease_release_send(ln);
}

/* Backend answered a release. */
static void
lease_released(const struct backend_result *res, void *arg)
{
	struct lease	*ln = arg;
	msgpack_packer	*pk;
	int64_t		 delay;

	ln->inflight--;
	if (res->err == OCTO_OK) {
		log_debug("lease released name=%s lease=%s", ln->name, lease_short(ln));
		if (ln->ctl_req != NULL) {
			pk = req_result_begin(ln->ctl_req);
			msgpack_pack_map(pk, 2);
			pack_kv_str(pk, "name", ln->name);
			pack_kv_bool(pk, "released", 1);
			req_result_end(ln->ctl_req);
			ln->ctl_req = NULL;
		}
		lease_done(ln);
		return;
	}
	if (ln->ctl_req != NULL) {
		lease_reply_error(ln->ctl_req, res);
		ln->ctl_req = NULL;
	}
	if (res->transient && !lease_stopping) {
		delay = policy_backoff(ln->attempt++, res->retry_after_ms, policy_rand32());
		if (policy_mono_ms() + delay < ln->hard_mono) {
			log_debug("release name=%s: %s, retry in %lld ms", ln->name,
			    octo_err_name(res->err), (long long)delay);
			lease_arm(ln->timer, delay);
			return;
		}
	}
	log_info("lease name=%s lease=%s: release ended with %s; the server lets it expire",
	    ln->name, lease_short(ln), octo_err_name(res->err));
	lease_done(ln);
}

/* Send the release, unless the server has already forgotten the lease. */
static void
lease_release_send(struct lease *ln)
{
	int64_t now = policy_mono_ms();

	if (ln->lease_id[0] == '\0' || now >= ln->hard_mono) {
		lease_done(ln);
		return;
	}
	if (backend_release(ln->name, ln->lease_id, lease_released, ln) == OCTO_OK)
		ln->inflight++;
	else if (!lease_stopping)
		lease_arm(ln->timer, policy_backoff(ln->attempt++, -1, policy_rand32()));
	else
		lease_done(ln);
}

/*
 * A detached lease a previous daemon recorded and did not end (it crashed): nobody
 * renews it now, and its owner is known only from the record, so it is released at
 * once, as a clean stop would have; until that is over, only its uid (or root) may act
 * on its id.  The server's TTL is not known: releases are retried for the longest.
 */
int
lease_recover(const char *name, const char *lease_id, uid_t uid)
{
	struct lease *ln;

	if (lease_find(name) != NULL || (ln = lease_new(name)) == NULL)
		return -1;
	snprintf(ln->lease_id, sizeof(ln->lease_id), "%s", lease_id);
	ln->uid = uid;
	ln->detached = 1;
	ln->state = L_RELEASING;
	ln->hard_mono = policy_mono_ms() + (int64_t)API_TTL_MAX * 1000;
	log_info("lease name=%s lease=%s uid=%u: detached, left by a previous run; "
	    "releasing it", ln->name, lease_short(ln), (unsigned)uid);
	lease_release_send(ln);
	return 0;
}

/* A client went away: its waits end, its leases are released at once. */
void
lease_conn_gone(struct conn *c)
{
	struct lease	*ln, *next;
	struct waiter	*w, *wn;

	LIST_FOREACH(ln, &lease_all, all) {
		for (w = TAILQ_FIRST(&ln->waiters); w != NULL; w = wn) {
			wn = TAILQ_NEXT(w, q);
			if (w->r->conn != c)
				continue;
			TAILQ_REMOVE(&ln->waiters, w, q);
			req_error(w->r, OCTO_ERR_CLOSED, NULL);
			event_free(w->ev);
			free(w);
		}
	}
	for (ln = LIST_FIRST(&lease_all); ln != NULL; ln = next) {
		next = LIST_NEXT(ln, all);
		if (ln->owner != c)
			continue;
		if (ln->state == L_HELD) {
			log_debug("client pid=%d gone: releasing name=%s lease=%s", (int)ln->pid,
			    ln->name, lease_short(ln));
			lease_release_start(ln);
		} else
			lease_disown(ln);
	}
}

/* The session ended: the server has dropped every ephemeral lease on it. */
void
lease_session_lost(const char *why)
{
	struct lease *ln, *next;

	(void)why;
	for (ln = LIST_FIRST(&lease_all); ln != NULL; ln = next) {
		next = LIST_NEXT(ln, all);
		if (ln->state == L_HELD)
			lease_lost(ln, "session_expired", 1);
	}
}

/* Shutdown: end every wait, release every lease. */
void
lease_shutdown(void)
{
	struct lease	*ln, *next;
	struct waiter	*w;

	lease_stopping = 1;
	for (ln = LIST_FIRST(&lease_all); ln != NULL; ln = next) {
		next = LIST_NEXT(ln, all);
		while ((w = TAILQ_FIRST(&ln->waiters)) != NULL) {
			TAILQ_REMOVE(&ln->waiters, w, q);
			req_error(w->r, OCTO_ERR_SHUTTING_DOWN, NULL);
			event_free(w->ev);
			free(w);
		}
		if (ln->state == L_HELD)
			lease_release_start(ln);
		else
			lease_disown(ln);
	}
}

/* Free what remains. */
void
lease_free_all(void)
{
	struct lease *ln;

	lease_stopping = 1;
	while ((ln = LIST_FIRST(&lease_all)) != NULL) {
		ln->inflight = 0;
		lease_done(ln);
	}
	nametab_free(&lease_tab);
	tslot_free_all();
}

/* Is (name, token) a lease this daemon has declared lost? */
int
lease_is_lost(const char *name, int64_t upstream_token)
{
	return lease_tomb_match(name, upstream_token);
}

/* Does status/list get a "local" field for name? */
int
lease_local_fields(const char *name, int64_t upstream_token)
{
	return lease_find(name) != NULL || lease_tomb_match(name, upstream_token);
}

/* Pack "local": {state, pid, pid_stale, uid, detached} for a name this daemon knows. */
void
lease_pack_local(msgpack_packer *pk, const char *name, int64_t upstream_token)
{
	static const char *const states[] = {
		[L_ACQUIRING] = "acquiring",
		[L_HELD] = "held",
		[L_RELEASING] = "releasing",
	};
	struct lease	*ln = lease_find(name);
	const char	*state;
	pid_t		 pid;
	int		 stale;

	octo_proto_pack_str(pk, "local");
	if (lease_tomb_match(name, upstream_token))
		state = "lost";
	else if (ln != NULL)
		state = states[ln->state];
	else
		state = "none";
	if (ln == NULL || strcmp(state, "lost") == 0) {
		msgpack_pack_map(pk, 1);
		pack_kv_str(pk, "state", state);
		return;
	}
	pid = lease_holder_pid(ln, &stale);
	msgpack_pack_map(pk, 5);
	pack_kv_str(pk, "state", state);
	octo_proto_pack_str(pk, "pid");
	msgpack_pack_int32(pk, pid);
	pack_kv_bool(pk, "pid_stale", stale);
	octo_proto_pack_str(pk, "uid");
	msgpack_pack_uint32(pk, ln->uid);
	pack_kv_bool(pk, "detached", ln->detached);
}
