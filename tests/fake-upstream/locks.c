/* locks.c - the lock table: leases, TTL expiry, fencing tokens, lock delay. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wchar.h>
#include <wctype.h>

#include "fake.h"

#define LOCK_NAME_MAX		256
#define LOCK_COMPONENT_MAX	64
#define LOCK_TTL_DEFAULT	60
#define LOCK_TTL_MAX		3600
#define LOCK_METADATA_MAX	1024
#define LOCK_DELAY_MAX		30

/*
 * A lock name's entry; it outlives its leases so that fencing tokens never
 * repeat. The holder is a user, or a session for an ephemeral lease.
 */
struct lock {
	struct table_entry	 entry;		/* key = name */
	char			*name;
	int64_t			 fencing;	/* last allocated generation */
	int			 held;
	char			 lease_id[FAKE_UUID_LEN + 1];
	struct fake_user	*user;
	int			 ephemeral;
	char			 session_id[FAKE_UUID_LEN + 1];	/* or "" */
	char			 holder_id[FAKE_UUID_LEN + 1];
	char			*metadata;
	uint64_t		 expires_ms;
	int			 lock_delay;
	uint64_t		 delay_until_ms;
	struct fake_user	*delay_user;	/* last holder, exempt from delay */
	char			 delay_session[FAKE_UUID_LEN + 1];
};

static struct table	locks;

/* Whether name obeys the OpenAPI LockName rules (UTF-8, C.UTF-8 ctype). */
static int
locks_name_valid(const char *name)
{
	size_t		len = strlen(name), comp = 0, n;
	mbstate_t	ps;
	wchar_t		wc;

	if (len == 0 || len > LOCK_NAME_MAX)
		return 0;
	memset(&ps, 0, sizeof(ps));
	while (*name != '\0') {
		if (*name == '/') {
			if (comp == 0)
				return 0;
			comp = 0;
			name++;
			continue;
		}
		if ((unsigned char)*name < 0x80) {
			if (!iswalnum((wint_t)*name) && *name != '-' &&
			    *name != '_' && *name != '.')
				return 0;
			n = 1;
		} else {
			n = mbrtowc(&wc, name, len, &ps);
			if (n == (size_t)-1 || n == (size_t)-2 || n == 0 ||
			    !iswalnum((wint_t)wc))
				return 0;
		}
		comp += n;
		if (comp > LOCK_COMPONENT_MAX)
			return 0;
		name += n;
		len -= n;
	}
	return comp != 0;
}

/* Drop the current lease, if any, keeping the fencing counter. */
static void
locks_drop(struct lock *l)
{
	l->held = 0;
	l->lease_id[0] = '\0';
	free(l->metadata);
	l->metadata = NULL;
}

/* Expire the lease if its TTL passed or its ephemeral session ended. */
static void
locks_refresh(struct lock *l, uint64_t now)
{
	if (!l->held)
		return;
	if (now >= l->expires_ms ||
	    (l->ephemeral && !sessions_alive(l->session_id, now)))
		locks_drop(l);
}

/* The entry for name, created free when missing and create is set. */
static struct lock *
locks_get(const char *name, int create)
{
	struct lock	*l;

	l = (struct lock *)table_find(&locks, name);
	if (l != NULL || !create)
		return l;
	if ((l = calloc(1, sizeof(*l))) == NULL ||
	    (l->name = strdup(name)) == NULL)
		abort();
	l->entry.key = l->name;
	table_insert(&locks, &l->entry);
	return l;
}

/* Validate the {name} path segment; 400 invalid_lock_name if bad. */
static int
locks_check_name(struct fake_req *fr)
{
	if (fr->bad_arg || !locks_name_valid(fr->arg)) {
		http_reply_error(fr, 400, "invalid_lock_name",
		    "Invalid lock name: components may contain Unicode "
		    "alphanumerics, '-', '_' and '.'", -1);
		return -1;
	}
	return 0;
}

/* Read ttl_seconds (default 60) and check 1..3600; replies on error. */
static int
locks_ttl(struct fake_req *fr, json_t *body, long long *ttl)
{
	if (http_get_int(fr, body, "ttl_seconds", LOCK_TTL_DEFAULT, ttl) != 0)
		return -1;
	if (*ttl < 1 || *ttl > LOCK_TTL_MAX) {
		http_reply_error(fr, 400, "invalid_ttl",
		    "Invalid TTL: TTL must be between 1 and 3600 seconds", -1);
		return -1;
	}
	return 0;
}

/* Read the required lease_id, which must be a UUID; replies on error. */
static int
locks_lease(struct fake_req *fr, json_t *body, const char **lease)
{
	if (http_get_string(fr, body, "lease_id", lease) != 0)
		return -1;
	if (*lease == NULL || !http_uuid_valid(*lease)) {
		http_reply_error(fr, 422, "invalid_input", "Invalid input", -1);
		return -1;
	}
	return 0;
}

/* Whether the caller (user, or session s for ephemeral) holds l. */
static int
locks_same_holder(struct lock *l, struct fake_user *u, const char *sid)
{
	if (sid != NULL)
		return l->ephemeral && strcmp(l->session_id, sid) == 0;
	return !l->ephemeral && l->user == u;
}

/* Reply LockAcquired for the current lease of l. */
static void
locks_reply_acquired(struct fake_req *fr, struct lock *l, long long ttl)
{
	char	exp[40];

	http_time(l->expires_ms, exp, sizeof(exp));
	http_reply(fr, 200, json_pack("{s:s, s:s, s:I, s:s, s:I, s:s?}",
	    "status", "acquired", "lease_id", l->lease_id,
	    "fencing_token", (json_int_t)l->fencing, "expires_at", exp,
	    "renew_after_ms", (json_int_t)(ttl * 1000 / 3),
	    "metadata", l->metadata));
}

/* Parse and check the acquire body into its parts; replies on error. */
static int
locks_acquire_args(struct fake_req *fr, json_t *body, long long *ttl,
    const char **meta, const char **sid, int *eph, long long *delay)
{
	struct session	*s;
	json_t		*j;

	if (locks_ttl(fr, body, ttl) != 0 ||
	    http_get_string(fr, body, "metadata", meta) != 0 ||
	    http_get_string(fr, body, "session_id", sid) != 0 ||
	    http_get_int(fr, body, "lock_delay_seconds", 0, delay) != 0)
		return -1;
	j = json_object_get(body, "ephemeral");
	if (j != NULL && !json_is_boolean(j) && !json_is_null(j)) {
		http_reply_error(fr, 422, "invalid_input",
		    "ephemeral must be a boolean", -1);
		return -1;
	}
	*eph = json_is_true(j);
	if (*meta != NULL && strlen(*meta) > LOCK_METADATA_MAX) {
		http_reply_error(fr, 400, "invalid_input",
		    "metadata exceeds 1024 bytes", -1);
		return -1;
	}
	if (*delay < 0 || *delay > LOCK_DELAY_MAX) {
		http_reply_error(fr, 400, "invalid_input",
		    "lock_delay_seconds must be between 0 and 30", -1);
		return -1;
	}
	if (*sid != NULL && !http_uuid_valid(*sid)) {
		http_reply_error(fr, 422, "invalid_input", "Invalid input", -1);
		return -1;
	}
	if (*eph && *sid == NULL) {
		http_reply_error(fr, 400, "invalid_input",
		    "ephemeral locks need a session_id", -1);
		return -1;
	}
	if (*sid == NULL)
		return 0;
	s = sessions_find(*sid);
	if (s == NULL || !sessions_owned(s, fr->user)) {
		http_reply_error(fr, 404, "not_found", "Session not found", -1);
		return -1;
	}
	if (sessions_expired(s, http_now_ms())) {
		http_reply_error(fr, 410, "session_expired",
		    "Session has expired", -1);
		return -1;
	}
	return 0;
}

/* POST /locks/{name}/acquire. */
void
locks_acquire(struct fake_req *fr)
{
	struct lock	*l;
	json_t		*body;
	const char	*meta, *sid, *hsid;
	long long	 ttl, delay;
	int		 eph;
	uint64_t	 now;
	char		 exp[40];

	if (locks_check_name(fr) != 0 || http_body(fr, &body) != 0)
		return;
	if (locks_acquire_args(fr, body, &ttl, &meta, &sid, &eph, &delay) != 0)
		goto out;
	hsid = eph ? sid : NULL;
	now = http_now_ms();
	l = locks_get(fr->arg, 1);
	locks_refresh(l, now);

	if (l->held && locks_same_holder(l, fr->user, hsid)) {
		/* Idempotent: the same lease, extended by the new TTL. */
		l->expires_ms = now + (uint64_t)ttl * 1000;
		locks_reply_acquired(fr, l, ttl);
		goto out;
	}
	if (l->held) {
		http_time(l->expires_ms, exp, sizeof(exp));
		http_reply(fr, 200, json_pack("{s:s, s:s, s:s, s:I, s:s?}",
		    "status", "held", "holder_id", l->holder_id,
		    "expires_at", exp,
		    "retry_after_ms", (json_int_t)(l->expires_ms - now),
		    "metadata", l->metadata));
		goto out;
	}
	if (now < l->delay_until_ms && !(hsid != NULL ?
	    strcmp(l->delay_session, hsid) == 0 :
	    l->delay_session[0] == '\0' && l->delay_user == fr->user)) {
		http_time(l->delay_until_ms, exp, sizeof(exp));
		http_reply(fr, 409, json_pack("{s:s, s:s, s:i, s:I}",
		    "status", "delayed", "available_at", exp,
		    "lock_delay_seconds", l->lock_delay,
		    "retry_after_ms", (json_int_t)(l->delay_until_ms - now)));
		goto out;
	}

	l->held = 1;
	l->fencing++;
	http_uuid(l->lease_id);
	l->user = fr->user;
	l->ephemeral = eph;
	snprintf(l->session_id, sizeof(l->session_id), "%s",
	    sid != NULL ? sid : "");
	snprintf(l->holder_id, sizeof(l->holder_id), "%s",
	    eph ? sessions_pseudo(sessions_find(sid)) : fr->user->pseudo);
	if (meta != NULL && (l->metadata = strdup(meta)) == NULL)
		abort();
	l->expires_ms = now + (uint64_t)ttl * 1000;
	l->lock_delay = (int)delay;
	l->delay_until_ms = 0;
	locks_reply_acquired(fr, l, ttl);
out:
	json_decref(body);
}

/* The lock whose current lease is lease and whose holder is the caller. */
static struct lock *
locks_current(struct fake_req *fr, const char *lease)
{
	struct lock	*l = locks_get(fr->arg, 0);

	if (l == NULL)
		return NULL;
	locks_refresh(l, http_now_ms());
	if (!l->held || strcasecmp(l->lease_id, lease) != 0 ||
	    l->user != fr->user)
		return NULL;
	return l;
}

/* POST /locks/{name}/release: 200 null, or 404 lease_not_current. */
void
locks_release(struct fake_req *fr)
{
	struct lock	*l;
	json_t		*body;
	const char	*lease;

	if (locks_check_name(fr) != 0 || http_body(fr, &body) != 0)
		return;
	if (locks_lease(fr, body, &lease) != 0)
		goto out;
	if ((l = locks_current(fr, lease)) == NULL) {
		http_reply_error(fr, 404, "lease_not_current",
		    "Invalid lease ID", -1);
		goto out;
	}
	if (l->lock_delay > 0) {
		l->delay_until_ms = http_now_ms() + (uint64_t)l->lock_delay * 1000;
		l->delay_user = l->user;
		snprintf(l->delay_session, sizeof(l->delay_session), "%s",
		    l->ephemeral ? l->session_id : "");
	}
	locks_drop(l);
	http_reply(fr, 200, json_null());
out:
	json_decref(body);
}

/* POST /locks/{name}/renew: RenewLockResponse, or 404 lease_not_current. */
void
locks_renew(struct fake_req *fr)
{
	struct lock	*l;
	json_t		*body;
	const char	*lease;
	long long	 ttl;
	char		 exp[40];

	if (locks_check_name(fr) != 0 || http_body(fr, &body) != 0)
		return;
	if (locks_lease(fr, body, &lease) != 0 || locks_ttl(fr, body, &ttl) != 0)
		goto out;
	if ((l = locks_current(fr, lease)) == NULL) {
		http_reply_error(fr, 404, "lease_not_current",
		    "Invalid lease ID", -1);
		goto out;
	}
	l->expires_ms = http_now_ms() + (uint64_t)ttl * 1000;
	http_time(l->expires_ms, exp, sizeof(exp));
	http_reply(fr, 200, json_pack("{s:s, s:s, s:I}", "lease_id",
	    l->lease_id, "expires_at", exp,
	    "renew_after_ms", (json_int_t)(ttl * 1000 / 3)));
out:
	json_decref(body);
}

/* LockStatus object for name (l may be NULL for a never-used name). */
static json_t *
locks_status_json(const char *name, struct lock *l)
{
	char	exp[40];

	if (l == NULL || !l->held) {
		return json_pack("{s:s, s:s, s:n, s:I, s:n, s:n}", "name", name,
		    "status", "free", "holder_id",
		    "fencing_token", (json_int_t)(l != NULL ? l->fencing : 0),
		    "expires_at", "metadata");
	}
	http_time(l->expires_ms, exp, sizeof(exp));
	return json_pack("{s:s, s:s, s:s, s:I, s:s, s:s?}", "name", name,
	    "status", "held", "holder_id", l->holder_id,
	    "fencing_token", (json_int_t)l->fencing, "expires_at", exp,
	    "metadata", l->metadata);
}

/* GET /locks/{name}. */
void
locks_status(struct fake_req *fr)
{
	struct lock	*l;

	if (locks_check_name(fr) != 0)
		return;
	if ((l = locks_get(fr->arg, 0)) != NULL)
		locks_refresh(l, http_now_ms());
	http_reply(fr, 200, locks_status_json(fr->arg, l));
}

/* qsort order for list: by name. */
static int
locks_cmp(const void *a, const void *b)
{
	const struct lock	*la = *(struct lock *const *)a;
	const struct lock	*lb = *(struct lock *const *)b;

	return strcmp(la->name, lb->name);
}

/* GET /locks?prefix=P: held locks whose name starts with P, sorted. */
void
locks_list(struct fake_req *fr)
{
	struct table_entry	 *e = NULL;
	struct lock		**v, *l;
	size_t			  n = 0, i, plen;
	uint64_t		  now = http_now_ms();
	json_t			 *arr;

	plen = fr->prefix != NULL ? strlen(fr->prefix) : 0;
	if ((v = calloc(locks.count + 1, sizeof(*v))) == NULL)
		abort();
	while ((e = table_next(&locks, e)) != NULL) {
		l = (struct lock *)e;
		locks_refresh(l, now);
		if (l->held && strncmp(l->name, fr->prefix != NULL ?
		    fr->prefix : "", plen) == 0)
			v[n++] = l;
	}
	qsort(v, n, sizeof(*v), locks_cmp);
	arr = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(arr, locks_status_json(v[i]->name, v[i]));
	free(v);
	http_reply(fr, 200, json_pack("{s:o, s:I, s:s?}", "locks", arr,
	    "total", (json_int_t)n, "prefix", fr->prefix));
}

/* Control: expire the lease on name now. Returns 0, or -1 if not held. */
int
locks_expire(const char *name)
{
	struct lock	*l = locks_get(name, 0);

	if (l == NULL)
		return -1;
	locks_refresh(l, http_now_ms());
	if (!l->held)
		return -1;
	locks_drop(l);
	return 0;
}

/* Number of held locks (expired leases are dropped on the way). */
size_t
locks_held(void)
{
	struct table_entry	*e = NULL;
	uint64_t		 now = http_now_ms();
	size_t			 n = 0;

	while ((e = table_next(&locks, e)) != NULL) {
		locks_refresh((struct lock *)e, now);
		n += ((struct lock *)e)->held;
	}
	return n;
}

/* Number of held locks acquired with this session id. */
size_t
locks_by_session(const char *id)
{
	struct table_entry	*e = NULL;
	struct lock		*l;
	uint64_t		 now = http_now_ms();
	size_t			 n = 0;

	while ((e = table_next(&locks, e)) != NULL) {
		l = (struct lock *)e;
		locks_refresh(l, now);
		if (l->held && strcmp(l->session_id, id) == 0)
			n++;
	}
	return n;
}

/* Free every lock. */
void
locks_free(void)
{
	struct table_entry	*e, *next;
	struct lock		*l;

	for (e = table_next(&locks, NULL); e != NULL; e = next) {
		next = table_next(&locks, e);
		l = (struct lock *)e;
		free(l->metadata);
		free(l->name);
		free(l);
	}
	table_free(&locks);
}
