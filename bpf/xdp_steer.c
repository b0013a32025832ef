/* xdp_steer.c — skeleton-based loader/inspector for flow_steer.bpf.c.
 *
 * Owns: loading and attaching the program, finding it again on an interface
 * (whoever loaded it: us or the DPDK PMD), pinning its maps per interface,
 * writing the port set and allow-list, and reading counters. See xdp_steer.h
 * for the two deployment paths. Never logs; every error is a -errno.
 */
#include "xdp_steer.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "flow_steer.skel.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif
#define BPFFS_ROOT "/sys/fs/bpf"

enum { M_XSKS, M_PORTS, M_ALLOW4, M_ALLOW6, M_CONFIG, M_COUNTERS, M_EXPORTERS, M_MAX };

/* Expected layout of every map, to refuse a program (or old pins) built from a
 * different flow_steer_shared.h. value_size 0 = not checked (XSKMAP). */
static const struct {
	const char *name;
	uint32_t key_size, value_size;
} map_desc[M_MAX] = {
	[M_XSKS] = { FD_XDP_MAP_XSKS, 4, 0 },
	[M_PORTS] = { FD_XDP_MAP_PORTS, 4, sizeof(struct fd_xdp_port) },
	[M_ALLOW4] = { FD_XDP_MAP_ALLOW4, sizeof(struct fd_xdp_lpm4), 1 },
	[M_ALLOW6] = { FD_XDP_MAP_ALLOW6, sizeof(struct fd_xdp_lpm6), 1 },
	[M_CONFIG] = { FD_XDP_MAP_CONFIG, 4, sizeof(struct fd_xdp_config) },
	[M_COUNTERS] = { FD_XDP_MAP_COUNTERS, 4, sizeof(struct fd_xdp_count) },
	[M_EXPORTERS] = { FD_XDP_MAP_EXPORTERS, sizeof(struct fd_xdp_exporter_key),
			  sizeof(struct fd_xdp_exporter_val) },
};

#define FD_XDP_NAME_(id, name) [FD_XDP_C_##id] = name,
static const char *const counter_names[FD_XDP_C_MAX] = { FD_XDP_COUNTERS(FD_XDP_NAME_) };
#undef FD_XDP_NAME_

struct xdp_steer {
	struct flow_steer_bpf *skel; /* set when this library loaded the program */
	int prog_fd;                 /* owned when skel == NULL */
	int map_fd[M_MAX];           /* owned when skel == NULL */
	int ifindex;                 /* 0: not attached (test handle) */
	int ncpus;
	char pin_dir[96];
};

const char *xdp_steer_counter_name(unsigned idx)
{
	return idx < FD_XDP_C_MAX ? counter_names[idx] : NULL;
}

static struct xdp_steer *steer_new(void)
{
	struct xdp_steer *xs = calloc(1, sizeof(*xs));
	int i;

	if (!xs)
		return NULL;
	xs->prog_fd = -1;
	for (i = 0; i < M_MAX; i++)
		xs->map_fd[i] = -1;
	xs->ncpus = libbpf_num_possible_cpus();
	if (xs->ncpus <= 0) {
		free(xs);
		errno = EINVAL;
		return NULL;
	}
	return xs;
}

void xdp_steer_close(struct xdp_steer *xs)
{
	int i;

	if (!xs)
		return;
	if (xs->skel) {
		flow_steer_bpf__destroy(xs->skel);
	} else {
		if (xs->prog_fd >= 0)
			close(xs->prog_fd);
		for (i = 0; i < M_MAX; i++)
			if (xs->map_fd[i] >= 0)
				close(xs->map_fd[i]);
	}
	free(xs);
}

int xdp_steer_prog_fd(const struct xdp_steer *xs)
{
	return xs->prog_fd;
}

static void skel_fds(struct xdp_steer *xs)
{
	struct bpf_map *maps[M_MAX] = {
		[M_XSKS] = xs->skel->maps.xsks_map,
		[M_PORTS] = xs->skel->maps.fd_ports,
		[M_ALLOW4] = xs->skel->maps.fd_allow4,
		[M_ALLOW6] = xs->skel->maps.fd_allow6,
		[M_CONFIG] = xs->skel->maps.fd_config,
		[M_COUNTERS] = xs->skel->maps.fd_counters,
		[M_EXPORTERS] = xs->skel->maps.fd_exporters,
	};
	int i;

	xs->prog_fd = bpf_program__fd(xs->skel->progs.fd_flow_steer);
	for (i = 0; i < M_MAX; i++)
		xs->map_fd[i] = bpf_map__fd(maps[i]);
}

/* ---- bpffs and pins ---------------------------------------------------- */

static int ensure_bpffs(void)
{
	struct statfs st;

	if (statfs(BPFFS_ROOT, &st) < 0)
		return -errno;
	if ((unsigned long)st.f_type == BPF_FS_MAGIC)
		return 0;
	/* Debian does not mount bpffs by default; libxdp and pinning need it. */
	if (mount("bpf", BPFFS_ROOT, "bpf", 0, "mode=0700") < 0)
		return -errno;
	return 0;
}

static int pin_dir_make(const char *ifname, char *dir, size_t size)
{
	int n, err;

	err = ensure_bpffs();
	if (err)
		return err;
	n = snprintf(dir, size, "%s/%s", XDP_STEER_PIN_ROOT, ifname);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	if (mkdir(XDP_STEER_PIN_ROOT, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int pin_path(const char *dir, int m, char *path, size_t size)
{
	int n = snprintf(path, size, "%s/%s", dir, map_desc[m].name);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* Removes our pins of ifname and the folder when it ends up empty. Missing
 * files are fine; bpffs itself is not mounted here. */
static void pins_remove(const char *ifname)
{
	char dir[96], path[160];
	int m;

	if (snprintf(dir, sizeof(dir), "%s/%s", XDP_STEER_PIN_ROOT, ifname) >= (int)sizeof(dir))
		return;
	for (m = 0; m < M_MAX; m++)
		if (!pin_path(dir, m, path, sizeof(path)))
			unlink(path);
	rmdir(dir);
}

/* ---- what is on the interface ------------------------------------------ */

struct attached {
	uint32_t prog_id;
	uint8_t mode; /* XDP_ATTACHED_* */
};

static int query_attached(int ifindex, struct attached *a)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	int err = bpf_xdp_query(ifindex, 0, &q);

	if (err)
		return err;
	a->mode = q.attach_mode;
	a->prog_id = q.prog_id;
	if (!a->prog_id) /* XDP_ATTACHED_MULTI reports per mode */
		a->prog_id = q.drv_prog_id ? q.drv_prog_id : q.skb_prog_id;
	return 0;
}

static uint32_t mode_flag(uint8_t mode)
{
	switch (mode) {
	case XDP_ATTACHED_SKB:
		return XDP_FLAGS_SKB_MODE;
	case XDP_ATTACHED_HW:
		return XDP_FLAGS_HW_MODE;
	default:
		return XDP_FLAGS_DRV_MODE;
	}
}

static const char *mode_name(uint8_t mode)
{
	switch (mode) {
	case XDP_ATTACHED_DRV:
		return "native";
	case XDP_ATTACHED_SKB:
		return "skb";
	case XDP_ATTACHED_HW:
		return "hw";
	case XDP_ATTACHED_MULTI:
		return "multi";
	default:
		return "none";
	}
}

static void tag_hex(const uint8_t tag[8], char out[17])
{
	int i;

	for (i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", tag[i]);
}

static int prog_info_fd(int fd, struct bpf_prog_info *info)
{
	uint32_t len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	return bpf_obj_get_info_by_fd(fd, info, &len) ? -errno : 0;
}

/* The tag the kernel computes for this build's program (map fds do not enter
 * it), used to tell "our program left by a crash" from "an older build". The
 * program is loaded and freed again: a few milliseconds. */
static int our_tag(char out[17])
{
	struct flow_steer_bpf *skel = flow_steer_bpf__open_and_load();
	struct bpf_prog_info info;
	int err;

	if (!skel)
		return -errno;
	err = prog_info_fd(bpf_program__fd(skel->progs.fd_flow_steer), &info);
	if (!err)
		tag_hex(info.tag, out);
	flow_steer_bpf__destroy(skel);
	return err;
}

/* pid of another process holding an fd of program prog_id, else 0. A running
 * dataplane (the DPDK PMD keeps its bpf_object loaded) holds one; after a
 * crash nobody does, which is what makes an attached program stale. Only
 * run on attach/prepare/inspect, never per packet: it walks /proc. */
static int prog_holder(uint32_t prog_id)
{
	char want[32], path[600], link[64], buf[512];
	struct dirent *p, *f;
	DIR *proc, *fds;
	int self = getpid(), found = 0;

	snprintf(want, sizeof(want), "prog_id:\t%u\n", prog_id);
	proc = opendir("/proc");
	if (!proc)
		return 0;
	while (!found && (p = readdir(proc))) {
		if (!isdigit((unsigned char)p->d_name[0]) || atoi(p->d_name) == self)
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", p->d_name);
		fds = opendir(path);
		if (!fds)
			continue; /* gone, or not ours to see */
		while (!found && (f = readdir(fds))) {
			ssize_t n;
			int fd;

			snprintf(path, sizeof(path), "/proc/%s/fd/%s", p->d_name, f->d_name);
			n = readlink(path, link, sizeof(link) - 1);
			if (n <= 0)
				continue;
			link[n] = '\0';
			if (strcmp(link, "anon_inode:bpf-prog") != 0)
				continue;
			snprintf(path, sizeof(path), "/proc/%s/fdinfo/%s", p->d_name, f->d_name);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				continue;
			n = read(fd, buf, sizeof(buf) - 1);
			close(fd);
			if (n > 0) {
				buf[n] = '\0';
				if (strstr(buf, want))
					found = atoi(p->d_name);
			}
		}
		closedir(fds);
	}
	closedir(proc);
	return found;
}

/* Describes the program attached to ifindex in *prev (kind NONE if none).
 * our_tag_hex may be NULL: then a program named like ours counts as SAME. */
static int classify(int ifindex, const char *our_tag_hex, struct xdp_steer_prev *prev,
		    struct attached *a)
{
	struct bpf_prog_info info;
	int fd, err;

	memset(prev, 0, sizeof(*prev));
	err = query_attached(ifindex, a);
	if (err)
		return err;
	if (!a->prog_id)
		return 0;
	fd = bpf_prog_get_fd_by_id(a->prog_id);
	if (fd < 0)
		return -errno;
	err = prog_info_fd(fd, &info);
	close(fd);
	if (err)
		return err;
	prev->prog_id = a->prog_id;
	memcpy(prev->name, info.name, sizeof(prev->name) - 1);
	tag_hex(info.tag, prev->tag);
	if (strcmp(prev->name, FD_XDP_PROG_NAME) != 0)
		prev->kind = XDP_STEER_PREV_FOREIGN;
	else if (!our_tag_hex || !strcmp(prev->tag, our_tag_hex))
		prev->kind = XDP_STEER_PREV_SAME;
	else
		prev->kind = XDP_STEER_PREV_OLDER;
	prev->holder_pid = prog_holder(a->prog_id);
	return 0;
}

/* Detaches exactly prog_id (XDP_FLAGS_REPLACE makes the kernel refuse if the
 * interface changed under us meanwhile). */
static int detach_prog(int ifindex, const struct attached *a)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, o);
	int fd, err;

	fd = bpf_prog_get_fd_by_id(a->prog_id);
	if (fd < 0)
		return -errno;
	o.old_prog_fd = fd;
	err = bpf_xdp_detach(ifindex, mode_flag(a->mode) | XDP_FLAGS_REPLACE, &o);
	close(fd);
	return err;
}

/* ---- attach / prepare / open / detach ---------------------------------- */

/* Loads the skeleton with every map pinned under dir. Pins that exist with a
 * compatible layout are reused (the port set and allow-list survive a
 * restart); incompatible ones (older layout) are removed and recreated. */
static int load_pinned(const char *ifname, const char *dir, struct flow_steer_bpf **ret)
{
	struct flow_steer_bpf *skel;
	struct bpf_map *map;
	char path[160];
	int attempt, err = 0;

	for (attempt = 0; attempt < 2; attempt++) {
		skel = flow_steer_bpf__open();
		if (!skel)
			return -errno;
		bpf_object__for_each_map(map, skel->obj) {
			if (snprintf(path, sizeof(path), "%s/%s", dir, bpf_map__name(map)) >=
			    (int)sizeof(path)) {
				err = -ENAMETOOLONG;
				goto fail;
			}
			err = bpf_map__set_pin_path(map, path);
			if (err)
				goto fail;
		}
		err = flow_steer_bpf__load(skel);
		if (!err) {
			*ret = skel;
			return 0;
		}
fail:
		flow_steer_bpf__destroy(skel);
		if (err != -EINVAL)
			return err;
		pins_remove(ifname); /* libbpf: pinned map incompatible */
		err = pin_dir_make(ifname, path, sizeof(path));
		if (err)
			return err;
	}
	return -EINVAL;
}

static int attach_modes(unsigned flags, uint32_t modes[2])
{
	if ((flags & XDP_STEER_SKB) && (flags & XDP_STEER_NATIVE))
		return -EINVAL;
	if (flags & XDP_STEER_SKB) {
		modes[0] = XDP_FLAGS_SKB_MODE;
		return 1;
	}
	modes[0] = XDP_FLAGS_DRV_MODE;
	if (flags & XDP_STEER_NATIVE)
		return 1;
	modes[1] = XDP_FLAGS_SKB_MODE;
	return 2;
}

int xdp_steer_attach(const char *ifname, unsigned flags, struct xdp_steer **ret,
		     struct xdp_steer_prev *ret_prev)
{
	struct xdp_steer_prev prev;
	struct xdp_steer *xs = NULL;
	struct attached a;
	struct bpf_prog_info info;
	char tag[17];
	uint32_t modes[2];
	int ifindex, nmodes, i, err;

	nmodes = attach_modes(flags, modes);
	if (nmodes < 0)
		return nmodes;
	ifindex = if_nametoindex(ifname);
	if (!ifindex)
		return -ENODEV;
	/* Refuse a foreign program before touching anything. */
	err = classify(ifindex, NULL, &prev, &a);
	if (err)
		return err;
	if (prev.kind != XDP_STEER_PREV_NONE && !(flags & XDP_STEER_FORCE) &&
	    (prev.kind == XDP_STEER_PREV_FOREIGN || prev.holder_pid))
		return -EBUSY;

	xs = steer_new();
	if (!xs)
		return -errno;
	xs->ifindex = ifindex;
	err = pin_dir_make(ifname, xs->pin_dir, sizeof(xs->pin_dir));
	if (err)
		goto fail;
	err = load_pinned(ifname, xs->pin_dir, &xs->skel);
	if (err)
		goto fail;
	skel_fds(xs);
	err = prog_info_fd(xs->prog_fd, &info);
	if (err)
		goto fail;
	tag_hex(info.tag, tag);
	if (prev.kind == XDP_STEER_PREV_SAME && strcmp(prev.tag, tag) != 0)
		prev.kind = XDP_STEER_PREV_OLDER;

	err = -EOPNOTSUPP;
	for (i = 0; i < nmodes; i++) {
		LIBBPF_OPTS(bpf_xdp_attach_opts, o);
		int old_fd = -1;

		if (a.prog_id && mode_flag(a.mode) == modes[i]) {
			/* Same mode: swap atomically, no frame misses a program. */
			old_fd = bpf_prog_get_fd_by_id(a.prog_id);
			if (old_fd < 0) {
				err = -errno;
				goto fail;
			}
			o.old_prog_fd = old_fd;
			err = bpf_xdp_attach(ifindex, xs->prog_fd, modes[i] | XDP_FLAGS_REPLACE, &o);
			close(old_fd);
		} else {
			if (a.prog_id) {
				/* Native and generic programs cannot coexist:
				 * the old one must go first. */
				err = detach_prog(ifindex, &a);
				if (err)
					goto fail;
				a.prog_id = 0;
			}
			err = bpf_xdp_attach(ifindex, xs->prog_fd, modes[i], NULL);
		}
		if (!err)
			break;
		if (err != -EOPNOTSUPP && err != -EINVAL)
			goto fail;
	}
	if (err)
		goto fail;
	if (ret_prev)
		*ret_prev = prev;
	*ret = xs;
	return 0;
fail:
	xdp_steer_close(xs);
	return err;
}

int xdp_steer_prepare(const char *ifname, unsigned flags, struct xdp_steer_prev *ret_prev)
{
	struct xdp_steer_prev prev;
	struct attached a;
	char dir[96], tag[17];
	int ifindex, err;

	ifindex = if_nametoindex(ifname);
	if (!ifindex)
		return -ENODEV;
	err = pin_dir_make(ifname, dir, sizeof(dir));
	if (err)
		return err;
	err = our_tag(tag);
	if (err)
		return err;
	err = classify(ifindex, tag, &prev, &a);
	if (err)
		return err;
	if (prev.kind != XDP_STEER_PREV_NONE && !(flags & XDP_STEER_FORCE) &&
	    (prev.kind == XDP_STEER_PREV_FOREIGN || prev.holder_pid))
		return -EBUSY;
	if (prev.kind != XDP_STEER_PREV_NONE) {
		err = detach_prog(ifindex, &a);
		if (err)
			return err;
	}
	/* Old pins belong to the old program; the PMD's program gets fresh maps
	 * and xdp_steer_open(PIN) pins those. */
	pins_remove(ifname);
	err = pin_dir_make(ifname, dir, sizeof(dir));
	if (err)
		return err;
	if (ret_prev)
		*ret_prev = prev;
	return 0;
}

static int check_map(int fd, int m)
{
	struct bpf_map_info info;
	uint32_t len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	if (info.key_size != map_desc[m].key_size ||
	    (map_desc[m].value_size && info.value_size != map_desc[m].value_size))
		return -EPROTO;
	return 0;
}

int xdp_steer_open(const char *ifname, unsigned flags, struct xdp_steer **ret)
{
	struct xdp_steer_prev prev;
	struct bpf_prog_info info;
	struct xdp_steer *xs;
	struct attached a;
	uint32_t ids[16], len;
	char path[160];
	int ifindex, i, m, err;

	ifindex = if_nametoindex(ifname);
	if (!ifindex)
		return -ENODEV;
	err = classify(ifindex, NULL, &prev, &a);
	if (err)
		return err;
	if (prev.kind == XDP_STEER_PREV_NONE)
		return -ENOENT;
	if (prev.kind == XDP_STEER_PREV_FOREIGN)
		return -EBUSY;

	xs = steer_new();
	if (!xs)
		return -errno;
	xs->ifindex = ifindex;
	xs->prog_fd = bpf_prog_get_fd_by_id(a.prog_id);
	if (xs->prog_fd < 0) {
		err = -errno;
		goto fail;
	}
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = sizeof(ids) / sizeof(ids[0]);
	info.map_ids = (uintptr_t)ids;
	len = sizeof(info);
	if (bpf_obj_get_info_by_fd(xs->prog_fd, &info, &len)) {
		err = -errno;
		goto fail;
	}
	if (info.nr_map_ids > sizeof(ids) / sizeof(ids[0])) {
		err = -EPROTO;
		goto fail;
	}
	for (i = 0; i < (int)info.nr_map_ids; i++) {
		struct bpf_map_info mi;
		uint32_t mlen = sizeof(mi);
		int fd = bpf_map_get_fd_by_id(ids[i]);

		if (fd < 0) {
			err = -errno;
			goto fail;
		}
		memset(&mi, 0, sizeof(mi));
		if (bpf_obj_get_info_by_fd(fd, &mi, &mlen)) {
			err = -errno;
			close(fd);
			goto fail;
		}
		for (m = 0; m < M_MAX; m++)
			if (!strcmp(mi.name, map_desc[m].name) && xs->map_fd[m] < 0)
				break;
		if (m == M_MAX) {
			close(fd); /* .rodata etc.: not ours to manage */
			continue;
		}
		xs->map_fd[m] = fd;
	}
	for (m = 0; m < M_MAX; m++) {
		if (xs->map_fd[m] < 0) {
			err = -EPROTO; /* same name, but not our layout */
			goto fail;
		}
		err = check_map(xs->map_fd[m], m);
		if (err)
			goto fail;
	}
	if (flags & XDP_STEER_PIN) {
		err = pin_dir_make(ifname, xs->pin_dir, sizeof(xs->pin_dir));
		if (err)
			goto fail;
		for (m = 0; m < M_MAX; m++) {
			err = pin_path(xs->pin_dir, m, path, sizeof(path));
			if (err)
				goto fail;
			if (unlink(path) < 0 && errno != ENOENT) {
				err = -errno;
				goto fail;
			}
			if (bpf_obj_pin(xs->map_fd[m], path)) {
				err = -errno;
				goto fail;
			}
		}
	} else {
		/* Report the pin folder only if it holds this program's maps. */
		char dir[96];
		struct stat st;

		if (snprintf(dir, sizeof(dir), "%s/%s", XDP_STEER_PIN_ROOT, ifname) <
			    (int)sizeof(dir) &&
		    !pin_path(dir, M_PORTS, path, sizeof(path)) && stat(path, &st) == 0) {
			int fd = bpf_obj_get(path);
			struct bpf_map_info a1, a2;
			uint32_t l1 = sizeof(a1), l2 = sizeof(a2);

			memset(&a1, 0, sizeof(a1));
			memset(&a2, 0, sizeof(a2));
			if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &a1, &l1) &&
			    !bpf_obj_get_info_by_fd(xs->map_fd[M_PORTS], &a2, &l2) && a1.id == a2.id)
				snprintf(xs->pin_dir, sizeof(xs->pin_dir), "%s", dir);
			if (fd >= 0)
				close(fd);
		}
	}
	*ret = xs;
	return 0;
fail:
	xdp_steer_close(xs);
	return err;
}

int xdp_steer_load_unattached(struct xdp_steer **ret)
{
	struct xdp_steer *xs = steer_new();
	int err;

	if (!xs)
		return -errno;
	xs->skel = flow_steer_bpf__open_and_load();
	if (!xs->skel) {
		err = -errno;
		xdp_steer_close(xs);
		return err;
	}
	skel_fds(xs);
	*ret = xs;
	return 0;
}

int xdp_steer_unpin(const char *ifname)
{
	if (strchr(ifname, '/') || !strcmp(ifname, ".") || !strcmp(ifname, ".."))
		return -EINVAL;
	pins_remove(ifname);
	return 0;
}

int xdp_steer_inspect(const char *ifname, struct xdp_steer_prev *ret)
{
	struct xdp_steer_prev prev;
	struct attached a;
	char tag[17];
	int ifindex, err;

	ifindex = if_nametoindex(ifname);
	if (!ifindex)
		return -ENODEV;
	err = our_tag(tag);
	if (err)
		return err;
	err = classify(ifindex, tag, &prev, &a);
	if (err)
		return err;
	*ret = prev;
	return 0;
}

int xdp_steer_detach(const char *ifname, unsigned flags)
{
	struct xdp_steer_prev prev;
	struct attached a;
	int ifindex, err;

	ifindex = if_nametoindex(ifname);
	if (!ifindex)
		return -ENODEV;
	err = classify(ifindex, NULL, &prev, &a);
	if (err)
		return err;
	if (prev.kind == XDP_STEER_PREV_NONE) {
		pins_remove(ifname);
		return -ENOENT;
	}
	if (!(flags & XDP_STEER_FORCE) &&
	    (prev.kind == XDP_STEER_PREV_FOREIGN || prev.holder_pid))
		return -EBUSY;
	err = detach_prog(ifindex, &a);
	if (err)
		return err;
	pins_remove(ifname);
	return 0;
}

static int read_config(struct xdp_steer *xs, struct fd_xdp_config *cfg)
{
	uint32_t key = 0;

	return bpf_map_lookup_elem(xs->map_fd[M_CONFIG], &key, cfg) ? -errno : 0;
}

int xdp_steer_info(struct xdp_steer *xs, struct xdp_steer_info *ret)
{
	struct fd_xdp_config cfg;
	struct xdp_steer_info out;
	struct bpf_prog_info info;
	struct attached a = { 0, XDP_ATTACHED_NONE };
	char tag[17];
	int err;

	memset(&out, 0, sizeof(out));
	err = prog_info_fd(xs->prog_fd, &info);
	if (err)
		return err;
	out.prog_id = info.id;
	memcpy(out.name, info.name, sizeof(out.name) - 1);
	tag_hex(info.tag, out.tag);
	if (xs->ifindex) {
		err = query_attached(xs->ifindex, &a);
		if (err)
			return err;
	}
	out.mode = a.prog_id == info.id ? mode_name(a.mode) : "detached";
	if (xs->skel) {
		out.ours_tag = true;
	} else {
		err = our_tag(tag);
		if (err)
			return err;
		out.ours_tag = !strcmp(tag, out.tag);
	}
	err = read_config(xs, &cfg);
	if (err)
		return err;
	out.allowlist = cfg.flags & FD_XDP_CFG_ALLOWLIST;
	out.exporter_stats = !(cfg.flags & FD_XDP_CFG_NO_EXPORTER_STATS);
	snprintf(out.pin_dir, sizeof(out.pin_dir), "%s", xs->pin_dir);
	*ret = out;
	return 0;
}

/* ---- configuration ------------------------------------------------------ */

int xdp_steer_set_ports(struct xdp_steer *xs, const uint16_t *ports, size_t n)
{
	uint8_t *want;
	uint32_t key;
	size_t i;
	int err = 0;

	want = calloc(FD_XDP_MAX_PORTS, 1);
	if (!want)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		want[ports[i]] = 1;
	/* Two passes: set every wanted port, then clear the others. */
	for (i = 0; i < n; i++) {
		struct fd_xdp_port v = { .flow = 1 };

		key = ports[i];
		if (bpf_map_update_elem(xs->map_fd[M_PORTS], &key, &v, BPF_ANY)) {
			err = -errno;
			goto out;
		}
	}
	for (key = 0; key < FD_XDP_MAX_PORTS; key++) {
		struct fd_xdp_port v;

		if (want[key])
			continue;
		if (bpf_map_lookup_elem(xs->map_fd[M_PORTS], &key, &v)) {
			err = -errno;
			goto out;
		}
		if (!v.flow)
			continue;
		v.flow = 0;
		if (bpf_map_update_elem(xs->map_fd[M_PORTS], &key, &v, BPF_ANY)) {
			err = -errno;
			goto out;
		}
	}
out:
	free(want);
	return err;
}

int xdp_steer_get_ports(struct xdp_steer *xs, uint16_t *ports, size_t cap, size_t *ret_n)
{
	size_t n = 0;
	uint32_t key;

	for (key = 0; key < FD_XDP_MAX_PORTS; key++) {
		struct fd_xdp_port v;

		if (bpf_map_lookup_elem(xs->map_fd[M_PORTS], &key, &v))
			return -errno;
		if (!v.flow)
			continue;
		if (n < cap)
			ports[n] = (uint16_t)key;
		n++;
	}
	*ret_n = n < cap ? n : cap;
	return 0;
}

static int set_config_flag(struct xdp_steer *xs, uint32_t flag, bool on)
{
	struct fd_xdp_config cfg;
	uint32_t key = 0;
	int err = read_config(xs, &cfg);

	if (err)
		return err;
	cfg.flags = on ? cfg.flags | flag : cfg.flags & ~flag;
	if (bpf_map_update_elem(xs->map_fd[M_CONFIG], &key, &cfg, BPF_ANY))
		return -errno;
	return 0;
}

int xdp_steer_set_exporter_stats(struct xdp_steer *xs, bool on)
{
	return set_config_flag(xs, FD_XDP_CFG_NO_EXPORTER_STATS, !on);
}

/* Zero the host bits so equal prefixes have equal keys. */
static void prefix_mask(uint8_t *addr, unsigned bytes, unsigned len)
{
	unsigned i;

	for (i = 0; i < bytes; i++) {
		if (len >= 8) {
			len -= 8;
		} else {
			addr[i] &= (uint8_t)(0xff00 >> len);
			len = 0;
		}
	}
}

/* Key bytes of prefix p for its family's trie; returns the key size. */
static size_t prefix_key(const struct xdp_steer_prefix *p, uint8_t key[20])
{
	uint32_t plen = p->len;
	unsigned bytes = p->family == 4 ? 4 : 16;

	memcpy(key, &plen, 4);
	memcpy(key + 4, p->addr, bytes);
	prefix_mask(key + 4, bytes, p->len);
	return 4 + bytes;
}

static bool key_wanted(const uint8_t *key, size_t ksize, int family,
		       const struct xdp_steer_prefix *p, size_t n)
{
	uint8_t k[20];
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i].family == family && prefix_key(&p[i], k) == ksize &&
		    !memcmp(k, key, ksize))
			return true;
	return false;
}

/* Deletes every entry of the trie that is not in p[n]. */
static int trie_prune(int fd, int family, const struct xdp_steer_prefix *p, size_t n)
{
	size_t ksize = family == 4 ? sizeof(struct fd_xdp_lpm4) : sizeof(struct fd_xdp_lpm6);
	uint8_t cur[20], next[20];
	bool have_cur = false;
	unsigned guard;

	for (guard = 0; guard <= FD_XDP_MAX_PREFIXES; guard++) {
		if (bpf_map_get_next_key(fd, have_cur ? cur : NULL, next)) {
			if (errno == ENOENT)
				return 0;
			return -errno;
		}
		if (!key_wanted(next, ksize, family, p, n)) {
			if (bpf_map_delete_elem(fd, next) && errno != ENOENT)
				return -errno;
			/* LPM get_next_key restarts from the start when the
			 * key is gone, so keep the previous cursor. */
		} else {
			memcpy(cur, next, ksize);
			have_cur = true;
		}
	}
	return -E2BIG;
}

int xdp_steer_set_allowlist(struct xdp_steer *xs, const struct xdp_steer_prefix *p,
			    size_t n, bool enforce)
{
	uint8_t key[20], one = 1;
	size_t i;
	int err;

	for (i = 0; i < n; i++)
		if (!((p[i].family == 4 && p[i].len <= 32) || (p[i].family == 6 && p[i].len <= 128)))
			return -EINVAL;
	if (n > FD_XDP_MAX_PREFIXES)
		return -E2BIG;
	if (!enforce) {
		err = set_config_flag(xs, FD_XDP_CFG_ALLOWLIST, false);
		if (err)
			return err;
	}
	for (i = 0; i < n; i++) {
		int fd = xs->map_fd[p[i].family == 4 ? M_ALLOW4 : M_ALLOW6];

		prefix_key(&p[i], key);
		if (bpf_map_update_elem(fd, key, &one, BPF_ANY))
			return -errno;
	}
	err = trie_prune(xs->map_fd[M_ALLOW4], 4, p, n);
	if (!err)
		err = trie_prune(xs->map_fd[M_ALLOW6], 6, p, n);
	if (err)
		return err;
	return enforce ? set_config_flag(xs, FD_XDP_CFG_ALLOWLIST, true) : 0;
}

int xdp_steer_prefix_parse(const char *s, struct xdp_steer_prefix *ret)
{
	struct xdp_steer_prefix p;
	char buf[INET6_ADDRSTRLEN + 8];
	char *slash, *end;
	unsigned long len;

	memset(&p, 0, sizeof(p));
	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, p.addr) == 1) {
		p.family = 4;
		p.len = 32;
	} else if (inet_pton(AF_INET6, buf, p.addr) == 1) {
		p.family = 6;
		p.len = 128;
	} else {
		return -EINVAL;
	}
	if (slash) {
		errno = 0;
		len = strtoul(slash + 1, &end, 10);
		if (errno || end == slash + 1 || *end || len > p.len)
			return -EINVAL;
		p.len = (uint8_t)len;
	}
	*ret = p;
	return 0;
}

/* ---- counters ----------------------------------------------------------- */

int xdp_steer_counters(struct xdp_steer *xs, struct xdp_steer_counter out[FD_XDP_C_MAX])
{
	struct fd_xdp_count *v;
	uint32_t key;
	int cpu;

	/* Per-CPU values come back as one 8-byte-aligned slot per possible CPU. */
	v = calloc(xs->ncpus, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (key = 0; key < FD_XDP_C_MAX; key++) {
		if (bpf_map_lookup_elem(xs->map_fd[M_COUNTERS], &key, v)) {
			int err = -errno;

			free(v);
			return err;
		}
		out[key].name = counter_names[key];
		out[key].packets = 0;
		out[key].bytes = 0;
		for (cpu = 0; cpu < xs->ncpus; cpu++) {
			out[key].packets += v[cpu].packets;
			out[key].bytes += v[cpu].bytes;
		}
	}
	free(v);
	return 0;
}

static int exporter_cmp(const void *a, const void *b)
{
	const struct xdp_steer_exporter *x = a, *y = b;

	if (x->packets != y->packets)
		return x->packets < y->packets ? 1 : -1;
	return memcmp(x->addr, y->addr, sizeof(x->addr)); /* stable order on ties */
}

int xdp_steer_exporters(struct xdp_steer *xs, struct xdp_steer_exporter *out, size_t cap,
			size_t *ret_n)
{
	struct fd_xdp_exporter_key cur, next;
	struct fd_xdp_exporter_val *v = NULL;
	struct xdp_steer_exporter *all = NULL;
	size_t n = 0, guard;
	bool have_cur = false;
	int cpu, err = 0;

	v = calloc(xs->ncpus, sizeof(*v));
	all = calloc(FD_XDP_MAX_EXPORTERS, sizeof(*all));
	if (!v || !all) {
		err = -ENOMEM;
		goto out;
	}
	/* The data path may insert or evict while we walk: the guard bounds
	 * the walk, and a key that vanished between next_key and lookup is
	 * skipped. */
	for (guard = 0; guard < 2 * FD_XDP_MAX_EXPORTERS && n < FD_XDP_MAX_EXPORTERS; guard++) {
		struct xdp_steer_exporter *e;

		if (bpf_map_get_next_key(xs->map_fd[M_EXPORTERS], have_cur ? &cur : NULL, &next)) {
			if (errno != ENOENT)
				err = -errno;
			break;
		}
		cur = next;
		have_cur = true;
		if (bpf_map_lookup_elem(xs->map_fd[M_EXPORTERS], &cur, v))
			continue;
		e = &all[n++];
		e->family = cur.family;
		memcpy(e->addr, cur.addr, sizeof(e->addr));
		e->port = cur.port;
		for (cpu = 0; cpu < xs->ncpus; cpu++) {
			e->packets += v[cpu].packets;
			e->bytes += v[cpu].bytes;
		}
	}
	if (err)
		goto out;
	qsort(all, n, sizeof(*all), exporter_cmp);
	if (n > cap)
		n = cap;
	memcpy(out, all, n * sizeof(*all));
	*ret_n = n;
out:
	free(v);
	free(all);
	return err;
}
