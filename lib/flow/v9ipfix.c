/* v9ipfix.c — NetFlow v9 (RFC 3954) and IPFIX (RFC 7011) messages: headers,
 * set walking, template and options template records.
 *
 * Sets are walked by their own lengths; the v9 header's record count is
 * advisory and ignored (exporters get it wrong). v9 field specifiers are
 * rewritten into IPFIX form so that one template compiler serves both; v9
 * vendor types (>= 32768) and v9 scope fields, which are not IANA IEs, are
 * marked with an enterprise number no IE table knows, and so skipped.
 */
#include <errno.h>
#include <string.h>

#include "flow_int.h"
#include "util/bytes.h"

#define V9_HDR 20
#define IPFIX_HDR 16
#define PEN_UNKNOWN 0xffffffffu
#define SPEC_MAX (4096 * 8)

void v9ipfix_data_set(struct flow_dec *dec, struct msg_ctx *m, uint16_t tid, const uint8_t *p,
		      uint32_t len)
{
	struct tentry *e = tmpl_lookup(dec, m->dom->id, m->sess, tid);

	if (!e) {
		dec_park(dec, m, tid, p, len);
		m->uncounted = true;
		return;
	}
	if (!m->tcp && dec->cfg.tmpl_lifetime_s &&
	    m->now_ms > e->last_ms + (uint64_t)dec->cfg.tmpl_lifetime_s * 1000) {
		dec_drop(dec, m->dom, FLOW_DROP_tmpl_expired);
		m->uncounted = true;
		return;
	}
	tmpl_decode_set(dec, m, e->t, p, len);
}

/* Length of nfields IPFIX field specifiers at p (at most avail bytes), or
 * -1 if they do not fit. */
static long spec_length(const uint8_t *p, uint32_t avail, uint32_t nfields)
{
	uint32_t off = 0;

	for (uint32_t i = 0; i < nfields; i++) {
		if (off + 4 > avail)
			return -1;
		off += (p[off] & 0x80) ? 8 : 4;
		if (off > avail)
			return -1;
	}
	return off;
}

static void ipfix_template_set(struct flow_dec *dec, struct msg_ctx *m, const uint8_t *p,
			       uint32_t len, bool options)
{
	uint32_t off = 0;
	uint32_t hdr = options ? 6 : 4;

	/* Fewer than 4 bytes left is padding (RFC 7011 §3.3.1). */
	while (len - off >= 4) {
		uint16_t tid = be16_load(p + off);
		uint16_t nfields = be16_load(p + off + 2);
		uint16_t nscope = 0;
		long sl;

		if (nfields == 0) { /* withdrawal */
			if (!m->tcp) {
				dec_drop(dec, m->dom, FLOW_DROP_tmpl_withdraw_udp);
			} else if (tid == (options ? 3 : 2)) {
				tmpl_withdraw(dec, m->dom->id, m->sess, 0, options ? 2 : 1);
			} else if (tid >= 256) {
				tmpl_withdraw(dec, m->dom->id, m->sess, tid, 0);
			} else {
				dec_drop(dec, m->dom, FLOW_DROP_tmpl_bad_id);
			}
			off += 4;
			continue;
		}
		if (len - off < hdr) {
			dec_drop(dec, m->dom, FLOW_DROP_tmpl_malformed);
			return;
		}
		if (options) {
			nscope = be16_load(p + off + 4);
			if (nscope == 0 || nscope > nfields) {
				dec_drop(dec, m->dom, FLOW_DROP_tmpl_malformed);
				return;
			}
		}
		sl = spec_length(p + off + hdr, len - off - hdr, nfields);
		if (sl < 0) {
			dec_drop(dec, m->dom, FLOW_DROP_tmpl_malformed);
			return;
		}
		if (tid < 256)
			dec_drop(dec, m->dom, FLOW_DROP_tmpl_bad_id);
		else
			tmpl_define(dec, m->dom, m->sess, tid, p + off + hdr, (uint32_t)sl, nfields,
				    nscope, options, m->now_ms);
		off += hdr + (uint32_t)sl;
	}
}

/* Rewrite n v9 (type, length) pairs into IPFIX specifiers in out. */
static uint32_t v9_specs(const uint8_t *p, uint32_t n, bool scope, uint8_t *out)
{
	uint32_t o = 0;

	for (uint32_t i = 0; i < n; i++) {
		uint16_t type = be16_load(p + 4 * i);
		uint16_t flen = be16_load(p + 4 * i + 2);

		if (scope || (type & 0x8000)) {
			be16_store(out + o, type | 0x8000);
			be16_store(out + o + 2, flen);
			be32_store(out + o + 4, PEN_UNKNOWN);
			o += 8;
		} else {
			be16_store(out + o, type);
			be16_store(out + o + 2, flen);
			o += 4;
		}
	}
	return o;
}

static void v9_template_set(struct flow_dec *dec, struct msg_ctx *m, const uint8_t *p,
			    uint32_t len, bool options)
{
	uint8_t spec[SPEC_MAX];
	uint32_t off = 0;
	uint32_t hdr = options ? 6 : 4;

	while (len - off >= hdr) {
		uint16_t tid = be16_load(p + off);
		uint32_t nscope = 0, nfields, o;

		if (options) {
			uint16_t scope_len = be16_load(p + off + 2);
			uint16_t opt_len = be16_load(p + off + 4);
			if ((scope_len % 4) || (opt_len % 4) || scope_len + opt_len == 0) {
				dec_drop(dec, m->dom, FLOW_DROP_tmpl_malformed);
				return;
			}
			nscope = scope_len / 4u;
			nfields = nscope + opt_len / 4u;
		} else {
			nfields = be16_load(p + off + 2);
			if (nfields == 0) {
				/* v9 has no withdrawal: a zero count is garbage
				 * or padding; either way the set ends here. */
				if (tid != 0)
					dec_drop(dec, m->dom, FLOW_DROP_tmpl_malformed);
				return;
			}
		}
		if ((uint64_t)nfields * 4 > len - off - hdr) {
			dec_drop(dec, m->dom, FLOW_DROP_tmpl_malformed);
			return;
		}
		if (nfields > dec->cfg.max_tmpl_fields || nfields > 4096) {
			dec_drop(dec, m->dom, FLOW_DROP_tmpl_too_many_fields);
			off += hdr + nfields * 4;
			continue;
		}
		/* v9 has no variable-length encoding: 65535 would be a literal
		 * length no record in a datagram can have, not IPFIX's marker. */
		bool bad_len = false;
		for (uint32_t i = 0; i < nfields; i++)
			if (be16_load(p + off + hdr + 4 * i + 2) == 0xffff)
				bad_len = true;
		if (bad_len) {
			dec_drop(dec, m->dom, FLOW_DROP_tmpl_malformed);
			off += hdr + nfields * 4;
			continue;
		}
		o = v9_specs(p + off + hdr, nscope, true, spec);
		o += v9_specs(p + off + hdr + nscope * 4, nfields - nscope, false, spec + o);
		if (tid < 256)
			dec_drop(dec, m->dom, FLOW_DROP_tmpl_bad_id);
		else
			tmpl_define(dec, m->dom, m->sess, tid, spec, o, (uint16_t)nfields,
				    (uint16_t)nscope, options, m->now_ms);
		off += hdr + nfields * 4;
		/* v9 options template flowsets pad to 4 bytes after each record. */
	}
}

/* Walk the sets of a message body [p, p+len). */
static void walk_sets(struct flow_dec *dec, struct msg_ctx *m, const uint8_t *p, size_t len,
		      bool ipfix)
{
	size_t off = 0;

	while (len - off >= 4) {
		uint16_t id = be16_load(p + off);
		uint16_t slen = be16_load(p + off + 2);
		const uint8_t *body = p + off + 4;
		uint32_t blen;

		if (slen < 4) {
			dec_drop(dec, m->dom, FLOW_DROP_set_short);
			return; /* no way to find the next set */
		}
		if (slen > len - off) {
			dec_drop(dec, m->dom, FLOW_DROP_set_overrun);
			return;
		}
		blen = slen - 4u;
		if (ipfix) {
			if (id == 2 || id == 3)
				ipfix_template_set(dec, m, body, blen, id == 3);
			else if (id >= 256)
				v9ipfix_data_set(dec, m, id, body, blen);
			else
				dec_drop(dec, m->dom, FLOW_DROP_set_id_reserved);
		} else {
			if (id == 0 || id == 1)
				v9_template_set(dec, m, body, blen, id == 1);
			else if (id >= 256)
				v9ipfix_data_set(dec, m, id, body, blen);
			else
				dec_drop(dec, m->dom, FLOW_DROP_set_id_reserved);
		}
		off += slen;
	}
	/* 1..3 trailing bytes: padding some v9 exporters add; not an error. */
}

uint32_t v9_decode(struct flow_dec *dec, const struct flow_src *src, const uint8_t *p, size_t len,
		   uint64_t now_ms)
{
	struct msg_ctx m;
	uint32_t before = (uint32_t)dec->st.records;

	if (len < V9_HDR) {
		dec_drop(dec, NULL, FLOW_DROP_short_header);
		return 0;
	}
	memset(&m, 0, sizeof(m));
	m.dom = dec_domain(dec, src->addr, be32_load(p + 16), 9);
	if (!m.dom) {
		dec_drop(dec, NULL, FLOW_DROP_domain_limit);
		return 0;
	}
	m.dom->st.packets++;
	m.src = src;
	m.version = 9;
	m.now_ms = now_ms;
	m.uptime_ms = be32_load(p + 4);
	m.has_uptime = 1;
	m.export_ms = (uint64_t)be32_load(p + 8) * 1000;
	dec_seq(m.dom, be32_load(p + 12), 1); /* v9 counts export packets */
	walk_sets(dec, &m, p + V9_HDR, len - V9_HDR, false);
	return (uint32_t)dec->st.records - before;
}

uint32_t ipfix_decode_msg(struct flow_dec *dec, const struct flow_src *src, struct flow_tcp *tcp,
			  uint32_t sess, const uint8_t *p, size_t len, uint64_t now_ms)
{
	struct msg_ctx m;
	uint32_t before = (uint32_t)dec->st.records;
	uint16_t mlen;

	if (len < IPFIX_HDR) {
		dec_drop(dec, NULL, FLOW_DROP_short_header);
		return 0;
	}
	mlen = be16_load(p + 2);
	memset(&m, 0, sizeof(m));
	m.dom = dec_domain(dec, src->addr, be32_load(p + 12), 10);
	if (!m.dom) {
		dec_drop(dec, NULL, FLOW_DROP_domain_limit);
		return 0;
	}
	m.dom->st.packets++;
	if (mlen < IPFIX_HDR || mlen > len) {
		dec_drop(dec, m.dom, FLOW_DROP_bad_length);
		return 0;
	}
	m.src = src;
	m.tcp = tcp;
	m.sess = sess;
	m.version = 10;
	m.now_ms = now_ms;
	m.export_ms = (uint64_t)be32_load(p + 4) * 1000;
	walk_sets(dec, &m, p + IPFIX_HDR, mlen - IPFIX_HDR, true);
	/* IPFIX counts data records, known only now. */
	dec_seq(m.dom, be32_load(p + 8), m.data_records);
	if (m.uncounted)
		m.dom->seq_resync = true;
	return (uint32_t)dec->st.records - before;
}
