/* xdp_steer.h — loader and inspector for the flow_steer XDP program.
 *
 * Two ways to put the program on an interface:
 *  - xdp_steer_attach(): this library loads and attaches it (operators,
 *    tests, a custom AF_XDP consumer that fills the pinned xsks_map).
 *  - the DPDK net_af_xdp PMD loads flow_steer.bpf.o itself (devarg
 *    xdp_prog=). Call xdp_steer_prepare() before EAL init (removes a stale
 *    program so the PMD's "attach if none" succeeds, makes the pin folder),
 *    then xdp_steer_open(..., XDP_STEER_PIN) after the port started: it finds
 *    the PMD's program, pins its maps under /sys/fs/bpf/flowdelta/<iface>/ and
 *    returns a handle to fill ports and allow-list from configuration.
 *
 * The library never logs: functions return 0 or -errno; what the operator
 * should be told (a stale or foreign program replaced) comes back in
 * struct xdp_steer_prev. Handles are not thread-safe; one per interface.
 */
#ifndef BPF_XDP_STEER_H
#define BPF_XDP_STEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow_steer_shared.h"

#define XDP_STEER_PIN_ROOT "/sys/fs/bpf/flowdelta"

struct xdp_steer;

/* xdp_steer_attach() / xdp_steer_open() flags. */
enum {
	XDP_STEER_SKB = 1u << 0,   /* generic (skb) mode; default: native, else skb */
	XDP_STEER_NATIVE = 1u << 1, /* native only: fail if the driver lacks XDP */
	XDP_STEER_FORCE = 1u << 2, /* replace a foreign or in-use program */
	XDP_STEER_PIN = 1u << 3,   /* open: (re)pin the maps under the pin folder */
};

/* What was on the interface before attach/prepare. kind is
 * XDP_STEER_PREV_NONE when nothing was attached. */
enum xdp_steer_prev_kind {
	XDP_STEER_PREV_NONE = 0,
	XDP_STEER_PREV_SAME,    /* our program, identical tag */
	XDP_STEER_PREV_OLDER,   /* our program name, different tag: older build */
	XDP_STEER_PREV_FOREIGN, /* someone else's program (only replaced with FORCE) */
};

struct xdp_steer_prev {
	enum xdp_steer_prev_kind kind;
	uint32_t prog_id;
	char name[16];
	char tag[17];   /* hex */
	int holder_pid; /* a live process holding the program (0: none: stale) */
};

struct xdp_steer_info {
	uint32_t prog_id;
	char name[16];
	char tag[17];
	const char *mode; /* "native", "skb", "hw", "multi" */
	bool ours_tag;    /* tag equals this build's program */
	bool allowlist;   /* anti-spoofing enforced */
	bool exporter_stats; /* per-exporter table kept */
	char pin_dir[96]; /* empty when the maps are not pinned */
};

struct xdp_steer_counter {
	const char *name;
	uint64_t packets;
	uint64_t bytes;
};

struct xdp_steer_exporter {
	uint8_t family; /* 4 or 6 */
	uint8_t addr[16]; /* IPv4 in addr[12..15] */
	uint16_t port;
	uint64_t packets;
	uint64_t bytes;
};

/* An allow-list entry: family 4 or 6, addr in network order (IPv4 in
 * addr[0..3]), prefix length in bits. */
struct xdp_steer_prefix {
	uint8_t family;
	uint8_t len;
	uint8_t addr[16];
};

/* Load the program, reuse or create its pinned maps under
 * XDP_STEER_PIN_ROOT/<ifname>/ (mounting bpffs there if needed) and attach
 * it. A previous program of ours that no live process holds (stale) is
 * replaced; a foreign one, or one a running process (dataplane) holds, only
 * with XDP_STEER_FORCE, else -EBUSY (xdp_steer_inspect() says which). *ret_prev (may be NULL) tells what was
 * replaced. On success *ret owns the loaded program: closing the handle does
 * not detach (XDP attachments outlive the process; use xdp_steer_detach()). */
int xdp_steer_attach(const char *ifname, unsigned flags, struct xdp_steer **ret,
		     struct xdp_steer_prev *ret_prev);

/* DPDK PMD path, before EAL init: mount bpffs, create the pin folder and
 * detach a program of ours left by a crash. Foreign or held by a running
 * process: -EBUSY unless FORCE.
 * *ret_prev (may be NULL) tells what was removed. */
int xdp_steer_prepare(const char *ifname, unsigned flags, struct xdp_steer_prev *ret_prev);

/* Describe what is attached to ifname (kind NONE: nothing), compared with
 * this build, including a live holder. For explaining -EBUSY. */
int xdp_steer_inspect(const char *ifname, struct xdp_steer_prev *ret);

/* Open the program attached to ifname (by us or by the PMD). -ENOENT if none,
 * -EBUSY if it is not ours (by program name). With XDP_STEER_PIN the maps are
 * pinned (replacing older pins). */
int xdp_steer_open(const char *ifname, unsigned flags, struct xdp_steer **ret);

/* Load the program without attaching or pinning anything: for tests and
 * benchmarks that drive it with bpf_prog_test_run_opts(). */
int xdp_steer_load_unattached(struct xdp_steer **ret);

/* Program fd (loaded or opened handles). */
int xdp_steer_prog_fd(const struct xdp_steer *xs);

/* Replace the flow-port set. New ports are set before old ones are cleared,
 * so a port in both sets never stops being steered. */
int xdp_steer_set_ports(struct xdp_steer *xs, const uint16_t *ports, size_t n);

/* Read the port set into ports[cap]; *ret_n = number of ports set. */
int xdp_steer_get_ports(struct xdp_steer *xs, uint16_t *ports, size_t cap, size_t *ret_n);

/* Replace the allow-list and switch enforcement on or off. Entries are
 * validated first (-EINVAL, nothing changed); the new prefixes are inserted
 * before stale ones are removed, and enforcement is switched on only after
 * the list is complete. */
int xdp_steer_set_allowlist(struct xdp_steer *xs, const struct xdp_steer_prefix *p,
			    size_t n, bool enforce);

/* Keep (default) or skip the per-exporter table; skipping saves its hash
 * update on every steered export. */
int xdp_steer_set_exporter_stats(struct xdp_steer *xs, bool on);

/* Counters summed over CPUs, out[FD_XDP_C_MAX] indexed by enum fd_xdp_counter. */
int xdp_steer_counters(struct xdp_steer *xs, struct xdp_steer_counter out[FD_XDP_C_MAX]);

/* Per-exporter counters summed over CPUs, sorted by packets descending.
 * Fills up to cap entries; *ret_n = entries filled. */
int xdp_steer_exporters(struct xdp_steer *xs, struct xdp_steer_exporter *out, size_t cap,
			size_t *ret_n);

int xdp_steer_info(struct xdp_steer *xs, struct xdp_steer_info *ret);

/* Frees the handle (NULL is fine); never detaches. */
void xdp_steer_close(struct xdp_steer *xs);

/* Detach our program from ifname and remove its pins. -ENOENT if nothing is
 * attached, -EBUSY if the program is foreign or a running process holds it
 * (unless XDP_STEER_FORCE). */
int xdp_steer_detach(const char *ifname, unsigned flags);

/* Remove the pins of ifname (the maps live on while a program uses them).
 * For the PMD path at shutdown: the PMD detaches its program on close, the
 * pins would otherwise keep the old maps. */
int xdp_steer_unpin(const char *ifname);

/* "redirect_xsk" etc.; NULL for an index out of range. */
const char *xdp_steer_counter_name(unsigned idx);

/* Parse "10.0.0.0/8", "2001:db8::/32" or a bare address (host prefix). */
int xdp_steer_prefix_parse(const char *s, struct xdp_steer_prefix *ret);

#endif
