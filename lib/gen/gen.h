/* gen.h — deterministic synthetic flow exporter (NetFlow v5, v9, IPFIX).
 *
 * Used by `flowdelta gen`, by the tests (decode(gen) must equal what gen says
 * it sent, field by field) and by benchmarks. A generator simulates N
 * router-like exporters with M flows each; every call to gen_next() builds
 * one export packet of one exporter and also returns the canonical records
 * (lib/flow/record.h) that packet carries, exactly as a correct decoder must
 * produce them.
 *
 * The output depends only on the configuration (seed included): the same
 * gen_cfg gives the same bytes on every run and every machine. Each exporter
 * has its own random stream, so its packets do not change when the number of
 * exporters changes.
 *
 * Memory is allocated once in gen_new() (one packet buffer, one record array,
 * one string arena); gen_next() allocates nothing.
 *
 * The frame helpers at the end build Ethernet/IPv4|IPv6/UDP|TCP frames for
 * pcap files (gen_frame.c); they are independent of the generator.
 */
#ifndef GEN_GEN_H
#define GEN_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow/record.h"

/* 2026-01-01T00:00:00Z: default start, so default output is reproducible. */
#define GEN_DEFAULT_START_MS 1767225600000ULL
#define GEN_MAX_PER_PACKET 200  /* v9/IPFIX; v5 is limited to 30 by its format */
#define GEN_MAX_EXPORTERS 65535
#define GEN_STR_MAX 64          /* longest generated string value */
#define GEN_PKT_CAP 65507       /* largest UDP payload over IPv4 */

struct gen_cfg {
	uint8_t version;        /* 5, 9 or 10 (IPFIX); default 10 */
	uint32_t exporters;     /* N; default 1, at most GEN_MAX_EXPORTERS */
	uint64_t flows;         /* M flows per exporter; 0 = no end */
	uint64_t seed;          /* default 1 */
	uint32_t per_packet;    /* records per packet; default 30 (v5: at most 30) */
	uint32_t tmpl_refresh;  /* v9/IPFIX: templates every K packets; default 20 */
	double v6_share;        /* share of IPv6 flows in [0, 1]; default 0.2, v5: 0 */
	bool strings;           /* IPFIX only: IEs 96/460/461 (app, host, URL) */
	bool exporter_v6;       /* exporters are 2001:db8::x instead of 192.0.2.x */
	uint64_t start_ms;      /* export time of the first packet; default GEN_DEFAULT_START_MS */
	uint32_t interval_ms;   /* time between two packets of one exporter; default 100 */
	uint16_t dst_port;      /* collector port, goes into exp_port; default 2055 */
};

/* Fill cfg with the defaults above. */
void gen_cfg_default(struct gen_cfg *cfg);

/* Where one data record sits in its packet: offset and length of its bytes
 * and offset of its start-time field (v5/v9: 4-byte sysUpTime-relative
 * First, then Last; IPFIX: 8-byte flowStartMilliseconds, then
 * flowEndMilliseconds). */
struct gen_rec_pos {
	uint16_t off, len, time;
};

/* One export packet, valid until the next gen_next()/gen_free(). */
struct gen_pkt {
	const uint8_t *data;       /* the NetFlow/IPFIX payload of the UDP datagram */
	size_t len;
	uint32_t exporter;         /* index 0..N-1 */
	uint8_t src_addr[16];      /* exporter address, util/addr.h form */
	uint16_t src_port;         /* exporter's UDP source port */
	uint16_t dst_port;         /* cfg.dst_port */
	uint64_t time_ms;          /* when the exporter sends it (pcap timestamp) */
	uint32_t n_templates;      /* template records in this packet */
	/* What a decoder must deliver for this packet, in packet order. */
	const struct flow_rec *recs;
	const struct gen_rec_pos *pos; /* where each record sits in data */
	uint32_t n_recs;
	const char *arena;         /* recs[i].str_off index into it */
	uint32_t arena_len;
};

struct gen;

/* Create a generator. Returns NULL with errno set: EINVAL for a bad
 * configuration (version, per_packet out of range, strings without IPFIX,
 * v6_share outside [0, 1], too many exporters), ENOMEM. Free with gen_free(). */
struct gen *gen_new(const struct gen_cfg *cfg);
void gen_free(struct gen *g); /* accepts NULL */

/* Build the next packet into *out. max_recs > 0 caps its data records (to
 * stop at an exact record count); 0 means cfg.per_packet. Packets go out
 * round-robin over the exporters that still have flows, in time order.
 * Returns 1 with a packet, 0 when every exporter has sent its M flows. */
int gen_next(struct gen *g, uint32_t max_recs, struct gen_pkt *out);

/* Totals so far. */
struct gen_stats {
	uint64_t packets;
	uint64_t records;
	uint64_t bytes;   /* payload bytes */
	uint64_t templates;
};
void gen_stats(const struct gen *g, struct gen_stats *out);

/* ---- pool mode (gen_pool.c): encode once, send many times ----
 *
 * A pool holds packets drawn once from a generator (round 0: exactly the
 * packets gen_next() gives) and hands them out again and again, round
 * after round, for senders that must not spend their time encoding. Round
 * k is round 0 shifted k * shift_ms later: the header time (and v5/v9
 * sysUpTime) and every record's start and end times move by the same whole
 * number of seconds, so each round's records are distinct from the other
 * rounds' (per-flow collectors keep them apart) and still decode to exact
 * milliseconds. Sequence numbers keep counting per exporter domain as
 * gen_next() counts them. Per packet the pool patches the header and two
 * time fields per record in place; nothing else is touched. */
struct gen_pool;

/* One packet handed out by gen_pool_next(). */
struct gen_pool_pkt {
	const uint8_t *data;
	size_t len;
	uint32_t exporter;
	uint16_t src_port;   /* the exporter's UDP source port */
	uint32_t n_recs;
	uint32_t slot;       /* packet index in the pool */
	uint64_t round;
	uint64_t time_ms;    /* when the exporter sends it */
};

/* Draw cfg->exporters * per_exporter packets from a generator made with
 * cfg and keep them. keep_recs: also keep their canonical records, for
 * gen_pool_expect(). Returns NULL with errno: EINVAL (what gen_new()
 * refuses, per_exporter 0, or cfg->flows ends before the pool is full),
 * ENOMEM. Free with gen_pool_free(). */
struct gen_pool *gen_pool_new(const struct gen_cfg *cfg, uint32_t per_exporter, bool keep_recs);
void gen_pool_free(struct gen_pool *p); /* accepts NULL */

/* Packets in the pool (exporters * per_exporter). */
uint32_t gen_pool_size(const struct gen_pool *p);

/* Time shift between two rounds, in ms (a multiple of 1000). */
uint64_t gen_pool_shift_ms(const struct gen_pool *p);

/* The next packet, patched for its round. max_recs > 0 caps its records
 * (the packet is then re-cut, to stop at an exact record count); 0 sends it
 * whole. out->data stays valid until the same slot comes round again, i.e.
 * for gen_pool_size() - 1 more calls (a cut packet: until the next cut).
 * Never fails. */
void gen_pool_next(struct gen_pool *p, uint32_t max_recs, struct gen_pool_pkt *out);

/* With keep_recs: write the canonical records pk carries (pk->n_recs of
 * them) to out, strings pointing into *arena. */
void gen_pool_expect(const struct gen_pool *p, const struct gen_pool_pkt *pk,
		     struct flow_rec *out, const char **arena);

/* Address of exporter i (util/addr.h form): 192.0.2.1..254 for the first
 * 254, then 198.18.0.0/15 (RFC 2544 benchmarking range); with exporter_v6,
 * 2001:db8::e:i+1. */
void gen_exporter_addr(const struct gen_cfg *cfg, uint32_t i, uint8_t addr[16]);

/* Compare two records field by field (strings by content, each in its own
 * arena). Returns 0 when equal, else -1 with the name of the first differing
 * field and both values written to why (if why_len > 0). */
int gen_rec_diff(const struct flow_rec *a, const char *arena_a, const struct flow_rec *b,
		 const char *arena_b, char *why, size_t why_len);

/* ---- frames for pcap files (gen_frame.c) ----
 * Addresses are util/addr.h form: a v4-mapped pair gives IPv4, else IPv6
 * (both must be of one family). Ethernet header with locally administered
 * MACs; checksums are computed. Each returns the frame length, or 0 when it
 * does not fit in cap. */
#define GEN_FRAME_CAP (65535 + 14 + 40 + 8)

/* Ethernet + IP + UDP. */
size_t gen_frame_udp(uint8_t *buf, size_t cap, const uint8_t src[16], const uint8_t dst[16],
		     uint16_t sport, uint16_t dport, const uint8_t *payload, size_t len);

/* TCP flag bits for gen_frame_tcp(). */
#define GEN_TCP_FIN 0x01
#define GEN_TCP_SYN 0x02
#define GEN_TCP_RST 0x04
#define GEN_TCP_PSH 0x08
#define GEN_TCP_ACK 0x10

/* Ethernet + IP + TCP (20-byte header, no options). */
size_t gen_frame_tcp(uint8_t *buf, size_t cap, const uint8_t src[16], const uint8_t dst[16],
		     uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
		     const uint8_t *payload, size_t len);

/* The UDP header + payload (the IP payload) as gen_frame_udp() would carry
 * it, checksum included: to fragment it with gen_frame_ip_frag(). Returns
 * 8 + len, or 0 when it does not fit. */
size_t gen_udp_build(uint8_t *buf, size_t cap, const uint8_t src[16], const uint8_t dst[16],
		     uint16_t sport, uint16_t dport, const uint8_t *payload, size_t len);

/* Ethernet + IP fragment carrying l4[0..len) at byte offset off (a multiple
 * of 8 unless it is the last fragment) of an IP payload of protocol proto.
 * IPv4: identification id, MF = more. IPv6: a fragment extension header with
 * identification id. */
size_t gen_frame_ip_frag(uint8_t *buf, size_t cap, const uint8_t src[16], const uint8_t dst[16],
			 uint8_t proto, uint32_t id, uint32_t off, bool more, const uint8_t *l4,
			 size_t len);

#endif
