/* config.c — the dataplane's YAML configuration: libcyaml schema, defaults,
 * and the checks libcyaml cannot express (cross references, ranges).
 *
 * Every error names the key's path ("group.slaves[1].port: ..."): libcyaml
 * reports unknown keys and type errors with a backtrace, which we fold into a
 * path; our own checks build the path themselves.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cyaml/cyaml.h>

#include "dp.h"
#include "util/addr.h"
#include "xdp_steer.h" /* xdp_steer_prefix_parse(): the loader's own syntax */

/* ---- schema ----------------------------------------------------------- */

static const cyaml_schema_value_t str_entry = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 0, CYAML_UNLIMITED),
};
static const cyaml_schema_value_t u32_entry = {
	CYAML_VALUE_UINT(CYAML_FLAG_DEFAULT, uint32_t),
};

static const cyaml_schema_field_t eal_fields[] = {
	CYAML_FIELD_STRING_PTR("lcores", CYAML_FLAG_POINTER, struct dp_cfg_eal, lcores, 1, 256),
	CYAML_FIELD_UINT("main_lcore", CYAML_FLAG_OPTIONAL, struct dp_cfg_eal, main_lcore),
	CYAML_FIELD_UINT("memory_mb", CYAML_FLAG_OPTIONAL, struct dp_cfg_eal, memory_mb),
	CYAML_FIELD_BOOL("no_huge", CYAML_FLAG_OPTIONAL, struct dp_cfg_eal, no_huge),
	CYAML_FIELD_BOOL("no_pci", CYAML_FLAG_OPTIONAL, struct dp_cfg_eal, no_pci),
	CYAML_FIELD_STRING_PTR("file_prefix", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
			       struct dp_cfg_eal, file_prefix, 1, 64),
	CYAML_FIELD_SEQUENCE("plugins", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
			     struct dp_cfg_eal, plugins, &str_entry, 0, 64),
	CYAML_FIELD_SEQUENCE("extra_args", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
			     struct dp_cfg_eal, extra_args, &str_entry, 0, 64),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t xdp_fields[] = {
	CYAML_FIELD_STRING_PTR("program", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
			       struct dp_cfg_xdp, program, 1, 4000),
	CYAML_FIELD_SEQUENCE("allowlist", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
			     struct dp_cfg_xdp, allowlist, &str_entry, 1, 4096),
	CYAML_FIELD_BOOL_PTR("exporter_stats", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
			     struct dp_cfg_xdp, exporter_stats),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t port_fields[] = {
	CYAML_FIELD_STRING_PTR("name", CYAML_FLAG_POINTER, struct dp_cfg_port, name, 1, 32),
	CYAML_FIELD_STRING_PTR("vdev", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
			       struct dp_cfg_port, vdev, 1, 1024),
	CYAML_FIELD_STRING_PTR("pci", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
			       struct dp_cfg_port, pci, 1, 64),
	CYAML_FIELD_STRING_PTR("replay", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
			       struct dp_cfg_port, replay, 1, 4000),
	CYAML_FIELD_UINT("rx_queues", CYAML_FLAG_OPTIONAL, struct dp_cfg_port, rx_queues),
	CYAML_FIELD_UINT("rx_desc", CYAML_FLAG_OPTIONAL, struct dp_cfg_port, rx_desc),
	CYAML_FIELD_MAPPING_PTR("xdp", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct dp_cfg_port,
				xdp, xdp_fields),
	CYAML_FIELD_END
};
static const cyaml_schema_value_t port_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct dp_cfg_port, port_fields),
};

static const cyaml_schema_field_t worker_fields[] = {
	CYAML_FIELD_UINT("lcore", CYAML_FLAG_DEFAULT, struct dp_cfg_worker, lcore),
	CYAML_FIELD_STRING_PTR("port", CYAML_FLAG_POINTER, struct dp_cfg_worker, port, 1, 32),
	CYAML_FIELD_UINT("queue", CYAML_FLAG_OPTIONAL, struct dp_cfg_worker, queue),
	CYAML_FIELD_END
};
static const cyaml_schema_value_t worker_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct dp_cfg_worker, worker_fields),
};

static const cyaml_strval_t model_strings[] = {
	{ "flow-hash", DP_MODEL_FLOW_HASH },
	{ "round-robin", DP_MODEL_ROUND_ROBIN },
	{ "source", DP_MODEL_SOURCE },
};
static const cyaml_strval_t ack_strings[] = {
	{ "auto", DP_ACK_AUTO },
	{ "on", DP_ACK_ON },
	{ "off", DP_ACK_OFF },
};

static const cyaml_schema_field_t slave_fields[] = {
	CYAML_FIELD_STRING_PTR("name", CYAML_FLAG_POINTER, struct dp_cfg_slave, name, 1, 63),
	CYAML_FIELD_STRING_PTR("host", CYAML_FLAG_POINTER, struct dp_cfg_slave, host, 1, 255),
	CYAML_FIELD_UINT("port", CYAML_FLAG_OPTIONAL, struct dp_cfg_slave, port),
	CYAML_FIELD_ENUM("ack", CYAML_FLAG_OPTIONAL | CYAML_FLAG_STRICT, struct dp_cfg_slave, ack,
			 ack_strings, CYAML_ARRAY_LEN(ack_strings)),
	CYAML_FIELD_BOOL("discard", CYAML_FLAG_OPTIONAL, struct dp_cfg_slave, discard),
	CYAML_FIELD_END
};
static const cyaml_schema_value_t slave_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct dp_cfg_slave, slave_fields),
};

static const cyaml_schema_field_t srcmap_fields[] = {
	CYAML_FIELD_STRING_PTR("exporter", CYAML_FLAG_POINTER, struct dp_cfg_srcmap, exporter, 1, 64),
	CYAML_FIELD_UINT("port", CYAML_FLAG_DEFAULT, struct dp_cfg_srcmap, port),
	CYAML_FIELD_STRING_PTR("slave", CYAML_FLAG_POINTER, struct dp_cfg_srcmap, slave, 1, 63),
	CYAML_FIELD_END
};
static const cyaml_schema_value_t srcmap_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct dp_cfg_srcmap, srcmap_fields),
};

static const cyaml_schema_field_t group_fields[] = {
	CYAML_FIELD_ENUM("model", CYAML_FLAG_OPTIONAL | CYAML_FLAG_STRICT, struct dp_cfg_group,
			 model, model_strings, CYAML_ARRAY_LEN(model_strings)),
	CYAML_FIELD_UINT("odid", CYAML_FLAG_OPTIONAL, struct dp_cfg_group, odid),
	CYAML_FIELD_SEQUENCE("slaves", CYAML_FLAG_POINTER, struct dp_cfg_group, slaves,
			     &slave_entry, 1, DP_MAX_SLAVES),
	CYAML_FIELD_SEQUENCE("source_map", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
			     struct dp_cfg_group, source_map, &srcmap_entry, 0, DP_SRCMAP_SIZE / 2),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t senders_fields[] = {
	CYAML_FIELD_STRING_PTR("cpus", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
			       struct dp_cfg_senders, cpus, 1, 256),
	CYAML_FIELD_UINT("ring_size", CYAML_FLAG_OPTIONAL, struct dp_cfg_senders, ring_size),
	CYAML_FIELD_UINT("msg_bytes", CYAML_FLAG_OPTIONAL, struct dp_cfg_senders, msg_bytes),
	CYAML_FIELD_UINT("flush_ms", CYAML_FLAG_OPTIONAL, struct dp_cfg_senders, flush_ms),
	CYAML_FIELD_UINT("window", CYAML_FLAG_OPTIONAL, struct dp_cfg_senders, window),
	CYAML_FIELD_UINT("ack_timeout_ms", CYAML_FLAG_OPTIONAL, struct dp_cfg_senders,
			 ack_timeout_ms),
	CYAML_FIELD_UINT("reconnect_max_ms", CYAML_FLAG_OPTIONAL, struct dp_cfg_senders,
			 reconnect_max_ms),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t spool_fields[] = {
	CYAML_FIELD_STRING_PTR("dir", CYAML_FLAG_POINTER, struct dp_cfg_spool, dir, 1, 4000),
	CYAML_FIELD_UINT("max_mb", CYAML_FLAG_OPTIONAL, struct dp_cfg_spool, max_mb),
	CYAML_FIELD_UINT("file_mb", CYAML_FLAG_OPTIONAL, struct dp_cfg_spool, file_mb),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t stats_fields[] = {
	CYAML_FIELD_STRING_PTR("listen", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
			       struct dp_cfg_stats, listen, 0, 300),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t control_fields[] = {
	CYAML_FIELD_STRING_PTR("socket", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
			       struct dp_cfg_control, socket, 0, 107),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t poll_fields[] = {
	CYAML_FIELD_UINT("idle_sleep_us", CYAML_FLAG_OPTIONAL, struct dp_cfg_poll, idle_sleep_us),
	CYAML_FIELD_UINT_PTR("idle_after", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
			     struct dp_cfg_poll, idle_after),
	CYAML_FIELD_UINT("rt_priority", CYAML_FLAG_OPTIONAL, struct dp_cfg_poll, rt_priority),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t top_fields[] = {
	CYAML_FIELD_MAPPING("eal", CYAML_FLAG_DEFAULT, struct dp_cfg, eal, eal_fields),
	CYAML_FIELD_UINT("mbufs", CYAML_FLAG_OPTIONAL, struct dp_cfg, mbufs),
	CYAML_FIELD_UINT("mbuf_data_room", CYAML_FLAG_OPTIONAL, struct dp_cfg, mbuf_data_room),
	CYAML_FIELD_SEQUENCE("ports", CYAML_FLAG_POINTER, struct dp_cfg, ports, &port_entry, 1,
			     DP_MAX_PORTS),
	CYAML_FIELD_SEQUENCE("workers", CYAML_FLAG_POINTER, struct dp_cfg, workers,
			     &worker_entry, 1, DP_MAX_WORKERS),
	CYAML_FIELD_SEQUENCE("flow_ports", CYAML_FLAG_POINTER, struct dp_cfg, flow_ports,
			     &u32_entry, 1, 64),
	CYAML_FIELD_MAPPING("group", CYAML_FLAG_DEFAULT, struct dp_cfg, group, group_fields),
	CYAML_FIELD_MAPPING("senders", CYAML_FLAG_OPTIONAL, struct dp_cfg, senders,
			    senders_fields),
	CYAML_FIELD_MAPPING("spool", CYAML_FLAG_DEFAULT, struct dp_cfg, spool, spool_fields),
	CYAML_FIELD_MAPPING("stats", CYAML_FLAG_OPTIONAL, struct dp_cfg, stats, stats_fields),
	CYAML_FIELD_MAPPING("control", CYAML_FLAG_OPTIONAL, struct dp_cfg, control,
			    control_fields),
	CYAML_FIELD_MAPPING("poll", CYAML_FLAG_OPTIONAL, struct dp_cfg, poll, poll_fields),
	CYAML_FIELD_END
};

static const cyaml_schema_value_t top_schema = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct dp_cfg, top_fields),
};

/* ---- error reporting -------------------------------------------------- */

/* libcyaml logs the error, then a backtrace innermost first ("in mapping
 * field 'x'", "in sequence entry 'n'"); we collect both and print one line
 * "path: error". */
struct cylog {
	char msg[512];
	char frames[16][128];
	unsigned nframes;
};

static void cylog_fn(cyaml_log_t level, void *ctx, const char *fmt, va_list args)
{
	struct cylog *l = ctx;
	char line[512];

	if (level < CYAML_LOG_ERROR)
		return;
	vsnprintf(line, sizeof(line), fmt, args);
	line[strcspn(line, "\n")] = 0;
	const char *p;
	if ((p = strstr(line, "in mapping field '")) != NULL ||
	    (p = strstr(line, "in sequence entry '")) != NULL) {
		if (l->nframes < 16) {
			bool seq = strncmp(p, "in sequence", 11) == 0;
			const char *q = strchr(p, '\'') + 1;
			size_t n = strcspn(q, "'");
			/* libcyaml counts sequence entries from 1; paths index from 0.
			 * Entry 0 is the sequence itself (e.g. too few entries). */
			long e = seq ? strtol(q, NULL, 10) : 0;
			if (seq && e > 0)
				snprintf(l->frames[l->nframes++], 128, "[%ld]", e - 1);
			else if (!seq)
				snprintf(l->frames[l->nframes++], 128, ".%.*s", (int)n, q);
		}
	} else if (strstr(line, "Backtrace") == NULL && l->msg[0] == 0) {
		const char *m = strncmp(line, "Load: ", 6) == 0 ? line + 6 : line;
		snprintf(l->msg, sizeof(l->msg), "%s", m);
	}
}

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("flowdelta-dataplane: config: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static const cyaml_config_t *cy_config(struct cylog *l)
{
	static cyaml_config_t c;
	c = (cyaml_config_t){
		.log_fn = cylog_fn,
		.log_ctx = l,
		.mem_fn = cyaml_mem,
		.log_level = CYAML_LOG_ERROR,
		.flags = CYAML_CFG_NO_ALIAS,
	};
	return &c;
}

/* ---- helpers ---------------------------------------------------------- */

int dp_parse_cpulist(const char *s, uint64_t *mask)
{
	uint64_t m = 0;
	const char *p = s;

	while (*p) {
		char *end;
		unsigned long a = strtoul(p, &end, 10), b;
		if (end == p || a > 63)
			return -EINVAL;
		b = a;
		p = end;
		if (*p == '-') {
			b = strtoul(p + 1, &end, 10);
			if (end == p + 1 || b > 63 || b < a)
				return -EINVAL;
			p = end;
		}
		for (unsigned long i = a; i <= b; i++)
			m |= 1ull << i;
		if (*p == ',')
			p++;
		else if (*p)
			return -EINVAL;
	}
	if (!m)
		return -EINVAL;
	*mask = m;
	return 0;
}

int dp_parse_hostport(const char *s, char *host, size_t hostlen, uint16_t *port)
{
	const char *c = strrchr(s, ':');
	char *end;
	unsigned long p;

	if (!c || c == s || (size_t)(c - s) >= hostlen)
		return -EINVAL;
	p = strtoul(c + 1, &end, 10);
	if (*end || end == c + 1 || p == 0 || p > 65535)
		return -EINVAL;
	const char *h = s;
	size_t n = (size_t)(c - s);
	if (h[0] == '[' && n >= 2 && h[n - 1] == ']') { /* [v6]:port */
		h++;
		n -= 2;
	}
	memcpy(host, h, n);
	host[n] = 0;
	*port = (uint16_t)p;
	return 0;
}

int dp_vdev_arg(const char *vdev, const char *key, char *out, size_t outlen)
{
	size_t kl = strlen(key);
	const char *p = strchr(vdev, ',');

	while (p) {
		p++;
		size_t n = strcspn(p, ",");
		if (n > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
			if (n - kl - 1 >= outlen)
				return -ENAMETOOLONG;
			memcpy(out, p + kl + 1, n - kl - 1);
			out[n - kl - 1] = 0;
			return 0;
		}
		p = strchr(p, ',');
	}
	return -ENOENT;
}

/* ports[i].xdp: only on a net_af_xdp vdev that names its interface and
 * leaves xdp_prog= to us; prefixes in the loader's syntax. */
static int check_xdp(const struct dp_cfg_port *p, uint32_t i)
{
	const struct dp_cfg_xdp *x = p->xdp;
	char ifname[64];
	int bad = 0, r;

	if (!p->vdev || strncmp(p->vdev, "net_af_xdp", 10) != 0) {
		report("ports[%u].xdp: only for a net_af_xdp vdev", i);
		return 1;
	}
	r = dp_vdev_arg(p->vdev, "iface", ifname, 16);
	if (r < 0) {
		report("ports[%u].vdev: %s", i,
		       r == -ENOENT ? "net_af_xdp needs iface=" : "iface= longer than 15 characters");
		bad = 1;
	}
	if (dp_vdev_arg(p->vdev, "xdp_prog", ifname, sizeof(ifname)) != -ENOENT) {
		report("ports[%u].vdev: xdp_prog= conflicts with ports[%u].xdp (use "
		       "ports[%u].xdp.program)", i, i, i);
		bad = 1;
	}
	for (uint32_t k = 0; k < x->allowlist_count; k++) {
		struct xdp_steer_prefix pf;
		if (xdp_steer_prefix_parse(x->allowlist[k], &pf) < 0) {
			report("ports[%u].xdp.allowlist[%u]: '%s' is not an address or prefix", i,
			       k, x->allowlist[k]);
			bad = 1;
		}
	}
	return bad;
}

#define DEF(x, v)                                                                  \
	do {                                                                       \
		if ((x) == 0)                                                      \
			(x) = (v);                                                 \
	} while (0)

static char *xstrdup_if_null(char *s, const char *def)
{
	return s ? s : strdup(def);
}

static int check(struct dp_cfg *c)
{
	int bad = 0;
	uint64_t lmask;

	if (dp_parse_cpulist(c->eal.lcores, &lmask) < 0) {
		report("eal.lcores: '%s' is not a CPU list (e.g. \"0-3,6\")", c->eal.lcores);
		bad = 1;
		lmask = 0;
	} else if (c->eal.main_lcore > 63 || !(lmask & (1ull << c->eal.main_lcore))) {
		report("eal.main_lcore: %u is not in eal.lcores", c->eal.main_lcore);
		bad = 1;
	}
	DEF(c->eal.memory_mb, 512);
	c->eal.file_prefix = xstrdup_if_null(c->eal.file_prefix, "flowdelta-dp");
	DEF(c->mbufs, 16384);
	if (c->mbufs < 1024 || c->mbufs > (1u << 22)) {
		report("mbufs: %u out of range 1024..4194304", c->mbufs);
		bad = 1;
	}
	/* The page limit of net_af_xdp frames depends on DPDK's mbuf layout:
	 * main.c checks it, naming this key too. */
	DEF(c->mbuf_data_room, DP_MBUF_DATA_ROOM_DEFAULT);
	if (c->mbuf_data_room < DP_MBUF_DATA_ROOM_MIN || c->mbuf_data_room > DP_MBUF_DATA_ROOM_MAX) {
		report("mbuf_data_room: %u out of range %u..%u", c->mbuf_data_room,
		       DP_MBUF_DATA_ROOM_MIN, DP_MBUF_DATA_ROOM_MAX);
		bad = 1;
	}

	for (uint32_t i = 0; i < c->ports_count; i++) {
		struct dp_cfg_port *p = &c->ports[i];
		if (!!p->vdev + !!p->pci + !!p->replay != 1) {
			report("ports[%u]: exactly one of 'vdev', 'pci' or 'replay' is required", i);
			bad = 1;
		}
		DEF(p->rx_queues, 1);
		/* replay: the ring's size; the generator refills it every
		 * 200 us, and 8192 packets last a worker ~8 ms */
		DEF(p->rx_desc, p->replay ? 8192 : 1024);
		if (p->replay && p->rx_queues != 1) {
			report("ports[%u].rx_queues: a replay port has one queue", i);
			bad = 1;
		}
		if (p->rx_queues > 64) {
			report("ports[%u].rx_queues: %u above 64", i, p->rx_queues);
			bad = 1;
		}
		if (p->rx_desc < 64 || p->rx_desc > 16384) {
			report("ports[%u].rx_desc: %u out of range 64..16384", i, p->rx_desc);
			bad = 1;
		}
		for (uint32_t j = 0; j < i; j++)
			if (strcmp(c->ports[j].name, p->name) == 0) {
				report("ports[%u].name: '%s' used twice", i, p->name);
				bad = 1;
			}
		if (p->xdp && check_xdp(p, i))
			bad = 1;
	}

	for (uint32_t i = 0; i < c->workers_count; i++) {
		struct dp_cfg_worker *w = &c->workers[i];
		uint32_t pi;
		for (pi = 0; pi < c->ports_count; pi++)
			if (strcmp(c->ports[pi].name, w->port) == 0)
				break;
		if (pi == c->ports_count) {
			report("workers[%u].port: no port named '%s'", i, w->port);
			bad = 1;
		} else if (w->queue >= c->ports[pi].rx_queues) {
			report("workers[%u].queue: %u but port '%s' has %u rx_queues", i, w->queue,
			       w->port, c->ports[pi].rx_queues);
			bad = 1;
		}
		if (w->lcore > 63 || !(lmask & (1ull << w->lcore))) {
			report("workers[%u].lcore: %u is not in eal.lcores", i, w->lcore);
			bad = 1;
		} else if (w->lcore == c->eal.main_lcore) {
			report("workers[%u].lcore: %u is the main lcore", i, w->lcore);
			bad = 1;
		}
		for (uint32_t j = 0; j < i; j++) {
			if (c->workers[j].lcore == w->lcore) {
				report("workers[%u].lcore: %u already has a worker", i, w->lcore);
				bad = 1;
			}
			if (strcmp(c->workers[j].port, w->port) == 0 &&
			    c->workers[j].queue == w->queue) {
				report("workers[%u]: queue %u of port '%s' already polled", i,
				       w->queue, w->port);
				bad = 1;
			}
		}
	}

	for (uint32_t i = 0; i < c->flow_ports_count; i++)
		if (c->flow_ports[i] == 0 || c->flow_ports[i] > 65535) {
			report("flow_ports[%u]: %u is not a UDP port", i, c->flow_ports[i]);
			bad = 1;
		}

	for (uint32_t i = 0; i < c->group.slaves_count; i++) {
		struct dp_cfg_slave *s = &c->group.slaves[i];
		/* DESIGN §1: a slave's ingest port defaults to the proxy's
		 * listening port + 30000 */
		if (s->port == 0 && c->flow_ports_count && c->flow_ports[0] + 30000 <= 65535)
			s->port = c->flow_ports[0] + 30000;
		if (s->port == 0 || s->port > 65535) {
			report("group.slaves[%u].port: %u is not a TCP port", i, s->port);
			bad = 1;
		}
		for (uint32_t j = 0; j < i; j++)
			if (strcmp(c->group.slaves[j].name, s->name) == 0) {
				report("group.slaves[%u].name: '%s' used twice", i, s->name);
				bad = 1;
			}
		for (const char *q = s->name; *q; q++)
			if (!isalnum((unsigned char)*q) && *q != '-' && *q != '_' && *q != '.') {
				report("group.slaves[%u].name: '%s': use letters, digits, - _ .", i,
				       s->name);
				bad = 1;
				break;
			}
	}
	for (uint32_t i = 0; i < c->group.source_map_count; i++) {
		struct dp_cfg_srcmap *m = &c->group.source_map[i];
		uint8_t a[16];
		if (addr_parse(m->exporter, a) < 0) {
			report("group.source_map[%u].exporter: '%s' is not an address", i,
			       m->exporter);
			bad = 1;
		}
		if (m->port == 0 || m->port > 65535) {
			report("group.source_map[%u].port: %u is not a UDP port", i, m->port);
			bad = 1;
		}
		uint32_t j;
		for (j = 0; j < c->group.slaves_count; j++)
			if (strcmp(c->group.slaves[j].name, m->slave) == 0)
				break;
		if (j == c->group.slaves_count) {
			report("group.source_map[%u].slave: no slave named '%s'", i, m->slave);
			bad = 1;
		}
	}

	struct dp_cfg_senders *s = &c->senders;
	s->cpus = xstrdup_if_null(s->cpus, "0");
	uint64_t smask = 0;
	if (dp_parse_cpulist(s->cpus, &smask) < 0) {
		report("senders.cpus: '%s' is not a CPU list", s->cpus);
		bad = 1;
	}
	/* A sender sharing a CPU with a busy-polling worker would only run
	 * when the scheduler preempts the worker: refuse the overlap. */
	for (uint32_t i = 0; i < c->workers_count; i++)
		if (c->workers[i].lcore < 64 && (smask & (1ull << c->workers[i].lcore))) {
			report("senders.cpus: CPU %u also runs worker %u", c->workers[i].lcore, i);
			bad = 1;
		}
	DEF(s->ring_size, 256);
	DEF(s->msg_bytes, 16384);
	DEF(s->flush_ms, 50);
	DEF(s->window, 512);
	DEF(s->ack_timeout_ms, 2000);
	DEF(s->reconnect_max_ms, 5000);
	if (s->ring_size & (s->ring_size - 1) || s->ring_size < 8 || s->ring_size > 65536) {
		report("senders.ring_size: %u must be a power of 2 in 8..65536", s->ring_size);
		bad = 1;
	}
	if (s->msg_bytes < 1500 || s->msg_bytes > FLOW_ENC_MAX_MSG) {
		report("senders.msg_bytes: %u out of range 1500..65535", s->msg_bytes);
		bad = 1;
	}
	if (s->flush_ms > 10000) {
		report("senders.flush_ms: %u above 10000", s->flush_ms);
		bad = 1;
	}
	if (s->window < 8 || s->window > 65536) {
		report("senders.window: %u out of range 8..65536", s->window);
		bad = 1;
	}

	DEF(c->spool.max_mb, 1024);
	DEF(c->spool.file_mb, 64);
	if (c->spool.file_mb > c->spool.max_mb) {
		report("spool.file_mb: %u above spool.max_mb %u", c->spool.file_mb,
		       c->spool.max_mb);
		bad = 1;
	}
	if (c->stats.listen && c->stats.listen[0]) {
		char h[256];
		uint16_t p;
		if (dp_parse_hostport(c->stats.listen, h, sizeof(h), &p) < 0) {
			report("stats.listen: '%s' is not host:port", c->stats.listen);
			bad = 1;
		}
	}
	/* A sleeping worker still reports RCU quiescence, ages buffers and
	 * answers counter snapshots once per loop iteration, i.e. once per
	 * sleep: 10 ms keeps a live reconfiguration, the flush_ms ageing and
	 * the 200 ms snapshot deadline (stats.c) far from being delayed. */
	if (c->poll.idle_sleep_us > 10000) {
		report("poll.idle_sleep_us: %u above 10000", c->poll.idle_sleep_us);
		bad = 1;
	}
	c->poll.idle_polls = c->poll.idle_after ? *c->poll.idle_after : 256;
	if (c->poll.idle_polls > 1000000) {
		report("poll.idle_after: %u above 1000000", c->poll.idle_polls);
		bad = 1;
	}
	/* A real-time worker that never sleeps would lock everything else
	 * out of its core (up to the kernel's RT throttling). */
	if (c->poll.rt_priority > 99) {
		report("poll.rt_priority: %u above 99", c->poll.rt_priority);
		bad = 1;
	} else if (c->poll.rt_priority && !c->poll.idle_sleep_us) {
		report("poll.rt_priority: needs poll.idle_sleep_us > 0 (a busy-polling SCHED_FIFO "
		       "worker starves its core)");
		bad = 1;
	}
	return bad ? -EINVAL : 0;
}

/* data NULL: read the file path; else parse data[len], path names it. */
static int load(const char *path, const uint8_t *data, size_t len, struct dp_cfg **ret)
{
	struct cylog l = { 0 };
	struct dp_cfg *c = NULL;
	cyaml_err_t e;

	if (data)
		e = cyaml_load_data(data, len, cy_config(&l), &top_schema, (cyaml_data_t **)&c, NULL);
	else
		e = cyaml_load_file(path, cy_config(&l), &top_schema, (cyaml_data_t **)&c, NULL);
	if (e != CYAML_OK) {
		char p[1024] = "";
		size_t off = 0;
		for (unsigned i = l.nframes; i-- > 0;) /* outermost first */
			off += (size_t)snprintf(p + off, sizeof(p) - off, "%s", l.frames[i]);
		if (e == CYAML_ERR_FILE_OPEN) {
			report("%s: cannot open", path);
			return -ENOENT;
		}
		/* "Unexpected key: x" names the key itself: make it part of the
		 * path, so the error reads "eal.x: unknown key" */
		const char *msg = l.msg[0] ? l.msg : cyaml_strerror(e);
		if (strncmp(msg, "Unexpected key: ", 16) == 0) {
			snprintf(p + off, sizeof(p) - off, ".%s", msg + 16);
			msg = "unknown key";
		}
		report("%s: %s: %s", path, p[0] ? p + (p[0] == '.') : "(top)", msg);
		return -EINVAL;
	}
	if (!c) { /* an empty document loads as NULL (found by fuzz_dp_config) */
		report("%s: (top): empty document", path);
		return -EINVAL;
	}
	if (check(c) < 0) {
		dp_cfg_free(c);
		return -EINVAL;
	}
	*ret = c;
	return 0;
}

int dp_cfg_load(const char *path, struct dp_cfg **ret)
{
	return load(path, NULL, 0, ret);
}

int dp_cfg_load_buf(const char *name, const uint8_t *data, size_t len, struct dp_cfg **ret)
{
	return load(name, data ? data : (const uint8_t *)"", len, ret);
}

void dp_cfg_free(struct dp_cfg *cfg)
{
	struct cylog l = { 0 };
	if (cfg)
		cyaml_free(cy_config(&l), &top_schema, cfg, 0);
}

void dp_cfg_help(FILE *out)
{
	fputs("usage: flowdelta-dataplane [--config FILE] [--check] [--stats-out FILE]\n"
	      "                           [--run-seconds N] [--help]\n"
	      "\n"
	      "  --config FILE     YAML configuration (default /etc/flowdelta/dataplane.yaml)\n"
	      "  --check           validate the configuration and exit\n"
	      "  --stats-out FILE  write the final Prometheus counters to FILE at exit\n"
	      "  --run-seconds N   stop by itself after N seconds (tests, benches)\n"
	      "\n"
	      "SIGTERM/SIGINT drain to the slaves or the spool and exit 0; 3 if the records\n"
	      "did not add up at exit (logged; a bug), 2 on a usage or configuration\n"
	      "error, 1 when the ports, memory or slaves cannot be set up.\n"
	      "\n"
	      "Configuration keys (see docs/dataplane.md and deploy/dataplane-*.yaml):\n"
	      "  eal: lcores (required, CPU list), main_lcore, memory_mb (512), no_huge,\n"
	      "       no_pci, file_prefix, plugins [PMD .so or dir], extra_args [..]\n"
	      "  mbufs: RX mbuf pool size (16384)\n"
	      "  mbuf_data_room: bytes per RX mbuf incl. 128 headroom (2176); the largest\n"
	      "       frame is this - 128 (net_af_xdp: - 384, at most 3840 without hugepages)\n"
	      "  ports: [{name, vdev | pci | replay, rx_queues (1), rx_desc (1024),\n"
	      "           replay: bench input, a pcap replayed from memory through a ring\n"
	      "           of rx_desc (8192) packets fed by the main lcore (one queue),\n"
	      "           xdp (net_af_xdp only): {program (installed flow_steer.bpf.o),\n"
	      "                allowlist [prefixes], exporter_stats (true)}}]\n"
	      "  workers: [{lcore, port (a port name), queue (0)}]\n"
	      "  flow_ports: [UDP ports exports arrive at]\n"
	      "  group: model flow-hash|round-robin|source, odid (0),\n"
	      "         slaves [{name, host, port (flow_ports[0] + 30000), ack auto|on|off,\n"
	      "                  discard}],\n"
	      "         source_map [{exporter, port, slave}]\n"
	      "  senders: cpus (\"0\"), ring_size (256), msg_bytes (16384), flush_ms (50),\n"
	      "           window (512), ack_timeout_ms (2000), reconnect_max_ms (5000)\n"
	      "  spool: dir (required), max_mb per slave (1024), file_mb (64)\n"
	      "  stats: listen host:port for Prometheus text (off when absent)\n"
	      "  control: socket path of the control socket (off when absent)\n"
	      "  poll: idle_sleep_us (0 = busy polling; up to 10000), idle_after (256)\n"
	      "        empty polls before a worker sleeps idle_sleep_us per empty poll,\n"
	      "        rt_priority (0 = off; 1-99: workers run SCHED_FIFO, needs\n"
	      "        idle_sleep_us > 0 and CAP_SYS_NICE)\n",
	      out);
}
