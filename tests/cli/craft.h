/* craft.h — crafted capture content for the pcapin and CLI tests: an IPFIX
 * byte stream over TCP with reordered and retransmitted segments, and UDP
 * exports split into IP fragments. Frames go to an emit callback (a pcap
 * dumper, or pcapin_frame directly). */
#ifndef TESTS_CLI_CRAFT_H
#define TESTS_CLI_CRAFT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collect.h"
#include "flow/encode.h"
#include "gen/gen.h"
#include "util/addr.h"

typedef void (*craft_emit_fn)(void *ctx, const uint8_t *frame, size_t len, uint64_t ts_ms);

/* Records of gen (up to max_recs) re-encoded as canonical IPFIX messages of
 * at most 1400 bytes, appended to out. The records land in expect. Returns
 * the stream length. */
static inline size_t craft_ipfix_stream(struct gen *g, uint32_t max_recs, uint8_t *out,
					size_t cap, struct collect *expect)
{
	struct gen_pkt p;
	struct flow_enc e;
	size_t len = 0;
	uint32_t seq = 0, done = 0;
	bool open = false, first = true;

	while (done < max_recs && gen_next(g, max_recs - done, &p) == 1) {
		struct flow_batch b = { (struct flow_rec *)p.recs, p.n_recs, p.arena, p.arena_len };
		collect_sink(expect, &b);
		for (uint32_t i = 0; i < p.n_recs; i++) {
			if (!open) {
				if (cap - len < 1400)
					abort();
				flow_enc_begin(&e, out + len, 1400, 0, (uint32_t)(p.time_ms / 1000), seq);
				if (first)
					flow_enc_templates(&e);
				first = false;
				open = true;
			}
			if (flow_enc_add(&e, &p.recs[i], p.arena) != 0) {
				len += flow_enc_finish(&e);
				seq += e.records;
				open = false;
				i--; /* again, into a new message */
			}
		}
		done += p.n_recs;
	}
	if (open) {
		len += flow_enc_finish(&e);
	}
	return len;
}

/* One TCP connection src:sport → dst:dport carrying stream[0..len): SYN,
 * segments of varying size with every 5th pair swapped, every 7th segment
 * sent twice, every 11th re-sent as a wider overlapping segment, collector
 * ACKs in between, then FIN. */
static inline void craft_tcp(craft_emit_fn emit, void *ctx, const uint8_t src[16],
			     const uint8_t dst[16], uint16_t sport, uint16_t dport,
			     const uint8_t *stream, size_t len, uint64_t ts)
{
	static const size_t sizes[] = { 1, 7, 100, 536, 1460, 3, 999, 1200 };
	uint8_t *f = malloc(GEN_FRAME_CAP);
	size_t offs[4096], lens[4096], n = 0, fl;
	const uint32_t isn = 0xfffff000u; /* wraps within the test */

	if (!f)
		abort();
	for (size_t off = 0; off < len && n < 4096; n++) {
		size_t l = sizes[n % (sizeof(sizes) / sizeof(sizes[0]))];
		if (l > len - off)
			l = len - off;
		offs[n] = off;
		lens[n] = l;
		off += l;
	}
	fl = gen_frame_tcp(f, GEN_FRAME_CAP, src, dst, sport, dport, isn, 0, GEN_TCP_SYN, NULL, 0);
	emit(ctx, f, fl, ts++);
	fl = gen_frame_tcp(f, GEN_FRAME_CAP, dst, src, dport, sport, 77, isn + 1,
			   GEN_TCP_SYN | GEN_TCP_ACK, NULL, 0);
	emit(ctx, f, fl, ts++);
	for (size_t i = 0; i < n; i++) {
		size_t k = i;
		if (i % 5 == 3 && i + 1 < n)
			k = i + 1; /* swap i and i+1 */
		else if (i % 5 == 4 && i >= 1)
			k = i - 1;
		fl = gen_frame_tcp(f, GEN_FRAME_CAP, src, dst, sport, dport,
				   isn + 1 + (uint32_t)offs[k], 78, GEN_TCP_ACK | GEN_TCP_PSH,
				   stream + offs[k], lens[k]);
		emit(ctx, f, fl, ts++);
		if (k % 7 == 0) /* exact retransmission */
			emit(ctx, f, fl, ts++);
		if (k % 11 == 0 && offs[k] >= 5 && offs[k] + lens[k] + 5 <= len) {
			/* overlapping re-send: 5 old bytes before, 5 new after */
			fl = gen_frame_tcp(f, GEN_FRAME_CAP, src, dst, sport, dport,
					   isn + 1 + (uint32_t)offs[k] - 5, 78, GEN_TCP_ACK,
					   stream + offs[k] - 5, lens[k] + 10);
			emit(ctx, f, fl, ts++);
		}
		if (i % 3 == 0) {
			fl = gen_frame_tcp(f, GEN_FRAME_CAP, dst, src, dport, sport, 78,
					   isn + 1 + (uint32_t)offs[k], GEN_TCP_ACK, NULL, 0);
			emit(ctx, f, fl, ts++);
		}
	}
	fl = gen_frame_tcp(f, GEN_FRAME_CAP, src, dst, sport, dport, isn + 1 + (uint32_t)len, 78,
			   GEN_TCP_FIN | GEN_TCP_ACK, NULL, 0);
	emit(ctx, f, fl, ts++);
	free(f);
}

/* The UDP datagram sport → dport with payload, as IP fragments of at most
 * 1480 bytes, sent last-first; dup_first repeats the first fragment sent. */
static inline void craft_frags(craft_emit_fn emit, void *ctx, const uint8_t src[16],
			       const uint8_t dst[16], uint16_t sport, uint16_t dport, uint32_t id,
			       const uint8_t *payload, size_t plen, bool dup_first, uint64_t ts)
{
	uint8_t *u = malloc(65536), *f = malloc(GEN_FRAME_CAP);
	size_t ul, nfr, fl;

	if (!u || !f)
		abort();
	ul = gen_udp_build(u, 65536, src, dst, sport, dport, payload, plen);
	if (!ul)
		abort();
	nfr = (ul + 1479) / 1480;
	for (size_t k = nfr; k-- > 0;) {
		size_t off = k * 1480, l = ul - off < 1480 ? ul - off : 1480;
		fl = gen_frame_ip_frag(f, GEN_FRAME_CAP, src, dst, 17, id, (uint32_t)off,
				       k + 1 < nfr, u + off, l);
		if (!fl)
			abort();
		emit(ctx, f, fl, ts);
		if (dup_first && k + 1 == nfr)
			emit(ctx, f, fl, ts);
	}
	free(u);
	free(f);
}

#endif
