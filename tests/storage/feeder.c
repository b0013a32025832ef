/* feeder.c — test client for flowdelta-store: a small "proxy" speaking the
 * session hello / acknowledgement protocol of docs/ack-protocol.md, and the
 * checker that reads the store back.
 *
 *   feeder send --port P --seed S --count N [--session ID] [--per-msg K]
 *               [--delay-us U] [--timeout-s T] [--no-ack]
 *       Generates N records with lib/gen (seed S), encodes them into IPFIX
 *       messages of K records with lib/flow/encode.h, and sends them. With
 *       --session it sends the hello first, keeps every message until an
 *       FDAK frame covers it, and after a lost connection reconnects and
 *       resends from the oldest unacknowledged message, like the proxy's
 *       sender. Exits 0 once everything is acknowledged (or, without a
 *       session, sent). Prints "acked N" lines to stdout as acks arrive.
 *       --resend-all: every connection starts again from the first message
 *       (a proxy that lost its acknowledgement state): the store must
 *       recognise all of them as replays.
 *
 *   feeder udp --port P --seed S --count N [--delay-us U]
 *       Sends lib/gen's export packets as they are (IPFIX over UDP).
 *
 *   feeder verify --dir D --port P --seed S --count N [--seed S --count N ...]
 *                 [--udp-port U --udp-seed S --udp-count N]
 *       Decodes the same messages locally with lib/flow (the oracle: what
 *       the store must have stored), reads the store with the storage
 *       reader, and checks that both hold the same records, each exactly
 *       once, field by field. Exit 0 ok, 1 mismatch.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "flow/encode.h"
#include "flow/flow.h"
#include "gen/gen.h"
#include "store.h"

#define MAX_SEEDS 16

struct msg {
	uint8_t *p;
	size_t len;
};

struct msgs {
	struct msg *m;
	size_t n, cap;
};

/* All messages of one seed: gen records -> canonical IPFIX, templates in
 * every message so that any message can start a connection. */
static struct gen *gen_for(uint64_t seed, uint64_t count)
{
	struct gen_cfg gc;
	gen_cfg_default(&gc);
	gc.seed = seed;
	gc.exporters = 4;
	gc.flows = (count + 3) / 4;
	gc.strings = true;
	return gen_new(&gc);
}

static int build(uint64_t seed, uint64_t count, uint32_t per_msg, struct msgs *out)
{
	struct gen *g = gen_for(seed, count);
	if (!g)
		return -1;
	static uint8_t buf[FLOW_ENC_MAX_MSG];
	struct flow_enc e;
	uint64_t done = 0;
	uint32_t seq = 0, in_msg = 0;
	memset(out, 0, sizeof(*out));
	flow_enc_begin(&e, buf, sizeof(buf), 1, 1767225600, seq);
	flow_enc_templates(&e);
	struct gen_pkt pkt;
	while (done < count && gen_next(g, 0, &pkt) == 1) {
		for (uint32_t i = 0; i < pkt.n_recs && done < count; i++) {
			if (in_msg == per_msg || flow_enc_add(&e, &pkt.recs[i], pkt.arena) != 0) {
				size_t len = flow_enc_finish(&e);
				if (out->n == out->cap) {
					out->cap = out->cap ? out->cap * 2 : 256;
					out->m = realloc(out->m, out->cap * sizeof(*out->m));
				}
				out->m[out->n].p = malloc(len);
				memcpy(out->m[out->n].p, buf, len);
				out->m[out->n++].len = len;
				seq += e.records;
				flow_enc_begin(&e, buf, sizeof(buf), 1, 1767225600, seq);
				flow_enc_templates(&e);
				in_msg = 0;
				if (flow_enc_add(&e, &pkt.recs[i], pkt.arena) != 0) {
					fprintf(stderr, "feeder: record does not fit an empty message\n");
					return -1;
				}
			}
			in_msg++;
			done++;
		}
	}
	if (in_msg) {
		size_t len = flow_enc_finish(&e);
		if (out->n == out->cap) {
			out->cap = out->cap ? out->cap * 2 : 256;
			out->m = realloc(out->m, out->cap * sizeof(*out->m));
		}
		out->m[out->n].p = malloc(len);
		memcpy(out->m[out->n].p, buf, len);
		out->m[out->n++].len = len;
	}
	gen_free(g);
	return done == count ? 0 : -1;
}

/* The hello: options template 400 + one options record (ack-protocol §1). */
static size_t hello(uint8_t *b, uint64_t session, uint64_t first, uint32_t flags)
{
	uint8_t *p = b + 16;
	/* options template set */
	p[0] = 0, p[1] = 3;
	uint8_t *tl = p + 2;
	p += 4;
	p[0] = 400 >> 8, p[1] = 400 & 0xff; /* template id */
	p[2] = 0, p[3] = 4;                 /* field count */
	p[4] = 0, p[5] = 1;                 /* scope field count */
	p += 6;
	const struct { uint16_t ie, len; bool pen; } f[4] = {
		{ 149, 4, false }, { FLOW_IE_SESSION_ID, 8, true }, { FLOW_IE_FIRST_MSG, 8, true },
		{ FLOW_IE_CTL_FLAGS, 4, true },
	};
	for (int i = 0; i < 4; i++) {
		uint16_t ie = f[i].ie | (f[i].pen ? 0x8000 : 0);
		*p++ = (uint8_t)(ie >> 8), *p++ = (uint8_t)ie;
		*p++ = (uint8_t)(f[i].len >> 8), *p++ = (uint8_t)f[i].len;
		if (f[i].pen) {
			uint32_t pen = FLOW_PEN_FLOWDELTA;
			*p++ = (uint8_t)(pen >> 24), *p++ = (uint8_t)(pen >> 16);
			*p++ = (uint8_t)(pen >> 8), *p++ = (uint8_t)pen;
		}
	}
	uint16_t sl = (uint16_t)(p - (tl - 2));
	tl[0] = (uint8_t)(sl >> 8), tl[1] = (uint8_t)sl;
	/* data set */
	uint8_t *ds = p;
	p[0] = 400 >> 8, p[1] = 400 & 0xff;
	p += 4;
	uint32_t odid = 1;
	for (int k = 3; k >= 0; k--)
		*p++ = (uint8_t)(odid >> (8 * k));
	for (int k = 7; k >= 0; k--)
		*p++ = (uint8_t)(session >> (8 * k));
	for (int k = 7; k >= 0; k--)
		*p++ = (uint8_t)(first >> (8 * k));
	for (int k = 3; k >= 0; k--)
		*p++ = (uint8_t)(flags >> (8 * k));
	uint16_t dl = (uint16_t)(p - ds);
	ds[2] = (uint8_t)(dl >> 8), ds[3] = (uint8_t)dl;
	size_t len = (size_t)(p - b);
	memset(b, 0, 16);
	b[1] = 10;
	b[2] = (uint8_t)(len >> 8), b[3] = (uint8_t)len;
	b[4] = 0x69, b[5] = 0x5d, b[6] = 0x1a, b[7] = 0x80; /* export time */
	b[15] = 1;                                          /* ODID 1 */
	return len;
}

static int dial(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -1;
	}
	return fd;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Read available FDAK frames; returns the highest durable mark, or -1 when
 * the connection is gone. */
static int64_t read_acks(int fd, uint8_t *acc, size_t *acc_len, int wait_ms)
{
	int64_t best = 0;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	while (poll(&p, 1, wait_ms) == 1) {
		wait_ms = 0;
		ssize_t r = recv(fd, acc + *acc_len, 64 - *acc_len, MSG_DONTWAIT);
		if (r == 0 || (r < 0 && errno != EAGAIN))
			return -1;
		if (r < 0)
			break;
		*acc_len += (size_t)r;
		while (*acc_len >= 16) {
			if (memcmp(acc, "FDAK", 4) || acc[4] != 1) {
				fprintf(stderr, "feeder: bad ack frame\n");
				exit(1);
			}
			uint64_t v = 0;
			for (int k = 0; k < 8; k++)
				v = v << 8 | acc[8 + k];
			if ((int64_t)v > best)
				best = (int64_t)v;
			memmove(acc, acc + 16, *acc_len - 16);
			*acc_len -= 16;
		}
	}
	return best;
}

static void msgs_free(struct msgs *ms)
{
	for (size_t i = 0; i < ms->n; i++)
		free(ms->m[i].p);
	free(ms->m);
}

static int send_loop(uint16_t port, const struct msgs *ms, uint64_t session, unsigned delay_us,
		     double timeout_s, bool want_ack, bool resend_all);

static int cmd_send(uint16_t port, uint64_t seed, uint64_t count, uint32_t per_msg,
		    uint64_t session, unsigned delay_us, double timeout_s, bool want_ack,
		    bool resend_all)
{
	struct msgs ms;
	if (build(seed, count, per_msg, &ms)) {
		fprintf(stderr, "feeder: cannot generate records\n");
		return 1;
	}
	int rc = send_loop(port, &ms, session, delay_us, timeout_s, want_ack, resend_all);
	msgs_free(&ms);
	return rc;
}

static int send_loop(uint16_t port, const struct msgs *msgs, uint64_t session, unsigned delay_us,
		     double timeout_s, bool want_ack, bool resend_all)
{
	const struct msgs ms = *msgs;
	/* message numbers start anywhere: 1000 shows the store does not
	 * assume 0 */
	const uint64_t first = 1000;
	uint64_t acked = first, reconnects = 0;
	double deadline = now_s() + timeout_s;
	while (now_s() < deadline) {
		int fd = dial(port);
		if (fd < 0) {
			usleep(50000);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		uint8_t acc[64];
		size_t acc_len = 0;
		bool broken = false;
		/* a proxy resends from its oldest unacknowledged message;
		 * --resend-all replays everything, to exercise deduplication */
		uint64_t next = session && !resend_all ? acked : first;
		if (session) {
			uint8_t h[128];
			size_t hl = hello(h, session, next, want_ack ? FLOW_CTL_ACK : 0);
			if (send(fd, h, hl, MSG_NOSIGNAL) != (ssize_t)hl)
				broken = true;
		}
		while (!broken && next < first + ms.n) {
			const struct msg *m = &ms.m[next - first];
			if (send(fd, m->p, m->len, MSG_NOSIGNAL) != (ssize_t)m->len) {
				broken = true;
				break;
			}
			next++;
			if (delay_us)
				usleep(delay_us);
			if (session && want_ack) {
				int64_t a = read_acks(fd, acc, &acc_len, 0);
				if (a < 0)
					broken = true;
				else if ((uint64_t)a > acked) {
					acked = (uint64_t)a;
					printf("acked %llu\n", (unsigned long long)(acked - first));
					fflush(stdout);
				}
			}
		}
		if (!session || !want_ack) {
			if (!broken) {
				/* half-close and wait for the store to close: all read */
				shutdown(fd, SHUT_WR);
				char c;
				while (recv(fd, &c, 1, 0) > 0)
					;
				close(fd);
				return 0;
			}
		} else {
			while (!broken && acked < first + ms.n && now_s() < deadline) {
				int64_t a = read_acks(fd, acc, &acc_len, 200);
				if (a < 0)
					broken = true;
				else if ((uint64_t)a > acked) {
					acked = (uint64_t)a;
					printf("acked %llu\n", (unsigned long long)(acked - first));
					fflush(stdout);
				}
			}
			if (acked == first + ms.n) {
				close(fd);
				fprintf(stderr, "feeder: %zu messages acknowledged, %llu reconnects\n",
					ms.n, (unsigned long long)reconnects);
				return 0;
			}
		}
		close(fd);
		reconnects++;
		usleep(50000);
	}
	fprintf(stderr, "feeder: timeout: %llu of %zu messages acknowledged\n",
		(unsigned long long)(acked - first), ms.n);
	return 1;
}

static int cmd_udp(uint16_t port, uint64_t seed, uint64_t count, unsigned delay_us)
{
	struct gen *g = gen_for(seed, count);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct gen_pkt p;
	uint64_t sent = 0;
	while (g && sent < count && gen_next(g, (uint32_t)(count - sent < 30 ? count - sent : 0), &p) == 1) {
		if (sendto(fd, p.data, p.len, 0, (struct sockaddr *)&a, sizeof(a)) != (ssize_t)p.len) {
			perror("feeder: sendto");
			return 1;
		}
		sent += p.n_recs;
		if (delay_us)
			usleep(delay_us);
	}
	close(fd);
	gen_free(g);
	return sent == count ? 0 : 1;
}

/* ---- verify ---- */

struct recs {
	struct flow_rec *r;
	char **s; /* per record: its strings packed as "len:bytes" x 4, malloc'ed */
	size_t n, cap;
};

static void recs_add(struct recs *rs, const struct flow_rec *r, const char *arena)
{
	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? rs->cap * 2 : 4096;
		rs->r = realloc(rs->r, rs->cap * sizeof(*rs->r));
		rs->s = realloc(rs->s, rs->cap * sizeof(*rs->s));
	}
	struct flow_rec c = *r;
	size_t tot = 0;
	for (int k = 0; k < FLOW_STR_MAX; k++)
		tot += 2 + r->str_len[k];
	char *s = malloc(tot + 1), *p = s;
	for (int k = 0; k < FLOW_STR_MAX; k++) {
		*p++ = (char)(r->str_len[k] >> 8);
		*p++ = (char)r->str_len[k];
		memcpy(p, arena + r->str_off[k], r->str_len[k]);
		p += r->str_len[k];
		c.str_off[k] = 0;
	}
	rs->r[rs->n] = c;
	rs->s[rs->n++] = s;
}

static struct recs *sort_ctx;

static int cmp_idx(const void *a, const void *b)
{
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int c = memcmp(&sort_ctx->r[i], &sort_ctx->r[j], sizeof(struct flow_rec));
	if (c)
		return c;
	size_t li = 0, lj = 0;
	for (int k = 0; k < FLOW_STR_MAX; k++)
		li += 2 + sort_ctx->r[i].str_len[k], lj += 2 + sort_ctx->r[j].str_len[k];
	return memcmp(sort_ctx->s[i], sort_ctx->s[j], li < lj ? li : lj);
}

static size_t *sorted(struct recs *rs)
{
	size_t *ix = malloc((rs->n + 1) * sizeof(*ix));
	for (size_t i = 0; i < rs->n; i++)
		ix[i] = i;
	sort_ctx = rs;
	qsort(ix, rs->n, sizeof(*ix), cmp_idx);
	return ix;
}

static void oracle_sink(void *ctx, const struct flow_batch *b)
{
	for (uint32_t i = 0; i < b->n; i++)
		recs_add(ctx, &b->recs[i], b->arena);
}

static int cmd_verify(const char *dir, uint16_t port, int nseeds, const uint64_t *seeds,
		      const uint64_t *counts, uint32_t per_msg, uint16_t uport, uint64_t useed,
		      uint64_t ucount)
{
	struct recs want = { 0 }, got = { 0 };
	struct flow_dec_cfg dc;
	flow_dec_cfg_default(&dc);
	dc.sink = oracle_sink;
	dc.sink_ctx = &want;
	struct flow_dec *dec = flow_dec_new(&dc);
	for (int s = 0; s < nseeds; s++) {
		struct msgs ms;
		if (build(seeds[s], counts[s], per_msg, &ms))
			return 1;
		/* one connection per seed, from 127.0.0.1 to the store's port, as
		 * the store saw it (the source port is not part of a record) */
		struct flow_src src = { .listen_port = port };
		src.addr[10] = src.addr[11] = 0xff;
		src.addr[12] = 127, src.addr[15] = 1;
		struct flow_tcp *t = flow_tcp_new(dec, &src);
		for (size_t i = 0; i < ms.n; i++) {
			flow_tcp_decode(t, ms.m[i].p, ms.m[i].len, 0);
			free(ms.m[i].p);
		}
		flow_tcp_free(t);
		free(ms.m);
	}
	if (ucount) {
		/* UDP (30 records a packet, gen's default): the exporter is the datagram's source, 127.0.0.1 */
		struct gen *g = gen_for(useed, ucount);
		struct gen_pkt p;
		struct flow_src src = { .listen_port = uport };
		src.addr[10] = src.addr[11] = 0xff;
		src.addr[12] = 127, src.addr[15] = 1;
		uint64_t sent = 0;
		while (g && sent < ucount &&
		       gen_next(g, (uint32_t)(ucount - sent < 30 ? ucount - sent : 0), &p) == 1) {
			flow_dec_udp(dec, &src, p.data, p.len, p.time_ms);
			sent += p.n_recs;
		}
		gen_free(g);
	}
	flow_dec_free(dec);

	struct st_reader *r = st_reader_open(dir, 0, UINT64_MAX);
	if (!r) {
		fprintf(stderr, "feeder: open %s: %s\n", dir, strerror(errno));
		return 1;
	}
	const struct st_block *b;
	static struct flow_rec rows[ST_BLOCK_ROWS_MAX];
	static char arena[1 << 24];
	while (st_reader_next(r, &b) == 1) {
		struct st_cols c;
		size_t al;
		if (st_reader_decode(r, b, ST_COLS_ALL, &c) ||
		    st_cols_to_recs(&c, rows, arena, sizeof(arena), &al)) {
			fprintf(stderr, "feeder: block does not decode\n");
			return 1;
		}
		for (uint32_t i = 0; i < c.n; i++)
			recs_add(&got, &rows[i], arena);
	}
	struct st_reader_stats rst;
	st_reader_stats(r, &rst);
	st_reader_close(r);
	size_t *wi = sorted(&want), *gi = sorted(&got);
	size_t missing = 0, extra = 0, i = 0, j = 0;
	while (i < want.n || j < got.n) {
		int c;
		if (i == want.n)
			c = 1;
		else if (j == got.n)
			c = -1;
		else {
			c = memcmp(&want.r[wi[i]], &got.r[gi[j]], sizeof(struct flow_rec));
			if (!c) {
				size_t l = 0;
				for (int k = 0; k < FLOW_STR_MAX; k++)
					l += 2 + want.r[wi[i]].str_len[k];
				c = memcmp(want.s[wi[i]], got.s[gi[j]], l);
			}
		}
		if (c == 0) {
			i++, j++;
		} else if (c < 0) {
			missing++, i++;
		} else {
			extra++, j++;
		}
	}
	printf("verify: expected %zu records, store has %zu: %zu missing, %zu extra/duplicate; "
	       "corrupt blocks %llu\n",
	       want.n, got.n, missing, extra, (unsigned long long)rst.blocks_corrupt);
	int rc = missing || extra || want.n == 0 ? 1 : 0;
	struct recs *both[2] = { &want, &got };
	for (int k = 0; k < 2; k++) {
		for (size_t x = 0; x < both[k]->n; x++)
			free(both[k]->s[x]);
		free(both[k]->s);
		free(both[k]->r);
	}
	free(wi);
	free(gi);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: feeder send|verify [options] (see feeder.c)\n");
		return 2;
	}
	const char *cmd = argv[1];
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },   { "seed", required_argument, NULL, 's' },
		{ "count", required_argument, NULL, 'n' },  { "session", required_argument, NULL, 'S' },
		{ "per-msg", required_argument, NULL, 'k' }, { "delay-us", required_argument, NULL, 'u' },
		{ "timeout-s", required_argument, NULL, 't' }, { "dir", required_argument, NULL, 'd' },
		{ "no-ack", no_argument, NULL, 'A' },      { "resend-all", no_argument, NULL, 'R' },
		{ "udp-port", required_argument, NULL, 'U' }, { "udp-seed", required_argument, NULL, 'V' },
		{ "udp-count", required_argument, NULL, 'W' },
		{ 0 },
	};
	uint16_t port = 0;
	uint64_t seeds[MAX_SEEDS], counts[MAX_SEEDS], session = 0;
	int ns = 0, nc = 0;
	uint32_t per_msg = 100;
	unsigned delay = 0;
	double timeout = 60;
	bool ack = true, resend_all = false;
	uint16_t uport = 0;
	uint64_t useed = 0, ucount = 0;
	const char *dir = NULL;
	int o;
	optind = 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'p': port = (uint16_t)atoi(optarg); break;
		case 's': if (ns < MAX_SEEDS) seeds[ns++] = strtoull(optarg, NULL, 10); break;
		case 'n': if (nc < MAX_SEEDS) counts[nc++] = strtoull(optarg, NULL, 10); break;
		case 'S': session = strtoull(optarg, NULL, 10); break;
		case 'k': per_msg = (uint32_t)atoi(optarg); break;
		case 'u': delay = (unsigned)atoi(optarg); break;
		case 't': timeout = atof(optarg); break;
		case 'd': dir = optarg; break;
		case 'A': ack = false; break;
		case 'R': resend_all = true; break;
		case 'U': uport = (uint16_t)atoi(optarg); break;
		case 'V': useed = strtoull(optarg, NULL, 10); break;
		case 'W': ucount = strtoull(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	if (!port || !ns || ns != nc)
		return 2;
	if (!strcmp(cmd, "send"))
		return cmd_send(port, seeds[0], counts[0], per_msg, session, delay, timeout, ack,
				resend_all);
	if (!strcmp(cmd, "udp"))
		return cmd_udp(port, seeds[0], counts[0], delay);
	if (!strcmp(cmd, "verify") && dir)
		return cmd_verify(dir, port, ns, seeds, counts, per_msg, uport, useed, ucount);
	return 2;
}
