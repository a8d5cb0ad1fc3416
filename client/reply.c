/* reply.c - liboctostore result maps: typed, bounded copies of their fields. */
#include <stdio.h>
#include <string.h>

#include "client.h"

/* A field is missing or malformed: the reply breaks the protocol. */
void
reply_bad(struct reply *rp, const char *key)
{
	if (rp->r == OCTO_OK)
		rp->r = client_error(rp->c, OCTO_ERR_PROTOCOL,
		    "malformed reply from the daemon: field %s", key);
}

/* String field into dst; returns 1 when present. */
int
reply_str(struct reply *rp, const char *key, char *dst, size_t dstsz, int flags)
{
	const char	*s;
	size_t		 len;
	int		 r;

	dst[0] = '\0';
	if ((r = octo_proto_get_str(rp->map, key, &s, &len)) == OCTO_ERR_AGAIN) {
		if (flags & REPLY_REQ)
			reply_bad(rp, key);
		return 0;
	}
	if (r != OCTO_OK) {
		reply_bad(rp, key);
		return 0;
	}
	if (flags & REPLY_TEXT)
		client_copy_text(dst, dstsz, s, len);
	else if (octo_proto_strcpy(dst, dstsz, s, len) != OCTO_OK) {
		reply_bad(rp, key);
		return 0;
	}
	return 1;
}

/* Byte-string field (metadata: may hold anything); returns 1 when present. */
int
reply_bytes(struct reply *rp, const char *key, char *dst, size_t dstsz, size_t *outlen)
{
	const char	*s;
	size_t		 len;
	int		 r;

	dst[0] = '\0';
	*outlen = 0;
	if ((r = octo_proto_get_str(rp->map, key, &s, &len)) == OCTO_ERR_AGAIN)
		return 0;
	if (r != OCTO_OK || len >= dstsz) {
		reply_bad(rp, key);
		return 0;
	}
	memcpy(dst, s, len);
	dst[len] = '\0';
	*outlen = len;
	return 1;
}

/* Non-negative integer field; dflt when absent. */
uint64_t
reply_uint(struct reply *rp, const char *key, int flags, uint64_t dflt)
{
	uint64_t	v;
	int		r;

	if ((r = octo_proto_get_uint(rp->map, key, 0, UINT64_MAX, &v)) == OCTO_OK)
		return v;
	if (r != OCTO_ERR_AGAIN || (flags & REPLY_REQ))
		reply_bad(rp, key);
	return dflt;
}

/* Signed integer field; dflt when absent. */
int64_t
reply_int(struct reply *rp, const char *key, int flags, int64_t dflt)
{
	int64_t	v;
	int	r;

	if ((r = octo_proto_get_int(rp->map, key, INT64_MIN, INT64_MAX, &v)) == OCTO_OK)
		return v;
	if (r != OCTO_ERR_AGAIN || (flags & REPLY_REQ))
		reply_bad(rp, key);
	return dflt;
}

/* Boolean field; dflt when absent or nil. */
int
reply_bool(struct reply *rp, const char *key, int flags, int dflt)
{
	int	v, r;

	if ((r = octo_proto_get_bool(rp->map, key, &v)) == OCTO_OK)
		return v != 0;
	if (r != OCTO_ERR_AGAIN || (flags & REPLY_REQ))
		reply_bad(rp, key);
	return dflt;
}
