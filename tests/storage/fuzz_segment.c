/* fuzz_segment.c — libFuzzer target for the segment/block reader.
 *
 * The input is a segment file. It is walked twice: as it is (header and
 * block CRCs decide, as for a real file), and "repaired": the harness
 * recomputes the header CRC and the CRC of every block found by following
 * the length fields, so that mutations reach the zone map, directory, chunk
 * decompression and column decoders behind the checksum. Every good block
 * is decoded in full and rebuilt into records, and again as dictionary
 * codes and at a selection of rows (the query engine's paths); a sealed
 * file's footer index is followed too, each block it names read whole and,
 * version 4, in part (its head, then chunks as the decoder asks for them,
 * as the store's reader does). Any crash, sanitizer report
 * or out-of-bounds access is a bug: a reader must survive any bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "seg.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* a block read in part: its bytes in the "file", our buffer */
struct part {
	const uint8_t *src;
	uint8_t *buf;
	uint64_t have;
};

static int part_read(void *ctx, uint8_t *dst, uint32_t n, uint64_t at)
{
	struct part *pt = ctx;
	memcpy(dst, pt->src + at, n);
	return 0;
}

static int part_fetch(void *ctx, uint64_t colmask)
{
	struct part *pt = ctx;
	return seg_blk_fetch(pt->buf, colmask, &pt->have, part_read, pt);
}

/* The block of bl bytes at src read as the reader reads version 4. */
static void read_part(const uint8_t *src, uint32_t bl, uint64_t off, struct blk_dec *dec)
{
	uint8_t *buf = malloc(bl ? bl : 1);
	if (!buf)
		return;
	uint32_t got = bl < BLK_HEAD_MAX ? bl : BLK_HEAD_MAX;
	memcpy(buf, src, got);
	struct part pt = { src, buf, 0 };
	struct seg_blk b;
	if (seg_blk_head(buf, got, bl, off, &b) == 1) {
		b.fetch = part_fetch;
		b.ctx = &pt;
		b.have = &pt.have;
		struct st_cols c;
		uint32_t am = ST_COL_BIT(ST_COL_SRC_ADDR) | ST_COL_BIT(ST_COL_DST_PORT);
		static uint32_t sel[ST_BLOCK_ROWS_MAX];
		uint32_t ns = 0;
		for (uint32_t i = 0; i < b.nrows && i < ST_BLOCK_ROWS_MAX; i += 7)
			sel[ns++] = i;
		if (blk_decode_codes(dec, &b, am, am, &c) == 0)
			(void)blk_decode_rows(dec, &b, ST_COLS_ALL & ~am, 0, sel, ns, &c);
		(void)blk_decode(dec, &b, ST_COL_BIT(ST_COL_BYTES) | ST_COL_BIT(ST_COL_NEXT_HOP), &c);
	}
	free(buf);
}

static void walk(const uint8_t *buf, size_t len, struct blk_dec *dec)
{
	static struct flow_rec recs[ST_BLOCK_ROWS_MAX];
	static char arena[1 << 20];
	struct seg_walk w;
	if (seg_walk_init(&w, buf, len))
		return;
	struct seg_blk b;
	size_t al;
	while (seg_walk_next(&w, &b) == 1) {
		struct st_cols c;
		if (blk_decode(dec, &b, ST_COLS_ALL, &c) == 0)
			(void)st_cols_to_recs(&c, recs, arena, sizeof(arena), &al);
		/* partial column sets take other paths (first_ms without last_ms) */
		(void)blk_decode(dec, &b, ST_COL_BIT(ST_COL_FIRST_MS) | ST_COL_BIT(ST_COL_SNI), &c);
		/* codes: every dictionary column read through its codes */
		if (blk_decode_codes(dec, &b, ST_COLS_ALL, ST_COLS_ALL, &c) == 0) {
			for (unsigned k = 0; k < ST_COL_MAX; k++) {
				if (!c.code[k])
					continue;
				unsigned w = st_col_size((enum st_col)k);
				volatile uint8_t sink = 0;
				for (uint32_t i = 0; i < c.n; i++) {
					if (c.code[k][i] >= c.ndict[k])
						abort(); /* the decoder promised codes in range */
					sink ^= ((const uint8_t *)c.dict[k])[(size_t)c.code[k][i] * w + w - 1];
				}
				(void)sink;
			}
		}
		/* a selection: every third row */
		static uint32_t sel[ST_BLOCK_ROWS_MAX];
		uint32_t ns = 0;
		for (uint32_t i = 1; i < b.nrows && i < ST_BLOCK_ROWS_MAX; i += 3)
			sel[ns++] = i;
		if (blk_decode_rows(dec, &b, ST_COLS_ALL, ns & 1 ? ST_COLS_ALL : 0, sel, ns, &c) == 0)
			(void)st_cols_to_recs(&c, recs, arena, sizeof(arena), &al);
	}
	/* the footer's index, as readers of sealed segments follow it: the
	 * footer and each block it names copied out on their own */
	if (len < SEG_HDR_LEN + FTR_HDR_LEN + TRL_LEN || memcmp(buf + len - 8, TRL_MAGIC, 8))
		return;
	uint64_t fo = le64_ld(buf + len - TRL_LEN);
	if (fo < SEG_HDR_LEN || fo > len - TRL_LEN - FTR_HDR_LEN)
		return;
	uint32_t flen = le32_ld(buf + fo + 8), n;
	if (flen < FTR_HDR_LEN || fo + flen + TRL_LEN != len)
		return;
	uint8_t *f = malloc(flen);
	if (!f)
		return;
	memcpy(f, buf + fo, flen);
	if (seg_footer_buf(f, flen, fo, len, &n) == 1)
		for (uint32_t i = 0; i < n; i++) {
			const uint8_t *e = f + FTR_HDR_LEN + (size_t)i * FTR_ENT_LEN;
			uint64_t off = le64_ld(e);
			uint32_t bl = le32_ld(e + 8);
			if (off < SEG_HDR_LEN || off > fo || bl > fo - off)
				continue;
			uint8_t *blk = malloc(bl ? bl : 1);
			if (!blk)
				break;
			memcpy(blk, buf + off, bl);
			struct st_cols c;
			if (seg_blk_check(blk, bl, off, &b) == 1)
				(void)blk_decode(dec, &b, ST_COL_BIT(ST_COL_BYTES), &c);
			read_part(blk, bl, off, dec);
			free(blk);
		}
	free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct blk_dec *dec;
	if (!dec && !(dec = blk_dec_new()))
		abort();
	walk(data, size, dec);
	if (size < SEG_HDR_LEN || size > (16u << 20))
		return 0;
	uint8_t *c = malloc(size);
	if (!c)
		return 0;
	memcpy(c, data, size);
	memcpy(c, SEG_MAGIC, 8);
	le16_st(c + 8, SEG_VERSION);
	le32_st(c + 12, SEG_HDR_LEN);
	le32_st(c + 60, st_crc32c(c, 60));
	size_t pos = SEG_HDR_LEN;
	while (pos + 12 <= size) {
		uint32_t len = le32_ld(c + pos + 8);
		if (len < BLK_DIR_OFF || len > size - pos || (len & 7))
			break;
		if (!memcmp(c + pos, BLK_MAGIC, 4))
			seg_blk_seal(c + pos, len);
		else if (!memcmp(c + pos, FTR_MAGIC, 4))
			le32_st(c + pos + 4, st_crc32c(c + pos + 8, len - 8));
		pos += len;
	}
	walk(c, size, dec);
	free(c);
	return 0;
}
