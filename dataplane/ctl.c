/* ctl.c — the control plane of the dataplane: slave set, model and source
 * map, and the local unix socket flowdelta-controld (or an operator with
 * socat) changes them through, while RX keeps running.
 *
 * Every change rebuilds the routing table whole and publishes it by pointer
 * swap (dp_route_publish: RCU). Changes are serialised by dp_g.ctl_lock;
 * workers never take it.
 *
 * Protocol: one command per line, one reply line ("ok ..." or "error: ..."):
 *   add-slave NAME HOST PORT [auto|on|off]
 *   remove-slave NAME
 *   model flow-hash|round-robin|source
 *   map EXPORTER PORT SLAVE
 *   unmap EXPORTER PORT
 *   xdp-allow PORT off|PREFIX[,PREFIX...]   (ports with an xdp: block)
 *   show
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "dp.h"
#include "util/addr.h"

#define MAX_MAP (DP_SRCMAP_SIZE / 2)

static int cur_model;
static struct {
	uint8_t addr[16];
	uint16_t port;
	char slave[64];
} map[MAX_MAP];
static uint32_t nmap;

int dp_republish(void)
{
	uint8_t slots[DP_MAX_SLAVES];
	const char *names[DP_MAX_SLAVES];
	static struct dp_srcmap_ent ents[MAX_MAP];
	uint32_t n = 0, ne = 0;

	for (uint32_t i = 0; i < DP_MAX_SLAVES; i++)
		if (dp_g.slots[i].used && !dp_g.slots[i].retiring) {
			slots[n] = (uint8_t)i;
			names[n++] = dp_g.slots[i].name;
		}
	for (uint32_t m = 0; m < nmap; m++)
		for (uint32_t k = 0; k < n; k++)
			if (strcmp(map[m].slave, names[k]) == 0) {
				memcpy(ents[ne].addr, map[m].addr, 16);
				ents[ne].port = map[m].port;
				ents[ne].slot = slots[k];
				ne++;
			}
	struct dp_route *rt = dp_route_build(cur_model, slots, names, n, ents, ne);
	if (!rt)
		return -errno;
	return dp_route_publish(rt);
}

static int find_slot(const char *name)
{
	for (int i = 0; i < DP_MAX_SLAVES; i++)
		if (dp_g.slots[i].used && strcmp(dp_g.slots[i].name, name) == 0)
			return i;
	return -1;
}

static int slave_add_locked(const struct dp_cfg_slave *sl, char *err, size_t errlen)
{
	int slot = -1;

	if (find_slot(sl->name) >= 0) {
		snprintf(err, errlen, "slave '%s' exists", sl->name);
		return -EEXIST;
	}
	for (int i = 0; i < DP_MAX_SLAVES; i++)
		if (!dp_g.slots[i].used && !dp_g.slots[i].snd) {
			slot = i;
			break;
		}
	if (slot < 0) {
		snprintf(err, errlen, "no free slave slot (max %d)", DP_MAX_SLAVES);
		return -ENOSPC;
	}
	struct dp_slot *s = &dp_g.slots[slot];
	snprintf(s->name, sizeof(s->name), "%s", sl->name);
	snprintf(s->host, sizeof(s->host), "%s", sl->host);
	s->port = (uint16_t)sl->port;
	s->ack = sl->ack;
	s->discard = sl->discard;
	int r = dp_sender_start((uint32_t)slot, sl);
	if (r < 0) {
		snprintf(err, errlen, "slave '%s': sender: %s", sl->name, strerror(-r));
		return r;
	}
	s->used = true;
	s->retiring = false;
	return 0;
}

int dp_slave_add(const struct dp_cfg_slave *sl, char *err, size_t errlen)
{
	pthread_mutex_lock(&dp_g.ctl_lock);
	int r = slave_add_locked(sl, err, errlen);
	if (r == 0)
		r = dp_republish();
	pthread_mutex_unlock(&dp_g.ctl_lock);
	return r;
}

int dp_slave_remove(const char *name, char *err, size_t errlen)
{
	pthread_mutex_lock(&dp_g.ctl_lock);
	int slot = find_slot(name);
	if (slot < 0) {
		pthread_mutex_unlock(&dp_g.ctl_lock);
		snprintf(err, errlen, "no slave '%s'", name);
		return -ENOENT;
	}
	dp_g.slots[slot].retiring = true;
	int r = dp_republish(); /* returns after workers flushed to its rings */
	/* deliver what is already on its way; leftovers stay in its spool */
	dp_sender_retire((uint32_t)slot, 5000);
	dp_g.slots[slot].used = false;
	dp_g.slots[slot].retiring = false;
	pthread_mutex_unlock(&dp_g.ctl_lock);
	return r;
}

int dp_set_model(int model, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	pthread_mutex_lock(&dp_g.ctl_lock);
	cur_model = model;
	int r = dp_republish();
	pthread_mutex_unlock(&dp_g.ctl_lock);
	return r;
}

static int map_set_locked(const uint8_t a[16], uint16_t port, const char *slave)
{
	uint32_t i;
	for (i = 0; i < nmap; i++)
		if (map[i].port == port && memcmp(map[i].addr, a, 16) == 0)
			break;
	if (!slave) { /* unmap */
		if (i == nmap)
			return -ENOENT;
		map[i] = map[--nmap];
		return 0;
	}
	if (i == nmap) {
		if (nmap == MAX_MAP)
			return -ENOSPC;
		nmap++;
	}
	memcpy(map[i].addr, a, 16);
	map[i].port = port;
	snprintf(map[i].slave, sizeof(map[i].slave), "%s", slave);
	return 0;
}

int dp_srcmap_set(const char *exporter, uint16_t port, const char *slave, char *err, size_t errlen)
{
	uint8_t a[16];
	if (addr_parse(exporter, a) < 0) {
		snprintf(err, errlen, "'%s' is not an address", exporter);
		return -EINVAL;
	}
	pthread_mutex_lock(&dp_g.ctl_lock);
	if (slave && find_slot(slave) < 0) {
		pthread_mutex_unlock(&dp_g.ctl_lock);
		snprintf(err, errlen, "no slave '%s'", slave);
		return -ENOENT;
	}
	int r = map_set_locked(a, port, slave);
	if (r == 0)
		r = dp_republish();
	else
		snprintf(err, errlen, "%s", r == -ENOENT ? "no such mapping" : "source map full");
	pthread_mutex_unlock(&dp_g.ctl_lock);
	return r;
}

int dp_ctl_init(const struct dp_cfg *c, char *err, size_t errlen)
{
	int r = 0;
	pthread_mutex_lock(&dp_g.ctl_lock);
	cur_model = c->group.model;
	for (uint32_t i = 0; i < c->group.source_map_count; i++) {
		uint8_t a[16];
		addr_parse(c->group.source_map[i].exporter, a); /* checked by config.c */
		map_set_locked(a, (uint16_t)c->group.source_map[i].port, c->group.source_map[i].slave);
	}
	for (uint32_t i = 0; i < c->group.slaves_count && r == 0; i++)
		r = slave_add_locked(&c->group.slaves[i], err, errlen);
	if (r == 0)
		r = dp_republish();
	pthread_mutex_unlock(&dp_g.ctl_lock);
	return r;
}

/* ---- socket ------------------------------------------------------------- */

static int lfd = -1, stop_pipe[2] = { -1, -1 };
static pthread_t ctl_th;
static char sock_path[108];

static const char *model_name(int m)
{
	return m == DP_MODEL_ROUND_ROBIN ? "round-robin" : m == DP_MODEL_SOURCE ? "source" : "flow-hash";
}

static void command(char *line, char *out, size_t outlen)
{
	char *argv[8];
	int argc = 0;
	char err[256] = "";
	int r;

	for (char *t = strtok(line, " \t\r"); t && argc < 8; t = strtok(NULL, " \t\r"))
		argv[argc++] = t;
	if (argc == 0) {
		snprintf(out, outlen, "error: empty command\n");
		return;
	}
	if (strcmp(argv[0], "add-slave") == 0 && (argc == 4 || argc == 5)) {
		char *end;
		unsigned long port = strtoul(argv[3], &end, 10);
		struct dp_cfg_slave sl = { .name = argv[1], .host = argv[2], .port = (uint32_t)port };
		if (*end || port == 0 || port > 65535) {
			snprintf(out, outlen, "error: bad port '%s'\n", argv[3]);
			return;
		}
		if (argc == 5)
			sl.ack = strcmp(argv[4], "on") == 0    ? DP_ACK_ON
				 : strcmp(argv[4], "off") == 0 ? DP_ACK_OFF
							       : DP_ACK_AUTO;
		r = dp_slave_add(&sl, err, sizeof(err));
	} else if (strcmp(argv[0], "remove-slave") == 0 && argc == 2) {
		r = dp_slave_remove(argv[1], err, sizeof(err));
	} else if (strcmp(argv[0], "model") == 0 && argc == 2) {
		int m = strcmp(argv[1], "flow-hash") == 0     ? DP_MODEL_FLOW_HASH
			: strcmp(argv[1], "round-robin") == 0 ? DP_MODEL_ROUND_ROBIN
			: strcmp(argv[1], "source") == 0      ? DP_MODEL_SOURCE
							      : -1;
		if (m < 0) {
			snprintf(out, outlen, "error: unknown model '%s'\n", argv[1]);
			return;
		}
		r = dp_set_model(m, err, sizeof(err));
	} else if ((strcmp(argv[0], "map") == 0 && argc == 4) ||
		   (strcmp(argv[0], "unmap") == 0 && argc == 3)) {
		unsigned long port = strtoul(argv[2], NULL, 10);
		if (port == 0 || port > 65535) {
			snprintf(out, outlen, "error: bad port '%s'\n", argv[2]);
			return;
		}
		r = dp_srcmap_set(argv[1], (uint16_t)port, argc == 4 ? argv[3] : NULL, err,
				  sizeof(err));
	} else if (strcmp(argv[0], "xdp-allow") == 0 && argc == 3) {
		pthread_mutex_lock(&dp_g.ctl_lock);
		r = dp_xdp_set_allowlist(argv[1], argv[2], err, sizeof(err));
		pthread_mutex_unlock(&dp_g.ctl_lock);
	} else if (strcmp(argv[0], "show") == 0 && argc == 1) {
		pthread_mutex_lock(&dp_g.ctl_lock);
		size_t o = (size_t)snprintf(out, outlen, "ok model=%s slaves=", model_name(cur_model));
		for (int i = 0; i < DP_MAX_SLAVES && o < outlen; i++)
			if (dp_g.slots[i].used)
				o += (size_t)snprintf(out + o, outlen - o, "%s@%s:%u,", dp_g.slots[i].name,
						      dp_g.slots[i].host, dp_g.slots[i].port);
		if (o < outlen)
			snprintf(out + o, outlen - o, " maps=%u\n", nmap);
		pthread_mutex_unlock(&dp_g.ctl_lock);
		return;
	} else {
		snprintf(out, outlen, "error: unknown command or wrong arguments (see docs/dataplane.md)\n");
		return;
	}
	if (r < 0)
		snprintf(out, outlen, "error: %s\n", err[0] ? err : strerror(-r));
	else
		snprintf(out, outlen, "ok\n");
}

static void serve(int cfd)
{
	char buf[1024], out[2048];
	size_t len = 0;
	for (;;) {
		struct pollfd pf[2] = { { cfd, POLLIN, 0 }, { stop_pipe[0], POLLIN, 0 } };
		if (poll(pf, 2, 5000) <= 0 || pf[1].revents)
			return;
		ssize_t n = read(cfd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			return;
		len += (size_t)n;
		buf[len] = 0;
		char *nl;
		while ((nl = strchr(buf, '\n')) != NULL) {
			*nl = 0;
			command(buf, out, sizeof(out));
			if (write(cfd, out, strlen(out)) < 0)
				return;
			len -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, len + 1);
		}
		if (len == sizeof(buf) - 1)
			return; /* line too long */
	}
}

static void *ctl_main(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "dp-ctl");
	for (;;) {
		struct pollfd pf[2] = { { lfd, POLLIN, 0 }, { stop_pipe[0], POLLIN, 0 } };
		if (poll(pf, 2, -1) < 0 || pf[1].revents)
			break;
		int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (cfd < 0)
			continue;
		serve(cfd);
		close(cfd);
	}
	return NULL;
}

int dp_ctl_start(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	snprintf(sock_path, sizeof(sock_path), "%s", path);
	unlink(path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 8) < 0 ||
	    pipe2(stop_pipe, O_CLOEXEC) < 0)
		return -errno;
	int r = pthread_create(&ctl_th, NULL, ctl_main, NULL);
	return -r;
}

void dp_ctl_stop(void)
{
	if (lfd < 0)
		return;
	if (write(stop_pipe[1], "x", 1) < 0)
		return;
	pthread_join(ctl_th, NULL);
	close(lfd);
	lfd = -1;
	unlink(sock_path);
}
