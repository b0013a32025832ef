/* replay.c — bench input (ports[].replay): a pcap file's frames loaded once
 * into mbufs and replayed from memory through an rte_ring-backed ethdev
 * (net_ring, rte_eth_from_ring), the generator running on the main lcore.
 *
 * Why not net_pcap's infinite_rx: it copies every packet into a fresh mbuf
 * inside rte_eth_rx_burst, on the worker's own core (~17 % of its cycles in
 * the capacity bench), work a NIC does by DMA. Here the worker's RX burst
 * is a pointer dequeue, as from a NIC's descriptor ring.
 *
 * Each frame is one mbuf, enqueued again and again (several copies of it
 * may be in the ring at once; the worker only reads packets). It carries one
 * reference for the generator plus a credit of REPLAY_CREDIT references
 * that the worker's ordinary free (rte_pktmbuf_free_bulk: an atomic
 * decrement, since the count is > 1) uses up; the generator adds another
 * credit once every frame has been enqueued REPLAY_CREDIT more times. So
 * the count never reaches 0 while the replay runs, the generator writes no
 * mbuf line per packet (the header line stays with the worker, no bounce
 * between cores), and after the drain at exit every frame's count says
 * exactly whether each enqueued copy was freed once:
 *   refcnt == 1 + credits added − times enqueued.
 * Bound: refcnt ≤ 1 + REPLAY_CREDIT + ring size (16384) < 65536 (16 bits).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#ifdef DP_HAVE_NET_RING
#include <rte_eth_ring.h>
#endif

#include "dp.h"

#define REPLAY_CREDIT 4096u

struct replay {
	uint32_t cfg_port;
	const char *name;
	struct rte_ring *ring;
	struct rte_mbuf **frames;
	uint32_t nframes;
	uint32_t next;   /* frame enqueued next */
	uint64_t rounds; /* complete passes over frames[] */
	/* written by the generator only, read by the stats thread */
	_Atomic uint64_t enqueued;
	_Atomic uint64_t ring_empty; /* fills that found the ring empty: the
				      * worker may have polled for nothing */
};

static struct replay rp[DP_MAX_PORTS];
static uint32_t nrp;

#define RLOG(...) fprintf(stderr, "flowdelta-dataplane: " __VA_ARGS__)

static void frames_free(struct replay *r)
{
	for (uint32_t k = 0; k < r->nframes; k++) {
		rte_mbuf_refcnt_set(r->frames[k], 1);
		rte_pktmbuf_free(r->frames[k]);
	}
	free(r->frames);
	r->frames = NULL;
	r->nframes = 0;
}

/* Every frame of the file into one mbuf each. Frames longer than an mbuf
 * are refused rather than chained: the bench wants single-segment packets,
 * like a NIC with the default data room delivers them. */
static int load(struct replay *r, const char *path, uint32_t i, struct rte_mempool *mp)
{
	char eb[PCAP_ERRBUF_SIZE] = "";
	pcap_t *pc = pcap_open_offline(path, eb);
	uint32_t cap = 0;
	int ret = 0;

	if (!pc) {
		RLOG("config: ports[%u].replay: %s\n", i, eb);
		return -ENOENT;
	}
	if (pcap_datalink(pc) != DLT_EN10MB) {
		RLOG("config: ports[%u].replay: %s: not an Ethernet capture (link type %d)\n", i,
		     path, pcap_datalink(pc));
		ret = -EINVAL;
		goto out;
	}
	for (;;) {
		struct pcap_pkthdr *h;
		const u_char *d;
		int n = pcap_next_ex(pc, &h, &d);
		if (n == PCAP_ERROR_BREAK)
			break;
		if (n != 1) {
			RLOG("config: ports[%u].replay: %s: %s\n", i, path, pcap_geterr(pc));
			ret = -EIO;
			goto out;
		}
		struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
		if (!m) {
			RLOG("config: ports[%u].replay: %s: more than %u frames, raise mbufs\n", i,
			     path, r->nframes);
			ret = -ENOBUFS;
			goto out;
		}
		char *dst = h->caplen <= UINT16_MAX ? rte_pktmbuf_append(m, (uint16_t)h->caplen) : NULL;
		if (!dst) {
			RLOG("config: ports[%u].replay: %s: frame %u of %u bytes does not fit an mbuf "
			     "(mbuf_data_room %u)\n", i, path, r->nframes + 1, h->caplen,
			     rte_pktmbuf_data_room_size(mp));
			rte_pktmbuf_free(m);
			ret = -EMSGSIZE;
			goto out;
		}
		memcpy(dst, d, h->caplen);
		if (r->nframes == cap) {
			cap = cap ? cap * 2 : 1024;
			struct rte_mbuf **f = realloc(r->frames, cap * sizeof(*f));
			if (!f) {
				rte_pktmbuf_free(m);
				ret = -ENOMEM;
				goto out;
			}
			r->frames = f;
		}
		r->frames[r->nframes++] = m;
	}
	if (r->nframes == 0) {
		RLOG("config: ports[%u].replay: %s: no frames\n", i, path);
		ret = -EINVAL;
	}
out:
	pcap_close(pc);
	return ret;
}

static void top_up(struct replay *r)
{
	for (uint32_t k = 0; k < r->nframes; k++)
		rte_mbuf_refcnt_update(r->frames[k], (int16_t)REPLAY_CREDIT);
}

static void fill(struct replay *r)
{
	unsigned room = rte_ring_free_count(r->ring);
	uint64_t n_enq = 0;

	while (room) {
		uint32_t n = r->nframes - r->next < room ? r->nframes - r->next : room;
		n = rte_ring_sp_enqueue_burst(r->ring, (void *const *)&r->frames[r->next], n, NULL);
		if (n == 0)
			break;
		r->next += n;
		room -= n;
		n_enq += n;
		if (r->next == r->nframes) {
			r->next = 0;
			/* every frame has now been enqueued `rounds` times and
			 * given 1 + rounds / CREDIT credits: top up before the
			 * next enqueue could use the last one */
			if (++r->rounds % REPLAY_CREDIT == 0)
				top_up(r);
		}
	}
	atomic_fetch_add_explicit(&r->enqueued, n_enq, memory_order_relaxed);
}

int dp_replay_open(const struct dp_cfg_port *p, uint32_t i, struct rte_mempool *mp,
		   uint16_t *ret_port)
{
#ifndef DP_HAVE_NET_RING
	(void)mp;
	(void)ret_port;
	RLOG("config: ports[%u].replay: %s: built without DPDK's net_ring driver\n", i, p->replay);
	return -ENOTSUP;
#else
	struct replay *r = &rp[nrp];
	char rname[RTE_RING_NAMESIZE];
	int ret;

	if (nrp >= DP_MAX_PORTS)
		return -ENOSPC;
	memset(r, 0, sizeof(*r));
	r->cfg_port = i;
	r->name = p->name;
	ret = load(r, p->replay, i, mp);
	if (ret < 0)
		goto fail;
	snprintf(rname, sizeof(rname), "dp_replay%u", i);
	/* SP/SC: the generator (main lcore) enqueues, the one worker of the
	 * port's single queue dequeues */
	r->ring = rte_ring_create(rname, p->rx_desc, rte_socket_id(),
				  RING_F_SP_ENQ | RING_F_SC_DEQ | RING_F_EXACT_SZ);
	if (!r->ring) {
		ret = -rte_errno;
		RLOG("ports[%u].replay: ring of %u: %s\n", i, p->rx_desc, rte_strerror(rte_errno));
		goto fail;
	}
	int id = rte_eth_from_ring(r->ring);
	if (id < 0) {
		ret = -rte_errno;
		RLOG("ports[%u].replay: net_ring port: %s\n", i, rte_strerror(rte_errno));
		goto fail;
	}
	for (uint32_t k = 0; k < r->nframes; k++)
		rte_mbuf_refcnt_set(r->frames[k], 1 + REPLAY_CREDIT);
	fill(r);
	RLOG("ports[%u] (%s): replaying %u frames of %s through a ring of %u\n", i, p->name,
	     r->nframes, p->replay, rte_ring_get_capacity(r->ring));
	nrp++;
	*ret_port = (uint16_t)id;
	return 0;
fail:
	/* a created net_ring port stays (unused) until rte_eal_cleanup; the
	 * daemon exits on this error anyway */
	frames_free(r);
	rte_ring_free(r->ring);
	r->ring = NULL;
	return ret < 0 ? ret : -EINVAL;
#endif
}

uint32_t dp_replay_count(void)
{
	return nrp;
}

/* An eighth of the smallest ring at 1 Mpps (more than a worker takes),
 * within 100 us..2 ms. Not shorter: each wake-up of the main lcore preempts
 * whatever runs on its CPU, typically a sender inside a multi-producer
 * put to the message pool's ring, and the other senders then spin on that
 * ring's tail until the scheduler's next tick (measured: 200 us wake-ups
 * made the senders burn their CPU and ~60 % of records ring_full). */
uint32_t dp_replay_period_us(void)
{
	uint32_t least = UINT32_MAX;
	for (uint32_t k = 0; k < nrp; k++) {
		uint32_t c = rte_ring_get_capacity(rp[k].ring);
		least = c < least ? c : least;
	}
	uint32_t us = least / 8;
	return us < 100 ? 100 : us > 2000 ? 2000 : us;
}

void dp_replay_fill(void)
{
	for (uint32_t k = 0; k < nrp; k++) {
		struct replay *r = &rp[k];
		if (rte_ring_empty(r->ring))
			atomic_fetch_add_explicit(&r->ring_empty, 1, memory_order_relaxed);
		fill(r);
	}
}

bool dp_replay_stats(uint32_t i, uint64_t *enqueued, uint64_t *ring_empty)
{
	for (uint32_t k = 0; k < nrp; k++)
		if (rp[k].cfg_port == i) {
			*enqueued = atomic_load_explicit(&rp[k].enqueued, memory_order_relaxed);
			*ring_empty = atomic_load_explicit(&rp[k].ring_empty, memory_order_relaxed);
			return true;
		}
	return false;
}

bool dp_replay_close(void)
{
	bool ok = true;

	for (uint32_t k = 0; k < nrp; k++) {
		struct replay *r = &rp[k];
		struct rte_mbuf *m;
		uint64_t left = 0, rx = 0, bad = 0;

		uint64_t enq = atomic_load(&r->enqueued);
		while (rte_ring_sc_dequeue(r->ring, (void **)&m) == 0) {
			rte_pktmbuf_free(m);
			left++;
		}
		for (uint32_t w = 0; w < dp_g.nworkers; w++)
			if (dp_g.workers[w]->cfg_port == r->cfg_port)
				rx += dp_g.workers[w]->ctr.rx_packets;
		for (uint32_t f = 0; f < r->nframes; f++) {
			uint64_t times = r->rounds + (f < r->next);
			uint64_t added = (uint64_t)REPLAY_CREDIT * (1 + r->rounds / REPLAY_CREDIT);
			if (rte_mbuf_refcnt_read(r->frames[f]) != 1 + added - times)
				bad++;
		}
		bool balanced = enq == rx + left && bad == 0;
		RLOG("ports[%u] (%s): replay enqueued %lu = received %lu + left in ring %lu: %s; "
		     "mbuf references of %u frames: %s (%lu wrong); ring found empty %lu times\n",
		     r->cfg_port, r->name, enq, rx, left, enq == rx + left ? "balanced" : "MISMATCH",
		     r->nframes, bad ? "MISMATCH" : "balanced", bad, atomic_load(&r->ring_empty));
		ok &= balanced;
		frames_free(r);
		rte_ring_free(r->ring);
		r->ring = NULL;
	}
	nrp = 0;
	return ok;
}
