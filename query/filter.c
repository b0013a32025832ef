/* filter.c — the filter language: parser (nfdump-compatible subset plus
 * `FIELD ~ "regex"`), zone-map verdicts, and column-wise evaluation.
 *
 * Grammar (docs/query.md has the user-facing reference):
 *   expr   := term { ("or" | "||") term }
 *   term   := factor { ("and" | "&&") factor }
 *   factor := ("not" | "!") factor | "(" expr ")" | prim
 * Chains are built left-deep, which keeps evaluation at two masks per
 * nesting level (eval_node); nesting by parentheses is capped (MAX_DEPTH) so
 * neither the parser's recursion nor the per-worker scratch can grow with
 * untrusted input.
 *
 * Evaluation writes one byte per row (0/1) per level: simple loops over one
 * column at a time that the compiler vectorises; no per-row dispatch.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query_int.h"
#include "util/addr.h"

#define MAX_DEPTH 48 /* right-nested binary depth: sizes the eval scratch */
/* Parentheses and 'not's the recursive descent follows. Larger than
 * MAX_DEPTH: the canonical text parenthesises every binary node, so a long
 * flat 'a or b or c ...' comes back as deeply nested parentheses, and must
 * parse again (a fuzzer found it). The tree is then checked against
 * MAX_DEPTH, which is the same for a filter and its canonical text. */
#define MAX_PARSE_DEPTH 512

/* ------------------------------------------------------------------ lexer */

enum tok { T_END = 0, T_WORD, T_STR, T_LP, T_RP, T_NOT, T_AND, T_OR, T_CMP, T_TILDE, T_BAD };

struct parser {
	const char *s;
	size_t len;
	size_t pos;        /* next unread byte */
	enum tok t;        /* current token */
	size_t ts, tl;     /* its start and length */
	int cmp;           /* T_CMP: enum qn_cmp */
	struct q_filter *f;
	struct q_err *err;
	int depth;
	bool failed;
	/* regex patterns collected for one database */
	char *re[Q_REGEX_MAX];
	int re_pos[Q_REGEX_MAX];
};

static bool is_word_char(int c)
{
	return isalnum(c) || c == '.' || c == ':' || c == '/' || c == '_' || c == '-' || c == '*';
}

static void next(struct parser *p)
{
	const char *s = p->s;
	while (p->pos < p->len && isspace((unsigned char)s[p->pos]))
		p->pos++;
	p->ts = p->pos;
	p->tl = 1;
	if (p->pos >= p->len) {
		p->t = T_END;
		p->tl = 0;
		return;
	}
	char c = s[p->pos], d = p->pos + 1 < p->len ? s[p->pos + 1] : 0;
	p->pos++;
	switch (c) {
	case '(': p->t = T_LP; return;
	case ')': p->t = T_RP; return;
	case '~': p->t = T_TILDE; return;
	case '!':
		if (d == '=') {
			p->pos++, p->tl = 2, p->t = T_CMP, p->cmp = QC_NE;
			return;
		}
		p->t = T_NOT;
		return;
	case '&':
		p->t = d == '&' ? T_AND : T_BAD;
		p->pos += d == '&', p->tl = 2;
		return;
	case '|':
		p->t = d == '|' ? T_OR : T_BAD;
		p->pos += d == '|', p->tl = 2;
		return;
	case '=':
		p->t = T_CMP, p->cmp = QC_EQ;
		if (d == '=')
			p->pos++, p->tl = 2;
		return;
	case '<':
	case '>':
		p->t = T_CMP;
		p->cmp = c == '<' ? (d == '=' ? QC_LE : QC_LT) : (d == '=' ? QC_GE : QC_GT);
		if (d == '=')
			p->pos++, p->tl = 2;
		return;
	case '"': {
		/* string: \" and \\ escapes; the value is re-read by str_value() */
		while (p->pos < p->len && s[p->pos] != '"') {
			if (s[p->pos] == '\\' && p->pos + 1 < p->len)
				p->pos++;
			p->pos++;
		}
		if (p->pos >= p->len) {
			p->t = T_BAD;
			p->tl = p->pos - p->ts;
			return;
		}
		p->pos++;
		p->t = T_STR;
		p->tl = p->pos - p->ts;
		return;
	}
	default:
		break;
	}
	if (!is_word_char((unsigned char)c)) {
		p->t = T_BAD;
		return;
	}
	while (p->pos < p->len && is_word_char((unsigned char)s[p->pos]))
		p->pos++;
	p->tl = p->pos - p->ts;
	p->t = T_WORD;
	/* word operators */
	static const struct { const char *w; int t, cmp; } ops[] = {
		{ "and", T_AND, 0 }, { "or", T_OR, 0 }, { "not", T_NOT, 0 },
		{ "eq", T_CMP, QC_EQ }, { "ne", T_CMP, QC_NE }, { "lt", T_CMP, QC_LT },
		{ "le", T_CMP, QC_LE }, { "gt", T_CMP, QC_GT }, { "ge", T_CMP, QC_GE },
	};
	for (unsigned i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strlen(ops[i].w) == p->tl && !strncasecmp(ops[i].w, s + p->ts, p->tl)) {
			p->t = ops[i].t;
			p->cmp = ops[i].cmp;
		}
}

static bool is_word(const struct parser *p, const char *w)
{
	return p->t == T_WORD && strlen(w) == p->tl && !strncasecmp(w, p->s + p->ts, p->tl);
}

/* "expected X, got 'tok'" at the current token; returns -1 for chaining. */
static int fail(struct parser *p, const char *fmt, ...)
{
	if (p->failed)
		return -1;
	p->failed = true;
	char what[240];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (p->err) {
		p->err->pos = (int)p->ts;
		if (p->t == T_END)
			snprintf(p->err->msg, sizeof(p->err->msg), "at position %zu: %s, got end of filter",
				 p->ts + 1, what);
		else
			snprintf(p->err->msg, sizeof(p->err->msg), "at position %zu: %s, got '%.*s'",
				 p->ts + 1, what, (int)(p->tl > 40 ? 40 : p->tl), p->s + p->ts);
	}
	return -1;
}

/* ----------------------------------------------------------------- nodes */

static int add(struct parser *p, const struct q_node *n)
{
	if (p->f->nn >= Q_NODES_MAX - 4) /* 4 kept for the time range */
		return fail(p, "filter too long (at most %d terms)", Q_NODES_MAX / 2);
	p->f->n[p->f->nn] = *n;
	return p->f->nn++;
}

static int add_bin(struct parser *p, int type, int l, int r)
{
	struct q_node n = { .type = (uint8_t)type, .l = (int16_t)l, .r = (int16_t)r };
	return add(p, &n);
}

/* ---------------------------------------------------------------- values */

/* Copy the current word into buf (NUL-terminated); false if it is no word
 * or too long. */
static bool word(struct parser *p, char *buf, size_t len)
{
	if (p->t != T_WORD || p->tl >= len)
		return false;
	memcpy(buf, p->s + p->ts, p->tl);
	buf[p->tl] = 0;
	return true;
}

/* Unsigned number with an optional k/M/G suffix (1000-based, as nfdump). */
static int number(struct parser *p, uint64_t max, uint64_t *out, const char *what)
{
	char b[32];
	if (!word(p, b, sizeof(b)) || !isdigit((unsigned char)b[0]))
		return fail(p, "expected %s", what);
	char *end;
	errno = 0;
	unsigned long long v = strtoull(b, &end, 0);
	uint64_t mul = 1;
	if (*end && !end[1]) {
		switch (*end) {
		case 'k': case 'K': mul = 1000ull; end++; break;
		case 'm': case 'M': mul = 1000000ull; end++; break;
		case 'g': case 'G': mul = 1000000000ull; end++; break;
		default: break;
		}
	}
	if (errno || *end || (mul > 1 && v > UINT64_MAX / mul) || v * mul > max)
		return fail(p, "expected %s (0..%llu, optional k/M/G suffix)", what,
			    (unsigned long long)max);
	*out = v * mul;
	next(p);
	return 0;
}

static int opt_cmp(struct parser *p)
{
	if (p->t != T_CMP)
		return QC_EQ;
	int c = p->cmp;
	next(p);
	return c;
}

/* Address literal, optionally abbreviated IPv4 ("172.16") when net is set,
 * with an optional /len. Fills a 16-byte address and the prefix length over
 * 128 bits. */
static int address(struct parser *p, bool net, uint8_t a[16], unsigned *plen)
{
	char b[64], *slash;
	if (!word(p, b, sizeof(b)))
		return fail(p, net ? "expected a network (a.b.c.d/n or IPv6/n)" :
				     "expected an IPv4 or IPv6 address");
	slash = strchr(b, '/');
	long len = -1;
	if (slash) {
		char *end;
		*slash = 0;
		if (!net || !isdigit((unsigned char)slash[1]))
			return fail(p, net ? "expected a prefix length after '/'" :
					     "expected an address without '/' (use 'net' for prefixes)");
		len = strtol(slash + 1, &end, 10);
		if (*end || len < 0 || len > 128)
			return fail(p, "expected a prefix length 0..32 (IPv4) or 0..128 (IPv6)");
	}
	bool v6 = strchr(b, ':') != NULL;
	if (!v6) {
		/* pad an abbreviated IPv4 network: "10" -> 10.0.0.0 */
		int dots = 0;
		for (char *c = b; *c; c++) {
			if (*c == '.')
				dots++;
			else if (!isdigit((unsigned char)*c))
				return fail(p, net ? "expected a network (a.b.c.d/n or IPv6/n)" :
						     "expected an IPv4 or IPv6 address");
		}
		if (dots < 3 && !(net && slash))
			return fail(p, "expected a full IPv4 address a.b.c.d");
		/* room for the ".0" padding (a fuzzer found the 63-digit case) */
		if (strlen(b) + 2 * (size_t)(3 - (dots < 3 ? dots : 3)) >= sizeof(b))
			return fail(p, "expected an IPv4 or IPv6 address");
		while (dots++ < 3)
			strcat(b, ".0");
		if (len > 32)
			return fail(p, "expected an IPv4 prefix length 0..32");
	}
	if (addr_parse(b, a))
		return fail(p, "expected an IPv4 or IPv6 address");
	if (len < 0)
		*plen = 128;
	else
		*plen = (unsigned)(v6 ? len : 96 + len);
	next(p);
	/* nfdump also takes "net a.b.c.d m.m.m.m" */
	if (net && !slash && !v6) {
		uint8_t m[16];
		char mb[64];
		if (word(p, mb, sizeof(mb)) && strchr(mb, '.') && !addr_parse(mb, m)) {
			uint32_t mask = (uint32_t)m[12] << 24 | (uint32_t)m[13] << 16 |
					(uint32_t)m[14] << 8 | m[15];
			unsigned ones = (unsigned)__builtin_popcount(mask);
			if (ones < 32 && (mask << ones) != 0)
				return fail(p, "expected a contiguous netmask");
			if (ones == 32 || (ones && (mask >> (32 - ones)) == (1u << ones) - 1) ||
			    mask == 0) {
				*plen = 96 + ones;
				next(p);
			}
		} else {
			return fail(p, "expected a prefix length (a.b.c.d/n) or a netmask");
		}
	}
	return 0;
}

static void prefix_range(struct q_node *n, const uint8_t a[16], unsigned plen)
{
	for (unsigned i = 0; i < 16; i++) {
		unsigned bits = plen >= (i + 1) * 8 ? 8 : plen > i * 8 ? plen - i * 8 : 0;
		uint8_t m = bits ? (uint8_t)(0xff << (8 - bits)) : 0;
		n->lo[i] = a[i] & m;
		n->hi[i] = (uint8_t)(a[i] | (uint8_t)~m);
	}
	n->plen = (uint8_t)plen;
}

static int addr_node(struct parser *p, int side, int field, bool net)
{
	uint8_t a[16];
	unsigned plen = 128;
	if (address(p, net, a, &plen))
		return -1;
	struct q_node n = { .type = QN_ADDR, .side = (uint8_t)side, .field = (uint8_t)field };
	prefix_range(&n, a, plen);
	return add(p, &n);
}

static int num_node(struct parser *p, int side, int field, int cmp, uint64_t max,
		    const char *what)
{
	struct q_node n = { .type = QN_NUM, .side = (uint8_t)side, .field = (uint8_t)field,
			    .cmp = (uint8_t)cmp };
	if (number(p, max, &n.val, what))
		return -1;
	return add(p, &n);
}

static const struct { const char *name; uint8_t v; } protos[] = {
	{ "icmp", 1 }, { "igmp", 2 }, { "tcp", 6 }, { "udp", 17 }, { "gre", 47 },
	{ "esp", 50 }, { "ah", 51 }, { "icmp6", 58 }, { "ipv6-icmp", 58 }, { "sctp", 132 },
};

static const char *str_names[FLOW_STR_MAX] = { "app", "http_host", "url", "sni" };

/* ---------------------------------------------------------------- parser */

static int expr(struct parser *p);

static int regex_node(struct parser *p, int field)
{
	next(p); /* field name */
	if (p->t != T_TILDE)
		return fail(p, "expected '~' after '%s'", str_names[field]);
	next(p);
	if (p->t != T_STR)
		return fail(p, "expected a quoted regular expression");
	if (p->f->nre >= Q_REGEX_MAX)
		return fail(p, "too many regular expressions (at most %d)", Q_REGEX_MAX);
	char *v = malloc(p->tl);
	if (!v)
		return fail(p, "out of memory");
	size_t k = 0;
	/* \" is a quote and \\ a backslash; any other backslash reaches the
	 * regex engine as written ("example\.com"). The lexer pairs a backslash
	 * with the next byte the same way, so both agree where the string ends. */
	size_t end = p->ts + p->tl - 1;
	for (size_t i = p->ts + 1; i < end; i++) {
		if (p->s[i] == '\\' && i + 1 < end && (p->s[i + 1] == '"' || p->s[i + 1] == '\\'))
			i++;
		v[k++] = p->s[i];
	}
	v[k] = 0;
	if (strlen(v) != k) {
		free(v);
		return fail(p, "expected a regular expression without NUL bytes");
	}
	unsigned slot = p->f->nre++;
	p->re[slot] = v;
	p->re_pos[slot] = (int)p->ts;
	p->f->re_field[slot] = (uint8_t)field;
	struct q_node n = { .type = QN_REGEX, .field = (uint8_t)field, .slot = (uint16_t)slot };
	next(p);
	return add(p, &n);
}

static int prim(struct parser *p)
{
	int side = QS_ANY;
	bool sided = false;
	if (is_word(p, "src") || is_word(p, "dst")) {
		side = is_word(p, "src") ? QS_SRC : QS_DST;
		sided = true;
		next(p);
		if (!(is_word(p, "ip") || is_word(p, "host") || is_word(p, "net") ||
		      is_word(p, "port") || is_word(p, "as") || is_word(p, "if")))
			return fail(p, "expected ip, host, net, port, as or if after '%s'",
				    side == QS_SRC ? "src" : "dst");
	} else if (is_word(p, "in") || is_word(p, "out")) {
		side = is_word(p, "in") ? QS_SRC : QS_DST;
		sided = true;
		next(p);
		if (!is_word(p, "if"))
			return fail(p, "expected 'if' after '%s'", side == QS_SRC ? "in" : "out");
	}
	if (is_word(p, "ip") || is_word(p, "host")) {
		next(p);
		return addr_node(p, side, QA_IP, false);
	}
	if (is_word(p, "net")) {
		next(p);
		return addr_node(p, side, QA_IP, true);
	}
	if (is_word(p, "port")) {
		next(p);
		return num_node(p, side, QV_PORT, opt_cmp(p), 65535, "a port number");
	}
	if (is_word(p, "as")) {
		next(p);
		return num_node(p, side, QV_AS, opt_cmp(p), UINT32_MAX, "an AS number");
	}
	if (is_word(p, "if")) {
		next(p);
		return num_node(p, side, QV_IF, opt_cmp(p), UINT32_MAX, "an interface index");
	}
	(void)sided;
	if (is_word(p, "proto")) {
		next(p);
		for (unsigned i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
			if (is_word(p, protos[i].name)) {
				struct q_node n = { .type = QN_NUM, .field = QV_PROTO, .val = protos[i].v };
				next(p);
				return add(p, &n);
			}
		if (p->t == T_WORD && isdigit((unsigned char)p->s[p->ts]))
			return num_node(p, 0, QV_PROTO, QC_EQ, 255, "a protocol number 0..255");
		return fail(p, "expected a protocol (tcp, udp, icmp, icmp6, gre, esp, ah, sctp, "
			       "igmp or a number)");
	}
	if (is_word(p, "flags")) {
		next(p);
		char b[16];
		uint64_t m = 0;
		if (!word(p, b, sizeof(b)))
			return fail(p, "expected TCP flags (letters of FSRPAUECX)");
		for (char *c = b; *c; c++) {
			const char *all = "FSRPAUEC", *q = strchr(all, toupper((unsigned char)*c));
			if (toupper((unsigned char)*c) == 'X')
				m |= 0x3f;
			else if (q && *q)
				m |= 1u << (q - all);
			else
				return fail(p, "expected TCP flags (letters of FSRPAUECX)");
		}
		struct q_node n = { .type = QN_FLAGS, .val = m };
		next(p);
		return add(p, &n);
	}
	if (is_word(p, "tos")) {
		next(p);
		return num_node(p, 0, QV_TOS, opt_cmp(p), 255, "a ToS value 0..255");
	}
	if (is_word(p, "vlan")) {
		next(p);
		return num_node(p, 0, QV_VLAN, opt_cmp(p), 65535, "a VLAN id");
	}
	if (is_word(p, "packets") || is_word(p, "bytes") || is_word(p, "duration")) {
		int f = is_word(p, "packets") ? QV_PACKETS : is_word(p, "bytes") ? QV_BYTES : QV_DURATION;
		next(p);
		return num_node(p, 0, f, opt_cmp(p), UINT64_MAX,
				f == QV_DURATION ? "a duration in ms" : "a number");
	}
	if (is_word(p, "exporter")) {
		next(p);
		if (is_word(p, "ip"))
			next(p);
		return addr_node(p, 0, QA_EXPORTER, false);
	}
	if (is_word(p, "next")) {
		next(p);
		if (!is_word(p, "ip") && !is_word(p, "hop"))
			return fail(p, "expected 'ip' after 'next'");
		next(p);
		return addr_node(p, 0, QA_NEXTHOP, false);
	}
	if (is_word(p, "ipv4") || is_word(p, "inet") || is_word(p, "ipv6") || is_word(p, "inet6")) {
		struct q_node n = { .type = QN_NUM, .field = QV_IPVER,
				    .val = is_word(p, "ipv4") || is_word(p, "inet") ? 4 : 6 };
		next(p);
		return add(p, &n);
	}
	if (is_word(p, "any")) {
		struct q_node n = { .type = QN_TRUE };
		next(p);
		return add(p, &n);
	}
	for (int s = 0; s < FLOW_STR_MAX; s++)
		if (is_word(p, str_names[s]))
			return regex_node(p, s);
	return fail(p, "expected a filter term (ip, host, net, port, proto, flags, tos, as, if, "
		       "packets, bytes, duration, exporter, app/http_host/url/sni ~ \"re\", not, '(')");
}

static int factor(struct parser *p)
{
	if (p->t == T_NOT) {
		if (++p->depth > MAX_PARSE_DEPTH)
			return fail(p, "filter nested too deeply (at most %d levels)", MAX_PARSE_DEPTH);
		next(p);
		int l = factor(p);
		p->depth--;
		if (l < 0)
			return -1;
		return add_bin(p, QN_NOT, l, -1);
	}
	if (p->t == T_LP) {
		if (++p->depth > MAX_PARSE_DEPTH)
			return fail(p, "filter nested too deeply (at most %d levels)", MAX_PARSE_DEPTH);
		next(p);
		int e = expr(p);
		if (e < 0)
			return -1;
		if (p->t != T_RP)
			return fail(p, "expected ')' or 'and'/'or'");
		p->depth--;
		next(p);
		return e;
	}
	return prim(p);
}

static int term(struct parser *p)
{
	int l = factor(p);
	while (l >= 0 && p->t == T_AND) {
		next(p);
		int r = factor(p);
		if (r < 0)
			return -1;
		l = add_bin(p, QN_AND, l, r);
	}
	return l;
}

static int expr(struct parser *p)
{
	int l = term(p);
	while (l >= 0 && p->t == T_OR) {
		next(p);
		int r = term(p);
		if (r < 0)
			return -1;
		l = add_bin(p, QN_OR, l, r);
	}
	return l;
}

/* ------------------------------------------------------- canonical text */

static const char *cmp_txt[] = { "=", "!=", "<", "<=", ">", ">=" };
static const char *side_txt[] = { "", "src ", "dst ", "" };
static const char *num_txt[QV_MAX] = { "port", "as", "if", "proto", "tos", "packets", "bytes",
				       "duration", "first", "ipver", "vlan" };

static void print_node(FILE *o, const struct q_filter *f, const char *const *re, int i)
{
	const struct q_node *n = &f->n[i];
	char a[ADDR_STRLEN];
	switch (n->type) {
	case QN_TRUE: fputs("any", o); break;
	case QN_AND:
	case QN_OR:
		fputc('(', o);
		print_node(o, f, re, n->l);
		fputs(n->type == QN_AND ? " and " : " or ", o);
		print_node(o, f, re, n->r);
		fputc(')', o);
		break;
	case QN_NOT:
		fputs("not ", o);
		print_node(o, f, re, n->l);
		break;
	case QN_ADDR: {
		bool v4 = addr_is_v4(n->lo) && n->plen >= 96;
		addr_format(n->lo, v4, a, sizeof(a));
		const char *what = n->field == QA_EXPORTER ? "exporter " :
				   n->field == QA_NEXTHOP ? "next ip " : "";
		if (n->field == QA_IP)
			fprintf(o, "%s%s %s", side_txt[n->side], n->plen == 128 ? "ip" : "net", a);
		else
			fprintf(o, "%s%s", what, a);
		if (n->plen != 128)
			fprintf(o, "/%u", v4 ? n->plen - 96u : n->plen);
		break;
	}
	case QN_NUM:
		/* printed in a form the parser takes back (the fuzzer checks it) */
		if (n->field == QV_PROTO) {
			fprintf(o, "proto %llu", (unsigned long long)n->val);
			break;
		}
		if (n->field == QV_IPVER) {
			fprintf(o, "ipv%llu", (unsigned long long)n->val);
			break;
		}
		if (n->field == QV_IF)
			fprintf(o, "%s", n->side == QS_SRC ? "in " : n->side == QS_DST ? "out " : "");
		else
			fputs(side_txt[n->side], o);
		fprintf(o, "%s %s %llu", num_txt[n->field], cmp_txt[n->cmp], (unsigned long long)n->val);
		break;
	case QN_FLAGS:
		fputs("flags ", o);
		for (unsigned b = 0; b < 8; b++)
			if (n->val & (1u << b))
				fputc("FSRPAUEC"[b], o);
		break;
	case QN_REGEX:
		fprintf(o, "%s ~ \"", str_names[n->field]);
		for (const char *c = re ? re[n->slot] : "?"; *c; c++) {
			if (*c == '"' || *c == '\\')
				fputc('\\', o);
			fputc(*c, o);
		}
		fputc('"', o);
		break;
	}
}

static int rebuild_text(struct q_filter *f, const char *const *re)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *o = open_memstream(&buf, &len);
	if (!o)
		return -ENOMEM;
	print_node(o, f, re, f->root);
	if (fclose(o)) {
		free(buf);
		return -ENOMEM;
	}
	free(f->text);
	f->text = buf;
	return 0;
}

/* ------------------------------------------------------------- columns */

static uint32_t node_cols(const struct q_node *n)
{
	uint32_t m = 0;
	bool s = n->side & QS_SRC, d = n->side & QS_DST;
	switch (n->type) {
	case QN_ADDR:
		if (n->field == QA_EXPORTER)
			return ST_COL_BIT(ST_COL_EXPORTER);
		if (n->field == QA_NEXTHOP)
			return ST_COL_BIT(ST_COL_NEXT_HOP);
		return (s ? ST_COL_BIT(ST_COL_SRC_ADDR) : 0) | (d ? ST_COL_BIT(ST_COL_DST_ADDR) : 0);
	case QN_FLAGS:
		return ST_COL_BIT(ST_COL_PROTO) | ST_COL_BIT(ST_COL_TCP_FLAGS);
	case QN_REGEX:
		return ST_COL_BIT(ST_COL_APP + n->field);
	case QN_NUM:
		switch (n->field) {
		case QV_PORT:
			m = (s ? ST_COL_BIT(ST_COL_SRC_PORT) : 0) | (d ? ST_COL_BIT(ST_COL_DST_PORT) : 0);
			break;
		case QV_AS:
			m = (s ? ST_COL_BIT(ST_COL_SRC_AS) : 0) | (d ? ST_COL_BIT(ST_COL_DST_AS) : 0);
			break;
		case QV_IF:
			m = (s ? ST_COL_BIT(ST_COL_IN_IF) : 0) | (d ? ST_COL_BIT(ST_COL_OUT_IF) : 0);
			break;
		case QV_PROTO: m = ST_COL_BIT(ST_COL_PROTO); break;
		case QV_TOS: m = ST_COL_BIT(ST_COL_TOS); break;
		case QV_PACKETS: m = ST_COL_BIT(ST_COL_PACKETS); break;
		case QV_BYTES: m = ST_COL_BIT(ST_COL_BYTES); break;
		case QV_DURATION:
			m = ST_COL_BIT(ST_COL_FIRST_MS) | ST_COL_BIT(ST_COL_LAST_MS);
			break;
		case QV_FIRST: m = ST_COL_BIT(ST_COL_FIRST_MS) | ST_COL_BIT(ST_COL_LAST_MS); break;
		case QV_IPVER: m = ST_COL_BIT(ST_COL_FLAGS); break;
		case QV_VLAN: m = ST_COL_BIT(ST_COL_VLAN); break;
		}
		return m;
	default:
		return 0;
	}
}

static int max_depth(const struct q_filter *f, int i, int d)
{
	const struct q_node *n = &f->n[i];
	if (n->type == QN_AND || n->type == QN_OR) {
		int a = max_depth(f, n->l, d), b = max_depth(f, n->r, d + 1);
		return a > b ? a : b;
	}
	if (n->type == QN_NOT)
		return max_depth(f, n->l, d);
	return d;
}

static void finish_cols(struct q_filter *f)
{
	f->colmask = 0;
	for (int i = 0; i < f->nn; i++)
		f->colmask |= node_cols(&f->n[i]);
}

/* -------------------------------------------------------------- compile */

void q_filter_free(struct q_filter *f)
{
	if (!f)
		return;
	hs_free_database(f->db);
	free(f->n);
	free(f->text);
	free(f);
}

const char *q_filter_text(const struct q_filter *f)
{
	return f->text;
}

static int compile_re(struct parser *p)
{
	struct q_filter *f = p->f;
	if (!f->nre)
		return 0;
	unsigned flags[Q_REGEX_MAX], ids[Q_REGEX_MAX];
	for (unsigned i = 0; i < f->nre; i++) {
		/* SINGLEMATCH: we only need "matched at all" per entry */
		flags[i] = HS_FLAG_DOTALL | HS_FLAG_SINGLEMATCH | HS_FLAG_ALLOWEMPTY;
		ids[i] = i;
	}
	hs_compile_error_t *ce = NULL;
	if (hs_compile_multi((const char *const *)p->re, flags, ids, f->nre, HS_MODE_BLOCK, NULL,
			     &f->db, &ce) != HS_SUCCESS) {
		int which = ce && ce->expression >= 0 ? ce->expression : 0;
		if (p->err) {
			p->err->pos = p->re_pos[which];
			snprintf(p->err->msg, sizeof(p->err->msg),
				 "at position %d: regular expression \"%.60s\" rejected: %s",
				 p->re_pos[which] + 1, p->re[which], ce ? ce->message : "error");
		}
		hs_free_compile_error(ce);
		return -ENOTSUP;
	}
	return 0;
}

struct q_filter *q_filter_compile(const char *expr_text, struct q_err *err)
{
	struct parser p = { .s = expr_text ? expr_text : "", .err = err };
	int rc = -ENOMEM;
	p.len = strlen(p.s);
	if (err) {
		err->pos = -1;
		err->msg[0] = 0;
	}
	p.f = calloc(1, sizeof(*p.f));
	if (!p.f || !(p.f->n = calloc(Q_NODES_MAX, sizeof(struct q_node))))
		goto out;
	next(&p);
	if (p.t == T_END) {
		struct q_node n = { .type = QN_TRUE };
		p.f->root = add(&p, &n);
	} else {
		p.f->root = expr(&p);
		if (p.f->root >= 0 && p.t != T_END)
			p.f->root = fail(&p, "expected 'and', 'or' or end of filter");
	}
	if (p.f->root >= 0 && max_depth(p.f, p.f->root, 0) > MAX_DEPTH)
		p.f->root = fail(&p, "filter nested too deeply (at most %d levels)", MAX_DEPTH);
	if (p.f->root < 0) {
		rc = -EINVAL;
		goto out;
	}
	if ((rc = compile_re(&p)))
		goto out;
	if ((rc = rebuild_text(p.f, (const char *const *)p.re)))
		goto out;
	finish_cols(p.f);
	rc = 0;
out:
	for (unsigned i = 0; i < Q_REGEX_MAX; i++)
		free(p.re[i]);
	if (rc) {
		if (err && !err->msg[0])
			snprintf(err->msg, sizeof(err->msg), "%s", strerror(-rc));
		q_filter_free(p.f);
		errno = -rc;
		return NULL;
	}
	return p.f;
}

int q_filter_add_time(struct q_filter *f, uint64_t from_ms, uint64_t to_ms)
{
	/* the parser keeps 4 nodes free for this */
	if (from_ms == 0 && to_ms == UINT64_MAX)
		return 0;
	struct q_node a = { .type = QN_NUM, .field = QV_FIRST, .cmp = QC_GE, .val = from_ms };
	struct q_node b = { .type = QN_NUM, .field = QV_FIRST, .cmp = QC_LT, .val = to_ms };
	int i = f->nn;
	f->n[i] = a;
	f->n[i + 1] = b;
	f->n[i + 2] = (struct q_node){ .type = QN_AND, .l = (int16_t)i, .r = (int16_t)(i + 1) };
	f->n[i + 3] = (struct q_node){ .type = QN_AND, .l = (int16_t)(i + 2), .r = (int16_t)f->root };
	f->nn += 4;
	f->root = i + 3;
	finish_cols(f);
	return 0;
}

/* ------------------------------------------------------------ zone maps */

static enum q_tri tri_range(uint64_t mn, uint64_t mx, int cmp, uint64_t v)
{
	switch (cmp) {
	case QC_EQ: return v < mn || v > mx ? QT_NONE : mn == mx ? QT_ALL : QT_SOME;
	case QC_NE: return v < mn || v > mx ? QT_ALL : mn == mx ? QT_NONE : QT_SOME;
	case QC_LT: return mx < v ? QT_ALL : mn >= v ? QT_NONE : QT_SOME;
	case QC_LE: return mx <= v ? QT_ALL : mn > v ? QT_NONE : QT_SOME;
	case QC_GT: return mn > v ? QT_ALL : mx <= v ? QT_NONE : QT_SOME;
	case QC_GE: return mn >= v ? QT_ALL : mx < v ? QT_NONE : QT_SOME;
	}
	return QT_SOME;
}

static enum q_tri tri_addr(const uint8_t *mn, const uint8_t *mx, const struct q_node *n)
{
	if (memcmp(mx, n->lo, 16) < 0 || memcmp(mn, n->hi, 16) > 0)
		return QT_NONE;
	if (memcmp(mn, n->lo, 16) >= 0 && memcmp(mx, n->hi, 16) <= 0)
		return QT_ALL;
	return QT_SOME;
}

static enum q_tri tri_or(enum q_tri a, enum q_tri b)
{
	return a == QT_ALL || b == QT_ALL ? QT_ALL : a == QT_NONE && b == QT_NONE ? QT_NONE : QT_SOME;
}

static enum q_tri tri_and(enum q_tri a, enum q_tri b)
{
	return a == QT_NONE || b == QT_NONE ? QT_NONE : a == QT_ALL && b == QT_ALL ? QT_ALL : QT_SOME;
}

/* Sided fields: "any" means src or dst. */
static enum q_tri tri_sided(const struct q_node *n, uint64_t smn, uint64_t smx, uint64_t dmn,
			    uint64_t dmx)
{
	enum q_tri s = tri_range(smn, smx, n->cmp, n->val), d = tri_range(dmn, dmx, n->cmp, n->val);
	return n->side == QS_SRC ? s : n->side == QS_DST ? d : tri_or(s, d);
}

static enum q_tri zone_node(const struct q_filter *f, int i, const struct st_zone *z)
{
	const struct q_node *n = &f->n[i];
	switch (n->type) {
	case QN_TRUE: return QT_ALL;
	case QN_AND: {
		enum q_tri a = zone_node(f, n->l, z);
		return a == QT_NONE ? a : tri_and(a, zone_node(f, n->r, z));
	}
	case QN_OR: {
		enum q_tri a = zone_node(f, n->l, z);
		return a == QT_ALL ? a : tri_or(a, zone_node(f, n->r, z));
	}
	case QN_NOT: {
		enum q_tri a = zone_node(f, n->l, z);
		return a == QT_ALL ? QT_NONE : a == QT_NONE ? QT_ALL : QT_SOME;
	}
	case QN_ADDR:
		if (n->field != QA_IP)
			return QT_SOME;
		if (n->side == QS_SRC)
			return tri_addr(z->src_min, z->src_max, n);
		if (n->side == QS_DST)
			return tri_addr(z->dst_min, z->dst_max, n);
		return tri_or(tri_addr(z->src_min, z->src_max, n), tri_addr(z->dst_min, z->dst_max, n));
	case QN_FLAGS:
		return z->proto_min > 6 || z->proto_max < 6 ? QT_NONE : QT_SOME;
	case QN_NUM:
		switch (n->field) {
		case QV_PORT:
			return tri_sided(n, z->src_port_min, z->src_port_max, z->dst_port_min,
					 z->dst_port_max);
		case QV_AS:
			return tri_sided(n, z->src_as_min, z->src_as_max, z->dst_as_min, z->dst_as_max);
		case QV_PROTO: return tri_range(z->proto_min, z->proto_max, n->cmp, n->val);
		case QV_PACKETS: return tri_range(z->packets_min, z->packets_max, n->cmp, n->val);
		case QV_BYTES: return tri_range(z->bytes_min, z->bytes_max, n->cmp, n->val);
		case QV_FIRST: return tri_range(z->first_min, z->first_max, n->cmp, n->val);
		default: return QT_SOME;
		}
	default:
		return QT_SOME;
	}
}

enum q_tri q_filter_zone(const struct q_filter *f, const struct st_zone *z)
{
	return zone_node(f, f->root, z);
}

/* ----------------------------------------------------------- evaluation */

int q_fscratch_init(struct q_fscratch *s, const struct q_filter *f)
{
	memset(s, 0, sizeof(*s));
	s->nmasks = max_depth(f, f->root, 0) + 2;
	s->masks = malloc((size_t)s->nmasks * ST_BLOCK_ROWS_MAX);
	s->dm = malloc(65536);
	if (!s->masks || !s->dm) {
		q_fscratch_fini(s);
		return -ENOMEM;
	}
	if (f->db && hs_alloc_scratch(f->db, &s->hs) != HS_SUCCESS) {
		q_fscratch_fini(s);
		return -ENOMEM;
	}
	return 0;
}

void q_fscratch_fini(struct q_fscratch *s)
{
	free(s->masks);
	free(s->dm);
	for (unsigned i = 0; i < Q_REGEX_MAX; i++)
		free(s->em[i]);
	if (s->hs)
		hs_free_scratch(s->hs);
	memset(s, 0, sizeof(*s));
}

/* m[i] (=|) (v[i] cmp x) over one column of type T */
#define CMP_COL(T)                                                                  \
	static void cmp_##T(const T *v, uint32_t n, int cmp, uint64_t x, uint8_t *m, bool acc) \
	{                                                                           \
		switch (cmp) {                                                      \
		case QC_EQ: for (uint32_t i = 0; i < n; i++) m[i] = (uint8_t)((acc & m[i]) | (v[i] == x)); break; \
		case QC_NE: for (uint32_t i = 0; i < n; i++) m[i] = (uint8_t)((acc & m[i]) | (v[i] != x)); break; \
		case QC_LT: for (uint32_t i = 0; i < n; i++) m[i] = (uint8_t)((acc & m[i]) | (v[i] < x)); break;  \
		case QC_LE: for (uint32_t i = 0; i < n; i++) m[i] = (uint8_t)((acc & m[i]) | (v[i] <= x)); break; \
		case QC_GT: for (uint32_t i = 0; i < n; i++) m[i] = (uint8_t)((acc & m[i]) | (v[i] > x)); break;  \
		case QC_GE: for (uint32_t i = 0; i < n; i++) m[i] = (uint8_t)((acc & m[i]) | (v[i] >= x)); break; \
		}                                                                   \
	}
CMP_COL(uint8_t)
CMP_COL(uint16_t)
CMP_COL(uint32_t)
CMP_COL(uint64_t)

static void cmp_col(const void *col, unsigned w, uint32_t n, int cmp, uint64_t x, uint8_t *m,
		    bool acc)
{
	/* a value wider than the column: compare as the column's max + 1, so
	 * "port < 70000" is all rows and "port = 70000" none */
	uint64_t lim = w == 8 ? UINT64_MAX : (1ull << (8 * w)) - 1;
	if (x > lim) {
		bool r = cmp == QC_NE || cmp == QC_LT || cmp == QC_LE;
		for (uint32_t i = 0; i < n; i++)
			m[i] = (uint8_t)((acc & m[i]) | r);
		return;
	}
	switch (w) {
	case 1: cmp_uint8_t(col, n, cmp, x, m, acc); break;
	case 2: cmp_uint16_t(col, n, cmp, x, m, acc); break;
	case 4: cmp_uint32_t(col, n, cmp, x, m, acc); break;
	default: cmp_uint64_t(col, n, cmp, x, m, acc); break;
	}
}

static void addr_col(const uint8_t *a, uint32_t n, const struct q_node *nd, uint8_t *m, bool acc)
{
	/* prefix match as two masked 64-bit compares (byte order is irrelevant
	 * for equality as long as value and mask are loaded the same way) */
	uint8_t mk[16];
	for (unsigned i = 0; i < 16; i++)
		mk[i] = (uint8_t)~(nd->lo[i] ^ nd->hi[i]);
	uint64_t m0, m1, v0, v1;
	memcpy(&m0, mk, 8);
	memcpy(&m1, mk + 8, 8);
	memcpy(&v0, nd->lo, 8);
	memcpy(&v1, nd->lo + 8, 8);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t x0, x1;
		memcpy(&x0, a + 16 * (size_t)i, 8);
		memcpy(&x1, a + 16 * (size_t)i + 8, 8);
		m[i] = (uint8_t)((acc & m[i]) | (((x0 & m0) == v0) & ((x1 & m1) == v1)));
	}
}

/* m[i] (=|) dm[code[i]]: a test done once per dictionary entry (nd of
 * them), per row. A point filter (a host, a port) matches one entry or
 * none: then the rows are compared with that code (vectorised) or left
 * alone, no gather at all. */
static void by_code(const uint16_t *code, uint32_t n, const uint8_t *dm, uint32_t nd, uint8_t *m,
		    bool acc)
{
	uint32_t hits = 0, k = 0;
	for (uint32_t e = 0; e < nd; e++) {
		hits += dm[e];
		k = dm[e] ? e : k;
	}
	if (hits == 0) {
		if (!acc)
			memset(m, 0, n);
	} else if (hits == 1) {
		uint16_t kc = (uint16_t)k;
		if (acc) {
			for (uint32_t i = 0; i < n; i++)
				m[i] |= (uint8_t)(code[i] == kc);
		} else {
			for (uint32_t i = 0; i < n; i++)
				m[i] = (uint8_t)(code[i] == kc);
		}
	} else if (acc) {
		for (uint32_t i = 0; i < n; i++)
			m[i] |= dm[code[i]];
	} else {
		for (uint32_t i = 0; i < n; i++)
			m[i] = dm[code[i]];
	}
}

/* A prefix test on address column col: on its values, or on its
 * dictionary when the block delivered it as codes. */
static void addr_test(const struct st_cols *c, int col, struct q_fscratch *s,
		      const struct q_node *nd, uint8_t *m, bool acc)
{
	if (c->code[col]) {
		addr_col(c->dict[col], c->ndict[col], nd, s->dm, false);
		by_code(c->code[col], c->n, s->dm, c->ndict[col], m, acc);
	} else {
		addr_col(c->col[col], c->n, nd, m, acc);
	}
}

/* The same for a comparison on numeric column col of width w. With
 * exceptions (st_cols.xval: ports), the rows of code 0 are then tested by
 * their own values: the exceptions compared in a row, and only those that
 * match found among the rows (often none: a port asked for is usually one
 * of the block's frequent values, which exceptions are not). */
static void num_test(const struct st_cols *c, int col, unsigned w, struct q_fscratch *s, int cmp,
		     uint64_t x, uint8_t *m, bool acc)
{
	if (c->code[col]) {
		cmp_col(c->dict[col], w, c->ndict[col], cmp, x, s->dm, false);
		const uint64_t *xv = c->xval[col];
		if (xv)
			s->dm[0] = 0; /* a placeholder, not a value */
		by_code(c->code[col], c->n, s->dm, c->ndict[col], m, acc);
		if (!xv)
			return;
		uint32_t nx = c->nx[col], last = 0, hits = 0;
		cmp_uint64_t(xv, nx, cmp, x, s->dm, false);
		for (uint32_t k = 0; k < nx; k++) {
			hits += s->dm[k];
			last = s->dm[k] ? k : last;
		}
		const uint16_t *code = c->code[col];
		for (uint32_t i = 0, k = 0; hits && i < c->n && k <= last; i++) {
			if (code[i])
				continue;
			m[i] |= s->dm[k++];
		}
	} else {
		cmp_col(c->col[col], w, c->n, cmp, x, m, acc);
	}
}

struct re_ctx {
	struct q_fscratch *s;
	const struct q_filter *f;
	uint32_t entry;
	int field;
};

static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned fl,
		    void *ctx)
{
	(void)from, (void)to, (void)fl;
	struct re_ctx *c = ctx;
	if (id < c->f->nre && c->f->re_field[id] == c->field)
		c->s->em[id][c->entry] = 1;
	return 0;
}

/* Match every dictionary entry of the string columns the patterns use,
 * once per entry for all patterns at the same time. */
static int regex_prepass(const struct q_filter *f, struct q_fscratch *s, const struct st_cols *c)
{
	uint32_t need = 0;
	for (int fl = 0; fl < FLOW_STR_MAX; fl++)
		if (c->str_n[fl] > need)
			need = c->str_n[fl];
	if (need > s->em_cap) {
		for (unsigned i = 0; i < f->nre; i++) {
			uint8_t *p = realloc(s->em[i], need);
			if (!p)
				return -ENOMEM;
			s->em[i] = p;
		}
		s->em_cap = need;
	}
	for (unsigned i = 0; i < f->nre; i++)
		memset(s->em[i], 0, s->em_cap);
	for (int fl = 0; fl < FLOW_STR_MAX; fl++) {
		bool used = false;
		for (unsigned i = 0; i < f->nre; i++)
			used |= f->re_field[i] == fl;
		if (!used || !c->col[ST_COL_APP + fl])
			continue;
		struct re_ctx rc = { .s = s, .f = f, .field = fl };
		for (uint32_t e = 0; e < c->str_n[fl]; e++) {
			rc.entry = e;
			if (hs_scan(f->db, c->str_arena + c->str_off[fl][e], c->str_len[fl][e], 0, s->hs,
				    on_match, &rc) != HS_SUCCESS)
				return -ENOMEM;
		}
	}
	return 0;
}

static void eval_leaf(const struct q_filter *f, struct q_fscratch *s, const struct st_cols *c,
		      const struct q_node *nd, uint8_t *m)
{
	(void)f;
	uint32_t n = c->n;
	bool sd = nd->side & QS_SRC, dd = nd->side & QS_DST;
	switch (nd->type) {
	case QN_TRUE:
		memset(m, 1, n);
		return;
	case QN_ADDR:
		if (nd->field == QA_EXPORTER) {
			addr_test(c, ST_COL_EXPORTER, s, nd, m, false);
		} else if (nd->field == QA_NEXTHOP) {
			addr_test(c, ST_COL_NEXT_HOP, s, nd, m, false);
		} else {
			if (sd)
				addr_test(c, ST_COL_SRC_ADDR, s, nd, m, false);
			if (dd)
				addr_test(c, ST_COL_DST_ADDR, s, nd, m, sd);
		}
		return;
	case QN_FLAGS: {
		const uint8_t *p = c->col[ST_COL_PROTO], *fl = c->col[ST_COL_TCP_FLAGS];
		uint8_t v = (uint8_t)nd->val;
		for (uint32_t i = 0; i < n; i++)
			m[i] = (uint8_t)((p[i] == 6) & ((fl[i] & v) == v));
		return;
	}
	case QN_REGEX: {
		const uint32_t *ix = c->col[ST_COL_APP + nd->field];
		const uint8_t *em = s->em[nd->slot];
		for (uint32_t i = 0; i < n; i++)
			m[i] = ix[i] ? em[ix[i] - 1] : 0;
		return;
	}
	case QN_NUM:
		break;
	default:
		return;
	}
	switch (nd->field) {
	case QV_PORT:
	case QV_AS:
	case QV_IF: {
		int sc = nd->field == QV_PORT ? ST_COL_SRC_PORT : nd->field == QV_AS ? ST_COL_SRC_AS
										     : ST_COL_IN_IF;
		int dc = nd->field == QV_PORT ? ST_COL_DST_PORT : nd->field == QV_AS ? ST_COL_DST_AS
										     : ST_COL_OUT_IF;
		unsigned w = st_col_size((enum st_col)sc);
		if (sd)
			num_test(c, sc, w, s, nd->cmp, nd->val, m, false);
		if (dd)
			num_test(c, dc, w, s, nd->cmp, nd->val, m, sd);
		return;
	}
	case QV_PROTO: cmp_col(c->col[ST_COL_PROTO], 1, n, nd->cmp, nd->val, m, false); return;
	case QV_TOS: num_test(c, ST_COL_TOS, 1, s, nd->cmp, nd->val, m, false); return;
	case QV_VLAN: num_test(c, ST_COL_VLAN, 2, s, nd->cmp, nd->val, m, false); return;
	case QV_PACKETS: cmp_col(c->col[ST_COL_PACKETS], 8, n, nd->cmp, nd->val, m, false); return;
	case QV_BYTES: cmp_col(c->col[ST_COL_BYTES], 8, n, nd->cmp, nd->val, m, false); return;
	case QV_FIRST: cmp_col(c->col[ST_COL_FIRST_MS], 8, n, nd->cmp, nd->val, m, false); return;
	case QV_DURATION: {
		const uint64_t *a = c->col[ST_COL_FIRST_MS], *b = c->col[ST_COL_LAST_MS];
		uint64_t x = nd->val;
		for (uint32_t i = 0; i < n; i++) {
			uint64_t d = b[i] >= a[i] ? b[i] - a[i] : 0;
			bool r;
			switch (nd->cmp) {
			case QC_EQ: r = d == x; break;
			case QC_NE: r = d != x; break;
			case QC_LT: r = d < x; break;
			case QC_LE: r = d <= x; break;
			case QC_GT: r = d > x; break;
			default: r = d >= x; break;
			}
			m[i] = r;
		}
		return;
	}
	case QV_IPVER: {
		const uint8_t *fl = c->col[ST_COL_FLAGS];
		uint8_t want = nd->val == 6 ? FLOW_F_IP6 : 0;
		for (uint32_t i = 0; i < n; i++)
			m[i] = (fl[i] & FLOW_F_IP6) == want;
		return;
	}
	}
}

static bool any_set(const uint8_t *m, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (m[i])
			return true;
	return false;
}

static void eval_node(const struct q_filter *f, struct q_fscratch *s, const struct st_cols *c,
		      int i, int depth, uint8_t *out)
{
	const struct q_node *nd = &f->n[i];
	uint32_t n = c->n;
	uint8_t *tmp = s->masks + (size_t)(depth + 1) * ST_BLOCK_ROWS_MAX;
	switch (nd->type) {
	case QN_AND:
		eval_node(f, s, c, nd->l, depth, out);
		if (!any_set(out, n))
			return;
		eval_node(f, s, c, nd->r, depth + 1, tmp);
		for (uint32_t k = 0; k < n; k++)
			out[k] &= tmp[k];
		return;
	case QN_OR:
		eval_node(f, s, c, nd->l, depth, out);
		eval_node(f, s, c, nd->r, depth + 1, tmp);
		for (uint32_t k = 0; k < n; k++)
			out[k] |= tmp[k];
		return;
	case QN_NOT:
		eval_node(f, s, c, nd->l, depth, out);
		for (uint32_t k = 0; k < n; k++)
			out[k] ^= 1;
		return;
	default:
		eval_leaf(f, s, c, nd, out);
	}
}

int q_filter_eval(const struct q_filter *f, struct q_fscratch *s, const struct st_cols *c,
		  uint8_t *sel)
{
	if (f->nre) {
		int rc = regex_prepass(f, s, c);
		if (rc)
			return rc;
	}
	eval_node(f, s, c, f->root, 0, sel);
	return 0;
}
