/* api.c - the OctoStore HTTP API: paths, request bodies, strict response parsing. */
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <wctype.h>

#include <curl/curl.h>
#include <jansson.h>

#include "api.h"
#include "octostore_err.h"
#include "redact.h"

#define BAD	OCTO_ERR_BAD_UPSTREAM_RESPONSE

static locale_t	api_utf8;	/* C.UTF-8 for mbrtowc/iswalnum, made once */
static int	api_utf8_tried;

/*
 * The renew body as a jansson object made once, {"lease_id": "", "ttl_seconds": 0},
 * whose two values are set for each renewal and reset after it is serialized: a
 * renewal then builds no object.  api_renew_id and api_renew_ttl point into it.
 */
static json_t	*api_renew_tmpl;
static json_t	*api_renew_id;
static json_t	*api_renew_ttl;

/*
 * True if the UTF-8 sequence at s (n bytes left) is one LockName character; *used gets
 * its length.  Non-ASCII letters and digits are what glibc's C.UTF-8 iswalnum() says
 * (Unicode categories L* and Nd/Nl; the server, written in Rust, also accepts No such
 * as '²', which we refuse here).  Without a C.UTF-8 locale, any valid-looking non-ASCII
 * byte is let through and the server decides.
 */
static int
api_name_char(const char *s, size_t n, size_t *used)
{
	unsigned char	c = (unsigned char)s[0];
	locale_t	old;
	mbstate_t	st;
	wchar_t		wc;
	size_t		k;
	int		ok;

	*used = 1;
	if (c < 0x80)
		return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.');
	if (!api_utf8_tried) {
		api_utf8_tried = 1;
		api_utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	}
	if (api_utf8 == (locale_t)0)
		return 1;

	old = uselocale(api_utf8);
	memset(&st, 0, sizeof st);
	k = mbrtowc(&wc, s, n, &st);
	ok = k != (size_t)-1 && k != (size_t)-2 && k != 0 &&
	    (unsigned long)wc <= 0x10ffff && iswalnum((wint_t)wc);
	uselocale(old);
	if (k != (size_t)-1 && k != (size_t)-2 && k != 0)
		*used = k;
	return ok;
}

/* Check a lock name against the OpenAPI LockName rules. */
int
api_name_check(const char *name, size_t len, const char **why)
{
	size_t	i, used, comp = 0;

	if (len == 0) {
		*why = "empty lock name";
		return OCTO_ERR_INVALID_ARGUMENT;
	}
	if (len > API_NAME_MAX) {
		*why = "lock name longer than 256 bytes";
		return OCTO_ERR_INVALID_ARGUMENT;
	}
	/* "." and ".." alone are dot-segments that a URL path cannot carry. */
	if ((len == 1 && name[0] == '.') || (len == 2 && memcmp(name, "..", 2) == 0)) {
		*why = "lock name cannot be \".\" or \"..\"";
		return OCTO_ERR_INVALID_ARGUMENT;
	}
	for (i = 0; i < len; i += used) {
		if (name[i] == '/') {
			if (comp == 0) {
				*why = "empty component in lock name";
				return OCTO_ERR_INVALID_ARGUMENT;
			}
			comp = 0;
			used = 1;
			continue;
		}
		if (!api_name_char(name + i, len - i, &used)) {
			*why = "lock name components may hold only letters, digits, "
			    "'-', '_' and '.'";
			return OCTO_ERR_INVALID_ARGUMENT;
		}
		comp += used;
		if (comp > API_COMPONENT_MAX) {
			*why = "lock name component longer than 64 bytes";
			return OCTO_ERR_INVALID_ARGUMENT;
		}
	}
	if (comp == 0) {
		*why = "empty component in lock name";
		return OCTO_ERR_INVALID_ARGUMENT;
	}
	return OCTO_OK;
}

/* True if s is valid UTF-8 without NUL or control characters (jansson checks UTF-8). */
static int
api_text_ok(const char *s, size_t len)
{
	json_t	*j;
	size_t	 i;

	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	}
	if ((j = json_stringn(s, len)) == NULL)
		return 0;
	json_decref(j);
	return 1;
}

/* Check a lease id before it goes into a request body. */
int
api_lease_id_check(const char *s, size_t len, const char **why)
{
	if (len == 0 || len > API_LEASE_ID_MAX) {
		*why = "lease_id must be 1 to 128 bytes";
		return OCTO_ERR_INVALID_ARGUMENT;
	}
	if (!api_text_ok(s, len)) {
		*why = "lease_id must be UTF-8 text without control characters";
		return OCTO_ERR_INVALID_ARGUMENT;
	}
	return OCTO_OK;
}

/* Check a list prefix before it goes into a query string. */
int
api_prefix_check(const char *s, size_t len, const char **why)
{
	if (len > API_PREFIX_MAX) {
		*why = "prefix longer than 256 bytes";
		return OCTO_ERR_INVALID_ARGUMENT;
	}
	if (!api_text_ok(s, len)) {
		*why = "prefix must be UTF-8 text without control characters";
		return OCTO_ERR_INVALID_ARGUMENT;
	}
	return OCTO_OK;
}

/* Check acquire metadata. */
int
api_metadata_check(const char *s, size_t len, const char **why)
{
	json_t	*j;

	if (len > API_METADATA_MAX) {
		*why = "longer than 1024 bytes";
		return OCTO_ERR_INVALID_ARGUMENT;
	}
	if (memchr(s, '\0', len) != NULL || (j = json_stringn(s, len)) == NULL) {
		*why = "must be UTF-8 text without NUL";
		return OCTO_ERR_INVALID_ARGUMENT;
	}
	json_decref(j);
	return OCTO_OK;
}

/*
 * Build "/locks/<escaped name>[/action]" into buf: the name is one path segment,
 * '/' -> %2F.  Returns the length (buf is NUL-terminated), or 0 if it does not fit or
 * on ENOMEM.
 */
size_t
api_lock_path_buf(char *buf, size_t size, const char *name, size_t len,
    const char *action)
{
	static const char	 prefix[] = "/locks/";
	char			*esc;
	size_t			 elen, alen = action != NULL ? strlen(action) : 0, n;

	if (len > API_NAME_MAX || (esc = curl_easy_escape(NULL, name, (int)len)) == NULL)
		return 0;
	elen = strlen(esc);
	n = sizeof(prefix) - 1 + elen + (action != NULL ? 1 + alen : 0);
	if (n >= size) {
		curl_free(esc);
		return 0;
	}
	memcpy(buf, prefix, sizeof(prefix) - 1);
	memcpy(buf + sizeof(prefix) - 1, esc, elen);
	if (action != NULL) {
		buf[sizeof(prefix) - 1 + elen] = '/';
		memcpy(buf + sizeof(prefix) + elen, action, alen);
	}
	buf[n] = '\0';
	curl_free(esc);
	return n;
}

/* The same in a new string; NULL on ENOMEM or a name over the limit. */
char *
api_lock_path(const char *name, size_t len, const char *action)
{
	char	*path;
	size_t	 sz;

	if (len > API_NAME_MAX)
		return NULL;
	/* Escaping at most triples a byte. */
	sz = strlen("/locks/") + 3 * len + 1 + (action != NULL ? strlen(action) : 0) + 1;
	if ((path = malloc(sz)) == NULL)
		return NULL;
	if (api_lock_path_buf(path, sz, name, len, action) == 0) {
		free(path);
		return NULL;
	}
	return path;
}

/* Build the list path with an optional, escaped prefix query. */
char *
api_list_path(const char *prefix, size_t len)
{
	char	*esc, *path;
	size_t	 sz;

	if (prefix == NULL)
		return strdup("/locks");
	if (len > API_PREFIX_MAX || (esc = curl_easy_escape(NULL, prefix, (int)len)) == NULL)
		return NULL;
	sz = strlen("/locks?prefix=") + strlen(esc) + 1;
	if ((path = malloc(sz)) != NULL)
		snprintf(path, sz, "/locks?prefix=%s", esc);
	curl_free(esc);
	return path;
}

/* Serialize o compactly and drop it. */
static char *
api_dump(json_t *o)
{
	char	*s;

	if (o == NULL)
		return NULL;
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

/*
 * Serialize o compactly into buf and drop o: the length (buf is NUL-terminated), or 0
 * if o is NULL, on ENOMEM, or if it does not fit (buf may then hold part of it).
 */
size_t
api_dumpb(json_t *o, char *buf, size_t size)
{
	size_t	n;

	if (o == NULL)
		return 0;
	n = size > 0 ? json_dumpb(o, buf, size - 1, JSON_COMPACT) : 0;
	json_decref(o);
	if (n == 0 || n >= size)
		return 0;
	buf[n] = '\0';
	return n;
}

/* {"ttl_seconds": ttl[, "metadata": m][, "lock_delay_seconds": d]}; d < 0: omitted. */
char *
api_acquire_body(int64_t ttl, const char *metadata, size_t mdlen, int64_t lock_delay)
{
	json_t	*o, *v;

	if ((o = json_object()) == NULL)
		return NULL;
	if (json_object_set_new(o, "ttl_seconds", json_integer(ttl)) != 0)
		goto fail;
	if (metadata != NULL) {
		if ((v = json_stringn(metadata, mdlen)) == NULL ||
		    json_object_set_new(o, "metadata", v) != 0)
			goto fail;
	}
	if (lock_delay >= 0 &&
	    json_object_set_new(o, "lock_delay_seconds", json_integer(lock_delay)) != 0)
		goto fail;
	return api_dump(o);
fail:
	json_decref(o);
	return NULL;
}

/* {"lease_id": id}; NULL on ENOMEM or invalid UTF-8. */
static json_t *
api_release_obj(const char *lease_id, size_t len)
{
	json_t	*v;

	if ((v = json_stringn(lease_id, len)) == NULL)
		return NULL;
	return json_pack("{s:o}", "lease_id", v);
}

/* {"lease_id": id, "ttl_seconds": ttl}; NULL on ENOMEM or invalid UTF-8. */
static json_t *
api_renew_obj(const char *lease_id, size_t len, int64_t ttl)
{
	json_t	*v;

	if ((v = json_stringn(lease_id, len)) == NULL)
		return NULL;
	return json_pack("{s:o,s:I}", "lease_id", v, "ttl_seconds", (json_int_t)ttl);
}

/* The release body as a new string. */
char *
api_release_body(const char *lease_id, size_t len)
{
	return api_dump(api_release_obj(lease_id, len));
}

/* The release body in buf; see api_dumpb. */
size_t
api_release_body_buf(char *buf, size_t size, const char *lease_id, size_t len)
{
	return api_dumpb(api_release_obj(lease_id, len), buf, size);
}

/* The renew body as a new string. */
char *
api_renew_body(const char *lease_id, size_t len, int64_t ttl)
{
	return api_dump(api_renew_obj(lease_id, len, ttl));
}

/* The renew body in buf, through the reused object; see api_dumpb. */
size_t
api_renew_body_buf(char *buf, size_t size, const char *lease_id, size_t len, int64_t ttl)
{
	size_t	n;

	if (api_renew_tmpl == NULL) {
		if ((api_renew_tmpl = api_renew_obj("", 0, 0)) == NULL)
			return 0;
		api_renew_id = json_object_get(api_renew_tmpl, "lease_id");
		api_renew_ttl = json_object_get(api_renew_tmpl, "ttl_seconds");
	}
	if (size == 0 || json_string_setn(api_renew_id, lease_id, len) != 0)
		return 0;	/* invalid UTF-8 or ENOMEM */
	json_integer_set(api_renew_ttl, (json_int_t)ttl);
	n = json_dumpb(api_renew_tmpl, buf, size - 1, JSON_COMPACT);
	/* The object keeps no copy of the lease id. */
	explicit_bzero((char *)json_string_value(api_renew_id), len);
	json_string_setn(api_renew_id, "", 0);
	if (n == 0 || n >= size)
		return 0;
	buf[n] = '\0';
	return n;
}

/*
 * Replace every string in v that holds a piece of the token (redact.c) by REDACT_TEXT,
 * keys aside; keep names a top-level member left alone (NULL: none).  Every answer
 * passes here as it is decoded, so no field, used today or later, can hand the token
 * on to a client or a log line; an id so replaced then fails its format check.
 */
static void
api_redact(json_t *v, const char *keep)
{
	const char	*key;
	json_t		*m;
	size_t		 i;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		json_object_foreach(v, key, m) {
			if (keep == NULL || strcmp(key, keep) != 0)
				api_redact(m, NULL);
		}
		break;
	case JSON_ARRAY:
		json_array_foreach(v, i, m)
			api_redact(m, NULL);
		break;
	case JSON_STRING:
		if (redact_find(json_string_value(v), json_string_length(v))) {
			explicit_bzero((char *)json_string_value(v), json_string_length(v));
			json_string_set(v, REDACT_TEXT);
		}
		break;
	default:
		break;
	}
}

/* Parse body as one JSON object, redacted (but for the member keep). */
static json_t *
api_load(const char *body, size_t len, const char *keep)
{
	json_error_t	 jerr;
	json_t		*root;

	if (body == NULL)
		return NULL;
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root != NULL && !json_is_object(root)) {
		json_decref(root);
		return NULL;
	}
	if (root != NULL)
		api_redact(root, keep);
	return root;
}

/* A required string value v (NULL: absent); nullable allows an explicit null (-> NULL). */
static int
api_strv(json_t *v, int nullable, const char **out)
{
	if (v == NULL)
		return BAD;
	if (json_is_null(v) && nullable) {
		*out = NULL;
		return OCTO_OK;
	}
	if (!json_is_string(v))
		return BAD;
	*out = json_string_value(v);
	return OCTO_OK;
}

/* Required string field; nullable allows an explicit null (-> NULL). */
static int
api_str(json_t *o, const char *key, int nullable, const char **out)
{
	return api_strv(json_object_get(o, key), nullable, out);
}

/* True if s (len bytes) is a UUID: 8-4-4-4-12 hexadecimal digits. */
int
api_uuid_check(const char *s, size_t len)
{
	size_t	i;

	if (s == NULL || len != API_UUID_LEN)
		return 0;
	for (i = 0; i < len; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (strchr("0123456789abcdefABCDEF", s[i]) == NULL || s[i] == '\0')
			return 0;
	}
	return 1;
}

/*
 * Required id field (lease_id, holder_id): the OpenAPI document makes every id a UUID,
 * and anything else (a redacted token among them) breaks the contract.
 */
static int
api_id(json_t *o, const char *key, int nullable, const char **out)
{
	json_t	*v = json_object_get(o, key);

	if (api_strv(v, nullable, out) != OCTO_OK)
		return BAD;
	if (*out != NULL && !api_uuid_check(*out, json_string_length(v)))
		return BAD;
	return OCTO_OK;
}

/* True if s is a request id as the OpenAPI document gives it: req_ and 32 hex digits. */
static int
api_request_id_check(const char *s)
{
	return strncmp(s, "req_", 4) == 0 &&
	    strspn(s + 4, "0123456789abcdef") == API_REQUEST_ID_LEN - 4 &&
	    s[API_REQUEST_ID_LEN] == '\0';
}

/* Required integer field within [min, max]. */
static int
api_int(json_t *o, const char *key, int64_t min, int64_t max, int64_t *out)
{
	json_t	*v = json_object_get(o, key);

	if (v == NULL || !json_is_integer(v))
		return BAD;
	if (json_integer_value(v) < min || json_integer_value(v) > max)
		return BAD;
	*out = json_integer_value(v);
	return OCTO_OK;
}

/* Optional integer field: absent or null -> -1. */
static int
api_opt_int(json_t *o, const char *key, int64_t min, int64_t max, int64_t *out)
{
	json_t	*v = json_object_get(o, key);

	if (v == NULL || json_is_null(v)) {
		*out = -1;
		return OCTO_OK;
	}
	return api_int(o, key, min, max, out);
}

/* Optional metadata bound: the schema caps it at 1024 characters. */
static int
api_metadata(json_t *o, const char **out)
{
	if (api_str(o, "metadata", 1, out) != OCTO_OK)
		return BAD;
	if (*out != NULL && json_string_length(json_object_get(o, "metadata")) >
	    4 * API_METADATA_MAX)
		return BAD;
	return OCTO_OK;
}

/* Parse an Error body. */
int
api_parse_error(const char *body, size_t len, struct api_error *out)
{
	struct api_error e;
	int		 code;

	memset(out, 0, sizeof *out);
	memset(&e, 0, sizeof e);
	if ((e.root = api_load(body, len, NULL)) == NULL)
		return BAD;
	if (api_str(e.root, "error", 0, &e.error) != OCTO_OK ||
	    api_str(e.root, "code", 0, &e.code_name) != OCTO_OK ||
	    api_str(e.root, "details", 0, &e.details) != OCTO_OK ||
	    api_str(e.root, "request_id", 0, &e.request_id) != OCTO_OK ||
	    api_opt_int(e.root, "retry_after_ms", 0, INT64_MAX, &e.retry_after_ms) != OCTO_OK ||
	    *e.code_name == '\0')
		goto bad;
	/* Only a correlation id: one out of its format is dropped, not the error. */
	if (!api_request_id_check(e.request_id))
		e.request_id = NULL;

	/* Only the server's own codes pass through; anything else is "other". */
	code = octo_err_from_name(e.code_name, strlen(e.code_name));
	if (code < OCTO_ERR_AUTHENTICATION_REQUIRED || code > OCTO_ERR_UPSTREAM_INTERNAL)
		code = OCTO_ERR_UPSTREAM_OTHER;
	e.code = code;
	*out = e;
	return OCTO_OK;
bad:
	json_decref(e.root);
	return BAD;
}

/* Parse an acquire answer: LockAcquired, LockHeld or LockDelayed by its status. */
int
api_parse_acquire(const char *body, size_t len, struct api_acquire *out)
{
	struct api_acquire a;
	const char	*status;

	memset(out, 0, sizeof *out);
	memset(&a, 0, sizeof a);
	if ((a.root = api_load(body, len, NULL)) == NULL)
		return BAD;
	if (api_str(a.root, "status", 0, &status) != OCTO_OK)
		goto bad;
	if (strcmp(status, "acquired") == 0) {
		a.status = API_ACQUIRED;
		if (api_id(a.root, "lease_id", 0, &a.lease_id) != OCTO_OK ||
		    api_int(a.root, "fencing_token", 1, INT64_MAX, &a.fencing_token) != OCTO_OK ||
		    api_str(a.root, "expires_at", 0, &a.expires_at) != OCTO_OK ||
		    api_int(a.root, "renew_after_ms", 0, INT64_MAX, &a.renew_after_ms) != OCTO_OK ||
		    api_metadata(a.root, &a.metadata) != OCTO_OK)
			goto bad;
		a.retry_after_ms = -1;
	} else if (strcmp(status, "held") == 0) {
		a.status = API_HELD;
		if (api_id(a.root, "holder_id", 0, &a.holder_id) != OCTO_OK ||
		    api_str(a.root, "expires_at", 0, &a.expires_at) != OCTO_OK ||
		    api_int(a.root, "retry_after_ms", 0, INT64_MAX, &a.retry_after_ms) != OCTO_OK ||
		    api_metadata(a.root, &a.metadata) != OCTO_OK)
			goto bad;
	} else if (strcmp(status, "delayed") == 0) {
		a.status = API_DELAYED;
		if (api_str(a.root, "available_at", 0, &a.available_at) != OCTO_OK ||
		    api_int(a.root, "lock_delay_seconds", 0, API_LOCK_DELAY_MAX,
		    &a.lock_delay_seconds) != OCTO_OK ||
		    api_int(a.root, "retry_after_ms", 0, INT64_MAX, &a.retry_after_ms) != OCTO_OK)
			goto bad;
	} else
		goto bad;
	*out = a;
	return OCTO_OK;
bad:
	json_decref(a.root);
	return BAD;
}

/* The release answer is a nullable string (null in practice); an empty body is accepted. */
int
api_parse_release(const char *body, size_t len)
{
	json_error_t	 jerr;
	json_t		*root;
	int		 ok;

	if (body == NULL || len == 0)
		return OCTO_OK;
	root = json_loadb(body, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	ok = root != NULL && (json_is_null(root) || json_is_string(root));
	json_decref(root);
	return ok ? OCTO_OK : BAD;
}

/* Parse a RenewLockResponse. */
int
api_parse_renew(const char *body, size_t len, struct api_renew *out)
{
	struct api_renew r;

	memset(out, 0, sizeof *out);
	memset(&r, 0, sizeof r);
	if ((r.root = api_load(body, len, NULL)) == NULL)
		return BAD;
	if (api_id(r.root, "lease_id", 0, &r.lease_id) != OCTO_OK ||
	    api_str(r.root, "expires_at", 0, &r.expires_at) != OCTO_OK ||
	    api_int(r.root, "renew_after_ms", 0, INT64_MAX, &r.renew_after_ms) != OCTO_OK) {
		json_decref(r.root);
		return BAD;
	}
	*out = r;
	return OCTO_OK;
}

/* Fill s from one LockStatus object o (borrowed). */
static int
api_lock_status_fill(json_t *o, struct api_lock_status *s)
{
	const char	*status;

	if (!json_is_object(o))
		return BAD;
	if (api_str(o, "name", 0, &s->name) != OCTO_OK ||
	    api_str(o, "status", 0, &status) != OCTO_OK ||
	    api_id(o, "holder_id", 1, &s->holder_id) != OCTO_OK ||
	    api_int(o, "fencing_token", INT64_MIN, INT64_MAX, &s->fencing_token) != OCTO_OK ||
	    api_str(o, "expires_at", 1, &s->expires_at) != OCTO_OK ||
	    api_metadata(o, &s->metadata) != OCTO_OK)
		return BAD;
	if (strcmp(status, "held") == 0)
		s->held = 1;
	else if (strcmp(status, "free") == 0)
		s->held = 0;
	else
		return BAD;
	return OCTO_OK;
}

/* Parse a LockStatus. */
int
api_parse_lock_status(const char *body, size_t len, struct api_lock_status *out)
{
	struct api_lock_status s;

	memset(out, 0, sizeof *out);
	memset(&s, 0, sizeof s);
	if ((s.root = api_load(body, len, NULL)) == NULL)
		return BAD;
	if (api_lock_status_fill(s.root, &s) != OCTO_OK) {
		json_decref(s.root);
		return BAD;
	}
	*out = s;
	return OCTO_OK;
}

/* Parse a ListLocksResponse. */
int
api_parse_list(const char *body, size_t len, struct api_list *out)
{
	struct api_list	 l;
	json_t		*arr;
	size_t		 i;

	memset(out, 0, sizeof *out);
	memset(&l, 0, sizeof l);
	if ((l.root = api_load(body, len, NULL)) == NULL)
		return BAD;
	arr = json_object_get(l.root, "locks");
	if (arr == NULL || !json_is_array(arr) ||
	    api_int(l.root, "total", 0, INT64_MAX, &l.total) != OCTO_OK ||
	    api_str(l.root, "prefix", 1, &l.prefix) != OCTO_OK)
		goto bad;
	l.n = json_array_size(arr);
	if (l.n > 0) {
		if ((l.locks = calloc(l.n, sizeof *l.locks)) == NULL) {
			json_decref(l.root);
			return OCTO_ERR_NOMEM;
		}
		for (i = 0; i < l.n; i++) {
			if (api_lock_status_fill(json_array_get(arr, i), &l.locks[i]) != OCTO_OK)
				goto bad;
		}
	}
	*out = l;
	return OCTO_OK;
bad:
	free(l.locks);
	json_decref(l.root);
	return BAD;
}

/* Parse a CreateSessionResponse (create) or a KeepAliveResponse. */
int
api_parse_session(const char *body, size_t len, int create, struct api_session *out)
{
	struct api_session	 ss;
	json_t			*v;
	int64_t			 secs;

	memset(out, 0, sizeof *out);
	memset(&ss, 0, sizeof ss);
	if ((ss.root = api_load(body, len, NULL)) == NULL)
		return BAD;
	/* The id goes into URL paths: api_id holds it to a UUID's characters. */
	if (api_id(ss.root, "session_id", 0, &ss.session_id) != OCTO_OK ||
	    api_str(ss.root, "expires_at", 0, &ss.expires_at) != OCTO_OK)
		goto bad;
	if (create) {
		v = json_object_get(ss.root, "keepalive_interval_secs");
		if (v == NULL || api_int(ss.root, "keepalive_interval_secs", 1, 86400,
		    &secs) != OCTO_OK)
			goto bad;
		ss.keepalive_ms = secs * 1000;
	}
	*out = ss;
	return OCTO_OK;
bad:
	json_decref(ss.root);
	return BAD;
}

/* Parse a HealthStatus. */
int
api_parse_health(const char *body, size_t len, struct api_health *out)
{
	struct api_health h;

	memset(out, 0, sizeof *out);
	memset(&h, 0, sizeof h);
	if ((h.root = api_load(body, len, NULL)) == NULL)
		return BAD;
	if (api_str(h.root, "status", 0, &h.status) != OCTO_OK ||
	    api_str(h.root, "storage", 0, &h.storage) != OCTO_OK ||
	    api_int(h.root, "db_size_bytes", 0, INT64_MAX, &h.db_size_bytes) != OCTO_OK) {
		json_decref(h.root);
		return BAD;
	}
	*out = h;
	return OCTO_OK;
}

/* True for a server error code that is safe to pass on: [a-z0-9_]{1,64}. */
int
api_code_check(const char *s)
{
	size_t	n;

	if (s == NULL)
		return 0;
	n = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_");
	return n > 0 && n <= API_CODE_MAX && s[n] == '\0';
}

/* Escape server text for a log line; see api.h. */
const char *
api_escape(char *buf, size_t size, const char *s)
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 c;
	size_t			 n = 0;

	for (; s != NULL && (c = (unsigned char)*s) != '\0'; s++) {
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			if (n + 1 >= size)
				break;
			buf[n++] = (char)c;
		} else {
			if (n + 4 >= size)
				break;
			buf[n++] = '\\';
			if (c == '\\')
				buf[n++] = '\\';
			else {
				buf[n++] = 'x';
				buf[n++] = hex[c >> 4];
				buf[n++] = hex[c & 0xf];
			}
		}
	}
	buf[n] = '\0';
	return buf;
}

/* True if a token can go into an Authorization header as is. */
int
api_token_check(const char *s, size_t len)
{
	size_t	i;

	if (len == 0 || len > API_TOKEN_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	}
	return 1;
}

/* Wipe the token string inside root before it is freed. */
static void
api_token_wipe(json_t *root)
{
	json_t	*v;

	if (root != NULL && (v = json_object_get(root, "token")) != NULL &&
	    json_is_string(v))
		explicit_bzero((char *)json_string_value(v), json_string_length(v));
}

/* Parse an AuthToken. */
int
api_parse_token(const char *body, size_t len, struct api_token *out)
{
	struct api_token t;

	memset(out, 0, sizeof *out);
	memset(&t, 0, sizeof t);
	/* The new token itself is kept: it may well share a piece with the old one. */
	if ((t.root = api_load(body, len, "token")) == NULL)
		return BAD;
	if (api_str(t.root, "token", 0, &t.token) != OCTO_OK ||
	    api_str(t.root, "user_id", 0, &t.user_id) != OCTO_OK ||
	    api_str(t.root, "github_username", 0, &t.github_username) != OCTO_OK ||
	    api_str(t.root, "namespace", 1, &t.namespace) != OCTO_OK)
		goto bad;
	t.token_len = json_string_length(json_object_get(t.root, "token"));
	if (!api_token_check(t.token, t.token_len))
		goto bad;
	*out = t;
	return OCTO_OK;
bad:
	api_token_wipe(t.root);
	json_decref(t.root);
	return BAD;
}

/* Free a parsed error: drop the JSON tree and zero the struct. */
void
api_error_free(struct api_error *e)
{
	json_decref(e->root);
	memset(e, 0, sizeof *e);
}

/* Free an acquire answer. */
void
api_acquire_free(struct api_acquire *a)
{
	json_decref(a->root);
	memset(a, 0, sizeof *a);
}

/* Free a renew answer. */
void
api_renew_free(struct api_renew *r)
{
	json_decref(r->root);
	memset(r, 0, sizeof *r);
}

/* Free a lock status. */
void
api_lock_status_free(struct api_lock_status *s)
{
	json_decref(s->root);
	memset(s, 0, sizeof *s);
}

/* Free a lock list. */
void
api_list_free(struct api_list *l)
{
	free(l->locks);
	json_decref(l->root);
	memset(l, 0, sizeof *l);
}

/* Free a session answer. */
void
api_session_free(struct api_session *ss)
{
	json_decref(ss->root);
	memset(ss, 0, sizeof *ss);
}

/* Free a health answer. */
void
api_health_free(struct api_health *h)
{
	json_decref(h->root);
	memset(h, 0, sizeof *h);
}

/* Free an AuthToken, wiping the token. */
void
api_token_free(struct api_token *t)
{
	api_token_wipe(t->root);
	json_decref(t->root);
	memset(t, 0, sizeof *t);
}
