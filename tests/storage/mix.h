/* mix.h — a synthetic "default IPv4 mix" of flow records for the storage
 * tests and bench/bench_store.c (until lib/gen provides `flowdelta gen`).
 *
 * Shape, chosen to resemble an enterprise edge: ~4 Ki internal clients in
 * 10.0.0.0/16 with Zipf-like activity, half the peers from 1000 popular
 * servers, the rest random; service ports mostly 443/80/53; 70 % TCP; short
 * flows; 4 exporters; records in export order (last_ms non-decreasing). With
 * `rich` set, some records are IPv6, biflows and carry strings.
 */
#ifndef TESTS_STORAGE_MIX_H
#define TESTS_STORAGE_MIX_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "flow/record.h"

struct mix {
	uint64_t s;
	uint64_t now_ms;
	int rich;
	char arena[1 << 16];
	uint32_t arena_len;
};

static inline uint64_t mix_rand(struct mix *m)
{
	/* xorshift64*: fast, deterministic per seed */
	m->s ^= m->s >> 12;
	m->s ^= m->s << 25;
	m->s ^= m->s >> 27;
	return m->s * 0x2545f4914f6cdd1dULL;
}

static inline void mix_init(struct mix *m, uint64_t seed, uint64_t start_ms, int rich)
{
	memset(m, 0, sizeof(*m));
	m->s = seed * 0x9e3779b97f4a7c15ULL + 1;
	m->now_ms = start_ms;
	m->rich = rich;
}

/* skewed pick in [0, n): small values much more likely */
static inline uint32_t mix_zipf(struct mix *m, uint32_t n)
{
	uint64_t a = mix_rand(m) % n, b = mix_rand(m) % n;
	uint64_t c = mix_rand(m) % n;
	uint64_t x = a < b ? a : b;
	return (uint32_t)(x < c ? x : c);
}

static inline void mix_v4(uint8_t a[16], uint32_t ip)
{
	memset(a, 0, 10);
	a[10] = a[11] = 0xff;
	a[12] = (uint8_t)(ip >> 24);
	a[13] = (uint8_t)(ip >> 16);
	a[14] = (uint8_t)(ip >> 8);
	a[15] = (uint8_t)ip;
}

static const char *const mix_sni[] = { "www.example.com", "api.example.net", "cdn.example.org",
				       "mail.example.com", "login.example.com" };

/* Fill r with the next record; strings (rich mode) go to m->arena, which
 * the caller resets (m->arena_len = 0) between batches. */
static inline void mix_next(struct mix *m, struct flow_rec *r)
{
	static const uint16_t svc[] = { 443, 443, 443, 443, 443, 443, 443, 443, 80, 80,
					80,  53,  53,  53,  123, 22,  25,  993, 8080, 3389 };
	static const uint8_t fl[] = { 0x1b, 0x1b, 0x1b, 0x1f, 0x02, 0x12, 0x10, 0x18, 0x19, 0x04 };
	memset(r, 0, sizeof(*r));
	m->now_ms += mix_rand(m) % 3 == 0; /* ~3 records per ms */
	uint64_t x = mix_rand(m);
	uint32_t dur = (x & 3) == 0 ? 0 : (uint32_t)(mix_rand(m) % ((x >> 8) & 1 ? 2000 : 60000));
	r->last_ms = m->now_ms - (mix_rand(m) % 50);
	r->first_ms = r->last_ms - dur;
	uint32_t client = 0x0a000000u | (mix_zipf(m, 4096) * 7919u % 65536u);
	uint32_t server = (x >> 16) & 1 ? 0xc6336400u + mix_zipf(m, 1000) * 13u
					: (uint32_t)(mix_rand(m) >> 32);
	uint32_t p = (uint32_t)(mix_rand(m) % 100);
	r->proto = p < 70 ? 6 : p < 98 ? 17 : 1;
	uint16_t sport = (uint16_t)(32768 + mix_rand(m) % 28232);
	uint16_t dport = svc[mix_rand(m) % 20];
	if (r->proto == 17 && p % 3 == 0)
		dport = 53;
	int out = (x >> 20) & 1;
	mix_v4(r->src_addr, out ? client : server);
	mix_v4(r->dst_addr, out ? server : client);
	r->src_port = out ? sport : dport;
	r->dst_port = out ? dport : sport;
	if (r->proto == 1) {
		r->src_port = 0;
		r->dst_port = (uint16_t)((x >> 24) & 1 ? 0x0800 : 0x0000);
	}
	r->packets = 1 + (dur ? mix_zipf(m, 200) : 0);
	r->bytes = r->packets * (40 + mix_zipf(m, 1460));
	r->tcp_flags = r->proto == 6 ? fl[mix_rand(m) % 10] : 0;
	uint32_t exp = (uint32_t)(x >> 40) & 3;
	mix_v4(r->exporter, 0xc0a80001u + exp);
	r->odid = exp & 1;
	r->sampling = 1;
	r->in_if = 1 + (uint32_t)((x >> 44) & 7);
	r->out_if = 9 + (uint32_t)((x >> 47) & 7);
	r->src_as = out ? 0 : 64500 + mix_zipf(m, 200);
	r->dst_as = out ? 64500 + mix_zipf(m, 200) : 0;
	mix_v4(r->next_hop, 0xc0a80101u + exp);
	r->src_mask = out ? 16 : 24;
	r->dst_mask = out ? 24 : 16;
	r->exp_port = 4739;
	r->version = 10;
	r->tos = (x >> 50) % 16 == 0 ? 0x28 : 0;
	if (!m->rich)
		return;
	uint64_t y = mix_rand(m);
	if (y % 10 == 0) {
		r->flags |= FLOW_F_IP6;
		r->src_addr[0] = 0x20;
		r->src_addr[1] = 0x01;
		r->dst_addr[0] = 0x20;
		r->dst_addr[1] = 0x01;
		for (int k = 8; k < 16; k++) {
			r->src_addr[k] = (uint8_t)(y >> (k * 3));
			r->dst_addr[k] = (uint8_t)(y >> (k * 2));
		}
	}
	if ((y >> 8) % 7 == 0) {
		r->flags |= FLOW_F_BIFLOW;
		r->rev_packets = r->packets / 2 + 1;
		r->rev_bytes = r->bytes * 3;
	}
	if ((y >> 16) % 5 == 0 && m->arena_len < sizeof(m->arena) - 2048) {
		const char *s = mix_sni[(y >> 24) % 5];
		uint16_t l = (uint16_t)strlen(s);
		memcpy(m->arena + m->arena_len, s, l);
		r->str_off[FLOW_STR_SNI] = m->arena_len;
		r->str_len[FLOW_STR_SNI] = l;
		m->arena_len += l;
		if ((y >> 32) % 2 == 0) {
			r->str_off[FLOW_STR_HTTP_HOST] = m->arena_len;
			r->str_len[FLOW_STR_HTTP_HOST] = l;
			memcpy(m->arena + m->arena_len, s, l);
			m->arena_len += l;
			/* a unique URL now and then: dictionaries must cope */
			int ul = snprintf(m->arena + m->arena_len, 64, "/item/%llu",
					  (unsigned long long)(y >> 40));
			r->str_off[FLOW_STR_URL] = m->arena_len;
			r->str_len[FLOW_STR_URL] = (uint16_t)ul;
			m->arena_len += (uint32_t)ul;
		}
	}
	r->sampling = (y >> 48) % 50 == 0 ? 100 : 1;
	r->vlan = (uint16_t)((y >> 52) % 3 * 100);
}

#endif
