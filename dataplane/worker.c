/* worker.c — the run-to-completion loop of one worker lcore (DESIGN §2).
 *
 * burst RX → keep UDP to flow ports → lib/flow decode → pick a slave →
 * append to the (worker, slave) IPFIX message → full or flush_ms old:
 * single-producer enqueue on the (worker, slave) ring.
 *
 * Nothing here blocks, allocates from the heap or makes a system call per
 * packet: message buffers come from a mempool with a per-lcore cache, a full
 * ring or an empty pool is a counted drop. The routing table is read under
 * RCU (quiescent state reported once per loop iteration).
 *
 * Idle mode (poll.idle_sleep_us > 0): after poll.idle_after consecutive
 * empty bursts the worker sleeps idle_sleep_us after each further empty
 * burst, and busy-polls again from the first burst with packets. The sleep
 * only lengthens a loop iteration (it comes right after the quiescent-state
 * report), so every per-iteration duty — buffer ageing, decoder tick,
 * counter snapshots, RCU quiescence for dp_route_publish's two grace
 * periods — still runs, at most one sleep (≤ 10 ms, config.c) late.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_prefetch.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "dp.h"
#include "flow/encode_fixed.h"
#include "util/addr.h"
#include "util/bytes.h"

static uint64_t now_ms_of(uint64_t tsc)
{
	return dp_g.start_ms + (tsc - dp_g.start_tsc) * 1000 / dp_g.tsc_hz;
}

static int wbuf_open(struct dp_worker *w, struct dp_wbuf *b)
{
	void *obj;
	if (rte_mempool_get(dp_g.msg_pool, &obj) < 0)
		return -ENOBUFS;
	b->m = obj;
	/* Cold lines (see enc_batch): the run loop prefetches 1 KiB ahead of
	 * its cursor, so the message's first KiB is asked for here. */
	for (uint32_t off = 0; off < 1024; off += 64)
		__builtin_prefetch(b->m->data + off, 1, 3);
	/* The sequence number is rewritten by the sender, which owns the
	 * connection's record count; 0 here. */
	flow_enc_begin(&b->enc, b->m->data, dp_g.msg_cap, dp_g.cfg->group.odid,
		       (uint32_t)(w->now_ms / 1000), 0);
	b->born_tsc = w->now_tsc;
	return 0;
}

/* Hand a non-empty buffer to its ring. Round-robin advances here: one
 * message per slave in turn. */
static void wbuf_flush(struct dp_worker *w, uint32_t slot)
{
	struct dp_wbuf *b = &w->buf[slot];
	struct dp_msg *m = b->m;
	struct dp_wslave_ctr *c = &w->sctr[slot];

	if (!m)
		return;
	b->m = NULL;
	m->nrec = b->enc.records;
	m->len = (uint32_t)flow_enc_finish(&b->enc);
	if (m->nrec == 0) {
		rte_mempool_put(dp_g.msg_pool, m);
		return;
	}
	if (rte_ring_sp_enqueue(dp_g.rings[w->idx][slot], m) != 0) {
		c->drops[DP_REC_DROP_ring_full] += m->nrec;
		rte_mempool_put(dp_g.msg_pool, m);
	} else {
		c->enqueued += m->nrec;
		c->msgs++;
	}
	if (w->rt->model == DP_MODEL_ROUND_ROBIN && w->rt->n && w->rr_cur < w->rt->n &&
	    w->rt->slot[w->rr_cur] == slot)
		w->rr_cur = (w->rr_cur + 1) % w->rt->n;
}

static void wbuf_add(struct dp_worker *w, uint32_t slot, const struct flow_rec *r,
		     const char *arena)
{
	struct dp_wbuf *b = &w->buf[slot];

	if (b->m && flow_enc_add(&b->enc, r, arena) == 0) {
		w->sctr[slot].records++;
		return;
	}
	if (b->m) {
		wbuf_flush(w, slot);
		/* Round-robin: a full message hands over to the next slave, and
		 * so does the record that did not fit (else it would open a
		 * one-record message behind the rotation). */
		if (w->rt->model == DP_MODEL_ROUND_ROBIN) {
			slot = w->rt->slot[w->rr_cur];
			b = &w->buf[slot];
			if (b->m && flow_enc_add(&b->enc, r, arena) == 0) {
				w->sctr[slot].records++;
				return;
			}
			if (b->m)
				wbuf_flush(w, slot);
		}
	}
	struct dp_wslave_ctr *c = &w->sctr[slot];
	c->records++;
	if (wbuf_open(w, b) < 0) {
		c->drops[DP_REC_DROP_no_msgbuf]++;
		return;
	}
	if (flow_enc_add(&b->enc, r, arena) != 0)
		c->drops[DP_REC_DROP_encode_error]++;
}

/* Flow-hash and source: append a batch's records to their slots' messages.
 * The run fast path: records without strings whose template is the open
 * data set's are stored back to back, each slot's cursor kept in a local
 * run state (not in the message, which the stores would alias), and each
 * message and counter is updated once per batch. Anything else — no open
 * message or set, another template, a full message, strings — ends that
 * slot's run and takes wbuf_add for the one record (which opens, switches
 * sets or flushes); the slot's next record starts a new run. */
_Static_assert(DP_MAX_SLAVES <= 32, "enc_batch keeps its live runs in a 32-bit mask");

static void enc_batch(struct dp_worker *w, const struct flow_rec *recs, uint32_t n,
		      const char *arena)
{
	struct {
		uint8_t *p;
		const uint8_t *end;
		uint32_t tid, len, n;
	} run[DP_MAX_SLAVES];
	uint32_t live = 0; /* slots with a run in run[] */

	for (uint32_t i = 0; i < n; i++) {
		const struct flow_rec *r = &recs[i];
		uint32_t s = w->pick[i];
		if (!(live & (1u << s))) {
			struct dp_wbuf *b = &w->buf[s];
			/* no open message or set, or a set with strings */
			uint32_t tid = b->m ? b->enc.set_tid : 0;
			if (tid - FLOW_ENC_TID_BASE >= 4) {
				wbuf_add(w, s, r, arena);
				continue;
			}
			run[s].p = flow_enc_cursor(&b->enc);
			run[s].end = flow_enc_end(&b->enc);
			run[s].tid = tid;
			run[s].len = flow_enc_fixed_len((uint16_t)tid);
			run[s].n = 0;
			live |= 1u << s;
		}
		if (flow_enc_fixed_tid(r) == run[s].tid &&
		    (size_t)(run[s].end - run[s].p) >= run[s].len) {
			/* The message's lines are cold: messages cycle FIFO
			 * through the pool (rings, windows), so a reused one
			 * was last written long ago. Ask for lines for writing
			 * ~10 records ahead: measured -8 % cycles/record in
			 * bench-dataplane. */
			__builtin_prefetch(run[s].p + 1024, 1, 3);
			__builtin_prefetch(run[s].p + 1088, 1, 3);
			run[s].p = flow_enc_put_fixed(run[s].p, r);
			run[s].n++;
			continue;
		}
		flow_enc_commit(&w->buf[s].enc, run[s].p, run[s].n);
		w->sctr[s].records += run[s].n;
		live &= ~(1u << s);
		wbuf_add(w, s, r, arena);
	}
	while (live) {
		uint32_t s = (uint32_t)__builtin_ctz(live);
		live &= live - 1;
		flow_enc_commit(&w->buf[s].enc, run[s].p, run[s].n);
		w->sctr[s].records += run[s].n;
	}
}

static void sink(void *ctx, const struct flow_batch *bt)
{
	struct dp_worker *w = ctx;
	const struct dp_route *rt = w->rt;

	w->ctr.records += bt->n;
	if (rt->n == 0) {
		w->ctr.no_slave += bt->n;
		return;
	}
	for (uint32_t off = 0; off < bt->n; off += DP_DEC_BATCH) {
		uint32_t n = bt->n - off < DP_DEC_BATCH ? bt->n - off : DP_DEC_BATCH;
		const struct flow_rec *recs = bt->recs + off;
		if (!rt->pick) {
			/* round-robin has no per-record choice: the slave
			 * changes when its message is full (wbuf_add/flush) */
			for (uint32_t i = 0; i < n; i++)
				wbuf_add(w, rt->slot[w->rr_cur], &recs[i], bt->arena);
			continue;
		}
		rt->pick(rt, w, recs, n, w->pick);
		enc_batch(w, recs, n, bt->arena);
	}
}

/* Returns the UDP payload of a flow export, or NULL with the drop counted.
 * Bounded cursor: every header read is checked against len first. */
static const uint8_t *parse(struct dp_worker *w, const uint8_t *p, uint32_t len,
			    struct flow_src *src, uint32_t *plen)
{
	uint32_t off = 14, l4, end;
	uint16_t et;

	if (len < 14)
		goto truncated;
	et = be16_load(p + 12);
	while (et == 0x8100 || et == 0x88a8) {
		if (len < off + 4)
			goto truncated;
		et = be16_load(p + off + 2);
		off += 4;
	}
	if (et == 0x0800) {
		if (len < off + 20)
			goto truncated;
		const uint8_t *ip = p + off;
		uint32_t ihl = (ip[0] & 0xf) * 4u, tot = be16_load(ip + 2);
		if ((ip[0] >> 4) != 4 || ihl < 20 || tot < ihl || len < off + tot)
			goto truncated;
		if (be16_load(ip + 6) & 0x3fff) {
			w->ctr.pkt_drops[DP_PKT_DROP_ip_fragment]++;
			return NULL;
		}
		if (ip[9] != 17) {
			w->ctr.pkt_drops[DP_PKT_DROP_not_udp]++;
			return NULL;
		}
		addr_set_v4(src->addr, ip + 12);
		l4 = off + ihl;
		end = off + tot;
	} else if (et == 0x86dd) {
		if (len < off + 40)
			goto truncated;
		const uint8_t *ip = p + off;
		uint32_t pl = be16_load(ip + 4);
		if (len < off + 40 + pl)
			goto truncated;
		/* Exports are sent without extension headers; a fragment
		 * header (44) is counted as a fragment, anything else as
		 * not UDP. */
		if (ip[6] == 44) {
			w->ctr.pkt_drops[DP_PKT_DROP_ip_fragment]++;
			return NULL;
		}
		if (ip[6] != 17) {
			w->ctr.pkt_drops[DP_PKT_DROP_not_udp]++;
			return NULL;
		}
		memcpy(src->addr, ip + 8, 16);
		l4 = off + 40;
		end = l4 + pl;
	} else {
		w->ctr.pkt_drops[DP_PKT_DROP_not_ip]++;
		return NULL;
	}
	if (end < l4 + 8)
		goto truncated;
	const uint8_t *udp = p + l4;
	uint16_t dport = be16_load(udp + 2);
	uint32_t ulen = be16_load(udp + 4);
	if (!(dp_g.flow_port_bits[dport >> 3] & (1u << (dport & 7)))) {
		w->ctr.pkt_drops[DP_PKT_DROP_not_flow_port]++;
		return NULL;
	}
	if (ulen < 8 || l4 + ulen > end)
		goto truncated;
	src->port = be16_load(udp);
	src->listen_port = dport;
	*plen = ulen - 8;
	return udp + 8;
truncated:
	w->ctr.pkt_drops[DP_PKT_DROP_truncated]++;
	return NULL;
}

/* A new table arrived: buffers of slaves that left it are handed to their
 * rings now, while those rings still exist (ctl waits two grace periods
 * before retiring the sender, see dp_slave_remove). */
static void on_route_change(struct dp_worker *w, const struct dp_route *rt)
{
	const struct dp_route *old = w->rt;
	w->rt = rt;
	for (uint32_t s = 0; s < DP_MAX_SLAVES; s++)
		if (w->buf[s].m && !(rt->active_mask & (1u << s))) {
			const struct dp_route *keep = w->rt;
			w->rt = old; /* round-robin bookkeeping refers to the old table */
			wbuf_flush(w, s);
			w->rt = keep;
		}
	w->rt_gen = rt->gen;
	if (w->rr_cur >= rt->n)
		w->rr_cur = 0;
}

static void dom_cb(void *ctx, const struct flow_domain_stats *d)
{
	struct dp_dec_snap *s = ctx;
	if (s->ndomains < DP_MAX_EXPORTERS)
		s->dom[s->ndomains++] = *d;
}

static void snapshot(struct dp_worker *w)
{
	struct dp_dec_snap *s = w->snap;
	struct timespec ts;

	/* 4 Hz, never per packet: CPU time actually given to this thread,
	 * which is what "records/s per core" means when the core is shared */
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0)
		w->ctr.cpu_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec - w->cpu_ns0;

	atomic_fetch_add_explicit(&s->seq, 1, memory_order_acq_rel);
	flow_dec_stats(w->dec, &s->dec);
	s->ndomains = 0;
	flow_dec_foreach_domain(w->dec, dom_cb, s);
	atomic_fetch_add_explicit(&s->seq, 1, memory_order_acq_rel);
}

static void flush_all(struct dp_worker *w, bool wait)
{
	for (uint32_t s = 0; s < DP_MAX_SLAVES; s++) {
		if (!w->buf[s].m)
			continue;
		if (wait) {
			/* shutdown only: RX has stopped, so waiting for ring
			 * room blocks nothing; bounded to 2 s. Sleeping, not
			 * spinning: the senders may need this CPU to drain,
			 * and the worker's CPU time (cpu_ns, the capacity
			 * bench's denominator) should not grow by waiting. */
			const struct timespec nap = { .tv_sec = 0, .tv_nsec = 50000 };
			uint64_t deadline = rte_get_tsc_cycles() + 2 * dp_g.tsc_hz;
			while (rte_ring_free_count(dp_g.rings[w->idx][s]) == 0 &&
			       rte_get_tsc_cycles() < deadline)
				nanosleep(&nap, NULL);
		}
		wbuf_flush(w, s);
	}
}

int dp_worker_main(void *arg)
{
	struct dp_worker *w = arg;
	struct rte_mbuf *pkts[DP_BURST];
	static __thread uint8_t lin[65536]; /* multi-segment packets are copied here */
	const uint64_t flush_tsc = dp_g.tsc_hz * dp_g.cfg->senders.flush_ms / 1000;
	const uint64_t age_every = dp_g.tsc_hz / 1000;  /* buffer ages checked every 1 ms */
	const uint64_t snap_every = dp_g.tsc_hz / 4;    /* decoder counters, 4 Hz */
	const uint64_t tick_every = dp_g.tsc_hz;        /* decoder housekeeping, 1 Hz */
	uint64_t next_age = 0, next_snap = 0, next_tick = 0;
	const uint32_t idle_after = dp_g.cfg->poll.idle_polls;
	const struct timespec idle_ts = { .tv_sec = 0,
					   .tv_nsec = (long)dp_g.cfg->poll.idle_sleep_us * 1000 };
	uint32_t empty = 0; /* consecutive empty bursts, saturating at idle_after + 1 */
	const uint64_t gap_10ms = dp_g.tsc_hz / 100;
	uint64_t gap_max = 0;

	struct timespec ts;
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0)
		w->cpu_ns0 = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	/* A sleeping worker that shares its core wakes to a full RX ring;
	 * as SCHED_FIFO it runs as soon as it wakes instead of waiting for
	 * the other tasks' time slices. main() checks the outcome. */
	int rt_err = 0;
	if (dp_g.cfg->poll.rt_priority) {
		struct sched_param sp = { .sched_priority = (int)dp_g.cfg->poll.rt_priority };
		rt_err = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
	}
	atomic_store(&w->rt_err, rt_err);
	rte_rcu_qsbr_thread_register(dp_g.rcu, w->idx);
	rte_rcu_qsbr_thread_online(dp_g.rcu, w->idx);
	w->rt = atomic_load_explicit(&dp_g.route, memory_order_acquire);
	w->rt_gen = w->rt->gen;
	atomic_store(&w->sreq.live, true);

	while (!atomic_load_explicit(&dp_g.stop_rx, memory_order_relaxed)) {
		const struct dp_route *rt = atomic_load_explicit(&dp_g.route, memory_order_acquire);
		if (rt->gen != w->rt_gen)
			on_route_change(w, rt);

		uint16_t n = rte_eth_rx_burst(w->port_id, w->queue, pkts, DP_BURST);
		uint64_t t0 = rte_get_tsc_cycles();
		/* Time since the previous poll: on a shared core (or a VM) a
		 * worker kept off its CPU for longer than the port's buffers
		 * last (AF_XDP: 2048 frames) loses packets; this says so. */
		if (w->now_tsc) {
			uint64_t gap = t0 - w->now_tsc;
			if (gap > gap_max) {
				gap_max = gap;
				w->ctr.poll_gap_max_us = gap * 1000000 / dp_g.tsc_hz;
			}
			w->ctr.poll_gaps_10ms += gap >= gap_10ms;
		}
		w->now_tsc = t0;
		w->now_ms = now_ms_of(t0);
		if (n) {
			w->ctr.rx_packets += n;
			for (uint16_t i = 0; i < n; i++) {
				struct rte_mbuf *m = pkts[i];
				struct flow_src src;
				uint32_t plen;

				if (i + 1 < n)
					rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
				w->ctr.rx_bytes += m->pkt_len;
				const uint8_t *d = rte_pktmbuf_read(m, 0, m->pkt_len > sizeof(lin) ? sizeof(lin) : m->pkt_len, lin);
				if (!d) {
					w->ctr.pkt_drops[DP_PKT_DROP_truncated]++;
					continue;
				}
				const uint8_t *pl = parse(w, d, m->pkt_len, &src, &plen);
				if (!pl)
					continue;
				w->ctr.flow_packets++;
				flow_dec_udp(w->dec, &src, pl, plen, w->now_ms);
			}
			rte_pktmbuf_free_bulk(pkts, n);
			w->ctr.busy_cycles += rte_get_tsc_cycles() - t0;
			w->ctr.bursts++;
			empty = 0;
		} else if (empty <= idle_after) {
			empty++;
		}
		if (t0 >= next_age) {
			next_age = t0 + age_every;
			for (uint32_t s = 0; s < DP_MAX_SLAVES; s++)
				if (w->buf[s].m && t0 - w->buf[s].born_tsc >= flush_tsc)
					wbuf_flush(w, s);
		}
		if (t0 >= next_tick) {
			next_tick = t0 + tick_every;
			flow_dec_tick(w->dec, w->now_ms);
		}
		if (t0 >= next_snap) {
			next_snap = t0 + snap_every;
			snapshot(w);
		}
		if (dp_snap_asked(&w->sreq)) {
			w->cctr = w->ctr;
			memcpy(w->csctr, w->sctr, sizeof(w->csctr));
			dp_snap_answer(&w->sreq);
		}
		rte_rcu_qsbr_quiescent(dp_g.rcu, w->idx);
		/* Idle: yield the CPU. A publisher waiting for a grace period
		 * waits at most this one sleep (quiescence was just reported). */
		if (idle_ts.tv_nsec && empty > idle_after)
			nanosleep(&idle_ts, NULL);
	}

	/* SIGTERM: RX stopped. Deliver what the decoder holds, then every
	 * partly filled buffer. */
	w->now_tsc = rte_get_tsc_cycles();
	w->now_ms = now_ms_of(w->now_tsc);
	flow_dec_tick(w->dec, w->now_ms);
	flush_all(w, true);
	snapshot(w);
	atomic_store(&w->sreq.live, false); /* counters final from here */
	rte_rcu_qsbr_thread_offline(dp_g.rcu, w->idx);
	rte_rcu_qsbr_thread_unregister(dp_g.rcu, w->idx);
	return 0;
}

/* Create the worker's decoder; called on the main lcore before launch. */
int dp_worker_init(struct dp_worker *w)
{
	struct flow_dec_cfg dc;

	flow_dec_cfg_default(&dc);
	dc.sink = sink;
	dc.sink_ctx = w;
	dc.batch_size = DP_DEC_BATCH;
	w->dec = flow_dec_new(&dc);
	if (!w->dec)
		return -errno;
	return 0;
}
