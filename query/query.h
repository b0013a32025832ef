/* query.h — Flowdelta's query engine: the public interface (DESIGN §5).
 *
 * One query model: a time range, an nfdump-compatible filter (docs/query.md)
 * and one of three kinds:
 *   Q_LIST    flow listing, ordered by a field, limited;
 *   Q_AGG     aggregation: group by a list of fields (prefixes such as
 *             srcnet/24 included), sums of flows/packets/bytes, top-N;
 *   Q_SERIES  per-interval sums, optionally split by one field's top-N.
 *
 * Execution (exec.c) runs over the blocks of a store (storage/store.h),
 * skipping blocks by zone map, decoding only the columns the query needs,
 * evaluating the filter column-wise into a selection per block, on several
 * threads. Results are *partial* until q_result_finish(): a partial carries
 * every group (aggregation), the best `limit` rows (listing) or every
 * (interval, key) sum (series), so merging partials of disjoint record sets
 * gives exactly the partial of their union, and finishing it gives exactly
 * the answer one store holding all the records would give. Partials
 * serialise to JSON (q_result_to_json / q_result_from_json) to cross hosts.
 *
 * Errors: 0 or -errno; constructors return NULL with errno set. Detailed
 * messages (parse position, what was expected) go to a struct q_err the
 * caller provides. Nothing here logs or exits.
 */
#ifndef QUERY_QUERY_H
#define QUERY_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct q_err {
	int pos;        /* byte offset into the filter text, -1 when not a parse error */
	char msg[320];
};

/* ------------------------------------------------------------------ fields */

/* Fields usable for group-by, order and output. */
enum q_field {
	Q_F_FIRST = 0, Q_F_LAST, Q_F_DURATION,
	Q_F_SRCIP, Q_F_DSTIP, Q_F_SRCNET, Q_F_DSTNET,
	Q_F_SRCPORT, Q_F_DSTPORT, Q_F_PROTO, Q_F_FLAGS, Q_F_TOS,
	Q_F_SRCAS, Q_F_DSTAS, Q_F_INIF, Q_F_OUTIF,
	Q_F_EXPORTER, Q_F_NEXTHOP, Q_F_VLAN, Q_F_ODID, Q_F_SAMPLING,
	Q_F_PACKETS, Q_F_BYTES,
	Q_F_MAX
};

/* A field with an optional prefix length. srcnet/N: an IPv4 address keeps
 * its first N IPv4 bits (N > 32: the whole address), an IPv6 address its
 * first N IPv6 bits; so srcnet/24 groups v4 by /24 and v6 by /24 (run two
 * queries, filtered by ipv4/ipv6, for different lengths per family). */
struct q_fspec {
	enum q_field f;
	uint8_t plen;
};

/* Parse "srcip,dstport,srcnet/24" into at most max entries. 0; -EINVAL with
 * err set (unknown field, bad prefix), -E2BIG for too many. */
int q_fields_parse(const char *s, struct q_fspec *out, unsigned max, unsigned *n,
		   struct q_err *err);
const char *q_field_name(enum q_field f);
/* Field by name ("srcip", "bytes", ...): 0 or -EINVAL. */
int q_field_lookup(const char *name, enum q_field *out);

/* ------------------------------------------------------------------ filter */

struct q_filter;

/* Compile a filter. "" or NULL matches everything. NULL with errno EINVAL
 * (err says where and what was expected), ENOMEM, or ENOTSUP (a regex
 * Hyperscan refuses; err names it). Free with q_filter_free(). */
struct q_filter *q_filter_compile(const char *expr, struct q_err *err);
void q_filter_free(struct q_filter *f);
/* Canonical text of the parsed filter (fully parenthesised): for --explain
 * and for checking that partials come from the same query. */
const char *q_filter_text(const struct q_filter *f);

/* ------------------------------------------------------------------- query */

enum q_kind { Q_LIST = 0, Q_AGG, Q_SERIES };
enum q_metric { Q_M_FLOWS = 0, Q_M_PACKETS, Q_M_BYTES };

#define Q_GROUP_MAX 8
#define Q_LIMIT_MAX 1000000u        /* listing rows kept in memory */
#define Q_GROUPS_DEFAULT 4000000u   /* default group-table cap */

struct q_spec {
	enum q_kind kind;
	uint64_t from_ms, to_ms;   /* records with from <= first_ms < to */
	const char *filter;        /* NULL or "" = all */
	/* Q_AGG: group fields; Q_SERIES: at most one split field */
	struct q_fspec group[Q_GROUP_MAX];
	unsigned ngroup;
	enum q_metric by;          /* top-N order (desc), ties by key ascending */
	uint32_t top;              /* Q_AGG: rows shown; Q_SERIES: split keys kept; 0 = all */
	enum q_field order;        /* Q_LIST: sort field; default Q_F_FIRST */
	bool desc;                 /* Q_LIST: descending */
	uint32_t limit;            /* Q_LIST: rows; 0 = Q_LIMIT_MAX */
	uint32_t list_fields;      /* Q_LIST: columns carried, bit 1u << enum q_field;
	                            * 0 = all of first, last, duration, proto, srcip,
	                            * srcport, dstip, dstport, flags, tos, packets,
	                            * bytes, srcas, dstas, inif, outif, exporter,
	                            * sampling. Fewer columns, less decoding. */
	uint64_t interval_ms;      /* Q_SERIES: bucket width (> 0) */
	bool scale;                /* packets/bytes times the sampling interval */
	unsigned threads;          /* 0 = online CPUs */
	uint64_t max_groups;       /* 0 = Q_GROUPS_DEFAULT; beyond it: -E2BIG */
};

struct q_query;

/* Validate the spec and compile its filter. NULL with errno set and err
 * filled. The spec's strings are copied. */
struct q_query *q_query_new(const struct q_spec *spec, struct q_err *err);
void q_query_free(struct q_query *q);

struct q_result;

/* An empty partial result for q (keeps a reference: free the result first). */
struct q_result *q_result_new(const struct q_query *q);
void q_result_free(struct q_result *r);

/* Run q over the store at dir and add its records into r (so calling it for
 * several stores gives their union). 0; -E2BIG when the group table would
 * pass max_groups (err says so); -ENOMEM; -errno from the store (a missing
 * directory is -ENOENT). On failure r may hold part of the store: free it. */
int q_run(const struct q_query *q, const char *dir, struct q_result *r, struct q_err *err);

/* Merge src (a partial of the same query, same record-disjoint split) into
 * dst. 0; -EINVAL if they come from different queries; -E2BIG as above. */
int q_result_merge(struct q_result *dst, const struct q_result *src, struct q_err *err);

/* Serialise a partial (JSON text, malloc'd: caller frees) / read one back
 * against q (NULL, errno EINVAL, for text of another query or malformed). */
char *q_result_to_json(const struct q_result *r);
struct q_result *q_result_from_json(const struct q_query *q, const char *text, struct q_err *err);

/* Sort, apply top-N / limit, build the output rows. After it the result is
 * final: it can be read, no longer merged. 0 or -ENOMEM. */
int q_result_finish(struct q_result *r);

/* ------------------------------------------------------ reading the answer */

enum q_ctype { Q_CT_TEXT = 0, Q_CT_NUM, Q_CT_TIME, Q_CT_ADDR };

unsigned q_result_ncols(const struct q_result *r);
const char *q_result_col_name(const struct q_result *r, unsigned c);
enum q_ctype q_result_col_type(const struct q_result *r, unsigned c);
size_t q_result_nrows(const struct q_result *r);
/* Cell text; human: counters in k/M/G units and times as ISO 8601 (else
 * raw integers, times in ms). Returns buf. */
const char *q_result_cell(const struct q_result *r, size_t row, unsigned c, bool human,
			  char *buf, size_t len);
/* The human text (as q_result_cell) of the cells of a row whose columns
 * have show[c] set, concatenated without separators into out (room for
 * Q_CELL_MAX bytes a cell); each cell's length goes to lens[]. Returns the
 * bytes written. A listing's rows take a path that builds no strings. */
#define Q_CELL_MAX 128
size_t q_result_row_text(const struct q_result *r, size_t row, const bool *show, char *out,
			 uint8_t *lens);
/* Raise w[c] to the longest text of column c (where show[c]) over rows
 * [from, to): a table's widths before its text is made, from the cells'
 * lengths (cheaper than their text; listings in the order rows lie in
 * memory). */
void q_result_widths(const struct q_result *r, const bool *show, size_t from, size_t to,
		     size_t *w);
/* Rows [from, to)'s lines of an aligned table at o: each row's cells of
 * q_result_row_text, padded with blanks to w[c] (numbers on the right,
 * the rest on the left), two blanks apart, with no trailing blanks, then
 * '\n'. w[c] must be at least the cells' length (q_result_widths). Stores
 * up to Q_LINE_SLACK bytes past the last line's end. Returns that end. */
#define Q_LINE_SLACK 64
char *q_result_lines(const struct q_result *r, size_t from, size_t to, const bool *show,
		     const size_t *w, char *o);
/* Raw numeric value of a Q_CT_NUM/Q_CT_TIME cell (0 otherwise). */
uint64_t q_result_num(const struct q_result *r, size_t row, unsigned c);

struct q_stats {
	uint64_t segments, blocks, blocks_skipped, blocks_corrupt;
	uint64_t rows_scanned, rows_matched;
	uint64_t groups;    /* aggregation/series groups before top-N */
	uint64_t ns;        /* wall time inside q_run(), summed over stores */
	unsigned threads;
};
void q_result_stats(const struct q_result *r, struct q_stats *out);

/* Human counter text: 1234567 -> "1.2 M" (1000-based, as nfdump). */
const char *q_fmt_human(uint64_t v, char *buf, size_t len);
/* strlen of q_fmt_human's text for v (with room enough), without it. */
size_t q_human_len(uint64_t v);
/* The same text at o (room for 16 bytes, no NUL); returns its length. */
size_t q_human_text(uint64_t v, char *o);

/* Parse a duration "90s", "5m", "1h", "2d", "500ms" or plain seconds. */
int q_parse_duration_ms(const char *s, uint64_t *ms);
/* Parse a time: ISO "2026-01-01T00:00:00[Z]", "2026-01-01 00:00[:00]",
 * nfdump's "2026/01/01.00:00:00", or ms since the epoch. */
int q_parse_time_ms(const char *s, uint64_t *ms);

#endif
