/* bench_query.c — the query engine over a store, records scanned per second
 * on one core (issue 6's three shapes; bench/query_vs_nfdump.sh runs them
 * side by side with nfdump on 20 M records with all cores).
 *
 * The store is filled once per process with 4 M records of `flowdelta gen`'s
 * default mix (4 exporters, seed 1, IPFIX, 200 records a packet: the same
 * configuration as query_vs_nfdump.sh) in a fresh directory under /tmp
 * (BENCH_STORE_DIR to change it), removed at exit. Each iteration runs one
 * whole query on one thread -- read, decode, filter, aggregate or list,
 * finish -- and nothing is kept between iterations but the page cache:
 *   query_top_srcip     top-10 srcip by bytes
 *   query_port443_dstip 'dst port 443', top-10 dstip by bytes
 *   query_host_list     'host 10.1.0.5', every flow ordered by time (the
 *                       table's columns; formatting is not timed)
 * Counters: matched/row (the filter's selectivity).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/query/fill.h"
#include "bench.h"
#include "query.h"

static void run(struct bench_state *st, const struct q_spec *sp)
{
	const char *store_dir = bench_query_store();
	if (!store_dir) {
		bench_skip_error(st, strerror(errno));
		return;
	}
	struct q_err err;
	struct q_query *q = q_query_new(sp, &err);
	if (!q) {
		bench_skip_error(st, err.msg);
		return;
	}
	uint64_t rows = 0, matched = 0;
	while (bench_keep_running(st)) {
		struct q_result *r = q_result_new(q);
		if (!r || q_run(q, store_dir, r, &err) || q_result_finish(r)) {
			q_result_free(r);
			bench_skip_error(st, err.msg[0] ? err.msg : "query failed");
			break;
		}
		struct q_stats s;
		q_result_stats(r, &s);
		rows += s.rows_scanned;
		matched += s.rows_matched;
		q_result_free(r);
	}
	q_query_free(q);
	bench_set_items(st, rows);
	bench_set_counter(st, "matched/row", rows ? (double)matched / (double)rows : 0);
}

BENCH(query_top_srcip)
{
	struct q_spec sp = { .kind = Q_AGG, .to_ms = UINT64_MAX, .by = Q_M_BYTES, .top = 10,
			     .threads = 1, .ngroup = 1 };
	sp.group[0].f = Q_F_SRCIP;
	run(st, &sp);
}

BENCH(query_port443_dstip)
{
	struct q_spec sp = { .kind = Q_AGG, .to_ms = UINT64_MAX, .by = Q_M_BYTES, .top = 10,
			     .threads = 1, .ngroup = 1, .filter = "dst port 443" };
	sp.group[0].f = Q_F_DSTIP;
	run(st, &sp);
}

BENCH(query_host_list)
{
	struct q_spec sp = { .kind = Q_LIST, .to_ms = UINT64_MAX, .order = Q_F_FIRST,
			     .threads = 1, .filter = "host 10.1.0.5" };
	sp.list_fields = 1u << Q_F_FIRST | 1u << Q_F_DURATION | 1u << Q_F_PROTO |
			 1u << Q_F_SRCIP | 1u << Q_F_SRCPORT | 1u << Q_F_DSTIP | 1u << Q_F_DSTPORT |
			 1u << Q_F_FLAGS | 1u << Q_F_PACKETS | 1u << Q_F_BYTES;
	run(st, &sp);
}
