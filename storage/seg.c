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
#if defined(__x86_64__)
#include <immintrin.h>
#define SEG_X86 1
#endif

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

/* LEB128 length without a loop: 7 payload bits per byte. */
static inline size_t varint_len(uint64_t v)
{
	/* by leading zeros: (70 - clz) / 7 without the multiply */
	static const uint8_t len[64] = {
		10, 9, 9, 9, 9, 9, 9, 9, 8, 8, 8, 8, 8, 8, 8, 7, 7, 7, 7, 7, 7, 7,
		6, 6, 6, 6, 6, 6, 6, 5, 5, 5, 5, 5, 5, 5, 4, 4, 4, 4, 4, 4, 4, 3,
		3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1,
	};
	return len[__builtin_clzll(v | 1)];
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

/* 7-bit groups of a LEB128 value of len <= 8 bytes loaded (LE) into w */
static inline uint64_t leb_gather(uint64_t w, size_t len)
{
	if (len < 8)
		w &= (1ull << (8 * len)) - 1;
	if (len <= 4) /* counters and times: the common lengths, half the work */
		return (w & 0x7full) | ((w >> 1) & (0x7full << 7)) | ((w >> 2) & (0x7full << 14)) |
		       ((w >> 3) & (0x7full << 21));
	return (w & 0x7full) | ((w >> 1) & (0x7full << 7)) | ((w >> 2) & (0x7full << 14)) |
	       ((w >> 3) & (0x7full << 21)) | ((w >> 4) & (0x7full << 28)) |
	       ((w >> 5) & (0x7full << 35)) | ((w >> 6) & (0x7full << 42)) |
	       ((w >> 7) & (0x7full << 49));
}

/* The LEB128 value from *start whose last byte is at e (found by the
 * word-at-a-time walks below, which may load 8 bytes at *start): gathered
 * from one load, or decoded byte by byte when longer than 8 bytes. -1 when
 * it does not end at e. */
static inline int leb_ending_at(const uint8_t **start, const uint8_t *e, const uint8_t *end,
				uint64_t *v)
{
	size_t len = (size_t)(e - *start) + 1;
	if (len <= 8) {
		*v = leb_gather(le64_ld(*start), len);
		*start = e + 1;
		return 0;
	}
	const uint8_t *s2 = *start;
	if (get_varint(&s2, end, v) || s2 != e + 1)
		return -1;
	*start = s2;
	return 0;
}

#ifdef SEG_X86
/* Runs of one- and two-byte LEB128 values (counters, durations), up to
 * eight per 16-byte load: the continuation bits of the first eight bytes
 * index a table giving how many whole short values they hold, the bytes
 * they use and a byte shuffle that puts each value's bytes in a 16-bit
 * lane. Built once; used only where SSE4.1 is present. */
static uint8_t vb_n[256], vb_used[256];
static uint8_t vb_shuf[256][16] __attribute__((aligned(16)));
static bool vb_ok;

__attribute__((constructor)) static void vb_init(void)
{
	for (unsigned m = 0; m < 256; m++) {
		unsigned pos = 0, k = 0;
		memset(vb_shuf[m], 0x80, 16);
		while (k < 8 && pos < 8) {
			if (!(m >> pos & 1)) {
				vb_shuf[m][2 * k] = (uint8_t)pos;
				pos += 1;
			} else if (pos + 1 < 8 && !(m >> (pos + 1) & 1)) {
				vb_shuf[m][2 * k] = (uint8_t)pos;
				vb_shuf[m][2 * k + 1] = (uint8_t)(pos + 1);
				pos += 2;
			} else {
				break; /* three bytes or more, or cut by the window */
			}
			k++;
		}
		vb_n[m] = (uint8_t)k;
		vb_used[m] = (uint8_t)pos;
	}
	__builtin_cpu_init();
	vb_ok = __builtin_cpu_supports("sse4.1") && __builtin_cpu_supports("ssse3");
}

/* One round at p: the values of table entry m (the continuation bits of
 * p[0..8)) into out[0..8) (eight written, vb_n[m] of them values). */
__attribute__((target("ssse3,sse4.1"))) static inline void vb_round(const uint8_t *p, unsigned m,
								   uint64_t *out)
{
	const __m128i low7 = _mm_set1_epi16(0x7f);
	__m128i in = _mm_loadu_si128((const __m128i *)(const void *)p);
	__m128i x = _mm_shuffle_epi8(in, _mm_load_si128((const __m128i *)(const void *)vb_shuf[m]));
	__m128i v = _mm_or_si128(_mm_and_si128(x, low7),
				 _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(x, 8), low7), 7));
	_mm_storeu_si128((__m128i *)(void *)out, _mm_cvtepu16_epi64(v));
	_mm_storeu_si128((__m128i *)(void *)(out + 2), _mm_cvtepu16_epi64(_mm_srli_si128(v, 4)));
	_mm_storeu_si128((__m128i *)(void *)(out + 4), _mm_cvtepu16_epi64(_mm_srli_si128(v, 8)));
	_mm_storeu_si128((__m128i *)(void *)(out + 6), _mm_cvtepu16_epi64(_mm_srli_si128(v, 12)));
}

/* Decode from *pp while 8 outputs fit and 16 bytes can be loaded; stops
 * at the first value longer than two bytes (the caller goes on from
 * there). Returns the number of values decoded. */
__attribute__((target("ssse3,sse4.1"))) static uint32_t varints_short(const uint8_t **pp,
									const uint8_t *end, uint32_t n,
									uint64_t *out)
{
	const uint8_t *p = *pp;
	uint32_t i = 0;
	/* windows of 64 bytes: their continuation bits taken at once, a
	 * round's table index is a shift of them (not a load and a movemask
	 * that the next round waits for); rounds start at offsets <= 48, so
	 * their loads stay inside. The same rounds as the loop below. */
	while (i + 8 <= n && end - p >= 64) {
		uint64_t mw = 0;
		for (unsigned h = 0; h < 4; h++)
			mw |= (uint64_t)(uint16_t)_mm_movemask_epi8(
				      _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * h)))
			      << (16 * h);
		unsigned off = 0;
		do {
			unsigned m = (unsigned)(mw >> off) & 0xff, k = vb_n[m];
			if (!k) {
				*pp = p + off;
				return i;
			}
			/* eight u64 written, k of them values: the rest is
			 * overwritten by the next round (i + 8 <= n keeps them
			 * inside out) */
			vb_round(p + off, m, out + i);
			i += k;
			off += vb_used[m];
		} while (off <= 48 && i + 8 <= n);
		p += off;
	}
	while (i + 8 <= n && end - p >= 16) {
		__m128i in = _mm_loadu_si128((const __m128i *)(const void *)p);
		unsigned m = (unsigned)_mm_movemask_epi8(in) & 0xff;
		unsigned k = vb_n[m];
		if (!k)
			break;
		vb_round(p, m, out + i);
		i += k;
		p += vb_used[m];
	}
	*pp = p;
	return i;
}
#endif

/* n LEB128 values from [*pp, end) into out[]: 0, or -1 when one is
 * malformed or runs past end. The ends of values are found eight bytes at
 * a time (bytes without a continuation bit), so the loop's only carried
 * work is walking those bits; each value is then gathered from one load at
 * its start. Values longer than 8 bytes and the last bytes take
 * get_varint(). */
static int get_varints(const uint8_t **pp, const uint8_t *end, uint32_t n, uint64_t *out)
{
	const uint8_t *start = *pp, *q;
	uint32_t i = 0;
#ifdef SEG_X86
	/* runs of short values by table; each longer value on its own */
	while (vb_ok && i < n) {
		i += varints_short(&start, end, n - i, out + i);
		if (i + 8 > n || end - start < 16)
			break;
		if (get_varint(&start, end, &out[i]))
			return -1;
		i++;
	}
#endif
	q = start;
	/* q + 16 <= end: a value starting at or before q + 7 loads 8 bytes */
	while (i < n && end - q >= 16) {
		uint64_t w;
		__builtin_memcpy(&w, q, 8);
		uint64_t term = ~w & 0x8080808080808080ull;
		while (term && i < n) {
			if (leb_ending_at(&start, q + (__builtin_ctzll(term) >> 3), end, &out[i++]))
				return -1;
			term &= term - 1;
		}
		q += 8;
	}
	for (; i < n; i++)
		if (get_varint(&start, end, &out[i]))
			return -1;
	*pp = start;
	return 0;
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
	uint16_t v = le16_ld(buf + 8);
	if (v < SEG_VERSION_MIN || v > SEG_VERSION || le32_ld(buf + 12) != SEG_HDR_LEN)
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
	/* all v4-mapped (the common case): one branch-free pass over the
	 * last four bytes as a big-endian u32 */
	uint64_t other = 0;
	uint32_t l4 = UINT32_MAX, h4 = 0;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *x = a + (size_t)i * 16;
		uint32_t y = __builtin_bswap32(le32_ld(x + 12));
		other |= le64_ld(x) | (le32_ld(x + 8) ^ 0xffff0000u);
		l4 = y < l4 ? y : l4;
		h4 = y > h4 ? y : h4;
	}
	if (!other) {
		memcpy(lo, a, 12);
		memcpy(hi, a, 12);
		l4 = __builtin_bswap32(l4);
		h4 = __builtin_bswap32(h4);
		memcpy(lo + 12, &l4, 4);
		memcpy(hi + 12, &h4, 4);
		return;
	}
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
	/* DICT indices of the address columns that other columns may depend
	 * on (ENC_DEP): pnd[p] entries, 0 when column dep_parent[p] is not a
	 * DICT in the block being encoded */
	uint16_t *pidx[2];
	uint32_t pnd[2];
	uint64_t *dep;    /* scratch: sort keys, hot/cold codes, quotients */
	uint32_t *cnt;    /* ENC_PDICT: occurrences per 16-bit value */
	uint32_t *rem;    /* ENC_PERPKT: remainders */
	uint32_t hist[4096]; /* ENC_DICT_HOT: entries per count (HOT_CAP) */
	uint32_t *first[2]; /* ENC_DEP: row where each parent entry first occurs */
	bool first_ok[2];   /* first[p] matches pidx[p] (cleared when pidx is copied) */
	struct buf sort6; /* ENC_DICT_MIX: IPv6 entries being sorted (2 x nd) */
	uint32_t cnt6[12][2048]; /* ENC_DICT_MIX: radix histograms */
};

/* Columns that ENC_DEP may name as parent: routers derive AS numbers,
 * masks, next hop and interfaces from these addresses (FIB lookups). */
static const uint8_t dep_parent[2] = { ST_COL_SRC_ADDR, ST_COL_DST_ADDR };

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
	e->pidx[0] = malloc(ST_BLOCK_ROWS_MAX * sizeof(uint16_t));
	e->pidx[1] = malloc(ST_BLOCK_ROWS_MAX * sizeof(uint16_t));
	e->dep = malloc(ST_BLOCK_ROWS_MAX * sizeof(*e->dep));
	e->cnt = malloc(65536 * sizeof(*e->cnt));
	e->rem = malloc(ST_BLOCK_ROWS_MAX * sizeof(*e->rem));
	e->first[0] = malloc(ST_BLOCK_ROWS_MAX * sizeof(uint32_t));
	e->first[1] = malloc(ST_BLOCK_ROWS_MAX * sizeof(uint32_t));
	if (!e->pidx[0] || !e->pidx[1] || !e->dep || !e->cnt || !e->rem || !e->first[0] ||
	    !e->first[1]) {
		blk_enc_free(e);
		errno = ENOMEM;
		return NULL;
	}
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
	buf_free(&e->sort6);
	free(e->idx);
	free(e->map);
	free(e->slots);
	free(e->slots4);
	free(e->pidx[0]);
	free(e->pidx[1]);
	free(e->dep);
	free(e->cnt);
	free(e->rem);
	free(e->first[0]);
	free(e->first[1]);
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

/* Branch-free (vectorised) over chunks of 4096 rows, stopping after the
 * first chunk that differs: most columns are not constant. */
#define ALL_EQ(T, LD)                                                          \
	do {                                                                   \
		T x0 = LD(v), d = 0;                                           \
		for (uint32_t i = 0; i < n && !d; i += 4096) {                 \
			uint32_t end = n - i < 4096 ? n : i + 4096;            \
			for (uint32_t j = i; j < end; j++)                     \
				d |= LD(v + (size_t)j * sizeof(T)) ^ x0;       \
		}                                                              \
		return !d;                                                     \
	} while (0)
#define LD1(p) (*(p))

static bool all_equal(const uint8_t *v, uint32_t n, unsigned w)
{
	switch (w) {
	case 1: ALL_EQ(uint8_t, LD1);
	case 2: ALL_EQ(uint16_t, le16_ld);
	case 4: ALL_EQ(uint32_t, le32_ld);
	case 8: ALL_EQ(uint64_t, le64_ld);
	}
	for (uint32_t i = 1; i < n; i++)
		if (!eq_w(v, v + (size_t)i * w, w))
			return false;
	return true;
}
#undef ALL_EQ
#undef LD1

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
static uint32_t dict_hash4_bits(struct blk_enc *e, const uint8_t *v, uint32_t n, uint32_t cap,
				unsigned bits)
{
	uint32_t mask = (1u << bits) - 1;
	if (++e->gen4 > 0xffff) {
		memset(e->slots4, 0, DICT_SLOTS * sizeof(*e->slots4));
		e->gen4 = 1;
	}
	uint64_t g = (uint64_t)e->gen4 << 48;
	e->dict.len = 0;
	if (buf_reserve(&e->dict, (size_t)(cap < n ? cap : n) * 4))
		return 0;
	uint32_t nd = 0, last = 0, last_ix = 0;
	uint64_t *slots = e->slots4;
	uint16_t *idx = e->idx;
	uint8_t *dv = e->dict.p;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t x = le32_ld(v + (size_t)i * 4);
		/* exporters, next hops: long runs of one value */
		if (x == last && i) {
			idx[i] = (uint16_t)last_ix;
			continue;
		}
		last = x;
		uint32_t s = hash_val(v + (size_t)i * 4, 4) & mask;
		for (;;) {
			uint64_t t = slots[s];
			if ((t & 0xffff000000000000ull) != g) {
				if (nd == cap)
					return 0;
				le32_st(dv + (size_t)nd * 4, x);
				slots[s] = g | (uint64_t)nd << 32 | x;
				last_ix = nd++;
				break;
			}
			if ((uint32_t)t == x) {
				last_ix = (uint32_t)(t >> 32) & 0xffff;
				break;
			}
			s = (s + 1) & mask;
		}
		idx[i] = (uint16_t)last_ix;
	}
	e->dict.len = (size_t)nd * 4;
	return nd;
}

/* A block's addresses usually number a few thousand: a table of 2^15
 * slots (256 KiB) stays in L2, where the full one (1 MiB) would miss on
 * most probes. Over 2^14 entries (half full) it starts again full size. */
static uint32_t dict_hash4(struct blk_enc *e, const uint8_t *v, uint32_t n, uint32_t cap)
{
	uint32_t nd = dict_hash4_bits(e, v, n, cap < 16384 ? cap : 16384, 15);
	if (nd || cap <= 16384)
		return nd;
	return dict_hash4_bits(e, v, n, cap, DICT_BITS);
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

/* Append n indices (each < 2^b, b <= 16) packed LSB-first at b bits; the
 * caller reserved the room. */
static void pack_idx(struct buf *buf, const uint16_t *ix, uint32_t n, unsigned b)
{
	uint8_t *o = buf->p + buf->len;
	uint32_t i = 0;
	/* Eight indices fill exactly b bytes, so groups of eight are packed
	 * with independent shifts and stay byte-aligned (no carried state).
	 * Each group is stored whole (8 or 16 bytes: callers reserve 16 bytes
	 * of slack) and the next group overwrites the excess. */
	if (b <= 8) {
		for (; i + 8 <= n; i += 8, o += b) {
			uint64_t g = 0;
			for (unsigned j = 0; j < 8; j++)
				g |= (uint64_t)ix[i + j] << (j * b);
			le64_st(o, g);
		}
	} else {
		for (; i + 8 <= n; i += 8, o += b) {
			unsigned __int128 g = 0;
			for (unsigned j = 0; j < 8; j++)
				g |= (unsigned __int128)ix[i + j] << (j * b);
			memcpy(o, &g, 16); /* little-endian host: low bytes first */
		}
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
	buf->len = (size_t)(o - buf->p);
}

/* Append u32 nd, the nd values of e->dict, then the n indices ix[] packed
 * LSB-first at idx_bits(nd) bits each. */
static int put_dict(struct blk_enc *e, const uint16_t *ix, uint32_t n, unsigned w, uint32_t nd)
{
	size_t len = dict_size(n, w, nd), start = e->raw.len;
	if (buf_reserve(&e->raw, len + 16))
		return -ENOMEM;
	uint8_t *o = e->raw.p + start;
	le32_st(o, nd);
	memcpy(o + 4, e->dict.p, (size_t)nd * w);
	o += 4 + (size_t)nd * w;
	e->raw.len = (size_t)(o - e->raw.p);
	pack_idx(&e->raw, ix, n, idx_bits(nd));
	return e->raw.len == start + len ? 0 : -EINVAL;
}

static int enc_dict(struct blk_enc *e, uint32_t n, unsigned w, uint32_t nd)
{
	e->raw.len = 0;
	return put_dict(e, e->idx, n, w, nd);
}

/* LSD radix sort of a[0..n) by the high 32 bits (3 x 11 bits): no
 * comparisons. t is scratch of n; returns whichever holds the result. */
static uint64_t *sort_hi32(uint64_t *a, uint64_t *t, uint32_t n)
{
	uint32_t cnt[2048];
	for (unsigned shift = 32; shift < 64; shift += 11) {
		memset(cnt, 0, sizeof(cnt));
		for (uint32_t k = 0; k < n; k++)
			cnt[(a[k] >> shift) & 2047]++;
		uint32_t sum = 0;
		for (unsigned j = 0; j < 2048; j++) {
			uint32_t c = cnt[j];
			cnt[j] = sum;
			sum += c;
		}
		for (uint32_t k = 0; k < n; k++)
			t[cnt[(a[k] >> shift) & 2047]++] = a[k];
		uint64_t *x = a;
		a = t;
		t = x;
	}
	return a;
}

/* Sort a dictionary of IPv4 addresses (e->dict: nd entries of 4 bytes,
 * network order) ascending and renumber e->idx[0..n). Sorted, the
 * dictionary shrinks to LEB128 gaps (ENC_DICT_DELTA: an internal /16 costs
 * a byte an entry), and tables of columns that depend on the address
 * (ENC_DEP) follow address order, where LZ4 finds runs (one mask, one
 * interface per subnet). */
static int dict_sort4(struct blk_enc *e, uint32_t n, uint32_t nd)
{
	if (buf_reserve(&e->ints, (size_t)nd * 8))
		return -ENOMEM;
	uint64_t *a = e->dep, *t = (uint64_t *)(void *)e->ints.p;
	uint8_t *dv = e->dict.p;
	for (uint32_t k = 0; k < nd; k++)
		a[k] = (uint64_t)__builtin_bswap32(le32_ld(dv + (size_t)k * 4)) << 32 | k;
	a = sort_hi32(a, t, nd);
	uint16_t *perm = e->map;
	for (uint32_t k = 0; k < nd; k++) {
		le32_st(dv + (size_t)k * 4, __builtin_bswap32((uint32_t)(a[k] >> 32)));
		perm[(uint32_t)a[k]] = (uint16_t)k;
	}
	for (uint32_t i = 0; i < n; i++)
		e->idx[i] = perm[e->idx[i]];
	return 0;
}

/* An IPv6 dictionary entry as a 128-bit number (hi: bytes 0-7). */
struct k6 {
	uint64_t hi, lo;
	uint32_t k; /* its entry number before sorting */
};

/* The low half of the largest v4-mapped address, ::ffff:255.255.255.255
 * (its high half is 0), as a big-endian number. */
#define V4MAX_LO 0x0000ffffffffffffull

/* ENC_DICT_MIX: put a 16-byte address dictionary (e->dict, nd entries) in
 * the order the encoding stores it -- the v4-mapped entries ascending, then
 * the others ascending -- and renumber e->idx[0..n). *nd4 gets the number
 * of v4-mapped entries. That order is ascending as a whole only when every
 * IPv6 entry lies above ::ffff:255.255.255.255; 1 (nothing changed) when
 * one does not (::, ::1, IPv4-compatible ::a.b.c.d): DICT_MIX does not
 * apply then. 0 done, -ENOMEM.
 * Both parts are radix sorted: the IPv4 numbers as in dict_sort4(), the
 * IPv6 ones by 11-bit digits of the 128-bit number, skipping the digits
 * every entry shares (histograms of all digits come from one pass). */
static int dict_sort16(struct blk_enc *e, uint32_t n, uint32_t nd, uint32_t *nd4_out)
{
	if (buf_reserve(&e->ints, (size_t)nd * 8) ||
	    buf_reserve(&e->sort6, (size_t)nd * 2 * sizeof(struct k6)))
		return -ENOMEM;
	uint64_t *a4 = e->dep;
	struct k6 *a6 = (struct k6 *)(void *)e->sort6.p, *t6 = a6 + nd;
	uint8_t *dv = e->dict.p;
	uint32_t nd4 = 0, nd6 = 0;
	for (uint32_t k = 0; k < nd; k++) {
		uint64_t hi = be64_ld(dv + (size_t)k * 16), lo = be64_ld(dv + (size_t)k * 16 + 8);
		if (!hi && lo >> 32 == 0xffff) {
			a4[nd4++] = lo << 32 | k;
		} else {
			if (!hi && lo < V4MAX_LO)
				return 1;
			a6[nd6++] = (struct k6){ hi, lo, k };
		}
	}
	a4 = sort_hi32(a4, (uint64_t *)(void *)e->ints.p, nd4);
	if (nd6 > 1) {
		memset(e->cnt6, 0, sizeof(e->cnt6));
		for (uint32_t k = 0; k < nd6; k++) {
			unsigned __int128 x = (unsigned __int128)a6[k].hi << 64 | a6[k].lo;
			for (unsigned d = 0; d < 12; d++)
				e->cnt6[d][(uint32_t)(x >> (11 * d)) & 2047]++;
		}
		for (unsigned d = 0; d < 12; d++) {
			uint32_t *cnt = e->cnt6[d], sum = 0;
			unsigned sh = 11 * d;
			unsigned __int128 x0 = (unsigned __int128)a6[0].hi << 64 | a6[0].lo;
			if (cnt[(uint32_t)(x0 >> sh) & 2047] == nd6)
				continue; /* every entry has this digit: nothing would move */
			for (unsigned j = 0; j < 2048; j++) {
				uint32_t c = cnt[j];
				cnt[j] = sum;
				sum += c;
			}
			for (uint32_t k = 0; k < nd6; k++) {
				unsigned __int128 x = (unsigned __int128)a6[k].hi << 64 | a6[k].lo;
				t6[cnt[(uint32_t)(x >> sh) & 2047]++] = a6[k];
			}
			struct k6 *x = a6;
			a6 = t6;
			t6 = x;
		}
	}
	uint16_t *perm = e->map;
	for (uint32_t k = 0; k < nd4; k++) {
		uint8_t *o = dv + (size_t)k * 16;
		le64_st(o, 0);
		le32_st(o + 8, 0xffff0000u); /* bytes 00 00 ff ff */
		le32_st(o + 12, __builtin_bswap32((uint32_t)(a4[k] >> 32)));
		perm[(uint32_t)a4[k]] = (uint16_t)k;
	}
	for (uint32_t k = 0; k < nd6; k++) {
		uint8_t *o = dv + (size_t)(nd4 + k) * 16;
		le64_st(o, __builtin_bswap64(a6[k].hi));
		le64_st(o + 8, __builtin_bswap64(a6[k].lo));
		perm[a6[k].k] = (uint16_t)(nd4 + k);
	}
	for (uint32_t i = 0; i < n; i++)
		e->idx[i] = perm[e->idx[i]];
	*nd4_out = nd4;
	return 0;
}

/* Bytes entry k of a sorted IPv6 list shares with entry k - 1 (0 for the
 * first): ENC_DICT_MIX stores only the rest. Entries are distinct, so at
 * most 15. */
static inline unsigned pfx6(const uint8_t *dv, uint32_t k)
{
	if (!k)
		return 0;
	const uint8_t *x = dv + (size_t)k * 16, *y = x - 16;
	uint64_t h = be64_ld(x) ^ be64_ld(y);
	if (h)
		return (unsigned)__builtin_clzll(h) >> 3;
	return 8 + ((unsigned)__builtin_clzll(be64_ld(x + 8) ^ be64_ld(y + 8)) >> 3);
}

/* Raw size of ENC_DICT_MIX for the dictionary dict_sort16() left. */
static size_t dict_mix_size(const struct blk_enc *e, uint32_t n, uint32_t nd, uint32_t nd4)
{
	const uint8_t *dv = e->dict.p;
	size_t len = 8 + ((size_t)n * idx_bits(nd) + 7) / 8;
	uint32_t prev = 0;
	for (uint32_t k = 0; k < nd4; k++) {
		uint32_t x = __builtin_bswap32(le32_ld(dv + (size_t)k * 16 + 12));
		len += varint_len(x - prev);
		prev = x;
	}
	const uint8_t *d6 = dv + (size_t)nd4 * 16;
	for (uint32_t k = 0; k < nd - nd4; k++)
		len += 17 - pfx6(d6, k);
	return len;
}

/* ENC_DICT_MIX: u32 nd4, u32 nd6, the IPv4 entries as DICT_DELTA's LEB128
 * gaps, the IPv6 entries front-coded (u8 bytes shared with the previous
 * entry, then the other bytes), the indices as in DICT. */
static int enc_dict_mix(struct blk_enc *e, enum st_col c, uint32_t n, uint32_t nd, uint32_t nd4)
{
	for (unsigned p = 0; p < 2; p++)
		if (c == dep_parent[p])
			e->pnd[p] = nd;
	size_t len = dict_mix_size(e, n, nd, nd4);
	e->raw.len = 0;
	if (buf_reserve(&e->raw, len + 16))
		return -ENOMEM;
	const uint8_t *dv = e->dict.p;
	le32_st(e->raw.p, nd4);
	le32_st(e->raw.p + 4, nd - nd4);
	e->raw.len = 8;
	uint32_t prev = 0;
	for (uint32_t k = 0; k < nd4; k++) {
		uint32_t x = __builtin_bswap32(le32_ld(dv + (size_t)k * 16 + 12));
		put_varint(&e->raw, x - prev);
		prev = x;
	}
	const uint8_t *d6 = dv + (size_t)nd4 * 16;
	uint8_t *o = e->raw.p + e->raw.len;
	for (uint32_t k = 0; k < nd - nd4; k++) {
		unsigned pl = pfx6(d6, k);
		*o++ = (uint8_t)pl;
		memcpy(o, d6 + (size_t)k * 16 + pl, 16 - pl);
		o += 16 - pl;
	}
	e->raw.len = (size_t)(o - e->raw.p);
	pack_idx(&e->raw, e->idx, n, idx_bits(nd));
	return e->raw.len == len ? 0 : -EINVAL;
}

/* Bytes of the LEB128 values of a sorted 4-byte address dictionary. */
static size_t dict_delta_vals(const uint8_t *dv, uint32_t nd)
{
	size_t len = 0;
	uint32_t prev = 0;
	for (uint32_t k = 0; k < nd; k++) {
		uint32_t x = __builtin_bswap32(le32_ld(dv + (size_t)k * 4));
		len += varint_len(x - prev);
		prev = x;
	}
	return len;
}

/* ENC_DICT_HOT: the k = 2^hb most frequent entries ("hot") get hb-bit
 * codes, the others their b-bit index, and one flag bit a row says which.
 * Returns the hb that minimises the index bits, 0 when a flag per row does
 * not pay (then *hot_t is unset). Addresses are heavy-tailed (a few hosts
 * and servers carry most flows), which is what this exploits. Counts come
 * from a histogram of counts, so choosing costs O(nd), not a sort. */
#define HOT_CAP 4096
static unsigned hot_plan(struct blk_enc *e, uint32_t n, uint32_t nd, uint32_t *hot_t,
			 uint32_t *hot_at_t)
{
	uint32_t *cnt = e->cnt;
	memset(cnt, 0, (size_t)nd * sizeof(*cnt));
	for (uint32_t i = 0; i < n; i++)
		cnt[e->idx[i]]++;
	/* hist[c]: entries seen c times (c < HOT_CAP); big: the others */
	uint32_t *hist = e->hist;
	memset(hist, 0, sizeof(e->hist));
	uint32_t nbig = 0;
	uint64_t bigrows = 0;
	for (uint32_t k = 0; k < nd; k++) {
		if (cnt[k] >= HOT_CAP) {
			nbig++;
			bigrows += cnt[k];
		} else {
			hist[cnt[k]]++;
		}
	}
	/* one pass down the counts: where the k = 2^hb most frequent
	 * entries end (count t, of which the first at_t entries), and the
	 * rows they cover */
	unsigned b = idx_bits(nd), best_hb = 0, hb = 1;
	uint32_t t_of[13] = { 0 }, at_of[13] = { 0 };
	uint64_t cov_of[13] = { 0 }, ent = nbig, cov = bigrows;
	while (hb <= 12 && (1u << hb) < nbig)
		hb++; /* the cap hides the order of the biggest: skip */
	unsigned hb0 = hb;
	for (uint32_t c = HOT_CAP - 1; c >= 1 && hb <= 12; c--) {
		while (hb <= 12 && ent + hist[c] > (1u << hb)) {
			t_of[hb] = c;
			at_of[hb] = (1u << hb) - (uint32_t)ent;
			cov_of[hb] = cov + (uint64_t)at_of[hb] * c;
			hb++;
		}
		ent += hist[c];
		cov += (uint64_t)hist[c] * c;
	}
	uint64_t best = (uint64_t)n * b;
	for (unsigned h = hb0; h < hb && h < b; h++) {
		uint64_t k = 1u << h;
		uint64_t bits = n + cov_of[h] * h + (n - cov_of[h]) * b + k * 16;
		if (bits < best) {
			best = bits;
			best_hb = h;
		}
	}
	if (!best_hb)
		return 0;
	/* hot: entries above count t, and the first at_t of those at t */
	*hot_t = t_of[best_hb];
	*hot_at_t = at_of[best_hb];
	return best_hb;
}

/* ENC_DICT_DELTA: u32 nd, the first value and then the gaps as LEB128,
 * indices as in DICT; or ENC_DICT_HOT, the same entries and hot codes. */
static int enc_dict_delta(struct blk_enc *e, enum st_col c, uint32_t n, uint32_t nd, uint8_t *enc)
{
	for (unsigned p = 0; p < 2; p++)
		if (c == dep_parent[p])
			e->pnd[p] = nd;
	e->raw.len = 0;
	if (buf_reserve(&e->raw, 4 + (size_t)nd * 5 + 3 + (size_t)HOT_CAP * 2 + (size_t)n * 4 + 64))
		return -ENOMEM;
	le32_st(e->raw.p, nd);
	e->raw.len = 4;
	uint32_t prev = 0;
	for (uint32_t k = 0; k < nd; k++) {
		uint32_t x = __builtin_bswap32(le32_ld(e->dict.p + (size_t)k * 4));
		put_varint(&e->raw, x - prev);
		prev = x;
	}
	uint32_t t = 0, at_t = 0;
	unsigned hb = hot_plan(e, n, nd, &t, &at_t);
	*enc = hb ? ENC_DICT_HOT : ENC_DICT_DELTA;
	if (!hb) {
		pack_idx(&e->raw, e->idx, n, idx_bits(nd));
		return 0;
	}
	/* hot entries in index order; code[k]: hb-bit code + 1, 0 = cold */
	uint16_t *code = e->map;
	uint32_t nh = 0;
	uint8_t *o = e->raw.p + e->raw.len;
	o[0] = (uint8_t)hb;
	uint8_t *hl = o + 3;
	for (uint32_t k = 0; k < nd; k++) {
		bool hot = e->cnt[k] > t || (e->cnt[k] == t && at_t && (at_t--, true));
		code[k] = hot ? (uint16_t)(nh + 1) : 0;
		if (hot)
			le16_st(hl + (size_t)nh++ * 2, (uint16_t)k);
	}
	le16_st(o + 1, (uint16_t)(nh - 1));
	e->raw.len += 3 + (size_t)nh * 2;
	/* flags, then hot codes, then cold indices (two u16 streams) */
	uint16_t *hs = (uint16_t *)(void *)e->dep, *cs = hs + n;
	uint32_t nhot = 0, ncold = 0;
	o = e->raw.p + e->raw.len;
	memset(o, 0, ((size_t)n + 7) / 8);
	for (uint32_t i = 0; i < n;) {
		uint32_t end = n - i < 8 ? n : i + 8;
		uint8_t f = 0;
		for (unsigned j = 0; i < end; i++, j++) {
			uint16_t k = e->idx[i], h = code[k];
			f |= (uint8_t)((h != 0) << j);
			hs[nhot] = (uint16_t)(h - 1);
			cs[ncold] = k;
			nhot += h != 0;
			ncold += h == 0;
		}
		o[(i - 1) >> 3] = f;
	}
	e->raw.len += ((size_t)n + 7) / 8;
	pack_idx(&e->raw, hs, nhot, hb);
	pack_idx(&e->raw, cs, ncold, idx_bits(nd));
	return 0;
}

/* enc_dict() of a column, which ENC_DEP children may then name */
static int enc_dict_parent(struct blk_enc *e, enum st_col c, uint32_t n, unsigned w, uint32_t nd)
{
	for (unsigned p = 0; p < 2; p++)
		if (c == dep_parent[p])
			e->pnd[p] = nd;
	return enc_dict(e, n, w, nd);
}

/* The dictionary encoding enc_column() chose: DICT, DICT_DELTA (or
 * DICT_HOT, which it decides) or DICT_MIX. Sets *enc. */
static int enc_dict_any(struct blk_enc *e, enum st_col c, uint32_t n, unsigned w, uint32_t nd,
			uint8_t kind, uint32_t nd4, uint8_t *enc)
{
	*enc = kind;
	switch (kind) {
	case ENC_DICT_DELTA:
		return enc_dict_delta(e, c, n, nd, enc);
	case ENC_DICT_MIX:
		return enc_dict_mix(e, c, n, nd, nd4);
	default:
		return enc_dict_parent(e, c, n, w, nd);
	}
}

/* A little-endian value of w <= 8 bytes: the column widths without a
 * call to memcpy (st_w stores one). */
static inline uint64_t ld_w(const uint8_t *p, unsigned w)
{
	switch (w) {
	case 1: return p[0];
	case 2: return le16_ld(p);
	case 4: return le32_ld(p);
	case 8: return le64_ld(p);
	}
	uint8_t vb[8] = { 0 };
	memcpy(vb, p, w);
	return le64_ld(vb);
}

/* Every row's value equals the value at the first row of its parent entry:
 * branch-free over chunks of 1024 rows, stopping after the first chunk that
 * differs (most columns tried are not a function of the address). */
#define DEP_CHECK(T, LD)                                                        \
	do {                                                                    \
		for (uint32_t i = 0; i < n; i += 1024) {                        \
			uint32_t end = n - i < 1024 ? n : i + 1024;             \
			T d = 0;                                                \
			for (uint32_t j = i; j < end; j++)                      \
				d |= LD(v + (size_t)j * sizeof(T)) ^            \
				     LD(v + (size_t)first[pi[j]] * sizeof(T));  \
			if (d)                                                  \
				return 1;                                       \
		}                                                               \
	} while (0)
#define LD1(p) (*(p))

/* ENC_DEP: is column v (width w <= 4) a function of parent p's dictionary
 * entry? Then store that function: one value per parent entry, itself as
 * a dictionary. Returns 0 with the chunk in e->raw, 1 when v is not a
 * function of the parent (the first chunk of rows with a contradiction
 * stops the scan), or -ENOMEM. */
static int enc_dep(struct blk_enc *e, const uint8_t *v, uint32_t n, unsigned w, unsigned p)
{
	uint32_t np = e->pnd[p];
	const uint16_t *pi = e->pidx[p];
	uint32_t *first = e->first[p];
	/* Once per block and parent, shared by every column tried against
	 * it: written backwards, an entry's last store is its first row. The
	 * check below then has no stores and no branch per row. */
	if (!e->first_ok[p]) {
		for (uint32_t i = n; i-- > 0;)
			first[pi[i]] = i;
		e->first_ok[p] = true;
	}
	switch (w) {
	case 1: DEP_CHECK(uint8_t, LD1); break;
	case 2: DEP_CHECK(uint16_t, le16_ld); break;
	default: DEP_CHECK(uint32_t, le32_ld); break;
	}
	/* the table as w-byte values (every parent entry occurs in a row),
	 * gathered first: v may be e->vals itself (narrowed next hops) */
	uint32_t *t = e->rem;
	for (uint32_t k = 0; k < np; k++)
		t[k] = (uint32_t)ld_w(v + (size_t)first[k] * w, w);
	if (buf_reserve(&e->vals, (size_t)np * w + 8))
		return -ENOMEM;
	for (uint32_t k = 0; k < np; k++)
		le32_st(e->vals.p + (size_t)k * w, t[k]); /* 4-byte store, next overwrites */
	uint32_t nd = dict_build(e, e->vals.p, np, w, 65536);
	if (!nd)
		return -ENOMEM;
	e->raw.len = 0;
	if (buf_reserve(&e->raw, 5))
		return -ENOMEM;
	e->raw.p[0] = dep_parent[p];
	e->raw.len = 1;
	return put_dict(e, e->idx, np, w, nd);
}
#undef DEP_CHECK
#undef LD1

/* Bits needed for v (0 for 0). Without a branch: PERPKT's decoder takes
 * it of every row's packet count - 1, and single-packet flows (0) come at
 * random. */
static inline unsigned bits_of(uint64_t v)
{
	return 64 - (unsigned)__builtin_clzll(v | 1) - (v == 0);
}

#define PACK_MAX_W 56 /* value + 7 bits of offset fit one 64-bit load */

/* Append n values at w bits each, LSB-first (FORMAT.md §5). */
static void put_bits(struct buf *b, const uint64_t *u, uint32_t n, unsigned w)
{
	/* whole 64-bit words while they fill, then the last bytes: no store
	 * goes past the packed length */
	uint8_t *o = b->p + b->len;
	uint64_t acc = 0;
	unsigned have = 0; /* bits in acc, < 64 */
	for (uint32_t i = 0; i < n; i++) {
		uint64_t x = u[i];
		acc |= x << have;
		have += w;
		if (have >= 64) {
			le64_st(o, acc);
			o += 8;
			have -= 64;
			acc = have ? x >> (w - have) : 0;
		}
	}
	for (; have; have = have > 8 ? have - 8 : 0) {
		*o++ = (uint8_t)acc;
		acc >>= 8;
	}
	b->len = (size_t)(o - b->p);
}

/* Value i of a packed array of len bytes; the caller checked that
 * ceil(n * w / 8) == len, so every value lies inside it. */
static inline uint64_t get_bits_at(const uint8_t *p, size_t len, uint64_t bit, unsigned w)
{
	size_t by = (size_t)(bit >> 3);
	uint64_t x = 0;
	if (by + 8 <= len)
		x = le64_ld(p + by);
	else if (by < len)
		memcpy(&x, p + by, len - by);
	x >>= bit & 7;
	return w == 64 ? x : x & ((1ull << w) - 1);
}

static inline uint64_t get_bits(const uint8_t *p, size_t len, uint32_t i, unsigned w)
{
	return get_bits_at(p, len, (uint64_t)i * w, w);
}

/* Index i of a packed index array of len bytes (b <= 16 bits, so three
 * bytes hold it); the caller checked len against the index count. */
static inline uint32_t get_idx(const uint8_t *ix, size_t len, uint32_t i, unsigned b)
{
	size_t bit = (size_t)i * b, by = bit >> 3;
	uint32_t x = ix[by];
	if (by + 1 < len)
		x |= (uint32_t)ix[by + 1] << 8;
	if (by + 2 < len)
		x |= (uint32_t)ix[by + 2] << 16;
	return (x >> (bit & 7)) & ((1u << b) - 1);
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

/* A 16-bit column (ports, VLAN): DICT, PDICT or PLANES, whichever is
 * smallest. PDICT: the most frequent values (service ports) get short
 * codes, the rest (ephemeral ports) are stored as exceptions at a fixed
 * width. A plain dictionary spends log2(distinct) bits on every row; here a
 * row costs b bits, plus eb when it is an exception. Sets *enc; 0 or
 * -ENOMEM. */
#define PDICT_CAND 1024
static int cand_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a >> 16, y = *(const uint32_t *)b >> 16;
	return x > y ? -1 : x < y; /* count descending */
}

static int enc_u16(struct blk_enc *e, const uint16_t *v, uint32_t n, uint8_t *enc)
{
	uint32_t mn = 65535, mx = 0;
	for (uint32_t i = 0; i < n; i++) {
		mn = v[i] < mn ? v[i] : mn;
		mx = v[i] > mx ? v[i] : mx;
	}
	/* one counting pass serves DICT (distinct values) and PDICT (the most
	 * frequent ones); tables are touched only over [mn, mx] */
	uint32_t *cnt = e->cnt, range = mx - mn + 1;
	memset(cnt + mn, 0, range * sizeof(*cnt));
	for (uint32_t i = 0; i < n; i++)
		cnt[v[i]]++;
	/* candidates: count << 16 | value, for values on at least 1/512 of
	 * the rows (so at most 512 of them) */
	uint32_t thr = n / 512 > 2 ? n / 512 : 2, cand[PDICT_CAND], nc = 0, nd = 0;
	for (uint32_t x = mn; x <= mx; x++) {
		if (!cnt[x])
			continue;
		nd++;
		if (cnt[x] >= thr && nc < PDICT_CAND)
			cand[nc++] = (cnt[x] > 65535 ? 65535u : cnt[x]) << 16 | x;
	}
	size_t plain = (size_t)n * 2, dsz = nd >= 2 ? dict_size(n, 2, nd) : SIZE_MAX;
	/* best PDICT code width b: 2^b - 1 entries; exceptions priced at the
	 * width of the whole column's range (their own is known only later) */
	unsigned eb_all = bits_of(mx - mn), b = 0;
	size_t pest = SIZE_MAX;
	if (nc) {
		qsort(cand, nc, sizeof(cand[0]), cand_cmp);
		uint64_t best = UINT64_MAX, cov = 0;
		uint32_t k = 0;
		for (unsigned bb = 1; bb <= 8; bb++) {
			for (; k < nc && k < (1u << bb) - 1; k++)
				cov += cnt[cand[k] & 0xffff];
			uint64_t bits = (uint64_t)n * bb + (n - cov) * eb_all + (uint64_t)k * 16;
			if (bits < best) {
				best = bits;
				b = bb;
			}
			if (k == nc)
				break;
		}
		pest = 18 + best / 8;
	}
	uint16_t *map = e->map;
	if (dsz < plain && dsz <= pest) {
		/* DICT, entries in ascending order */
		e->dict.len = 0;
		if (buf_reserve(&e->dict, (size_t)nd * 2))
			return -ENOMEM;
		uint32_t k = 0;
		for (uint32_t x = mn; x <= mx; x++)
			if (cnt[x]) {
				le16_st(e->dict.p + (size_t)k * 2, (uint16_t)x);
				map[x] = (uint16_t)k++;
			}
		for (uint32_t i = 0; i < n; i++)
			e->idx[i] = map[v[i]];
		*enc = ENC_DICT;
		return enc_dict(e, n, 2, nd);
	}
	if (pest >= plain) {
		*enc = ENC_PLANES;
		return enc_planes(&e->raw, (const uint8_t *)v, n, 2);
	}
	uint32_t nd_p = nc < (1u << b) - 1 ? nc : (1u << b) - 1;
	uint16_t *code = e->idx;
	memset(map + mn, 0, range * sizeof(*map));
	for (uint32_t j = 0; j < nd_p; j++)
		map[cand[j] & 0xffff] = (uint16_t)(j + 1);
	if (buf_reserve(&e->ints, (size_t)n * 8))
		return -ENOMEM;
	uint64_t *ex = (uint64_t *)(void *)e->ints.p;
	uint32_t ne = 0;
	uint64_t emn = UINT64_MAX, emx = 0;
	for (uint32_t i = 0; i < n; i++) {
		code[i] = map[v[i]];
		ex[ne] = v[i];
		ne += !code[i];
	}
	for (uint32_t i = 0; i < ne; i++) {
		emn = ex[i] < emn ? ex[i] : emn;
		emx = ex[i] > emx ? ex[i] : emx;
	}
	if (!ne)
		emn = emx = 0;
	unsigned eb = bits_of(emx - emn);
	size_t len = 1 + 4 + (size_t)nd_p * 2 + ((size_t)n * b + 7) / 8 + 4 + 9 +
		     ((size_t)ne * eb + 7) / 8;
	if (len >= plain) {
		*enc = ENC_PLANES;
		return enc_planes(&e->raw, (const uint8_t *)v, n, 2);
	}
	e->raw.len = 0;
	if (buf_reserve(&e->raw, len + 16))
		return -ENOMEM;
	uint8_t *o = e->raw.p;
	o[0] = (uint8_t)b;
	le32_st(o + 1, nd_p);
	for (uint32_t j = 0; j < nd_p; j++)
		le16_st(o + 5 + (size_t)j * 2, (uint16_t)(cand[j] & 0xffff));
	e->raw.len = 5 + (size_t)nd_p * 2;
	pack_idx(&e->raw, code, n, b);
	o = e->raw.p + e->raw.len;
	le32_st(o, ne);
	le64_st(o + 4, emn);
	o[12] = (uint8_t)eb;
	e->raw.len += 13;
	for (uint32_t i = 0; i < ne; i++)
		ex[i] -= emn;
	put_bits(&e->raw, ex, ne, eb);
	*enc = ENC_PDICT;
	return e->raw.len == len ? 0 : -EINVAL;
}

/* Divisor of row i of an ENC_PERPKT column: its packet count, 1 for 0. */
static inline uint64_t pp_div(const uint64_t *p, uint32_t i)
{
	return p[i] ? p[i] : 1;
}

/* ENC_PERPKT: v[i] = q[i] * d[i] + r[i] with d the row's packet count
 * (pp_div). Bytes per packet is a packet size (tens to 1500), narrower than
 * the total; r[i] < d[i] takes bits_of(d[i] - 1) bits, which the decoder
 * derives from
 * the packets column it has already decoded. Returns 0 with the chunk in
 * e->raw, 1 when not smaller than limit bytes (or a packet count needs
 * more than 32 bits), -ENOMEM. */
static int enc_perpkt(struct blk_enc *e, const uint64_t *v, const uint64_t *p, uint32_t n,
		      size_t limit)
{
	uint64_t *q = e->dep, qmn = UINT64_MAX, qmx = 0, rbits = 0;
	uint32_t *r = e->rem;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t d = pp_div(p, i);
		if (d >> 32)
			return 1;
		/* 32-bit division where it fits: several times the throughput */
		if (!(v[i] >> 32))
			q[i] = (uint32_t)v[i] / (uint32_t)d;
		else
			q[i] = v[i] / d;
		r[i] = (uint32_t)(v[i] - q[i] * d);
		qmn = q[i] < qmn ? q[i] : qmn;
		qmx = q[i] > qmx ? q[i] : qmx;
		rbits += bits_of(d - 1);
	}
	unsigned qb = bits_of(qmx - qmn);
	if (qb > PACK_MAX_W)
		return 1;
	size_t len = 9 + ((size_t)n * qb + 7) / 8 + (size_t)((rbits + 7) / 8);
	if (len >= limit)
		return 1;
	e->raw.len = 0;
	if (buf_reserve(&e->raw, len + 16))
		return -ENOMEM;
	le64_st(e->raw.p, qmn);
	e->raw.p[8] = (uint8_t)qb;
	e->raw.len = 9;
	for (uint32_t i = 0; i < n; i++)
		q[i] -= qmn;
	put_bits(&e->raw, q, n, qb);
	/* remainders at each row's own width, one bit string */
	uint8_t *o = e->raw.p + e->raw.len;
	uint64_t acc = 0;
	unsigned have = 0;
	/* Without a branch per byte (the widths vary row by row): all of acc
	 * is stored, the whole bytes are kept; the next store overwrites the
	 * rest (len + 16 reserved). */
	for (uint32_t i = 0; i < n; i++) {
		acc |= (uint64_t)r[i] << have; /* have < 8, width <= 32 */
		have += bits_of(pp_div(p, i) - 1);
		le64_st(o, acc);
		unsigned nb = have >> 3;
		o += nb;
		acc >>= nb * 8; /* <= 32 */
		have &= 7;
	}
	if (have)
		*o++ = (uint8_t)acc;
	e->raw.len = (size_t)(o - e->raw.p);
	return e->raw.len == len ? 0 : -EINVAL;
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
		if (buf_reserve(&e->raw, 17 + (size_t)n * 10) || buf_reserve(&e->ints, (size_t)n * 8))
			return -ENOMEM;
		/* Deltas from the previous row span two jitters (an exporter's
		 * records end up to its inactive timeout before the export);
		 * the distance below the latest end seen so far spans one:
		 * MAXDELTA, a bit less a row, when it is the smaller. */
		uint64_t *u = (uint64_t *)(void *)e->ints.p, prev = t[0], ref = t[0], zmx = 0;
		int64_t dmn = INT64_MAX, dmx = INT64_MIN;
		/* the reference starts at the latest end among the first rows,
		 * not at row 0's, which may lie a whole jitter below them */
		for (uint32_t i = 1; i < n && i < 512; i++)
			ref = t[i] > ref ? t[i] : ref;
		uint64_t base = ref;
		size_t vsz = 0;
		for (uint32_t i = 0; i < n; i++) {
			u[i] = zz_enc((int64_t)(t[i] - prev));
			prev = t[i];
			zmx |= u[i];
			vsz += varint_len(u[i]);
			int64_t d = (int64_t)(ref - t[i]);
			dmn = d < dmn ? d : dmn;
			dmx = d > dmx ? d : dmx;
			ref = t[i] > ref ? t[i] : ref;
		}
		*width = 8;
		size_t dsz = vsz, bsz = 1 + ((size_t)n * bits_of(zmx) + 7) / 8;
		if (bits_of(zmx) <= PACK_MAX_W && bsz < dsz)
			dsz = bsz;
		unsigned mb = bits_of((uint64_t)dmx - (uint64_t)dmn);
		if (mb <= PACK_MAX_W && 9 + ((size_t)n * mb + 7) / 8 < dsz) {
			ref = base;
			for (uint32_t i = 0; i < n; i++) {
				u[i] = (ref - t[i]) - (uint64_t)dmn;
				ref = t[i] > ref ? t[i] : ref;
			}
			le64_st(e->raw.p, base);
			le64_st(e->raw.p + 8, (uint64_t)dmn);
			e->raw.p[16] = (uint8_t)mb;
			e->raw.len = 17;
			put_bits(&e->raw, u, n, mb);
			*enc = ENC_MAXDELTA;
			return 0;
		}
		le64_st(e->raw.p, t[0]);
		e->raw.len = 8;
		unsigned w;
		*enc = put_ints(&e->raw, u, n, &w) ? ENC_DELTA_BITS : ENC_DELTA;
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
		*width = 8;
		unsigned w;
		*enc = put_ints(&e->raw, u, n, &w) ? ENC_DUR_BITS : ENC_DUR;
		return 0;
	}
	case K_STR: {
		/* dictionary of distinct strings; index 0 = absent */
		unsigned sf = cd->off;
		const uint32_t *so = src->str_off[sf];
		const uint16_t *sl = src->str_len[sf];
		const char *arena = src->arena;
		*enc = ENC_STRDICT;
		*width = 0;
		uint16_t any = 0;
		for (uint32_t i = 0; arena && i < n; i++)
			any |= sl[i];
		if (!any) {
			/* no string in the block (a template without the field):
			 * skip the dictionary, every index is 0 */
			if (buf_reserve(&e->raw, 4 + (size_t)n))
				return -ENOMEM;
			memset(e->raw.p, 0, 4 + (size_t)n);
			e->raw.len = 4 + (size_t)n;
			return 0;
		}
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
		/* v4-mapped: 10 zero bytes, then ff ff (FORMAT.md §conventions).
		 * Narrow while checking, in one branch-free pass: the copy is
		 * dropped in the rare block with an IPv6 address */
		if (buf_reserve(&e->vals, (size_t)n * 4 + 4))
			return -ENOMEM;
		uint64_t other = 0;
		uint8_t *nv = e->vals.p;
		for (uint32_t i = 0; i < n; i++) {
			const uint8_t *x = v + (size_t)i * 16;
			other |= le64_ld(x) | (le32_ld(x + 8) ^ 0xffff0000u);
			le32_st(nv + (size_t)i * 4, le32_ld(x + 12));
		}
		if (!other) {
			v = nv;
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
	/* A column that is a function of an address (AS, mask, next hop,
	 * interface) costs one value per distinct address, and no dictionary
	 * over its own rows needs to be built. */
	if (cd->kind != K_U64 && w <= 4 && c > ST_COL_DST_ADDR) {
		for (unsigned p = 0; p < 2; p++) {
			if (!e->pnd[p])
				continue;
			int r = enc_dep(e, v, n, w, p);
			if (r < 0)
				return r;
			if (!r && e->raw.len < (size_t)n * w) {
				*enc = ENC_DEP;
				return 0;
			}
		}
		/* a DEP chunk that was not smaller must not stay in front of
		 * the encoding chosen instead (VARINT appends to e->raw) */
		e->raw.len = 0;
	}
	/* Counters have too many distinct values for a dictionary to pay. */
	uint32_t nd = cd->kind == K_U64 || w == 2 ? 0 : dict_build(e, v, n, w, 65536);
	size_t dsz = nd ? dict_size(n, w, nd) : SIZE_MAX;
	bool delta = false, mix = false;
	uint32_t nd4 = 0;
	if (nd >= 2 && cd->kind == K_ADDR && w == 4) {
		int rc = dict_sort4(e, n, nd);
		if (rc)
			return rc;
		size_t ddsz = 4 + dict_delta_vals(e->dict.p, nd) + ((size_t)n * idx_bits(nd) + 7) / 8;
		if (ddsz < dsz) {
			dsz = ddsz;
			delta = true;
		}
	}
	if (nd >= 2 && cd->kind == K_ADDR && w == 16) {
		/* a block with some IPv6 rows: IPv4 entries as gaps (1-3 bytes
		 * instead of 16), IPv6 ones front-coded */
		int rc = dict_sort16(e, n, nd, &nd4);
		if (rc < 0)
			return rc;
		size_t msz = rc ? SIZE_MAX : dict_mix_size(e, n, nd, nd4);
		if (msz < dsz) {
			dsz = msz;
			mix = true;
		}
	}
	for (unsigned p = 0; p < 2 && nd; p++)
		if (c == dep_parent[p]) {
			/* kept for ENC_DEP children; pnd set only if DICT wins */
			memcpy(e->pidx[p], e->idx, (size_t)n * sizeof(*e->idx));
			e->first_ok[p] = false;
		}
	/* a dictionary under one byte a row beats LEB128 without counting */
	if (nd && dsz < n)
		return enc_dict_any(e, c, n, w, nd, delta ? ENC_DICT_DELTA : mix ? ENC_DICT_MIX : ENC_DICT,
				    nd4, enc);
	/* plain size of the alternative to a dictionary */
	size_t plain = (size_t)n * w;
	if (cd->kind == K_U64 || cd->kind == K_U32) {
		plain = 0;
		for (uint32_t i = 0; i < n; i++)
			plain += varint_len(w == 8 ? le64_ld(v + (size_t)i * 8) : le32_ld(v + (size_t)i * 4));
	}
	if (nd && dsz < plain)
		return enc_dict_any(e, c, n, w, nd, delta ? ENC_DICT_DELTA : mix ? ENC_DICT_MIX : ENC_DICT,
				    nd4, enc);
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
		if (c == ST_COL_BYTES || c == ST_COL_REV_BYTES) {
			size_t lim = plain;
			if (bw <= PACK_MAX_W && 9 + ((size_t)n * bw + 7) / 8 < lim)
				lim = 9 + ((size_t)n * bw + 7) / 8;
			int r = enc_perpkt(e, u, src->col[c == ST_COL_BYTES ? ST_COL_PACKETS : ST_COL_REV_PACKETS],
					   n, lim);
			if (r <= 0) {
				*enc = ENC_PERPKT;
				return r;
			}
			e->raw.len = 0;
		}
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
		if (w == 2)
			return enc_u16(e, (const uint16_t *)(const void *)v, n, enc);
		*enc = ENC_PLANES;
		return enc_planes(&e->raw, v, n, w);
	}
}

/* Compress e->raw onto the end of e->out; chunks that do not shrink (or are
 * too small to bother) are stored as they are. */
static int put_chunk(struct blk_enc *e, uint8_t enc, uint8_t *comp, uint32_t *stored)
{
	size_t rl = e->raw.len;
	*comp = COMP_NONE;
	/* Fixed-width codes of many distinct values (ports, per-packet
	 * quotients, time deltas) leave LZ4 nothing to find: on the default
	 * mix it saved under 1 % of these chunks, at a fifth of the
	 * encoder's LZ4 time. So for DICT_MIX chunks of over 512 entries
	 * (source and destination addresses: 1.4 %), which also spares the
	 * reader a decompression of every address chunk it scans; small
	 * ones (next hops) have short codes in runs, which LZ4 shortens.
	 * ZSTD's entropy coder still gains on them all. */
	bool dense = enc == ENC_PDICT || enc == ENC_PERPKT || enc == ENC_DELTA_BITS ||
		     enc == ENC_DUR_BITS || enc == ENC_FOR_BITS || enc == ENC_MAXDELTA ||
		     (enc == ENC_DICT_MIX && rl >= 8 &&
		      (uint64_t)le32_ld(e->raw.p) + le32_ld(e->raw.p + 4) > 512);
	if (rl >= 64 && e->codec == ST_CODEC_LZ4 && !dense) {
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
	size_t dir_len = (size_t)ST_COL_MAX * BLK_DIR_ENT4;
	e->out.len = 0;
	if (buf_reserve(&e->out, BLK_DIR_OFF + dir_len))
		return -ENOMEM;
	memset(e->out.p, 0, BLK_DIR_OFF + dir_len);
	e->out.len = BLK_DIR_OFF + dir_len;
	e->pnd[0] = e->pnd[1] = 0;

	uint64_t raw_total = 0;
	for (unsigned c = 0; c < ST_COL_MAX; c++) {
		uint8_t enc, width, comp;
		uint32_t stored;
		int rc = enc_column(e, src, (enum st_col)c, &enc, &width);
		if (rc)
			return rc;
		if (e->raw.len > BLK_MAX_LEN)
			return -E2BIG;
		rc = put_chunk(e, enc, &comp, &stored);
		if (rc)
			return rc;
		uint8_t *d = e->out.p + BLK_DIR_OFF + (size_t)c * BLK_DIR_ENT4;
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
	h[30] = BLK_LAYOUT4;
	struct st_zone z;
	zone_compute(src, &z);
	zone_write(h + BLK_HDR_LEN, &z);
	seg_blk_seal(h, (uint32_t)e->out.len);
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

void seg_blk_seal(uint8_t *p, uint32_t len)
{
	if (p[30] != BLK_LAYOUT4) {
		le32_st(p + 4, st_crc32c(p + 8, len - 8));
		return;
	}
	unsigned ncols = p[28];
	size_t o = BLK_DIR_OFF + (size_t)ncols * BLK_DIR_ENT4;
	if (o > len)
		return;
	for (unsigned k = 0; k < ncols; k++) {
		uint8_t *de = p + BLK_DIR_OFF + (size_t)k * BLK_DIR_ENT4;
		uint32_t st = le32_ld(de + 8);
		if (st > len - o)
			break;
		le32_st(de + 12, st_crc32c(p + o, st));
		o += st;
	}
	le32_st(p + 4, st_crc32c(p + 8, BLK_DIR_OFF + (size_t)ncols * BLK_DIR_ENT4 - 8));
}

/* *b for the block at p (its header and zone map read). */
static void blk_fill(const uint8_t *p, uint32_t len, uint64_t off, struct seg_blk *b)
{
	b->p = p;
	b->len = len;
	b->off = off;
	b->nrows = le32_ld(p + 12);
	b->commit = le64_ld(p + 16);
	b->raw_len = le32_ld(p + 24);
	zone_read(p + BLK_HDR_LEN, &b->zone);
	b->fetch = NULL;
	b->ctx = NULL;
	b->have = NULL;
}

/* Read partial blocks' chunks closer than this to each other with one
 * read: a system call costs more than reading a few pages more. */
#define FETCH_GAP (16u << 10)

/* A version-4 block's head (header, zone map, directory; len bytes in
 * all): its CRC holds and its chunks lie inside len. *end: where the
 * chunks end. */
static bool blk_head_ok(const uint8_t *p, uint32_t len, uint64_t *end)
{
	unsigned ncols = p[28];
	uint64_t off = BLK_DIR_OFF + (uint64_t)ncols * BLK_DIR_ENT4;
	if (p[30] != BLK_LAYOUT4 || ncols > 64 || off > len ||
	    le32_ld(p + 4) != st_crc32c(p + 8, (size_t)off - 8))
		return false;
	for (unsigned k = 0; k < ncols; k++) {
		off += le32_ld(p + BLK_DIR_OFF + (size_t)k * BLK_DIR_ENT4 + 8);
		if (off > len)
			return false;
	}
	if (end)
		*end = off;
	return true;
}

/* The CRCs of a block held whole (len >= BLK_DIR_OFF): versions 1 to 3
 * (byte 30 is 0) have one over bytes 8..len-1; version 4 one over its
 * head and one per chunk (padding after the chunks is not covered). */
static int blk_crc_ok(const uint8_t *p, uint32_t len)
{
	if (p[30] != BLK_LAYOUT4)
		return le32_ld(p + 4) == st_crc32c(p + 8, len - 8);
	if (!blk_head_ok(p, len, NULL))
		return 0;
	unsigned ncols = p[28];
	size_t off = BLK_DIR_OFF + (size_t)ncols * BLK_DIR_ENT4;
	for (unsigned k = 0; k < ncols; k++) {
		const uint8_t *d = p + BLK_DIR_OFF + (size_t)k * BLK_DIR_ENT4;
		uint32_t stored = le32_ld(d + 8);
		if (le32_ld(d + 12) != st_crc32c(p + off, stored))
			return 0;
		off += stored;
	}
	return 1;
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
	if (w->heads_only && p[30] == BLK_LAYOUT4)
		return blk_head_ok(p, len, NULL);
	return blk_crc_ok(p, len);
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
			blk_fill(w->buf + pos, len, pos, b);
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

/* A footer read on its own (flen bytes that were at file offset foff of a
 * file of fsize bytes): 1 and its entry count when magic, CRC, length and
 * position check out, else 0. */
int seg_footer_buf(const uint8_t *f, size_t flen, uint64_t foff, uint64_t fsize, uint32_t *n)
{
	if (flen < FTR_HDR_LEN || memcmp(f, FTR_MAGIC, 4) != 0 || le32_ld(f + 8) != flen ||
	    (flen & 7) || foff + flen + TRL_LEN != fsize)
		return 0;
	if (le32_ld(f + 4) != st_crc32c(f + 8, flen - 8))
		return 0;
	uint32_t k = le32_ld(f + 12);
	if ((uint64_t)k * FTR_ENT_LEN > flen - FTR_HDR_LEN)
		return 0;
	*n = k;
	return 1;
}

/* A block read on its own (len bytes from file offset off): 1 (*b filled,
 * pointing into p) when its magic, length and CRCs hold, else 0. */
int seg_blk_check(const uint8_t *p, uint32_t len, uint64_t off, struct seg_blk *b)
{
	if (len < BLK_DIR_OFF || len > BLK_MAX_LEN || (len & 7) || memcmp(p, BLK_MAGIC, 4) != 0 ||
	    le32_ld(p + 8) != len || !blk_crc_ok(p, len))
		return 0;
	blk_fill(p, len, off, b);
	return 1;
}

int seg_blk_head(const uint8_t *p, uint32_t got, uint32_t len, uint64_t off, struct seg_blk *b)
{
	if (len < BLK_DIR_OFF || len > BLK_MAX_LEN || (len & 7) || (got < len && got < BLK_HEAD_MAX) ||
	    memcmp(p, BLK_MAGIC, 4) != 0 || le32_ld(p + 8) != len || !blk_head_ok(p, len, NULL))
		return 0;
	blk_fill(p, len, off, b);
	return 1;
}

int seg_blk_fetch(uint8_t *p, uint64_t colmask, uint64_t *have,
		  int (*read)(void *ctx, uint8_t *dst, uint32_t n, uint64_t at), void *ctx)
{
	colmask &= ~*have;
	if (!colmask)
		return 0;
	/* the head was checked (seg_blk_head, or a walk): every extent lies
	 * inside len; without read, the bytes are there already */
	unsigned ncols = p[28];
	uint64_t off = BLK_DIR_OFF + (uint64_t)ncols * BLK_DIR_ENT4, lo = 0, hi = 0, seen = 0, got = 0;
	uint32_t want[64], nwant = 0;
	uint64_t wat[64];
	for (unsigned k = 0; k < ncols; k++) {
		const uint8_t *d = p + BLK_DIR_OFF + (size_t)k * BLK_DIR_ENT4;
		uint32_t stored = le32_ld(d + 8);
		uint64_t bit = d[0] < 64 ? 1ull << d[0] : 0;
		/* only a column's first entry counts, as in the decoder */
		if ((colmask & bit) && !(seen & bit)) {
			/* chunks less than FETCH_GAP apart are read at once */
			if (read && hi > lo && off > hi + FETCH_GAP) {
				int rc = read(ctx, p + lo, (uint32_t)(hi - lo), lo);
				if (rc)
					return rc;
				lo = hi;
			}
			if (hi == lo)
				lo = off;
			hi = off + stored;
			wat[nwant] = off;
			want[nwant++] = k;
		}
		seen |= bit;
		off += stored;
	}
	if (read && hi > lo) {
		int rc = read(ctx, p + lo, (uint32_t)(hi - lo), lo);
		if (rc)
			return rc;
	}
	for (uint32_t i = 0; i < nwant; i++) {
		const uint8_t *d = p + BLK_DIR_OFF + (size_t)want[i] * BLK_DIR_ENT4;
		if (le32_ld(d + 12) != st_crc32c(p + wat[i], le32_ld(d + 8)))
			return -EBADMSG;
		got |= 1ull << d[0];
	}
	*have |= got;
	return 0;
}

int seg_blk_check_chunks(const uint8_t *p, uint64_t colmask, uint64_t *have)
{
	/* nothing is written without read: p stays as it is */
	return seg_blk_fetch((uint8_t *)(uintptr_t)p, colmask, have, NULL, NULL);
}


/* ---------------------------------------------------------------- decoder */

struct blk_dec {
	struct buf raw;
	struct buf praw;  /* ENC_DEP: the parent's chunk */
	struct buf tab;   /* ENC_DEP: parent entry -> own entry */
	struct buf pvals; /* ENC_DEP: the parent's DICT_DELTA entries */
	struct buf dvals; /* DICT_DELTA entries */
	struct buf rows;  /* entry of each row of a dictionary column */
	struct buf prows; /* ENC_DEP: the same for the parent */
	struct buf tmp;   /* unpacked codes */
	struct buf colbuf[ST_COL_MAX];
	struct buf codebuf[ST_COL_MAX]; /* columns delivered as codes */
	struct buf xvals[ST_COL_MAX];   /* their PDICT exceptions */
	struct buf ints;                /* PDICT: values before narrowing */
	struct buf rawcol[ST_COL_MAX];  /* each column's chunk uncompressed:
					 * dictionaries are used in place */
	/* the compressed chunk rawcol[c] holds (blk_dec_cache): a second
	 * decode of the same block skips decompressing it again */
	bool cache;
	const uint8_t *rawkey[ST_COL_MAX];
	uint32_t rawlen[ST_COL_MAX];
	struct buf strarena;
	struct buf stroff[FLOW_STR_MAX];
	struct buf strlen_[FLOW_STR_MAX];
	size_t str_used;
};

struct blk_dec *blk_dec_new(void)
{
	return calloc(1, sizeof(struct blk_dec));
}

void blk_dec_cache(struct blk_dec *d, bool on)
{
	d->cache = on;
	memset(d->rawkey, 0, sizeof(d->rawkey));
}

void blk_dec_free(struct blk_dec *d)
{
	if (!d)
		return;
	buf_free(&d->raw);
	buf_free(&d->praw);
	buf_free(&d->tab);
	buf_free(&d->pvals);
	buf_free(&d->dvals);
	buf_free(&d->rows);
	buf_free(&d->prows);
	buf_free(&d->tmp);
	buf_free(&d->ints);
	for (unsigned c = 0; c < ST_COL_MAX; c++) {
		buf_free(&d->colbuf[c]);
		buf_free(&d->codebuf[c]);
		buf_free(&d->xvals[c]);
		buf_free(&d->rawcol[c]);
	}
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

/* dst[i] = element ix[i] of src for i < n, elements of sz bytes, one loop
 * per width (the reader's hot path); 0 for a width without one. dst may be
 * src when ix[i] >= i (compacting in place). */
#define GATHER(NAME, T)                                                                     \
	static int NAME(uint8_t *dst, const uint8_t *src, const T *ix, uint32_t n, unsigned sz) \
	{                                                                                   \
		switch (sz) {                                                               \
		case 1:                                                                     \
			for (uint32_t i = 0; i < n; i++)                                    \
				dst[i] = src[ix[i]];                                        \
			return 1;                                                           \
		case 2:                                                                     \
			for (uint32_t i = 0; i < n; i++)                                    \
				memmove(dst + (size_t)i * 2, src + (size_t)ix[i] * 2, 2);   \
			return 1;                                                           \
		case 4:                                                                     \
			for (uint32_t i = 0; i < n; i++)                                    \
				memmove(dst + (size_t)i * 4, src + (size_t)ix[i] * 4, 4);   \
			return 1;                                                           \
		case 8:                                                                     \
			for (uint32_t i = 0; i < n; i++)                                    \
				memmove(dst + (size_t)i * 8, src + (size_t)ix[i] * 8, 8);   \
			return 1;                                                           \
		case 16:                                                                    \
			for (uint32_t i = 0; i < n; i++)                                    \
				memmove(dst + (size_t)i * 16, src + (size_t)ix[i] * 16, 16); \
			return 1;                                                           \
		}                                                                           \
		return 0;                                                                   \
	}
GATHER(gather_u16, uint16_t)
GATHER(gather_u32, uint32_t)
#undef GATHER

/* col[i] = entry rows[i] of dv (w bytes each) for every row: the loops
 * put_elem() would run, specialised by width (the reader's hot path). */
static void put_rows(uint8_t *col, const struct coldef *cd, unsigned w, const uint8_t *dv,
		     const uint16_t *rows, uint32_t n)
{
	unsigned sz = cd->size;
	if (cd->kind == K_ADDR && w == 4) {
		for (uint32_t i = 0; i < n; i++) {
			uint8_t *o = col + (size_t)i * 16;
			le64_st(o, 0);
			le32_st(o + 8, 0xffff0000u); /* bytes 00 00 ff ff */
			memcpy(o + 12, dv + (size_t)rows[i] * 4, 4);
		}
		return;
	}
	if (w == sz && gather_u16(col, dv, rows, n, sz))
		return;
	for (uint32_t i = 0; i < n; i++)
		put_elem(col, sz, i, dv + (size_t)rows[i] * w, w, cd->kind == K_ADDR);
}

/* Values i0..n-1 of b <= 16 bits packed in p[0..len) into out[]: 8-byte
 * loads while 8 bytes remain, bounded loads at the end. The caller checked
 * len against n and b. Returns the largest value (for range checks). */
static uint32_t unpack16_from(const uint8_t *p, size_t len, uint32_t i, uint32_t n, unsigned b,
			      uint16_t *out)
{
	uint32_t mask = (1u << b) - 1, mx = 0;
	size_t bit = (size_t)i * b;
	for (; i < n && (bit >> 3) + 8 <= len; i++, bit += b) {
		uint32_t x = (uint32_t)(le64_ld(p + (bit >> 3)) >> (bit & 7)) & mask;
		out[i] = (uint16_t)x;
		mx = x > mx ? x : mx;
	}
	for (; i < n; i++) {
		uint32_t x = get_idx(p, len, i, b);
		out[i] = (uint16_t)x;
		mx = x > mx ? x : mx;
	}
	return mx;
}

static uint32_t unpack16_scalar(const uint8_t *p, size_t len, uint32_t n, unsigned b, uint16_t *out)
{
	return unpack16_from(p, len, 0, n, b, out);
}

#ifdef SEG_X86
/* Sixteen indices a round with AVX2: eight values at b bits fill exactly b
 * bytes, so each group of eight starts on a byte. A 256-bit register takes
 * values 0-3 of a group in its low lane (16 bytes loaded at the group) and
 * 4-7 in its high lane (loaded at byte 4b/8, bit offset 4b mod 8); a byte
 * shuffle puts the 3 bytes that hold each value (<= 16 bits at an offset of
 * < 8) in a 32-bit lane, a per-lane shift and a mask finish it. Tables per
 * b, built at start-up. */
struct up_tab {
	uint8_t shuf[32];
	uint32_t shift[8];
};
static struct up_tab up_tab[17] __attribute__((aligned(32)));
static bool up_ok;

/* The same start-up detection as vb_init(): tables, and whether to use them. */
__attribute__((constructor)) static void up_init(void)
{
	__builtin_cpu_init();
	up_ok = __builtin_cpu_supports("avx2");
	for (unsigned b = 1; b <= 16; b++) {
		unsigned hi_bits = 8 * ((4 * b) >> 3); /* where the high lane's load starts */
		for (unsigned v = 0; v < 8; v++) {
			unsigned o = v * b - (v >= 4 ? hi_bits : 0), lane = v >= 4 ? 16 : 0;
			for (unsigned t = 0; t < 4; t++) /* o >> 3 <= 6: inside the lane's 16 bytes */
				up_tab[b].shuf[lane + 4 * (v & 3) + t] = (uint8_t)((o >> 3) + t);
			up_tab[b].shift[v] = o & 7;
		}
	}
}

__attribute__((target("avx2"))) static inline __m256i up_group(const uint8_t *g, size_t h,
								 __m256i shuf, __m256i sh,
								 __m256i mask)
{
	__m256i x = _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)g));
	x = _mm256_inserti128_si256(x, _mm_loadu_si128((const __m128i *)(const void *)(g + h)), 1);
	return _mm256_and_si256(_mm256_srlv_epi32(_mm256_shuffle_epi8(x, shuf), sh), mask);
}

__attribute__((target("avx2"))) static uint32_t unpack16_avx2(const uint8_t *p, size_t len,
								uint32_t n, unsigned b, uint16_t *out)
{
	const __m256i shuf = _mm256_load_si256((const __m256i *)(const void *)up_tab[b].shuf);
	const __m256i sh = _mm256_load_si256((const __m256i *)(const void *)up_tab[b].shift);
	const __m256i mask = _mm256_set1_epi32((int)((1u << b) - 1));
	__m256i mx = _mm256_setzero_si256();
	size_t h = (4 * b) >> 3, at = 0;
	uint32_t i = 0;
	/* the last load of a round ends at at + b + h + 16: never past len */
	for (; i + 16 <= n && at + b + h + 16 <= len; i += 16, at += 2 * (size_t)b) {
		__m256i g0 = up_group(p + at, h, shuf, sh, mask);
		__m256i g1 = up_group(p + at + b, h, shuf, sh, mask);
		/* packus: lanes hold values 0-3, 8-11 | 4-7, 12-15; the
		 * permute restores their order (values < 2^16: no saturation) */
		__m256i v = _mm256_permute4x64_epi64(_mm256_packus_epi32(g0, g1), 0xd8);
		_mm256_storeu_si256((__m256i *)(void *)(out + i), v);
		mx = _mm256_max_epu16(mx, v);
	}
	__m128i m = _mm_max_epu16(_mm256_castsi256_si128(mx), _mm256_extracti128_si256(mx, 1));
	m = _mm_max_epu16(m, _mm_srli_si128(m, 8));
	m = _mm_max_epu16(m, _mm_srli_si128(m, 4));
	m = _mm_max_epu16(m, _mm_srli_si128(m, 2));
	uint32_t top = (uint32_t)_mm_extract_epi16(m, 0), rest = unpack16_from(p, len, i, n, b, out);
	return rest > top ? rest : top;
}
#endif

/* n values of b <= 16 bits packed in p[0..len) into out[]; the caller
 * checked len against n and b. Returns the largest value (range checks).
 * The kernel is chosen at start-up (up_init): AVX2 where the CPU has it. */
static inline uint32_t unpack16(const uint8_t *p, size_t len, uint32_t n, unsigned b, uint16_t *out)
{
#ifdef SEG_X86
	if (up_ok)
		return unpack16_avx2(p, len, n, b, out);
#endif
	return unpack16_scalar(p, len, n, b, out);
}

int seg_unpack16_impl(unsigned impl, const uint8_t *p, size_t len, uint32_t n, unsigned b,
		      uint16_t *out, uint32_t *max)
{
	if (b < 1 || b > 16 || len != ((size_t)n * b + 7) / 8)
		return -EINVAL;
	if (impl == 0) {
		*max = unpack16_scalar(p, len, n, b, out);
		return 0;
	}
#ifdef SEG_X86
	if (impl == 1 && up_ok) {
		*max = unpack16_avx2(p, len, n, b, out);
		return 0;
	}
#endif
	return -ENOTSUP;
}

/* Values i..n-1 of a packed array (w <= PACK_MAX_W bits each, FORMAT.md §5)
 * in p[0..len), each plus add, into out[i..n): one 8-byte load a value
 * while 8 bytes remain, bounded loads for the last ones. The caller
 * checked len == ceil(n * w / 8), so every value lies inside p. */
static void unpack64_from(const uint8_t *p, size_t len, uint32_t i, uint32_t n, unsigned w,
			  uint64_t add, uint64_t *out)
{
	if (!w) {
		for (; i < n; i++)
			out[i] = add;
		return;
	}
	uint64_t mask = (1ull << w) - 1;
	size_t bit = (size_t)i * w;
	for (; i < n && (bit >> 3) + 8 <= len; i++, bit += w)
		out[i] = add + ((le64_ld(p + (bit >> 3)) >> (bit & 7)) & mask);
	for (; i < n; i++, bit += w)
		out[i] = add + get_bits_at(p, len, bit, w);
}

#ifdef SEG_X86
/* Four values of w <= 32 bits a round with AVX2: from the 32-bit word
 * holding the first one's first bit, the four span at most 31 + 4·32
 * bits, so one 32-byte load at that word holds them all. A dword permute
 * puts the two words holding each value in its 64-bit lane, a per-lane
 * shift (< 32, so shift + w <= 63) and a mask finish it. The first value's
 * bit offset in its word repeats every 8 rounds (8·4w bits is a multiple
 * of 32): eight permutes and shifts per width, built per call. */
struct up64 {
	uint32_t idx[8][8];
	uint64_t sh[8][4];
};

static void up64_plan(struct up64 *t, unsigned w)
{
	for (unsigned g = 0; g < 8; g++) {
		unsigned s = (4 * w * g) & 31; /* round g's first bit, in its word */
		for (unsigned j = 0; j < 4; j++) {
			unsigned rel = s + j * w; /* <= 31 + 96: words 0..3, +1 <= 4 */
			t->idx[g][2 * j] = rel >> 5;
			t->idx[g][2 * j + 1] = (rel >> 5) + 1;
			t->sh[g][j] = rel & 31;
		}
	}
}

/* Values i .. i+3 (i a multiple of 4, bit = i * w, its words inside p)
 * of width w (mask: its low w bits) plus add. */
__attribute__((target("avx2"))) static inline __m256i up_round(const struct up64 *t,
								const uint8_t *p, uint32_t i, size_t bit,
								__m256i mask, __m256i addv)
{
	unsigned g = (i >> 2) & 7;
	__m256i x = _mm256_loadu_si256((const __m256i *)(const void *)(p + (bit >> 5) * 4));
	x = _mm256_permutevar8x32_epi32(x, _mm256_loadu_si256((const __m256i *)(const void *)t->idx[g]));
	x = _mm256_srlv_epi64(x, _mm256_loadu_si256((const __m256i *)(const void *)t->sh[g]));
	return _mm256_add_epi64(_mm256_and_si256(x, mask), addv);
}

/* Values i (a multiple of 4) .. up to n of width 1 <= w <= 32 into out[],
 * plus add, while a round's 32-byte load stays inside p[0..len). Returns
 * where it stopped (a multiple of 4); the caller finishes with
 * unpack64_from(). */
__attribute__((target("avx2"))) static uint32_t unpack64_avx2(const struct up64 *t,
								const uint8_t *p, size_t len,
								uint32_t i, uint32_t n, unsigned w,
								uint64_t add, uint64_t *out)
{
	const __m256i mask = _mm256_set1_epi64x((long long)((1ull << w) - 1));
	const __m256i addv = _mm256_set1_epi64x((long long)add);
	size_t bit = (size_t)i * w;
	for (; i + 4 <= n && (bit >> 5) * 4 + 32 <= len; i += 4, bit += 4 * (size_t)w)
		_mm256_storeu_si256((__m256i *)(void *)(out + i), up_round(t, p, i, bit, mask, addv));
	return i;
}
#endif

/* n values packed at w <= PACK_MAX_W bits in p[0..len), each plus add,
 * into out[]; the caller checked len == ceil(n * w / 8). AVX2 for w <= 32
 * (every width the writer picks on the default mix), 8-byte loads for
 * wider values and the last ones. */
static void unpack64(const uint8_t *p, size_t len, uint32_t n, unsigned w, uint64_t add,
		     uint64_t *out)
{
	uint32_t i = 0;
#ifdef SEG_X86
	if (up_ok && w >= 1 && w <= 32 && n >= 4) {
		struct up64 t;
		up64_plan(&t, w);
		i = unpack64_avx2(&t, p, len, 0, n, w, add, out);
	}
#endif
	unpack64_from(p, len, i, n, w, add, out);
}

#define BAD (-EBADMSG)

/* n decoded integers v[] into a column of sz-byte elements (sz = the
 * stored width: callers checked it); -1 if one does not fit. v may alias
 * col when sz is 8. */
static int store_ints(uint8_t *col, unsigned sz, const uint64_t *v, uint32_t n)
{
	uint64_t any = 0;
	switch (sz) {
	case 8:
		if ((const void *)v != (void *)col)
			memcpy(col, v, (size_t)n * 8);
		return 0;
	case 4:
		for (uint32_t i = 0; i < n; i++) {
			any |= v[i];
			le32_st(col + (size_t)i * 4, (uint32_t)v[i]);
		}
		return any >> 32 ? -1 : 0;
	case 2:
		for (uint32_t i = 0; i < n; i++) {
			any |= v[i];
			le16_st(col + (size_t)i * 2, (uint16_t)v[i]);
		}
		return any >> 16 ? -1 : 0;
	case 1:
		for (uint32_t i = 0; i < n; i++) {
			any |= v[i];
			col[i] = (uint8_t)v[i];
		}
		return any >> 8 ? -1 : 0;
	}
	return -1;
}

/* Entries dv (w bytes each) into a column of cd->size elements: the same
 * bytes, or IPv4 addresses as v4-mapped IPv6. */
static void put_vals(uint8_t *col, const struct coldef *cd, unsigned w, const uint8_t *dv,
		     uint32_t n)
{
	if (w == cd->size) {
		memcpy(col, dv, (size_t)n * w);
		return;
	}
	for (uint32_t i = 0; i < n; i++)
		put_elem(col, cd->size, i, dv + (size_t)i * w, w, cd->kind == K_ADDR);
}

static int dec_fixed(struct blk_dec *d, const uint8_t *r, size_t rl, uint8_t enc, unsigned w,
		     const struct coldef *cd, uint32_t n, uint8_t *col)
{
	bool addr = cd->kind == K_ADDR;
	unsigned sz = cd->size;
	/* integers go through a u64 array: the column itself when 8 wide */
	uint64_t *iv = (uint64_t *)(void *)col;
	if ((enc == ENC_FOR_BITS || enc == ENC_VARINT) && sz != 8) {
		if (buf_reserve(&d->tmp, (size_t)n * 8 + 8))
			return -ENOMEM;
		iv = (uint64_t *)(void *)d->tmp.p;
	}
	switch (enc) {
	case ENC_CONST:
		if (rl != w)
			return BAD;
		if (n)
			put_elem(col, sz, 0, r, w, addr);
		for (uint32_t i = 1; i < n; i++)
			memcpy(col + (size_t)i * sz, col, sz);
		return 0;
	case ENC_RAW:
		if (rl != (size_t)n * w)
			return BAD;
		put_vals(col, cd, w, r, n);
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
		if (buf_reserve(&d->rows, (size_t)n * 2 + 2))
			return -ENOMEM;
		size_t at = 4 + (size_t)nd * w;
		uint16_t *ri = (uint16_t *)(void *)d->rows.p;
		if (n && unpack16(r + at, rl - at, n, idx_bits(nd), ri) >= nd)
			return BAD;
		put_rows(col, cd, w, r + 4, ri, n);
		return 0;
	}
	case ENC_FOR_BITS: {
		if (rl < 9)
			return BAD;
		uint64_t mn = le64_ld(r);
		unsigned bw = r[8];
		if (bw > PACK_MAX_W || rl - 9 != ((size_t)n * bw + 7) / 8)
			return BAD;
		unpack64(r + 9, rl - 9, n, bw, mn, iv);
		return store_ints(col, sz, iv, n) ? BAD : 0;
	}
	case ENC_VARINT: {
		const uint8_t *p = r, *end = r + rl;
		if (get_varints(&p, end, n, iv) || p != end)
			return BAD;
		return store_ints(col, sz, iv, n) ? BAD : 0;
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
		unpack64(r + 1, rl - 1, n, w, 0, o);
		return 0;
	}
	const uint8_t *p = r, *end = r + rl;
	if (get_varints(&p, end, n, o))
		return -1;
	return p == end ? 0 : -1;
}

/* IPv4 entry k of a DICT_MIX dictionary: the running sum x of the gaps,
 * v4-mapped, at o[16k] (two stores: bytes 0-7 zero, then 00 00 ff ff and
 * the address in network order). */
static inline void mix_v4(uint8_t *o, uint32_t k, uint64_t x)
{
	uint8_t *e = o + (size_t)k * 16;
	le64_st(e, 0);
	le64_st(e + 8, 0xffff0000u | (uint64_t)__builtin_bswap32((uint32_t)x) << 32);
}

#ifdef SEG_X86
/* Runs of one- to three-byte gaps, four a round: the continuation bits of
 * the first eight bytes of a 16-byte load index a table giving how many
 * whole values of up to 3 bytes they start with (at most 4), the bytes
 * they use and a shuffle putting each value's bytes in a 32-bit lane; the
 * lanes' 7-bit groups are joined, prefix-summed onto the running sum and
 * written as four v4-mapped entries. Built once; used where SSE4.1 is. */
static uint8_t mg_n[256], mg_used[256];
static uint8_t mg_shuf[256][16] __attribute__((aligned(16)));

__attribute__((constructor)) static void mg_init(void)
{
	for (unsigned m = 0; m < 256; m++) {
		unsigned pos = 0, k = 0;
		memset(mg_shuf[m], 0x80, 16);
		while (k < 4 && pos < 8) {
			unsigned len = 1;
			while (pos + len - 1 < 8 && (m >> (pos + len - 1) & 1))
				len++;
			if (len > 3 || pos + len > 8)
				break; /* longer, or cut by the window: not a table case */
			for (unsigned t = 0; t < len; t++)
				mg_shuf[m][4 * k + t] = (uint8_t)(pos + t);
			pos += len;
			k++;
		}
		mg_n[m] = (uint8_t)k;
		mg_used[m] = (uint8_t)pos;
	}
}

/* Gaps from *pp while four entries fit (k + 4 <= nd4: the rounds write
 * four) and 16 bytes can be loaded; a value the table does not take goes
 * through get_varint(). Adds to *x (the running sum: a 64-bit count, so
 * that a sum past 32 bits is seen at the end) and *zeros (zero gaps).
 * Returns the entries written; stops early on a malformed value (the
 * caller's scalar path then reports it). */
__attribute__((target("ssse3,sse4.1"))) static uint32_t mix_gaps_simd(const uint8_t **pp,
									const uint8_t *end,
									uint32_t nd4, uint8_t *o,
									uint64_t *xp, uint32_t *zp)
{
	const uint8_t *p = *pp;
	uint64_t x = *xp;
	uint32_t k = 0, zeros = *zp;
	const __m128i m7 = _mm_set1_epi32(0x7f), m14 = _mm_set1_epi32(0x3f80);
	const __m128i m21 = _mm_set1_epi32(0x1fc000);
	/* each lane's u32 in network order, then lane j to bytes 12-15 */
	const __m128i bswap = _mm_setr_epi8(3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12);
	const __m128i v4m = _mm_setr_epi32(0, 0, (int)0xffff0000u, 0); /* bytes 8-11: 00 00 ff ff */
	while (k + 4 <= nd4 && end - p >= 16) {
		__m128i in = _mm_loadu_si128((const __m128i *)(const void *)p);
		unsigned m = (unsigned)_mm_movemask_epi8(in) & 0xff, n = mg_n[m];
		if (!n) {
			uint64_t g;
			const uint8_t *s = p;
			if (get_varint(&s, end, &g) || g >> 32)
				break;
			zeros += !g;
			x += g;
			uint8_t *e = o + (size_t)k++ * 16;
			le64_st(e, 0);
			le64_st(e + 8, 0xffff0000u | (uint64_t)__builtin_bswap32((uint32_t)x) << 32);
			p = s;
			continue;
		}
		__m128i v = _mm_shuffle_epi8(in, _mm_load_si128((const __m128i *)(const void *)
								  mg_shuf[m]));
		v = _mm_or_si128(_mm_and_si128(v, m7),
				 _mm_or_si128(_mm_and_si128(_mm_srli_epi32(v, 1), m14),
					      _mm_and_si128(_mm_srli_epi32(v, 2), m21)));
		/* lanes past n are 0: counted out by the mask */
		__m128i z = _mm_cmpeq_epi32(v, _mm_setzero_si128());
		zeros += (unsigned)__builtin_popcount((unsigned)_mm_movemask_ps(_mm_castsi128_ps(z)) &
						     ((1u << n) - 1));
		v = _mm_add_epi32(v, _mm_slli_si128(v, 4));
		v = _mm_add_epi32(v, _mm_slli_si128(v, 8));
		uint32_t lane[4] __attribute__((aligned(16)));
		_mm_store_si128((__m128i *)(void *)lane, v);
		__m128i t = _mm_shuffle_epi8(_mm_add_epi32(v, _mm_set1_epi32((int)(uint32_t)x)), bswap);
		/* four entries (lanes past n are rewritten by what follows) */
		uint8_t *e = o + (size_t)k * 16;
		_mm_storeu_si128((__m128i *)(void *)e, _mm_or_si128(v4m, _mm_slli_si128(t, 12)));
		_mm_storeu_si128((__m128i *)(void *)(e + 16),
				 _mm_or_si128(v4m, _mm_slli_si128(_mm_srli_si128(t, 4), 12)));
		_mm_storeu_si128((__m128i *)(void *)(e + 32),
				 _mm_or_si128(v4m, _mm_slli_si128(_mm_srli_si128(t, 8), 12)));
		_mm_storeu_si128((__m128i *)(void *)(e + 48),
				 _mm_or_si128(v4m, _mm_slli_si128(_mm_srli_si128(t, 12), 12)));
		x += lane[n - 1];
		k += n;
		p += mg_used[m];
	}
	*pp = p;
	*xp = x;
	*zp = zeros;
	return k;
}
#endif

/* nd4 LEB128 gaps from [*pp, end), summed into v4-mapped entries at o: 0,
 * or -1 when one is malformed, a gap after the first is 0 or a sum passes
 * 2^32 - 1. One pass: runs of short gaps by table (mix_gaps_simd), then
 * value ends found eight bytes at a time as in get_varints() (the loop
 * carries only those bits), each value gathered from one load at its
 * start. The gaps mix one-byte runs (hosts of a subnet) with two- and
 * three-byte ones (servers across the Internet), which get_varints()'
 * short-value path would leave and re-enter at every longer value. The
 * checks are made once, at the end: with every gap below 2^32 (their OR
 * says) the sum of at most 65536 cannot wrap, and it only grows, so the
 * last sum bounds them all; zero gaps are counted. */
static int mix_gaps(const uint8_t **pp, const uint8_t *end, uint32_t nd4, uint8_t *o)
{
	const uint8_t *start = *pp, *q;
	uint64_t x = 0, any = 0, g;
	uint32_t k = 0, zeros = 0;
#ifdef SEG_X86
	if (vb_ok)
		k = mix_gaps_simd(&start, end, nd4, o, &x, &zeros);
#endif
	q = start;
	/* q + 16 <= end: a value starting at or before q + 7 loads 8 bytes;
	 * k + 8 <= nd4: the (at most eight) values ending in a word fit */
	while (k + 8 <= nd4 && end - q >= 16) {
		uint64_t term = ~le64_ld(q) & 0x8080808080808080ull;
		while (term) {
			if (leb_ending_at(&start, q + (__builtin_ctzll(term) >> 3), end, &g))
				return -1;
			any |= g;
			zeros += !g;
			x += g;
			mix_v4(o, k++, x);
			term &= term - 1;
		}
		q += 8;
	}
	for (; k < nd4; k++) {
		if (get_varint(&start, end, &g))
			return -1;
		any |= g;
		zeros += !g;
		x += g;
		mix_v4(o, k, x);
	}
	/* the first gap is the first address: 0.0.0.0 is an entry */
	bool first0 = nd4 && !le32_ld(o + 12);
	if ((any >> 32) || (x >> 32) || zeros > (uint32_t)first0)
		return -1;
	*pp = start;
	return 0;
}

/* 16 bytes from pfx_mask + 16 - pl: pl bytes 0xff, then zeros */
static const uint8_t pfx_mask[32] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};

/* The dictionary of an ENC_DICT_MIX chunk r[0..rl) of n rows, as 16-byte
 * addresses into o (room for n entries: nd <= n is checked first): the
 * IPv4 entries from their gaps, then the IPv6 ones from their shared
 * prefixes. *nd_out entries; *ix: the packed indices, which run to the end
 * of the chunk (length checked). -1 when malformed: counts out of range,
 * lengths that do not add up exactly, an IPv4 gap of 0 (after the first)
 * or a sum past 2^32 - 1, a prefix length above 15 (or not 0 on the first
 * entry), IPv6 entries not strictly ascending or not above
 * ::ffff:255.255.255.255 (so none is v4-mapped and the whole dictionary
 * ascends). */

static int mix_dict(const uint8_t *r, size_t rl, uint32_t n, uint8_t *o, uint32_t *nd_out,
		    const uint8_t **ix)
{
	if (rl < 8)
		return -1;
	uint32_t nd4 = le32_ld(r), nd6 = le32_ld(r + 4);
	uint64_t nd = (uint64_t)nd4 + nd6;
	if (nd < 2 || nd > 65536 || nd > n)
		return -1;
	const uint8_t *p = r + 8, *end = r + rl;
	uint64_t bad = 0;
	if (mix_gaps(&p, end, nd4, o))
		return -1;
	/* IPv6: entry k keeps the first pl bytes of entry k - 1. Its other
	 * 16 - pl bytes end the 16 bytes that start pl bytes before them,
	 * inside the chunk (the first entry, 17 bytes, and the counts come
	 * earlier): one 16-byte load, merged by byte masks. The first entry
	 * is compared with the top of the v4-mapped range. */
	uint64_t p0 = 0, p1 = 0xffffffffffff0000ull; /* ::ffff:255.255.255.255 as two LE loads */
	uint8_t *o6 = o + (size_t)nd4 * 16;
	for (uint32_t k = 0; k < nd6; k++) {
		if (p >= end)
			return -1;
		unsigned pl = *p++;
		if (pl > 15 || (!k && pl) || (size_t)(end - p) < 16 - pl)
			return -1;
		const uint8_t *s = p - pl;
		/* bytes below pl from the previous entry: masks loaded, not
		 * computed (pl alternates between hosts and servers) */
		uint64_t m0 = le64_ld(pfx_mask + 16 - pl), m1 = le64_ld(pfx_mask + 24 - pl);
		uint64_t c0 = (p0 & m0) | (le64_ld(s) & ~m0), c1 = (p1 & m1) | (le64_ld(s + 8) & ~m1);
		/* as 128-bit numbers: a compare without a branch (entries of a
		 * /64 and random servers alternate: it would be mispredicted) */
		unsigned __int128 cv = (unsigned __int128)__builtin_bswap64(c0) << 64 |
				       __builtin_bswap64(c1);
		unsigned __int128 pv = (unsigned __int128)__builtin_bswap64(p0) << 64 |
				       __builtin_bswap64(p1);
		bad |= cv <= pv;
		le64_st(o6 + (size_t)k * 16, c0);
		le64_st(o6 + (size_t)k * 16 + 8, c1);
		p0 = c0;
		p1 = c1;
		p += 16 - pl;
	}
	if (bad || (size_t)(end - p) != ((size_t)n * idx_bits((uint32_t)nd) + 7) / 8)
		return -1;
	*nd_out = (uint32_t)nd;
	*ix = p;
	return 0;
}

/* Entry of every row of a DICT, DICT_DELTA, DICT_HOT or DICT_MIX chunk into
 * rows->p (u16 x n); *dv: the entries as w-byte values (DICT_DELTA,
 * DICT_HOT and DICT_MIX: rebuilt into vals). -1 when the lengths do not add up, the gaps
 * run past 32 bits or an index is out of range. */
static int dict_rows(struct buf *vals, struct buf *rows, struct buf *tmp, const uint8_t *r,
		     size_t rl, uint8_t enc, unsigned w, uint32_t n, uint32_t *nd_out,
		     const uint8_t **dv)
{
	if (enc == ENC_DICT_MIX) {
		const uint8_t *ix;
		uint32_t nd;
		if (w != 16 || buf_reserve(rows, (size_t)n * 2 + 2) || buf_reserve(vals, (size_t)n * 16) ||
		    mix_dict(r, rl, n, vals->p, &nd, &ix))
			return -1;
		*nd_out = nd;
		*dv = vals->p;
		return unpack16(ix, (size_t)(r + rl - ix), n, idx_bits(nd),
				(uint16_t *)(void *)rows->p) >= nd ? -1 : 0;
	}
	if (rl < 4)
		return -1;
	uint32_t nd = le32_ld(r);
	if (nd < 2 || nd > 65536 || buf_reserve(rows, (size_t)n * 2 + 2))
		return -1;
	uint16_t *ri = (uint16_t *)(void *)rows->p;
	unsigned b = idx_bits(nd);
	const uint8_t *p = r + 4, *end = r + rl;
	if (enc == ENC_DICT) {
		if (rl != dict_size(n, w, nd))
			return -1;
		*dv = p;
		p += (size_t)nd * w;
	} else if (enc == ENC_DICT_DELTA || enc == ENC_DICT_HOT) {
		if (w != 4 || buf_reserve(vals, (size_t)nd * 4))
			return -1;
		uint64_t x = 0;
		for (uint32_t k = 0; k < nd; k++) {
			uint64_t gap;
			if (get_varint(&p, end, &gap) || gap > 0xffffffffu || (k && !gap))
				return -1;
			x += gap;
			if (x > 0xffffffffu)
				return -1;
			le32_st(vals->p + (size_t)k * 4, __builtin_bswap32((uint32_t)x));
		}
		*dv = vals->p;
	} else {
		return -1;
	}
	*nd_out = nd;
	if (enc != ENC_DICT_HOT) {
		size_t ilen = ((size_t)n * b + 7) / 8;
		if ((size_t)(end - p) != ilen)
			return -1;
		return n && unpack16(p, ilen, n, b, ri) >= nd ? -1 : 0;
	}
	/* u8 hb, u16 nh - 1, nh entry numbers, n flags, hot codes, cold indices */
	if (end - p < 3)
		return -1;
	unsigned hb = p[0];
	uint32_t nh = le16_ld(p + 1) + 1u;
	p += 3;
	if (hb < 1 || hb > 12 || nh > (1u << hb) || (size_t)(end - p) < (size_t)nh * 2)
		return -1;
	const uint8_t *hl = p;
	p += (size_t)nh * 2;
	uint16_t hot[4096];
	for (uint32_t j = 0; j < nh; j++) {
		hot[j] = le16_ld(hl + (size_t)j * 2);
		if (hot[j] >= nd)
			return -1;
	}
	size_t flen = ((size_t)n + 7) / 8;
	if ((size_t)(end - p) < flen)
		return -1;
	const uint8_t *fl = p;
	p += flen;
	uint32_t nhot = 0;
	for (uint32_t i = 0; i < n; i++)
		nhot += (fl[i >> 3] >> (i & 7)) & 1;
	size_t hlen = ((size_t)nhot * hb + 7) / 8, clen = ((size_t)(n - nhot) * b + 7) / 8;
	if ((size_t)(end - p) != hlen + clen || buf_reserve(tmp, (size_t)n * 2 + 2))
		return -1;
	/* both streams unpacked, then merged in row order by the flags */
	uint16_t *hv = (uint16_t *)(void *)tmp->p, *cv = hv + nhot;
	if ((nhot && unpack16(p, hlen, nhot, hb, hv) >= nh) ||
	    (n - nhot && unpack16(p + hlen, clen, n - nhot, b, cv) >= nd))
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		bool h = (fl[i >> 3] >> (i & 7)) & 1;
		ri[i] = h ? hot[*hv] : *cv;
		hv += h;
		cv += !h;
	}
	return 0;
}

static const uint8_t *find_col(const struct seg_blk *b, unsigned c, const uint8_t **chunk);
static int chunk_raw(struct buf *dst, const uint8_t *de, const uint8_t *chunk, const uint8_t **r,
		     size_t *rl);

/* DICT_DELTA, DICT_HOT and DICT_MIX rows. */
static int dec_dict_rows(struct blk_dec *d, const uint8_t *r, size_t rl, uint8_t enc, unsigned w,
			 const struct coldef *cd, uint32_t n, uint8_t *col)
{
	uint32_t nd;
	const uint8_t *dv;
	if (cd->kind != K_ADDR || dict_rows(&d->dvals, &d->rows, &d->tmp, r, rl, enc, w, n, &nd, &dv))
		return BAD;
	put_rows(col, cd, w, dv, (const uint16_t *)(const void *)d->rows.p, n);
	return 0;
}

/* ENC_PDICT: u8 b, u32 nd, nd values, n codes at b bits, u32 ne, u64 min,
 * u8 eb, ne exceptions at eb bits. */
/* The parts of an ENC_PDICT body of n rows (w <= 8), its codes unpacked
 * into d->tmp: 0, BAD when they do not fit, -ENOMEM. */
struct pdict_body {
	uint32_t nd, ne;
	uint64_t mn;
	unsigned eb;
	const uint8_t *dv, *ex; /* frequent values (w bytes each); exceptions */
	size_t exlen;
	uint16_t *code;         /* per row: 0 = exception, k = dv entry k - 1 */
};

static int pdict_parse(struct blk_dec *d, const uint8_t *r, size_t rl, unsigned w, uint32_t n,
		       struct pdict_body *pd)
{
	if (w > 8 || rl < 5)
		return BAD;
	unsigned b = r[0];
	uint32_t nd = le32_ld(r + 1);
	if (b < 1 || b > 8 || nd < 1 || nd >= (1u << b))
		return BAD;
	size_t clen = ((size_t)n * b + 7) / 8, at = 5 + (size_t)nd * w;
	if (rl < at + clen + 13)
		return BAD;
	const uint8_t *x = r + at + clen;
	pd->nd = nd;
	pd->ne = le32_ld(x);
	pd->mn = le64_ld(x + 4);
	pd->eb = x[12];
	if (pd->ne > n || pd->eb > PACK_MAX_W ||
	    rl - (at + clen + 13) != ((size_t)pd->ne * pd->eb + 7) / 8)
		return BAD;
	pd->dv = r + 5;
	pd->ex = x + 13;
	pd->exlen = rl - (at + clen + 13);
	if (buf_reserve(&d->tmp, (size_t)n * 2 + 2))
		return -ENOMEM;
	pd->code = (uint16_t *)(void *)d->tmp.p;
	if (n && unpack16(r + at, clen, n, b, pd->code) > nd)
		return BAD;
	return 0;
}

/* A PDICT body's exceptions into *xb (ne + 1 values: a last 0, which a
 * branch-free merge may read), checked as the values' decode checks them:
 * one per code 0, none wider than sz bytes. 0, BAD or -ENOMEM. */
static int pdict_excs(const struct pdict_body *pd, uint32_t n, unsigned sz, struct buf *xb,
		      uint64_t **out)
{
	uint32_t zeros = 0;
	for (uint32_t i = 0; i < n; i++)
		zeros += pd->code[i] == 0;
	if (zeros != pd->ne)
		return BAD;
	if (buf_reserve(xb, ((size_t)pd->ne + 1) * 8))
		return -ENOMEM;
	uint64_t *xv = (uint64_t *)(void *)xb->p, any = 0;
	unpack64(pd->ex, pd->exlen, pd->ne, pd->eb, pd->mn, xv);
	xv[pd->ne] = 0;
	for (uint32_t j = 0; sz < 8 && j < pd->ne; j++)
		any |= xv[j];
	if (sz < 8 && (any >> (8 * sz)))
		return BAD;
	*out = xv;
	return 0;
}

/* PDICT as codes with exceptions (blk_decode_codes_x): the row codes as
 * stored into *code, the dictionary with a placeholder 0 first into
 * *colb (*nd entries), the *nx exceptions in row order into *xb. 1 done,
 * 0 not this way (addresses, narrowed widths), or < 0. */
static int pdict_codes(struct blk_dec *d, const uint8_t *r, size_t rl, unsigned w,
		       const struct coldef *cd, uint32_t n, struct buf *code, struct buf *colb,
		       uint32_t *nd, const uint8_t **dict, struct buf *xb, uint32_t *nx)
{
	unsigned sz = cd->size;
	if (cd->kind == K_ADDR || w != sz)
		return 0;
	struct pdict_body pd;
	uint64_t *xv;
	int rc = pdict_parse(d, r, rl, w, n, &pd);
	if (rc || (rc = pdict_excs(&pd, n, sz, xb, &xv)))
		return rc;
	if (buf_reserve(colb, ((size_t)pd.nd + 1) * sz) || buf_reserve(code, (size_t)n * 2 + 2))
		return -ENOMEM;
	memset(colb->p, 0, sz);
	memcpy(colb->p + sz, pd.dv, (size_t)pd.nd * sz);
	*nx = pd.ne;
	/* the codes pdict_parse unpacked into the scratch buffer become the
	 * column's: the buffers trade places */
	struct buf t = *code;
	*code = d->tmp;
	d->tmp = t;
	*nd = pd.nd + 1;
	*dict = colb->p;
	return 1;
}

static int dec_pdict(struct blk_dec *d, const uint8_t *r, size_t rl, unsigned w,
		     const struct coldef *cd, uint32_t n, uint8_t *col)
{
	bool addr = cd->kind == K_ADDR;
	unsigned sz = cd->size;
	struct pdict_body pd;
	int prc = pdict_parse(d, r, rl, w, n, &pd);
	if (prc)
		return prc;
	uint32_t nd = pd.nd, ne = pd.ne;
	uint64_t mn = pd.mn;
	unsigned eb = pd.eb;
	const uint8_t *dv = pd.dv, *ex = pd.ex;
	size_t exlen = pd.exlen;
	uint16_t *code = pd.code;
	if (!addr) {
		/* the exceptions unpacked in bulk first, then every row picks
		 * its dictionary value or the next exception without a branch
		 * (exceptions are often frequent), straight into the column:
		 * w == sz here (the caller checked), so only exceptions can be
		 * too wide */
		if (w != sz)
			return BAD;
		uint64_t *xv;
		int xrc = pdict_excs(&pd, n, sz, &d->ints, &xv);
		if (xrc)
			return xrc;
		uint64_t lut[256] = { 0 };
		for (uint32_t j = 0; j < nd; j++) {
			uint8_t v[8] = { 0 };
			memcpy(v, dv + (size_t)j * w, w);
			lut[j + 1] = le64_ld(v);
		}
		/* every row reads xv[k], k <= ne: the last is 0 */
		uint32_t k = 0;
		/* masks, not a select: compilers turn a select back into a
		 * branch, mispredicted on every other row. lut[0] = 0 */
#define PD_MERGE(st)                                                              \
	for (uint32_t i = 0; i < n; i++) {                                        \
		uint32_t cv = code[i];                                            \
		uint64_t z = cv == 0;                                             \
		st(col + (size_t)i * sz, lut[cv] | (xv[k] & (0 - z)));            \
		k += (uint32_t)z;                                                 \
	}
#define PD_ST1(p, v) (*(p) = (uint8_t)(v))
#define PD_ST2(p, v) le16_st(p, (uint16_t)(v))
#define PD_ST4(p, v) le32_st(p, (uint32_t)(v))
#define PD_ST8(p, v) le64_st(p, v)
		switch (sz) {
		case 1: PD_MERGE(PD_ST1) break;
		case 2: PD_MERGE(PD_ST2) break;
		case 4: PD_MERGE(PD_ST4) break;
		case 8: PD_MERGE(PD_ST8) break;
		default: return BAD;
		}
#undef PD_MERGE
#undef PD_ST1
#undef PD_ST2
#undef PD_ST4
#undef PD_ST8
		return 0;
	}
	uint32_t k = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (code[i]) {
			if (w == 2 && sz == 2)
				memcpy(col + (size_t)i * 2, dv + (size_t)(code[i] - 1) * 2, 2);
			else
				put_elem(col, sz, i, dv + (size_t)(code[i] - 1) * w, w, addr);
			continue;
		}
		if (k == ne)
			return BAD;
		uint64_t v = mn + (eb ? get_bits(ex, exlen, k, eb) : 0);
		k++;
		if (w < 8 && (v >> (8 * w)))
			return BAD;
		uint8_t vb[8];
		le64_st(vb, v);
		put_elem(col, sz, i, vb, w, addr);
	}
	return k == ne ? 0 : BAD;
}

/* ENC_DEP (r, rl: the chunk): row i takes entry tab[parent index of row i]
 * of the column's own dictionary. The parent must be an address column
 * stored as DICT in the same block. Rows' entries into rows (u16 x n), the
 * dictionary at *dv (*nd_out values of w bytes). */
static int dep_rows(struct blk_dec *d, const struct seg_blk *b, const uint8_t *r, size_t rl,
		    unsigned w, uint32_t n, struct buf *rows, uint32_t *nd_out, const uint8_t **dv)
{
	if (rl < 5 || (r[0] != ST_COL_SRC_ADDR && r[0] != ST_COL_DST_ADDR))
		return BAD;
	const uint8_t *pch, *pde = find_col(b, r[0], &pch);
	if (!pde)
		return BAD;
	const uint8_t *pr;
	size_t prl;
	int rc = chunk_raw(&d->praw, pde, pch, &pr, &prl);
	if (rc)
		return rc;
	uint32_t np;
	const uint8_t *pdv;
	if (dict_rows(&d->pvals, &d->prows, &d->tmp, pr, prl, pde[1], pde[3], n, &np, &pdv))
		return BAD;
	const uint16_t *prow = (const uint16_t *)(const void *)d->prows.p;

	r++, rl--;
	uint32_t nd = le32_ld(r);
	if (nd < 1 || nd > 65536 || rl != dict_size(np, w, nd))
		return BAD;
	const uint8_t *tix = r + 4 + (size_t)nd * w;
	size_t tixlen = rl - 4 - (size_t)nd * w;
	unsigned tb = idx_bits(nd);
	if (buf_reserve(&d->tab, (size_t)np * sizeof(uint16_t)) ||
	    buf_reserve(rows, (size_t)n * 2 + 2))
		return -ENOMEM;
	uint16_t *tab = (uint16_t *)(void *)d->tab.p, *ri = (uint16_t *)(void *)rows->p;
	if (unpack16(tix, tixlen, np, tb, tab) >= nd)
		return BAD;
	for (uint32_t i = 0; i < n; i++)
		ri[i] = tab[prow[i]]; /* prow[i] < np: checked by dict_rows */
	*nd_out = nd;
	*dv = r + 4;
	return 0;
}

static int dec_dep(struct blk_dec *d, const struct seg_blk *b, const uint8_t *r, size_t rl,
		   unsigned w, const struct coldef *cd, uint32_t n, uint8_t *col)
{
	uint32_t nd;
	const uint8_t *dv;
	int rc = dep_rows(d, b, r, rl, w, n, &d->rows, &nd, &dv);
	if (rc)
		return rc;
	put_rows(col, cd, w, dv, (const uint16_t *)(const void *)d->rows.p, n);
	return 0;
}

/* A column stored as a dictionary (CONST, DICT, DICT_DELTA, DICT_HOT,
 * DICT_MIX, DEP) delivered as codes: each row's entry into code (u16 x n)
 * and the entries, decoded, at *dict_out (in colb, or where they lie when
 * stored at the decoded width). 1 done (*nd_out entries), 0 the encoding is not a
 * dictionary (decode values instead), <0 malformed. */
static int dec_codes(struct blk_dec *d, const struct seg_blk *b, const uint8_t *r, size_t rl,
		     uint8_t enc, unsigned w, const struct coldef *cd, uint32_t n, struct buf *code,
		     struct buf *colb, uint32_t *nd_out, const uint8_t **dict_out)
{
	uint8_t *col = colb->p;
	uint32_t nd;
	const uint8_t *dv;
	int rc;
	switch (enc) {
	case ENC_CONST:
		if (rl != w)
			return BAD;
		if (buf_reserve(code, (size_t)n * 2 + 2))
			return -ENOMEM;
		memset(code->p, 0, (size_t)n * 2);
		nd = 1;
		dv = r;
		break;
	case ENC_DICT: {
		if (rl < 4)
			return BAD;
		nd = le32_ld(r);
		if (nd < 2 || nd > 65536 || rl != dict_size(n, w, nd))
			return BAD;
		if (buf_reserve(code, (size_t)n * 2 + 2))
			return -ENOMEM;
		dv = r + 4;
		size_t at = 4 + (size_t)nd * w;
		if (n && unpack16(r + at, rl - at, n, idx_bits(nd), (uint16_t *)(void *)code->p) >= nd)
			return BAD;
		break;
	}
	case ENC_DICT_DELTA:
	case ENC_DICT_HOT:
		if (cd->kind != K_ADDR || dict_rows(&d->dvals, code, &d->tmp, r, rl, enc, w, n, &nd, &dv))
			return BAD;
		break;
	case ENC_DICT_MIX: {
		/* the entries straight into col (nd <= n: they fit), used there */
		const uint8_t *ix;
		if (cd->kind != K_ADDR || w != 16 || mix_dict(r, rl, n, col, &nd, &ix))
			return BAD;
		if (buf_reserve(code, (size_t)n * 2 + 2))
			return -ENOMEM;
		if (unpack16(ix, (size_t)(r + rl - ix), n, idx_bits(nd), (uint16_t *)(void *)code->p) >= nd)
			return BAD;
		dv = col;
		break;
	}
	case ENC_DEP:
		if ((rc = dep_rows(d, b, r, rl, w, n, code, &nd, &dv)))
			return rc;
		break;
	default:
		return 0;
	}
	/* entries stored at the decoded width are used where they lie (the
	 * column's own raw chunk or the mapped block); others are widened */
	unsigned al = cd->size == 16 ? 1 : cd->size; /* addresses: read by memcpy */
	if (w == cd->size && enc != ENC_DICT_DELTA && enc != ENC_DICT_HOT &&
	    !((uintptr_t)dv & (al - 1))) {
		*dict_out = dv;
	} else {
		/* a dictionary may hold more entries than the block has rows
		 * (no writer makes one, but the bytes allow it): room for them
		 * all, not for n (dv never points into colb here) */
		if (buf_reserve(colb, (size_t)nd * cd->size))
			return -ENOMEM;
		put_vals(colb->p, cd, w, dv, nd);
		*dict_out = colb->p;
	}
	*nd_out = nd;
	return 1;
}

/* Column c's directory entry and where its chunk lies (which a block
 * read in part may not hold yet: find_col). */
static const uint8_t *find_dir(const struct seg_blk *b, unsigned c, const uint8_t **chunk)
{
	const uint8_t *p = b->p;
	unsigned ncols = p[28], de = blk_dir_ent(p);
	size_t off = BLK_DIR_OFF + (size_t)ncols * de;
	if (off > b->len)
		return NULL;
	for (unsigned k = 0; k < ncols; k++) {
		const uint8_t *d = p + BLK_DIR_OFF + (size_t)k * de;
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

/* Column c's directory entry and its chunk, read and checked. */
static const uint8_t *find_col(const struct seg_blk *b, unsigned c, const uint8_t **chunk)
{
	if (b->fetch && c < 64 && !(*b->have & (1ull << c)) && b->fetch(b->ctx, 1ull << c))
		return NULL;
	return find_dir(b, c, chunk);
}

/* Chunk bytes uncompressed: into d->raw, or in place when stored raw. */
static int chunk_raw(struct buf *dst, const uint8_t *de, const uint8_t *chunk, const uint8_t **r,
		     size_t *rl)
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
		if (buf_reserve(dst, raw_len + 1))
			return -ENOMEM;
		int got = LZ4_decompress_safe((const char *)chunk, (char *)dst->p, (int)stored,
					      (int)raw_len);
		if (got < 0 || (uint32_t)got != raw_len)
			return BAD;
		break;
	}
	case COMP_ZSTD: {
		if (buf_reserve(dst, raw_len + 1))
			return -ENOMEM;
		size_t got = ZSTD_decompress(dst->p, raw_len, chunk, stored);
		if (ZSTD_isError(got) || got != raw_len)
			return BAD;
		break;
	}
	default:
		return BAD;
	}
	*r = dst->p;
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

/* ENC_PERPKT body into o[] given the packet counts p[]: -1 if malformed. */
static const uint8_t pp_child[2] = { ST_COL_BYTES, ST_COL_REV_BYTES };
static const uint8_t pp_parent[2] = { ST_COL_PACKETS, ST_COL_REV_PACKETS };

/* The parts of an ENC_PERPKT body of n rows: -1 if they do not fit. */
struct pp_body {
	uint64_t qmn;
	unsigned qb;
	const uint8_t *q, *rs; /* quotients packed at qb bits; remainders */
	size_t qlen, rlen;
};

static int pp_parse(const uint8_t *r, size_t rl, uint32_t n, struct pp_body *b)
{
	if (rl < 9)
		return -1;
	b->qmn = le64_ld(r);
	b->qb = r[8];
	b->qlen = ((size_t)n * b->qb + 7) / 8;
	if (b->qb > PACK_MAX_W || rl - 9 < b->qlen)
		return -1;
	b->q = r + 9;
	b->rs = b->q + b->qlen;
	b->rlen = rl - 9 - b->qlen;
	return 0;
}

#ifdef SEG_X86
/* ENC_PERPKT with AVX2, four rows a round, one row a 64-bit lane. */

/* Each lane's remainder width bits_of(d - 1), d = the packet count or 1,
 * without a branch or lzcnt: 2(d - 1) + 1 < 2^33 is exact as a double,
 * whose exponent minus 1023 is bits_of(d - 1). Only the low 32 bits of
 * d - 1 are used, so a width is at most 32 even for a divisor of 2^32 or
 * more (the caller rejects those by *big, the OR of every d). *dm1 gets
 * those bits of d - 1. */
__attribute__((target("avx2"))) static inline __m256i pp_widths(__m256i p, __m256i *dm1,
								  __m256i *big)
{
	const __m256i one = _mm256_set1_epi64x(1), lo32 = _mm256_set1_epi64x(0xffffffff);
	const __m256i two52 = _mm256_set1_epi64x(0x4330000000000000); /* 2^52 as a double */
	__m256i d = _mm256_or_si256(p, _mm256_srli_epi64(_mm256_cmpeq_epi64(p, _mm256_setzero_si256()), 63));
	*big = _mm256_or_si256(*big, d);
	__m256i x = _mm256_and_si256(_mm256_sub_epi64(d, one), lo32);
	*dm1 = x;
	/* 2^52 + y as a double, minus 2^52: y exactly (y < 2^52) */
	__m256d f = _mm256_sub_pd(
		_mm256_castsi256_pd(_mm256_or_si256(_mm256_or_si256(_mm256_add_epi64(x, x), one), two52)),
		_mm256_castsi256_pd(two52));
	return _mm256_sub_epi64(_mm256_srli_epi64(_mm256_castpd_si256(f), 52), _mm256_set1_epi64x(1023));
}

/* Inclusive prefix sum of the four lanes. */
__attribute__((target("avx2"))) static inline __m256i pp_pfx4(__m256i v)
{
	const __m256i z = _mm256_setzero_si256();
	v = _mm256_add_epi64(v, _mm256_blend_epi32(_mm256_permute4x64_epi64(v, 0x90), z, 0x03));
	return _mm256_add_epi64(v, _mm256_blend_epi32(_mm256_permute4x64_epi64(v, 0x40), z, 0x0f));
}

/* Horizontal OR of the four lanes. */
__attribute__((target("avx2"))) static inline uint64_t pp_or4(__m256i v)
{
	__m128i x = _mm_or_si128(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
	return (uint64_t)_mm_cvtsi128_si64(_mm_or_si128(x, _mm_unpackhi_epi64(x, x)));
}

#define PP_TILE 512 /* rows whose quotients are unpacked at once: they stay in L1 */

/* Rows from 0 of the body pb (n rows, packet counts pk) into o[], while a
 * round's 32-byte remainder load stays inside the chunk: the quotients of
 * a tile unpacked into o[], then per round the four widths, their prefix
 * sum (the remainders' bit offsets, the carry in every lane of carry),
 * one load of the 32-bit word holding the first remainder and the next
 * seven (four remainders of <= 32 bits span <= 31 + 128 bits), a dword
 * permute, shift and mask as in unpack64_avx2(), and q·d + r (d < 2^32:
 * two 32x32 multiplies). Returns the rows done (a multiple of 4); *bit is
 * where the next remainder starts, *bad non-zero if a row was invalid
 * (a remainder >= its divisor, a divisor >= 2^32). */
__attribute__((target("avx2"))) static uint32_t perpkt_avx2(const struct pp_body *pb, uint32_t n,
							      const uint64_t *pk, uint64_t *o,
							      uint64_t *bit_out, uint64_t *bad_out)
{
	const __m256i one = _mm256_set1_epi64x(1), c31 = _mm256_set1_epi64x(31);
	const __m256i ones = _mm256_set1_epi64x(-1), hi = _mm256_set1_epi64x(~31ll);
	const unsigned qb = pb->qb;
	struct up64 t;
	if (qb >= 1 && qb <= 32)
		up64_plan(&t, qb);
	__m256i carry = _mm256_setzero_si256(), badv = carry, big = carry;
	uint32_t i = 0;
	bool stop = false;
	while (!stop && i + 4 <= n) {
		uint32_t e = n - i > PP_TILE ? i + PP_TILE : n & ~3u, u = i;
		if (qb >= 1 && qb <= 32)
			u = unpack64_avx2(&t, pb->q, pb->qlen, u, e, qb, pb->qmn, o);
		unpack64_from(pb->q, pb->qlen, u, e, qb, pb->qmn, o);
		for (; i < e; i += 4) {
			uint64_t bit = (uint64_t)_mm_cvtsi128_si64(_mm256_castsi256_si128(carry));
			if ((bit >> 5) * 4 + 32 > pb->rlen) {
				stop = true;
				break;
			}
			__m256i dm1, rb = pp_widths(_mm256_loadu_si256((const __m256i *)(const void *)(pk + i)),
						    &dm1, &big);
			__m256i s = pp_pfx4(rb);
			/* offsets from the loaded word: <= 31 + 96 for the last lane,
			 * so words 0..4 */
			__m256i rel = _mm256_sub_epi64(_mm256_sub_epi64(s, rb),
						       _mm256_sub_epi64(_mm256_and_si256(carry, hi), carry));
			__m256i wi = _mm256_srli_epi64(rel, 5);
			__m256i pair = _mm256_or_si256(wi, _mm256_slli_epi64(_mm256_add_epi64(wi, one), 32));
			__m256i x = _mm256_loadu_si256((const __m256i *)(const void *)(pb->rs + (bit >> 5) * 4));
			x = _mm256_srlv_epi64(_mm256_permutevar8x32_epi32(x, pair), _mm256_and_si256(rel, c31));
			x = _mm256_andnot_si256(_mm256_sllv_epi64(ones, rb), x);
			/* r >= d  <=>  r > d - 1 (both < 2^33: a signed compare) */
			badv = _mm256_or_si256(badv, _mm256_cmpgt_epi64(x, dm1));
			__m256i d = _mm256_add_epi64(dm1, one);
			__m256i q = _mm256_loadu_si256((const __m256i *)(const void *)(o + i));
			__m256i v = _mm256_add_epi64(_mm256_mul_epu32(q, d),
						     _mm256_slli_epi64(_mm256_mul_epu32(_mm256_srli_epi64(q, 32), d), 32));
			_mm256_storeu_si256((__m256i *)(void *)(o + i), _mm256_add_epi64(v, x));
			carry = _mm256_add_epi64(carry, _mm256_permute4x64_epi64(s, 0xff));
		}
	}
	*bit_out = (uint64_t)_mm_cvtsi128_si64(_mm256_castsi256_si128(carry));
	*bad_out = (pp_or4(big) >> 32) | pp_or4(badv);
	return i;
}

/* Horizontal sum of the four lanes. */
__attribute__((target("avx2"))) static inline uint64_t pp_sum4(__m256i v)
{
	__m128i x = _mm_add_epi64(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
	return (uint64_t)_mm_cvtsi128_si64(_mm_add_epi64(x, _mm_unpackhi_epi64(x, x)));
}

/* dec_perpkt_sel()'s walk: the remainder widths summed four rows a round
 * (per lane: only the selected rows need their offsets, no prefix sum),
 * and a selected row's offset, the sums plus the widths before it in its
 * round, into o[j] (*j: the next selection). Rows 0 .. n rounded down to
 * 4; *bit gets their widths' sum, *big the OR of their divisors. */
__attribute__((target("avx2"))) static uint32_t perpkt_sel_avx2(const uint64_t *pk, uint32_t n,
								  const uint32_t *sel, uint32_t nsel,
								  uint64_t *o, uint32_t *j_io,
								  uint64_t *bit_out, uint64_t *big_out)
{
	const __m256i lane = _mm256_setr_epi64x(0, 1, 2, 3);
	const __m256i *pv = (const __m256i *)(const void *)pk;
	__m256i acc = _mm256_setzero_si256(), big = acc, dm1;
	uint32_t i = 0, j = *j_io, e = n & ~3u;
	for (;;) {
		uint32_t stop = j < nsel && sel[j] < e ? sel[j] & ~3u : e;
		for (; i < stop; i += 4)
			acc = _mm256_add_epi64(acc, pp_widths(_mm256_loadu_si256(pv + i / 4), &dm1, &big));
		if (i == e)
			break;
		__m256i rb = pp_widths(_mm256_loadu_si256(pv + i / 4), &dm1, &big);
		__m256i before = _mm256_cmpgt_epi64(_mm256_set1_epi64x(sel[j] & 3), lane);
		o[j++] = pp_sum4(_mm256_add_epi64(acc, _mm256_and_si256(rb, before)));
	}
	*j_io = j;
	*bit_out = pp_sum4(acc);
	*big_out = pp_or4(big);
	return i;
}
#endif

static int dec_perpkt(const uint8_t *r, size_t rl, uint32_t n, const uint64_t *p, uint64_t *o)
{
	struct pp_body pb;
	if (pp_parse(r, rl, n, &pb))
		return -1;
	uint64_t qmn = pb.qmn;
	unsigned qb = pb.qb;
	size_t qlen = pb.qlen, rlen = pb.rlen;
	const uint8_t *q = pb.q, *rs = pb.rs;
	/* one pass: each remainder's window is bounded by the chunk (a short
	 * read near the end), and the bits used must add up to it exactly */
	uint64_t bit = 0, bad = 0, qmask = qb ? (1ull << qb) - 1 : 0;
	uint32_t i = 0;
#ifdef SEG_X86
	if (up_ok)
		i = perpkt_avx2(&pb, n, p, o, &bit, &bad);
#endif
	/* eight rows at a time while both windows of all eight lie wholly
	 * inside the chunk (a remainder takes at most 4 bytes): plain loads,
	 * no per-row checks */
	for (; i + 8 <= n; i += 8) {
		if ((((size_t)i + 8) * qb >> 3) + 8 > qlen || (size_t)(bit >> 3) + 8 + 32 > rlen)
			break;
		for (uint32_t u = i; u < i + 8; u++) {
			size_t qbit = (size_t)u * qb;
			uint64_t d = p[u] | (p[u] == 0); /* pp_div */
			uint64_t qi = qmn + ((le64_ld(q + (qbit >> 3)) >> (qbit & 7)) & qmask);
			unsigned rb = bits_of(d - 1);
			uint64_t ri = (le64_ld(rs + (bit >> 3)) >> (bit & 7)) & ((1ull << rb) - 1);
			bit += rb;
			bad |= (d >> 32) | (ri >= d);
			o[u] = qi * d + ri;
		}
	}
	for (; i < n; i++) {
		uint64_t d = pp_div(p, i), qi = qmn + (qb ? get_bits(q, qlen, i, qb) : 0);
		/* rb <= 32 (d < 2^32): the window at the byte holding the bit
		 * covers it */
		unsigned rb = bits_of(d - 1);
		uint64_t ri = get_bits_at(rs, rlen, bit, rb);
		bit += rb;
		bad |= (d >> 32) | (ri >= d);
		o[i] = qi * d + ri;
	}
	return bad || (bit + 7) / 8 != rlen ? -1 : 0;
}

#ifdef SEG_X86
/* MAXDELTA's running maximum ref[i+1] = max(ref[i], ref[i] - d[i]) is
 * ref[i] + max(0, -d[i]) (d signed) while nothing wraps mod 2^64: a prefix
 * sum, which AVX2 takes four rows at a time. The header proves it for rows
 * 0..n-1: every d lies in [mn, mn + 2^b - 1] as a signed number (checked
 * not to overflow); a d >= 0 is at most base <= ref (ref never falls), so
 * ref - d neither wraps nor rises; a d < 0 raises ref by -d <= lift =
 * max(0, -mn), so ref - d <= base + n * lift, which must fit 64 bits. */
static bool maxdelta_pfx_ok(uint64_t base, uint64_t mn, unsigned b, uint32_t n)
{
	int64_t lo = (int64_t)mn;
	uint64_t span = (1ull << b) - 1; /* b <= PACK_MAX_W */
	if (lo >= 0 && (uint64_t)lo > (uint64_t)INT64_MAX - span)
		return false;
	int64_t hi = lo + (int64_t)span;
	if (hi >= 0 && (uint64_t)hi > base)
		return false;
	uint64_t lift = lo < 0 ? 0 - mn : 0;
	return !lift || n <= (UINT64_MAX - base) / lift;
}

/* One round of four rows: d the unpacked d[i], *carry the maximum before
 * them in every lane (advanced past them); returns ref[i] - d[i]. */
__attribute__((target("avx2"))) static inline __m256i md_round(__m256i d, __m256i *carry)
{
	const __m256i z = _mm256_setzero_si256();
	__m256i neg = _mm256_cmpgt_epi64(z, d);
	/* most rounds lift nothing (a new maximum is rare) */
	if (_mm256_testz_si256(neg, neg))
		return _mm256_sub_epi64(*carry, d);
	__m256i s = pp_pfx4(_mm256_and_si256(neg, _mm256_sub_epi64(z, d)));
	/* ref[i] - d = carry + s - max(0, -d) - d = carry + s - max(d, 0) */
	__m256i v = _mm256_sub_epi64(_mm256_add_epi64(*carry, s), _mm256_andnot_si256(neg, d));
	*carry = _mm256_add_epi64(*carry, _mm256_permute4x64_epi64(s, 0xff));
	return v;
}

/* Rows from 0 of a MAXDELTA body packed at 1 <= w <= 32 bits into o[]
 * (unpacked as in unpack64_avx2(), then a round of md_round()), while a
 * load stays inside p[0..len); only where maxdelta_pfx_ok(). Returns the
 * rows done (a multiple of 4), *ref the maximum after them. */
__attribute__((target("avx2"))) static uint32_t maxdelta_avx2(const struct up64 *t,
								const uint8_t *p, size_t len,
								uint32_t n, unsigned w, uint64_t mn,
								uint64_t *o, uint64_t *ref)
{
	const __m256i mask = _mm256_set1_epi64x((long long)((1ull << w) - 1));
	const __m256i addv = _mm256_set1_epi64x((long long)mn);
	__m256i carry = _mm256_set1_epi64x((long long)*ref);
	size_t bit = 0;
	uint32_t i = 0;
	for (; i + 4 <= n && (bit >> 5) * 4 + 32 <= len; i += 4, bit += 4 * (size_t)w)
		_mm256_storeu_si256((__m256i *)(void *)(o + i),
				    md_round(up_round(t, p, i, bit, mask, addv), &carry));
	*ref = (uint64_t)_mm_cvtsi128_si64(_mm256_castsi256_si128(carry));
	return i;
}

/* The same over d[i] already unpacked in o[] (other widths), in place. */
__attribute__((target("avx2"))) static uint32_t maxdelta_avx2_o(uint64_t *o, uint32_t n,
								  uint64_t *ref)
{
	__m256i carry = _mm256_set1_epi64x((long long)*ref);
	uint32_t i = 0;
	for (; i + 4 <= n; i += 4) {
		__m256i d = _mm256_loadu_si256((const __m256i *)(const void *)(o + i));
		_mm256_storeu_si256((__m256i *)(void *)(o + i), md_round(d, &carry));
	}
	*ref = (uint64_t)_mm_cvtsi128_si64(_mm256_castsi256_si128(carry));
	return i;
}
#endif

/* A MAXDELTA body (FORMAT.md §5: n values d[i] - mn packed at mb bits in
 * p[0..plen), checked by the caller) into o[], the running maximum from
 * ref: the prefix sum where the header proves it exact, one row at a time
 * for the others and for the rows the vector loops leave. */
static void dec_maxdelta(const uint8_t *p, size_t plen, uint32_t n, unsigned mb, uint64_t mn,
			 uint64_t ref, uint64_t *o)
{
	uint32_t i = 0;
#ifdef SEG_X86
	if (up_ok && maxdelta_pfx_ok(ref, mn, mb, n)) {
		if (mb >= 1 && mb <= 32) {
			struct up64 t;
			up64_plan(&t, mb);
			i = maxdelta_avx2(&t, p, plen, n, mb, mn, o, &ref);
			unpack64_from(p, plen, i, n, mb, mn, o);
		} else {
			unpack64(p, plen, n, mb, mn, o);
			i = maxdelta_avx2_o(o, n, &ref);
		}
	} else {
		unpack64(p, plen, n, mb, mn, o);
	}
#else
	unpack64(p, plen, n, mb, mn, o);
#endif
	for (; i < n; i++) {
		uint64_t v = ref - o[i];
		o[i] = v;
		ref = v > ref ? v : ref;
	}
}

#ifdef SEG_X86
/* The selected-row walks below count with AVX2 and POPCNT where the CPU
 * has them (the same start-up detection as up_init()). */
static bool sel_ok;

__attribute__((constructor)) static void sel_init(void)
{
	__builtin_cpu_init();
	sel_ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
}

/* Position of set bit k (from 0, k < popcount(m)) of m: halves, then
 * quarters, ... of m, without a branch (k is random for a selection). */
__attribute__((target("popcnt"))) static inline unsigned bit_sel64(uint64_t m, unsigned k)
{
	unsigned at = 0;
	for (unsigned w = 32; w; w >>= 1) {
		unsigned c = (unsigned)__builtin_popcountll(m & ((1ull << w) - 1));
		unsigned sh = k >= c ? w : 0;
		k -= k >= c ? c : 0;
		m >>= sh;
		at += sh;
	}
	return at;
}

/* varints_sel()'s walk, 64 bytes a round from *q (its state: values ended
 * before *q, where the next begins, the next selection): two movemasks
 * give the bytes that end a value, a popcount how many; a window without
 * a selected value is passed over whole, a selected one is decoded as
 * varints_sel() does. Stops where fewer than 64 bytes remain; -1 as
 * varints_sel() for a malformed selected value. */
__attribute__((target("avx2,popcnt"))) static int vs_avx2(const uint8_t *r, size_t rl,
							    const uint32_t *sel, uint32_t nsel,
							    uint64_t *out, size_t *q_io,
							    uint64_t *count_io, size_t *start_io,
							    uint32_t *j_io)
{
	uint64_t count = *count_io;
	size_t start = *start_io, q = *q_io;
	uint32_t j = *j_io;
	for (; q + 64 <= rl; q += 64) {
		const __m256i *wv = (const __m256i *)(const void *)(r + q);
		uint32_t lo = (uint32_t)_mm256_movemask_epi8(_mm256_loadu_si256(wv));
		uint32_t hi = (uint32_t)_mm256_movemask_epi8(_mm256_loadu_si256(wv + 1));
		uint64_t term = ~((uint64_t)hi << 32 | lo);
		unsigned t = (unsigned)__builtin_popcountll(term);
		while (j < nsel && sel[j] < count + t) {
			unsigned e = bit_sel64(term, (unsigned)(sel[j] - count));
			uint64_t below = term & ((1ull << e) - 1);
			size_t s0 = below ? q + 64 - (size_t)__builtin_clzll(below) : start;
			const uint8_t *p = r + s0;
			/* one load where 8 bytes remain (leb_ending_at()), else
			 * byte by byte: get_varint()'s value either way */
			if (s0 + 8 > rl) {
				if (get_varint(&p, r + rl, &out[j]) || (size_t)(p - r) != q + e + 1)
					return -1;
			} else if (leb_ending_at(&p, r + q + e, r + rl, &out[j])) {
				return -1;
			}
			j++;
		}
		if (t)
			start = q + 64 - (size_t)__builtin_clzll(term);
		count += t;
	}
	*q_io = q;
	*count_io = count;
	*start_io = start;
	*j_io = j;
	return 0;
}
#endif

/* Values sel[0..nsel) (ascending) of a body of n LEB128 values into
 * out[0..nsel): values are counted by their last bytes, eight bytes at a
 * time, and only the selected ones are decoded. -1 when the body does not
 * hold exactly n values or a selected one is malformed. */
static int varints_sel(const uint8_t *r, size_t rl, uint32_t n, const uint32_t *sel,
		       uint32_t nsel, uint64_t *out)
{
	if (!rl || (r[rl - 1] & 0x80))
		return n ? -1 : (rl ? -1 : 0);
	uint64_t count = 0;   /* values ended before the current word */
	size_t start = 0;     /* where the value after the last end begins */
	uint32_t j = 0;
	size_t q = 0;
#ifdef SEG_X86
	if (sel_ok && vs_avx2(r, rl, sel, nsel, out, &q, &count, &start, &j))
		return -1;
#endif
	for (; q + 8 <= rl; q += 8) {
		uint64_t w;
		__builtin_memcpy(&w, r + q, 8);
		uint64_t term = ~w & 0x8080808080808080ull;
		unsigned t = (unsigned)__builtin_popcountll(term);
		while (j < nsel && sel[j] < count + t) {
			/* the (sel[j] - count)-th end in this word; its start is
			 * after the end before it */
			uint64_t m = term;
			size_t s0 = start;
			for (uint64_t k = count; k < sel[j]; k++) {
				s0 = q + (__builtin_ctzll(m) >> 3) + 1;
				m &= m - 1;
			}
			const uint8_t *p = r + s0;
			if (get_varint(&p, r + rl, &out[j]) || (size_t)(p - r) != q + (__builtin_ctzll(m) >> 3) + 1)
				return -1;
			j++;
		}
		if (t)
			start = q + (63 - __builtin_clzll(term)) / 8 + 1;
		count += t;
	}
	for (; q < rl; q++) {
		if (r[q] & 0x80)
			continue;
		if (j < nsel && sel[j] == count) {
			const uint8_t *p = r + start;
			if (get_varint(&p, r + rl, &out[j]) || (size_t)(p - r) != q + 1)
				return -1;
			j++;
		}
		count++;
		start = q + 1;
	}
	return count == n && j == nsel ? 0 : -1;
}

#ifdef SEG_X86
/* 32 codes from c as bytes, 0xff where a code is 0 (in the lane order
 * _mm256_packs_epi16 leaves). */
__attribute__((target("avx2"))) static inline __m256i zero_codes32(const uint16_t *c)
{
	const __m256i z = _mm256_setzero_si256(), *v = (const __m256i *)(const void *)c;
	return _mm256_packs_epi16(_mm256_cmpeq_epi16(_mm256_loadu_si256(v), z),
				  _mm256_cmpeq_epi16(_mm256_loadu_si256(v + 1), z));
}

/* Zero codes in code[i..e), 32 a round by movemask and popcount. The
 * last < 32 from one more round, masked (in row order after the permute),
 * while it stays inside code[0..n); otherwise one at a time. */
__attribute__((target("avx2,popcnt"))) static uint32_t zeros16_avx2(const uint16_t *code,
								      uint32_t i, uint32_t e,
								      uint32_t n)
{
	uint32_t k = 0;
	for (; i + 32 <= e; i += 32)
		k += (uint32_t)__builtin_popcount((unsigned)_mm256_movemask_epi8(zero_codes32(code + i)));
	if (i < e && i + 32 <= n) {
		__m256i x = _mm256_permute4x64_epi64(zero_codes32(code + i), 0xd8);
		unsigned m = (unsigned)_mm256_movemask_epi8(x) & ((1u << (e - i)) - 1);
		return k + (uint32_t)__builtin_popcount(m);
	}
	for (; i < e; i++)
		k += code[i] == 0;
	return k;
}
#endif

/* Zero codes in code[i..e), e <= n (the codes unpacked). */
static inline uint32_t zeros16(const uint16_t *code, uint32_t i, uint32_t e, uint32_t n)
{
#ifdef SEG_X86
	if (sel_ok)
		return zeros16_avx2(code, i, e, n);
#else
	(void)n;
#endif
	uint32_t k = 0;
	for (; i < e; i++)
		k += code[i] == 0;
	return k;
}

/* The low sz <= 8 bytes of v stored little-endian: ld_w's counterpart. */
static inline void st_w(uint8_t *p, uint64_t v, unsigned sz)
{
	switch (sz) {
	case 1: p[0] = (uint8_t)v; return;
	case 2: le16_st(p, (uint16_t)v); return;
	case 4: le32_st(p, (uint32_t)v); return;
	case 8: le64_st(p, v); return;
	}
	uint8_t vb[8];
	le64_st(vb, v);
	memcpy(p, vb, sz);
}

/* The selected rows sel[0..nsel) (ascending) of a column in an encoding
 * with random access, straight into col: 1 done, 0 not such an encoding
 * (decode it whole), <0 malformed. Only the selected rows are checked. */
static int dec_sel(struct blk_dec *d, const uint8_t *r, size_t rl, uint8_t enc, unsigned w,
		   const struct coldef *cd, uint32_t n, const uint32_t *sel, uint32_t nsel,
		   uint8_t *col)
{
	bool addr = cd->kind == K_ADDR;
	unsigned sz = cd->size;
	switch (enc) {
	case ENC_PDICT: {
		/* codes are random access; an exception's rank is the number
		 * of code-0 rows before it, counted over the unpacked codes */
		if (addr)
			return 0;
		struct pdict_body pd;
		int prc = pdict_parse(d, r, rl, w, n, &pd);
		if (prc)
			return prc;
		uint32_t ne = pd.ne;
		uint64_t mn = pd.mn;
		unsigned eb = pd.eb;
		const uint8_t *dv = pd.dv, *ex = pd.ex;
		size_t exlen = pd.exlen;
		const uint16_t *code = pd.code;
		uint32_t k = 0, i = 0;
		for (uint32_t j = 0; j < nsel; j++) {
			k += zeros16(code, i, sel[j], n);
			i = sel[j];
			uint64_t v;
			if (code[i]) {
				v = ld_w(dv + (size_t)(code[i] - 1) * w, w);
			} else {
				if (k >= ne)
					return BAD;
				v = mn + (eb ? get_bits(ex, exlen, k, eb) : 0);
				if (w < 8 && (v >> (8 * w)))
					return BAD;
			}
			st_w(col + (size_t)j * sz, v, sz);
		}
		return 1;
	}
	case ENC_CONST:
		if (rl != w)
			return BAD;
		for (uint32_t j = 0; j < nsel; j++)
			put_elem(col, sz, j, r, w, addr);
		return 1;
	case ENC_RAW:
		if (rl != (size_t)n * w)
			return BAD;
		for (uint32_t j = 0; j < nsel; j++)
			put_elem(col, sz, j, r + (size_t)sel[j] * w, w, addr);
		return 1;
	case ENC_DICT: {
		if (rl < 4)
			return BAD;
		uint32_t nd = le32_ld(r);
		if (nd < 2 || nd > 65536 || rl != dict_size(n, w, nd))
			return BAD;
		const uint8_t *dv = r + 4, *ix = r + 4 + (size_t)nd * w;
		size_t ixlen = rl - 4 - (size_t)nd * w;
		unsigned b = idx_bits(nd);
		for (uint32_t j = 0; j < nsel; j++) {
			uint32_t k = get_idx(ix, ixlen, sel[j], b);
			if (k >= nd)
				return BAD;
			put_elem(col, sz, j, dv + (size_t)k * w, w, addr);
		}
		return 1;
	}
	case ENC_DICT_MIX: {
		/* the whole dictionary (its gaps are sequential), then each
		 * selected row's index */
		uint32_t nd;
		const uint8_t *ix;
		if (!addr || w != 16)
			return BAD;
		if (buf_reserve(&d->dvals, (size_t)n * 16))
			return -ENOMEM;
		if (mix_dict(r, rl, n, d->dvals.p, &nd, &ix))
			return BAD;
		size_t ixlen = (size_t)(r + rl - ix);
		unsigned b = idx_bits(nd);
		for (uint32_t j = 0; j < nsel; j++) {
			uint32_t k = get_idx(ix, ixlen, sel[j], b);
			if (k >= nd)
				return BAD;
			memcpy(col + (size_t)j * 16, d->dvals.p + (size_t)k * 16, 16);
		}
		return 1;
	}
	case ENC_FOR_BITS: {
		if (rl < 9 || addr)
			return BAD;
		uint64_t mn = le64_ld(r);
		unsigned bw = r[8];
		if (bw > PACK_MAX_W || rl - 9 != ((size_t)n * bw + 7) / 8)
			return BAD;
		for (uint32_t j = 0; j < nsel; j++) {
			uint64_t x = mn + (bw ? get_bits(r + 9, rl - 9, sel[j], bw) : 0);
			if (w < 8 && (x >> (8 * w)))
				return BAD;
			uint8_t v[8];
			le64_st(v, x);
			memcpy(col + (size_t)j * sz, v, sz);
		}
		return 1;
	}
	}
	return 0;
}

/* Keep rows sel[0..nsel) (ascending) of a decoded column, in place. */
static void compact(uint8_t *col, unsigned sz, const uint32_t *sel, uint32_t nsel)
{
	(void)gather_u32(col, col, sel, nsel, sz);
}

static int blk_decode_x(struct blk_dec *d, const struct seg_blk *b, uint32_t colmask,
			uint32_t codemask, uint32_t xmask, const uint32_t *sel, uint32_t nsel,
			struct st_cols *out);

/* ENC_PERPKT at the selected rows sel[0..nsel) (ascending) into
 * o[0..nsel): every row's remainder width is summed (it places the next
 * remainder), the selected rows' offsets kept in o[], then only those
 * rows decoded. -1 if malformed. */
static int dec_perpkt_sel(const uint8_t *r, size_t rl, uint32_t n, const uint64_t *p,
			  const uint32_t *sel, uint32_t nsel, uint64_t *o)
{
	struct pp_body pb;
	if (pp_parse(r, rl, n, &pb))
		return -1;
	uint64_t qmn = pb.qmn;
	unsigned qb = pb.qb;
	size_t qlen = pb.qlen, rlen = pb.rlen;
	const uint8_t *q = pb.q, *rs = pb.rs;
	uint64_t bit = 0, big = 0;
	uint32_t i = 0, j = 0;
#ifdef SEG_X86
	if (up_ok)
		i = perpkt_sel_avx2(p, n, sel, nsel, o, &j, &bit, &big);
#endif
	for (; i < n; i++) {
		uint64_t d = p[i] | (p[i] == 0);
		if (j < nsel && sel[j] == i)
			o[j++] = bit;
		bit += bits_of((d - 1) & 0xffffffff);
		big |= d;
	}
	if ((big >> 32) || (bit + 7) / 8 != rlen)
		return -1;
	for (j = 0; j < nsel; j++) {
		uint32_t row = sel[j];
		uint64_t d = p[row] | (p[row] == 0), b0 = o[j];
		unsigned rb = bits_of(d - 1);
		uint64_t ri = get_bits_at(rs, rlen, b0, rb);
		if (ri >= d)
			return -1;
		o[j] = (qmn + (qb ? get_bits(q, qlen, row, qb) : 0)) * d + ri;
	}
	return 0;
}

int blk_decode(struct blk_dec *d, const struct seg_blk *b, uint32_t colmask, struct st_cols *out)
{
	return blk_decode_x(d, b, colmask, 0, 0, NULL, 0, out);
}

int blk_decode_codes(struct blk_dec *d, const struct seg_blk *b, uint32_t colmask,
		     uint32_t codemask, struct st_cols *out)
{
	return blk_decode_x(d, b, colmask, codemask, 0, NULL, 0, out);
}

int blk_decode_codes_x(struct blk_dec *d, const struct seg_blk *b, uint32_t colmask,
		       uint32_t codemask, uint32_t xmask, struct st_cols *out)
{
	return blk_decode_x(d, b, colmask, codemask, xmask & codemask, NULL, 0, out);
}

int blk_decode_rows(struct blk_dec *d, const struct seg_blk *b, uint32_t colmask,
		    uint32_t codemask, const uint32_t *sel, uint32_t nsel, struct st_cols *out)
{
	if (nsel > b->nrows)
		return -EINVAL;
	for (uint32_t j = 0; j < nsel; j++)
		if (sel[j] >= b->nrows || (j && sel[j] <= sel[j - 1]))
			return -EINVAL;
	return blk_decode_x(d, b, colmask, codemask, 0, sel, nsel, out);
}

static int blk_decode_x(struct blk_dec *d, const struct seg_blk *b, uint32_t colmask,
			uint32_t codemask, uint32_t xmask, const uint32_t *sel, uint32_t nsel,
			struct st_cols *out)
{
	uint32_t n = b->nrows;
	memset(out, 0, sizeof(*out));
	/* PERPKT columns divide by their packet counts' values */
	codemask &= ~(ST_COL_BIT(ST_COL_PACKETS) | ST_COL_BIT(ST_COL_REV_PACKETS));
	if (n > ST_BLOCK_ROWS_MAX)
		return BAD;
	if (b->len < BLK_DIR_OFF || b->p[28] > 64)
		return BAD;
	out->n = n;
	d->strarena.len = 0;
	if (colmask & ST_COL_BIT(ST_COL_FIRST_MS))
		colmask |= ST_COL_BIT(ST_COL_LAST_MS); /* starts are stored as durations */
	/* ENC_PERPKT columns need their packet counts */
	for (unsigned k = 0; k < 2; k++) {
		const uint8_t *chunk, *de;
		if ((colmask & ST_COL_BIT(pp_child[k])) && (de = find_dir(b, pp_child[k], &chunk)) &&
		    de[1] == ENC_PERPKT)
			colmask |= ST_COL_BIT(pp_parent[k]);
	}
	/* a block read in part: the chunks needed, at once (a DEP column's
	 * parent comes when find_col asks for it) */
	if (b->fetch) {
		int rc = b->fetch(b->ctx, colmask);
		if (rc)
			return rc == -ENOMEM ? rc : BAD;
	}

	/* every column after the ones it is derived from (FORMAT.md §4) */
	static const uint8_t order[ST_COL_MAX] = {
		ST_COL_LAST_MS, ST_COL_PACKETS, ST_COL_REV_PACKETS, ST_COL_FIRST_MS, ST_COL_BYTES,
		ST_COL_REV_BYTES, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23,
		24, 25, 26, 27, 28, 29, 30, 31,
	};
	uint32_t done = 0;
	/* with a selection: columns decoded only at the selected rows; the
	 * others are decoded whole and compacted at the end (packet counts
	 * and last_ms whole in any case: other columns derive from them) */
	uint32_t picked = 0;
	for (unsigned k = 0; k < ST_COL_MAX; k++) {
		unsigned c = order[k];
		if (!(colmask & ST_COL_BIT(c)))
			continue;
		const struct coldef *cd = &cols[c];
		const uint8_t *chunk, *de = find_col(b, c, &chunk);
		if (!de)
			return BAD;
		const uint8_t *r;
		size_t rl;
		int rc;
		if (d->cache && d->rawkey[c] == chunk && d->rawlen[c] == le32_ld(de + 4)) {
			r = d->rawcol[c].p;
			rl = d->rawlen[c];
			rc = 0;
		} else {
			rc = chunk_raw(&d->rawcol[c], de, chunk, &r, &rl);
			bool kept = d->cache && !rc && r == d->rawcol[c].p;
			d->rawkey[c] = kept ? chunk : NULL;
			d->rawlen[c] = kept ? (uint32_t)rl : 0;
		}
		if (rc)
			return rc;
		if (buf_reserve(&d->colbuf[c], (size_t)(n ? n : 1) * cd->size))
			return -ENOMEM;
		uint8_t *col = d->colbuf[c].p;
		uint8_t enc = de[1], w = de[3];
		if (sel && !(codemask & ST_COL_BIT(c)) && cd->kind != K_STR && cd->kind != K_TIME &&
		    cd->kind != K_DUR && c != ST_COL_PACKETS && c != ST_COL_REV_PACKETS &&
		    (cd->kind == K_ADDR ? (w == 4 || w == 16) : w == cd->size)) {
			rc = dec_sel(d, r, rl, enc, w, cd, n, sel, nsel, col);
			if (rc < 0)
				return rc;
			if (rc == 1) {
				out->col[c] = col;
				done |= ST_COL_BIT(c);
				picked |= ST_COL_BIT(c);
				continue;
			}
		}
		if ((codemask & ST_COL_BIT(c)) && cd->kind != K_STR && cd->kind != K_TIME &&
		    cd->kind != K_DUR && (cd->kind == K_ADDR ? (w == 4 || w == 16) : w == cd->size)) {
			uint32_t nd = 0;
			const uint8_t *dict = col;
			rc = dec_codes(d, b, r, rl, enc, w, cd, n, &d->codebuf[c], &d->colbuf[c], &nd, &dict);
			if (!rc && enc == ENC_PDICT && (xmask & ST_COL_BIT(c))) {
				rc = pdict_codes(d, r, rl, w, cd, n, &d->codebuf[c], &d->colbuf[c], &nd, &dict,
						 &d->xvals[c], &out->nx[c]);
				if (rc == 1)
					out->xval[c] = (const uint64_t *)(const void *)d->xvals[c].p;
			}
			if (rc < 0)
				return rc;
			if (rc == 1) {
				out->code[c] = (const uint16_t *)(const void *)d->codebuf[c].p;
				out->dict[c] = dict;
				out->ndict[c] = nd;
				done |= ST_COL_BIT(c);
				continue;
			}
		}

		switch (cd->kind) {
		case K_TIME: {
			uint64_t *o = (uint64_t *)(void *)col;
			if (enc == ENC_MAXDELTA) {
				/* u64 base, u64 min, u8 b, n packed (ref - v) - min */
				if (rl < 17)
					return BAD;
				uint64_t ref = le64_ld(r), mn = le64_ld(r + 8);
				unsigned mb = r[16];
				size_t plen = rl - 17;
				if (mb > PACK_MAX_W || plen != ((size_t)n * mb + 7) / 8)
					return BAD;
				dec_maxdelta(r + 17, plen, n, mb, mn, ref, o);
				break;
			}
			if ((enc != ENC_DELTA && enc != ENC_DELTA_BITS) || rl < 8)
				return BAD;
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
			if (sel && enc == ENC_DUR) {
				/* last_ms is whole until the end: index it by row */
				if (varints_sel(r, rl, n, sel, nsel, o))
					return BAD;
				for (uint32_t j = 0; j < nsel; j++)
					o[j] = l[sel[j]] - (uint64_t)zz_dec(o[j]);
				picked |= ST_COL_BIT(c);
				break;
			}
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
			if (enc == ENC_PERPKT) {
				unsigned pc = c == ST_COL_BYTES ? ST_COL_PACKETS
					      : c == ST_COL_REV_BYTES ? ST_COL_REV_PACKETS : ST_COL_MAX;
				if (pc == ST_COL_MAX || !(done & ST_COL_BIT(pc)))
					return BAD;
				const uint64_t *pk = (const uint64_t *)(void *)d->colbuf[pc].p;
				if (sel) {
					if (dec_perpkt_sel(r, rl, n, pk, sel, nsel, (uint64_t *)(void *)col))
						return BAD;
					picked |= ST_COL_BIT(c);
				} else if (dec_perpkt(r, rl, n, pk, (uint64_t *)(void *)col)) {
					return BAD;
				}
				rc = 0;
			} else {
				rc = enc == ENC_DEP	   ? dec_dep(d, b, r, rl, w, cd, n, col)
				     : enc == ENC_PDICT	   ? dec_pdict(d, r, rl, w, cd, n, col)
				     : enc == ENC_DICT_DELTA || enc == ENC_DICT_HOT || enc == ENC_DICT_MIX
					     ? dec_dict_rows(d, r, rl, enc, w, cd, n, col)
							     : dec_fixed(d, r, rl, enc, w, cd, n, col);
			}
			if (rc)
				return rc;
		}
		out->col[c] = col;
		done |= ST_COL_BIT(c);
	}
	if (sel) {
		for (unsigned c = 0; c < ST_COL_MAX; c++) {
			if (!((done & ~picked) & ST_COL_BIT(c)))
				continue;
			if (out->code[c]) /* codes: the rows' codes; the dictionary stays */
				compact((uint8_t *)d->codebuf[c].p, 2, sel, nsel);
			else
				compact(out->col[c], cols[c].size, sel, nsel);
		}
		out->n = nsel;
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
		cb->str_len[s] = calloc(cap, sizeof(uint16_t));
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

#define COLBUF_FIELDS                                  \
	do {                                           \
		P8(ST_COL_FIRST_MS, first_ms);         \
		P8(ST_COL_LAST_MS, last_ms);           \
		P8(ST_COL_PACKETS, packets);           \
		P8(ST_COL_BYTES, bytes);               \
		P8(ST_COL_REV_PACKETS, rev_packets);   \
		P8(ST_COL_REV_BYTES, rev_bytes);       \
		PA(ST_COL_SRC_ADDR, src_addr);         \
		PA(ST_COL_DST_ADDR, dst_addr);         \
		PA(ST_COL_NEXT_HOP, next_hop);         \
		PA(ST_COL_EXPORTER, exporter);         \
		P4(ST_COL_ODID, odid);                 \
		P4(ST_COL_SAMPLING, sampling);         \
		P4(ST_COL_IN_IF, in_if);               \
		P4(ST_COL_OUT_IF, out_if);             \
		P4(ST_COL_SRC_AS, src_as);             \
		P4(ST_COL_DST_AS, dst_as);             \
		P2(ST_COL_SRC_PORT, src_port);         \
		P2(ST_COL_DST_PORT, dst_port);         \
		P2(ST_COL_EXP_PORT, exp_port);         \
		P2(ST_COL_VLAN, vlan);                 \
		P1(ST_COL_PROTO, proto);               \
		P1(ST_COL_TCP_FLAGS, tcp_flags);       \
		P1(ST_COL_TOS, tos);                   \
		P1(ST_COL_SRC_MASK, src_mask);         \
		P1(ST_COL_DST_MASK, dst_mask);         \
		P1(ST_COL_DIRECTION, direction);       \
		P1(ST_COL_FLAGS, flags);               \
		P1(ST_COL_VERSION, version);           \
	} while (0)

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
	COLBUF_FIELDS;
	for (unsigned s = 0; s < FLOW_STR_MAX; s++) {
		cb->str_off[s][i] = r->str_off[s];
		cb->str_len[s][i] = r->str_len[s];
	}
	cb->str_dirty = true;
#undef P8
#undef P4
#undef P2
#undef P1
#undef PA
}

/* The same for n records without strings. The column pointers are loaded
 * once: stored through per record, each byte-column store could alias cb
 * and would force every pointer to be loaded again. */
void colbuf_put_nostr(struct colbuf *cb, const struct flow_rec *recs, uint32_t n)
{
	void *col[ST_COL_MAX];
	uint16_t *sl[FLOW_STR_MAX];
	memcpy(col, cb->col, sizeof(col));
	memcpy(sl, cb->str_len, sizeof(sl));
	uint32_t base = cb->n;
	for (uint32_t k = 0; k < n; k++) {
		const struct flow_rec *r = &recs[k];
		uint32_t i = base + k;
#define P8(C, f) ((uint64_t *)col[C])[i] = r->f
#define P4(C, f) ((uint32_t *)col[C])[i] = r->f
#define P2(C, f) ((uint16_t *)col[C])[i] = r->f
#define P1(C, f) ((uint8_t *)col[C])[i] = r->f
#define PA(C, f) memcpy((uint8_t *)col[C] + (size_t)i * 16, r->f, 16)
		COLBUF_FIELDS;
#undef P8
#undef P4
#undef P2
#undef P1
#undef PA
	}
	/* lengths are zero from colbuf_init() until a record with strings
	 * came: then they are cleared here */
	for (unsigned s = 0; cb->str_dirty && s < FLOW_STR_MAX; s++)
		memset(sl[s] + base, 0, (size_t)n * sizeof(uint16_t));
	cb->n = base + n;
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
