/* main.c — flowdelta-dataplane: configuration → EAL → ports, pools, rings →
 * senders → workers; the main lcore then only serves the control socket and
 * metrics (in their own threads) and waits for SIGTERM.
 *
 * Shutdown order (issue 3 §6): stop RX → workers flush their buffers onto
 * the rings and exit → senders drain the rings to their slaves or spools →
 * final counters → exit 0.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_rcu_qsbr.h>

#include "dp.h"
#include "util/mem.h"

_Static_assert(DP_MBUF_DATA_ROOM_DEFAULT == RTE_MBUF_DEFAULT_BUF_SIZE,
	       "mbuf_data_room default is DPDK's default mbuf size");

struct dp_global dp_g = { .ctl_lock = PTHREAD_MUTEX_INITIALIZER };

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

static int die(const char *what, int err)
{
	fprintf(stderr, "flowdelta-dataplane: %s: %s\n", what, strerror(err < 0 ? -err : err));
	return 1;
}

int dp_route_publish(struct dp_route *rt)
{
	struct dp_route *old = atomic_exchange_explicit(&dp_g.route, rt, memory_order_acq_rel);
	if (!old)
		return 0;
	/* Two grace periods: after the first no worker holds the old table;
	 * after the second every worker has begun an iteration with the new
	 * one, i.e. has flushed buffers of slaves that left (worker.c). */
	for (int i = 0; i < 2; i++) {
		uint64_t t = rte_rcu_qsbr_start(dp_g.rcu);
		rte_rcu_qsbr_check(dp_g.rcu, t, true);
	}
	free(old);
	return 0;
}

static int build_eal_args(const struct dp_cfg *c, char **argv, int max)
{
	int n = 0;
	static char mlc[16], mem[16];
#define ARG(x)                                                                     \
	do {                                                                       \
		if (n >= max - 1)                                                  \
			return -E2BIG;                                             \
		argv[n++] = (char *)(x);                                           \
	} while (0)
	ARG("flowdelta-dataplane");
	ARG("-l");
	ARG(c->eal.lcores);
	snprintf(mlc, sizeof(mlc), "%u", c->eal.main_lcore);
	ARG("--main-lcore");
	ARG(mlc);
	snprintf(mem, sizeof(mem), "%u", c->eal.memory_mb);
	ARG("-m");
	ARG(mem);
	if (c->eal.no_huge)
		ARG("--no-huge");
	if (c->eal.no_pci)
		ARG("--no-pci");
	ARG("--file-prefix");
	ARG(c->eal.file_prefix);
	for (uint32_t i = 0; i < c->eal.plugins_count; i++) {
		ARG("-d");
		ARG(c->eal.plugins[i]);
	}
	for (uint32_t i = 0; i < c->ports_count; i++) {
		if (c->ports[i].vdev) {
			const char *xv = dp_xdp_vdev(i); /* with xdp_prog= */
			ARG("--vdev");
			ARG(xv ? xv : c->ports[i].vdev);
		} else if (c->ports[i].pci) {
			ARG("-a");
			ARG(c->ports[i].pci);
		} /* replay: created after EAL init (replay.c) */
	}
	for (uint32_t i = 0; i < c->eal.extra_args_count; i++)
		ARG(c->eal.extra_args[i]);
	argv[n] = NULL;
	return n;
#undef ARG
}

/* Errors are returned, except a replay port's, which dp_replay_open prints
 * (and then returns -ECANCELED here, so the caller prints nothing more). */
static int port_setup(const struct dp_cfg_port *p, uint32_t i, uint16_t *ret_id,
		      struct rte_mempool *mp)
{
	char name[128];
	uint16_t id;
	int r;

	if (p->replay) {
		if (dp_replay_open(p, i, mp, &id) < 0)
			return -ECANCELED;
	} else {
		snprintf(name, sizeof(name), "%s", p->vdev ? p->vdev : p->pci);
		name[strcspn(name, ",")] = 0;
		r = rte_eth_dev_get_port_by_name(name, &id);
		if (r < 0)
			return r;
	}

	struct rte_eth_dev_info info;
	r = rte_eth_dev_info_get(id, &info);
	if (r < 0)
		return r;
	struct rte_eth_conf conf = { 0 };
	if (p->rx_queues > 1) {
		/* RSS on the exporter's address and port spreads exporters
		 * over queues; one exporter stays on one worker, so its
		 * templates and sequence numbers stay in one decoder. */
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf =
			(RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
	}
	if (p->rx_queues > info.max_rx_queues)
		return -EINVAL;
	/* We never transmit; some PMDs (af_xdp) still insist on a TX queue,
	 * so retry with one when RX-only is refused. */
	uint16_t ntxq = 0;
	r = rte_eth_dev_configure(id, (uint16_t)p->rx_queues, 0, &conf);
	if (r == -EINVAL && info.max_tx_queues > 0) {
		ntxq = 1;
		r = rte_eth_dev_configure(id, (uint16_t)p->rx_queues, ntxq, &conf);
	}
	if (r < 0)
		return r;
	uint16_t nrx = (uint16_t)p->rx_desc, ntx = 64;
	rte_eth_dev_adjust_nb_rx_tx_desc(id, &nrx, &ntx);
	for (uint16_t q = 0; q < p->rx_queues; q++) {
		r = rte_eth_rx_queue_setup(id, q, nrx, (unsigned)rte_eth_dev_socket_id(id), NULL, mp);
		if (r < 0)
			return r;
	}
	if (ntxq) {
		r = rte_eth_tx_queue_setup(id, 0, ntx, (unsigned)rte_eth_dev_socket_id(id), NULL);
		if (r < 0)
			return r;
	}
	r = rte_eth_dev_start(id);
	if (r < 0)
		return r;
	rte_eth_promiscuous_enable(id); /* exports come to our address anyway; harmless on vdevs */
	*ret_id = id;
	return 0;
}

/* net_af_xdp (22.11) makes each mempool object one UMEM frame: the kernel
 * takes frames of at most a page unless the UMEM is backed by hugepages,
 * and keeps XDP_PACKET_HEADROOM (256) of it, after the mbuf headroom, to
 * itself. A frame longer than what is left is dropped by the kernel and
 * counted in xsk_rx_dropped (stats.c). Here: refuse a data room the PMD
 * would fail on with a bare EINVAL, and say the largest frame that fits. */
static int check_af_xdp_frames(const struct dp_cfg *c, uint32_t room)
{
	long page = sysconf(_SC_PAGESIZE);
	uint32_t obj = rte_mempool_calc_obj_size(sizeof(struct rte_mbuf) + room, 0, NULL);
	/* the object size is not linear in the room (cache-line rounding,
	 * padding that spreads objects over memory channels): search */
	uint32_t most = room;
	while (most > DP_MBUF_DATA_ROOM_MIN && page > 0 &&
	       rte_mempool_calc_obj_size(sizeof(struct rte_mbuf) + most, 0, NULL) > (uint32_t)page)
		most--;

	for (uint32_t i = 0; i < c->ports_count; i++) {
		const struct dp_cfg_port *p = &c->ports[i];
		if (!p->vdev || strncmp(p->vdev, "net_af_xdp", 10) != 0)
			continue;
		if (c->eal.no_huge && page > 0 && obj > (uint32_t)page) {
			fprintf(stderr,
				"flowdelta-dataplane: config: mbuf_data_room: %u too large for "
				"ports[%u] (net_af_xdp) without hugepages: a UMEM frame (%u "
				"bytes with the mbuf header) must fit a %ld-byte page; at most "
				"%u\n", room, i, obj, page, most);
			return -EINVAL;
		}
		fprintf(stderr,
			"flowdelta-dataplane: ports[%u] (%s): net_af_xdp frames up to %u "
			"bytes; longer ones are dropped by the kernel (xsk_rx_dropped)\n",
			i, p->name, room - RTE_PKTMBUF_HEADROOM - 256);
	}
	return 0;
}

/* Fault in a mempool memory chunk's pages (see the message pool). */
static void populate_chunk(struct rte_mempool *mp, void *arg, struct rte_mempool_memhdr *mh,
			   unsigned idx)
{
	(void)mp;
	(void)arg;
	(void)idx;
	if (mem_populate(mh->addr, mh->len) == 0)
		return;
	/* kernels before 5.14: one write per page, of the byte already there */
	uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	for (uintptr_t a = (uintptr_t)mh->addr; a < (uintptr_t)mh->addr + mh->len; a += pg) {
		volatile uint8_t *b = (volatile uint8_t *)a;
		*b = *b;
	}
}

int main(int argc, char **argv)
{
	const char *cfg_path = "/etc/flowdelta/dataplane.yaml", *stats_out = NULL;
	bool check_only = false;
	unsigned run_seconds = 0;
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'k' },
		{ "stats-out", required_argument, NULL, 's' },
		{ "run-seconds", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int o, r;

	while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c': cfg_path = optarg; break;
		case 'k': check_only = true; break;
		case 's': stats_out = optarg; break;
		case 't': run_seconds = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'h': dp_cfg_help(stdout); return 0;
		default: dp_cfg_help(stderr); return 2;
		}
	}
	if (optind != argc) {
		dp_cfg_help(stderr);
		return 2;
	}
	struct dp_cfg *c;
	if (dp_cfg_load(cfg_path, &c) < 0)
		return 2;
	if (check_only) {
		printf("%s: ok\n", cfg_path);
		dp_cfg_free(c);
		return 0;
	}
	dp_g.cfg = c;
	dp_parse_cpulist(c->senders.cpus, &dp_g.sender_cpus);
	for (uint32_t i = 0; i < c->flow_ports_count; i++)
		dp_g.flow_port_bits[c->flow_ports[i] >> 3] |= (uint8_t)(1u << (c->flow_ports[i] & 7));

	/* before EAL: the PMD attaches our program only to an interface
	 * without one (a crashed run's is removed here) */
	if (dp_xdp_prepare(c) < 0) {
		dp_xdp_stop();
		return 1;
	}
	char *eargv[256];
	int eargc = build_eal_args(c, eargv, 256);
	if (eargc < 0)
		return die("eal arguments", eargc);
	r = rte_eal_init(eargc, eargv);
	if (r < 0) {
		dp_xdp_stop();
		return die("rte_eal_init", rte_errno);
	}

	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);

	struct timeval tv;
	gettimeofday(&tv, NULL);
	dp_g.start_ms = (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
	dp_g.start_tsc = rte_get_tsc_cycles();
	dp_g.tsc_hz = rte_get_tsc_hz();
	dp_g.nworkers = c->workers_count;

	uint32_t room = c->mbuf_data_room;
	if (check_af_xdp_frames(c, room) < 0) {
		dp_xdp_stop();
		return 2;
	}
	struct rte_mempool *mbufs = rte_pktmbuf_pool_create("dp_mbufs", c->mbufs, 256, 0,
							    (uint16_t)room, (int)rte_socket_id());
	if (!mbufs)
		return die("mbuf pool (raise eal.memory_mb or lower mbufs/mbuf_data_room)",
			   rte_errno);
	/* Message buffers: every ring full, every window full, one open buffer
	 * per (worker, slave), what each sender's cache holds, for the
	 * configured slaves plus room for four added live. Short of that,
	 * workers count no_msgbuf drops. */
	uint32_t budget = c->group.slaves_count + 4;
	if (budget > DP_MAX_SLAVES)
		budget = DP_MAX_SLAVES;
	uint32_t nmsg = dp_g.nworkers * budget * (c->senders.ring_size + 1) +
			budget * (c->senders.window + 1 + DP_SENDER_CACHE * 3 / 2) +
			64 * dp_g.nworkers + 256;
	dp_g.msg_cap = c->senders.msg_bytes;
	dp_g.msg_pool = rte_mempool_create("dp_msgs", nmsg, sizeof(struct dp_msg) + dp_g.msg_cap,
					   32, 0, NULL, NULL, NULL, NULL, (int)rte_socket_id(), 0);
	if (!dp_g.msg_pool)
		return die("message pool (raise eal.memory_mb or lower senders.ring_size/window)",
			   rte_errno);
	/* Its pages in memory now, not on the workers' first writes: the
	 * pool hands its buffers out in turn (a ring), so without this every
	 * buffer's first use is page faults on the worker, for as long as the
	 * whole pool (hundreds of MB without hugepages) takes to go round --
	 * measured: a quarter of the worker's CPU at 2.5 M records/s, and
	 * AF_XDP fill-ring misses while it faulted. */
	rte_mempool_mem_iter(dp_g.msg_pool, populate_chunk, NULL);

	size_t rsz = rte_rcu_qsbr_get_memsize(dp_g.nworkers);
	dp_g.rcu = rte_zmalloc("dp_rcu", rsz, RTE_CACHE_LINE_SIZE);
	if (!dp_g.rcu || rte_rcu_qsbr_init(dp_g.rcu, dp_g.nworkers) < 0)
		return die("rcu", ENOMEM);

	uint16_t *port_ids = dp_g.port_ids;
	for (uint32_t i = 0; i < c->ports_count; i++) {
		uint32_t started = i;
		r = port_setup(&c->ports[i], i, &port_ids[i], mbufs);
		if (r >= 0)
			dp_xsk_claim(i); /* its AF_XDP sockets, for their drop counters */
		if (r < 0) {
			if (r != -ECANCELED)
				fprintf(stderr, "flowdelta-dataplane: ports[%u] (%s): %s\n", i,
					c->ports[i].name, strerror(-r));
		} else {
			dp_g.nports_up = i + 1;
			started = i + 1;
			r = dp_xdp_start(c, i);
		}
		if (r < 0) {
			/* a started net_af_xdp port holds our program: close
			 * them so it is detached, not left stale */
			for (uint32_t j = 0; j < started; j++)
				rte_eth_dev_close(port_ids[j]);
			dp_xdp_stop();
			return 1;
		}
	}

	for (uint32_t i = 0; i < dp_g.nworkers; i++) {
		struct dp_worker *w = rte_zmalloc_socket("dp_worker", sizeof(*w), RTE_CACHE_LINE_SIZE,
							 (int)rte_socket_id());
		if (!w)
			return die("worker", ENOMEM);
		w->snap = rte_zmalloc("dp_snap", sizeof(*w->snap), RTE_CACHE_LINE_SIZE);
		w->idx = i;
		w->lcore = c->workers[i].lcore;
		for (uint32_t p = 0; p < c->ports_count; p++)
			if (strcmp(c->ports[p].name, c->workers[i].port) == 0) {
				w->cfg_port = (uint16_t)p;
				w->port_id = port_ids[p];
			}
		w->queue = (uint16_t)c->workers[i].queue;
		if (!w->snap || (r = dp_worker_init(w)) < 0)
			return die("decoder", r ? r : -ENOMEM);
		dp_g.workers[i] = w;
	}

	/* empty table first, so workers always have one; then the slaves */
	if (dp_route_publish(dp_route_build(c->group.model, NULL, NULL, 0, NULL, 0)) < 0)
		return die("routing table", ENOMEM);
	char err[256];
	if ((r = dp_ctl_init(c, err, sizeof(err))) < 0) {
		fprintf(stderr, "flowdelta-dataplane: %s\n", err);
		return 1;
	}
	dp_stats_telemetry_register();
	if (c->stats.listen && c->stats.listen[0] && (r = dp_stats_http_start(c->stats.listen)) < 0)
		return die("stats.listen", r);
	if (c->control.socket && c->control.socket[0] && (r = dp_ctl_start(c->control.socket)) < 0)
		return die("control.socket", r);

	for (uint32_t i = 0; i < dp_g.nworkers; i++) {
		atomic_store(&dp_g.workers[i]->rt_err, -1);
		r = rte_eal_remote_launch(dp_worker_main, dp_g.workers[i], dp_g.workers[i]->lcore);
		if (r < 0)
			return die("launch worker", r);
	}
	/* poll.rt_priority: every worker says whether it got it */
	bool rt_failed = false;
	for (uint32_t i = 0; i < dp_g.nworkers; i++) {
		int e;
		for (int k = 0; (e = atomic_load(&dp_g.workers[i]->rt_err)) < 0 && k < 5000; k++)
			usleep(1000);
		if (e) {
			fprintf(stderr, "flowdelta-dataplane: poll.rt_priority %u: worker %u: %s%s\n",
				c->poll.rt_priority, i, e > 0 ? strerror(e) : "no answer",
				e == EPERM ? " (needs CAP_SYS_NICE, or an RLIMIT_RTPRIO of at least it)" : "");
			got_signal = 1; /* shut down cleanly, exit 1 below */
			rt_failed = true;
		}
	}
	fprintf(stderr, "flowdelta-dataplane: running: %u worker(s), %u slave(s), tsc_hz %lu\n",
		dp_g.nworkers, c->group.slaves_count, dp_g.tsc_hz);

	/* With replay ports the main lcore is their generator: it refills the
	 * rings, then sleeps (an eighth of a ring's worth, replay.c), leaving
	 * its CPU to the senders. */
	const useconds_t period = dp_replay_count() ? dp_replay_period_us() : 20000;
	uint64_t deadline = run_seconds ? rte_get_tsc_cycles() + run_seconds * dp_g.tsc_hz : 0;
	while (!got_signal && (!deadline || rte_get_tsc_cycles() < deadline)) {
		dp_replay_fill(); /* no replay ports: nothing */
		usleep(period);
	}

	/* shutdown */
	dp_ctl_stop();
	atomic_store(&dp_g.stop_rx, true);
	rte_eal_mp_wait_lcore();
	dp_senders_stop_all(5000);

	struct dp_totals t;
	dp_stats_totals(&t);
	uint64_t lhs = t.decoded + t.recovered, rhs = t.delivered + t.queued + t.spooled + t.dropped;
	fprintf(stderr,
		"flowdelta-dataplane: records decoded %lu + recovered %lu = delivered %lu + "
		"queued %lu + spooled %lu + dropped %lu: %s\n",
		t.decoded, t.recovered, t.delivered, t.queued, t.spooled, t.dropped,
		lhs == rhs ? "conserved" : "MISMATCH");
	if (stats_out) {
		size_t len;
		char *txt = dp_stats_prometheus(&len);
		FILE *f = fopen(stats_out, "w");
		if (txt && f)
			fwrite(txt, 1, len, f);
		if (f)
			fclose(f);
		free(txt);
	}
	dp_stats_http_stop();
	for (uint32_t i = 0; i < c->ports_count; i++) {
		rte_eth_dev_stop(port_ids[i]);
		rte_eth_dev_close(port_ids[i]);
	}
	dp_xdp_stop(); /* after the PMD closed: it detaches its program */
	dp_replay_close(); /* workers stopped: drain, check and log the replay's balance */
	for (uint32_t i = 0; i < dp_g.nworkers; i++)
		flow_dec_free(dp_g.workers[i]->dec);
	rte_eal_cleanup();
	/* records unaccounted for are a bug: make it loud, not only a log line */
	return lhs != rhs ? 3 : rt_failed ? 1 : 0;
}
