/* frames.c — the AF_XDP sockets of each net_af_xdp port and their kernel
 * drop counters (declared in dp.h).
 *
 * DPDK 22.11's net_af_xdp adds only XDP_STATISTICS.rx_dropped to imissed;
 * frames dropped because the RX ring was full (the worker was descheduled)
 * are counted by the kernel alone, so without this they are silent loss.
 * The PMD does not hand out its socket fds: after each port's queues are
 * set up we look through our own fds for AF_XDP sockets not yet claimed.
 */
#include <dirent.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_xdp.h>

#include "dp.h"

#ifndef AF_XDP
#define AF_XDP 44
#endif
#ifndef SOL_XDP
#define SOL_XDP 283
#endif

#define XSK_MAX 256 /* sockets over all ports: one per RX queue */

static struct {
	int fd;
	uint32_t port;
} xsk[XSK_MAX];
static unsigned nxsk;

static bool claimed(int fd)
{
	for (unsigned i = 0; i < nxsk; i++)
		if (xsk[i].fd == fd)
			return true;
	return false;
}

unsigned dp_xsk_claim(uint32_t port)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	unsigned n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) != NULL && nxsk < XSK_MAX) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);
		int dom = 0;
		socklen_t l = sizeof(dom);
		if (*end || end == e->d_name || fd == dirfd(d) || claimed((int)fd))
			continue;
		if (getsockopt((int)fd, SOL_SOCKET, SO_DOMAIN, &dom, &l) < 0 || dom != AF_XDP)
			continue;
		xsk[nxsk].fd = (int)fd;
		xsk[nxsk].port = port;
		nxsk++;
		n++;
	}
	closedir(d);
	return n;
}

unsigned dp_xsk_stats(uint32_t port, struct dp_xsk_stats *out)
{
	unsigned n = 0;

	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < nxsk; i++) {
		/* kernels before 5.9 fill only the first three fields; optlen
		 * says how much was written, the rest stays 0 */
		struct xdp_statistics s = { 0 };
		socklen_t l = sizeof(s);
		if (xsk[i].port != port ||
		    getsockopt(xsk[i].fd, SOL_XDP, XDP_STATISTICS, &s, &l) < 0)
			continue;
		out->rx_dropped += s.rx_dropped;
		out->rx_invalid += s.rx_invalid_descs;
		out->rx_ring_full += s.rx_ring_full;
		out->fill_ring_empty += s.rx_fill_ring_empty_descs;
		n++;
	}
	return n;
}
