/* frames.h — how large a received frame may be, and the kernel-side drop
 * counters of AF_XDP ports (frames that never became an mbuf).
 *
 * Kept apart from dp.h for now: it belongs there (struct dp_cfg gets a
 * mbuf_data_room field, struct dp_global the XSK table) once the change
 * editing dp.h concurrently has landed; until then config.c keeps the key
 * in an extension of struct dp_cfg and frames.c owns the XSK table.
 */
#ifndef DP_FRAMES_H
#define DP_FRAMES_H

#include <stdint.h>

struct dp_cfg;

/* mbuf_data_room default: RTE_MBUF_DEFAULT_BUF_SIZE (2048 + the 128-byte
 * RTE_PKTMBUF_HEADROOM); main.c asserts the two agree. */
#define DP_MBUF_DATA_ROOM_DEFAULT 2176u
#define DP_MBUF_DATA_ROOM_MIN 1152u  /* 1024 bytes of frame after the headroom */
#define DP_MBUF_DATA_ROOM_MAX 65535u /* rte_mbuf buf_len is 16 bits */

/* The validated mbuf_data_room of a configuration loaded by dp_cfg_load(). */
uint32_t dp_cfg_mbuf_data_room(const struct dp_cfg *c);

/* Drops the kernel counts on a port's AF_XDP sockets (XDP_STATISTICS),
 * summed over its queues. None of them reaches DPDK's rx counters:
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

#endif
