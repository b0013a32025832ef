/* fuzz_pcapin.c — libFuzzer target for cli/pcapin (STYLE §19): link layers,
 * IP, fragment and TCP reassembly, and the decoder behind them.
 *
 * Input: 1 byte choosing the link type, then frames, each a 2-byte
 * big-endian length followed by that many bytes (a short last frame is cut).
 * Several frames per input let fragments and TCP segments meet. Each frame is
 * copied to a buffer of its exact size so ASan sees any overread. Small
 * limits make eviction paths reachable.
 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flow/flow.h"
#include "pcapin.h"
#include "util/bytes.h"

static const int dlts[] = { DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_NULL,
			    DLT_LOOP,   DLT_RAW,       DLT_IPV4,       DLT_IPV6 };

static void sink(void *ctx, const struct flow_batch *b)
{
	(void)ctx;
	(void)b;
}

static void on_udp(void *ctx, const struct pcapin_udp *u)
{
	struct flow_src s;

	memcpy(s.addr, u->src, 16);
	s.port = u->sport;
	s.listen_port = u->dport;
	flow_dec_udp(ctx, &s, u->data, u->len, u->ts_ms);
}

static void on_tcp(void *ctx, const struct pcapin_tcp *t)
{
	struct flow_tcp *ft = *t->user;

	if (t->ev == PCAPIN_TCP_CLOSE) {
		flow_tcp_free(ft);
		*t->user = NULL;
		return;
	}
	if (!ft) {
		struct flow_src s;
		memcpy(s.addr, t->src, 16);
		s.port = t->sport;
		s.listen_port = t->dport;
		ft = flow_tcp_new(ctx, &s);
		if (!ft)
			return;
		*t->user = ft;
	}
	flow_tcp_feed(ft, t->data, t->len, t->ts_ms);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct flow_dec_cfg dc;
	struct pcapin_cfg pc = { 0 };
	struct flow_dec *dec;
	struct pcapin *p;
	int dlt;
	uint64_t ts = 1000;

	if (size < 1)
		return 0;
	dlt = dlts[data[0] % (sizeof(dlts) / sizeof(dlts[0]))];
	data++;
	size--;
	flow_dec_cfg_default(&dc);
	dc.sink = sink;
	dec = flow_dec_new(&dc);
	if (!dec)
		abort();
	pc.n_ports = 0; /* every port: reach the decoders with any header */
	pc.udp = on_udp;
	pc.tcp = on_tcp;
	pc.ctx = dec;
	pc.max_frags = 4;
	pc.max_streams = 4;
	pc.max_ooo_bytes = 4096;
	p = pcapin_new(&pc);
	if (!p)
		abort();
	while (size >= 2) {
		size_t n = be16_load(data);
		uint8_t *f;
		data += 2;
		size -= 2;
		if (n > size)
			n = size;
		f = malloc(n ? n : 1);
		if (!f)
			abort();
		memcpy(f, data, n);
		pcapin_frame(p, dlt, f, n, n, ts);
		ts += 1000;
		free(f);
		data += n;
		size -= n;
	}
	pcapin_flush(p);
	pcapin_free(p);
	flow_dec_free(dec);
	return 0;
}
