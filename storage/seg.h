/* seg.h — internal: on-disk layout constants (FORMAT.md), block encoder,
 * and the bounded parser of segment bytes used by readers, recovery,
 * `flowdelta store verify` and the fuzz target. */
#ifndef STORAGE_SEG_H
#define STORAGE_SEG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define SEG_MAGIC "FLOWDSEG"
#define SEG_VERSION ST_FORMAT_VERSION /* written; readers also take 1 to 3 */
#define SEG_VERSION_MIN 1
#define SEG_HDR_LEN 64
#define BLK_MAGIC "FDBK"
#define FTR_MAGIC "FDFT"
#define TRL_MAGIC "FDSEGEND"
#define TRL_LEN 16
#define BLK_HDR_LEN 32
#define BLK_ZONE_LEN 160
#define BLK_DIR_OFF (BLK_HDR_LEN + BLK_ZONE_LEN) /* 192 */
#define BLK_DIR_ENT 12  /* versions 1 to 3 */
#define BLK_DIR_ENT4 16 /* version 4: the entry ends with its chunk's CRC-32C */
#define BLK_LAYOUT4 4   /* header byte 30 of a version-4 block */
/* a block head (header, zone map, directory) is never longer than this */
#define BLK_HEAD_MAX (BLK_DIR_OFF + 64 * BLK_DIR_ENT4)
/* directory entry size of the block whose header is at p */
static inline unsigned blk_dir_ent(const uint8_t *p)
{
	return p[30] == BLK_LAYOUT4 ? BLK_DIR_ENT4 : BLK_DIR_ENT;
}
#define BLK_MAX_LEN (64u << 20) /* cap on a block length read from disk */
#define FTR_HDR_LEN 40
#define FTR_ENT_LEN 32

/* column encodings (FORMAT.md §5) */
enum {
	ENC_RAW = 0,     /* n x width, little-endian */
	ENC_CONST = 1,   /* one value of width bytes */
	ENC_PLANES = 2,  /* byte k of every value, then byte k+1, ... */
	ENC_DICT = 3,    /* u32 ndict, values, n indices of 1 or 2 bytes */
	ENC_VARINT = 4,  /* n LEB128 */
	ENC_DELTA = 5,   /* u64 base, n zigzag LEB128 deltas from the previous */
	ENC_DUR = 6,     /* n zigzag LEB128 of last_ms - first_ms */
	ENC_STRDICT = 7, /* u32 ndict, ndict x (u16 len, bytes), n LEB128 indices */
	ENC_DELTA_BITS = 8, /* u64 base, u8 w, n zigzag deltas packed at w bits */
	ENC_DUR_BITS = 9,   /* u8 w, n zigzag durations packed at w bits */
	ENC_FOR_BITS = 10,  /* u64 min, u8 w, n values - min packed at w bits */
	ENC_DEP = 11,       /* u8 parent, then a DICT of one value per parent entry */
	ENC_PDICT = 12,     /* frequent values as b-bit codes, the rest as exceptions */
	ENC_PERPKT = 13,    /* value / packets at a fixed width, value % packets */
	ENC_DICT_DELTA = 14, /* DICT of IPv4 addresses, ascending, as LEB128 gaps */
	ENC_DICT_HOT = 15,   /* DICT_DELTA entries; frequent ones get short codes */
	ENC_MAXDELTA = 16,   /* times below the running maximum, packed */
	ENC_DICT_MIX = 17,   /* DICT of IPv4 (as gaps) and IPv6 (front-coded) entries */
};

enum { COMP_NONE = 0, COMP_LZ4 = 1, COMP_ZSTD = 2 };

struct seg_hdr {
	uint16_t version;
	uint8_t codec;
	uint64_t win_start_ms;
	uint32_t win_len_ms;
	uint32_t part;
	uint64_t created_ms;
};

void seg_hdr_write(uint8_t out[SEG_HDR_LEN], const struct seg_hdr *h);
/* 0 or -EBADMSG (magic, version, CRC). */
int seg_hdr_read(const uint8_t *buf, size_t len, struct seg_hdr *h);

/* One complete block found in a buffer (pointers into it). */
struct seg_blk {
	const uint8_t *p;
	uint32_t len;
	uint64_t off;
	uint32_t nrows;
	uint32_t raw_len;
	uint64_t commit;
	struct st_zone zone;
	/* A version-4 block read in part (seg_blk_head): p holds its head and
	 * the chunks of the columns in *have (checked); the decoder calls
	 * fetch(ctx, columns) before it uses any other chunk. NULL: the
	 * whole block is in p and checked. */
	int (*fetch)(void *ctx, uint64_t colmask);
	void *ctx;
	const uint64_t *have;
};

/* Walk the blocks of a segment held in memory. Never reads outside buf. */
struct seg_walk {
	const uint8_t *buf;
	size_t len;
	size_t pos;
	struct seg_hdr hdr;
	bool done;
	/* what the walk found so far */
	uint64_t blocks_ok;
	uint64_t blocks_bad;    /* bad CRC or garbage, skipped */
	uint64_t bytes_bad;
	uint64_t tail_bytes;    /* incomplete block (or garbage) at the end */
	uint64_t tail_off;      /* where the incomplete tail starts */
	uint64_t good_end;      /* end of the last complete good block */
	bool sealed;            /* a valid footer was reached */
	uint64_t footer_off;
	bool last_bad;          /* the last thing returned/skipped was bad */
	/* set after init by a reader that checks chunks as it decodes them
	 * (seg_blk_fetch without read): version-4 blocks are then found by
	 * their head's CRC and extents alone */
	bool heads_only;
};

int seg_walk_init(struct seg_walk *w, const uint8_t *buf, size_t len);
/* 1: *b is the next good block; 0: end (footer, tail or EOF). */
int seg_walk_next(struct seg_walk *w, struct seg_blk *b);

/* Sealed segments read without mapping them (FORMAT.md §6, §8): a footer
 * read on its own -- 1 and its entry count when magic, CRC, length and
 * position check out -- and a block read on its own -- 1 (*b filled,
 * pointing into p) when its magic, length and CRC hold. */
int seg_footer_buf(const uint8_t *f, size_t flen, uint64_t foff, uint64_t fsize, uint32_t *n);
int seg_blk_check(const uint8_t *p, uint32_t len, uint64_t off, struct seg_blk *b);
/* Write the CRCs of the block of len >= BLK_DIR_OFF bytes at p for its
 * layout (byte 30): version 4 each chunk's that lies inside len, then the
 * head's; versions 1-3 the one over everything. The writer's last step;
 * tests and the fuzz target use it after changing a block's bytes. */
void seg_blk_seal(uint8_t *p, uint32_t len);
/* The head of a version-4 block of len bytes at file offset off, its first
 * got bytes in p (got >= len or got >= BLK_HEAD_MAX): 1 (*b filled, no
 * chunk present yet, fetch unset) when its magic, length, layout, head
 * CRC and chunk extents hold, else 0. Blocks of versions 1 to 3 have one
 * CRC over everything: 0, read them whole. */
int seg_blk_head(const uint8_t *p, uint32_t got, uint32_t len, uint64_t off, struct seg_blk *b);
/* Bring the chunks of the columns in colmask that *have lacks into p (the
 * buffer of a block whose head seg_blk_head accepted, with room for the
 * whole block): read(ctx, dst, n, at)
 * fills dst with the n block bytes from block offset at (ranges of close
 * chunks are read at once), then each chunk's CRC is checked and its
 * column added to *have. 0, -EBADMSG on a bad chunk, or read's error.
 * Columns the block lacks are left to the decoder to report. */
int seg_blk_fetch(uint8_t *p, uint64_t colmask, uint64_t *have,
		  int (*read)(void *ctx, uint8_t *dst, uint32_t n, uint64_t at), void *ctx);
/* The same for a block held whole (mapped) whose chunks were not checked
 * (a heads_only walk): only the CRCs of the chunks asked for are. */
int seg_blk_check_chunks(const uint8_t *p, uint64_t colmask, uint64_t *have);

/* ---- block encoder ---- */

/* Rows of one block in columns: col[c] holds n elements of st_col_size(c)
 * for every fixed column; strings as per-row arena offset/length. */
struct blk_src {
	uint32_t n;
	const void *col[ST_COL_MAX];
	const uint32_t *str_off[FLOW_STR_MAX];
	const uint16_t *str_len[FLOW_STR_MAX];
	const char *arena;
};

struct blk_enc;
struct blk_enc *blk_enc_new(enum st_codec codec, int level);
void blk_enc_free(struct blk_enc *e);
/* Encode rows into a complete block (header, zone, directory, chunks,
 * padding, CRC). *out valid until the next call. 0 or -ENOMEM/-EINVAL. */
int blk_encode(struct blk_enc *e, const struct blk_src *src, uint64_t commit, const uint8_t **out,
	       uint32_t *out_len, uint32_t *raw_len);

/* Column storage for up to cap rows (the store's pending rows, tests). */
struct colbuf {
	uint32_t n, cap;
	void *col[ST_COL_MAX];
	uint32_t *str_off[FLOW_STR_MAX];
	uint16_t *str_len[FLOW_STR_MAX];
	bool str_dirty; /* a length may be non-zero (else all are, from init) */
};
int colbuf_init(struct colbuf *cb, uint32_t cap);
void colbuf_free(struct colbuf *cb);
/* Append one record (strings: offsets are kept as given). */
void colbuf_put(struct colbuf *cb, const struct flow_rec *r);
/* Append n records without their strings (no arena: every length 0);
 * the caller checked the room. */
void colbuf_put_nostr(struct colbuf *cb, const struct flow_rec *recs, uint32_t n);
/* Drop the first k rows. */
void colbuf_shift(struct colbuf *cb, uint32_t k);
/* View of rows [0, n) as a block source. */
void colbuf_src(const struct colbuf *cb, uint32_t n, const char *arena, struct blk_src *src);

/* ---- block decoder ---- */
struct blk_dec;
struct blk_dec *blk_dec_new(void);
void blk_dec_free(struct blk_dec *d);
/* Remember which compressed chunk each column's buffer holds, so decoding
 * the same block again skips decompression. Only for callers whose block
 * bytes stay put: turning it on (or off) forgets, and so must a caller
 * whose buffers move (the reader does it on every unmap). */
void blk_dec_cache(struct blk_dec *d, bool on);
int blk_decode(struct blk_dec *d, const struct seg_blk *b, uint32_t colmask, struct st_cols *out);
/* The same; the columns of codemask (a subset of colmask) that the block
 * stores as a dictionary come as codes (st_cols.code/dict/ndict). */
int blk_decode_codes(struct blk_dec *d, const struct seg_blk *b, uint32_t colmask,
		     uint32_t codemask, struct st_cols *out);
/* And the columns of xmask (a subset of codemask) stored as PDICT as
 * codes with exceptions (st_cols.xval). */
int blk_decode_codes_x(struct blk_dec *d, const struct seg_blk *b, uint32_t colmask,
		       uint32_t codemask, uint32_t xmask, struct st_cols *out);
/* Rows sel[0..nsel) only (strictly ascending, < nrows), as rows
 * 0..nsel-1 of out: random-access encodings decode just those rows;
 * codemask as for blk_decode_codes. */
int blk_decode_rows(struct blk_dec *d, const struct seg_blk *b, uint32_t colmask,
		    uint32_t codemask, const uint32_t *sel, uint32_t nsel, struct st_cols *out);

/* The kernel that unpacks dictionary indices (b <= 16 bits, FORMAT.md
 * §5) into out[0..n) from the ceil(n*b/8) bytes at p, returning the largest
 * value: impl 0 is the portable loop, 1 the SIMD one (-ENOTSUP on a CPU
 * without it); the decoder picks one at start-up. For tests that hold them
 * to the same result; never reads outside p[0..len). */
int seg_unpack16_impl(unsigned impl, const uint8_t *p, size_t len, uint32_t n, unsigned b,
		      uint16_t *out, uint32_t *max);

/* ---- footer ---- */
struct ftr_ent {
	uint64_t off;
	uint32_t len;
	uint32_t nrows;
	uint64_t first_min;
	uint64_t last_max;
};
/* Footer block + trailer for these blocks into a malloc'ed buffer. */
int ftr_build(const struct ftr_ent *e, uint32_t n, uint8_t **out, size_t *out_len);

/* little-endian helpers for on-disk fields */
static inline uint64_t le64_ld(const uint8_t *p)
{
	uint64_t v;
	__builtin_memcpy(&v, p, 8);
	return v;
}
static inline uint32_t le32_ld(const uint8_t *p)
{
	uint32_t v;
	__builtin_memcpy(&v, p, 4);
	return v;
}
static inline uint16_t le16_ld(const uint8_t *p)
{
	uint16_t v;
	__builtin_memcpy(&v, p, 2);
	return v;
}
static inline void le64_st(uint8_t *p, uint64_t v) { __builtin_memcpy(p, &v, 8); }
static inline void le32_st(uint8_t *p, uint32_t v) { __builtin_memcpy(p, &v, 4); }
static inline void le16_st(uint8_t *p, uint16_t v) { __builtin_memcpy(p, &v, 2); }

#endif
