/* encode.h — IPFIX encoder for the canonical record (DESIGN §3).
 *
 * The proxy forwards records to slaves with it, `flowdelta gen` exports with
 * it. It writes into a caller-owned buffer; nothing is allocated.
 *
 * Canonical templates: one per combination of {IPv4, IPv6} x {plain, biflow}
 * x {no strings, strings}, ids FLOW_ENC_TID_BASE + (v6 | biflow<<1 |
 * strings<<2). Every template carries the original exporter (IE 131, v4-mapped
 * for an IPv4 exporter), its ODID (IE 149) and the port the export arrived at
 * (IE 217 collectorTransportPort), so that any hop keeps the record's source.
 *
 * Usage per message:
 *   flow_enc_begin(e, buf, cap, odid, export_s, seq);
 *   flow_enc_templates(e);            (optional: all canonical templates)
 *   while (flow_enc_add(e, rec, arena) == 0) ...;
 *   len = flow_enc_finish(e);         (message bytes in buf[0..len))
 */
#ifndef FLOW_ENCODE_H
#define FLOW_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"

#define FLOW_ENC_TID_BASE 256
#define FLOW_ENC_NTEMPLATES 8
#define FLOW_ENC_MAX_MSG 65535

struct flow_enc {
	uint8_t *buf;
	size_t cap;
	size_t len;
	size_t set_off;    /* offset of the open set header, 0 if none */
	uint16_t set_tid;  /* template id of the open data set */
	uint32_t records;  /* data records in this message */
};

/* Start a message (writes the 16-byte header). cap is clamped to 65535.
 * 0, or -ENOSPC when cap < 16. */
int flow_enc_begin(struct flow_enc *e, uint8_t *buf, size_t cap, uint32_t odid,
		   uint32_t export_s, uint32_t seq);

/* Append one template set defining all canonical templates. 0 or -ENOSPC. */
int flow_enc_templates(struct flow_enc *e);

/* Append a template withdrawal set for all canonical templates (TCP only:
 * RFC 7011 §8.1). 0 or -ENOSPC. */
int flow_enc_withdraw(struct flow_enc *e);

/* Append one record (arena: the string arena its str_off point into; may be
 * NULL when the record has no strings). 0, or -ENOSPC when it does not fit:
 * the message is unchanged, finish it and start another. */
int flow_enc_add(struct flow_enc *e, const struct flow_rec *r, const char *arena);

/* Close the open set, write the message length; returns the message length.
 * The sequence number for the next message is seq + e->records. */
size_t flow_enc_finish(struct flow_enc *e);

/* Which canonical template variant (0..7: bit 0 IPv6, bit 1 biflow, bit 2
 * strings) a received template is, by its field specifiers; -1 if none.
 * The decoder uses it to take its canonical fast path. */
int flow_enc_variant_of(const uint8_t *spec, size_t len, uint16_t nfields);

/* Template id the record would be encoded with. */
uint16_t flow_enc_tid(const struct flow_rec *r);

#endif
