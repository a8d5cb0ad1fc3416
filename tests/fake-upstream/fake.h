/* fake.h - shared declarations of octofake, the fake OctoStore HTTP server. */
#ifndef FAKE_H
#define FAKE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct evhttp_request;
struct event_base;

#define FAKE_UUID_LEN		36
#define FAKE_REQUEST_ID_LEN	36	/* "req_" + 32 hex */
#define FAKE_MAX_USERS		8

#ifndef nitems
#define nitems(a)	(sizeof(a) / sizeof((a)[0]))
#endif

/* Endpoints, each counted in GET /_fake/stats. */
enum fake_ep {
	FAKE_EP_HEALTH,
	FAKE_EP_ACQUIRE,
	FAKE_EP_RELEASE,
	FAKE_EP_RENEW,
	FAKE_EP_STATUS,
	FAKE_EP_LIST,
	FAKE_EP_SESSION_CREATE,
	FAKE_EP_KEEPALIVE,
	FAKE_EP_SESSION_STATUS,
	FAKE_EP_SESSION_DELETE,
	FAKE_EP_ROTATE,
	FAKE_EP_OTHER,
	FAKE_EP__MAX
};

/* One principal: a bearer token and its stable identifiers. */
struct fake_user {
	char	*token;
	char	*prev_token;	/* the one the last rotation replaced */
	char	 user_id[FAKE_UUID_LEN + 1];
	char	 pseudo[FAKE_UUID_LEN + 1];	/* public holder_id */
	char	 name[32];
};

/* One API request on its way through the fake; owned by whoever holds it. */
struct fake_req {
	struct evhttp_request	*req;
	enum fake_ep		 ep;
	const char		*method;
	char			*path;		/* raw path, for logs and faults */
	char			*arg;		/* decoded {name} or {id}, or NULL */
	char			*prefix;	/* list: decoded ?prefix=, or NULL */
	int			 bad_arg;	/* {name} decoded to a NUL byte */
	int			 bad_route;	/* FAKE_EP_OTHER: 404 or 405 */
	struct fake_user	*user;
	char			 request_id[FAKE_REQUEST_ID_LEN + 1];
};

/* fake.c */
struct event_base *fake_base(void);
int	 fake_verbose(void);
int	 fake_min_session_ttl(void);

/* route.c */
void	 route_request(struct evhttp_request *, void *);
void	 route_serve(struct fake_req *);
void	 route_req_free(struct fake_req *);

/* http.c */
uint64_t http_now_ms(void);
void	 http_time(uint64_t, char *, size_t);
void	 http_random_hex(char *, size_t);
void	 http_uuid(char *);
int	 http_uuid_valid(const char *);
void	 http_reply(struct fake_req *, int, json_t *);
void	 http_reply_error(struct fake_req *, int, const char *, const char *,
	     int64_t);
int	 http_body(struct fake_req *, json_t **);
int	 http_get_int(struct fake_req *, json_t *, const char *, long long,
	     long long *);
int	 http_get_string(struct fake_req *, json_t *, const char *,
	     const char **);
const char *http_default_code(int);

/* auth.c */
int	 auth_add_token_file(const char *);
int	 auth_count(void);
struct fake_user *auth_check(struct fake_req *);
void	 auth_rotate(struct fake_req *);
const char *auth_token_state(const char *);
void	 auth_free(void);

/* table.c */
struct table_entry {
	struct table_entry	*next;
	uint32_t		 hash;
	const char		*key;
};
struct table {
	struct table_entry	**buckets;
	size_t			  nbuckets;
	size_t			  count;
};
void	 table_init(struct table *);
struct table_entry *table_find(struct table *, const char *);
void	 table_insert(struct table *, struct table_entry *);
void	 table_remove(struct table *, struct table_entry *);
struct table_entry *table_next(struct table *, struct table_entry *);
void	 table_free(struct table *);

/* locks.c */
void	 locks_acquire(struct fake_req *);
void	 locks_release(struct fake_req *);
void	 locks_renew(struct fake_req *);
void	 locks_status(struct fake_req *);
void	 locks_list(struct fake_req *);
int	 locks_expire(const char *);
size_t	 locks_held(void);
size_t	 locks_by_session(const char *);
void	 locks_free(void);

/* sessions.c */
struct session;
void	 sessions_create(struct fake_req *);
void	 sessions_keepalive(struct fake_req *);
void	 sessions_status(struct fake_req *);
void	 sessions_delete(struct fake_req *);
int	 sessions_alive(const char *, uint64_t);
struct session *sessions_find(const char *);
int	 sessions_owned(struct session *, struct fake_user *);
int	 sessions_expired(struct session *, uint64_t);
const char *sessions_pseudo(struct session *);
int	 sessions_expire(const char *);
size_t	 sessions_active(void);
void	 sessions_free(void);

/* control.c */
void	 control_init(void);
void	 control_dispatch(struct evhttp_request *, const char *);
void	 control_connection(void);
void	 control_count(enum fake_ep);
void	 control_user_agent(const char *);
void	 control_length_required(void);
int	 control_latency(struct fake_req *);
int	 control_fault(struct fake_req *);
int	 control_reflect_mode(void);
void	 control_free(void);

#define CONTROL_PASS	0	/* no fault: serve normally */
#define CONTROL_DONE	1	/* replied: the caller frees the request */
#define CONTROL_KEPT	2	/* control owns the request now */

/* POST /_fake/reflect {"mode"}: answers carry the Authorization header back. */
#define CONTROL_REFLECT_OFF	0
#define CONTROL_REFLECT_WHOLE	1	/* "whole": the header, in every string */
#define CONTROL_REFLECT_PIECE	2	/* "piece": 8 bytes of the token, in every string */

#endif
