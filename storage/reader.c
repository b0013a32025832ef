/* reader.c — read side of the store: time range -> segments -> blocks.
 *
 * Segments are listed at open and read one at a time. A sealed segment
 * (its header and footer check out) whose footer says it cannot hold the
 * range is skipped without reading a block; other sealed segments are read through the footer's block index,
 * block by block with pread into a buffer of the reader's own (no mapping:
 * unmapping a file other threads' partitions also read costs every CPU a
 * TLB shootdown); unsealed ones, and any whose footer does not check out,
 * are mapped read-only and walked (FORMAT.md §8). Version-4 blocks are
 * checked by parts either way: the head when the block is reached, each
 * chunk when a query first decodes it.
 *
 * Partitions: st_reader_open_part(..., part, nparts) returns the blocks
 * k % nparts == part, k counted per segment from a start derived from its
 * name, so nparts threads share a store
 * without sharing state. Shares: readers opened on one st_share (the
 * query engine's threads) return each block to whichever claims it first.
 * Through an index, a reader reads (and CRC-checks) only the blocks it
 * returns; a walk checks every block head it passes. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dir.h"
#include "seg.h"
#include "store.h"

/* Records arrive after they end, but exporter clocks drift and active
 * timeouts run long: a segment whose window ended this long before the
 * range starts is still opened (its zone maps then decide). */
#define WINDOW_SLACK_MS (24ull * 3600 * 1000)

/* Blocks shared out among the readers of one query as they go: a block
 * is taken by the first reader to set its bit in the segment's claims,
 * so a reader that falls behind (a busier CPU, a slower part of the
 * store) takes fewer blocks instead of holding up the answer. Bits are
 * kept in chunks of CLAIM_BITS, allocated as readers reach them and never
 * moved (a lost race frees its copy). Segments are told apart by path,
 * as the static partitions tell them apart by name. */
#define CLAIM_BITS 4096
#define CLAIM_CHUNKS 64 /* 256 Ki blocks a segment */

struct claims {
	char *path;
	_Atomic(uint64_t *) chunk[CLAIM_CHUNKS];
};

struct st_share {
	pthread_mutex_t mu;
	struct claims **seg;
	size_t n, cap;
};

struct st_share *st_share_new(void)
{
	struct st_share *sh = calloc(1, sizeof(*sh));
	if (sh)
		pthread_mutex_init(&sh->mu, NULL);
	return sh;
}

void st_share_free(struct st_share *sh)
{
	if (!sh)
		return;
	for (size_t i = 0; i < sh->n; i++) {
		for (unsigned c = 0; c < CLAIM_CHUNKS; c++)
			free(atomic_load(&sh->seg[i]->chunk[c]));
		free(sh->seg[i]->path);
		free(sh->seg[i]);
	}
	free(sh->seg);
	pthread_mutex_destroy(&sh->mu);
	free(sh);
}

/* The claims of the segment at path, created on first use; NULL without
 * memory. */
static struct claims *share_seg(struct st_share *sh, const char *path)
{
	struct claims *c = NULL;
	pthread_mutex_lock(&sh->mu);
	for (size_t i = 0; i < sh->n && !c; i++)
		if (!strcmp(sh->seg[i]->path, path))
			c = sh->seg[i];
	if (!c && sh->n == sh->cap) {
		size_t nc = sh->cap ? sh->cap * 2 : 16;
		struct claims **ns = realloc(sh->seg, nc * sizeof(*ns));
		if (ns) {
			sh->seg = ns;
			sh->cap = nc;
		}
	}
	if (!c && sh->n < sh->cap) {
		c = calloc(1, sizeof(*c));
		if (c && !(c->path = strdup(path))) {
			free(c);
			c = NULL;
		}
		if (c)
			sh->seg[sh->n++] = c;
	}
	pthread_mutex_unlock(&sh->mu);
	return c;
}

/* Claim block j of a segment: 1 when this call set its bit, 0 when
 * another reader had; -ENOMEM without memory for a chunk, -EFBIG past
 * CLAIM_CHUNKS chunks (the query fails rather than miss or repeat a
 * block). */
static int claim(struct claims *c, uint64_t j)
{
	uint64_t ci = j / CLAIM_BITS, bit = j % CLAIM_BITS;
	if (ci >= CLAIM_CHUNKS)
		return -EFBIG;
	uint64_t *w = atomic_load_explicit(&c->chunk[ci], memory_order_acquire);
	if (!w) {
		uint64_t *nw = calloc(CLAIM_BITS / 64, sizeof(uint64_t)), *expect = NULL;
		if (!nw)
			return -ENOMEM;
		if (atomic_compare_exchange_strong_explicit(&c->chunk[ci], &expect, nw,
							    memory_order_acq_rel, memory_order_acquire)) {
			w = nw;
		} else {
			free(nw);
			w = expect;
		}
	}
	uint64_t m = 1ull << (bit % 64);
	return !(atomic_fetch_or_explicit((_Atomic uint64_t *)&w[bit / 64], m, memory_order_relaxed) &
		 m);
}

struct st_block {
	struct seg_blk b;
	const char *path;
};

struct st_reader {
	uint64_t from, to;
	struct seg_file *files;
	size_t nfiles, next;
	uint8_t *map;
	size_t map_len;
	struct seg_walk walk;
	bool walking;
	/* a sealed segment is read through its footer's index instead: the
	 * footer and each block of the partition are read (pread) into
	 * memory of our own, the file is not mapped */
	int fd;
	uint8_t *ftr_mem;
	const uint8_t *ftr_ent;
	uint32_t ftr_n, ftr_i;
	uint64_t ftr_off;
	uint8_t *blk;
	size_t blk_cap;
	unsigned ver;  /* the segment's format version */
	uint64_t have; /* version 4: columns whose chunks blk holds */
	/* partition: this reader returns the blocks k with k % nparts == part,
	 * or, sharing, the blocks it claims first */
	unsigned part, nparts;
	uint64_t k;
	struct st_share *share;
	struct claims *claims; /* the current segment's, sharing */
	uint64_t j;            /* the current segment's next block number */
	struct st_block cur;
	struct blk_dec *dec;
	struct st_reader_stats st;
};

struct st_reader *st_reader_open(const char *dir, uint64_t from_ms, uint64_t to_ms)
{
	return st_reader_open_part(dir, from_ms, to_ms, 0, 1);
}

struct st_reader *st_reader_open_shared(const char *dir, uint64_t from_ms, uint64_t to_ms,
					unsigned id, struct st_share *sh)
{
	if (!sh) {
		errno = EINVAL;
		return NULL;
	}
	struct st_reader *r = st_reader_open_part(dir, from_ms, to_ms, id, id + 1);
	if (r)
		r->share = sh;
	return r;
}

struct st_reader *st_reader_open_part(const char *dir, uint64_t from_ms, uint64_t to_ms,
				      unsigned part, unsigned nparts)
{
	if (!nparts || part >= nparts) {
		errno = EINVAL;
		return NULL;
	}
	struct st_reader *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->from = from_ms;
	r->to = to_ms;
	r->part = part;
	r->nparts = nparts;
	r->fd = -1;
	r->dec = blk_dec_new();
	if (r->dec)
		blk_dec_cache(r->dec, true);
	int rc = r->dec ? seg_list(dir, &r->files, &r->nfiles) : -ENOMEM;
	if (rc) {
		st_reader_close(r);
		errno = -rc;
		return NULL;
	}
	return r;
}

/* What the walk of an unsealed segment found: every partition walks it,
 * partition 0 reports it. */
static void walk_stats(const struct st_reader *r, struct st_reader_stats *st)
{
	if (r->part == 0 && !r->ftr_ent) {
		st->blocks_corrupt += r->walk.blocks_bad;
		st->bytes_corrupt += r->walk.bytes_bad;
		st->tail_bytes += r->walk.tail_bytes;
	}
}

static void unmap(struct st_reader *r)
{
	if (r->map) {
		walk_stats(r, &r->st);
		blk_dec_cache(r->dec, true); /* forget the chunks of this mapping */
		munmap(r->map, r->map_len);
	}
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	free(r->ftr_mem);
	r->ftr_mem = NULL;
	r->ftr_ent = NULL;
	r->map = NULL;
	r->walking = false;
}

void st_reader_close(struct st_reader *r)
{
	if (!r)
		return;
	unmap(r);
	seg_list_free(r->files, r->nfiles);
	blk_dec_free(r->dec);
	free(r->blk);
	free(r);
}

/* A sealed segment whose header and footer check out: its footer read into
 * r->ftr_mem. 1 yes, 0 no (the caller maps and walks it instead). */
static int load_index(struct st_reader *r, int fd, uint64_t size)
{
	uint8_t h[SEG_HDR_LEN], t[TRL_LEN], fh[FTR_HDR_LEN];
	struct seg_hdr sh;
	if (size < SEG_HDR_LEN + FTR_HDR_LEN + TRL_LEN ||
	    pread(fd, h, SEG_HDR_LEN, 0) != SEG_HDR_LEN || seg_hdr_read(h, SEG_HDR_LEN, &sh) ||
	    pread(fd, t, TRL_LEN, (off_t)(size - TRL_LEN)) != TRL_LEN || memcmp(t + 8, TRL_MAGIC, 8))
		return 0;
	uint64_t fo = le64_ld(t);
	if (fo < SEG_HDR_LEN || fo > size - TRL_LEN - FTR_HDR_LEN ||
	    pread(fd, fh, FTR_HDR_LEN, (off_t)fo) != FTR_HDR_LEN)
		return 0;
	uint32_t flen = le32_ld(fh + 8);
	if (flen < FTR_HDR_LEN || fo + flen + TRL_LEN != size)
		return 0;
	uint8_t *f = malloc(flen);
	uint32_t n;
	if (!f || pread(fd, f, flen, (off_t)fo) != (ssize_t)flen ||
	    !seg_footer_buf(f, flen, fo, size, &n)) {
		free(f);
		return 0;
	}
	r->ver = sh.version;
	r->ftr_mem = f;
	r->ftr_ent = f + FTR_HDR_LEN;
	r->ftr_n = n;
	r->ftr_off = fo;
	return 1;
}

static int open_next(struct st_reader *r)
{
	while (r->next < r->nfiles) {
		struct seg_file *f = &r->files[r->next++];
		if (f->win_start_ms + WINDOW_SLACK_MS < r->from && r->from > WINDOW_SLACK_MS)
			continue;
		int fd = open(f->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT)
				continue; /* retention removed it since the listing */
			return -errno;
		}
		struct stat st;
		if (fstat(fd, &st)) {
			int e = -errno;
			close(fd);
			return e;
		}
		if (r->part == 0)
			r->st.segments++;
		if (st.st_size < SEG_HDR_LEN) {
			close(fd);
			continue; /* being created */
		}
		/* block numbers restart per segment, from a start taken from
		 * the name: partitions that listed the store at different
		 * moments still agree on every block they both see */
		r->k = 0;
		for (const char *c = f->path; *c; c++)
			r->k = r->k * 31 + (uint8_t)*c;
		r->cur.path = f->path;
		r->ftr_i = 0;
		r->j = 0;
		if (r->share && !(r->claims = share_seg(r->share, f->path))) {
			close(fd);
			return -ENOMEM;
		}
		if (load_index(r, fd, (uint64_t)st.st_size)) {
			/* the footer's bounds: a segment outside the range is
			 * skipped without reading a block */
			const uint8_t *h = r->ftr_mem;
			if (!r->ftr_n || le64_ld(h + 24) > r->to || le64_ld(h + 32) < r->from) {
				free(r->ftr_mem);
				r->ftr_mem = NULL;
				r->ftr_ent = NULL;
				close(fd);
				continue;
			}
			r->fd = fd;
			r->walking = true;
			return 1;
		}
		void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
		close(fd);
		if (m == MAP_FAILED)
			return -errno;
		r->map = m;
		r->map_len = (size_t)st.st_size;
		if (seg_walk_init(&r->walk, r->map, r->map_len)) {
			r->st.segments_bad++;
			unmap(r);
			continue;
		}
		/* every partition walks the segment and decodes its share:
		 * version-4 blocks are walked by their heads, a chunk checked
		 * when a query decodes it */
		r->walk.heads_only = true;
		r->walking = true;
		return 1;
	}
	return 0;
}

/* Whether this reader returns the current segment's next block (number
 * r->j, counted in the order both the index and a walk give them): 1 yes,
 * 0 no, or a claim's error. */
static int take(struct st_reader *r)
{
	uint64_t j = r->j++;
	if (r->claims)
		return claim(r->claims, j);
	return (r->k + j) % r->nparts == r->part;
}

static int read_at(void *ctx, uint8_t *dst, uint32_t n, uint64_t at)
{
	struct st_reader *r = ctx;
	return pread(r->fd, dst, n, (off_t)(r->cur.b.off + at)) == (ssize_t)n ? 0 : -EIO;
}

/* A version-4 block's chunks, as the decoder asks for them. */
static int fetch(void *ctx, uint64_t colmask)
{
	struct st_reader *r = ctx;
	return seg_blk_fetch(r->blk, colmask, &r->have, read_at, r);
}

/* The same for a block of a mapped (walked) segment: checked in place. */
static int check_mapped(void *ctx, uint64_t colmask)
{
	struct st_reader *r = ctx;
	return seg_blk_check_chunks(r->cur.b.p, colmask, &r->have);
}

/* Next block of this partition from the footer's index into r->blk: 1, 0
 * at its end, -ENOMEM. Only blocks of the partition are read: their CRCs
 * are checked here (version 4: the head's here, each chunk's when it is
 * read), the others are not read at all. */
static int next_indexed(struct st_reader *r)
{
	while (r->ftr_i < r->ftr_n) {
		const uint8_t *e = r->ftr_ent + (size_t)r->ftr_i++ * FTR_ENT_LEN;
		int t = take(r);
		if (t < 0)
			return t;
		if (!t)
			continue;
		/* the index's time bounds skip without touching the block */
		if (le64_ld(e + 16) > r->to || le64_ld(e + 24) < r->from) {
			r->st.blocks_skipped++;
			continue;
		}
		uint64_t off = le64_ld(e);
		uint32_t len = le32_ld(e + 8);
		bool ok = off >= SEG_HDR_LEN && off <= r->ftr_off && len <= r->ftr_off - off &&
			  len >= BLK_DIR_OFF && len <= BLK_MAX_LEN;
		if (ok && len > r->blk_cap) {
			uint8_t *nb = realloc(r->blk, len);
			if (!nb)
				return -ENOMEM;
			r->blk = nb;
			r->blk_cap = len;
		}
		if (ok && r->ver >= 4) {
			/* the head only: a query reads the chunks of its columns */
			uint32_t got = len < BLK_HEAD_MAX ? len : BLK_HEAD_MAX;
			ok = pread(r->fd, r->blk, got, (off_t)off) == (ssize_t)got &&
			     seg_blk_head(r->blk, got, len, off, &r->cur.b) == 1;
			r->have = 0;
			r->cur.b.fetch = fetch;
			r->cur.b.ctx = r;
			r->cur.b.have = &r->have;
		} else {
			ok = ok && pread(r->fd, r->blk, len, (off_t)off) == (ssize_t)len &&
			     seg_blk_check(r->blk, len, off, &r->cur.b) == 1;
		}
		if (!ok) {
			r->st.blocks_corrupt++;
			r->st.bytes_corrupt += len;
			continue;
		}
		/* the buffer now holds another block: decoded chunks are stale */
		blk_dec_cache(r->dec, true);
		return 1;
	}
	return 0;
}

int st_reader_next(struct st_reader *r, const struct st_block **out)
{
	for (;;) {
		if (!r->walking) {
			int rc = open_next(r);
			if (rc <= 0)
				return rc;
		}
		if (r->ftr_ent) {
			int rc = next_indexed(r);
			if (rc < 0)
				return rc;
			if (!rc) {
				unmap(r);
				continue;
			}
		} else {
			if (seg_walk_next(&r->walk, &r->cur.b) != 1) {
				unmap(r);
				continue;
			}
			int t = take(r);
			if (t < 0)
				return t;
			if (!t)
				continue;
			if (r->cur.b.p[30] == BLK_LAYOUT4) {
				r->have = 0;
				r->cur.b.fetch = check_mapped;
				r->cur.b.ctx = r;
				r->cur.b.have = &r->have;
			}
		}
		const struct st_zone *z = &r->cur.b.zone;
		if (z->first_min > r->to || z->last_max < r->from) {
			r->st.blocks_skipped++;
			continue;
		}
		r->st.blocks++;
		*out = &r->cur;
		return 1;
	}
}

uint32_t st_block_rows(const struct st_block *b)
{
	return b->b.nrows;
}

const struct st_zone *st_block_zone(const struct st_block *b)
{
	return &b->b.zone;
}

const char *st_block_segment(const struct st_block *b)
{
	return b->path;
}

int st_reader_decode(struct st_reader *r, const struct st_block *b, uint32_t colmask,
		     struct st_cols *out)
{
	return blk_decode(r->dec, &b->b, colmask, out);
}

int st_reader_decode_codes(struct st_reader *r, const struct st_block *b, uint32_t colmask,
			   uint32_t codemask, struct st_cols *out)
{
	return blk_decode_codes(r->dec, &b->b, colmask, codemask & colmask, out);
}

int st_reader_decode_codes_x(struct st_reader *r, const struct st_block *b, uint32_t colmask,
			     uint32_t codemask, uint32_t xmask, struct st_cols *out)
{
	codemask &= colmask;
	return blk_decode_codes_x(r->dec, &b->b, colmask, codemask, xmask & codemask, out);
}

int st_reader_decode_rows(struct st_reader *r, const struct st_block *b, uint32_t colmask,
			  uint32_t codemask, const uint32_t *sel, uint32_t nsel,
			  struct st_cols *out)
{
	return blk_decode_rows(r->dec, &b->b, colmask, codemask & colmask, sel, nsel, out);
}

void st_reader_stats(const struct st_reader *r, struct st_reader_stats *out)
{
	*out = r->st;
	if (r->map)
		walk_stats(r, out);
}
