/* cmd_gen.c — `flowdelta gen`: synthetic NetFlow v5/v9/IPFIX exports from
 * lib/gen, written to a pcap file or sent over UDP.
 *
 * Sending is always bounded (flows, packets, records or duration; 100000
 * packets when nothing else is given) and goes only where the operator
 * pointed: a literal unicast address, or a name that resolves to loopback.
 * The summary goes to stderr so that `--pcap -` can write to stdout.
 * See docs/cli-gen.md.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "gen/gen.h"
#include "util/addr.h"

#define SEND_BATCH 64
#define DEFAULT_SEND_PACKETS 100000
#define DEFAULT_PCAP_FLOWS 1000
#define MAX_POOL 1000000 /* packets; the pool lives in memory (~1 KB-64 KB each) */

/* pcap output: the collector's documentation addresses */
static const uint8_t collector_v4[4] = { 203, 0, 113, 1 };

struct limits {
	uint64_t packets;  /* 0: no limit */
	uint64_t records;
	double duration_s; /* 0: no limit */
	double rate;       /* packets/s, 0: flat out */
};

/* Where packets come from: fresh from the generator (g), or resent from a
 * pool (pool; see gen.h, pool mode). Exactly one of the two is set. */
struct source {
	struct gen *g;
	struct gen_pool *pool;
	const struct gen_cfg *cfg;
	struct gen_stats st; /* pool mode: what it handed out */
};

static const char usage_text[] =
	"usage: flowdelta gen [--version 5|9|10] [--exporters N] [--flows M] [--seed S]\n"
	"                     [--packets P | --records R] [--per-packet K] [--v6-share F]\n"
	"                     [--strings] [--start ISO|ms] [--tmpl-refresh K] [--exporter-v6]\n"
	"                     [--pool P]\n"
	"                     (--pcap FILE [--port N] [--mtu N] |\n"
	"                      --send HOST:PORT [--rate PPS] [--duration S])\n"
	"Generate deterministic synthetic flow exports.\n"
	"  --version V        5, 9 or 10 (IPFIX, default)\n"
	"  --exporters N      number of exporters (default 1)\n"
	"  --flows M          flows per exporter (default: 1000 for --pcap, no end for --send)\n"
	"  --seed S           random seed (default 1)\n"
	"  --packets P        stop after P packets in total\n"
	"  --records R        stop after R flow records in total\n"
	"  --per-packet K     records per packet (default 30; v5 at most 30, else 200)\n"
	"  --v6-share F       share of IPv6 flows, 0..1 (default 0.2; v5: 0)\n"
	"  --strings          IPFIX only: applicationName, httpRequestHost/Target\n"
	"  --start T          time of the first packet: ISO 8601 UTC or ms since epoch\n"
	"                     (default 2026-01-01T00:00:00Z)\n"
	"  --interval MS      ms between two packets of one exporter (default 100)\n"
	"  --tmpl-refresh K   v9/IPFIX: templates every K packets (default 20)\n"
	"  --exporter-v6      exporters use IPv6 addresses (2001:db8::e:N)\n"
	"  --pool P           encode P packets once (rounded up to a multiple of\n"
	"                     --exporters) and repeat them, each round later in\n"
	"                     time, sequence numbers counting on: a sender that\n"
	"                     spends its core on sending (not with --flows)\n"
	"  --pcap FILE        write Ethernet/IP/UDP frames to a pcap (\"-\": stdout)\n"
	"  --port N           destination port in the pcap (default 2055)\n"
	"  --mtu N            write exports whose IP packet exceeds N bytes as IP\n"
	"                     fragments, like the sending kernel (default: never)\n"
	"  --send HOST:PORT   send over UDP (loopback, or a literal address)\n"
	"  --rate PPS         pace sending at PPS packets/s (default: flat out);\n"
	"                     token bucket, at most 2 batches of burst\n"
	"  --duration S       stop sending after S seconds\n"
	"  -h, --help         this text\n";

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_double(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (!*s || errno || *end || !(v >= min && v <= max))
		return -EINVAL;
	*out = v;
	return 0;
}

/* "2026-01-01T00:00:00[.mmm][Z]" or milliseconds since the epoch. */
static int parse_start(const char *s, uint64_t *out)
{
	struct tm tm;
	const char *p;
	unsigned ms = 0;
	time_t t;

	if (!parse_u64(s, 0, UINT64_MAX / 2, out))
		return 0;
	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -EINVAL;
	if (*p == '.') {
		unsigned scale = 100;
		for (p++; *p >= '0' && *p <= '9'; p++) {
			ms += (unsigned)(*p - '0') * scale;
			scale /= 10;
		}
	}
	if (*p == 'Z')
		p++;
	if (*p)
		return -EINVAL;
	t = timegm(&tm);
	if (t < 0)
		return -EINVAL;
	*out = (uint64_t)t * 1000 + ms;
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_until(double t)
{
	struct timespec ts;

	ts.tv_sec = (time_t)t;
	ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static bool limit_reached(const struct gen_stats *st, const struct limits *l)
{
	return (l->packets && st->packets >= l->packets) || (l->records && st->records >= l->records);
}

static uint32_t next_max_recs(const struct gen_stats *st, const struct limits *l)
{
	if (!l->records)
		return 0;
	return (uint32_t)(l->records - st->records < GEN_MAX_PER_PACKET ? l->records - st->records
									 : 0);
}

/* The next packet within the limits into *out (pool mode: the fields
 * dump_export() and the sender use). Returns 1, or 0 at the end. */
static int source_next(struct source *s, const struct limits *l, struct gen_pkt *out)
{
	struct gen_pool_pkt pp;

	if (s->g) {
		gen_stats(s->g, &s->st);
		if (limit_reached(&s->st, l) || gen_next(s->g, next_max_recs(&s->st, l), out) != 1)
			return 0;
		gen_stats(s->g, &s->st);
		return 1;
	}
	if (limit_reached(&s->st, l))
		return 0;
	gen_pool_next(s->pool, next_max_recs(&s->st, l), &pp);
	out->data = pp.data;
	out->len = pp.len;
	out->exporter = pp.exporter;
	out->src_port = pp.src_port;
	out->dst_port = s->cfg->dst_port;
	out->time_ms = pp.time_ms;
	out->n_recs = pp.n_recs;
	out->recs = NULL; /* not kept */
	s->st.packets++;
	s->st.records += pp.n_recs;
	s->st.bytes += pp.len;
	return 1;
}

static void dump_frame(pcap_dumper_t *dump, const uint8_t *frame, size_t n, uint64_t ms)
{
	struct pcap_pkthdr h;

	h.ts.tv_sec = (time_t)(ms / 1000);
	h.ts.tv_usec = (suseconds_t)(ms % 1000 * 1000);
	h.caplen = h.len = (bpf_u_int32)n;
	pcap_dump((u_char *)dump, &h, frame);
}

/* Frames of one export: one UDP frame, or, when the IP packet would exceed
 * mtu (0: no limit), the IP fragments the sending kernel would produce. */
static void dump_export(pcap_dumper_t *dump, const struct gen_pkt *pkt, const uint8_t coll[16],
			unsigned mtu, uint32_t *ip_id, uint8_t *frame, uint8_t *udp)
{
	bool v4 = addr_is_v4(pkt->src_addr);
	size_t n, ul, chunk;

	if (!mtu || (v4 ? 20 : 40) + 8 + pkt->len <= mtu) {
		n = gen_frame_udp(frame, GEN_FRAME_CAP, pkt->src_addr, coll, pkt->src_port,
				  pkt->dst_port, pkt->data, pkt->len);
		dump_frame(dump, frame, n, pkt->time_ms);
		return;
	}
	ul = gen_udp_build(udp, 65536, pkt->src_addr, coll, pkt->src_port, pkt->dst_port,
			   pkt->data, pkt->len);
	chunk = (mtu - (v4 ? 20 : 48)) & ~(size_t)7; /* IPv6: + fragment header */
	for (size_t off = 0; off < ul; off += chunk) {
		size_t l = ul - off < chunk ? ul - off : chunk;
		n = gen_frame_ip_frag(frame, GEN_FRAME_CAP, pkt->src_addr, coll, 17, *ip_id,
				      (uint32_t)off, off + l < ul, udp + off, l);
		dump_frame(dump, frame, n, pkt->time_ms);
	}
	(*ip_id)++;
}

static int write_pcap(struct source *src, const struct gen_cfg *gc, const char *path,
		      const struct limits *l, unsigned mtu)
{
	pcap_t *pd = pcap_open_dead(DLT_EN10MB, 65535);
	pcap_dumper_t *dump;
	uint8_t *frame = malloc(GEN_FRAME_CAP), *udp = malloc(65536), coll[16];
	struct gen_pkt pkt;
	struct gen_stats st;
	uint32_t ip_id = 1;
	int rc = 0;

	if (gc->exporter_v6)
		addr_parse("2001:db8::1", coll);
	else
		addr_set_v4(coll, collector_v4);
	if (!pd || !frame || !udp) {
		fprintf(stderr, "flowdelta: gen: out of memory\n");
		rc = 1;
		goto out;
	}
	dump = pcap_dump_open(pd, path);
	if (!dump) {
		fprintf(stderr, "flowdelta: gen: %s\n", pcap_geterr(pd));
		rc = 1;
		goto out;
	}
	while (source_next(src, l, &pkt) == 1) {
		if (src->pool)
			gen_exporter_addr(gc, pkt.exporter, pkt.src_addr);
		dump_export(dump, &pkt, coll, mtu, &ip_id, frame, udp);
	}
	st = src->st;
	if (pcap_dump_flush(dump) != 0) {
		fprintf(stderr, "flowdelta: gen: %s: write error\n", path);
		rc = 1;
	}
	pcap_dump_close(dump);
	if (!rc)
		fprintf(stderr, "flowdelta: gen: wrote %" PRIu64 " packets, %" PRIu64 " records, %" PRIu64
				" bytes of exports to %s\n",
			st.packets, st.records, st.bytes, path);
out:
	free(frame);
	free(udp);
	if (pd)
		pcap_close(pd);
	return rc;
}

/* Where we may send: a literal unicast address, or a name resolving to
 * loopback. Never broadcast or multicast. */
static bool dest_allowed(const struct sockaddr *sa, bool literal)
{
	if (sa->sa_family == AF_INET) {
		uint32_t a = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);
		if ((a >> 28) == 0xe || a == 0xffffffffu || a == 0)
			return false;
		return literal || (a >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_MULTICAST(a) || IN6_IS_ADDR_UNSPECIFIED(a))
			return false;
		if (IN6_IS_ADDR_V4MAPPED(a)) {
			uint32_t v4;
			memcpy(&v4, &a->s6_addr[12], 4);
			v4 = ntohl(v4);
			if ((v4 >> 28) == 0xe || v4 == 0xffffffffu || v4 == 0)
				return false;
			return literal || (v4 >> 24) == 127;
		}
		return literal || IN6_IS_ADDR_LOOPBACK(a);
	}
	return false;
}

static int open_dest(const char *hostport)
{
	char host[256], *colon;
	const char *port;
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV }, *res, *ai;
	uint8_t tmp[16];
	bool literal;
	int fd = -1, e;

	if (strlen(hostport) >= sizeof(host)) {
		cli_usage_error("gen", "bad --send '%s' (want HOST:PORT)", hostport);
		return -2;
	}
	strcpy(host, hostport);
	colon = strrchr(host, ':');
	if (!colon || colon == host || !colon[1]) {
		cli_usage_error("gen", "bad --send '%s' (want HOST:PORT)", hostport);
		return -2;
	}
	*colon = '\0';
	port = colon + 1;
	if (host[0] == '[' && colon[-1] == ']') { /* [v6]:port */
		colon[-1] = '\0';
		memmove(host, host + 1, strlen(host));
	}
	{
		uint64_t pv;
		if (parse_u64(port, 1, 65535, &pv)) {
			cli_usage_error("gen", "bad port in --send '%s'", hostport);
			return -2;
		}
	}
	literal = addr_parse(host, tmp) == 0;
	e = getaddrinfo(host, port, &hints, &res);
	if (e) {
		fprintf(stderr, "flowdelta: gen: %s: %s\n", host, gai_strerror(e));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		if (!dest_allowed(ai->ai_addr, literal))
			continue;
		fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		fprintf(stderr,
			"flowdelta: gen: %s: refusing or unable to send there (a name must resolve "
			"to loopback; give other destinations as a literal unicast address)\n",
			host);
		return -1;
	}
	{
		int sz = 4 << 20;
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	}
	return fd;
}

/* Token bucket on CLOCK_MONOTONIC: packets are due at base + n / rate. A
 * sender that falls behind (a stall, a slow syscall) may catch up by at
 * most burst_s worth of packets; older debt is forgotten, so a stall never
 * turns into a long line-rate burst that the paced rate did not promise.
 * The summary reports the rate achieved. */
struct pacer {
	double rate, burst_s, base;
	uint64_t n; /* packets since base */
};

static void pace(struct pacer *p)
{
	double due, t = now_s();

	due = p->base + (double)p->n / p->rate;
	if (due > t) {
		sleep_until(due);
	} else if (t - due > p->burst_s) {
		p->base = t - p->burst_s;
		p->n = 0;
	}
}

static int send_udp(struct source *src, const char *dest, const struct limits *l)
{
	struct mmsghdr msgs[SEND_BATCH];
	struct iovec iov[SEND_BATCH];
	uint32_t nrec[SEND_BATCH];
	/* fresh packets are built one by one into one buffer: copy each out;
	 * pool packets stay put for a pool's length of calls: send in place */
	uint8_t *bufs = src->pool ? NULL : malloc((size_t)SEND_BATCH * GEN_PKT_CAP);
	uint64_t sent = 0, recs = 0, bytes = 0, refused = 0;
	unsigned batch = SEND_BATCH;
	struct pacer pc = { 0 };
	double t0, t;
	int fd, rc = 0;
	bool more = true;

	if (!src->pool && !bufs) {
		fprintf(stderr, "flowdelta: gen: out of memory\n");
		return 1;
	}
	fd = open_dest(dest);
	if (fd < 0) {
		free(bufs);
		return fd == -2 ? 2 : 1;
	}
	if (src->pool && gen_pool_size(src->pool) < batch)
		batch = gen_pool_size(src->pool);
	/* paced: batches of about 1 ms, so packets go out close to their slot */
	if (l->rate > 0) {
		double b = l->rate / 1000.0;
		if (b < batch)
			batch = b < 1 ? 1 : (unsigned)b;
		pc.rate = l->rate;
		pc.burst_s = 2.0 * batch / l->rate;
		/* sleeps wake within µs, not the default 50 µs timer slack */
		prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	}
	memset(msgs, 0, sizeof(msgs));
	for (unsigned i = 0; i < SEND_BATCH; i++) {
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	t0 = now_s();
	pc.base = t0;
	while (more) {
		unsigned n = 0, off = 0;
		struct gen_pkt pkt;

		if (l->duration_s > 0 && now_s() - t0 >= l->duration_s)
			break;
		if (l->rate > 0)
			pace(&pc);
		while (n < batch) {
			if (source_next(src, l, &pkt) != 1) {
				more = false;
				break;
			}
			if (bufs) {
				memcpy(bufs + (size_t)n * GEN_PKT_CAP, pkt.data, pkt.len);
				iov[n].iov_base = bufs + (size_t)n * GEN_PKT_CAP;
			} else {
				iov[n].iov_base = (void *)pkt.data;
			}
			iov[n].iov_len = pkt.len;
			nrec[n] = pkt.n_recs;
			n++;
		}
		if (limit_reached(&src->st, l))
			more = false;
		pc.n += n;
		while (off < n) {
			int r = sendmmsg(fd, msgs + off, n - off, 0);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				if (errno == ENOBUFS || errno == EAGAIN) {
					usleep(100);
					continue;
				}
				if (errno == ECONNREFUSED) {
					/* nobody listening (ICMP port unreachable): that
					 * packet is lost, keep going */
					refused++;
					off++;
					continue;
				}
				fprintf(stderr, "flowdelta: gen: send to %s: %s\n", dest, strerror(errno));
				rc = 1;
				more = false;
				break;
			}
			for (unsigned i = off; i < off + (unsigned)r; i++) {
				bytes += iov[i].iov_len;
				recs += nrec[i];
			}
			off += (unsigned)r;
			sent += (unsigned)r;
		}
	}
	t = now_s() - t0;
	close(fd);
	free(bufs);
	fprintf(stderr,
		"flowdelta: gen: sent %" PRIu64 " packets, %" PRIu64 " records, %" PRIu64
		" bytes in %.3f s (%.0f packets/s, %.0f records/s)",
		sent, recs, bytes, t, t > 0 ? (double)sent / t : 0.0, t > 0 ? (double)recs / t : 0.0);
	if (refused)
		fprintf(stderr, "; %" PRIu64 " refused by the destination", refused);
	fputc('\n', stderr);
	return rc;
}

static int run_gen(int argc, char **argv)
{
	enum {
		O_VERSION = 256, O_EXPORTERS, O_FLOWS, O_SEED, O_PACKETS, O_RECORDS, O_PER_PACKET,
		O_V6_SHARE, O_STRINGS, O_START, O_PCAP, O_SEND, O_RATE, O_DURATION, O_PORT,
		O_TMPL_REFRESH, O_EXPORTER_V6, O_INTERVAL, O_MTU, O_POOL,
	};
	static const struct option opts[] = {
		{ "version", required_argument, NULL, O_VERSION },
		{ "exporters", required_argument, NULL, O_EXPORTERS },
		{ "flows", required_argument, NULL, O_FLOWS },
		{ "seed", required_argument, NULL, O_SEED },
		{ "packets", required_argument, NULL, O_PACKETS },
		{ "records", required_argument, NULL, O_RECORDS },
		{ "per-packet", required_argument, NULL, O_PER_PACKET },
		{ "v6-share", required_argument, NULL, O_V6_SHARE },
		{ "strings", no_argument, NULL, O_STRINGS },
		{ "start", required_argument, NULL, O_START },
		{ "pcap", required_argument, NULL, O_PCAP },
		{ "send", required_argument, NULL, O_SEND },
		{ "rate", required_argument, NULL, O_RATE },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "port", required_argument, NULL, O_PORT },
		{ "tmpl-refresh", required_argument, NULL, O_TMPL_REFRESH },
		{ "exporter-v6", no_argument, NULL, O_EXPORTER_V6 },
		{ "interval", required_argument, NULL, O_INTERVAL },
		{ "mtu", required_argument, NULL, O_MTU },
		{ "pool", required_argument, NULL, O_POOL },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct gen_cfg gc;
	struct limits lim = { 0 };
	const char *pcap_path = NULL, *dest = NULL;
	bool flows_set = false, v6_set = false;
	unsigned mtu = 0;
	uint64_t pool = 0;
	struct source src = { 0 };
	uint64_t v;
	int opt, rc;

	gen_cfg_default(&gc);
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		const char *a = optarg;
		switch (opt) {
		case O_VERSION:
			if (parse_u64(a, 5, 10, &v) || (v != 5 && v != 9 && v != 10))
				return cli_usage_error("gen", "bad --version '%s' (5, 9 or 10)", a);
			gc.version = (uint8_t)v;
			break;
		case O_EXPORTERS:
			if (parse_u64(a, 1, GEN_MAX_EXPORTERS, &v))
				return cli_usage_error("gen", "bad --exporters '%s' (1..%d)", a,
						       GEN_MAX_EXPORTERS);
			gc.exporters = (uint32_t)v;
			break;
		case O_FLOWS:
			if (parse_u64(a, 1, UINT64_MAX / 2, &gc.flows))
				return cli_usage_error("gen", "bad --flows '%s'", a);
			flows_set = true;
			break;
		case O_SEED:
			if (parse_u64(a, 0, UINT64_MAX, &gc.seed))
				return cli_usage_error("gen", "bad --seed '%s'", a);
			break;
		case O_PACKETS:
			if (parse_u64(a, 1, UINT64_MAX / 2, &lim.packets))
				return cli_usage_error("gen", "bad --packets '%s'", a);
			break;
		case O_RECORDS:
			if (parse_u64(a, 1, UINT64_MAX / 2, &lim.records))
				return cli_usage_error("gen", "bad --records '%s'", a);
			break;
		case O_PER_PACKET:
			if (parse_u64(a, 1, GEN_MAX_PER_PACKET, &v))
				return cli_usage_error("gen", "bad --per-packet '%s' (1..%d)", a,
						       GEN_MAX_PER_PACKET);
			gc.per_packet = (uint32_t)v;
			break;
		case O_V6_SHARE:
			if (parse_double(a, 0.0, 1.0, &gc.v6_share))
				return cli_usage_error("gen", "bad --v6-share '%s' (0..1)", a);
			v6_set = true;
			break;
		case O_STRINGS:
			gc.strings = true;
			break;
		case O_START:
			if (parse_start(a, &gc.start_ms))
				return cli_usage_error("gen", "bad --start '%s' (ISO 8601 UTC or ms)", a);
			break;
		case O_PCAP:
			pcap_path = a;
			break;
		case O_SEND:
			dest = a;
			break;
		case O_RATE:
			if (parse_double(a, 0.001, 1e9, &lim.rate))
				return cli_usage_error("gen", "bad --rate '%s'", a);
			break;
		case O_DURATION:
			if (parse_double(a, 0.001, 86400.0 * 365, &lim.duration_s))
				return cli_usage_error("gen", "bad --duration '%s'", a);
			break;
		case O_PORT:
			if (parse_u64(a, 1, 65535, &v))
				return cli_usage_error("gen", "bad --port '%s'", a);
			gc.dst_port = (uint16_t)v;
			break;
		case O_TMPL_REFRESH:
			if (parse_u64(a, 1, 1000000, &v))
				return cli_usage_error("gen", "bad --tmpl-refresh '%s'", a);
			gc.tmpl_refresh = (uint32_t)v;
			break;
		case O_INTERVAL:
			if (parse_u64(a, 0, 3600000, &v))
				return cli_usage_error("gen", "bad --interval '%s' (ms)", a);
			gc.interval_ms = (uint32_t)v;
			break;
		case O_MTU:
			if (parse_u64(a, 576, 65535, &v))
				return cli_usage_error("gen", "bad --mtu '%s' (576..65535)", a);
			mtu = (unsigned)v;
			break;
		case O_POOL:
			if (parse_u64(a, 1, MAX_POOL, &pool))
				return cli_usage_error("gen", "bad --pool '%s' (1..%d packets)", a, MAX_POOL);
			break;
		case O_EXPORTER_V6:
			gc.exporter_v6 = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case ':':
			return cli_usage_error("gen", "option '%s' needs a value", argv[optind - 1]);
		default:
			return cli_usage_error("gen", "unknown option '%s' (see --help)",
					       argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("gen", "unexpected argument '%s'", argv[optind]);
	if (!pcap_path == !dest)
		return cli_usage_error("gen", "give exactly one of --pcap FILE and --send HOST:PORT");
	if (lim.packets && lim.records)
		return cli_usage_error("gen", "--packets and --records exclude each other");
	if (pcap_path && (lim.rate > 0 || lim.duration_s > 0))
		return cli_usage_error("gen", "--rate and --duration only apply to --send");
	if (dest && mtu)
		return cli_usage_error("gen", "--mtu only applies to --pcap (the kernel fragments what it sends)");
	if (gc.strings && gc.version != 10)
		return cli_usage_error("gen", "--strings needs --version 10 (IPFIX)");
	if (gc.version == 5 && gc.per_packet > 30)
		return cli_usage_error("gen", "NetFlow v5 carries at most 30 records per packet");
	if (gc.version == 5 && v6_set && gc.v6_share > 0)
		return cli_usage_error("gen", "NetFlow v5 cannot carry IPv6 flows");
	if (pool && flows_set)
		return cli_usage_error("gen", "--pool repeats packets: bound it with --packets, "
				       "--records or --duration, not --flows");
	if (!flows_set && !lim.packets && !lim.records) {
		if (pcap_path)
			gc.flows = DEFAULT_PCAP_FLOWS;
		else if (lim.duration_s <= 0)
			lim.packets = DEFAULT_SEND_PACKETS; /* never send unbounded */
	}

	src.cfg = &gc;
	if (pool) {
		uint64_t per = (pool + gc.exporters - 1) / gc.exporters;
		if (per * gc.exporters > MAX_POOL)
			return cli_usage_error("gen", "--pool %" PRIu64 " x %u exporters: too large",
					       pool, gc.exporters);
		src.pool = gen_pool_new(&gc, (uint32_t)per, false);
	} else {
		src.g = gen_new(&gc);
	}
	if (!src.g && !src.pool) {
		if (errno == EINVAL)
			return cli_usage_error("gen", "invalid combination of options");
		fprintf(stderr, "flowdelta: gen: %s\n", strerror(errno));
		return 1;
	}
	rc = pcap_path ? write_pcap(&src, &gc, pcap_path, &lim, mtu) : send_udp(&src, dest, &lim);
	gen_free(src.g);
	gen_pool_free(src.pool);
	return rc;
}

static struct cli_cmd cmd_gen = {
	.name = "gen",
	.summary = "generate synthetic NetFlow/IPFIX exports (pcap or UDP)",
	.run = run_gen,
};
CLI_REGISTER(cmd_gen)
