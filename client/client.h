/* client.h - liboctostore internals shared by the client/ sources; not installed. */
#ifndef CLIENT_H
#define CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "octo_proto.h"
#include "octostore.h"

/* A notification waiting for delivery; strings live in the same allocation. */
struct client_event {
	struct client_event *next;
	int		 type;
	uint64_t	 fencing_token;
	const char	*method;
	const char	*name;
	const char	*lease_id;
	const char	*reason;
};

#define CLIENT_EVENTS_MAX	1024

/*
 * Replies are bounded by the client's own limit, not the request limits of
 * octo_proto_limits_default(): a list of many locks is far over 64 KiB and 4,096
 * objects.  The default is the protocol's ceiling, which is also where the daemon drops
 * a client that does not read its replies.  Every msgpack object takes at least one
 * byte, so the object limit is the byte limit and only the byte limit is ever reached.
 */
#define CLIENT_REPLY_MAX	OCTO_MAX_MSG_CEILING

/* A lease handle; listed on its client so that lease_lost can mark it. */
struct octo_lease {
	struct octo_lease	*next;
	struct octo_client	*c;		/* NULL once the client is closed */
	int			 lost;
	uint64_t		 fencing_token;
	char			 name[OCTO_NAME_SIZE];
	char			 lease_id[OCTO_ID_SIZE];
	char			 expires_at[OCTO_TIME_SIZE];
};

struct octo_client {
	int		 fd;
	int		 dead;		/* connection unusable: every call fails */
	int		 timeout_ms;
	uint32_t	 next_msgid;
	struct octo_proto_limits lim;

	char		*in;		/* bytes read; in[inoff..inlen) not yet consumed */
	size_t		 inoff;
	size_t		 inlen;
	size_t		 insize;
	size_t		 held;		/* length of the reply being examined at in[0] */
	msgpack_zone	 zone;		/* decoded objects of that reply */

	msgpack_sbuffer	 out;		/* requests not yet written */
	size_t		 outoff;
	size_t		 reqstart;	/* where the request being packed begins */
	int		 packfail;	/* packing it ran out of memory */
	msgpack_packer	 pk;

	int		 err;		/* the last call's error, see octo_last_error_*() */
	int		 errdaemon;	/* it came in an error reply from the daemon */
	char		 errcode[OCTO_METHOD_SIZE];
	char		 errmsg[OCTO_TEXT_SIZE];
	char		 errparam[OCTO_METHOD_SIZE];
	char		 errreqid[OCTO_ID_SIZE];
	char		 errupcode[OCTO_METHOD_SIZE];	/* the server's own code */
	int64_t		 retry_after_ms;

	octo_notify_cb	 cb;
	void		*cbarg;
	struct client_event *evhead;
	struct client_event *evtail;
	size_t		 nevents;
	int		 delivering;
	struct client_event *waited;	/* returned by octo_wait_event(), freed next time */

	struct octo_lease *leases;	/* handles from octo_lease_acquire() */
};

/* octostore.c: the last error. */
void	 client_reset_error(struct octo_client *);

/* Record a local error as the last error; keeps errno.  Returns err. */
int	 client_error(struct octo_client *, int, const char *, ...)
	    __attribute__((format(printf, 3, 4)));

/* Copy a counted string, truncating to fit; embedded NULs end the C string early. */
void	 client_copy_text(char *, size_t, const char *, size_t);

/* Set the reply limits: size bytes, and as many objects. */
void	 client_set_limits(struct octo_client *, size_t);

/* peer.c */
int	 client_peer_check(int, long *);

/* locks.c: mark the handles of lease_id lost. */
void	 locks_mark_lost(struct octo_client *, const char *);

/* rpc.c: start a call: reset the last error, return the packer for one params map. */
msgpack_packer	*rpc_begin(struct octo_client *, const char *, uint32_t *);

/*
 * Send the request begun by rpc_begin() and wait for its reply.  On OCTO_OK, *result
 * is the reply's result map, valid until rpc_end().  An error reply from the daemon is
 * recorded as the last error and returned.
 */
int	 rpc_call(struct octo_client *, uint32_t, const msgpack_object **);

/* Finish a call, whatever its outcome: drop the reply, deliver queued events; returns r. */
int	 rpc_end(struct octo_client *, int);

/* Pack "key": "value" and "key": integer into a params map. */
void	 rpc_kv_str(msgpack_packer *, const char *, const char *);
void	 rpc_kv_int(msgpack_packer *, const char *, int64_t);

/* A required argument was not given: OCTO_ERR_INVALID_ARGUMENT naming it. */
int	 rpc_arg_missing(struct octo_client *, const char *);

/* reply.c: reading one result map; r keeps the first malformed field's error. */
struct reply {
	struct octo_client	*c;
	const msgpack_object	*map;
	int			 r;
};

#define REPLY_OPT	0
#define REPLY_REQ	1	/* missing is an error */
#define REPLY_TEXT	2	/* free-form: truncate instead of failing */

void	 reply_bad(struct reply *, const char *);
int	 reply_str(struct reply *, const char *, char *, size_t, int);
int	 reply_bytes(struct reply *, const char *, char *, size_t, size_t *);
uint64_t reply_uint(struct reply *, const char *, int, uint64_t);
int64_t	 reply_int(struct reply *, const char *, int, int64_t);
int	 reply_bool(struct reply *, const char *, int, int);

#endif /* CLIENT_H */
