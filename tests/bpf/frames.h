/* frames.h — crafted Ethernet frames for driving flow_steer with
 * bpf_prog_test_run_opts (unit test and bench). Header-only: both users are
 * single-file executables.
 */
#ifndef TESTS_BPF_FRAMES_H
#define TESTS_BPF_FRAMES_H

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#define FR_MAX 512

struct frame_spec {
	int nvlan;             /* VLAN tags, outermost first */
	uint16_t vlan_tpid[3]; /* 0x8100 / 0x88a8 */
	uint16_t ethertype;    /* innermost EtherType: 0x0800, 0x86dd, 0x0806 ... */
	const char *src;       /* source address (IPv4 or IPv6 text) */
	const char *dst;
	uint8_t ihl;           /* IPv4 header words; 0 = 5 */
	uint16_t frag;         /* IPv4 frag_off field (host order: MF 0x2000 | offset) */
	uint8_t ip6_ext[6];    /* IPv6 extension headers in order (0, 43, 60, 44) */
	int n_ip6_ext;
	uint16_t ip6_frag;     /* frag_off of a fragment extension header (host order) */
	uint8_t l4;            /* 17 UDP, 6 TCP, 1/58 ICMP */
	uint16_t sport, dport;
	uint16_t payload;      /* bytes after the L4 header */
};

static inline void fr_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Builds the frame into buf (FR_MAX bytes); returns its length. */
static inline size_t frame_build(const struct frame_spec *s, uint8_t *buf)
{
	size_t off = 12, l3, l4off, l4len, i;
	uint8_t l4 = s->l4;

	memset(buf, 0, FR_MAX);
	memcpy(buf, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
	for (i = 0; i < (size_t)s->nvlan; i++) {
		fr_put16(buf + off, s->vlan_tpid[i]);
		fr_put16(buf + off + 2, (uint16_t)(100 + i)); /* TCI: VLAN id */
		off += 4;
	}
	fr_put16(buf + off, s->ethertype);
	off += 2;
	l3 = off;

	l4len = (l4 == 17 ? 8 : l4 == 6 ? 20 : 8) + s->payload;
	if (s->ethertype == 0x0800) {
		uint8_t ihl = s->ihl ? s->ihl : 5;

		buf[l3] = (uint8_t)(0x40 | ihl);
		l4off = l3 + (ihl >= 5 ? ihl : 5) * 4u;
		fr_put16(buf + l3 + 2, (uint16_t)(l4off - l3 + l4len));
		fr_put16(buf + l3 + 6, s->frag);
		buf[l3 + 8] = 64;
		buf[l3 + 9] = l4;
		inet_pton(AF_INET, s->src ? s->src : "192.0.2.1", buf + l3 + 12);
		inet_pton(AF_INET, s->dst ? s->dst : "192.0.2.254", buf + l3 + 16);
		for (i = l3 + 20; i < l4off; i++)
			buf[i] = 1; /* NOP options */
	} else if (s->ethertype == 0x86dd) {
		uint8_t *nh = buf + l3 + 6;

		buf[l3] = 0x60;
		buf[l3 + 7] = 64;
		inet_pton(AF_INET6, s->src ? s->src : "2001:db8:1::1", buf + l3 + 8);
		inet_pton(AF_INET6, s->dst ? s->dst : "2001:db8:ff::1", buf + l3 + 24);
		l4off = l3 + 40;
		for (i = 0; i < (size_t)s->n_ip6_ext; i++) {
			*nh = s->ip6_ext[i];
			nh = buf + l4off; /* next-header byte of this ext header */
			if (s->ip6_ext[i] == 44) {
				fr_put16(buf + l4off + 2, s->ip6_frag);
				l4off += 8;
			} else {
				buf[l4off + 1] = 0; /* hdrlen 0: 8 bytes */
				l4off += 8;
			}
		}
		*nh = l4;
		fr_put16(buf + l3 + 4, (uint16_t)(l4off - l3 - 40 + l4len));
	} else {
		l4off = l3;
		l4len = 28; /* ARP-sized body */
		l4 = 0;
	}
	if (l4 == 17) {
		fr_put16(buf + l4off, s->sport ? s->sport : 40000);
		fr_put16(buf + l4off + 2, s->dport);
		fr_put16(buf + l4off + 4, (uint16_t)l4len);
	} else if (l4 == 6) {
		fr_put16(buf + l4off, s->sport ? s->sport : 40000);
		fr_put16(buf + l4off + 2, s->dport);
		buf[l4off + 12] = 0x50;
		buf[l4off + 13] = 0x02; /* SYN */
	}
	return l4off + l4len < 60 ? 60 : l4off + l4len; /* pad to the Ethernet minimum */
}

#endif
