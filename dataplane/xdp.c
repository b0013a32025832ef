/* xdp.c — our XDP steering program (bpf/flow_steer.bpf.o) on the
 * dataplane's net_af_xdp ports (docs/xdp.md, "DPDK PMD" path).
 *
 * Per port with an `xdp:` block:
 *   before EAL init  check the object, xdp_steer_prepare() the interface,
 *                    add xdp_prog=<object> to the vdev string;
 *   after the start  xdp_steer_open(PIN) the program the PMD attached, then
 *                    exporter stats, allow-list, and last the flow ports, so
 *                    no export is steered before the allow-list is in place;
 *   at shutdown      (after rte_eth_dev_close, which detaches the program)
 *                    close the handle, detach if the PMD left it, unpin.
 * The handles are used by the main thread (start, stop) and the control
 * thread (allow-list) under dp_g.ctl_lock; workers never touch them.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <linux/magic.h>

#include "dp.h"
#include "xdp_steer.h"

#ifndef DP_XDP_PROG_INSTALLED
#define DP_XDP_PROG_INSTALLED "/usr/share/flowdelta/flow_steer.bpf.o"
#endif

struct xport {
	bool on;
	char ifname[16];
	char *program;
	char *vdev; /* cfg vdev + ",xdp_prog=<program>" */
	struct xdp_steer *xs;
};

static struct xport xports[DP_MAX_PORTS];
static const struct dp_cfg *xcfg;

static void xlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void xlog(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("flowdelta-dataplane: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* libbpf (ours and the PMD's) prints through here: warnings and errors
 * with our prefix, debug chatter dropped. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	fputs("flowdelta-dataplane: ", stderr); /* libbpf's lines start with "libbpf: " */
	return vfprintf(stderr, fmt, args);
}

/* The object must be readable and look like flow_steer: the PMD would
 * otherwise fail inside EAL init with a message naming neither key nor file. */
static int check_object(const char *path, uint32_t i)
{
	if (access(path, R_OK) < 0) {
		int e = errno;
		xlog("config: ports[%u].xdp.program: %s: %s", i, path, strerror(e));
		return -e;
	}
	struct bpf_object *o = bpf_object__open_file(path, NULL);
	if (!o) {
		int e = errno;
		char msg[128];
		libbpf_strerror(e, msg, sizeof(msg));
		xlog("config: ports[%u].xdp.program: %s: not a BPF object (%s)", i, path, msg);
		return -EINVAL;
	}
	int r = 0;
	if (!bpf_object__find_map_by_name(o, "xsks_map") ||
	    !bpf_object__find_map_by_name(o, "fd_ports")) {
		xlog("config: ports[%u].xdp.program: %s: not the flow_steer program (no xsks_map/"
		     "fd_ports map)", i, path);
		r = -EPROTO;
	}
	bpf_object__close(o);
	return r;
}

static bool bpffs_mounted(void)
{
	struct statfs st;
	return statfs("/sys/fs/bpf", &st) == 0 && (unsigned long)st.f_type == BPF_FS_MAGIC;
}

static const char *default_program(void)
{
	if (access(DP_XDP_PROG_INSTALLED, R_OK) == 0)
		return DP_XDP_PROG_INSTALLED;
#ifdef DP_XDP_PROG_BUILD
	if (access(DP_XDP_PROG_BUILD, R_OK) == 0)
		return DP_XDP_PROG_BUILD;
#endif
	return NULL;
}

static int prepare_one(const struct dp_cfg_port *p, uint32_t i, struct xport *x)
{
	const char *prog = p->xdp->program ? p->xdp->program : default_program();
	struct xdp_steer_prev prev;
	int r;

	if (!prog) {
		xlog("config: ports[%u].xdp.program: not set, and no flow_steer.bpf.o in "
		     DP_XDP_PROG_INSTALLED
#ifdef DP_XDP_PROG_BUILD
		     " or " DP_XDP_PROG_BUILD
#endif
		     , i);
		return -ENOENT;
	}
	if ((r = check_object(prog, i)) < 0)
		return r;
	dp_vdev_arg(p->vdev, "iface", x->ifname, sizeof(x->ifname)); /* checked by config.c */
	x->program = strdup(prog);
	size_t n = strlen(p->vdev) + strlen(prog) + sizeof(",xdp_prog=");
	x->vdev = malloc(n);
	if (!x->program || !x->vdev)
		return -ENOMEM;
	snprintf(x->vdev, n, "%s,xdp_prog=%s", p->vdev, prog);

	r = xdp_steer_prepare(x->ifname, 0, &prev);
	if (r == -EBUSY && xdp_steer_inspect(x->ifname, &prev) == 0) {
		if (prev.holder_pid)
			xlog("ports[%u].xdp: %s: XDP program %s (id %u) in use by running pid %d "
			     "(another dataplane?)", i, x->ifname, prev.name, prev.prog_id,
			     prev.holder_pid);
		else
			xlog("ports[%u].xdp: %s: a foreign XDP program %s (id %u) is attached; "
			     "remove it (flowdelta xdp detach %s --force)", i, x->ifname, prev.name,
			     prev.prog_id, x->ifname);
		return r;
	}
	if (r < 0) {
		const char *hint = r == -ENODEV ? " (no such interface in this network namespace)"
				   : !bpffs_mounted()
					   ? " (bpffs is not mounted on /sys/fs/bpf and could not be: "
					     "mount -t bpf bpf /sys/fs/bpf)"
				   : r == -EPERM ? " (needs root, or CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN)"
						 : "";
		xlog("ports[%u].xdp: %s: prepare: %s%s", i, x->ifname, strerror(-r), hint);
		return r;
	}
	if (prev.kind != XDP_STEER_PREV_NONE)
		xlog("ports[%u].xdp: %s: removed a stale %s program %s (id %u, tag %s) left by a "
		     "previous run", i, x->ifname, prev.kind == XDP_STEER_PREV_SAME ? "Flowdelta" :
		     "older Flowdelta", prev.name, prev.prog_id, prev.tag);
	x->on = true;
	return 0;
}

int dp_xdp_prepare(const struct dp_cfg *c)
{
	bool any = false;

	xcfg = c;
	for (uint32_t i = 0; i < c->ports_count; i++)
		any |= c->ports[i].xdp != NULL;
	if (!any)
		return 0;
	libbpf_set_print(libbpf_print);
	for (uint32_t i = 0; i < c->ports_count; i++) {
		if (!c->ports[i].xdp)
			continue;
		int r = prepare_one(&c->ports[i], i, &xports[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

const char *dp_xdp_vdev(uint32_t i)
{
	return i < DP_MAX_PORTS && xports[i].on ? xports[i].vdev : NULL;
}

/* Parse n prefixes; on error names the bad one in err. */
static int parse_prefixes(char **list, uint32_t n, struct xdp_steer_prefix **ret, char *err,
			  size_t errlen)
{
	struct xdp_steer_prefix *p = calloc(n ? n : 1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	for (uint32_t k = 0; k < n; k++)
		if (xdp_steer_prefix_parse(list[k], &p[k]) < 0) {
			snprintf(err, errlen, "'%s' is not an address or prefix", list[k]);
			free(p);
			return -EINVAL;
		}
	*ret = p;
	return 0;
}

int dp_xdp_start(const struct dp_cfg *c, uint32_t i)
{
	struct xport *x = &xports[i];
	const struct dp_cfg_xdp *xc = c->ports[i].xdp;
	struct xdp_steer_prefix *pf = NULL;
	uint16_t ports[64];
	char err[160] = "";
	int r;

	if (!x->on)
		return 0;
	r = xdp_steer_open(x->ifname, XDP_STEER_PIN, &x->xs);
	if (r < 0) {
		xlog("ports[%u].xdp: %s: %s", i, x->ifname,
		     r == -ENOENT ? "the PMD did not attach the program (see the PMD's messages)"
		     : r == -EBUSY ? "another program than ours is attached"
				   : strerror(-r));
		return r;
	}
	bool stats = xc->exporter_stats ? *xc->exporter_stats : true;
	if ((r = xdp_steer_set_exporter_stats(x->xs, stats)) < 0) {
		xlog("ports[%u].xdp.exporter_stats: %s: %s", i, x->ifname, strerror(-r));
		return r;
	}
	if ((r = parse_prefixes(xc->allowlist, xc->allowlist_count, &pf, err, sizeof(err))) < 0 ||
	    (r = xdp_steer_set_allowlist(x->xs, pf, xc->allowlist_count, xc->allowlist != NULL)) < 0) {
		xlog("ports[%u].xdp.allowlist: %s: %s", i, x->ifname, err[0] ? err : strerror(-r));
		free(pf);
		return r;
	}
	free(pf);
	uint32_t n = c->flow_ports_count < 64 ? c->flow_ports_count : 64;
	for (uint32_t k = 0; k < n; k++)
		ports[k] = (uint16_t)c->flow_ports[k];
	if ((r = xdp_steer_set_ports(x->xs, ports, n)) < 0) {
		xlog("ports[%u].xdp: %s: flow_ports: %s", i, x->ifname, strerror(-r));
		return r;
	}
	xlog("ports[%u].xdp: %s: steering %u flow port(s) to AF_XDP, allow-list %s (%u "
	     "prefixes), maps pinned in " XDP_STEER_PIN_ROOT "/%s", i, x->ifname, n,
	     xc->allowlist ? "enforced" : "off", xc->allowlist_count, x->ifname);
	return 0;
}

int dp_xdp_set_allowlist(const char *port, const char *list, char *err, size_t errlen)
{
	uint32_t i;
	for (i = 0; xcfg && i < xcfg->ports_count; i++)
		if (strcmp(xcfg->ports[i].name, port) == 0)
			break;
	if (!xcfg || i == xcfg->ports_count) {
		snprintf(err, errlen, "no port named '%s'", port);
		return -ENOENT;
	}
	if (!xports[i].xs) {
		snprintf(err, errlen, "port '%s' has no XDP program (ports[].xdp)", port);
		return -ENOENT;
	}
	bool off = strcmp(list, "off") == 0;
	char *copy = strdup(list), *tok[4096], *save = NULL;
	uint32_t n = 0;
	if (!copy)
		return -ENOMEM;
	for (char *t = off ? NULL : strtok_r(copy, ",", &save); t && n < 4096;
	     t = strtok_r(NULL, ",", &save))
		tok[n++] = t;
	if (!off && n == 0) {
		free(copy);
		snprintf(err, errlen, "empty list (use 'off' to accept any source)");
		return -EINVAL;
	}
	struct xdp_steer_prefix *pf = NULL;
	int r = parse_prefixes(tok, n, &pf, err, errlen);
	if (r == 0) {
		r = xdp_steer_set_allowlist(xports[i].xs, pf, n, !off);
		if (r < 0)
			snprintf(err, errlen, "%s: %s", xports[i].ifname, strerror(-r));
	}
	free(pf);
	free(copy);
	return r;
}

int dp_xdp_read(uint32_t i, struct xdp_steer_counter *c, struct xdp_steer_exporter *ex,
		size_t cap, size_t *nex)
{
	*nex = 0;
	if (i >= DP_MAX_PORTS || !xports[i].xs || xdp_steer_counters(xports[i].xs, c) < 0)
		return 0;
	if (cap && xdp_steer_exporters(xports[i].xs, ex, cap, nex) < 0)
		*nex = 0;
	return 1;
}

void dp_xdp_stop(void)
{
	for (uint32_t i = 0; i < DP_MAX_PORTS; i++) {
		struct xport *x = &xports[i];
		if (!x->on)
			continue;
		/* the metrics read the handle under the lock */
		pthread_mutex_lock(&dp_g.ctl_lock);
		xdp_steer_close(x->xs);
		x->xs = NULL;
		pthread_mutex_unlock(&dp_g.ctl_lock);
		/* the PMD detaches on close; should it not have (or the port
		 * never closed), our program must not outlive us */
		struct xdp_steer_prev prev;
		if (xdp_steer_inspect(x->ifname, &prev) == 0 &&
		    (prev.kind == XDP_STEER_PREV_SAME || prev.kind == XDP_STEER_PREV_OLDER) &&
		    (prev.holder_pid == 0 || prev.holder_pid == getpid()))
			xdp_steer_detach(x->ifname, XDP_STEER_FORCE);
		xdp_steer_unpin(x->ifname);
		free(x->program);
		free(x->vdev);
		memset(x, 0, sizeof(*x));
	}
}
