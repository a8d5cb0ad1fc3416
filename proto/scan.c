/* scan.c - bounded framing of msgpack objects on a byte stream. */
#include <stdint.h>
#include <string.h>

#include "octo_proto.h"

/* Big-endian unsigned of n (1, 2 or 4) bytes. */
static uint32_t
be(const uint8_t *p, unsigned n)
{
	uint32_t v = 0;

	while (n-- > 0)
		v = (v << 8) | *p++;
	return v;
}

/*
 * Walk object headers only, keeping a stack of how many objects each open container
 * still owes.  Declared lengths and counts are checked against the limits as soon as
 * their header is complete, so a 5-byte "array of 2^32-1" is refused at once.
 */
int
octo_proto_scan(const void *buf, size_t len, const struct octo_proto_limits *lim,
    size_t *msglen)
{
	const uint8_t	*p = buf;
	uint64_t	 owed[OCTO_MAX_DEPTH + 2];
	unsigned	 depth = 0, maxdepth;
	uint64_t	 elems = 0;
	size_t		 off = 0, max = lim->max_msg;

	maxdepth = lim->max_depth < OCTO_MAX_DEPTH ? lim->max_depth : OCTO_MAX_DEPTH;
	owed[0] = 1;
	for (;;) {
		uint8_t		b;
		unsigned	hdr = 1, lenbytes = 0;
		uint64_t	body = 0, children = 0;
		int		container = 0;

		while (owed[depth] == 0) {
			if (depth == 0) {
				*msglen = off;
				return OCTO_OK;
			}
			depth--;
		}
		if (off >= len)
			goto more;
		b = p[off];
		if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
			;				/* fixint, nil, bool */
		else if (b <= 0x8f) {
			children = 2 * (uint64_t)(b & 0x0f);
			container = 1;
		} else if (b <= 0x9f) {
			children = b & 0x0f;
			container = 1;
		} else if (b <= 0xbf)
			body = b & 0x1f;
		else {
			switch (b) {
			case 0xc4: case 0xd9: lenbytes = 1; break;	/* bin8, str8 */
			case 0xc5: case 0xda: lenbytes = 2; break;
			case 0xc6: case 0xdb: lenbytes = 4; break;
			case 0xc7: lenbytes = 1; body = 1; break;	/* ext8 + type */
			case 0xc8: lenbytes = 2; body = 1; break;
			case 0xc9: lenbytes = 4; body = 1; break;
			case 0xca: body = 4; break;			/* float32 */
			case 0xcb: body = 8; break;
			case 0xcc: case 0xd0: body = 1; break;
			case 0xcd: case 0xd1: body = 2; break;
			case 0xce: case 0xd2: body = 4; break;
			case 0xcf: case 0xd3: body = 8; break;
			case 0xd4: body = 2; break;			/* fixext */
			case 0xd5: body = 3; break;
			case 0xd6: body = 5; break;
			case 0xd7: body = 9; break;
			case 0xd8: body = 17; break;
			case 0xdc: case 0xde: lenbytes = 2; break;	/* array16, map16 */
			case 0xdd: case 0xdf: lenbytes = 4; break;
			default:
				return OCTO_ERR_PROTOCOL;		/* 0xc1 */
			}
			hdr += lenbytes;
			if (off + hdr > len)
				goto more;
			if (lenbytes > 0) {
				uint32_t n = be(p + off + 1, lenbytes);

				if (b == 0xdc || b == 0xdd) {
					children = n;
					container = 1;
				} else if (b == 0xde || b == 0xdf) {
					children = 2 * (uint64_t)n;
					container = 1;
				} else
					body += n;
			}
		}
		owed[depth]--;
		if (++elems > lim->max_elems)
			return OCTO_ERR_PROTOCOL;
		off += hdr;
		if (off > max)
			return OCTO_ERR_TOO_LARGE;
		if (container) {
			/* Every child takes at least one byte. */
			if (children > max - off)
				return OCTO_ERR_TOO_LARGE;
			if (children > lim->max_elems - elems)
				return OCTO_ERR_PROTOCOL;
			/* An empty container still counts as a nesting level. */
			if (depth + 1 > maxdepth)
				return OCTO_ERR_PROTOCOL;
			if (children > 0)
				owed[++depth] = children;
		}
		if (body > max - off)
			return OCTO_ERR_TOO_LARGE;
		off += body;
		if (off > len)
			goto more;
	}
more:
	return len >= max ? OCTO_ERR_TOO_LARGE : OCTO_ERR_AGAIN;
}

/* Fill default limits. */
void
octo_proto_limits_default(struct octo_proto_limits *lim)
{
	lim->max_msg = OCTO_MAX_MSG_DEFAULT;
	lim->max_depth = OCTO_MAX_DEPTH;
	lim->max_elems = OCTO_MAX_ELEMS;
}
