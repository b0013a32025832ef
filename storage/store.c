/* store.c — the store writer: windows, group commit, commit log, recovery.
 *
 * Durability protocol (FORMAT.md §7): blocks of commit C+1 are appended to
 * their segments and fdatasync'ed, then the commit record C+1 (with every
 * session mark) is appended to commit.log and fdatasync'ed. The record is
 * the commit point: at start-up, blocks whose commit id is above the last
 * record are truncated away, because their sessions' marks were not saved
 * and the proxy will resend those messages. Marks and data therefore never
 * disagree, which is what exactly-once delivery needs. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crc32c.h"
#include "dir.h"
#include "seg.h"
#include "store.h"

#define LOG_MAGIC "FDCOMMIT"
#define LOG_HDR_LEN 16
#define REC_MAGIC "FDCM"
#define REC_HDR_LEN 32
#define LOG_COMPACT_BYTES (4u << 20)
#define ARENA_CAP (16u << 20) /* strings of one window's pending rows */
#define MAX_WINDOWS 4

struct window {
	uint64_t start_ms;
	int fd;           /* -1 until the first block is written */
	uint32_t part;
	uint64_t off;     /* file length: where the next block goes */
	bool dirty;       /* written since the last fsync */
	struct colbuf cb; /* pending rows, in columns */
	char *arena;
	size_t arena_len;
	struct ftr_ent *ents;
	uint32_t nents, ents_cap;
	char path[512];
};

struct st_store {
	struct st_store_cfg cfg;
	char *dir;
	uint64_t win_ms;
	uint64_t commit;     /* last durable commit id */
	int log_fd;
	uint64_t log_len;
	struct blk_enc *enc;
	struct window *win[MAX_WINDOWS];
	uint32_t nwin;
	struct window *spare; /* a sealed window's buffers, for the next one */
	uint32_t row_cap;    /* pending rows per window */
	struct st_mark *marks;
	uint32_t nmarks;
	uint64_t *mark_used; /* commit id of the last update, for eviction */
	bool dirty;          /* rows or marks since the last commit */
	bool poisoned;       /* an fsync failed: durability unknown, see commit */
	struct st_store_stats st;
};

void st_store_cfg_default(struct st_store_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->window_s = 300;
	cfg->codec = ST_CODEC_LZ4;
	cfg->block_rows = ST_BLOCK_ROWS_MAX;
	cfg->max_marks = 4096;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Write all of buf at off; on failure cut the file back to off so that no
 * partial block stays behind (a disk-full write must not look torn). */
static int pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;
	size_t done = 0;
	while (done < len) {
		ssize_t r = pwrite(fd, p + done, len - done, (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			int e = r < 0 ? errno : ENOSPC;
			if (ftruncate(fd, (off_t)off) == 0)
				(void)0;
			return -e;
		}
		done += (size_t)r;
	}
	return 0;
}

static int timed_fsync(struct st_store *s, int fd)
{
	uint64_t t0 = mono_ns();
	int rc = fdatasync(fd) ? -errno : 0;
	uint64_t dt = mono_ns() - t0;
	s->st.fsyncs++;
	s->st.fsync_ns_total += dt;
	if (dt > s->st.fsync_ns_max)
		s->st.fsync_ns_max = dt;
	/* Linux reports a writeback error once and may then let a retried
	 * fsync succeed on pages it dropped: never trust this file again */
	if (rc)
		s->poisoned = true;
	return rc;
}

/* ------------------------------------------------------------ commit log */

static size_t rec_build(uint8_t *p, uint64_t commit, const struct st_mark *m, uint32_t n)
{
	size_t len = REC_HDR_LEN + (size_t)n * 16;
	memcpy(p, REC_MAGIC, 4);
	le32_st(p + 8, (uint32_t)len);
	le32_st(p + 12, n);
	le64_st(p + 16, commit);
	le64_st(p + 24, wall_ms());
	for (uint32_t i = 0; i < n; i++) {
		le64_st(p + REC_HDR_LEN + (size_t)i * 16, m[i].session_id);
		le64_st(p + REC_HDR_LEN + (size_t)i * 16 + 8, m[i].durable_next);
	}
	le32_st(p + 4, st_crc32c(p + 8, len - 8));
	return len;
}

static void log_hdr(uint8_t h[LOG_HDR_LEN])
{
	memcpy(h, LOG_MAGIC, 8);
	le32_st(h + 8, 1);
	le32_st(h + 12, st_crc32c(h, 12));
}

/* Replace commit.log by one holding only the current state:
 * temp + fsync + rename + fsync(dir). */
static int log_rewrite(struct st_store *s)
{
	char tmp[4096], path[4096];
	snprintf(path, sizeof(path), "%s/commit.log", s->dir);
	snprintf(tmp, sizeof(tmp), "%s/commit.log.tmp", s->dir);
	size_t len = LOG_HDR_LEN + REC_HDR_LEN + (size_t)s->nmarks * 16;
	uint8_t *b = malloc(len);
	if (!b)
		return -ENOMEM;
	log_hdr(b);
	rec_build(b + LOG_HDR_LEN, s->commit, s->marks, s->nmarks);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int rc = fd < 0 ? -errno : 0;
	if (!rc)
		rc = pwrite_all(fd, b, len, 0);
	if (!rc)
		rc = timed_fsync(s, fd);
	free(b);
	if (fd >= 0 && rc) {
		close(fd);
		unlink(tmp);
		return rc;
	}
	if (rc)
		return rc;
	if (rename(tmp, path)) {
		rc = -errno;
		close(fd);
		unlink(tmp);
		return rc;
	}
	fsync_dir(s->dir);
	if (s->log_fd >= 0)
		close(s->log_fd);
	s->log_fd = fd;
	s->log_len = len;
	return 0;
}

/* Read commit.log: last valid record -> commit id and marks. 1 if found,
 * 0 if the file is absent, -errno. A torn last record is ignored (it is the
 * commit that did not happen). */
static int log_load(struct st_store *s)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/commit.log", s->dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	struct stat st;
	if (fstat(fd, &st)) {
		close(fd);
		return -errno;
	}
	size_t len = (size_t)st.st_size;
	uint8_t *b = len ? malloc(len) : NULL;
	if (len && !b) {
		close(fd);
		return -ENOMEM;
	}
	size_t got = 0;
	while (got < len) {
		ssize_t r = pread(fd, b + got, len - got, (off_t)got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	uint8_t h[LOG_HDR_LEN];
	log_hdr(h);
	int found = 0;
	if (got >= LOG_HDR_LEN && !memcmp(b, h, LOG_HDR_LEN)) {
		size_t pos = LOG_HDR_LEN;
		while (got - pos >= REC_HDR_LEN) {
			const uint8_t *p = b + pos;
			uint32_t rl = le32_ld(p + 8), n = le32_ld(p + 12);
			if (memcmp(p, REC_MAGIC, 4) || rl < REC_HDR_LEN || rl > got - pos ||
			    (uint64_t)n * 16 != rl - REC_HDR_LEN ||
			    le32_ld(p + 4) != st_crc32c(p + 8, rl - 8))
				break;
			if (n > s->cfg.max_marks)
				n = s->cfg.max_marks; /* config shrank: keep the first */
			s->commit = le64_ld(p + 16);
			for (uint32_t i = 0; i < n; i++) {
				s->marks[i].session_id = le64_ld(p + REC_HDR_LEN + (size_t)i * 16);
				s->marks[i].durable_next = le64_ld(p + REC_HDR_LEN + (size_t)i * 16 + 8);
				s->mark_used[i] = s->commit;
			}
			s->nmarks = n;
			found = 1;
			pos += rl;
		}
	}
	free(b);
	return found ? 1 : (got ? -EBADMSG : 0);
}

/* ------------------------------------------------------------- windows */

static void win_free(struct window *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	colbuf_free(&w->cb);
	free(w->arena);
	free(w->ents);
	free(w);
}

static struct window *win_get(struct st_store *s, uint64_t now_ms)
{
	uint64_t start = now_ms - now_ms % s->win_ms;
	for (uint32_t i = 0; i < s->nwin; i++)
		if (s->win[i]->start_ms == start)
			return s->win[i];
	if (s->nwin == MAX_WINDOWS)
		return NULL; /* commit seals old windows first */
	struct window *w = s->spare;
	if (w) {
		/* reuse 12+16 MiB of buffers: no page faults at each new window */
		struct colbuf cb = w->cb;
		char *arena = w->arena;
		struct ftr_ent *ents = w->ents;
		uint32_t cap = w->ents_cap;
		memset(w, 0, sizeof(*w));
		w->cb = cb;
		w->cb.n = 0;
		w->arena = arena;
		w->ents = ents;
		w->ents_cap = cap;
		w->fd = -1;
		w->start_ms = start;
		s->spare = NULL;
		s->win[s->nwin++] = w;
		return w;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->fd = -1;
	w->start_ms = start;
	w->arena = malloc(ARENA_CAP);
	if (colbuf_init(&w->cb, s->row_cap) || !w->arena) {
		win_free(w);
		return NULL;
	}
	s->win[s->nwin++] = w;
	return w;
}

/* Create the window's segment file: the next part number not taken. */
static int win_create(struct st_store *s, struct window *w)
{
	char d[4096];
	int rc = seg_dirname(s->dir, w->start_ms, d, sizeof(d));
	if (!rc)
		rc = mkdir_p(d);
	if (rc)
		return rc;
	for (uint32_t part = 0; part < 100000; part++) {
		rc = seg_filename(s->dir, w->start_ms, part, w->path, sizeof(w->path));
		if (rc)
			return rc;
		int fd = open(w->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0 && errno == EEXIST)
			continue;
		if (fd < 0)
			return -errno;
		struct seg_hdr h = { .version = SEG_VERSION, .codec = (uint8_t)s->cfg.codec,
				     .win_start_ms = w->start_ms, .win_len_ms = (uint32_t)s->win_ms,
				     .part = part, .created_ms = wall_ms() };
		uint8_t hb[SEG_HDR_LEN];
		seg_hdr_write(hb, &h);
		rc = pwrite_all(fd, hb, sizeof(hb), 0);
		if (!rc)
			rc = timed_fsync(s, fd);
		if (!rc)
			rc = fsync_dir(d);
		if (rc) {
			close(fd);
			unlink(w->path);
			return rc;
		}
		w->fd = fd;
		w->part = part;
		w->off = SEG_HDR_LEN;
		s->st.segments_created++;
		return 0;
	}
	return -EEXIST;
}

/* Encode and append up to block_rows pending rows as one block. */
static int win_flush_block(struct st_store *s, struct window *w)
{
	if (w->fd < 0) {
		int rc = win_create(s, w);
		if (rc)
			return rc;
	}
	uint32_t n = w->cb.n < s->cfg.block_rows ? w->cb.n : s->cfg.block_rows;
	const uint8_t *blk;
	uint32_t len, raw;
	struct blk_src src;
	colbuf_src(&w->cb, n, w->arena, &src);
	int rc = blk_encode(s->enc, &src, s->commit + 1, &blk, &len, &raw);
	if (rc)
		return rc;
	if (w->nents == w->ents_cap) {
		uint32_t cap = w->ents_cap ? w->ents_cap * 2 : 64;
		struct ftr_ent *e = realloc(w->ents, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		w->ents = e;
		w->ents_cap = cap;
	}
	rc = pwrite_all(w->fd, blk, len, w->off);
	if (rc) {
		s->st.write_errors++;
		if (rc == -ENOSPC || rc == -EDQUOT)
			s->st.enospc_errors++;
		return rc;
	}
	/* the block's zone map has both bounds already */
	uint64_t fmin = le64_ld(blk + BLK_HDR_LEN), lmax = le64_ld(blk + BLK_HDR_LEN + 24);
	w->ents[w->nents++] = (struct ftr_ent){ w->off, len, n, fmin, lmax };
	w->off += len;
	w->dirty = true;
	s->st.rows_written += n;
	s->st.blocks_written++;
	s->st.bytes_written += len;
	s->st.raw_bytes += raw;
	colbuf_shift(&w->cb, n);
	if (!w->cb.n)
		w->arena_len = 0; /* strings of remaining rows stay where they are */
	return 0;
}

/* Footer + trailer, fsync, close. The window must have nothing pending. */
static int win_seal(struct st_store *s, struct window *w)
{
	if (w->fd < 0)
		return 0;
	uint8_t *f;
	size_t fl;
	int rc = ftr_build(w->ents, w->nents, &f, &fl);
	if (rc)
		return rc;
	le64_st(f + fl - TRL_LEN, w->off);
	rc = pwrite_all(w->fd, f, fl, w->off);
	free(f);
	if (!rc)
		rc = timed_fsync(s, w->fd);
	if (rc) {
		s->st.write_errors++;
		if (rc == -ENOSPC)
			s->st.enospc_errors++;
		return rc;
	}
	s->st.segments_sealed++;
	close(w->fd);
	w->fd = -1;
	return 0;
}

/* ------------------------------------------------------------------ add */

uint32_t st_store_room(const struct st_store *s)
{
	/* the window that takes new rows is the newest one */
	uint32_t used = 0;
	for (uint32_t i = 0; i < s->nwin; i++)
		if (s->win[i]->cb.n > used)
			used = s->win[i]->cb.n;
	return s->row_cap - used;
}

int st_store_add(struct st_store *s, const struct flow_rec *recs, uint32_t n, const char *arena,
		 uint64_t now_ms)
{
	struct window *w = win_get(s, now_ms);
	if (!w)
		return s->nwin == MAX_WINDOWS ? -ENOBUFS : -ENOMEM;
	if (n > s->row_cap - w->cb.n)
		return -ENOBUFS;
	size_t sbytes = 0;
	for (uint32_t i = 0; i < n && arena; i++)
		for (unsigned k = 0; k < FLOW_STR_MAX; k++)
			sbytes += recs[i].str_len[k];
	if (sbytes > ARENA_CAP - w->arena_len) {
		/* flush what is pending to reuse the arena */
		while (w->cb.n) {
			int rc = win_flush_block(s, w);
			if (rc)
				return rc == -ENOSPC ? -ENOBUFS : rc;
		}
		if (sbytes > ARENA_CAP)
			return -E2BIG;
	}
	/* A batch without strings (with or without an arena): one record at
	 * a time while it is in L1 (a column-by-column pass over the batch
	 * measured slower: each pass re-reads the 176-byte records from L2),
	 * the column pointers loaded once. Its offsets are not stored: no
	 * reader looks at the offset of an empty string. */
	if (!sbytes)
		colbuf_put_nostr(&w->cb, recs, n);
	for (uint32_t i = 0; i < n && sbytes; i++) {
		const struct flow_rec *in = &recs[i];
		struct flow_rec r = *in;
		for (unsigned k = 0; k < FLOW_STR_MAX; k++) {
			if (!r.str_len[k]) {
				r.str_off[k] = 0;
				continue;
			}
			memcpy(w->arena + w->arena_len, arena + in->str_off[k], r.str_len[k]);
			r.str_off[k] = (uint32_t)w->arena_len;
			w->arena_len += r.str_len[k];
		}
		colbuf_put(&w->cb, &r);
	}
	/* Full blocks go out now. A write error leaves them pending (the
	 * commit retries and reports it) until row_cap refuses more rows. */
	while (w->cb.n >= s->cfg.block_rows)
		if (win_flush_block(s, w))
			break;
	s->st.rows_in += n;
	s->dirty = true;
	return 0;
}

/* --------------------------------------------------------------- marks */

int st_store_set_marks(struct st_store *s, const struct st_mark *m, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		uint32_t k;
		for (k = 0; k < s->nmarks; k++)
			if (s->marks[k].session_id == m[i].session_id)
				break;
		if (k == s->nmarks) {
			if (s->nmarks < s->cfg.max_marks) {
				s->nmarks++;
			} else {
				/* forget the session idle the longest */
				k = 0;
				for (uint32_t j = 1; j < s->nmarks; j++)
					if (s->mark_used[j] < s->mark_used[k])
						k = j;
			}
		}
		s->marks[k] = m[i];
		s->mark_used[k] = s->commit + 1;
	}
	if (n)
		s->dirty = true;
	return 0;
}

uint64_t st_store_get_mark(const struct st_store *s, uint64_t session_id)
{
	for (uint32_t k = 0; k < s->nmarks; k++)
		if (s->marks[k].session_id == session_id)
			return s->marks[k].durable_next;
	return 0;
}

/* --------------------------------------------------------------- commit */

int st_store_commit(struct st_store *s, uint64_t now_ms)
{
	int rc = 0;
	if (s->poisoned)
		return -EIO;
	if (s->dirty) {
		for (uint32_t i = 0; i < s->nwin && !rc; i++)
			while (s->win[i]->cb.n && !rc)
				rc = win_flush_block(s, s->win[i]);
		for (uint32_t i = 0; i < s->nwin && !rc; i++) {
			struct window *w = s->win[i];
			if (w->dirty) {
				rc = timed_fsync(s, w->fd);
				if (!rc)
					w->dirty = false;
			}
		}
		if (rc)
			return rc;
		size_t len = REC_HDR_LEN + (size_t)s->nmarks * 16;
		uint8_t stackbuf[4096];
		uint8_t *b = len <= sizeof(stackbuf) ? stackbuf : malloc(len);
		if (!b)
			return -ENOMEM;
		rec_build(b, s->commit + 1, s->marks, s->nmarks);
		rc = pwrite_all(s->log_fd, b, len, s->log_len);
		if (b != stackbuf)
			free(b);
		if (!rc)
			rc = timed_fsync(s, s->log_fd);
		if (rc) {
			s->st.write_errors++;
			if (rc == -ENOSPC)
				s->st.enospc_errors++;
			/* the record may be half there: cut it (pwrite_all did on
			 * a write error; an fsync error leaves it, and the next
			 * record overwrites it at the same offset) */
			return rc;
		}
		s->log_len += len;
		s->commit++;
		s->st.commits++;
		s->dirty = false;
		if (s->log_len > LOG_COMPACT_BYTES)
			(void)log_rewrite(s); /* best effort: the old log stays valid */
	}
	/* seal windows that ended; their rows are all committed now */
	for (uint32_t i = 0; i < s->nwin;) {
		struct window *w = s->win[i];
		if (w->start_ms + s->win_ms <= now_ms && !w->cb.n) {
			rc = win_seal(s, w);
			if (rc)
				return rc;
			if (!s->spare)
				s->spare = w;
			else
				win_free(w);
			s->win[i] = s->win[--s->nwin];
			continue;
		}
		i++;
	}
	return 0;
}

int st_store_seal(struct st_store *s)
{
	if (s->dirty)
		return -EAGAIN; /* commit first: sealing must not strand rows */
	while (s->nwin) {
		struct window *w = s->win[s->nwin - 1];
		int rc = win_seal(s, w);
		if (rc)
			return rc;
		win_free(w);
		s->nwin--;
	}
	return 0;
}

/* ------------------------------------------------------------- recovery */

/* Bring one unsealed segment to a clean state: cut everything from the
 * first block of an unrecorded commit or the torn tail, then seal it (new
 * writes go to a new part). */
static int recover_segment(struct st_store *s, const char *path, struct st_recovery *rep)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st)) {
		close(fd);
		return -errno;
	}
	size_t len = (size_t)st.st_size;
	if (len < SEG_HDR_LEN) {
		/* a header that never made it: the file holds nothing */
		close(fd);
		unlink(path);
		rep->bytes_truncated += len;
		return 0;
	}
	uint8_t *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		close(fd);
		return -errno;
	}
	struct seg_walk w;
	int rc = seg_walk_init(&w, m, len);
	if (rc) {
		munmap(m, len);
		close(fd);
		return rc; /* unreadable header: left alone, reported by verify */
	}
	struct seg_blk b;
	uint64_t cut = 0;
	struct ftr_ent *ents = NULL;
	uint32_t ne = 0, cap = 0;
	uint64_t corrupt_before = 0;
	while (seg_walk_next(&w, &b) == 1) {
		if (b.commit > s->commit) {
			cut = b.off;
			break;
		}
		if (ne == cap) {
			cap = cap ? cap * 2 : 64;
			struct ftr_ent *e = realloc(ents, cap * sizeof(*e));
			if (!e) {
				rc = -ENOMEM;
				goto out;
			}
			ents = e;
		}
		ents[ne++] = (struct ftr_ent){ b.off, b.len, b.nrows, b.zone.first_min, b.zone.last_max };
		corrupt_before = w.blocks_bad;
	}
	if (w.sealed) {
		goto out; /* sealed after all (footer reached): nothing to do */
	}
	if (cut) {
		/* count what goes: this block and every later good one */
		rep->blocks_dropped++;
		rep->rows_dropped += b.nrows;
		while (seg_walk_next(&w, &b) == 1) {
			rep->blocks_dropped++;
			rep->rows_dropped += b.nrows;
		}
	} else {
		cut = w.tail_bytes ? w.tail_off : w.len;
	}
	rep->blocks_kept += ne;
	rep->blocks_corrupt += (uint32_t)corrupt_before;
	rep->bytes_truncated += len - cut;
	rep->segments_open++;
	munmap(m, len);
	m = NULL;
	if (cut < len && ftruncate(fd, (off_t)cut)) {
		rc = -errno;
		goto out;
	}
	uint8_t *f;
	size_t fl;
	rc = ftr_build(ents, ne, &f, &fl);
	if (rc)
		goto out;
	le64_st(f + fl - TRL_LEN, cut);
	rc = pwrite_all(fd, f, fl, cut);
	free(f);
	if (!rc)
		rc = fdatasync(fd) ? -errno : 0;
	if (!rc)
		rep->segments_sealed++;
out:
	if (m)
		munmap(m, len);
	free(ents);
	close(fd);
	return rc;
}

static int recover(struct st_store *s, struct st_recovery *rep)
{
	int have_log = log_load(s);
	if (have_log < 0)
		return have_log;
	struct seg_file *f;
	size_t n;
	int rc = seg_list(s->dir, &f, &n);
	if (rc)
		return rc;
	if (!have_log && n) {
		/* Segments without a commit log: it was deleted by hand. Keep
		 * every complete block (no marks: replays are not deduplicated). */
		rep->no_commit_log = true;
		s->commit = UINT64_MAX - 1;
	}
	for (size_t i = 0; i < n; i++) {
		/* Cheap check first: a sealed segment ends with a trailer. */
		int fd = open(f[i].path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		uint8_t t[TRL_LEN];
		bool sealed = f[i].size >= SEG_HDR_LEN + TRL_LEN &&
			      pread(fd, t, TRL_LEN, (off_t)(f[i].size - TRL_LEN)) == TRL_LEN &&
			      !memcmp(t + 8, TRL_MAGIC, 8);
		close(fd);
		if (sealed)
			continue;
		rc = recover_segment(s, f[i].path, rep);
		if (rc == -EBADMSG)
			rc = 0; /* bad header: verify reports it, readers skip it */
		if (rc)
			break;
	}
	seg_list_free(f, n);
	if (rc)
		return rc;
	if (rep->no_commit_log)
		s->commit = 0; /* blocks written from now on start a new count */
	rep->commit = s->commit;
	rep->marks = s->nmarks;
	/* a fresh log with exactly the recovered state: drops any torn record */
	return log_rewrite(s);
}

struct st_store *st_store_open(const struct st_store_cfg *cfg, struct st_recovery *rep)
{
	struct st_recovery dummy;
	if (!rep)
		rep = &dummy;
	memset(rep, 0, sizeof(*rep));
	if (!cfg->dir || !cfg->window_s || 86400 % cfg->window_s || !cfg->block_rows ||
	    cfg->block_rows > ST_BLOCK_ROWS_MAX || cfg->codec > ST_CODEC_ZSTD || !cfg->max_marks) {
		errno = EINVAL;
		return NULL;
	}
	struct st_store *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->cfg = *cfg;
	s->log_fd = -1;
	s->win_ms = (uint64_t)cfg->window_s * 1000;
	/* a full block may be pending (write failed) and one more message of
	 * up to 64 Ki rows must still fit: the daemon checks room for that */
	s->row_cap = cfg->block_rows + ST_BLOCK_ROWS_MAX;
	s->dir = strdup(cfg->dir);
	s->marks = calloc(cfg->max_marks, sizeof(*s->marks));
	s->mark_used = calloc(cfg->max_marks, sizeof(*s->mark_used));
	s->enc = blk_enc_new(cfg->codec, cfg->level);
	int rc = -ENOMEM;
	if (!s->dir || !s->marks || !s->mark_used || !s->enc)
		goto fail;
	s->cfg.dir = s->dir;
	rc = mkdir_p(s->dir);
	if (!rc)
		rc = recover(s, rep);
	if (rc)
		goto fail;
	return s;
fail:
	st_store_close(s);
	errno = -rc;
	return NULL;
}

void st_store_close(struct st_store *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; i < s->nwin; i++)
		win_free(s->win[i]);
	win_free(s->spare);
	if (s->log_fd >= 0)
		close(s->log_fd);
	blk_enc_free(s->enc);
	free(s->marks);
	free(s->mark_used);
	free(s->dir);
	free(s);
}

void st_store_stats(const struct st_store *s, struct st_store_stats *out)
{
	*out = s->st;
	out->pending_rows = 0;
	out->fsync_failed = s->poisoned;
	for (uint32_t i = 0; i < s->nwin; i++)
		out->pending_rows += s->win[i]->cb.n;
}
