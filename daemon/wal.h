/* wal.h - the local backend's write-ahead log: checksummed records, replay, compaction. */
#ifndef WAL_H
#define WAL_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#define WAL_FILE		"locks.wal"
#define WAL_TMP_FILE		"locks.wal.tmp"
#define WAL_HWM_FILE		"tokens.hwm"
#define WAL_HWM_TMP_FILE	"tokens.hwm.tmp"
#define WAL_HWM_MAGIC		"OCTOHWM1"
#define WAL_MAGIC		"OCTOWAL1"
#define WAL_MAGIC_LEN		8

#define WAL_NAME_MAX		256
#define WAL_ID_MAX		64
#define WAL_METADATA_MAX	1024
/* Header: u32 body length, u32 CRC-32 of the length bytes and the body. */
#define WAL_HEADER		8
#define WAL_BODY_MAX		1400
#define WAL_RECORD_MAX		(WAL_HEADER + WAL_BODY_MAX)
/* No record that carries a token is shorter: bounds how many a lost tail held. */
#define WAL_RECORD_MIN		20

enum wal_type {
	WAL_GRANT = 1,		/* a lease was granted: token, id, expiry, ttl, metadata */
	WAL_RENEW = 2,		/* a lease's expiry moved */
	WAL_RELEASE = 3,	/* a lease ended; expiry holds the lock delay's end or 0 */
	WAL_TOKEN = 4,		/* snapshot of a free name: highest token, delay end */
	WAL_FLOOR = 5		/* every later token of every name is above this */
};
/* On disk only: a GRANT that also carries its owner's uid (decoded as WAL_GRANT). */
#define WAL_GRANT_UID		6

/* One record; times are wall-clock milliseconds since the epoch. */
struct wal_rec {
	int		type;
	char		name[WAL_NAME_MAX + 1];
	int64_t		token;			/* GRANT, TOKEN, FLOOR */
	char		lease_id[WAL_ID_MAX + 1];	/* GRANT, RENEW, RELEASE */
	int64_t		expires_ms;		/* GRANT, RENEW; delay end: RELEASE, TOKEN */
	uint32_t	ttl;			/* GRANT, RENEW: seconds */
	uint32_t	lock_delay;		/* GRANT: seconds */
	int		has_metadata;		/* GRANT */
	char		metadata[WAL_METADATA_MAX + 1];
	int		has_uid;		/* GRANT: the uid that owns the lease */
	uint32_t	uid;
};

/* Decoding outcomes. */
#define WAL_OK		0
#define WAL_SHORT	1	/* a torn record: more bytes were needed */
#define WAL_BAD		2	/* a corrupt record: bad length, checksum or contents */

/* Encode r into out (at least WAL_RECORD_MAX bytes); returns its size, 0 if invalid. */
size_t wal_encode(const struct wal_rec *r, unsigned char *out);

/* Decode the record at p (len bytes available) into r and its size into *used. */
int wal_decode(const unsigned char *p, size_t len, struct wal_rec *r, size_t *used);

typedef void (*wal_replay_fn)(const struct wal_rec *r, void *arg);

/* An open log. */
struct wal {
	int		 dirfd;		/* the state directory, flock()ed */
	int		 fd;		/* the log, positioned at its end */
	off_t		 size;		/* bytes known written and good */
	unsigned char	*buf;		/* records waiting for wal_flush */
	size_t		 len, cap;
	unsigned char	*cbuf;		/* the snapshot being built */
	size_t		 clen, ccap;
	int		 broken;	/* a write failed: only a compaction repairs it */
	int		 dirty;		/* written since the last sync */
	char		 errmsg[192];	/* why the last compaction or hwm write failed */

	/* What the last wal_open found. */
	int		 created;	/* the log did not exist */
	uint64_t	 replayed;	/* records */
	off_t		 ignored;	/* bytes of torn or corrupt tail ignored */
	off_t		 ignored_at;	/* where the ignored tail began */
	const char	*ignored_why;	/* "torn record", "bad checksum", ... */
};

/*
 * Open (creating if needed) the log in dir (created 0700 if missing; its parent
 * must exist): check that dir is owned by this euid or root and not writable by group
 * or others, lock the directory against a second daemon, replay every good record
 * through fn, and cut off a torn or corrupt tail (reported in w->ignored*), fsync'd
 * before anything is appended.  Every file in dir is opened relative to it with
 * O_NOFOLLOW and must be a regular file owned by this euid with one link: a symbolic
 * link or a foreign file is an error, never followed or written.
 * Returns 0, or -1 with a message in err.
 */
int wal_open(struct wal *w, const char *dir, wal_replay_fn fn, void *arg, char *err,
    size_t errlen);

/* Queue a record for the next wal_flush; -1 on ENOMEM or an invalid record. */
int wal_append(struct wal *w, const struct wal_rec *r);

/* Write the queued records, and fsync when sync is set; 0, or -1 with errno. */
int wal_flush(struct wal *w, int sync);

/* Bytes queued and not yet written. */
size_t wal_pending(const struct wal *w);

/*
 * Compaction: begin, add the whole state as records, commit.  The snapshot goes to a
 * temporary file that is written, fsync'd and renamed over the log, then the directory
 * is fsync'd.  Records queued before begin are discarded (the snapshot holds them).
 * On failure the old log stays in use (and broken stays as it was); 0 or -1 with errno.
 */
void wal_compact_begin(struct wal *w);
int wal_compact_add(struct wal *w, const struct wal_rec *r);
int wal_compact_commit(struct wal *w);

/*
 * The token high-water mark in WAL_HWM_FILE: no token above it was ever handed out.
 * wal_hwm_read: 1 and *hwm, 0 when the file does not exist, -1 with a message in err.
 * wal_hwm_write: written to a new temporary file, fsync'd, renamed over the old one,
 * directory fsync'd; 0, or -1 with errno and w->errmsg.
 */
int wal_hwm_read(struct wal *w, int64_t *hwm, char *err, size_t errlen);
int wal_hwm_write(struct wal *w, int64_t hwm);

/* Close the log and the directory; frees the buffer. */
void wal_close(struct wal *w);

#endif
