/* wal.c - append-only log of lease records with CRC-32, replay, torn tails, compaction. */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "statedir.h"
#include "wal.h"

/* Little-endian writers and readers over a bounded cursor. */
struct wal_cur {
	const unsigned char	*p;
	size_t			 left;
	int			 bad;
};

static unsigned char *
put_u8(unsigned char *p, unsigned v)
{
	*p++ = (unsigned char)v;
	return p;
}

static unsigned char *
put_u16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	return p + 2;
}

static unsigned char *
put_u32(unsigned char *p, uint32_t v)
{
	int i;

	for (i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
	return p + 4;
}

static unsigned char *
put_i64(unsigned char *p, int64_t v)
{
	uint64_t	u = (uint64_t)v;
	int		i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(u >> (8 * i));
	return p + 8;
}

static unsigned char *
put_bytes(unsigned char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

static uint32_t
get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static uint64_t
cur_uint(struct wal_cur *c, int n)
{
	uint64_t	v = 0;
	int		i;

	if (c->bad || c->left < (size_t)n) {
		c->bad = 1;
		return 0;
	}
	for (i = 0; i < n; i++)
		v |= (uint64_t)c->p[i] << (8 * i);
	c->p += n;
	c->left -= (size_t)n;
	return v;
}

/* A string of n bytes into dst (size max + 1); no NUL may appear inside. */
static void
cur_str(struct wal_cur *c, size_t n, char *dst, size_t max)
{
	if (c->bad || n > max || c->left < n || memchr(c->p, '\0', n) != NULL) {
		c->bad = 1;
		return;
	}
	memcpy(dst, c->p, n);
	dst[n] = '\0';
	c->p += n;
	c->left -= n;
}

/* CRC-32 of the length field and the body. */
static uint32_t
wal_crc(const unsigned char *lenbytes, const unsigned char *body, size_t n)
{
	uLong crc = crc32(0L, Z_NULL, 0);

	crc = crc32(crc, lenbytes, 4);
	crc = crc32(crc, body, (uInt)n);
	return (uint32_t)crc;
}

/* Encode a record. */
size_t
wal_encode(const struct wal_rec *r, unsigned char *out)
{
	unsigned char	*p = out + WAL_HEADER, *body = p;
	size_t		 nl = strnlen(r->name, WAL_NAME_MAX + 1);
	size_t		 il = strnlen(r->lease_id, WAL_ID_MAX + 1);
	size_t		 ml = r->has_metadata ? strnlen(r->metadata, WAL_METADATA_MAX + 1) : 0;
	size_t		 n;

	if (nl > WAL_NAME_MAX || il > WAL_ID_MAX || ml > WAL_METADATA_MAX)
		return 0;
	if ((r->type == WAL_FLOOR) != (nl == 0))
		return 0;
	p = put_u8(p, r->type == WAL_GRANT && r->has_uid ? WAL_GRANT_UID : (unsigned)r->type);
	p = put_u16(p, (unsigned)nl);
	p = put_bytes(p, r->name, nl);
	switch (r->type) {
	case WAL_GRANT:
		p = put_i64(p, r->token);
		p = put_u8(p, (unsigned)il);
		p = put_bytes(p, r->lease_id, il);
		p = put_i64(p, r->expires_ms);
		p = put_u32(p, r->ttl);
		p = put_u32(p, r->lock_delay);
		p = put_u8(p, r->has_metadata ? 1 : 0);
		if (r->has_metadata) {
			p = put_u16(p, (unsigned)ml);
			p = put_bytes(p, r->metadata, ml);
		}
		if (r->has_uid)
			p = put_u32(p, r->uid);
		break;
	case WAL_RENEW:
		p = put_u8(p, (unsigned)il);
		p = put_bytes(p, r->lease_id, il);
		p = put_i64(p, r->expires_ms);
		p = put_u32(p, r->ttl);
		break;
	case WAL_RELEASE:
		p = put_u8(p, (unsigned)il);
		p = put_bytes(p, r->lease_id, il);
		p = put_i64(p, r->expires_ms);
		break;
	case WAL_TOKEN:
		p = put_i64(p, r->token);
		p = put_i64(p, r->expires_ms);
		break;
	case WAL_FLOOR:
		p = put_i64(p, r->token);
		break;
	default:
		return 0;
	}
	n = (size_t)(p - body);
	put_u32(out, (uint32_t)n);
	put_u32(out + 4, wal_crc(out, body, n));
	return WAL_HEADER + n;
}

/* Decode one record: WAL_OK, WAL_SHORT (torn) or WAL_BAD (corrupt). */
int
wal_decode(const unsigned char *p, size_t len, struct wal_rec *r, size_t *used)
{
	struct wal_cur	c;
	uint32_t	n;
	size_t		sl;

	memset(r, 0, sizeof(*r));
	if (len < WAL_HEADER)
		return WAL_SHORT;
	n = get_u32(p);
	if (n < 3 || n > WAL_BODY_MAX)
		return WAL_BAD;
	if (len - WAL_HEADER < n)
		return WAL_SHORT;
	if (wal_crc(p, p + WAL_HEADER, n) != get_u32(p + 4))
		return WAL_BAD;
	c.p = p + WAL_HEADER;
	c.left = n;
	c.bad = 0;
	r->type = (int)cur_uint(&c, 1);
	if (r->type == WAL_GRANT_UID) {
		r->type = WAL_GRANT;
		r->has_uid = 1;
	}
	sl = (size_t)cur_uint(&c, 2);
	cur_str(&c, sl, r->name, WAL_NAME_MAX);
	if ((r->type == WAL_FLOOR) != (sl == 0))
		return WAL_BAD;
	switch (r->type) {
	case WAL_GRANT:
		r->token = (int64_t)cur_uint(&c, 8);
		sl = (size_t)cur_uint(&c, 1);
		cur_str(&c, sl, r->lease_id, WAL_ID_MAX);
		r->expires_ms = (int64_t)cur_uint(&c, 8);
		r->ttl = (uint32_t)cur_uint(&c, 4);
		r->lock_delay = (uint32_t)cur_uint(&c, 4);
		r->has_metadata = (int)cur_uint(&c, 1);
		if (r->has_metadata > 1)
			return WAL_BAD;
		if (r->has_metadata) {
			sl = (size_t)cur_uint(&c, 2);
			cur_str(&c, sl, r->metadata, WAL_METADATA_MAX);
		}
		if (r->has_uid)
			r->uid = (uint32_t)cur_uint(&c, 4);
		break;
	case WAL_RENEW:
		sl = (size_t)cur_uint(&c, 1);
		cur_str(&c, sl, r->lease_id, WAL_ID_MAX);
		r->expires_ms = (int64_t)cur_uint(&c, 8);
		r->ttl = (uint32_t)cur_uint(&c, 4);
		break;
	case WAL_RELEASE:
		sl = (size_t)cur_uint(&c, 1);
		cur_str(&c, sl, r->lease_id, WAL_ID_MAX);
		r->expires_ms = (int64_t)cur_uint(&c, 8);
		break;
	case WAL_TOKEN:
		r->token = (int64_t)cur_uint(&c, 8);
		r->expires_ms = (int64_t)cur_uint(&c, 8);
		break;
	case WAL_FLOOR:
		r->token = (int64_t)cur_uint(&c, 8);
		break;
	default:
		return WAL_BAD;
	}
	/* The body must be consumed exactly. */
	if (c.bad || c.left != 0)
		return WAL_BAD;
	if (r->token < 0)
		return WAL_BAD;
	*used = WAL_HEADER + n;
	return WAL_OK;
}

/* Make room for n more bytes in *buf. */
static int
wal_reserve(unsigned char **buf, size_t len, size_t *cap, size_t n)
{
	unsigned char	*nb;
	size_t		 nc;

	if (*cap - len >= n)
		return 0;
	nc = *cap == 0 ? 4096 : *cap;
	while (nc - len < n)
		nc *= 2;
	if ((nb = realloc(*buf, nc)) == NULL)
		return -1;
	*buf = nb;
	*cap = nc;
	return 0;
}

/* Read the whole file at fd. */
static int
wal_read_all(int fd, unsigned char **out, size_t *outlen)
{
	unsigned char	*buf = NULL;
	size_t		 len = 0, cap = 0;
	ssize_t		 n;

	for (;;) {
		if (wal_reserve(&buf, len, &cap, 65536) != 0) {
			free(buf);
			errno = ENOMEM;
			return -1;
		}
		n = read(fd, buf + len, cap - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			free(buf);
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

/* Start a fresh log: magic only, durable with its directory entry. */
static int
wal_init_file(struct wal *w)
{
	if (ftruncate(w->fd, 0) == -1 || lseek(w->fd, 0, SEEK_SET) == -1 ||
	    statedir_write_all(w->fd, (const unsigned char *)WAL_MAGIC, WAL_MAGIC_LEN) != 0 ||
	    fsync(w->fd) == -1 || fsync(w->dirfd) == -1)
		return -1;
	w->size = WAL_MAGIC_LEN;
	return 0;
}

/* Open, check, lock, replay and repair. */
int
wal_open(struct wal *w, const char *dir, wal_replay_fn fn, void *arg, char *err,
    size_t errlen)
{
	unsigned char	*data = NULL;
	size_t		 len = 0, off, used;
	struct wal_rec	 r;
	const char	*bad;
	char		 why[96];
	int		 d;

	memset(w, 0, sizeof(*w));
	w->fd = w->dirfd = -1;
	if ((w->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 &&
	    errno == ENOENT && statedir_mkdir(dir) == 0)
		w->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->dirfd == -1) {
		snprintf(err, errlen, "state directory %s: %s", dir, strerror(errno));
		goto fail;
	}
	if ((bad = statedir_dir_bad(w->dirfd, why, sizeof(why))) != NULL) {
		snprintf(err, errlen, "state directory %s: %s; refusing to use it", dir, bad);
		goto fail;
	}
	if (flock(w->dirfd, LOCK_EX | LOCK_NB) == -1) {
		snprintf(err, errlen, "state directory %s: %s", dir, errno == EWOULDBLOCK ?
		    "in use by another octostored" : strerror(errno));
		goto fail;
	}
	/* A compaction or hwm write that did not reach its rename left only garbage. */
	if (statedir_remove_stale(w->dirfd, WAL_TMP_FILE, w->errmsg, sizeof(w->errmsg)) != 0 ||
	    statedir_remove_stale(w->dirfd, WAL_HWM_TMP_FILE, w->errmsg,
	    sizeof(w->errmsg)) != 0) {
		snprintf(err, errlen, "%s/%s", dir, w->errmsg);
		goto fail;
	}
	if ((w->fd = statedir_openat(w->dirfd, WAL_FILE, O_RDWR | O_APPEND, w->errmsg,
	    sizeof(w->errmsg))) == -1 && errno == ENOENT) {
		w->created = 1;
		w->fd = statedir_openat(w->dirfd, WAL_FILE, O_RDWR | O_APPEND | O_CREAT |
		    O_EXCL, w->errmsg, sizeof(w->errmsg));
	}
	if (w->fd == -1) {
		snprintf(err, errlen, "%s/%s", dir, w->errmsg);
		goto fail;
	}
	if (wal_read_all(w->fd, &data, &len) != 0) {
		snprintf(err, errlen, "%s/%s: %s", dir, WAL_FILE, strerror(errno));
		goto fail;
	}
	if (len < WAL_MAGIC_LEN && memcmp(data, WAL_MAGIC, len) == 0) {
		/* New, or created by a run that died before the magic was durable. */
		if (wal_init_file(w) != 0) {
			snprintf(err, errlen, "%s/%s: %s", dir, WAL_FILE, strerror(errno));
			goto fail;
		}
		free(data);
		return 0;
	}
	if (len < WAL_MAGIC_LEN || memcmp(data, WAL_MAGIC, WAL_MAGIC_LEN) != 0) {
		snprintf(err, errlen, "%s/%s: not an octostored lock log (bad magic); "
		    "refusing to overwrite it", dir, WAL_FILE);
		goto fail;
	}
	for (off = WAL_MAGIC_LEN; off < len; off += used) {
		d = wal_decode(data + off, len - off, &r, &used);
		if (d != WAL_OK) {
			w->ignored = (off_t)(len - off);
			w->ignored_at = (off_t)off;
			w->ignored_why = d == WAL_SHORT ? "torn record" : "corrupt record";
			break;
		}
		fn(&r, arg);
		w->replayed++;
	}
	w->size = (off_t)off;
	/* Never append after garbage: cut it off, durably, first. */
	if (w->ignored > 0 && (ftruncate(w->fd, w->size) == -1 || fsync(w->fd) == -1)) {
		snprintf(err, errlen, "%s/%s: truncating the bad tail: %s", dir, WAL_FILE,
		    strerror(errno));
		goto fail;
	}
	free(data);
	return 0;
fail:
	free(data);
	wal_close(w);
	return -1;
}

/* Queue a record. */
int
wal_append(struct wal *w, const struct wal_rec *r)
{
	size_t n;

	if (wal_reserve(&w->buf, w->len, &w->cap, WAL_RECORD_MAX) != 0)
		return -1;
	if ((n = wal_encode(r, w->buf + w->len)) == 0)
		return -1;
	w->len += n;
	return 0;
}

/* Bytes queued. */
size_t
wal_pending(const struct wal *w)
{
	return w->len;
}

/* Write what is queued; fsync if asked. */
int
wal_flush(struct wal *w, int sync)
{
	int e;

	if (w->broken) {
		errno = EIO;
		return -1;
	}
	if (w->len > 0) {
		if (statedir_write_all(w->fd, w->buf, w->len) != 0) {
			e = errno;
			/* A partial record must not sit before later ones. */
			if (ftruncate(w->fd, w->size) == -1)
				w->broken = 1;
			w->len = 0;
			w->broken = 1;
			errno = e;
			return -1;
		}
		w->size += (off_t)w->len;
		w->len = 0;
		w->dirty = 1;
	}
	if (sync && w->dirty) {
		if (fdatasync(w->fd) == -1) {
			/* After a failed fsync the page cache cannot be trusted. */
			w->broken = 1;
			return -1;
		}
		w->dirty = 0;
	}
	return 0;
}

/* Start a snapshot. */
void
wal_compact_begin(struct wal *w)
{
	w->clen = 0;
	w->len = 0;
}

/* Add one record to the snapshot. */
int
wal_compact_add(struct wal *w, const struct wal_rec *r)
{
	size_t n;

	if (wal_reserve(&w->cbuf, w->clen, &w->ccap, WAL_RECORD_MAX) != 0)
		return -1;
	if ((n = wal_encode(r, w->cbuf + w->clen)) == 0) {
		errno = EINVAL;
		return -1;
	}
	w->clen += n;
	return 0;
}

/* Write the snapshot beside the log, make it durable and rename it over the log. */
int
wal_compact_commit(struct wal *w)
{
	int tfd, e;

	w->errmsg[0] = '\0';
	if ((tfd = statedir_tmp_create(w->dirfd, WAL_TMP_FILE, w->errmsg,
	    sizeof(w->errmsg))) == -1)
		return -1;
	if (statedir_write_all(tfd, (const unsigned char *)WAL_MAGIC, WAL_MAGIC_LEN) != 0 ||
	    statedir_write_all(tfd, w->cbuf, w->clen) != 0 || fsync(tfd) == -1 ||
	    renameat(w->dirfd, WAL_TMP_FILE, w->dirfd, WAL_FILE) == -1) {
		e = errno;
		snprintf(w->errmsg, sizeof(w->errmsg), "%s: %s", WAL_TMP_FILE, strerror(e));
		close(tfd);
		unlinkat(w->dirfd, WAL_TMP_FILE, 0);
		errno = e;
		return -1;
	}
	/* From the rename on, the snapshot is the log; fsync makes the rename stick. */
	close(w->fd);
	w->fd = tfd;
	w->size = (off_t)(WAL_MAGIC_LEN + w->clen);
	w->len = 0;
	w->dirty = 0;
	if (fsync(w->dirfd) == -1) {
		snprintf(w->errmsg, sizeof(w->errmsg), "fsync of the directory: %s",
		    strerror(errno));
		w->broken = 1;
		return -1;
	}
	w->broken = 0;
	return 0;
}

/* Read the high-water mark. */
int
wal_hwm_read(struct wal *w, int64_t *hwm, char *err, size_t errlen)
{
	char		 buf[64], *end;
	long long	 v;
	ssize_t		 n;
	int		 fd;

	if ((fd = statedir_openat(w->dirfd, WAL_HWM_FILE, O_RDONLY, w->errmsg,
	    sizeof(w->errmsg))) == -1) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s", w->errmsg);
		return -1;
	}
	while ((n = read(fd, buf, sizeof(buf) - 1)) == -1 && errno == EINTR)
		;
	close(fd);
	if (n == -1) {
		snprintf(err, errlen, "%s: %s", WAL_HWM_FILE, strerror(errno));
		return -1;
	}
	buf[n] = '\0';
	errno = 0;
	v = n > WAL_MAGIC_LEN + 1 && memcmp(buf, WAL_HWM_MAGIC, WAL_MAGIC_LEN) == 0 &&
	    buf[WAL_MAGIC_LEN] == ' ' ? strtoll(buf + WAL_MAGIC_LEN + 1, &end, 10) : -1;
	if (v < 0 || errno != 0 || end == buf + WAL_MAGIC_LEN + 1 || strcmp(end, "\n") != 0) {
		snprintf(err, errlen, "%s: not an octostored token high-water mark; "
		    "refusing to guess", WAL_HWM_FILE);
		return -1;
	}
	*hwm = (int64_t)v;
	return 1;
}

/* Replace the high-water mark atomically and durably. */
int
wal_hwm_write(struct wal *w, int64_t hwm)
{
	char	buf[64];
	int	n;

	w->errmsg[0] = '\0';
	n = snprintf(buf, sizeof(buf), "%s %lld\n", WAL_HWM_MAGIC, (long long)hwm);
	return statedir_replace(w->dirfd, WAL_HWM_TMP_FILE, WAL_HWM_FILE, buf, (size_t)n,
	    w->errmsg, sizeof(w->errmsg));
}

/* Close everything. */
void
wal_close(struct wal *w)
{
	if (w->fd != -1)
		close(w->fd);
	if (w->dirfd != -1)
		close(w->dirfd);	/* drops the flock */
	free(w->buf);
	free(w->cbuf);
	w->fd = w->dirfd = -1;
	w->buf = w->cbuf = NULL;
	w->len = w->cap = w->clen = w->ccap = 0;
}
