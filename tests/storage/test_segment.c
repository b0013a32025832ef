/* test_segment.c — storage library: write/read round trips, crash recovery,
 * corruption handling, marks, retention (suite 'storage'). */
#include <errno.h>
#include <fcntl.h>
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

/* Blocks of partition part/np: appended to ids; returns corrupt blocks. */
static uint64_t read_part(const char *dir, unsigned part, unsigned np, struct blk_id *ids,
			  size_t *nids)
{
	struct st_reader *r = st_reader_open_part(dir, 0, UINT64_MAX, part, np);
	assert_non_null(r);
	const struct st_block *b;
	while (st_reader_next(r, &b) == 1) {
		struct st_cols c;
		assert_int_equal(st_reader_decode(r, b, ST_COL_BIT(ST_COL_LAST_MS), &c), 0);
		struct blk_id *id = &ids[(*nids)++];
		memset(id, 0, sizeof(*id));
		snprintf(id->path, sizeof(id->path), "%s", st_block_segment(b));
		id->first_min = st_block_zone(b)->first_min;
		id->last_max = st_block_zone(b)->last_max;
		id->rows = c.n;
		for (uint32_t i = 0; i < c.n; i++)
			id->sum_last += ((const uint64_t *)c.col[ST_COL_LAST_MS])[i];
	}
	struct st_reader_stats rs;
	st_reader_stats(r, &rs);
	st_reader_close(r);
	return rs.blocks_corrupt;
}

/* Partitioned readers: together they return every block exactly once
 * (sealed segments through the footer index, open ones by walking), and
 * a corrupt block is counted once, by its owner. */
static void test_partitions(void **state)
{
	(void)state;
	char *dir = tmpdir_make();
	struct st_store *s = open_store(dir, ST_CODEC_LZ4, 500, NULL);
	feed(s, NULL, 5000, T0 + 1, 0);
	assert_int_equal(st_store_commit(s, T0 + WIN + 1), 0); /* first window sealed */
	feed(s, NULL, 2500, T0 + WIN + 2, 0);
	assert_int_equal(st_store_commit(s, T0 + WIN + 3), 0); /* second still open */
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
		assert_int_equal(n, nall);
		qsort(parts, n, sizeof(*parts), blk_id_cmp);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(blk_id_cmp(&all[i], &parts[i]), 0);
	}
	st_store_close(s);
	/* damage one block of the sealed segment: every partition still reads,
	 * and the damage is counted exactly once over the partitions */
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
		assert_int_equal(dir[ST_COL_SRC_ADDR * BLK_DIR_ENT + 1], ENC_DICT_HOT);
		assert_int_equal(dir[ST_COL_SRC_AS * BLK_DIR_ENT + 1], ENC_DEP);
		assert_int_equal(dir[ST_COL_DST_MASK * BLK_DIR_ENT + 1], ENC_DEP);
		assert_int_equal(dir[ST_COL_SRC_PORT * BLK_DIR_ENT + 1], ENC_PDICT);
		assert_int_equal(dir[ST_COL_DST_PORT * BLK_DIR_ENT + 1], ENC_DICT);
		assert_int_equal(dir[ST_COL_BYTES * BLK_DIR_ENT + 1], ENC_PERPKT);
		assert_int_equal(dir[ST_COL_LAST_MS * BLK_DIR_ENT + 1], ENC_MAXDELTA);
		struct seg_blk b = { .p = o, .len = len, .nrows = N };
		struct blk_dec *d = blk_dec_new();
		struct st_cols c;
		size_t al;
		assert_int_equal(blk_decode(d, &b, ST_COLS_ALL, &c), 0);
		assert_int_equal(st_cols_to_recs(&c, out, arena, sizeof(arena), &al), 0);
		for (uint32_t i = 0; i < N; i++) {
			const char *why = rec_diff(&in[i], arena, &out[i], arena);
			if (why)
				fail_msg("codec %d row %u differs in %s", codec, i, why);
		}
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
		cmocka_unit_test(test_codes_and_rows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
