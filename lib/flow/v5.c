/* v5.c — NetFlow v5: fixed 24-byte header, up to 30 fixed 48-byte records. */
#include <string.h>

#include "flow_int.h"
#include "util/addr.h"
#include "util/bytes.h"

#define V5_HDR 24
#define V5_REC 48
#define V5_MAX_RECS 30

uint32_t v5_decode(struct flow_dec *dec, const struct flow_src *src, const uint8_t *p, size_t len,
		   uint64_t now_ms)
{
	struct domain *dom;
	uint32_t count, avail, ov, interval, n = 0;
	uint64_t export_ms;
	uint32_t uptime;
	(void)now_ms;

	if (len < V5_HDR) {
		dec_drop(dec, NULL, FLOW_DROP_short_header);
		return 0;
	}
	/* v5 has no observation domain; engine type/id play that role. */
	dom = dec_domain(dec, src->addr, (uint32_t)p[20] << 8 | p[21], 5);
	if (!dom) {
		dec_drop(dec, NULL, FLOW_DROP_domain_limit);
		return 0;
	}
	dom->st.packets++;
	count = be16_load(p + 2);
	avail = (uint32_t)((len - V5_HDR) / V5_REC);
	if (count == 0 || count > V5_MAX_RECS) {
		dec_drop(dec, dom, FLOW_DROP_v5_bad_count);
		return 0;
	}
	if (count > avail) {
		/* Keep the complete records that are there; count the lie. */
		dec_drop(dec, dom, FLOW_DROP_v5_bad_count);
		count = avail;
	}
	uptime = be32_load(p + 4);
	export_ms = (uint64_t)be32_load(p + 8) * 1000 + be32_load(p + 12) / 1000000;
	dec_seq(dom, be32_load(p + 16), be16_load(p + 2));
	interval = be16_load(p + 22) & 0x3fff;
	if (interval)
		dom->default_interval = interval;
	ov = dec->noverrides ? dec_override(dec, src->addr) : 0;

	for (uint32_t i = 0; i < count; i++) {
		const uint8_t *r8 = p + V5_HDR + i * V5_REC;
		struct flow_rec *r;

		if (dec->nrec == dec->cfg.batch_size)
			dec_flush(dec);
		r = &dec->recs[dec->nrec];
		memset(r, 0, sizeof(*r));
		addr_set_v4(r->src_addr, r8);
		addr_set_v4(r->dst_addr, r8 + 4);
		addr_set_v4(r->next_hop, r8 + 8);
		r->in_if = be16_load(r8 + 12);
		r->out_if = be16_load(r8 + 14);
		r->packets = be32_load(r8 + 16);
		r->bytes = be32_load(r8 + 20);
		int64_t f = (int64_t)export_ms - (int32_t)(uptime - be32_load(r8 + 24));
		int64_t l = (int64_t)export_ms - (int32_t)(uptime - be32_load(r8 + 28));
		r->first_ms = f > 0 ? (uint64_t)f : 0;
		r->last_ms = l > 0 ? (uint64_t)l : 0;
		r->src_port = be16_load(r8 + 32);
		r->dst_port = be16_load(r8 + 34);
		r->tcp_flags = r8[37];
		r->proto = r8[38];
		r->tos = r8[39];
		r->src_as = be16_load(r8 + 40);
		r->dst_as = be16_load(r8 + 42);
		r->src_mask = r8[44];
		r->dst_mask = r8[45];
		memcpy(r->exporter, src->addr, 16);
		r->odid = dom->odid;
		r->exp_port = src->listen_port;
		r->version = 5;
		r->sampling = ov ? ov : (interval ? interval : 1);
		if (r->proto == FLOW_PROTO_ICMP) {
			/* v5 exporters put type*256+code in the destination port;
			 * a few use the source port. */
			if (!r->dst_port)
				r->dst_port = r->src_port;
			r->src_port = 0;
		}
		dec->nrec++;
		n++;
	}
	dom->st.records += n;
	dec->st.records += n;
	return n;
}
