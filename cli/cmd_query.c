/* cmd_query.c — `flowdelta query`: flow listings, top-N aggregations and
 * time series over one or more local stores (docs/query.md). The work is
 * the query engine (query/query.h); this file parses flags and prints.
 *
 * Several -R stores are answered as their union: each store's run adds into
 * one partial result, which is exactly what merging per-store partials gives.
 * --partial prints that partial (JSON) instead of the answer, and --merge
 * reads such partials back, so `query --partial` on several hosts piped into
 * `query --merge` is the distributed query by hand.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "cli.h"
#include "query.h"

#define MAX_STORES 64
#define MAX_MERGE 256

enum fmt { F_TABLE, F_CSV, F_JSONL, F_JSON };

static int usage(FILE *f)
{
	fprintf(f,
		"usage: flowdelta query -R DIR [-R DIR ...] [-t FROM-TO | --last DUR]\n"
		"                       [--filter EXPR | EXPR]\n"
		"                       [--group F1,F2,... [--top N] [--by flows|packets|bytes]]\n"
		"                       [-s FIELD[/METRIC]] [--series DUR [--group F --top N]]\n"
		"                       [--order FIELD[:desc]] [--limit N] [--scale]\n"
		"                       [--format table|csv|jsonl|json] [--explain] [--threads N]\n"
		"                       [--max-groups N] [--partial] [--merge FILE ...]\n"
		"Query flow records: a listing (default), a top-N aggregation (--group, -s) or a\n"
		"time series (--series). See docs/query.md for the filter language.\n"
		"  -R, --store DIR     store directory (repeat for several: their union is queried)\n"
		"  -t, --time FROM-TO  time range of flow starts, FROM inclusive, TO exclusive;\n"
		"                      ISO 8601 (2026-01-01T10:00[:00]), nfdump's 2026/01/01.10:00:00\n"
		"                      or ms since the epoch; FROM alone means until now\n"
		"  --last DUR          the last DUR before now (90s, 15m, 1h, 2d)\n"
		"  -f, --filter EXPR   nfdump-style filter (also as the positional argument)\n"
		"  -g, --group LIST    group by fields: srcip, dstip, srcnet/24, dstnet/64, srcport,\n"
		"                      dstport, proto, flags, tos, srcas, dstas, inif, outif,\n"
		"                      exporter, nexthop, vlan, odid, sampling, ...\n"
		"  -n, --top N         aggregation rows (default 10; 0 = all); series: split keys kept\n"
		"  -b, --by METRIC     top-N order: bytes (default), packets or flows\n"
		"  -s FIELD[/METRIC]   nfdump style: -s srcip/bytes = --group srcip --by bytes\n"
		"  --series DUR        per-interval sums (1m, 5m, 1h); with --group F: split by F\n"
		"  -o, --order F[:desc] listing order (default first); ties by the whole record\n"
		"  -l, --limit N       listing rows (default 100; 0 = up to 1000000)\n"
		"  --scale             packets and bytes times the sampling interval\n"
		"  -F, --format FMT    table (default, human units), csv, jsonl or json\n"
		"  --explain           print the plan and blocks scanned/skipped, rows, time to stderr\n"
		"  --threads N         worker threads per store (default: all cores)\n"
		"  --max-groups N      group-table cap (default 4000000): beyond it, a clear error\n"
		"  --partial           print the partial result (JSON) for a later --merge\n"
		"  --merge FILE        merge partial results (from --partial) instead of reading stores\n"
		"  -h, --help          this text\n");
	return f == stdout ? 0 : 2;
}

static uint64_t now_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

/* "FROM-TO" where either side may itself contain '-' (ISO dates): try every
 * '-' as the separator and take the one where both sides parse. */
static int parse_range(const char *s, uint64_t *from, uint64_t *to)
{
	if (!q_parse_time_ms(s, from)) {
		*to = now_ms() + 1;
		return 0;
	}
	for (const char *d = strchr(s, '-'); d; d = strchr(d + 1, '-')) {
		char a[64];
		size_t l = (size_t)(d - s);
		if (l >= sizeof(a))
			break;
		memcpy(a, s, l);
		a[l] = 0;
		if (!q_parse_time_ms(a, from) && !q_parse_time_ms(d + 1, to))
			return 0;
	}
	return -EINVAL;
}

static char *read_file(const char *path)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	if (!f)
		return NULL;
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	while (buf) {
		size_t n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (len < cap - 1)
			break;
		char *p = realloc(buf, cap * 2);
		if (!p) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = p;
		cap *= 2;
	}
	if (buf)
		buf[len] = 0;
	if (f != stdin)
		fclose(f);
	return buf;
}

/* ------------------------------------------------------------- printing */

static void print_csv_cell(const char *s)
{
	if (strpbrk(s, ",\"\n")) {
		putchar('"');
		for (; *s; s++) {
			if (*s == '"')
				putchar('"');
			putchar(*s);
		}
		putchar('"');
	} else {
		fputs(s, stdout);
	}
}

static void print_json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		putchar(*s);
	}
	putchar('"');
}

/* listing columns the table shows (csv/json carry all) */
static bool table_col(const char *name, bool listing)
{
	static const char *show[] = { "first", "duration", "proto", "srcip", "srcport", "dstip",
				      "dstport", "flags", "packets", "bytes", NULL };
	if (!listing)
		return true;
	for (unsigned i = 0; show[i]; i++)
		if (!strcmp(name, show[i]))
			return true;
	return false;
}

/* An aligned table in two passes over the rows, each shared by up to two
 * threads: first the widest cell of each column (from the cells' lengths,
 * which cost less than their text), then the lines, made slice by slice
 * into a buffer of the thread's own and written in slice order. No text
 * is kept between the passes and the buffers are reused, so a listing of
 * a million rows needs no memory in proportion to it. */
#define SLICE_ROWS 4096

struct table {
	const struct q_result *r;
	bool show[64], right[64];
	size_t w[64];
	unsigned nc, ns;
	size_t nr, nslices;
	pthread_mutex_t mu;
	pthread_cond_t turn;
	size_t next; /* the slice to be written next */
	bool failed;
};

struct share {
	struct table *t;
	unsigned id, n;   /* share id of n */
	size_t w[64];     /* pass 1: widest cell per column */
	int rc;
};

static void *table_widths(void *arg)
{
	struct share *s = arg;
	struct table *t = s->t;
	q_result_widths(t->r, t->show, t->nr * s->id / s->n, t->nr * (s->id + 1) / s->n, s->w);
	return NULL;
}

static void *table_lines(void *arg)
{
	struct share *s = arg;
	struct table *t = s->t;
	size_t linecap = 2;
	for (unsigned c = 0; c < t->nc; c++)
		if (t->show[c])
			linecap += t->w[c] + 2;
	char *buf = malloc(SLICE_ROWS * linecap + Q_LINE_SLACK);
	if (!buf)
		s->rc = -ENOMEM;
	for (size_t sl = s->id; sl < t->nslices; sl += s->n) {
		char *o = buf;
		size_t from = sl * SLICE_ROWS, to = from + SLICE_ROWS < t->nr ? from + SLICE_ROWS : t->nr;
		if (buf)
			o = q_result_lines(t->r, from, to, t->show, t->w, buf);
		/* in slice order; a failed share still takes its turns (and
		 * writes nothing), so the other never waits forever */
		pthread_mutex_lock(&t->mu);
		while (t->next != sl)
			pthread_cond_wait(&t->turn, &t->mu);
		if (buf && !t->failed)
			fwrite_unlocked(buf, 1, (size_t)(o - buf), stdout);
		else
			t->failed = true;
		t->next++;
		pthread_cond_broadcast(&t->turn);
		pthread_mutex_unlock(&t->mu);
	}
	free(buf);
	return NULL;
}

/* Run fn over the shares: the second in a thread of its own when there
 * are two. */
static void run_shares(void *(*fn)(void *), struct share *sh, unsigned n)
{
	pthread_t tid;
	bool threaded = n == 2 && !pthread_create(&tid, NULL, fn, &sh[1]);
	if (n == 2 && !threaded) {
		/* no thread: one share does it all */
		sh[0].n = 1;
		fn(&sh[0]);
		sh[0].n = 2;
		return;
	}
	fn(&sh[0]);
	if (threaded)
		pthread_join(tid, NULL);
}

static void print_table(const struct q_result *r, bool listing)
{
	struct table *t = calloc(1, sizeof(*t));
	if (!t) {
		fprintf(stderr, "flowdelta: query: out of memory\n");
		return;
	}
	t->r = r;
	t->nc = q_result_ncols(r) > 64 ? 64 : q_result_ncols(r);
	t->nr = q_result_nrows(r);
	t->nslices = (t->nr + SLICE_ROWS - 1) / SLICE_ROWS;
	for (unsigned c = 0; c < t->nc; c++) {
		t->w[c] = strlen(q_result_col_name(r, c));
		t->show[c] = table_col(q_result_col_name(r, c), listing);
		t->right[c] = q_result_col_type(r, c) == Q_CT_NUM;
		t->ns += t->show[c];
	}
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->turn, NULL);
	unsigned n = t->nr >= 20000 ? 2 : 1;
	struct share sh[2];
	for (unsigned i = 0; i < n; i++)
		sh[i] = (struct share){ .t = t, .id = i, .n = n };
	run_shares(table_widths, sh, n);
	for (unsigned i = 0; i < n; i++)
		for (unsigned c = 0; c < t->nc; c++)
			t->w[c] = sh[i].w[c] > t->w[c] ? sh[i].w[c] : t->w[c];
	/* before anything is written to stdout, as setvbuf must be. Small:
	 * stdio writes a slice (hundreds of kB) past its buffer in whole
	 * buffers, and copies into it only what does not fill one. */
	static char obuf[1 << 16];
	setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));
	bool first = true;
	for (unsigned c = 0; c < t->nc; c++) {
		if (!t->show[c])
			continue;
		printf("%s%*s%s", first ? "" : "  ", t->right[c] ? (int)t->w[c] : -(int)t->w[c],
		       q_result_col_name(r, c), "");
		first = false;
	}
	putchar('\n');
	run_shares(table_lines, sh, n);
	if (t->failed)
		fprintf(stderr, "flowdelta: query: out of memory\n");
	pthread_cond_destroy(&t->turn);
	pthread_mutex_destroy(&t->mu);
	free(t);
	fflush(stdout);
}

static void print_rows(const struct q_result *r, enum fmt fmt)
{
	unsigned nc = q_result_ncols(r);
	size_t nr = q_result_nrows(r);
	char buf[128];
	if (fmt == F_CSV) {
		for (unsigned c = 0; c < nc; c++) {
			if (c)
				putchar(',');
			fputs(q_result_col_name(r, c), stdout);
		}
		putchar('\n');
	}
	if (fmt == F_JSON)
		fputs("[", stdout);
	for (size_t i = 0; i < nr; i++) {
		if (fmt == F_JSON)
			fputs(i ? ",\n " : "\n ", stdout);
		if (fmt != F_CSV)
			putchar('{');
		for (unsigned c = 0; c < nc; c++) {
			const char *v = q_result_cell(r, i, c, false, buf, sizeof(buf));
			if (fmt == F_CSV) {
				if (c)
					putchar(',');
				print_csv_cell(v);
				continue;
			}
			if (c)
				putchar(',');
			print_json_str(q_result_col_name(r, c));
			putchar(':');
			enum q_ctype t = q_result_col_type(r, c);
			bool num = (t == Q_CT_NUM || t == Q_CT_TIME) && strcmp(v, "other");
			if (num)
				fputs(v, stdout);
			else
				print_json_str(v);
		}
		if (fmt != F_CSV)
			putchar('}');
		if (fmt != F_JSON)
			putchar('\n');
	}
	if (fmt == F_JSON)
		fputs(nr ? "\n]\n" : "]\n", stdout);
}

static void explain(const struct q_result *r, const char *ftext, unsigned nstores)
{
	struct q_stats s;
	q_result_stats(r, &s);
	double secs = (double)s.ns / 1e9;
	fprintf(stderr,
		"filter:   %s\n"
		"stores:   %u (%" PRIu64 " segments)\n"
		"blocks:   %" PRIu64 " scanned, %" PRIu64 " skipped by zone map / time range, %" PRIu64
		" corrupt\n"
		"rows:     %" PRIu64 " scanned, %" PRIu64 " matched\n"
		"groups:   %" PRIu64 "\n"
		"time:     %.3f s on %u threads (%.1f M rows/s scanned)\n",
		ftext, nstores, s.segments, s.blocks - s.blocks_skipped, s.blocks_skipped,
		s.blocks_corrupt, s.rows_scanned, s.rows_matched, s.groups, secs, s.threads,
		secs > 0 ? (double)s.rows_scanned / secs / 1e6 : 0.0);
}

/* ------------------------------------------------------------------- main */

enum {
	O_LAST = 256, O_SERIES, O_SCALE, O_EXPLAIN, O_THREADS, O_MAXG, O_PARTIAL, O_MERGE,
};

static int run_query(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 'R' },
		{ "time", required_argument, NULL, 't' },
		{ "last", required_argument, NULL, O_LAST },
		{ "filter", required_argument, NULL, 'f' },
		{ "group", required_argument, NULL, 'g' },
		{ "top", required_argument, NULL, 'n' },
		{ "by", required_argument, NULL, 'b' },
		{ "series", required_argument, NULL, O_SERIES },
		{ "order", required_argument, NULL, 'o' },
		{ "limit", required_argument, NULL, 'l' },
		{ "scale", no_argument, NULL, O_SCALE },
		{ "format", required_argument, NULL, 'F' },
		{ "explain", no_argument, NULL, O_EXPLAIN },
		{ "threads", required_argument, NULL, O_THREADS },
		{ "max-groups", required_argument, NULL, O_MAXG },
		{ "partial", no_argument, NULL, O_PARTIAL },
		{ "merge", required_argument, NULL, O_MERGE },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *stores[MAX_STORES], *merges[MAX_MERGE], *filter = NULL, *group = NULL;
	unsigned nstores = 0, nmerge = 0;
	struct q_spec sp = { .kind = Q_LIST, .from_ms = 0, .to_ms = UINT64_MAX, .by = Q_M_BYTES,
			     .order = Q_F_FIRST, .limit = 100 };
	bool top_set = false, explain_on = false, partial = false;
	enum fmt fmt = F_TABLE;
	struct q_err err = { .pos = -1 };
	char *end;
	int o;
	optind = 1;
	while ((o = getopt_long(argc, argv, "R:t:f:g:n:b:s:o:l:F:h", opts, NULL)) != -1) {
		switch (o) {
		case 'R':
			if (nstores == MAX_STORES)
				return cli_usage_error("query", "too many stores (at most %d)", MAX_STORES);
			stores[nstores++] = optarg;
			break;
		case 't':
			if (parse_range(optarg, &sp.from_ms, &sp.to_ms))
				return cli_usage_error("query", "bad time range '%s' (want FROM-TO, e.g. "
						       "2026-01-01T10:00-2026-01-01T11:00)", optarg);
			break;
		case O_LAST: {
			uint64_t d;
			if (q_parse_duration_ms(optarg, &d) || !d)
				return cli_usage_error("query", "bad --last '%s' (e.g. 15m, 1h, 2d)", optarg);
			sp.to_ms = now_ms() + 1;
			sp.from_ms = sp.to_ms > d ? sp.to_ms - d : 0;
			break;
		}
		case 'f': filter = optarg; break;
		case 'g': group = optarg; break;
		case 'n':
			sp.top = (uint32_t)strtoul(optarg, &end, 10);
			if (*end || !*optarg)
				return cli_usage_error("query", "bad --top '%s'", optarg);
			top_set = true;
			break;
		case 'b':
		case 's': {
			char m[32] = "", *metric = m;
			if (o == 's') {
				static char g[64];
				snprintf(g, sizeof(g), "%s", optarg);
				char *sl = strrchr(g, '/');
				/* "srcnet/24/bytes" or "srcip/bytes": a trailing word is the metric */
				if (sl && !(sl[1] >= '0' && sl[1] <= '9')) {
					*sl = 0;
					snprintf(m, sizeof(m), "%s", sl + 1);
				}
				group = g;
				if (!m[0])
					metric = "flows"; /* nfdump's -s default order */
			} else {
				snprintf(m, sizeof(m), "%s", optarg);
			}
			if (!strcmp(metric, "bytes"))
				sp.by = Q_M_BYTES;
			else if (!strcmp(metric, "packets") || !strcmp(metric, "pkts"))
				sp.by = Q_M_PACKETS;
			else if (!strcmp(metric, "flows") || !strcmp(metric, "records"))
				sp.by = Q_M_FLOWS;
			else
				return cli_usage_error("query", "bad metric '%s' (bytes, packets or flows)",
						       metric);
			break;
		}
		case O_SERIES:
			if (q_parse_duration_ms(optarg, &sp.interval_ms) || !sp.interval_ms)
				return cli_usage_error("query", "bad --series interval '%s' (e.g. 1m)", optarg);
			sp.kind = Q_SERIES;
			break;
		case 'o': {
			char f[32];
			snprintf(f, sizeof(f), "%s", optarg);
			char *c = strchr(f, ':');
			if (c) {
				if (strcmp(c + 1, "desc") && strcmp(c + 1, "asc"))
					return cli_usage_error("query", "bad order '%s' (FIELD[:asc|:desc])",
							       optarg);
				sp.desc = !strcmp(c + 1, "desc");
				*c = 0;
			}
			if (q_field_lookup(f, &sp.order) || sp.order == Q_F_SRCNET ||
			    sp.order == Q_F_DSTNET)
				return cli_usage_error("query", "unknown order field '%s'", f);
			break;
		}
		case 'l':
			sp.limit = (uint32_t)strtoul(optarg, &end, 10);
			if (*end || !*optarg)
				return cli_usage_error("query", "bad --limit '%s'", optarg);
			break;
		case O_SCALE: sp.scale = true; break;
		case 'F':
			if (!strcmp(optarg, "table"))
				fmt = F_TABLE;
			else if (!strcmp(optarg, "csv"))
				fmt = F_CSV;
			else if (!strcmp(optarg, "jsonl"))
				fmt = F_JSONL;
			else if (!strcmp(optarg, "json"))
				fmt = F_JSON;
			else
				return cli_usage_error("query", "bad --format '%s' (table, csv, jsonl, json)",
						       optarg);
			break;
		case O_EXPLAIN: explain_on = true; break;
		case O_THREADS:
			sp.threads = (unsigned)strtoul(optarg, &end, 10);
			if (*end || !sp.threads || sp.threads > 64)
				return cli_usage_error("query", "bad --threads '%s' (1..64)", optarg);
			break;
		case O_MAXG:
			sp.max_groups = strtoull(optarg, &end, 10);
			if (*end || !sp.max_groups)
				return cli_usage_error("query", "bad --max-groups '%s'", optarg);
			break;
		case O_PARTIAL: partial = true; break;
		case O_MERGE:
			if (nmerge == MAX_MERGE)
				return cli_usage_error("query", "too many --merge files");
			merges[nmerge++] = optarg;
			break;
		case 'h': return usage(stdout);
		default: return usage(stderr);
		}
	}
	if (optind < argc) {
		if (filter || optind != argc - 1)
			return cli_usage_error("query", "give the filter once (quote it: "
					       "flowdelta query -R DIR 'dst port 443')");
		filter = argv[optind];
	}
	if (!nstores && !nmerge)
		return cli_usage_error("query", "no store (-R DIR) and no --merge file");
	if (nstores && nmerge)
		return cli_usage_error("query", "-R and --merge do not mix");
	if (group) {
		unsigned n;
		if (q_fields_parse(group, sp.group, Q_GROUP_MAX, &n, &err))
			return cli_usage_error("query", "--group: %s", err.msg);
		sp.ngroup = n;
		if (sp.kind == Q_LIST)
			sp.kind = Q_AGG;
	} else if (top_set && sp.kind == Q_LIST) {
		return cli_usage_error("query", "--top needs --group FIELDS (or -s FIELD/METRIC)");
	}
	if (sp.kind == Q_AGG && !top_set)
		sp.top = 10;
	if (sp.kind == Q_SERIES && sp.ngroup && !top_set)
		sp.top = 5;

	sp.filter = filter;
	if (fmt == F_TABLE && sp.kind == Q_LIST && !partial && !nmerge)
		/* the table shows these: decode no more (csv/json and partials,
		 * which must match each other for --merge, carry all) */
		sp.list_fields = 1u << Q_F_FIRST | 1u << Q_F_DURATION | 1u << Q_F_PROTO |
				 1u << Q_F_SRCIP | 1u << Q_F_SRCPORT | 1u << Q_F_DSTIP |
				 1u << Q_F_DSTPORT | 1u << Q_F_FLAGS | 1u << Q_F_PACKETS |
				 1u << Q_F_BYTES;
	struct q_query *q = q_query_new(&sp, &err);
	if (!q) {
		if (err.pos >= 0 && filter) {
			fprintf(stderr, "flowdelta: query: bad filter: %s\n  %s\n  %*s^\n", err.msg, filter,
				err.pos, "");
			return 2;
		}
		return cli_usage_error("query", "%s", err.msg[0] ? err.msg : strerror(errno));
	}
	struct q_result *r = NULL;
	int rc = 1;
	if (nmerge) {
		for (unsigned i = 0; i < nmerge; i++) {
			char *txt = read_file(merges[i]);
			if (!txt) {
				fprintf(stderr, "flowdelta: query: %s: %s\n", merges[i], strerror(errno));
				goto out;
			}
			struct q_result *p = q_result_from_json(q, txt, &err);
			free(txt);
			if (!p) {
				fprintf(stderr, "flowdelta: query: %s: %s\n", merges[i], err.msg);
				goto out;
			}
			if (!r) {
				r = p;
				continue;
			}
			int mr = q_result_merge(r, p, &err);
			q_result_free(p);
			if (mr) {
				fprintf(stderr, "flowdelta: query: %s: %s\n", merges[i], err.msg);
				goto out;
			}
		}
	} else {
		r = q_result_new(q);
		if (!r) {
			fprintf(stderr, "flowdelta: query: out of memory\n");
			goto out;
		}
		for (unsigned i = 0; i < nstores; i++) {
			int e = q_run(q, stores[i], r, &err);
			if (e) {
				fprintf(stderr, "flowdelta: query: %s\n", err.msg);
				goto out;
			}
		}
	}
	if (partial) {
		char *txt = q_result_to_json(r);
		if (!txt) {
			fprintf(stderr, "flowdelta: query: out of memory\n");
			goto out;
		}
		puts(txt);
		free(txt);
		rc = 0;
		goto out;
	}
	if (q_result_finish(r)) {
		fprintf(stderr, "flowdelta: query: out of memory\n");
		goto out;
	}
	if (fmt == F_TABLE)
		print_table(r, sp.kind == Q_LIST);
	else
		print_rows(r, fmt);
	if (explain_on) {
		struct q_filter *f = q_filter_compile(filter, NULL);
		explain(r, f ? q_filter_text(f) : "?", nstores ? nstores : nmerge);
		q_filter_free(f);
	}
	rc = fflush(stdout) ? 1 : 0;
out:
	q_result_free(r);
	q_query_free(q);
	return rc;
}

static struct cli_cmd cmd_query = {
	.name = "query",
	.summary = "query flow stores: listings, top-N, time series (nfdump filters)",
	.run = run_query,
};
CLI_REGISTER(cmd_query)
