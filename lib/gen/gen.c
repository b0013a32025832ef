/* gen.c — the synthetic exporter: flow model, NetFlow v5/v9/IPFIX encoding
 * and the canonical records that go with each packet (see gen.h).
 *
 * Flow model, per exporter (a border router with 2 uplinks and 6 LAN ports):
 * a flow is a conversation between an internal host and an external server
 * (or, rarely, two ephemeral ports), seen in either direction. Hosts and
 * servers are drawn with a Zipf-like (1/k) popularity so that top-N queries
 * have a clear head; services follow a fixed weighted mix. Counters, times
 * and flags are drawn to look like what routers send, within the limits of
 * each format (v5: 16-bit AS and ifindex, v5/v9: 32-bit counters).
 *
 * Times: v5/v9 carry sysUpTime-relative times. The header time is whole
 * seconds (unix_nsecs = 0) and every flow ends at or before it, so a decoder
 * computing boot = unix_secs*1000 - sysUpTime and first = boot + First gets
 * the exact ms values we put in the canonical records.
 */
#include "gen.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow/flow.h"
#include "util/addr.h"
#include "util/bytes.h"
#include "util/compiler.h"
#include "util/hash.h"

/* What one template field carries. */
enum fkind {
	K_SRC4, K_DST4, K_NH4, K_SRC6, K_DST6, K_NH6, K_SPORT, K_DPORT, K_PROTO, K_FLAGS,
	K_TOS, K_IN, K_OUT, K_PKTS, K_BYTES, K_SAS, K_DAS, K_SMASK, K_DMASK, K_DIR, K_VLAN,
	K_FIRST_UP, K_LAST_UP, K_FIRST_MS, K_LAST_MS, K_APP, K_HOST, K_URL,
};

struct tfield {
	uint16_t ie;
	uint16_t len; /* 65535 = IPFIX variable length */
	uint8_t kind;
};

#define MAX_TFIELDS 24
#define TID_V4 256
#define TID_V6 257
#define TID_V4_STR 258
#define TID_V6_STR 259

struct tmpl {
	uint16_t id;
	uint16_t n;
	uint16_t time_pos; /* byte offset of the start-time field in a record */
	struct tfield f[MAX_TFIELDS];
};

struct gen_exp {
	uint64_t rng[4];     /* xoshiro256** state: one stream per exporter */
	uint64_t flows_done;
	uint64_t pkt_no;     /* packets sent */
	uint32_t seq;        /* v5: flows, v9: packets, IPFIX: data records */
	uint64_t boot_ms;    /* v5/v9 sysUpTime origin */
	uint8_t addr[16];
	uint16_t src_port;
};

struct gen {
	struct gen_cfg cfg;
	struct gen_exp *exp;
	uint32_t cur;        /* next exporter of the current round */
	bool done;
	struct tmpl tmpl[2]; /* [0] IPv4, [1] IPv6 (v9/IPFIX) */
	uint8_t *buf;        /* GEN_PKT_CAP */
	struct flow_rec *recs, *tmp;
	struct gen_rec_pos *pos; /* per record of the packet */
	char *arena, *tmp_arena;
	uint32_t arena_cap;
	struct gen_stats st;
};

/* ---- randomness ---- */

static uint64_t splitmix(uint64_t *s)
{
	*s += 0x9e3779b97f4a7c15ULL;
	return hash_mix64(*s);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rnd(struct gen_exp *e)
{
	uint64_t *s = e->rng;
	uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

/* Uniform in [0, n). The modulo bias is irrelevant for test traffic. */
static uint64_t rnd_below(struct gen_exp *e, uint64_t n)
{
	return n ? rnd(e) % n : 0;
}

static uint64_t rnd_range(struct gen_exp *e, uint64_t lo, uint64_t hi)
{
	return lo + rnd_below(e, hi - lo + 1);
}

static double rnd_unit(struct gen_exp *e)
{
	return (double)(rnd(e) >> 11) * (1.0 / 9007199254740992.0);
}

/* Zipf-like rank in [0, n), P(k) ~ 1/(k+1): a uniformly drawn power-of-two
 * bucket [2^b - 1, 2^(b+1) - 1), then uniform inside it. Integer-only, so
 * the output does not depend on the platform's libm. Rank 0 is the most
 * popular. */
static uint64_t rnd_zipf(struct gen_exp *e, uint64_t n)
{
	unsigned bits = 64 - (unsigned)__builtin_clzll(n);

	for (;;) {
		unsigned b = (unsigned)rnd_below(e, bits);
		uint64_t lo = (1ULL << b) - 1;
		uint64_t k = lo + rnd_below(e, 1ULL << b);
		if (k < n)
			return k;
	}
}

/* ---- the flow model ---- */

struct service {
	uint8_t proto;  /* 6, 17 or 1 (ICMP, family-adjusted) */
	uint16_t port;  /* 0: ICMP or peer-to-peer */
	uint8_t weight;
	const char *app;
	uint8_t web;    /* 1: has HTTP host, 2: host + URL */
};

static const struct service services[] = {
	{ 6, 443, 40, "https", 1 }, { 6, 80, 12, "http", 2 },   { 17, 53, 12, "dns", 0 },
	{ 17, 443, 8, "quic", 1 },  { 17, 123, 3, "ntp", 0 },   { 6, 22, 3, "ssh", 0 },
	{ 6, 25, 2, "smtp", 0 },    { 6, 993, 2, "imaps", 0 },  { 6, 3389, 1, "rdp", 0 },
	{ 17, 514, 1, "syslog", 0 }, { 6, 8080, 2, "http-alt", 2 }, { 17, 161, 1, "snmp", 0 },
	{ 1, 0, 5, NULL, 0 },       { 6, 0, 5, NULL, 0 },       { 17, 0, 3, NULL, 0 },
};
#define SERVICE_WEIGHT 100

static const uint32_t as_list[] = { 15169, 13335, 16509, 32934, 8075, 2906, 20940,
				    3356, 174, 6939, 396982, 212238, 1299, 3320 };
#define AS_TRANS 23456 /* RFC 6793: stands in for a 4-byte AS in 2-byte fields */

static const uint8_t v4_first_octet[] = { 23, 31, 45, 52, 64, 81, 91, 104, 142, 151,
					  157, 185, 199, 212, 216 };
static const uint16_t v6_first_word[] = { 0x2a00, 0x2606, 0x2001, 0x2620, 0x2a03, 0x2c0f,
					  0x2604, 0x2a02 };

static const char *const host_names[] = { "www.example.com", "api.example.org",
					  "cdn.example.net", "static.example.com",
					  "mail.example.org", "video.example.net" };
static const char *const url_paths[] = { "/", "/index.html", "/images/logo.png",
					 "/api/v1/items", "/search?q=netflow" };

#define N_HOSTS 5000    /* internal hosts per family */
#define N_SERVERS 20000 /* external servers per family */

/* Internal host k: 10.1.0.0/16 or 2001:db8:100::/48, one /24 or /64 per 250. */
static void host_addr(uint32_t k, bool v6, uint8_t a[16], uint8_t *mask)
{
	if (!v6) {
		uint8_t v4[4] = { 10, 1, (uint8_t)(k / 250), (uint8_t)(k % 250 + 1) };
		addr_set_v4(a, v4);
		*mask = 24;
	} else {
		memset(a, 0, 16);
		be16_store(a, 0x2001);
		be16_store(a + 2, 0x0db8);
		be16_store(a + 4, 0x0100);
		be16_store(a + 6, (uint16_t)(k / 250));
		be16_store(a + 14, (uint16_t)(k % 250 + 1));
		*mask = 64;
	}
}

/* External server k: a fixed pseudo-random public-looking address. */
static void server_addr(uint32_t k, bool v6, uint8_t a[16], uint8_t *mask)
{
	uint64_t h = hash_mix64(k + 0x5eedULL);

	if (!v6) {
		uint8_t v4[4];
		be32_store(v4, (uint32_t)h);
		v4[0] = v4_first_octet[(h >> 32) % sizeof(v4_first_octet)];
		v4[3] = (uint8_t)(v4[3] % 254 + 1);
		addr_set_v4(a, v4);
		*mask = (uint8_t)(16 + (h >> 40) % 9);
	} else {
		uint64_t h2 = hash_mix64(h);
		be16_store(a, v6_first_word[(h >> 32) % ARRAY_SIZE(v6_first_word)]);
		for (int i = 0; i < 6; i++) /* byte by byte: same on any endianness */
			a[2 + i] = (uint8_t)(h >> (8 * i));
		be64_store(a + 8, h2);
		a[15] |= 1;
		*mask = (uint8_t)(32 + (h >> 40) % 17);
	}
}

static uint32_t server_as(uint32_t k)
{
	return as_list[hash_mix64(k + 0xa5ULL) % ARRAY_SIZE(as_list)];
}

static const struct service *pick_service(struct gen_exp *e)
{
	uint64_t w = rnd_below(e, SERVICE_WEIGHT);

	for (size_t i = 0; i < ARRAY_SIZE(services); i++) {
		if (w < services[i].weight)
			return &services[i];
		w -= services[i].weight;
	}
	return &services[0];
}

/* Append s to the arena as string field f of r. */
static void put_str(struct flow_rec *r, enum flow_str f, char *arena, uint32_t *alen,
		    const char *s, size_t n)
{
	if (n > GEN_STR_MAX)
		n = GEN_STR_MAX;
	if (!n)
		return;
	memcpy(arena + *alen, s, n);
	r->str_off[f] = *alen;
	r->str_len[f] = (uint16_t)n;
	*alen += (uint32_t)n;
}

/* Draw one flow record of exporter e (index ei) exported at hdr_ms. */
static void make_flow(const struct gen *g, struct gen_exp *e, uint32_t ei, uint64_t hdr_ms,
		      struct flow_rec *r, char *arena, uint32_t *alen)
{
	const struct gen_cfg *c = &g->cfg;
	bool v6 = c->version != 5 && c->v6_share > 0 && rnd_unit(e) < c->v6_share;
	const struct service *sv = pick_service(e);
	uint32_t host = (uint32_t)rnd_zipf(e, N_HOSTS);
	uint32_t srv = (uint32_t)rnd_zipf(e, N_SERVERS);
	bool outbound = rnd_below(e, 2) == 0; /* internal host is the source */
	uint8_t hmask, smask, proto = sv->proto;
	uint8_t haddr[16], saddr[16];
	uint16_t eph = (uint16_t)rnd_range(e, 32768, 60999), sport, dport;
	uint32_t lan_if = 3 + host % 6, up_if = 1 + srv % 2;
	uint64_t pkts, bytes, dur;
	unsigned size_lo, size_hi;

	memset(r, 0, sizeof(*r));
	host_addr(host, v6, haddr, &hmask);
	server_addr(srv, v6, saddr, &smask);

	if (proto == 1) {
		static const uint16_t icmp4[] = { 0x0800, 0x0000, 0x0303, 0x0301, 0x0b00 };
		static const uint16_t icmp6[] = { 0x8000, 0x8100, 0x0104, 0x0300 };
		proto = v6 ? FLOW_PROTO_ICMP6 : FLOW_PROTO_ICMP;
		sport = 0;
		dport = v6 ? icmp6[rnd_below(e, 4)] : icmp4[rnd_below(e, 5)];
		pkts = rnd_range(e, 1, 10);
		size_lo = size_hi = v6 ? 104 : 84;
	} else {
		uint16_t svc = sv->port ? sv->port : (uint16_t)rnd_range(e, 1024, 65535);
		sport = outbound ? eph : svc;
		dport = outbound ? svc : eph;
		if (sv->port == 53 || sv->port == 123 || sv->port == 161 || sv->port == 514) {
			pkts = rnd_range(e, 1, 2);
			size_lo = 60;
			size_hi = 480;
		} else {
			pkts = 1 + rnd_zipf(e, 20000);
			/* data flows downstream: big packets towards the host */
			size_lo = outbound ? 52 : 400;
			size_hi = outbound ? 300 : 1500;
		}
		/* a rare elephant; beyond 32 bits only where the format allows */
		if (proto == 6 && rnd_below(e, 2000) == 0)
			pkts = c->version == 10 ? rnd_range(e, 3000000, 6000000)
						: rnd_range(e, 100000, 2000000);
	}
	bytes = 0;
	for (unsigned i = 0; i < 4 && i < pkts; i++)
		bytes += rnd_range(e, size_lo, size_hi);
	bytes = pkts <= 4 ? bytes : bytes * pkts / 4;

	r->proto = proto;
	r->src_port = sport;
	r->dst_port = dport;
	r->packets = pkts;
	r->bytes = bytes;
	if (proto == 6) {
		uint64_t f = rnd_below(e, 100);
		r->tcp_flags = f < 5 ? 0x02 : f < 8 ? 0x14 : f < 20 ? 0x18 : 0x1b;
		if (r->tcp_flags == 0x02) { /* a scan probe: one bare SYN */
			r->packets = 1;
			r->bytes = v6 ? 80 : 60;
		}
	}
	{
		uint64_t t = rnd_below(e, 100);
		r->tos = t < 85 ? 0 : t < 93 ? 0x28 : t < 98 ? 0xb8 : 0x02;
	}

	if (outbound) {
		memcpy(r->src_addr, haddr, 16);
		memcpy(r->dst_addr, saddr, 16);
		r->src_mask = hmask;
		r->dst_mask = smask;
		r->dst_as = server_as(srv);
		r->in_if = lan_if;
		r->out_if = up_if;
	} else {
		memcpy(r->src_addr, saddr, 16);
		memcpy(r->dst_addr, haddr, 16);
		r->src_mask = smask;
		r->dst_mask = hmask;
		r->src_as = server_as(srv);
		r->in_if = up_if;
		r->out_if = lan_if;
	}
	/* next hop: the uplink's peer, or the LAN gateway of the host */
	if (!v6) {
		uint8_t nh[4] = { 198, 51, 100, (uint8_t)up_if };
		if (!outbound) {
			nh[0] = 10;
			nh[1] = 1;
			nh[2] = (uint8_t)(host / 250);
			nh[3] = 254;
		}
		addr_set_v4(r->next_hop, nh);
	} else {
		memset(r->next_hop, 0, 16);
		be16_store(r->next_hop, 0x2001);
		be16_store(r->next_hop + 2, 0x0db8);
		if (outbound) {
			be16_store(r->next_hop + 4, 0xffff);
			r->next_hop[15] = (uint8_t)up_if;
		} else {
			be16_store(r->next_hop + 4, 0x0100);
			be16_store(r->next_hop + 6, (uint16_t)(host / 250));
			r->next_hop[15] = 0xfe;
		}
	}

	if (c->version == 5) {
		if (r->src_as > 65535)
			r->src_as = AS_TRANS;
		if (r->dst_as > 65535)
			r->dst_as = AS_TRANS;
		r->odid = ei & 0xffff; /* engine_type << 8 | engine_id */
	} else {
		r->direction = rnd_below(e, 10) == 0 ? FLOW_DIR_EGRESS : FLOW_DIR_INGRESS;
		r->vlan = rnd_below(e, 10) < 3 ? (uint16_t)(10 * lan_if) : 0;
		r->odid = ei;
	}

	/* Times: ends within 15 s (inactive timeout) before the export, lasts
	 * up to the 120 s active timeout. */
	dur = r->packets == 1 ? 0 : r->packets * rnd_range(e, 1, 200);
	if (dur > 120000)
		dur = rnd_range(e, 60000, 120000);
	r->last_ms = hdr_ms - rnd_below(e, 15000);
	r->first_ms = r->last_ms - dur;

	if (v6)
		r->flags |= FLOW_F_IP6;
	r->sampling = 1;
	r->version = c->version;
	memcpy(r->exporter, e->addr, 16);
	r->exp_port = c->dst_port;

	if (c->strings && sv->app) {
		char tmp[GEN_STR_MAX + 1];
		int n;
		put_str(r, FLOW_STR_APP, arena, alen, sv->app, strlen(sv->app));
		if (sv->web) {
			const char *h = host_names[srv % ARRAY_SIZE(host_names)];
			/* the head of the popularity curve gets its own names */
			n = srv < 50 ? snprintf(tmp, sizeof(tmp), "s%u.%s", srv, h)
				     : snprintf(tmp, sizeof(tmp), "%s", h);
			put_str(r, FLOW_STR_HTTP_HOST, arena, alen, tmp, (size_t)n);
		}
		if (sv->web == 2 && outbound) {
			const char *p = url_paths[rnd_below(e, ARRAY_SIZE(url_paths))];
			n = snprintf(tmp, sizeof(tmp), "%s", p);
			put_str(r, FLOW_STR_URL, arena, alen, tmp, (size_t)n);
		}
	}
}

/* ---- templates and encoding ---- */

static void tmpl_add(struct tmpl *t, uint16_t ie, uint16_t len, enum fkind k)
{
	if (k == K_FIRST_UP || k == K_FIRST_MS) /* fixed-length fields before it */
		for (unsigned i = 0; i < t->n; i++)
			t->time_pos = (uint16_t)(t->time_pos + t->f[i].len);
	t->f[t->n].ie = ie;
	t->f[t->n].len = len;
	t->f[t->n].kind = (uint8_t)k;
	t->n++;
}

/* Router-like templates: no exporter fields, v9 times relative to sysUpTime,
 * IPFIX times absolute in ms. */
static void tmpl_build(struct tmpl *t, uint8_t version, bool v6, bool strings)
{
	uint16_t cnt = version == 9 ? 4 : 8;

	t->n = 0;
	t->time_pos = 0;
	t->id = v6 ? (strings ? TID_V6_STR : TID_V6) : (strings ? TID_V4_STR : TID_V4);
	if (!v6) {
		tmpl_add(t, 8, 4, K_SRC4);
		tmpl_add(t, 12, 4, K_DST4);
		tmpl_add(t, 15, 4, K_NH4);
	} else {
		tmpl_add(t, 27, 16, K_SRC6);
		tmpl_add(t, 28, 16, K_DST6);
		tmpl_add(t, 62, 16, K_NH6);
	}
	tmpl_add(t, 7, 2, K_SPORT);
	tmpl_add(t, 11, 2, K_DPORT);
	tmpl_add(t, 4, 1, K_PROTO);
	tmpl_add(t, 6, 1, K_FLAGS);
	tmpl_add(t, 5, 1, K_TOS);
	tmpl_add(t, 10, 4, K_IN);
	tmpl_add(t, 14, 4, K_OUT);
	tmpl_add(t, 2, cnt, K_PKTS);
	tmpl_add(t, 1, cnt, K_BYTES);
	tmpl_add(t, 16, 4, K_SAS);
	tmpl_add(t, 17, 4, K_DAS);
	tmpl_add(t, v6 ? 29 : 9, 1, K_SMASK);
	tmpl_add(t, v6 ? 30 : 13, 1, K_DMASK);
	tmpl_add(t, 61, 1, K_DIR);
	tmpl_add(t, 58, 2, K_VLAN);
	if (version == 9) {
		tmpl_add(t, 22, 4, K_FIRST_UP);
		tmpl_add(t, 21, 4, K_LAST_UP);
	} else {
		tmpl_add(t, 152, 8, K_FIRST_MS);
		tmpl_add(t, 153, 8, K_LAST_MS);
	}
	if (strings) {
		tmpl_add(t, 96, 65535, K_APP);
		tmpl_add(t, 460, 65535, K_HOST);
		tmpl_add(t, 461, 65535, K_URL);
	}
}

static void put_uint(uint8_t *p, unsigned len, uint64_t v)
{
	for (unsigned i = len; i-- > 0;) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

/* Encode one record with template t at p; returns bytes written. */
static size_t enc_rec(const struct tmpl *t, const struct flow_rec *r, const char *arena,
		      uint64_t boot_ms, uint8_t *p)
{
	uint8_t *start = p;

	for (unsigned i = 0; i < t->n; i++) {
		const struct tfield *f = &t->f[i];
		uint64_t v = 0;
		int s = -1;

		switch ((enum fkind)f->kind) {
		case K_SRC4: memcpy(p, r->src_addr + 12, 4); p += 4; continue;
		case K_DST4: memcpy(p, r->dst_addr + 12, 4); p += 4; continue;
		case K_NH4: memcpy(p, r->next_hop + 12, 4); p += 4; continue;
		case K_SRC6: memcpy(p, r->src_addr, 16); p += 16; continue;
		case K_DST6: memcpy(p, r->dst_addr, 16); p += 16; continue;
		case K_NH6: memcpy(p, r->next_hop, 16); p += 16; continue;
		case K_SPORT: v = r->src_port; break;
		case K_DPORT: v = r->dst_port; break;
		case K_PROTO: v = r->proto; break;
		case K_FLAGS: v = r->tcp_flags; break;
		case K_TOS: v = r->tos; break;
		case K_IN: v = r->in_if; break;
		case K_OUT: v = r->out_if; break;
		case K_PKTS: v = r->packets; break;
		case K_BYTES: v = r->bytes; break;
		case K_SAS: v = r->src_as; break;
		case K_DAS: v = r->dst_as; break;
		case K_SMASK: v = r->src_mask; break;
		case K_DMASK: v = r->dst_mask; break;
		case K_DIR: v = r->direction; break;
		case K_VLAN: v = r->vlan; break;
		case K_FIRST_UP: v = r->first_ms - boot_ms; break;
		case K_LAST_UP: v = r->last_ms - boot_ms; break;
		case K_FIRST_MS: v = r->first_ms; break;
		case K_LAST_MS: v = r->last_ms; break;
		case K_APP: s = FLOW_STR_APP; break;
		case K_HOST: s = FLOW_STR_HTTP_HOST; break;
		case K_URL: s = FLOW_STR_URL; break;
		}
		if (s >= 0) { /* strings are at most GEN_STR_MAX: 1-byte length */
			uint16_t n = r->str_len[s];
			*p++ = (uint8_t)n;
			if (n)
				memcpy(p, arena + r->str_off[s], n);
			p += n;
			continue;
		}
		put_uint(p, f->len, v);
		p += f->len;
	}
	return (size_t)(p - start);
}

static size_t enc_templates(const struct gen *g, uint8_t *p)
{
	uint8_t *s = p;

	be16_store(p, g->cfg.version == 9 ? 0 : 2);
	p += 4;
	for (int i = 0; i < 2; i++) {
		const struct tmpl *t = &g->tmpl[i];
		be16_store(p, t->id);
		be16_store(p + 2, t->n);
		p += 4;
		for (unsigned k = 0; k < t->n; k++) {
			be16_store(p, t->f[k].ie);
			be16_store(p + 2, t->f[k].len);
			p += 4;
		}
	}
	be16_store(s + 2, (uint16_t)(p - s));
	return (size_t)(p - s);
}

/* One 48-byte NetFlow v5 record. */
static void enc_v5_rec(const struct flow_rec *r, uint64_t boot_ms, uint8_t *p)
{
	memcpy(p, r->src_addr + 12, 4);
	memcpy(p + 4, r->dst_addr + 12, 4);
	memcpy(p + 8, r->next_hop + 12, 4);
	be16_store(p + 12, (uint16_t)r->in_if);
	be16_store(p + 14, (uint16_t)r->out_if);
	be32_store(p + 16, (uint32_t)r->packets);
	be32_store(p + 20, (uint32_t)r->bytes);
	be32_store(p + 24, (uint32_t)(r->first_ms - boot_ms));
	be32_store(p + 28, (uint32_t)(r->last_ms - boot_ms));
	be16_store(p + 32, r->src_port);
	be16_store(p + 34, r->dst_port);
	p[36] = 0;
	p[37] = r->tcp_flags;
	p[38] = r->proto;
	p[39] = r->tos;
	be16_store(p + 40, (uint16_t)r->src_as);
	be16_store(p + 42, (uint16_t)r->dst_as);
	p[44] = r->src_mask;
	p[45] = r->dst_mask;
	be16_store(p + 46, 0);
}

/* ---- public ---- */

void gen_cfg_default(struct gen_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->version = 10;
	cfg->exporters = 1;
	cfg->flows = 0;
	cfg->seed = 1;
	cfg->per_packet = 30;
	cfg->tmpl_refresh = 20;
	cfg->v6_share = 0.2;
	cfg->start_ms = GEN_DEFAULT_START_MS;
	cfg->interval_ms = 100;
	cfg->dst_port = 2055;
}

void gen_exporter_addr(const struct gen_cfg *cfg, uint32_t i, uint8_t addr[16])
{
	if (cfg->exporter_v6) {
		memset(addr, 0, 16);
		be16_store(addr, 0x2001);
		be16_store(addr + 2, 0x0db8);
		be16_store(addr + 12, 0x000e);
		be16_store(addr + 14, (uint16_t)(i + 1));
	} else if (i < 254) {
		uint8_t v4[4] = { 192, 0, 2, (uint8_t)(i + 1) };
		addr_set_v4(addr, v4);
	} else {
		uint32_t k = i - 254 + 1; /* 198.18.0.1 upward, skipping .0 and .255 */
		uint8_t v4[4] = { 198, (uint8_t)(18 + k / (254 * 256)),
				  (uint8_t)(k / 254 % 256), (uint8_t)(k % 254 + 1) };
		addr_set_v4(addr, v4);
	}
}

struct gen *gen_new(const struct gen_cfg *cfg)
{
	struct gen *g;
	uint32_t maxpp;

	if (!cfg || (cfg->version != 5 && cfg->version != 9 && cfg->version != 10) ||
	    !cfg->exporters || cfg->exporters > GEN_MAX_EXPORTERS || !cfg->per_packet ||
	    !(cfg->v6_share >= 0.0 && cfg->v6_share <= 1.0) ||
	    (cfg->strings && cfg->version != 10) || !cfg->dst_port) {
		errno = EINVAL;
		return NULL;
	}
	maxpp = cfg->version == 5 ? 30 : GEN_MAX_PER_PACKET;
	if (cfg->per_packet > maxpp || (cfg->version != 5 && !cfg->tmpl_refresh)) {
		errno = EINVAL;
		return NULL;
	}
	g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->cfg = *cfg;
	if (g->cfg.version == 5)
		g->cfg.v6_share = 0;
	g->arena_cap = cfg->per_packet * FLOW_STR_MAX * GEN_STR_MAX;
	g->exp = calloc(cfg->exporters, sizeof(*g->exp));
	g->buf = malloc(GEN_PKT_CAP);
	g->recs = calloc(cfg->per_packet, sizeof(*g->recs));
	g->tmp = calloc(cfg->per_packet, sizeof(*g->tmp));
	g->pos = calloc(cfg->per_packet, sizeof(*g->pos));
	g->arena = malloc(g->arena_cap);
	g->tmp_arena = malloc(g->arena_cap);
	if (!g->exp || !g->buf || !g->recs || !g->tmp || !g->pos || !g->arena || !g->tmp_arena) {
		gen_free(g);
		errno = ENOMEM;
		return NULL;
	}
	for (uint32_t i = 0; i < cfg->exporters; i++) {
		struct gen_exp *e = &g->exp[i];
		uint64_t s = cfg->seed ^ hash_mix64(i + 1);
		for (int k = 0; k < 4; k++)
			e->rng[k] = splitmix(&s);
		/* booted 1 to ~3.7 days before the start: sysUpTime stays far from
		 * its 49.7-day wrap for any run length we generate */
		e->boot_ms = cfg->start_ms - 86400000ULL - (uint64_t)(i % 64) * 3600000ULL -
			     (hash_mix64(i) % 1000);
		gen_exporter_addr(cfg, i, e->addr);
		e->src_port = (uint16_t)(50000 + hash_mix64(i + 7) % 10000);
	}
	if (cfg->version != 5) {
		tmpl_build(&g->tmpl[0], cfg->version, false, cfg->strings);
		tmpl_build(&g->tmpl[1], cfg->version, true, cfg->strings);
	}
	return g;
}

void gen_free(struct gen *g)
{
	if (!g)
		return;
	free(g->exp);
	free(g->buf);
	free(g->recs);
	free(g->tmp);
	free(g->pos);
	free(g->arena);
	free(g->tmp_arena);
	free(g);
}

void gen_stats(const struct gen *g, struct gen_stats *out)
{
	*out = g->st;
}

/* Copy the v4 (fam 0) or v6 (fam 1) records of tmp into recs, re-basing
 * their strings into the packet arena, so recs follow packet order. */
static uint32_t gather(struct gen *g, uint32_t n, int fam, uint32_t at, uint32_t *alen)
{
	for (uint32_t i = 0; i < n; i++) {
		struct flow_rec *r = &g->recs[at];
		if (!!(g->tmp[i].flags & FLOW_F_IP6) != fam)
			continue;
		*r = g->tmp[i];
		for (int s = 0; s < FLOW_STR_MAX; s++) {
			if (!r->str_len[s]) {
				r->str_off[s] = 0;
				continue;
			}
			memcpy(g->arena + *alen, g->tmp_arena + r->str_off[s], r->str_len[s]);
			r->str_off[s] = *alen;
			*alen += r->str_len[s];
		}
		at++;
	}
	return at;
}

int gen_next(struct gen *g, uint32_t max_recs, struct gen_pkt *out)
{
	const struct gen_cfg *c = &g->cfg;
	struct gen_exp *e;
	uint32_t ei, n, tmp_alen = 0, alen = 0, ntmpl = 0, seq_inc;
	uint64_t t_ms, hdr_ms;
	uint8_t *p;

	if (g->done)
		return 0;
	ei = g->cur;
	e = &g->exp[ei];
	if (c->flows && e->flows_done >= c->flows) {
		g->done = true; /* every exporter has the same M: all are done */
		return 0;
	}
	n = max_recs && max_recs < c->per_packet ? max_recs : c->per_packet;
	if (c->flows && c->flows - e->flows_done < n)
		n = (uint32_t)(c->flows - e->flows_done);

	/* exporters spread evenly over one interval */
	t_ms = c->start_ms + e->pkt_no * c->interval_ms +
	       (uint64_t)ei * c->interval_ms / c->exporters;
	hdr_ms = t_ms / 1000 * 1000;

	for (uint32_t i = 0; i < n; i++)
		make_flow(g, e, ei, hdr_ms, &g->tmp[i], g->tmp_arena, &tmp_alen);
	/* packet order: the IPv4 data set, then the IPv6 one */
	{
		uint32_t at = gather(g, n, 0, 0, &alen);
		gather(g, n, 1, at, &alen);
	}

	p = g->buf;
	if (c->version == 5) {
		be16_store(p, 5);
		be16_store(p + 2, (uint16_t)n);
		be32_store(p + 4, (uint32_t)(hdr_ms - e->boot_ms));
		be32_store(p + 8, (uint32_t)(hdr_ms / 1000));
		be32_store(p + 12, 0);
		be32_store(p + 16, e->seq);
		p[20] = (uint8_t)(ei >> 8);
		p[21] = (uint8_t)ei;
		be16_store(p + 22, 0); /* not sampled */
		p += 24;
		for (uint32_t i = 0; i < n; i++, p += 48) {
			g->pos[i].off = (uint16_t)(p - g->buf);
			g->pos[i].len = 48;
			g->pos[i].time = (uint16_t)(p - g->buf + 24);
			enc_v5_rec(&g->recs[i], e->boot_ms, p);
		}
		seq_inc = n;
	} else {
		size_t hl = c->version == 9 ? 20 : 16;
		p += hl;
		if (e->pkt_no % c->tmpl_refresh == 0) {
			p += enc_templates(g, p);
			ntmpl = 2;
		}
		/* recs are in packet order (gather): the v4 ones, then the v6 ones */
		for (int fam = 0, i = 0; fam < 2; fam++) {
			const struct tmpl *t = &g->tmpl[fam];
			uint8_t *set = p;
			uint32_t cnt = 0;
			p += 4;
			for (; (uint32_t)i < n && !!(g->recs[i].flags & FLOW_F_IP6) == fam; i++) {
				size_t l = enc_rec(t, &g->recs[i], g->arena, e->boot_ms, p);
				g->pos[i].off = (uint16_t)(p - g->buf);
				g->pos[i].len = (uint16_t)l;
				g->pos[i].time = (uint16_t)(p - g->buf + t->time_pos);
				p += l;
				cnt++;
			}
			if (!cnt) {
				p = set;
				continue;
			}
			/* v9 pads sets to 32 bits like routers do (RFC 3954 §5.3) */
			while (c->version == 9 && (p - set) % 4)
				*p++ = 0;
			be16_store(set, t->id);
			be16_store(set + 2, (uint16_t)(p - set));
		}
		if (c->version == 9) {
			be16_store(g->buf, 9);
			be16_store(g->buf + 2, (uint16_t)(n + ntmpl));
			be32_store(g->buf + 4, (uint32_t)(hdr_ms - e->boot_ms));
			be32_store(g->buf + 8, (uint32_t)(hdr_ms / 1000));
			be32_store(g->buf + 12, e->seq);
			be32_store(g->buf + 16, ei);
			seq_inc = 1;
		} else {
			be16_store(g->buf, 10);
			be16_store(g->buf + 2, (uint16_t)(p - g->buf));
			be32_store(g->buf + 4, (uint32_t)(t_ms / 1000));
			be32_store(g->buf + 8, e->seq);
			be32_store(g->buf + 12, ei);
			seq_inc = n;
		}
	}

	memset(out, 0, sizeof(*out));
	out->data = g->buf;
	out->len = (size_t)(p - g->buf);
	out->exporter = ei;
	memcpy(out->src_addr, e->addr, 16);
	out->src_port = e->src_port;
	out->dst_port = c->dst_port;
	out->time_ms = t_ms;
	out->n_templates = ntmpl;
	out->recs = g->recs;
	out->pos = g->pos;
	out->n_recs = n;
	out->arena = g->arena;
	out->arena_len = alen;

	e->seq += seq_inc;
	e->flows_done += n;
	e->pkt_no++;
	g->cur = (ei + 1) % c->exporters;
	g->st.packets++;
	g->st.records += n;
	g->st.bytes += out->len;
	g->st.templates += ntmpl;
	return 1;
}

int gen_rec_diff(const struct flow_rec *a, const char *arena_a, const struct flow_rec *b,
		 const char *arena_b, char *why, size_t why_len)
{
#define NUM(f)                                                                          \
	if (a->f != b->f) {                                                             \
		if (why_len)                                                            \
			snprintf(why, why_len, #f ": %llu != %llu", (unsigned long long)a->f, \
				 (unsigned long long)b->f);                             \
		return -1;                                                              \
	}
#define ADDR(f)                                                                         \
	if (memcmp(a->f, b->f, 16)) {                                                   \
		char x[ADDR_STRLEN], y[ADDR_STRLEN];                                    \
		if (why_len)                                                            \
			snprintf(why, why_len, #f ": %s != %s", addr_format(a->f, true, x, sizeof(x)), \
				 addr_format(b->f, true, y, sizeof(y)));                \
		return -1;                                                              \
	}
	NUM(first_ms) NUM(last_ms) NUM(packets) NUM(bytes) NUM(rev_packets) NUM(rev_bytes)
	ADDR(src_addr) ADDR(dst_addr) ADDR(next_hop) ADDR(exporter)
	NUM(odid) NUM(sampling) NUM(in_if) NUM(out_if) NUM(src_as) NUM(dst_as)
	NUM(src_port) NUM(dst_port) NUM(exp_port) NUM(vlan) NUM(proto) NUM(tcp_flags)
	NUM(tos) NUM(src_mask) NUM(dst_mask) NUM(direction) NUM(flags) NUM(version)
#undef NUM
#undef ADDR
	for (int s = 0; s < FLOW_STR_MAX; s++) {
		const char *x = arena_a ? arena_a + a->str_off[s] : "";
		const char *y = arena_b ? arena_b + b->str_off[s] : "";
		if (a->str_len[s] != b->str_len[s] ||
		    (a->str_len[s] && memcmp(x, y, a->str_len[s]))) {
			if (why_len)
				snprintf(why, why_len, "string %d: \"%.*s\" != \"%.*s\"", s,
					 (int)a->str_len[s], a->str_len[s] ? x : "",
					 (int)b->str_len[s], b->str_len[s] ? y : "");
			return -1;
		}
	}
	return 0;
}
