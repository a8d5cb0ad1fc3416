/* api.h - the OctoStore HTTP API: paths, request bodies, strict response parsing. */
#ifndef API_H
#define API_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Limits of the OpenAPI document (LockName, ttl_seconds, metadata, lock_delay_seconds). */
#define API_NAME_MAX		256	/* bytes, whole name */
#define API_COMPONENT_MAX	64	/* bytes, one '/'-separated component */
#define API_TTL_MIN		1
#define API_TTL_MAX		3600
#define API_TTL_DEFAULT		60
#define API_METADATA_MAX	1024
#define API_LOCK_DELAY_MAX	30
#define API_PREFIX_MAX		256
#define API_LEASE_ID_MAX	128
#define API_TOKEN_MAX		4096
#define API_UUID_LEN		36	/* lease_id, holder_id, session_id */
#define API_REQUEST_ID_LEN	36	/* "req_" and 32 hexadecimal digits */

/*
 * Parsed responses.  Strings point into root and live until the matching free call;
 * a nullable field that was null is NULL.  Every string that holds a piece of the
 * token (redact.h) is REDACT_TEXT instead, the new token of api_token aside; ids are
 * UUIDs, and an error's request_id is NULL unless it has its documented form.  A parse function either fills the whole
 * struct and returns OCTO_OK, or returns OCTO_ERR_BAD_UPSTREAM_RESPONSE (or
 * OCTO_ERR_NOMEM) and leaves it zeroed: never a half-filled result.
 */
struct api_error {
	int		 code;		/* OCTO_ERR_*, OCTO_ERR_UPSTREAM_OTHER if unknown */
	const char	*code_name;	/* the code as the server sent it */
	const char	*error;		/* short summary */
	const char	*details;	/* client-action context */
	int64_t		 retry_after_ms;/* -1 when absent */
	const char	*request_id;
	json_t		*root;
};

enum api_acquire_status {
	API_ACQUIRED = 1,
	API_HELD,
	API_DELAYED
};

struct api_acquire {
	int		 status;	/* enum api_acquire_status */
	const char	*lease_id;	/* acquired */
	int64_t		 fencing_token;	/* acquired */
	const char	*expires_at;	/* acquired, held */
	int64_t		 renew_after_ms;/* acquired */
	const char	*metadata;	/* acquired, held; nullable */
	const char	*holder_id;	/* held */
	int64_t		 retry_after_ms;/* held, delayed */
	const char	*available_at;	/* delayed */
	int64_t		 lock_delay_seconds; /* delayed */
	json_t		*root;
};

struct api_renew {
	const char	*lease_id;
	const char	*expires_at;
	int64_t		 renew_after_ms;
	json_t		*root;
};

struct api_lock_status {
	const char	*name;
	int		 held;		/* status: "held" 1, "free" 0 */
	const char	*holder_id;	/* nullable */
	int64_t		 fencing_token;
	const char	*expires_at;	/* nullable */
	const char	*metadata;	/* nullable */
	json_t		*root;		/* NULL inside an api_list */
};

struct api_list {
	struct api_lock_status *locks;
	size_t		 n;
	int64_t		 total;
	const char	*prefix;	/* nullable */
	json_t		*root;
};

struct api_session {
	const char	*session_id;
	const char	*expires_at;
	int64_t		 keepalive_ms;	/* create only */
	json_t		*root;
};

struct api_health {
	const char	*status;
	const char	*storage;
	int64_t		 db_size_bytes;
	json_t		*root;
};

struct api_token {
	const char	*token;		/* secret: api_token_free wipes it */
	size_t		 token_len;
	const char	*user_id;
	const char	*github_username;
	const char	*namespace;	/* nullable */
	json_t		*root;
};

/* Check a lock name against LockName; *why gets a static reason on failure. */
int api_name_check(const char *name, size_t len, const char **why);

/* Check a lease id or prefix is usable in a request (bounded, UTF-8, no NUL). */
int api_lease_id_check(const char *s, size_t len, const char **why);
int api_prefix_check(const char *s, size_t len, const char **why);

/* Check acquire metadata: at most 1024 bytes of UTF-8 without NUL. */
int api_metadata_check(const char *s, size_t len, const char **why);

/* "/locks/<name as one percent-encoded segment>[/action]"; NULL on ENOMEM. */
char *api_lock_path(const char *name, size_t len, const char *action);

/*
 * The same into buf (NUL-terminated): the length, or 0 on ENOMEM or if it does not
 * fit.  API_LOCK_PATH_MAX holds any valid name with an action of up to 7 bytes.
 */
#define API_LOCK_PATH_MAX	(sizeof("/locks/") - 1 + 3 * API_NAME_MAX + \
				    sizeof("/release"))
size_t api_lock_path_buf(char *buf, size_t size, const char *name, size_t len,
    const char *action);

/* "/locks" or "/locks?prefix=<encoded>"; NULL on ENOMEM. */
char *api_list_path(const char *prefix, size_t len);

/* JSON request bodies (free with free()); NULL on ENOMEM or invalid UTF-8. */
char *api_acquire_body(int64_t ttl, const char *metadata, size_t mdlen,
    int64_t lock_delay);
char *api_release_body(const char *lease_id, size_t len);
char *api_renew_body(const char *lease_id, size_t len, int64_t ttl);

/*
 * The same bodies into buf, without a heap copy: the length (buf is NUL-terminated),
 * or 0 on ENOMEM, invalid UTF-8, or if they do not fit (buf may then hold part of
 * one).  API_BODY_BUF holds them for any lease id of up to API_LEASE_ID_MAX bytes
 * without escapes; a caller falls back to the functions above.
 */
#define API_BODY_BUF		512
size_t api_release_body_buf(char *buf, size_t size, const char *lease_id, size_t len);
size_t api_renew_body_buf(char *buf, size_t size, const char *lease_id, size_t len,
    int64_t ttl);

/* Serialize o compactly into buf and drop o; the same results as the above. */
size_t api_dumpb(json_t *o, char *buf, size_t size);

/* Response parsers: body need not be NUL-terminated. */
int api_parse_error(const char *body, size_t len, struct api_error *out);
int api_parse_acquire(const char *body, size_t len, struct api_acquire *out);
int api_parse_release(const char *body, size_t len);
int api_parse_renew(const char *body, size_t len, struct api_renew *out);
int api_parse_lock_status(const char *body, size_t len, struct api_lock_status *out);
int api_parse_list(const char *body, size_t len, struct api_list *out);
int api_parse_session(const char *body, size_t len, int create,
    struct api_session *out);
int api_parse_health(const char *body, size_t len, struct api_health *out);
int api_parse_token(const char *body, size_t len, struct api_token *out);

void api_error_free(struct api_error *);
void api_acquire_free(struct api_acquire *);
void api_renew_free(struct api_renew *);
void api_lock_status_free(struct api_lock_status *);
void api_list_free(struct api_list *);
void api_session_free(struct api_session *);
void api_health_free(struct api_health *);
void api_token_free(struct api_token *);

/* True if s is a server error code we pass on as text: [a-z0-9_]{1,64}. */
#define API_CODE_MAX		64
int api_code_check(const char *s);

/*
 * Server text for a log line: printable ASCII as is, a backslash doubled, any other
 * byte as \xNN; cut to fit buf (size > 0) and NUL-terminated.  Returns buf.
 */
const char *api_escape(char *buf, size_t size, const char *s);

/* True if s (len bytes) is a UUID (8-4-4-4-12 hexadecimal digits). */
int api_uuid_check(const char *s, size_t len);

/* True if s (len bytes) is a token we can put in a header: printable ASCII, no space. */
int api_token_check(const char *s, size_t len);

#endif
