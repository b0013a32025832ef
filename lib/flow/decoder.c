/* decoder.c — decoder object: exporter domains, counters, sequence tracking,
 * samplers, parked data, output batches, and UDP dispatch by version. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "flow_int.h"
#include "util/bytes.h"
#include "util/hash.h"

void flow_dec_cfg_default(struct flow_dec_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->batch_size = 256;
	cfg->tmpl_lifetime_s = 1800;
	cfg->max_domains = 4096;
	cfg->max_templates = 16384;
	cfg->max_tmpl_fields = 128;
	cfg->max_samplers = 64;
	cfg->park_bytes = 1u << 20;
	cfg->park_max_age_s = 60;
}

struct flow_dec *flow_dec_new(const struct flow_dec_cfg *cfg)
{
	struct flow_dec *dec;

	if (!cfg || !cfg->sink || !cfg->batch_size || !cfg->max_domains || !cfg->max_templates ||
	    !cfg->max_tmpl_fields || !cfg->max_samplers || cfg->max_tmpl_fields > 4096 ||
	    cfg->batch_size > 65536) {
		errno = EINVAL;
		return NULL;
	}
	dec = calloc(1, sizeof(*dec));
	if (!dec)
		return NULL;
	dec->cfg = *cfg;
	dec->recs = calloc(cfg->batch_size, sizeof(*dec->recs));
	/* A set's strings fit in the set (<= 64 KiB): twice that always has
	 * room after a flush. */
	dec->arena_cap = 2 * 65536;
	dec->arena = malloc(dec->arena_cap);
	dec->domains = calloc(cfg->max_domains, sizeof(*dec->domains));
	dec->dom_mask = hash_pow2_at_least(cfg->max_domains) - 1;
	dec->dom_buckets = calloc(dec->dom_mask + 1, sizeof(*dec->dom_buckets));
	dec->next_sess = 1;
	if (!dec->recs || !dec->arena || !dec->domains || !dec->dom_buckets ||
	    tmpl_table_init(dec) < 0) {
		flow_dec_free(dec);
		errno = ENOMEM;
		return NULL;
	}
	return dec;
}

void flow_dec_free(struct flow_dec *dec)
{
	if (!dec)
		return;
	while (dec->park_head) {
		struct parked *p = dec->park_head;
		dec->park_head = p->next;
		free(p);
	}
	tmpl_table_free(dec);
	if (dec->domains) {
		for (uint32_t i = 0; i < dec->ndomains; i++) {
			free(dec->domains[i]->samplers);
			free(dec->domains[i]);
		}
	}
	free(dec->domains);
	free(dec->dom_buckets);
	free(dec->arena);
	free(dec->recs);
	free(dec);
}

/* ---- domains ------------------------------------------------------------ */

struct domain *dec_domain(struct flow_dec *dec, const uint8_t addr[16], uint32_t odid,
			  uint8_t version)
{
	uint8_t key[24];
	struct domain *d;
	uint32_t b;

	memcpy(key, addr, 16);
	memcpy(key + 16, &odid, 4);
	key[20] = version;
	key[21] = key[22] = key[23] = 0;
	b = (uint32_t)hash_bytes(key, sizeof(key), 0x5eed) & dec->dom_mask;
	for (d = dec->dom_buckets[b]; d; d = d->hnext)
		if (d->odid == odid && d->version == version && !memcmp(d->addr, addr, 16))
			return d;
	if (dec->ndomains >= dec->cfg.max_domains)
		return NULL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->id = dec->ndomains;
	memcpy(d->addr, addr, 16);
	d->odid = odid;
	d->version = version;
	memcpy(d->st.exporter, addr, 16);
	d->st.odid = odid;
	d->st.version = version;
	d->hnext = dec->dom_buckets[b];
	dec->dom_buckets[b] = d;
	dec->domains[dec->ndomains++] = d;
	return d;
}

void dec_drop_n(struct flow_dec *dec, struct domain *dom, enum flow_drop why, uint64_t n)
{
	dec->st.drops[why] += n;
	if (dom)
		dom->st.drops[why] += n;
}

void dec_drop(struct flow_dec *dec, struct domain *dom, enum flow_drop why)
{
	dec_drop_n(dec, dom, why, 1);
}

/* Sequence numbers (RFC 7011 §3.1, RFC 3954 §5.1, v5 flow_sequence):
 * seq is the number of the first unit of this message, incr the units it
 * carries. A jump forward counts the gap as lost; a message behind the
 * expected number is a duplicate (same number as the previous message) or
 * out of order — then it was counted lost before, so it is taken back from
 * lost. A jump of 2^20 or more either way is an exporter restart: resync.
 * After a message whose records could not all be counted (data parked or
 * without template), the next message resyncs instead of counting loss. */
void dec_seq(struct domain *dom, uint32_t seq, uint32_t incr)
{
	int32_t d;

	if (!dom->seq_init || dom->seq_resync) {
		dom->seq_init = true;
		dom->seq_resync = false;
		goto accept;
	}
	d = (int32_t)(seq - dom->seq_next);
	if (d == 0)
		goto accept;
	if (d > 0 && d < (1 << 20)) {
		dom->st.seq_lost += (uint32_t)d;
		goto accept;
	}
	if (d < 0 && d > -(1 << 20)) {
		if (seq == dom->seq_last) {
			dom->st.seq_dup++;
		} else {
			dom->st.seq_ooo++;
			dom->st.seq_lost -= incr < dom->st.seq_lost ? incr : dom->st.seq_lost;
		}
		return;
	}
accept: /* resync on anything else */
	dom->seq_last = seq;
	dom->seq_next = seq + incr;
}

/* ---- sampling ----------------------------------------------------------- */

int flow_dec_set_sampling_override(struct flow_dec *dec, const uint8_t addr[16],
				   uint32_t interval)
{
	if (!dec || !addr)
		return -EINVAL;
	for (uint32_t i = 0; i < dec->noverrides; i++) {
		if (memcmp(dec->overrides[i].addr, addr, 16))
			continue;
		if (interval) {
			dec->overrides[i].interval = interval;
		} else {
			dec->overrides[i] = dec->overrides[--dec->noverrides];
		}
		return 0;
	}
	if (!interval)
		return 0;
	if (dec->noverrides >= FLOW_MAX_OVERRIDES)
		return -ENOSPC;
	memcpy(dec->overrides[dec->noverrides].addr, addr, 16);
	dec->overrides[dec->noverrides++].interval = interval;
	return 0;
}

uint32_t dec_override(const struct flow_dec *dec, const uint8_t addr[16])
{
	for (uint32_t i = 0; i < dec->noverrides; i++)
		if (!memcmp(dec->overrides[i].addr, addr, 16))
			return dec->overrides[i].interval;
	return 0;
}

void dec_sampler_set(struct flow_dec *dec, struct domain *dom, bool has_id, uint64_t id,
		     uint32_t interval)
{
	if (!interval)
		return;
	if (!has_id) {
		dom->default_interval = interval;
		return;
	}
	for (uint32_t i = 0; i < dom->nsamplers; i++) {
		if (dom->samplers[i].id == id) {
			dom->samplers[i].interval = interval;
			return;
		}
	}
	if (!dom->samplers) {
		dom->samplers = calloc(dec->cfg.max_samplers, sizeof(*dom->samplers));
		if (!dom->samplers) {
			dec_drop(dec, dom, FLOW_DROP_sampler_limit);
			return;
		}
	}
	if (dom->nsamplers >= dec->cfg.max_samplers) {
		dec_drop(dec, dom, FLOW_DROP_sampler_limit);
		return;
	}
	dom->samplers[dom->nsamplers].id = id;
	dom->samplers[dom->nsamplers++].interval = interval;
}

/* Interval of sampler id; unknown id: the domain default, else the only
 * sampler if there is exactly one, else 1 (unsampled). */
uint32_t dec_sampler_get(const struct domain *dom, uint64_t id)
{
	for (uint32_t i = 0; i < dom->nsamplers; i++)
		if (dom->samplers[i].id == id)
			return dom->samplers[i].interval;
	if (dom->default_interval)
		return dom->default_interval;
	if (dom->nsamplers == 1)
		return dom->samplers[0].interval;
	return 1;
}

/* ---- output ------------------------------------------------------------- */

void dec_flush(struct flow_dec *dec)
{
	struct flow_batch b;

	if (!dec->nrec)
		return;
	b.recs = dec->recs;
	b.n = dec->nrec;
	b.arena = dec->arena;
	b.arena_len = dec->arena_len;
	dec->cfg.sink(dec->cfg.sink_ctx, &b);
	dec->nrec = 0;
	dec->arena_len = 0;
}

/* ---- parked data sets --------------------------------------------------- */

static void park_unlink_head(struct flow_dec *dec)
{
	struct parked *p = dec->park_head;

	dec->park_head = p->next;
	if (!dec->park_head)
		dec->park_tail = NULL;
	dec->park_bytes -= p->len + sizeof(*p);
	free(p);
}

void dec_park(struct flow_dec *dec, const struct msg_ctx *m, uint16_t tid, const uint8_t *data,
	      uint32_t len)
{
	struct parked *p;
	uint64_t need = len + sizeof(*p);

	if (need > dec->cfg.park_bytes) {
		dec_drop(dec, m->dom, FLOW_DROP_park_overflow);
		return;
	}
	while (dec->park_head && dec->park_bytes + need > dec->cfg.park_bytes) {
		struct domain *d = dec->domains[dec->park_head->dom];
		dec_drop(dec, d, FLOW_DROP_park_overflow);
		park_unlink_head(dec);
	}
	p = malloc(need);
	if (!p) {
		dec_drop(dec, m->dom, FLOW_DROP_park_overflow);
		return;
	}
	p->next = NULL;
	p->arrival_ms = m->now_ms;
	p->export_ms = m->export_ms;
	p->uptime_ms = m->uptime_ms;
	p->has_uptime = m->has_uptime;
	p->dom = m->dom->id;
	p->sess = m->sess;
	p->tcp = m->tcp;
	p->src = *m->src;
	p->tid = tid;
	p->version = m->version;
	p->len = len;
	memcpy(p->data, data, len);
	if (dec->park_tail)
		dec->park_tail->next = p;
	else
		dec->park_head = p;
	dec->park_tail = p;
	dec->park_bytes += need;
	dec->st.parked_sets++;
}

/* A template (dom, sess, tid) was just defined: decode the sets waiting for
 * it, in arrival order. */
void dec_unpark(struct flow_dec *dec, uint32_t dom, uint32_t sess, uint16_t tid)
{
	struct parked **pp = &dec->park_head, *prev = NULL;

	while (*pp) {
		struct parked *p = *pp;
		if (p->dom != dom || p->sess != sess || p->tid != tid) {
			prev = p;
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		if (dec->park_tail == p)
			dec->park_tail = prev;
		dec->park_bytes -= p->len + sizeof(*p);

		struct msg_ctx m = {
			.dom = dec->domains[p->dom],
			.src = &p->src,
			.tcp = p->tcp,
			.sess = p->sess,
			.export_ms = p->export_ms,
			.now_ms = p->arrival_ms,
			.uptime_ms = p->uptime_ms,
			.version = p->version,
			.has_uptime = p->has_uptime,
		};
		dec->st.unparked_sets++;
		v9ipfix_data_set(dec, &m, p->tid, p->data, p->len);
		free(p);
	}
}

void dec_park_drop_session(struct flow_dec *dec, uint32_t sess)
{
	struct parked **pp = &dec->park_head, *prev = NULL;

	while (*pp) {
		struct parked *p = *pp;
		if (p->sess != sess) {
			prev = p;
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		if (dec->park_tail == p)
			dec->park_tail = prev;
		dec->park_bytes -= p->len + sizeof(*p);
		dec_drop(dec, dec->domains[p->dom], FLOW_DROP_no_template);
		free(p);
	}
}

void flow_dec_tick(struct flow_dec *dec, uint64_t now_ms)
{
	uint64_t max_age = (uint64_t)dec->cfg.park_max_age_s * 1000;

	while (dec->park_head && now_ms > dec->park_head->arrival_ms + max_age) {
		dec_drop(dec, dec->domains[dec->park_head->dom], FLOW_DROP_no_template);
		park_unlink_head(dec);
	}
	dec_flush(dec);
}

/* ---- entry points ------------------------------------------------------- */

uint32_t flow_dec_udp(struct flow_dec *dec, const struct flow_src *src, const uint8_t *data,
		      size_t len, uint64_t now_ms)
{
	uint32_t n;

	dec->st.packets++;
	dec->st.bytes += len;
	if (len < 4) {
		dec_drop(dec, NULL, FLOW_DROP_short_header);
		return 0;
	}
	switch (be16_load(data)) {
	case 5:
		n = v5_decode(dec, src, data, len, now_ms);
		break;
	case 9:
		n = v9_decode(dec, src, data, len, now_ms);
		break;
	case 10:
		n = ipfix_decode_msg(dec, src, NULL, 0, data, len, now_ms);
		break;
	default:
		dec_drop(dec, NULL, FLOW_DROP_bad_version);
		return 0;
	}
	/* Parked data past its age is checked on every datagram: cheap when
	 * nothing is parked (one pointer test). */
	if (dec->park_head)
		flow_dec_tick(dec, now_ms);
	else
		dec_flush(dec);
	return n;
}

void flow_dec_stats(const struct flow_dec *dec, struct flow_dec_stats *out)
{
	*out = dec->st;
	out->domains = dec->ndomains;
	out->templates_live = dec->tlive;
}

void flow_dec_foreach_domain(const struct flow_dec *dec,
			     void (*fn)(void *ctx, const struct flow_domain_stats *s), void *ctx)
{
	for (uint32_t i = 0; i < dec->ndomains; i++)
		fn(ctx, &dec->domains[i]->st);
}
