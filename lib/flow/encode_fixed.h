/* encode_fixed.h — the IPFIX encoder's fixed-size fast path, inline, for
 * callers that append many records per call (the proxy's workers).
 *
 * A record without strings encodes to a fixed number of bytes per canonical
 * template variant (IPv4/IPv6 x plain/biflow). A caller that appends a run
 * of them to one message checks the open data set and the room itself, keeps
 * the write cursor in a register, and commits the run once:
 *
 *   uint8_t *p = flow_enc_cursor(e), *end = flow_enc_end(e);
 *   for each record r:
 *     tid = flow_enc_fixed_tid(r);
 *     if (tid == e->set_tid && (size_t)(end - p) >= flow_enc_fixed_len(tid))
 *       p = flow_enc_put_fixed(p, r);          else: commit, flow_enc_add(), reload
 *   flow_enc_commit(e, p, nrecords);
 *
 * The bytes are exactly those of flow_enc_add() (encode.c uses the same
 * functions), so the run and the record-at-a-time path mix freely.
 */
#ifndef FLOW_ENCODE_FIXED_H
#define FLOW_ENCODE_FIXED_H

#include <stdint.h>
#include <string.h>

#include "canon.h"
#include "encode.h"
#include "record.h"

/* Fixed bytes per variant: head 32 + addresses (3 x 4 or 3 x 16) + exporter
 * 16 + six u32 24 + four u16 8 + eight u8 8; biflow adds two u64. */
#define FLOW_ENC_FIXED_V4 (32 + 12 + 56)
#define FLOW_ENC_FIXED_V6 (32 + 48 + 56)
#define FLOW_ENC_FIXED_BI 16

/* The variant's bits 0 (IPv6) and 1 (biflow) are the record's flag bits. */
_Static_assert(FLOW_F_IP6 == 1 && FLOW_F_BIFLOW == 2, "variant bits are the record flags");

/* Template id of r when it has no strings (fixed-size encoding), else 0. */
static inline uint16_t flow_enc_fixed_tid(const struct flow_rec *r)
{
	uint64_t l;
	memcpy(&l, r->str_len, sizeof(l));
	if (l)
		return 0;
	return (uint16_t)(FLOW_ENC_TID_BASE + (r->flags & (FLOW_F_IP6 | FLOW_F_BIFLOW)));
}

/* Encoded bytes of a record of fixed-size template tid. */
static inline uint32_t flow_enc_fixed_len(uint16_t tid)
{
	uint32_t v = (uint32_t)(tid - FLOW_ENC_TID_BASE);
	return FLOW_ENC_FIXED_V4 + (v & 1) * (FLOW_ENC_FIXED_V6 - FLOW_ENC_FIXED_V4) +
	       ((v >> 1) & 1) * FLOW_ENC_FIXED_BI;
}

/* Write r's fixed fields (template order: f_head, addresses, f_tail, f_bi
 * in encode.c) at p; returns p + flow_enc_fixed_len(). Runs of struct
 * flow_rec are swapped as blocks (record.h keeps them contiguous). */
static inline uint8_t *flow_enc_put_fixed(uint8_t *p, const struct flow_rec *r)
{
	const uint8_t *rr = (const uint8_t *)r;
	/* read once: the stores through p may alias r as far as the compiler
	 * knows, and would make it reload the flags after each of them */
	const uint8_t fl = r->flags;

	canon_swap_head(p, rr); /* first, last, packets, bytes */
	p += 32;
	if (fl & FLOW_F_IP6) {
		memcpy(p, r->src_addr, 48); /* src, dst, next hop */
		p += 48;
	} else {
		memcpy(p, r->src_addr + 12, 4);
		memcpy(p + 4, r->dst_addr + 12, 4);
		memcpy(p + 8, r->next_hop + 12, 4);
		p += 12;
	}
	memcpy(p, r->exporter, 16);
	canon_swap_mid(p + 16, rr + 112); /* odid .. dst_as, ports, vlan */
	memcpy(p + 48, &r->proto, 8);     /* proto .. version, flags incl. */
	p += 56;
	if (fl & FLOW_F_BIFLOW) {
		uint64_t v[2];
		memcpy(v, &r->rev_packets, 16);
		v[0] = __builtin_bswap64(v[0]);
		v[1] = __builtin_bswap64(v[1]);
		memcpy(p, v, 16);
		p += 16;
	}
	return p;
}

/* Where the next record goes, and the end of the buffer. */
static inline uint8_t *flow_enc_cursor(const struct flow_enc *e)
{
	return e->buf + e->len;
}

static inline const uint8_t *flow_enc_end(const struct flow_enc *e)
{
	return e->buf + e->cap;
}

/* Account nrec records written from flow_enc_cursor() up to p. */
static inline void flow_enc_commit(struct flow_enc *e, const uint8_t *p, uint32_t nrec)
{
	e->len = (size_t)(p - e->buf);
	e->records += nrec;
}

#endif
