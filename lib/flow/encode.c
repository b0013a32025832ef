/* encode.c — IPFIX messages of canonical records (see encode.h).
 *
 * The field order of the canonical templates is written twice: once as data
 * (tmpl_fields, for the template set) and once as straight-line code
 * (flow_enc_put_fixed in encode_fixed.h, the per-record hot path of the
 * proxy). The encoder→decoder round
 * trip tests keep the two in step.
 */
#include <errno.h>
#include <string.h>

#include "canon.h"
#include "encode.h"
#include "encode_fixed.h"
#include "flow.h"
#include "util/bytes.h"

#define IPFIX_HDR 16
#define VARLEN 0xffff

struct encf {
	uint16_t id;
	uint16_t len;
	uint32_t pen;
};

/* Field order mirrors struct flow_rec, so that runs of same-width fields
 * are contiguous on both sides: the encoder and the decoder's canonical fast
 * path (template.c) byte-swap them as blocks. */
static const struct encf f_head[] = {
	{ 152, 8, 0 }, { 153, 8, 0 }, { 2, 8, 0 }, { 1, 8, 0 },
};
static const struct encf f_v4[] = { { 8, 4, 0 }, { 12, 4, 0 }, { 15, 4, 0 } };
static const struct encf f_v6[] = { { 27, 16, 0 }, { 28, 16, 0 }, { 62, 16, 0 } };
static const struct encf f_tail[] = {
	{ 131, 16, 0 },
	{ 149, 4, 0 }, { 34, 4, 0 }, { 10, 4, 0 }, { 14, 4, 0 }, { 16, 4, 0 }, { 17, 4, 0 },
	{ 7, 2, 0 }, { 11, 2, 0 }, { 217, 2, 0 }, { 58, 2, 0 },
	{ 4, 1, 0 }, { 6, 1, 0 }, { 5, 1, 0 },
	{ 0, 1, 0 } /* src mask: 9 or 29 */, { 0, 1, 0 } /* dst mask: 13 or 30 */,
	{ 61, 1, 0 }, { FLOW_IE_FLAGS, 1, FLOW_PEN_FLOWDELTA },
	{ FLOW_IE_VERSION, 1, FLOW_PEN_FLOWDELTA },
};
static const struct encf f_bi[] = { { 2, 8, FLOW_PEN_REVERSE }, { 1, 8, FLOW_PEN_REVERSE } };
static const struct encf f_str[] = {
	{ 96, VARLEN, 0 }, { 460, VARLEN, 0 }, { 461, VARLEN, 0 },
	{ FLOW_IE_SNI, VARLEN, FLOW_PEN_FLOWDELTA },
};

#define F_TAIL_SMASK 14 /* index of the source mask in f_tail */

static inline bool has_str(const struct flow_rec *r)
{
	uint64_t l;
	memcpy(&l, r->str_len, sizeof(l));
	return l != 0;
}

uint16_t flow_enc_tid(const struct flow_rec *r)
{
	return (uint16_t)(FLOW_ENC_TID_BASE + ((r->flags & FLOW_F_IP6) ? 1 : 0) +
			  ((r->flags & FLOW_F_BIFLOW) ? 2 : 0) + (has_str(r) ? 4 : 0));
}

int flow_enc_begin(struct flow_enc *e, uint8_t *buf, size_t cap, uint32_t odid, uint32_t export_s,
		   uint32_t seq)
{
	if (cap > FLOW_ENC_MAX_MSG)
		cap = FLOW_ENC_MAX_MSG;
	if (cap < IPFIX_HDR)
		return -ENOSPC;
	e->buf = buf;
	e->cap = cap;
	e->len = IPFIX_HDR;
	e->set_off = 0;
	e->set_tid = 0;
	e->records = 0;
	be16_store(buf, 10);
	be16_store(buf + 2, IPFIX_HDR);
	be32_store(buf + 4, export_s);
	be32_store(buf + 8, seq);
	be32_store(buf + 12, odid);
	return 0;
}

static void close_set(struct flow_enc *e)
{
	if (e->set_off) {
		be16_store(e->buf + e->set_off + 2, (uint16_t)(e->len - e->set_off));
		e->set_off = 0;
		e->set_tid = 0;
	}
}

static uint8_t *put_fields(uint8_t *p, const struct encf *f, size_t n, bool v6)
{
	for (size_t i = 0; i < n; i++) {
		uint16_t id = f[i].id;
		if (f == f_tail && i == F_TAIL_SMASK)
			id = v6 ? 29 : 9;
		else if (f == f_tail && i == F_TAIL_SMASK + 1)
			id = v6 ? 30 : 13;
		if (f[i].pen) {
			be16_store(p, id | 0x8000);
			be16_store(p + 2, f[i].len);
			be32_store(p + 4, f[i].pen);
			p += 8;
		} else {
			be16_store(p, id);
			be16_store(p + 2, f[i].len);
			p += 4;
		}
	}
	return p;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Field specifiers of canonical template variant v; returns their length. */
static size_t variant_spec(unsigned v, uint8_t *out, uint16_t *nfields)
{
	bool v6 = v & 1, bi = v & 2, str = v & 4;
	uint8_t *p = out;

	*nfields = (uint16_t)(N(f_head) + 3 + N(f_tail) + (bi ? N(f_bi) : 0) + (str ? N(f_str) : 0));
	p = put_fields(p, f_head, N(f_head), v6);
	p = put_fields(p, v6 ? f_v6 : f_v4, 3, v6);
	p = put_fields(p, f_tail, N(f_tail), v6);
	if (bi)
		p = put_fields(p, f_bi, N(f_bi), v6);
	if (str)
		p = put_fields(p, f_str, N(f_str), v6);
	return (size_t)(p - out);
}

int flow_enc_templates(struct flow_enc *e)
{
	uint8_t tmp[FLOW_ENC_NTEMPLATES * 64 * 8];
	uint8_t *p = tmp + 4;

	for (unsigned v = 0; v < FLOW_ENC_NTEMPLATES; v++) {
		uint16_t nf;
		size_t l = variant_spec(v, p + 4, &nf);
		be16_store(p, (uint16_t)(FLOW_ENC_TID_BASE + v));
		be16_store(p + 2, nf);
		p += 4 + l;
	}
	size_t slen = (size_t)(p - tmp);
	close_set(e);
	if (e->len + slen > e->cap)
		return -ENOSPC;
	be16_store(tmp, 2);
	be16_store(tmp + 2, (uint16_t)slen);
	memcpy(e->buf + e->len, tmp, slen);
	e->len += slen;
	return 0;
}

int flow_enc_variant_of(const uint8_t *spec, size_t len, uint16_t nfields)
{
	uint8_t tmp[64 * 8];
	uint16_t nf;

	for (unsigned v = 0; v < FLOW_ENC_NTEMPLATES; v++) {
		size_t l = variant_spec(v, tmp, &nf);
		if (l == len && nf == nfields && !memcmp(tmp, spec, len))
			return (int)v;
	}
	return -1;
}

int flow_enc_withdraw(struct flow_enc *e)
{
	size_t slen = 4 + 4 * FLOW_ENC_NTEMPLATES;
	uint8_t *p;

	close_set(e);
	if (e->len + slen > e->cap)
		return -ENOSPC;
	p = e->buf + e->len;
	be16_store(p, 2);
	be16_store(p + 2, (uint16_t)slen);
	for (unsigned v = 0; v < FLOW_ENC_NTEMPLATES; v++) {
		be16_store(p + 4 + 4 * v, (uint16_t)(FLOW_ENC_TID_BASE + v));
		be16_store(p + 6 + 4 * v, 0);
	}
	e->len += slen;
	return 0;
}

int flow_enc_add(struct flow_enc *e, const struct flow_rec *r, const char *arena)
{
	bool str = arena && has_str(r);
	uint16_t tid = (uint16_t)(FLOW_ENC_TID_BASE + (r->flags & (FLOW_F_IP6 | FLOW_F_BIFLOW)) +
				  (str ? 4 : 0));
	size_t need = flow_enc_fixed_len((uint16_t)(tid & ~4));
	uint8_t *p;

	if (str) {
		for (int i = 0; i < FLOW_STR_MAX; i++)
			need += r->str_len[i] + (r->str_len[i] < 255 ? 1 : 3);
	}
	if (e->set_tid != tid)
		need += 4;
	if (e->len + need > e->cap)
		return -ENOSPC; /* the message is unchanged */
	if (e->set_tid != tid) {
		close_set(e);
		e->set_off = e->len;
		e->set_tid = tid;
		be16_store(e->buf + e->len, tid);
		e->len += 4;
	}
	p = flow_enc_put_fixed(e->buf + e->len, r);
	if (str) {
		for (int i = 0; i < FLOW_STR_MAX; i++) {
			uint16_t l = r->str_len[i];
			if (l < 255) {
				*p++ = (uint8_t)l;
			} else {
				*p++ = 255;
				be16_store(p, l);
				p += 2;
			}
			memcpy(p, arena + r->str_off[i], l);
			p += l;
		}
	}
	e->len = (size_t)(p - e->buf);
	e->records++;
	return 0;
}

size_t flow_enc_finish(struct flow_enc *e)
{
	close_set(e);
	be16_store(e->buf + 2, (uint16_t)e->len);
	return e->len;
}
