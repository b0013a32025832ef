/* template.c — template tables, template compilation and the record copy
 * program: the decoder's hot loop.
 *
 * A template is compiled once into an array of ops (one per field the
 * canonical record uses). For an all-fixed-length template every op knows its
 * offset in the record, the ops for unused fields are dropped, and a record
 * costs one prototype copy plus one switch dispatch per used field. Templates
 * with variable-length fields keep one op per field and walk a cursor.
 * Byte-identical templates (the common case: every router of a fleet sends
 * the same ones) share one compiled program.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "encode.h"
#include "flow_int.h"
#include "util/addr.h"
#include "util/bytes.h"
#include "util/compiler.h"
#include "util/hash.h"

#define NO_ENTRY UINT32_MAX
#define NTP_UNIX_OFFSET 2208988800ULL /* seconds from 1900 to 1970 */

/* ---- tables ------------------------------------------------------------- */

static size_t scratch_size(void);

int tmpl_table_init(struct flow_dec *dec)
{
	uint32_t n = dec->cfg.max_templates;

	dec->scratch = calloc(dec->cfg.batch_size, scratch_size());
	dec->starts = calloc(dec->cfg.batch_size, sizeof(*dec->starts));
	if (!dec->scratch || !dec->starts)
		return -ENOMEM;

	dec->tents = calloc(n, sizeof(*dec->tents));
	dec->tmask = hash_pow2_at_least(n) - 1;
	dec->tbuckets = malloc((size_t)(dec->tmask + 1) * sizeof(*dec->tbuckets));
	dec->prog_mask = hash_pow2_at_least(n / 4 + 16) - 1;
	dec->prog_buckets = calloc(dec->prog_mask + 1, sizeof(*dec->prog_buckets));
	if (!dec->tents || !dec->tbuckets || !dec->prog_buckets)
		return -ENOMEM;
	for (uint32_t i = 0; i <= dec->tmask; i++)
		dec->tbuckets[i] = NO_ENTRY;
	for (uint32_t i = 0; i < n; i++)
		dec->tents[i].next = i + 1 < n ? i + 1 : NO_ENTRY;
	dec->tfree = 0;
	return 0;
}

static void prog_unref(struct flow_dec *dec, struct tmpl *t)
{
	struct tmpl **pp;

	if (--t->refcnt)
		return;
	for (pp = &dec->prog_buckets[t->hash & dec->prog_mask]; *pp; pp = &(*pp)->hnext) {
		if (*pp == t) {
			*pp = t->hnext;
			break;
		}
	}
	free(t->raw);
	free(t);
}

void tmpl_table_free(struct flow_dec *dec)
{
	if (dec->tents) {
		for (uint32_t i = 0; i < dec->cfg.max_templates; i++)
			if (dec->tents[i].used)
				prog_unref(dec, dec->tents[i].t);
	}
	free(dec->scratch);
	free(dec->starts);
	free(dec->tents);
	free(dec->tbuckets);
	free(dec->prog_buckets);
}

static uint32_t tkey_bucket(const struct flow_dec *dec, uint32_t dom, uint32_t sess, uint16_t tid)
{
	uint64_t k = ((uint64_t)dom << 32) ^ ((uint64_t)sess << 16) ^ tid;
	return (uint32_t)hash_mix64(k ^ ((uint64_t)sess << 48)) & dec->tmask;
}

struct tentry *tmpl_lookup(struct flow_dec *dec, uint32_t dom, uint32_t sess, uint16_t tid)
{
	uint32_t i = dec->tbuckets[tkey_bucket(dec, dom, sess, tid)];

	while (i != NO_ENTRY) {
		struct tentry *e = &dec->tents[i];
		if (e->dom == dom && e->sess == sess && e->tid == tid)
			return e;
		i = e->next;
	}
	return NULL;
}

static void tentry_remove(struct flow_dec *dec, struct tentry *e)
{
	uint32_t idx = (uint32_t)(e - dec->tents);
	uint32_t *pi = &dec->tbuckets[tkey_bucket(dec, e->dom, e->sess, e->tid)];

	while (*pi != NO_ENTRY && *pi != idx)
		pi = &dec->tents[*pi].next;
	if (*pi == idx)
		*pi = e->next;
	prog_unref(dec, e->t);
	dec->domains[e->dom]->st.templates_live--;
	dec->tlive--;
	memset(e, 0, sizeof(*e));
	e->next = dec->tfree;
	dec->tfree = idx;
}

void tmpl_withdraw(struct flow_dec *dec, uint32_t dom, uint32_t sess, uint16_t tid, int all)
{
	if (!all) {
		struct tentry *e = tmpl_lookup(dec, dom, sess, tid);
		if (e)
			tentry_remove(dec, e);
		return;
	}
	for (uint32_t i = 0; i < dec->cfg.max_templates; i++) {
		struct tentry *e = &dec->tents[i];
		if (e->used && e->dom == dom && e->sess == sess && e->t->options == (all == 2))
			tentry_remove(dec, e);
	}
}

void tmpl_drop_session(struct flow_dec *dec, uint32_t sess)
{
	for (uint32_t i = 0; i < dec->cfg.max_templates; i++) {
		struct tentry *e = &dec->tents[i];
		if (e->used && e->sess == sess)
			tentry_remove(dec, e);
	}
}

/* ---- compilation -------------------------------------------------------- */

/* Fast variants chosen once at compile time for the common exact widths. */
enum {
	OP_U8_1 = OP_OPT + 1,
	OP_U16_2,
	OP_U32_4,
	OP_U64_8,
	OP_U64_4,
	OP_T_MS_8,
	OP_U32_2,
	OP_A4F,    /* OP_A4 writing all 16 bytes */
	OP_A6ALT,  /* IPv6 half of a dual-stack pair: scratch slot dst */
	OP_IPVER,  /* IE 60 ipVersion */
	/* two adjacent fields of one kind, adjacent in the record too (ports,
	 * interfaces, AS numbers, counters, masks) or 16 bytes apart (IPv4
	 * addresses): one op, one dispatch, one load */
	OP_2U8,
	OP_2U16,
	OP_2U32,
	OP_2U64_4,
	OP_2A4,
};

#define RO(f) ((uint16_t)offsetof(struct flow_rec, f))

/* Map one field of a data template to an op. prio resolves IEs that fill the
 * same record field (octetDeltaCount beats octetTotalCount, ...): the highest
 * priority present wins, whatever the field order. */
static void map_data(uint32_t pen, uint16_t id, uint16_t len, struct tmpl_op *o, uint8_t *prio,
		     uint8_t *rflags)
{
	*prio = 2;
	o->kind = OP_SKIP;
	if (pen == FLOW_PEN_REVERSE) {
		switch (id) {
		case 1: o->kind = OP_U64; o->dst = RO(rev_bytes); break;
		case 85: o->kind = OP_U64; o->dst = RO(rev_bytes); *prio = 1; break;
		case 2: o->kind = OP_U64; o->dst = RO(rev_packets); break;
		case 86: o->kind = OP_U64; o->dst = RO(rev_packets); *prio = 1; break;
		default: return;
		}
		*rflags |= FLOW_F_BIFLOW;
		goto check_int;
	}
	if (pen == FLOW_PEN_FLOWDELTA) {
		if (id == FLOW_IE_SNI) {
			o->kind = OP_STR;
			o->dst = FLOW_STR_SNI;
			return;
		}
		if (id != FLOW_IE_VERSION)
			return;
		o->kind = OP_U8;
		o->dst = RO(version);
		goto check_int;
	}
	if (pen)
		return;
	switch (id) {
	case 1: o->kind = OP_U64; o->dst = RO(bytes); break;
	case 85: o->kind = OP_U64; o->dst = RO(bytes); *prio = 1; break;
	case 2: o->kind = OP_U64; o->dst = RO(packets); break;
	case 86: o->kind = OP_U64; o->dst = RO(packets); *prio = 1; break;
	case 4: o->kind = OP_U8; o->dst = RO(proto); break;
	case 5: o->kind = OP_U8; o->dst = RO(tos); break;
	case 6: o->kind = OP_U8; o->dst = RO(tcp_flags); break; /* low 8 bits */
	case 7: o->kind = OP_U16; o->dst = RO(src_port); break;
	case 11: o->kind = OP_U16; o->dst = RO(dst_port); break;
	case 8: o->kind = OP_A4; o->dst = RO(src_addr); break;
	case 12: o->kind = OP_A4; o->dst = RO(dst_addr); break;
	case 15: o->kind = OP_A4; o->dst = RO(next_hop); break;
	case 18: o->kind = OP_A4; o->dst = RO(next_hop); *prio = 1; break;
	case 27: o->kind = OP_A6; o->dst = RO(src_addr); *rflags |= FLOW_F_IP6; break;
	case 28: o->kind = OP_A6; o->dst = RO(dst_addr); *rflags |= FLOW_F_IP6; break;
	case 62: o->kind = OP_A6; o->dst = RO(next_hop); break;
	case 63: o->kind = OP_A6; o->dst = RO(next_hop); *prio = 1; break;
	case 9: case 29: o->kind = OP_U8; o->dst = RO(src_mask); break;
	case 13: case 30: o->kind = OP_U8; o->dst = RO(dst_mask); break;
	case 10: o->kind = OP_U32; o->dst = RO(in_if); break;
	case 14: o->kind = OP_U32; o->dst = RO(out_if); break;
	case 16: o->kind = OP_U32; o->dst = RO(src_as); break;
	case 17: o->kind = OP_U32; o->dst = RO(dst_as); break;
	case 61: o->kind = OP_U8; o->dst = RO(direction); break;
	case 60: o->kind = OP_IPVER; break;
	case 58: o->kind = OP_U16; o->dst = RO(vlan); break;
	case 243: o->kind = OP_U16; o->dst = RO(vlan); *prio = 1; break;
	case 130: o->kind = OP_A4; o->dst = RO(exporter); break;
	case 131: o->kind = OP_A6; o->dst = RO(exporter); break;
	case 149: o->kind = OP_U32; o->dst = RO(odid); break;
	case 217: o->kind = OP_U16; o->dst = RO(exp_port); break;
	case 22: o->kind = OP_T_UPTIME; o->dst = 0; break;
	case 21: o->kind = OP_T_UPTIME; o->dst = 1; break;
	case 150: o->kind = OP_T_SEC; o->dst = RO(first_ms); break;
	case 151: o->kind = OP_T_SEC; o->dst = RO(last_ms); break;
	case 152: o->kind = OP_T_MS; o->dst = RO(first_ms); break;
	case 153: o->kind = OP_T_MS; o->dst = RO(last_ms); break;
	case 154: case 156: o->kind = OP_T_NTP; o->dst = RO(first_ms); break;
	case 155: case 157: o->kind = OP_T_NTP; o->dst = RO(last_ms); break;
	case 158: o->kind = OP_T_DELTA; o->dst = RO(first_ms); break;
	case 159: o->kind = OP_T_DELTA; o->dst = RO(last_ms); break;
	case 160: o->kind = OP_SYSINIT; break;
	case 32: case 139: o->kind = OP_ICMP_TC; break;
	case 176: case 178: o->kind = OP_ICMP_T; break;
	case 177: case 179: o->kind = OP_ICMP_C; break;
	case 34: case 50: o->kind = OP_SINT; break;
	case 48: case 302: o->kind = OP_SAMPLER; break;
	case 305: o->kind = OP_SPKT_INT; break;
	case 306: o->kind = OP_SPKT_SPC; break;
	case 96: o->kind = OP_STR; o->dst = FLOW_STR_APP; return;
	case 460: o->kind = OP_STR; o->dst = FLOW_STR_HTTP_HOST; return;
	case 461: o->kind = OP_STR; o->dst = FLOW_STR_URL; return;
	default: return;
	}
check_int:
	/* A field whose length does not suit its type is skipped, not trusted. */
	switch (o->kind) {
	case OP_A4:
		if (len != 4)
			o->kind = OP_SKIP;
		break;
	case OP_A6:
		if (len != 16)
			o->kind = OP_SKIP;
		break;
	case OP_T_NTP:
		if (len != 8)
			o->kind = OP_SKIP;
		break;
	default:
		if (len == 0 || len > 8)
			o->kind = OP_SKIP;
		break;
	}
}

static void map_opt(uint32_t pen, uint16_t id, uint16_t len, struct tmpl_op *o)
{
	o->kind = OP_SKIP;
	if (len == 0 || len > 8)
		return;
	if (pen == FLOW_PEN_FLOWDELTA) {
		switch (id) {
		case FLOW_IE_SESSION_ID: o->dst = OPT_SESSION_ID; break;
		case FLOW_IE_FIRST_MSG: o->dst = OPT_FIRST_MSG; break;
		case FLOW_IE_CTL_FLAGS: o->dst = OPT_CTL_FLAGS; break;
		default: return;
		}
		o->kind = OP_OPT;
		return;
	}
	if (pen)
		return;
	switch (id) {
	case 48: case 302: o->dst = OPT_SAMPLER_ID; break;
	case 34: o->dst = OPT_INTERVAL; break;
	case 50: o->dst = OPT_RANDOM_INTERVAL; break;
	case 305: o->dst = OPT_PKT_INTERVAL; break;
	case 306: o->dst = OPT_PKT_SPACE; break;
	case 160: o->dst = OPT_SYSINIT; break;
	default: return;
	}
	o->kind = OP_OPT;
}



static void specialise(struct tmpl_op *o)
{
	if (o->len == OP_LEN_VAR)
		return;
	if (o->kind == OP_U8 && o->len == 1)
		o->kind = OP_U8_1;
	else if (o->kind == OP_U16 && o->len == 2)
		o->kind = OP_U16_2;
	else if (o->kind == OP_U32 && o->len == 4)
		o->kind = OP_U32_4;
	else if (o->kind == OP_U32 && o->len == 2)
		o->kind = OP_U32_2;
	else if (o->kind == OP_U64 && o->len == 8)
		o->kind = OP_U64_8;
	else if (o->kind == OP_U64 && o->len == 4)
		o->kind = OP_U64_4;
	else if (o->kind == OP_T_MS && o->len == 8)
		o->kind = OP_T_MS_8;
}

/* Merge neighbouring fixed-length ops that read adjacent wire bytes and
 * write adjacent record fields of the same kind: typical router templates
 * list src/dst port, in/out interface, src/dst AS, packets/bytes and the two
 * masks side by side, so this halves the dispatches of the field-major loop.
 * Only for fixed-length templates (src_off is exact). Returns the new count. */
static uint16_t pair_ops(struct tmpl_op *ops, uint16_t n)
{
	uint16_t k = 0;

	for (uint16_t i = 0; i < n; i++) {
		struct tmpl_op *a = &ops[i], *b = i + 1 < n ? &ops[i + 1] : NULL;
		uint8_t pk = 0;
		uint16_t dstep = 0;

		if (b && b->kind == a->kind && b->src_off == a->src_off + a->len) {
			switch (a->kind) {
			case OP_U8_1: pk = OP_2U8; dstep = 1; break;
			case OP_U16_2: pk = OP_2U16; dstep = 2; break;
			case OP_U32_4: pk = OP_2U32; dstep = 4; break;
			case OP_U64_4: pk = OP_2U64_4; dstep = 8; break;
			case OP_A4: pk = OP_2A4; dstep = 16; break;
			default: break;
			}
		}
		if (pk && b->dst == a->dst + dstep) {
			ops[k] = *a;
			ops[k].kind = pk;
			ops[k].len = (uint16_t)(a->len * 2);
			k++;
			i++;
		} else {
			ops[k++] = *a;
		}
	}
	return k;
}

/* Compile field specifiers (IPFIX wire form) into a program. NULL on a
 * malformed template (errno EINVAL) or ENOMEM. */
static struct tmpl *tmpl_compile(const struct flow_dec *dec, const uint8_t *spec, uint32_t spec_len,
				 uint16_t nfields, uint16_t scope_count, bool options)
{
	struct tmpl *t;
	uint8_t prio[4096];
	uint32_t off = 0, rec = 0;
	uint16_t n = 0;
	uint8_t rflags = 0, fin = 0;
	bool dual = false;
	bool varlen = false, up4 = true, sint_only = true;

	t = calloc(1, sizeof(*t) + (size_t)nfields * sizeof(struct tmpl_op));
	if (!t)
		return NULL;
	for (uint16_t i = 0; i < nfields; i++) {
		struct tmpl_op *o = &t->ops[n];
		uint16_t id, len;
		uint32_t pen = 0;

		if (off + 4 > spec_len)
			goto bad;
		id = be16_load(spec + off);
		len = be16_load(spec + off + 2);
		off += 4;
		if (id & 0x8000) {
			if (off + 4 > spec_len)
				goto bad;
			pen = be32_load(spec + off);
			off += 4;
			id &= 0x7fff;
		}
		/* Zero-length fields exist (v9 "System" scope): they occupy nothing. */
		o->len = len;
		if (len == OP_LEN_VAR) {
			varlen = true;
			rec += 1;
		} else {
			o->src_off = (uint16_t)rec;
			rec += len;
		}
		if (rec > 65535)
			goto bad;
		if (options)
			map_opt(pen, id, len, o);
		else
			map_data(pen, id, len, o, &prio[n], &rflags);
		n++;
	}
	if (off != spec_len || rec == 0)
		goto bad;

	/* Field precedence: an op whose destination is also written by a
	 * higher-priority op, or by an earlier op of the same IE, is a skip. */
	if (!options) {
		for (uint16_t i = 0; i < n; i++) {
			struct tmpl_op *a = &t->ops[i];
			if (a->kind < OP_U8 || a->kind > OP_A6)
				continue;
			for (uint16_t j = 0; j < n; j++) {
				struct tmpl_op *b = &t->ops[j];
				/* A repeated IE (tunnel exports list the outer
				 * header's fields first, then the inner's): the
				 * first occurrence wins, as in tshark and nfdump. */
				if (j != i && b->kind >= OP_U8 && b->kind <= OP_A6 &&
				    b->dst == a->dst &&
				    (prio[j] > prio[i] ||
				     (prio[j] == prio[i] && j < i && b->kind == a->kind))) {
					a->kind = OP_SKIP;
					break;
				}
			}
		}
	}

	/* Absolute times beat sysUpTime-relative ones for the same end of the
	 * flow: they need no clock of the exporter's to interpret. */
	for (uint16_t i = 0; i < n && !options; i++) {
		struct tmpl_op *a = &t->ops[i];
		if (a->kind != OP_T_UPTIME)
			continue;
		uint16_t want = a->dst ? RO(last_ms) : RO(first_ms);
		for (uint16_t j = 0; j < n; j++) {
			struct tmpl_op *b = &t->ops[j];
			if ((b->kind == OP_T_SEC || b->kind == OP_T_MS || b->kind == OP_T_NTP ||
			     b->kind == OP_T_DELTA) && b->dst == want) {
				a->kind = OP_SKIP;
				break;
			}
		}
	}

	/* Dual-stack templates carry an IPv4 and an IPv6 field for the same
	 * address, one of them zero in each record (seen from Juniper and Cisco
	 * devices). The IPv4 field writes the record; the IPv6 one goes to
	 * scratch and replaces it at finish when the record is IPv6
	 * (ipVersion 6, or without IE 60 a non-zero IPv6 value). */
	for (uint16_t i = 0; i < n; i++) {
		if (t->ops[i].kind != OP_A4)
			continue;
		for (uint16_t j = 0; j < n; j++) {
			struct tmpl_op *b = &t->ops[j];
			if (b->kind != OP_A6 || b->dst != t->ops[i].dst)
				continue;
			t->ops[i].kind = OP_A4F;
			b->kind = OP_A6ALT;
			b->dst = b->dst == RO(src_addr) ? 0 : b->dst == RO(dst_addr) ? 1
			       : b->dst == RO(next_hop) ? 2 : 3;
			fin |= FIN_DUAL;
			dual = true;
		}
	}
	if (dual)
		rflags &= (uint8_t)~FLOW_F_IP6;
	for (uint16_t i = 0; i < n && !dual; i++)
		if (t->ops[i].kind == OP_IPVER)
			t->ops[i].kind = OP_SKIP; /* only dual-stack templates need it */

	/* Fixed-length: drop the skips, the offsets carry the layout. */
	if (!varlen) {
		uint16_t k = 0;
		for (uint16_t i = 0; i < n; i++)
			if (t->ops[i].kind != OP_SKIP)
				t->ops[k++] = t->ops[i];
		n = k;
	}
	for (uint16_t i = 0; i < n; i++) {
		struct tmpl_op *o = &t->ops[i];
		switch (o->kind) {
		case OP_T_UPTIME:
			fin |= FIN_UPTIME;
			if (o->len != 4)
				up4 = false;
			break;
		case OP_SYSINIT: fin |= FIN_SYSINIT; break;
		case OP_ICMP_TC: case OP_ICMP_T: case OP_ICMP_C: fin |= FIN_ICMP_TC; break;
		case OP_SINT:
			fin |= FIN_SAMPLER;
			if (o->len != 4)
				sint_only = false;
			break;
		case OP_SAMPLER: case OP_SPKT_INT: case OP_SPKT_SPC:
			fin |= FIN_SAMPLER;
			sint_only = false;
			break;
		case OP_STR: rflags |= 0x80; break; /* has strings: see has_str() */
		default: break;
		}
		specialise(o);
	}
	if (!varlen)
		n = pair_ops(t->ops, n);
	t->nops = n;
	t->nprefix = n;
	t->prefix_len = 0;
	for (uint16_t i = 0; i < n; i++) {
		if (t->ops[i].len == OP_LEN_VAR) {
			t->nprefix = i;
			break;
		}
		t->prefix_len = (uint16_t)(t->ops[i].src_off + t->ops[i].len);
	}
	/* Variable-length layout as fixed runs between the variable fields, so
	 * that pass 1 (find_records) steps over runs, not fields. */
	t->nvar = 0;
	if (varlen) {
		uint32_t run = 0;
		for (uint16_t i = 0; i < n; i++) {
			if (t->ops[i].len != OP_LEN_VAR) {
				run += t->ops[i].len;
				continue;
			}
			if (t->nvar < TMPL_MAX_VAR)
				t->vfix[t->nvar] = (uint16_t)run;
			t->nvar++;
			run = 0;
		}
		if (t->nvar <= TMPL_MAX_VAR)
			t->vfix[t->nvar] = (uint16_t)run;
	}
	t->rec_len = (uint16_t)rec;
	t->varlen = varlen;
	t->options = options;
	t->fin = fin;
	t->up4 = up4;
	t->sint_only = sint_only;
	t->rec_flags = rflags;
	t->scope_count = scope_count;
	(void)dec;
	return t;
bad:
	free(t);
	errno = EINVAL;
	return NULL;
}

#define TMPL_HAS_STR 0x80

static struct tmpl *prog_get(struct flow_dec *dec, const uint8_t *spec, uint32_t spec_len,
			     uint16_t nfields, uint16_t scope_count, bool options)
{
	uint64_t h = hash_bytes(spec, spec_len, ((uint64_t)nfields << 17) ^
						      ((uint64_t)scope_count << 1) ^ options);
	struct tmpl *t;

	for (t = dec->prog_buckets[h & dec->prog_mask]; t; t = t->hnext) {
		if (t->hash == h && t->nraw == spec_len && t->options == options &&
		    t->scope_count == scope_count && !memcmp(t->raw, spec, spec_len)) {
			t->refcnt++;
			return t;
		}
	}
	t = tmpl_compile(dec, spec, spec_len, nfields, scope_count, options);
	if (!t)
		return NULL;
	t->raw = malloc(spec_len ? spec_len : 1);
	if (!t->raw) {
		free(t);
		errno = ENOMEM;
		return NULL;
	}
	memcpy(t->raw, spec, spec_len);
	t->nraw = (uint16_t)spec_len;
	if (!options) {
		/* Our own canonical templates without strings (proxy → slave)
		 * get a dedicated decoder: see decode_canonical(). */
		int v = flow_enc_variant_of(spec, spec_len, nfields);
		if (v >= 0 && !(v & 4))
			t->canon = (uint8_t)(v + 1);
	}
	t->hash = h;
	t->refcnt = 1;
	t->hnext = dec->prog_buckets[h & dec->prog_mask];
	dec->prog_buckets[h & dec->prog_mask] = t;
	return t;
}

int tmpl_define(struct flow_dec *dec, struct domain *dom, uint32_t sess, uint16_t tid,
		const uint8_t *spec, uint32_t spec_len, uint16_t nfields, uint16_t scope_count,
		bool options, uint64_t now_ms)
{
	struct tentry *e;
	struct tmpl *t;

	if (nfields > dec->cfg.max_tmpl_fields) {
		dec_drop(dec, dom, FLOW_DROP_tmpl_too_many_fields);
		return -E2BIG;
	}
	if (spec_len > 65535) {
		dec_drop(dec, dom, FLOW_DROP_tmpl_malformed);
		return -EINVAL;
	}
	t = prog_get(dec, spec, spec_len, nfields, scope_count, options);
	if (!t) {
		dec_drop(dec, dom, FLOW_DROP_tmpl_malformed);
		return -errno;
	}
	dom->st.templates++;
	e = tmpl_lookup(dec, dom->id, sess, tid);
	if (e) {
		prog_unref(dec, e->t); /* redefinition replaces */
	} else {
		uint32_t idx = dec->tfree, b;
		if (idx == NO_ENTRY) {
			prog_unref(dec, t);
			dec_drop(dec, dom, FLOW_DROP_tmpl_limit);
			return -ENOSPC;
		}
		e = &dec->tents[idx];
		dec->tfree = e->next;
		e->used = 1;
		e->dom = dom->id;
		e->sess = sess;
		e->tid = tid;
		b = tkey_bucket(dec, dom->id, sess, tid);
		e->next = dec->tbuckets[b];
		dec->tbuckets[b] = idx;
		dom->st.templates_live++;
		dec->tlive++;
	}
	e->t = t;
	e->last_ms = now_ms;
	if (dec->park_head)
		dec_unpark(dec, dom->id, sess, tid);
	return 0;
}

/* ---- execution ---------------------------------------------------------- */

/* Per-record values that need the whole record before they can be used. */
struct scratch {
	uint32_t have;
	uint32_t up[2];
	uint64_t sysinit;
	uint16_t icmp_tc;
	uint8_t icmp_t, icmp_c;
	uint64_t sampler;
	uint64_t sint;
	uint64_t pkt_int, pkt_spc;
	uint8_t ipver;
	uint8_t alt_have; /* bit per slot */
	uint8_t alt[4][16];
};

static size_t scratch_size(void)
{
	return sizeof(struct scratch);
}

#define S_UP0 0x001
#define S_UP1 0x002
#define S_SYSINIT 0x004
#define S_ICMP_TC 0x008
#define S_ICMP_T 0x010
#define S_ICMP_C 0x020
#define S_SAMPLER 0x040
#define S_SINT 0x080
#define S_PKT_INT 0x100
#define S_PKT_SPC 0x200
#define S_IPVER 0x400
#define S_ALT 0x800

static inline uint64_t ntp_to_ms(const uint8_t *f)
{
	uint64_t sec = be32_load(f);
	uint64_t frac = be32_load(f + 4);

	if (sec < NTP_UNIX_OFFSET)
		return 0; /* before 1970 or era 1: not a flow time */
	return (sec - NTP_UNIX_OFFSET) * 1000 + ((frac * 1000) >> 32);
}

static inline void put16(struct flow_rec *r, uint16_t dst, uint16_t v)
{
	memcpy((uint8_t *)r + dst, &v, 2);
}

static inline void put32(struct flow_rec *r, uint16_t dst, uint32_t v)
{
	memcpy((uint8_t *)r + dst, &v, 4);
}

static inline void put64(struct flow_rec *r, uint16_t dst, uint64_t v)
{
	memcpy((uint8_t *)r + dst, &v, 8);
}

static void put_str(struct flow_dec *dec, struct domain *dom, struct flow_rec *r, unsigned which,
		    const uint8_t *f, uint32_t len)
{
	/* Fixed-length string fields are NUL padded. */
	while (len && f[len - 1] == '\0')
		len--;
	if (!len)
		return;
	if (len > FLOW_STR_CAP) {
		dec_drop(dec, dom, FLOW_DROP_str_truncated);
		len = FLOW_STR_CAP;
	}
	memcpy(dec->arena + dec->arena_len, f, len);
	r->str_off[which] = dec->arena_len;
	r->str_len[which] = (uint16_t)len;
	dec->arena_len += len;
}

/* The uncommon ops, out of line so that the hot loop stays small. */
static __attribute__((noinline)) void op_slow(struct flow_dec *dec, const struct msg_ctx *m,
					      const struct tmpl_op *o, const uint8_t *f, uint32_t len,
					      struct flow_rec *r, struct scratch *s)
{
	switch (o->kind) {
	case OP_U8: *((uint8_t *)r + o->dst) = (uint8_t)ben_load(f, len); break;
	case OP_U16: put16(r, o->dst, (uint16_t)ben_load(f, len)); break;
	case OP_U32: put32(r, o->dst, (uint32_t)ben_load(f, len)); break;
	case OP_U64: put64(r, o->dst, ben_load(f, len)); break;
	case OP_A4F: addr_set_v4((uint8_t *)r + o->dst, f); break;
	case OP_A6ALT:
		if (len == 16) {
			memcpy(s->alt[o->dst], f, 16);
			if (!(s->have & S_ALT))
				s->alt_have = 0;
			s->alt_have |= (uint8_t)(1u << o->dst);
			s->have |= S_ALT;
		}
		break;
	case OP_IPVER: s->ipver = (uint8_t)ben_load(f, len); s->have |= S_IPVER; break;
	case OP_T_SEC: put64(r, o->dst, ben_load(f, len) * 1000); break;
	case OP_T_MS: put64(r, o->dst, ben_load(f, len)); break;
	case OP_T_NTP: put64(r, o->dst, ntp_to_ms(f)); break;
	case OP_T_DELTA: {
		uint64_t d = ben_load(f, len) / 1000;
		put64(r, o->dst, m->export_ms > d ? m->export_ms - d : 0);
		break;
	}
	case OP_T_UPTIME:
		s->up[o->dst] = (uint32_t)ben_load(f, len);
		s->have |= o->dst ? S_UP1 : S_UP0;
		break;
	case OP_SYSINIT: s->sysinit = ben_load(f, len); s->have |= S_SYSINIT; break;
	case OP_ICMP_TC: s->icmp_tc = (uint16_t)ben_load(f, len); s->have |= S_ICMP_TC; break;
	case OP_ICMP_T: s->icmp_t = (uint8_t)ben_load(f, len); s->have |= S_ICMP_T; break;
	case OP_ICMP_C: s->icmp_c = (uint8_t)ben_load(f, len); s->have |= S_ICMP_C; break;
	case OP_SAMPLER: s->sampler = ben_load(f, len); s->have |= S_SAMPLER; break;
	case OP_SINT: s->sint = ben_load(f, len); s->have |= S_SINT; break;
	case OP_SPKT_INT: s->pkt_int = ben_load(f, len); s->have |= S_PKT_INT; break;
	case OP_SPKT_SPC: s->pkt_spc = ben_load(f, len); s->have |= S_PKT_SPC; break;
	case OP_STR: put_str(dec, m->dom, r, o->dst, f, len); break;
	default: break;
	}
}

/* always_inline: measured 2.5x on the fixed-length path (bench_decode) — a
 * call per field costs more than the field. */
static inline __attribute__((always_inline)) void
op_exec(struct flow_dec *dec, const struct msg_ctx *m, const struct tmpl_op *o, const uint8_t *f,
	uint32_t len, struct flow_rec *r, struct scratch *s)
{
	uint8_t *d = (uint8_t *)r + o->dst;

	switch (o->kind) {
	case OP_U8_1: *d = f[0]; return;
	case OP_U16_2: { uint16_t v = be16_load(f); memcpy(d, &v, 2); return; }
	case OP_U32_4: { uint32_t v = be32_load(f); memcpy(d, &v, 4); return; }
	case OP_U64_8:
	case OP_T_MS_8: { uint64_t v = be64_load(f); memcpy(d, &v, 8); return; }
	case OP_U64_4: { uint64_t v = be32_load(f); memcpy(d, &v, 8); return; }
	case OP_U32_2: { uint32_t v = be16_load(f); memcpy(d, &v, 4); return; }
	case OP_A4: addr_set_v4(d, f); return;
	case OP_A6: memcpy(d, f, 16); return;
	default: op_slow(dec, m, o, f, len, r, s); return;
	}
}

/* Uptime-relative time to epoch ms. v5/v9 carry the exporter's uptime and
 * clock in the header: the flow happened (uptime - t) ms before the export,
 * computed in 32 bits so that the 2^32 ms wrap of both counters cancels out
 * (a t slightly ahead of the header uptime gives a small negative age). IPFIX
 * has no header uptime: IE 160 systemInitTimeMilliseconds (in the record or
 * from options data) gives the boot time; a result more than 2^31 ms before
 * the export time means the 32-bit uptime wrapped, so whole wraps are added.
 * Without either, the export time is the best estimate. */
static inline uint64_t uptime_to_ms(const struct msg_ctx *m, const struct scratch *s, uint32_t t)
{
	if (m->has_uptime) {
		int64_t age = (int32_t)(m->uptime_ms - t);
		int64_t v = (int64_t)m->export_ms - age;
		return v > 0 ? (uint64_t)v : 0;
	}
	uint64_t init = (s->have & S_SYSINIT) ? s->sysinit : m->dom->sysinit_ms;
	if (!init)
		return m->export_ms;
	uint64_t v = init + t;
	if (m->export_ms > v + (1ULL << 31))
		v += ((m->export_ms - v + (1ULL << 31)) >> 32) << 32;
	return v;
}

/* ICMP convention (nfdump's): src port 0, dst port type*256+code. */
static inline void icmp_fix(struct flow_rec *r, uint32_t have, const struct scratch *s)
{
	if (likely(r->proto != FLOW_PROTO_ICMP && r->proto != FLOW_PROTO_ICMP6))
		return;
	if (have & S_ICMP_TC)
		r->dst_port = s->icmp_tc;
	else if (have & (S_ICMP_T | S_ICMP_C))
		r->dst_port = (uint16_t)(s->icmp_t << 8 | s->icmp_c);
	else if (!r->dst_port)
		r->dst_port = r->src_port; /* some exporters use the source port */
	r->src_port = 0;
}

static __attribute__((noinline)) void finish_slow(const struct msg_ctx *m, const struct tmpl *t,
						  struct flow_rec *r, const struct scratch *s,
						  bool sampler_ok)
{
	if (t->fin & FIN_UPTIME) {
		if (s->have & S_UP0)
			r->first_ms = uptime_to_ms(m, s, s->up[0]);
		if (s->have & S_UP1)
			r->last_ms = uptime_to_ms(m, s, s->up[1]);
	}
	if ((t->fin & FIN_SAMPLER) && sampler_ok) {
		if ((s->have & S_SINT) && s->sint)
			r->sampling = s->sint > UINT32_MAX ? UINT32_MAX : (uint32_t)s->sint;
		else if ((s->have & S_PKT_INT) && s->pkt_int)
			r->sampling = (uint32_t)((s->pkt_int + ((s->have & S_PKT_SPC) ? s->pkt_spc : 0)) /
						 s->pkt_int);
		else if (s->have & S_SAMPLER)
			r->sampling = dec_sampler_get(m->dom, s->sampler);
	}
	if ((t->fin & FIN_DUAL) && (s->have & S_ALT)) {
		static const uint16_t dst[4] = { RO(src_addr), RO(dst_addr), RO(next_hop),
						 RO(exporter) };
		bool v6;
		if (s->have & S_IPVER)
			v6 = s->ipver == 6;
		else
			v6 = !addr_is_zero(s->alt[0]) || !addr_is_zero(s->alt[1]);
		for (int i = 0; i < 4; i++) {
			if (!(s->alt_have & (1u << i)))
				continue;
			/* next hop and exporter may differ from the flow's family:
			 * the non-zero one wins */
			if (i < 2 ? v6 : !addr_is_zero(s->alt[i]))
				memcpy((uint8_t *)r + dst[i], s->alt[i], 16);
		}
		if (v6)
			r->flags |= FLOW_F_IP6;
	}
	icmp_fix(r, s->have, s);
}


/* The length of a variable-length field (RFC 7011 §7: one byte, or 255
 * and two bytes) at *c, which moves past it: 0, or -1 when it runs past
 * end (the field's own bytes are the caller's to check). */
static inline int varlen_read(const uint8_t **c, const uint8_t *end, uint32_t *len)
{
	const uint8_t *p = *c;
	if (p >= end)
		return -1;
	uint32_t l = *p++;
	if (l == 255) {
		if (end - p < 2)
			return -1;
		l = be16_load(p);
		p += 2;
	}
	*c = p;
	*len = l;
	return 0;
}

static void decode_options(struct flow_dec *dec, struct msg_ctx *m, const struct tmpl *t,
			   const uint8_t *p, uint32_t len)
{
	const uint8_t *end = p + len;
	uint32_t n = 0;

	while ((size_t)(end - p) >= t->rec_len) {
		uint64_t v[OPT_MAX] = { 0 };
		uint32_t have = 0;
		const uint8_t *c = p;

		for (uint16_t i = 0; i < t->nops; i++) {
			const struct tmpl_op *o = &t->ops[i];
			uint32_t flen = o->len;
			const uint8_t *f;

			if (t->varlen) {
				if (flen == OP_LEN_VAR && varlen_read(&c, end, &flen))
					goto overrun;
				if ((size_t)(end - c) < flen)
					goto overrun;
				f = c;
				c += flen;
			} else {
				f = p + o->src_off;
			}
			if (o->kind == OP_OPT && flen >= 1 && flen <= 8) {
				v[o->dst] = ben_load(f, flen);
				have |= 1u << o->dst;
			}
		}
		p = t->varlen ? c : p + t->rec_len;
		n++;

		if ((have & (1u << OPT_SESSION_ID)) && m->tcp) {
			struct flow_ctl ctl = {
				.session_id = v[OPT_SESSION_ID],
				.first_msg = v[OPT_FIRST_MSG],
				.flags = (uint32_t)v[OPT_CTL_FLAGS],
			};
			tcp_ctl(m->tcp, &ctl);
		}
		uint64_t iv = 0;
		if ((have & (1u << OPT_INTERVAL)) && v[OPT_INTERVAL])
			iv = v[OPT_INTERVAL];
		else if ((have & (1u << OPT_RANDOM_INTERVAL)) && v[OPT_RANDOM_INTERVAL])
			iv = v[OPT_RANDOM_INTERVAL];
		else if ((have & (1u << OPT_PKT_INTERVAL)) && v[OPT_PKT_INTERVAL])
			iv = (v[OPT_PKT_INTERVAL] + v[OPT_PKT_SPACE]) / v[OPT_PKT_INTERVAL];
		if (iv)
			dec_sampler_set(dec, m->dom, have & (1u << OPT_SAMPLER_ID), v[OPT_SAMPLER_ID],
					iv > UINT32_MAX ? UINT32_MAX : (uint32_t)iv);
		if (have & (1u << OPT_SYSINIT))
			m->dom->sysinit_ms = v[OPT_SYSINIT];
	}
	goto done;
overrun:
	dec_drop(dec, m->dom, FLOW_DROP_varlen_overrun);
done:
	m->dom->st.opt_records += n;
	dec->st.opt_records += n;
	m->data_records += n;
}

/* 176-byte record copy as fixed-size chunks the compiler inlines (a libc
 * memcpy call per record showed as 11% of the fixed-length path). */
static inline void rec_copy(struct flow_rec *d, const struct flow_rec *s)
{
	_Static_assert(sizeof(struct flow_rec) == 176, "rec_copy assumes 176 bytes");
	uint8_t *dd = (uint8_t *)d;
	const uint8_t *ss = (const uint8_t *)s;
#ifdef __AVX2__
	__m256i a = _mm256_loadu_si256((const __m256i *)ss);
	__m256i b = _mm256_loadu_si256((const __m256i *)(ss + 32));
	__m256i c = _mm256_loadu_si256((const __m256i *)(ss + 64));
	__m256i e = _mm256_loadu_si256((const __m256i *)(ss + 96));
	__m256i f = _mm256_loadu_si256((const __m256i *)(ss + 128));
	__m128i g = _mm_loadu_si128((const __m128i *)(ss + 160));
	_mm256_storeu_si256((__m256i *)dd, a);
	_mm256_storeu_si256((__m256i *)(dd + 32), b);
	_mm256_storeu_si256((__m256i *)(dd + 64), c);
	_mm256_storeu_si256((__m256i *)(dd + 96), e);
	_mm256_storeu_si256((__m256i *)(dd + 128), f);
	_mm_storeu_si128((__m128i *)(dd + 160), g);
#else
	memcpy(dd, ss, 176);
#endif
}

/* Decode k records whose starts are known into free batch slots, field-major:
 * each op of the fixed-length prefix of the template (all of it for a
 * fixed-length template) runs over all k records, so its switch is taken once
 * per k records and its loop is a plain copy; measured 2-4x over
 * record-major on 30-record sets (bench_decode). The ops after the first
 * variable-length field run record by record with a cursor; pass 1
 * (find_records) has already checked every length. */
/* Unrolling the per-field record loops by 4 cuts their overhead (pointer
 * bumps, compare, branch) from ~4 of ~6 instructions per field: callgrind on
 * a 30-record v9 set, see the commit that added it. */
#define UNROLL _Pragma("GCC unroll 4")

static inline __attribute__((always_inline)) void
decode_cols_impl(struct flow_dec *dec, const struct msg_ctx *m, const struct tmpl *t,
		 const uint8_t *base, const uint8_t *const *st, uint32_t k,
		 const struct flow_rec *proto, bool sampler_ok, const bool strided)
{
	/* record j's start: strided for fixed-length sets (no load), from
	 * pass 1's array for variable-length ones */
#define REC(j) (strided ? base + (size_t)(j) * t->rec_len : st[j])
	struct flow_rec *rb = &dec->recs[dec->nrec];
	struct scratch *sb = dec->scratch;
	bool up_fast = m->has_uptime && t->up4;
	uint8_t fin = t->fin & (uint8_t)~((up_fast ? FIN_UPTIME : 0) |
					  (t->sint_only ? FIN_SAMPLER : 0));
	bool need_scratch = t->fin || t->nprefix < t->nops;

	for (uint32_t j = 0; j < k; j++)
		rec_copy(&rb[j], proto);
	if (need_scratch)
		for (uint32_t j = 0; j < k; j++)
			sb[j].have = 0;

	for (uint16_t i = 0; i < t->nprefix; i++) {
		const struct tmpl_op *o = &t->ops[i];
		const uint16_t so = o->src_off;
		uint8_t *d = (uint8_t *)rb + o->dst;

		switch (o->kind) {
		case OP_SKIP:
			break;
		case OP_U8_1:
			UNROLL for (uint32_t j = 0; j < k; j++)
				d[j * sizeof(*rb)] = REC(j)[so];
			break;
		case OP_U16_2:
			UNROLL for (uint32_t j = 0; j < k; j++) {
				uint16_t v = be16_load(REC(j) + so);
				memcpy(d + j * sizeof(*rb), &v, 2);
			}
			break;
		case OP_U32_4:
			UNROLL for (uint32_t j = 0; j < k; j++) {
				uint32_t v = be32_load(REC(j) + so);
				memcpy(d + j * sizeof(*rb), &v, 4);
			}
			break;
		case OP_U32_2:
			UNROLL for (uint32_t j = 0; j < k; j++) {
				uint32_t v = be16_load(REC(j) + so);
				memcpy(d + j * sizeof(*rb), &v, 4);
			}
			break;
		case OP_U64_8:
		case OP_T_MS_8:
			UNROLL for (uint32_t j = 0; j < k; j++) {
				uint64_t v = be64_load(REC(j) + so);
				memcpy(d + j * sizeof(*rb), &v, 8);
			}
			break;
		case OP_U64_4:
			UNROLL for (uint32_t j = 0; j < k; j++) {
				uint64_t v = be32_load(REC(j) + so);
				memcpy(d + j * sizeof(*rb), &v, 8);
			}
			break;
		case OP_2U8:
			UNROLL for (uint32_t j = 0; j < k; j++)
				memcpy(d + j * sizeof(*rb), REC(j) + so, 2);
			break;
		case OP_2U16:
			UNROLL for (uint32_t j = 0; j < k; j++) {
				uint32_t v;
				memcpy(&v, REC(j) + so, 4);
				/* swap the bytes within each 16-bit half */
				v = ((v & 0x00ff00ffu) << 8) | ((v >> 8) & 0x00ff00ffu);
				memcpy(d + j * sizeof(*rb), &v, 4);
			}
			break;
		case OP_2U32:
			UNROLL for (uint32_t j = 0; j < k; j++) {
				uint32_t v[2] = { be32_load(REC(j) + so), be32_load(REC(j) + so + 4) };
				memcpy(d + j * sizeof(*rb), v, 8);
			}
			break;
		case OP_2U64_4:
			UNROLL for (uint32_t j = 0; j < k; j++) {
				uint64_t v[2] = { be32_load(REC(j) + so), be32_load(REC(j) + so + 4) };
				memcpy(d + j * sizeof(*rb), v, 16);
			}
			break;
		case OP_2A4:
			UNROLL for (uint32_t j = 0; j < k; j++) {
				memcpy(d + j * sizeof(*rb) + 12, REC(j) + so, 4);
				memcpy(d + j * sizeof(*rb) + 28, REC(j) + so + 4, 4);
			}
			break;
		case OP_A4:
			/* the prototype already holds the ::ffff: prefix (A4 dsts) */
			UNROLL for (uint32_t j = 0; j < k; j++)
				memcpy(d + j * sizeof(*rb) + 12, REC(j) + so, 4);
			break;
		case OP_A6:
			UNROLL for (uint32_t j = 0; j < k; j++)
				memcpy(d + j * sizeof(*rb), REC(j) + so, 16);
			break;
		case OP_T_UPTIME:
			if (up_fast) {
				/* v5/v9: header uptime known, see uptime_to_ms() */
				uint8_t *td = (uint8_t *)rb + (o->dst ? offsetof(struct flow_rec, last_ms)
								      : offsetof(struct flow_rec, first_ms));
				UNROLL for (uint32_t j = 0; j < k; j++) {
					int64_t age = (int32_t)(m->uptime_ms - be32_load(REC(j) + so));
					int64_t v = (int64_t)m->export_ms - age;
					uint64_t u = v > 0 ? (uint64_t)v : 0;
					memcpy(td + j * sizeof(*rb), &u, 8);
				}
				break;
			}
			/* fall through */
		default:
			if (o->kind == OP_SINT && t->sint_only) {
				/* samplingInterval in the record: 0 means unknown */
				if (!sampler_ok)
					break;
				UNROLL for (uint32_t j = 0; j < k; j++) {
					uint32_t v = be32_load(REC(j) + so);
					if (v)
						rb[j].sampling = v;
				}
				break;
			}
			UNROLL for (uint32_t j = 0; j < k; j++)
				op_slow(dec, m, o, REC(j) + so, o->len, &rb[j], &sb[j]);
			break;
		}
	}
	if (t->nprefix < t->nops) {
		for (uint32_t j = 0; j < k; j++) {
			const uint8_t *c = REC(j) + t->prefix_len;
			for (uint16_t i = t->nprefix; i < t->nops; i++) {
				const struct tmpl_op *o = &t->ops[i];
				uint32_t flen = o->len;
				if (flen == OP_LEN_VAR) {
					flen = *c++;
					if (flen == 255) {
						flen = be16_load(c);
						c += 2;
					}
				}
				if (o->kind != OP_SKIP)
					op_exec(dec, m, o, c, flen, &rb[j], &sb[j]);
				c += flen;
			}
		}
	}
	if (fin) {
		for (uint32_t j = 0; j < k; j++)
			finish_slow(m, t, &rb[j], &sb[j], sampler_ok);
	} else {
		for (uint32_t j = 0; j < k; j++)
			icmp_fix(&rb[j], need_scratch ? sb[j].have : 0, &sb[j]);
	}
	dec->nrec += k;
#undef REC
}

static void decode_cols_strided(struct flow_dec *dec, const struct msg_ctx *m,
				const struct tmpl *t, const uint8_t *base, uint32_t k,
				const struct flow_rec *proto, bool sampler_ok)
{
	decode_cols_impl(dec, m, t, base, NULL, k, proto, sampler_ok, true);
}

static void decode_cols(struct flow_dec *dec, const struct msg_ctx *m, const struct tmpl *t,
			const uint8_t *const *st, uint32_t k, const struct flow_rec *proto,
			bool sampler_ok)
{
	decode_cols_impl(dec, m, t, NULL, st, k, proto, sampler_ok, false);
}

/* The canonical templates of encode.c, mirror image of enc_fixed(): every
 * byte of each record is written from the wire in blocks, no prototype, no
 * ops. This is the slave's ingest path for what proxies forward. */
static void decode_canonical(struct flow_dec *dec, const struct tmpl *t, const uint8_t *p,
			     uint32_t k, uint32_t ov)
{
	struct flow_rec *rb = &dec->recs[dec->nrec];
	const unsigned v = t->canon - 1u;
	const bool v6 = v & 1, bi = v & 2;
	const uint8_t vflags = (uint8_t)((v6 ? FLOW_F_IP6 : 0) | (bi ? FLOW_F_BIFLOW : 0));
	const uint32_t rl = t->rec_len;

	for (uint32_t j = 0; j < k; j++, p += rl) {
		struct flow_rec *r = &rb[j];
		const uint8_t *q = p;
		uint8_t *rr = (uint8_t *)r;

		canon_swap_head(rr, q); /* first, last, packets, bytes */
		q += 32;
		if (v6) {
			memcpy(r->src_addr, q, 48);
			q += 48;
		} else {
			addr_set_v4(r->src_addr, q);
			addr_set_v4(r->dst_addr, q + 4);
			addr_set_v4(r->next_hop, q + 8);
			q += 12;
		}
		memcpy(r->exporter, q, 16);
		canon_swap_mid(rr + 112, q + 16); /* odid .. dst_as, ports, vlan */
		memcpy(&r->proto, q + 48, 8);
		r->flags = (uint8_t)((r->flags & ~(FLOW_F_IP6 | FLOW_F_BIFLOW)) | vflags);
		if (bi) {
			r->rev_packets = be64_load(q + 56);
			r->rev_bytes = be64_load(q + 64);
		} else {
			r->rev_packets = r->rev_bytes = 0;
		}
		memset(r->str_off, 0, sizeof(r->str_off) + sizeof(r->str_len));
		if (ov)
			r->sampling = ov;
	}
	dec->nrec += k;
}

/* Pass 1 over a variable-length set: the starts of up to max records, every
 * length checked. Returns the count; *bad tells why it stopped early (0 when
 * the set ended or only padding is left). */
static uint32_t find_records(const struct tmpl *t, const uint8_t *p, const uint8_t *end,
			     const uint8_t **st, uint32_t max, const uint8_t **next,
			     enum flow_drop *bad)
{
	uint32_t k = 0;

	*bad = FLOW_DROP_MAX;
	if (t->nvar <= TMPL_MAX_VAR) {
		while (k < max && (size_t)(end - p) >= t->rec_len) {
			const uint8_t *c = p;
			for (uint16_t v = 0; v < t->nvar; v++) {
				uint32_t flen;
				if ((size_t)(end - c) < (size_t)t->vfix[v] + 1)
					goto overrun;
				c += t->vfix[v];
				if (varlen_read(&c, end, &flen))
					goto overrun;
				if ((size_t)(end - c) < flen)
					goto overrun;
				c += flen;
			}
			if ((size_t)(end - c) < t->vfix[t->nvar]) {
				*bad = FLOW_DROP_rec_truncated;
				goto out;
			}
			st[k++] = p;
			p = c + t->vfix[t->nvar];
		}
		goto out;
	}
	while (k < max && (size_t)(end - p) >= t->rec_len) {
		const uint8_t *c = p;
		for (uint16_t i = 0; i < t->nops; i++) {
			uint32_t flen = t->ops[i].len;
			if (flen == OP_LEN_VAR) {
				if (varlen_read(&c, end, &flen) || (size_t)(end - c) < flen)
					goto overrun;
			} else if ((size_t)(end - c) < flen) {
				*bad = FLOW_DROP_rec_truncated;
				goto out;
			}
			c += flen;
		}
		st[k++] = p;
		p = c;
	}
	goto out;
overrun:
	*bad = FLOW_DROP_varlen_overrun;
out:
	*next = p;
	return k;
}

void tmpl_decode_set(struct flow_dec *dec, struct msg_ctx *m, const struct tmpl *t,
		     const uint8_t *p, uint32_t len)
{
	const uint8_t *end = p + len;
	struct domain *dom = m->dom;
	struct flow_rec proto;
	uint32_t n = 0, ov;
	bool sampler_ok, has_str = t->rec_flags & TMPL_HAS_STR;

	if (t->options) {
		decode_options(dec, m, t, p, len);
		return;
	}

	/* Everything constant for the set goes into one prototype record. */
	memset(&proto, 0, sizeof(proto));
	memcpy(proto.exporter, m->src->addr, 16);
	proto.odid = dom->odid;
	proto.exp_port = m->src->listen_port;
	proto.version = m->version;
	proto.flags = t->rec_flags & (FLOW_F_IP6 | FLOW_F_BIFLOW);
	for (uint16_t i = 0; i < t->nops; i++) {
		const struct tmpl_op *o = &t->ops[i];
		for (int h = 0; h < (o->kind == OP_2A4 ? 2 : o->kind == OP_A4 ? 1 : 0); h++) {
			uint8_t *a = (uint8_t *)&proto + o->dst + 16 * h;
			memset(a, 0, 10);
			a[10] = 0xff;
			a[11] = 0xff;
		}
	}
	ov = dec->noverrides ? dec_override(dec, m->src->addr) : 0;
	sampler_ok = !ov;
	proto.sampling = ov ? ov : dec_sampler_get(dom, UINT64_MAX);

	const uint8_t **st = dec->starts;
	while (p < end) {
		uint32_t k;
		enum flow_drop bad = FLOW_DROP_MAX;

		if (dec->nrec == dec->cfg.batch_size)
			dec_flush(dec);
		/* A record's strings are never longer than the record, so the
		 * set's length bounds what this chunk can add to the arena. */
		if (has_str && dec->arena_cap - dec->arena_len < (size_t)(end - p))
			dec_flush(dec);
		k = dec->cfg.batch_size - dec->nrec;
		if (t->canon) {
			uint32_t left = (uint32_t)((size_t)(end - p) / t->rec_len);
			if (k > left)
				k = left;
			if (!k)
				break; /* padding */
			decode_canonical(dec, t, p, k, ov);
			p += (size_t)k * t->rec_len;
			n += k;
			continue;
		}
		if (!t->varlen) {
			uint32_t left = (uint32_t)((size_t)(end - p) / t->rec_len);
			if (k > left)
				k = left;
			if (!k)
				break; /* padding (RFC 7011 §3.3.1) */
			for (size_t off = 0; off < (size_t)k * t->rec_len; off += 64)
				__builtin_prefetch(p + off);
			decode_cols_strided(dec, m, t, p, k, &proto, sampler_ok);
			p += (size_t)k * t->rec_len;
			n += k;
			continue;
		}
		k = find_records(t, p, end, st, k, &p, &bad);
		if (k) {
			decode_cols(dec, m, t, st, k, &proto, sampler_ok);
			n += k;
		}
		if (bad != FLOW_DROP_MAX) {
			dec_drop(dec, dom, bad);
			break;
		}
		if (!k)
			break; /* fewer bytes than a record: padding (RFC 7011 §3.3.1) */
	}
	dom->st.records += n;
	dec->st.records += n;
	m->data_records += n;
}
