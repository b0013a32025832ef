/* craft_pcap.c — writes the crafted captures test_cli.sh decodes with the
 * real `flowdelta decode`:
 *   DIR/tcp.pcap   IPFIX over TCP to 4739, reordered/retransmitted segments
 *   DIR/frag.pcap  NetFlow v9 over UDP to 2055 in IPv4 fragments
 * and prints "tcp N" and "frag N", the record counts each must decode to. */
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>

#include "craft.h"

static void emit_dump(void *ctx, const uint8_t *f, size_t len, uint64_t ts)
{
	struct pcap_pkthdr ph;

	ph.ts.tv_sec = (time_t)(ts / 1000);
	ph.ts.tv_usec = (suseconds_t)(ts % 1000 * 1000);
	ph.caplen = ph.len = (bpf_u_int32)len;
	pcap_dump(ctx, &ph, f);
}

static pcap_dumper_t *open_dump(pcap_t *pd, const char *dir, const char *name)
{
	char path[4096];
	pcap_dumper_t *d;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	d = pcap_dump_open(pd, path);
	if (!d) {
		fprintf(stderr, "craft_pcap: %s: %s\n", path, pcap_geterr(pd));
		exit(1);
	}
	return d;
}

int main(int argc, char **argv)
{
	pcap_t *pd = pcap_open_dead(DLT_EN10MB, 65535);
	struct collect want = { 0 };
	struct gen_cfg gc;
	struct gen_pkt p;
	struct gen *g;
	pcap_dumper_t *d;
	uint8_t *stream = malloc(1 << 20), src[16], dst[16];
	size_t len;
	uint32_t id = 1, frag_recs = 0;

	if (argc != 2 || !pd || !stream) {
		fprintf(stderr, "usage: craft_pcap DIR\n");
		return 2;
	}
	gen_cfg_default(&gc);
	gc.strings = true;
	g = gen_new(&gc);
	len = craft_ipfix_stream(g, 500, stream, 1 << 20, &want);
	gen_free(g);
	addr_parse("192.0.2.10", src);
	addr_parse("203.0.113.1", dst);
	d = open_dump(pd, argv[1], "tcp.pcap");
	craft_tcp(emit_dump, d, src, dst, 40000, 4739, stream, len, gc.start_ms);
	pcap_dump_close(d);

	gen_cfg_default(&gc);
	gc.version = 9;
	gc.per_packet = 200;
	gc.flows = 600;
	g = gen_new(&gc);
	d = open_dump(pd, argv[1], "frag.pcap");
	while (gen_next(g, 0, &p) == 1) {
		craft_frags(emit_dump, d, p.src_addr, dst, p.src_port, p.dst_port, id++, p.data, p.len,
			    false, p.time_ms);
		frag_recs += p.n_recs;
	}
	pcap_dump_close(d);
	gen_free(g);

	printf("tcp %zu\nfrag %u\n", want.n, frag_recs);
	collect_free(&want);
	free(stream);
	pcap_close(pd);
	return 0;
}
