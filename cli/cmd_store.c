/* cmd_store.c — `flowdelta store inspect|verify DIR`: what a store directory
 * holds, and whether every block's CRC and columns hold. The work is
 * st_store_scan() (storage/); this file parses flags and prints.
 *
 *   inspect: per segment and in total: blocks, rows, bytes/record,
 *            compression ratio, time span; --columns adds bytes per column.
 *   verify:  checks every segment header, block CRC and column decode;
 *            exit 0 when all is sound, 1 on any corruption, 2 on bad usage.
 *   recompress --codec zstd|lz4|none [--level N]: rewrites every sealed
 *            segment stored with another codec (offline or live: the
 *            writer never touches sealed segments).
 * See docs/store.md.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "store.h"

struct totals {
	bool verify, quiet, columns;
	uint64_t segments, sealed, bad_headers, blocks, blocks_bad, bytes_bad, tail_bytes;
	uint64_t decode_errors, rows, file_bytes, block_bytes, raw_bytes, first_min, last_max;
	uint64_t col_raw[ST_COL_MAX], col_stored[ST_COL_MAX];
};

static void fmt_time(uint64_t ms, char *buf, size_t len)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	if (!gmtime_r(&s, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "%" PRIu64, ms);
}

static double ratio(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : 0.0;
}

static void on_segment(void *ctx, const struct st_seg_report *r)
{
	struct totals *t = ctx;
	t->segments++;
	t->file_bytes += r->file_bytes;
	if (!r->header_ok) {
		t->bad_headers++;
		printf("%s: BAD HEADER (%" PRIu64 " bytes unreadable)\n", r->path, r->file_bytes);
		return;
	}
	t->sealed += r->sealed;
	t->blocks += r->blocks;
	t->blocks_bad += r->blocks_bad;
	t->bytes_bad += r->bytes_bad;
	t->tail_bytes += r->tail_bytes;
	t->decode_errors += r->decode_errors;
	t->rows += r->rows;
	t->block_bytes += r->block_bytes;
	t->raw_bytes += r->raw_bytes;
	if (r->blocks && (!t->first_min || r->first_min < t->first_min))
		t->first_min = r->first_min;
	if (r->last_max > t->last_max)
		t->last_max = r->last_max;
	for (unsigned c = 0; c < ST_COL_MAX; c++) {
		t->col_raw[c] += r->col_raw[c];
		t->col_stored[c] += r->col_stored[c];
	}
	bool bad = r->blocks_bad || r->decode_errors;
	if (t->verify) {
		if (bad)
			printf("%s: CORRUPT: %" PRIu64 " bad block(s), %" PRIu64
			       " bytes skipped, %" PRIu64 " block(s) that do not decode\n",
			       r->path, r->blocks_bad, r->bytes_bad, r->decode_errors);
		if (r->tail_bytes)
			printf("%s: incomplete tail of %" PRIu64 " bytes (open segment or torn write; "
			       "the store cuts it at start-up)\n", r->path, r->tail_bytes);
		if (!bad && !r->tail_bytes && !t->quiet)
			printf("%s: ok, %" PRIu64 " blocks\n", r->path, r->blocks);
		return;
	}
	char a[32], b[32];
	fmt_time(r->first_min, a, sizeof(a));
	fmt_time(r->last_max, b, sizeof(b));
	printf("%s  %s  v%u  blocks %" PRIu64 "  rows %" PRIu64 "  bytes %" PRIu64
	       "  %.2f B/rec  ratio %.2f  flows %s .. %s%s\n",
	       r->path, r->sealed ? "sealed" : "open  ", r->version, r->blocks, r->rows, r->file_bytes,
	       ratio(r->file_bytes, r->rows), ratio(r->raw_bytes, r->block_bytes), a, b,
	       bad ? "  CORRUPT" : "");
}

struct seglist {
	char **p;
	size_t n, cap;
	int codec;
};

static void collect(void *ctx, const struct st_seg_report *r)
{
	struct seglist *l = ctx;
	/* another codec, or an older format: written again */
	if (!r->header_ok || !r->sealed || (r->codec == l->codec && r->version == ST_FORMAT_VERSION))
		return;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->p = realloc(l->p, l->cap * sizeof(*l->p));
	}
	l->p[l->n++] = strdup(r->path);
}

static int recompress(const char *dir, int codec, int level)
{
	struct seglist l = { .codec = codec };
	int rc = st_store_scan(dir, false, collect, &l);
	if (rc) {
		fprintf(stderr, "flowdelta: store: %s: %s\n", dir, strerror(-rc));
		return 1;
	}
	uint64_t before = 0, after = 0, rows = 0;
	int bad = 0;
	for (size_t i = 0; i < l.n; i++) {
		struct st_recompress_stats st;
		rc = st_segment_recompress(l.p[i], (enum st_codec)codec, level, &st);
		if (rc) {
			printf("%s: not recompressed: %s\n", l.p[i],
			       rc == -EBADMSG ? "corrupt or incomplete (run verify)" : strerror(-rc));
			bad = 1;
		} else {
			printf("%s: %" PRIu64 " -> %" PRIu64 " bytes\n", l.p[i], st.bytes_before, st.bytes_after);
			before += st.bytes_before;
			after += st.bytes_after;
			rows += st.rows;
		}
		free(l.p[i]);
	}
	free(l.p);
	printf("recompressed %zu segments, %" PRIu64 " rows: %" PRIu64 " -> %" PRIu64 " block bytes (%.2f -> %.2f B/rec)\n",
	       l.n, rows, before, after, ratio(before, rows), ratio(after, rows));
	return bad;
}

static int usage(FILE *f)
{
	fprintf(f, "usage: flowdelta store inspect [--columns] DIR\n"
		   "       flowdelta store verify [--quiet] DIR\n"
		   "       flowdelta store recompress --codec zstd|lz4|none [--level N] DIR\n"
		   "\n"
		   "inspect  segments, blocks, rows, bytes/record, compression ratio, time span\n"
		   "         --columns: stored bytes per record of each column\n"
		   "verify   check every segment header, block CRC and column; exit 1 on corruption\n"
		   "         --quiet: print only segments with problems\n"
		   "recompress  rewrite sealed segments stored with another codec or an older\n"
		   "         format version (temp + rename)\n");
	return f == stdout ? 0 : 2;
}

static int run_store(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "columns", no_argument, NULL, 'c' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "codec", required_argument, NULL, 'C' },
		{ "level", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct totals t = { 0 };
	if (argc < 2)
		return usage(stderr);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return usage(stdout);
	const char *sub = argv[1];
	bool recomp = !strcmp(sub, "recompress");
	int codec = -1, level = 0;
	if (!strcmp(sub, "verify"))
		t.verify = true;
	else if (strcmp(sub, "inspect") && !recomp)
		return cli_usage_error("store", "unknown subcommand '%s' (inspect or verify)", sub);
	argc--;
	argv++;
	optind = 1;
	int o;
	while ((o = getopt_long(argc, argv, "cqhC:L:", opts, NULL)) != -1) {
		switch (o) {
		case 'c': t.columns = true; break;
		case 'q': t.quiet = true; break;
		case 'C':
			codec = !strcmp(optarg, "lz4") ? ST_CODEC_LZ4 : !strcmp(optarg, "zstd") ? ST_CODEC_ZSTD
				: !strcmp(optarg, "none") ? ST_CODEC_NONE : -2;
			if (codec == -2)
				return cli_usage_error("store", "--codec: '%s' is not lz4, zstd or none", optarg);
			break;
		case 'L': level = atoi(optarg); break;
		case 'h': return usage(stdout);
		default: return usage(stderr);
		}
	}
	if (optind != argc - 1)
		return cli_usage_error("store", "%s needs exactly one store directory", sub);
	const char *dir = argv[optind];
	if (recomp) {
		if (codec < 0)
			return cli_usage_error("store", "recompress needs --codec");
		return recompress(dir, codec, level);
	}
	int rc = st_store_scan(dir, t.verify, on_segment, &t);
	if (rc)
		return cli_usage_error("store", "%s: %s", dir, strerror(-rc)) ? 1 : 1;

	char a[32], b[32];
	fmt_time(t.first_min, a, sizeof(a));
	fmt_time(t.last_max, b, sizeof(b));
	bool corrupt = t.bad_headers || t.blocks_bad || t.decode_errors;
	if (t.verify) {
		printf("verify %s: %" PRIu64 " segments, %" PRIu64 " blocks, %" PRIu64 " rows: %s\n",
		       dir, t.segments, t.blocks, t.rows,
		       corrupt ? "CORRUPTION FOUND" : "all checksums ok");
		if (corrupt)
			printf("  bad headers %" PRIu64 ", bad blocks %" PRIu64 " (%" PRIu64
			       " bytes), blocks failing to decode %" PRIu64 "\n",
			       t.bad_headers, t.blocks_bad, t.bytes_bad, t.decode_errors);
		return corrupt ? 1 : 0;
	}
	printf("total: %" PRIu64 " segments (%" PRIu64 " sealed), %" PRIu64 " blocks, %" PRIu64
	       " rows, %" PRIu64 " bytes, %.2f bytes/record, compression ratio %.2f"
	       " (columns %.2f B/rec before compression, 176 B/rec in memory)\n",
	       t.segments, t.sealed, t.blocks, t.rows, t.file_bytes, ratio(t.file_bytes, t.rows),
	       ratio(t.raw_bytes, t.block_bytes), ratio(t.raw_bytes, t.rows));
	if (t.rows)
		printf("time span: %s .. %s\n", a, b);
	if (corrupt)
		printf("corruption: %" PRIu64 " bad headers, %" PRIu64 " bad blocks (run verify)\n",
		       t.bad_headers, t.blocks_bad);
	if (t.columns) {
		printf("%-12s %10s %10s\n", "column", "raw B/rec", "disk B/rec");
		for (unsigned c = 0; c < ST_COL_MAX; c++)
			printf("%-12s %10.3f %10.3f\n", st_col_name(c), ratio(t.col_raw[c], t.rows),
			       ratio(t.col_stored[c], t.rows));
	}
	return 0;
}

static struct cli_cmd cmd_store = {
	.name = "store",
	.summary = "inspect or verify a flowdelta-store data directory",
	.run = run_store,
};
CLI_REGISTER(cmd_store)
