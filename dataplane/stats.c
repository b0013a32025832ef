/* stats.c — summing the per-lcore and per-sender counters on read, and
 * exporting them: Prometheus text on a local HTTP port, DPDK telemetry
 * commands, the final dump at exit.
 *
 * Counters are written by exactly one thread each (plain increments,
 * STYLE 12). Per-counter displays read them without locks (64-bit aligned
 * loads are atomic on the targets we build for). The conservation totals
 * use copies each writer makes of its own counters on request
 * (dp_snapreq), senders before workers, which makes them exact at any
 * moment (dp_stats_totals).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_ethdev.h>
#include <rte_telemetry.h>

#include "dp.h"
#include "util/addr.h"
#include "xdp_steer.h"

static const char *const pkt_drop_names[] = {
#define DP_NAME(n, d) #n,
	DP_PKT_DROP_LIST(DP_NAME)
#undef DP_NAME
};
static const char *const rec_drop_names[] = {
#define DP_NAME(n, d) #n,
	DP_REC_DROP_LIST(DP_NAME)
#undef DP_NAME
};

/* Live senders plus retired ones (their counters stay valid). */
static unsigned sender_ctrs(const struct dp_sender_ctr **out, const char **names)
{
	unsigned n = 0;
	for (uint32_t i = 0; i < DP_MAX_SLAVES; i++)
		if (dp_g.slots[i].sctr) {
			names[n] = dp_g.slots[i].name;
			out[n++] = dp_g.slots[i].sctr;
		}
	unsigned r = atomic_load(&dp_nretired);
	for (unsigned i = 0; i < r; i++) {
		names[n] = dp_retired_name[i]; /* retired: its counters still count */
		out[n++] = dp_retired_ctr[i];
	}
	return n;
}

static bool worker_snapshot(struct dp_worker *w)
{
	unsigned want = atomic_fetch_add(&w->sreq.req, 1) + 1;
	for (int i = 0; i < 2000; i++) { /* a polling worker answers in microseconds */
		if (atomic_load_explicit(&w->sreq.done, memory_order_acquire) == want)
			return true;
		if (!atomic_load(&w->sreq.live))
			break;
		usleep(100);
	}
	/* stopped (or never started): the live counters are final */
	w->cctr = w->ctr;
	memcpy(w->csctr, w->sctr, sizeof(w->csctr));
	return !atomic_load(&w->sreq.live);
}

/* Exact at any moment: every sender's counters are copied first, then
 * every worker's, each copy made by the writer itself between two units of
 * work. Records only move downstream (worker → ring → sender), so a record
 * that moves between the copies is counted once: on the ring (enqueued
 * before the worker's copy, dequeued after the sender's). Returns false if
 * a writer did not answer in time (the sums are then approximate). */
bool dp_stats_totals(struct dp_totals *t)
{
	static pthread_mutex_t one_reader = PTHREAD_MUTEX_INITIALIZER;
	struct dp_sender_ctr c;
	uint64_t enq = 0, deq = 0, routed = 0, wdrops = 0, wbuf_done = 0;
	bool exact = true;

	memset(t, 0, sizeof(*t));
	pthread_mutex_lock(&one_reader); /* the copies are single-buffered */
	pthread_mutex_lock(&dp_g.ctl_lock);
	unsigned nr = atomic_load(&dp_nretired);
	for (unsigned i = 0; i < DP_MAX_SLAVES + nr; i++) {
		if (i < DP_MAX_SLAVES) {
			if (!dp_g.slots[i].snd)
				continue;
			exact &= dp_sender_snapshot(dp_g.slots[i].snd, &c);
		} else {
			c = *dp_retired_ctr[i - DP_MAX_SLAVES]; /* final */
		}
		deq += c.dequeued;
		t->delivered += c.delivered;
		t->recovered += c.spool_recovered;
		t->queued += c.window;
		t->spooled += c.spool_in + c.spool_recovered - c.spool_out;
		for (int d = 0; d < DP_REC_DROP_MAX; d++)
			t->dropped += c.drops[d];
	}
	pthread_mutex_unlock(&dp_g.ctl_lock);
	for (uint32_t w = 0; w < dp_g.nworkers; w++) {
		struct dp_worker *wk = dp_g.workers[w];
		exact &= worker_snapshot(wk);
		t->decoded += wk->cctr.records;
		t->dropped += wk->cctr.no_slave;
		for (uint32_t s = 0; s < DP_MAX_SLAVES; s++) {
			const struct dp_wslave_ctr *x = &wk->csctr[s];
			uint64_t d = 0;
			for (int k = 0; k < DP_REC_DROP_MAX; k++)
				d += x->drops[k];
			routed += x->records;
			enq += x->enqueued;
			wdrops += d;
			wbuf_done += x->enqueued + d;
		}
	}
	pthread_mutex_unlock(&one_reader);
	t->dropped += wdrops;
	/* records still in open message buffers, and on the rings */
	t->queued += (routed - wbuf_done) + (enq - deq);
	return exact;
}

/* ---- Prometheus text ---------------------------------------------------- */

struct sb {
	char *p;
	size_t len, cap;
};

static void sbf(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sbf(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		va_start(ap, fmt);
		int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if (b->p && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		size_t nc = (b->cap ? b->cap * 2 : 65536) + (size_t)n;
		char *q = realloc(b->p, nc);
		if (!q)
			return;
		b->p = q;
		b->cap = nc;
	}
}

/* The XDP steering program of each port that has one (ports[].xdp): what
 * it did with every frame (counter = redirect_xsk, drop_unknown_exporter,
 * pass_*; rx is their sum) and the exports of its busiest exporters by
 * source address and the flow port they were sent to (the program's
 * per-exporter table, when kept), the DP_XDP_TOP_EXPORTERS with the most
 * packets. */
#define DP_XDP_TOP_EXPORTERS 256
static void xdp_metrics(struct sb *b)
{
	static struct xdp_steer_exporter ex[DP_XDP_TOP_EXPORTERS];
	struct xdp_steer_counter c[FD_XDP_C_MAX];
	pthread_mutex_lock(&dp_g.ctl_lock);
	for (uint32_t p = 0; p < dp_g.cfg->ports_count && p < DP_MAX_PORTS; p++) {
		size_t n;
		if (!dp_xdp_read(p, c, ex, DP_XDP_TOP_EXPORTERS, &n))
			continue;
		const char *port = dp_g.cfg->ports[p].name;
		for (unsigned k = 0; k < FD_XDP_C_MAX; k++) {
			sbf(b, "flowdelta_dp_xdp_packets_total{port=\"%s\",counter=\"%s\"} %lu\n", port,
			    c[k].name, (unsigned long)c[k].packets);
			sbf(b, "flowdelta_dp_xdp_bytes_total{port=\"%s\",counter=\"%s\"} %lu\n", port,
			    c[k].name, (unsigned long)c[k].bytes);
		}
		for (size_t i = 0; i < n; i++) {
			char a[ADDR_TEXT_MAX + 1];
			uint8_t v[16];
			if (ex[i].family == 4)
				addr_set_v4(v, ex[i].addr + 12);
			else
				memcpy(v, ex[i].addr, 16);
			a[addr_text(v, a)] = 0;
			sbf(b, "flowdelta_dp_xdp_exporter_packets_total{port=\"%s\",exporter=\"%s\","
			    "flow_port=\"%u\"} %lu\n", port, a, ex[i].port, (unsigned long)ex[i].packets);
			sbf(b, "flowdelta_dp_xdp_exporter_bytes_total{port=\"%s\",exporter=\"%s\","
			    "flow_port=\"%u\"} %lu\n", port, a, ex[i].port, (unsigned long)ex[i].bytes);
		}
	}
	pthread_mutex_unlock(&dp_g.ctl_lock);
}

static bool read_snap(const struct dp_dec_snap *s, struct dp_dec_snap *out)
{
	for (int tries = 0; tries < 100; tries++) {
		unsigned a = atomic_load_explicit(&s->seq, memory_order_acquire);
		if (a & 1)
			continue;
		memcpy((char *)out + sizeof(out->seq), (const char *)s + sizeof(s->seq),
		       sizeof(*s) - sizeof(s->seq));
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&s->seq, memory_order_relaxed) == a)
			return true;
	}
	return false;
}

char *dp_stats_prometheus(size_t *len)
{
	struct sb b = { 0 };
	static struct dp_dec_snap snap; /* large: one at a time (callers serialise) */
	static pthread_mutex_t snap_lock = PTHREAD_MUTEX_INITIALIZER;
	struct dp_totals t;

	bool exact = dp_stats_totals(&t);
	sbf(&b, "# HELP flowdelta_dp_records conservation: decoded+recovered = delivered+queued+spooled+dropped\n");
	sbf(&b, "flowdelta_dp_records_decoded_total %lu\n", t.decoded);
	sbf(&b, "flowdelta_dp_records_recovered_total %lu\n", t.recovered);
	sbf(&b, "flowdelta_dp_records_delivered_total %lu\n", t.delivered);
	sbf(&b, "flowdelta_dp_records_queued %lu\n", t.queued);
	sbf(&b, "flowdelta_dp_records_spooled %lu\n", t.spooled);
	sbf(&b, "flowdelta_dp_records_dropped_total %lu\n", t.dropped);
	sbf(&b, "flowdelta_dp_conservation_ok %d\n",
	    t.decoded + t.recovered == t.delivered + t.queued + t.spooled + t.dropped);
	sbf(&b, "flowdelta_dp_conservation_snapshot_exact %d\n", exact);

	/* drops by reason, summed over workers and senders */
	uint64_t rd[DP_REC_DROP_MAX] = { 0 };
	uint64_t no_slave = 0;
	for (uint32_t w = 0; w < dp_g.nworkers; w++) {
		no_slave += dp_g.workers[w]->ctr.no_slave;
		for (uint32_t s = 0; s < DP_MAX_SLAVES; s++)
			for (int k = 0; k < DP_REC_DROP_MAX; k++)
				rd[k] += dp_g.workers[w]->sctr[s].drops[k];
	}
	const struct dp_sender_ctr *sc[DP_MAX_SLAVES + 256];
	const char *nm[DP_MAX_SLAVES + 256];
	pthread_mutex_lock(&dp_g.ctl_lock);
	unsigned ns = sender_ctrs(sc, nm);
	for (unsigned i = 0; i < ns; i++)
		for (int k = 0; k < DP_REC_DROP_MAX; k++)
			rd[k] += sc[i]->drops[k];
	rd[DP_REC_DROP_no_slave] += no_slave;
	for (int k = 0; k < DP_REC_DROP_MAX; k++)
		sbf(&b, "flowdelta_dp_records_dropped_by_reason_total{reason=\"%s\"} %lu\n",
		    rec_drop_names[k], rd[k]);

	for (unsigned i = 0; i < ns; i++) {
		const struct dp_sender_ctr *c = sc[i];
		char lbl[128];
		snprintf(lbl, sizeof(lbl), "slave=\"%s\",sender=\"%u\"", nm[i], i);
#define S(name, v) sbf(&b, "flowdelta_dp_slave_" name "{%s} %lu\n", lbl, (unsigned long)(v))
		S("records_dequeued_total", c->dequeued);
		S("records_sent_total", c->sent);
		S("records_delivered_total", c->delivered);
		S("records_spooled_in_total", c->spool_in);
		S("records_spool_replayed_total", c->spool_out);
		S("records_spool_recovered_total", c->spool_recovered);
		S("records_spooled", c->spool_in + c->spool_recovered - c->spool_out);
		S("spool_bytes", c->spool_bytes);
		S("records_unacked", c->window);
		S("messages_sent_total", c->msgs_sent);
		S("messages_resent_total", c->resent_msgs);
		S("socket_full_total", c->socket_full);
		S("connects_total", c->connects);
		S("disconnects_total", c->disconnects);
		S("connected", c->connected);
		S("acking", c->acking);
		S("drops_spool_full_total", c->drops[DP_REC_DROP_spool_full]);
		S("drops_spool_error_total", c->drops[DP_REC_DROP_spool_error]);
#undef S
	}
	pthread_mutex_unlock(&dp_g.ctl_lock);

	pthread_mutex_lock(&snap_lock);
	for (uint32_t w = 0; w < dp_g.nworkers; w++) {
		const struct dp_worker *wk = dp_g.workers[w];
		const struct dp_worker_ctr *c = &wk->ctr;
#define W(name, v) sbf(&b, "flowdelta_dp_worker_" name "{worker=\"%u\"} %lu\n", w, (unsigned long)(v))
		W("rx_packets_total", c->rx_packets);
		W("rx_bytes_total", c->rx_bytes);
		W("flow_packets_total", c->flow_packets);
		W("records_total", c->records);
		W("busy_cycles_total", c->busy_cycles);
		W("cpu_ns_total", c->cpu_ns);
		W("bursts_total", c->bursts);
		W("poll_gap_max_us", c->poll_gap_max_us);
		W("poll_gaps_10ms_total", c->poll_gaps_10ms);
#undef W
		for (int k = 0; k < DP_PKT_DROP_MAX; k++)
			sbf(&b, "flowdelta_dp_worker_packet_drops_total{worker=\"%u\",reason=\"%s\"} %lu\n",
			    w, pkt_drop_names[k], c->pkt_drops[k]);
		for (uint32_t s = 0; s < DP_MAX_SLAVES; s++) {
			const struct dp_wslave_ctr *x = &wk->sctr[s];
			if (!x->records)
				continue;
			const char *sn = dp_g.slots[s].used ? dp_g.slots[s].name : "(removed)";
			sbf(&b, "flowdelta_dp_worker_slave_records_total{worker=\"%u\",slot=\"%u\",slave=\"%s\"} %lu\n",
			    w, s, sn, x->records);
			sbf(&b, "flowdelta_dp_worker_slave_enqueued_total{worker=\"%u\",slot=\"%u\",slave=\"%s\"} %lu\n",
			    w, s, sn, x->enqueued);
			sbf(&b, "flowdelta_dp_worker_slave_ring_full_total{worker=\"%u\",slot=\"%u\",slave=\"%s\"} %lu\n",
			    w, s, sn, x->drops[DP_REC_DROP_ring_full]);
		}
		if (!read_snap(wk->snap, &snap))
			continue;
		for (int k = 0; k < FLOW_DROP_MAX; k++)
			sbf(&b, "flowdelta_dp_decode_drops_total{worker=\"%u\",reason=\"%s\"} %lu\n", w,
			    flow_drop_name((enum flow_drop)k), snap.dec.drops[k]);
		sbf(&b, "flowdelta_dp_decode_templates_live{worker=\"%u\"} %u\n", w, snap.dec.templates_live);
		for (uint32_t d = 0; d < snap.ndomains; d++) {
			const struct flow_domain_stats *ds = &snap.dom[d];
			char a[ADDR_STRLEN], lbl[160];
			addr_format(ds->exporter, addr_is_v4(ds->exporter), a, sizeof(a));
			snprintf(lbl, sizeof(lbl), "worker=\"%u\",exporter=\"%s\",odid=\"%u\",version=\"%u\"",
				 w, a, ds->odid, ds->version);
			sbf(&b, "flowdelta_dp_exporter_packets_total{%s} %lu\n", lbl, ds->packets);
			sbf(&b, "flowdelta_dp_exporter_records_total{%s} %lu\n", lbl, ds->records);
			sbf(&b, "flowdelta_dp_exporter_seq_lost_total{%s} %lu\n", lbl, ds->seq_lost);
			for (int k = 0; k < FLOW_DROP_MAX; k++)
				if (ds->drops[k])
					sbf(&b, "flowdelta_dp_exporter_drops_total{%s,reason=\"%s\"} %lu\n", lbl,
					    flow_drop_name((enum flow_drop)k), ds->drops[k]);
		}
	}
	pthread_mutex_unlock(&snap_lock);

	for (uint32_t p = 0; p < dp_g.nports_up; p++) {
		const struct dp_cfg_port *cp = &dp_g.cfg->ports[p];
		struct rte_eth_stats es;
		uint64_t enq, empty;
		if (rte_eth_stats_get(dp_g.port_ids[p], &es) < 0)
			continue;
		sbf(&b, "flowdelta_dp_port_rx_packets_total{port=\"%s\"} %lu\n", cp->name, es.ipackets);
		sbf(&b, "flowdelta_dp_port_rx_bytes_total{port=\"%s\"} %lu\n", cp->name, es.ibytes);
		sbf(&b, "flowdelta_dp_port_rx_missed_total{port=\"%s\"} %lu\n", cp->name, es.imissed);
		sbf(&b, "flowdelta_dp_port_rx_nombuf_total{port=\"%s\"} %lu\n", cp->name, es.rx_nombuf);
		sbf(&b, "flowdelta_dp_port_rx_errors_total{port=\"%s\"} %lu\n", cp->name, es.ierrors);
		/* replay (bench input): packets the generator put on the ring,
		 * and how often it found the ring empty (the worker may have
		 * polled for nothing, which lowers records per CPU second) */
		if (dp_replay_stats(p, &enq, &empty)) {
			sbf(&b, "flowdelta_dp_port_replay_enqueued_total{port=\"%s\"} %lu\n",
			    cp->name, enq);
			sbf(&b, "flowdelta_dp_port_replay_ring_empty_total{port=\"%s\"} %lu\n",
			    cp->name, empty);
		}
		/* net_af_xdp: frames the kernel dropped before DPDK saw them;
		 * rx_ring_full is in no DPDK counter at all */
		struct dp_xsk_stats xs;
		if (dp_xsk_stats(p, &xs) == 0)
			continue;
		sbf(&b, "flowdelta_dp_port_xsk_rx_dropped_total{port=\"%s\"} %lu\n", cp->name,
		    xs.rx_dropped);
		sbf(&b, "flowdelta_dp_port_xsk_rx_ring_full_total{port=\"%s\"} %lu\n", cp->name,
		    xs.rx_ring_full);
		sbf(&b, "flowdelta_dp_port_xsk_fill_ring_empty_total{port=\"%s\"} %lu\n", cp->name,
		    xs.fill_ring_empty);
		sbf(&b, "flowdelta_dp_port_xsk_rx_invalid_total{port=\"%s\"} %lu\n", cp->name,
		    xs.rx_invalid);
	}
	xdp_metrics(&b);
	*len = b.len;
	return b.p;
}

/* ---- HTTP --------------------------------------------------------------- */

static int hfd = -1, hpipe[2] = { -1, -1 };
static pthread_t http_th;

static void *http_main(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "dp-metrics");
	for (;;) {
		struct pollfd pf[2] = { { hfd, POLLIN, 0 }, { hpipe[0], POLLIN, 0 } };
		if (poll(pf, 2, -1) < 0 || pf[1].revents)
			break;
		int c = accept4(hfd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		char req[2048];
		struct pollfd cp = { c, POLLIN, 0 };
		ssize_t n = poll(&cp, 1, 1000) == 1 ? read(c, req, sizeof(req) - 1) : -1;
		if (n > 0) {
			req[n] = 0;
			size_t len = 0;
			char *body = NULL;
			const char *status = "404 Not Found";
			if (strncmp(req, "GET /metrics", 12) == 0 || strncmp(req, "GET / ", 6) == 0) {
				body = dp_stats_prometheus(&len);
				status = "200 OK";
			}
			char hdr[256];
			int hl = snprintf(hdr, sizeof(hdr),
					  "HTTP/1.0 %s\r\nContent-Type: text/plain; version=0.0.4\r\n"
					  "Content-Length: %zu\r\nConnection: close\r\n\r\n",
					  status, len);
			if (write(c, hdr, (size_t)hl) == hl && body) {
				size_t off = 0;
				while (off < len) {
					ssize_t w = write(c, body + off, len - off);
					if (w <= 0)
						break;
					off += (size_t)w;
				}
			}
			free(body);
		}
		close(c);
	}
	return NULL;
}

int dp_stats_http_start(const char *listen_s)
{
	char host[256];
	uint16_t port;
	char ps[8];
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *ai;
	int one = 1;

	if (dp_parse_hostport(listen_s, host, sizeof(host), &port) < 0)
		return -EINVAL;
	snprintf(ps, sizeof(ps), "%u", port);
	if (getaddrinfo(host, ps, &hints, &ai) != 0)
		return -EADDRNOTAVAIL;
	hfd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (hfd < 0) {
		freeaddrinfo(ai);
		return -errno;
	}
	setsockopt(hfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(hfd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(hfd, 16) < 0 ||
	    pipe2(hpipe, O_CLOEXEC) < 0) {
		int e = -errno;
		freeaddrinfo(ai);
		close(hfd);
		hfd = -1;
		return e;
	}
	freeaddrinfo(ai);
	return -pthread_create(&http_th, NULL, http_main, NULL);
}

void dp_stats_http_stop(void)
{
	if (hfd < 0)
		return;
	if (write(hpipe[1], "x", 1) == 1)
		pthread_join(http_th, NULL);
	close(hfd);
	hfd = -1;
}

/* ---- DPDK telemetry ------------------------------------------------------ */

static int tel_totals(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct dp_totals t;
	(void)cmd;
	(void)params;
	dp_stats_totals(&t);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "decoded", t.decoded);
	rte_tel_data_add_dict_u64(d, "recovered", t.recovered);
	rte_tel_data_add_dict_u64(d, "delivered", t.delivered);
	rte_tel_data_add_dict_u64(d, "queued", t.queued);
	rte_tel_data_add_dict_u64(d, "spooled", t.spooled);
	rte_tel_data_add_dict_u64(d, "dropped", t.dropped);
	rte_tel_data_add_dict_u64(d, "conserved",
				  t.decoded + t.recovered == t.delivered + t.queued + t.spooled + t.dropped);
	return 0;
}

static int tel_slave(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	if (!params)
		return -EINVAL;
	pthread_mutex_lock(&dp_g.ctl_lock);
	int r = -ENOENT;
	for (uint32_t i = 0; i < DP_MAX_SLAVES; i++) {
		const struct dp_sender_ctr *c = dp_g.slots[i].sctr;
		if (!c || strcmp(dp_g.slots[i].name, params) != 0)
			continue;
		rte_tel_data_start_dict(d);
		rte_tel_data_add_dict_u64(d, "dequeued", c->dequeued);
		rte_tel_data_add_dict_u64(d, "sent", c->sent);
		rte_tel_data_add_dict_u64(d, "delivered", c->delivered);
		rte_tel_data_add_dict_u64(d, "spooled", c->spool_in + c->spool_recovered - c->spool_out);
		rte_tel_data_add_dict_u64(d, "spool_bytes", c->spool_bytes);
		rte_tel_data_add_dict_u64(d, "unacked", c->window);
		rte_tel_data_add_dict_u64(d, "connected", c->connected);
		rte_tel_data_add_dict_u64(d, "acking", c->acking);
		rte_tel_data_add_dict_u64(d, "spool_full", c->drops[DP_REC_DROP_spool_full]);
		r = 0;
	}
	pthread_mutex_unlock(&dp_g.ctl_lock);
	return r;
}

static int tel_workers(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	rte_tel_data_start_dict(d);
	for (uint32_t w = 0; w < dp_g.nworkers; w++) {
		char k[32];
		const struct dp_worker_ctr *c = &dp_g.workers[w]->ctr;
		snprintf(k, sizeof(k), "w%u_rx_packets", w);
		rte_tel_data_add_dict_u64(d, k, c->rx_packets);
		snprintf(k, sizeof(k), "w%u_records", w);
		rte_tel_data_add_dict_u64(d, k, c->records);
		for (int i = 0; i < DP_PKT_DROP_MAX; i++) {
			snprintf(k, sizeof(k), "w%u_%s", w, pkt_drop_names[i]);
			rte_tel_data_add_dict_u64(d, k, c->pkt_drops[i]);
		}
	}
	return 0;
}

void dp_stats_telemetry_register(void)
{
	rte_telemetry_register_cmd("/flowdelta/totals", tel_totals,
				   "Record conservation totals. No parameters");
	rte_telemetry_register_cmd("/flowdelta/slave", tel_slave,
				   "Counters of one slave. Parameter: slave name");
	rte_telemetry_register_cmd("/flowdelta/workers", tel_workers,
				   "Per-worker packet counters and drops. No parameters");
}
