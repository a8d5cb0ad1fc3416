/* sessions.c - sessions with keepalive; expiry or deletion frees ephemeral locks. */
#include <stdlib.h>
#include <string.h>

#include "fake.h"

#define SESSION_TTL_DEFAULT	60
#define SESSION_TTL_MAX		300

/* A session; expired sessions stay (410) until deleted or shutdown. */
struct session {
	struct table_entry	 entry;		/* key = id */
	char			 id[FAKE_UUID_LEN + 1];
	char			 pseudo[FAKE_UUID_LEN + 1];
	struct fake_user	*user;
	int			 ttl;
	uint64_t		 expires_ms;
};

static struct table	sessions;

/* Session by id, expired or not, or NULL. */
struct session *
sessions_find(const char *id)
{
	return (struct session *)table_find(&sessions, id);
}

/* Whether u may see s. */
int
sessions_owned(struct session *s, struct fake_user *u)
{
	return s->user == u;
}

/* Whether s has expired at now. */
int
sessions_expired(struct session *s, uint64_t now)
{
	return now >= s->expires_ms;
}

/* The holder_id shown for locks held by s. */
const char *
sessions_pseudo(struct session *s)
{
	return s->pseudo;
}

/* Whether the session with this id exists and has not expired. */
int
sessions_alive(const char *id, uint64_t now)
{
	struct session	*s = sessions_find(id);

	return s != NULL && !sessions_expired(s, now);
}

/* POST /sessions: ttl_seconds defaults to 60, clamped to [min, 300]. */
void
sessions_create(struct fake_req *fr)
{
	struct session	*s;
	json_t		*body, *o;
	long long	 ttl;
	char		 exp[40];
	int		 min = fake_min_session_ttl();

	if (http_body(fr, &body) != 0)
		return;
	if (http_get_int(fr, body, "ttl_seconds", SESSION_TTL_DEFAULT,
	    &ttl) != 0)
		goto out;
	if (ttl < min)
		ttl = min;
	if (ttl > SESSION_TTL_MAX)
		ttl = SESSION_TTL_MAX;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		abort();
	do
		http_uuid(s->id);
	while (sessions_find(s->id) != NULL);
	http_uuid(s->pseudo);
	s->user = fr->user;
	s->ttl = (int)ttl;
	s->expires_ms = http_now_ms() + (uint64_t)ttl * 1000;
	s->entry.key = s->id;
	table_insert(&sessions, &s->entry);

	http_time(s->expires_ms, exp, sizeof(exp));
	o = json_pack("{s:s, s:s, s:i}", "session_id", s->id, "expires_at",
	    exp, "keepalive_interval_secs", s->ttl / 2 > 0 ? s->ttl / 2 : 1);
	http_reply(fr, 201, o);
out:
	json_decref(body);
}

/* The caller's session named in the path, or NULL after a 404. */
static struct session *
sessions_lookup(struct fake_req *fr)
{
	struct session	*s = NULL;

	if (!fr->bad_arg && http_uuid_valid(fr->arg))
		s = sessions_find(fr->arg);
	if (s == NULL || !sessions_owned(s, fr->user)) {
		http_reply_error(fr, 404, "not_found", "Session not found", -1);
		return NULL;
	}
	return s;
}

/* POST /sessions/{id}/keepalive: extend by the original TTL; 410 if expired. */
void
sessions_keepalive(struct fake_req *fr)
{
	struct session	*s;
	uint64_t	 now = http_now_ms();
	char		 exp[40];

	if ((s = sessions_lookup(fr)) == NULL)
		return;
	if (sessions_expired(s, now)) {
		http_reply_error(fr, 410, "session_expired",
		    "Session has expired", -1);
		return;
	}
	s->expires_ms = now + (uint64_t)s->ttl * 1000;
	http_time(s->expires_ms, exp, sizeof(exp));
	http_reply(fr, 200, json_pack("{s:s, s:s}", "session_id", s->id,
	    "expires_at", exp));
}

/* GET /sessions/{id}: status, with active false once expired. */
void
sessions_status(struct fake_req *fr)
{
	struct session	*s;
	uint64_t	 now = http_now_ms();
	char		 exp[40];

	if ((s = sessions_lookup(fr)) == NULL)
		return;
	http_time(s->expires_ms, exp, sizeof(exp));
	http_reply(fr, 200, json_pack("{s:s, s:s, s:s, s:I, s:b}",
	    "session_id", s->id, "user_id", s->user->user_id,
	    "expires_at", exp, "lock_count", (json_int_t)locks_by_session(s->id),
	    "active", !sessions_expired(s, now)));
}

/* DELETE /sessions/{id}: 204, or 410 for an expired one; both forget it. */
void
sessions_delete(struct fake_req *fr)
{
	struct session	*s;
	int		 expired;

	if ((s = sessions_lookup(fr)) == NULL)
		return;
	expired = sessions_expired(s, http_now_ms());
	table_remove(&sessions, &s->entry);
	free(s);
	if (expired) {
		http_reply_error(fr, 410, "session_expired",
		    "Session has expired", -1);
	} else
		http_reply(fr, 204, NULL);
}

/* Control: expire a session now. Returns 0, or -1 if unknown. */
int
sessions_expire(const char *id)
{
	struct session	*s = sessions_find(id);

	if (s == NULL)
		return -1;
	s->expires_ms = http_now_ms();
	return 0;
}

/* Number of sessions that have not expired. */
size_t
sessions_active(void)
{
	struct table_entry	*e = NULL;
	uint64_t		 now = http_now_ms();
	size_t			 n = 0;

	while ((e = table_next(&sessions, e)) != NULL) {
		if (!sessions_expired((struct session *)e, now))
			n++;
	}
	return n;
}

/* Free every session. */
void
sessions_free(void)
{
	struct table_entry	*e, *next;

	for (e = table_next(&sessions, NULL); e != NULL; e = next) {
		next = table_next(&sessions, e);
		free(e);
	}
	table_free(&sessions);
}
