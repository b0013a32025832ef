/* gen_pool.c — pool mode of the generator (gen.h): packets encoded once by
 * gen_next() and handed out round after round, each round shifted in time,
 * so that a sender spends its core on sending, not on encoding.
 *
 * Per packet handed out: the header's time and sequence number, and each
 * record's two time fields, are patched in place (by the shift between the
 * round the slot was last patched for and the current one); a packet cut
 * short for an exact record count is rebuilt in a separate buffer. v5/v9
 * times are sysUpTime-relative: the header's sysUpTime and unix seconds and
 * the records' First/Last all move by the same shift, so the absolute times
 * a decoder computes move by exactly that shift. 32-bit sysUpTime wraps
 * after 49.7 days of simulated time; runs are far shorter.
 */
#include "gen.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/bytes.h"

struct slot {
	uint32_t off;      /* packet bytes at buf + off */
	uint32_t len;
	uint32_t exporter;
	uint32_t n_recs;
	uint32_t rec0;     /* its first record in pos[] (and recs[]) */
	uint32_t n4;       /* records in its first data set (v9/IPFIX: IPv4) */
	uint32_t ntmpl;    /* template records (v9 header count) */
	uint16_t src_port;
	uint64_t time_ms;  /* round-0 send time */
	uint64_t round;    /* the round its bytes are patched for */
};

struct gen_pool {
	uint8_t version;
	uint32_t size, next;
	uint64_t round, shift_ms;
	struct slot *slot;
	uint8_t *buf;
	struct gen_rec_pos *pos;  /* offsets relative to the packet */
	uint32_t *seq;            /* per exporter: its next sequence number */
	uint8_t *cut;             /* GEN_PKT_CAP: a packet cut short */
	struct flow_rec *recs;    /* keep_recs only */
	char *arena;
};

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	void *n;
	size_t c = *cap ? *cap : 256;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	n = realloc(*p, c * elem);
	if (!n)
		return -ENOMEM;
	*p = n;
	*cap = c;
	return 0;
}

struct gen_pool *gen_pool_new(const struct gen_cfg *cfg, uint32_t per_exporter, bool keep_recs)
{
	struct gen_pool *p = NULL;
	struct gen *g = gen_new(cfg);
	struct gen_pkt pk;
	size_t bcap = 0, bl = 0, pcap = 0, rcap = 0, acap = 0, al = 0, nr = 0;
	uint64_t want;
	int err = ENOMEM;

	if (!g)
		return NULL;
	want = (uint64_t)cfg->exporters * per_exporter;
	if (!per_exporter || want > UINT32_MAX / 2) {
		err = EINVAL;
		goto fail;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		goto fail;
	p->version = cfg->version;
	p->slot = calloc(want, sizeof(*p->slot));
	p->seq = calloc(cfg->exporters, sizeof(*p->seq));
	p->cut = malloc(GEN_PKT_CAP);
	if (!p->slot || !p->seq || !p->cut)
		goto fail;
	while (p->size < want) {
		struct slot *s = &p->slot[p->size];
		size_t at = (bl + 63) & ~(size_t)63; /* cache-line aligned packets */

		if (gen_next(g, 0, &pk) != 1) {
			err = EINVAL; /* cfg->flows ends first: nothing to repeat */
			goto fail;
		}
		if (grow((void **)&p->buf, &bcap, at + pk.len, 1) ||
		    grow((void **)&p->pos, &pcap, nr + pk.n_recs, sizeof(*p->pos)))
			goto fail;
		memcpy(p->buf + at, pk.data, pk.len);
		memcpy(p->pos + nr, pk.pos, pk.n_recs * sizeof(*p->pos));
		bl = at + pk.len;
		if (keep_recs) {
			if (grow((void **)&p->recs, &rcap, nr + pk.n_recs, sizeof(*p->recs)) ||
			    grow((void **)&p->arena, &acap, al + pk.arena_len + 1, 1))
				goto fail;
			memcpy(p->arena + al, pk.arena, pk.arena_len);
			for (uint32_t i = 0; i < pk.n_recs; i++) {
				struct flow_rec *r = &p->recs[nr + i];
				*r = pk.recs[i];
				for (int k = 0; k < FLOW_STR_MAX; k++)
					r->str_off[k] += (uint32_t)al;
			}
			al += pk.arena_len;
		}
		s->off = (uint32_t)at;
		s->len = (uint32_t)pk.len;
		s->exporter = pk.exporter;
		s->src_port = pk.src_port;
		s->n_recs = pk.n_recs;
		s->rec0 = (uint32_t)nr;
		/* gen puts a packet's IPv4 records (first set) before its IPv6 ones */
		s->n4 = 0;
		while (s->n4 < pk.n_recs && (cfg->version == 5 || !(pk.recs[s->n4].flags & FLOW_F_IP6)))
			s->n4++;
		s->ntmpl = pk.n_templates;
		s->time_ms = pk.time_ms;
		nr += pk.n_recs;
		p->size++;
	}
	/* a round spans per_exporter intervals of each exporter; the next
	 * starts after it, on a whole second so v5/v9 times stay exact */
	p->shift_ms = ((uint64_t)per_exporter * cfg->interval_ms + 999) / 1000 * 1000;
	if (!p->shift_ms)
		p->shift_ms = 1000;
	gen_free(g);
	return p;
fail:
	gen_free(g);
	gen_pool_free(p);
	errno = err;
	return NULL;
}

void gen_pool_free(struct gen_pool *p)
{
	if (!p)
		return;
	free(p->slot);
	free(p->buf);
	free(p->pos);
	free(p->seq);
	free(p->cut);
	free(p->recs);
	free(p->arena);
	free(p);
}

uint32_t gen_pool_size(const struct gen_pool *p)
{
	return p->size;
}

uint64_t gen_pool_shift_ms(const struct gen_pool *p)
{
	return p->shift_ms;
}

static void add32(uint8_t *q, uint32_t d)
{
	be32_store(q, be32_load(q) + d);
}

static void add64(uint8_t *q, uint64_t d)
{
	be64_store(q, be64_load(q) + d);
}

/* Move the packet of s by d ms (a multiple of 1000). */
static void shift_pkt(const struct gen_pool *p, const struct slot *s, uint8_t *pkt, uint64_t d)
{
	const struct gen_rec_pos *pos = p->pos + s->rec0;
	uint32_t d32 = (uint32_t)d; /* sysUpTime arithmetic is mod 2^32 */

	if (p->version == 10) {
		add32(pkt + 4, (uint32_t)(d / 1000));
		for (uint32_t i = 0; i < s->n_recs; i++) {
			add64(pkt + pos[i].time, d);
			add64(pkt + pos[i].time + 8, d);
		}
		return;
	}
	add32(pkt + 4, d32);                  /* sysUpTime */
	add32(pkt + 8, (uint32_t)(d / 1000)); /* unix_secs */
	for (uint32_t i = 0; i < s->n_recs; i++) {
		add32(pkt + pos[i].time, d32);
		add32(pkt + pos[i].time + 4, d32);
	}
}

/* Copy the first m (< n_recs) records of the packet of s into p->cut, with
 * its headers adjusted; returns the length. The records are the first m in
 * packet order: a prefix of the first set, or the first set whole and a
 * prefix of the second. */
static size_t cut_pkt(struct gen_pool *p, const struct slot *s, const uint8_t *pkt, uint32_t m)
{
	const struct gen_rec_pos *pos = p->pos + s->rec0;
	uint8_t *c = p->cut;
	size_t end, set;

	if (p->version == 5) {
		end = pos[m].off;
		memcpy(c, pkt, end);
		be16_store(c + 2, (uint16_t)m);
		return end;
	}
	if (m <= s->n4) {
		end = (size_t)pos[m - 1].off + pos[m - 1].len;
		set = pos[0].off - 4u;
	} else {
		end = (size_t)pos[m - 1].off + pos[m - 1].len;
		set = pos[s->n4].off - 4u;
	}
	memcpy(c, pkt, end);
	while (p->version == 9 && (end - set) % 4) /* v9 sets are padded */
		c[end++] = 0;
	be16_store(c + set + 2, (uint16_t)(end - set));
	if (p->version == 9)
		be16_store(c + 2, (uint16_t)(m + s->ntmpl));
	else
		be16_store(c + 2, (uint16_t)end);
	return end;
}

void gen_pool_next(struct gen_pool *p, uint32_t max_recs, struct gen_pool_pkt *out)
{
	struct slot *s = &p->slot[p->next];
	uint8_t *pkt = p->buf + s->off;
	uint32_t n = max_recs && max_recs < s->n_recs ? max_recs : s->n_recs;
	uint32_t *seq = &p->seq[s->exporter];

	if (s->round != p->round) {
		shift_pkt(p, s, pkt, (p->round - s->round) * p->shift_ms);
		s->round = p->round;
	}
	switch (p->version) {
	case 5: be32_store(pkt + 16, *seq); *seq += n; break;  /* flows before */
	case 9: be32_store(pkt + 12, *seq); *seq += 1; break;  /* packets before */
	default: be32_store(pkt + 8, *seq); *seq += n; break;  /* records before */
	}
	out->data = pkt;
	out->len = s->len;
	if (n < s->n_recs) {
		out->data = p->cut;
		out->len = cut_pkt(p, s, pkt, n);
	}
	out->exporter = s->exporter;
	out->src_port = s->src_port;
	out->n_recs = n;
	out->slot = p->next;
	out->round = p->round;
	out->time_ms = s->time_ms + p->round * p->shift_ms;
	if (++p->next == p->size) {
		p->next = 0;
		p->round++;
	}
}

void gen_pool_expect(const struct gen_pool *p, const struct gen_pool_pkt *pk,
		     struct flow_rec *out, const char **arena)
{
	const struct slot *s = &p->slot[pk->slot];
	uint64_t d = pk->round * p->shift_ms;

	for (uint32_t i = 0; i < pk->n_recs; i++) {
		out[i] = p->recs[s->rec0 + i];
		out[i].first_ms += d;
		out[i].last_ms += d;
	}
	*arena = p->arena;
}
