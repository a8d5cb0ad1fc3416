/* check_wal.c - the local backend's log: record codec, torn and corrupt tails, replay,
 * compaction, the directory lock (issue 7); links, modes, owners and tokens.hwm (issue 21). */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "wal.h"

static char	tdir[64];
static char	tpath[128];

static void
setup(void)
{
	snprintf(tdir, sizeof(tdir), "/tmp/check_wal.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tdir));
	snprintf(tpath, sizeof(tpath), "%s/%s", tdir, WAL_FILE);
}

static void
teardown(void)
{
	char p[160];

	static const char *files[] = { WAL_TMP_FILE, WAL_HWM_FILE, WAL_HWM_TMP_FILE,
	    "victim" };
	size_t i;

	unlink(tpath);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", tdir, files[i]);
		unlink(p);
	}
	rmdir(tdir);
}

static void
mkrec(struct wal_rec *r, int type, const char *name, int64_t token)
{
	memset(r, 0, sizeof(*r));
	r->type = type;
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->token = token;
	snprintf(r->lease_id, sizeof(r->lease_id), "0f0e0d0c-0000-4000-8000-%012lld",
	    (long long)token);
	r->expires_ms = 1700000000000LL + token;
	r->ttl = 60;
}

/* Replay sink: the highest token per name (names "n0".."n9"), floor, count. */
struct sink {
	int64_t		max[10];
	int64_t		floor;
	unsigned	n;
	int		held[10];
};

static void
sink_fn(const struct wal_rec *r, void *arg)
{
	struct sink	*s = arg;
	int		 i;

	s->n++;
	if (r->type == WAL_FLOOR) {
		s->floor = r->token;
		return;
	}
	ck_assert(r->name[0] == 'n' && r->name[1] >= '0' && r->name[1] <= '9');
	i = r->name[1] - '0';
	if (r->token > s->max[i])
		s->max[i] = r->token;
	if (r->type == WAL_GRANT)
		s->held[i] = 1;
	if (r->type == WAL_RELEASE)
		s->held[i] = 0;
}

static off_t
file_size(void)
{
	struct stat st;

	ck_assert_int_eq(stat(tpath, &st), 0);
	return st.st_size;
}

START_TEST(test_roundtrip)
{
	static const int types[] = { WAL_GRANT, WAL_RENEW, WAL_RELEASE, WAL_TOKEN, WAL_FLOOR };
	unsigned char	buf[WAL_RECORD_MAX];
	struct wal_rec	r, d;
	size_t		n, used;
	unsigned	i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		mkrec(&r, types[i], types[i] == WAL_FLOOR ? "" : "jobs/ünï.code", 42 + i);
		if (types[i] == WAL_GRANT) {
			r.has_metadata = 1;
			memset(r.metadata, 'm', WAL_METADATA_MAX);
			r.lock_delay = 30;
		}
		if (types[i] == WAL_TOKEN || types[i] == WAL_FLOOR)
			r.lease_id[0] = '\0';
		n = wal_encode(&r, buf);
		ck_assert_uint_gt(n, WAL_HEADER);
		ck_assert_uint_le(n, WAL_RECORD_MAX);
		ck_assert_int_eq(wal_decode(buf, n, &d, &used), WAL_OK);
		ck_assert_uint_eq(used, n);
		ck_assert_int_eq(d.type, types[i]);
		ck_assert_str_eq(d.name, r.name);
		ck_assert_int_eq(d.token, types[i] == WAL_RENEW ||
		    types[i] == WAL_RELEASE ? 0 : r.token);
		if (types[i] == WAL_GRANT) {
			ck_assert_str_eq(d.lease_id, r.lease_id);
			ck_assert_int_eq(d.expires_ms, r.expires_ms);
			ck_assert_uint_eq(d.ttl, 60);
			ck_assert_uint_eq(d.lock_delay, 30);
			ck_assert_int_eq(d.has_metadata, 1);
			ck_assert_str_eq(d.metadata, r.metadata);
		}
	}
	/* The largest possible record fits. */
	mkrec(&r, WAL_GRANT, "", 1);
	memset(r.name, 'x', WAL_NAME_MAX);
	memset(r.lease_id, 'y', WAL_ID_MAX);
	r.has_metadata = 1;
	memset(r.metadata, 'z', WAL_METADATA_MAX);
	n = wal_encode(&r, buf);
	ck_assert_uint_gt(n, 0);
	ck_assert_int_eq(wal_decode(buf, n, &d, &used), WAL_OK);
	/* Invalid records are not encoded. */
	mkrec(&r, 99, "a", 1);
	ck_assert_uint_eq(wal_encode(&r, buf), 0);
	mkrec(&r, WAL_GRANT, "", 1);
	ck_assert_uint_eq(wal_encode(&r, buf), 0);
}
END_TEST

START_TEST(test_torn_every_byte)
{
	unsigned char	buf[WAL_RECORD_MAX];
	struct wal_rec	r, d;
	size_t		n, k, used;

	mkrec(&r, WAL_GRANT, "n1", 7);
	r.has_metadata = 1;
	snprintf(r.metadata, sizeof(r.metadata), "owner=test");
	n = wal_encode(&r, buf);
	for (k = 0; k < n; k++)
		ck_assert_msg(wal_decode(buf, k, &d, &used) == WAL_SHORT,
		    "prefix of %zu of %zu bytes not reported torn", k, n);
	ck_assert_int_eq(wal_decode(buf, n, &d, &used), WAL_OK);
}
END_TEST

START_TEST(test_corrupt_every_byte)
{
	unsigned char	buf[WAL_RECORD_MAX], bad[WAL_RECORD_MAX];
	struct wal_rec	r, d;
	size_t		n, k, used;
	int		bit;

	mkrec(&r, WAL_RENEW, "n2", 9);
	n = wal_encode(&r, buf);
	for (k = 0; k < n; k++) {
		for (bit = 0; bit < 8; bit++) {
			memcpy(bad, buf, n);
			bad[k] ^= (unsigned char)(1 << bit);
			ck_assert_msg(wal_decode(bad, n, &d, &used) != WAL_OK,
			    "flipped bit %d of byte %zu accepted", bit, k);
		}
	}
	/* A length beyond the limit is corrupt, not torn. */
	memcpy(bad, buf, n);
	bad[2] = 0x7f;
	ck_assert_int_eq(wal_decode(bad, n, &d, &used), WAL_BAD);
}
END_TEST

/* Write n records alternating over names n0..n3, tokens 1..n; return the offsets. */
static void
write_log(unsigned n, off_t *ends)
{
	struct wal	w;
	struct wal_rec	r;
	struct sink	s;
	char		err[256], name[4];
	unsigned	i;

	memset(&s, 0, sizeof(s));
	ck_assert_msg(wal_open(&w, tdir, sink_fn, &s, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(s.n, 0);
	ck_assert_int_eq(w.size, WAL_MAGIC_LEN);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "n%u", i % 4);
		mkrec(&r, i % 3 == 2 ? WAL_RELEASE : WAL_GRANT, name, i + 1);
		if (r.type == WAL_RELEASE)
			r.token = 0;
		ck_assert_int_eq(wal_append(&w, &r), 0);
		/* Some batches of several records, as group commit writes them. */
		if (i % 2 == 1 || i == n - 1)
			ck_assert_int_eq(wal_flush(&w, i % 4 == 3), 0);
		if (ends != NULL)
			ends[i] = w.size + (off_t)wal_pending(&w);
	}
	ck_assert_int_eq(wal_flush(&w, 1), 0);
	if (ends != NULL)
		for (i = 0; i < n; i++)
			ck_assert_int_le(ends[i], w.size);
	wal_close(&w);
}

START_TEST(test_replay_max_tokens)
{
	struct wal	w;
	struct sink	s;
	char		err[256];
	int		i;

	write_log(30, NULL);
	memset(&s, 0, sizeof(s));
	ck_assert_msg(wal_open(&w, tdir, sink_fn, &s, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(s.n, 30);
	ck_assert_uint_eq(w.replayed, 30);
	ck_assert_int_eq(w.ignored, 0);
	/* Grants carry tokens i+1 at i % 3 != 2, on name i % 4. */
	for (i = 0; i < 4; i++) {
		int64_t want = 0;
		int j;

		for (j = 0; j < 30; j++)
			if (j % 4 == i && j % 3 != 2)
				want = j + 1;
		ck_assert_int_eq(s.max[i], want);
	}
	wal_close(&w);
}
END_TEST

START_TEST(test_torn_file_every_byte)
{
	off_t		ends[12], full, cut;
	struct wal	w;
	struct wal_rec	r;
	struct sink	s;
	char		err[256], copy[160];
	unsigned	good;
	int		fd;

	write_log(7, ends);
	full = file_size();
	ck_assert_int_eq(full, ends[6]);
	snprintf(copy, sizeof(copy), "%s/full", tdir);
	ck_assert_int_eq(link(tpath, copy), 0);
	for (cut = WAL_MAGIC_LEN; cut <= full; cut++) {
		/* A fresh copy of the full log, cut at cut bytes. */
		unlink(tpath);
		{
			char	buf[8192];
			int	in = open(copy, O_RDONLY);
			ssize_t	n = read(in, buf, sizeof(buf));

			ck_assert_int_eq(n, full);
			fd = open(tpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
			ck_assert_int_eq(write(fd, buf, (size_t)cut), cut);
			close(fd);
			close(in);
		}
		for (good = 0; good < 7 && ends[good] <= cut; good++)
			;
		memset(&s, 0, sizeof(s));
		ck_assert_msg(wal_open(&w, tdir, sink_fn, &s, err, sizeof(err)) == 0, "%s",
		    err);
		ck_assert_msg(s.n == good, "cut %lld: replayed %u, want %u", (long long)cut,
		    s.n, good);
		ck_assert_int_eq(w.ignored, cut - (good > 0 ? ends[good - 1] : WAL_MAGIC_LEN));
		/* The tail is cut off before anything is appended after it. */
		ck_assert_int_eq(file_size(), cut - w.ignored);
		mkrec(&r, WAL_TOKEN, "n9", 1000);
		ck_assert_int_eq(wal_append(&w, &r), 0);
		ck_assert_int_eq(wal_flush(&w, 1), 0);
		wal_close(&w);
		memset(&s, 0, sizeof(s));
		ck_assert_int_eq(wal_open(&w, tdir, sink_fn, &s, err, sizeof(err)), 0);
		ck_assert_uint_eq(s.n, good + 1);
		ck_assert_int_eq(s.max[9], 1000);
		ck_assert_int_eq(w.ignored, 0);
		wal_close(&w);
	}
	unlink(copy);
}
END_TEST

START_TEST(test_corrupt_last_bytes)
{
	struct wal	w;
	struct sink	s;
	char		err[256];
	off_t		full;
	unsigned char	c;
	int		fd;

	write_log(6, NULL);
	full = file_size();
	fd = open(tpath, O_RDWR);
	ck_assert_int_eq(pread(fd, &c, 1, full - 1), 1);
	c ^= 0xff;
	ck_assert_int_eq(pwrite(fd, &c, 1, full - 1), 1);
	close(fd);
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(wal_open(&w, tdir, sink_fn, &s, err, sizeof(err)), 0);
	ck_assert_uint_eq(s.n, 5);
	ck_assert_int_gt(w.ignored, 0);
	ck_assert_str_eq(w.ignored_why, "corrupt record");
	ck_assert_int_eq(file_size(), full - w.ignored);
	wal_close(&w);
	/* Garbage appended after good records is ignored too. */
	fd = open(tpath, O_WRONLY | O_APPEND);
	ck_assert_int_eq(write(fd, "\x10\0\0\0garbage-garbage", 20), 20);
	close(fd);
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(wal_open(&w, tdir, sink_fn, &s, err, sizeof(err)), 0);
	ck_assert_uint_eq(s.n, 5);
	ck_assert_int_eq(w.ignored, 20);
	wal_close(&w);
}
END_TEST

START_TEST(test_compaction)
{
	struct wal	w;
	struct wal_rec	r;
	struct sink	s;
	char		err[256], tmp[160];
	off_t		before;

	write_log(200, NULL);
	before = file_size();
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(wal_open(&w, tdir, sink_fn, &s, err, sizeof(err)), 0);
	/* Queued records are superseded by the snapshot. */
	mkrec(&r, WAL_GRANT, "n5", 5555);
	ck_assert_int_eq(wal_append(&w, &r), 0);
	wal_compact_begin(&w);
	mkrec(&r, WAL_FLOOR, "", 500);
	ck_assert_int_eq(wal_compact_add(&w, &r), 0);
	mkrec(&r, WAL_TOKEN, "n0", 197);
	ck_assert_int_eq(wal_compact_add(&w, &r), 0);
	mkrec(&r, WAL_GRANT, "n1", 198);
	ck_assert_int_eq(wal_compact_add(&w, &r), 0);
	ck_assert_int_eq(wal_compact_commit(&w), 0);
	ck_assert_int_eq(wal_pending(&w), 0);
	ck_assert_int_lt(w.size, before);
	ck_assert_int_eq(file_size(), w.size);
	snprintf(tmp, sizeof(tmp), "%s/%s", tdir, WAL_TMP_FILE);
	ck_assert_int_eq(access(tmp, F_OK), -1);
	/* Appends continue in the new file. */
	mkrec(&r, WAL_GRANT, "n2", 600);
	ck_assert_int_eq(wal_append(&w, &r), 0);
	ck_assert_int_eq(wal_flush(&w, 1), 0);
	wal_close(&w);
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(wal_open(&w, tdir, sink_fn, &s, err, sizeof(err)), 0);
	ck_assert_uint_eq(s.n, 4);
	ck_assert_int_eq(s.floor, 500);
	ck_assert_int_eq(s.max[0], 197);
	ck_assert_int_eq(s.max[1], 198);
	ck_assert_int_eq(s.held[1], 1);
	ck_assert_int_eq(s.max[2], 600);
	ck_assert_int_eq(s.max[5], 0);
	wal_close(&w);
}
END_TEST

START_TEST(test_stale_tmp_and_magic)
{
	struct wal	w, w2;
	struct sink	s;
	char		err[256], tmp[160];
	int		fd;

	/* A compaction that died before its rename leaves a temporary file: removed. */
	snprintf(tmp, sizeof(tmp), "%s/%s", tdir, WAL_TMP_FILE);
	fd = open(tmp, O_WRONLY | O_CREAT, 0600);
	ck_assert_int_eq(write(fd, "OCTOWAL1junk", 12), 12);
	close(fd);
	/* A log cut inside its magic is started afresh. */
	fd = open(tpath, O_WRONLY | O_CREAT, 0600);
	ck_assert_int_eq(write(fd, "OCTO", 4), 4);
	close(fd);
	memset(&s, 0, sizeof(s));
	ck_assert_msg(wal_open(&w, tdir, sink_fn, &s, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(access(tmp, F_OK), -1);
	ck_assert_int_eq(file_size(), WAL_MAGIC_LEN);
	/* A second daemon on the same directory is refused. */
	ck_assert_int_eq(wal_open(&w2, tdir, sink_fn, &s, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "in use"));
	wal_close(&w);
	/* Someone else's file is never overwritten. */
	fd = open(tpath, O_WRONLY | O_TRUNC, 0600);
	ck_assert_int_eq(write(fd, "NOTMINE!andmore", 15), 15);
	close(fd);
	ck_assert_int_eq(wal_open(&w, tdir, sink_fn, &s, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "bad magic"));
	ck_assert_int_eq(file_size(), 15);
}
END_TEST

START_TEST(test_mkdir)
{
	struct wal	w;
	struct sink	s;
	char		err[256], sub[128], path[192];
	struct stat	st;

	snprintf(sub, sizeof(sub), "%s/new/", tdir);
	memset(&s, 0, sizeof(s));
	ck_assert_msg(wal_open(&w, sub, sink_fn, &s, err, sizeof(err)) == 0, "%s", err);
	wal_close(&w);
	snprintf(sub, sizeof(sub), "%s/new", tdir);
	ck_assert_int_eq(stat(sub, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/%s", sub, WAL_FILE);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, WAL_MAGIC_LEN);
	unlink(path);
	rmdir(sub);
	/* Only the last component is created. */
	snprintf(sub, sizeof(sub), "%s/a/b", tdir);
	ck_assert_int_eq(wal_open(&w, sub, sink_fn, &s, err, sizeof(err)), -1);
}
END_TEST

/* The owner's uid rides on a grant (type 6); a grant without one is type 1, as before. */
START_TEST(test_owner_uid)
{
	unsigned char	buf[WAL_RECORD_MAX];
	struct wal_rec	r, d;
	size_t		n, used;

	mkrec(&r, WAL_GRANT, "n1", 7);
	n = wal_encode(&r, buf);
	ck_assert_uint_gt(n, 0);
	ck_assert_int_eq(buf[WAL_HEADER], WAL_GRANT);
	ck_assert_int_eq(wal_decode(buf, n, &d, &used), WAL_OK);
	ck_assert_int_eq(d.has_uid, 0);
	r.has_uid = 1;
	r.uid = 4000000001u;
	n = wal_encode(&r, buf);
	ck_assert_int_eq(buf[WAL_HEADER], WAL_GRANT_UID);
	ck_assert_int_eq(wal_decode(buf, n, &d, &used), WAL_OK);
	ck_assert_int_eq(used, n);
	ck_assert_int_eq(d.type, WAL_GRANT);
	ck_assert_int_eq(d.has_uid, 1);
	ck_assert_uint_eq(d.uid, 4000000001u);
	ck_assert_int_eq(d.token, 7);
	/* Cut short by the uid's bytes, the record is torn. */
	ck_assert_int_eq(wal_decode(buf, n - 1, &d, &used), WAL_SHORT);
}
END_TEST

/* A victim file beside the state directory; its content must never change. */
static void
victim(char *path, size_t len)
{
	int fd;

	snprintf(path, len, "%s/victim", tdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "precious", 8), 8);
	close(fd);
}

static void
assert_victim(const char *path)
{
	char	buf[16];
	int	fd = open(path, O_RDONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(read(fd, buf, sizeof(buf)), 8);
	close(fd);
	ck_assert_int_eq(memcmp(buf, "precious", 8), 0);
}

/* Every file the log opens in its directory: a symbolic link is refused, not followed. */
START_TEST(test_links_refused)
{
	static const char *files[] = { WAL_FILE, WAL_TMP_FILE, WAL_HWM_TMP_FILE };
	struct wal	 w;
	struct sink	 s;
	char		 err[256], v[160], sub[160], lpath[224];
	int64_t		 hwm;
	size_t		 i;

	victim(v, sizeof(v));
	snprintf(sub, sizeof(sub), "%s/state", tdir);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(lpath, sizeof(lpath), "%s/%s", sub, files[i]);
		ck_assert_int_eq(symlink(v, lpath), 0);
		memset(&s, 0, sizeof(s));
		ck_assert_int_eq(wal_open(&w, sub, sink_fn, &s, err, sizeof(err)), -1);
		ck_assert_msg(strstr(err, files[i]) != NULL && strstr(err, "symbolic link"),
		    "%s", err);
		assert_victim(v);
		ck_assert_int_eq(unlink(lpath), 0);
	}
	/* tokens.hwm is read after the open. */
	memset(&s, 0, sizeof(s));
	ck_assert_msg(wal_open(&w, sub, sink_fn, &s, err, sizeof(err)) == 0, "%s", err);
	snprintf(lpath, sizeof(lpath), "%s/%s", sub, WAL_HWM_FILE);
	ck_assert_int_eq(symlink(v, lpath), 0);
	ck_assert_int_eq(wal_hwm_read(&w, &hwm, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "symbolic link") != NULL, "%s", err);
	ck_assert_int_eq(unlink(lpath), 0);
	/* A temporary file planted while running: the compaction fails, writes nothing. */
	snprintf(lpath, sizeof(lpath), "%s/%s", sub, WAL_TMP_FILE);
	ck_assert_int_eq(symlink(v, lpath), 0);
	wal_compact_begin(&w);
	ck_assert_int_eq(wal_compact_commit(&w), -1);
	ck_assert_msg(strstr(w.errmsg, "symbolic link") != NULL, "%s", w.errmsg);
	assert_victim(v);
	ck_assert_int_eq(unlink(lpath), 0);
	wal_compact_begin(&w);
	ck_assert_int_eq(wal_compact_commit(&w), 0);
	wal_close(&w);
	snprintf(lpath, sizeof(lpath), "%s/%s", sub, WAL_FILE);
	unlink(lpath);
	/* A second hard link to the log is refused too. */
	ck_assert_msg(wal_open(&w, sub, sink_fn, &s, err, sizeof(err)) == 0, "%s", err);
	wal_close(&w);
	snprintf(v, sizeof(v), "%s/second", tdir);
	ck_assert_int_eq(link(lpath, v), 0);
	ck_assert_int_eq(wal_open(&w, sub, sink_fn, &s, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "2 links") != NULL, "%s", err);
	unlink(v);
	unlink(lpath);
	snprintf(lpath, sizeof(lpath), "%s/%s", sub, WAL_HWM_FILE);
	unlink(lpath);
	ck_assert_int_eq(rmdir(sub), 0);
}
END_TEST

/* A state directory group or others may write is refused. */
START_TEST(test_dir_mode)
{
	struct wal	w;
	struct sink	s;
	char		err[256];

	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(chmod(tdir, 0770), 0);
	ck_assert_int_eq(wal_open(&w, tdir, sink_fn, &s, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "writable by group or others (mode 0770)"), "%s", err);
	ck_assert_int_eq(chmod(tdir, 0702), 0);
	ck_assert_int_eq(wal_open(&w, tdir, sink_fn, &s, err, sizeof(err)), -1);
	ck_assert_int_eq(chmod(tdir, 0755), 0);
	ck_assert_msg(wal_open(&w, tdir, sink_fn, &s, err, sizeof(err)) == 0, "%s", err);
	wal_close(&w);
}
END_TEST

/* tokens.hwm: absent, written, read back, replaced; a damaged one is an error. */
START_TEST(test_hwm)
{
	struct wal	w;
	struct sink	s;
	char		err[256], path[160];
	int64_t		hwm = -1;
	int		fd;

	memset(&s, 0, sizeof(s));
	ck_assert_msg(wal_open(&w, tdir, sink_fn, &s, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(w.created, 1);
	ck_assert_int_eq(wal_hwm_read(&w, &hwm, err, sizeof(err)), 0);
	ck_assert_int_eq(wal_hwm_write(&w, 1024), 0);
	ck_assert_int_eq(wal_hwm_read(&w, &hwm, err, sizeof(err)), 1);
	ck_assert_int_eq(hwm, 1024);
	ck_assert_int_eq(wal_hwm_write(&w, 9007199254740993LL), 0);
	ck_assert_int_eq(wal_hwm_read(&w, &hwm, err, sizeof(err)), 1);
	ck_assert_int_eq(hwm, 9007199254740993LL);
	snprintf(path, sizeof(path), "%s/%s", tdir, WAL_HWM_TMP_FILE);
	ck_assert_int_eq(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/%s", tdir, WAL_HWM_FILE);
	fd = open(path, O_WRONLY | O_TRUNC);
	ck_assert_int_eq(write(fd, "OCTOHWM1 12x\n", 13), 13);
	close(fd);
	ck_assert_int_eq(wal_hwm_read(&w, &hwm, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "not an octostored token high-water mark"), "%s", err);
	wal_close(&w);
	/* The log existed this time. */
	ck_assert_msg(wal_open(&w, tdir, sink_fn, &s, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(w.created, 0);
	wal_close(&w);
}
END_TEST

static Suite *
wal_suite(void)
{
	Suite	*s = suite_create("wal");
	TCase	*tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_torn_every_byte);
	tcase_add_test(tc, test_corrupt_every_byte);
	tcase_add_test(tc, test_replay_max_tokens);
	tcase_add_test(tc, test_torn_file_every_byte);
	tcase_add_test(tc, test_corrupt_last_bytes);
	tcase_add_test(tc, test_compaction);
	tcase_add_test(tc, test_stale_tmp_and_magic);
	tcase_add_test(tc, test_mkdir);
	tcase_add_test(tc, test_owner_uid);
	tcase_add_test(tc, test_links_refused);
	tcase_add_test(tc, test_dir_mode);
	tcase_add_test(tc, test_hwm);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(wal_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
