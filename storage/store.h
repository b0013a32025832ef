/* store.h — flowdelta-store's storage library: the public interface.
 *
 * A store is a directory of time-partitioned segment files (FORMAT.md):
 * DIR/YYYY/MM/DD/HHMMSS-P.seg, one per window of arrival time (default 5
 * minutes), plus DIR/commit.log, the group-commit journal that also holds the
 * per-session acknowledgement marks (docs/ack-protocol.md).
 *
 * Writer (one per store, single-threaded): st_store_add() buffers records of
 * the current window and encodes a block when 64 Ki rows are pending;
 * st_store_commit() writes the partial blocks, fsyncs them and appends a
 * commit record: only committed data survives a crash (recovery truncates
 * blocks of a commit whose record never reached the disk).
 *
 * Reader (any number, any process, also while the writer runs): iterate the
 * blocks of a time range with their zone maps, decode only the columns asked
 * for. A corrupt block is counted and skipped, never fatal.
 *
 * Errors: 0 or -errno; constructors return NULL with errno set. Nothing logs.
 */
#ifndef STORAGE_STORE_H
#define STORAGE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow/record.h"

enum st_codec {
	ST_CODEC_NONE = 0,
	ST_CODEC_LZ4 = 1, /* default */
	ST_CODEC_ZSTD = 2,
};

#define ST_BLOCK_ROWS_MAX 65536

/* Column ids: also their on-disk ids (FORMAT.md §4). Decoded element types:
 * u64 for times and counters, uint8_t[16] for addresses (util/addr.h form),
 * u32/u16/u8 as in struct flow_rec, u32 dictionary index for strings. */
#define ST_COL_LIST(X)                                        \
	X(FIRST_MS, first_ms, 8) X(LAST_MS, last_ms, 8)       \
	X(PACKETS, packets, 8) X(BYTES, bytes, 8)             \
	X(REV_PACKETS, rev_packets, 8) X(REV_BYTES, rev_bytes, 8) \
	X(SRC_ADDR, src_addr, 16) X(DST_ADDR, dst_addr, 16)   \
	X(NEXT_HOP, next_hop, 16) X(EXPORTER, exporter, 16)   \
	X(ODID, odid, 4) X(SAMPLING, sampling, 4)             \
	X(IN_IF, in_if, 4) X(OUT_IF, out_if, 4)               \
	X(SRC_AS, src_as, 4) X(DST_AS, dst_as, 4)             \
	X(SRC_PORT, src_port, 2) X(DST_PORT, dst_port, 2)     \
	X(EXP_PORT, exp_port, 2) X(VLAN, vlan, 2)             \
	X(PROTO, proto, 1) X(TCP_FLAGS, tcp_flags, 1)         \
	X(TOS, tos, 1) X(SRC_MASK, src_mask, 1)               \
	X(DST_MASK, dst_mask, 1) X(DIRECTION, direction, 1)   \
	X(FLAGS, flags, 1) X(VERSION, version, 1)             \
	X(APP, app, 0) X(HTTP_HOST, http_host, 0)             \
	X(URL, url, 0) X(SNI, sni, 0)

enum st_col {
#define ST_COL_ENUM(N, n, w) ST_COL_##N,
	ST_COL_LIST(ST_COL_ENUM)
#undef ST_COL_ENUM
	ST_COL_MAX
};
#define ST_COL_BIT(c) (1u << (c))
#define ST_COLS_ALL 0xffffffffu

/* "first_ms"; NULL for an unknown id. */
const char *st_col_name(enum st_col c);
/* Size of one decoded element: 8, 16, 4, 2, 1, or 4 (string index). */
unsigned st_col_size(enum st_col c);

/* Per-block zone map: min/max over the block's rows. */
struct st_zone {
	uint64_t first_min, first_max, last_min, last_max;
	uint8_t src_min[16], src_max[16], dst_min[16], dst_max[16];
	uint64_t packets_min, packets_max, bytes_min, bytes_max;
	uint32_t src_as_min, src_as_max, dst_as_min, dst_as_max;
	uint16_t src_port_min, src_port_max, dst_port_min, dst_port_max;
	uint8_t proto_min, proto_max;
};

/* ------------------------------------------------------------------ writer */

struct st_mark {
	uint64_t session_id;
	uint64_t durable_next; /* first message number not stored */
};

struct st_store_cfg {
	const char *dir;
	uint32_t window_s;    /* segment window; default 300; divides 86400 */
	enum st_codec codec;  /* default LZ4 */
	int level;            /* ZSTD level; 0 = default (3) */
	uint32_t block_rows;  /* default and max 65536 */
	uint32_t max_marks;   /* sessions remembered; default 4096 */
};

void st_store_cfg_default(struct st_store_cfg *cfg);

/* What opening (recovery) found and did. */
struct st_recovery {
	uint64_t commit;          /* last durable commit id */
	uint32_t segments_open;   /* unsealed segments examined */
	uint32_t segments_sealed; /* sealed at start-up (their window had ended) */
	uint32_t blocks_kept;
	uint32_t blocks_dropped;  /* complete blocks of an unrecorded commit */
	uint32_t blocks_corrupt;  /* bad CRC in the middle: kept, readers skip */
	uint64_t bytes_truncated; /* torn tail + dropped blocks */
	uint64_t rows_dropped;
	uint32_t marks;           /* sessions whose marks were restored */
	bool no_commit_log;       /* segments existed without commit.log: kept all */
};

struct st_store;

/* Open (creating DIR if needed) and recover. rep may be NULL. */
struct st_store *st_store_open(const struct st_store_cfg *cfg, struct st_recovery *rep);
/* Commit nothing; seal nothing; release. Uncommitted rows are lost. */
void st_store_close(struct st_store *s);

/* Append n records (strings in arena, may be NULL) received at now_ms (which
 * picks the window). 0; -ENOBUFS when the pending buffer is full (commit
 * first: a failing disk keeps rows pending); -errno from a block write. */
int st_store_add(struct st_store *s, const struct flow_rec *recs, uint32_t n,
		 const char *arena, uint64_t now_ms);

/* Rows that st_store_add() can take now without -ENOBUFS. */
uint32_t st_store_room(const struct st_store *s);

/* Session marks (replace the mark of each session given). Made durable by the
 * next successful commit, together with the rows added before it. */
int st_store_set_marks(struct st_store *s, const struct st_mark *m, uint32_t n);
/* durable_next of a session restored or set; 0 when unknown. */
uint64_t st_store_get_mark(const struct st_store *s, uint64_t session_id);

/* Group commit: write pending rows as blocks, fsync, append the commit
 * record, fsync; then seal windows that ended before now_ms. 0 or -errno
 * (-ENOSPC: disk full; nothing acknowledged, rows stay pending, retry).
 * After a failed fsync every commit fails with -EIO: what reached the disk
 * is unknown, and only a restart (recovery from what is on disk) is safe. */
int st_store_commit(struct st_store *s, uint64_t now_ms);

/* Seal every open segment now (orderly shutdown): footers written, files
 * synced; later rows go to a new part. -EAGAIN if rows or marks are not
 * committed yet. */
int st_store_seal(struct st_store *s);

struct st_store_stats {
	uint64_t rows_in;
	uint64_t rows_written;
	uint64_t blocks_written;
	uint64_t bytes_written;
	uint64_t raw_bytes;       /* column bytes before compression */
	uint64_t commits;
	uint64_t fsyncs;
	uint64_t fsync_ns_total;
	uint64_t fsync_ns_max;
	uint64_t write_errors;
	uint64_t enospc_errors;
	uint64_t segments_created;
	uint64_t segments_sealed;
	uint32_t pending_rows;
	bool fsync_failed;        /* every later commit fails with -EIO */
};
void st_store_stats(const struct st_store *s, struct st_store_stats *out);

/* --------------------------------------------------------------- retention */

struct st_retention_stats {
	uint32_t segments_deleted;
	uint64_t bytes_deleted;
	uint64_t bytes_kept;
};

/* Delete whole sealed (or, with a live writer absent, ended) segments, oldest
 * window first: those whose window ended before now_ms - max_age_ms
 * (0: no age limit), then while the store's segment bytes exceed quota
 * (0: no quota). Segments of windows not yet ended are never deleted.
 * Empty day/month/year folders are removed. 0 or -errno. */
int st_retention_run(const char *dir, uint64_t now_ms, uint64_t max_age_ms, uint64_t quota,
		     struct st_retention_stats *out);

/* ------------------------------------------------------------------ reader */

struct st_reader;
struct st_block; /* one block of one segment, valid until the next call */

/* Open the store for [from_ms, to_ms] (record first/last overlap; 0,
 * UINT64_MAX for all). Segment files present at open are listed then; each is
 * mapped as it is reached, so blocks completed before that are seen. */
struct st_reader *st_reader_open(const char *dir, uint64_t from_ms, uint64_t to_ms);
/* The same, returning only partition part of nparts: the blocks whose
 * number k (per segment, from a start derived from the segment's name) has
 * k % nparts == part. The partitions of
 * one nparts together return every block once; per-segment counts
 * (segments, what walks of unsealed segments found) go to partition 0. */
struct st_reader *st_reader_open_part(const char *dir, uint64_t from_ms, uint64_t to_ms,
				      unsigned part, unsigned nparts);
/* Readers of one query sharing the blocks out as they go: each block is
 * returned by exactly one of the readers opened on the same share (the
 * first to reach it), so a reader on a busier CPU takes fewer. A share
 * outlives its readers; it holds a few hundred bytes per segment read. */
struct st_share;
struct st_share *st_share_new(void);
void st_share_free(struct st_share *sh);
/* id: reader 0 reports the per-segment counts, as partition 0 does. NULL
 * with errno set. A block a reader cannot claim (no memory, or a segment
 * of more than 256 Ki blocks) makes st_reader_next() return an error. */
struct st_reader *st_reader_open_shared(const char *dir, uint64_t from_ms, uint64_t to_ms,
					unsigned id, struct st_share *sh);
void st_reader_close(struct st_reader *r);

/* Next block overlapping the range: 1 (*out set), 0 at the end, -errno on a
 * failure to read a file (the reader moves on to the next segment on the
 * following call). Corrupt blocks are skipped and counted. */
int st_reader_next(struct st_reader *r, const struct st_block **out);

uint32_t st_block_rows(const struct st_block *b);
const struct st_zone *st_block_zone(const struct st_block *b);
const char *st_block_segment(const struct st_block *b); /* path */

/* Decoded columns of one block, owned by the reader, valid until the next
 * st_reader_next()/decode call. col[c] is NULL unless c was asked for. */
struct st_cols {
	uint32_t n;
	void *col[ST_COL_MAX];
	/* strings: col[] holds u32 indices per row, 0 = absent, k = entry k-1 */
	uint32_t str_n[FLOW_STR_MAX];
	const uint32_t *str_off[FLOW_STR_MAX]; /* into str_arena */
	const uint16_t *str_len[FLOW_STR_MAX];
	const char *str_arena;
	/* columns asked for as codes (st_reader_decode_codes) that the block
	 * stores as a dictionary: row i's value is entry code[c][i] of dict[c]
	 * (ndict[c] decoded values of st_col_size(c) bytes) and col[c] is NULL */
	const uint16_t *code[ST_COL_MAX];
	const void *dict[ST_COL_MAX];
	uint32_t ndict[ST_COL_MAX];
	/* columns of xmask (st_reader_decode_codes_x) that the block stores
	 * as frequent values plus exceptions (ports, mostly) come as codes as
	 * well, but code 0 then names no entry (dict[c]'s entry 0 is a
	 * placeholder 0): the rows with code 0 take xval[c][0..nx[c]) in
	 * row order. NULL for every other column. */
	const uint64_t *xval[ST_COL_MAX];
	uint32_t nx[ST_COL_MAX];
};

/* Decode the columns in colmask (ST_COL_BIT()). -EBADMSG if the block is
 * inconsistent (it passed its CRC, so only a bug or a crafted file). */
int st_reader_decode(struct st_reader *r, const struct st_block *b, uint32_t colmask,
		     struct st_cols *out);
/* The same; the columns of codemask (a subset of colmask; not strings or
 * times) that the block stores as a dictionary come as codes and their
 * dictionary instead of values: group-bys and filters then work once per
 * distinct value. The others come as values. */
int st_reader_decode_codes(struct st_reader *r, const struct st_block *b, uint32_t colmask,
			   uint32_t codemask, struct st_cols *out);
/* The same; the columns of xmask (a subset of codemask) may also come as
 * codes with exceptions (st_cols.xval): for a caller that only compares
 * them with constants. */
int st_reader_decode_codes_x(struct st_reader *r, const struct st_block *b, uint32_t colmask,
			     uint32_t codemask, uint32_t xmask, struct st_cols *out);
/* The rows sel[0..nsel) only (strictly ascending row numbers), delivered
 * as rows 0..nsel-1 (out->n = nsel), columns of codemask as codes where
 * stored as a dictionary: late materialisation after a filter. -EINVAL
 * for a bad selection. */
int st_reader_decode_rows(struct st_reader *r, const struct st_block *b, uint32_t colmask,
			  uint32_t codemask, const uint32_t *sel, uint32_t nsel,
			  struct st_cols *out);

struct st_reader_stats {
	uint32_t segments;
	uint32_t segments_bad;   /* header unreadable */
	uint64_t blocks;         /* returned */
	uint64_t blocks_skipped; /* outside the range by zone map */
	uint64_t blocks_corrupt;
	uint64_t bytes_corrupt;
	uint64_t tail_bytes;     /* incomplete tails (open segments, torn writes) */
};
void st_reader_stats(const struct st_reader *r, struct st_reader_stats *out);

/* Rebuild full records of a decoded block (all columns decoded): recs[i] for
 * i < cols->n, strings copied into arena (cap bytes); -ENOSPC if it is short. */
int st_cols_to_recs(const struct st_cols *cols, struct flow_rec *recs, char *arena,
		    size_t cap, size_t *arena_len);

/* ------------------------------------------------------ inspect / verify */

/* The format version this build writes (FORMAT.md §9); it reads 1 to it. */
#define ST_FORMAT_VERSION 4

/* What one segment file holds (st_store_scan). */
struct st_seg_report {
	const char *path;
	bool header_ok;
	bool sealed;
	uint64_t win_start_ms;
	uint32_t win_len_ms;
	uint32_t part;
	uint8_t codec;
	uint16_t version; /* format version (FORMAT.md §9) */
	uint64_t file_bytes;
	uint64_t blocks;
	uint64_t blocks_bad;    /* bad CRC / garbage, skipped */
	uint64_t bytes_bad;
	uint64_t tail_bytes;    /* incomplete block at the end */
	uint64_t decode_errors; /* blocks whose CRC holds but whose columns do not decode */
	uint64_t rows;
	uint64_t block_bytes;   /* bytes of good blocks */
	uint64_t raw_bytes;     /* their columns before compression */
	uint64_t first_min, last_max;
	uint64_t col_raw[ST_COL_MAX], col_stored[ST_COL_MAX];
};

/* Offline recompression of one sealed segment with another codec: every
 * block decoded and encoded again (rows and commit ids kept), the file
 * replaced by temp + fsync + rename. -EBADMSG (file untouched) for an open
 * segment or one with corrupt blocks or a torn tail. */
struct st_recompress_stats {
	uint64_t blocks, rows, bytes_before, bytes_after;
};
int st_segment_recompress(const char *path, enum st_codec codec, int level,
			  struct st_recompress_stats *st);

/* Call fn for every segment of the store, oldest first. decode: also decode
 * every column of every good block (what verify does). 0 or -errno. */
int st_store_scan(const char *dir, bool decode,
		  void (*fn)(void *ctx, const struct st_seg_report *r), void *ctx);

#endif
