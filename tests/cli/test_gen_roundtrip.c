/* test_gen_roundtrip.c — lib/gen against lib/flow: every packet gen builds,
 * fed to one decoder, must give back exactly the canonical records gen says
 * it carries, field by field, with no drop counter and no sequence anomaly.
 * Also checks that gen is deterministic and honours its bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "collect.h"
#include "flow/flow.h"
#include "gen/gen.h"
#include "util/addr.h"
#include "util/bytes.h"

struct dom_check {
	uint64_t records;
	int domains;
};

static void check_domain(void *ctx, const struct flow_domain_stats *s)
{
	struct dom_check *d = ctx;

	d->records += s->records;
	d->domains++;
	assert_int_equal(s->seq_lost, 0);
	assert_int_equal(s->seq_dup, 0);
	assert_int_equal(s->seq_ooo, 0);
	for (int i = 0; i < FLOW_DROP_MAX; i++)
		if (s->drops[i])
			fail_msg("domain drop %s = %llu", flow_drop_name((enum flow_drop)i),
				 (unsigned long long)s->drops[i]);
}

/* A decoder whose records go to col. */
static struct flow_dec *collect_dec(struct collect *col)
{
	struct flow_dec_cfg dc;
	flow_dec_cfg_default(&dc);
	dc.sink = collect_sink;
	dc.sink_ctx = col;
	struct flow_dec *dec = flow_dec_new(&dc);
	assert_non_null(dec);
	return dec;
}

/* After a round trip: the decoder took exactly these records and packets,
 * dropped nothing, and saw one clean domain per exporter. */
static void check_dec(struct flow_dec *dec, uint64_t records, uint64_t packets, uint32_t exporters)
{
	struct flow_dec_stats st;
	struct dom_check dchk = { 0 };
	flow_dec_stats(dec, &st);
	assert_int_equal(st.records, records);
	assert_int_equal(st.packets, packets);
	for (int i = 0; i < FLOW_DROP_MAX; i++)
		if (st.drops[i])
			fail_msg("drop %s = %llu", flow_drop_name((enum flow_drop)i),
				 (unsigned long long)st.drops[i]);
	flow_dec_foreach_domain(dec, check_domain, &dchk);
	assert_int_equal(dchk.domains, exporters);
	assert_int_equal(dchk.records, records);
}

/* Generate packets with cfg, decode each at once and compare. */
static void roundtrip(const struct gen_cfg *cfg, uint64_t want_packets)
{
	struct collect col = { 0 };
	struct flow_dec *dec;
	struct gen *g = gen_new(cfg);
	struct gen_pkt pkt;
	uint64_t packets = 0, records = 0, v6 = 0, strs = 0, icmp = 0, big = 0;
	char why[256];

	assert_non_null(g);
	dec = collect_dec(&col);

	while (gen_next(g, 0, &pkt) == 1) {
		struct flow_src src;
		uint32_t n;

		memcpy(src.addr, pkt.src_addr, 16);
		src.port = pkt.src_port;
		src.listen_port = pkt.dst_port;
		collect_reset(&col);
		n = flow_dec_udp(dec, &src, pkt.data, pkt.len, pkt.time_ms);
		assert_int_equal(n, pkt.n_recs);
		assert_int_equal(col.n, pkt.n_recs);
		for (uint32_t i = 0; i < pkt.n_recs; i++) {
			const struct flow_rec *r = &pkt.recs[i];
			if (gen_rec_diff(r, pkt.arena, &col.r[i], col.arena, why, sizeof(why)))
				fail_msg("v%u packet %llu record %u: %s (gen != decoded)", cfg->version,
					 (unsigned long long)packets, i, why);
			v6 += !!(r->flags & FLOW_F_IP6);
			icmp += r->proto == FLOW_PROTO_ICMP || r->proto == FLOW_PROTO_ICMP6;
			big += r->bytes > UINT32_MAX;
			for (int s = 0; s < FLOW_STR_MAX; s++)
				strs += r->str_len[s] > 0;
		}
		packets++;
		records += pkt.n_recs;
	}
	if (want_packets)
		assert_int_equal(packets, want_packets);
	assert_int_equal(records, cfg->flows * cfg->exporters);

	check_dec(dec, records, packets, cfg->exporters);

	/* the mix is what it claims to be */
	if (cfg->version == 5 || cfg->v6_share == 0)
		assert_int_equal(v6, 0);
	else if (cfg->v6_share == 1.0)
		assert_int_equal(v6, records);
	else
		assert_true(v6 > records / 10 && v6 < records / 3);
	assert_true(icmp > 0);
	if (cfg->strings)
		assert_true(strs > records / 2);
	else
		assert_int_equal(strs, 0);
	if (cfg->version != 10)
		assert_int_equal(big, 0);

	flow_dec_free(dec);
	gen_free(g);
	collect_free(&col);
}

static void test_v5(void **state)
{
	struct gen_cfg c;

	(void)state;
	gen_cfg_default(&c);
	c.version = 5;
	c.exporters = 5;
	c.flows = 3001; /* 100 full packets + one of 1 record per exporter */
	roundtrip(&c, 5 * 101);
}

static void test_v9(void **state)
{
	struct gen_cfg c;

	(void)state;
	gen_cfg_default(&c);
	c.version = 9;
	c.exporters = 4;
	c.flows = 5000;
	c.per_packet = 24;
	c.tmpl_refresh = 7;
	roundtrip(&c, 4 * 209);
}

static void test_ipfix(void **state)
{
	struct gen_cfg c;

	(void)state;
	gen_cfg_default(&c);
	c.exporters = 3;
	c.flows = 20000; /* enough for the rare >4 GiB elephant */
	c.seed = 42;
	roundtrip(&c, 3 * 667);
}

static void test_ipv6(void **state)
{
	struct gen_cfg c;

	(void)state;
	gen_cfg_default(&c);
	c.version = 9;
	c.exporters = 2;
	c.flows = 2000;
	c.v6_share = 1.0;
	c.exporter_v6 = true;
	roundtrip(&c, 0);
	c.version = 10;
	roundtrip(&c, 0);
}

static void test_strings(void **state)
{
	struct gen_cfg c;

	(void)state;
	gen_cfg_default(&c);
	c.exporters = 3;
	c.flows = 6000;
	c.strings = true;
	c.per_packet = 200; /* big messages with variable-length fields */
	roundtrip(&c, 3 * 30);
}

static void test_many_exporters(void **state)
{
	struct gen_cfg c;
	uint8_t a[16];
	char s[ADDR_STRLEN];

	(void)state;
	gen_cfg_default(&c);
	c.exporters = 300; /* past the 254 of 192.0.2.0/24 */
	c.flows = 40;
	roundtrip(&c, 600);
	gen_exporter_addr(&c, 0, a);
	assert_string_equal(addr_format(a, true, s, sizeof(s)), "192.0.2.1");
	gen_exporter_addr(&c, 254, a);
	assert_string_equal(addr_format(a, true, s, sizeof(s)), "198.18.0.2");
	c.exporter_v6 = true;
	gen_exporter_addr(&c, 4, a);
	assert_string_equal(addr_format(a, false, s, sizeof(s)), "2001:db8::e:5");
}

/* Same config, same bytes; another seed, other bytes. */
static void test_deterministic(void **state)
{
	struct gen_cfg c;
	struct gen *a, *b;
	struct gen_pkt pa, pb;
	int diff = 0;

	(void)state;
	gen_cfg_default(&c);
	c.version = 9;
	c.exporters = 2;
	c.flows = 600;
	a = gen_new(&c);
	b = gen_new(&c);
	assert_non_null(a);
	assert_non_null(b);
	while (gen_next(a, 0, &pa) == 1) {
		assert_int_equal(gen_next(b, 0, &pb), 1);
		assert_int_equal(pa.len, pb.len);
		assert_memory_equal(pa.data, pb.data, pa.len);
		assert_int_equal(pa.time_ms, pb.time_ms);
	}
	assert_int_equal(gen_next(b, 0, &pb), 0);
	gen_free(b);
	c.seed = 2;
	b = gen_new(&c);
	gen_free(a);
	a = gen_new(&c);
	c.seed = 1;
	gen_free(a);
	a = gen_new(&c);
	assert_int_equal(gen_next(a, 0, &pa), 1);
	{
		uint8_t first[GEN_PKT_CAP];
		size_t n = pa.len;
		memcpy(first, pa.data, n);
		assert_int_equal(gen_next(b, 0, &pb), 1);
		diff = n != pb.len || memcmp(first, pb.data, n);
	}
	assert_true(diff);
	gen_free(a);
	gen_free(b);
}

static void test_bounds(void **state)
{
	struct gen_cfg c;
	struct gen *g;
	struct gen_pkt p;
	struct gen_stats st;

	(void)state;
	gen_cfg_default(&c);
	c.version = 5;
	c.per_packet = 31;
	assert_null(gen_new(&c));
	c.per_packet = 30;
	c.strings = true;
	assert_null(gen_new(&c));
	c.strings = false;
	c.exporters = 0;
	assert_null(gen_new(&c));
	c.exporters = 1;
	c.version = 8;
	assert_null(gen_new(&c));

	/* max_recs stops at an exact record count; sequence keeps counting */
	c.version = 10;
	c.flows = 0; /* endless */
	g = gen_new(&c);
	assert_non_null(g);
	assert_int_equal(gen_next(g, 7, &p), 1);
	assert_int_equal(p.n_recs, 7);
	assert_true(p.n_templates > 0);
	assert_int_equal(gen_next(g, 0, &p), 1);
	assert_int_equal(p.n_recs, 30);
	assert_int_equal(p.n_templates, 0);
	assert_int_equal(be32_load(p.data + 8), 7); /* IPFIX: records before */
	gen_stats(g, &st);
	assert_int_equal(st.packets, 2);
	assert_int_equal(st.records, 37);
	gen_free(g);
}

/* Pool mode: rounds of the same packets, shifted in time, with sequence
 * numbers that keep counting, decode to exactly what gen_pool_expect() says
 * (round 0: what gen_next() made), and a cut packet stops at an exact
 * record count. */
static void pool_roundtrip(const struct gen_cfg *cfg, uint32_t per_exporter, uint64_t total)
{
	struct collect col = { 0 };
	struct flow_dec *dec;
	struct gen_pool *p = gen_pool_new(cfg, per_exporter, true);
	struct gen *g = gen_new(cfg);
	struct flow_rec want[GEN_MAX_PER_PACKET];
	struct gen_pool_pkt pk;
	struct gen_pkt gp;
	uint64_t records = 0, packets = 0, rounds = 0;
	char why[256];

	assert_non_null(p);
	assert_non_null(g);
	assert_int_equal(gen_pool_size(p), cfg->exporters * per_exporter);
	assert_int_equal(gen_pool_shift_ms(p) % 1000, 0);
	assert_true(gen_pool_shift_ms(p) >= (uint64_t)per_exporter * cfg->interval_ms);
	dec = collect_dec(&col);

	while (records < total) {
		struct flow_src src;
		const char *arena;
		uint64_t left = total - records;

		gen_pool_next(p, left < GEN_MAX_PER_PACKET ? (uint32_t)left : 0, &pk);
		if (pk.round == 0) { /* round 0 is gen's own output, byte for byte */
			assert_int_equal(gen_next(g, 0, &gp), 1);
			if (pk.n_recs == gp.n_recs) {
				assert_int_equal(pk.len, gp.len);
				assert_memory_equal(pk.data, gp.data, pk.len);
			}
			assert_int_equal(pk.exporter, gp.exporter);
			assert_int_equal(pk.time_ms, gp.time_ms);
		}
		rounds = pk.round;
		gen_exporter_addr(cfg, pk.exporter, src.addr);
		src.port = pk.src_port;
		src.listen_port = cfg->dst_port;
		collect_reset(&col);
		assert_int_equal(flow_dec_udp(dec, &src, pk.data, pk.len, pk.time_ms), pk.n_recs);
		assert_int_equal(col.n, pk.n_recs);
		gen_pool_expect(p, &pk, want, &arena);
		for (uint32_t i = 0; i < pk.n_recs; i++)
			if (gen_rec_diff(&want[i], arena, &col.r[i], col.arena, why, sizeof(why)))
				fail_msg("v%u pool round %llu slot %u record %u: %s", cfg->version,
					 (unsigned long long)pk.round, pk.slot, i, why);
		records += pk.n_recs;
		packets++;
	}
	assert_int_equal(records, total);
	assert_true(rounds >= 2);
	check_dec(dec, total, packets, cfg->exporters);
	flow_dec_free(dec);
	gen_pool_free(p);
	gen_free(g);
	collect_free(&col);
}

static void test_pool(void **state)
{
	struct gen_cfg c;

	(void)state;
	gen_cfg_default(&c);
	c.exporters = 3;
	c.tmpl_refresh = 4;
	c.per_packet = 30;
	pool_roundtrip(&c, 6, 3 * 6 * 30 * 3 + 17);  /* IPFIX, cut in the v4 set or after */
	c.strings = true;
	c.v6_share = 0.5;
	c.interval_ms = 1500;
	pool_roundtrip(&c, 5, 3 * 5 * 30 * 2 + 29);
	c.strings = false;
	c.version = 9;
	c.interval_ms = 0;
	c.per_packet = 7;
	pool_roundtrip(&c, 4, 3 * 4 * 7 * 5 + 5);
	c.version = 5;
	c.per_packet = 30;
	c.interval_ms = 100;
	pool_roundtrip(&c, 3, 3 * 3 * 30 * 4 + 1);
	/* cut inside the second (IPv6) set */
	gen_cfg_default(&c);
	c.v6_share = 0.5;
	c.per_packet = 40;
	pool_roundtrip(&c, 2, 40 * 2 * 2 + 35);
	c.version = 9;
	pool_roundtrip(&c, 2, 40 * 2 * 2 + 35);

	/* a pool needs flows to repeat */
	gen_cfg_default(&c);
	c.flows = 50;
	assert_null(gen_pool_new(&c, 4, false));
	c.flows = 0;
	assert_null(gen_pool_new(&c, 0, false));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v5),
		cmocka_unit_test(test_v9),
		cmocka_unit_test(test_ipfix),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_many_exporters),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_pool),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
