/* bench_store.c — flowdelta-store's writer: ingest into durable compressed
 * segments with group commit, records/s on one core and bytes per record on
 * disk (issue 5 targets: >= 5 M records/s with LZ4, <= 16 bytes/record for
 * the default IPv4 mix).
 *
 * What is timed is what the daemon does after decoding: st_store_add() of
 * 256-record batches (the decoder's default batch, with an arena for
 * strings as the daemon passes, empty: the mixes have none) and a group commit
 * (encode, write, fdatasync, commit record) every 100 ms of run time, plus
 * the final commit. Records are generated before the clock starts:
 *   gen      lib/gen's default mix (`flowdelta gen`: 20 % IPv6, strings off)
 *   gen_v4   the same with v6_share 0: the default IPv4 mix
 *   mix      tests/storage/mix.h: an enterprise-edge IPv4 mix with random
 *            Internet peers and ephemeral ports (harder to compress)
 * The store lives in a fresh directory under /tmp (BENCH_STORE_DIR to
 * change it; it should be the disk the store will use), removed after the
 * run (BENCH_STORE_KEEP=1 keeps it for `flowdelta store inspect`). Counters:
 * bytes/record (block bytes written / records), col_B/rec (column bytes
 * before compression), fsync_ms (mean fdatasync latency).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../tests/query/fill.h"
#include "../tests/storage/mix.h"
#include "bench.h"
#include "gen/gen.h"
#include "store.h"

#define NREC 2000000u
#define BATCH 256
#define COMMIT_NS 100000000ull

struct recs {
	struct flow_rec *r;
	uint32_t n;
	char *arena;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct recs *from_gen(double v6_share)
{
	struct recs *rs = calloc(1, sizeof(*rs));
	struct gen_cfg gc;
	gen_cfg_default(&gc);
	gc.exporters = 16;
	gc.flows = NREC / 16;
	gc.v6_share = v6_share;
	struct gen *g = gen_new(&gc);
	rs->r = malloc(NREC * sizeof(*rs->r));
	if (!g || !rs->r)
		return NULL;
	struct gen_pkt p;
	while (rs->n < NREC && gen_next(g, 0, &p) == 1)
		for (uint32_t i = 0; i < p.n_recs && rs->n < NREC; i++) {
			rs->r[rs->n] = p.recs[i];
			/* strings are off in the default mix */
			memset(rs->r[rs->n].str_len, 0, sizeof(rs->r[rs->n].str_len));
			rs->n++;
		}
	gen_free(g);
	return rs;
}

static struct recs *from_mix(void)
{
	struct recs *rs = calloc(1, sizeof(*rs));
	struct mix m;
	mix_init(&m, 1, 1764000000000ull, 0);
	rs->r = malloc(NREC * sizeof(*rs->r));
	if (!rs->r)
		return NULL;
	for (rs->n = 0; rs->n < NREC; rs->n++)
		mix_next(&m, &rs->r[rs->n]);
	return rs;
}

/* One store per run, kept across iterations like the daemon's: iteration k
 * fills arrival window k (5 minutes apart) and its final commit seals it, so
 * buffers are reused from window to window as in steady state. */
static void run(struct bench_state *st, const struct recs *rs, enum st_codec codec)
{
	const char *base = getenv("BENCH_STORE_DIR");
	char dir[512];
	uint64_t recs = 0;
	if (!rs) {
		bench_skip_error(st, "cannot generate records");
		return;
	}
	snprintf(dir, sizeof(dir), "%s/bench_store-XXXXXX", base ? base : "/tmp");
	if (!mkdtemp(dir)) {
		bench_skip_error(st, "mkdtemp failed");
		return;
	}
	struct st_store_cfg cfg;
	st_store_cfg_default(&cfg);
	cfg.dir = dir;
	cfg.codec = codec;
	struct st_store *s = st_store_open(&cfg, NULL);
	if (!s) {
		bench_skip_error(st, strerror(errno));
		return;
	}
	/* arrival windows: the bench's clock, not the records' */
	uint64_t now = 1767225600000ull;
	int rc = 0;
	while (!rc && bench_keep_running(st)) {
		uint64_t last = mono_ns();
		for (uint32_t i = 0; i < rs->n && !rc; i += BATCH) {
			uint32_t k = rs->n - i < BATCH ? rs->n - i : BATCH;
			rc = st_store_add(s, rs->r + i, k, "", now);
			if (mono_ns() - last >= COMMIT_NS) {
				rc = rc ? rc : st_store_commit(s, now);
				last = mono_ns();
			}
		}
		now += 300000;
		if (!rc)
			rc = st_store_commit(s, now); /* the rest, then seal the window */
		recs += rs->n;
	}
	struct st_store_stats ss;
	st_store_stats(s, &ss);
	st_store_close(s);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (getenv("BENCH_STORE_KEEP")) /* to look at it: flowdelta store inspect */
		fprintf(stderr, "bench_store: kept %s\n", dir);
	else if (system(cmd))
		(void)0;
	if (rc) {
		bench_skip_error(st, strerror(-rc));
		return;
	}
	bench_set_items(st, recs);
	bench_set_counter(st, "bytes/record", recs ? (double)ss.bytes_written / (double)recs : 0);
	bench_set_counter(st, "col_B/rec", recs ? (double)ss.raw_bytes / (double)recs : 0);
	bench_set_counter(st, "fsync_ms", ss.fsyncs ? (double)ss.fsync_ns_total / (double)ss.fsyncs / 1e6 : 0);
}

static struct recs *gen_default, *gen_v4, *mix_edge;

BENCH(store_ingest_lz4_gen)
{
	if (!gen_default)
		gen_default = from_gen(0.2);
	run(st, gen_default, ST_CODEC_LZ4);
}

BENCH(store_ingest_lz4_gen_v4)
{
	if (!gen_v4)
		gen_v4 = from_gen(0.0);
	run(st, gen_v4, ST_CODEC_LZ4);
}

BENCH(store_ingest_zstd_gen_v4)
{
	if (!gen_v4)
		gen_v4 = from_gen(0.0);
	run(st, gen_v4, ST_CODEC_ZSTD);
}

BENCH(store_ingest_lz4_mix)
{
	if (!mix_edge)
		mix_edge = from_mix();
	run(st, mix_edge, ST_CODEC_LZ4);
}

BENCH(store_ingest_zstd_mix)
{
	if (!mix_edge)
		mix_edge = from_mix();
	run(st, mix_edge, ST_CODEC_ZSTD);
}

static char qs_dir[512];

static void qs_cleanup(void)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", qs_dir);
	if (qs_dir[0] && system(cmd))
		(void)0;
}

const char *bench_query_store(void)
{
	static int done, rc;
	if (done) {
		errno = -rc;
		return rc ? NULL : qs_dir;
	}
	done = 1;
	const char *base = getenv("BENCH_STORE_DIR");
	snprintf(qs_dir, sizeof(qs_dir), "%s/bench_query-XXXXXX", base ? base : "/tmp");
	if (!mkdtemp(qs_dir)) {
		rc = -errno;
		return NULL;
	}
	atexit(qs_cleanup);
	struct gen_cfg gc;
	gen_cfg_default(&gc);
	gc.exporters = 4;
	gc.seed = 1;
	gc.per_packet = 200;
	struct gen *g = gen_new(&gc);
	struct st_store_cfg sc;
	st_store_cfg_default(&sc);
	sc.dir = qs_dir;
	struct st_store *s = g ? st_store_open(&sc, NULL) : NULL;
	uint64_t n;
	rc = s ? gen_fill_store(g, s, BENCH_QUERY_RECORDS, &n) : -ENOMEM;
	st_store_close(s);
	gen_free(g);
	errno = -rc;
	return rc ? NULL : qs_dir;
}

BENCH_ARGS(store_decode_sel, 0, 1, 2, 3, 4, 5)
{
	static const uint32_t masks[] = {
		ST_COL_BIT(ST_COL_FIRST_MS) | ST_COL_BIT(ST_COL_LAST_MS) | ST_COL_BIT(ST_COL_PROTO) |
			ST_COL_BIT(ST_COL_SRC_PORT) | ST_COL_BIT(ST_COL_DST_PORT) |
			ST_COL_BIT(ST_COL_TCP_FLAGS) | ST_COL_BIT(ST_COL_PACKETS) |
			ST_COL_BIT(ST_COL_BYTES),
		ST_COL_BIT(ST_COL_LAST_MS),
		ST_COL_BIT(ST_COL_FIRST_MS),
		ST_COL_BIT(ST_COL_SRC_PORT) | ST_COL_BIT(ST_COL_DST_PORT),
		ST_COL_BIT(ST_COL_BYTES),
		0,
	};
	static uint32_t sel[ST_BLOCK_ROWS_MAX];
	const char *dir = bench_query_store();
	int rc = dir ? 0 : -errno;
	if (rc) {
		bench_skip_error(st, strerror(-rc));
		return;
	}
	uint32_t m = masks[bench_arg(st)];
	uint64_t rows = 0;
	while (bench_keep_running(st)) {
		struct st_reader *r = st_reader_open(dir, 0, UINT64_MAX);
		if (!r) {
			bench_skip_error(st, "st_reader_open failed");
			return;
		}
		const struct st_block *b;
		uint32_t k = 0;
		while (st_reader_next(r, &b) == 1) {
			uint32_t n = st_block_rows(b), ns = 0;
			for (uint32_t i = (k++ * 7) % 61; i < n; i += 61)
				sel[ns++] = i;
			struct st_cols c;
			if (st_reader_decode_rows(r, b, m, 0, sel, ns, &c)) {
				st_reader_close(r);
				bench_skip_error(st, "decode failed");
				return;
			}
			bench_keep(c.col[ST_COL_LAST_MS]);
			rows += n;
		}
		st_reader_close(r);
	}
	bench_set_items(st, rows);
}
