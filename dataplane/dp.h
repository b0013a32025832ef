/* dp.h — internal interface of flowdelta-dataplane (DESIGN §2).
 *
 * One header for the daemon's modules: configuration (config.c), routing
 * tables (route.c), workers (worker.c), senders and spool (sender.c,
 * spool.c), counters and their exports (stats.c), the control socket
 * (ctl.c). Nothing outside dataplane/ includes it.
 *
 * Record conservation, the invariant every counter below serves:
 *   decoded + spool_recovered
 *     = delivered + queued (worker buffers + rings + unacked window)
 *       + spooled + dropped (one named counter per reason)
 */
#ifndef DP_DP_H
#define DP_DP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "flow/encode.h"
#include "flow/flow.h"
#include "util/compiler.h"

#define DP_MAX_SLAVES 32  /* slots; a removed slave's slot is reused */
#define DP_MAX_WORKERS 64
#define DP_MAX_PORTS 16
#define DP_BURST 32
/* Messages a sender keeps in its own pool cache (sender.c: msg_free); it
 * holds up to 1.5 times that before it flushes */
#define DP_SENDER_CACHE 64
#define DP_MAX_EXPORTERS 256 /* per-worker exporter-domain snapshot rows */

/* ---- configuration (config.c) ---------------------------------------- */

enum dp_model { DP_MODEL_FLOW_HASH = 0, DP_MODEL_ROUND_ROBIN, DP_MODEL_SOURCE };
enum dp_ack { DP_ACK_AUTO = 0, DP_ACK_ON, DP_ACK_OFF };

struct dp_cfg_eal {
	char *lcores;      /* EAL -l list, e.g. "0-1" */
	uint32_t main_lcore;
	uint32_t memory_mb;
	bool no_huge;
	bool no_pci;
	char *file_prefix;
	char **plugins;    /* PMD shared objects or directories (EAL -d) */
	uint32_t plugins_count;
	char **extra_args;
	uint32_t extra_args_count;
};

/* ports[].xdp: our steering program on a net_af_xdp vdev (xdp.c). */
struct dp_cfg_xdp {
	char *program;        /* NULL: the installed, else the built object */
	char **allowlist;     /* absent: any source; present: enforced */
	uint32_t allowlist_count;
	bool *exporter_stats; /* NULL: true */
};

struct dp_cfg_port {
	char *name;
	char *vdev;   /* "net_pcap0,rx_pcap=..." */
	char *pci;    /* "0000:03:00.0" */
	char *replay; /* bench input: a pcap replayed from memory (replay.c) */
	uint32_t rx_queues;
	uint32_t rx_desc; /* replay: the ring's size */
	struct dp_cfg_xdp *xdp; /* NULL: none (net_af_xdp uses the PMD's default program) */
};

struct dp_cfg_worker {
	uint32_t lcore;
	char *port;
	uint32_t queue;
};

struct dp_cfg_slave {
	char *name;
	char *host;
	uint32_t port;
	int ack;      /* enum dp_ack */
	bool discard; /* bench only: the sender frees messages without a socket */
};

struct dp_cfg_srcmap {
	char *exporter;
	uint32_t port;
	char *slave;
};

struct dp_cfg_group {
	int model; /* enum dp_model */
	uint32_t odid;
	struct dp_cfg_slave *slaves;
	uint32_t slaves_count;
	struct dp_cfg_srcmap *source_map;
	uint32_t source_map_count;
};

struct dp_cfg_senders {
	char *cpus;         /* CPU list the sender threads are pinned to */
	uint32_t ring_size; /* messages per (worker, slave) ring, power of 2 */
	uint32_t msg_bytes; /* IPFIX message buffer size */
	uint32_t flush_ms;  /* age at which a partly filled buffer is sent */
	uint32_t window;    /* unacknowledged messages kept in memory per slave */
	uint32_t ack_timeout_ms;
	uint32_t reconnect_max_ms;
};

struct dp_cfg_spool {
	char *dir;
	uint32_t max_mb;  /* per slave */
	uint32_t file_mb; /* one spool file */
};

struct dp_cfg_stats {
	char *listen; /* "127.0.0.1:9310"; empty = off */
};

struct dp_cfg_control {
	char *socket;
};

/* poll: what a worker does when RX bursts come back empty. */
struct dp_cfg_poll {
	uint32_t idle_sleep_us; /* 0: pure busy polling */
	uint32_t *idle_after;   /* consecutive empty polls before sleeping; NULL: 256
				 * (a pointer so that an explicit 0 is not the default) */
	uint32_t idle_polls;    /* resolved by the config check: *idle_after or 256 */
	uint32_t rt_priority;   /* > 0: workers run SCHED_FIFO at this priority */
};

struct dp_cfg {
	struct dp_cfg_eal eal;
	uint32_t mbufs;
	uint32_t mbuf_data_room; /* validated: DP_MBUF_DATA_ROOM_MIN..MAX */
	struct dp_cfg_port *ports;
	uint32_t ports_count;
	struct dp_cfg_worker *workers;
	uint32_t workers_count;
	uint32_t *flow_ports;
	uint32_t flow_ports_count;
	struct dp_cfg_group group;
	struct dp_cfg_senders senders;
	struct dp_cfg_spool spool;
	struct dp_cfg_stats stats;
	struct dp_cfg_control control;
	struct dp_cfg_poll poll;
};

/* mbuf_data_room default: RTE_MBUF_DEFAULT_BUF_SIZE (2048 + the 128-byte
 * RTE_PKTMBUF_HEADROOM); main.c asserts the two agree. */
#define DP_MBUF_DATA_ROOM_DEFAULT 2176u
#define DP_MBUF_DATA_ROOM_MIN 1152u  /* 1024 bytes of frame after the headroom */
#define DP_MBUF_DATA_ROOM_MAX 65535u /* rte_mbuf buf_len is 16 bits */

/* Load and validate. On error prints "path: message" lines to stderr and
 * returns -EINVAL (or -errno for I/O). *ret is set only on success; free
 * it with dp_cfg_free(). */
int dp_cfg_load(const char *path, struct dp_cfg **ret);
/* The same from a memory buffer (fuzzing, tests); name is used in errors. */
int dp_cfg_load_buf(const char *name, const uint8_t *data, size_t len, struct dp_cfg **ret);
void dp_cfg_free(struct dp_cfg *cfg);
void dp_cfg_help(FILE *out);
int dp_parse_cpulist(const char *s, uint64_t *mask);
int dp_parse_hostport(const char *s, char *host, size_t hostlen, uint16_t *port);
/* Value of devarg key ("iface") in a vdev string "net_x0,a=1,iface=eth0":
 * 0, -ENOENT (absent) or -ENAMETOOLONG. */
int dp_vdev_arg(const char *vdev, const char *key, char *out, size_t outlen);

/* ---- XDP steering on net_af_xdp ports (xdp.c) ------------------------- */

/* Before EAL init: resolve and check each ports[].xdp program, prepare the
 * interface (bpffs, pin folder, stale program). Errors are printed naming
 * the config key; 0 or -errno. */
int dp_xdp_prepare(const struct dp_cfg *c);
/* The vdev string EAL gets for cfg port i (with xdp_prog=), or NULL. */
const char *dp_xdp_vdev(uint32_t i);
/* After port i started: open the PMD's program, pin its maps, write the
 * flow ports and the allow-list. Prints the error; 0 or -errno. */
int dp_xdp_start(const struct dp_cfg *c, uint32_t i);
/* Control socket: replace port name's allow-list (comma-separated
 * prefixes) or switch it off ("off"). */
int dp_xdp_set_allowlist(const char *port, const char *list, char *err, size_t errlen);
/* After the ports closed: release the maps, remove the pins, and detach the
 * program if the PMD left it attached. */
void dp_xdp_stop(void);
/* For the metrics, under dp_g.ctl_lock: cfg port i's steering program
 * counters into c[FD_XDP_C_MAX] and its busiest exporters (up to cap, by
 * packets) into ex, *nex of them. 1, or 0 when the port has no program. */
struct xdp_steer_counter;
struct xdp_steer_exporter;
int dp_xdp_read(uint32_t i, struct xdp_steer_counter *c, struct xdp_steer_exporter *ex,
		size_t cap, size_t *nex);

/* ---- replay ports (replay.c) ------------------------------------------ */

struct rte_mempool;

/* ports[i].replay: load the pcap's frames into mbufs from mp (once, no
 * per-packet copy afterwards), create an rte_ring of rx_desc entries and
 * its net_ring ethdev, fill the ring. The caller configures and starts the
 * port. Prints the error naming the key; 0 or -errno. */
int dp_replay_open(const struct dp_cfg_port *p, uint32_t i, struct rte_mempool *mp,
		   uint16_t *ret_port);
/* Number of replay ports opened. */
uint32_t dp_replay_count(void);
/* How long the generator may sleep between fills (us): an eighth of the
 * smallest replay ring's worth of packets at 1 Mpps, 100..2000. */
uint32_t dp_replay_period_us(void);
/* Generator, main lcore only: enqueue the frames again, round after round,
 * until every replay ring is full. Never blocks. */
void dp_replay_fill(void);
/* Generator counters of cfg port i (stats.c): false when not a replay port. */
bool dp_replay_stats(uint32_t i, uint64_t *enqueued, uint64_t *ring_empty);
/* After the workers stopped: drain the rings, print the packet balance
 * (enqueued = received by workers + left in the ring) and check every
 * frame's mbuf references came back exactly, free frames and rings.
 * Returns false on an imbalance (a worker freed a packet twice or never). */
bool dp_replay_close(void);

/* ---- AF_XDP socket drop counters (frames.c) --------------------------- */

/* Drops the kernel counts on a port's AF_XDP sockets (XDP_STATISTICS),
 * summed over its queues: frames that never became an mbuf, so none of them
 * reaches DPDK's rx counters:
 *   rx_dropped       frame longer than the UMEM frame (mbuf_data_room), or
 *                    no free fill-ring buffer (DPDK adds this one to imissed)
 *   rx_ring_full     RX ring full: the worker did not poll in time
 *   fill_ring_empty  times the kernel found the fill ring empty
 *   rx_invalid       invalid descriptors (a bug, never expected) */
struct dp_xsk_stats {
	uint64_t rx_dropped;
	uint64_t rx_invalid;
	uint64_t rx_ring_full;
	uint64_t fill_ring_empty;
};

/* After cfg port `port` set up its RX queues: the AF_XDP sockets this
 * process opened since the last call belong to it. Main thread, start-up
 * only. Returns how many sockets were claimed (0 for other PMDs). */
unsigned dp_xsk_claim(uint32_t port);
/* Sum of port's sockets' counters into *out (zeroed first). Returns the
 * number of sockets read; 0 when the port has none (not net_af_xdp). */
unsigned dp_xsk_stats(uint32_t port, struct dp_xsk_stats *out);

/* ---- counters (stats.c) ---------------------------------------------- */

/* Packet-level drops on a worker, before decoding. X(name, description) */
#define DP_PKT_DROP_LIST(X)                                                        \
	X(not_ip, "not IPv4/IPv6 (after VLAN tags)")                               \
	X(not_udp, "IP but not UDP")                                               \
	X(ip_fragment, "IP fragment (exports must not be fragmented)")             \
	X(truncated, "headers cut short or lengths inconsistent")                  \
	X(not_flow_port, "UDP to a port that is not a flow listening port")

enum dp_pkt_drop {
#define DP_ENUM(n, d) DP_PKT_DROP_##n,
	DP_PKT_DROP_LIST(DP_ENUM)
#undef DP_ENUM
	DP_PKT_DROP_MAX
};

/* Record-level drops after decoding (the "dropped" term of conservation). */
#define DP_REC_DROP_LIST(X)                                                        \
	X(no_slave, "no slave in the routing table")                               \
	X(no_msgbuf, "message buffer pool empty")                                  \
	X(encode_error, "record does not fit an empty IPFIX message")              \
	X(ring_full, "(worker, slave) ring full")                                  \
	X(spool_full, "slave spool full")                                          \
	X(spool_error, "spool write failed (I/O error)")

enum dp_rec_drop {
#define DP_ENUM(n, d) DP_REC_DROP_##n,
	DP_REC_DROP_LIST(DP_ENUM)
#undef DP_ENUM
	DP_REC_DROP_MAX
};

/* Per worker and per slot, written only by the worker. */
struct dp_wslave_ctr {
	uint64_t records;  /* appended to this slave's buffers */
	uint64_t enqueued; /* records in messages put on the ring */
	uint64_t msgs;
	uint64_t drops[DP_REC_DROP_MAX]; /* no_msgbuf, encode_error, ring_full */
} cache_aligned;

struct dp_worker_ctr {
	uint64_t rx_packets;
	uint64_t rx_bytes;
	uint64_t flow_packets; /* handed to the decoder */
	uint64_t records;      /* decoded (sink calls) */
	uint64_t no_slave;
	uint64_t pkt_drops[DP_PKT_DROP_MAX];
	uint64_t busy_cycles; /* TSC cycles of bursts that had packets */
	uint64_t cpu_ns;      /* thread CPU time (4 Hz): capacity per core on a shared host */
	uint64_t bursts;
	uint64_t poll_gap_max_us; /* longest time between two RX polls */
	uint64_t poll_gaps_10ms;  /* gaps of 10 ms or more: the worker was not running */
} cache_aligned;

/* Snapshot of the decoder's own counters, published by the worker every
 * ~250 ms under a sequence count (readers retry while it is odd). */
struct dp_dec_snap {
	atomic_uint seq;
	struct flow_dec_stats dec;
	uint32_t ndomains;
	struct flow_domain_stats dom[DP_MAX_EXPORTERS];
};

/* Per slave, written only by its sender thread. */
struct dp_sender_ctr {
	uint64_t dequeued;   /* records taken off the rings */
	uint64_t sent;       /* records written to the socket (incl. resends) */
	uint64_t delivered;  /* acked, or written to a slave that does not ack */
	uint64_t spool_in;   /* records written to the spool */
	uint64_t spool_out;  /* records replayed from the spool */
	uint64_t spool_recovered; /* found in the spool at start */
	uint64_t spool_bytes;     /* gauge: bytes in spool files */
	uint64_t window;     /* gauge: records in the unacked window */
	uint64_t msgs_sent;
	uint64_t resent_msgs;
	uint64_t connects;
	uint64_t disconnects;
	uint64_t drops[DP_REC_DROP_MAX]; /* spool_full, spool_error */
	uint64_t dedup_acks;
	uint64_t socket_full; /* writes that found the socket buffer full */
	uint32_t connected;
	uint32_t acking; /* 1: slave sends FDAK frames */
} cache_aligned;

/* Consistent counter snapshots: a reader asks (req), the writer copies its
 * counters between two units of work and answers (done). Reading every
 * sender first and every worker after makes the conservation identity
 * exact at any moment, not only when traffic pauses (stats.c). live is
 * false once the writer has stopped: its counters are final then. */
struct dp_snapreq {
	atomic_uint req;
	atomic_uint done;
	atomic_bool live;
	unsigned seen; /* writer's copy of the last req it answered */
};

/* Writer side: called once per loop iteration; cheap when nobody asks. */
static inline bool dp_snap_asked(struct dp_snapreq *r)
{
	unsigned q = atomic_load_explicit(&r->req, memory_order_acquire);
	if (q == r->seen)
		return false;
	r->seen = q;
	return true;
}

static inline void dp_snap_answer(struct dp_snapreq *r)
{
	atomic_store_explicit(&r->done, r->seen, memory_order_release);
}

/* ---- routing (route.c) ------------------------------------------------ */

struct dp_worker;
struct dp_route;
/* Chooses the slot of each of n records (a decoder batch) into slots[]:
 * one indirect call per batch, and independent hash chains the CPU can
 * overlap. */
typedef void (*dp_pick_fn)(const struct dp_route *rt, struct dp_worker *w,
			   const struct flow_rec *recs, uint32_t n, uint8_t *slots);
/* Records per decoder sink call: 64 canonical records (~13 KiB) stay in L1
 * between the decoder writing them and the encoder reading them. */
#define DP_DEC_BATCH 64 /* ≤ 256: worker.c indexes a batch with uint8_t */

#define DP_SRCMAP_SIZE 1024 /* open-addressing slots, power of 2 */
/* Hash buckets, each assigned to a slave by rendezvous when the table is
 * built, so a record costs one table load instead of one hash per slave. */
#define DP_BUCKETS 4096

struct dp_srcmap_ent {
	uint8_t addr[16];
	uint16_t port;
	uint8_t used;
	uint8_t slot;
};

/* Immutable once published; replaced whole by pointer swap (STYLE 13). */
struct dp_route {
	uint64_t gen;
	int model;
	dp_pick_fn pick; /* chosen when the table is built, never per packet;
			  * NULL for round-robin (rotation per message, worker.c) */
	uint32_t n;
	uint8_t slot[DP_MAX_SLAVES];
	uint64_t seed[DP_MAX_SLAVES];
	uint32_t active_mask; /* bit per slot */
	uint8_t bucket[DP_BUCKETS]; /* flow/source hash bucket -> slot */
	struct dp_srcmap_ent srcmap[DP_SRCMAP_SIZE];
};

/* Build a table from the current slave set and model (see dp_ctl_*). */
struct dp_route *dp_route_build(int model, const uint8_t *slots, const char *const *names,
				uint32_t n, const struct dp_srcmap_ent *map, uint32_t nmap);
uint64_t dp_slave_seed(const char *name);
uint32_t dp_flow_key(const struct flow_rec *r);
int dp_srcmap_put(struct dp_srcmap_ent *tab, const uint8_t addr[16], uint16_t port, uint8_t slot);

/* ---- message buffers -------------------------------------------------- */

/* One IPFIX message on its way from a worker to a sender; lives in the
 * message mempool. data holds a complete message (header patched by the
 * sender: sequence number). */
struct dp_msg {
	uint32_t len;
	uint32_t nrec;
	uint64_t num; /* session message number, set by the sender */
	uint8_t data[];
};

/* ---- workers (worker.c) ----------------------------------------------- */

struct dp_wbuf {
	struct dp_msg *m;
	struct flow_enc enc;
	uint64_t born_tsc;
};

struct dp_worker {
	struct dp_worker_ctr ctr;
	atomic_int rt_err; /* poll.rt_priority: -1 pending, 0 set, else errno */
	struct dp_wslave_ctr sctr[DP_MAX_SLAVES];
	uint32_t idx;
	uint32_t lcore;
	uint16_t port_id;
	uint16_t queue;
	uint16_t cfg_port; /* index in cfg->ports */
	struct flow_dec *dec;
	const struct dp_route *rt; /* the table in use during this burst */
	uint64_t rt_gen;
	uint32_t rr_cur; /* round-robin: index into rt->slot */
	uint64_t now_ms;
	uint64_t now_tsc;
	uint64_t src_cache_key[3]; /* source model: last exporter looked up */
	uint32_t src_cache_slot;
	uint64_t src_cache_gen;
	struct dp_wbuf buf[DP_MAX_SLAVES];
	struct dp_dec_snap *snap;
	uint64_t cpu_ns0;
	uint8_t pick[DP_DEC_BATCH];
	struct dp_snapreq sreq;
	struct dp_worker_ctr cctr; /* snapshot copies, see dp_snapreq */
	struct dp_wslave_ctr csctr[DP_MAX_SLAVES];
};

int dp_worker_main(void *arg); /* rte_eal_remote_launch entry */
int dp_worker_init(struct dp_worker *w);

/* ---- senders and spool (sender.c, spool.c) ---------------------------- */

struct dp_spool;
/* Open (creating) dir; scans existing files. NULL + errno on failure. */
struct dp_spool *dp_spool_open(const char *dir, uint64_t max_bytes, uint64_t file_bytes);
void dp_spool_close(struct dp_spool *s);
/* Append one message. 0, -ENOSPC (full), -EIO. */
int dp_spool_put(struct dp_spool *s, const uint8_t *data, uint32_t len, uint32_t nrec);
/* Peek the oldest message into buf (cap bytes). 1 found, 0 empty, -errno. */
int dp_spool_peek(struct dp_spool *s, uint8_t *buf, uint32_t cap, uint32_t *len, uint32_t *nrec);
/* Drop the message last peeked. */
void dp_spool_pop(struct dp_spool *s);
uint64_t dp_spool_bytes(const struct dp_spool *s);
uint64_t dp_spool_records(const struct dp_spool *s);

struct dp_sender;
int dp_sender_start(uint32_t slot, const struct dp_cfg_slave *sl);
/* Retire: the slot is no longer routed to; deliver what is in flight and
 * exit. Waits at most timeout_ms; whatever is left stays in the spool. */
void dp_sender_retire(uint32_t slot, uint32_t timeout_ms);
/* Shutdown: drain rings, deliver or spool everything, join. */
void dp_senders_stop_all(uint32_t timeout_ms);
/* Consistent copy of a live sender's counters (see dp_snapreq); false when
 * the sender did not answer (then out holds a plain read). */
bool dp_sender_snapshot(struct dp_sender *s, struct dp_sender_ctr *out);
extern struct dp_sender_ctr *dp_retired_ctr[256];
extern const char *dp_retired_name[256];
extern atomic_uint dp_nretired;

/* ---- global state (main.c) -------------------------------------------- */

struct rte_ring;
struct rte_mempool;
struct rte_rcu_qsbr;

struct dp_slot {
	bool used;
	bool retiring;
	char name[64];
	char host[256];
	uint16_t port;
	int ack;
	bool discard;
	struct dp_sender *snd;
	struct dp_sender_ctr *sctr; /* lives in snd; kept after retire for stats */
};

struct dp_global {
	struct dp_cfg *cfg;
	uint32_t nworkers;
	struct dp_worker *workers[DP_MAX_WORKERS];
	struct rte_mempool *msg_pool;
	uint32_t msg_cap; /* bytes of IPFIX data per message */
	struct rte_ring *rings[DP_MAX_WORKERS][DP_MAX_SLAVES];
	struct dp_slot slots[DP_MAX_SLAVES];
	_Atomic(struct dp_route *) route;
	struct rte_rcu_qsbr *rcu;
	uint8_t flow_port_bits[65536 / 8];
	uint64_t sender_cpus;
	uint64_t tsc_hz;
	atomic_bool stop_rx;
	atomic_bool stop_senders;
	pthread_mutex_t ctl_lock; /* control-plane changes (never workers) */
	uint64_t start_ms;
	uint64_t start_tsc;
	uint16_t port_ids[DP_MAX_PORTS]; /* ethdev of cfg port i, i < nports_up */
	uint32_t nports_up;
	/* gauges of retired slots, folded in so conservation survives removal */
};

extern struct dp_global dp_g;

/* route publication: swap, wait for quiescence, free the old table */
int dp_route_publish(struct dp_route *rt);

/* ---- control and stats ------------------------------------------------ */

int dp_slave_add(const struct dp_cfg_slave *sl, char *err, size_t errlen);
int dp_slave_remove(const char *name, char *err, size_t errlen);
int dp_set_model(int model, char *err, size_t errlen);
int dp_srcmap_set(const char *exporter, uint16_t port, const char *slave, char *err, size_t errlen);
int dp_republish(void);

int dp_ctl_init(const struct dp_cfg *c, char *err, size_t errlen);
int dp_ctl_start(const char *path);
void dp_ctl_stop(void);
int dp_stats_http_start(const char *listen);
void dp_stats_http_stop(void);
void dp_stats_telemetry_register(void);
/* Prometheus text of every counter into a malloc'd buffer (caller frees). */
char *dp_stats_prometheus(size_t *len);
struct dp_totals {
	uint64_t decoded, recovered, delivered, queued, spooled, dropped;
};
bool dp_stats_totals(struct dp_totals *t);

#endif
