/* mkstore.c — fill a store with the records of `flowdelta gen` (lib/gen),
 * for the nfdump comparison test and bench/query_vs_nfdump.sh.
 *
 *   query_mkstore DIR RECORDS [EXPORTERS [SEED [VERSION [PER_PACKET [V6SHARE]]]]]
 *
 * Same generator, same configuration as `flowdelta gen --records RECORDS
 * --exporters E --seed S --version V --per-packet K --v6-share F`: the
 * store then holds exactly the records those exports carry, so a collector
 * fed by `gen --send` (nfcapd) holds the same records. Prints the record
 * count. Exit 0, or 1 on an error (message on stderr).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fill.h"

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s DIR RECORDS [EXPORTERS [SEED [VERSION [PER_PACKET [V6SHARE]]]]]\n",
			argv[0]);
		return 2;
	}
	struct gen_cfg gc;
	gen_cfg_default(&gc);
	uint64_t want = strtoull(argv[2], NULL, 10);
	if (argc > 3)
		gc.exporters = (uint32_t)strtoul(argv[3], NULL, 10);
	if (argc > 4)
		gc.seed = strtoull(argv[4], NULL, 10);
	if (argc > 5)
		gc.version = (uint8_t)strtoul(argv[5], NULL, 10);
	if (argc > 6)
		gc.per_packet = (uint32_t)strtoul(argv[6], NULL, 10);
	if (argc > 7)
		gc.v6_share = strtod(argv[7], NULL);
	if (gc.version == 5)
		gc.v6_share = 0;
	struct gen *g = gen_new(&gc);
	if (!g) {
		fprintf(stderr, "mkstore: gen: %s\n", strerror(errno));
		return 1;
	}
	struct st_store_cfg sc;
	st_store_cfg_default(&sc);
	sc.dir = argv[1];
	struct st_store *s = st_store_open(&sc, NULL);
	if (!s) {
		fprintf(stderr, "mkstore: %s: %s\n", argv[1], strerror(errno));
		gen_free(g);
		return 1;
	}
	uint64_t n;
	int rc = gen_fill_store(g, s, want, &n);
	st_store_close(s);
	gen_free(g);
	if (rc) {
		fprintf(stderr, "mkstore: %s: %s\n", argv[1], strerror(-rc));
		return 1;
	}
	printf("%" PRIu64 "\n", n);
	return 0;
}
