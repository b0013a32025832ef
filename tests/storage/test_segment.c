/* test_segment.c — storage library: write/read round trips, crash recovery,
 * corruption handling, marks, retention (suite 'storage'). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "crc32c.h"
#include "dir.h"
#include "mix.h"
#include "seg.h"
#include "store.h"
#include "util.h"

#define T0 1764000000000ull /* 2025-11-24T16:00:00Z, a window boundary */
#define WIN 300000ull

static struct mix mx;

/* Add n mix records at now_ms; copies them into want as well. */
static void feed(struct st_store *s, struct recset *want, uint32_t n, uint64_t now_ms, int rich)
{
	static struct flow_rec batch[1000];
	if (!mx.s)
		mix_init(&mx, 7, T0 - 3600000, rich);
	mx.rich = rich;
	while (n) {
		uint32_t k = n < 1000 ? n : 1000;
		mx.arena_len = 0;
		for (uint32_t i = 0; i < k; i++)
			mix_next(&mx, &batch[i]);
		assert_int_equal(st_store_add(s, batch, k, mx.arena, now_ms), 0);
		if (want)
			for (uint32_t i = 0; i < k; i++)
				recset_add(want, &batch[i], mx.arena);
		n -= k;
	}
}

static void same(const struct recset *a, const struct recset *b)
{
	assert_int_equal(a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		const char *d = rec_diff(&a->r[i], a->arena, &b->r[i], b->arena);
		if (d)
			fail_msg("record %zu differs in %s", i, d);
	}
}

static struct st_store *open_store(const char *dir, enum st_codec codec, uint32_t block_rows,
				   struct st_recovery *rep)
{
	struct st_store_cfg c;
	st_store_cfg_default(&c);
	c.dir = dir;
	c.codec = codec;
	if (block_rows)
		c.block_rows = block_rows;
	struct st_store *s = st_store_open(&c, rep);
	assert_non_null(s);
	return s;
}

static void test_crc32c(void **state)
{
	(void)state;
	assert_int_equal(st_crc32c("123456789", 9), 0xe3069283u);
	assert_int_equal(st_crc32c_update(st_crc32c("1234", 4), "56789", 5), 0xe3069283u);
	uint8_t big[1000];
	for (int i = 0; i < 1000; i++)
		big[i] = (uint8_t)(i * 7);
	assert_int_equal(st_crc32c_update(st_crc32c(big, 333), big + 333, 667), st_crc32c(big, 1000));
	/* long buffers take three interleaved lanes: the same CRC as updates
	 * of pieces too short for them, at every length around the strides */
	static uint8_t huge[100000];
	uint32_t x = 1;
	for (size_t i = 0; i < sizeof(huge); i++) {
		x = x * 1103515245u + 12345u;
		huge[i] = (uint8_t)(x >> 16);
	}
	size_t lens[] = { 12287, 12288, 12289, 24576 + 5, 36864, 99999, 100000 };
	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		uint32_t inc = 0;
		for (size_t off = 0; off < lens[k]; off += 1000)
			inc = st_crc32c_update(inc, huge + off, lens[k] - off < 1000 ? lens[k] - off : 1000);
		assert_int_equal(st_crc32c(huge, lens[k]), inc);
	}
}

static void roundtrip(enum st_codec codec, uint32_t n)
{
	char *dir = tmpdir_make();
	struct recset want = { 0 }, got = { 0 };
	struct st_store *s = open_store(dir, codec, 0, NULL);
	feed(s, &want, n, T0 + 1000, 1);
	assert_int_equal(st_store_commit(s, T0 + 2000), 0);
	/* readable while the segment is open */
	assert_int_equal(recset_read(dir, &got), 0);
	same(&want, &got);
	recset_free(&got);
	/* sealed: footer written, still identical */
	assert_int_equal(st_store_commit(s, T0 + WIN + 1), 0);
	struct st_store_stats st;
	st_store_stats(s, &st);
	assert_int_equal(st.segments_sealed, 1);
	st_store_close(s);
	assert_int_equal(recset_read(dir, &got), 0);
	same(&want, &got);
	recset_free(&got);
	recset_free(&want);
	tmpdir_rm(dir);
}

static void test_roundtrip_lz4(void **state)
{
	(void)state;
	roundtrip(ST_CODEC_LZ4, 150000);
}

static void test_roundtrip_zstd(void **state)
{
	(void)state;
	roundtrip(ST_CODEC_ZSTD, 70000);
}

static void test_roundtrip_none(void **state)
{
	(void)state;
	roundtrip(ST_CODEC_NONE, 5000);
}

static void test_column_subset(void **state)
{
	(void)state;
	char *dir = tmpdir_make();
	struct recset want = { 0 };
	struct st_store *s = open_store(dir, ST_CODEC_LZ4, 0, NULL);
	feed(s, &want, 20000, T0 + 5, 0);
	assert_int_equal(st_store_commit(s, T0 + 10), 0);
	struct st_reader *r = st_reader_open(dir, 0, UINT64_MAX);
	const struct st_block *b;
	assert_int_equal(st_reader_next(r, &b), 1);
	struct st_cols c;
	assert_int_equal(st_reader_decode(r, b, ST_COL_BIT(ST_COL_LAST_MS) | ST_COL_BIT(ST_COL_DST_PORT), &c), 0);
	assert_int_equal(c.n, 20000);
	assert_null(c.col[ST_COL_SRC_ADDR]);
	const uint64_t *last = c.col[ST_COL_LAST_MS];
	const uint16_t *dp = c.col[ST_COL_DST_PORT];
	for (uint32_t i = 0; i < c.n; i++) {
		assert_int_equal(last[i], want.r[i].last_ms);
		assert_int_equal(dp[i], want.r[i].dst_port);
	}
	/* the zone map bounds every row */
	const struct st_zone *z = st_block_zone(b);
	for (uint32_t i = 0; i < c.n; i++) {
		assert_true(want.r[i].first_ms >= z->first_min && want.r[i].first_ms <= z->first_max);
		assert_true(want.r[i].dst_port >= z->dst_port_min && want.r[i].dst_port <= z->dst_port_max);
		assert_true(memcmp(want.r[i].src_addr, z->src_min, 16) >= 0);
		assert_true(memcmp(want.r[i].src_addr, z->src_max, 16) <= 0);
	}
	assert_int_equal(st_reader_next(r, &b), 0);
	st_reader_close(r);
	/* a range before every record selects nothing */
	r = st_reader_open(dir, 0, 1000);
	assert_int_equal(st_reader_next(r, &b), 0);
	st_reader_close(r);
	st_store_close(s);
	recset_free(&want);
	tmpdir_rm(dir);
}

static char *only_segment(const char *dir)
{
	struct seg_file *f;
	size_t n;
	assert_int_equal(seg_list(dir, &f, &n), 0);
	assert_int_equal(n, 1);
	char *p = strdup(f[0].path);
	seg_list_free(f, n);
	return p;
}

static void test_uncommitted_dropped(void **state)
{
	(void)state;
	char *dir = tmpdir_make();
	struct recset want = { 0 }, got = { 0 };
	struct st_store *s = open_store(dir, ST_CODEC_LZ4, 1000, NULL);
	feed(s, &want, 2500, T0 + 1, 0);
	assert_int_equal(st_store_commit(s, T0 + 2), 0); /* 3 blocks committed */
	feed(s, NULL, 2500, T0 + 3, 0);                  /* 2 full blocks written, no commit */
	st_store_close(s);                               /* = crash */
	struct st_recovery rep;
	s = open_store(dir, ST_CODEC_LZ4, 1000, &rep);
	assert_int_equal(rep.blocks_kept, 3);
	assert_int_equal(rep.blocks_dropped, 2);
	assert_int_equal(rep.rows_dropped, 2000);
	assert_int_equal(rep.segments_sealed, 1);
	assert_int_equal(recset_read(dir, &got), 0);
	same(&want, &got);
	recset_free(&got);
	/* the store goes on in a new part of the same window */
	feed(s, &want, 10, T0 + 4, 0);
	assert_int_equal(st_store_commit(s, T0 + 5), 0);
	st_store_close(s);
	assert_int_equal(recset_read(dir, &got), 0);
	same(&want, &got);
	recset_free(&got);
	recset_free(&want);
	tmpdir_rm(dir);
}

static void test_torn_tail(void **state)
{
	(void)state;
	char *dir = tmpdir_make();
	struct recset want = { 0 }, got = { 0 };
	struct st_store *s = open_store(dir, ST_CODEC_LZ4, 1000, NULL);
	feed(s, &want, 3000, T0 + 1, 0);
	assert_int_equal(st_store_commit(s, T0 + 2), 0);
	st_store_close(s);
	char *path = only_segment(dir);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	/* cut the last block in half: a torn write */
	int fd = open(path, O_RDWR);
	assert_int_equal(ftruncate(fd, st.st_size - 300), 0);
	close(fd);
	struct st_reader *r = st_reader_open(dir, 0, UINT64_MAX);
	const struct st_block *b;
	int nb = 0;
	while (st_reader_next(r, &b) == 1)
		nb++;
	assert_int_equal(nb, 2);
	struct st_reader_stats rs;
	st_reader_stats(r, &rs);
	assert_true(rs.tail_bytes > 0);
	assert_int_equal(rs.blocks_corrupt, 0);
	st_reader_close(r);
	struct st_recovery rep;
	s = open_store(dir, ST_CODEC_LZ4, 1000, &rep);
	assert_int_equal(rep.blocks_kept, 2);
	assert_true(rep.bytes_truncated > 0);
	st_store_close(s);
	assert_int_equal(recset_read(dir, &got), 0);
	want.n = 2000;
	same(&want, &got);
	recset_free(&got);
	recset_free(&want);
	free(path);
	tmpdir_rm(dir);
}

static void test_flip_middle(void **state)
{
	(void)state;
	char *dir = tmpdir_make();
	struct recset want = { 0 }, got = { 0 };
	struct st_store *s = open_store(dir, ST_CODEC_LZ4, 1000, NULL);
	feed(s, &want, 3000, T0 + 1, 0);
	assert_int_equal(st_store_commit(s, T0 + WIN + 1), 0); /* committed and sealed */
	st_store_close(s);
	char *path = only_segment(dir);
	/* find the second block and flip one payload byte in it */
	int fd = open(path, O_RDWR);
	uint8_t h[16];
	assert_int_equal(pread(fd, h, 16, SEG_HDR_LEN), 16);
	uint64_t b2 = SEG_HDR_LEN + le32_ld(h + 8);
	uint8_t c;
	assert_int_equal(pread(fd, &c, 1, (off_t)b2 + 700), 1);
	c ^= 0x10;
	assert_int_equal(pwrite(fd, &c, 1, (off_t)b2 + 700), 1);
	close(fd);
	assert_int_equal(recset_read(dir, &got), 1);
	assert_int_equal(got.n, 2000);
	for (size_t i = 0; i < 1000; i++) {
		assert_null(rec_diff(&want.r[i], want.arena, &got.r[i], got.arena));
		assert_null(rec_diff(&want.r[2000 + i], want.arena, &got.r[1000 + i], got.arena));
	}
	recset_free(&got);
	/* flipping the length field of block 2 must not derail the walk */
	fd = open(path, O_RDWR);
	uint8_t l[4] = { 0xff, 0xff, 0x00, 0x00 };
	assert_int_equal(pwrite(fd, l, 4, (off_t)b2 + 8), 4);
	close(fd);
	assert_int_equal(recset_read(dir, &got), 1);
	assert_int_equal(got.n, 2000);
	recset_free(&got);
	recset_free(&want);
	free(path);
	tmpdir_rm(dir);
}

/* Identity of a block as a reader returns it. */
struct blk_id {
	char path[256];
	uint64_t first_min, last_max, sum_last;
	uint32_t rows;
};

static int blk_id_cmp(const void *a, const void *b)
{
	const struct blk_id *x = a, *y = b;
	int c = strcmp(x->path, y->path);
	if (c)
		return c;
	if (x->first_min != y->first_min)
		return x->first_min < y->first_min ? -1 : 1;
	if (x->sum_last != y->sum_last)
		return x->sum_last < y->sum_last ? -1 : 1;
	return 0;
}

/* One block as blk_id: what the readers return. */
static void blk_ident(struct st_reader *r, const struct st_block *b, struct blk_id *id)
{
	struct st_cols c;
	assert_int_equal(st_reader_decode(r, b, ST_COL_BIT(ST_COL_LAST_MS), &c), 0);
	memset(id, 0, sizeof(*id));
	snprintf(id->path, sizeof(id->path), "%s", st_block_segment(b));
	id->first_min = st_block_zone(b)->first_min;
	id->last_max = st_block_zone(b)->last_max;
	id->rows = c.n;
	for (uint32_t i = 0; i < c.n; i++)
		id->sum_last += ((const uint64_t *)c.col[ST_COL_LAST_MS])[i];
}

/* Blocks of partition part/np: appended to ids; returns corrupt blocks. */
static uint64_t read_part(const char *dir, unsigned part, unsigned np, struct blk_id *ids,
			  size_t *nids)
{
	struct st_reader *r = st_reader_open_part(dir, 0, UINT64_MAX, part, np);
	assert_non_null(r);
	const struct st_block *b;
	while (st_reader_next(r, &b) == 1)
		blk_ident(r, b, &ids[(*nids)++]);
	struct st_reader_stats rs;
	st_reader_stats(r, &rs);
	st_reader_close(r);
	return rs.blocks_corrupt;
}

/* got[0..n) (any order; sorted here) are exactly the blocks all[0..nall)
 * (sorted). */
static void same_blocks(const struct blk_id *all, size_t nall, struct blk_id *got, size_t n)
{
	assert_int_equal(n, nall);
	qsort(got, n, sizeof(*got), blk_id_cmp);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(blk_id_cmp(&all[i], &got[i]), 0);
}

/* A store of 15 blocks of 500 rows: a sealed segment of ten, an open one
 * of five (the store stays open: the caller closes it). */
static struct st_store *two_segments(const char *dir)
{
	struct st_store *s = open_store(dir, ST_CODEC_LZ4, 500, NULL);
	feed(s, NULL, 5000, T0 + 1, 0);
	assert_int_equal(st_store_commit(s, T0 + WIN + 1), 0); /* first window sealed */
	feed(s, NULL, 2500, T0 + WIN + 2, 0);
	assert_int_equal(st_store_commit(s, T0 + WIN + 3), 0); /* second still open */
	return s;
}

/* Flip one bit inside the second block of the store's first (sealed)
 * segment. */
static void damage_second_block(const char *dir)
{
	struct seg_file *f;
	size_t nf;
	assert_int_equal(seg_list(dir, &f, &nf), 0);
	assert_int_equal(nf, 2);
	int fd = open(f[0].path, O_RDWR);
	uint8_t h[16], c;
	assert_int_equal(pread(fd, h, 16, SEG_HDR_LEN), 16);
	uint64_t b2 = SEG_HDR_LEN + le32_ld(h + 8);
	assert_int_equal(pread(fd, &c, 1, (off_t)b2 + 300), 1);
	c ^= 0x01;
	assert_int_equal(pwrite(fd, &c, 1, (off_t)b2 + 300), 1);
	close(fd);
	seg_list_free(f, nf);
}

/* Partitioned readers: together they return every block exactly once
 * (sealed segments through the footer index, open ones by walking), and
 * a corrupt block is counted once, by its owner. */
static void test_partitions(void **state)
{
	(void)state;
	char *dir = tmpdir_make();
	struct st_store *s = two_segments(dir);
	static struct blk_id all[64], parts[64];
	size_t nall = 0;
	assert_int_equal(read_part(dir, 0, 1, all, &nall), 0);
	assert_int_equal(nall, 15);
	qsort(all, nall, sizeof(*all), blk_id_cmp);
	for (unsigned np = 2; np <= 4; np++) {
		size_t n = 0;
		for (unsigned p = 0; p < np; p++) {
			size_t before = n;
			assert_int_equal(read_part(dir, p, np, parts, &n), 0);
			assert_true(n - before <= 15 / np + 2); /* spread, not all on one */
		}
		same_blocks(all, nall, parts, n);
	}
	st_store_close(s);
	/* damage one block of the sealed segment: every partition still reads,
	 * and the damage is counted exactly once over the partitions */
	damage_second_block(dir);
	for (unsigned np = 1; np <= 3; np++) {
		size_t n = 0;
		uint64_t bad = 0;
		for (unsigned p = 0; p < np; p++)
			bad += read_part(dir, p, np, parts, &n);
		assert_int_equal(bad, 1);
		assert_int_equal(n, nall - 1);
	}
	assert_null(st_reader_open_part(dir, 0, UINT64_MAX, 2, 2));
	tmpdir_rm(dir);
}

/* nr readers on one share, stepped in turn: reader i moves on only when
 * (step % nr) == i or, with greedy, reader 0 first drains the store.
 * Blocks appended to ids; returns corrupt blocks over all readers. */
static uint64_t read_shared(const char *dir, unsigned nr, bool greedy, struct blk_id *ids,
			    size_t *nids, size_t *per)
{
	struct st_share *sh = st_share_new();
	assert_non_null(sh);
	struct st_reader *r[4];
	bool done[4] = { false };
	for (unsigned i = 0; i < nr; i++) {
		assert_non_null(r[i] = st_reader_open_shared(dir, 0, UINT64_MAX, i, sh));
		per[i] = 0;
	}
	for (unsigned left = nr, step = 0; left; step++) {
		unsigned i = greedy && !done[0] ? 0 : step % nr;
		const struct st_block *b;
		if (done[i])
			continue;
		int rc = st_reader_next(r[i], &b);
		assert_true(rc >= 0);
		if (!rc) {
			done[i] = true;
			left--;
			continue;
		}
		blk_ident(r[i], b, &ids[(*nids)++]);
		per[i]++;
	}
	uint64_t bad = 0;
	for (unsigned i = 0; i < nr; i++) {
		struct st_reader_stats rs;
		st_reader_stats(r[i], &rs);
		bad += rs.blocks_corrupt;
		st_reader_close(r[i]);
	}
	st_share_free(sh);
	return bad;
}

struct shared_arg {
	const char *dir;
	struct st_share *sh;
	unsigned id;
	struct blk_id ids[64];
	size_t n;
};

static void *shared_thread(void *p)
{
	struct shared_arg *a = p;
	struct st_reader *r = st_reader_open_shared(a->dir, 0, UINT64_MAX, a->id, a->sh);
	const struct st_block *b;
	while (r && st_reader_next(r, &b) == 1)
		blk_ident(r, b, &a->ids[a->n++]);
	st_reader_close(r);
	return NULL;
}

/* Readers on one share: together they return every block exactly once,
 * however they interleave (in turn, one draining first, threads), sealed
 * segments through the index and the open one by walking; a reader that
 * runs ahead takes more; a corrupt block is counted once. */
static void test_shared(void **state)
{
	(void)state;
	char *dir = tmpdir_make();
	struct st_store *s = two_segments(dir);
	static struct blk_id all[64], got[64];
	size_t nall = 0, per[4];
	assert_int_equal(read_part(dir, 0, 1, all, &nall), 0);
	assert_int_equal(nall, 15);
	qsort(all, nall, sizeof(*all), blk_id_cmp);
	for (unsigned nr = 1; nr <= 4; nr++)
		for (int greedy = 0; greedy < 2; greedy++) {
			size_t n = 0;
			assert_int_equal(read_shared(dir, nr, greedy, got, &n, per), 0);
			same_blocks(all, nall, got, n);
			/* in turn: spread; the one that drains first: all of them */
			for (unsigned i = 0; i < nr; i++)
				assert_true(greedy ? per[i] == (i ? 0 : nall) : per[i] <= nall / nr + 2);
		}
	/* threads */
	for (int round = 0; round < 20; round++) {
		struct st_share *sh = st_share_new();
		static struct shared_arg a[3];
		pthread_t t[3];
		for (unsigned i = 0; i < 3; i++) {
			a[i] = (struct shared_arg){ .dir = dir, .sh = sh, .id = i };
			assert_int_equal(pthread_create(&t[i], NULL, shared_thread, &a[i]), 0);
		}
		size_t n = 0;
		for (unsigned i = 0; i < 3; i++) {
			pthread_join(t[i], NULL);
			memcpy(got + n, a[i].ids, a[i].n * sizeof(*got));
			n += a[i].n;
		}
		st_share_free(sh);
		same_blocks(all, nall, got, n);
	}
	st_store_close(s);
	/* one damaged block of the sealed segment: counted once, the rest read */
	damage_second_block(dir);
	for (unsigned nr = 1; nr <= 3; nr++) {
		size_t n = 0;
		assert_int_equal(read_shared(dir, nr, false, got, &n, per), 1);
		assert_int_equal(n, nall - 1);
	}
	assert_null(st_reader_open_shared(dir, 0, UINT64_MAX, 0, NULL));
	tmpdir_rm(dir);
}

/* Codes (dictionary columns) and selected rows decode to the same values
 * as a whole decode. */
static void test_codes_and_rows(void **state)
{
	(void)state;
	char *dir = tmpdir_make();
	struct st_store *s = open_store(dir, ST_CODEC_LZ4, 4000, NULL);
	feed(s, NULL, 12000, T0 + 1, 1);
	assert_int_equal(st_store_commit(s, T0 + WIN + 1), 0);
	st_store_close(s);
	struct st_reader *r = st_reader_open(dir, 0, UINT64_MAX);
	const struct st_block *b;
	static struct flow_rec full[ST_BLOCK_ROWS_MAX], part[ST_BLOCK_ROWS_MAX];
	static char arena[1 << 22], arena2[1 << 22];
	static uint32_t sel[ST_BLOCK_ROWS_MAX];
	unsigned blocks = 0, coded = 0;
	while (st_reader_next(r, &b) == 1) {
		blocks++;
		struct st_cols c, k;
		size_t al;
		assert_int_equal(st_reader_decode(r, b, ST_COLS_ALL, &c), 0);
		uint32_t n = c.n;
		assert_int_equal(st_cols_to_recs(&c, full, arena, sizeof(arena), &al), 0);
		/* the whole decode's values (the next decode reuses its buffers) */
		static uint8_t vals[ST_COL_APP][ST_BLOCK_ROWS_MAX * 16];
		for (unsigned col = 0; col < ST_COL_APP; col++)
			memcpy(vals[col], c.col[col], (size_t)n * st_col_size((enum st_col)col));
		/* every fixed column asked for as codes */
		uint32_t fixed = 0;
		for (unsigned col = 0; col < ST_COL_MAX; col++)
			if (col < ST_COL_APP)
				fixed |= ST_COL_BIT(col);
		assert_int_equal(st_reader_decode_codes(r, b, fixed, fixed, &k), 0);
		for (unsigned col = 0; col < ST_COL_APP; col++) {
			unsigned w = st_col_size((enum st_col)col);
			if (!k.code[col]) {
				assert_non_null(k.col[col]);
				continue;
			}
			coded++;
			assert_null(k.col[col]);
			for (uint32_t i = 0; i < n; i++) {
				assert_true(k.code[col][i] < k.ndict[col]);
				const uint8_t *v = (const uint8_t *)k.dict[col] + (size_t)k.code[col][i] * w;
				/* the whole decode's value of the row */
				assert_memory_equal(v, vals[col] + (size_t)i * w, w);
			}
		}
		/* selected rows: every 7th and the last */
		uint32_t ns = 0;
		for (uint32_t i = 3; i < n; i += 7)
			sel[ns++] = i;
		if (sel[ns - 1] != n - 1)
			sel[ns++] = n - 1;
		assert_int_equal(st_reader_decode_rows(r, b, ST_COLS_ALL, 0, sel, ns, &c), 0);
		assert_int_equal(c.n, ns);
		assert_int_equal(st_cols_to_recs(&c, part, arena2, sizeof(arena2), &al), 0);
		for (uint32_t j = 0; j < ns; j++) {
			const char *d = rec_diff(&full[sel[j]], arena, &part[j], arena2);
			if (d)
				fail_msg("block %u row %u differs in %s", blocks, sel[j], d);
		}
		/* the same rows with dictionary columns as codes */
		assert_int_equal(st_reader_decode_rows(r, b, fixed, fixed, sel, ns, &k), 0);
		assert_int_equal(k.n, ns);
		for (unsigned col = 0; col < ST_COL_APP; col++) {
			unsigned w = st_col_size((enum st_col)col);
			for (uint32_t j = 0; j < ns; j++) {
				const uint8_t *v = k.code[col]
					? (const uint8_t *)k.dict[col] + (size_t)k.code[col][j] * w
					: (const uint8_t *)k.col[col] + (size_t)j * w;
				assert_memory_equal(v, vals[col] + (size_t)sel[j] * w, w);
			}
		}
		/* a selection out of order or out of range is refused */
		uint32_t badsel[2] = { 5, 5 };
		assert_int_equal(st_reader_decode_rows(r, b, ST_COLS_ALL, 0, badsel, 2, &c), -EINVAL);
		badsel[0] = n;
		assert_int_equal(st_reader_decode_rows(r, b, ST_COLS_ALL, 0, badsel, 1, &c), -EINVAL);
	}
	assert_int_equal(blocks, 3);
	assert_true(coded > 0); /* the mix has dictionary columns */
	st_reader_close(r);
	tmpdir_rm(dir);
}

static void test_marks(void **state)
{
	(void)state;
	char *dir = tmpdir_make();
	struct st_store *s = open_store(dir, ST_CODEC_LZ4, 0, NULL);
	struct st_mark m[2] = { { 11, 100 }, { 22, 200 } };
	assert_int_equal(st_store_set_marks(s, m, 2), 0);
	feed(s, NULL, 10, T0, 0);
	assert_int_equal(st_store_commit(s, T0 + 1), 0);
	struct st_mark m2 = { 11, 150 };
	st_store_set_marks(s, &m2, 1); /* never committed */
	assert_int_equal(st_store_get_mark(s, 11), 150);
	st_store_close(s);
	struct st_recovery rep;
	s = open_store(dir, ST_CODEC_LZ4, 0, &rep);
	assert_int_equal(rep.marks, 2);
	assert_int_equal(st_store_get_mark(s, 11), 100);
	assert_int_equal(st_store_get_mark(s, 22), 200);
	assert_int_equal(st_store_get_mark(s, 33), 0);
	/* many commits: the log is compacted and stays correct */
	for (int i = 0; i < 300; i++) {
		struct st_mark x = { 22, 300 + (uint64_t)i };
		st_store_set_marks(s, &x, 1);
		assert_int_equal(st_store_commit(s, T0 + 2), 0);
	}
	st_store_close(s);
	s = open_store(dir, ST_CODEC_LZ4, 0, &rep);
	assert_int_equal(st_store_get_mark(s, 22), 599);
	st_store_close(s);
	tmpdir_rm(dir);
}

static void test_retention(void **state)
{
	(void)state;
	char *dir = tmpdir_make();
	struct st_store *s = open_store(dir, ST_CODEC_LZ4, 0, NULL);
	/* 6 windows over 3 days */
	for (int i = 0; i < 6; i++) {
		uint64_t t = T0 + (uint64_t)i * 12 * 3600000;
		feed(s, NULL, 2000, t, 0);
		assert_int_equal(st_store_commit(s, t + WIN), 0);
	}
	st_store_close(s);
	uint64_t now = T0 + 6ull * 12 * 3600000;
	struct st_retention_stats rs;
	/* age 40 h: windows 0, 12 and 24 h end more than 40 h before now (72 h) */
	assert_int_equal(st_retention_run(dir, now, 40ull * 3600000, 0, &rs), 0);
	assert_int_equal(rs.segments_deleted, 3);
	struct seg_file *f;
	size_t n;
	assert_int_equal(seg_list(dir, &f, &n), 0);
	assert_int_equal(n, 3);
	uint64_t one = f[0].size;
	assert_int_equal(f[0].win_start_ms, T0 + 3ull * 12 * 3600000);
	seg_list_free(f, n);
	/* quota: room for two segments */
	assert_int_equal(st_retention_run(dir, now, 0, one * 2 + one / 2, &rs), 0);
	assert_int_equal(rs.segments_deleted, 1);
	assert_int_equal(seg_list(dir, &f, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(f[0].win_start_ms, T0 + 4ull * 12 * 3600000);
	seg_list_free(f, n);
	/* a window that has not ended is never deleted */
	assert_int_equal(st_retention_run(dir, T0 + 5ull * 12 * 3600000 + 1, 1, 1, &rs), 0);
	assert_int_equal(rs.segments_deleted, 1);
	assert_int_equal(seg_list(dir, &f, &n), 0);
	assert_int_equal(n, 1);
	seg_list_free(f, n);
	tmpdir_rm(dir);
}

/* Format version 2 encodings on a block shaped like real traffic: heavy-
 * tailed addresses (DICT_HOT), AS and mask as functions of the address
 * (DEP), half service / half ephemeral ports (PDICT; three service ports
 * alone: DICT), bytes tied to packets (PERPKT), ends jittered below the
 * export time (MAXDELTA). Every column must come
 * back, alone or together. */

/* Decode a whole block (every column) and compare each row with the
 * record it was made from. */
static void decode_compare(struct blk_dec *d, const struct seg_blk *b, const struct flow_rec *in,
			   struct flow_rec *out, uint32_t n, char *arena, size_t cap, int codec)
{
	struct st_cols c;
	size_t al;
	assert_int_equal(blk_decode(d, b, ST_COLS_ALL, &c), 0);
	assert_int_equal(st_cols_to_recs(&c, out, arena, cap, &al), 0);
	for (uint32_t i = 0; i < n; i++) {
		const char *why = rec_diff(&in[i], arena, &out[i], arena);
		if (why)
			fail_msg("codec %d row %u differs in %s", codec, i, why);
	}
}
static void test_v2_encodings(void **state)
{
	(void)state;
	enum { N = 65536 };
	static struct flow_rec in[N], out[N];
	static char arena[1 << 16];
	uint64_t x = 12345;
	for (uint32_t i = 0; i < N; i++) {
		struct flow_rec *r = &in[i];
		memset(r, 0, sizeof(*r));
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		uint32_t h = (uint32_t)(x >> 33);
		/* rank ~ 2^(random bits): a few addresses carry most rows */
		uint32_t k = (h & 0xfff) >> (h >> 28), srv = (h >> 12) & 0x3fff;
		mix_v4(r->src_addr, 0x0a010000u | k);
		mix_v4(r->dst_addr, 0x17000000u | (srv * 2654435761u >> 8));
		r->src_as = 64512 + k % 7;
		r->dst_as = 15169 + srv % 13;
		r->src_mask = 24;
		r->dst_mask = (uint8_t)(16 + srv % 9);
		r->src_port = (h & 4) ? (uint16_t)(32768 + (x >> 17) % 28000) : (h & 8) ? 443 : 22;
		r->dst_port = (h & 1) ? 443 : (h & 2) ? 80 : 53;
		r->packets = 1 + (x >> 40) % 200;
		r->bytes = r->packets * (52 + (x >> 20) % 1400) + (x >> 8) % r->packets;
		r->last_ms = T0 + i * 3 - (x >> 30) % 5000;
		r->first_ms = r->last_ms - (x >> 45) % 60000;
		r->proto = 6;
		mix_v4(r->exporter, 0xc0000201u);
		mix_v4(r->next_hop, 0xc6336401u + srv % 2);
		/* of the source too (16 and 8 bits wide), and one that is but
		 * for its last row, in the last chunk ENC_DEP checks */
		r->vlan = (uint16_t)(100 + k % 3);
		r->direction = (uint8_t)(k & 1);
		r->in_if = 10 + k % 5 + (i == N - 1 && k % 5 ? 1 : 0);
	}
	struct colbuf cb;
	assert_int_equal(colbuf_init(&cb, N), 0);
	for (uint32_t i = 0; i < N; i++)
		colbuf_put(&cb, &in[i]);
	struct blk_src src;
	colbuf_src(&cb, N, arena, &src);
	for (int codec = ST_CODEC_NONE; codec <= ST_CODEC_ZSTD; codec++) {
		struct blk_enc *e = blk_enc_new((enum st_codec)codec, 0);
		assert_non_null(e);
		const uint8_t *o;
		uint32_t len, raw;
		assert_int_equal(blk_encode(e, &src, 1, &o, &len, &raw), 0);
		const uint8_t *dir = o + BLK_DIR_OFF;
		assert_int_equal(dir[ST_COL_SRC_ADDR * BLK_DIR_ENT4 + 1], ENC_DICT_HOT);
		assert_int_equal(dir[ST_COL_SRC_AS * BLK_DIR_ENT4 + 1], ENC_DEP);
		assert_int_equal(dir[ST_COL_DST_MASK * BLK_DIR_ENT4 + 1], ENC_DEP);
		assert_int_equal(dir[ST_COL_VLAN * BLK_DIR_ENT4 + 1], ENC_DEP);
		assert_int_equal(dir[ST_COL_DIRECTION * BLK_DIR_ENT4 + 1], ENC_DEP);
		assert_int_not_equal(dir[ST_COL_IN_IF * BLK_DIR_ENT4 + 1], ENC_DEP);
		assert_int_equal(dir[ST_COL_SRC_PORT * BLK_DIR_ENT4 + 1], ENC_PDICT);
		assert_int_equal(dir[ST_COL_DST_PORT * BLK_DIR_ENT4 + 1], ENC_DICT);
		assert_int_equal(dir[ST_COL_BYTES * BLK_DIR_ENT4 + 1], ENC_PERPKT);
		assert_int_equal(dir[ST_COL_LAST_MS * BLK_DIR_ENT4 + 1], ENC_MAXDELTA);
		struct seg_blk b = { .p = o, .len = len, .nrows = N };
		struct blk_dec *d = blk_dec_new();
		struct st_cols c;
		decode_compare(d, &b, in, out, N, arena, sizeof(arena), codec);
		/* derived columns alone pull in what they need */
		assert_int_equal(blk_decode(d, &b, ST_COL_BIT(ST_COL_BYTES), &c), 0);
		for (uint32_t i = 0; i < N; i++)
			assert_true(((const uint64_t *)c.col[ST_COL_BYTES])[i] == in[i].bytes);
		assert_int_equal(blk_decode(d, &b, ST_COL_BIT(ST_COL_DST_AS), &c), 0);
		for (uint32_t i = 0; i < N; i++)
			assert_int_equal(((const uint32_t *)c.col[ST_COL_DST_AS])[i], in[i].dst_as);
		blk_dec_free(d);
		blk_enc_free(e);
	}
	colbuf_free(&cb);
}

/* ---- version 3: DICT_MIX and the SIMD index unpacking ---- */

/* n values < 2^b packed LSB-first at b bits, one bit at a time: the
 * reference the decoder's kernels are held to. */
static void pack_ref(const uint16_t *v, uint32_t n, unsigned b, uint8_t *out)
{
	memset(out, 0, ((size_t)n * b + 7) / 8);
	for (uint32_t i = 0; i < n; i++)
		for (unsigned k = 0; k < b; k++)
			if (v[i] >> k & 1)
				out[((size_t)i * b + k) >> 3] |= (uint8_t)(1u << (((size_t)i * b + k) & 7));
}

/* Both unpacking kernels against the reference for every width, counts
 * around the 16-value rounds and buffers allocated to the exact packed
 * length, so that a read past the end is an ASan report. */
static void test_unpack16(void **state)
{
	(void)state;
	static const uint32_t ns[] = { 1, 2, 3, 7, 8, 15, 16, 17, 31, 32, 33, 47, 48, 49, 63, 64, 65,
				       100, 255, 1000, 4097, 65535, 65536 };
	static uint16_t v[65536];
	uint64_t x = 99;
	bool simd = true;
	for (unsigned b = 1; b <= 16; b++) {
		for (size_t t = 0; t < sizeof(ns) / sizeof(ns[0]); t++) {
			uint32_t n = ns[t], want_max = 0;
			for (uint32_t i = 0; i < n; i++) {
				x = x * 6364136223846793005ull + 1442695040888963407ull;
				/* all ones now and then: the top bits of each lane */
				v[i] = (uint16_t)((t & 1 ? ~0ull : x >> 40) & ((1u << b) - 1));
				want_max = v[i] > want_max ? v[i] : want_max;
			}
			size_t len = ((size_t)n * b + 7) / 8;
			uint8_t *p = malloc(len);
			assert_non_null(p);
			pack_ref(v, n, b, p);
			for (unsigned impl = 0; impl < 2; impl++) {
				uint16_t *o = malloc((size_t)n * 2); /* exact: an overrun is an ASan report */
				uint32_t mx = 0;
				int rc = seg_unpack16_impl(impl, p, len, n, b, o, &mx);
				if (impl == 1 && rc == -ENOTSUP) {
					simd = false;
					free(o);
					continue;
				}
				assert_int_equal(rc, 0);
				if (memcmp(o, v, (size_t)n * 2))
					fail_msg("impl %u b %u n %u differs", impl, b, n);
				assert_int_equal(mx, want_max);
				free(o);
			}
			free(p);
		}
	}
	if (!simd)
		print_message("unpack16: no SIMD kernel on this CPU, scalar only\n");
	uint16_t o[4];
	uint32_t mx;
	uint8_t p[8] = { 0 };
	assert_int_equal(seg_unpack16_impl(0, p, 1, 4, 3, o, &mx), -EINVAL); /* wrong length */
	assert_int_equal(seg_unpack16_impl(0, p, 8, 4, 17, o, &mx), -EINVAL);
}

/* ---- version 4: per-chunk CRCs, blocks read in part ---- */

/* file bytes of path */
static uint8_t *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	struct stat sb;
	assert_int_equal(fstat(fd, &sb), 0);
	uint8_t *p = malloc((size_t)sb.st_size + 1);
	assert_non_null(p);
	assert_int_equal(pread(fd, p, (size_t)sb.st_size, 0), sb.st_size);
	close(fd);
	*len = (size_t)sb.st_size;
	return p;
}

/* Where column col's chunk of the version-4 block at p lies. */
static size_t chunk_at(const uint8_t *p, unsigned col, uint32_t *stored)
{
	unsigned ncols = p[28];
	size_t o = BLK_DIR_OFF + (size_t)ncols * BLK_DIR_ENT4;
	for (unsigned k = 0; k < ncols; k++) {
		const uint8_t *de = p + BLK_DIR_OFF + (size_t)k * BLK_DIR_ENT4;
		if (de[0] == col) {
			*stored = le32_ld(de + 8);
			return o;
		}
		o += le32_ld(de + 8);
	}
	fail_msg("no column %u", col);
	*stored = 0;
	return 0;
}

static void scan_cb(void *ctx, const struct st_seg_report *x)
{
	*(uint64_t *)ctx += x->blocks_bad;
}

/* A sealed segment's blocks are read in part: a query reads the head of
 * each, then the chunks of its columns, each checked on its own; an open
 * one is walked by its blocks' heads and a chunk checked when decoded. A
 * bad chunk fails only the columns that need it (the block counts as
 * corrupt for those queries), verify finds it, and a bad head fails the
 * block. */
static void chunk_crcs(bool sealed)
{
	char *dir = tmpdir_make();
	struct recset want = { 0 };
	struct st_store *s = open_store(dir, ST_CODEC_LZ4, 1000, NULL);
	feed(s, &want, 3000, T0 + 1, 0);
	assert_int_equal(st_store_commit(s, sealed ? T0 + WIN + 1 : T0 + 2), 0);
	st_store_close(s);
	char *path = only_segment(dir);
	size_t flen;
	uint8_t *f = slurp(path, &flen);
	assert_int_equal(le16_ld(f + 8), 4);
	uint64_t b2 = SEG_HDR_LEN + le32_ld(f + SEG_HDR_LEN + 8);
	assert_int_equal(f[b2 + 30], BLK_LAYOUT4);
	uint32_t stored = 0;
	size_t at = chunk_at(f + b2, ST_COL_SRC_PORT, &stored);
	assert_true(stored > 8);
	int fd = open(path, O_RDWR);
	uint8_t c = f[b2 + at + stored / 2] ^ 0x20;
	assert_int_equal(pwrite(fd, &c, 1, (off_t)(b2 + at + stored / 2)), 1);
	close(fd);

	/* the columns beside it: every block, every row */
	struct st_reader *r = st_reader_open(dir, 0, UINT64_MAX);
	const struct st_block *b;
	uint32_t rows = 0, nb = 0, bad = 0;
	uint32_t cm = ST_COL_BIT(ST_COL_SRC_ADDR) | ST_COL_BIT(ST_COL_FIRST_MS) | ST_COL_BIT(ST_COL_BYTES);
	while (st_reader_next(r, &b) == 1) {
		struct st_cols cc;
		assert_int_equal(st_reader_decode(r, b, cm, &cc), 0);
		for (uint32_t i = 0; i < cc.n; i++) {
			assert_memory_equal((const uint8_t *)cc.col[ST_COL_SRC_ADDR] + 16 * i,
					    want.r[rows + i].src_addr, 16);
			assert_true(((const uint64_t *)cc.col[ST_COL_FIRST_MS])[i] == want.r[rows + i].first_ms);
			assert_true(((const uint64_t *)cc.col[ST_COL_BYTES])[i] == want.r[rows + i].bytes);
		}
		/* the bad chunk's column: that block only */
		int rc = st_reader_decode(r, b, ST_COL_BIT(ST_COL_SRC_PORT), &cc);
		if (nb == 1) {
			assert_int_equal(rc, -EBADMSG);
			bad++;
		} else {
			assert_int_equal(rc, 0);
			for (uint32_t i = 0; i < cc.n; i++)
				assert_int_equal(((const uint16_t *)cc.col[ST_COL_SRC_PORT])[i],
						 want.r[rows + i].src_port);
		}
		/* and still the good ones after it */
		assert_int_equal(st_reader_decode_codes(r, b, ST_COL_BIT(ST_COL_DST_ADDR), 0, &cc), 0);
		rows += cc.n;
		nb++;
	}
	assert_int_equal(nb, 3);
	assert_int_equal(rows, 3000);
	assert_int_equal(bad, 1);
	st_reader_close(r);

	/* verify reads every chunk: it finds the block */
	uint64_t bb = 0;
	assert_int_equal(st_store_scan(dir, true, scan_cb, &bb), 0);
	assert_int_equal(bb, 1);

	/* a bad head: the block is skipped and counted when it is read */
	fd = open(path, O_RDWR);
	c = f[b2 + 40] ^ 0x01; /* zone map */
	assert_int_equal(pwrite(fd, &c, 1, (off_t)(b2 + 40)), 1);
	close(fd);
	r = st_reader_open(dir, 0, UINT64_MAX);
	nb = 0;
	while (st_reader_next(r, &b) == 1)
		nb++;
	struct st_reader_stats rs;
	st_reader_stats(r, &rs);
	assert_int_equal(nb, 2);
	assert_int_equal(rs.blocks_corrupt, 1);
	st_reader_close(r);
	free(f);
	free(path);
	recset_free(&want);
	tmpdir_rm(dir);
}

static void test_chunk_crcs(void **state)
{
	(void)state;
	chunk_crcs(true);
	chunk_crcs(false); /* open: walked by the blocks' heads */
}

/* what mem_read reads from, and how it was asked */
static struct {
	const uint8_t *src;
	unsigned calls;
	uint64_t bytes;
} fsrc;

static int mem_read(void *ctx, uint8_t *dst, uint32_t n, uint64_t at)
{
	(void)ctx;
	fsrc.calls++;
	fsrc.bytes += n;
	memcpy(dst, fsrc.src + at, n);
	return 0;
}

struct part_blk {
	uint8_t *buf;
	uint64_t have;
};

static int mem_fetch(void *ctx, uint64_t colmask)
{
	struct part_blk *pb = ctx;
	return seg_blk_fetch(pb->buf, colmask, &pb->have, mem_read, NULL);
}

/* seg_blk_head / seg_blk_fetch on their own: the head's checks, reads of
 * close chunks merged, nothing read twice, a bad chunk refused, and a
 * block read in part decodes as the whole block does. */
static void test_fetch(void **state)
{
	(void)state;
	enum { N = 5000 };
	static struct flow_rec in[N], out[N];
	static char arena[1 << 16];
	struct mix m;
	mix_init(&m, 11, T0, 0);
	struct colbuf cb;
	assert_int_equal(colbuf_init(&cb, N), 0);
	for (uint32_t i = 0; i < N; i++) {
		mix_next(&m, &in[i]);
		colbuf_put(&cb, &in[i]);
	}
	struct blk_src src;
	colbuf_src(&cb, N, m.arena, &src);
	struct blk_enc *e = blk_enc_new(ST_CODEC_LZ4, 0);
	const uint8_t *o;
	uint32_t len, raw;
	assert_int_equal(blk_encode(e, &src, 1, &o, &len, &raw), 0);
	assert_true(len > BLK_HEAD_MAX);
	uint8_t *blk = malloc(len), *buf = malloc(len);
	memcpy(blk, o, len);
	fsrc.src = blk;

	/* the head: its checks */
	struct seg_blk b;
	memset(buf, 0xee, len);
	memcpy(buf, blk, BLK_HEAD_MAX);
	assert_int_equal(seg_blk_head(buf, BLK_HEAD_MAX, len, 64, &b), 1);
	assert_int_equal(b.nrows, N);
	assert_int_equal(seg_blk_head(buf, BLK_HEAD_MAX - 1, len, 64, &b), 0); /* short */
	assert_int_equal(seg_blk_head(buf, BLK_HEAD_MAX, len + 8, 64, &b), 0);   /* length */
	buf[100] ^= 1;
	assert_int_equal(seg_blk_head(buf, BLK_HEAD_MAX, len, 64, &b), 0); /* head CRC */
	buf[100] ^= 1;
	uint8_t v3[BLK_HEAD_MAX];
	memcpy(v3, buf, BLK_HEAD_MAX);
	v3[30] = 0;
	assert_int_equal(seg_blk_head(v3, BLK_HEAD_MAX, len, 64, &b), 0); /* not version 4 */
	/* a chunk reaching past the block, under a head CRC that holds */
	le32_st(v3 + BLK_DIR_OFF + 8, len);
	v3[30] = BLK_LAYOUT4;
	le32_st(v3 + 4, st_crc32c(v3 + 8, BLK_DIR_OFF + 32 * BLK_DIR_ENT4 - 8));
	assert_int_equal(seg_blk_head(v3, BLK_HEAD_MAX, len, 64, &b), 0);
	assert_int_equal(seg_blk_head(buf, BLK_HEAD_MAX, len, 64, &b), 1);

	/* one column: one read of its chunk; again: none */
	uint64_t have = 0;
	uint32_t stored = 0;
	size_t at = chunk_at(blk, ST_COL_SRC_ADDR, &stored);
	fsrc.calls = 0;
	fsrc.bytes = 0;
	assert_int_equal(seg_blk_fetch(buf, ST_COL_BIT(ST_COL_SRC_ADDR), &have, mem_read, NULL), 0);
	assert_int_equal(have, ST_COL_BIT(ST_COL_SRC_ADDR));
	assert_int_equal(fsrc.calls, 1);
	assert_int_equal(fsrc.bytes, stored);
	assert_memory_equal(buf + at, blk + at, stored);
	assert_int_equal(seg_blk_fetch(buf, ST_COL_BIT(ST_COL_SRC_ADDR), &have, mem_read, NULL), 0);
	assert_int_equal(fsrc.calls, 1);
	/* adjacent chunks (last_ms, packets, bytes): one read */
	uint64_t m3 = ST_COL_BIT(ST_COL_LAST_MS) | ST_COL_BIT(ST_COL_PACKETS) | ST_COL_BIT(ST_COL_BYTES);
	assert_int_equal(seg_blk_fetch(buf, m3, &have, mem_read, NULL), 0);
	assert_int_equal(fsrc.calls, 2);
	assert_int_equal(have, m3 | ST_COL_BIT(ST_COL_SRC_ADDR));

	/* a bad chunk: refused, not added */
	uint8_t *bad = malloc(len);
	memcpy(bad, blk, len);
	at = chunk_at(blk, ST_COL_DST_PORT, &stored);
	bad[at + stored - 1] ^= 0x80;
	fsrc.src = bad;
	uint64_t h0 = have;
	assert_int_equal(seg_blk_fetch(buf, ST_COL_BIT(ST_COL_DST_PORT), &have, mem_read, NULL), -EBADMSG);
	assert_int_equal(have, h0);
	fsrc.src = blk;

	/* read in part through the decoder: what the whole block gives */
	struct part_blk pb = { buf, 0 };
	memset(buf + BLK_HEAD_MAX, 0xee, len - BLK_HEAD_MAX);
	assert_int_equal(seg_blk_head(buf, BLK_HEAD_MAX, len, 64, &b), 1);
	b.fetch = mem_fetch;
	b.ctx = &pb;
	b.have = &pb.have;
	struct blk_dec *d = blk_dec_new();
	struct st_cols c;
	assert_int_equal(blk_decode(d, &b, ST_COL_BIT(ST_COL_DST_AS), &c), 0);
	for (uint32_t i = 0; i < N; i++)
		assert_int_equal(((const uint32_t *)c.col[ST_COL_DST_AS])[i], in[i].dst_as);
	decode_compare(d, &b, in, out, N, arena, sizeof(arena), ST_CODEC_LZ4);
	/* the whole block, checked whole */
	assert_int_equal(seg_blk_check(blk, len, 64, &b), 1);
	decode_compare(d, &b, in, out, N, arena, sizeof(arena), ST_CODEC_LZ4);
	assert_int_equal(seg_blk_check(bad, len, 64, &b), 0);
	blk_dec_free(d);
	blk_enc_free(e);
	colbuf_free(&cb);
	free(blk);
	free(bad);
	free(buf);
}

/* A version-4 block in the version-3 layout: 12-byte directory entries,
 * one CRC over everything after it; len: its length. */
static uint32_t to_v3(const uint8_t *blk, uint8_t *out)
{
	unsigned ncols = blk[28];
	size_t chunks = 0;
	for (unsigned k = 0; k < ncols; k++)
		chunks += le32_ld(blk + BLK_DIR_OFF + (size_t)k * BLK_DIR_ENT4 + 8);
	memcpy(out, blk, BLK_DIR_OFF);
	out[30] = 0;
	for (unsigned k = 0; k < ncols; k++)
		memcpy(out + BLK_DIR_OFF + (size_t)k * BLK_DIR_ENT, blk + BLK_DIR_OFF + (size_t)k * BLK_DIR_ENT4,
		       BLK_DIR_ENT);
	size_t o = BLK_DIR_OFF + (size_t)ncols * BLK_DIR_ENT;
	memcpy(out + o, blk + BLK_DIR_OFF + (size_t)ncols * BLK_DIR_ENT4, chunks);
	o += chunks;
	while (o & 7)
		out[o++] = 0;
	le32_st(out + 8, (uint32_t)o);
	le32_st(out + 4, st_crc32c(out + 8, o - 8));
	return (uint32_t)o;
}

/* The segment at path rewritten as version 3 (sealed: with a footer of
 * its own blocks; open: without). */
static void downgrade_v3(const char *path, bool sealed)
{
	size_t flen;
	uint8_t *f = slurp(path, &flen);
	uint8_t *out = malloc(flen + 4096);
	struct ftr_ent ents[64];
	uint32_t ne = 0;
	struct seg_walk w;
	assert_int_equal(seg_walk_init(&w, f, flen), 0);
	memcpy(out, f, SEG_HDR_LEN);
	le16_st(out + 8, 3);
	le32_st(out + 60, st_crc32c(out, 60));
	size_t o = SEG_HDR_LEN;
	struct seg_blk b;
	while (seg_walk_next(&w, &b) == 1) {
		assert_true(ne < 64);
		uint32_t l = to_v3(b.p, out + o);
		ents[ne++] = (struct ftr_ent){ o, l, b.nrows, b.zone.first_min, b.zone.last_max };
		o += l;
	}
	assert_int_equal(w.sealed, sealed);
	if (sealed) {
		uint8_t *ft;
		size_t fl;
		assert_int_equal(ftr_build(ents, ne, &ft, &fl), 0);
		le64_st(ft + fl - TRL_LEN, o);
		out = realloc(out, o + fl);
		memcpy(out + o, ft, fl);
		o += fl;
		free(ft);
	}
	int fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, out, o), (ssize_t)o);
	close(fd);
	free(out);
	free(f);
}

/* Segments written by version 3 (whole-block CRCs) read as before, sealed
 * (through the footer) and open (walked), by every reader. */
static void test_v3_segments(void **state)
{
	(void)state;
	for (int sealed = 0; sealed < 2; sealed++) {
		char *dir = tmpdir_make();
		struct recset want = { 0 }, got = { 0 };
		struct st_store *s = open_store(dir, ST_CODEC_LZ4, 1000, NULL);
		feed(s, &want, 3500, T0 + 1, 1);
		assert_int_equal(st_store_commit(s, sealed ? T0 + WIN + 1 : T0 + 2), 0);
		st_store_close(s);
		char *path = only_segment(dir);
		downgrade_v3(path, sealed);
		size_t flen;
		uint8_t *f = slurp(path, &flen);
		assert_int_equal(le16_ld(f + 8), 3);
		assert_int_equal(f[SEG_HDR_LEN + 30], 0);
		free(f);
		assert_int_equal(recset_read(dir, &got), 0);
		same(&want, &got);
		recset_free(&got);
		/* two partitions: every block once */
		struct blk_id ids[16];
		size_t nids = 0;
		assert_int_equal(read_part(dir, 0, 2, ids, &nids) + read_part(dir, 1, 2, ids, &nids), 0);
		assert_int_equal(nids, 4);
		free(path);
		recset_free(&want);
		tmpdir_rm(dir);
	}
}

/* Readers accept versions 1 to 4; a newer one is refused (and so a
 * version 3 reader refuses the segments written now). */
static void test_versions(void **state)
{
	(void)state;
	assert_int_equal(SEG_VERSION, 4);
	for (uint16_t v = 0; v <= 5; v++) {
		uint8_t h[SEG_HDR_LEN];
		struct seg_hdr hd = { .codec = 1, .win_start_ms = T0, .win_len_ms = 300000 }, got;
		seg_hdr_write(h, &hd);
		assert_int_equal(le16_ld(h + 8), SEG_VERSION);
		le16_st(h + 8, v);
		le32_st(h + 60, st_crc32c(h, 60));
		assert_int_equal(seg_hdr_read(h, sizeof(h), &got), v >= 1 && v <= 4 ? 0 : -EBADMSG);
	}
}

static uint64_t rnd(uint64_t *x)
{
	*x = *x * 6364136223846793005ull + 1442695040888963407ull;
	return *x >> 11;
}

static void addr6(uint8_t a[16], uint64_t hi, uint64_t lo)
{
	for (int k = 0; k < 8; k++) {
		a[k] = (uint8_t)(hi >> (56 - 8 * k));
		a[8 + k] = (uint8_t)(lo >> (56 - 8 * k));
	}
}

static uint32_t h32(const uint8_t a[16])
{
	uint64_t h = 1469598103934665603ull;
	for (int k = 0; k < 16; k++)
		h = (h ^ a[k]) * 1099511628211ull;
	return (uint32_t)(h >> 20);
}

/* Encode n records (addresses given, src_as a function of src_addr: a DEP
 * candidate, the rest simple) as one block with codec; decode it whole, as
 * codes and at selected rows, and check every path against the input.
 * *enc_src, *enc_as: the encodings chosen for src_addr and src_as. */
static void mixed_block(const uint8_t (*src)[16], const uint8_t (*dst)[16], uint32_t n,
			enum st_codec codec, uint8_t *enc_src, uint8_t *enc_as)
{
	static struct flow_rec in[ST_BLOCK_ROWS_MAX], out[ST_BLOCK_ROWS_MAX];
	static char arena[64];
	static uint32_t sel[ST_BLOCK_ROWS_MAX];
	struct colbuf cb;
	assert_int_equal(colbuf_init(&cb, n), 0);
	for (uint32_t i = 0; i < n; i++) {
		struct flow_rec *r = &in[i];
		memset(r, 0, sizeof(*r));
		memcpy(r->src_addr, src[i], 16);
		memcpy(r->dst_addr, dst[i], 16);
		r->src_as = h32(src[i]) % 300;
		r->dst_as = h32(dst[i]) % 7;
		r->last_ms = r->first_ms = T0 + i;
		r->packets = 1 + i % 5;
		r->bytes = 100 * r->packets;
		colbuf_put(&cb, r);
	}
	struct blk_src bs;
	colbuf_src(&cb, n, arena, &bs);
	struct blk_enc *e = blk_enc_new(codec, 0);
	assert_non_null(e);
	const uint8_t *o;
	uint32_t len, raw;
	assert_int_equal(blk_encode(e, &bs, 1, &o, &len, &raw), 0);
	const uint8_t *dir = o + BLK_DIR_OFF;
	*enc_src = dir[ST_COL_SRC_ADDR * BLK_DIR_ENT4 + 1];
	*enc_as = dir[ST_COL_SRC_AS * BLK_DIR_ENT4 + 1];
	/* LZ4 leaves the codes of big address dictionaries alone */
	if (*enc_src == ENC_DICT_MIX && codec == ST_CODEC_LZ4 && n >= 5000)
		assert_int_equal(dir[ST_COL_SRC_ADDR * BLK_DIR_ENT4 + 2], COMP_NONE);
	struct seg_blk b = { .p = o, .len = len, .nrows = n };
	struct blk_dec *d = blk_dec_new();
	struct st_cols c;
	decode_compare(d, &b, in, out, n, arena, sizeof(arena), (int)codec);
	/* a dependent column alone decodes its parent's dictionary too */
	assert_int_equal(blk_decode(d, &b, ST_COL_BIT(ST_COL_SRC_AS), &c), 0);
	for (uint32_t i = 0; i < n; i++)
		assert_int_equal(((const uint32_t *)c.col[ST_COL_SRC_AS])[i], in[i].src_as);
	/* codes: in range, the dictionary strictly ascending (DICT_MIX), each
	 * row's entry its address */
	uint32_t am = ST_COL_BIT(ST_COL_SRC_ADDR) | ST_COL_BIT(ST_COL_DST_ADDR) | ST_COL_BIT(ST_COL_SRC_AS);
	assert_int_equal(blk_decode_codes(d, &b, am, am, &c), 0);
	for (unsigned k = 0; k < 2; k++) {
		unsigned col = k ? ST_COL_DST_ADDR : ST_COL_SRC_ADDR;
		const uint8_t *dict = c.dict[col];
		if (!c.code[col]) { /* not a dictionary (PLANES: all distinct) */
			assert_int_equal(dir[col * BLK_DIR_ENT4 + 1], ENC_PLANES);
			continue;
		}
		if (dir[col * BLK_DIR_ENT4 + 1] == ENC_DICT_MIX)
			for (uint32_t j = 1; j < c.ndict[col]; j++)
				assert_true(memcmp(dict + (size_t)(j - 1) * 16, dict + (size_t)j * 16, 16) < 0);
		for (uint32_t i = 0; i < n; i++) {
			assert_true(c.code[col][i] < c.ndict[col]);
			assert_memory_equal(dict + (size_t)c.code[col][i] * 16, k ? dst[i] : src[i], 16);
		}
	}
	/* selected rows (every third and the last), as values and as codes */
	uint32_t ns = 0;
	for (uint32_t i = 1; i < n; i += 3)
		sel[ns++] = i;
	if (!ns || sel[ns - 1] != n - 1)
		sel[ns++] = n - 1;
	for (int codes = 0; codes < 2; codes++) {
		assert_int_equal(blk_decode_rows(d, &b, am, codes ? am : 0, sel, ns, &c), 0);
		assert_int_equal(c.n, ns);
		for (uint32_t j = 0; j < ns; j++) {
			const uint8_t *s = c.code[ST_COL_SRC_ADDR]
				? (const uint8_t *)c.dict[ST_COL_SRC_ADDR] + (size_t)c.code[ST_COL_SRC_ADDR][j] * 16
				: (const uint8_t *)c.col[ST_COL_SRC_ADDR] + (size_t)j * 16;
			const uint8_t *t = c.code[ST_COL_DST_ADDR]
				? (const uint8_t *)c.dict[ST_COL_DST_ADDR] + (size_t)c.code[ST_COL_DST_ADDR][j] * 16
				: (const uint8_t *)c.col[ST_COL_DST_ADDR] + (size_t)j * 16;
			assert_memory_equal(s, src[sel[j]], 16);
			assert_memory_equal(t, dst[sel[j]], 16);
		}
	}
	blk_dec_free(d);
	blk_enc_free(e);
	colbuf_free(&cb);
}

/* Mixed IPv4/IPv6 address columns: DICT_MIX round trips through every
 * decoder entry point, at its edges. */
static void test_dict_mix(void **state)
{
	(void)state;
	enum { N = 65536 };
	static uint8_t src[N][16], dst[N][16];
	uint8_t es, ea;
	uint64_t x = 7;
#define RND() rnd(&x)
	for (int codec = ST_CODEC_NONE; codec <= ST_CODEC_ZSTD; codec++) {
		/* all IPv4 but one IPv6 row (the v6 entry: nd6 = 1) */
		uint32_t n = 5000;
		for (uint32_t i = 0; i < n; i++) {
			mix_v4(src[i], 0x0a000000u + (uint32_t)(RND() % 3000));
			mix_v4(dst[i], (uint32_t)RND());
		}
		addr6(src[1234], 0x20010db800000000ull, 0x5);
		addr6(dst[n - 1], 0x2a00145040070000ull, 0x200e);
		mixed_block(src, dst, n, (enum st_codec)codec, &es, &ea);
		assert_int_equal(es, ENC_DICT_MIX);
		assert_int_equal(ea, ENC_DEP); /* DEP accepts a DICT_MIX parent */
		/* all IPv6 but one IPv4 row; IPv6 neighbours sharing 15 bytes,
		 * the lowest IPv6 address above the v4-mapped range */
		for (uint32_t i = 0; i < n; i++) {
			addr6(src[i], 0x20010db801000000ull | RND() % 40, RND() % 512);
			addr6(dst[i], RND(), RND()); /* all distinct: PLANES */
		}
		addr6(src[7], 0, 0x0001000000000000ull); /* ::1:0:0:0 */
		mix_v4(src[n - 1], 0xffffffffu);           /* 255.255.255.255: gap sum at 2^32 - 1 */
		mix_v4(dst[0], 0);                         /* 0.0.0.0: a first gap of 0 */
		mixed_block(src, dst, n, (enum st_codec)codec, &es, &ea);
		assert_int_equal(es, ENC_DICT_MIX);
		for (uint32_t i = 0; i < n; i++)
			addr6(dst[i], 0x2600000000000000ull | RND() % 1000, RND() % 50);
		mixed_block(dst, src, n, (enum st_codec)codec, &es, &ea);
		assert_int_equal(es, ENC_DICT_MIX);
		/* one entry of each family */
		n = 2;
		mix_v4(src[0], 0x01020304u);
		addr6(src[1], 0xfe80000000000000ull, 1);
		memcpy(dst[0], src[1], 16);
		memcpy(dst[1], src[0], 16);
		mixed_block(src, dst, n, (enum st_codec)codec, &es, &ea);
		assert_int_equal(es, ENC_DICT_MIX);
		/* the same two entries over many rows */
		n = 1000;
		for (uint32_t i = 0; i < n; i++) {
			if (RND() & 1)
				mix_v4(src[i], 0x01020304u);
			else
				addr6(src[i], 0xfe80000000000000ull, 1);
			memcpy(dst[i], src[(i * 7) % (i + 1)], 16);
		}
		mixed_block(src, dst, n, (enum st_codec)codec, &es, &ea);
		assert_int_equal(es, ENC_DICT_MIX);
		/* an IPv6 address below the v4-mapped range (::1): DICT_MIX
		 * could not keep the dictionary ascending, DICT is used */
		addr6(src[3], 0, 1);
		mixed_block(src, dst, n, (enum st_codec)codec, &es, &ea);
		assert_int_equal(es, ENC_DICT);
	}
	/* 65536 distinct addresses in both columns: 16-bit indices */
	for (uint32_t i = 0; i < N; i++) {
		if (i % 3)
			mix_v4(src[i], i * 65521u + 17); /* distinct: 65521 is odd */
		else
			addr6(src[i], 0x2001000000000000ull | (i % 97), (uint64_t)i * 0x9e3779b97f4a7c15ull);
		if (i % 5)
			addr6(dst[(i * 40503u) % N], 0x2600000000000000ull, i);
		else
			mix_v4(dst[(i * 40503u) % N], 0xc0000000u + i);
	}
	mixed_block(src, dst, N, ST_CODEC_LZ4, &es, &ea);
	assert_int_equal(es, ENC_DICT_MIX);
	mixed_block(src, dst, N, ST_CODEC_ZSTD, &es, &ea);
	assert_int_equal(es, ENC_DICT_MIX);
#undef RND
}

/* A DICT_MIX chunk built by hand (test side), so that it can be wrong. */
struct chunk {
	uint8_t p[1 << 16];
	size_t len;
};

static void ch_u32(struct chunk *c, uint32_t v)
{
	le32_st(c->p + c->len, v);
	c->len += 4;
}

static void ch_leb(struct chunk *c, uint64_t v)
{
	while (v >= 0x80) {
		c->p[c->len++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	c->p[c->len++] = (uint8_t)v;
}

/* an IPv6 entry: prefix length pl, then bytes pl..15 of a */
static void ch_v6(struct chunk *c, unsigned pl, const uint8_t a[16])
{
	c->p[c->len++] = (uint8_t)pl;
	memcpy(c->p + c->len, a + pl, 16 - pl);
	c->len += 16 - pl;
}

static void ch_idx(struct chunk *c, const uint16_t *ix, uint32_t n, unsigned b)
{
	pack_ref(ix, n, b, c->p + c->len);
	c->len += ((size_t)n * b + 7) / 8;
}

/* Block blk (len bytes) with column col's chunk replaced by ch, stored
 * uncompressed with encoding enc and width w, into out: its length. */
static uint32_t swap_chunk(const uint8_t *blk, unsigned col, uint8_t enc, uint8_t w,
			   const uint8_t *ch, size_t chl, uint8_t *out)
{
	unsigned ncols = blk[28], dent = blk_dir_ent(blk);
	size_t dirl = BLK_DIR_OFF + (size_t)ncols * dent, o = dirl;
	const uint8_t *in = blk + dirl;
	memcpy(out, blk, dirl);
	for (unsigned k = 0; k < ncols; k++) {
		uint8_t *de = out + BLK_DIR_OFF + (size_t)k * dent;
		uint32_t stored = le32_ld(de + 8);
		if (de[0] == col) {
			de[1] = enc;
			de[2] = COMP_NONE;
			de[3] = w;
			le32_st(de + 4, (uint32_t)chl);
			le32_st(de + 8, (uint32_t)chl);
			memcpy(out + o, ch, chl);
			o += chl;
		} else {
			memcpy(out + o, in, stored);
			o += stored;
		}
		in += stored;
	}
	while (o & 7)
		out[o++] = 0;
	le32_st(out + 8, (uint32_t)o);
	seg_blk_seal(out, (uint32_t)o);
	return (uint32_t)o;
}

/* Every decoder entry point on a block whose src_addr chunk is ch: the
 * result code they agree on (0 or -EBADMSG). */
static int try_chunk_x(const uint8_t *blk, uint32_t n, uint8_t enc, uint8_t w,
		       const struct chunk *ch, bool dep)
{
	static uint8_t buf[1 << 20];
	static uint32_t sel[ST_BLOCK_ROWS_MAX];
	uint32_t len = swap_chunk(blk, ST_COL_SRC_ADDR, enc, w, ch->p, ch->len, buf);
	struct seg_blk b = { .p = buf, .len = len, .nrows = n };
	struct blk_dec *d = blk_dec_new();
	struct st_cols c;
	uint32_t am = ST_COL_BIT(ST_COL_SRC_ADDR);
	int r0 = blk_decode(d, &b, ST_COLS_ALL, &c);
	int r1 = blk_decode_codes(d, &b, am, am, &c);
	if (!r1)
		for (uint32_t i = 0; i < n; i++)
			assert_true(c.code[ST_COL_SRC_ADDR][i] < c.ndict[ST_COL_SRC_ADDR]);
	for (uint32_t i = 0; i < n; i++)
		sel[i] = i;
	int r2 = blk_decode_rows(d, &b, am, 0, sel, n, &c);
	/* a dependent column reads its parent's chunk */
	int r3 = dep ? blk_decode(d, &b, ST_COL_BIT(ST_COL_SRC_AS), &c) : r0;
	blk_dec_free(d);
	assert_int_equal(r0, r1);
	assert_int_equal(r0, r2);
	assert_int_equal(r0, r3);
	return r0;
}

static int try_chunk(const uint8_t *blk, uint32_t n, uint8_t enc, uint8_t w, const struct chunk *ch)
{
	return try_chunk_x(blk, n, enc, w, ch, true);
}

/* Records in[0..n) as one block, uncompressed (ST_CODEC_NONE), to swap
 * chunks into: a malloc'ed copy of n rows, *len its length. */
static uint8_t *encode_plain(const struct flow_rec *in, uint32_t n, uint32_t *len)
{
	struct colbuf cb;
	assert_int_equal(colbuf_init(&cb, n), 0);
	for (uint32_t i = 0; i < n; i++)
		colbuf_put(&cb, &in[i]);
	struct blk_src src;
	colbuf_src(&cb, n, NULL, &src);
	struct blk_enc *e = blk_enc_new(ST_CODEC_NONE, 0);
	assert_non_null(e);
	const uint8_t *o;
	uint32_t raw;
	assert_int_equal(blk_encode(e, &src, 1, &o, len, &raw), 0);
	uint8_t *b = malloc(*len);
	assert_non_null(b);
	memcpy(b, o, *len);
	blk_enc_free(e);
	colbuf_free(&cb);
	return b;
}

/* Malformed DICT_MIX chunks: every one a corrupt block (-EBADMSG) on
 * every decoder path, never a crash. */
static void test_dict_mix_corrupt(void **state)
{
	(void)state;
	enum { N = 64 }; /* rows i and i + 8 alike: DEP pays for src_as */
	static uint8_t src[N][16], dst[N][16];
	/* a block whose src_addr is DICT_MIX with src_as depending on it */
	for (uint32_t i = 0; i < N; i++) {
		if (i & 1)
			mix_v4(src[i], 0x0a000001u + i % 8 % 3);
		else
			addr6(src[i], 0x20010db800000000ull, 1 + i % 8 % 5);
		mix_v4(dst[i], 0x01010101u);
	}
	uint8_t es, ea;
	mixed_block(src, dst, N, ST_CODEC_NONE, &es, &ea);
	assert_int_equal(es, ENC_DICT_MIX);
	assert_int_equal(ea, ENC_DEP);
	/* rebuild it to swap chunks: same rows, so the DEP child (one
	 * value per dictionary entry) stays consistent with good chunks */
	static struct flow_rec in[N];
	for (uint32_t i = 0; i < N; i++) {
		memset(&in[i], 0, sizeof(in[i]));
		memcpy(in[i].src_addr, src[i], 16);
		memcpy(in[i].dst_addr, dst[i], 16);
		in[i].src_as = h32(src[i]) % 300;
	}
	uint32_t len;
	uint8_t *blk = encode_plain(in, N, &len);

	/* the good chunk, by hand: entries 10.0.0.1 .2 .3 (odd rows: the
	 * one at i % 8 % 3), then 2001:db8::1, ::2, ::3, ::5 (even rows:
	 * ::(1 + i % 8 % 5)); 7 entries, 3-bit indices */
	static const uint64_t v6lo[4] = { 1, 2, 3, 5 };
	uint8_t v6[4][16];
	for (int k = 0; k < 4; k++)
		addr6(v6[k], 0x20010db800000000ull, v6lo[k]);
	uint16_t ix[N];
	for (uint32_t i = 0; i < N; i++) {
		uint64_t lo = 1 + i % 8 % 5;
		ix[i] = (uint16_t)(i & 1 ? i % 8 % 3 : 3 + (lo == 5 ? 3 : lo - 1));
	}
#define GOOD_HEAD(c)                                         \
	do {                                                 \
		(c)->len = 0;                                \
		ch_u32(c, 3);                                \
		ch_u32(c, 4);                                \
		ch_leb(c, 0x0a000001u);                      \
		ch_leb(c, 1);                                \
		ch_leb(c, 1);                                \
	} while (0)
	struct chunk c;
	GOOD_HEAD(&c);
	for (int k = 0; k < 4; k++)
		ch_v6(&c, k ? 15 : 0, v6[k]);
	ch_idx(&c, ix, N, 3);
	assert_int_equal(try_chunk(blk, N, ENC_DICT_MIX, 16, &c), 0);
	struct chunk good = c;

	/* lengths: one byte more, one less, the index stream cut */
	c = good;
	c.p[c.len++] = 0;
	assert_int_equal(try_chunk(blk, N, ENC_DICT_MIX, 16, &c), -EBADMSG);
	c = good;
	c.len--;
	assert_int_equal(try_chunk(blk, N, ENC_DICT_MIX, 16, &c), -EBADMSG);
	c.len = 7;
	assert_int_equal(try_chunk(blk, N, ENC_DICT_MIX, 16, &c), -EBADMSG);
	/* width 4 is not DICT_MIX's */
	assert_int_equal(try_chunk(blk, N, ENC_DICT_MIX, 4, &good), -EBADMSG);
	/* counts: nd < 2, nd > n, nd4 + nd6 wrapping 32 bits */
	c = good;
	le32_st(c.p, 0);
	le32_st(c.p + 4, 1);
	assert_int_equal(try_chunk(blk, N, ENC_DICT_MIX, 16, &c), -EBADMSG);
	c = good;
	le32_st(c.p + 4, N - 2); /* N + 1 entries for N rows */
	assert_int_equal(try_chunk(blk, N, ENC_DICT_MIX, 16, &c), -EBADMSG);
	c = good;
	le32_st(c.p, 0xfffffffdu);
	assert_int_equal(try_chunk(blk, N, ENC_DICT_MIX, 16, &c), -EBADMSG);
	/* an index >= nd (7 entries, 3 bits: 7 is out of range), on the
	 * last row (the kernels' scalar tail) and on the first */
	for (uint32_t at = 0; at < 2; at++) {
		c = good;
		uint16_t ix2[N];
		memcpy(ix2, ix, sizeof(ix2));
		ix2[at ? N - 1 : 0] = 7;
		c.len -= (N * 3 + 7) / 8;
		ch_idx(&c, ix2, N, 3);
		assert_int_equal(try_chunk(blk, N, ENC_DICT_MIX, 16, &c), -EBADMSG);
	}
	/* IPv4 gaps: a 0 after the first, a sum past 2^32 - 1, a gap of
	 * 2^32, a gap of 2^32 - 1 after another */
	uint64_t gaps[][3] = { { 0x0a000001u, 0, 1 },
			       { 0xfffffffeu, 1, 1 },
			       { 0x100000000ull, 1, 1 },
			       { 2, 0xffffffffull, 1 } };
	for (size_t g = 0; g < 4; g++) {
		c.len = 0;
		ch_u32(&c, 3);
		ch_u32(&c, 4);
		for (int k = 0; k < 3; k++)
			ch_leb(&c, gaps[g][k]);
		for (int k = 0; k < 4; k++)
			ch_v6(&c, k ? 15 : 0, v6[k]);
		ch_idx(&c, ix, N, 3);
		if (try_chunk(blk, N, ENC_DICT_MIX, 16, &c) != -EBADMSG)
			fail_msg("gap case %zu accepted", g);
	}
	/* the last gap's byte continuing into the IPv6 entries */
	c = good;
	c.p[8 + 4 + 1] |= 0x80;
	assert_int_equal(try_chunk(blk, N, ENC_DICT_MIX, 16, &c), -EBADMSG);
	/* IPv6 entries: first prefix not 0, a prefix of 16, equal and
	 * descending entries, a v4-mapped one, one below the v4 range, the
	 * top of the v4 range itself */
	struct {
		unsigned pl0, pl1;
		uint64_t hi0, lo0;
	} v6bad[] = {
		{ 1, 15, 0x20010db800000000ull, 1 },
		{ 0, 16, 0x20010db800000000ull, 1 },
		{ 0, 15, 0x20010db800000000ull, 2 }, /* entry 1 == entry 0 */
		{ 0, 15, 0x20010db800000000ull, 3 }, /* descending (3, 2) */
		{ 0, 0, 0, 0x0000ffff0a000009ull },  /* ::ffff:10.0.0.9 */
		{ 0, 0, 0, 1 },                      /* ::1 */
		{ 0, 0, 0, 0x0000ffffffffffffull },  /* ::ffff:255.255.255.255 */
	};
	for (size_t t = 0; t < sizeof(v6bad) / sizeof(v6bad[0]); t++) {
		GOOD_HEAD(&c);
		uint8_t a[16];
		addr6(a, v6bad[t].hi0, v6bad[t].lo0);
		ch_v6(&c, v6bad[t].pl0, a);
		if (v6bad[t].pl1 <= 15)
			ch_v6(&c, v6bad[t].pl1, v6[1]);
		else
			c.p[c.len++] = 16;
		for (int k = 2; k < 4; k++)
			ch_v6(&c, 15, v6[k]);
		ch_idx(&c, ix, N, 3);
		if (try_chunk(blk, N, ENC_DICT_MIX, 16, &c) != -EBADMSG)
			fail_msg("IPv6 case %zu accepted", t);
	}
	/* a prefix length that would reach past the end of the chunk */
	GOOD_HEAD(&c);
	for (int k = 0; k < 3; k++)
		ch_v6(&c, k ? 15 : 0, v6[k]);
	c.p[c.len++] = 0; /* entry 4 claims 16 more bytes; fewer follow */
	assert_int_equal(try_chunk(blk, N, ENC_DICT_MIX, 16, &c), -EBADMSG);
	/* all IPv6 (nd4 = 0): valid, but src_as (DEP: a table for the
	 * parent's 7 entries) does not fit a parent of 12: corrupt through
	 * the child only */
	c.len = 0;
	ch_u32(&c, 0);
	ch_u32(&c, 12);
	for (int k = 0; k < 12; k++) {
		uint8_t a[16];
		addr6(a, 0x3000000000000000ull + (uint64_t)k * 0x100, 0);
		ch_v6(&c, k ? 6 : 0, a);
	}
	uint16_t all[N];
	for (uint32_t i = 0; i < N; i++)
		all[i] = (uint16_t)(11 - i % 12);
	ch_idx(&c, all, N, 4);
	static uint8_t buf[1 << 16];
	uint32_t blen = swap_chunk(blk, ST_COL_SRC_ADDR, ENC_DICT_MIX, 16, c.p, c.len, buf);
	struct seg_blk b = { .p = buf, .len = blen, .nrows = N };
	struct blk_dec *d = blk_dec_new();
	struct st_cols cols;
	uint32_t am = ST_COL_BIT(ST_COL_SRC_ADDR);
	assert_int_equal(blk_decode(d, &b, am, &cols), 0);
	for (uint32_t i = 0; i < N; i++) {
		const uint8_t *a = (const uint8_t *)cols.col[ST_COL_SRC_ADDR] + (size_t)i * 16;
		assert_int_equal(a[0], 0x30);
		assert_int_equal(a[6], 11 - i % 12);
	}
	assert_int_equal(blk_decode(d, &b, ST_COL_BIT(ST_COL_SRC_AS), &cols), -EBADMSG);
	blk_dec_free(d);
	/* dictionaries with more entries than rows (DICT_DELTA: 300 for 64
	 * rows; the writer never makes one) never overrun the codes path's
	 * buffers */
	c.len = 0;
	ch_u32(&c, 300);
	for (int k = 0; k < 300; k++)
		ch_leb(&c, k ? 1 : 0x0a000000u);
	uint16_t many[N];
	for (uint32_t i = 0; i < N; i++)
		many[i] = (uint16_t)(i * 37 % 300);
	ch_idx(&c, many, N, 9);
	blen = swap_chunk(blk, ST_COL_SRC_ADDR, ENC_DICT_DELTA, 4, c.p, c.len, buf);
	b.len = blen;
	d = blk_dec_new();
	int rc = blk_decode_codes(d, &b, am, am, &cols);
	assert_true(rc == 0 || rc == -EBADMSG);
	blk_dec_free(d);
	free(blk);
#undef GOOD_HEAD
}

/* Long IPv4 gap lists (the decoder takes runs of short gaps four at a
 * time, others one by one): gaps of every LEB128 length from 1 to 5 bytes,
 * padded (non-canonical) ones, and errors deep inside the list. */
static void test_dict_mix_gaps(void **state)
{
	(void)state;
	enum { N = 4096, ND4 = 3000 };
	static uint8_t src[N][16], dst[N][16];
	for (uint32_t i = 0; i < N; i++) {
		mix_v4(src[i], 0x0a000000u + i % 40);
		mix_v4(dst[i], 0x01010101u);
	}
	addr6(src[5], 0x20010db800000000ull, 1);
	/* a base block of N rows (src_as constant: no DEP child) */
	static struct flow_rec in[N];
	for (uint32_t i = 0; i < N; i++) {
		memset(&in[i], 0, sizeof(in[i]));
		memcpy(in[i].src_addr, src[i], 16);
		memcpy(in[i].dst_addr, dst[i], 16);
	}
	uint32_t len;
	uint8_t *blk = encode_plain(in, N, &len);

	/* gaps: lengths in runs and alone, a few padded to more bytes */
	static uint64_t gap[ND4];
	static uint8_t want[ND4 + 1][16];
	static uint16_t ix[N];
	static struct chunk c;
	uint64_t x = 1234, sum = 0;
	for (uint32_t k = 0; k < ND4; k++) {
		uint64_t r = rnd(&x);
		unsigned bytes = k < 1000 ? 1 + (k / 37) % 3 : 1 + (unsigned)(r % 5);
		uint64_t lo = bytes == 1 ? 1 : 1ull << (7 * (bytes - 1)), hi = (1ull << (7 * bytes)) - 1;
		gap[k] = lo + (r >> 8) % (hi - lo + 1);
		if (sum + gap[k] > 0xffffffffull - (ND4 - k))
			gap[k] = 1;
		sum += gap[k];
		mix_v4(want[k], (uint32_t)sum);
	}
	addr6(want[ND4], 0x20010db800000000ull, 1);
	for (uint32_t i = 0; i < N; i++)
		ix[i] = (uint16_t)(i * 7 % (ND4 + 1));
	for (int variant = 0; variant < 6; variant++) {
		c.len = 0;
		ch_u32(&c, ND4);
		ch_u32(&c, 1);
		for (uint32_t k = 0; k < ND4; k++) {
			uint64_t g = gap[k];
			if (variant == 1 && k == 1500)
				g = 0; /* a zero gap, mid-list */
			if (variant == 2 && k == 2100)
				g = 0x100000000ull; /* a gap of 2^32 */
			if (variant == 3 && k == 2999)
				g = 0xffffffffull; /* the sum passes 2^32 - 1 */
			if (variant == 4 && (k % 97 == 5 || (k % 89 == 3 && g < 128))) {
				/* padded: the same value in 6 bytes, or a one-byte
				 * value in 2 (groups of 0 after it) */
				unsigned nb = k % 97 == 5 ? 6 : 2;
				uint64_t w = g;
				for (unsigned t = 0; t < nb; t++) {
					c.p[c.len++] = (uint8_t)((w & 0x7f) | (t + 1 < nb ? 0x80 : 0));
					w >>= 7;
				}
				continue;
			}
			if (variant == 5 && k == 2500) {
				/* an unterminated value eating into what follows */
				c.p[c.len++] = 0xff;
				continue;
			}
			ch_leb(&c, g);
		}
		ch_v6(&c, 0, want[ND4]);
		ch_idx(&c, ix, N, 12);
		int rc = try_chunk_x(blk, N, ENC_DICT_MIX, 16, &c, false);
		if (variant == 0 || variant == 4) {
			assert_int_equal(rc, 0);
			struct seg_blk b;
			static uint8_t buf[1 << 20];
			b.p = buf;
			b.len = swap_chunk(blk, ST_COL_SRC_ADDR, ENC_DICT_MIX, 16, c.p, c.len, buf);
			b.nrows = N;
			struct blk_dec *d = blk_dec_new();
			struct st_cols cols;
			uint32_t am = ST_COL_BIT(ST_COL_SRC_ADDR);
			assert_int_equal(blk_decode_codes(d, &b, am, am, &cols), 0);
			assert_int_equal(cols.ndict[ST_COL_SRC_ADDR], ND4 + 1);
			if (memcmp(cols.dict[ST_COL_SRC_ADDR], want, sizeof(want)))
				fail_msg("variant %d: dictionary differs", variant);
			blk_dec_free(d);
		} else if (rc != -EBADMSG) {
			fail_msg("variant %d accepted", variant);
		}
	}
	free(blk);
}

/* ---- packed-bit decoders (FOR_BITS, DELTA_BITS, DUR_BITS, MAXDELTA,
 * PERPKT, PDICT) against reference decoders written from FORMAT.md ---- */

/* A chunk under construction with a bit cursor; big enough for 65536 rows
 * of 8 bytes plus a header. */
struct pchunk {
	uint8_t *p;
	size_t len;  /* bytes in whole; the bit stream ends at len */
	uint64_t bit; /* next bit of the current stream, from p + start */
	size_t start;
};

static void pc_init(struct pchunk *c)
{
	if (!c->p)
		c->p = malloc(1 << 20);
	assert_non_null(c->p);
	memset(c->p, 0, 1 << 20);
	c->len = c->start = 0;
	c->bit = 0;
}

static void pc_u8(struct pchunk *c, uint8_t v)
{
	c->p[c->len++] = v;
}

static void pc_u32(struct pchunk *c, uint32_t v)
{
	le32_st(c->p + c->len, v);
	c->len += 4;
}

static void pc_u64(struct pchunk *c, uint64_t v)
{
	le64_st(c->p + c->len, v);
	c->len += 8;
}

/* A bit stream starts at len; pc_bits appends w bits of v, one at a time
 * (the reference layout: value i at bits i*w .. i*w+w-1, LSB first);
 * pc_end closes it at the next byte. */
static void pc_begin(struct pchunk *c)
{
	c->start = c->len;
	c->bit = 0;
}

static void pc_bits(struct pchunk *c, uint64_t v, unsigned w)
{
	for (unsigned k = 0; k < w; k++, c->bit++)
		if (v >> k & 1)
			c->p[c->start + (c->bit >> 3)] |= (uint8_t)(1u << (c->bit & 7));
}

static void pc_end(struct pchunk *c)
{
	c->len = c->start + (size_t)((c->bit + 7) / 8);
}

/* A random value of at most w bits, often all ones or zero (edges). */
static uint64_t rnd_w(uint64_t *x, unsigned w)
{
	uint64_t m = w >= 64 ? ~0ull : (1ull << w) - 1, r = rnd(x);
	switch (r & 7) {
	case 0: return m;
	case 1: return 0;
	default: return (r ^ rnd(x) << 20) & m;
	}
}

/* A block of n plain rows (ST_CODEC_NONE) to swap chunks into. */
static uint8_t *plain_block(uint32_t n, uint32_t *len)
{
	struct flow_rec *in = calloc(n ? n : 1, sizeof(*in));
	assert_non_null(in);
	for (uint32_t i = 0; i < n; i++) {
		in[i].last_ms = T0 + i;
		in[i].first_ms = T0;
		in[i].packets = 1 + i % 3;
		in[i].bytes = 40 * in[i].packets;
		in[i].src_port = (uint16_t)i;
		in[i].dst_port = 443;
	}
	uint8_t *b = encode_plain(in, n, len);
	free(in);
	return b;
}

/* blk (len bytes) with column col's chunk replaced by ch (uncompressed,
 * encoding enc, width w) and moved to the end of the block, where a read
 * past it is a read past the (exactly allocated) block: a new malloc'ed
 * block, *len updated. */
static uint8_t *chunk_last(const uint8_t *blk, uint32_t *len, unsigned col, uint8_t enc, uint8_t w,
			   const struct pchunk *ch)
{
	unsigned ncols = blk[28], dent = blk_dir_ent(blk);
	size_t dirl = BLK_DIR_OFF + (size_t)ncols * dent, o = dirl;
	uint8_t *out = malloc(*len + ch->len + 8);
	assert_non_null(out);
	memcpy(out, blk, BLK_DIR_OFF);
	const uint8_t *in = blk + dirl;
	unsigned k2 = 0;
	uint8_t mine[BLK_DIR_ENT4];
	for (unsigned k = 0; k < ncols; k++) {
		const uint8_t *de = blk + BLK_DIR_OFF + (size_t)k * dent;
		uint32_t stored = le32_ld(de + 8);
		if (de[0] == col) {
			memcpy(mine, de, dent);
		} else {
			memcpy(out + BLK_DIR_OFF + (size_t)k2++ * dent, de, dent);
			memcpy(out + o, in, stored);
			o += stored;
		}
		in += stored;
	}
	mine[1] = enc;
	mine[2] = COMP_NONE;
	mine[3] = w;
	le32_st(mine + 4, (uint32_t)ch->len);
	le32_st(mine + 8, (uint32_t)ch->len);
	memcpy(out + BLK_DIR_OFF + (size_t)k2 * dent, mine, dent);
	memcpy(out + o, ch->p, ch->len);
	o += ch->len;
	while (o & 7)
		out[o++] = 0;
	le32_st(out + 8, (uint32_t)o);
	seg_blk_seal(out, (uint32_t)o);
	*len = (uint32_t)o;
	uint8_t *exact = malloc(o); /* exact: a read past the block is an ASan report */
	assert_non_null(exact);
	memcpy(exact, out, o);
	free(out);
	return exact;
}

/* Decoded rows 0..ns of column col in c (of a block of n rows) hold
 * want[sel[j]] (want[j] without a selection); what names the check. */
static void same_col(const struct st_cols *c, unsigned col, uint32_t n, const uint32_t *sel,
		     uint32_t ns, const uint64_t *want, const char *what)
{
	unsigned sz = st_col_size(col);
	for (uint32_t j = 0; j < ns; j++) {
		uint32_t i = sel ? sel[j] : j;
		uint64_t v = 0;
		memcpy(&v, (const uint8_t *)c->col[col] + (size_t)j * sz, sz);
		if (v != want[i])
			fail_msg("%s n %u %srow %u: %llu, want %llu", st_col_name(col), n, what, i,
				 (unsigned long long)v, (unsigned long long)want[i]);
	}
}

/* Column col of block blk decoded whole and at a random selection (and at
 * every row): 0 and the values want[] (u64, or u16 for ports), or the
 * error of the whole decode, which selecting every row must give as well
 * unless loose (a selection checks the rows it decodes, not the counts). */
static int check_col_x(const uint8_t *blk, uint32_t len, uint32_t n, unsigned col,
		       const uint64_t *want, uint64_t *x, bool loose)
{
	static uint32_t sel[ST_BLOCK_ROWS_MAX];
	struct seg_blk b = { .p = blk, .len = len, .nrows = n };
	struct blk_dec *d = blk_dec_new();
	struct st_cols c;
	uint32_t m = ST_COL_BIT(col);
	int rc = blk_decode(d, &b, m, &c);
	if (!rc)
		same_col(&c, col, n, NULL, n, want, "");
	for (unsigned pass = 0; pass < 2; pass++) {
		uint32_t ns = 0;
		for (uint32_t i = 0; i < n; i++)
			if (pass || rnd(x) % 4 == 0)
				sel[ns++] = i;
		int r2 = blk_decode_rows(d, &b, m, 0, sel, ns, &c);
		/* selected rows: only they are checked, so a fault elsewhere
		 * may pass; every row: the same verdict as the whole decode */
		if (pass && !loose)
			assert_int_equal(r2, rc);
		if (r2)
			continue;
		assert_int_equal(c.n, ns);
		if (!rc)
			same_col(&c, col, n, sel, ns, want, "sel ");
	}
	blk_dec_free(d);
	return rc;
}

/* A PDICT column asked for as codes with exceptions (a filter's port):
 * the rows' values rebuilt from codes, dictionary and exceptions are the
 * wanted ones; the verdict on a bad chunk is the values' decode's. */
static int check_codes_x(const uint8_t *blk, uint32_t len, uint32_t n, unsigned col,
			 const uint64_t *want)
{
	struct seg_blk b = { .p = blk, .len = len, .nrows = n };
	struct blk_dec *d = blk_dec_new();
	struct st_cols c;
	uint32_t m = ST_COL_BIT(col);
	unsigned sz = st_col_size(col);
	int rc = blk_decode_codes_x(d, &b, m, m, m, &c);
	if (!rc) {
		assert_non_null(c.code[col]);
		assert_non_null(c.xval[col]);
		uint32_t k = 0;
		for (uint32_t i = 0; i < n; i++) {
			uint16_t cd = c.code[col][i];
			uint64_t v = 0;
			assert_true(cd < c.ndict[col]);
			if (cd)
				memcpy(&v, (const uint8_t *)c.dict[col] + (size_t)cd * sz, sz);
			else
				v = c.xval[col][k++];
			if (v != want[i])
				fail_msg("codes: %s n %u row %u: %llu, want %llu", st_col_name(col), n, i,
					 (unsigned long long)v, (unsigned long long)want[i]);
		}
		assert_int_equal(k, c.nx[col]);
	}
	/* without xmask: values, as before */
	assert_int_equal(blk_decode_codes(d, &b, m, m, &c), rc);
	if (!rc)
		assert_null(c.xval[col]);
	blk_dec_free(d);
	return rc;
}

static int check_col(const uint8_t *blk, uint32_t len, uint32_t n, unsigned col,
		     const uint64_t *want, uint64_t *x)
{
	return check_col_x(blk, len, n, col, want, x, false);
}

static const uint32_t pk_ns[] = { 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65,
				  100, 257, 1000, 4099, 65536 };

/* widths to try at n rows: all of 0..56 up to 4099 rows, some above */
static bool pk_width(uint32_t n, unsigned w)
{
	return n <= 4099 || w % 7 == 0 || w == 1 || w == 32 || w == 33 || w == 56;
}

static void test_packed_ints(void **state)
{
	(void)state;
	static uint64_t want[ST_BLOCK_ROWS_MAX], u[ST_BLOCK_ROWS_MAX];
	struct pchunk ch = { 0 };
	uint64_t x = 4242;
	for (size_t t = 0; t < sizeof(pk_ns) / sizeof(pk_ns[0]); t++) {
		uint32_t n = pk_ns[t], len0;
		uint8_t *base = plain_block(n, &len0);
		for (unsigned w = 0; w <= 56; w++) {
			if (!pk_width(n, w))
				continue;
			uint32_t len;
			uint8_t *b;
			/* FOR_BITS packets: min + value */
			uint64_t mn = rnd(&x) >> (w % 3 ? 40 : 0);
			pc_init(&ch);
			pc_u64(&ch, mn);
			pc_u8(&ch, (uint8_t)w);
			pc_begin(&ch);
			for (uint32_t i = 0; i < n; i++) {
				u[i] = rnd_w(&x, w);
				want[i] = mn + u[i];
				pc_bits(&ch, u[i], w);
			}
			pc_end(&ch);
			len = len0;
			b = chunk_last(base, &len, ST_COL_PACKETS, ENC_FOR_BITS, 8, &ch);
			assert_int_equal(check_col(b, len, n, ST_COL_PACKETS, want, &x), 0);
			free(b);

			/* MAXDELTA last_ms: v = ref - (min + value), ref the running max */
			uint64_t ref = T0 + rnd(&x) % 100000;
			mn = w % 2 ? (uint64_t) - (int64_t)(rnd(&x) % 5000) : rnd(&x) % 5000;
			pc_init(&ch);
			pc_u64(&ch, ref);
			pc_u64(&ch, mn);
			pc_u8(&ch, (uint8_t)w);
			pc_begin(&ch);
			for (uint32_t i = 0; i < n; i++) {
				u[i] = rnd_w(&x, w);
				pc_bits(&ch, u[i], w);
				want[i] = ref - (mn + u[i]);
				ref = want[i] > ref ? want[i] : ref;
			}
			pc_end(&ch);
			len = len0;
			b = chunk_last(base, &len, ST_COL_LAST_MS, ENC_MAXDELTA, 8, &ch);
			assert_int_equal(check_col(b, len, n, ST_COL_LAST_MS, want, &x), 0);
			/* and DUR_BITS first_ms on top: last_ms - zigzag decoded */
			uint64_t *lm = malloc((size_t)n * 8);
			assert_non_null(lm);
			memcpy(lm, want, (size_t)n * 8);
			pc_init(&ch);
			pc_u8(&ch, (uint8_t)w);
			pc_begin(&ch);
			for (uint32_t i = 0; i < n; i++) {
				u[i] = rnd_w(&x, w);
				pc_bits(&ch, u[i], w);
				want[i] = lm[i] - (uint64_t)((int64_t)(u[i] >> 1) ^ -(int64_t)(u[i] & 1));
			}
			pc_end(&ch);
			uint32_t len2 = len;
			uint8_t *b2 = chunk_last(b, &len2, ST_COL_FIRST_MS, ENC_DUR_BITS, 8, &ch);
			assert_int_equal(check_col(b2, len2, n, ST_COL_FIRST_MS, want, &x), 0);
			free(b2);
			free(b);

			/* DELTA_BITS last_ms: base + running sum of zigzag deltas */
			uint64_t v = rnd(&x);
			pc_init(&ch);
			pc_u64(&ch, v);
			pc_u8(&ch, (uint8_t)w);
			pc_begin(&ch);
			for (uint32_t i = 0; i < n; i++) {
				u[i] = rnd_w(&x, w);
				pc_bits(&ch, u[i], w);
				v += (uint64_t)((int64_t)(u[i] >> 1) ^ -(int64_t)(u[i] & 1));
				want[i] = v;
			}
			pc_end(&ch);
			len = len0;
			b = chunk_last(base, &len, ST_COL_LAST_MS, ENC_DELTA_BITS, 8, &ch);
			assert_int_equal(check_col(b, len, n, ST_COL_LAST_MS, want, &x), 0);
			free(b);
			free(lm);
		}
		/* corrupt: a width above 56, a length one byte off */
		for (unsigned bad = 0; bad < 3; bad++) {
			unsigned w = bad ? 13 : 57;
			pc_init(&ch);
			pc_u64(&ch, 0);
			pc_u64(&ch, 0);
			pc_u8(&ch, (uint8_t)w);
			ch.len += ((size_t)n * w + 7) / 8;
			if (bad == 1)
				ch.len++;
			if (bad == 2)
				ch.len--;
			uint32_t len = len0;
			uint8_t *b = chunk_last(base, &len, ST_COL_LAST_MS, ENC_MAXDELTA, 8, &ch);
			assert_int_equal(check_col(b, len, n, ST_COL_LAST_MS, want, &x), -EBADMSG);
			free(b);
			len = len0;
			b = chunk_last(base, &len, ST_COL_PACKETS, ENC_FOR_BITS, 8, &ch); /* 8 bytes more */
			if (bad != 1 || (n * w) % 8) /* 17 + l vs 9 + l: only an exact fit decodes */
				assert_int_equal(check_col(b, len, n, ST_COL_PACKETS, want, &x), -EBADMSG);
			free(b);
		}
		free(base);
	}
	free(ch.p);
}

/* Remainder width of an ENC_PERPKT row of divisor d (>= 1): the bits of
 * d - 1. */
static unsigned pp_rbits(uint64_t d)
{
	unsigned rb = 0;
	while (rb < 64 && (d - 1) >> rb)
		rb++;
	return rb;
}

/* An ENC_PERPKT chunk into c: base qmn, quotients q[0..n) at qb bits, and
 * remainders r[0..n) each at the width of its row's divisor (pk[i], 0
 * read as 1). */
static void pp_chunk(struct pchunk *c, const uint64_t *pk, const uint64_t *q, const uint64_t *r,
		     uint32_t n, unsigned qb, uint64_t qmn)
{
	pc_init(c);
	pc_u64(c, qmn);
	pc_u8(c, (uint8_t)qb);
	pc_begin(c);
	for (uint32_t i = 0; i < n; i++)
		pc_bits(c, q[i], qb);
	pc_end(c);
	pc_begin(c);
	for (uint32_t i = 0; i < n; i++)
		pc_bits(c, r[i], pp_rbits(pk[i] ? pk[i] : 1));
	pc_end(c);
}

/* ENC_PERPKT: packet counts of every kind (0 = divisor 1, 1, 2^32 - 1,
 * powers of two and their neighbours), quotients at every width,
 * remainders often at their maximum d - 1; then the faults. */
static void test_perpkt(void **state)
{
	(void)state;
	static uint64_t want[ST_BLOCK_ROWS_MAX], pk[ST_BLOCK_ROWS_MAX];
	struct pchunk pch = { 0 }, ch = { 0 };
	uint64_t x = 777;
	for (size_t t = 0; t < sizeof(pk_ns) / sizeof(pk_ns[0]); t++) {
		uint32_t n = pk_ns[t], len0;
		uint8_t *base = plain_block(n, &len0);
		for (unsigned qb = 0; qb <= 56; qb++) {
			if (!pk_width(n, qb))
				continue;
			/* packets as RAW u64 */
			pc_init(&pch);
			for (uint32_t i = 0; i < n; i++) {
				uint64_t r = rnd(&x);
				unsigned sh = (unsigned)(r % 33);
				switch (r >> 8 & 7) {
				case 0: pk[i] = 0; break;
				case 1: pk[i] = 1; break;
				case 2: pk[i] = 0xffffffffu; break;
				case 3: pk[i] = (1ull << sh) - (sh == 32 || (r >> 12 & 1)); break; /* 2^k, 2^k - 1 */
				case 4: pk[i] = ((1ull << sh) + 1) & 0xffffffffu; break;
				default: pk[i] = (r >> 16) % (qb % 4 ? 1500 : 0xffffffffu) ; break;
				}
				pc_u64(&pch, pk[i]);
			}
			uint64_t qmn = rnd(&x) >> (qb % 2 ? 50 : 8);
			static uint64_t q[ST_BLOCK_ROWS_MAX], rem[ST_BLOCK_ROWS_MAX];
			for (uint32_t i = 0; i < n; i++)
				q[i] = rnd_w(&x, qb);
			for (uint32_t i = 0; i < n; i++) {
				uint64_t d = pk[i] ? pk[i] : 1;
				rem[i] = rnd(&x) % d;
				if (rnd(&x) % 3 == 0)
					rem[i] = d - 1;
				want[i] = (qmn + q[i]) * d + rem[i];
			}
			pp_chunk(&ch, pk, q, rem, n, qb, qmn);
			uint32_t len = len0;
			uint8_t *b1 = chunk_last(base, &len, ST_COL_PACKETS, ENC_RAW, 8, &pch);
			uint8_t *b = chunk_last(b1, &len, ST_COL_BYTES, ENC_PERPKT, 8, &ch);
			free(b1);
			assert_int_equal(check_col(b, len, n, ST_COL_BYTES, want, &x), 0);
			free(b);
			if (qb != 11 && qb != 0)
				continue;
			/* faults, each on every path: a remainder = its divisor, a
			 * divisor of 2^32, a byte more or less of remainders */
			for (unsigned f = 0; f < 4; f++) {
				uint32_t row = (uint32_t)(rnd(&x) % n);
				struct pchunk c2 = { 0 };
				static uint64_t pk2[ST_BLOCK_ROWS_MAX];
				pc_init(&pch);
				for (uint32_t i = 0; i < n; i++) {
					pk2[i] = f == 1 && i == row ? 1ull << 32 : pk[i];
					pc_u64(&pch, pk2[i]);
				}
				bool wrote = false;
				for (uint32_t i = 0; i < n; i++) {
					uint64_t d = pk2[i] ? pk2[i] : 1;
					unsigned rb = pp_rbits(d);
					rem[i] = 0;
					/* d = 1 has no remainder bits: put the fault on a
					 * row with some */
					if (f == 0 && !wrote && i >= row && rb) {
						rem[i] = (1ull << rb) - 1 >= d ? d : (1ull << rb) - 1;
						wrote = rem[i] >= d;
					}
				}
				pp_chunk(&c2, pk2, q, rem, n, qb, qmn);
				if (f == 2)
					c2.len++;
				/* no remainder bytes to drop; every divisor past row
				 * a power of two (no room for a too large remainder) */
				if ((f == 3 && c2.len == 9 + (((size_t)n * qb + 7) / 8)) ||
				    (f == 0 && !wrote)) {
					free(c2.p);
					continue;
				}
				if (f == 3)
					c2.len--;
				len = len0;
				b1 = chunk_last(base, &len, ST_COL_PACKETS, ENC_RAW, 8, &pch);
				b = chunk_last(b1, &len, ST_COL_BYTES, ENC_PERPKT, 8, &c2);
				free(b1);
				assert_int_equal(check_col(b, len, n, ST_COL_BYTES, want, &x), -EBADMSG);
				free(b);
				free(c2.p);
			}
		}
		free(base);
	}
	free(pch.p);
	free(ch.p);
}

/* ---- selected-row fast paths: MAXDELTA's running maximum as a prefix
 * sum, PDICT exception ranks counted 32 codes at a time, DUR varints by
 * 64-byte windows, PERPKT offsets summed per lane, LEB128 runs by 64-byte
 * windows; each against the reference values at selections those paths
 * treat differently ---- */

/* Selection pattern pat (0 .. SEL_PATS-1) of n rows into sel: none, the
 * first, the last, both, every row, every k-th row around the vector
 * widths, random gaps. Returns the count. */
#define SEL_PATS 16
static uint32_t sel_pattern(unsigned pat, uint32_t n, uint64_t *x, uint32_t *sel)
{
	static const uint32_t every[] = { 2, 3, 31, 32, 33, 61, 64, 65, 127, 200 };
	uint32_t ns = 0;
	switch (pat) {
	case 0: return 0;
	case 1: sel[0] = 0; return 1;
	case 2: sel[0] = n - 1; return 1;
	case 3:
		sel[ns++] = 0;
		if (n > 1)
			sel[ns++] = n - 1;
		return ns;
	case 4:
		for (uint32_t i = 0; i < n; i++)
			sel[ns++] = i;
		return ns;
	case 15: /* random gaps of 1 .. 300 */
		for (uint32_t i = (uint32_t)(rnd(x) % 300); i < n; i += 1 + (uint32_t)(rnd(x) % 300))
			sel[ns++] = i;
		return ns;
	}
	uint32_t k = every[pat - 5];
	for (uint32_t i = (uint32_t)(rnd(x) % k); i < n; i += k)
		sel[ns++] = i;
	return ns;
}

/* Column col of blk decoded at every selection pattern: rc0 (0: the rows'
 * values are want[]) from the whole decode, and at each selection rc0 or,
 * where a selection decodes only its rows, what sel_rc says for it (NULL:
 * rc0). */
static void check_sel(const uint8_t *blk, uint32_t len, uint32_t n, unsigned col,
		      const uint64_t *want, uint64_t *x, int rc0,
		      int (*sel_rc)(const uint32_t *sel, uint32_t ns, const void *ctx), const void *ctx)
{
	static uint32_t sel[ST_BLOCK_ROWS_MAX];
	struct seg_blk b = { .p = blk, .len = len, .nrows = n };
	struct blk_dec *d = blk_dec_new();
	struct st_cols c;
	uint32_t m = ST_COL_BIT(col);
	assert_int_equal(blk_decode(d, &b, m, &c), rc0);
	if (!rc0)
		same_col(&c, col, n, NULL, n, want, "");
	for (unsigned pat = 0; pat < SEL_PATS; pat++) {
		uint32_t ns = sel_pattern(pat, n, x, sel);
		int r2 = blk_decode_rows(d, &b, m, 0, sel, ns, &c);
		int exp = sel_rc ? sel_rc(sel, ns, ctx) : rc0;
		if (r2 != exp)
			fail_msg("%s n %u pattern %u (%u rows): %d, want %d", st_col_name(col), n, pat, ns,
				 r2, exp);
		if (r2)
			continue;
		assert_int_equal(c.n, ns);
		char what[32];
		snprintf(what, sizeof(what), "pattern %u ", pat);
		same_col(&c, col, n, sel, ns, want, what);
	}
	blk_dec_free(d);
}

/* MAXDELTA headers on both sides of each bound the prefix sum needs (d as
 * a signed number without overflow, d >= 0 never above base, base + n *
 * max(0, -min) within 64 bits), values that reach them (all d = min: every
 * row raises the maximum as far as it can), and ordinary ones: every row
 * against the definition (ref - d mod 2^64, unsigned maximum). */
static void test_maxdelta_prefix(void **state)
{
	(void)state;
	static uint64_t want[ST_BLOCK_ROWS_MAX];
	static const uint32_t ns_[] = { 1, 2, 3, 4, 5, 7, 8, 9, 31, 33, 64, 65, 1000, 4099, 60000 };
	struct pchunk ch = { 0 };
	uint64_t x = 9001;
	for (size_t t = 0; t < sizeof(ns_) / sizeof(ns_[0]); t++) {
		uint32_t n = ns_[t], len0;
		uint8_t *base_blk = plain_block(n, &len0);
		for (unsigned reg = 0; reg < 26; reg++) {
			unsigned b = (unsigned)(rnd(&x) % 33);
			uint64_t base = T0 + rnd(&x) % 100000, mn, span;
			bool low = false; /* every value 0: d = min on every row */
			switch (reg) {
			case 0: case 1: case 2: /* arrival jitter: d of both signs */
				b = 10 + reg * 3;
				mn = 0 - (rnd(&x) % 5000);
				break;
			case 3: /* min >= 0, every d <= base: the maximum never moves */
				mn = rnd(&x) % 5000;
				break;
			case 4: case 5: /* the largest d = base, then base + 1 (wraps) */
				span = (1ull << b) - 1;
				mn = base - span + (reg == 5);
				break;
			case 6: case 7: case 17: case 18: case 19: case 20: {
				/* base + k * lift within 64 bits, then one lift past
				 * it, for k = n, n - 1, n - 2 rows at the largest lift */
				unsigned back = reg < 17 ? 0 : reg < 19 ? 1 : 2;
				uint64_t k = n > back ? n - back : 1;
				base = ~0ull - rnd(&x) % 1000000;
				mn = 0 - ((~0ull - base) / k + (reg == 7 || reg == 18 || reg == 20));
				if (mn == 0)
					mn = 0 - 1ull;
				b = (unsigned)(rnd(&x) % 4);
				low = true;
				break;
			}
			case 8: case 9: /* min = INT64_MIN */
				base = reg == 8 ? rnd(&x) >> 1 : ~0ull - rnd(&x) % 1000;
				mn = 1ull << 63;
				low = reg == 9;
				break;
			case 10: case 11: /* min + 2^b - 1 at INT64_MAX, then past it */
				span = (1ull << b) - 1;
				mn = (uint64_t)INT64_MAX - span + (reg == 11);
				base = ~0ull - rnd(&x) % 1000;
				break;
			case 12: /* b = 0: every d = min < 0 */
				b = 0;
				mn = 0 - (1 + rnd(&x) % 1000);
				break;
			case 13: case 14: /* widths above 32, min < 0 */
				b = 33 + (unsigned)(rnd(&x) % 24);
				mn = 0 - (rnd(&x) % 5000);
				break;
			case 15: /* every d < 0 */
				b = 1 + (unsigned)(rnd(&x) % 20);
				mn = 0 - (1ull << b) - rnd(&x) % 100;
				break;
			case 16: /* base near 0, large d */
				base = rnd(&x) % 100;
				mn = rnd(&x);
				break;
			default: /* anything */
				base = rnd(&x);
				mn = rnd(&x) >> (rnd(&x) % 64);
				if (rnd(&x) & 1)
					mn = 0 - mn;
				b = (unsigned)(rnd(&x) % 57);
				low = rnd(&x) % 4 == 0;
				break;
			}
			uint64_t ref = base;
			pc_init(&ch);
			pc_u64(&ch, base);
			pc_u64(&ch, mn);
			pc_u8(&ch, (uint8_t)b);
			pc_begin(&ch);
			for (uint32_t i = 0; i < n; i++) {
				uint64_t u = low ? 0 : rnd_w(&x, b);
				pc_bits(&ch, u, b);
				want[i] = ref - (mn + u);
				ref = want[i] > ref ? want[i] : ref;
			}
			pc_end(&ch);
			uint32_t len = len0;
			uint8_t *blk = chunk_last(base_blk, &len, ST_COL_LAST_MS, ENC_MAXDELTA, 8, &ch);
			check_sel(blk, len, n, ST_COL_LAST_MS, want, &x, 0, NULL, NULL);
			free(blk);
		}
		free(base_blk);
	}
	free(ch.p);
}

/* An ENC_PDICT chunk's start into c: the code width b and nd random
 * dictionary values (also into dv). */
static void pd_head(struct pchunk *c, unsigned b, uint32_t nd, uint16_t *dv, uint64_t *x)
{
	pc_init(c);
	pc_u8(c, (uint8_t)b);
	pc_u32(c, nd);
	for (uint32_t j = 0; j < nd; j++) {
		dv[j] = (uint16_t)rnd(x);
		le16_st(c->p + c->len, dv[j]);
		c->len += 2;
	}
}

/* The rank of each exception among the code-0 rows decides which value it
 * gets: a chunk that names fewer exceptions than it has zero codes decodes
 * the rows ranked below the count and rejects the others, so a rank one
 * off shows. Codes with none, some and only exceptions, b 1..8. */
struct pd_ctx {
	const uint32_t *rank; /* per row: rank among the zero codes, or UINT32_MAX */
	uint32_t ne;          /* exceptions the chunk holds */
};

static int pd_sel_rc(const uint32_t *sel, uint32_t ns, const void *ctx)
{
	const struct pd_ctx *p = ctx;
	for (uint32_t j = 0; j < ns; j++)
		if (p->rank[sel[j]] != UINT32_MAX && p->rank[sel[j]] >= p->ne)
			return -EBADMSG;
	return 0;
}

static void test_pdict_sel(void **state)
{
	(void)state;
	static uint64_t want[ST_BLOCK_ROWS_MAX];
	static uint16_t code[ST_BLOCK_ROWS_MAX];
	static uint32_t rank[ST_BLOCK_ROWS_MAX];
	static const unsigned pcts[] = { 0, 100, 2, 50, 98 };
	static const uint32_t ns_[] = { 1, 2, 31, 32, 33, 63, 64, 65, 100, 1000, 4099, 60000 };
	struct pchunk ch = { 0 };
	uint64_t x = 4711;
	for (size_t t = 0; t < sizeof(ns_) / sizeof(ns_[0]); t++) {
		uint32_t n = ns_[t], len0;
		uint8_t *base = plain_block(n, &len0);
		for (unsigned b = 1; b <= 8; b += (b < 4 ? 1 : 4)) {
			for (size_t pi = 0; pi < sizeof(pcts) / sizeof(pcts[0]); pi++) {
				for (unsigned f = 0; f < 2; f++) {
					uint32_t nd = 1 + (uint32_t)(rnd(&x) % ((1u << b) - 1));
					unsigned eb = (unsigned)(rnd(&x) % 17);
					uint16_t dv[255];
					uint32_t nz = 0;
					for (uint32_t i = 0; i < n; i++) {
						code[i] = rnd(&x) % 100 < pcts[pi] ? 0 : (uint16_t)(1 + rnd(&x) % nd);
						rank[i] = code[i] ? UINT32_MAX : nz++;
					}
					/* f = 1: the chunk holds only the first ne of them */
					uint32_t ne = f && nz ? (uint32_t)(rnd(&x) % nz) : nz;
					if (f && !nz)
						continue;
					uint64_t mn = rnd(&x) % (65536 - (1u << eb) + 1);
					pd_head(&ch, b, nd, dv, &x);
					pc_begin(&ch);
					for (uint32_t i = 0; i < n; i++)
						pc_bits(&ch, code[i], b);
					pc_end(&ch);
					pc_u32(&ch, ne);
					pc_u64(&ch, mn);
					pc_u8(&ch, (uint8_t)eb);
					pc_begin(&ch);
					for (uint32_t i = 0; i < n; i++) {
						if (code[i]) {
							want[i] = dv[code[i] - 1];
							continue;
						}
						uint64_t e = rnd_w(&x, eb);
						if (rank[i] < ne)
							pc_bits(&ch, e, eb);
						want[i] = mn + e;
					}
					pc_end(&ch);
					uint32_t len = len0;
					uint8_t *blk = chunk_last(base, &len, ST_COL_SRC_PORT, ENC_PDICT, 2, &ch);
					struct pd_ctx pc = { rank, ne };
					check_sel(blk, len, n, ST_COL_SRC_PORT, want, &x, f ? -EBADMSG : 0,
						  pd_sel_rc, &pc);
					free(blk);
				}
			}
		}
		free(base);
	}
	free(ch.p);
}

/* n LEB128 values of the lengths a mix m gives (1..10 bytes; the value a
 * random one that needs exactly that many) into ch, their values in v[];
 * len[i] the byte count. */
static void leb_body(struct pchunk *ch, uint32_t n, unsigned m, uint64_t *x, uint64_t *v,
		     uint8_t *len)
{
	for (uint32_t i = 0; i < n; i++) {
		uint64_t r = rnd(x);
		unsigned l;
		switch (m) {
		case 0: l = 1 + (unsigned)(r % 10); break;                 /* any */
		case 1: l = 1 + (unsigned)(r % 2); break;                  /* short runs */
		case 2: l = r % 100 < 60 ? 1 : r % 100 < 97 ? 2 : 3 + (unsigned)(r % 8); /* counters */ break;
		case 3: l = 8 + (unsigned)(r % 3); break;                  /* long */
		default: l = (i / 37) % 2 ? 1 : 1 + (unsigned)((i / 74) % 10); break; /* blocks of one length */
		}
		uint64_t lo = l == 1 ? 0 : 1ull << (7 * (l - 1)), hi = l >= 10 ? ~0ull : (1ull << (7 * l)) - 1;
		uint64_t val = lo + rnd(x) % (hi - lo + (hi != ~0ull || lo));
		if (l == 10 && rnd(x) % 4 == 0)
			val = ~0ull;
		v[i] = val;
		len[i] = (uint8_t)l;
		for (unsigned k = 0; k < l; k++)
			ch->p[ch->len++] = (uint8_t)(((val >> (7 * k)) & 0x7f) | (k + 1 < l ? 0x80 : 0));
	}
}

/* The selections with a row whose value is more than 10 bytes fail; the
 * others decode (only the selected values are parsed). */
struct long_ctx {
	uint32_t row;
};

static int long_sel_rc(const uint32_t *sel, uint32_t ns, const void *ctx)
{
	const struct long_ctx *p = ctx;
	for (uint32_t j = 0; j < ns; j++)
		if (sel[j] == p->row)
			return -EBADMSG;
	return 0;
}

/* DUR first_ms (selected rows: varints_sel) and VARINT packets (whole:
 * get_varints) of 1..10-byte values; then a value of 11 bytes at a random
 * row, a value more or less than n, a last byte that continues and a value
 * longer than a 64-byte window (only a selection without it decodes). */
static void test_varint_walks(void **state)
{
	(void)state;
	static uint64_t want[ST_BLOCK_ROWS_MAX], v[ST_BLOCK_ROWS_MAX + 1];
	static uint8_t lens[ST_BLOCK_ROWS_MAX + 1];
	static const uint32_t ns_[] = { 1, 2, 7, 8, 9, 15, 16, 17, 63, 64, 65, 100, 1000, 4099, 60000 };
	struct pchunk ch = { 0 };
	uint64_t x = 2718;
	for (size_t t = 0; t < sizeof(ns_) / sizeof(ns_[0]); t++) {
		uint32_t n = ns_[t], len0;
		uint8_t *base = plain_block(n, &len0); /* last_ms = T0 + i */
		for (unsigned mix = 0; mix < 5; mix++) {
			for (unsigned f = 0; f < 6; f++) {
				pc_init(&ch);
				leb_body(&ch, n + (f == 2), mix, &x, v, lens);
				uint32_t lrow = UINT32_MAX;
				if (f == 1 || f == 5) {
					/* one value 11 bytes long, or (5) longer than a
					 * 64-byte window and ending at the last byte of
					 * one: the next value starts a window */
					lrow = (uint32_t)(rnd(&x) % n);
					size_t at = 0, l = 11;
					for (uint32_t i = 0; i < lrow; i++)
						at += lens[i];
					if (f == 5)
						l = (63 - at % 64) + 1 + 64;
					memmove(ch.p + at + l, ch.p + at + lens[lrow], ch.len - at - lens[lrow]);
					memset(ch.p + at, 0xff, l - 1);
					ch.p[at + l - 1] = 1;
					ch.len += l - lens[lrow];
				}
				if (f == 3) { /* one value fewer */
					if (n == 1)
						continue;
					ch.len -= lens[n - 1];
				}
				if (f == 4) /* the last byte continues */
					ch.p[ch.len - 1] |= 0x80;
				for (uint32_t i = 0; i < n; i++)
					want[i] = T0 + i - (uint64_t)((int64_t)(v[i] >> 1) ^ -(int64_t)(v[i] & 1));
				uint32_t len = len0;
				uint8_t *blk = chunk_last(base, &len, ST_COL_FIRST_MS, ENC_DUR, 8, &ch);
				struct long_ctx lc = { lrow };
				check_sel(blk, len, n, ST_COL_FIRST_MS, want, &x, f ? -EBADMSG : 0,
					  lrow != UINT32_MAX ? long_sel_rc : NULL, &lc);
				if (lrow != UINT32_MAX && lrow + 1 < n) {
					/* the row after it alone: found from the long one's end */
					struct seg_blk sb = { .p = blk, .len = len, .nrows = n };
					struct blk_dec *d = blk_dec_new();
					struct st_cols c;
					uint32_t one = lrow + 1;
					assert_int_equal(blk_decode_rows(d, &sb, ST_COL_BIT(ST_COL_FIRST_MS), 0,
									 &one, 1, &c), 0);
					assert_true(((const uint64_t *)c.col[ST_COL_FIRST_MS])[0] == want[one]);
					blk_dec_free(d);
				}
				free(blk);
				len = len0;
				blk = chunk_last(base, &len, ST_COL_PACKETS, ENC_VARINT, 8, &ch);
				check_sel(blk, len, n, ST_COL_PACKETS, v, &x, f ? -EBADMSG : 0, NULL, NULL);
				free(blk);
			}
		}
		free(base);
	}
	free(ch.p);
}

/* ENC_PERPKT at the sparse selections (the offsets of the rows between
 * them summed per lane), packet counts of every kind. */
static void test_perpkt_sel(void **state)
{
	(void)state;
	static uint64_t want[ST_BLOCK_ROWS_MAX], pk[ST_BLOCK_ROWS_MAX];
	static const uint32_t ns_[] = { 1, 2, 3, 4, 5, 7, 8, 9, 31, 32, 33, 64, 65, 1000, 4099, 60000 };
	struct pchunk pch = { 0 }, ch = { 0 };
	uint64_t x = 1618;
	for (size_t t = 0; t < sizeof(ns_) / sizeof(ns_[0]); t++) {
		uint32_t n = ns_[t], len0;
		uint8_t *base = plain_block(n, &len0);
		for (unsigned f = 0; f < 4; f++) {
			unsigned qb = (unsigned)(rnd(&x) % 33);
			uint32_t brow = (uint32_t)(rnd(&x) % n);
			pc_init(&pch);
			for (uint32_t i = 0; i < n; i++) {
				uint64_t r = rnd(&x);
				unsigned sh = (unsigned)(r % 33);
				switch (r >> 8 & 3) {
				case 0: pk[i] = r >> 20 & 1; break;
				case 1: pk[i] = (1ull << sh) - (sh == 32 || (r >> 12 & 1)); break;
				default: pk[i] = 1 + (r >> 16) % 1500; break;
				}
				if (f == 1 && i == brow)
					pk[i] = 1ull << 32; /* a divisor too large */
				pc_u64(&pch, pk[i]);
			}
			uint64_t qmn = rnd(&x) >> 40;
			static uint64_t q[ST_BLOCK_ROWS_MAX], rem[ST_BLOCK_ROWS_MAX];
			for (uint32_t i = 0; i < n; i++)
				q[i] = rnd_w(&x, qb);
			for (uint32_t i = 0; i < n; i++) {
				uint64_t d = pk[i] ? pk[i] : 1;
				rem[i] = rnd(&x) % 2 ? d - 1 : rnd(&x) % d;
				want[i] = (qmn + q[i]) * d + rem[i];
			}
			pp_chunk(&ch, pk, q, rem, n, qb, qmn);
			if (f == 2)
				ch.len++;
			if (f == 3) {
				if (ch.len == 9 + ((size_t)n * qb + 7) / 8)
					continue;
				ch.len--;
			}
			uint32_t len = len0;
			uint8_t *b1 = chunk_last(base, &len, ST_COL_PACKETS, ENC_RAW, 8, &pch);
			uint8_t *b = chunk_last(b1, &len, ST_COL_BYTES, ENC_PERPKT, 8, &ch);
			free(b1);
			check_sel(b, len, n, ST_COL_BYTES, want, &x, f ? -EBADMSG : 0, NULL, NULL);
			free(b);
		}
		free(base);
	}
	free(pch.p);
	free(ch.p);
}

/* ENC_PDICT port columns: code widths 1..8, dictionaries of 1..2^b - 1
 * entries, exceptions at 0..56 bits (values < 2^16), rows of every kind;
 * then an exception too wide for the column and a wrong count. */
static void test_pdict(void **state)
{
	(void)state;
	static uint64_t want[ST_BLOCK_ROWS_MAX];
	static uint16_t code[ST_BLOCK_ROWS_MAX];
	struct pchunk ch = { 0 };
	uint64_t x = 31337;
	for (size_t t = 0; t < sizeof(pk_ns) / sizeof(pk_ns[0]); t++) {
		uint32_t n = pk_ns[t], len0;
		uint8_t *base = plain_block(n, &len0);
		for (unsigned b = 1; b <= 8; b++) {
			for (unsigned eb = 0; eb <= 56; eb += (n > 4099 ? 8 : 1) + (eb >= 17 ? 6 : 0)) {
				for (unsigned f = 0; f < 3; f++) {
					uint32_t nd = 1 + (uint32_t)(rnd(&x) % ((1u << b) - 1));
					uint16_t dv[255];
					uint32_t ne = 0, pct = (uint32_t)(rnd(&x) % 101);
					/* exceptions: min + value < 2^16 however wide eb is */
					uint64_t mn = eb >= 16 ? 0 : rnd(&x) % (65536 - (1u << eb) + 1);
					if (eb > 16)
						mn = 0;
					pd_head(&ch, b, nd, dv, &x);
					pc_begin(&ch);
					for (uint32_t i = 0; i < n; i++) {
						code[i] = rnd(&x) % 100 < pct ? 0 : (uint16_t)(1 + rnd(&x) % nd);
						ne += !code[i];
						pc_bits(&ch, code[i], b);
					}
					pc_end(&ch);
					pc_u32(&ch, ne + (f == 2));
					pc_u64(&ch, mn);
					pc_u8(&ch, (uint8_t)eb);
					pc_begin(&ch);
					uint32_t k = 0, badrow = UINT32_MAX;
					for (uint32_t i = 0; i < n; i++) {
						if (code[i]) {
							want[i] = dv[code[i] - 1];
							continue;
						}
						unsigned ew = eb > 16 ? 16 : eb;
						uint64_t e = rnd_w(&x, ew);
						if (mn + e > 0xffff)
							e = 0xffff - mn;
						if (f == 1 && badrow == UINT32_MAX && eb > 16) {
							e = 0x10000; /* does not fit the column */
							badrow = i;
						}
						pc_bits(&ch, e, eb);
						want[i] = mn + e;
						k++;
					}
					if (f == 2)
						pc_bits(&ch, 0, eb); /* the extra one the count names */
					pc_end(&ch);
					if (f == 1 && badrow == UINT32_MAX)
						continue;
					uint32_t len = len0;
					uint8_t *blk = chunk_last(base, &len, ST_COL_DST_PORT, ENC_PDICT, 2, &ch);
					int rc = check_col_x(blk, len, n, ST_COL_DST_PORT, want, &x, f == 2);
					assert_int_equal(rc, f ? -EBADMSG : 0);
					assert_int_equal(check_codes_x(blk, len, n, ST_COL_DST_PORT, want), rc);
					free(blk);
				}
			}
		}
		free(base);
	}
	free(ch.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c),
		cmocka_unit_test(test_roundtrip_lz4),
		cmocka_unit_test(test_roundtrip_zstd),
		cmocka_unit_test(test_roundtrip_none),
		cmocka_unit_test(test_column_subset),
		cmocka_unit_test(test_uncommitted_dropped),
		cmocka_unit_test(test_torn_tail),
		cmocka_unit_test(test_flip_middle),
		cmocka_unit_test(test_marks),
		cmocka_unit_test(test_retention),
		cmocka_unit_test(test_v2_encodings),
		cmocka_unit_test(test_partitions),
		cmocka_unit_test(test_shared),
		cmocka_unit_test(test_codes_and_rows),
		cmocka_unit_test(test_unpack16),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_dict_mix),
		cmocka_unit_test(test_dict_mix_corrupt),
		cmocka_unit_test(test_dict_mix_gaps),
		cmocka_unit_test(test_maxdelta_prefix),
		cmocka_unit_test(test_pdict_sel),
		cmocka_unit_test(test_varint_walks),
		cmocka_unit_test(test_perpkt_sel),
		cmocka_unit_test(test_packed_ints),
		cmocka_unit_test(test_perpkt),
		cmocka_unit_test(test_pdict),
		cmocka_unit_test(test_chunk_crcs),
		cmocka_unit_test(test_fetch),
		cmocka_unit_test(test_v3_segments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
