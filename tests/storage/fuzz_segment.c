/* fuzz_segment.c — libFuzzer target for the segment/block reader.
 *
 * The input is a segment file. It is walked twice: as it is (header and
 * block CRCs decide, as for a real file), and "repaired": the harness
 * recomputes the header CRC and the CRC of every block found by following
 * the length fields, so that mutations reach the zone map, directory, chunk
 * decompression and column decoders behind the checksum. Every good block
 * is decoded in full and rebuilt into records. Any crash, sanitizer report
 * or out-of-bounds access is a bug: a reader must survive any bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "seg.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const uint8_t *buf, size_t len, struct blk_dec *dec)
{
	static struct flow_rec recs[ST_BLOCK_ROWS_MAX];
	static char arena[1 << 20];
	struct seg_walk w;
	if (seg_walk_init(&w, buf, len))
		return;
	struct seg_blk b;
	while (seg_walk_next(&w, &b) == 1) {
		struct st_cols c;
		size_t al;
		if (blk_decode(dec, &b, ST_COLS_ALL, &c) == 0)
			(void)st_cols_to_recs(&c, recs, arena, sizeof(arena), &al);
		/* partial column sets take other paths (first_ms without last_ms) */
		(void)blk_decode(dec, &b, ST_COL_BIT(ST_COL_FIRST_MS) | ST_COL_BIT(ST_COL_SNI), &c);
	}
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
		if (!memcmp(c + pos, BLK_MAGIC, 4) || !memcmp(c + pos, FTR_MAGIC, 4))
			le32_st(c + pos + 4, st_crc32c(c + pos + 8, len - 8));
		pos += len;
	}
	walk(c, size, dec);
	free(c);
	return 0;
}
