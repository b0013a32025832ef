/* cmd_status.c — `flowdelta status --dataplane`: what the local
 * flowdelta-dataplane is doing, read from its Prometheus endpoint (default)
 * or from its DPDK telemetry socket. Thin: no counter is computed here, only
 * fetched and laid out.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"

static const char usage[] =
	"usage: flowdelta status --dataplane [--metrics URL | --telemetry SOCKET]\n"
	"\n"
	"Show the proxy dataplane's record conservation, slaves and workers.\n"
	"\n"
	"  --dataplane         the local flowdelta-dataplane (the only unit this shows yet)\n"
	"  --metrics URL       its Prometheus endpoint (default http://127.0.0.1:9310/metrics,\n"
	"                      the stats.listen of deploy/dataplane-*.yaml)\n"
	"  --telemetry SOCKET  ask DPDK telemetry instead, e.g.\n"
	"                      /var/run/dpdk/flowdelta-dp/dpdk_telemetry.v2\n"
	"  --raw               print the fetched text/JSON unchanged\n"
	"  -h, --help          this text\n";

/* http://host:port/path → GET, body into a malloc'd buffer. 0 or -errno. */
static int http_get(const char *url, char **ret, size_t *ret_len)
{
	char host[256], port[8] = "80", path[512] = "/metrics";
	const char *p = url;

	if (strncmp(p, "http://", 7) == 0)
		p += 7;
	size_t hl = strcspn(p, ":/");
	if (hl == 0 || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, p, hl);
	host[hl] = 0;
	p += hl;
	if (*p == ':') {
		size_t pl = strcspn(p + 1, "/");
		if (pl == 0 || pl >= sizeof(port))
			return -EINVAL;
		memcpy(port, p + 1, pl);
		port[pl] = 0;
		p += 1 + pl;
	}
	if (*p == '/')
		snprintf(path, sizeof(path), "%s", p);

	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	if (getaddrinfo(host, port, &hints, &ai) != 0)
		return -EHOSTUNREACH;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		int e = -errno;
		freeaddrinfo(ai);
		if (fd >= 0)
			close(fd);
		return e;
	}
	freeaddrinfo(ai);
	char req[700];
	int rl = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", path, host);
	if (write(fd, req, (size_t)rl) != rl) {
		close(fd);
		return -EIO;
	}
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (!buf) {
			close(fd);
			return -ENOMEM;
		}
		struct pollfd pf = { fd, POLLIN, 0 };
		if (poll(&pf, 1, 5000) != 1) {
			free(buf);
			close(fd);
			return -ETIMEDOUT;
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			free(buf);
			close(fd);
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (cap - len < 4096) {
			cap *= 2;
			char *nb = realloc(buf, cap);
			if (!nb)
				free(buf);
			buf = nb;
		}
	}
	close(fd);
	buf[len] = 0;
	char *body = strstr(buf, "\r\n\r\n");
	if (strncmp(buf, "HTTP/1.", 7) != 0 || !body || strncmp(buf + 9, "200", 3) != 0) {
		free(buf);
		return -EPROTO;
	}
	body += 4;
	memmove(buf, body, len - (size_t)(body - buf) + 1);
	*ret_len = strlen(buf);
	*ret = buf;
	return 0;
}

/* Value of the first sample named exactly `name` (with its labels, if any
 * are given in name). */
static int metric(const char *text, const char *name, unsigned long long *v)
{
	size_t nl = strlen(name);
	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncmp(l, name, nl) == 0 && l[nl] == ' ') {
			*v = strtoull(l + nl + 1, NULL, 10);
			return 0;
		}
	}
	return -ENOENT;
}

static unsigned long long mget(const char *t, const char *name)
{
	unsigned long long v = 0;
	metric(t, name, &v);
	return v;
}

static void print_summary(const char *t)
{
	unsigned long long dec = mget(t, "flowdelta_dp_records_decoded_total"),
			   rec = mget(t, "flowdelta_dp_records_recovered_total"),
			   dlv = mget(t, "flowdelta_dp_records_delivered_total"),
			   q = mget(t, "flowdelta_dp_records_queued"),
			   sp = mget(t, "flowdelta_dp_records_spooled"),
			   dr = mget(t, "flowdelta_dp_records_dropped_total");

	printf("records: decoded %llu + recovered %llu = delivered %llu + queued %llu + spooled %llu"
	       " + dropped %llu  [%s]\n",
	       dec, rec, dlv, q, sp, dr,
	       dec + rec == dlv + q + sp + dr ? "conserved" : "in motion or MISMATCH");

	/* drop reasons, slaves and workers: lines copied with their labels */
	static const struct {
		const char *prefix, *title;
	} groups[] = {
		{ "flowdelta_dp_records_dropped_by_reason_total{", "dropped by reason" },
		{ "flowdelta_dp_slave_records_delivered_total{", "slaves: delivered" },
		{ "flowdelta_dp_slave_records_spooled{", "slaves: in spool" },
		{ "flowdelta_dp_slave_records_unacked{", "slaves: sent, not yet acked" },
		{ "flowdelta_dp_slave_connected{", "slaves: connected" },
		{ "flowdelta_dp_worker_rx_packets_total{", "workers: packets" },
		{ "flowdelta_dp_worker_records_total{", "workers: records" },
		{ "flowdelta_dp_worker_packet_drops_total{", "workers: packet drops" },
		{ "flowdelta_dp_exporter_records_total{", "exporters: records" },
		/* frames lost before a worker saw them: not in the identity above */
		{ "flowdelta_dp_port_rx_packets_total{", "ports: received" },
		{ "flowdelta_dp_port_rx_missed_total{", "ports: missed (imissed)" },
		{ "flowdelta_dp_port_rx_nombuf_total{", "ports: no mbuf" },
		{ "flowdelta_dp_port_rx_errors_total{", "ports: rx errors" },
		{ "flowdelta_dp_port_xsk_rx_dropped_total{",
		  "ports: AF_XDP dropped by the kernel (longer than mbuf_data_room allows, or no fill buffer)" },
		{ "flowdelta_dp_port_xsk_rx_ring_full_total{",
		  "ports: AF_XDP RX ring full (worker too slow or descheduled)" },
		{ "flowdelta_dp_port_xsk_fill_ring_empty_total{", "ports: AF_XDP fill ring found empty" },
		{ "flowdelta_dp_port_xsk_rx_invalid_total{", "ports: AF_XDP invalid descriptors" },
	};
	for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
		size_t pl = strlen(groups[g].prefix);
		int shown = 0;
		for (const char *l = t; *l;) {
			const char *e = strchr(l, '\n');
			size_t ll = e ? (size_t)(e - l) : strlen(l);
			if (strncmp(l, groups[g].prefix, pl) == 0) {
				const char *sp2 = memchr(l, ' ', ll);
				if (sp2 && strncmp(sp2 + 1, "0", ll - (size_t)(sp2 + 1 - l)) != 0) {
					if (!shown++)
						printf("%s:\n", groups[g].title);
					printf("  %.*s\n", (int)(ll - pl + 1), l + pl - 1);
				}
			}
			l = e ? e + 1 : l + ll;
		}
	}
}

static int telemetry(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[1 << 16];
	static const char *const cmds[] = { "/flowdelta/totals", "/flowdelta/workers" };

	if (strlen(path) >= sizeof(sa.sun_path))
		return cli_usage_error("status", "telemetry socket path too long");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "flowdelta: status: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	if (read(fd, buf, sizeof(buf) - 1) < 0) /* greeting: version, pid, max_output_len */
		goto fail;
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (write(fd, cmds[i], strlen(cmds[i])) < 0)
			goto fail;
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		if (n < 0)
			goto fail;
		buf[n] = 0;
		printf("%s\n", buf);
	}
	close(fd);
	return 0;
fail:
	fprintf(stderr, "flowdelta: status: %s: %s\n", path, strerror(errno));
	close(fd);
	return 1;
}

static int run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dataplane", no_argument, NULL, 'd' },
		{ "metrics", required_argument, NULL, 'm' },
		{ "telemetry", required_argument, NULL, 't' },
		{ "raw", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *url = "http://127.0.0.1:9310/metrics", *tel = NULL;
	bool dataplane = false, raw = false;
	int o;

	optind = 1;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'd': dataplane = true; break;
		case 'm': url = optarg; break;
		case 't': tel = optarg; break;
		case 'r': raw = true; break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (!dataplane)
		return cli_usage_error("status", "say which unit: --dataplane");
	if (optind != argc)
		return cli_usage_error("status", "unexpected argument '%s'", argv[optind]);
	if (tel)
		return telemetry(tel);

	char *text;
	size_t len;
	int r = http_get(url, &text, &len);
	if (r < 0) {
		fprintf(stderr, "flowdelta: status: %s: %s\n", url, strerror(-r));
		return 1;
	}
	if (raw)
		fwrite(text, 1, len, stdout);
	else
		print_summary(text);
	free(text);
	return 0;
}

static struct cli_cmd status_cmd = {
	.name = "status",
	.summary = "show a local unit's state (--dataplane: counters of flowdelta-dataplane)",
	.run = run,
};
CLI_REGISTER(status_cmd)
