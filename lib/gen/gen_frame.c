/* gen_frame.c — Ethernet/IPv4|IPv6/UDP|TCP frames for pcap files written by
 * `flowdelta gen` and by the tests that craft captures (fragments, TCP
 * streams). Plain byte building; no state. See gen.h.
 */
#include "gen.h"

#include <string.h>

#include "util/addr.h"
#include "util/bytes.h"

#define ETH_LEN 14
#define IP4_LEN 20
#define IP6_LEN 40
#define FRAG6_LEN 8

/* Locally administered MACs: exporter side and collector side. */
static const uint8_t mac_src[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t mac_dst[6] = { 0x02, 0, 0, 0, 0, 0x02 };

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	while (len > 1) {
		sum += be16_load(p);
		p += 2;
		len -= 2;
	}
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Transport checksum over the pseudo header and the segment at l4. */
static uint16_t l4_csum(const uint8_t src[16], const uint8_t dst[16], uint8_t proto,
			const uint8_t *l4, size_t len)
{
	uint32_t sum = 0;
	bool v4 = addr_is_v4(src);

	sum = csum_add(sum, v4 ? src + 12 : src, v4 ? 4 : 16);
	sum = csum_add(sum, v4 ? dst + 12 : dst, v4 ? 4 : 16);
	sum += proto;
	sum += (uint32_t)(len & 0xffff) + (uint32_t)(len >> 16);
	sum = csum_add(sum, l4, len);
	return csum_fold(sum);
}

static void eth_write(uint8_t *p, bool v4)
{
	memcpy(p, mac_dst, 6);
	memcpy(p + 6, mac_src, 6);
	be16_store(p + 12, v4 ? 0x0800 : 0x86dd);
}

/* IP header at p; returns its length. frag_off in bytes. */
static size_t ip_write(uint8_t *p, const uint8_t src[16], const uint8_t dst[16], uint8_t proto,
		       size_t payload_len, bool frag, uint32_t id, uint32_t frag_off, bool more)
{
	if (addr_is_v4(src)) {
		uint16_t ff = frag ? (uint16_t)((more ? 0x2000 : 0) | (frag_off / 8)) : 0x4000;
		p[0] = 0x45;
		p[1] = 0;
		be16_store(p + 2, (uint16_t)(IP4_LEN + payload_len));
		be16_store(p + 4, (uint16_t)id);
		be16_store(p + 6, ff);
		p[8] = 64;
		p[9] = proto;
		be16_store(p + 10, 0);
		memcpy(p + 12, src + 12, 4);
		memcpy(p + 16, dst + 12, 4);
		be16_store(p + 10, csum_fold(csum_add(0, p, IP4_LEN)));
		return IP4_LEN;
	}
	be32_store(p, 0x60000000);
	be16_store(p + 4, (uint16_t)(payload_len + (frag ? FRAG6_LEN : 0)));
	p[6] = frag ? 44 : proto;
	p[7] = 64;
	memcpy(p + 8, src, 16);
	memcpy(p + 24, dst, 16);
	if (!frag)
		return IP6_LEN;
	p += IP6_LEN;
	p[0] = proto;
	p[1] = 0;
	be16_store(p + 2, (uint16_t)((frag_off & ~7u) | (more ? 1 : 0)));
	be32_store(p + 4, id);
	return IP6_LEN + FRAG6_LEN;
}

size_t gen_udp_build(uint8_t *buf, size_t cap, const uint8_t src[16], const uint8_t dst[16],
		     uint16_t sport, uint16_t dport, const uint8_t *payload, size_t len)
{
	uint16_t cs;

	if (len > 65535 - 8 || cap < 8 + len)
		return 0;
	be16_store(buf, sport);
	be16_store(buf + 2, dport);
	be16_store(buf + 4, (uint16_t)(8 + len));
	be16_store(buf + 6, 0);
	memcpy(buf + 8, payload, len);
	cs = l4_csum(src, dst, 17, buf, 8 + len);
	be16_store(buf + 6, cs ? cs : 0xffff);
	return 8 + len;
}

size_t gen_frame_udp(uint8_t *buf, size_t cap, const uint8_t src[16], const uint8_t dst[16],
		     uint16_t sport, uint16_t dport, const uint8_t *payload, size_t len)
{
	bool v4 = addr_is_v4(src);
	size_t hl = ETH_LEN + (v4 ? IP4_LEN : IP6_LEN), ul;

	if (cap < hl || addr_is_v4(dst) != v4 || (v4 && len > 65535 - IP4_LEN - 8))
		return 0;
	ul = gen_udp_build(buf + hl, cap - hl, src, dst, sport, dport, payload, len);
	if (!ul)
		return 0;
	eth_write(buf, v4);
	ip_write(buf + ETH_LEN, src, dst, 17, ul, false, 0, 0, false);
	return hl + ul;
}

size_t gen_frame_tcp(uint8_t *buf, size_t cap, const uint8_t src[16], const uint8_t dst[16],
		     uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
		     const uint8_t *payload, size_t len)
{
	bool v4 = addr_is_v4(src);
	size_t hl = ETH_LEN + (v4 ? IP4_LEN : IP6_LEN);
	uint8_t *t = buf + hl;

	if (addr_is_v4(dst) != v4 || len > 65535 - IP4_LEN - 20 || cap < hl + 20 + len)
		return 0;
	be16_store(t, sport);
	be16_store(t + 2, dport);
	be32_store(t + 4, seq);
	be32_store(t + 8, ack);
	t[12] = 5 << 4;
	t[13] = flags;
	be16_store(t + 14, 65535);
	be16_store(t + 16, 0);
	be16_store(t + 18, 0);
	if (len)
		memcpy(t + 20, payload, len);
	be16_store(t + 16, l4_csum(src, dst, 6, t, 20 + len));
	eth_write(buf, v4);
	ip_write(buf + ETH_LEN, src, dst, 6, 20 + len, false, 0, 0, false);
	return hl + 20 + len;
}

size_t gen_frame_ip_frag(uint8_t *buf, size_t cap, const uint8_t src[16], const uint8_t dst[16],
			 uint8_t proto, uint32_t id, uint32_t off, bool more, const uint8_t *l4,
			 size_t len)
{
	bool v4 = addr_is_v4(src);
	size_t hl = ETH_LEN + (v4 ? IP4_LEN : IP6_LEN + FRAG6_LEN);

	if (addr_is_v4(dst) != v4 || cap < hl + len || len > 65535 - IP6_LEN || off > 65528)
		return 0;
	eth_write(buf, v4);
	ip_write(buf + ETH_LEN, src, dst, proto, len, true, id, off, more);
	memcpy(buf + hl, l4, len);
	return hl + len;
}
