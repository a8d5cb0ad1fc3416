/* auth.c - bearer tokens: one user per --token-file, checked and rotated. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/http.h>

#include "fake.h"

#define AUTH_TOKEN_MAX	4096

static struct fake_user	auth_users[FAKE_MAX_USERS];
static int		auth_nusers;

/* Read a token file (trailing newline stripped) as a new user. */
int
auth_add_token_file(const char *path)
{
	struct fake_user	*u;
	char			 buf[AUTH_TOKEN_MAX + 2];
	size_t			 len, i;
	FILE			*f;

	if (auth_nusers == FAKE_MAX_USERS) {
		fprintf(stderr, "octofake: too many token files\n");
		return -1;
	}
	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "octofake: %s: cannot open token file\n", path);
		return -1;
	}
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	for (i = 0; i < len; i++) {
		if (!isgraph((unsigned char)buf[i]))
			break;
	}
	if (len == 0 || len > AUTH_TOKEN_MAX || i != len) {
		fprintf(stderr, "octofake: %s: bad token\n", path);
		return -1;
	}
	u = &auth_users[auth_nusers++];
	if ((u->token = strdup(buf)) == NULL)
		abort();
	http_uuid(u->user_id);
	http_uuid(u->pseudo);
	snprintf(u->name, sizeof(u->name), "fake-user-%d", auth_nusers);
	return 0;
}

/* Number of configured users. */
int
auth_count(void)
{
	return auth_nusers;
}

/* Compare without an early exit, so timing says nothing about the token. */
static int
auth_equal(const char *a, size_t alen, const char *b)
{
	size_t		blen = strlen(b), i;
	unsigned char	diff = alen != blen;

	for (i = 0; i < alen && i < blen; i++)
		diff |= (unsigned char)a[i] ^ (unsigned char)b[i];
	return diff == 0;
}

/* The caller's user, or NULL after sending 401 with the spec's code. */
struct fake_user *
auth_check(struct fake_req *fr)
{
	struct evkeyvalq	*h = evhttp_request_get_input_headers(fr->req);
	const char		*v, *tok;
	int			 i;

	if ((v = evhttp_find_header(h, "Authorization")) == NULL) {
		http_reply_error(fr, 401, "authentication_required",
		    "Bearer token required", -1);
		return NULL;
	}
	if (strncasecmp(v, "Bearer ", 7) == 0) {
		for (tok = v + 7; *tok == ' '; tok++)
			;
		for (i = 0; i < auth_nusers; i++) {
			if (auth_equal(tok, strlen(tok), auth_users[i].token))
				return &auth_users[i];
		}
	}
	http_reply_error(fr, 401, "authentication_failed",
	    "Invalid or expired token", -1);
	return NULL;
}

/* POST /auth/token/rotate: a new token for the caller; the old one dies. */
void
auth_rotate(struct fake_req *fr)
{
	struct fake_user	*u = fr->user;
	char			 hex[65];
	char			*tok;
	json_t			*o;

	http_random_hex(hex, 32);
	if (asprintf(&tok, "octo_%s", hex) == -1)
		abort();
	free(u->prev_token);
	u->prev_token = u->token;
	u->token = tok;
	o = json_pack("{s:s, s:s, s:s, s:n}", "token", u->token,
	    "user_id", u->user_id, "github_username", u->name, "namespace");
	if (o == NULL)
		abort();
	evhttp_add_header(evhttp_request_get_output_headers(fr->req),
	    "Cache-Control", "no-store");
	http_reply(fr, 200, o);
}

/*
 * For the rotation crash test: "current" (accepted), "previous" (replaced by the
 * latest rotation, i.e. only the rotation in flight was lost) or "unknown".
 */
const char *
auth_token_state(const char *tok)
{
	int i;

	for (i = 0; i < auth_nusers; i++) {
		if (strcmp(auth_users[i].token, tok) == 0)
			return "current";
		if (auth_users[i].prev_token != NULL &&
		    strcmp(auth_users[i].prev_token, tok) == 0)
			return "previous";
	}
	return "unknown";
}

/* Forget every token. */
void
auth_free(void)
{
	int	i;

	for (i = 0; i < auth_nusers; i++) {
		free(auth_users[i].token);
		free(auth_users[i].prev_token);
		auth_users[i].prev_token = NULL;
		auth_users[i].token = NULL;
	}
	auth_nusers = 0;
}
