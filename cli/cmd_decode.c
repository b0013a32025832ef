/* cmd_decode.c — `flowdelta decode`: print the flow records of pcap/pcapng
 * captures, decoded by lib/flow exactly as the collectors would.
 *
 * All files go through one decoder in command-line order, so templates seen
 * in an earlier file decode data in a later one (captures are often split
 * into a template file and a data file). UDP datagrams and TCP streams to
 * the flow ports come from pcapin; the pcap timestamp is the decoder's clock.
 * Records go to stdout (table, csv or jsonl); --stats goes to stderr so that
 * stdout stays machine-readable. See docs/cli-decode.md.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "flow/flow.h"
#include "pcapin.h"
#include "util/addr.h"

#define MAX_PORTS 64
#define MAX_SAMPLING 256

enum fmt { FMT_TABLE, FMT_CSV, FMT_JSONL };

struct dec_ctx {
	enum fmt fmt;
	FILE *out;
	struct flow_dec *dec;
	uint64_t last_ts;
	uint64_t tcp_conns;     /* flow_tcp contexts created */
	uint64_t tcp_aborted;   /* streams given up: unrecoverable IPFIX framing */
	uint64_t tcp_ctx_failed;
	uint64_t table_rows;
};

/* What the decode command keeps per TCP connection (pcapin's user slot). */
struct tcp_conn {
	struct flow_tcp *t;
	bool dead;
};

static const char *const str_keys[FLOW_STR_MAX] = { "app", "http_host", "url", "sni" };

/* ---- formatting helpers ---- */

static void fmt_time(uint64_t ms, char *buf, size_t len)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	size_t n;

	if (!gmtime_r(&s, &tm) || !(n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm))) {
		snprintf(buf, len, "%" PRIu64, ms);
		return;
	}
	snprintf(buf + n, len - n, ".%03uZ", (unsigned)(ms % 1000));
}

/* Length of the valid UTF-8 sequence at s[0..n), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t l;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		l = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		l = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		l = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (l > n)
		return 0;
	for (size_t i = 1; i < l; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((l == 3 && cp < 0x800) || (l == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return l;
}

/* JSON string: exporters send arbitrary bytes, so escape controls and
 * replace invalid UTF-8 with U+FFFD to keep every line valid JSON. */
static void json_str(FILE *f, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', f);
	for (size_t i = 0; i < n;) {
		unsigned char c = p[i];
		size_t l;

		if (c == '"' || c == '\\') {
			fputc('\\', f);
			fputc(c, f);
			i++;
		} else if (c == '\n') {
			fputs("\\n", f), i++;
		} else if (c == '\r') {
			fputs("\\r", f), i++;
		} else if (c == '\t') {
			fputs("\\t", f), i++;
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(f, "\\u%04x", c), i++;
		} else if ((l = utf8_len(p + i, n - i)) == 0) {
			fputs("\\ufffd", f), i++;
		} else {
			fwrite(p + i, 1, l, f);
			i += l;
		}
	}
	fputc('"', f);
}

/* CSV field (RFC 4180): quoted only when it has to be. */
static void csv_str(FILE *f, const char *s, size_t n)
{
	bool q = false;

	for (size_t i = 0; i < n && !q; i++)
		q = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
	if (!q) {
		fwrite(s, 1, n, f);
		return;
	}
	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"')
			fputc('"', f);
		fputc(s[i], f);
	}
	fputc('"', f);
}

static const char *proto_name(uint8_t p, char *buf, size_t len)
{
	switch (p) {
	case 1: return "ICMP";
	case 6: return "TCP";
	case 17: return "UDP";
	case 47: return "GRE";
	case 50: return "ESP";
	case 58: return "ICMP6";
	case 132: return "SCTP";
	default: snprintf(buf, len, "%u", p); return buf;
	}
}

/* ---- record output ---- */

#define CSV_HEADER                                                                         \
	"first_ms,last_ms,exporter,odid,src_addr,dst_addr,src_port,dst_port,proto,"      \
	"tcp_flags,tos,packets,bytes,in_if,out_if,src_as,dst_as,next_hop,src_mask,"       \
	"dst_mask,direction,vlan,sampling,exp_port,version,rev_packets,rev_bytes,app,"     \
	"http_host,url,sni\n"

static void print_jsonl(FILE *f, const struct flow_rec *r, const char *arena)
{
	bool v4 = !(r->flags & FLOW_F_IP6);
	char ex[ADDR_STRLEN], sa[ADDR_STRLEN], da[ADDR_STRLEN], nh[ADDR_STRLEN];

	addr_format(r->exporter, false, ex, sizeof(ex));
	addr_format(r->src_addr, v4, sa, sizeof(sa));
	addr_format(r->dst_addr, v4, da, sizeof(da));
	addr_format(r->next_hop, v4, nh, sizeof(nh));
	fprintf(f,
		"{\"first_ms\":%" PRIu64 ",\"last_ms\":%" PRIu64 ",\"exporter\":\"%s\",\"odid\":%" PRIu32
		",\"src_addr\":\"%s\",\"dst_addr\":\"%s\",\"src_port\":%u,\"dst_port\":%u"
		",\"proto\":%u,\"tcp_flags\":%u,\"tos\":%u,\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64
		",\"in_if\":%" PRIu32 ",\"out_if\":%" PRIu32 ",\"src_as\":%" PRIu32
		",\"dst_as\":%" PRIu32 ",\"next_hop\":\"%s\",\"src_mask\":%u,\"dst_mask\":%u"
		",\"direction\":%u,\"vlan\":%u,\"sampling\":%" PRIu32 ",\"exp_port\":%u,\"version\":%u",
		r->first_ms, r->last_ms, ex, r->odid, sa, da, r->src_port, r->dst_port, r->proto,
		r->tcp_flags, r->tos, r->packets, r->bytes, r->in_if, r->out_if, r->src_as,
		r->dst_as, nh, r->src_mask, r->dst_mask, r->direction, r->vlan,
		r->sampling ? r->sampling : 1, r->exp_port, r->version);
	if (r->flags & FLOW_F_BIFLOW)
		fprintf(f, ",\"rev_packets\":%" PRIu64 ",\"rev_bytes\":%" PRIu64, r->rev_packets,
			r->rev_bytes);
	for (int s = 0; s < FLOW_STR_MAX; s++) {
		if (!r->str_len[s] || !arena)
			continue;
		fprintf(f, ",\"%s\":", str_keys[s]);
		json_str(f, arena + r->str_off[s], r->str_len[s]);
	}
	fputs("}\n", f);
}

static void print_csv(FILE *f, const struct flow_rec *r, const char *arena)
{
	bool v4 = !(r->flags & FLOW_F_IP6);
	char ex[ADDR_STRLEN], sa[ADDR_STRLEN], da[ADDR_STRLEN], nh[ADDR_STRLEN];

	addr_format(r->exporter, false, ex, sizeof(ex));
	addr_format(r->src_addr, v4, sa, sizeof(sa));
	addr_format(r->dst_addr, v4, da, sizeof(da));
	addr_format(r->next_hop, v4, nh, sizeof(nh));
	fprintf(f,
		"%" PRIu64 ",%" PRIu64 ",%s,%" PRIu32 ",%s,%s,%u,%u,%u,%u,%u,%" PRIu64 ",%" PRIu64
		",%" PRIu32 ",%" PRIu32 ",%" PRIu32 ",%" PRIu32 ",%s,%u,%u,%u,%u,%" PRIu32 ",%u,%u,",
		r->first_ms, r->last_ms, ex, r->odid, sa, da, r->src_port, r->dst_port, r->proto,
		r->tcp_flags, r->tos, r->packets, r->bytes, r->in_if, r->out_if, r->src_as,
		r->dst_as, nh, r->src_mask, r->dst_mask, r->direction, r->vlan,
		r->sampling ? r->sampling : 1, r->exp_port, r->version);
	if (r->flags & FLOW_F_BIFLOW)
		fprintf(f, "%" PRIu64 ",%" PRIu64, r->rev_packets, r->rev_bytes);
	else
		fputc(',', f);
	for (int s = 0; s < FLOW_STR_MAX; s++) {
		fputc(',', f);
		if (r->str_len[s] && arena)
			csv_str(f, arena + r->str_off[s], r->str_len[s]);
	}
	fputc('\n', f);
}

/* addr:port, IPv6 as [addr]:port; ICMP shows type.code instead of a port. */
static void endpoint(char *buf, size_t len, const uint8_t a[16], bool v4, uint16_t port,
		     uint8_t proto, bool is_dst)
{
	char s[ADDR_STRLEN];

	addr_format(a, v4, s, sizeof(s));
	if (proto == FLOW_PROTO_ICMP || proto == FLOW_PROTO_ICMP6) {
		if (is_dst)
			snprintf(buf, len, v4 ? "%s:%u.%u" : "[%s]:%u.%u", s, port >> 8, port & 0xff);
		else
			snprintf(buf, len, "%s", s);
	} else {
		snprintf(buf, len, v4 ? "%s:%u" : "[%s]:%u", s, port);
	}
}

static void print_table(struct dec_ctx *c, const struct flow_rec *r, const char *arena)
{
	FILE *f = c->out;
	bool v4 = !(r->flags & FLOW_F_IP6);
	char t[40], pb[8], src[ADDR_STRLEN + 10], dst[ADDR_STRLEN + 10], ex[ADDR_STRLEN];
	char fl[7] = "......";
	static const char letters[] = "UAPRSF";
	bool strs = false;

	if (c->table_rows++ % 40 == 0)
		fprintf(f, "%-24s %9s %-5s %-21s %-21s %6s %10s %12s %-15s %s\n", "first (UTC)",
			"dur(s)", "proto", "src", "dst", "flags", "packets", "bytes", "exporter",
			"app/host/url");
	fmt_time(r->first_ms, t, sizeof(t));
	endpoint(src, sizeof(src), r->src_addr, v4, r->src_port, r->proto, false);
	endpoint(dst, sizeof(dst), r->dst_addr, v4, r->dst_port, r->proto, true);
	addr_format(r->exporter, false, ex, sizeof(ex));
	for (int i = 0; i < 6; i++)
		if (r->tcp_flags & (0x20 >> i))
			fl[i] = letters[i];
	for (int s = 0; s < FLOW_STR_MAX; s++)
		strs |= r->str_len[s] && arena;
	/* the exporter column is padded only when strings follow it */
	fprintf(f, "%-24s %9.3f %-5s %-21s %-21s %6s %10" PRIu64 " %12" PRIu64 " %-*s", t,
		r->last_ms >= r->first_ms ? (double)(r->last_ms - r->first_ms) / 1000.0 : 0.0,
		proto_name(r->proto, pb, sizeof(pb)), src, dst, r->proto == 6 ? fl : "", r->packets,
		r->bytes, strs ? 15 : 0, ex);
	for (int s = 0; s < FLOW_STR_MAX; s++) {
		if (!r->str_len[s] || !arena)
			continue;
		/* keep the table one line per record: no control bytes */
		fputc(' ', f);
		for (uint16_t i = 0; i < r->str_len[s]; i++) {
			unsigned char ch = (unsigned char)arena[r->str_off[s] + i];
			fputc(ch < 0x20 || ch == 0x7f ? '?' : ch, f);
		}
	}
	fputc('\n', f);
}

static void sink(void *ctx, const struct flow_batch *b)
{
	struct dec_ctx *c = ctx;

	for (uint32_t i = 0; i < b->n; i++) {
		switch (c->fmt) {
		case FMT_JSONL: print_jsonl(c->out, &b->recs[i], b->arena); break;
		case FMT_CSV: print_csv(c->out, &b->recs[i], b->arena); break;
		case FMT_TABLE: print_table(c, &b->recs[i], b->arena); break;
		}
	}
}

/* ---- capture input ---- */

static void on_udp(void *ctx, const struct pcapin_udp *u)
{
	struct dec_ctx *c = ctx;
	struct flow_src src;

	memcpy(src.addr, u->src, 16);
	src.port = u->sport;
	src.listen_port = u->dport;
	c->last_ts = u->ts_ms;
	flow_dec_udp(c->dec, &src, u->data, u->len, u->ts_ms);
}

static void on_tcp(void *ctx, const struct pcapin_tcp *t)
{
	struct dec_ctx *c = ctx;
	struct tcp_conn *conn = *t->user;

	if (t->ev == PCAPIN_TCP_CLOSE) {
		if (conn) {
			flow_tcp_free(conn->t);
			free(conn);
			*t->user = NULL;
		}
		return;
	}
	c->last_ts = t->ts_ms;
	if (!conn) {
		struct flow_src src;
		memcpy(src.addr, t->src, 16);
		src.port = t->sport;
		src.listen_port = t->dport;
		conn = calloc(1, sizeof(*conn));
		if (conn)
			conn->t = flow_tcp_new(c->dec, &src);
		if (!conn || !conn->t) {
			c->tcp_ctx_failed++;
			free(conn);
			return; /* retried with the next chunk of this stream */
		}
		*t->user = conn;
		c->tcp_conns++;
	}
	if (conn->dead)
		return;
	if (flow_tcp_feed(conn->t, t->data, t->len, t->ts_ms) < 0) {
		/* like a collector closing the connection: ignore the rest */
		conn->dead = true;
		c->tcp_aborted++;
	}
}

/* ---- --stats ---- */

static void print_drops(FILE *f, const uint64_t *drops)
{
	bool any = false;

	for (int d = 0; d < FLOW_DROP_MAX; d++) {
		if (!drops[d])
			continue;
		fprintf(f, "%s%s=%" PRIu64, any ? " " : " drops: ", flow_drop_name((enum flow_drop)d),
			drops[d]);
		any = true;
	}
}

static void print_domain(void *ctx, const struct flow_domain_stats *s)
{
	FILE *f = ctx;
	char ex[ADDR_STRLEN];

	fprintf(f,
		"domain %s odid=%" PRIu32 " version=%u packets=%" PRIu64 " records=%" PRIu64
		" opt_records=%" PRIu64 " templates=%" PRIu64 " templates_live=%" PRIu32
		" seq_lost=%" PRIu64 " seq_dup=%" PRIu64 " seq_ooo=%" PRIu64,
		addr_format(s->exporter, false, ex, sizeof(ex)), s->odid, s->version, s->packets,
		s->records, s->opt_records, s->templates, s->templates_live, s->seq_lost,
		s->seq_dup, s->seq_ooo);
	print_drops(f, s->drops);
	fputc('\n', f);
}

static void print_stats(FILE *f, const struct dec_ctx *c, const struct pcapin *pin)
{
	struct flow_dec_stats st;
	const uint64_t *pc = pcapin_counters(pin);

	flow_dec_foreach_domain(c->dec, print_domain, f);
	flow_dec_stats(c->dec, &st);
	fprintf(f,
		"decoder packets=%" PRIu64 " records=%" PRIu64 " opt_records=%" PRIu64
		" bytes=%" PRIu64 " domains=%" PRIu32 " templates_live=%" PRIu32
		" parked_sets=%" PRIu64 " unparked_sets=%" PRIu64,
		st.packets, st.records, st.opt_records, st.bytes, st.domains, st.templates_live,
		st.parked_sets, st.unparked_sets);
	print_drops(f, st.drops);
	fputc('\n', f);
	fprintf(f, "pcap");
	for (int i = 0; i < PCAPIN_CTR_MAX; i++)
		if (pc[i])
			fprintf(f, " %s=%" PRIu64, pcapin_ctr_name((enum pcapin_ctr)i), pc[i]);
	fprintf(f, " tcp_connections=%" PRIu64, c->tcp_conns);
	if (c->tcp_aborted)
		fprintf(f, " tcp_aborted=%" PRIu64, c->tcp_aborted);
	if (c->tcp_ctx_failed)
		fprintf(f, " tcp_ctx_failed=%" PRIu64, c->tcp_ctx_failed);
	fputc('\n', f);
}

/* ---- command ---- */

static const char usage_text[] =
	"usage: flowdelta decode [--format table|csv|jsonl] [--port N]... [--stats]\n"
	"                        [--tmpl-lifetime S] [--sampling ADDR=N]... FILE...\n"
	"Decode the NetFlow v5/v9 and IPFIX exports in pcap/pcapng FILEs (\"-\": stdin),\n"
	"one decoder for all files in order; one output line per flow record.\n"
	"  -f, --format F          table (default), csv or jsonl\n"
	"  -p, --port N            UDP/TCP port of the exports (repeatable;\n"
	"                          default 2055, 4739, 9995, 9996)\n"
	"  -s, --stats             per exporter domain, decoder and capture counters\n"
	"                          on stderr after the records\n"
	"  -l, --tmpl-lifetime S   template lifetime for UDP in seconds (default 1800)\n"
	"  -S, --sampling ADDR=N   treat exporter ADDR as sampled 1-in-N (repeatable)\n"
	"  -h, --help              this text\n";

static int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long long v;

	if (!*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int run_decode(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "port", required_argument, NULL, 'p' },
		{ "stats", no_argument, NULL, 's' },
		{ "tmpl-lifetime", required_argument, NULL, 'l' },
		{ "sampling", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const uint16_t default_ports[] = { 2055, 4739, 9995, 9996 };
	struct {
		uint8_t addr[16];
		uint32_t n;
	} samp[MAX_SAMPLING];
	uint16_t ports[MAX_PORTS];
	unsigned nports = 0, nsamp = 0;
	struct dec_ctx c = { .fmt = FMT_TABLE, .out = stdout };
	struct flow_dec_cfg dcfg;
	struct pcapin_cfg pcfg = { 0 };
	struct pcapin *pin = NULL;
	bool stats = false;
	int opt, rc = 0;
	uint32_t v;

	flow_dec_cfg_default(&dcfg);
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":f:p:sl:S:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			if (!strcmp(optarg, "table"))
				c.fmt = FMT_TABLE;
			else if (!strcmp(optarg, "csv"))
				c.fmt = FMT_CSV;
			else if (!strcmp(optarg, "jsonl"))
				c.fmt = FMT_JSONL;
			else
				return cli_usage_error("decode", "unknown format '%s' (table, csv or jsonl)",
						       optarg);
			break;
		case 'p':
			if (parse_u32(optarg, 1, 65535, &v))
				return cli_usage_error("decode", "bad port '%s'", optarg);
			if (nports == MAX_PORTS)
				return cli_usage_error("decode", "more than %d ports", MAX_PORTS);
			ports[nports++] = (uint16_t)v;
			break;
		case 's':
			stats = true;
			break;
		case 'l':
			if (parse_u32(optarg, 1, 86400 * 365, &v))
				return cli_usage_error("decode", "bad template lifetime '%s'", optarg);
			dcfg.tmpl_lifetime_s = v;
			break;
		case 'S': {
			char *eq = strrchr(optarg, '='), a[64];
			size_t al = eq ? (size_t)(eq - optarg) : 0;
			if (!eq || al == 0 || al >= sizeof(a))
				return cli_usage_error("decode", "bad --sampling '%s' (want ADDR=N)", optarg);
			memcpy(a, optarg, al);
			a[al] = '\0';
			if (nsamp == MAX_SAMPLING)
				return cli_usage_error("decode", "more than %d --sampling", MAX_SAMPLING);
			if (addr_parse(a, samp[nsamp].addr) ||
			    parse_u32(eq + 1, 1, UINT32_MAX, &samp[nsamp].n))
				return cli_usage_error("decode", "bad --sampling '%s' (want ADDR=N)", optarg);
			nsamp++;
			break;
		}
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case ':':
			return cli_usage_error("decode", "option '%s' needs a value", argv[optind - 1]);
		default:
			return cli_usage_error("decode", "unknown option '%s' (see --help)",
					       argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage_error("decode", "no capture file given (see --help)");
	if (!nports) {
		memcpy(ports, default_ports, sizeof(default_ports));
		nports = sizeof(default_ports) / sizeof(default_ports[0]);
	}

	dcfg.sink = sink;
	dcfg.sink_ctx = &c;
	c.dec = flow_dec_new(&dcfg);
	if (!c.dec) {
		fprintf(stderr, "flowdelta: decode: cannot create decoder: %s\n", strerror(errno));
		return 1;
	}
	for (unsigned i = 0; i < nsamp; i++) {
		if (flow_dec_set_sampling_override(c.dec, samp[i].addr, samp[i].n)) {
			fprintf(stderr, "flowdelta: decode: cannot set sampling override\n");
			rc = 1;
			goto out;
		}
	}
	pcfg.ports = ports;
	pcfg.n_ports = nports;
	pcfg.udp = on_udp;
	pcfg.tcp = on_tcp;
	pcfg.ctx = &c;
	pin = pcapin_new(&pcfg);
	if (!pin) {
		fprintf(stderr, "flowdelta: decode: %s\n", strerror(errno));
		rc = 1;
		goto out;
	}
	if (c.fmt == FMT_CSV)
		fputs(CSV_HEADER, c.out);

	for (int i = optind; i < argc; i++) {
		char err[512];
		if (pcapin_read_file(pin, argv[i], err, sizeof(err)) < 0) {
			fflush(c.out);
			fprintf(stderr, "flowdelta: decode: %s: %s\n", argv[i], err);
			rc = 1;
			break; /* later files may depend on this one's templates */
		}
	}
	pcapin_flush(pin); /* TCP streams end: their flow_tcp go */
	flow_dec_tick(c.dec, c.last_ts);
	fflush(c.out);
	if (stats)
		print_stats(stderr, &c, pin);
out:
	pcapin_free(pin);
	flow_dec_free(c.dec);
	return rc;
}

static struct cli_cmd cmd_decode = {
	.name = "decode",
	.summary = "print the flow records in pcap/pcapng captures",
	.run = run_decode,
};
CLI_REGISTER(cmd_decode)
