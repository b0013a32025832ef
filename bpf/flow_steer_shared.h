/* flow_steer_shared.h — what the XDP steering program and its loader share:
 * map names, key/value layouts and the named counters.
 *
 * Included by flow_steer.bpf.c (clang -target bpf, no libc) and by user space
 * (xdp_steer.c, tests, CLI), so it uses only <linux/types.h>. Changing a layout
 * here changes the pinned maps' layout: the loader refuses to reuse pins whose
 * key/value sizes differ (see docs/xdp.md).
 */
#ifndef FLOW_STEER_SHARED_H
#define FLOW_STEER_SHARED_H

#include <linux/types.h>

/* Program and map names. The kernel keeps 15 characters of an object name, and
 * the loader recognises "our" program on an interface by this name, so keep
 * every name below 16 bytes. "xsks_map" is fixed by the DPDK net_af_xdp PMD. */
#define FD_XDP_PROG_NAME "fd_flow_steer"
#define FD_XDP_MAP_XSKS "xsks_map"
#define FD_XDP_MAP_PORTS "fd_ports"
#define FD_XDP_MAP_ALLOW4 "fd_allow4"
#define FD_XDP_MAP_ALLOW6 "fd_allow6"
#define FD_XDP_MAP_CONFIG "fd_config"
#define FD_XDP_MAP_COUNTERS "fd_counters"
#define FD_XDP_MAP_EXPORTERS "fd_exporters"

/* Capacities. XSKMAP is indexed by RX queue: 256 covers any NIC we target.
 * The allow-lists hold operator-configured prefixes; the exporter table is an
 * LRU so a flood of sources can only evict, never fail an insert. */
#define FD_XDP_MAX_QUEUES 256
#define FD_XDP_MAX_PORTS 65536
#define FD_XDP_MAX_PREFIXES 4096
#define FD_XDP_MAX_EXPORTERS 4096

/* Verdict/reason counters, one array slot each. Every frame the program sees
 * bumps FD_XDP_C_RX and exactly one other counter, so
 *   rx == sum of all other counters
 * holds at every read (per CPU, hence also summed). Names are what
 * `flowdelta xdp status` and the metrics print. */
#define FD_XDP_COUNTERS(X)                                                          \
	X(RX, "rx")                                   /* every frame */              \
	X(REDIRECT_XSK, "redirect_xsk")               /* export sent to AF_XDP */    \
	X(PASS_NO_XSK, "pass_no_xsk")                 /* export, no socket on queue */ \
	X(DROP_UNKNOWN_EXPORTER, "drop_unknown_exporter") /* not in allow-list */    \
	X(PASS_NOT_IP, "pass_not_ip")                 /* ARP, LLDP, ... */           \
	X(PASS_NOT_UDP, "pass_not_udp")               /* TCP, ICMP, ... */           \
	X(PASS_OTHER_PORT, "pass_other_port")         /* UDP, not a flow port */     \
	X(PASS_FRAG_FLOW_PORT, "pass_frag_flow_port") /* 1st fragment to flow port */ \
	X(PASS_FRAG_UNCHECKED, "pass_frag_unchecked") /* later fragment: no UDP hdr */ \
	X(PASS_VLAN_DEPTH, "pass_vlan_depth")         /* more than two VLAN tags */  \
	X(PASS_BAD_IP, "pass_bad_ip")                 /* IHL < 5, version mismatch */ \
	X(PASS_IP6_EXT_DEPTH, "pass_ip6_ext_depth")   /* too many IPv6 ext headers */ \
	X(PASS_TRUNC_ETH, "pass_trunc_eth")           /* truncated Ethernet header */ \
	X(PASS_TRUNC_VLAN, "pass_trunc_vlan")         /* truncated VLAN tag */       \
	X(PASS_TRUNC_IP4, "pass_trunc_ip4")           /* truncated IPv4 header */    \
	X(PASS_TRUNC_IP6, "pass_trunc_ip6")           /* truncated IPv6 (ext) hdr */ \
	X(PASS_TRUNC_UDP, "pass_trunc_udp")           /* truncated UDP header */

#define FD_XDP_ENUM_(id, name) FD_XDP_C_##id,
enum fd_xdp_counter { FD_XDP_COUNTERS(FD_XDP_ENUM_) FD_XDP_C_MAX };
#undef FD_XDP_ENUM_

/* Value of fd_counters (per-CPU array, FD_XDP_C_MAX slots). */
struct fd_xdp_count {
	__u64 packets;
	__u64 bytes; /* frame bytes as seen by XDP (L2 header included) */
};

/* fd_config: one slot (key 0). */
#define FD_XDP_CFG_ALLOWLIST (1u << 0) /* drop exports whose source is not allowed */
/* Skip the per-exporter table: its hash update is about half the cost of a
 * steered export (bench/bench_xdp.c), for operators who need the last Mpps. */
#define FD_XDP_CFG_NO_EXPORTER_STATS (1u << 1)
struct fd_xdp_config {
	__u32 flags;
	__u32 reserved;
};

/* fd_ports: array indexed by UDP destination port in host order; value 1 =
 * flow-export port. An array (not a hash) makes the per-packet test one
 * bounded load, and lets the loader add new ports before removing old ones so
 * a port kept across an update is never missing. */
struct fd_xdp_port {
	__u8 flow; /* 1: steer */
};

/* fd_allow4 / fd_allow6 keys (LPM tries). prefixlen counts bits of addr. */
struct fd_xdp_lpm4 {
	__u32 prefixlen;
	__u8 addr[4];
};
struct fd_xdp_lpm6 {
	__u32 prefixlen;
	__u8 addr[16];
};

/* fd_exporters (LRU per-CPU hash): accepted exports per exporter address and
 * destination (listening) port — the flow source of DESIGN §2. IPv4 sources
 * are stored IPv4-mapped (::ffff:a.b.c.d) with family 4. */
struct fd_xdp_exporter_key {
	__u8 addr[16];
	__u16 port;   /* host order */
	__u8 family;  /* 4 or 6 */
	__u8 pad;
};
struct fd_xdp_exporter_val {
	__u64 packets;
	__u64 bytes;
};

#endif
