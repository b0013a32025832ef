/* pcapin.c — capture reader: link layers, IP, fragment reassembly, UDP, and
 * TCP stream reassembly for `flowdelta decode` (see pcapin.h).
 *
 * Bounds: a frame is parsed only within its captured length; a partial IP
 * datagram holds at most 65535 bytes and at most max_frags exist at once
 * (oldest evicted); at most max_streams TCP streams exist (least recently
 * active evicted), each buffering at most max_ooo_bytes ahead of its next
 * expected byte and accepting nothing further than TCP_WINDOW ahead.
 */
#include "pcapin.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/addr.h"
#include "util/bytes.h"
#include "util/hash.h"

#define FRAG_TIMEOUT_MS 30000
#define FRAG_MAX 65535
#define TCP_WINDOW (1u << 20)   /* furthest ahead a segment may start */
#define EXT6_MAX 8              /* IPv6 extension headers we walk */
#define LINKTYPE_RAW 101        /* file value; libpcap maps it to DLT_RAW */

struct frag {
	bool used;
	bool v6;
	uint8_t proto;
	uint32_t id;
	uint8_t src[16], dst[16];
	uint64_t first_ts;
	uint32_t total;    /* payload bytes, known once the last fragment came */
	uint8_t *buf;      /* FRAG_MAX bytes, allocated on first use, kept */
	uint8_t map[FRAG_MAX / 8 / 8 + 1]; /* one bit per 8-byte block */
};

struct seg {
	struct seg *next;
	uint32_t seq;
	uint32_t len;
	uint8_t data[];
};

struct stream {
	bool used;
	bool fin;
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	uint32_t next_seq;  /* next byte we deliver */
	uint32_t fin_seq;   /* sequence number of the FIN (end of data) */
	uint64_t last_ts;
	struct seg *ooo;    /* sorted by seq, all after next_seq */
	uint32_t ooo_bytes;
	void *user;
	int32_t chain;      /* next stream in the hash bucket, -1 = none */
};

struct pcapin {
	struct pcapin_cfg cfg;
	uint64_t ctr[PCAPIN_CTR_MAX];
	uint8_t portmap[65536 / 8];
	struct frag *frags;
	struct stream *streams;
	int32_t *buckets;
	uint32_t nbuckets;      /* power of two */
};

static const struct {
	const char *name;
	int drop;
	const char *desc;
} ctr_info[] = {
#define PCAPIN_CTR_INFO(n, k, d) { #n, k, d },
	PCAPIN_CTR_LIST(PCAPIN_CTR_INFO)
#undef PCAPIN_CTR_INFO
};

const char *pcapin_ctr_name(enum pcapin_ctr c)
{
	return c < PCAPIN_CTR_MAX ? ctr_info[c].name : "?";
}

const char *pcapin_ctr_desc(enum pcapin_ctr c)
{
	return c < PCAPIN_CTR_MAX ? ctr_info[c].desc : "?";
}

int pcapin_ctr_is_drop(enum pcapin_ctr c)
{
	return c < PCAPIN_CTR_MAX ? ctr_info[c].drop : 0;
}

const uint64_t *pcapin_counters(const struct pcapin *p)
{
	return p->ctr;
}

static bool port_wanted(const struct pcapin *p, uint16_t port)
{
	return !p->cfg.n_ports || (p->portmap[port >> 3] & (1u << (port & 7)));
}

/* ---- TCP streams ---- */

static uint32_t stream_hash(const struct pcapin *p, const uint8_t *src, const uint8_t *dst,
			    uint16_t sport, uint16_t dport)
{
	uint8_t k[36];

	memcpy(k, src, 16);
	memcpy(k + 16, dst, 16);
	be16_store(k + 32, sport);
	be16_store(k + 34, dport);
	return (uint32_t)hash_bytes(k, sizeof(k), 0) & (p->nbuckets - 1);
}

static void stream_unlink(struct pcapin *p, struct stream *s)
{
	int32_t idx = (int32_t)(s - p->streams);
	int32_t *pp = &p->buckets[stream_hash(p, s->src, s->dst, s->sport, s->dport)];

	while (*pp >= 0 && *pp != idx)
		pp = &p->streams[*pp].chain;
	if (*pp == idx)
		*pp = s->chain;
}

static void tcp_emit(struct pcapin *p, struct stream *s, enum pcapin_tcp_ev ev,
		     const uint8_t *data, size_t len, uint64_t ts)
{
	struct pcapin_tcp t;

	if (ev == PCAPIN_TCP_DATA)
		p->ctr[PCAPIN_tcp_bytes] += len;
	if (!p->cfg.tcp)
		return;
	memcpy(t.src, s->src, 16);
	memcpy(t.dst, s->dst, 16);
	t.ev = ev;
	t.sport = s->sport;
	t.dport = s->dport;
	t.data = data;
	t.len = len;
	t.ts_ms = ts;
	t.user = &s->user;
	p->cfg.tcp(p->cfg.ctx, &t);
}

static void stream_close(struct pcapin *p, struct stream *s, uint64_t ts)
{
	bool gap = s->ooo != NULL;

	while (s->ooo) {
		struct seg *n = s->ooo->next;
		free(s->ooo);
		s->ooo = n;
	}
	if (gap)
		p->ctr[PCAPIN_tcp_gap]++;
	tcp_emit(p, s, PCAPIN_TCP_CLOSE, NULL, 0, ts);
	stream_unlink(p, s);
	memset(s, 0, sizeof(*s));
}

static struct stream *stream_find(struct pcapin *p, const uint8_t *src, const uint8_t *dst,
				  uint16_t sport, uint16_t dport)
{
	int32_t i = p->buckets[stream_hash(p, src, dst, sport, dport)];

	while (i >= 0) {
		struct stream *s = &p->streams[i];
		if (s->sport == sport && s->dport == dport && !memcmp(s->src, src, 16) &&
		    !memcmp(s->dst, dst, 16))
			return s;
		i = s->chain;
	}
	return NULL;
}

static struct stream *stream_open(struct pcapin *p, const uint8_t *src, const uint8_t *dst,
				  uint16_t sport, uint16_t dport, uint32_t next_seq, uint64_t ts)
{
	struct stream *s = NULL, *oldest = NULL;
	uint32_t h;

	for (uint32_t i = 0; i < p->cfg.max_streams; i++) {
		if (!p->streams[i].used) {
			s = &p->streams[i];
			break;
		}
		if (!oldest || p->streams[i].last_ts < oldest->last_ts)
			oldest = &p->streams[i];
	}
	if (!s) {
		p->ctr[PCAPIN_tcp_table_full]++;
		stream_close(p, oldest, ts);
		s = oldest;
	}
	memset(s, 0, sizeof(*s));
	s->used = true;
	memcpy(s->src, src, 16);
	memcpy(s->dst, dst, 16);
	s->sport = sport;
	s->dport = dport;
	s->next_seq = next_seq;
	s->last_ts = ts;
	h = stream_hash(p, src, dst, sport, dport);
	s->chain = p->buckets[h];
	p->buckets[h] = (int32_t)(s - p->streams);
	p->ctr[PCAPIN_tcp_streams]++;
	return s;
}

/* Deliver what is now in order from the out-of-order list. */
static void stream_drain(struct pcapin *p, struct stream *s, uint64_t ts)
{
	while (s->ooo) {
		struct seg *g = s->ooo;
		int32_t d = (int32_t)(g->seq - s->next_seq);

		if (d > 0)
			break;
		s->ooo = g->next;
		s->ooo_bytes -= g->len;
		if ((int64_t)d + g->len > 0) {
			uint32_t skip = (uint32_t)-d;
			tcp_emit(p, s, PCAPIN_TCP_DATA, g->data + skip, g->len - skip, ts);
			s->next_seq += g->len - skip;
		}
		free(g);
	}
}

static void stream_buffer(struct pcapin *p, struct stream *s, uint32_t seq, const uint8_t *data,
			  uint32_t len)
{
	struct seg **pp = &s->ooo, *g;

	while (*pp && (int32_t)((*pp)->seq - seq) < 0)
		pp = &(*pp)->next;
	if (*pp && (*pp)->seq == seq && (*pp)->len >= len) {
		p->ctr[PCAPIN_tcp_retrans]++; /* same bytes already held */
		return;
	}
	if (s->ooo_bytes + len > p->cfg.max_ooo_bytes) {
		p->ctr[PCAPIN_tcp_ooo_full]++;
		return;
	}
	g = malloc(sizeof(*g) + len);
	if (!g) {
		p->ctr[PCAPIN_tcp_ooo_full]++;
		return;
	}
	g->seq = seq;
	g->len = len;
	memcpy(g->data, data, len);
	g->next = *pp;
	*pp = g;
	s->ooo_bytes += len;
	/* a shorter segment with the same start is now redundant */
	if (g->next && g->next->seq == seq) {
		struct seg *old = g->next;
		g->next = old->next;
		s->ooo_bytes -= old->len;
		free(old);
	}
}

static void tcp_input(struct pcapin *p, const uint8_t *src, const uint8_t *dst,
		      const uint8_t *t, size_t len, uint64_t ts)
{
	uint16_t sport, dport;
	uint32_t seq, doff, dlen;
	uint8_t flags;
	struct stream *s;
	int32_t d;

	if (len < 20 || (doff = (uint32_t)(t[12] >> 4) * 4) < 20 || doff > len) {
		p->ctr[PCAPIN_tcp_bad_hdr]++;
		return;
	}
	sport = be16_load(t);
	dport = be16_load(t + 2);
	if (!port_wanted(p, dport)) {
		p->ctr[PCAPIN_other_port]++;
		return;
	}
	p->ctr[PCAPIN_tcp_segments]++;
	seq = be32_load(t + 4);
	flags = t[13];
	dlen = (uint32_t)(len - doff);
	t += doff;

	s = stream_find(p, src, dst, sport, dport);
	if (flags & 0x04) { /* RST: the stream is over, buffered bytes are lost */
		if (s)
			stream_close(p, s, ts);
		return;
	}
	if (flags & 0x02) { /* SYN */
		if (s && s->next_seq == seq + 1 && !dlen)
			return; /* retransmitted SYN */
		if (s)
			stream_close(p, s, ts); /* the 4-tuple is reused */
		s = stream_open(p, src, dst, sport, dport, seq + 1, ts);
		seq++;
	} else if (!s) {
		if (!dlen)
			return; /* a bare ACK or FIN of a stream we never saw (or closed) */
		p->ctr[PCAPIN_tcp_midstream]++;
		s = stream_open(p, src, dst, sport, dport, seq, ts);
	}
	s->last_ts = ts;
	if (flags & 0x01) {
		s->fin = true;
		s->fin_seq = seq + dlen;
	}

	d = (int32_t)(seq - s->next_seq);
	if (dlen) {
		if ((int64_t)d + dlen <= 0) {
			p->ctr[PCAPIN_tcp_retrans]++;
		} else if (d <= 0) {
			uint32_t skip = (uint32_t)-d;
			tcp_emit(p, s, PCAPIN_TCP_DATA, t + skip, dlen - skip, ts);
			s->next_seq += dlen - skip;
			stream_drain(p, s, ts);
		} else if ((uint32_t)d > TCP_WINDOW) {
			p->ctr[PCAPIN_tcp_window]++;
		} else {
			stream_buffer(p, s, seq, t, dlen);
		}
	}
	if (s->fin && (int32_t)(s->next_seq - s->fin_seq) >= 0)
		stream_close(p, s, ts);
}

/* ---- UDP and the IP layers ---- */

static void udp_input(struct pcapin *p, const uint8_t *src, const uint8_t *dst,
		      const uint8_t *u, size_t len, uint64_t ts)
{
	struct pcapin_udp d;
	uint16_t ulen;

	if (len < 8 || (ulen = be16_load(u + 4)) < 8 || ulen > len) {
		p->ctr[PCAPIN_udp_bad_hdr]++;
		return;
	}
	d.dport = be16_load(u + 2);
	if (!port_wanted(p, d.dport)) {
		p->ctr[PCAPIN_other_port]++;
		return;
	}
	p->ctr[PCAPIN_udp]++;
	memcpy(d.src, src, 16);
	memcpy(d.dst, dst, 16);
	d.sport = be16_load(u);
	d.data = u + 8;
	d.len = ulen - 8u;
	d.ts_ms = ts;
	if (p->cfg.udp)
		p->cfg.udp(p->cfg.ctx, &d);
}

static void l4_input(struct pcapin *p, uint8_t proto, const uint8_t *src, const uint8_t *dst,
		     const uint8_t *l4, size_t len, uint64_t ts)
{
	if (proto == 17)
		udp_input(p, src, dst, l4, len, ts);
	else if (proto == 6)
		tcp_input(p, src, dst, l4, len, ts);
	else
		p->ctr[PCAPIN_other_proto]++;
}

static void ip6_payload(struct pcapin *p, uint8_t nh, const uint8_t *src, const uint8_t *dst,
			const uint8_t *q, size_t len, uint64_t ts, bool reassembled);

static void frag_drop(struct frag *f)
{
	f->used = false;
}

static void frag_expire(struct pcapin *p, uint64_t ts)
{
	for (uint32_t i = 0; i < p->cfg.max_frags; i++) {
		struct frag *f = &p->frags[i];
		if (f->used && ts > f->first_ts + FRAG_TIMEOUT_MS) {
			p->ctr[PCAPIN_frag_timeout]++;
			frag_drop(f);
		}
	}
}

static bool map_test(const struct frag *f, uint32_t b)
{
	return f->map[b >> 3] & (1u << (b & 7));
}

/* One fragment: payload bytes l4[0..len) at byte offset off. */
static void frag_input(struct pcapin *p, bool v6, uint8_t proto, uint32_t id,
		       const uint8_t *src, const uint8_t *dst, uint32_t off, bool more,
		       const uint8_t *l4, size_t len, uint64_t ts)
{
	struct frag *f = NULL, *freeslot = NULL, *oldest = NULL;
	uint32_t b0, b1, end = off + (uint32_t)len;

	if ((more && (len == 0 || len % 8)) || len > FRAG_MAX) {
		p->ctr[PCAPIN_frag_bad]++;
		return;
	}
	if (end > FRAG_MAX) {
		p->ctr[PCAPIN_frag_too_big]++;
		return;
	}
	frag_expire(p, ts);
	for (uint32_t i = 0; i < p->cfg.max_frags; i++) {
		struct frag *c = &p->frags[i];
		if (!c->used) {
			if (!freeslot)
				freeslot = c;
			continue;
		}
		if (c->v6 == v6 && c->proto == proto && c->id == id && !memcmp(c->src, src, 16) &&
		    !memcmp(c->dst, dst, 16)) {
			f = c;
			break;
		}
		if (!oldest || c->first_ts < oldest->first_ts)
			oldest = c;
	}
	if (!f) {
		if (!freeslot) {
			p->ctr[PCAPIN_frag_table_full]++;
			frag_drop(oldest);
			freeslot = oldest;
		}
		f = freeslot;
		if (!f->buf && !(f->buf = malloc(FRAG_MAX))) {
			p->ctr[PCAPIN_frag_table_full]++;
			return;
		}
		f->used = true;
		f->v6 = v6;
		f->proto = proto;
		f->id = id;
		memcpy(f->src, src, 16);
		memcpy(f->dst, dst, 16);
		f->first_ts = ts;
		f->total = 0;
		memset(f->map, 0, sizeof(f->map));
	}
	if ((!more && f->total && f->total != end) || (f->total && end > f->total)) {
		p->ctr[PCAPIN_frag_bad]++;
		frag_drop(f);
		return;
	}
	b0 = off / 8;
	b1 = (end + 7) / 8;
	for (uint32_t b = b0; b < b1; b++) {
		if (map_test(f, b)) {
			p->ctr[PCAPIN_frag_overlap]++;
			return;
		}
	}
	if (!more) {
		/* nothing may already lie past the end */
		for (uint32_t b = b1; b < (FRAG_MAX + 7) / 8; b++) {
			if (map_test(f, b)) {
				p->ctr[PCAPIN_frag_bad]++;
				frag_drop(f);
				return;
			}
		}
		f->total = end;
	}
	memcpy(f->buf + off, l4, len);
	for (uint32_t b = b0; b < b1; b++)
		f->map[b >> 3] |= (uint8_t)(1u << (b & 7));
	if (!f->total)
		return;
	for (uint32_t b = 0; b < (f->total + 7) / 8; b++)
		if (!map_test(f, b))
			return;
	p->ctr[PCAPIN_frag_reassembled]++;
	f->used = false; /* the buffer stays valid until the next fragment */
	if (v6)
		ip6_payload(p, proto, f->src, f->dst, f->buf, f->total, ts, true);
	else
		l4_input(p, proto, f->src, f->dst, f->buf, f->total, ts);
}

static void ip4_input(struct pcapin *p, const uint8_t *q, size_t len, size_t wirelen,
		      uint64_t ts)
{
	uint8_t src[16], dst[16];
	size_t hl, tl;
	uint16_t ff;

	if (len < 20 || (q[0] >> 4) != 4 || (hl = (size_t)(q[0] & 15) * 4) < 20 || hl > len) {
		p->ctr[len < wirelen ? PCAPIN_caplen_short : PCAPIN_ip4_bad_hdr]++;
		return;
	}
	tl = be16_load(q + 2);
	if (tl < hl) {
		p->ctr[PCAPIN_ip4_bad_hdr]++;
		return;
	}
	if (tl > len) {
		p->ctr[len < wirelen ? PCAPIN_caplen_short : PCAPIN_ip4_bad_len]++;
		return;
	}
	p->ctr[PCAPIN_ip4]++;
	addr_set_v4(src, q + 12);
	addr_set_v4(dst, q + 16);
	ff = be16_load(q + 6);
	if (ff & 0x3fff) /* MF or an offset */
		frag_input(p, false, q[9], be16_load(q + 4), src, dst, (uint32_t)(ff & 0x1fff) * 8,
			   ff & 0x2000, q + hl, tl - hl, ts);
	else
		l4_input(p, q[9], src, dst, q + hl, tl - hl, ts);
}

/* Walk IPv6 extension headers from next-header nh over q[0..len). */
static void ip6_payload(struct pcapin *p, uint8_t nh, const uint8_t *src, const uint8_t *dst,
			const uint8_t *q, size_t len, uint64_t ts, bool reassembled)
{
	for (int n = 0; n < EXT6_MAX; n++) {
		size_t el;

		switch (nh) {
		case 0:  /* hop-by-hop */
		case 43: /* routing */
		case 60: /* destination options */
			if (len < 8 || (el = ((size_t)q[1] + 1) * 8) > len) {
				p->ctr[PCAPIN_ip6_bad_ext]++;
				return;
			}
			break;
		case 51: /* AH: length in 4-byte units, minus 2 */
			if (len < 8 || (el = ((size_t)q[1] + 2) * 4) > len) {
				p->ctr[PCAPIN_ip6_bad_ext]++;
				return;
			}
			break;
		case 44: { /* fragment */
			uint16_t fo;
			if (len < 8 || reassembled) {
				p->ctr[reassembled ? PCAPIN_frag_bad : PCAPIN_ip6_bad_ext]++;
				return;
			}
			fo = be16_load(q + 2);
			if (!(fo & 0xfff9)) { /* atomic fragment (RFC 6946): offset 0, no M */
				nh = q[0];
				q += 8;
				len -= 8;
				continue;
			}
			frag_input(p, true, q[0], be32_load(q + 4), src, dst, fo & 0xfff8u,
				   fo & 1, q + 8, len - 8, ts);
			return;
		}
		default:
			l4_input(p, nh, src, dst, q, len, ts);
			return;
		}
		nh = q[0];
		q += el;
		len -= el;
	}
	p->ctr[PCAPIN_ip6_bad_ext]++;
}

static void ip6_input(struct pcapin *p, const uint8_t *q, size_t len, size_t wirelen,
		      uint64_t ts)
{
	size_t pl;

	if (len < 40 || (q[0] >> 4) != 6) {
		p->ctr[len < wirelen ? PCAPIN_caplen_short : PCAPIN_ip6_bad_hdr]++;
		return;
	}
	pl = be16_load(q + 4);
	if (pl + 40 > len) {
		/* pl 0 with data is a jumbogram: not a flow export, count it as bad */
		p->ctr[len < wirelen ? PCAPIN_caplen_short : PCAPIN_ip6_bad_len]++;
		return;
	}
	p->ctr[PCAPIN_ip6]++;
	ip6_payload(p, q[6], q + 8, q + 24, q + 40, pl, ts, false);
}

static void ip_input(struct pcapin *p, uint16_t ethertype, const uint8_t *q, size_t len,
		     size_t wirelen, uint64_t ts)
{
	if (ethertype == 0x0800)
		ip4_input(p, q, len, wirelen, ts);
	else if (ethertype == 0x86dd)
		ip6_input(p, q, len, wirelen, ts);
	else
		p->ctr[PCAPIN_not_ip]++;
}

/* Ethertype at q[off-2..off), then up to 2 VLAN tags. */
static void ether_payload(struct pcapin *p, const uint8_t *q, size_t len, size_t off,
			  size_t wirelen, uint64_t ts)
{
	uint16_t type = be16_load(q + off - 2);

	for (int tags = 0; type == 0x8100 || type == 0x88a8 || type == 0x9100; tags++) {
		if (tags == 2) {
			p->ctr[PCAPIN_vlan_too_deep]++;
			return;
		}
		if (off + 4 > len) {
			p->ctr[len < wirelen ? PCAPIN_caplen_short : PCAPIN_l2_short]++;
			return;
		}
		type = be16_load(q + off + 2);
		off += 4;
	}
	ip_input(p, type, q + off, len - off, wirelen - off, ts);
}

void pcapin_frame(struct pcapin *p, int dlt, const uint8_t *q, size_t len, size_t wirelen,
		  uint64_t ts)
{
	size_t hl;

	p->ctr[PCAPIN_frames]++;
	if (wirelen < len)
		wirelen = len;
	switch (dlt) {
	case DLT_EN10MB:
	case DLT_LINUX_SLL:
	case DLT_LINUX_SLL2:
		hl = dlt == DLT_EN10MB ? 14 : dlt == DLT_LINUX_SLL ? 16 : 20;
		if (len < hl) {
			p->ctr[len < wirelen ? PCAPIN_caplen_short : PCAPIN_l2_short]++;
			return;
		}
		if (dlt == DLT_LINUX_SLL2) /* protocol type first, not last */
			ip_input(p, be16_load(q), q + hl, len - hl, wirelen - hl, ts);
		else
			ether_payload(p, q, len, hl, wirelen, ts);
		return;
	case DLT_NULL:
	case DLT_LOOP: {
		uint32_t fam, fam_le;
		if (len < 4) {
			p->ctr[PCAPIN_l2_short]++;
			return;
		}
		/* NULL: host order of the capturing machine, so try both;
		 * AF_INET6 differs between systems (Linux 10, BSDs 24/28/30) */
		fam = be32_load(q);
		fam_le = dlt == DLT_NULL ? le32_load(q) : fam;
		if (fam == 2 || fam_le == 2)
			ip4_input(p, q + 4, len - 4, wirelen - 4, ts);
		else if (fam == 10 || fam == 24 || fam == 28 || fam == 30 || fam_le == 10 ||
			 fam_le == 24 || fam_le == 28 || fam_le == 30)
			ip6_input(p, q + 4, len - 4, wirelen - 4, ts);
		else
			p->ctr[PCAPIN_not_ip]++;
		return;
	}
	case DLT_RAW:
	case LINKTYPE_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
		if (len < 1) {
			p->ctr[PCAPIN_l2_short]++;
			return;
		}
		if ((q[0] >> 4) == 4)
			ip4_input(p, q, len, wirelen, ts);
		else if ((q[0] >> 4) == 6)
			ip6_input(p, q, len, wirelen, ts);
		else
			p->ctr[PCAPIN_not_ip]++;
		return;
	default:
		p->ctr[PCAPIN_link_unsupported]++;
		return;
	}
}

static bool dlt_supported(int dlt)
{
	return dlt == DLT_EN10MB || dlt == DLT_LINUX_SLL || dlt == DLT_LINUX_SLL2 ||
	       dlt == DLT_NULL || dlt == DLT_LOOP || dlt == DLT_RAW || dlt == LINKTYPE_RAW ||
	       dlt == DLT_IPV4 || dlt == DLT_IPV6;
}

int pcapin_read_file(struct pcapin *p, const char *path, char *err, size_t err_len)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	struct pcap_pkthdr *h;
	const u_char *data;
	pcap_t *pc;
	int dlt, rc;

	pc = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
	if (!pc) {
		snprintf(err, err_len, "%s", ebuf[0] ? ebuf : "cannot open");
		return -EINVAL;
	}
	p->ctr[PCAPIN_files]++;
	dlt = pcap_datalink(pc);
	if (!dlt_supported(dlt)) {
		const char *n = pcap_datalink_val_to_name(dlt);
		p->ctr[PCAPIN_link_unsupported]++;
		snprintf(err, err_len, "unsupported link type %s (%d)", n ? n : "?", dlt);
		pcap_close(pc);
		return -ENOTSUP;
	}
	while ((rc = pcap_next_ex(pc, &h, &data)) == 1) {
		uint64_t ts = (uint64_t)h->ts.tv_sec * 1000 + (uint64_t)h->ts.tv_usec / 1000;
		pcapin_frame(p, dlt, data, h->caplen, h->len, ts);
	}
	if (rc == PCAP_ERROR) {
		snprintf(err, err_len, "%s", pcap_geterr(pc));
		pcap_close(pc);
		return -EIO;
	}
	pcap_close(pc);
	return 0;
}

void pcapin_flush(struct pcapin *p)
{
	for (uint32_t i = 0; i < p->cfg.max_frags; i++) {
		if (p->frags[i].used) {
			p->ctr[PCAPIN_frag_timeout]++;
			frag_drop(&p->frags[i]);
		}
	}
	for (uint32_t i = 0; i < p->cfg.max_streams; i++) {
		struct stream *s = &p->streams[i];
		if (s->used)
			stream_close(p, s, s->last_ts);
	}
}

struct pcapin *pcapin_new(const struct pcapin_cfg *cfg)
{
	struct pcapin *p;

	if (!cfg || (cfg->n_ports && !cfg->ports)) {
		errno = EINVAL;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->cfg = *cfg;
	if (!p->cfg.max_frags)
		p->cfg.max_frags = 64;
	if (!p->cfg.max_streams)
		p->cfg.max_streams = 1024;
	if (!p->cfg.max_ooo_bytes)
		p->cfg.max_ooo_bytes = 256 * 1024;
	for (unsigned i = 0; i < cfg->n_ports; i++)
		p->portmap[cfg->ports[i] >> 3] |= (uint8_t)(1u << (cfg->ports[i] & 7));
	p->nbuckets = 1;
	while (p->nbuckets < p->cfg.max_streams * 2)
		p->nbuckets <<= 1;
	p->frags = calloc(p->cfg.max_frags, sizeof(*p->frags));
	p->streams = calloc(p->cfg.max_streams, sizeof(*p->streams));
	p->buckets = malloc(p->nbuckets * sizeof(*p->buckets));
	if (!p->frags || !p->streams || !p->buckets) {
		pcapin_free(p);
		errno = ENOMEM;
		return NULL;
	}
	memset(p->buckets, 0xff, p->nbuckets * sizeof(*p->buckets));
	p->cfg.ports = NULL; /* the port map holds them; the caller's array may go */
	return p;
}

void pcapin_free(struct pcapin *p)
{
	if (!p)
		return;
	if (p->streams && p->buckets)
		for (uint32_t i = 0; i < p->cfg.max_streams; i++)
			if (p->streams[i].used)
				stream_close(p, &p->streams[i], p->streams[i].last_ts);
	if (p->frags)
		for (uint32_t i = 0; i < p->cfg.max_frags; i++)
			free(p->frags[i].buf);
	free(p->frags);
	free(p->streams);
	free(p->buckets);
	free(p);
}
