/* bench_decode.c — lib/flow decode throughput, records/s on one core.
 *
 * What is measured: flow_dec_udp() over export packets of ~30 records from
 * several exporters, preloaded in memory (no I/O, no pcap parsing), into
 * canonical records handed to a sink that reads every record (so nothing
 * is optimised away and the cost of delivering records is counted). Each
 * timed iteration decodes one packet; the packets are cycled.
 *
 * Packets come from lib/gen (deterministic, seed 1), 8 exporters, 20% IPv6
 * flows, templates re-sent every 20 packets as a router would. Before timing,
 * one pass over all packets loads the templates.
 *
 * Issue targets (not CI failures, STYLE §22): >= 30 M records/s for
 * fixed-length v9/IPFIX, >= 10 M records/s with variable-length strings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "flow/flow.h"
#include "gen/gen.h"

#define EXPORTERS 8
#define PACKETS 2048   /* 8 exporters x 256: ~61 k records, ~2.5 MB of packets */
#define PER_PACKET 30

struct pkt {
	const uint8_t *data;
	uint32_t len;
	uint32_t exporter;
};

struct fixture {
	struct pkt pkts[PACKETS];
	uint32_t n;
	struct flow_src src[EXPORTERS];
	uint64_t now_ms;
	uint64_t records; /* in one pass */
	uint64_t bytes;
};

/* The sink reads every field a store or a forwarder would copy out. */
struct sink {
	uint64_t sum;
	uint64_t n;
};

static void sink_fn(void *ctx, const struct flow_batch *b)
{
	struct sink *s = ctx;
	uint64_t sum = 0;

	for (uint32_t i = 0; i < b->n; i++) {
		const struct flow_rec *r = &b->recs[i];

		sum += r->first_ms + r->last_ms + r->packets + r->bytes + r->src_port +
		       r->dst_port + r->proto + r->src_addr[15] + r->dst_addr[15] + r->in_if +
		       r->out_if + r->sampling;
		for (int k = 0; k < FLOW_STR_MAX; k++)
			if (r->str_len[k])
				sum += (uint8_t)b->arena[r->str_off[k]];
	}
	s->sum += sum;
	s->n += b->n;
}

static struct fixture *fixture_new(uint8_t version, bool strings)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct gen_cfg cfg;
	struct gen_pkt p;
	struct gen *g;

	if (!f)
		return NULL;
	gen_cfg_default(&cfg);
	cfg.version = version;
	cfg.exporters = EXPORTERS;
	cfg.per_packet = PER_PACKET;
	cfg.flows = (uint64_t)PACKETS / EXPORTERS * PER_PACKET;
	cfg.strings = strings;
	if (version == 5)
		cfg.v6_share = 0;
	g = gen_new(&cfg);
	if (!g) {
		free(f);
		return NULL;
	}
	while (f->n < PACKETS && gen_next(g, 0, &p) == 1) {
		uint8_t *copy = malloc(p.len);

		if (!copy)
			break;
		memcpy(copy, p.data, p.len);
		f->pkts[f->n].data = copy;
		f->pkts[f->n].len = (uint32_t)p.len;
		f->pkts[f->n].exporter = p.exporter % EXPORTERS;
		if (p.exporter < EXPORTERS) {
			memcpy(f->src[p.exporter].addr, p.src_addr, 16);
			f->src[p.exporter].port = p.src_port;
			f->src[p.exporter].listen_port = p.dst_port;
		}
		f->records += p.n_recs;
		f->bytes += p.len;
		/* Decode at the time of the last packet: templates stay within
		 * their lifetime and parked data never ages out. */
		f->now_ms = p.time_ms;
		f->n++;
	}
	gen_free(g);
	return f;
}

static void run(struct bench_state *st, uint8_t version, bool strings, struct fixture **fp)
{
	struct flow_dec_cfg cfg;
	struct sink sink = { 0 };
	struct flow_dec *dec;
	struct fixture *f;
	uint64_t recs = 0, bytes = 0, pkts = 0;
	uint32_t i = 0;
	char label[96];

	if (!*fp)
		*fp = fixture_new(version, strings);
	f = *fp;
	if (!f || f->n == 0) {
		bench_skip_error(st, "gen_new/gen_next failed");
		while (bench_keep_running(st))
			;
		return;
	}
	flow_dec_cfg_default(&cfg);
	cfg.sink = sink_fn;
	cfg.sink_ctx = &sink;
	dec = flow_dec_new(&cfg);
	if (!dec) {
		bench_skip_error(st, "flow_dec_new failed");
		while (bench_keep_running(st))
			;
		return;
	}
	/* Warm-up pass: templates (and samplers) known, tables sized. */
	for (uint32_t k = 0; k < f->n; k++)
		flow_dec_udp(dec, &f->src[f->pkts[k].exporter], f->pkts[k].data, f->pkts[k].len,
			     f->now_ms);

	while (bench_keep_running(st)) {
		const struct pkt *p = &f->pkts[i];

		recs += flow_dec_udp(dec, &f->src[p->exporter], p->data, p->len, f->now_ms);
		bytes += p->len;
		pkts++;
		if (++i == f->n)
			i = 0;
	}
	bench_keep(&sink);
	bench_set_items(st, recs);
	bench_set_bytes(st, bytes);
	bench_set_rate(st, "packets/s", (double)pkts);
	snprintf(label, sizeof(label), "%u pkts, %.1f recs/pkt, %.0f B/rec", f->n,
		 (double)f->records / f->n, (double)f->bytes / (double)f->records);
	bench_set_label(st, label);
	flow_dec_free(dec);
}

static struct fixture *fx_v5, *fx_v9, *fx_ipfix, *fx_ipfix_str;

BENCH(decode_v5)
{
	run(st, 5, false, &fx_v5);
}

BENCH(decode_v9_fixed)
{
	run(st, 9, false, &fx_v9);
}

BENCH(decode_ipfix_fixed)
{
	run(st, 10, false, &fx_ipfix);
}

BENCH(decode_ipfix_varlen)
{
	run(st, 10, true, &fx_ipfix_str);
}
