/* fill.h — a store filled with `flowdelta gen`'s records, shared by
 * query_mkstore (tests, bench/query_vs_nfdump.sh) and the query micro
 * benchmarks (bench/bench_query.c). Header-only: both link lib/gen and the
 * store already. */
#ifndef TESTS_QUERY_FILL_H
#define TESTS_QUERY_FILL_H

#include <stdint.h>

#include "gen/gen.h"
#include "store.h"

/* Add g's next records to s until want are stored (the last packet cut to
 * fit), then commit: 0 or -errno; *n: records stored. */
static inline int gen_fill_store(struct gen *g, struct st_store *s, uint64_t want, uint64_t *n)
{
	uint64_t last = 0;
	struct gen_pkt pkt;
	int rc = 0;
	*n = 0;
	while (*n < want) {
		uint32_t max = want - *n < GEN_MAX_PER_PACKET ? (uint32_t)(want - *n) : 0;
		if (gen_next(g, max, &pkt) != 1)
			break;
		if (!pkt.n_recs)
			continue;
		/* commit when room runs short or a window ends (which seals it):
		 * the store keeps only a few windows open */
		if ((st_store_room(s) < pkt.n_recs || pkt.time_ms / 60000 != last / 60000) &&
		    (rc = st_store_commit(s, pkt.time_ms)))
			return rc;
		/* the export time picks the window, as the live store's clock would */
		if ((rc = st_store_add(s, pkt.recs, pkt.n_recs, pkt.arena, pkt.time_ms)))
			return rc;
		last = pkt.time_ms;
		*n += pkt.n_recs;
	}
	return st_store_commit(s, last);
}

#endif
