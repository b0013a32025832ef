/* fuzz_flow.h — shared harness of the lib/flow fuzz targets.
 *
 * Reproducibility: a decoder keeps template, sampler and parked-data state
 * between datagrams, so one input is a whole session, decoded by a fresh
 * decoder: the same input always takes the same path, whatever ran before
 * it (libFuzzer, the replay driver, a crash reproducer).
 *
 * UDP input format (fuzz_v5, fuzz_v9, fuzz_ipfix):
 *   byte 0        session flags: FZ_TIGHT (tiny limits: tables, park buffer
 *                 and batches overflow early), FZ_OVERRIDE (a sampling
 *                 override for exporter 0)
 *   then datagrams, each [ctl:1][len:2, big-endian][len bytes]; the last
 *   one takes whatever remains when fewer than len bytes are left.
 *   ctl bits 0-1  exporter (two IPv4, two IPv6 addresses)
 *   ctl bit 2     overwrite the version field with the target's version
 *   ctl bit 3     IPFIX: overwrite the message length with the datagram's
 *   ctl bits 4-7  seconds to advance the clock before this datagram (the
 *                 harness's template lifetime is 4 s, parked data 2 s)
 * tests/fuzz/make-seeds.py writes seeds in this format.
 *
 * The sink checks invariants the decoder promises (flow.h, record.h) and
 * aborts when one breaks, so libFuzzer reports it like a crash.
 */
#ifndef FUZZ_FLOW_H
#define FUZZ_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow/flow.h"
#include "util/addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_TIGHT 0x01
#define FZ_OVERRIDE 0x02

#define FZ_CHECK(cond)                                                              \
	do {                                                                        \
		if (!(cond)) {                                                      \
			fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__,  \
				__LINE__, #cond);                                   \
			abort();                                                    \
		}                                                                   \
	} while (0)

#define FZ_LISTEN_PORT 4739

struct fz_sink {
	uint64_t records;    /* delivered to the sink */
	uint64_t checksum;   /* every field and string byte folds in here */
	uint32_t batch_size; /* configured: a batch never exceeds it */
};

static inline void fz_sink_fn(void *ctx, const struct flow_batch *b)
{
	struct fz_sink *s = ctx;

	FZ_CHECK(b->n > 0 && b->n <= s->batch_size);
	for (uint32_t i = 0; i < b->n; i++) {
		const struct flow_rec *r = &b->recs[i];

		FZ_CHECK(r->version == 5 || r->version == 9 || r->version == 10);
		FZ_CHECK(r->sampling >= 1);
		s->checksum += r->first_ms ^ r->last_ms ^ r->packets ^ r->bytes ^ r->rev_bytes ^
			       r->rev_packets ^ r->src_port ^ ((uint64_t)r->dst_port << 16) ^
			       r->proto ^ r->in_if ^ r->out_if ^ r->src_as ^ r->dst_as ^ r->vlan ^
			       r->tcp_flags ^ r->tos ^ r->src_addr[15] ^ r->dst_addr[15];
		for (int k = 0; k < FLOW_STR_MAX; k++) {
			if (!r->str_len[k])
				continue;
			FZ_CHECK(r->str_len[k] <= FLOW_STR_CAP);
			FZ_CHECK((uint64_t)r->str_off[k] + r->str_len[k] <= b->arena_len);
			/* Read every byte so ASan sees an arena overrun. */
			for (uint32_t j = 0; j < r->str_len[k]; j++)
				s->checksum += (uint8_t)b->arena[r->str_off[k] + j];
		}
	}
	s->records += b->n;
}

static inline void fz_cfg(struct flow_dec_cfg *cfg, struct fz_sink *s, bool tight)
{
	flow_dec_cfg_default(cfg);
	cfg->sink = fz_sink_fn;
	cfg->sink_ctx = s;
	cfg->tmpl_lifetime_s = 4;
	cfg->park_max_age_s = 2;
	if (tight) {
		cfg->batch_size = 1;
		cfg->max_domains = 2;
		cfg->max_templates = 4;
		cfg->max_tmpl_fields = 8;
		cfg->max_samplers = 2;
		cfg->park_bytes = 256;
	} else {
		/* Odd batch size: flushes land mid-set. Small tables keep each
		 * input cheap while real captures still fit. */
		cfg->batch_size = 7;
		cfg->max_domains = 16;
		cfg->max_templates = 64;
		cfg->max_tmpl_fields = 128;
		cfg->max_samplers = 8;
		cfg->park_bytes = 8192;
	}
	s->batch_size = cfg->batch_size;
}

static inline void fz_src(struct flow_src *src, unsigned idx)
{
	static const uint8_t v4a[4] = { 192, 0, 2, 1 }, v4b[4] = { 198, 51, 100, 7 };

	memset(src, 0, sizeof(*src));
	switch (idx & 3) {
	case 0: addr_set_v4(src->addr, v4a); break;
	case 1: addr_set_v4(src->addr, v4b); break;
	case 2: src->addr[0] = 0x20; src->addr[1] = 0x01; src->addr[2] = 0x0d;
		src->addr[3] = 0xb8; src->addr[15] = 1; break;
	default: src->addr[0] = 0x20; src->addr[1] = 0x01; src->addr[2] = 0x0d;
		src->addr[3] = 0xb8; src->addr[15] = 2; break;
	}
	src->port = (uint16_t)(40000 + idx);
	src->listen_port = FZ_LISTEN_PORT;
}

static inline void fz_stats_cb(void *ctx, const struct flow_domain_stats *st)
{
	uint64_t *n = ctx;

	*n += st->records;
}

/* Cross-check the decoder's own counters with what the sink saw. */
static inline void fz_check_totals(struct flow_dec *dec, const struct fz_sink *s, uint64_t returned)
{
	struct flow_dec_stats st;
	uint64_t dom_records = 0;

	flow_dec_stats(dec, &st);
	flow_dec_foreach_domain(dec, fz_stats_cb, &dom_records);
	FZ_CHECK(returned == s->records);
	FZ_CHECK(st.records == s->records);
	FZ_CHECK(dom_records == s->records);
}

/* Run one UDP session (format above) through a fresh decoder; version is
 * what ctl bit 2 writes into the header. */
static inline int fz_run_udp(const uint8_t *data, size_t size, uint16_t version)
{
	struct flow_dec_cfg cfg;
	struct fz_sink sink = { 0 };
	struct flow_dec *dec;
	uint8_t *dgram;
	uint64_t now_ms = 1700000000000ULL, returned = 0;
	size_t off = 1;

	if (size < 1)
		return 0;
	fz_cfg(&cfg, &sink, data[0] & FZ_TIGHT);
	dec = flow_dec_new(&cfg);
	FZ_CHECK(dec != NULL);
	if (data[0] & FZ_OVERRIDE) {
		struct flow_src s0;

		fz_src(&s0, 0);
		FZ_CHECK(flow_dec_set_sampling_override(dec, s0.addr, 100) == 0);
	}
	/* One exact-size copy per datagram, so reading past its end is an
	 * ASan report, not a read into the next datagram. */
	dgram = NULL;
	while (off + 3 <= size) {
		uint8_t ctl = data[off];
		size_t len = ((size_t)data[off + 1] << 8) | data[off + 2];
		struct flow_src src;

		off += 3;
		if (len > size - off)
			len = size - off;
		free(dgram);
		dgram = malloc(len ? len : 1);
		FZ_CHECK(dgram != NULL);
		memcpy(dgram, data + off, len);
		off += len;
		if ((ctl & 0x04) && len >= 2) {
			dgram[0] = (uint8_t)(version >> 8);
			dgram[1] = (uint8_t)version;
		}
		if ((ctl & 0x08) && len >= 4 && version == 10) {
			dgram[2] = (uint8_t)(len >> 8);
			dgram[3] = (uint8_t)len;
		}
		now_ms += (uint64_t)(ctl >> 4) * 1000;
		fz_src(&src, ctl & 3);
		returned += flow_dec_udp(dec, &src, dgram, len, now_ms);
	}
	free(dgram);
	flow_dec_tick(dec, now_ms + 3600 * 1000);
	fz_check_totals(dec, &sink, returned);
	flow_dec_free(dec);
	return 0;
}

#endif
