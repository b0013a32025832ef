/* test_codec.c — unit tests of lib/flow: every decoder path, the encoder
 * round trip, and the hostile-input counters. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flow/encode.h"
#include "flow/flow.h"
#include "pktbuild.h"
#include "util/addr.h"

/* ---- harness ------------------------------------------------------------ */

#define MAXREC 4096
static struct flow_rec got[MAXREC];
static char got_str[MAXREC][FLOW_STR_MAX][FLOW_STR_CAP + 1];
static unsigned ngot;
static unsigned nbatches;

static void sink(void *ctx, const struct flow_batch *b)
{
	(void)ctx;
	nbatches++;
	for (uint32_t i = 0; i < b->n && ngot < MAXREC; i++, ngot++) {
		got[ngot] = b->recs[i];
		for (int k = 0; k < FLOW_STR_MAX; k++) {
			memcpy(got_str[ngot][k], b->arena + b->recs[i].str_off[k], b->recs[i].str_len[k]);
			got_str[ngot][k][b->recs[i].str_len[k]] = '\0';
		}
	}
}

static struct flow_dec *mkdec(void)
{
	struct flow_dec_cfg cfg;
	flow_dec_cfg_default(&cfg);
	cfg.sink = sink;
	ngot = 0;
	nbatches = 0;
	struct flow_dec *d = flow_dec_new(&cfg);
	assert_non_null(d);
	return d;
}

static struct flow_src mksrc(const char *addr, uint16_t listen)
{
	struct flow_src s;
	memset(&s, 0, sizeof(s));
	assert_int_equal(addr_parse(addr, s.addr), 0);
	s.port = 40000;
	s.listen_port = listen;
	return s;
}

static uint64_t drops(struct flow_dec *d, enum flow_drop w)
{
	struct flow_dec_stats st;
	flow_dec_stats(d, &st);
	return st.drops[w];
}

static uint64_t total_drops(struct flow_dec *d)
{
	struct flow_dec_stats st;
	uint64_t n = 0;
	flow_dec_stats(d, &st);
	for (int i = 0; i < FLOW_DROP_MAX; i++)
		n += st.drops[i];
	return n;
}

static const struct flow_domain_stats *dom_of;
static struct flow_domain_stats dom_copy[16];
static unsigned ndom;
static void dom_cb(void *ctx, const struct flow_domain_stats *s)
{
	(void)ctx;
	if (ndom < 16)
		dom_copy[ndom++] = *s;
}
static const struct flow_domain_stats *domain(struct flow_dec *d, unsigned i)
{
	ndom = 0;
	flow_dec_foreach_domain(d, dom_cb, NULL);
	assert_true(i < ndom);
	dom_of = &dom_copy[i];
	return dom_of;
}

static void assert_addr(const uint8_t a[16], const char *s)
{
	uint8_t b[16];
	char t[ADDR_STRLEN];
	assert_int_equal(addr_parse(s, b), 0);
	if (memcmp(a, b, 16)) {
		print_error("address %s != expected %s\n", addr_format(a, false, t, sizeof(t)), s);
		fail();
	}
}

static struct pb P;

/* ---- NetFlow v5 --------------------------------------------------------- */

static void v5_packet(struct pb *p, uint16_t count, uint16_t nrecs, uint32_t seq, uint16_t sampling,
		      uint32_t uptime)
{
	pb_reset(p);
	pb_u16(p, 5);
	pb_u16(p, count);
	pb_u32(p, uptime);
	pb_u32(p, 1700000000); /* unix secs */
	pb_u32(p, 500000000);  /* nsecs: +500 ms */
	pb_u32(p, seq);
	pb_u8(p, 1); /* engine type */
	pb_u8(p, 2); /* engine id */
	pb_u16(p, sampling);
	for (uint16_t i = 0; i < nrecs; i++) {
		pb_ip4(p, 10, 0, 0, (uint8_t)(i + 1));
		pb_ip4(p, 192, 0, 2, 9);
		pb_ip4(p, 10, 255, 0, 1);
		pb_u16(p, 3);    /* input */
		pb_u16(p, 4);    /* output */
		pb_u32(p, 10);   /* packets */
		pb_u32(p, 1500); /* bytes */
		pb_u32(p, uptime - 2000);
		pb_u32(p, uptime - 1000);
		pb_u16(p, i == 1 ? 0 : 1234);
		pb_u16(p, i == 1 ? 0x0303 : 443);
		pb_u8(p, 0);
		pb_u8(p, 0x1b);
		pb_u8(p, i == 1 ? 1 : 6);
		pb_u8(p, 0x10);
		pb_u16(p, 64500);
		pb_u16(p, 64501);
		pb_u8(p, 24);
		pb_u8(p, 16);
		pb_u16(p, 0);
	}
}

static void test_v5_basic(void **state)
{
	(void)state;
	struct flow_dec *d = mkdec();
	struct flow_src s = mksrc("198.51.100.1", 2055);

	v5_packet(&P, 3, 3, 100, 0x4000 | 100, 50000);
	assert_int_equal(flow_dec_udp(d, &s, P.b, P.n, 0), 3);
	assert_int_equal(ngot, 3);
	struct flow_rec *r = &got[0];
	assert_addr(r->src_addr, "10.0.0.1");
	assert_addr(r->dst_addr, "192.0.2.9");
	assert_addr(r->next_hop, "10.255.0.1");
	assert_addr(r->exporter, "198.51.100.1");
	assert_int_equal(r->in_if, 3);
	assert_int_equal(r->out_if, 4);
	assert_int_equal(r->packets, 10);
	assert_int_equal(r->bytes, 1500);
	assert_int_equal(r->first_ms, 1700000000500ULL - 2000);
	assert_int_equal(r->last_ms, 1700000000500ULL - 1000);
	assert_int_equal(r->src_port, 1234);
	assert_int_equal(r->dst_port, 443);
	assert_int_equal(r->tcp_flags, 0x1b);
	assert_int_equal(r->proto, 6);
	assert_int_equal(r->tos, 0x10);
	assert_int_equal(r->src_as, 64500);
	assert_int_equal(r->dst_as, 64501);
	assert_int_equal(r->src_mask, 24);
	assert_int_equal(r->dst_mask, 16);
	assert_int_equal(r->odid, 0x0102);
	assert_int_equal(r->sampling, 100);
	assert_int_equal(r->exp_port, 2055);
	assert_int_equal(r->version, 5);
	assert_int_equal(r->flags, 0);
	/* ICMP: type/code in dst port, src port 0 */
	assert_int_equal(got[1].proto, 1);
	assert_int_equal(got[1].src_port, 0);
	assert_int_equal(got[1].dst_port, 0x0303);
	assert_int_equal(total_drops(d), 0);
	flow_dec_free(d);
}

static void test_v5_bad_counts(void **state)
{
	(void)state;
	struct flow_dec *d = mkdec();
	struct flow_src s = mksrc("198.51.100.1", 2055);

	v5_packet(&P, 0, 1, 0, 0, 1000);
	assert_int_equal(flow_dec_udp(d, &s, P.b, P.n, 0), 0);
	v5_packet(&P, 31, 31, 0, 0, 1000);
	assert_int_equal(flow_dec_udp(d, &s, P.b, P.n, 0), 0);
	/* count says 5, only 2 records present: keep the 2, count the lie */
	v5_packet(&P, 5, 2, 0, 0, 1000);
	assert_int_equal(flow_dec_udp(d, &s, P.b, P.n, 0), 2);
	assert_int_equal(drops(d, FLOW_DROP_v5_bad_count), 3);
	/* shorter than a header */
	assert_int_equal(flow_dec_udp(d, &s, P.b, 10, 0), 0);
	assert_int_equal(drops(d, FLOW_DROP_short_header), 1);
	/* unknown version */
	P.b[1] = 7;
	assert_int_equal(flow_dec_udp(d, &s, P.b, P.n, 0), 0);
	assert_int_equal(drops(d, FLOW_DROP_bad_version), 1);
	flow_dec_free(d);
}

/* v5 first/last when the 32-bit uptime wrapped between flow start and export. */
static void test_v5_uptime_wrap(void **state)
{
	(void)state;
	struct flow_dec *d = mkdec();
	struct flow_src s = mksrc("198.51.100.1", 2055);

	v5_packet(&P, 1, 1, 0, 0, 500); /* first = 500-2000 wraps to 2^32-1500 */
	assert_int_equal(flow_dec_udp(d, &s, P.b, P.n, 0), 1);
	assert_int_equal(got[0].first_ms, 1700000000500ULL - 2000);
	assert_int_equal(got[0].last_ms, 1700000000500ULL - 1000);
	flow_dec_free(d);
}

static void test_v5_sequence(void **state)
{
	(void)state;
	struct flow_dec *d = mkdec();
	struct flow_src s = mksrc("198.51.100.1", 2055);

	v5_packet(&P, 2, 2, 100, 0, 9000);
	flow_dec_udp(d, &s, P.b, P.n, 0); /* next expected: 102 */
	v5_packet(&P, 2, 2, 102, 0, 9000);
	flow_dec_udp(d, &s, P.b, P.n, 0); /* ok, next 104 */
	v5_packet(&P, 2, 2, 110, 0, 9000);
	flow_dec_udp(d, &s, P.b, P.n, 0); /* 6 flows lost, next 112 */
	assert_int_equal(domain(d, 0)->seq_lost, 6);
	v5_packet(&P, 2, 2, 110, 0, 9000);
	flow_dec_udp(d, &s, P.b, P.n, 0); /* duplicate */
	v5_packet(&P, 2, 2, 106, 0, 9000);
	flow_dec_udp(d, &s, P.b, P.n, 0); /* late: ooo, no longer lost */
	const struct flow_domain_stats *ds = domain(d, 0);
	assert_int_equal(ds->seq_dup, 1);
	assert_int_equal(ds->seq_ooo, 1);
	assert_int_equal(ds->seq_lost, 4);
	assert_int_equal(ds->packets, 5);
	assert_int_equal(ds->records, 10);
	flow_dec_free(d);
}

/* ---- NetFlow v9 --------------------------------------------------------- */

/* template 256: src/dst v4, ports, proto, bytes(4), pkts(4), first/last uptime */
static void v9_tmpl256(struct pb *p)
{
	set_begin(p, 0);
	pb_u16(p, 256);
	pb_u16(p, 9);
	fspec(p, 8, 4, 0);
	fspec(p, 12, 4, 0);
	fspec(p, 7, 2, 0);
	fspec(p, 11, 2, 0);
	fspec(p, 4, 1, 0);
	fspec(p, 1, 4, 0);
	fspec(p, 2, 4, 0);
	fspec(p, 22, 4, 0);
	fspec(p, 21, 4, 0);
	set_end(p);
}

static void v9_data256(struct pb *p, int nrec, uint32_t uptime, int pad)
{
	set_begin(p, 256);
	for (int i = 0; i < nrec; i++) {
		pb_ip4(p, 10, 1, 0, (uint8_t)i);
		pb_ip4(p, 10, 2, 0, 1);
		pb_u16(p, 5000);
		pb_u16(p, 53);
		pb_u8(p, 17);
		pb_u32(p, 100 + (uint32_t)i);
		pb_u32(p, 1);
		pb_u32(p, uptime - 300);
		pb_u32(p, uptime - 100);
	}
	for (int i = 0; i < pad; i++)
		pb_u8(p, 0);
	set_end(p);
}

static void test_v9_basic_and_padding(void **state)
{
	(void)state;
	struct flow_dec *d = mkdec();
	struct flow_src s = mksrc("198.51.100.2", 2055);

	v9_hdr(&P, 99 /* wrong count: advisory */, 100000, 1700000000, 1, 7);
	v9_tmpl256(&P);
	v9_data256(&P, 3, 100000, 3); /* 3 bytes of padding */
	assert_int_equal(flow_dec_udp(d, &s, P.b, P.n, 0), 3);
	assert_int_equal(got[2].bytes, 102);
	assert_int_equal(got[2].proto, 17);
	assert_int_equal(got[2].dst_port, 53);
	assert_int_equal(got[0].first_ms, 1700000000000ULL - 300);
	assert_int_equal(got[0].last_ms, 1700000000000ULL - 100);
	assert_int_equal(got[0].odid, 7);
	assert_int_equal(got[0].version, 9);
	assert_int_equal(got[0].sampling, 1);
	assert_int_equal(total_drops(d), 0);
	const struct flow_domain_stats *ds = domain(d, 0);
	assert_int_equal(ds->templates, 1);
	assert_int_equal(ds->templates_live, 1);
	flow_dec_free(d);
}

/* Data before its template, in the same packet and in an earlier one. */
static void test_v9_data_before_template(void **state)
{
	(void)state;
	struct flow_dec *d = mkdec();
	struct flow_src s = mksrc("198.51.100.2", 2055);

	v9_hdr(&P, 0, 5000, 1700000000, 1, 0);
	v9_data256(&P, 2, 5000, 0);
	assert_int_equal(flow_dec_udp(d, &s, P.b, P.n, 1000), 0); /* parked */
	v9_hdr(&P, 0, 5000, 1700000000, 2, 0);
	v9_data256(&P, 1, 5000, 0);
	v9_tmpl256(&P);
	assert_int_equal(flow_dec_udp(d, &s, P.b, P.n, 2000), 3);
	assert_int_equal(ngot, 3);
	assert_int_equal(got[0].bytes, 100); /* arrival order kept */
	assert_int_equal(got[1].bytes, 101);
	assert_int_equal(got[2].bytes, 100);
	struct flow_dec_stats st;
	flow_dec_stats(d, &st);
	assert_int_equal(st.parked_sets, 2);
	assert_int_equal(st.unparked_sets, 2);
	assert_int_equal(total_drops(d), 0);

	/* never-arriving template: dropped after park_max_age_s */
	v9_hdr(&P, 0, 5000, 1700000000, 3, 0);
	set_begin(&P, 300);
	pb_u32(&P, 0);
	set_end(&P);
	flow_dec_udp(d, &s, P.b, P.n, 3000);
	flow_dec_tick(d, 3000 + 61 * 1000);
	assert_int_equal(drops(d, FLOW_DROP_no_template), 1);
	flow_dec_free(d);
}

static void test_park_bounded(void **state)
{
	(void)state;
	struct flow_dec_cfg cfg;
	flow_dec_cfg_default(&cfg);
	cfg.sink = sink;
	cfg.park_bytes = 4096;
	struct flow_dec *d = flow_dec_new(&cfg);
	struct flow_src s = mksrc("198.51.100.2", 2055);

	for (int i = 0; i < 100; i++) {
		v9_hdr(&P, 0, 5000, 1700000000, (uint32_t)i, 0);
		v9_data256(&P, 20, 5000, 0); /* ~600 bytes each */
		flow_dec_udp(d, &s, P.b, P.n, 0);
	}
	assert_true(drops(d, FLOW_DROP_park_overflow) >= 90);
	/* one set larger than the whole park */
	v9_hdr(&P, 0, 5000, 1700000000, 200, 0);
	v9_data256(&P, 200, 5000, 0);
	uint64_t before = drops(d, FLOW_DROP_park_overflow);
	flow_dec_udp(d, &s, P.b, P.n, 0);
	assert_int_equal(drops(d, FLOW_DROP_park_overflow), before + 1);
	flow_dec_free(d);
}

static void test_v9_sampling_options(void **state)
{
	(void)state;
	struct flow_dec *d = mkdec();
	struct flow_src s = mksrc("198.51.100.3", 2055);
	struct flow_src s2 = mksrc("198.51.100.3", 2055);
	s2.port = 55555; /* options from another source port still apply */

	/* options template 257: scope System(4), options 48 sampler id (1),
	 * 34 interval (4) */
	v9_hdr(&P, 0, 1000, 1700000000, 1, 0);
	set_begin(&P, 1);
	pb_u16(&P, 257);
	pb_u16(&P, 4);
	pb_u16(&P, 8);
	fspec(&P, 1, 4, 0);
	fspec(&P, 48, 1, 0);
	fspec(&P, 34, 4, 0);
	pb_u16(&P, 0); /* pad to 4 */
	set_end(&P);
	set_begin(&P, 257);
	pb_u32(&P, 0);
	pb_u8(&P, 5);
	pb_u32(&P, 1000);
	pb_u32(&P, 0);
	pb_u8(&P, 6);
	pb_u32(&P, 64);
	set_end(&P);
	flow_dec_udp(d, &s2, P.b, P.n, 0);

	/* data template with sampler id 48 */
	v9_hdr(&P, 0, 1000, 1700000000, 2, 0);
	set_begin(&P, 0);
	pb_u16(&P, 258);
	pb_u16(&P, 3);
	fspec(&P, 8, 4, 0);
	fspec(&P, 48, 1, 0);
	fspec(&P, 1, 4, 0);
	set_end(&P);
	set_begin(&P, 258);
	pb_ip4(&P, 1, 1, 1, 1);
	pb_u8(&P, 5);
	pb_u32(&P, 10);
	pb_ip4(&P, 1, 1, 1, 2);
	pb_u8(&P, 6);
	pb_u32(&P, 10);
	pb_ip4(&P, 1, 1, 1, 3);
	pb_u8(&P, 9); /* unknown sampler: no default, 2 samplers → 1 */
	pb_u32(&P, 10);
	set_end(&P);
	assert_int_equal(flow_dec_udp(d, &s, P.b, P.n, 0), 3);
	assert_int_equal(got[0].sampling, 1000);
	assert_int_equal(got[1].sampling, 64);
	assert_int_equal(got[2].sampling, 1);
	assert_int_equal(got[0].bytes, 10); /* never scaled */
	assert_int_equal(domain(d, 0)->opt_records, 2);

	/* per-exporter override wins */
	assert_int_equal(flow_dec_set_sampling_override(d, s.addr, 7), 0);
	ngot = 0;
	flow_dec_udp(d, &s, P.b, P.n, 0);
	assert_int_equal(got[0].sampling, 7);
	assert_int_equal(got[1].sampling, 7);
	assert_int_equal(flow_dec_set_sampling_override(d, s.addr, 0), 0);
	ngot = 0;
	flow_dec_udp(d, &s, P.b, P.n, 0);
	assert_int_equal(got[0].sampling, 1000);
	flow_dec_free(d);
}

static void test_v9_sequence_packets(void **state)
{
	(void)state;
	struct flow_dec *d = mkdec();
	struct flow_src s = mksrc("198.51.100.2", 2055);

	for (uint32_t seq = 10; seq < 20; seq++) {
		if (seq == 13 || seq == 14)
			continue; /* two packets lost */
		v9_hdr(&P, 0, 5000, 1700000000, seq, 0);
		v9_tmpl256(&P);
		flow_dec_udp(d, &s, P.b, P.n, 0);
	}
	assert_int_equal(domain(d, 0)->seq_lost, 2);
	assert_int_equal(domain(d, 0)->seq_dup, 0);
	flow_dec_free(d);
}

static void test_v9_malformed(void **state)
{
	(void)state;
	struct flow_dec *d = mkdec();
	struct flow_src s = mksrc("198.51.100.2", 2055);

	/* flowset length 2 */
	v9_hdr(&P, 0, 5000, 1700000000, 1, 0);
	pb_u16(&P, 256);
	pb_u16(&P, 2);
	flow_dec_udp(d, &s, P.b, P.n, 0);
	assert_int_equal(drops(d, FLOW_DROP_set_short), 1);
	/* flowset longer than the packet */
	v9_hdr(&P, 0, 5000, 1700000000, 2, 0);
	pb_u16(&P, 256);
	pb_u16(&P, 400);
	pb_u32(&P, 0);
	flow_dec_udp(d, &s, P.b, P.n, 0);
	assert_int_equal(drops(d, FLOW_DROP_set_overrun), 1);
	/* template claiming more fields than bytes */
	v9_hdr(&P, 0, 5000, 1700000000, 3, 0);
	set_begin(&P, 0);
	pb_u16(&P, 256);
	pb_u16(&P, 50);
	fspec(&P, 8, 4, 0);
	set_end(&P);
	flow_dec_udp(d, &s, P.b, P.n, 0);
	assert_int_equal(drops(d, FLOW_DROP_tmpl_malformed), 1);
	/* template id below 256 */
	v9_hdr(&P, 0, 5000, 1700000000, 4, 0);
	set_begin(&P, 0);
	pb_u16(&P, 100);
	pb_u16(&P, 1);
	fspec(&P, 8, 4, 0);
	set_end(&P);
	flow_dec_udp(d, &s, P.b, P.n, 0);
	assert_int_equal(drops(d, FLOW_DROP_tmpl_bad_id), 1);
	/* reserved flowset id */
	v9_hdr(&P, 0, 5000, 1700000000, 5, 0);
	set_begin(&P, 7);
	pb_u32(&P, 0);
	set_end(&P);
	flow_dec_udp(d, &s, P.b, P.n, 0);
	assert_int_equal(drops(d, FLOW_DROP_set_id_reserved), 1);
	/* too many fields */
	v9_hdr(&P, 0, 5000, 1700000000, 6, 0);
	set_begin(&P, 0);
	pb_u16(&P, 256);
	pb_u16(&P, 200);
	for (int i = 0; i < 200; i++)
		fspec(&P, 1, 4, 0);
	set_end(&P);
	flow_dec_udp(d, &s, P.b, P.n, 0);
	assert_int_equal(drops(d, FLOW_DROP_tmpl_too_many_fields), 1);
	/* a v9 field length of 65535 is not IPFIX's variable-length marker */
	v9_hdr(&P, 0, 5000, 1700000000, 7, 0);
	set_begin(&P, 0);
	pb_u16(&P, 256);
	pb_u16(&P, 1);
	fspec(&P, 96, 0xffff, 0);
	set_end(&P);
	set_begin(&P, 256);
	pb_u8(&P, 3);
	pb_bytes(&P, "abc", 3);
	set_end(&P);
	flow_dec_udp(d, &s, P.b, P.n, 0);
	assert_int_equal(drops(d, FLOW_DROP_tmpl_malformed), 2);
	assert_int_equal(ngot, 0);
	flow_dec_free(d);
}

/* ---- IPFIX -------------------------------------------------------------- */

static void test_ipfix_time_ies(void **state)
{
	(void)state;
	struct flow_dec *d = mkdec();
	struct flow_src s = mksrc("2001:db8::9", 4739);
	const uint64_t exp_ms = 1700000000000ULL;
	uint64_t ntp_s = 1700000000ULL - 10 + 2208988800ULL;

	ipfix_hdr(&P, 1700000000, 0, 3);
	set_begin(&P, 2);
	/* 300: seconds; 301: NTP µs/ns; 302: delta µs; 303: reduced-size ms */
	pb_u16(&P, 300); pb_u16(&P, 2); fspec(&P, 150, 4, 0); fspec(&P, 151, 4, 0);
	pb_u16(&P, 301); pb_u16(&P, 2); fspec(&P, 154, 8, 0); fspec(&P, 157, 8, 0);
	pb_u16(&P, 302); pb_u16(&P, 2); fspec(&P, 158, 4, 0); fspec(&P, 159, 4, 0);
	pb_u16(&P, 303); pb_u16(&P, 2); fspec(&P, 152, 6, 0); fspec(&P, 153, 8, 0);
	set_end(&P);
	set_begin(&P, 300); pb_u32(&P, 1699999990); pb_u32(&P, 1699999995); set_end(&P);
	set_begin(&P, 301);
	pb_u32(&P, (uint32_t)ntp_s); pb_u32(&P, 0x80000000u); /* +500 ms */
	pb_u32(&P, (uint32_t)ntp_s + 1); pb_u32(&P, 0x40000000u); /* +250 ms */
	set_end(&P);
	set_begin(&P, 302); pb_u32(&P, 3000000); pb_u32(&P, 1500); set_end(&P);
	set_begin(&P, 303);
	pb_u16(&P, (uint16_t)(exp_ms >> 32)); pb_u32(&P, (uint32_t)exp_ms); pb_u64(&P, exp_ms + 7);
	set_end(&P);
	ipfix_end(&P);
	assert_int_equal(flow_dec_udp(d, &s, P.b, P.n, 0), 4);
	assert_int_equal(got[0].first_ms, 1699999990000ULL);
	assert_int_equal(got[0].last_ms, 1699999995000ULL);
	assert_int_equal(got[1].first_ms, exp_ms - 10000 + 500);
	assert_int_equal(got[1].last_ms, exp_ms - 9000 + 250);
	assert_int_equal(got[2].first_ms, exp_ms - 3000);
	assert_int_equal(got[2].last_ms, exp_ms - 1);
	assert_int_equal(got[3].first_ms, exp_ms);
	assert_int_equal(got[3].last_ms, exp_ms + 7);
	assert_addr(got[0].exporter, "2001:db8::9");
	assert_int_equal(got[0].odid, 3);
	assert_int_equal(total_drops(d), 0);
	flow_dec_free(d);
}

/* flowStart/EndSysUpTime with systemInitTimeMilliseconds, in the record and
 * from options data, including a wrapped 32-bit uptime. */
static void test_ipfix_sysuptime(void **state)
{
	(void)state;
	struct flow_dec *d = mkdec();
	struct flow_src s = mksrc("192.0.2.1", 4739);
	const uint64_t boot = 1690000000000ULL; /* ~115 days before export */
	const uint64_t exp_ms = 1700000000000ULL;
	uint64_t up_first = exp_ms - 5000 - boot, up_last = exp_ms - 1000 - boot;

	ipfix_hdr(&P, 1700000000, 0, 0);
	set_begin(&P, 2);
	pb_u16(&P, 256); pb_u16(&P, 3);
	fspec(&P, 160, 8, 0); fspec(&P, 22, 4, 0); fspec(&P, 21, 4, 0);
	pb_u16(&P, 257); pb_u16(&P, 2);
	fspec(&P, 22, 4, 0); fspec(&P, 21, 4, 0);
	set_end(&P);
	set_begin(&P, 3); /* options: scope ODID, 160 */
	pb_u16(&P, 258); pb_u16(&P, 2); pb_u16(&P, 1);
	fspec(&P, 149, 4, 0); fspec(&P, 160, 8, 0);
	set_end(&P);
	set_begin(&P, 258); pb_u32(&P, 0); pb_u64(&P, boot); set_end(&P);
	set_begin(&P, 256);
	pb_u64(&P, boot); pb_u32(&P, (uint32_t)up_first); pb_u32(&P, (uint32_t)up_last);
	set_end(&P);
	set_begin(&P, 257);
	pb_u32(&P, (uint32_t)up_first); pb_u32(&P, (uint32_t)up_last);
	set_end(&P);
	ipfix_end(&P);
	assert_int_equal(flow_dec_udp(d, &s, P.b, P.n, 0), 2);
	assert_int_equal(got[0].first_ms, exp_ms - 5000);
	assert_int_equal(got[0].last_ms, exp_ms - 1000);
	assert_int_equal(got[1].first_ms, exp_ms - 5000);
	assert_int_equal(got[1].last_ms, exp_ms - 1000);
	flow_dec_free(d);
}

static void test_ipfix_biflow_varlen_enterprise(void **state)
{
	(void)state;
	struct flow_dec *d = mkdec();
	struct flow_src s = mksrc("192.0.2.1", 4739);
	char longstr[600];

	memset(longstr, 'x', sizeof(longstr));
	ipfix_hdr(&P, 1700000000, 0, 1);
	set_begin(&P, 2);
	pb_u16(&P, 400); pb_u16(&P, 9);
	fspec(&P, 27, 16, 0);
	fspec(&P, 28, 16, 0);
	fspec(&P, 1, 8, 0);
	fspec(&P, 1, 8, FLOW_PEN_REVERSE);
	fspec(&P, 2, 4, FLOW_PEN_REVERSE); /* reduced size */
	fspec(&P, 99, 4, 12345);           /* unknown enterprise IE: skipped */
	fspec(&P, 96, 0xffff, 0);          /* applicationName, varlen */
	fspec(&P, 460, 0xffff, 0);         /* httpRequestHost */
	fspec(&P, 6, 2, 0);                /* tcpControlBits, 2 bytes in IPFIX */
	set_end(&P);
	set_begin(&P, 400);
	uint8_t a[16];
	addr_parse("2001:db8::1", a); pb_bytes(&P, a, 16);
	addr_parse("2001:db8::2", a); pb_bytes(&P, a, 16);
	pb_u64(&P, 5000); pb_u64(&P, 7000); pb_u32(&P, 9); pb_u32(&P, 0xdeadbeef);
	pb_u8(&P, 5); pb_bytes(&P, "https", 5);
	pb_u8(&P, 255); pb_u16(&P, 600); pb_bytes(&P, longstr, 600); /* 3-byte length */
	pb_u16(&P, 0x0112);
	/* second record: empty strings */
	addr_parse("2001:db8::3", a); pb_bytes(&P, a, 16);
	addr_parse("2001:db8::4", a); pb_bytes(&P, a, 16);
	pb_u64(&P, 1); pb_u64(&P, 2); pb_u32(&P, 3); pb_u32(&P, 0);
	pb_u8(&P, 0); pb_u8(&P, 0); pb_u16(&P, 0x0002);
	set_end(&P);
	ipfix_end(&P);
	assert_int_equal(flow_dec_udp(d, &s, P.b, P.n, 0), 2);
	assert_true(got[0].flags & FLOW_F_IP6);
	assert_true(got[0].flags & FLOW_F_BIFLOW);
	assert_addr(got[0].src_addr, "2001:db8::1");
	assert_addr(got[0].dst_addr, "2001:db8::2");
	assert_int_equal(got[0].bytes, 5000);
	assert_int_equal(got[0].rev_bytes, 7000);
	assert_int_equal(got[0].rev_packets, 9);
	assert_int_equal(got[0].tcp_flags, 0x12);
	assert_string_equal(got_str[0][FLOW_STR_APP], "https");
	assert_int_equal(got[0].str_len[FLOW_STR_HTTP_HOST], 600);
	assert_int_equal(got[1].str_len[FLOW_STR_APP], 0);
	assert_int_equal(got[1].rev_bytes, 2);
	assert_int_equal(total_drops(d), 0);

	/* a varlen length running past the set */
	ipfix_hdr(&P, 1700000000, 0, 1);
	set_begin(&P, 400);
	memset(a, 0, 16);
	pb_bytes(&P, a, 16); pb_bytes(&P, a, 16);
	pb_u64(&P, 1); pb_u64(&P, 2); pb_u32(&P, 3); pb_u32(&P, 0);
	pb_u8(&P, 200); pb_bytes(&P, "abc", 3);
	set_end(&P);
	ipfix_end(&P);
	ngot = 0;
	assert_int_equal(flow_dec_udp(d, &s, P.b, P.n, 0), 0);
	assert_int_equal(drops(d, FLOW_DROP_varlen_overrun), 1);
	flow_dec_free(d);
}

static void test_ipfix_icmp_and_precedence(void **state)
{
	(void)state;
	struct flow_dec *d = mkdec();
	struct flow_src s = mksrc("192.0.2.1", 4739);

	ipfix_hdr(&P, 1700000000, 0, 1);
	set_begin(&P, 2);
	pb_u16(&P, 256); pb_u16(&P, 7);
	fspec(&P, 85, 8, 0); /* total before delta: delta must win */
	fspec(&P, 1, 8, 0);
	fspec(&P, 4, 1, 0);
	fspec(&P, 7, 2, 0);
	fspec(&P, 11, 2, 0);
	fspec(&P, 32, 2, 0);
	fspec(&P, 243, 2, 0);
	set_end(&P);
	set_begin(&P, 256);
	pb_u64(&P, 999999); pb_u64(&P, 84); pb_u8(&P, 1);
	pb_u16(&P, 7); pb_u16(&P, 0); pb_u16(&P, 0x0800); pb_u16(&P, 42);
	set_end(&P);
	ipfix_end(&P);
	assert_int_equal(flow_dec_udp(d, &s, P.b, P.n, 0), 1);
	assert_int_equal(got[0].bytes, 84);
	assert_int_equal(got[0].src_port, 0);
	assert_int_equal(got[0].dst_port, 0x0800);
	assert_int_equal(got[0].vlan, 42);
	flow_dec_free(d);
}

static void test_ipfix_sampling_305_306_and_selector(void **state)
{
	(void)state;
	struct flow_dec *d = mkdec();
	struct flow_src s = mksrc("192.0.2.1", 4739);

	ipfix_hdr(&P, 1700000000, 0, 1);
	set_begin(&P, 3);
	pb_u16(&P, 500); pb_u16(&P, 3); pb_u16(&P, 1);
	fspec(&P, 302, 8, 0); fspec(&P, 305, 4, 0); fspec(&P, 306, 4, 0);
	set_end(&P);
	set_begin(&P, 500);
	pb_u64(&P, 77); pb_u32(&P, 1); pb_u32(&P, 99);
	set_end(&P);
	set_begin(&P, 2);
	pb_u16(&P, 256); pb_u16(&P, 2); fspec(&P, 302, 8, 0); fspec(&P, 1, 8, 0);
	set_end(&P);
	set_begin(&P, 256); pb_u64(&P, 77); pb_u64(&P, 1); set_end(&P);
	ipfix_end(&P);
	assert_int_equal(flow_dec_udp(d, &s, P.b, P.n, 0), 1);
	assert_int_equal(got[0].sampling, 100);
	flow_dec_free(d);
}

static void test_ipfix_header_and_withdraw_udp(void **state)
{
	(void)state;
	struct flow_dec *d = mkdec();
	struct flow_src s = mksrc("192.0.2.1", 4739);

	ipfix_hdr(&P, 1700000000, 0, 1);
	v9_data256(&P, 1, 0, 0);
	ipfix_end(&P);
	be16_store(P.b + 2, (uint16_t)(P.n + 10)); /* longer than the datagram */
	flow_dec_udp(d, &s, P.b, P.n, 0);
	assert_int_equal(drops(d, FLOW_DROP_bad_length), 1);
	flow_dec_udp(d, &s, P.b, 12, 0);
	assert_int_equal(drops(d, FLOW_DROP_short_header), 1);

	/* define, withdraw over UDP (ignored), data still decodes */
	ipfix_hdr(&P, 1700000000, 0, 1);
	set_begin(&P, 2);
	pb_u16(&P, 256); pb_u16(&P, 1); fspec(&P, 1, 8, 0);
	set_end(&P);
	set_begin(&P, 2);
	pb_u16(&P, 256); pb_u16(&P, 0);
	set_end(&P);
	set_begin(&P, 256); pb_u64(&P, 5); set_end(&P);
	ipfix_end(&P);
	assert_int_equal(flow_dec_udp(d, &s, P.b, P.n, 0), 1);
	assert_int_equal(drops(d, FLOW_DROP_tmpl_withdraw_udp), 1);
	flow_dec_free(d);
}

static void test_template_lifetime_and_redefinition(void **state)
{
	(void)state;
	struct flow_dec_cfg cfg;
	flow_dec_cfg_default(&cfg);
	cfg.sink = sink;
	cfg.tmpl_lifetime_s = 10;
	ngot = 0;
	struct flow_dec *d = flow_dec_new(&cfg);
	struct flow_src s = mksrc("192.0.2.1", 4739);

	ipfix_hdr(&P, 1700000000, 0, 1);
	set_begin(&P, 2);
	pb_u16(&P, 256); pb_u16(&P, 1); fspec(&P, 1, 8, 0);
	set_end(&P);
	ipfix_end(&P);
	flow_dec_udp(d, &s, P.b, P.n, 1000);

	ipfix_hdr(&P, 1700000000, 0, 1);
	set_begin(&P, 256); pb_u64(&P, 5); set_end(&P);
	ipfix_end(&P);
	assert_int_equal(flow_dec_udp(d, &s, P.b, P.n, 5000), 1);
	assert_int_equal(flow_dec_udp(d, &s, P.b, P.n, 12000), 0);
	assert_int_equal(drops(d, FLOW_DROP_tmpl_expired), 1);

	/* redefinition with a different layout replaces */
	ipfix_hdr(&P, 1700000000, 0, 1);
	set_begin(&P, 2);
	pb_u16(&P, 256); pb_u16(&P, 1); fspec(&P, 2, 4, 0);
	set_end(&P);
	set_begin(&P, 256); pb_u32(&P, 33); set_end(&P);
	ipfix_end(&P);
	ngot = 0;
	assert_int_equal(flow_dec_udp(d, &s, P.b, P.n, 13000), 1);
	assert_int_equal(got[0].packets, 33);
	assert_int_equal(got[0].bytes, 0);
	assert_int_equal(domain(d, 0)->templates_live, 1);
	flow_dec_free(d);
}

static void test_limits(void **state)
{
	(void)state;
	struct flow_dec_cfg cfg;
	flow_dec_cfg_default(&cfg);
	cfg.sink = sink;
	cfg.max_templates = 4;
	cfg.max_domains = 2;
	struct flow_dec *d = flow_dec_new(&cfg);
	struct flow_src s = mksrc("192.0.2.1", 4739);

	ipfix_hdr(&P, 1700000000, 0, 1);
	set_begin(&P, 2);
	for (uint16_t t = 256; t < 262; t++) {
		pb_u16(&P, t); pb_u16(&P, 1); fspec(&P, 1, 8, 0);
	}
	set_end(&P);
	ipfix_end(&P);
	flow_dec_udp(d, &s, P.b, P.n, 0);
	assert_int_equal(drops(d, FLOW_DROP_tmpl_limit), 2);
	for (int i = 0; i < 3; i++) {
		be32_store(P.b + 12, (uint32_t)(100 + i)); /* new ODIDs */
		flow_dec_udp(d, &s, P.b, P.n, 0);
	}
	assert_int_equal(drops(d, FLOW_DROP_domain_limit), 2);

	struct flow_dec_cfg bad = cfg;
	bad.sink = NULL;
	errno = 0;
	assert_null(flow_dec_new(&bad));
	assert_int_equal(errno, EINVAL);
	flow_dec_free(d);
	flow_dec_free(NULL);
}

/* ---- encoder round trip ------------------------------------------------- */

static void fill_rec(struct flow_rec *r, int i)
{
	memset(r, 0, sizeof(*r));
	r->first_ms = 1700000000000ULL + (uint64_t)i * 3;
	r->last_ms = r->first_ms + 250 + (uint64_t)i;
	r->packets = 1 + (uint64_t)i;
	r->bytes = 64 * r->packets + (1ULL << 33);
	r->odid = 9;
	r->sampling = (uint32_t)(i % 3 + 1);
	r->in_if = (uint32_t)i;
	r->out_if = (uint32_t)i * 2;
	r->src_as = 64500 + (uint32_t)i;
	r->dst_as = 4200000000u;
	r->src_port = (uint16_t)(1024 + i);
	r->dst_port = 443;
	r->exp_port = 2055;
	r->vlan = (uint16_t)(i % 4096);
	r->proto = 6;
	r->tcp_flags = 0x18;
	r->tos = 0xb8;
	r->direction = (uint8_t)(i & 1);
	r->version = (uint8_t)(i % 2 ? 9 : 10);
	addr_parse("203.0.113.9", r->exporter);
	if (i % 2) {
		r->flags |= FLOW_F_IP6;
		addr_parse("2001:db8::a", r->src_addr);
		addr_parse("2001:db8:1::b", r->dst_addr);
		addr_parse("fe80::1", r->next_hop);
		r->src_mask = 48;
		r->dst_mask = 64;
	} else {
		uint8_t v4[4] = { 10, 0, (uint8_t)(i >> 8), (uint8_t)i };
		addr_set_v4(r->src_addr, v4);
		addr_parse("198.51.100.200", r->dst_addr);
		addr_parse("10.0.0.254", r->next_hop);
		r->src_mask = 24;
		r->dst_mask = 32;
	}
	if (i % 3 == 0) {
		r->flags |= FLOW_F_BIFLOW;
		r->rev_packets = 3;
		r->rev_bytes = 300;
	}
}

static void test_encoder_roundtrip(void **state)
{
	(void)state;
	static const char arena[] = "ssh" "example.org" "/a/b?c=d" "tls.example.net";
	static uint8_t buf[65535];
	struct flow_dec *d = mkdec();
	struct flow_src s = mksrc("127.0.0.1", 4739);
	struct flow_rec in[200];
	struct flow_enc e;
	unsigned nin = 0, sent = 0;
	uint32_t seq = 0;

	for (int i = 0; i < 200; i++) {
		fill_rec(&in[i], i);
		if (i % 5 == 0) { /* every 5th has strings */
			in[i].str_off[FLOW_STR_APP] = 0; in[i].str_len[FLOW_STR_APP] = 3;
			in[i].str_off[FLOW_STR_HTTP_HOST] = 3; in[i].str_len[FLOW_STR_HTTP_HOST] = 11;
			in[i].str_off[FLOW_STR_URL] = 14; in[i].str_len[FLOW_STR_URL] = 8;
			in[i].str_off[FLOW_STR_SNI] = 22; in[i].str_len[FLOW_STR_SNI] = 15;
		}
	}
	/* Messages of at most 1400 bytes; templates in the first only. */
	while (nin < 200) {
		assert_int_equal(flow_enc_begin(&e, buf, 1400, 9, 1700000001, seq), 0);
		if (nin == 0)
			assert_int_equal(flow_enc_templates(&e), 0);
		while (nin < 200 && flow_enc_add(&e, &in[nin], arena) == 0)
			nin++;
		size_t len = flow_enc_finish(&e);
		assert_true(len <= 1400);
		seq += e.records;
		sent += flow_dec_udp(d, &s, buf, len, 0);
	}
	assert_int_equal(sent, 200);
	assert_int_equal(ngot, 200);
	for (int i = 0; i < 200; i++) {
		struct flow_rec a = got[i], b = in[i];
		for (int k = 0; k < FLOW_STR_MAX; k++) {
			assert_int_equal(a.str_len[k], b.str_len[k]);
			assert_memory_equal(got_str[i][k], arena + b.str_off[k], b.str_len[k]);
		}
		memset(a.str_off, 0, sizeof(a.str_off));
		memset(b.str_off, 0, sizeof(b.str_off));
		if (memcmp(&a, &b, sizeof(a))) {
			print_error("record %d differs\n", i);
			fail();
		}
	}
	assert_int_equal(total_drops(d), 0);
	assert_int_equal(domain(d, 0)->seq_lost, 0);
	assert_int_equal(domain(d, 0)->templates, FLOW_ENC_NTEMPLATES);
	flow_dec_free(d);
}

static void test_encoder_nospace(void **state)
{
	(void)state;
	uint8_t buf[200];
	struct flow_enc e;
	struct flow_rec r;

	fill_rec(&r, 0);
	assert_int_equal(flow_enc_begin(&e, buf, 10, 0, 0, 0), -ENOSPC);
	assert_int_equal(flow_enc_begin(&e, buf, sizeof(buf), 0, 0, 0), 0);
	assert_int_equal(flow_enc_templates(&e), -ENOSPC);
	assert_int_equal(flow_enc_add(&e, &r, NULL), 0);
	size_t before = e.len;
	while (flow_enc_add(&e, &r, NULL) == 0)
		before = e.len;
	assert_int_equal(e.len, before); /* failed add leaves the message unchanged */
	assert_true(flow_enc_finish(&e) <= sizeof(buf));
	assert_int_equal(flow_enc_tid(&r), FLOW_ENC_TID_BASE + 2); /* biflow v4 */
}

/* ---- IPFIX over TCP ----------------------------------------------------- */

static struct flow_ctl last_ctl;
static int nctl;
static void ctl_cb(void *user, const struct flow_ctl *c)
{
	assert_ptr_equal(user, &last_ctl);
	last_ctl = *c;
	nctl++;
}

static size_t build_stream(uint8_t *out, size_t cap, int nmsgs, bool hello)
{
	static uint8_t buf[2000];
	struct flow_enc e;
	size_t n = 0;
	struct flow_rec r;

	if (hello) {
		ipfix_hdr(&P, 1700000000, 0, 1);
		set_begin(&P, 3);
		pb_u16(&P, 400); pb_u16(&P, 4); pb_u16(&P, 1);
		fspec(&P, 149, 4, 0);
		fspec(&P, FLOW_IE_SESSION_ID, 8, FLOW_PEN_FLOWDELTA);
		fspec(&P, FLOW_IE_FIRST_MSG, 8, FLOW_PEN_FLOWDELTA);
		fspec(&P, FLOW_IE_CTL_FLAGS, 4, FLOW_PEN_FLOWDELTA);
		set_end(&P);
		set_begin(&P, 400);
		pb_u32(&P, 1); pb_u64(&P, 0x1122334455667788ULL); pb_u64(&P, 42); pb_u32(&P, FLOW_CTL_ACK);
		set_end(&P);
		ipfix_end(&P);
		memcpy(out, P.b, P.n);
		n = P.n;
	}
	for (int m = 0; m < nmsgs; m++) {
		flow_enc_begin(&e, buf, sizeof(buf), 1, 1700000000, (uint32_t)m * 5);
		if (m == 0)
			flow_enc_templates(&e);
		for (int i = 0; i < 5; i++) {
			fill_rec(&r, m * 5 + i);
			flow_enc_add(&e, &r, NULL);
		}
		size_t len = flow_enc_finish(&e);
		assert_true(n + len <= cap);
		memcpy(out + n, buf, len);
		n += len;
	}
	return n;
}

static void test_tcp_framing_any_split(void **state)
{
	(void)state;
	static uint8_t stream[100000];
	size_t n = build_stream(stream, sizeof(stream), 20, true);

	for (size_t chunk = 1; chunk <= 4096; chunk = chunk * 3 + 1) {
		struct flow_dec *d = mkdec();
		struct flow_src s = mksrc("127.0.0.1", 4739);
		struct flow_tcp *t = flow_tcp_new(d, &s);
		long total = 0;

		nctl = 0;
		flow_tcp_set_ctl(t, ctl_cb, &last_ctl);
		for (size_t off = 0; off < n; off += chunk) {
			size_t c = n - off < chunk ? n - off : chunk;
			long r = flow_tcp_feed(t, stream + off, c, 0);
			assert_true(r >= 0);
			total += r;
		}
		assert_int_equal(total, 100);
		assert_int_equal(nctl, 1);
		assert_int_equal(last_ctl.session_id, 0x1122334455667788ULL);
		assert_int_equal(last_ctl.first_msg, 42);
		assert_int_equal(last_ctl.flags, FLOW_CTL_ACK);
		assert_int_equal(total_drops(d), 0);
		flow_tcp_free(t);
		flow_dec_free(d);
	}
}

static void test_tcp_resync_and_give_up(void **state)
{
	(void)state;
	static uint8_t stream[200000];
	size_t n = build_stream(stream, sizeof(stream), 4, false);
	struct flow_dec *d = mkdec();
	struct flow_src s = mksrc("127.0.0.1", 4739);
	struct flow_tcp *t = flow_tcp_new(d, &s);
	const uint8_t garbage[] = "this is not ipfix at all";

	/* message 1, garbage, messages 2..4 */
	size_t first = be16_load(stream + 2);
	assert_true(flow_tcp_feed(t, stream, first, 0) == 5);
	assert_true(flow_tcp_feed(t, garbage, sizeof(garbage), 0) == 0);
	assert_int_equal(flow_tcp_feed(t, stream + first, n - first, 0), 15);
	assert_int_equal(drops(d, FLOW_DROP_tcp_desync), sizeof(garbage));

	/* 64 KiB of garbage: the stream is beyond repair */
	static uint8_t junk[70000];
	memset(junk, 0x55, sizeof(junk));
	assert_int_equal(flow_tcp_feed(t, junk, sizeof(junk), 0), -EPROTO);
	flow_tcp_free(t);
	flow_dec_free(d);
}

/* Templates are scoped per connection and withdrawals are honoured. */
static void test_tcp_scope_and_withdrawal(void **state)
{
	(void)state;
	static uint8_t stream[100000], buf[2000];
	size_t n = build_stream(stream, sizeof(stream), 2, false);
	struct flow_dec *d = mkdec();
	struct flow_src s = mksrc("127.0.0.1", 4739);
	struct flow_tcp *t1 = flow_tcp_new(d, &s), *t2 = flow_tcp_new(d, &s);
	size_t first = be16_load(stream + 2);
	struct flow_enc e;

	assert_int_equal(flow_tcp_feed(t1, stream, n, 0), 10);
	/* t2 never got the templates: its data waits, then dies with t2 */
	assert_int_equal(flow_tcp_feed(t2, stream + first, n - first, 0), 0);
	flow_tcp_free(t2);
	/* fill_rec alternates v4/v6/biflow: each record is its own set */
	assert_int_equal(drops(d, FLOW_DROP_no_template), 5);

	flow_enc_begin(&e, buf, sizeof(buf), 1, 1700000000, 10);
	flow_enc_withdraw(&e);
	size_t wl = flow_enc_finish(&e);
	assert_int_equal(flow_tcp_feed(t1, buf, wl, 0), 0);
	assert_int_equal(domain(d, 0)->templates_live, 0);
	assert_int_equal(flow_tcp_feed(t1, stream + first, n - first, 0), 0); /* parked */
	flow_tcp_free(t1);
	flow_dec_free(d);
}

/* IPv4 and IPv6 fields for the same address in one template, and an IPv4
 * exporter address (IE 130) in records from an IPv6 transport source: the
 * field-major fast path must still write whole addresses. */
static void test_mixed_address_fields(void **state)
{
	(void)state;
	struct flow_dec *d = mkdec();
	struct flow_src s = mksrc("2001:db8::77", 4739);
	uint8_t a[16];

	ipfix_hdr(&P, 1700000000, 0, 1);
	set_begin(&P, 2);
	pb_u16(&P, 256); pb_u16(&P, 3);
	fspec(&P, 27, 16, 0); fspec(&P, 8, 4, 0); fspec(&P, 130, 4, 0);
	set_end(&P);
	set_begin(&P, 256);
	for (int i = 0; i < 3; i++) {
		addr_parse("2001:db8::1", a); pb_bytes(&P, a, 16);
		pb_ip4(&P, 10, 0, 0, (uint8_t)i);
		pb_ip4(&P, 192, 0, 2, 200);
	}
	set_end(&P);
	ipfix_end(&P);
	assert_int_equal(flow_dec_udp(d, &s, P.b, P.n, 0), 3);
	/* dual-stack pair: the non-zero IPv6 value makes the record IPv6 */
	assert_addr(got[2].src_addr, "2001:db8::1");
	assert_true(got[2].flags & FLOW_F_IP6);
	assert_addr(got[2].exporter, "192.0.2.200");
	flow_dec_free(d);
}

/* Dual-stack template: IPv4 and IPv6 fields for src, dst and next hop; each
 * record uses one family, chosen by ipVersion (IE 60) or by which is set. */
static void test_dual_stack_template(void **state)
{
	(void)state;
	uint8_t a[16], z[16] = { 0 };

	for (int with_ver = 0; with_ver < 2; with_ver++) {
		struct flow_dec *d = mkdec();
		struct flow_src s = mksrc("192.0.2.1", 4739);

		ipfix_hdr(&P, 1700000000, 0, 1);
		set_begin(&P, 2);
		pb_u16(&P, 256); pb_u16(&P, (uint16_t)(6 + with_ver));
		fspec(&P, 8, 4, 0); fspec(&P, 12, 4, 0);
		fspec(&P, 27, 16, 0); fspec(&P, 28, 16, 0);
		fspec(&P, 18, 4, 0); fspec(&P, 63, 16, 0);
		if (with_ver)
			fspec(&P, 60, 1, 0);
		set_end(&P);
		set_begin(&P, 256);
		/* IPv4 record */
		pb_ip4(&P, 10, 0, 0, 1); pb_ip4(&P, 10, 0, 0, 2);
		pb_bytes(&P, z, 16); pb_bytes(&P, z, 16);
		pb_ip4(&P, 10, 0, 0, 254); pb_bytes(&P, z, 16);
		if (with_ver)
			pb_u8(&P, 4);
		/* IPv6 record */
		pb_ip4(&P, 0, 0, 0, 0); pb_ip4(&P, 0, 0, 0, 0);
		addr_parse("2001:db8::1", a); pb_bytes(&P, a, 16);
		addr_parse("2001:db8::2", a); pb_bytes(&P, a, 16);
		pb_ip4(&P, 0, 0, 0, 0);
		addr_parse("2001:db8::fe", a); pb_bytes(&P, a, 16);
		if (with_ver)
			pb_u8(&P, 6);
		set_end(&P);
		ipfix_end(&P);
		assert_int_equal(flow_dec_udp(d, &s, P.b, P.n, 0), 2);
		assert_false(got[0].flags & FLOW_F_IP6);
		assert_addr(got[0].src_addr, "10.0.0.1");
		assert_addr(got[0].dst_addr, "10.0.0.2");
		assert_addr(got[0].next_hop, "10.0.0.254");
		assert_true(got[1].flags & FLOW_F_IP6);
		assert_addr(got[1].src_addr, "2001:db8::1");
		assert_addr(got[1].dst_addr, "2001:db8::2");
		assert_addr(got[1].next_hop, "2001:db8::fe");
		flow_dec_free(d);
	}
}

/* A repeated IE keeps its first value (outer header of a tunnel export);
 * absolute times beat sysUpTime-relative ones in the same template. */
static void test_repeated_ie_and_time_precedence(void **state)
{
	(void)state;
	struct flow_dec *d = mkdec();
	struct flow_src s = mksrc("192.0.2.1", 4739);

	ipfix_hdr(&P, 1700000000, 0, 1);
	set_begin(&P, 2);
	pb_u16(&P, 256); pb_u16(&P, 6);
	fspec(&P, 4, 1, 0); fspec(&P, 22, 4, 0); fspec(&P, 4, 1, 0);
	fspec(&P, 21, 4, 0); fspec(&P, 152, 8, 0); fspec(&P, 153, 8, 0);
	set_end(&P);
	set_begin(&P, 256);
	pb_u8(&P, 41); pb_u32(&P, 1000); pb_u8(&P, 17); pb_u32(&P, 2000);
	pb_u64(&P, 1699999990000ULL); pb_u64(&P, 1699999995000ULL);
	set_end(&P);
	ipfix_end(&P);
	assert_int_equal(flow_dec_udp(d, &s, P.b, P.n, 0), 1);
	assert_int_equal(got[0].proto, 41);
	assert_int_equal(got[0].first_ms, 1699999990000ULL);
	assert_int_equal(got[0].last_ms, 1699999995000ULL);
	flow_dec_free(d);
}

static void test_drop_names(void **state)
{
	(void)state;
	for (int i = 0; i < FLOW_DROP_MAX; i++) {
		assert_non_null(flow_drop_name(i));
		assert_true(strlen(flow_drop_desc(i)) > 10);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(flow_drop_name(i), flow_drop_name(j));
	}
	assert_string_equal(flow_drop_name(FLOW_DROP_MAX), "unknown");
}

/* A small batch size forces many sink calls; strings survive flushes. */
static void test_batches(void **state)
{
	(void)state;
	struct flow_dec_cfg cfg;
	flow_dec_cfg_default(&cfg);
	cfg.sink = sink;
	cfg.batch_size = 3;
	ngot = 0;
	nbatches = 0;
	struct flow_dec *d = flow_dec_new(&cfg);
	struct flow_src s = mksrc("198.51.100.1", 2055);

	v5_packet(&P, 30, 30, 0, 0, 9000);
	assert_int_equal(flow_dec_udp(d, &s, P.b, P.n, 0), 30);
	assert_int_equal(nbatches, 10);
	assert_int_equal(ngot, 30);
	assert_addr(got[29].src_addr, "10.0.0.30");
	flow_dec_free(d);
}

/* addr_format / addr_text write exactly what inet_ntop writes: addresses
 * built from groups that are zero, small, ffff or random, so that zero
 * runs of every length fall at every place (the first longest one is
 * compressed), plus v4-mapped and v4-compatible forms. */
static void test_addr_text(void **state)
{
	(void)state;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (int it = 0; it < 200000; it++) {
		uint8_t a[16];
		for (unsigned g = 0; g < 8; g++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			unsigned kind = x % 5, v = (unsigned)(x >> 16) & 0xffff;
			v = kind < 2 ? 0 : kind == 2 ? v & 0xf : kind == 3 ? 0xffff : v;
			a[2 * g] = (uint8_t)(v >> 8);
			a[2 * g + 1] = (uint8_t)v;
		}
		if (it % 7 == 0) /* v4-mapped */
			memset(a, 0, 10), a[10] = a[11] = 0xff;
		if (it % 11 == 0) /* v4-compatible, ::, ::1 among them */
			memset(a, 0, 12);
		char want[INET6_ADDRSTRLEN], got[64], t[ADDR_TEXT_MAX];
		bool v4 = addr_is_v4(a);
		assert_non_null(inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? a + 12 : a, want, sizeof(want)));
		assert_string_equal(addr_format(a, false, got, sizeof(got)), want);
		assert_int_equal(addr_text(a, t), strlen(want));
		assert_memory_equal(t, want, strlen(want));
		assert_int_equal(addr_text_len(a), strlen(want));
		/* exactly room for the text and its NUL, and one short */
		assert_string_equal(addr_format(a, false, got, strlen(want) + 1), want);
		assert_string_equal(addr_format(a, false, got, strlen(want)), "");
	}
	uint8_t z[16] = { 0 };
	char b[64];
	assert_string_equal(addr_format(z, true, b, sizeof(b)), "0.0.0.0");
	assert_string_equal(addr_format(z, false, b, sizeof(b)), "::");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_text),
		cmocka_unit_test(test_v5_basic),
		cmocka_unit_test(test_v5_bad_counts),
		cmocka_unit_test(test_v5_uptime_wrap),
		cmocka_unit_test(test_v5_sequence),
		cmocka_unit_test(test_v9_basic_and_padding),
		cmocka_unit_test(test_v9_data_before_template),
		cmocka_unit_test(test_park_bounded),
		cmocka_unit_test(test_v9_sampling_options),
		cmocka_unit_test(test_v9_sequence_packets),
		cmocka_unit_test(test_v9_malformed),
		cmocka_unit_test(test_ipfix_time_ies),
		cmocka_unit_test(test_ipfix_sysuptime),
		cmocka_unit_test(test_ipfix_biflow_varlen_enterprise),
		cmocka_unit_test(test_ipfix_icmp_and_precedence),
		cmocka_unit_test(test_ipfix_sampling_305_306_and_selector),
		cmocka_unit_test(test_ipfix_header_and_withdraw_udp),
		cmocka_unit_test(test_template_lifetime_and_redefinition),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_encoder_roundtrip),
		cmocka_unit_test(test_encoder_nospace),
		cmocka_unit_test(test_tcp_framing_any_split),
		cmocka_unit_test(test_tcp_resync_and_give_up),
		cmocka_unit_test(test_tcp_scope_and_withdrawal),
		cmocka_unit_test(test_mixed_address_fields),
		cmocka_unit_test(test_dual_stack_template),
		cmocka_unit_test(test_repeated_ie_and_time_precedence),
		cmocka_unit_test(test_drop_names),
		cmocka_unit_test(test_batches),
	};
	return cmocka_run_group_tests_name("codec", tests, NULL, NULL);
}
