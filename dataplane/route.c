/* route.c — routing tables: which slave a record goes to (DESIGN §2).
 *
 * A table is built whole by the control plane and published by pointer
 * swap; workers only read it. The model's pick function is stored in the
 * table, so a worker calls one indirect function per record and never
 * branches on the model.
 *
 * Rendezvous (highest random weight): every slave has a seed derived from
 * its name; a key goes to the slave whose mix(key ^ seed) is largest. Adding
 * or removing a slave moves only the keys that slave wins or held, and two
 * proxies with the same slave names agree without talking.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_hash_crc.h>

#include "dp.h"
#include "util/hash.h"

uint64_t dp_slave_seed(const char *name)
{
	return hash_bytes(name, strlen(name), 0x666c6f7764656c74ULL);
}

/* Highest random weight over the table's slaves: used at build time for
 * every bucket, never per record. */
static uint32_t rendezvous(const struct dp_route *rt, uint64_t key)
{
	uint64_t best = 0;
	uint32_t bi = 0;

	for (uint32_t i = 0; i < rt->n; i++) {
		uint64_t w = hash_mix64(key ^ rt->seed[i]);
		if (w >= best) {
			best = w;
			bi = i;
		}
	}
	return rt->slot[bi];
}

/* Symmetric 5-tuple key: each endpoint (address, port) hashed alone with
 * the CPU's CRC32C, then combined in sorted order with the protocol, so A→B
 * and B→A give the same key. CRC32C (not hash_mix64) because this runs once
 * per record. An IPv4 endpoint is one 64-bit word: its v4-mapped address's
 * upper half is constant and bytes 8-9 are zero, so the port goes there and
 * one CRC covers address and port exactly; IPv6 takes a second CRC for the
 * upper half. 3 CRCs per IPv4 record (was 7): the pick loop was ~8 % of a
 * worker. Exporters could aim records at one bucket, but a bucket only
 * chooses a slave; it bounds nothing that can overflow. */
static inline uint32_t endpoint_hash(const uint8_t a[16], uint16_t port, bool v6)
{
	uint64_t w[2];
	memcpy(w, a, 16);
	uint32_t h = v6 ? rte_hash_crc_8byte(w[0], 0x5f3759df) : 0x5f3759df;
	return rte_hash_crc_8byte(w[1] ^ port, h);
}

static inline uint32_t flow_key(const struct flow_rec *r)
{
	bool v6 = r->flags & FLOW_F_IP6;
	uint32_t ha = endpoint_hash(r->src_addr, r->src_port, v6);
	uint32_t hb = endpoint_hash(r->dst_addr, r->dst_port, v6);
	uint32_t lo = ha < hb ? ha : hb, hi = ha < hb ? hb : ha;
	return rte_hash_crc_8byte((uint64_t)hi << 32 | lo, r->proto);
}

uint32_t dp_flow_key(const struct flow_rec *r)
{
	return flow_key(r);
}

/* flow_key inlined: no call per record, and the CRC chains of consecutive
 * records overlap in the CPU. */
static void pick_flow_hash(const struct dp_route *rt, struct dp_worker *w,
			   const struct flow_rec *recs, uint32_t n, uint8_t *slots)
{
	(void)w;
	for (uint32_t i = 0; i < n; i++)
		slots[i] = rt->bucket[flow_key(&recs[i]) & (DP_BUCKETS - 1)];
}

static inline uint64_t src_hash(const uint8_t addr[16], uint16_t port)
{
	uint64_t a[2];
	memcpy(a, addr, 16);
	return hash_mix64(a[0] ^ hash_mix64(a[1] ^ ((uint64_t)port << 32 | 0x50)));
}

static int srcmap_find(const struct dp_srcmap_ent *tab, const uint8_t addr[16], uint16_t port,
		       uint64_t h)
{
	for (uint32_t i = 0; i < DP_SRCMAP_SIZE; i++) {
		const struct dp_srcmap_ent *e = &tab[(h + i) & (DP_SRCMAP_SIZE - 1)];
		if (!e->used)
			return -1;
		if (e->port == port && memcmp(e->addr, addr, 16) == 0)
			return e->slot;
	}
	return -1;
}

int dp_srcmap_put(struct dp_srcmap_ent *tab, const uint8_t addr[16], uint16_t port, uint8_t slot)
{
	uint64_t h = src_hash(addr, port);
	for (uint32_t i = 0; i < DP_SRCMAP_SIZE; i++) {
		struct dp_srcmap_ent *e = &tab[(h + i) & (DP_SRCMAP_SIZE - 1)];
		if (!e->used || (e->port == port && memcmp(e->addr, addr, 16) == 0)) {
			memcpy(e->addr, addr, 16);
			e->port = port;
			e->slot = slot;
			e->used = 1;
			return 0;
		}
	}
	return -ENOSPC;
}

/* Records of one export packet share the exporter, so the worker caches the
 * last (exporter, port) → slot answer for the current table generation. */
static uint32_t pick_source_one(const struct dp_route *rt, struct dp_worker *w,
				const struct flow_rec *r)
{
	uint64_t k[3];
	memcpy(k, r->exporter, 16);
	k[2] = r->exp_port;
	if (w->src_cache_gen == rt->gen && k[0] == w->src_cache_key[0] &&
	    k[1] == w->src_cache_key[1] && k[2] == w->src_cache_key[2])
		return w->src_cache_slot;

	uint64_t h = src_hash(r->exporter, r->exp_port);
	int s = srcmap_find(rt->srcmap, r->exporter, r->exp_port, h);
	/* A mapped slave that is not in the table (removed) falls back to
	 * the buckets rather than losing the source's records. */
	uint32_t slot = (s >= 0 && (rt->active_mask & (1u << s))) ? (uint32_t)s
								   : rt->bucket[h & (DP_BUCKETS - 1)];
	memcpy(w->src_cache_key, k, sizeof(k));
	w->src_cache_gen = rt->gen;
	w->src_cache_slot = slot;
	return slot;
}

static void pick_source(const struct dp_route *rt, struct dp_worker *w,
			const struct flow_rec *recs, uint32_t n, uint8_t *slots)
{
	for (uint32_t i = 0; i < n; i++)
		slots[i] = (uint8_t)pick_source_one(rt, w, &recs[i]);
}

static const dp_pick_fn pick_fns[] = {
	[DP_MODEL_FLOW_HASH] = pick_flow_hash,
	/* round-robin: NULL, the worker rotates per message buffer (worker.c) */
	[DP_MODEL_ROUND_ROBIN] = NULL,
	[DP_MODEL_SOURCE] = pick_source,
};

struct dp_route *dp_route_build(int model, const uint8_t *slots, const char *const *names,
				uint32_t n, const struct dp_srcmap_ent *map, uint32_t nmap)
{
	static uint64_t gen;
	struct dp_route *rt;

	if (model < 0 || model > DP_MODEL_SOURCE || n > DP_MAX_SLAVES) {
		errno = EINVAL;
		return NULL;
	}
	rt = calloc(1, sizeof(*rt));
	if (!rt)
		return NULL;
	rt->gen = ++gen;
	rt->model = model;
	rt->pick = pick_fns[model];
	rt->n = n;
	for (uint32_t i = 0; i < n; i++) {
		rt->slot[i] = slots[i];
		rt->seed[i] = dp_slave_seed(names[i]);
		rt->active_mask |= 1u << slots[i];
	}
	for (uint32_t b = 0; b < DP_BUCKETS && n; b++)
		rt->bucket[b] = (uint8_t)rendezvous(rt, hash_mix64(b + 0x6275636b));
	for (uint32_t i = 0; i < nmap; i++)
		if (dp_srcmap_put(rt->srcmap, map[i].addr, map[i].port, map[i].slot) < 0) {
			free(rt);
			errno = ENOSPC;
			return NULL;
		}
	return rt;
}
