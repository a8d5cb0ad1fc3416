/* fuzz_upstream.c - libFuzzer target: every OctoStore response parser and the name checks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "octostore_err.h"
#include "redact.h"

/* A token the parsers must never hand on: a string holding a piece of it is redacted. */
#define SECRET	"fuzz-TOKEN-0123456789abcdef"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* True if every byte of p is zero: a failed parse leaves its struct untouched. */
static int
zeroed(const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n-- > 0)
		if (*b++ != 0)
			return 0;
	return 1;
}

/* Check the outcome of one parser: success fills, failure leaves zero. */
#define CHECK(r, s, cond) do {						\
	if ((r) == OCTO_OK) {						\
		if (!(cond))						\
			abort();					\
	} else if ((r) != OCTO_ERR_BAD_UPSTREAM_RESPONSE &&		\
	    (r) != OCTO_ERR_NOMEM)					\
		abort();						\
	else if (!zeroed(&(s), sizeof(s)))				\
		abort();						\
} while (0)

/* Abort if s holds a piece of SECRET (NULL is fine). */
static void
clean(const char *s)
{
	if (s != NULL && redact_find(s, strlen(s)))
		abort();
}

/* A parsed id: absent, or a UUID. */
static int
uuid_or_null(const char *s)
{
	return s == NULL || api_uuid_check(s, strlen(s));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char		*body = (const char *)data, *why;
	struct api_error	 e;
	struct api_acquire	 a;
	struct api_renew	 rn;
	struct api_lock_status	 st;
	struct api_list		 l;
	struct api_health	 h;
	struct api_token	 t;
	struct api_session	 ss;
	static int		 secret_set;
	size_t			 i;
	char			*p;
	int			 r;

	if (!secret_set) {
		redact_set(SECRET, strlen(SECRET), NULL, 0);
		secret_set = 1;
	}

	r = api_parse_error(body, size, &e);
	CHECK(r, e, e.code_name != NULL && e.error != NULL && e.details != NULL &&
	    (e.request_id == NULL || strncmp(e.request_id, "req_", 4) == 0) &&
	    e.retry_after_ms >= -1 &&
	    e.code >= OCTO_ERR_AUTHENTICATION_REQUIRED && e.code <= OCTO_ERR_UPSTREAM_OTHER);
	if (r == OCTO_OK) {
		clean(e.code_name);
		clean(e.error);
		clean(e.details);
		clean(e.request_id);
		api_error_free(&e);
	}

	r = api_parse_acquire(body, size, &a);
	CHECK(r, a, (a.status == API_ACQUIRED && a.lease_id != NULL &&
	    a.expires_at != NULL && a.fencing_token >= 1 && a.renew_after_ms >= 0) ||
	    (a.status == API_HELD && a.holder_id != NULL && a.expires_at != NULL &&
	    a.retry_after_ms >= 0) ||
	    (a.status == API_DELAYED && a.available_at != NULL && a.retry_after_ms >= 0 &&
	    a.lock_delay_seconds >= 0 && a.lock_delay_seconds <= API_LOCK_DELAY_MAX));
	if (r == OCTO_OK) {
		if (!uuid_or_null(a.lease_id) || !uuid_or_null(a.holder_id))
			abort();
		clean(a.expires_at);
		clean(a.metadata);
		clean(a.available_at);
		api_acquire_free(&a);
	}

	r = api_parse_release(body, size);
	if (r != OCTO_OK && r != OCTO_ERR_BAD_UPSTREAM_RESPONSE)
		abort();

	r = api_parse_renew(body, size, &rn);
	CHECK(r, rn, rn.lease_id != NULL && rn.expires_at != NULL && rn.renew_after_ms >= 0);
	if (r == OCTO_OK) {
		if (!uuid_or_null(rn.lease_id))
			abort();
		clean(rn.expires_at);
		api_renew_free(&rn);
	}

	r = api_parse_lock_status(body, size, &st);
	CHECK(r, st, st.name != NULL && (st.held == 0 || st.held == 1));
	if (r == OCTO_OK) {
		if (!uuid_or_null(st.holder_id))
			abort();
		clean(st.name);
		clean(st.metadata);
		clean(st.expires_at);
		api_lock_status_free(&st);
	}

	r = api_parse_list(body, size, &l);
	CHECK(r, l, l.total >= 0 && (l.n == 0 || l.locks != NULL));
	if (r == OCTO_OK) {
		for (i = 0; i < l.n; i++) {
			if (l.locks[i].name == NULL || !uuid_or_null(l.locks[i].holder_id))
				abort();
			clean(l.locks[i].name);
			clean(l.locks[i].metadata);
		}
		clean(l.prefix);
		api_list_free(&l);
	}

	r = api_parse_health(body, size, &h);
	CHECK(r, h, h.status != NULL && h.storage != NULL && h.db_size_bytes >= 0);
	if (r == OCTO_OK) {
		clean(h.status);
		clean(h.storage);
		api_health_free(&h);
	}

	for (i = 0; i < 2; i++) {
		r = api_parse_session(body, size, (int)i, &ss);
		CHECK(r, ss, ss.session_id != NULL && ss.expires_at != NULL &&
		    api_uuid_check(ss.session_id, strlen(ss.session_id)) &&
		    (i == 0 || ss.keepalive_ms >= 1000));
		if (r == OCTO_OK) {
			clean(ss.expires_at);
			api_session_free(&ss);
		}
	}

	r = api_parse_token(body, size, &t);
	CHECK(r, t, t.token != NULL && api_token_check(t.token, t.token_len) &&
	    t.user_id != NULL && t.github_username != NULL);
	if (r == OCTO_OK) {
		clean(t.user_id);
		clean(t.github_username);
		clean(t.namespace);
		api_token_free(&t);
	}

	/* A valid name always becomes exactly one path segment: no '/', '?', '#'. */
	if (api_name_check(body, size, &why) == OCTO_OK) {
		if ((p = api_lock_path(body, size, NULL)) == NULL)
			abort();
		if (strncmp(p, "/locks/", 7) != 0 || strpbrk(p + 7, "/?#") != NULL ||
		    strcmp(p + 7, ".") == 0 || strcmp(p + 7, "..") == 0)
			abort();
		free(p);
	}
	return 0;
}
