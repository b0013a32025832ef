/* query.c — fields, query specs, and the small text parsers the CLI and
 * the REST layer share (durations, times, field lists).
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "query_int.h"

#define F(name, type, col, klen, member) \
	{ name, type, ST_COL_##col, klen, (uint16_t)offsetof(struct flow_rec, member) }

const struct q_fdef q_fdefs[Q_F_MAX] = {
	[Q_F_FIRST] = F("first", QF_TIME, FIRST_MS, 8, first_ms),
	[Q_F_LAST] = F("last", QF_TIME, LAST_MS, 8, last_ms),
	[Q_F_DURATION] = F("duration", QF_DUR, FIRST_MS, 8, first_ms),
	[Q_F_SRCIP] = F("srcip", QF_ADDR, SRC_ADDR, 16, src_addr),
	[Q_F_DSTIP] = F("dstip", QF_ADDR, DST_ADDR, 16, dst_addr),
	[Q_F_SRCNET] = F("srcnet", QF_NET, SRC_ADDR, 16, src_addr),
	[Q_F_DSTNET] = F("dstnet", QF_NET, DST_ADDR, 16, dst_addr),
	[Q_F_SRCPORT] = F("srcport", QF_U16, SRC_PORT, 2, src_port),
	[Q_F_DSTPORT] = F("dstport", QF_U16, DST_PORT, 2, dst_port),
	[Q_F_PROTO] = F("proto", QF_U8, PROTO, 1, proto),
	[Q_F_FLAGS] = F("flags", QF_U8, TCP_FLAGS, 1, tcp_flags),
	[Q_F_TOS] = F("tos", QF_U8, TOS, 1, tos),
	[Q_F_SRCAS] = F("srcas", QF_U32, SRC_AS, 4, src_as),
	[Q_F_DSTAS] = F("dstas", QF_U32, DST_AS, 4, dst_as),
	[Q_F_INIF] = F("inif", QF_U32, IN_IF, 4, in_if),
	[Q_F_OUTIF] = F("outif", QF_U32, OUT_IF, 4, out_if),
	[Q_F_EXPORTER] = F("exporter", QF_ADDR, EXPORTER, 16, exporter),
	[Q_F_NEXTHOP] = F("nexthop", QF_ADDR, NEXT_HOP, 16, next_hop),
	[Q_F_VLAN] = F("vlan", QF_U16, VLAN, 2, vlan),
	[Q_F_ODID] = F("odid", QF_U32, ODID, 4, odid),
	[Q_F_SAMPLING] = F("sampling", QF_U32, SAMPLING, 4, sampling),
	[Q_F_PACKETS] = F("packets", QF_U64, PACKETS, 8, packets),
	[Q_F_BYTES] = F("bytes", QF_U64, BYTES, 8, bytes),
};

/* Where each fixed-width column lives in struct flow_rec (strings: none). */
const uint16_t q_col_off[ST_COL_MAX] = {
	[ST_COL_FIRST_MS] = offsetof(struct flow_rec, first_ms),
	[ST_COL_LAST_MS] = offsetof(struct flow_rec, last_ms),
	[ST_COL_PACKETS] = offsetof(struct flow_rec, packets),
	[ST_COL_BYTES] = offsetof(struct flow_rec, bytes),
	[ST_COL_REV_PACKETS] = offsetof(struct flow_rec, rev_packets),
	[ST_COL_REV_BYTES] = offsetof(struct flow_rec, rev_bytes),
	[ST_COL_SRC_ADDR] = offsetof(struct flow_rec, src_addr),
	[ST_COL_DST_ADDR] = offsetof(struct flow_rec, dst_addr),
	[ST_COL_NEXT_HOP] = offsetof(struct flow_rec, next_hop),
	[ST_COL_EXPORTER] = offsetof(struct flow_rec, exporter),
	[ST_COL_ODID] = offsetof(struct flow_rec, odid),
	[ST_COL_SAMPLING] = offsetof(struct flow_rec, sampling),
	[ST_COL_IN_IF] = offsetof(struct flow_rec, in_if),
	[ST_COL_OUT_IF] = offsetof(struct flow_rec, out_if),
	[ST_COL_SRC_AS] = offsetof(struct flow_rec, src_as),
	[ST_COL_DST_AS] = offsetof(struct flow_rec, dst_as),
	[ST_COL_SRC_PORT] = offsetof(struct flow_rec, src_port),
	[ST_COL_DST_PORT] = offsetof(struct flow_rec, dst_port),
	[ST_COL_EXP_PORT] = offsetof(struct flow_rec, exp_port),
	[ST_COL_VLAN] = offsetof(struct flow_rec, vlan),
	[ST_COL_PROTO] = offsetof(struct flow_rec, proto),
	[ST_COL_TCP_FLAGS] = offsetof(struct flow_rec, tcp_flags),
	[ST_COL_TOS] = offsetof(struct flow_rec, tos),
	[ST_COL_SRC_MASK] = offsetof(struct flow_rec, src_mask),
	[ST_COL_DST_MASK] = offsetof(struct flow_rec, dst_mask),
	[ST_COL_DIRECTION] = offsetof(struct flow_rec, direction),
	[ST_COL_FLAGS] = offsetof(struct flow_rec, flags),
	[ST_COL_VERSION] = offsetof(struct flow_rec, version),
};

const char *q_field_name(enum q_field f)
{
	return (unsigned)f < Q_F_MAX ? q_fdefs[f].name : NULL;
}

int q_field_lookup(const char *name, enum q_field *out)
{
	static const struct { const char *alias; enum q_field f; } aliases[] = {
		{ "sip", Q_F_SRCIP }, { "dip", Q_F_DSTIP }, { "sport", Q_F_SRCPORT },
		{ "dport", Q_F_DSTPORT }, { "pkts", Q_F_PACKETS }, { "time", Q_F_FIRST },
		{ "start", Q_F_FIRST }, { "end", Q_F_LAST }, { "in", Q_F_INIF }, { "out", Q_F_OUTIF },
		{ "tstart", Q_F_FIRST }, { "tend", Q_F_LAST },
	};
	for (unsigned i = 0; i < Q_F_MAX; i++)
		if (!strcasecmp(name, q_fdefs[i].name)) {
			*out = (enum q_field)i;
			return 0;
		}
	for (unsigned i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (!strcasecmp(name, aliases[i].alias)) {
			*out = aliases[i].f;
			return 0;
		}
	return -EINVAL;
}

int q_fields_parse(const char *s, struct q_fspec *out, unsigned max, unsigned *n, struct q_err *err)
{
	unsigned k = 0;
	const char *p = s;
	while (*p) {
		char name[32];
		size_t l = strcspn(p, ",");
		if (!l || l >= sizeof(name)) {
			snprintf(err->msg, sizeof(err->msg), "bad field list '%s'", s);
			return -EINVAL;
		}
		memcpy(name, p, l);
		name[l] = 0;
		p += l + (p[l] == ',');
		if (k >= max) {
			snprintf(err->msg, sizeof(err->msg), "too many fields (at most %u)", max);
			return -E2BIG;
		}
		char *slash = strchr(name, '/');
		long plen = -1;
		if (slash) {
			char *end;
			*slash = 0;
			plen = strtol(slash + 1, &end, 10);
			if (*end || plen < 0 || plen > 128) {
				snprintf(err->msg, sizeof(err->msg), "bad prefix length in '%s/%s'", name,
					 slash + 1);
				return -EINVAL;
			}
		}
		enum q_field f;
		if (q_field_lookup(name, &f)) {
			snprintf(err->msg, sizeof(err->msg), "unknown field '%s'", name);
			return -EINVAL;
		}
		if (slash && f != Q_F_SRCNET && f != Q_F_DSTNET) {
			/* srcip/24 is a natural way to ask for srcnet/24 */
			if (f == Q_F_SRCIP || f == Q_F_DSTIP) {
				f = f == Q_F_SRCIP ? Q_F_SRCNET : Q_F_DSTNET;
			} else {
				snprintf(err->msg, sizeof(err->msg), "'%s' takes no prefix length", name);
				return -EINVAL;
			}
		}
		if ((f == Q_F_SRCNET || f == Q_F_DSTNET) && plen < 0)
			plen = 24;
		out[k].f = f;
		out[k].plen = (uint8_t)(plen < 0 ? 0 : plen);
		k++;
	}
	*n = k;
	return 0;
}

uint64_t q_rec_num(const struct flow_rec *r, enum q_field f)
{
	const struct q_fdef *d = &q_fdefs[f];
	const uint8_t *p = (const uint8_t *)r + d->off;
	switch (d->type) {
	case QF_DUR: return r->last_ms >= r->first_ms ? r->last_ms - r->first_ms : 0;
	case QF_TIME:
	case QF_U64: { uint64_t v; memcpy(&v, p, 8); return v; }
	case QF_U32: { uint32_t v; memcpy(&v, p, 4); return v; }
	case QF_U16: { uint16_t v; memcpy(&v, p, 2); return v; }
	case QF_U8: return *p;
	default: return 0;
	}
}

/* ------------------------------------------------------------------ query */

void q_query_free(struct q_query *q)
{
	if (!q)
		return;
	q_filter_free(q->flt);
	free(q->filter_src);
	free(q);
}

static void set_err(struct q_err *err, const char *msg)
{
	if (err) {
		err->pos = -1;
		snprintf(err->msg, sizeof(err->msg), "%s", msg);
	}
}

struct q_query *q_query_new(const struct q_spec *spec, struct q_err *err)
{
	struct q_query *q = calloc(1, sizeof(*q));
	int rc = -ENOMEM;
	if (!q)
		goto fail;
	q->spec = *spec;
	if (err) {
		err->pos = -1;
		err->msg[0] = 0;
	}
	rc = -EINVAL;
	if (spec->from_ms >= spec->to_ms) {
		set_err(err, "empty time range (from must be before to)");
		goto fail;
	}
	if (spec->kind > Q_SERIES || spec->by > Q_M_BYTES || spec->ngroup > Q_GROUP_MAX ||
	    (unsigned)spec->order >= Q_F_MAX) {
		set_err(err, "bad query specification");
		goto fail;
	}
	if (spec->kind == Q_SERIES && (!spec->interval_ms || spec->ngroup > 1)) {
		set_err(err, spec->interval_ms ? "a time series splits by at most one field"
					       : "a time series needs an interval");
		goto fail;
	}
	if (spec->kind == Q_AGG && !spec->ngroup) {
		set_err(err, "an aggregation needs at least one group field");
		goto fail;
	}
	if (spec->kind == Q_LIST && spec->limit > Q_LIMIT_MAX) {
		set_err(err, "listing limit too large (at most 1000000 rows; aggregate instead)");
		rc = -E2BIG;
		goto fail;
	}
	if (!q->spec.limit)
		q->spec.limit = Q_LIMIT_MAX;
	if (!q->spec.max_groups)
		q->spec.max_groups = Q_GROUPS_DEFAULT;
	q->filter_src = strdup(spec->filter ? spec->filter : "");
	if (!q->filter_src) {
		rc = -ENOMEM;
		goto fail;
	}
	q->spec.filter = q->filter_src;
	q->flt = q_filter_compile(q->filter_src, err);
	if (!q->flt) {
		rc = -errno;
		goto fail;
	}
	char ftext[256];
	snprintf(ftext, sizeof(ftext), "%s", q_filter_text(q->flt));
	if ((rc = q_filter_add_time(q->flt, spec->from_ms, spec->to_ms)))
		goto fail;

	/* columns */
	uint32_t m = 0;
	unsigned kl = spec->kind == Q_SERIES ? 8 : 0;
	for (unsigned i = 0; i < spec->ngroup; i++) {
		const struct q_fdef *d = &q_fdefs[spec->group[i].f];
		m |= ST_COL_BIT(d->col);
		if (d->type == QF_DUR || d->type == QF_TIME)
			m |= ST_COL_BIT(ST_COL_LAST_MS) | ST_COL_BIT(ST_COL_FIRST_MS);
		kl += d->klen;
	}
	if (spec->kind == Q_SERIES)
		m |= ST_COL_BIT(ST_COL_FIRST_MS) | ST_COL_BIT(ST_COL_LAST_MS);
	if (spec->kind != Q_LIST) {
		m |= ST_COL_BIT(ST_COL_PACKETS) | ST_COL_BIT(ST_COL_BYTES);
		if (spec->scale)
			m |= ST_COL_BIT(ST_COL_SAMPLING);
	}
	uint32_t agg = m; /* what grouping and sums read, filter aside */
	m |= q->flt->colmask;
	q->need_cols = m;
	q->agg_cols = m & ~(q->flt->colmask & ~agg);
	q->keylen = kl;
	/* listing: the columns a listing shows (list_cols in result.c) plus
	 * what makes the tie-break total: records equal on all of these print
	 * the same, so which of them is kept cannot be seen */
	if (spec->kind == Q_LIST) {
		static const uint8_t lf[] = { Q_F_FIRST, Q_F_LAST, Q_F_DURATION, Q_F_PROTO, Q_F_SRCIP,
			Q_F_SRCPORT, Q_F_DSTIP, Q_F_DSTPORT, Q_F_FLAGS, Q_F_TOS, Q_F_PACKETS, Q_F_BYTES,
			Q_F_SRCAS, Q_F_DSTAS, Q_F_INIF, Q_F_OUTIF, Q_F_EXPORTER, Q_F_SAMPLING };
		for (unsigned i = 0; i < sizeof(lf); i++) {
			if (spec->list_fields && !(spec->list_fields & (1u << lf[i])))
				continue;
			q->out_cols |= ST_COL_BIT(q_fdefs[lf[i]].col);
			if (lf[i] == Q_F_DURATION || lf[i] == Q_F_FIRST)
				q->out_cols |= ST_COL_BIT(ST_COL_LAST_MS) | ST_COL_BIT(ST_COL_FIRST_MS);
		}
		if (spec->scale) /* scaled packets/bytes need the interval */
			q->out_cols |= ST_COL_BIT(ST_COL_SAMPLING);
		const struct q_fdef *od = &q_fdefs[spec->order];
		q->order_cols |= ST_COL_BIT(od->col);
		q->out_cols |= ST_COL_BIT(od->col);
		if (od->type == QF_DUR)
			q->order_cols |= ST_COL_BIT(ST_COL_LAST_MS);
		if (spec->scale && (spec->order == Q_F_PACKETS || spec->order == Q_F_BYTES))
			q->order_cols |= ST_COL_BIT(ST_COL_SAMPLING);
		q->out_cols |= q->order_cols;
	}

	/* identity for merging: everything that changes a partial's meaning */
	int o = snprintf(q->sig, sizeof(q->sig), "k%d f%" PRIu64 " t%" PRIu64 " s%d o%d%c l%u c%x i%" PRIu64
			 " by%d g", spec->kind, spec->from_ms, spec->to_ms, spec->scale,
			 spec->order, spec->desc ? 'd' : 'a', q->spec.limit, spec->list_fields,
			 spec->interval_ms, spec->by);
	for (unsigned i = 0; i < spec->ngroup && o > 0 && (size_t)o < sizeof(q->sig); i++)
		o += snprintf(q->sig + o, sizeof(q->sig) - (size_t)o, "%d/%d,", spec->group[i].f,
			      spec->group[i].plen);
	if (o > 0 && (size_t)o < sizeof(q->sig))
		snprintf(q->sig + o, sizeof(q->sig) - (size_t)o, " [%s]", ftext);
	return q;
fail:
	q_query_free(q);
	errno = -rc;
	return NULL;
}

/* ----------------------------------------------------------- text helpers */

/* the unit of 1000^i (i >= 1: below 1000, no unit) */
static const char human_unit[] = " kMGTPE";

/* v >= 1000 as printf("%.1f %s") shows the double v / 1000^unit: its
 * value in tenths, rounded as printf rounds (the exact binary value, half
 * to even on exact ties), and the unit. d * 10 is hi + lo exactly (fma
 * gives the rounding error lo); d < 10^5, so a tie k + 0.5 is exact in hi
 * and lo is 0 then. No long double. */
static uint64_t human_tenths_fp(uint64_t v, unsigned *unit)
{
	double d = (double)v;
	unsigned i = 0;
	while (d >= 1000.0 && i < 6) {
		d /= 1000.0;
		i++;
	}
	*unit = i;
	double hi = d * 10.0, lo = fma(d, 10.0, -hi), f = floor(hi), fr = hi - f;
	uint64_t t = (uint64_t)f;
	return t + (fr > 0.5 || (fr == 0.5 && (lo > 0 || (lo == 0 && (t & 1)))));
}

/* The same in integers, two per listing row. Below 2^53, v is exact as a
 * double and each division by 1000 rounds by at most half an ulp, so the
 * unit is the largest 1000^i <= v, and d * 10 is 10 v / 1000^i = q + r / p
 * within a relative 1e-15 (an absolute 1e-11, as q < 10^5). Unless r / p
 * lies within 2^-36 of a half, that error cannot move the rounding, which
 * is then r > p / 2; a (near) tie, such as 1050 (1.05 is 1.0500000000000000444
 * and prints as 1.1) or 1150 (1.1 as 1.149999999999999911), takes the
 * doubles. */
static uint64_t human_tenths(uint64_t v, unsigned *unit)
{
	if (v >= (1ull << 53))
		return human_tenths_fp(v, unit);
	uint64_t x = v * 10, q, p;
	/* constant divisors: multiplications */
	if (v < 1000000ull)
		q = x / 1000ull, p = 1000ull, *unit = 1;
	else if (v < 1000000000ull)
		q = x / 1000000ull, p = 1000000ull, *unit = 2;
	else if (v < 1000000000000ull)
		q = x / 1000000000ull, p = 1000000000ull, *unit = 3;
	else if (v < 1000000000000000ull)
		q = x / 1000000000000ull, p = 1000000000000ull, *unit = 4;
	else
		q = x / 1000000000000000ull, p = 1000000000000000ull, *unit = 5;
	uint64_t r = x - q * p, h = p / 2, off = r > h ? r - h : h - r;
	if (off <= p >> 36)
		return human_tenths_fp(v, unit);
	return q + (r > h);
}

size_t q_human_len(uint64_t v)
{
	if (v < 1000)
		return 1u + (v >= 10) + (v >= 100);
	unsigned u;
	uint64_t t = human_tenths(v, &u); /* < 10^5: "W.T U" */
	return 5u + (t >= 100) + (t >= 1000) + (t >= 10000);
}

char *q_human_back(uint64_t v, char *e)
{
	if (v < 1000) {
		*--e = (char)('0' + v % 10);
		if (v >= 10)
			*--e = (char)('0' + v / 10 % 10);
		if (v >= 100)
			*--e = (char)('0' + v / 100);
		return e;
	}
	unsigned i;
	uint64_t t = human_tenths(v, &i);
	e -= 4;
	e[0] = '.';
	e[1] = (char)('0' + t % 10);
	e[2] = ' ';
	e[3] = human_unit[i];
	t /= 10;
	do {
		*--e = (char)('0' + t % 10);
		t /= 10;
	} while (t);
	return e;
}

size_t q_human_text(uint64_t v, char *o)
{
	char t[32], *e = t + sizeof(t), *p = q_human_back(v, e);
	memcpy(o, p, (size_t)(e - p));
	return (size_t)(e - p);
}

const char *q_fmt_human(uint64_t v, char *buf, size_t len)
{
	char t[32];
	size_t n = q_human_text(v, t);
	/* cut like snprintf */
	if (n >= len)
		n = len ? len - 1 : 0;
	memcpy(buf, t, n);
	if (len)
		buf[n] = 0;
	return buf;
}

int q_parse_duration_ms(const char *s, uint64_t *ms)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -EINVAL;
	double mul;
	if (!*end || !strcmp(end, "s"))
		mul = 1000;
	else if (!strcmp(end, "ms"))
		mul = 1;
	else if (!strcmp(end, "m") || !strcmp(end, "min"))
		mul = 60e3;
	else if (!strcmp(end, "h"))
		mul = 3600e3;
	else if (!strcmp(end, "d"))
		mul = 86400e3;
	else if (!strcmp(end, "w"))
		mul = 7 * 86400e3;
	else
		return -EINVAL;
	if (v * mul > 1.8e19)
		return -ERANGE;
	*ms = (uint64_t)(v * mul);
	return 0;
}

int q_parse_time_ms(const char *s, uint64_t *ms)
{
	static const char *fmts[] = { "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d.%H:%M:%S",
				      "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y/%m/%d.%H:%M",
				      "%Y-%m-%d", "%Y/%m/%d" };
	bool digits = *s != 0;
	for (const char *c = s; *c; c++)
		digits &= isdigit((unsigned char)*c) != 0;
	if (digits) {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(s, &end, 10);
		if (errno || *end)
			return -EINVAL;
		*ms = v;
		return 0;
	}
	for (unsigned i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		struct tm tm;
		memset(&tm, 0, sizeof(tm));
		const char *e = strptime(s, fmts[i], &tm);
		if (!e)
			continue;
		unsigned frac = 0;
		if (*e == '.') {
			char *fe;
			frac = (unsigned)strtoul(e + 1, &fe, 10);
			if (fe - (e + 1) != 3)
				continue;
			e = fe;
		}
		if (*e == 'Z')
			e++;
		if (*e)
			continue;
		time_t t = timegm(&tm);
		if (t < 0)
			return -EINVAL;
		*ms = (uint64_t)t * 1000 + frac;
		return 0;
	}
	return -EINVAL;
}
