/* pktbuild.h — tiny builders for NetFlow v5/v9 and IPFIX test messages.
 *
 * Tests write exports field by field with these so every byte of a case is
 * visible in the test itself; lengths are patched by the *_end helpers.
 */
#ifndef TESTS_PKTBUILD_H
#define TESTS_PKTBUILD_H

#include <stdint.h>
#include <string.h>

#include "util/bytes.h"

struct pb {
	uint8_t b[65536 + 64];
	size_t n;
	size_t set_off; /* open set/flowset */
};

static inline void pb_reset(struct pb *p)
{
	p->n = 0;
	p->set_off = 0;
}
static inline void pb_u8(struct pb *p, uint8_t v) { p->b[p->n++] = v; }
static inline void pb_u16(struct pb *p, uint16_t v) { be16_store(p->b + p->n, v); p->n += 2; }
static inline void pb_u32(struct pb *p, uint32_t v) { be32_store(p->b + p->n, v); p->n += 4; }
static inline void pb_u64(struct pb *p, uint64_t v) { be64_store(p->b + p->n, v); p->n += 8; }
static inline void pb_bytes(struct pb *p, const void *d, size_t n)
{
	memcpy(p->b + p->n, d, n);
	p->n += n;
}
static inline void pb_ip4(struct pb *p, uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	pb_u8(p, a); pb_u8(p, b); pb_u8(p, c); pb_u8(p, d);
}

/* IPFIX message header; ipfix_end() patches the length. */
static inline void ipfix_hdr(struct pb *p, uint32_t export_s, uint32_t seq, uint32_t odid)
{
	pb_reset(p);
	pb_u16(p, 10);
	pb_u16(p, 0);
	pb_u32(p, export_s);
	pb_u32(p, seq);
	pb_u32(p, odid);
}
static inline void ipfix_end(struct pb *p) { be16_store(p->b + 2, (uint16_t)p->n); }

/* v9 header; count is advisory. */
static inline void v9_hdr(struct pb *p, uint16_t count, uint32_t uptime, uint32_t secs, uint32_t seq,
			  uint32_t source_id)
{
	pb_reset(p);
	pb_u16(p, 9);
	pb_u16(p, count);
	pb_u32(p, uptime);
	pb_u32(p, secs);
	pb_u32(p, seq);
	pb_u32(p, source_id);
}

static inline void set_begin(struct pb *p, uint16_t id)
{
	p->set_off = p->n;
	pb_u16(p, id);
	pb_u16(p, 0);
}
static inline void set_end(struct pb *p)
{
	be16_store(p->b + p->set_off + 2, (uint16_t)(p->n - p->set_off));
}

/* field specifier: IPFIX (with optional PEN) or v9 (pen must be 0) */
static inline void fspec(struct pb *p, uint16_t id, uint16_t len, uint32_t pen)
{
	pb_u16(p, pen ? (uint16_t)(id | 0x8000) : id);
	pb_u16(p, len);
	if (pen)
		pb_u32(p, pen);
}

#endif
