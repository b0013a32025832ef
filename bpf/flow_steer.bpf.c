// SPDX-License-Identifier: GPL-2.0-only
/* flow_steer.bpf.c — XDP program that sends flow exports to AF_XDP.
 *
 * Parses Ethernet (+ up to two 802.1Q/802.1ad tags), IPv4 or IPv6 (with the
 * usual extension headers) and UDP. A datagram to a port set in fd_ports is a
 * flow export: if the allow-list is on and its source is not listed it is
 * dropped (anti-spoofing), otherwise it is redirected to the AF_XDP socket of
 * the RX queue it came in on, falling back to the kernel when no socket is
 * bound there. Everything else — SSH, the control plane, TCP to the slaves,
 * ARP/ND, fragments we cannot classify — passes to the kernel untouched.
 *
 * Every header read is preceded by a bounds check against data_end; a frame
 * that ends early passes to the kernel (which drops it with its own counters)
 * and is counted by the layer where it ended.
 *
 * Licence "GPL": the program only ever runs inside the kernel, and a
 * GPL-compatible licence keeps GPL-only helpers (bpf_printk while debugging)
 * usable; nothing else in Flowdelta links with it.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "flow_steer_shared.h"

/* Bounded walks: the verifier must see a constant trip count. */
#define MAX_VLAN_TAGS 2
#define MAX_IP6_EXT 4

#define IP_MF 0x2000
#define IP_OFFSET 0x1fff
#define IP6_FRAG_OFFSET 0xfff8 /* in host order, of ipv6_frag.frag_off */

struct vlan_tag {
	__be16 tci;
	__be16 proto; /* encapsulated EtherType */
};

/* Extension header prefix shared by HBH, routing, destination options. */
struct ip6_ext {
	__u8 nexthdr;
	__u8 hdrlen; /* in 8-octet units, not counting the first 8 */
};

struct ip6_frag {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off; /* offset (13 bits) | res (2) | M (1) */
	__be32 id;
};

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, FD_XDP_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} xsks_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FD_XDP_MAX_PORTS);
	__type(key, __u32);
	__type(value, struct fd_xdp_port);
} fd_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, FD_XDP_MAX_PREFIXES);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* required for LPM tries */
	__type(key, struct fd_xdp_lpm4);
	__type(value, __u8);
} fd_allow4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, FD_XDP_MAX_PREFIXES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct fd_xdp_lpm6);
	__type(value, __u8);
} fd_allow6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fd_xdp_config);
} fd_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FD_XDP_C_MAX);
	__type(key, __u32);
	__type(value, struct fd_xdp_count);
} fd_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, FD_XDP_MAX_EXPORTERS);
	__type(key, struct fd_xdp_exporter_key);
	__type(value, struct fd_xdp_exporter_val);
} fd_exporters SEC(".maps");

/* Per-CPU slots: plain increments are race-free (XDP runs with preemption
 * off on one CPU per frame). */
static __always_inline void count(__u32 idx, __u64 len)
{
	struct fd_xdp_count *c = bpf_map_lookup_elem(&fd_counters, &idx);

	if (c) {
		c->packets++;
		c->bytes += len;
	}
}

static __always_inline int verdict(__u32 idx, int action, __u64 len)
{
	count(FD_XDP_C_RX, len);
	count(idx, len);
	return action;
}

static __always_inline int is_flow_port(__u16 port)
{
	__u32 key = port;
	struct fd_xdp_port *p = bpf_map_lookup_elem(&fd_ports, &key);

	return p && p->flow;
}

/* Read once per flow-port datagram; everything else never touches it. */
static __always_inline __u32 config_flags(void)
{
	__u32 key = 0;
	struct fd_xdp_config *cfg = bpf_map_lookup_elem(&fd_config, &key);

	return cfg ? cfg->flags : 0;
}

/* A datagram to a flow port, source already known to be well-formed:
 * anti-spoofing check, per-exporter accounting, redirect. */
static __always_inline int steer(struct xdp_md *ctx, struct fd_xdp_exporter_key *ek,
				 int allowed, __u32 cfg, __u64 len)
{
	struct fd_xdp_exporter_val *v;
	int action;

	if (!allowed)
		return verdict(FD_XDP_C_DROP_UNKNOWN_EXPORTER, XDP_DROP, len);

	/* Only accepted exports are tracked: counting rejected sources would
	 * let a spoofing flood evict the real exporters from the LRU. */
	if (!(cfg & FD_XDP_CFG_NO_EXPORTER_STATS)) {
		v = bpf_map_lookup_elem(&fd_exporters, ek);
		if (v) {
			v->packets++;
			v->bytes += len;
		} else {
			struct fd_xdp_exporter_val init = { .packets = 1, .bytes = len };

			bpf_map_update_elem(&fd_exporters, ek, &init, BPF_NOEXIST);
		}
	}

	/* The low bits of flags are the action returned when the queue has no
	 * socket bound (dataplane not running, or not on this queue yet). */
	action = bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_PASS);
	if (action == XDP_REDIRECT)
		return verdict(FD_XDP_C_REDIRECT_XSK, action, len);
	return verdict(FD_XDP_C_PASS_NO_XSK, XDP_PASS, len);
}

static __always_inline int handle_ip4(struct xdp_md *ctx, void *l3, void *data_end,
				      __u64 len)
{
	struct fd_xdp_exporter_key ek = {};
	struct iphdr *ip = l3;
	struct udphdr *udp;
	__u32 ihl_bytes, cfg;
	__u16 frag;
	int allowed = 1;

	if ((void *)(ip + 1) > data_end)
		return verdict(FD_XDP_C_PASS_TRUNC_IP4, XDP_PASS, len);
	if (ip->version != 4 || ip->ihl < 5)
		return verdict(FD_XDP_C_PASS_BAD_IP, XDP_PASS, len);
	ihl_bytes = ip->ihl * 4; /* 20..60 */
	if (l3 + ihl_bytes > data_end)
		return verdict(FD_XDP_C_PASS_TRUNC_IP4, XDP_PASS, len);
	if (ip->protocol != IPPROTO_UDP)
		return verdict(FD_XDP_C_PASS_NOT_UDP, XDP_PASS, len);

	frag = bpf_ntohs(ip->frag_off);
	if (frag & IP_OFFSET) /* no UDP header in this fragment */
		return verdict(FD_XDP_C_PASS_FRAG_UNCHECKED, XDP_PASS, len);

	udp = l3 + ihl_bytes;
	if ((void *)(udp + 1) > data_end)
		return verdict(FD_XDP_C_PASS_TRUNC_UDP, XDP_PASS, len);
	if (!is_flow_port(bpf_ntohs(udp->dest)))
		return verdict(FD_XDP_C_PASS_OTHER_PORT, XDP_PASS, len);
	/* The dataplane takes whole datagrams only; the kernel reassembles. */
	if (frag & IP_MF)
		return verdict(FD_XDP_C_PASS_FRAG_FLOW_PORT, XDP_PASS, len);

	cfg = config_flags();
	if (cfg & FD_XDP_CFG_ALLOWLIST) {
		struct fd_xdp_lpm4 key = { .prefixlen = 32 };

		__builtin_memcpy(key.addr, &ip->saddr, 4);
		allowed = bpf_map_lookup_elem(&fd_allow4, &key) != NULL;
	}
	ek.addr[10] = 0xff;
	ek.addr[11] = 0xff;
	__builtin_memcpy(&ek.addr[12], &ip->saddr, 4);
	ek.port = bpf_ntohs(udp->dest);
	ek.family = 4;
	return steer(ctx, &ek, allowed, cfg, len);
}

static __always_inline int handle_ip6(struct xdp_md *ctx, void *l3, void *data_end,
				      __u64 len)
{
	struct fd_xdp_exporter_key ek = {};
	struct ipv6hdr *ip6 = l3;
	struct udphdr *udp;
	void *cur;
	__u32 cfg;
	__u8 nexthdr;
	int first_frag = 0;
	int allowed = 1;
	int i;

	if ((void *)(ip6 + 1) > data_end)
		return verdict(FD_XDP_C_PASS_TRUNC_IP6, XDP_PASS, len);
	if (ip6->version != 6)
		return verdict(FD_XDP_C_PASS_BAD_IP, XDP_PASS, len);
	nexthdr = ip6->nexthdr;
	cur = ip6 + 1;

#pragma unroll
	for (i = 0; i < MAX_IP6_EXT; i++) {
		if (nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING ||
		    nexthdr == IPPROTO_DSTOPTS) {
			struct ip6_ext *ext = cur;

			if ((void *)(ext + 1) > data_end)
				return verdict(FD_XDP_C_PASS_TRUNC_IP6, XDP_PASS, len);
			nexthdr = ext->nexthdr;
			cur += (ext->hdrlen + 1) * 8; /* 8..2048 */
		} else if (nexthdr == IPPROTO_FRAGMENT) {
			struct ip6_frag *fh = cur;

			if ((void *)(fh + 1) > data_end)
				return verdict(FD_XDP_C_PASS_TRUNC_IP6, XDP_PASS, len);
			if (bpf_ntohs(fh->frag_off) & IP6_FRAG_OFFSET)
				return verdict(FD_XDP_C_PASS_FRAG_UNCHECKED, XDP_PASS, len);
			/* Offset 0: the UDP header follows; an atomic
			 * fragment (M=0) is still a fragment header the
			 * dataplane does not parse, so pass it as well. */
			first_frag = 1;
			nexthdr = fh->nexthdr;
			cur = fh + 1;
		} else {
			break;
		}
	}
	if (nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING ||
	    nexthdr == IPPROTO_DSTOPTS || nexthdr == IPPROTO_FRAGMENT)
		return verdict(FD_XDP_C_PASS_IP6_EXT_DEPTH, XDP_PASS, len);
	if (nexthdr != IPPROTO_UDP)
		return verdict(FD_XDP_C_PASS_NOT_UDP, XDP_PASS, len);

	udp = cur;
	if ((void *)(udp + 1) > data_end)
		return verdict(FD_XDP_C_PASS_TRUNC_UDP, XDP_PASS, len);
	if (!is_flow_port(bpf_ntohs(udp->dest)))
		return verdict(FD_XDP_C_PASS_OTHER_PORT, XDP_PASS, len);
	if (first_frag)
		return verdict(FD_XDP_C_PASS_FRAG_FLOW_PORT, XDP_PASS, len);

	cfg = config_flags();
	if (cfg & FD_XDP_CFG_ALLOWLIST) {
		struct fd_xdp_lpm6 key = { .prefixlen = 128 };

		__builtin_memcpy(key.addr, &ip6->saddr, 16);
		allowed = bpf_map_lookup_elem(&fd_allow6, &key) != NULL;
	}
	__builtin_memcpy(ek.addr, &ip6->saddr, 16);
	ek.port = bpf_ntohs(udp->dest);
	ek.family = 6;
	return steer(ctx, &ek, allowed, cfg, len);
}

SEC("xdp")
int fd_flow_steer(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 len = data_end - data;
	struct ethhdr *eth = data;
	void *cur;
	__u16 proto;
	int i;

	if ((void *)(eth + 1) > data_end)
		return verdict(FD_XDP_C_PASS_TRUNC_ETH, XDP_PASS, len);
	proto = bpf_ntohs(eth->h_proto);
	cur = eth + 1;

#pragma unroll
	for (i = 0; i < MAX_VLAN_TAGS; i++) {
		struct vlan_tag *tag = cur;

		if (proto != ETH_P_8021Q && proto != ETH_P_8021AD)
			break;
		if ((void *)(tag + 1) > data_end)
			return verdict(FD_XDP_C_PASS_TRUNC_VLAN, XDP_PASS, len);
		proto = bpf_ntohs(tag->proto);
		cur = tag + 1;
	}
	if (proto == ETH_P_8021Q || proto == ETH_P_8021AD)
		return verdict(FD_XDP_C_PASS_VLAN_DEPTH, XDP_PASS, len);

	if (proto == ETH_P_IP)
		return handle_ip4(ctx, cur, data_end, len);
	if (proto == ETH_P_IPV6)
		return handle_ip6(ctx, cur, data_end, len);
	return verdict(FD_XDP_C_PASS_NOT_IP, XDP_PASS, len);
}

char LICENSE[] SEC("license") = "GPL";
