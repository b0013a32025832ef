/* test_diff.c — differential test of the query engine (STYLE §21).
 *
 * Random records go into one store (A) and, split at random points, into
 * three stores (B1..B3), with small blocks and short windows so that zone
 * maps and segment selection matter. Then, for many random queries:
 *
 *   1. the engine over A  ==  a naive reference evaluator over the records
 *      (this file: its own filter tree, evaluated record by record, POSIX
 *      regex instead of Hyperscan, its own keys, sorting and top-N);
 *   2. the engine over B1+B2+B3 in one result, per-store partials merged
 *      with q_result_merge(), and per-store partials sent through JSON and
 *      merged  ==  the answer over A, cell by cell.
 *
 * The filter is generated as a tree here and printed as text for the
 * engine, so the parser is under test too. Deterministic (fixed seed; pass
 * another as argv[1]); prints the first difference and exits 1.
 */
#include <errno.h>
#include <inttypes.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "query_int.h"
#include "store.h"
#include "util/addr.h"

#define NREC 60000
#define NQUERIES 150
#define T0 1767225600000ull

static uint64_t rs = 88172645463325252ull;
static uint64_t rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return rs;
}
static uint64_t rn(uint64_t n)
{
	return n ? rnd() % n : 0;
}

/* ------------------------------------------------------------------ data */

static const char *strpool[FLOW_STR_MAX][6] = {
	{ "http", "https", "dns", "ssh", "quic", "tls-other" },
	{ "example.com", "www.example.com", "api.example.org", "cdn.test", "a.b.c", "x" },
	{ "/", "/index.html", "/api/v1/items", "/api/v2/users?id=7", "/static/app.js", "/a/b/c" },
	{ "example.com", "mail.example.net", "login.test", "video.cdn.test", "z", "example.org" },
};

struct trec {
	struct flow_rec r;
	int8_t s[FLOW_STR_MAX]; /* pool index, -1 = absent */
};

static struct trec *recs;

static void mk_addr(uint8_t a[16], bool v6, uint32_t host)
{
	if (v6) {
		memset(a, 0, 16);
		a[0] = 0x20, a[1] = 0x01, a[2] = 0x0d, a[3] = 0xb8;
		a[5] = (uint8_t)(host >> 16);
		a[14] = (uint8_t)(host >> 8);
		a[15] = (uint8_t)host;
	} else {
		uint8_t v4[4] = { 10, (uint8_t)(host >> 16), (uint8_t)(host >> 8), (uint8_t)host };
		if (host >> 24)
			v4[0] = (uint8_t)(host >> 24);
		addr_set_v4(a, v4);
	}
}

static const uint16_t ports[] = { 0, 22, 53, 80, 123, 443, 1024, 1025, 8080, 50000 };
static const uint8_t protos[] = { 6, 6, 6, 17, 17, 1, 58, 47 };

static void gen_records(void)
{
	recs = calloc(NREC, sizeof(*recs));
	for (uint32_t i = 0; i < NREC; i++) {
		struct trec *t = &recs[i];
		struct flow_rec *r = &t->r;
		/* phases give blocks distinct ranges, so zone maps can skip */
		uint32_t phase = i / 7000;
		bool v6 = rn(10) < 2;
		r->flags = v6 ? FLOW_F_IP6 : 0;
		mk_addr(r->src_addr, v6, (uint32_t)(phase % 3) << 8 | (uint32_t)rn(phase % 2 ? 40 : 300));
		mk_addr(r->dst_addr, v6, (rn(3) ? 0x0100u : 0x0200u) | (uint32_t)rn(50));
		if (rn(50) == 0)
			mk_addr(r->dst_addr, false, 0xc0000200u | (uint32_t)rn(4)); /* 192.0.2.x */
		r->last_ms = T0 + (uint64_t)i * 60 + rn(50);
		r->first_ms = r->last_ms - rn(phase % 4 == 0 ? 120000 : 5000);
		r->proto = protos[rn(sizeof(protos))];
		r->src_port = ports[rn(10)] + (uint16_t)(rn(4) == 0 ? rn(3000) : 0);
		r->dst_port = phase % 5 == 1 ? 443 : ports[rn(10)];
		if (r->proto == 1 || r->proto == 58) {
			r->src_port = 0;
			r->dst_port = (uint16_t)(rn(12) << 8 | rn(4));
		}
		/* some exporters send flags for non-TCP flows: "flags" must still mean TCP */
		r->tcp_flags = r->proto == 6 || rn(4) == 0 ? (uint8_t)rn(64) : 0;
		r->tos = (uint8_t)(rn(3) == 0 ? rn(3) * 4 : 0);
		r->packets = 1 + rn(rn(4) == 0 ? 100000 : 50);
		r->bytes = r->packets * (40 + rn(1460));
		r->sampling = rn(4) == 0 ? (rn(2) ? 10 : 100) : 1;
		r->in_if = (uint32_t)rn(6);
		r->out_if = (uint32_t)rn(6);
		r->src_as = (uint32_t)(rn(3) == 0 ? 0 : 64500 + rn(20));
		r->dst_as = (uint32_t)(phase % 2 ? 0 : 64500 + rn(20));
		uint8_t e4[4] = { 192, 0, 2, (uint8_t)(1 + rn(3)) };
		addr_set_v4(r->exporter, e4);
		r->odid = (uint32_t)rn(3);
		r->vlan = (uint16_t)(rn(5) == 0 ? 100 + rn(3) : 0);
		r->exp_port = 2055;
		r->version = 10;
		for (int s = 0; s < FLOW_STR_MAX; s++)
			t->s[s] = rn(3) == 0 ? -1 : (int8_t)rn(6);
	}
}

/* Write recs[from, to) into a store at dir. */
static int write_store(const char *dir, uint32_t from, uint32_t to)
{
	struct st_store_cfg cfg;
	st_store_cfg_default(&cfg);
	cfg.dir = dir;
	cfg.window_s = 60;
	cfg.block_rows = 1500;
	struct st_store *s = st_store_open(&cfg, NULL);
	if (!s)
		return -errno;
	static char arena[1 << 16];
	uint64_t last_win = 0;
	int rc = 0;
	for (uint32_t i = from; i < to && !rc;) {
		struct flow_rec batch[64];
		uint32_t n = 0, al = 0;
		while (n < 64 && i < to) {
			batch[n] = recs[i].r;
			for (int f = 0; f < FLOW_STR_MAX; f++) {
				if (recs[i].s[f] < 0)
					continue;
				const char *v = strpool[f][recs[i].s[f]];
				size_t l = strlen(v);
				memcpy(arena + al, v, l);
				batch[n].str_off[f] = al;
				batch[n].str_len[f] = (uint16_t)l;
				al += (uint32_t)l;
			}
			n++, i++;
		}
		uint64_t now = batch[n - 1].last_ms;
		/* commit when a window ends, so few windows stay open */
		if (st_store_room(s) < n || now / 60000 != last_win)
			rc = st_store_commit(s, now);
		last_win = now / 60000;
		if (!rc)
			rc = st_store_add(s, batch, n, arena, now);
	}
	if (!rc)
		rc = st_store_commit(s, recs[to - 1].r.last_ms + 3600000);
	st_store_close(s);
	return rc;
}

/* --------------------------------------------------------- filter trees */

enum { L_ADDR, L_PORT, L_PROTO, L_FLAGS, L_TOS, L_AS, L_IF, L_PACKETS, L_BYTES, L_DURATION,
       L_EXPORTER, L_IPVER, L_REGEX, L_VLAN, L_ANY, L_MAX };

struct tn {
	int op; /* 0 leaf, 1 and, 2 or, 3 not */
	int l, r;
	int kind, side, cmp;
	uint64_t v;
	uint8_t lo[16], hi[16];
	int sfield;
	regex_t re;
	bool has_re;
	char text[200];
};

static struct tn tree[256];
static int ntree;

static const char *cmp_words[6][3] = {
	{ "=", "==", "eq" }, { "!=", "ne", "!=" }, { "<", "lt", "<" },
	{ "<=", "le", "<=" }, { ">", "gt", ">" }, { ">=", "ge", ">=" },
};

static bool cmpv(uint64_t a, int cmp, uint64_t b)
{
	switch (cmp) {
	case 0: return a == b;
	case 1: return a != b;
	case 2: return a < b;
	case 3: return a <= b;
	case 4: return a > b;
	default: return a >= b;
	}
}

static void num_text(char *o, size_t len, uint64_t v)
{
	if (v && v % 1000000 == 0 && rn(2))
		snprintf(o, len, "%" PRIu64 "M", v / 1000000);
	else if (v && v % 1000 == 0 && rn(2))
		snprintf(o, len, "%" PRIu64 "k", v / 1000);
	else
		snprintf(o, len, "%" PRIu64, v);
}

static const char *side_word(int side, bool ifs)
{
	if (ifs)
		return side == 1 ? "in " : side == 2 ? "out " : "";
	return side == 1 ? "src " : side == 2 ? "dst " : "";
}

static int gen_leaf(void)
{
	struct tn *n = &tree[ntree];
	memset(n, 0, sizeof(*n));
	n->kind = (int)rn(L_MAX);
	n->side = 1 + (int)rn(3);
	n->cmp = (int)rn(6);
	const char *cw = cmp_words[n->cmp][rn(3)];
	char num[32];
	/* values drawn from the data's pools so that leaves hit */
	const struct flow_rec *pick = &recs[rn(NREC)].r;
	switch (n->kind) {
	case L_ADDR: {
		uint8_t a[16];
		memcpy(a, rn(2) ? pick->src_addr : pick->dst_addr, 16);
		bool v4 = addr_is_v4(a);
		unsigned pl = rn(3) == 0 ? 128 : v4 ? 96 + (unsigned)rn(33) : (unsigned)rn(129);
		for (unsigned i = 0; i < 16; i++) {
			unsigned bits = pl >= (i + 1) * 8 ? 8 : pl > i * 8 ? pl - i * 8 : 0;
			uint8_t m = bits ? (uint8_t)(0xff << (8 - bits)) : 0;
			n->lo[i] = a[i] & m;
			n->hi[i] = (uint8_t)(a[i] | (uint8_t)~m);
		}
		char t[ADDR_STRLEN];
		addr_format(pl == 128 ? a : n->lo, v4, t, sizeof(t));
		if (pl == 128)
			snprintf(n->text, sizeof(n->text), "%s%s %s", side_word(n->side, false),
				 rn(2) ? "ip" : "host", t);
		else
			snprintf(n->text, sizeof(n->text), "%snet %s/%u", side_word(n->side, false), t,
				 v4 ? pl - 96 : pl);
		break;
	}
	case L_PORT:
		n->v = rn(2) ? pick->dst_port : ports[rn(10)];
		snprintf(n->text, sizeof(n->text), "%sport %s %" PRIu64, side_word(n->side, false), cw, n->v);
		break;
	case L_PROTO: {
		static const char *names[] = { "tcp", "udp", "icmp", "icmp6", "gre" };
		static const uint8_t nums[] = { 6, 17, 1, 58, 47 };
		unsigned k = (unsigned)rn(5);
		n->v = nums[k];
		if (rn(2))
			snprintf(n->text, sizeof(n->text), "proto %s", names[k]);
		else
			snprintf(n->text, sizeof(n->text), "proto %u", nums[k]);
		break;
	}
	case L_FLAGS: {
		static const char *fl = "FSRPAU";
		char s[8];
		unsigned k = 0;
		n->v = 0;
		for (unsigned b = 0; b < 6; b++)
			if (rn(4) == 0) {
				s[k++] = fl[b];
				n->v |= 1u << b;
			}
		if (!k) {
			s[k++] = 'A';
			n->v = 0x10;
		}
		s[k] = 0;
		snprintf(n->text, sizeof(n->text), "flags %s", s);
		break;
	}
	case L_TOS:
		n->v = rn(3) * 4;
		snprintf(n->text, sizeof(n->text), "tos %s %" PRIu64, cw, n->v);
		break;
	case L_AS:
		n->v = rn(4) == 0 ? 0 : 64500 + rn(22);
		snprintf(n->text, sizeof(n->text), "%sas %s %" PRIu64, side_word(n->side, false), cw, n->v);
		break;
	case L_IF:
		n->v = rn(7);
		snprintf(n->text, sizeof(n->text), "%sif %s %" PRIu64, side_word(n->side, true), cw, n->v);
		break;
	case L_PACKETS:
	case L_BYTES:
	case L_DURATION: {
		static const uint64_t vals[] = { 1, 10, 50, 1000, 5000, 100000, 1000000, 2000000 };
		n->v = rn(2) ? vals[rn(8)] : n->kind == L_PACKETS ? pick->packets :
					    n->kind == L_BYTES ? pick->bytes : pick->last_ms - pick->first_ms;
		num_text(num, sizeof(num), n->v);
		snprintf(n->text, sizeof(n->text), "%s %s %s",
			 n->kind == L_PACKETS ? "packets" : n->kind == L_BYTES ? "bytes" : "duration", cw,
			 num);
		break;
	}
	case L_EXPORTER: {
		uint8_t e4[4] = { 192, 0, 2, (uint8_t)(1 + rn(4)) };
		addr_set_v4(n->lo, e4);
		snprintf(n->text, sizeof(n->text), "exporter 192.0.2.%u", e4[3]);
		break;
	}
	case L_IPVER:
		n->v = rn(2) ? 4 : 6;
		snprintf(n->text, sizeof(n->text), "%s",
			 n->v == 4 ? (rn(2) ? "ipv4" : "inet") : (rn(2) ? "ipv6" : "inet6"));
		break;
	case L_REGEX: {
		static const char *pats[] = { "^ht", "com$", "example", "a.c", "(api|cdn)\\.",
					      "[0-9]+", "^/api/v[12]/", "s$", "^x$", "o" };
		static const char *fields[] = { "app", "http_host", "url", "sni" };
		n->sfield = (int)rn(FLOW_STR_MAX);
		const char *p = pats[rn(10)];
		if (regcomp(&n->re, p, REG_EXTENDED | REG_NOSUB))
			abort();
		n->has_re = true;
		snprintf(n->text, sizeof(n->text), "%s ~ \"%s\"", fields[n->sfield], p);
		break;
	}
	case L_VLAN:
		n->v = rn(2) ? 0 : 100 + rn(4);
		snprintf(n->text, sizeof(n->text), "vlan %s %" PRIu64, cw, n->v);
		break;
	default:
		snprintf(n->text, sizeof(n->text), "any");
		break;
	}
	return ntree++;
}

static int gen_tree(int depth)
{
	if (depth > 3 || ntree > 200 || rn(3) == 0)
		return gen_leaf();
	int op = 1 + (int)rn(3);
	int l = gen_tree(depth + 1), r = op == 3 ? -1 : gen_tree(depth + 1);
	struct tn *n = &tree[ntree];
	memset(n, 0, sizeof(*n));
	n->op = op;
	n->l = l;
	n->r = r;
	return ntree++;
}

static void tree_text(int i, char *o, size_t len)
{
	struct tn *n = &tree[i];
	size_t k = strlen(o);
	if (n->op == 0) {
		snprintf(o + k, len - k, "%s", n->text);
		return;
	}
	if (n->op == 3) {
		snprintf(o + k, len - k, "%s", rn(2) ? "not " : "!");
		tree_text(n->l, o, len);
		return;
	}
	snprintf(o + k, len - k, "(");
	tree_text(n->l, o, len);
	k = strlen(o);
	snprintf(o + k, len - k, "%s", n->op == 1 ? (rn(2) ? " and " : " && ") : (rn(2) ? " or " : " || "));
	tree_text(n->r, o, len);
	k = strlen(o);
	snprintf(o + k, len - k, ")");
}

static bool in_pfx(const uint8_t *a, const struct tn *n)
{
	return memcmp(a, n->lo, 16) >= 0 && memcmp(a, n->hi, 16) <= 0;
}

static bool sided(const struct tn *n, uint64_t s, uint64_t d)
{
	bool a = cmpv(s, n->cmp, n->v), b = cmpv(d, n->cmp, n->v);
	return n->side == 1 ? a : n->side == 2 ? b : a || b;
}

static bool ref_eval(int i, const struct trec *t)
{
	const struct tn *n = &tree[i];
	const struct flow_rec *r = &t->r;
	switch (n->op) {
	case 1: return ref_eval(n->l, t) && ref_eval(n->r, t);
	case 2: return ref_eval(n->l, t) || ref_eval(n->r, t);
	case 3: return !ref_eval(n->l, t);
	default: break;
	}
	switch (n->kind) {
	case L_ADDR:
		return n->side == 1 ? in_pfx(r->src_addr, n) : n->side == 2 ? in_pfx(r->dst_addr, n) :
		       in_pfx(r->src_addr, n) || in_pfx(r->dst_addr, n);
	case L_PORT: return sided(n, r->src_port, r->dst_port);
	case L_PROTO: return r->proto == n->v;
	case L_FLAGS: return r->proto == 6 && (r->tcp_flags & n->v) == n->v;
	case L_TOS: return cmpv(r->tos, n->cmp, n->v);
	case L_AS: return sided(n, r->src_as, r->dst_as);
	case L_IF: return sided(n, r->in_if, r->out_if);
	case L_PACKETS: return cmpv(r->packets, n->cmp, n->v);
	case L_BYTES: return cmpv(r->bytes, n->cmp, n->v);
	case L_DURATION: return cmpv(r->last_ms - r->first_ms, n->cmp, n->v);
	case L_EXPORTER: return !memcmp(r->exporter, n->lo, 16);
	case L_IPVER: return ((r->flags & FLOW_F_IP6) ? 6 : 4) == n->v;
	case L_REGEX:
		return t->s[n->sfield] >= 0 &&
		       !regexec(&n->re, strpool[n->sfield][t->s[n->sfield]], 0, NULL, 0);
	case L_VLAN: return cmpv(r->vlan, n->cmp, n->v);
	default: return true;
	}
}

/* ------------------------------------------------------------ reference */

static uint64_t scaled(const struct flow_rec *r, uint64_t v, bool scale)
{
	return scale && r->sampling > 1 ? v * r->sampling : v;
}

static uint64_t fnum(const struct flow_rec *r, enum q_field f, bool scale)
{
	switch (f) {
	case Q_F_FIRST: return r->first_ms;
	case Q_F_LAST: return r->last_ms;
	case Q_F_DURATION: return r->last_ms - r->first_ms;
	case Q_F_SRCPORT: return r->src_port;
	case Q_F_DSTPORT: return r->dst_port;
	case Q_F_PROTO: return r->proto;
	case Q_F_FLAGS: return r->tcp_flags;
	case Q_F_TOS: return r->tos;
	case Q_F_SRCAS: return r->src_as;
	case Q_F_DSTAS: return r->dst_as;
	case Q_F_INIF: return r->in_if;
	case Q_F_OUTIF: return r->out_if;
	case Q_F_VLAN: return r->vlan;
	case Q_F_ODID: return r->odid;
	case Q_F_SAMPLING: return r->sampling;
	case Q_F_PACKETS: return scaled(r, r->packets, scale);
	case Q_F_BYTES: return scaled(r, r->bytes, scale);
	default: return 0;
	}
}

static const uint8_t *faddr(const struct flow_rec *r, enum q_field f)
{
	switch (f) {
	case Q_F_SRCIP: case Q_F_SRCNET: return r->src_addr;
	case Q_F_DSTIP: case Q_F_DSTNET: return r->dst_addr;
	case Q_F_EXPORTER: return r->exporter;
	case Q_F_NEXTHOP: return r->next_hop;
	default: return NULL;
	}
}

static unsigned fwidth(enum q_field f)
{
	switch (f) {
	case Q_F_FIRST: case Q_F_LAST: case Q_F_DURATION: case Q_F_PACKETS: case Q_F_BYTES: return 8;
	case Q_F_SRCIP: case Q_F_DSTIP: case Q_F_SRCNET: case Q_F_DSTNET: case Q_F_EXPORTER:
	case Q_F_NEXTHOP: return 16;
	case Q_F_SRCPORT: case Q_F_DSTPORT: case Q_F_VLAN: return 2;
	case Q_F_PROTO: case Q_F_FLAGS: case Q_F_TOS: return 1;
	default: return 4;
	}
}

/* reference group key: big-endian values, masked prefixes */
static unsigned ref_key(const struct q_spec *sp, const struct flow_rec *r, uint8_t *k)
{
	unsigned o = 0;
	if (sp->kind == Q_SERIES) {
		uint64_t b = r->first_ms / sp->interval_ms * sp->interval_ms;
		for (int i = 0; i < 8; i++)
			k[o++] = (uint8_t)(b >> (56 - 8 * i));
	}
	for (unsigned g = 0; g < sp->ngroup; g++) {
		enum q_field f = sp->group[g].f;
		unsigned w = fwidth(f);
		const uint8_t *a = faddr(r, f);
		if (a) {
			unsigned pl = 128;
			if (f == Q_F_SRCNET || f == Q_F_DSTNET)
				pl = addr_is_v4(a) ? (sp->group[g].plen > 32 ? 128 : 96u + sp->group[g].plen)
						   : sp->group[g].plen;
			for (unsigned i = 0; i < 16; i++) {
				unsigned bits = pl >= (i + 1) * 8 ? 8 : pl > i * 8 ? pl - i * 8 : 0;
				k[o++] = a[i] & (bits ? (uint8_t)(0xff << (8 - bits)) : 0);
			}
		} else {
			uint64_t v = fnum(r, f, false);
			for (unsigned i = 0; i < w; i++)
				k[o++] = (uint8_t)(v >> (8 * (w - 1 - i)));
		}
	}
	return o;
}

struct grow {
	uint8_t key[64];
	uint64_t s[3];
	uint64_t rank;
	bool other;
};

static const struct q_spec *cur_sp;
static unsigned cur_klen;

static int cmp_rowkey(const void *a, const void *b)
{
	return memcmp(((const struct grow *)a)->key, ((const struct grow *)b)->key, cur_klen);
}

static int cmp_rowtop(const void *a, const void *b)
{
	const struct grow *x = a, *y = b;
	uint64_t vx = x->s[cur_sp->by], vy = y->s[cur_sp->by];
	if (vx != vy)
		return vx > vy ? -1 : 1;
	return memcmp(x->key, y->key, cur_klen);
}

static int cmp_listrec(const void *a, const void *b)
{
	const struct flow_rec *x = a, *y = b;
	enum q_field f = cur_sp->order;
	int c;
	const uint8_t *ax = faddr(x, f);
	if (ax) {
		c = memcmp(ax, faddr(y, f), 16);
	} else {
		uint64_t vx = fnum(x, f, cur_sp->scale), vy = fnum(y, f, cur_sp->scale);
		c = vx < vy ? -1 : vx > vy;
	}
	if (cur_sp->desc)
		c = -c;
	return c ? c : memcmp(x, y, sizeof(*x));
}

/* groups of the matching records, summed (sorted by key) */
static size_t ref_groups(const struct q_spec *sp, const uint8_t *match, struct grow **out)
{
	size_t n = 0;
	for (uint32_t i = 0; i < NREC; i++)
		n += match[i];
	struct grow *g = calloc(n ? n : 1, sizeof(*g));
	size_t k = 0;
	for (uint32_t i = 0; i < NREC; i++) {
		if (!match[i])
			continue;
		const struct flow_rec *r = &recs[i].r;
		cur_klen = ref_key(sp, r, g[k].key);
		g[k].s[0] = 1;
		g[k].s[1] = scaled(r, r->packets, sp->scale);
		g[k].s[2] = scaled(r, r->bytes, sp->scale);
		k++;
	}
	qsort(g, n, sizeof(*g), cmp_rowkey);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (m && !memcmp(g[m - 1].key, g[i].key, cur_klen)) {
			for (int j = 0; j < 3; j++)
				g[m - 1].s[j] += g[i].s[j];
		} else {
			g[m++] = g[i];
		}
	}
	*out = g;
	return m;
}

/* ---------------------------------------------------------------- checks */

static int failures;

#define CHECK(cond, ...)                                            \
	do {                                                        \
		if (!(cond)) {                                      \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);               \
			fputc('\n', stderr);                        \
			failures++;                                 \
			return -1;                                  \
		}                                                   \
	} while (0)

static int compare_ref(const struct q_result *r, const struct q_spec *sp, const uint8_t *match,
		       const char *desc)
{
	size_t nm = 0;
	for (uint32_t i = 0; i < NREC; i++)
		nm += match[i];
	cur_sp = sp;
	if (sp->kind == Q_LIST) {
		struct flow_rec *l = malloc((nm ? nm : 1) * sizeof(*l));
		size_t k = 0;
		for (uint32_t i = 0; i < NREC; i++)
			if (match[i]) {
				/* a listing carries the columns it shows (query.c) */
				const struct flow_rec *x = &recs[i].r;
				struct flow_rec *y = &l[k++];
				memset(y, 0, sizeof(*y));
				y->first_ms = x->first_ms, y->last_ms = x->last_ms;
				y->packets = x->packets, y->bytes = x->bytes;
				memcpy(y->src_addr, x->src_addr, 16);
				memcpy(y->dst_addr, x->dst_addr, 16);
				memcpy(y->exporter, x->exporter, 16);
				y->sampling = x->sampling, y->in_if = x->in_if, y->out_if = x->out_if;
				y->src_as = x->src_as, y->dst_as = x->dst_as;
				y->src_port = x->src_port, y->dst_port = x->dst_port;
				y->proto = x->proto, y->tcp_flags = x->tcp_flags, y->tos = x->tos;
			}
		qsort(l, nm, sizeof(*l), cmp_listrec);
		size_t want = sp->limit && sp->limit < nm ? sp->limit : nm;
		int bad = q_result_nrows(r) != want;
		for (size_t i = 0; i < want && !bad; i++)
			bad = memcmp(&l[i], q_list_row(r, i), sizeof(*l)) != 0;
		free(l);
		CHECK(!bad, "%s: listing differs (%zu rows, reference %zu of %zu)", desc,
		      q_result_nrows(r), want, nm);
		/* the table's widths from the cells' lengths = from their text,
		 * and each row's text is its cells' text */
		unsigned nc = q_result_ncols(r);
		bool show[64];
		size_t w[64] = { 0 }, wt[64] = { 0 };
		for (unsigned c = 0; c < nc && c < 64; c++)
			show[c] = true;
		q_result_widths(r, show, 0, q_result_nrows(r), w);
		for (size_t i = 0; i < q_result_nrows(r) && !bad; i++) {
			char text[64 * Q_CELL_MAX], cell[Q_CELL_MAX];
			uint8_t lens[64];
			q_result_row_text(r, i, show, text, lens);
			size_t off = 0;
			for (unsigned c = 0; c < nc && c < 64; c++) {
				q_result_cell(r, i, c, true, cell, sizeof(cell));
				bad |= lens[c] != strlen(cell) || memcmp(text + off, cell, lens[c]);
				off += lens[c];
				wt[c] = lens[c] > wt[c] ? lens[c] : wt[c];
			}
		}
		CHECK(!bad && !memcmp(w, wt, sizeof(w)), "%s: table text or widths differ from cells",
		      desc);
		/* the table's lines (q_result_lines, in two slices, columns wider
		 * than their cells by 0 to 2): each its cells padded, numbers on
		 * the right, two blanks apart, none at the end */
		size_t nr = q_result_nrows(r), half = nr / 2, cap = 2;
		for (unsigned c = 0; c < nc && c < 64; c++) {
			w[c] += c % 3;
			cap += w[c] + 2;
		}
		char *lines = malloc(nr * cap + Q_LINE_SLACK + 1), *o = lines;
		o = q_result_lines(r, 0, half, show, w, o);
		o = q_result_lines(r, half, nr, show, w, o);
		const char *p = lines;
		for (size_t i = 0; i < nr && !bad; i++) {
			char want_line[64 * (Q_CELL_MAX + 64)], cell[Q_CELL_MAX], *q = want_line;
			for (unsigned c = 0; c < nc && c < 64; c++) {
				q_result_cell(r, i, c, true, cell, sizeof(cell));
				bool right = q_result_col_type(r, c) == Q_CT_NUM, last = c + 1 == nc || c + 1 == 64;
				if (c)
					q += sprintf(q, "  ");
				if (right)
					q += sprintf(q, "%*s", (int)w[c], cell);
				else if (last)
					q += sprintf(q, "%s", cell);
				else
					q += sprintf(q, "%-*s", (int)w[c], cell);
			}
			*q++ = '\n';
			size_t n = (size_t)(q - want_line);
			bad = (size_t)(o - p) < n || memcmp(p, want_line, n) != 0;
			p += n;
		}
		bad |= p != o;
		free(lines);
		CHECK(!bad, "%s: table lines differ from the padded cells", desc);
		return 0;
	}
	struct grow *g;
	size_t ng = ref_groups(sp, match, &g);
	size_t want;
	struct grow *rows = g;
	struct grow *built = NULL;
	if (sp->kind == Q_AGG) {
		qsort(g, ng, sizeof(*g), cmp_rowtop);
		want = sp->top && sp->top < ng ? sp->top : ng;
	} else if (!sp->ngroup) {
		want = ng;
	} else {
		/* split series: top keys by total, per bucket kept keys in rank order, then other */
		unsigned fk = cur_klen - 8;
		struct grow *tot = calloc(ng ? ng : 1, sizeof(*tot));
		size_t nt = 0;
		for (size_t i = 0; i < ng; i++) {
			size_t j;
			for (j = 0; j < nt; j++)
				if (!memcmp(tot[j].key, g[i].key + 8, fk))
					break;
			if (j == nt) {
				memcpy(tot[nt].key, g[i].key + 8, fk);
				nt++;
			}
			for (int s = 0; s < 3; s++)
				tot[j].s[s] += g[i].s[s];
		}
		unsigned save = cur_klen;
		cur_klen = fk;
		qsort(tot, nt, sizeof(*tot), cmp_rowtop);
		cur_klen = save;
		size_t keep = sp->top && sp->top < nt ? sp->top : nt;
		built = calloc(2 * (ng ? ng : 1), sizeof(*built));
		size_t o = 0;
		for (size_t i = 0; i < ng;) {
			size_t j = i;
			struct grow other = { .other = true };
			bool has_other = false;
			size_t first = o;
			while (j < ng && !memcmp(g[j].key, g[i].key, 8)) {
				size_t rk;
				for (rk = 0; rk < keep; rk++)
					if (!memcmp(tot[rk].key, g[j].key + 8, fk))
						break;
				if (rk < keep) {
					built[o] = g[j];
					built[o].rank = rk;
					/* insertion by rank */
					size_t b = o++;
					while (b > first && built[b - 1].rank > built[b].rank) {
						struct grow t = built[b];
						built[b] = built[b - 1];
						built[b - 1] = t;
						b--;
					}
				} else {
					has_other = true;
					for (int s = 0; s < 3; s++)
						other.s[s] += g[j].s[s];
				}
				j++;
			}
			if (has_other) {
				memcpy(other.key, g[i].key, 8);
				built[o++] = other;
			}
			i = j;
		}
		free(tot);
		rows = built;
		want = o;
	}
	int bad = q_result_nrows(r) != want;
	size_t at = 0;
	for (size_t i = 0; i < want && !bad; i++) {
		const uint8_t *k = r->out[i];
		uint64_t s[3];
		memcpy(s, k + r->out_stride - 32, 24);
		uint64_t tag;
		memcpy(&tag, k + r->out_stride - 8, 8);
		bool other = sp->kind == Q_SERIES && sp->ngroup && tag == UINT64_MAX;
		bad = memcmp(s, rows[i].s, 24) || other != rows[i].other ||
		      memcmp(k, rows[i].key, other ? 8 : cur_klen);
		at = i;
	}
	CHECK(!bad, "%s: %s differs (%zu rows, reference %zu; first bad row %zu)", desc,
	      sp->kind == Q_AGG ? "aggregation" : "series", q_result_nrows(r), want, at);
	free(g);
	free(built);
	return 0;
}

static int same_answer(const struct q_result *a, const struct q_result *b, const char *what,
		       const char *desc)
{
	CHECK(q_result_nrows(a) == q_result_nrows(b) && q_result_ncols(a) == q_result_ncols(b),
	      "%s: %s: %zu rows vs %zu", desc, what, q_result_nrows(a), q_result_nrows(b));
	char x[128], y[128];
	for (size_t i = 0; i < q_result_nrows(a); i++)
		for (unsigned c = 0; c < q_result_ncols(a); c++)
			CHECK(!strcmp(q_result_cell(a, i, c, false, x, sizeof(x)),
				      q_result_cell(b, i, c, false, y, sizeof(y))),
			      "%s: %s: row %zu col %s: %s vs %s", desc, what, i, q_result_col_name(a, c), x,
			      y);
	return 0;
}

/* ------------------------------------------------------------------ main */

static const enum q_field gfields[] = { Q_F_SRCIP, Q_F_DSTIP, Q_F_SRCNET, Q_F_DSTNET, Q_F_SRCPORT,
					Q_F_DSTPORT, Q_F_PROTO, Q_F_FLAGS, Q_F_TOS, Q_F_SRCAS,
					Q_F_DSTAS, Q_F_INIF, Q_F_OUTIF, Q_F_EXPORTER, Q_F_VLAN,
					Q_F_SAMPLING, Q_F_DURATION };

int main(int argc, char **argv)
{
	if (argc > 1)
		rs = strtoull(argv[1], NULL, 0) | 1;
	char base[] = "/tmp/fdq-diff.XXXXXX";
	if (!mkdtemp(base)) {
		perror("mkdtemp");
		return 1;
	}
	char dirA[64], dirB[3][64];
	snprintf(dirA, sizeof(dirA), "%s/a", base);
	gen_records();
	int rc = write_store(dirA, 0, NREC);
	uint32_t cut1 = (uint32_t)(1 + rn(NREC - 2)), cut2 = (uint32_t)(1 + rn(NREC - 2));
	if (cut1 > cut2) {
		uint32_t t = cut1;
		cut1 = cut2;
		cut2 = t;
	}
	if (cut1 == cut2)
		cut2++;
	uint32_t cuts[4] = { 0, cut1, cut2, NREC };
	for (int i = 0; i < 3 && !rc; i++) {
		snprintf(dirB[i], sizeof(dirB[i]), "%s/b%d", base, i);
		rc = write_store(dirB[i], cuts[i], cuts[i + 1]);
	}
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
	if (rc) {
		fprintf(stderr, "writing stores: %s\n", strerror(-rc));
		if (system(cmd))
			fprintf(stderr, "could not remove %s\n", base);
		return 1;
	}
	uint8_t *match = malloc(NREC);
	uint64_t skipped = 0, blocks = 0;
	for (int qn = 0; qn < NQUERIES && failures < 5; qn++) {
		ntree = 0;
		for (int i = 0; i < 256; i++)
			if (tree[i].has_re) {
				regfree(&tree[i].re);
				tree[i].has_re = false;
			}
		int root = rn(8) == 0 ? -1 : gen_tree(0);
		char ftext[8192] = "";
		if (root >= 0)
			tree_text(root, ftext, sizeof(ftext));
		struct q_spec sp = { .filter = ftext, .from_ms = 0, .to_ms = UINT64_MAX };
		if (rn(3) == 0) {
			sp.from_ms = T0 + rn((uint64_t)NREC * 60);
			sp.to_ms = sp.from_ms + 1 + rn((uint64_t)NREC * 30);
		}
		sp.kind = (enum q_kind)rn(3);
		sp.scale = rn(3) == 0;
		sp.threads = 1 + (unsigned)rn(3);
		sp.by = (enum q_metric)rn(3);
		/* the first eight: every record listed on two threads, so the
		 * two sorted runs (over 16 Ki rows) are merged by two threads,
		 * with many ties (ports, protocols) at the split */
		bool all_rows = qn < 8;
		if (all_rows) {
			root = -1;
			ftext[0] = 0;
			sp.from_ms = 0;
			sp.to_ms = UINT64_MAX;
			sp.kind = Q_LIST;
			sp.threads = 2;
		}
		if (sp.kind == Q_LIST) {
			static const enum q_field of[] = { Q_F_FIRST, Q_F_LAST, Q_F_BYTES, Q_F_PACKETS,
							   Q_F_SRCIP, Q_F_DSTPORT, Q_F_DURATION, Q_F_PROTO };
			sp.order = of[all_rows ? (uint64_t)qn : rn(8)];
			sp.desc = rn(2);
			sp.limit = all_rows || rn(4) == 0 ? 0 : (uint32_t)(1 + rn(300));
		} else if (sp.kind == Q_AGG) {
			sp.ngroup = 1 + (unsigned)rn(rn(3) ? 1 : 3);
			sp.top = rn(4) == 0 ? 0 : (uint32_t)(1 + rn(50));
		} else {
			static const uint64_t iv[] = { 1000, 60000, 300000, 7000, 3600000 };
			sp.interval_ms = iv[rn(5)];
			sp.ngroup = (unsigned)rn(2);
			sp.top = (uint32_t)rn(6);
		}
		for (unsigned g = 0; g < sp.ngroup; g++) {
			sp.group[g].f = gfields[rn(sizeof(gfields) / sizeof(gfields[0]))];
			sp.group[g].plen = (uint8_t)(sp.group[g].f == Q_F_SRCNET || sp.group[g].f == Q_F_DSTNET
							     ? rn(3) == 0 ? rn(129) : 8 + rn(25)
							     : 0);
		}
		char desc[8400];
		snprintf(desc, sizeof(desc), "query %d kind %d filter '%s' range %" PRIu64 "..%" PRIu64, qn,
			 sp.kind, ftext, sp.from_ms, sp.to_ms);
		struct q_err err;
		struct q_query *q = q_query_new(&sp, &err);
		if (!q) {
			fprintf(stderr, "FAIL %s: rejected: %s\n", desc, err.msg);
			failures++;
			continue;
		}
		for (uint32_t i = 0; i < NREC; i++)
			match[i] = (root < 0 || ref_eval(root, &recs[i])) && recs[i].r.first_ms >= sp.from_ms &&
				   recs[i].r.first_ms < sp.to_ms;
		/* 1: one store vs the reference */
		struct q_result *ra = q_result_new(q), *rb = q_result_new(q), *rm = q_result_new(q),
				*rj = q_result_new(q);
		if (q_run(q, dirA, ra, &err) || q_result_finish(ra)) {
			fprintf(stderr, "FAIL %s: run: %s\n", desc, err.msg);
			failures++;
			goto next;
		}
		struct q_stats st;
		q_result_stats(ra, &st);
		blocks += st.blocks;
		skipped += st.blocks_skipped;
		if (compare_ref(ra, &sp, match, desc))
			goto next;
		/* 2: three stores, three ways */
		for (int i = 0; i < 3; i++) {
			struct q_result *p = q_result_new(q);
			if (q_run(q, dirB[i], rb, &err) || q_run(q, dirB[i], p, &err)) {
				fprintf(stderr, "FAIL %s: run B: %s\n", desc, err.msg);
				failures++;
				q_result_free(p);
				goto next;
			}
			char *js = q_result_to_json(p);
			struct q_result *pj = js ? q_result_from_json(q, js, &err) : NULL;
			if (!pj || q_result_merge(rm, p, &err) || q_result_merge(rj, pj, &err)) {
				fprintf(stderr, "FAIL %s: merge/json: %s\n", desc, err.msg);
				failures++;
				q_result_free(p);
				q_result_free(pj);
				free(js);
				goto next;
			}
			q_result_free(p);
			q_result_free(pj);
			free(js);
		}
		if (q_result_finish(rb) || q_result_finish(rm) || q_result_finish(rj)) {
			failures++;
			goto next;
		}
		if (same_answer(ra, rb, "union run", desc) || same_answer(ra, rm, "merged partials", desc) ||
		    same_answer(ra, rj, "JSON partials", desc))
			goto next;
next:
		q_result_free(ra);
		q_result_free(rb);
		q_result_free(rm);
		q_result_free(rj);
		q_query_free(q);
	}
	printf("%d queries over %d records: %s; zone maps skipped %" PRIu64 " of %" PRIu64 " blocks\n",
	       NQUERIES, NREC, failures ? "FAILED" : "all identical", skipped, blocks);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", base);
	free(match);
	free(recs);
	return failures ? 1 : 0;
}
