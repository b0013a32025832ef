/* pcapin.h — read flow exports out of pcap/pcapng captures.
 *
 * A parser of untrusted files: every length is checked before it is used,
 * every malformed frame increments a named counter and is skipped, and all
 * state is bounded (fragment table, TCP stream table, out-of-order bytes).
 *
 * Link layers: Ethernet (up to 2 VLAN tags), Linux cooked v1/v2, raw IP,
 * BSD loopback (NULL/LOOP). IPv4 and IPv6 (extension headers walked), IPv4
 * and IPv6 fragments reassembled. UDP datagrams to the chosen ports are
 * handed over as they are; TCP streams to those ports (the exporter → us
 * direction only) are reassembled in order and handed over as byte chunks.
 * IP/UDP/TCP checksums are not verified: captures taken on the sending host
 * carry offloaded, not-yet-computed checksums.
 */
#ifndef CLI_PCAPIN_H
#define CLI_PCAPIN_H

#include <stddef.h>
#include <stdint.h>

/* X(name, is_drop, description): "info" counters count what was seen,
 * "drop" counters are malformed or lost input, by reason. */
#define PCAPIN_CTR_LIST(X)                                                         \
	X(files, 0, "capture files read")                                          \
	X(frames, 0, "frames read")                                                \
	X(ip4, 0, "IPv4 packets")                                                  \
	X(ip6, 0, "IPv6 packets")                                                  \
	X(udp, 0, "UDP datagrams to a flow port, delivered")                       \
	X(tcp_segments, 0, "TCP segments to a flow port")                          \
	X(tcp_streams, 0, "TCP streams opened")                                    \
	X(tcp_bytes, 0, "TCP stream bytes delivered in order")                     \
	X(tcp_midstream, 0, "TCP streams picked up without their SYN")             \
	X(frag_reassembled, 0, "IP datagrams reassembled from fragments")          \
	X(other_port, 0, "UDP/TCP not to a flow port: ignored")                    \
	X(other_proto, 0, "IP payload neither UDP nor TCP: ignored")               \
	X(not_ip, 0, "frames that carry neither IPv4 nor IPv6: ignored")           \
	X(caplen_short, 1, "frame cut by the capture's snap length")               \
	X(link_unsupported, 1, "link type not supported: file skipped")            \
	X(l2_short, 1, "link-layer header truncated")                              \
	X(vlan_too_deep, 1, "more than 2 VLAN tags")                               \
	X(ip4_bad_hdr, 1, "IPv4 header truncated or invalid")                      \
	X(ip4_bad_len, 1, "IPv4 total length beyond the frame")                    \
	X(ip6_bad_hdr, 1, "IPv6 header truncated or invalid")                      \
	X(ip6_bad_len, 1, "IPv6 payload length beyond the frame")                  \
	X(ip6_bad_ext, 1, "IPv6 extension header chain truncated or too long")     \
	X(frag_bad, 1, "inconsistent fragment (size, offset, total)")              \
	X(frag_overlap, 1, "overlapping fragment: ignored")                        \
	X(frag_too_big, 1, "fragments beyond 65535 bytes")                         \
	X(frag_table_full, 1, "partial datagram evicted: fragment table full")     \
	X(frag_timeout, 1, "partial datagram expired (30 s) or left at the end")   \
	X(udp_bad_hdr, 1, "UDP header truncated or length invalid")                \
	X(tcp_bad_hdr, 1, "TCP header truncated or data offset invalid")           \
	X(tcp_retrans, 1, "TCP segments wholly retransmitted: dropped")            \
	X(tcp_window, 1, "TCP segment too far ahead of the stream: dropped")       \
	X(tcp_ooo_full, 1, "TCP segment dropped: out-of-order buffer full")        \
	X(tcp_table_full, 1, "TCP stream evicted: stream table full")              \
	X(tcp_gap, 1, "TCP stream closed with missing bytes (RST, hole, end)")

enum pcapin_ctr {
#define PCAPIN_CTR_ENUM(n, k, d) PCAPIN_##n,
	PCAPIN_CTR_LIST(PCAPIN_CTR_ENUM)
#undef PCAPIN_CTR_ENUM
	PCAPIN_CTR_MAX
};

const char *pcapin_ctr_name(enum pcapin_ctr c);
const char *pcapin_ctr_desc(enum pcapin_ctr c);
int pcapin_ctr_is_drop(enum pcapin_ctr c);

/* One UDP datagram. Pointers valid during the callback only. */
struct pcapin_udp {
	uint8_t src[16], dst[16]; /* util/addr.h form */
	uint16_t sport, dport;
	const uint8_t *data;
	size_t len;
	uint64_t ts_ms; /* capture timestamp */
};

/* One TCP stream event. DATA: the next in-order bytes of the stream.
 * CLOSE: the stream ended (FIN reached, RST, eviction or pcapin_flush()),
 * last call for it. *user is the caller's per-stream slot: NULL at the first
 * event, kept from call to call; the caller frees what it put there on CLOSE. */
enum pcapin_tcp_ev { PCAPIN_TCP_DATA, PCAPIN_TCP_CLOSE };

struct pcapin_tcp {
	enum pcapin_tcp_ev ev;
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	const uint8_t *data;
	size_t len;
	uint64_t ts_ms;
	void **user;
};

struct pcapin_cfg {
	const uint16_t *ports; /* destination ports to keep; n_ports 0 = all */
	unsigned n_ports;
	void (*udp)(void *ctx, const struct pcapin_udp *u); /* may be NULL */
	void (*tcp)(void *ctx, const struct pcapin_tcp *t); /* may be NULL */
	void *ctx;
	uint32_t max_frags;      /* partial datagrams at once; default 64 */
	uint32_t max_streams;    /* TCP streams at once; default 1024 */
	uint32_t max_ooo_bytes;  /* out-of-order bytes per stream; default 256 KiB */
};

struct pcapin;

/* NULL with errno set (EINVAL, ENOMEM). Free with pcapin_free(). */
struct pcapin *pcapin_new(const struct pcapin_cfg *cfg);

/* Closes open TCP streams (CLOSE events) first. Accepts NULL. */
void pcapin_free(struct pcapin *p);

/* Read a whole pcap or pcapng file (path "-": stdin). 0, or -errno with a
 * one-line reason in err (cannot open, not a capture, unsupported link
 * type, truncated). Frames before an error have been handed over. State
 * (fragments, streams) carries over to the next file. */
int pcapin_read_file(struct pcapin *p, const char *path, char *err, size_t err_len);

/* Parse one frame of link type dlt (a DLT_* value). For tests and fuzzing. */
void pcapin_frame(struct pcapin *p, int dlt, const uint8_t *data, size_t caplen, size_t wirelen,
		  uint64_t ts_ms);

/* End of input: close every TCP stream, drop partial datagrams (counted). */
void pcapin_flush(struct pcapin *p);

const uint64_t *pcapin_counters(const struct pcapin *p); /* PCAPIN_CTR_MAX entries */

#endif
