/* query_int.h — the query engine's internal structs, shared by its files
 * and by the tests' reference evaluator (tests/query), nobody else.
 */
#ifndef QUERY_QUERY_INT_H
#define QUERY_QUERY_INT_H

#include <hs/hs.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flow/record.h"
#include "query.h"
#include "store.h"

/* ------------------------------------------------------------ filter tree */

enum qn_type {
	QN_TRUE = 0,
	QN_AND,
	QN_OR,
	QN_NOT,
	QN_ADDR,  /* address in prefix (plen over the 16-byte form) */
	QN_NUM,   /* numeric field <cmp> value */
	QN_FLAGS, /* (tcp_flags & val) == val (and proto tcp, as nfdump) */
	QN_REGEX, /* string field matches a Hyperscan pattern */
};

enum qn_side { QS_SRC = 1, QS_DST = 2, QS_ANY = 3 };

/* numeric filter fields */
enum qn_num {
	QV_PORT = 0,  /* side */
	QV_AS,        /* side */
	QV_IF,        /* side: src = in, dst = out */
	QV_PROTO,
	QV_TOS,
	QV_PACKETS,
	QV_BYTES,
	QV_DURATION,  /* ms */
	QV_FIRST,     /* the query's time range */
	QV_IPVER,     /* 4 or 6 */
	QV_VLAN,
	QV_MAX
};

/* address filter fields */
enum qn_addr { QA_IP = 0 /* side */, QA_EXPORTER, QA_NEXTHOP };

enum qn_cmp { QC_EQ = 0, QC_NE, QC_LT, QC_LE, QC_GT, QC_GE };

struct q_node {
	uint8_t type;   /* enum qn_type */
	uint8_t side;   /* enum qn_side */
	uint8_t field;  /* enum qn_num / qn_addr / enum flow_str */
	uint8_t cmp;    /* enum qn_cmp */
	uint8_t plen;   /* QN_ADDR: prefix length over 128 bits */
	int16_t l, r;   /* children (AND/OR: both, NOT: l) */
	uint16_t slot;  /* QN_REGEX: index of its pattern */
	uint64_t val;
	uint8_t lo[16], hi[16]; /* QN_ADDR: first and last address of the prefix */
};

#define Q_NODES_MAX 1024 /* bounds recursion depth and per-block scratch */
#define Q_REGEX_MAX 64

struct q_filter {
	struct q_node *n;
	int nn, root;
	char *text;           /* canonical form */
	uint32_t colmask;     /* columns the filter reads */
	/* Hyperscan: one database for every pattern of the query */
	hs_database_t *db;
	unsigned nre;
	uint8_t re_field[Q_REGEX_MAX]; /* enum flow_str of pattern i */
};

/* Zone-map verdict for a (sub)filter over one block. */
enum q_tri { QT_NONE = 0, QT_SOME = 1, QT_ALL = 2 };

/* Per-worker filter scratch: byte masks and regex entry matches. */
struct q_fscratch {
	uint8_t *masks;        /* Q_NODES_MAX? no: nn masks of ST_BLOCK_ROWS_MAX */
	int nmasks;
	uint8_t *em[Q_REGEX_MAX]; /* per pattern: dictionary entry matched */
	uint8_t *dm;              /* per dictionary entry of a coded column */
	uint32_t em_cap;
	hs_scratch_t *hs;
};

int q_fscratch_init(struct q_fscratch *s, const struct q_filter *f);
void q_fscratch_fini(struct q_fscratch *s);

/* Verdict of the filter for a block's zone map. */
enum q_tri q_filter_zone(const struct q_filter *f, const struct st_zone *z);
/* Columns the filter may take as codes (st_reader_decode_codes): those
 * it only compares with a constant. */
#define Q_CODE_COLS                                                                       \
	(ST_COL_BIT(ST_COL_SRC_ADDR) | ST_COL_BIT(ST_COL_DST_ADDR) | ST_COL_BIT(ST_COL_NEXT_HOP) | \
	 ST_COL_BIT(ST_COL_EXPORTER) | ST_COL_BIT(ST_COL_SRC_AS) | ST_COL_BIT(ST_COL_DST_AS) |   \
	 ST_COL_BIT(ST_COL_IN_IF) | ST_COL_BIT(ST_COL_OUT_IF) | ST_COL_BIT(ST_COL_SRC_PORT) |    \
	 ST_COL_BIT(ST_COL_DST_PORT) | ST_COL_BIT(ST_COL_VLAN) | ST_COL_BIT(ST_COL_TOS))
/* Columns some part of the engine reads as values (times, counters and
 * the sampling rate); the rest may come as codes where only rows are
 * copied out. */
#define Q_VALUE_COLS                                                                         \
	(ST_COL_BIT(ST_COL_FIRST_MS) | ST_COL_BIT(ST_COL_LAST_MS) | ST_COL_BIT(ST_COL_PACKETS) |  \
	 ST_COL_BIT(ST_COL_BYTES) | ST_COL_BIT(ST_COL_REV_PACKETS) | ST_COL_BIT(ST_COL_REV_BYTES) | \
	 ST_COL_BIT(ST_COL_SAMPLING))
/* Evaluate the filter over decoded columns into sel[0..n) (1 = match).
 * 0 or -ENOMEM (Hyperscan). */
int q_filter_eval(const struct q_filter *f, struct q_fscratch *s, const struct st_cols *c,
		  uint8_t *sel);
/* Build the tree for q_query_new(): AND of the time range and the filter. */
int q_filter_add_time(struct q_filter *f, uint64_t from_ms, uint64_t to_ms);

/* -------------------------------------------------------------- fields */

enum q_ftype { QF_TIME, QF_DUR, QF_ADDR, QF_NET, QF_U64, QF_U32, QF_U16, QF_U8 };

struct q_fdef {
	const char *name;
	uint8_t type;    /* enum q_ftype */
	uint8_t col;     /* enum st_col */
	uint8_t klen;    /* bytes in a group key (big-endian, so memcmp orders) */
	uint16_t off;    /* offsetof(struct flow_rec, member) */
};
extern const struct q_fdef q_fdefs[Q_F_MAX];
extern const uint16_t q_col_off[ST_COL_MAX];

/* Value of a numeric field of a record (addresses: 0). */
uint64_t q_rec_num(const struct flow_rec *r, enum q_field f);

/* ------------------------------------------------------------- query */

struct q_query {
	struct q_spec spec;
	char *filter_src;
	struct q_filter *flt;
	unsigned keylen;         /* Q_AGG/Q_SERIES key bytes (series: 8 + fields) */
	uint32_t need_cols;      /* decoded for every non-skipped block */
	uint32_t agg_cols;       /* Q_AGG/Q_SERIES: what the aggregation reads
				  * (need_cols without the filter's own) */
	uint32_t out_cols;       /* Q_LIST: decoded when a block has matches */
	uint32_t order_cols;     /* Q_LIST: what pruning by the order needs, decoded
				  * with need_cols once the listing is full */
	char sig[512];           /* identity of the query for merging */
};

/* Zeroed memory that is written before it is read: calloc's fresh pages
 * map the shared zero page, so a page first read (a probe of an empty
 * group slot) and then written takes a copy-on-write fault, and in a
 * threaded process each one flushes the TLB of every CPU running it (an
 * IPI; in a VM, an exit): ~9 % of a top-N query. memset writes the pages
 * in first. NULL on overflow or ENOMEM. */
static inline void *q_zalloc(size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	size_t len = n * size;
	void *p = malloc(len ? len : 1);
	if (p)
		memset(p, 0, len);
	return p;
}

/* Digits of v in decimal (a table cell's width without its text):
 * floor(log10) from the bit length (1233 / 4096 ~ log10 2), corrected by
 * one comparison; v | 1 has v's digits. */
static inline unsigned q_dec_len(uint64_t v)
{
	static const uint64_t p10[20] = {
		1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull,
		100000000ull, 1000000000ull, 10000000000ull, 100000000000ull, 1000000000000ull,
		10000000000000ull, 100000000000000ull, 1000000000000000ull, 10000000000000000ull,
		100000000000000000ull, 1000000000000000000ull, 10000000000000000000ull,
	};
	v |= 1;
	unsigned t = (unsigned)(64 - __builtin_clzll(v)) * 1233 >> 12;
	return t + (v >= p10[t]);
}

/* q_human_text's text ending at e (room for 16 bytes before it); returns
 * its start. */
char *q_human_back(uint64_t v, char *e);

/* ------------------------------------------------------------- groups */

/* Open-addressing table of fixed-size keys with three sums, entries in
 * the slots themselves (stride = 8*kw + 24 bytes): a probe costs one cache
 * miss, and a block's probes are prefetched ahead (exec.c). Keys are
 * zero-padded to whole 64-bit words (kw words) so hashing and comparing are
 * word loops of a length fixed per query. A slot is in use iff its first sum
 * (flows) is non-zero: every group counts at least one flow. Load stays at
 * most 3/4; the group count is capped at max (-E2BIG past it). */
struct q_tab {
	unsigned keylen, kw, stride;
	uint8_t *ent;       /* nslot entries */
	uint64_t nslot;     /* power of two */
	uint64_t n, max;
};

int q_tab_init(struct q_tab *t, unsigned keylen, uint64_t max);
void q_tab_fini(struct q_tab *t);
/* Add sums to key's entry (created at zero); flows must be > 0. key: kw
 * words, zero-padded. 0, -E2BIG, -ENOMEM. */
int q_tab_add(struct q_tab *t, const uint8_t *key, uint64_t hash, uint64_t flows,
	      uint64_t packets, uint64_t bytes);
static inline uint8_t *q_tab_key(const struct q_tab *t, uint64_t slot)
{
	return t->ent + slot * t->stride;
}
static inline uint64_t *q_tab_sums(const struct q_tab *t, uint64_t slot)
{
	return (uint64_t *)(void *)(t->ent + slot * t->stride + t->stride - 24);
}
static inline bool q_tab_used(const struct q_tab *t, uint64_t slot)
{
	return q_tab_sums(t, slot)[0] != 0;
}
/* The slot holding key (*found), or the empty slot where it would go;
 * kw = t->kw (a constant at a caller that knows it). */
static inline uint64_t q_tab_probe(const struct q_tab *t, const uint8_t *key, uint64_t hash,
				   unsigned kw, bool *found)
{
	uint64_t mask = t->nslot - 1, h = hash & mask;
	for (;; h = (h + 1) & mask) {
		const uint8_t *e = t->ent + h * t->stride;
		uint64_t s0;
		__builtin_memcpy(&s0, e + 8 * kw, 8);
		if (!s0) {
			*found = false;
			return h;
		}
		uint64_t d = 0;
		for (unsigned i = 0; i < kw; i++) {
			uint64_t x, y;
			__builtin_memcpy(&x, e + 8 * i, 8);
			__builtin_memcpy(&y, key + 8 * i, 8);
			d |= x ^ y;
		}
		if (!d) {
			*found = true;
			return h;
		}
	}
}
/* q_tab_add for a key of exactly keylen bytes (not padded). */
int q_tab_add_key(struct q_tab *t, const uint8_t *key, uint64_t a, uint64_t b, uint64_t c);
/* Hash of a zero-padded key of kw words. */
static inline uint64_t q_key_hashw(const uint8_t *key, unsigned kw)
{
	uint64_t h = 0x51ed270b27ca3d4bULL;
	for (unsigned i = 0; i < kw; i++) {
		uint64_t w;
		__builtin_memcpy(&w, key + 8 * i, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 29;
	}
	h *= 0xbf58476d1ce4e5b9ULL;
	return h ^ (h >> 32);
}
/* any key (padded to words internally) */
uint64_t q_key_hash(const uint8_t *key, unsigned len);

/* ------------------------------------------------------------- result */

struct q_result {
	const struct q_query *q;
	/* Q_LIST, plain: rows[0..nrows), unordered while fewer than the
	 * limit, then a bounded max-heap of the best rows (worst on top) */
	struct flow_rec *rows;
	size_t nrows, cap;
	/* Q_LIST, sorted (q_list_sort): the rows in listing order are
	 * ord[0..nord), pointing into rows and into the arrays taken over
	 * from other partial results (more[0..nmore)), which are not copied.
	 * Plain results have no ord and no more; anything that adds rows to
	 * a sorted result first makes it plain again (one copy). */
	struct q_ord {
		uint64_t k; /* numeric order fields: the row's order key */
		const struct flow_rec *p;
	} *ord;
	size_t nord;
	struct q_rows {
		struct flow_rec *rows;
		size_t n;
	} *more;
	unsigned nmore;
	/* Q_AGG / Q_SERIES */
	struct q_tab tab;
	struct q_stats st;
	/* after finish */
	bool final;
	size_t nout;
	unsigned ncols;
	uint8_t col_f[Q_GROUP_MAX + 24]; /* field or pseudo column per output column */
	uint8_t col_kind[Q_GROUP_MAX + 24];
	uint8_t **out;                   /* Q_AGG/Q_SERIES: key + 3 sums per row */
	char names[Q_GROUP_MAX][24];     /* column names of prefix fields */
	uint8_t *out_mem;
	size_t out_stride;
};

/* listing order: <0 when a comes first */
int q_list_cmp(const struct q_query *q, const struct flow_rec *a, const struct flow_rec *b);
/* offer a row to a listing result's heap */
int q_list_offer(struct q_result *r, const struct flow_rec *rec);
/* Rows a listing holds; row i of them: in listing order once sorted
 * (always after finish), in no particular order before. */
static inline size_t q_list_count(const struct q_result *r)
{
	return r->ord ? r->nord : r->nrows;
}
static inline const struct flow_rec *q_list_row(const struct q_result *r, size_t i)
{
	return r->ord ? r->ord[i].p : &r->rows[i];
}
/* The k-th array of a listing's rows as they lie in memory (k = 0: rows,
 * then the adopted ones); false past the last. Every row a listing holds
 * is in one of them, but a sorted listing cut at its limit also leaves
 * rows there that it no longer holds (then nord < the arrays' total). */
static inline bool q_list_array(const struct q_result *r, unsigned k, const struct flow_rec **rows,
				size_t *n)
{
	if (k > r->nmore)
		return false;
	*rows = k ? r->more[k - 1].rows : r->rows;
	*n = k ? r->more[k - 1].n : r->nrows;
	return true;
}
/* Sort a listing's rows (pointers, nothing moves): 0, or -ENOMEM with the
 * result unchanged. */
int q_list_sort(struct q_result *r);
/* Merge the sorted (or empty) listings parts[0..n) into the sorted (or
 * empty) dst, keeping the best `limit` rows: their row arrays move into
 * dst and the parts are left empty. 0, or -ENOMEM with nothing changed. */
int q_list_adopt(struct q_result *dst, struct q_result **parts, unsigned n);
/* Bulk append while a listing is not full: room for n more rows (n <=
 * limit - nrows) at the end, zeroed if zero; q_list_commit(r, n) once
 * they are filled. NULL on ENOMEM. */
struct flow_rec *q_list_reserve(struct q_result *r, size_t n, bool zero);
void q_list_commit(struct q_result *r, size_t n);

#endif
