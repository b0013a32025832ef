/* record.h — the canonical flow record every decoder produces (DESIGN §3).
 *
 * One fixed-size struct, no pointers: records move through rings, message
 * buffers and column writers by copy. Optional strings live in the arena of
 * the batch that carries the record and are referenced by offset/length.
 */
#ifndef FLOW_RECORD_H
#define FLOW_RECORD_H

#include <stddef.h>
#include <stdint.h>

/* Our own enterprise number for Flowdelta-specific IEs, set in this one place.
 * 32473 is the PEN reserved for documentation (RFC 5612) and stands in until
 * the product's own PEN is assigned. */
#define FLOW_PEN_FLOWDELTA 32473u
/* RFC 5103: reverse-direction information elements. */
#define FLOW_PEN_REVERSE 29305u

/* Optional string fields. */
enum flow_str {
	FLOW_STR_APP = 0,   /* application name (IE 96) */
	FLOW_STR_HTTP_HOST, /* IE 460 httpRequestHost */
	FLOW_STR_URL,       /* IE 461 httpRequestTarget */
	FLOW_STR_SNI,       /* TLS SNI or DNS query name (our PEN, IE 1) */
	FLOW_STR_MAX
};

/* Longest string kept per field; longer values are truncated and counted. */
#define FLOW_STR_CAP 1024

/* record flags */
#define FLOW_F_IP6 0x01    /* src/dst are IPv6 (else v4-mapped) */
#define FLOW_F_BIFLOW 0x02 /* rev_packets/rev_bytes are meaningful */

/* direction values (IE 61) */
#define FLOW_DIR_INGRESS 0
#define FLOW_DIR_EGRESS 1

struct flow_rec {
	uint64_t first_ms; /* flow start, ms since the Unix epoch, UTC */
	uint64_t last_ms;  /* flow end */
	uint64_t packets;  /* as exported: never scaled by sampling */
	uint64_t bytes;
	uint64_t rev_packets; /* RFC 5103 biflow reverse counters */
	uint64_t rev_bytes;
	uint8_t src_addr[16]; /* util/addr.h form: v4-mapped or IPv6 */
	uint8_t dst_addr[16];
	uint8_t next_hop[16];
	uint8_t exporter[16]; /* transport source address of the export */
	uint32_t odid;        /* IPFIX ODID, v9 source id, v5 engine type<<8|id */
	uint32_t sampling;    /* 1-in-N the counters were taken at; 1 = unsampled */
	uint32_t in_if;
	uint32_t out_if;
	uint32_t src_as;
	uint32_t dst_as;
	uint16_t src_port; /* ICMP: 0 */
	uint16_t dst_port; /* ICMP: type * 256 + code */
	uint16_t exp_port; /* the collector port the export arrived at */
	uint16_t vlan;
	uint8_t proto;
	uint8_t tcp_flags;
	uint8_t tos;
	uint8_t src_mask;
	uint8_t dst_mask;
	uint8_t direction;
	uint8_t flags;   /* FLOW_F_* */
	uint8_t version; /* export protocol it came from: 5, 9 or 10 */
	/* strings: offset/length into the carrying batch's arena; len 0 = absent */
	uint32_t str_off[FLOW_STR_MAX];
	uint16_t str_len[FLOW_STR_MAX];
};

/* The IPFIX encoder and the decoder's canonical fast path move runs of these
 * fields as blocks: keep them contiguous and in this order. */
_Static_assert(offsetof(struct flow_rec, packets) == 16 && offsetof(struct flow_rec, bytes) == 24 &&
		       offsetof(struct flow_rec, rev_packets) == 32 &&
		       offsetof(struct flow_rec, src_addr) == 48 &&
		       offsetof(struct flow_rec, dst_addr) == 64 &&
		       offsetof(struct flow_rec, next_hop) == 80 &&
		       offsetof(struct flow_rec, exporter) == 96 &&
		       offsetof(struct flow_rec, odid) == 112 &&
		       offsetof(struct flow_rec, dst_as) == 132 &&
		       offsetof(struct flow_rec, src_port) == 136 &&
		       offsetof(struct flow_rec, vlan) == 142 &&
		       offsetof(struct flow_rec, proto) == 144 &&
		       offsetof(struct flow_rec, flags) == 150 &&
		       offsetof(struct flow_rec, version) == 151 && sizeof(struct flow_rec) == 176,
	       "flow_rec layout is part of the codec's contract");

#endif
