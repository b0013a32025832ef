/* seg.c — segment and block format: encoder, bounded parser, decoder.
 *
 * Layout and encodings are specified in FORMAT.md; this file is the one
 * place that reads or writes those bytes. Every length read from a file is
 * checked against the bytes that remain before it is used. */
#include "seg.h"

#include <errno.h>
#include <lz4.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "crc32c.h"

/* On-disk fields are little-endian and loaded by memcpy: the appliance is
 * x86-64. A big-endian port needs byte swaps in the le*_ld/st helpers. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "little-endian host assumed");

/* ------------------------------------------------------------ column table */

enum kind { K_TIME, K_DUR, K_U64, K_ADDR, K_U32, K_U16, K_U8, K_STR };

struct coldef {
	const char *name;
	uint8_t size; /* decoded element size */
	uint8_t kind;
	uint16_t off; /* offsetof in struct flow_rec (string: enum flow_str) */
};

#define R(f) offsetof(struct flow_rec, f)
static const struct coldef cols[ST_COL_MAX] = {
	[ST_COL_FIRST_MS] = { "first_ms", 8, K_DUR, R(first_ms) },
	[ST_COL_LAST_MS] = { "last_ms", 8, K_TIME, R(last_ms) },
	[ST_COL_PACKETS] = { "packets", 8, K_U64, R(packets) },
	[ST_COL_BYTES] = { "bytes", 8, K_U64, R(bytes) },
	[ST_COL_REV_PACKETS] = { "rev_packets", 8, K_U64, R(rev_packets) },
	[ST_COL_REV_BYTES] = { "rev_bytes", 8, K_U64, R(rev_bytes) },
	[ST_COL_SRC_ADDR] = { "src_addr", 16, K_ADDR, R(src_addr) },
	[ST_COL_DST_ADDR] = { "dst_addr", 16, K_ADDR, R(dst_addr) },
	[ST_COL_NEXT_HOP] = { "next_hop", 16, K_ADDR, R(next_hop) },
	[ST_COL_EXPORTER] = { "exporter", 16, K_ADDR, R(exporter) },
	[ST_COL_ODID] = { "odid", 4, K_U32, R(odid) },
	[ST_COL_SAMPLING] = { "sampling", 4, K_U32, R(sampling) },
	[ST_COL_IN_IF] = { "in_if", 4, K_U32, R(in_if) },
	[ST_COL_OUT_IF] = { "out_if", 4, K_U32, R(out_if) },
	[ST_COL_SRC_AS] = { "src_as", 4, K_U32, R(src_as) },
	[ST_COL_DST_AS] = { "dst_as", 4, K_U32, R(dst_as) },
	[ST_COL_SRC_PORT] = { "src_port", 2, K_U16, R(src_port) },
	[ST_COL_DST_PORT] = { "dst_port", 2, K_U16, R(dst_port) },
	[ST_COL_EXP_PORT] = { "exp_port", 2, K_U16, R(exp_port) },
	[ST_COL_VLAN] = { "vlan", 2, K_U16, R(vlan) },
	[ST_COL_PROTO] = { "proto", 1, K_U8, R(proto) },
	[ST_COL_TCP_FLAGS] = { "tcp_flags", 1, K_U8, R(tcp_flags) },
	[ST_COL_TOS] = { "tos", 1, K_U8, R(tos) },
	[ST_COL_SRC_MASK] = { "src_mask", 1, K_U8, R(src_mask) },
	[ST_COL_DST_MASK] = { "dst_mask", 1, K_U8, R(dst_mask) },
	[ST_COL_DIRECTION] = { "direction", 1, K_U8, R(direction) },
	[ST_COL_FLAGS] = { "flags", 1, K_U8, R(flags) },
	[ST_COL_VERSION] = { "version", 1, K_U8, R(version) },
	[ST_COL_APP] = { "app", 4, K_STR, FLOW_STR_APP },
	[ST_COL_HTTP_HOST] = { "http_host", 4, K_STR, FLOW_STR_HTTP_HOST },
	[ST_COL_URL] = { "url", 4, K_STR, FLOW_STR_URL },
	[ST_COL_SNI] = { "sni", 4, K_STR, FLOW_STR_SNI },
};
#undef R

const char *st_col_name(enum st_col c)
{
	return (unsigned)c < ST_COL_MAX ? cols[c].name : NULL;
}

unsigned st_col_size(enum st_col c)
{
	return (unsigned)c < ST_COL_MAX ? cols[c].size : 0;
}

/* ---------------------------------------------------------------- buffers */

struct buf {
	uint8_t *p;
	size_t len, cap;
};

static int buf_reserve(struct buf *b, size_t more)
{
	if (b->len + more <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more)
		cap *= 2;
	uint8_t *p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

static void buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* Unchecked appends: callers reserve the worst case first. */
static inline void put_varint(struct buf *b, uint64_t v)
{
	uint8_t *p = b->p + b->len;
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	b->len = (size_t)(p - b->p);
}

static inline uint64_t zz_enc(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t zz_dec(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* Bounded LEB128 read: -1 on overrun or more than 10 bytes. */
static inline int get_varint(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
	const uint8_t *p = *pp;
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 70; shift += 7) {
		if (p >= end)
			return -1;
		uint8_t c = *p++;
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*pp = p;
			*out = v;
			return 0;
		}
	}
	return -1;
}

/* ------------------------------------------------------------ segment hdr */

void seg_hdr_write(uint8_t out[SEG_HDR_LEN], const struct seg_hdr *h)
{
	memset(out, 0, SEG_HDR_LEN);
	memcpy(out, SEG_MAGIC, 8);
	le16_st(out + 8, SEG_VERSION);
	out[10] = h->codec;
	le32_st(out + 12, SEG_HDR_LEN);
	le64_st(out + 16, h->win_start_ms);
	le32_st(out + 24, h->win_len_ms);
	le32_st(out + 28, h->part);
	le64_st(out + 32, h->created_ms);
	le32_st(out + 60, st_crc32c(out, 60));
}

int seg_hdr_read(const uint8_t *buf, size_t len, struct seg_hdr *h)
{
	if (len < SEG_HDR_LEN || memcmp(buf, SEG_MAGIC, 8) != 0)
		return -EBADMSG;
	if (le32_ld(buf + 60) != st_crc32c(buf, 60))
		return -EBADMSG;
	if (le16_ld(buf + 8) != SEG_VERSION || le32_ld(buf + 12) != SEG_HDR_LEN)
		return -EBADMSG;
	h->version = le16_ld(buf + 8);
	h->codec = buf[10];
	h->win_start_ms = le64_ld(buf + 16);
	h->win_len_ms = le32_ld(buf + 24);
	h->part = le32_ld(buf + 28);
	h->created_ms = le64_ld(buf + 32);
	return 0;
}

/* ------------------------------------------------------------- zone maps */

#define MINMAX(T, lo, hi, arr, n)                 \
	do {                                      \
		const T *a_ = (const T *)(arr);   \
		T l_ = a_[0], h_ = a_[0];         \
		for (uint32_t i_ = 1; i_ < (n); i_++) { \
			l_ = a_[i_] < l_ ? a_[i_] : l_; \
			h_ = a_[i_] > h_ ? a_[i_] : h_; \
		}                                 \
		lo = l_;                          \
		hi = h_;                          \
	} while (0)

static inline uint64_t be64_ld(const uint8_t *p)
{
	return __builtin_bswap64(le64_ld(p));
}

/* Addresses are big-endian bytes: numeric order is (high 8 bytes, low 8
 * bytes) as big-endian integers, compared without a memcmp call per row. */
static void addr_minmax(const uint8_t *a, uint32_t n, uint8_t lo[16], uint8_t hi[16])
{
	uint64_t lh = be64_ld(a), ll = be64_ld(a + 8), hh = lh, hl = ll;
	uint32_t li = 0, hi_i = 0;
	for (uint32_t i = 1; i < n; i++) {
		const uint8_t *x = a + (size_t)i * 16;
		uint64_t xh = be64_ld(x), xl = be64_ld(x + 8);
		if (xh < lh || (xh == lh && xl < ll)) {
			lh = xh, ll = xl, li = i;
		} else if (xh > hh || (xh == hh && xl > hl)) {
			hh = xh, hl = xl, hi_i = i;
		}
	}
	memcpy(lo, a + (size_t)li * 16, 16);
	memcpy(hi, a + (size_t)hi_i * 16, 16);
}

static void zone_compute(const struct blk_src *s, struct st_zone *z)
{
	uint32_t n = s->n;
	memset(z, 0, sizeof(*z));
	MINMAX(uint64_t, z->first_min, z->first_max, s->col[ST_COL_FIRST_MS], n);
	MINMAX(uint64_t, z->last_min, z->last_max, s->col[ST_COL_LAST_MS], n);
	MINMAX(uint64_t, z->packets_min, z->packets_max, s->col[ST_COL_PACKETS], n);
	MINMAX(uint64_t, z->bytes_min, z->bytes_max, s->col[ST_COL_BYTES], n);
	MINMAX(uint32_t, z->src_as_min, z->src_as_max, s->col[ST_COL_SRC_AS], n);
	MINMAX(uint32_t, z->dst_as_min, z->dst_as_max, s->col[ST_COL_DST_AS], n);
	MINMAX(uint16_t, z->src_port_min, z->src_port_max, s->col[ST_COL_SRC_PORT], n);
	MINMAX(uint16_t, z->dst_port_min, z->dst_port_max, s->col[ST_COL_DST_PORT], n);
	MINMAX(uint8_t, z->proto_min, z->proto_max, s->col[ST_COL_PROTO], n);
	addr_minmax(s->col[ST_COL_SRC_ADDR], n, z->src_min, z->src_max);
	addr_minmax(s->col[ST_COL_DST_ADDR], n, z->dst_min, z->dst_max);
}
#undef MINMAX

static void zone_write(uint8_t *p, const struct st_zone *z)
{
	memset(p, 0, BLK_ZONE_LEN);
	le64_st(p + 0, z->first_min);
	le64_st(p + 8, z->first_max);
	le64_st(p + 16, z->last_min);
	le64_st(p + 24, z->last_max);
	memcpy(p + 32, z->src_min, 16);
	memcpy(p + 48, z->src_max, 16);
	memcpy(p + 64, z->dst_min, 16);
	memcpy(p + 80, z->dst_max, 16);
	le64_st(p + 96, z->packets_min);
	le64_st(p + 104, z->packets_max);
	le64_st(p + 112, z->bytes_min);
	le64_st(p + 120, z->bytes_max);
	le32_st(p + 128, z->src_as_min);
	le32_st(p + 132, z->src_as_max);
	le32_st(p + 136, z->dst_as_min);
	le32_st(p + 140, z->dst_as_max);
	le16_st(p + 144, z->src_port_min);
	le16_st(p + 146, z->src_port_max);
	le16_st(p + 148, z->dst_port_min);
	le16_st(p + 150, z->dst_port_max);
	p[152] = z->proto_min;
	p[153] = z->proto_max;
}

static void zone_read(const uint8_t *p, struct st_zone *z)
{
	z->first_min = le64_ld(p + 0);
	z->first_max = le64_ld(p + 8);
	z->last_min = le64_ld(p + 16);
	z->last_max = le64_ld(p + 24);
	memcpy(z->src_min, p + 32, 16);
	memcpy(z->src_max, p + 48, 16);
	memcpy(z->dst_min, p + 64, 16);
	memcpy(z->dst_max, p + 80, 16);
	z->packets_min = le64_ld(p + 96);
	z->packets_max = le64_ld(p + 104);
	z->bytes_min = le64_ld(p + 112);
	z->bytes_max = le64_ld(p + 120);
	z->src_as_min = le32_ld(p + 128);
	z->src_as_max = le32_ld(p + 132);
	z->dst_as_min = le32_ld(p + 136);
	z->dst_as_max = le32_ld(p + 140);
	z->src_port_min = le16_ld(p + 144);
	z->src_port_max = le16_ld(p + 146);
	z->dst_port_min = le16_ld(p + 148);
	z->dst_port_max = le16_ld(p + 150);
	z->proto_min = p[152];
	z->proto_max = p[153];
}

/* ---------------------------------------------------------------- encoder */

/* Dictionary hash table: a slot holds gen << 17 | (entry + 1); a slot of an
 * older generation is empty, so tables are cleared by bumping gen, not by
 * memset (14 dictionary columns x 64 Ki rows would otherwise clear 7 MiB per
 * block). */
#define DICT_BITS 17
#define DICT_SLOTS (1u << DICT_BITS) /* > 2 x 65536 entries: probes stay short */
#define GEN_MAX ((1u << (32 - DICT_BITS)) - 1)

struct blk_enc {
	enum st_codec codec;
	int level;
	ZSTD_CCtx *zc;
	struct buf out;   /* the block being built */
	struct buf raw;   /* one column before compression */
	struct buf vals;  /* narrowed addresses of one column */
	uint16_t *idx;    /* dictionary index per row */
	uint16_t *map;    /* direct dictionaries: key -> entry (65536 keys) */
	uint32_t *slots;
	uint32_t gen;
	uint64_t *slots4;  /* IPv4 dictionaries: gen << 48 | entry << 32 | value */
	uint32_t gen4;
	struct buf dict;  /* dictionary values */
	struct buf ints;  /* u64 values of one integer column, transformed */
};

struct blk_enc *blk_enc_new(enum st_codec codec, int level)
{
	struct blk_enc *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->codec = codec;
	e->level = level ? level : 3;
	e->idx = malloc(ST_BLOCK_ROWS_MAX * sizeof(*e->idx));
	e->map = malloc(65536 * sizeof(*e->map));
	e->slots = calloc(DICT_SLOTS, sizeof(*e->slots));
	e->slots4 = calloc(DICT_SLOTS, sizeof(*e->slots4));
	if (codec == ST_CODEC_ZSTD)
		e->zc = ZSTD_createCCtx();
	if (!e->idx || !e->map || !e->slots || !e->slots4 || (codec == ST_CODEC_ZSTD && !e->zc) || codec > ST_CODEC_ZSTD) {
		blk_enc_free(e);
		errno = codec > ST_CODEC_ZSTD ? EINVAL : ENOMEM;
		return NULL;
	}
	return e;
}

void blk_enc_free(struct blk_enc *e)
{
	if (!e)
		return;
	ZSTD_freeCCtx(e->zc);
	buf_free(&e->out);
	buf_free(&e->raw);
	buf_free(&e->vals);
	buf_free(&e->dict);
	buf_free(&e->ints);
	free(e->idx);
	free(e->map);
	free(e->slots);
	free(e->slots4);
	free(e);
}

static void gen_next(struct blk_enc *e)
{
	if (++e->gen > GEN_MAX) {
		memset(e->slots, 0, DICT_SLOTS * sizeof(*e->slots));
		e->gen = 1;
	}
}

static inline bool eq_w(const uint8_t *a, const uint8_t *b, unsigned w)
{
	/* fixed-size loads instead of a memcmp call per row */
	switch (w) {
	case 1: return *a == *b;
	case 2: return le16_ld(a) == le16_ld(b);
	case 4: return le32_ld(a) == le32_ld(b);
	case 8: return le64_ld(a) == le64_ld(b);
	default: return le64_ld(a) == le64_ld(b) && le64_ld(a + 8) == le64_ld(b + 8);
	}
}

static bool all_equal(const uint8_t *v, uint32_t n, unsigned w)
{
	for (uint32_t i = 1; i < n; i++)
		if (!eq_w(v, v + (size_t)i * w, w))
			return false;
	return true;
}

static inline uint32_t hash_val(const uint8_t *v, unsigned w)
{
	uint64_t h;
	if (w == 4) {
		h = le32_ld(v) * 0x9e3779b97f4a7c15ULL;
	} else {
		/* splitmix64's finaliser: a bare multiply lets the top input
		 * byte (the last address byte, loaded little-endian) reach
		 * only the top output bits, and v4-mapped keys then probed
		 * ~36 slots each */
		h = le64_ld(v) * 0x9e3779b97f4a7c15ULL ^ le64_ld(v + 8);
		h ^= h >> 30;
		h *= 0xbf58476d1ce4e5b9ULL;
		h ^= h >> 27;
		h *= 0x94d049bb133111ebULL;
		h ^= h >> 31;
	}
	return (uint32_t)(h >> 40);
}

static inline uint32_t key_of(const uint8_t *v, unsigned w, uint32_t base)
{
	return w == 1 ? *v : w == 2 ? le16_ld(v) : le32_ld(v) - base;
}

/* Dictionary of values whose keys (value - base) lie in [0, range),
 * range <= 65536: mark the keys present, number them in key order, map
 * every row. Three passes without a dependency between rows, unlike a hash
 * table, and the dictionary comes out sorted. */
static uint32_t dict_direct(struct blk_enc *e, const uint8_t *v, uint32_t n, unsigned w,
			    uint32_t base, uint32_t range)
{
	uint16_t *map = e->map;
	memset(map, 0, (size_t)range * sizeof(*map));
	for (uint32_t i = 0; i < n; i++)
		map[key_of(v + (size_t)i * w, w, base)] = 1;
	uint32_t nd = 0;
	e->dict.len = 0;
	if (buf_reserve(&e->dict, (size_t)range * w))
		return 0;
	for (uint32_t k = 0; k < range; k++) {
		if (!map[k])
			continue;
		uint8_t val[4];
		le32_st(val, k + base);
		memcpy(e->dict.p + (size_t)nd * w, val, w);
		map[k] = (uint16_t)nd++;
	}
	for (uint32_t i = 0; i < n; i++)
		e->idx[i] = map[key_of(v + (size_t)i * w, w, base)];
	e->dict.len = (size_t)nd * w;
	return nd;
}

/* IPv4 addresses: the value sits in its slot, so a probe is one cache
 * miss, not two (slot, then the dictionary entry to compare). */
static uint32_t dict_hash4(struct blk_enc *e, const uint8_t *v, uint32_t n, uint32_t cap)
{
	if (++e->gen4 > 0xffff) {
		memset(e->slots4, 0, DICT_SLOTS * sizeof(*e->slots4));
		e->gen4 = 1;
	}
	uint64_t g = (uint64_t)e->gen4 << 48;
	e->dict.len = 0;
	if (buf_reserve(&e->dict, (size_t)(cap < n ? cap : n) * 4))
		return 0;
	uint32_t nd = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t x = le32_ld(v + (size_t)i * 4);
		uint32_t s = hash_val(v + (size_t)i * 4, 4) & (DICT_SLOTS - 1);
		for (;;) {
			uint64_t t = e->slots4[s];
			if ((t & 0xffff000000000000ull) != g) {
				if (nd == cap)
					return 0;
				le32_st(e->dict.p + (size_t)nd * 4, x);
				e->slots4[s] = g | (uint64_t)nd << 32 | x;
				e->idx[i] = (uint16_t)nd++;
				break;
			}
			if ((uint32_t)t == x) {
				e->idx[i] = (uint16_t)(t >> 32);
				break;
			}
			s = (s + 1) & (DICT_SLOTS - 1);
		}
	}
	e->dict.len = (size_t)nd * 4;
	return nd;
}

/* Dictionary of n values of width w; indices to e->idx. Returns the number
 * of entries, or 0 when more than cap would be needed. Keys of up to 16 bits
 * (after subtracting the minimum) use dict_direct(); wider values are
 * hashed (linear probing). */
static uint32_t dict_build(struct blk_enc *e, const uint8_t *v, uint32_t n, unsigned w, uint32_t cap)
{
	if (w <= 2)
		return dict_direct(e, v, n, w, 0, w == 1 ? 256 : 65536);
	if (w == 4) {
		/* interfaces, 16-bit AS numbers, ODIDs: a small range */
		uint32_t lo = le32_ld(v), hi = lo;
		for (uint32_t i = 1; i < n; i++) {
			uint32_t x = le32_ld(v + (size_t)i * 4);
			lo = x < lo ? x : lo;
			hi = x > hi ? x : hi;
		}
		if (hi - lo < 65536)
			return dict_direct(e, v, n, w, lo, hi - lo + 1);
		return dict_hash4(e, v, n, cap);
	}
	gen_next(e);
	uint32_t g = e->gen << DICT_BITS;
	e->dict.len = 0;
	if (buf_reserve(&e->dict, (size_t)(cap < n ? cap : n) * w))
		return 0;
	uint32_t nd = 0;
	for (uint32_t i = 0; i < n; i++, v += w) {
		uint32_t s = hash_val(v, w) & (DICT_SLOTS - 1);
		for (;;) {
			uint32_t t = e->slots[s];
			if ((t & ~(DICT_SLOTS - 1)) != g) {
				if (nd == cap)
					return 0;
				memcpy(e->dict.p + (size_t)nd * w, v, w);
				e->slots[s] = g | ++nd;
				e->idx[i] = (uint16_t)(nd - 1);
				break;
			}
			t &= DICT_SLOTS - 1;
			if (eq_w(e->dict.p + (size_t)(t - 1) * w, v, w)) {
				e->idx[i] = (uint16_t)(t - 1);
				break;
			}
			s = (s + 1) & (DICT_SLOTS - 1);
		}
	}
	e->dict.len = (size_t)nd * w;
	return nd;
}

/* Bits per dictionary index: enough for nd entries, at least 1. */
static unsigned idx_bits(uint32_t nd)
{
	unsigned b = 1;
	while ((1u << b) < nd)
		b++;
	return b;
}

static size_t dict_size(uint32_t n, unsigned w, uint32_t nd)
{
	return 4 + (size_t)nd * w + ((size_t)n * idx_bits(nd) + 7) / 8;
}

static int enc_planes(struct buf *raw, const uint8_t *v, uint32_t n, unsigned w)
{
	if (buf_reserve(raw, (size_t)n * w))
		return -ENOMEM;
	uint8_t *o = raw->p;
	for (unsigned k = 0; k < w; k++)
		for (uint32_t i = 0; i < n; i++)
			*o++ = v[(size_t)i * w + k];
	raw->len = (size_t)n * w;
	return 0;
}

/* u32 ndict, values, indices packed LSB-first at idx_bits(nd) bits each. */
static int enc_dict(struct blk_enc *e, uint32_t n, unsigned w, uint32_t nd)
{
	size_t len = dict_size(n, w, nd);
	if (buf_reserve(&e->raw, len + 16))
		return -ENOMEM;
	uint8_t *o = e->raw.p;
	le32_st(o, nd);
	memcpy(o + 4, e->dict.p, (size_t)nd * w);
	o += 4 + (size_t)nd * w;
	unsigned b = idx_bits(nd);
	const uint16_t *ix = e->idx;
	uint32_t i = 0;
	/* Eight indices fill exactly b bytes, so groups of eight are packed
	 * with independent shifts and stay byte-aligned (no carried state);
	 * b <= 16 makes a group at most 128 bits. */
	for (; i + 8 <= n; i += 8, o += b) {
		unsigned __int128 g = 0;
		for (unsigned j = 0; j < 8; j++)
			g |= (unsigned __int128)ix[i + j] << (j * b);
		memcpy(o, &g, b); /* little-endian host: low bytes first */
	}
	uint64_t acc = 0;
	unsigned have = 0;
	for (; i < n; i++) {
		acc |= (uint64_t)ix[i] << have;
		have += b;
		while (have >= 8) {
			*o++ = (uint8_t)acc;
			acc >>= 8;
			have -= 8;
		}
	}
	if (have)
		*o++ = (uint8_t)acc;
	e->raw.len = (size_t)(o - e->raw.p);
	return e->raw.len == len ? 0 : -EINVAL;
}

/* LEB128 length without a loop: 7 payload bits per byte. */
static inline size_t varint_len(uint64_t v)
{
	return (size_t)(70 - __builtin_clzll(v | 1)) / 7;
}

/* Bits needed for v (0 for 0). */
static unsigned bits_of(uint64_t v)
{
	return v ? 64 - (unsigned)__builtin_clzll(v) : 0;
}

#define PACK_MAX_W 56 /* value + 7 bits of offset fit one 64-bit load */

/* Append n values at w bits each, LSB-first (FORMAT.md §5). */
static void put_bits(struct buf *b, const uint64_t *u, uint32_t n, unsigned w)
{
	uint8_t *o = b->p + b->len;
	uint64_t acc = 0;
	unsigned have = 0;
	for (uint32_t i = 0; i < n; i++) {
		acc |= u[i] << have;
		have += w;
		while (have >= 8) {
			*o++ = (uint8_t)acc;
			acc >>= 8;
			have -= 8;
		}
	}
	if (have)
		*o++ = (uint8_t)acc;
	b->len = (size_t)(o - b->p);
}

/* Value i of a packed array of len bytes; the caller checked that
 * ceil(n * w / 8) == len, so every value lies inside it. */
static inline uint64_t get_bits(const uint8_t *p, size_t len, uint32_t i, unsigned w)
{
	size_t bit = (size_t)i * w, by = bit >> 3;
	uint64_t x = 0;
	size_t k = len - by < 8 ? len - by : 8;
	memcpy(&x, p + by, k);
	x >>= bit & 7;
	return w == 64 ? x : x & ((1ull << w) - 1);
}

/* Body of an integer column: LEB128 or fixed width, whichever is smaller.
 * u[] holds the values to store (already zigzagged or minus the base).
 * Returns true when bits were chosen (then *w is the width written). */
static bool put_ints(struct buf *b, const uint64_t *u, uint32_t n, unsigned *w_out)
{
	uint64_t mx = 0;
	size_t vsz = 0;
	for (uint32_t i = 0; i < n; i++) {
		mx |= u[i];
		vsz += varint_len(u[i]);
	}
	unsigned w = bits_of(mx);
	size_t bsz = 1 + ((size_t)n * w + 7) / 8;
	if (w <= PACK_MAX_W && bsz < vsz) {
		b->p[b->len++] = (uint8_t)w;
		put_bits(b, u, n, w);
		*w_out = w;
		return true;
	}
	for (uint32_t i = 0; i < n; i++)
		put_varint(b, u[i]);
	return false;
}

/* Encode one column of src into e->raw; sets *enc and *width. */
static int enc_column(struct blk_enc *e, const struct blk_src *src, enum st_col c, uint8_t *enc,
		      uint8_t *width)
{
	const struct coldef *cd = &cols[c];
	uint32_t n = src->n;
	e->raw.len = 0;

	switch (cd->kind) {
	case K_TIME: {
		/* last_ms: records leave an exporter roughly in the order they
		 * end, so deltas from the previous row are small */
		const uint64_t *t = src->col[c];
		if (buf_reserve(&e->raw, 9 + (size_t)n * 10) || buf_reserve(&e->ints, (size_t)n * 8))
			return -ENOMEM;
		uint64_t *u = (uint64_t *)(void *)e->ints.p, prev = t[0];
		for (uint32_t i = 0; i < n; i++) {
			u[i] = zz_enc((int64_t)(t[i] - prev));
			prev = t[i];
		}
		le64_st(e->raw.p, t[0]);
		e->raw.len = 8;
		unsigned w;
		*enc = put_ints(&e->raw, u, n, &w) ? ENC_DELTA_BITS : ENC_DELTA;
		*width = 8;
		return 0;
	}
	case K_DUR: {
		/* first_ms as the flow's duration: last_ms - first_ms */
		const uint64_t *f = src->col[c], *l = src->col[ST_COL_LAST_MS];
		if (buf_reserve(&e->raw, 1 + (size_t)n * 10) || buf_reserve(&e->ints, (size_t)n * 8))
			return -ENOMEM;
		uint64_t *u = (uint64_t *)(void *)e->ints.p;
		for (uint32_t i = 0; i < n; i++)
			u[i] = zz_enc((int64_t)(l[i] - f[i]));
		unsigned w;
		*enc = put_ints(&e->raw, u, n, &w) ? ENC_DUR_BITS : ENC_DUR;
		*width = 8;
		return 0;
	}
	case K_STR: {
		/* dictionary of distinct strings; index 0 = absent */
		unsigned sf = cd->off;
		const uint32_t *so = src->str_off[sf];
		const uint16_t *sl = src->str_len[sf];
		const char *arena = src->arena;
		struct buf *d = &e->dict; /* entries: u32 arena offset, u32 length */
		gen_next(e);
		uint32_t g = e->gen << DICT_BITS;
		d->len = 0;
		if (buf_reserve(&e->vals, (size_t)n * 4) || buf_reserve(d, (size_t)n * 8))
			return -ENOMEM;
		uint32_t *ix = (uint32_t *)(void *)e->vals.p;
		uint32_t nd = 0;
		size_t bytes = 0;
		for (uint32_t i = 0; i < n; i++) {
			uint16_t l = sl[i];
			if (!l || !arena) {
				ix[i] = 0;
				continue;
			}
			const char *s = arena + so[i];
			uint64_t h = 0xcbf29ce484222325ULL;
			for (uint16_t k = 0; k < l; k++)
				h = (h ^ (uint8_t)s[k]) * 0x100000001b3ULL;
			uint32_t slot = (uint32_t)(h >> 32) & (DICT_SLOTS - 1);
			for (;;) {
				uint32_t t = e->slots[slot];
				if ((t & ~(DICT_SLOTS - 1)) != g) {
					le32_st(d->p + (size_t)nd * 8, so[i]);
					le32_st(d->p + (size_t)nd * 8 + 4, l);
					e->slots[slot] = g | ++nd;
					ix[i] = nd;
					bytes += l;
					break;
				}
				t &= DICT_SLOTS - 1;
				const uint8_t *de = d->p + (size_t)(t - 1) * 8;
				if (le32_ld(de + 4) == l && memcmp(arena + le32_ld(de), s, l) == 0) {
					ix[i] = t;
					break;
				}
				slot = (slot + 1) & (DICT_SLOTS - 1);
			}
		}
		if (buf_reserve(&e->raw, 4 + (size_t)nd * 2 + bytes + (size_t)n * 5))
			return -ENOMEM;
		le32_st(e->raw.p, nd);
		e->raw.len = 4;
		for (uint32_t k = 0; k < nd; k++) {
			uint32_t off = le32_ld(d->p + (size_t)k * 8);
			uint32_t l = le32_ld(d->p + (size_t)k * 8 + 4);
			le16_st(e->raw.p + e->raw.len, (uint16_t)l);
			memcpy(e->raw.p + e->raw.len + 2, arena + off, l);
			e->raw.len += 2 + l;
		}
		for (uint32_t i = 0; i < n; i++)
			put_varint(&e->raw, ix[i]);
		*enc = ENC_STRDICT;
		*width = 0;
		return 0;
	}
	default:
		break;
	}

	unsigned w = cd->size;
	const uint8_t *v = src->col[c];
	if (cd->kind == K_ADDR) {
		/* v4-mapped: 10 zero bytes, then ff ff (FORMAT.md §conventions) */
		uint32_t i = 0;
		while (i < n && !le64_ld(v + (size_t)i * 16) && le32_ld(v + (size_t)i * 16 + 8) == 0xffff0000u)
			i++;
		if (i == n) {
			/* all v4-mapped: keep the last four bytes of each */
			if (buf_reserve(&e->vals, (size_t)n * 4))
				return -ENOMEM;
			for (i = 0; i < n; i++)
				memcpy(e->vals.p + (size_t)i * 4, v + (size_t)i * 16 + 12, 4);
			v = e->vals.p;
			w = 4;
		}
	}
	*width = (uint8_t)w;

	if (all_equal(v, n, w)) {
		if (buf_reserve(&e->raw, w))
			return -ENOMEM;
		memcpy(e->raw.p, v, w);
		e->raw.len = w;
		*enc = ENC_CONST;
		return 0;
	}
	/* Counters have too many distinct values for a dictionary to pay. */
	uint32_t nd = cd->kind == K_U64 ? 0 : dict_build(e, v, n, w, 65536);
	/* a dictionary under one byte a row beats LEB128 without counting */
	if (nd && dict_size(n, w, nd) < n) {
		*enc = ENC_DICT;
		return enc_dict(e, n, w, nd);
	}
	/* plain size of the alternative to a dictionary */
	size_t plain = (size_t)n * w;
	if (cd->kind == K_U64 || cd->kind == K_U32) {
		plain = 0;
		for (uint32_t i = 0; i < n; i++)
			plain += varint_len(w == 8 ? le64_ld(v + (size_t)i * 8) : le32_ld(v + (size_t)i * 4));
	}
	if (nd && dict_size(n, w, nd) < plain) {
		*enc = ENC_DICT;
		return enc_dict(e, n, w, nd);
	}
	switch (cd->kind) {
	case K_U64:
	case K_U32: {
		/* LEB128 of the values, or frame of reference: the minimum, then
		 * every value minus it at a fixed bit width */
		if (buf_reserve(&e->raw, 9 + plain) || buf_reserve(&e->ints, (size_t)n * 8))
			return -ENOMEM;
		uint64_t *u = (uint64_t *)(void *)e->ints.p, mn = UINT64_MAX, mx = 0;
		for (uint32_t i = 0; i < n; i++) {
			u[i] = w == 8 ? le64_ld(v + (size_t)i * 8) : le32_ld(v + (size_t)i * 4);
			mn = u[i] < mn ? u[i] : mn;
			mx = u[i] > mx ? u[i] : mx;
		}
		unsigned bw = bits_of(mx - mn);
		if (bw <= PACK_MAX_W && 9 + ((size_t)n * bw + 7) / 8 < plain) {
			for (uint32_t i = 0; i < n; i++)
				u[i] -= mn;
			le64_st(e->raw.p, mn);
			e->raw.p[8] = (uint8_t)bw;
			e->raw.len = 9;
			put_bits(&e->raw, u, n, bw);
			*enc = ENC_FOR_BITS;
			return 0;
		}
		for (uint32_t i = 0; i < n; i++)
			put_varint(&e->raw, u[i]);
		*enc = ENC_VARINT;
		return 0;
	}
	case K_U8:
		if (buf_reserve(&e->raw, n))
			return -ENOMEM;
		memcpy(e->raw.p, v, n);
		e->raw.len = n;
		*enc = ENC_RAW;
		return 0;
	default:
		*enc = ENC_PLANES;
		return enc_planes(&e->raw, v, n, w);
	}
}

/* Compress e->raw onto the end of e->out; chunks that do not shrink (or are
 * too small to bother) are stored as they are. */
static int put_chunk(struct blk_enc *e, uint8_t *comp, uint32_t *stored)
{
	size_t rl = e->raw.len;
	*comp = COMP_NONE;
	if (rl >= 64 && e->codec == ST_CODEC_LZ4) {
		int bound = LZ4_compressBound((int)rl);
		if (buf_reserve(&e->out, (size_t)bound))
			return -ENOMEM;
		int r = LZ4_compress_default((const char *)e->raw.p, (char *)e->out.p + e->out.len,
					     (int)rl, bound);
		if (r > 0 && (size_t)r < rl) {
			e->out.len += (size_t)r;
			*stored = (uint32_t)r;
			*comp = COMP_LZ4;
			return 0;
		}
	} else if (rl >= 64 && e->codec == ST_CODEC_ZSTD) {
		size_t bound = ZSTD_compressBound(rl);
		if (buf_reserve(&e->out, bound))
			return -ENOMEM;
		size_t r = ZSTD_compressCCtx(e->zc, e->out.p + e->out.len, bound, e->raw.p, rl,
					     e->level);
		if (!ZSTD_isError(r) && r < rl) {
			e->out.len += r;
			*stored = (uint32_t)r;
			*comp = COMP_ZSTD;
			return 0;
		}
	}
	if (buf_reserve(&e->out, rl))
		return -ENOMEM;
	memcpy(e->out.p + e->out.len, e->raw.p, rl);
	e->out.len += rl;
	*stored = (uint32_t)rl;
	return 0;
}

int blk_encode(struct blk_enc *e, const struct blk_src *src, uint64_t commit, const uint8_t **out,
	       uint32_t *out_len, uint32_t *raw_len)
{
	uint32_t n = src->n;
	if (!n || n > ST_BLOCK_ROWS_MAX)
		return -EINVAL;
	size_t dir_len = (size_t)ST_COL_MAX * BLK_DIR_ENT;
	e->out.len = 0;
	if (buf_reserve(&e->out, BLK_DIR_OFF + dir_len))
		return -ENOMEM;
	memset(e->out.p, 0, BLK_DIR_OFF + dir_len);
	e->out.len = BLK_DIR_OFF + dir_len;

	uint64_t raw_total = 0;
	for (unsigned c = 0; c < ST_COL_MAX; c++) {
		uint8_t enc, width, comp;
		uint32_t stored;
		int rc = enc_column(e, src, (enum st_col)c, &enc, &width);
		if (rc)
			return rc;
		if (e->raw.len > BLK_MAX_LEN)
			return -E2BIG;
		rc = put_chunk(e, &comp, &stored);
		if (rc)
			return rc;
		uint8_t *d = e->out.p + BLK_DIR_OFF + (size_t)c * BLK_DIR_ENT;
		d[0] = (uint8_t)c;
		d[1] = enc;
		d[2] = comp;
		d[3] = width;
		le32_st(d + 4, (uint32_t)e->raw.len);
		le32_st(d + 8, stored);
		raw_total += e->raw.len;
	}
	size_t pad = (8 - (e->out.len & 7)) & 7;
	if (buf_reserve(&e->out, pad))
		return -ENOMEM;
	memset(e->out.p + e->out.len, 0, pad);
	e->out.len += pad;
	if (e->out.len > BLK_MAX_LEN)
		return -E2BIG;

	uint8_t *h = e->out.p;
	memcpy(h, BLK_MAGIC, 4);
	le32_st(h + 8, (uint32_t)e->out.len);
	le32_st(h + 12, n);
	le64_st(h + 16, commit);
	le32_st(h + 24, raw_total > UINT32_MAX ? UINT32_MAX : (uint32_t)raw_total);
	h[28] = ST_COL_MAX;
	h[29] = (uint8_t)e->codec;
	struct st_zone z;
	zone_compute(src, &z);
	zone_write(h + BLK_HDR_LEN, &z);
	le32_st(h + 4, st_crc32c(h + 8, e->out.len - 8));
	*out = e->out.p;
	*out_len = (uint32_t)e->out.len;
	if (raw_len)
		*raw_len = (uint32_t)(raw_total > UINT32_MAX ? UINT32_MAX : raw_total);
	return 0;
}

/* ------------------------------------------------------------- footer */

int ftr_build(const struct ftr_ent *e, uint32_t n, uint8_t **out, size_t *out_len)
{
	size_t len = FTR_HDR_LEN + (size_t)n * FTR_ENT_LEN;
	len = (len + 7) & ~(size_t)7;
	uint8_t *p = calloc(1, len + TRL_LEN);
	if (!p)
		return -ENOMEM;
	uint64_t rows = 0, fmin = UINT64_MAX, lmax = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint8_t *q = p + FTR_HDR_LEN + (size_t)i * FTR_ENT_LEN;
		le64_st(q, e[i].off);
		le32_st(q + 8, e[i].len);
		le32_st(q + 12, e[i].nrows);
		le64_st(q + 16, e[i].first_min);
		le64_st(q + 24, e[i].last_max);
		rows += e[i].nrows;
		if (e[i].first_min < fmin)
			fmin = e[i].first_min;
		if (e[i].last_max > lmax)
			lmax = e[i].last_max;
	}
	memcpy(p, FTR_MAGIC, 4);
	le32_st(p + 8, (uint32_t)len);
	le32_st(p + 12, n);
	le64_st(p + 16, rows);
	le64_st(p + 24, n ? fmin : 0);
	le64_st(p + 32, lmax);
	le32_st(p + 4, st_crc32c(p + 8, len - 8));
	/* trailer: footer offset filled by the caller (it knows where), magic */
	memcpy(p + len + 8, TRL_MAGIC, 8);
	*out = p;
	*out_len = len + TRL_LEN;
	return 0;
}

/* ------------------------------------------------------------- walker */

int seg_walk_init(struct seg_walk *w, const uint8_t *buf, size_t len)
{
	memset(w, 0, sizeof(*w));
	w->buf = buf;
	w->len = len;
	int rc = seg_hdr_read(buf, len, &w->hdr);
	if (rc)
		return rc;
	w->pos = SEG_HDR_LEN;
	w->good_end = SEG_HDR_LEN;
	return 0;
}

/* Is there a block with a valid CRC at pos? 1 yes, 0 no (bad), -1 incomplete. */
static int blk_at(const struct seg_walk *w, size_t pos, uint32_t *len_out)
{
	size_t left = w->len - pos;
	if (left < 12)
		return -1;
	const uint8_t *p = w->buf + pos;
	if (memcmp(p, BLK_MAGIC, 4) != 0)
		return 0;
	uint32_t len = le32_ld(p + 8);
	if (len < BLK_DIR_OFF || len > BLK_MAX_LEN || (len & 7))
		return 0;
	*len_out = len;
	if (len > left)
		return -1;
	return le32_ld(p + 4) == st_crc32c(p + 8, len - 8) ? 1 : 0;
}

static bool footer_at(struct seg_walk *w, size_t pos)
{
	size_t left = w->len - pos;
	const uint8_t *p = w->buf + pos;
	if (left < FTR_HDR_LEN + TRL_LEN || memcmp(p, FTR_MAGIC, 4) != 0)
		return false;
	uint32_t len = le32_ld(p + 8);
	if (len < FTR_HDR_LEN || (len & 7) || len > left - TRL_LEN)
		return false;
	if (le32_ld(p + 4) != st_crc32c(p + 8, len - 8))
		return false;
	if ((uint64_t)le32_ld(p + 12) * FTR_ENT_LEN > len - FTR_HDR_LEN)
		return false;
	const uint8_t *t = p + len;
	return le64_ld(t) == pos && memcmp(t + 8, TRL_MAGIC, 8) == 0;
}

int seg_walk_next(struct seg_walk *w, struct seg_blk *b)
{
	while (!w->done) {
		size_t pos = w->pos;
		if (pos >= w->len) {
			w->done = true;
			break;
		}
		if (footer_at(w, pos)) {
			w->sealed = true;
			w->footer_off = pos;
			w->done = true;
			break;
		}
		uint32_t len = 0;
		int r = blk_at(w, pos, &len);
		if (r == 1) {
			const uint8_t *p = w->buf + pos;
			b->p = p;
			b->len = len;
			b->off = pos;
			b->nrows = le32_ld(p + 12);
			b->commit = le64_ld(p + 16);
			b->raw_len = le32_ld(p + 24);
			zone_read(p + BLK_HDR_LEN, &b->zone);
			w->pos = pos + len;
			w->good_end = w->pos;
			w->blocks_ok++;
			w->last_bad = false;
			return 1;
		}
		if (r == -1) {
			/* runs past the end: a torn write, or a block still being
			 * written by a live writer */
			w->tail_off = pos;
			w->tail_bytes = w->len - pos;
			w->done = true;
			break;
		}
		/* Bad block: resync at the next 8-aligned block or footer whose
		 * own CRC holds. Blocks are 8-aligned, so the scan is bounded by
		 * the file length / 8 probes. */
		size_t q = pos + 8;
		for (; q + 12 <= w->len; q += 8) {
			uint32_t l2;
			if (!memcmp(w->buf + q, BLK_MAGIC, 4) && blk_at(w, q, &l2) == 1)
				break;
			if (!memcmp(w->buf + q, FTR_MAGIC, 4) && footer_at(w, q))
				break;
		}
		if (q + 12 > w->len) {
			/* nothing sound after it: it is the tail */
			w->tail_off = pos;
			w->tail_bytes = w->len - pos;
			w->done = true;
			break;
		}
		w->blocks_bad++;
		w->bytes_bad += q - pos;
		w->last_bad = true;
		w->pos = q;
	}
	return 0;
}

/* ---------------------------------------------------------------- decoder */

struct blk_dec {
	struct buf raw;
	struct buf colbuf[ST_COL_MAX];
	struct buf strarena;
	struct buf stroff[FLOW_STR_MAX];
	struct buf strlen_[FLOW_STR_MAX];
	size_t str_used;
};

struct blk_dec *blk_dec_new(void)
{
	return calloc(1, sizeof(struct blk_dec));
}

void blk_dec_free(struct blk_dec *d)
{
	if (!d)
		return;
	buf_free(&d->raw);
	for (unsigned c = 0; c < ST_COL_MAX; c++)
		buf_free(&d->colbuf[c]);
	buf_free(&d->strarena);
	for (unsigned s = 0; s < FLOW_STR_MAX; s++) {
		buf_free(&d->stroff[s]);
		buf_free(&d->strlen_[s]);
	}
	free(d);
}

/* Store value v (width w, little-endian) as element i of a column of size sz. */
static inline void put_elem(uint8_t *col, unsigned sz, uint32_t i, const uint8_t *v, unsigned w,
			    bool addr)
{
	uint8_t *o = col + (size_t)i * sz;
	if (addr && w == 4) {
		memset(o, 0, 10);
		o[10] = o[11] = 0xff;
		memcpy(o + 12, v, 4);
	} else {
		memset(o, 0, sz);
		memcpy(o, v, w);
	}
}

#define BAD (-EBADMSG)

static int dec_fixed(const uint8_t *r, size_t rl, uint8_t enc, unsigned w, const struct coldef *cd,
		     uint32_t n, uint8_t *col)
{
	bool addr = cd->kind == K_ADDR;
	unsigned sz = cd->size;
	switch (enc) {
	case ENC_CONST:
		if (rl != w)
			return BAD;
		for (uint32_t i = 0; i < n; i++)
			put_elem(col, sz, i, r, w, addr);
		return 0;
	case ENC_RAW:
		if (rl != (size_t)n * w)
			return BAD;
		for (uint32_t i = 0; i < n; i++)
			put_elem(col, sz, i, r + (size_t)i * w, w, addr);
		return 0;
	case ENC_PLANES: {
		if (rl != (size_t)n * w)
			return BAD;
		uint8_t v[16];
		for (uint32_t i = 0; i < n; i++) {
			for (unsigned k = 0; k < w; k++)
				v[k] = r[(size_t)k * n + i];
			put_elem(col, sz, i, v, w, addr);
		}
		return 0;
	}
	case ENC_DICT: {
		if (rl < 4)
			return BAD;
		uint32_t nd = le32_ld(r);
		if (nd < 2 || nd > 65536 || rl != dict_size(n, w, nd))
			return BAD;
		const uint8_t *dv = r + 4, *ix = r + 4 + (size_t)nd * w;
		unsigned b = idx_bits(nd);
		uint32_t mask = (1u << b) - 1;
		size_t ixlen = rl - 4 - (size_t)nd * w;
		for (uint32_t i = 0; i < n; i++) {
			/* index i occupies bits [i*b, i*b + b) of the packed array;
			 * b <= 16 so three bytes always hold it */
			size_t bit = (size_t)i * b, by = bit >> 3;
			uint32_t x = ix[by];
			if (by + 1 < ixlen)
				x |= (uint32_t)ix[by + 1] << 8;
			if (by + 2 < ixlen)
				x |= (uint32_t)ix[by + 2] << 16;
			uint32_t k = (x >> (bit & 7)) & mask;
			if (k >= nd)
				return BAD;
			put_elem(col, sz, i, dv + (size_t)k * w, w, addr);
		}
		return 0;
	}
	case ENC_FOR_BITS: {
		if (rl < 9)
			return BAD;
		uint64_t mn = le64_ld(r);
		unsigned bw = r[8];
		if (bw > PACK_MAX_W || rl - 9 != ((size_t)n * bw + 7) / 8)
			return BAD;
		for (uint32_t i = 0; i < n; i++) {
			uint64_t x = mn + (bw ? get_bits(r + 9, rl - 9, i, bw) : 0);
			if (w < 8 && (x >> (8 * w)))
				return BAD;
			uint8_t b[8];
			le64_st(b, x);
			put_elem(col, sz, i, b, w, false);
		}
		return 0;
	}
	case ENC_VARINT: {
		const uint8_t *p = r, *end = r + rl;
		for (uint32_t i = 0; i < n; i++) {
			uint64_t v;
			if (get_varint(&p, end, &v))
				return BAD;
			if (w < 8 && (v >> (8 * w)))
				return BAD;
			uint8_t b[8];
			le64_st(b, v);
			put_elem(col, sz, i, b, w, false);
		}
		return p == end ? 0 : BAD;
	}
	}
	return BAD;
}

/* n integers of a put_ints() body into o[]: -1 if malformed. */
static int get_ints(const uint8_t *r, size_t rl, uint32_t n, bool bits, uint64_t *o)
{
	if (bits) {
		if (rl < 1)
			return -1;
		unsigned w = r[0];
		if (w > PACK_MAX_W || rl - 1 != ((size_t)n * w + 7) / 8)
			return -1;
		for (uint32_t i = 0; i < n; i++)
			o[i] = w ? get_bits(r + 1, rl - 1, i, w) : 0;
		return 0;
	}
	const uint8_t *p = r, *end = r + rl;
	for (uint32_t i = 0; i < n; i++)
		if (get_varint(&p, end, &o[i]))
			return -1;
	return p == end ? 0 : -1;
}

static const uint8_t *find_col(const struct seg_blk *b, unsigned c, const uint8_t **chunk)
{
	const uint8_t *p = b->p;
	unsigned ncols = p[28];
	size_t off = BLK_DIR_OFF + (size_t)ncols * BLK_DIR_ENT;
	if (off > b->len)
		return NULL;
	for (unsigned k = 0; k < ncols; k++) {
		const uint8_t *d = p + BLK_DIR_OFF + (size_t)k * BLK_DIR_ENT;
		uint32_t stored = le32_ld(d + 8);
		if (stored > b->len - off)
			return NULL;
		if (d[0] == c) {
			*chunk = p + off;
			return d;
		}
		off += stored;
	}
	return NULL;
}

/* Chunk bytes uncompressed: into d->raw, or in place when stored raw. */
static int chunk_raw(struct blk_dec *d, const uint8_t *de, const uint8_t *chunk,
		     const uint8_t **r, size_t *rl)
{
	uint32_t raw_len = le32_ld(de + 4), stored = le32_ld(de + 8);
	/* a column of 64 Ki rows never needs more than this (strings:
	 * 4 x 1024-byte values per row would, but they are capped per block
	 * by the writer's arena) */
	if (raw_len > BLK_MAX_LEN)
		return BAD;
	switch (de[2]) {
	case COMP_NONE:
		if (stored != raw_len)
			return BAD;
		*r = chunk;
		*rl = raw_len;
		return 0;
	case COMP_LZ4: {
		if (buf_reserve(&d->raw, raw_len + 1))
			return -ENOMEM;
		int got = LZ4_decompress_safe((const char *)chunk, (char *)d->raw.p, (int)stored,
					      (int)raw_len);
		if (got < 0 || (uint32_t)got != raw_len)
			return BAD;
		break;
	}
	case COMP_ZSTD: {
		if (buf_reserve(&d->raw, raw_len + 1))
			return -ENOMEM;
		size_t got = ZSTD_decompress(d->raw.p, raw_len, chunk, stored);
		if (ZSTD_isError(got) || got != raw_len)
			return BAD;
		break;
	}
	default:
		return BAD;
	}
	*r = d->raw.p;
	*rl = raw_len;
	return 0;
}

static int dec_str(struct blk_dec *d, const uint8_t *r, size_t rl, uint32_t n, unsigned sf,
		   uint32_t *col, struct st_cols *out)
{
	const uint8_t *p = r, *end = r + rl;
	if (rl < 4)
		return BAD;
	uint32_t nd = le32_ld(p);
	p += 4;
	if (nd > n)
		return BAD;
	if (buf_reserve(&d->stroff[sf], (size_t)nd * 4 + 4) ||
	    buf_reserve(&d->strlen_[sf], (size_t)nd * 2 + 2))
		return -ENOMEM;
	uint32_t *offs = (uint32_t *)(void *)d->stroff[sf].p;
	uint16_t *lens = (uint16_t *)(void *)d->strlen_[sf].p;
	for (uint32_t k = 0; k < nd; k++) {
		if (end - p < 2)
			return BAD;
		uint16_t l = le16_ld(p);
		p += 2;
		if ((size_t)(end - p) < l)
			return BAD;
		/* arena offsets must stay stable while other columns append:
		 * record offsets, resolve pointers at the end */
		if (buf_reserve(&d->strarena, l + 1u))
			return -ENOMEM;
		memcpy(d->strarena.p + d->strarena.len, p, l);
		offs[k] = (uint32_t)d->strarena.len;
		lens[k] = l;
		d->strarena.len += l;
		p += l;
	}
	for (uint32_t i = 0; i < n; i++) {
		uint64_t v;
		if (get_varint(&p, end, &v) || v > nd)
			return BAD;
		col[i] = (uint32_t)v;
	}
	if (p != end)
		return BAD;
	out->str_n[sf] = nd;
	out->str_off[sf] = offs;
	out->str_len[sf] = lens;
	return 0;
}

int blk_decode(struct blk_dec *d, const struct seg_blk *b, uint32_t colmask, struct st_cols *out)
{
	uint32_t n = b->nrows;
	memset(out, 0, sizeof(*out));
	if (n > ST_BLOCK_ROWS_MAX)
		return BAD;
	if (b->len < BLK_DIR_OFF || b->p[28] > 64)
		return BAD;
	out->n = n;
	d->strarena.len = 0;
	if (colmask & ST_COL_BIT(ST_COL_FIRST_MS))
		colmask |= ST_COL_BIT(ST_COL_LAST_MS); /* starts are stored as durations */

	for (unsigned k = 0; k < ST_COL_MAX; k++) {
		/* last_ms (1) before first_ms (0): the latter needs the former */
		unsigned c = k == 0 ? ST_COL_LAST_MS : k == 1 ? ST_COL_FIRST_MS : k;
		if (!(colmask & ST_COL_BIT(c)))
			continue;
		const struct coldef *cd = &cols[c];
		const uint8_t *chunk, *de = find_col(b, c, &chunk);
		if (!de)
			return BAD;
		const uint8_t *r;
		size_t rl;
		int rc = chunk_raw(d, de, chunk, &r, &rl);
		if (rc)
			return rc;
		if (buf_reserve(&d->colbuf[c], (size_t)(n ? n : 1) * cd->size))
			return -ENOMEM;
		uint8_t *col = d->colbuf[c].p;
		uint8_t enc = de[1], w = de[3];

		switch (cd->kind) {
		case K_TIME: {
			if ((enc != ENC_DELTA && enc != ENC_DELTA_BITS) || rl < 8)
				return BAD;
			uint64_t *o = (uint64_t *)(void *)col;
			if (get_ints(r + 8, rl - 8, n, enc == ENC_DELTA_BITS, o))
				return BAD;
			uint64_t v = le64_ld(r);
			for (uint32_t i = 0; i < n; i++) {
				v += (uint64_t)zz_dec(o[i]);
				o[i] = v;
			}
			break;
		}
		case K_DUR: {
			/* last_ms was decoded first in this loop */
			if (enc != ENC_DUR && enc != ENC_DUR_BITS)
				return BAD;
			const uint64_t *l = (const uint64_t *)(void *)d->colbuf[ST_COL_LAST_MS].p;
			uint64_t *o = (uint64_t *)(void *)col;
			if (get_ints(r, rl, n, enc == ENC_DUR_BITS, o))
				return BAD;
			for (uint32_t i = 0; i < n; i++)
				o[i] = l[i] - (uint64_t)zz_dec(o[i]);
			break;
		}
		case K_STR:
			if (enc != ENC_STRDICT)
				return BAD;
			rc = dec_str(d, r, rl, n, cd->off, (uint32_t *)(void *)col, out);
			if (rc)
				return rc;
			break;
		default:
			if (cd->kind == K_ADDR ? (w != 4 && w != 16) : w != cd->size)
				return BAD;
			rc = dec_fixed(r, rl, enc, w, cd, n, col);
			if (rc)
				return rc;
		}
		out->col[c] = col;
	}
	out->str_arena = (const char *)d->strarena.p;
	return 0;
}

int st_cols_to_recs(const struct st_cols *c, struct flow_rec *recs, char *arena, size_t cap,
		    size_t *arena_len)
{
	for (unsigned k = 0; k < ST_COL_MAX; k++)
		if (!c->col[k] && c->n)
			return -EINVAL;
	size_t al = 0;
	for (uint32_t i = 0; i < c->n; i++) {
		struct flow_rec *r = &recs[i];
		memset(r, 0, sizeof(*r));
		for (unsigned k = 0; k < ST_COL_MAX; k++) {
			const struct coldef *cd = &cols[k];
			if (cd->kind == K_STR) {
				uint32_t ix = ((const uint32_t *)c->col[k])[i];
				if (!ix)
					continue;
				unsigned sf = cd->off;
				uint16_t l = c->str_len[sf][ix - 1];
				if (al + l > cap)
					return -ENOSPC;
				memcpy(arena + al, c->str_arena + c->str_off[sf][ix - 1], l);
				r->str_off[sf] = (uint32_t)al;
				r->str_len[sf] = l;
				al += l;
				continue;
			}
			memcpy((uint8_t *)r + cd->off, (const uint8_t *)c->col[k] + (size_t)i * cd->size,
			       cd->size);
		}
	}
	if (arena_len)
		*arena_len = al;
	return 0;
}

/* ---------------------------------------------------------- column buffer */

int colbuf_init(struct colbuf *cb, uint32_t cap)
{
	memset(cb, 0, sizeof(*cb));
	cb->cap = cap;
	for (unsigned c = 0; c < ST_COL_MAX; c++) {
		if (cols[c].kind == K_STR)
			continue;
		if (!(cb->col[c] = malloc((size_t)cap * cols[c].size)))
			goto fail;
	}
	for (unsigned s = 0; s < FLOW_STR_MAX; s++) {
		cb->str_off[s] = malloc((size_t)cap * sizeof(uint32_t));
		cb->str_len[s] = malloc((size_t)cap * sizeof(uint16_t));
		if (!cb->str_off[s] || !cb->str_len[s])
			goto fail;
	}
	return 0;
fail:
	colbuf_free(cb);
	return -ENOMEM;
}

void colbuf_free(struct colbuf *cb)
{
	for (unsigned c = 0; c < ST_COL_MAX; c++)
		free(cb->col[c]);
	for (unsigned s = 0; s < FLOW_STR_MAX; s++) {
		free(cb->str_off[s]);
		free(cb->str_len[s]);
	}
	memset(cb, 0, sizeof(*cb));
}

/* One store per field, no per-column dispatch: this runs for every record
 * the store takes in, while the record is still in cache. */
void colbuf_put(struct colbuf *cb, const struct flow_rec *r)
{
	uint32_t i = cb->n++;
#define P8(C, f) ((uint64_t *)cb->col[C])[i] = r->f
#define P4(C, f) ((uint32_t *)cb->col[C])[i] = r->f
#define P2(C, f) ((uint16_t *)cb->col[C])[i] = r->f
#define P1(C, f) ((uint8_t *)cb->col[C])[i] = r->f
#define PA(C, f) memcpy((uint8_t *)cb->col[C] + (size_t)i * 16, r->f, 16)
	P8(ST_COL_FIRST_MS, first_ms);
	P8(ST_COL_LAST_MS, last_ms);
	P8(ST_COL_PACKETS, packets);
	P8(ST_COL_BYTES, bytes);
	P8(ST_COL_REV_PACKETS, rev_packets);
	P8(ST_COL_REV_BYTES, rev_bytes);
	PA(ST_COL_SRC_ADDR, src_addr);
	PA(ST_COL_DST_ADDR, dst_addr);
	PA(ST_COL_NEXT_HOP, next_hop);
	PA(ST_COL_EXPORTER, exporter);
	P4(ST_COL_ODID, odid);
	P4(ST_COL_SAMPLING, sampling);
	P4(ST_COL_IN_IF, in_if);
	P4(ST_COL_OUT_IF, out_if);
	P4(ST_COL_SRC_AS, src_as);
	P4(ST_COL_DST_AS, dst_as);
	P2(ST_COL_SRC_PORT, src_port);
	P2(ST_COL_DST_PORT, dst_port);
	P2(ST_COL_EXP_PORT, exp_port);
	P2(ST_COL_VLAN, vlan);
	P1(ST_COL_PROTO, proto);
	P1(ST_COL_TCP_FLAGS, tcp_flags);
	P1(ST_COL_TOS, tos);
	P1(ST_COL_SRC_MASK, src_mask);
	P1(ST_COL_DST_MASK, dst_mask);
	P1(ST_COL_DIRECTION, direction);
	P1(ST_COL_FLAGS, flags);
	P1(ST_COL_VERSION, version);
#undef P8
#undef P4
#undef P2
#undef P1
#undef PA
	for (unsigned s = 0; s < FLOW_STR_MAX; s++) {
		cb->str_off[s][i] = r->str_off[s];
		cb->str_len[s][i] = r->str_len[s];
	}
}

void colbuf_shift(struct colbuf *cb, uint32_t k)
{
	if (k >= cb->n) {
		cb->n = 0;
		return;
	}
	uint32_t left = cb->n - k;
	for (unsigned c = 0; c < ST_COL_MAX; c++) {
		if (cols[c].kind == K_STR)
			continue;
		unsigned sz = cols[c].size;
		memmove(cb->col[c], (uint8_t *)cb->col[c] + (size_t)k * sz, (size_t)left * sz);
	}
	for (unsigned s = 0; s < FLOW_STR_MAX; s++) {
		memmove(cb->str_off[s], cb->str_off[s] + k, (size_t)left * sizeof(uint32_t));
		memmove(cb->str_len[s], cb->str_len[s] + k, (size_t)left * sizeof(uint16_t));
	}
	cb->n = left;
}

void colbuf_src(const struct colbuf *cb, uint32_t n, const char *arena, struct blk_src *src)
{
	memset(src, 0, sizeof(*src));
	src->n = n;
	for (unsigned c = 0; c < ST_COL_MAX; c++)
		src->col[c] = cb->col[c];
	for (unsigned s = 0; s < FLOW_STR_MAX; s++) {
		src->str_off[s] = cb->str_off[s];
		src->str_len[s] = cb->str_len[s];
	}
	src->arena = arena;
}
