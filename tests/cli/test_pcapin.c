/* test_pcapin.c — cli/pcapin: TCP stream reassembly (reordered, duplicated
 * and overlapping segments of an IPFIX/TCP stream), IPv4 and IPv6 fragment
 * reassembly, every supported link type, and robustness on truncated and
 * mangled frames. Decoded records are compared with what was encoded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>
#include <pcap/pcap.h>

#include "collect.h"
#include "craft.h"
#include "flow/flow.h"
#include "gen/gen.h"
#include "pcapin.h"
#include "util/addr.h"
#include "util/bytes.h"

struct harness {
	struct flow_dec *dec;
	struct pcapin *pin;
	struct collect got;
	int tcp_closed;
};

struct tcp_user {
	struct flow_tcp *t;
};

static void h_udp(void *ctx, const struct pcapin_udp *u)
{
	struct harness *h = ctx;
	struct flow_src s;

	memcpy(s.addr, u->src, 16);
	s.port = u->sport;
	s.listen_port = u->dport;
	flow_dec_udp(h->dec, &s, u->data, u->len, u->ts_ms);
}

static void h_tcp(void *ctx, const struct pcapin_tcp *t)
{
	struct harness *h = ctx;
	struct flow_tcp *ft = *t->user;

	if (t->ev == PCAPIN_TCP_CLOSE) {
		flow_tcp_free(ft);
		*t->user = NULL;
		h->tcp_closed++;
		return;
	}
	if (!ft) {
		struct flow_src s;
		memcpy(s.addr, t->src, 16);
		s.port = t->sport;
		s.listen_port = t->dport;
		ft = flow_tcp_new(h->dec, &s);
		assert_non_null(ft);
		*t->user = ft;
	}
	assert_true(flow_tcp_feed(ft, t->data, t->len, t->ts_ms) >= 0);
}

static void h_init(struct harness *h)
{
	static const uint16_t ports[] = { 2055, 4739 };
	struct flow_dec_cfg dc;
	struct pcapin_cfg pc = { 0 };

	memset(h, 0, sizeof(*h));
	flow_dec_cfg_default(&dc);
	dc.sink = collect_sink;
	dc.sink_ctx = &h->got;
	h->dec = flow_dec_new(&dc);
	assert_non_null(h->dec);
	pc.ports = ports;
	pc.n_ports = 2;
	pc.udp = h_udp;
	pc.tcp = h_tcp;
	pc.ctx = h;
	h->pin = pcapin_new(&pc);
	assert_non_null(h->pin);
}

static void h_fini(struct harness *h)
{
	pcapin_free(h->pin);
	flow_dec_free(h->dec);
	collect_free(&h->got);
}

static void h_compare(const struct collect *want, const struct collect *got)
{
	char why[256];

	assert_int_equal(got->n, want->n);
	for (size_t i = 0; i < want->n; i++)
		if (gen_rec_diff(&want->r[i], want->arena, &got->r[i], got->arena, why, sizeof(why)))
			fail_msg("record %zu: %s (sent != decoded)", i, why);
}

static uint64_t ctr(const struct harness *h, enum pcapin_ctr c)
{
	return pcapin_counters(h->pin)[c];
}

static void emit_frame(void *ctx, const uint8_t *f, size_t len, uint64_t ts)
{
	struct harness *h = ctx;
	pcapin_frame(h->pin, DLT_EN10MB, f, len, len, ts);
}

static void emit_dump(void *ctx, const uint8_t *f, size_t len, uint64_t ts)
{
	struct pcap_pkthdr ph;

	ph.ts.tv_sec = (time_t)(ts / 1000);
	ph.ts.tv_usec = (suseconds_t)(ts % 1000 * 1000);
	ph.caplen = ph.len = (bpf_u_int32)len;
	pcap_dump(ctx, &ph, f);
}

/* IPFIX over TCP through a real pcap file, reordered and retransmitted. */
static void test_tcp_reassembly(void **state)
{
	struct gen_cfg gc;
	struct gen *g;
	struct collect want = { 0 };
	struct harness h;
	uint8_t *stream = malloc(1 << 20), src[16], dst[16];
	char path[] = "/tmp/fd-test-tcp-XXXXXX", err[256];
	size_t len;
	int fd = mkstemp(path);
	pcap_t *pd = pcap_open_dead(DLT_EN10MB, 65535);
	pcap_dumper_t *d;

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	gen_cfg_default(&gc);
	gc.strings = true;
	gc.exporters = 2;
	g = gen_new(&gc);
	assert_non_null(g);
	len = craft_ipfix_stream(g, 1500, stream, 1 << 20, &want);
	assert_int_equal(want.n, 1500);
	assert_true(len > 65536); /* long enough to wrap the sequence space */

	addr_parse("192.0.2.10", src);
	addr_parse("203.0.113.1", dst);
	d = pcap_dump_open(pd, path);
	assert_non_null(d);
	craft_tcp(emit_dump, d, src, dst, 40000, 4739, stream, len, gc.start_ms);
	/* a second connection over IPv6, same records again */
	addr_parse("2001:db8::10", src);
	addr_parse("2001:db8::1", dst);
	craft_tcp(emit_dump, d, src, dst, 40001, 4739, stream, len, gc.start_ms + 60000);
	pcap_dump_close(d);
	pcap_close(pd);

	h_init(&h);
	assert_int_equal(pcapin_read_file(h.pin, path, err, sizeof(err)), 0);
	pcapin_flush(h.pin);
	flow_dec_tick(h.dec, gc.start_ms + 120000);
	assert_int_equal(ctr(&h, PCAPIN_tcp_streams), 2);
	assert_int_equal(ctr(&h, PCAPIN_tcp_bytes), 2 * len);
	assert_true(ctr(&h, PCAPIN_tcp_retrans) > 0);
	assert_int_equal(ctr(&h, PCAPIN_tcp_gap), 0);
	assert_int_equal(h.tcp_closed, 2);
	assert_int_equal(h.got.n, 2 * want.n);
	/* the second connection repeats the first */
	{
		struct collect second = h.got;
		second.r += want.n;
		second.n = want.n;
		h.got.n = want.n;
		h_compare(&want, &h.got);
		h_compare(&want, &second);
		h.got.n = 2 * want.n;
	}
	h_fini(&h);
	unlink(path);
	collect_free(&want);
	gen_free(g);
	free(stream);
}

/* Big v9 / IPFIX exports fragmented, fragments out of order and duplicated. */
static void frag_case(bool v6)
{
	struct gen_cfg gc;
	struct gen *g;
	struct gen_pkt p;
	struct collect want = { 0 };
	struct harness h;
	uint8_t dst[16];
	uint32_t id = 100, npk = 0;

	gen_cfg_default(&gc);
	gc.version = v6 ? 10 : 9;
	gc.per_packet = 200;
	gc.flows = 1000;
	gc.exporters = 2;
	gc.exporter_v6 = v6;
	g = gen_new(&gc);
	assert_non_null(g);
	addr_parse(v6 ? "2001:db8::1" : "203.0.113.1", dst);
	h_init(&h);
	while (gen_next(g, 0, &p) == 1) {
		struct flow_batch b = { (struct flow_rec *)p.recs, p.n_recs, p.arena, p.arena_len };
		assert_true(p.len > 3000);
		collect_sink(&want, &b);
		craft_frags(emit_frame, &h, p.src_addr, dst, p.src_port, p.dst_port, id++, p.data,
			    p.len, npk % 2 == 0, p.time_ms);
		npk++;
	}
	pcapin_flush(h.pin);
	flow_dec_tick(h.dec, gc.start_ms + 100000);
	assert_int_equal(ctr(&h, PCAPIN_frag_reassembled), npk);
	assert_int_equal(ctr(&h, PCAPIN_frag_overlap), (npk + 1) / 2);
	assert_int_equal(ctr(&h, PCAPIN_frag_timeout), 0);
	assert_int_equal(ctr(&h, PCAPIN_udp), npk);
	h_compare(&want, &h.got);
	h_fini(&h);
	collect_free(&want);
	gen_free(g);
}

static void test_frag_v4(void **state)
{
	(void)state;
	frag_case(false);
}

static void test_frag_v6(void **state)
{
	(void)state;
	frag_case(true);
}

/* A fragment that never completes is counted, not delivered; a fragment
 * table overflow evicts the oldest. */
static void test_frag_incomplete(void **state)
{
	struct harness h;
	uint8_t src[16], dst[16], f[2000], l4[1480];

	(void)state;
	memset(l4, 0xab, sizeof(l4));
	addr_parse("192.0.2.1", src);
	addr_parse("203.0.113.1", dst);
	h_init(&h);
	for (uint32_t id = 0; id < 70; id++) {
		size_t n = gen_frame_ip_frag(f, sizeof(f), src, dst, 17, id, 0, true, l4, 1480);
		pcapin_frame(h.pin, DLT_EN10MB, f, n, n, 1000);
	}
	assert_int_equal(ctr(&h, PCAPIN_frag_table_full), 6);
	/* 30 s later every partial datagram expires */
	{
		size_t n = gen_frame_ip_frag(f, sizeof(f), src, dst, 17, 999, 0, true, l4, 1480);
		pcapin_frame(h.pin, DLT_EN10MB, f, n, n, 1000 + 31000);
	}
	assert_int_equal(ctr(&h, PCAPIN_frag_timeout), 64);
	pcapin_flush(h.pin);
	assert_int_equal(ctr(&h, PCAPIN_frag_timeout), 65);
	assert_int_equal(ctr(&h, PCAPIN_udp), 0);
	/* non-final fragment not a multiple of 8 */
	{
		size_t n = gen_frame_ip_frag(f, sizeof(f), src, dst, 17, 5, 0, true, l4, 100 + 3);
		pcapin_frame(h.pin, DLT_EN10MB, f, n, n, 40000);
	}
	assert_int_equal(ctr(&h, PCAPIN_frag_bad), 1);
	h_fini(&h);
}

/* One v5 export, wrapped in every link layer we read. */
static void test_link_types(void **state)
{
	struct gen_cfg gc;
	struct gen *g;
	struct gen_pkt p;
	struct harness h;
	uint8_t dst[16], eth[4096], fr[4096 + 64];
	size_t el, ipl;
	const uint8_t *ip;
	unsigned delivered = 0;

	(void)state;
	gen_cfg_default(&gc);
	gc.version = 5;
	gc.per_packet = 10;
	g = gen_new(&gc);
	assert_non_null(g);
	assert_int_equal(gen_next(g, 0, &p), 1);
	addr_parse("203.0.113.1", dst);
	el = gen_frame_udp(eth, sizeof(eth), p.src_addr, dst, p.src_port, p.dst_port, p.data, p.len);
	assert_true(el > 0);
	ip = eth + 14;
	ipl = el - 14;
	h_init(&h);

#define FEED(dlt, n)                                                                       \
	do {                                                                               \
		pcapin_frame(h.pin, dlt, fr, n, n, 1000);                                 \
		delivered++;                                                               \
		assert_int_equal(ctr(&h, PCAPIN_udp), delivered);                         \
	} while (0)

	memcpy(fr, eth, el);
	FEED(DLT_EN10MB, el);
	/* one 802.1Q tag */
	memcpy(fr, eth, 12);
	be16_store(fr + 12, 0x8100);
	be16_store(fr + 14, 100);
	be16_store(fr + 16, 0x0800);
	memcpy(fr + 18, ip, ipl);
	FEED(DLT_EN10MB, ipl + 18);
	/* QinQ */
	be16_store(fr + 12, 0x88a8);
	be16_store(fr + 14, 10);
	be16_store(fr + 16, 0x8100);
	be16_store(fr + 18, 20);
	be16_store(fr + 20, 0x0800);
	memcpy(fr + 22, ip, ipl);
	FEED(DLT_EN10MB, ipl + 22);
	/* three tags: refused */
	be16_store(fr + 20, 0x8100);
	be16_store(fr + 22, 30);
	be16_store(fr + 24, 0x0800);
	memcpy(fr + 26, ip, ipl);
	pcapin_frame(h.pin, DLT_EN10MB, fr, ipl + 26, ipl + 26, 1000);
	assert_int_equal(ctr(&h, PCAPIN_vlan_too_deep), 1);
	/* Linux cooked v1: protocol in the last 2 of 16 bytes */
	memset(fr, 0, 16);
	be16_store(fr + 14, 0x0800);
	memcpy(fr + 16, ip, ipl);
	FEED(DLT_LINUX_SLL, ipl + 16);
	/* Linux cooked v2: protocol first, 20 bytes */
	memset(fr, 0, 20);
	be16_store(fr, 0x0800);
	memcpy(fr + 20, ip, ipl);
	FEED(DLT_LINUX_SLL2, ipl + 20);
	/* BSD loopback, either byte order */
	le32_store(fr, 2);
	memcpy(fr + 4, ip, ipl);
	FEED(DLT_NULL, ipl + 4);
	be32_store(fr, 2);
	FEED(DLT_NULL, ipl + 4);
	FEED(DLT_LOOP, ipl + 4);
	/* raw IP */
	memcpy(fr, ip, ipl);
	FEED(DLT_RAW, ipl);
	FEED(DLT_IPV4, ipl);
	/* Ethernet padding after the IP packet is ignored */
	memcpy(fr, eth, el);
	memset(fr + el, 0, 20);
	FEED(DLT_EN10MB, el + 20);
	/* an unknown link type */
	pcapin_frame(h.pin, 9999, fr, el, el, 1000);
	assert_int_equal(ctr(&h, PCAPIN_link_unsupported), 1);
	/* wrong port */
	{
		size_t n = gen_frame_udp(fr, sizeof(fr), p.src_addr, dst, p.src_port, 9, p.data, p.len);
		pcapin_frame(h.pin, DLT_EN10MB, fr, n, n, 1000);
		assert_int_equal(ctr(&h, PCAPIN_other_port), 1);
	}
#undef FEED
	flow_dec_tick(h.dec, 2000);
	assert_int_equal(h.got.n, 10 * delivered);
	h_fini(&h);
	gen_free(g);
}

/* Truncate and mangle valid frames of every kind at every length under every
 * link type: nothing may crash or read out of bounds (run with ASan). */
static void test_malformed(void **state)
{
	static const int dlts[] = { DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_NULL, DLT_LOOP,
				    DLT_RAW, DLT_IPV4, DLT_IPV6 };
	uint8_t s4[16], d4[16], s6[16], d6[16], pl[600];
	uint8_t frames[6][2048], buf[2048];
	size_t flen[6];
	struct harness h;
	uint64_t x = 88172645463325252ULL, bad = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(pl); i++)
		pl[i] = (uint8_t)i;
	addr_parse("192.0.2.1", s4);
	addr_parse("203.0.113.1", d4);
	addr_parse("2001:db8::2", s6);
	addr_parse("2001:db8::1", d6);
	flen[0] = gen_frame_udp(frames[0], 2048, s4, d4, 1000, 2055, pl, sizeof(pl));
	flen[1] = gen_frame_udp(frames[1], 2048, s6, d6, 1000, 2055, pl, sizeof(pl));
	flen[2] = gen_frame_tcp(frames[2], 2048, s4, d4, 1000, 4739, 1, 0, GEN_TCP_ACK, pl, 300);
	flen[3] = gen_frame_tcp(frames[3], 2048, s6, d6, 1000, 4739, 1, 0, GEN_TCP_SYN, pl, 0);
	flen[4] = gen_frame_ip_frag(frames[4], 2048, s4, d4, 17, 7, 8, true, pl, 512);
	flen[5] = gen_frame_ip_frag(frames[5], 2048, s6, d6, 17, 7, 0, true, pl, 512);

	h_init(&h);
	for (int k = 0; k < 6; k++) {
		for (size_t d = 0; d < sizeof(dlts) / sizeof(dlts[0]); d++) {
			/* raw/loopback types get the frame without its Ethernet header */
			size_t skip = dlts[d] == DLT_EN10MB ? 0 : 14;
			for (size_t n = 0; n <= flen[k] - skip; n++) {
				uint8_t *c = malloc(n ? n : 1); /* exact size: ASan sees overreads */
				memcpy(c, frames[k] + skip, n);
				pcapin_frame(h.pin, dlts[d], c, n, flen[k] - skip, 5000);
				free(c);
			}
		}
	}
	/* random bit flips in the headers */
	for (int it = 0; it < 200000; it++) {
		int k = it % 6;
		uint8_t *c;
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(buf, frames[k], flen[k]);
		buf[x % 80] ^= (uint8_t)(1u << ((x >> 8) % 8));
		buf[(x >> 16) % 80] = (uint8_t)(x >> 24);
		c = malloc(flen[k]);
		memcpy(c, buf, flen[k]);
		pcapin_frame(h.pin, DLT_EN10MB, c, flen[k], flen[k], 5000 + (uint64_t)it);
		free(c);
	}
	pcapin_flush(h.pin);
	for (int i = 0; i < PCAPIN_CTR_MAX; i++)
		if (pcapin_ctr_is_drop((enum pcapin_ctr)i))
			bad += ctr(&h, (enum pcapin_ctr)i);
	assert_true(ctr(&h, PCAPIN_caplen_short) > 0);
	assert_true(bad > 1000);
	h_fini(&h);
}

static void test_bad_files(void **state)
{
	struct harness h;
	char err[256], path[] = "/tmp/fd-test-bad-XXXXXX";
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "this is not a capture file at all\n", 34), 34);
	close(fd);
	h_init(&h);
	assert_true(pcapin_read_file(h.pin, "/nonexistent/x.pcap", err, sizeof(err)) < 0);
	assert_true(strlen(err) > 0);
	assert_true(pcapin_read_file(h.pin, path, err, sizeof(err)) < 0);
	assert_true(strlen(err) > 0);
	assert_null(strchr(err, '\n'));
	h_fini(&h);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp_reassembly),
		cmocka_unit_test(test_frag_v4),
		cmocka_unit_test(test_frag_v6),
		cmocka_unit_test(test_frag_incomplete),
		cmocka_unit_test(test_link_types),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_bad_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
