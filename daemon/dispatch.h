/* dispatch.h - the method table and the request/reply life cycle. */
#ifndef DISPATCH_H
#define DISPATCH_H

#include <stdint.h>
#include <sys/types.h>

#include <msgpack.h>

#include "octo_proto.h"

struct conn;

/*
 * One request being served.  A handler must finish every req it is given exactly once,
 * with req_result_begin()+req_result_end() or one of the req_error*() calls, either
 * before it returns or later from a callback (an upstream transfer).  A req holds a
 * reference on its connection; when the client has gone meanwhile, the reply is dropped
 * and only the req is freed.
 */
struct req {
	struct conn	*conn;
	uint32_t	 msgid;
	int		 op;		/* OCTO_OP_* */
	uid_t		 uid;		/* peer credentials, copied from the conn */
	gid_t		 gid;
	pid_t		 pid;
	struct req	*next;		/* free list */
};

/* Handler: params is the request's map or NULL, valid only during the call. */
typedef void (*dispatch_fn)(struct req *r, const msgpack_object *params);

/* Policy flags of a table entry. */
#define DISPATCH_ADMIN		0x1	/* root or admin_uids only */

struct dispatch_entry {
	const char	*name;
	dispatch_fn	 fn;
	int		 flags;
};

/* Handle one decoded request from c. */
void dispatch_request(struct conn *c, const struct octo_msg *m);

/* True when the daemon implements method op. */
int dispatch_has_method(int op);

/* Requests served per method since start, for daemon_status. */
uint64_t dispatch_count(int op);
uint64_t dispatch_errors(void);

/* Start a success reply: returns the packer; pack exactly one result object, then end. */
msgpack_packer *req_result_begin(struct req *r);
void req_result_end(struct req *r);

/* Finish r with an error; message is printf-style, NULL for the code's default text. */
void req_error(struct req *r, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Finish r with invalid_argument naming param. */
void req_error_param(struct req *r, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Finish r with an error from the OctoStore server: retry_after_ms < 0 and request_id
 * NULL when absent.  The wire code is always err's own name; for
 * OCTO_ERR_UPSTREAM_OTHER, upstream_code (the server's code, or NULL) goes in a
 * separate "upstream_code" field when it is [a-z0-9_]{1,64}, so that a server code
 * never reads as one of the daemon's local codes.
 */
void req_error_upstream(struct req *r, int err, const char *upstream_code,
    const char *message, int64_t retry_after_ms, const char *request_id);

/* Admin uids besides root (config admin_uids). */
void dispatch_set_admins(const uid_t *uids, unsigned n);

/* Free pooled request objects (shutdown). */
void dispatch_free(void);

/* True when the peer of r may use admin methods (root or admin_uids). */
int req_is_admin(const struct req *r);

/* The handlers, by module. */
void op_hello(struct req *, const msgpack_object *);
void op_ping(struct req *, const msgpack_object *);
void op_daemon_status(struct req *, const msgpack_object *);
void ops_daemon_init(size_t max_message);
void ops_lock_set_max_hold(int64_t ms);
void op_health(struct req *, const msgpack_object *);
void op_acquire(struct req *, const msgpack_object *);
void op_release(struct req *, const msgpack_object *);
void op_renew(struct req *, const msgpack_object *);
void op_status(struct req *, const msgpack_object *);
void op_list(struct req *, const msgpack_object *);
void op_rotate_token(struct req *, const msgpack_object *);

#endif
