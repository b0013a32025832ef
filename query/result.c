/* result.c — partial results: the group table, the listing heap, merging,
 * finishing (top-N, order, limit) and reading cells.
 *
 * Determinism: every order the user sees has a total tie-break — top-N by
 * metric descending, then group key ascending (keys are big-endian, so
 * memcmp is numeric order); listings by the order field, then the whole
 * record's bytes. Hence one store and any split of its records merged
 * give byte-identical answers.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "query_int.h"
#include "util/addr.h"
#include "util/hash.h"
#include "util/mem.h"

/* ------------------------------------------------------------ group table */

uint64_t q_key_hash(const uint8_t *key, unsigned len)
{
	uint8_t w[264] = { 0 };
	if (len > 256)
		len = 256;
	memcpy(w, key, len);
	return q_key_hashw(w, (len + 7) / 8);
}

int q_tab_init(struct q_tab *t, unsigned keylen, uint64_t max)
{
	memset(t, 0, sizeof(*t));
	t->keylen = keylen;
	t->kw = (keylen + 7) / 8;
	t->stride = 8 * t->kw + 24;
	t->max = max;
	t->nslot = 1024;
	t->ent = q_zalloc(t->nslot, t->stride);
	return t->ent ? 0 : -ENOMEM;
}

void q_tab_fini(struct q_tab *t)
{
	free(t->ent);
	memset(t, 0, sizeof(*t));
}

static int tab_grow(struct q_tab *t)
{
	uint64_t ns = t->nslot * 2, mask = ns - 1;
	uint8_t *e = q_zalloc(ns, t->stride);
	if (!e)
		return -ENOMEM;
	for (uint64_t i = 0; i < t->nslot; i++) {
		if (!q_tab_used(t, i))
			continue;
		const uint8_t *k = q_tab_key(t, i);
		uint64_t h = q_key_hashw(k, t->kw) & mask;
		while (((const uint64_t *)(const void *)(e + h * t->stride + t->stride - 24))[0])
			h = (h + 1) & mask;
		memcpy(e + h * t->stride, k, t->stride);
	}
	free(t->ent);
	t->ent = e;
	t->nslot = ns;
	return 0;
}

int q_tab_add(struct q_tab *t, const uint8_t *key, uint64_t hash, uint64_t flows, uint64_t packets,
	      uint64_t bytes)
{
	bool found;
	uint64_t h = q_tab_probe(t, key, hash, t->kw, &found);
	if (found) {
		uint64_t *s = q_tab_sums(t, h);
		s[0] += flows;
		s[1] += packets;
		s[2] += bytes;
		return 0;
	}
	if (!flows)
		return -EINVAL;
	if (t->n >= t->max)
		return -E2BIG;
	memcpy(q_tab_key(t, h), key, 8 * (size_t)t->kw);
	uint64_t *s = q_tab_sums(t, h);
	s[0] = flows;
	s[1] = packets;
	s[2] = bytes;
	/* keep the load at most 3/4: a smaller table (less of it out of the
	 * caches and the TLB) paid more than the longer probes cost, and most
	 * probes are hits in the same or the next line (dst port 443 top-10
	 * dstip: 40 k groups in 64 Ki slots instead of 128 Ki, ~5 % faster) */
	if (++t->n * 4 > t->nslot * 3)
		return tab_grow(t);
	return 0;
}

/* Keys of any length (finishing, JSON): padded into a word buffer first. */
static int tab_add_any(struct q_tab *t, const uint8_t *key, unsigned len, uint64_t a, uint64_t b,
		       uint64_t c)
{
	uint8_t w[264] = { 0 };
	if (len > 256)
		return -EINVAL;
	memcpy(w, key, len);
	return q_tab_add(t, w, q_key_hashw(w, t->kw), a, b, c);
}

/* Entry index of key, or -1. */
static int64_t tab_find(const struct q_tab *t, const uint8_t *key, unsigned len)
{
	uint8_t w[264] = { 0 };
	if (len > 256)
		return -1;
	memcpy(w, key, len);
	bool found;
	uint64_t h = q_tab_probe(t, w, q_key_hashw(w, t->kw), t->kw, &found);
	return found ? (int64_t)h : -1;
}

int q_tab_add_key(struct q_tab *t, const uint8_t *key, uint64_t a, uint64_t b, uint64_t c)
{
	return tab_add_any(t, key, t->keylen, a, b, c);
}

/* --------------------------------------------------------------- results */

struct q_result *q_result_new(const struct q_query *q)
{
	struct q_result *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->q = q;
	if (q->spec.kind != Q_LIST && q_tab_init(&r->tab, q->keylen, q->spec.max_groups)) {
		free(r);
		errno = ENOMEM;
		return NULL;
	}
	return r;
}

void q_result_free(struct q_result *r)
{
	if (!r)
		return;
	q_tab_fini(&r->tab);
	free(r->rows);
	for (unsigned i = 0; i < r->nmore; i++)
		free(r->more[i].rows);
	free(r->more);
	free(r->ord);
	free(r->out);
	free(r->out_mem);
	free(r);
}

void q_result_stats(const struct q_result *r, struct q_stats *out)
{
	*out = r->st;
	out->groups = r->q->spec.kind == Q_LIST ? q_list_count(r) : r->tab.n;
}

/* --------------------------------------------------------------- listing */

static int addr_field(enum q_field f)
{
	return q_fdefs[f].type == QF_ADDR || q_fdefs[f].type == QF_NET;
}

/* A numeric order field's value as an ascending key (q_list_cmp's first
 * comparison: scaled, complemented when descending, so that ascending
 * keys are the listing's order). */
static inline uint64_t list_key_of(const struct q_query *q, const struct flow_rec *x)
{
	enum q_field f = q->spec.order;
	uint64_t v = q_rec_num(x, f);
	if (q->spec.scale && (f == Q_F_PACKETS || f == Q_F_BYTES))
		v *= x->sampling > 1 ? x->sampling : 1;
	return q->spec.desc ? ~v : v;
}

int q_list_cmp(const struct q_query *q, const struct flow_rec *a, const struct flow_rec *b)
{
	enum q_field f = q->spec.order;
	int c;
	if (addr_field(f)) {
		c = memcmp((const uint8_t *)a + q_fdefs[f].off, (const uint8_t *)b + q_fdefs[f].off, 16);
		if (q->spec.desc)
			c = -c;
	} else {
		uint64_t x = list_key_of(q, a), y = list_key_of(q, b);
		c = x < y ? -1 : x > y;
	}
	if (c)
		return c;
	return memcmp(a, b, sizeof(*a));
}

static void sift_down(struct q_result *r, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, w = i;
		if (l < r->nrows && q_list_cmp(r->q, &r->rows[l], &r->rows[w]) > 0)
			w = l;
		if (l + 1 < r->nrows && q_list_cmp(r->q, &r->rows[l + 1], &r->rows[w]) > 0)
			w = l + 1;
		if (w == i)
			return;
		struct flow_rec t = r->rows[i];
		r->rows[i] = r->rows[w];
		r->rows[w] = t;
		i = w;
	}
}

static void heapify(struct q_result *r)
{
	for (size_t i = r->nrows / 2; i-- > 0;)
		sift_down(r, i);
}

/* A sorted listing made plain again: its rows, in order, copied into one
 * array (a heap again when that holds `limit` rows). */
static int list_flatten(struct q_result *r)
{
	if (!r->ord)
		return 0;
	size_t n = r->nord;
	struct flow_rec *p = malloc((n ? n : 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		p[i] = *r->ord[i].p;
	free(r->rows);
	for (unsigned i = 0; i < r->nmore; i++)
		free(r->more[i].rows);
	free(r->more);
	free(r->ord);
	r->more = NULL;
	r->nmore = 0;
	r->ord = NULL;
	r->nord = 0;
	r->rows = p;
	r->nrows = r->cap = n;
	if (n && n == r->q->spec.limit)
		heapify(r);
	return 0;
}

/* Fresh memory about to be written through: its pages in one call rather
 * than a fault each, a third cheaper; small ranges are left to fault
 * (kernels before 5.14 say EINVAL: faults, as before). */
static void q_populate(void *p, size_t len)
{
	if (p && len >= (64u << 10))
		(void)mem_populate(p, len);
}

/* Room for n more rows at the end (growing by doubling, capped at the
 * limit), zeroed when asked: a caller that fills only the columns it
 * carries needs the rest zero. */
struct flow_rec *q_list_reserve(struct q_result *r, size_t n, bool zero)
{
	if (r->ord && list_flatten(r))
		return NULL;
	size_t limit = r->q->spec.limit, need = r->nrows + n;
	if (need > limit)
		return NULL;
	if (need > r->cap) {
		size_t nc = r->cap ? r->cap * 2 : 64;
		while (nc < need)
			nc *= 2;
		if (nc > limit)
			nc = limit;
		struct flow_rec *p = realloc(r->rows, nc * sizeof(*p));
		if (!p)
			return NULL;
		r->rows = p;
		r->cap = nc;
	}
	uint8_t *a = (uint8_t *)&r->rows[r->nrows];
	size_t len = n * sizeof(*r->rows);
	q_populate(a, len);
	if (zero)
		memset(a, 0, len);
	return &r->rows[r->nrows];
}

void q_list_commit(struct q_result *r, size_t n)
{
	r->nrows += n;
	if (n && r->nrows == r->q->spec.limit)
		heapify(r);
}

/* Rows are appended unordered until `limit` are held; only then do they
 * become a max-heap on the listing order (rows[0] is the worst row kept,
 * the one a better newcomer replaces). A listing that never fills its
 * limit thus costs one sort at the end, no heap work per row. */
int q_list_offer(struct q_result *r, const struct flow_rec *rec)
{
	int rc = list_flatten(r);
	if (rc)
		return rc;
	if (r->nrows < r->q->spec.limit) {
		struct flow_rec *d = q_list_reserve(r, 1, false);
		if (!d)
			return -ENOMEM;
		*d = *rec;
		q_list_commit(r, 1);
		return 0;
	}
	if (q_list_cmp(r->q, rec, &r->rows[0]) >= 0)
		return 0;
	r->rows[0] = *rec;
	sift_down(r, 0);
	return 0;
}

/* ----------------------------------------------------------------- merge */

static void stats_add(struct q_stats *d, const struct q_stats *s)
{
	d->segments += s->segments;
	d->blocks += s->blocks;
	d->blocks_skipped += s->blocks_skipped;
	d->blocks_corrupt += s->blocks_corrupt;
	d->rows_scanned += s->rows_scanned;
	d->rows_matched += s->rows_matched;
	d->ns += s->ns;
}

int q_result_merge(struct q_result *dst, const struct q_result *src, struct q_err *err)
{
	if (dst->final || src->final || strcmp(dst->q->sig, src->q->sig)) {
		if (err)
			snprintf(err->msg, sizeof(err->msg), "cannot merge results of different queries");
		return -EINVAL;
	}
	int rc = 0;
	if (dst->q->spec.kind == Q_LIST) {
		if ((rc = list_flatten(dst)))
			return rc;
		/* what fits below the limit is appended in one copy */
		size_t i = 0, room = dst->q->spec.limit - dst->nrows, n = q_list_count(src);
		if (room && n) {
			i = n < room ? n : room;
			struct flow_rec *d = q_list_reserve(dst, i, false);
			if (!d)
				return -ENOMEM;
			if (!src->ord)
				memcpy(d, src->rows, i * sizeof(*d));
			else
				for (size_t j = 0; j < i; j++)
					d[j] = *src->ord[j].p;
			q_list_commit(dst, i);
		}
		for (; i < n && !rc; i++)
			rc = q_list_offer(dst, q_list_row(src, i));
	} else {
		const struct q_tab *t = &src->tab;
		for (uint64_t i = 0; i < t->nslot && !rc; i++) {
			if (!q_tab_used(t, i))
				continue;
			const uint8_t *k = q_tab_key(t, i);
			const uint64_t *s = q_tab_sums(t, i);
			rc = q_tab_add(&dst->tab, k, q_key_hashw(k, t->kw), s[0], s[1], s[2]);
		}
		if (rc == -E2BIG && err)
			snprintf(err->msg, sizeof(err->msg), "more than %llu groups after merging",
				 (unsigned long long)dst->q->spec.max_groups);
	}
	stats_add(&dst->st, &src->st);
	return rc;
}

/* ---------------------------------------------------------------- finish */

/* pseudo columns */
enum { CK_FIELD = 0, CK_FLOWS, CK_PACKETS, CK_BYTES, CK_TIME };

static const uint8_t list_cols[] = { Q_F_FIRST, Q_F_LAST, Q_F_DURATION, Q_F_PROTO, Q_F_SRCIP,
				     Q_F_SRCPORT, Q_F_DSTIP, Q_F_DSTPORT, Q_F_FLAGS, Q_F_TOS,
				     Q_F_PACKETS, Q_F_BYTES, Q_F_SRCAS, Q_F_DSTAS, Q_F_INIF,
				     Q_F_OUTIF, Q_F_EXPORTER, Q_F_SAMPLING };

static const struct q_result *sort_ctx;

static int cmp_list(const void *a, const void *b)
{
	return q_list_cmp(sort_ctx->q, a, b);
}

static int cmp_list_ord(const void *a, const void *b)
{
	return q_list_cmp(sort_ctx->q, ((const struct q_ord *)a)->p, ((const struct q_ord *)b)->p);
}

/* A listing row's order key (numeric order fields, ascending after
 * desc/scale are applied) and its row: sorting these 16-byte entries is
 * far cheaper than sorting 176-byte records. */
struct list_key {
	uint64_t k;
	uint64_t i;
};

static int cmp_list_key(const void *a, const void *b)
{
	const struct list_key *x = a, *y = b;
	if (x->k != y->k)
		return x->k < y->k ? -1 : 1;
	int c = q_list_cmp(sort_ctx->q, &sort_ctx->rows[x->i], &sort_ctx->rows[y->i]);
	return c ? c : (x->i > y->i) - (x->i < y->i);
}

static void sort_with(const struct q_result *r, void *base, size_t n, size_t sz,
		      int (*cmp)(const void *, const void *));

/* Stable LSD radix sort of n keys by k, 11 bits a pass over the bits in
 * which the keys differ (a listing's times span a few million ms: two
 * passes). tmp has room for n; returns the array holding the result. */
static struct list_key *radix_keys(struct list_key *a, struct list_key *tmp, size_t n)
{
	uint64_t lo = UINT64_MAX, hi = 0;
	for (size_t i = 0; i < n; i++) {
		lo = a[i].k < lo ? a[i].k : lo;
		hi = a[i].k > hi ? a[i].k : hi;
	}
	unsigned bits = hi > lo ? 64 - (unsigned)__builtin_clzll(hi - lo) : 0;
	for (unsigned sh = 0; sh < bits; sh += 11) {
		size_t pos[2048] = { 0 };
		for (size_t i = 0; i < n; i++)
			pos[((a[i].k - lo) >> sh) & 2047]++;
		for (size_t d = 0, sum = 0; d < 2048; d++) {
			size_t c = pos[d];
			pos[d] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			tmp[pos[((a[i].k - lo) >> sh) & 2047]++] = a[i];
		struct list_key *t = a;
		a = tmp;
		tmp = t;
	}
	return a;
}

/* The order of a plain listing's rows (q_list_cmp order) as pointers:
 * numeric order fields have their keys radix-sorted and only the runs of
 * equal keys compared as whole records; addresses are compared directly. */
static int sort_list(struct q_result *r)
{
	const struct q_spec *sp = &r->q->spec;
	enum q_field f = sp->order;
	size_t n = r->nrows;
	struct q_ord *ord = malloc((n ? n : 1) * sizeof(*ord));
	if (!ord)
		return -ENOMEM;
	if (n < 2 || addr_field(f)) {
		for (size_t i = 0; i < n; i++)
			ord[i] = (struct q_ord){ addr_field(f) ? 0 : list_key_of(r->q, &r->rows[i]), &r->rows[i] };
		sort_with(r, ord, n, sizeof(*ord), cmp_list_ord);
	} else {
		struct list_key *k = malloc(n * sizeof(*k)), *tmp = malloc(n * sizeof(*tmp));
		if (!k || !tmp) {
			free(k);
			free(tmp);
			free(ord);
			return -ENOMEM;
		}
		for (size_t i = 0; i < n; i++) {
			k[i].k = list_key_of(r->q, &r->rows[i]);
			k[i].i = i;
		}
		struct list_key *s = radix_keys(k, tmp, n);
		for (size_t i = 0, j; i < n; i = j) {
			for (j = i + 1; j < n && s[j].k == s[i].k; j++)
				;
			if (j - i > 1)
				sort_with(r, s + i, j - i, sizeof(*s), cmp_list_key);
		}
		for (size_t i = 0; i < n; i++)
			ord[i] = (struct q_ord){ s[i].k, &r->rows[s[i].i] };
		free(k);
		free(tmp);
	}
	r->ord = ord;
	r->nord = n;
	return 0;
}

int q_list_sort(struct q_result *r)
{
	return r->ord ? 0 : sort_list(r);
}

/* Two sorted runs into out (a first among equals): by their keys, and
 * whole records where those are equal (addresses: always). */
static void merge2(const struct q_query *q, const struct q_ord *a, size_t na, const struct q_ord *b,
		   size_t nb, struct q_ord *out)
{
	size_t i = 0, j = 0;
	/* without a branch on which run goes first (two threads' runs
	 * interleave at random: half of such branches were mispredicted);
	 * only equal keys, which are rare, branch to compare records */
	while (i < na && j < nb) {
		uint64_t ka = a[i].k, kb = b[j].k;
		bool bfirst = kb < ka;
		if (__builtin_expect(ka == kb, 0))
			bfirst = q_list_cmp(q, b[j].p, a[i].p) < 0;
		/* the pick as a mask: compilers turn a ?: here back into a branch */
		uintptr_t pa = (uintptr_t)(a + i), pb = (uintptr_t)(b + j);
		*out++ = *(const struct q_ord *)(pa ^ ((pa ^ pb) & (0 - (uintptr_t)bfirst)));
		j += bfirst;
		i += !bfirst;
	}
	while (i < na)
		*out++ = a[i++];
	while (j < nb)
		*out++ = b[j++];
}

struct merge_half {
	const struct q_query *q;
	const struct q_ord *a, *b;
	size_t na, nb;
	struct q_ord *out;
};

static void *merge_half_run(void *arg)
{
	struct merge_half *m = arg;
	merge2(m->q, m->a, m->na, m->b, m->nb, m->out);
	return NULL;
}

/* merge2 of two long runs on two threads: the first h = half outputs are
 * a[0..i) and b[0..h-i), i found by binary search on merge2's own rule
 * (b[j] goes first only when strictly before a[i]), so both halves
 * together are exactly merge2's output. */
static void merge2_par(const struct q_query *q, const struct q_ord *a, size_t na,
		       const struct q_ord *b, size_t nb, struct q_ord *out)
{
	size_t h = (na + nb) / 2, lo = h > nb ? h - nb : 0, hi = h < na ? h : na;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct q_ord *x = &b[h - mid - 1], *y = &a[mid];
		if (x->k < y->k || (x->k == y->k && q_list_cmp(q, x->p, y->p) < 0))
			hi = mid;
		else
			lo = mid + 1;
	}
	struct merge_half second = { q, a + lo, b + (h - lo), na - lo, nb - (h - lo), out + h };
	pthread_t t;
	bool threaded = !pthread_create(&t, NULL, merge_half_run, &second);
	merge2(q, a, lo, b, h - lo, out);
	if (threaded)
		pthread_join(t, NULL);
	else
		merge_half_run(&second);
}

/* The non-empty sorted runs run[0..nr) (len[k] each, total in all) as one
 * sorted array, malloc'ed; NULL on ENOMEM. Two (one store on two threads)
 * are merged straight from where they lie (long ones by two threads);
 * more in pairwise rounds over a copy of them all. */
static struct q_ord *merge_runs(const struct q_query *q, const struct q_ord **run, size_t *len,
				size_t nr, size_t total)
{
	struct q_ord *a = malloc((total ? total : 1) * sizeof(*a));
	q_populate(a, total * sizeof(*a));
	if (!a || nr <= 2) {
		if (a && nr == 2 && total >= (1u << 14))
			merge2_par(q, run[0], len[0], run[1], len[1], a);
		else if (a && nr == 2)
			merge2(q, run[0], len[0], run[1], len[1], a);
		else if (a && nr == 1)
			memcpy(a, run[0], len[0] * sizeof(*a));
		return a;
	}
	struct q_ord *b = malloc(total * sizeof(*b));
	size_t *bound = malloc((nr + 1) * sizeof(*bound));
	if (!b || !bound) {
		free(a);
		free(b);
		free(bound);
		return NULL;
	}
	bound[0] = 0;
	for (size_t k = 0; k < nr; k++) {
		memcpy(a + bound[k], run[k], len[k] * sizeof(*a));
		bound[k + 1] = bound[k] + len[k];
	}
	/* pairwise rounds: run 2k and 2k+1 into one */
	while (nr > 1) {
		size_t m = 0;
		for (size_t k = 0; k < nr; k += 2, m++) {
			size_t s0 = bound[k], s1 = bound[k + 1];
			size_t e1 = k + 1 < nr ? bound[k + 2] : s1;
			merge2(q, a + s0, s1 - s0, a + s1, e1 - s1, b + s0);
			bound[m] = s0;
		}
		bound[m] = total;
		nr = m;
		struct q_ord *t = a;
		a = b;
		b = t;
	}
	free(b);
	free(bound);
	return a;
}

int q_list_adopt(struct q_result *dst, struct q_result **parts, unsigned n)
{
	const struct q_query *q = dst->q;
	if (q_list_count(dst) && !dst->ord)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++)
		if (parts[i]->q->spec.kind != Q_LIST || (q_list_count(parts[i]) && !parts[i]->ord))
			return -EINVAL;
	/* the sorted runs, dst's own first */
	const struct q_ord **run = malloc((n + 1) * sizeof(*run));
	size_t *len = malloc((n + 1) * sizeof(*len)), nr = 0, total = 0, nmore = dst->nmore;
	struct q_rows *more = NULL;
	if (run && len) {
		if (dst->nord)
			run[nr] = dst->ord, len[nr++] = dst->nord;
		for (unsigned i = 0; i < n; i++) {
			if (parts[i]->nord)
				run[nr] = parts[i]->ord, len[nr++] = parts[i]->nord;
			nmore += 1 + parts[i]->nmore;
		}
		for (size_t k = 0; k < nr; k++)
			total += len[k];
		more = realloc(dst->more, (nmore ? nmore : 1) * sizeof(*more));
		if (more)
			dst->more = more;
	}
	struct q_ord *a = more ? merge_runs(q, run, len, nr, total) : NULL;
	free(run);
	free(len);
	if (!a)
		return -ENOMEM;
	/* the rows move into dst untouched; beyond the limit they are only
	 * unreachable */
	for (unsigned i = 0; i < n; i++) {
		struct q_result *p = parts[i];
		if (p->rows)
			dst->more[dst->nmore++] = (struct q_rows){ p->rows, p->nrows };
		for (unsigned j = 0; j < p->nmore; j++)
			dst->more[dst->nmore++] = p->more[j];
		free(p->more);
		free(p->ord);
		p->rows = NULL;
		p->nrows = p->cap = 0;
		p->more = NULL;
		p->nmore = 0;
		p->ord = NULL;
		p->nord = 0;
		stats_add(&dst->st, &p->st);
	}
	free(dst->ord);
	dst->ord = a;
	dst->nord = total < q->spec.limit ? total : q->spec.limit;
	return 0;
}

static int cmp_top(const void *a, const void *b)
{
	const uint8_t *x = *(const uint8_t *const *)a, *y = *(const uint8_t *const *)b;
	const struct q_result *r = sort_ctx;
	unsigned m = r->q->spec.by, so = r->tab.stride - 24;
	uint64_t vx, vy;
	memcpy(&vx, x + so + 8 * m, 8);
	memcpy(&vy, y + so + 8 * m, 8);
	if (vx != vy)
		return vx > vy ? -1 : 1;
	return memcmp(x, y, r->tab.keylen);
}

static int cmp_key(const void *a, const void *b)
{
	const uint8_t *x = *(const uint8_t *const *)a, *y = *(const uint8_t *const *)b;
	return memcmp(x, y, sort_ctx->tab.keylen);
}

static int cmp_rank(const void *a, const void *b)
{
	const uint8_t *x = *(const uint8_t *const *)a, *y = *(const uint8_t *const *)b;
	uint64_t rx, ry;
	memcpy(&rx, x + sort_ctx->out_stride - 8, 8);
	memcpy(&ry, y + sort_ctx->out_stride - 8, 8);
	return rx < ry ? -1 : rx > ry;
}

static void top_sift(uint8_t **h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, w = i;
		if (l < n && cmp_top(&h[l], &h[w]) > 0)
			w = l;
		if (l + 1 < n && cmp_top(&h[l + 1], &h[w]) > 0)
			w = l + 1;
		if (w == i)
			return;
		uint8_t *t = h[i];
		h[i] = h[w];
		h[w] = t;
		i = w;
	}
}

/* The k best of n groups, in rank order, into ptr[0..k) (0 < k < n): a
 * heap of the best k seen, the worst of them on top, costs n log k
 * compares where sorting all n groups (a top-10 of 50 000 sources) costs
 * n log n. cmp_top is a total order, so the set is the one a sort keeps. */
static void select_top(const struct q_result *r, uint8_t **ptr, size_t n, size_t k);

/* qsort has no context argument in C11; finishing is rare and the context
 * is set and used under this lock only. */
static pthread_mutex_t sort_lock = PTHREAD_MUTEX_INITIALIZER;

static void sort_with(const struct q_result *r, void *base, size_t n, size_t sz,
		      int (*cmp)(const void *, const void *))
{
	if (!n)
		return; /* base may be NULL then, which qsort does not allow */
	pthread_mutex_lock(&sort_lock);
	sort_ctx = r;
	qsort(base, n, sz, cmp);
	pthread_mutex_unlock(&sort_lock);
}

static void select_top(const struct q_result *r, uint8_t **ptr, size_t n, size_t k)
{
	pthread_mutex_lock(&sort_lock);
	sort_ctx = r;
	for (size_t i = k / 2; i-- > 0;)
		top_sift(ptr, k, i);
	for (size_t i = k; i < n; i++) {
		if (cmp_top(&ptr[i], &ptr[0]) < 0) {
			ptr[0] = ptr[i];
			top_sift(ptr, k, 0);
		}
	}
	pthread_mutex_unlock(&sort_lock);
	sort_with(r, ptr, k, sizeof(*ptr), cmp_top);
}

/* Series split by a field: keep the top-N keys by total over the range and
 * sum the rest per interval into an "other" row. */
static int finish_split(struct q_result *r, uint8_t **ptr, size_t n)
{
	const struct q_spec *sp = &r->q->spec;
	unsigned klen = r->tab.keylen, fk = klen - 8;
	struct q_tab tot;
	int rc = q_tab_init(&tot, fk, UINT64_MAX);
	for (size_t i = 0; i < n && !rc; i++) {
		const uint64_t *s = (const uint64_t *)(ptr[i] + r->tab.stride - 24);
		rc = tab_add_any(&tot, ptr[i] + 8, fk, s[0], s[1], s[2]);
	}
	uint8_t **tp = rc ? NULL : malloc((tot.n ? tot.n : 1) * sizeof(*tp));
	if (!tp) {
		q_tab_fini(&tot);
		return -ENOMEM;
	}
	for (uint64_t i = 0, k = 0; i < tot.nslot; i++)
		if (q_tab_used(&tot, i))
			tp[k++] = q_tab_key(&tot, i);
	/* rank keys by total (metric desc, key asc) with a temporary context */
	struct q_result tmp = { .q = r->q, .tab = tot };
	sort_with(&tmp, tp, tot.n, sizeof(*tp), cmp_top);
	uint64_t keep = sp->top && sp->top < tot.n ? sp->top : tot.n;
	/* rank lookup: a table from key to rank */
	struct q_tab rank;
	rc = q_tab_init(&rank, fk, UINT64_MAX);
	for (uint64_t i = 0; i < keep && !rc; i++)
		rc = tab_add_any(&rank, tp[i], fk, i + 1, 0, 0); /* rank + 1: flows 0 = empty */
	/* output: per bucket, the kept keys in rank order, then other */
	size_t ostride = r->out_stride;
	size_t cap = n + (n ? n : 1); /* at most one "other" per row */
	r->out_mem = rc ? NULL : calloc(cap, ostride);
	r->out = rc ? NULL : calloc(cap, sizeof(*r->out));
	if (!r->out_mem || !r->out) {
		rc = -ENOMEM;
		goto done;
	}
	sort_with(r, ptr, n, sizeof(*ptr), cmp_key); /* by bucket, then key */
	size_t o = 0, nb = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		uint8_t *other = NULL;
		size_t first_out = o;
		while (j < n && !memcmp(ptr[j], ptr[i], 8)) {
			const uint64_t *s = (const uint64_t *)(ptr[j] + r->tab.stride - 24);
			int64_t ri = tab_find(&rank, ptr[j] + 8, fk);
			bool kept = ri >= 0;
			uint64_t rk = kept ? q_tab_sums(&rank, (uint64_t)ri)[0] - 1 : 0;
			uint8_t *row;
			if (kept) {
				row = r->out_mem + o * ostride;
				memcpy(row, ptr[j], klen);
				memcpy(row + ostride - 32, s, 24);
				memcpy(row + ostride - 8, &rk, 8);
				r->out[o++] = row;
			} else {
				if (!other) {
					/* rows n.. hold the "other" rows, one per bucket */
					other = r->out_mem + (n + nb++) * ostride;
					memset(other, 0, ostride);
					memcpy(other, ptr[i], 8);
					uint64_t big = UINT64_MAX;
					memcpy(other + ostride - 8, &big, 8);
				}
				uint64_t *os = (uint64_t *)(other + ostride - 32);
				os[0] += s[0], os[1] += s[1], os[2] += s[2];
			}
			j++;
		}
		/* kept rows of this bucket in rank order */
		sort_with(r, r->out + first_out, o - first_out, sizeof(*r->out), cmp_rank);
		if (other)
			r->out[o++] = other;
		i = j;
	}
	r->nout = o;
done:
	q_tab_fini(&rank);
	q_tab_fini(&tot);
	free(tp);
	return rc;
}

int q_result_finish(struct q_result *r)
{
	if (r->final)
		return 0;
	const struct q_spec *sp = &r->q->spec;
	unsigned nc = 0;
	if (sp->kind == Q_LIST) {
		/* without memory for the order: the records are sorted in place */
		if (q_list_sort(r))
			sort_with(r, r->rows, r->nrows, sizeof(*r->rows), cmp_list);
		for (unsigned i = 0; i < sizeof(list_cols); i++) {
			if (sp->list_fields && !(sp->list_fields & (1u << list_cols[i])))
				continue;
			r->col_kind[nc] = CK_FIELD;
			r->col_f[nc++] = list_cols[i];
		}
		r->nout = q_list_count(r);
		r->ncols = nc;
		r->final = true;
		return 0;
	}
	if (sp->kind == Q_SERIES) {
		r->col_kind[nc++] = CK_TIME;
	}
	for (unsigned g = 0; g < sp->ngroup; g++) {
		r->col_kind[nc] = CK_FIELD;
		r->col_f[nc++] = (uint8_t)sp->group[g].f;
		snprintf(r->names[g], sizeof(r->names[g]), "%s/%u", q_fdefs[sp->group[g].f].name,
			 sp->group[g].plen);
	}
	r->col_kind[nc++] = CK_FLOWS;
	r->col_kind[nc++] = CK_PACKETS;
	r->col_kind[nc++] = CK_BYTES;
	r->ncols = nc;

	size_t n = r->tab.n;
	uint8_t **ptr = malloc((n ? n : 1) * sizeof(*ptr));
	if (!ptr)
		return -ENOMEM;
	for (uint64_t i = 0, k = 0; i < r->tab.nslot; i++)
		if (q_tab_used(&r->tab, i))
			ptr[k++] = q_tab_key(&r->tab, i);
	/* out row: key (stride - 24 bytes, padded), 3 sums, 8 bytes tag */
	r->out_stride = r->tab.stride + 8;
	int rc = 0;
	if (sp->kind == Q_SERIES && sp->ngroup) {
		rc = finish_split(r, ptr, n);
	} else {
		size_t keep = sp->kind == Q_AGG && sp->top && sp->top < n ? sp->top : n;
		if (sp->kind == Q_AGG && keep < n / 4)
			select_top(r, ptr, n, keep);
		else if (sp->kind == Q_AGG)
			sort_with(r, ptr, n, sizeof(*ptr), cmp_top);
		else
			sort_with(r, ptr, n, sizeof(*ptr), cmp_key);
		r->out_mem = calloc(keep ? keep : 1, r->out_stride);
		r->out = calloc(keep ? keep : 1, sizeof(*r->out));
		if (!r->out_mem || !r->out) {
			rc = -ENOMEM;
		} else {
			for (size_t i = 0; i < keep; i++) {
				uint8_t *row = r->out_mem + i * r->out_stride;
				memcpy(row, ptr[i], r->tab.stride);
				r->out[i] = row;
			}
			r->nout = keep;
		}
	}
	free(ptr);
	if (!rc)
		r->final = true;
	return rc;
}

/* ---------------------------------------------------------------- cells */

unsigned q_result_ncols(const struct q_result *r)
{
	return r->ncols;
}

size_t q_result_nrows(const struct q_result *r)
{
	return r->final ? r->nout : 0;
}

const char *q_result_col_name(const struct q_result *r, unsigned c)
{
	static const char *pseudo[] = { "", "flows", "packets", "bytes", "time" };
	if (c >= r->ncols)
		return NULL;
	if (r->col_kind[c] != CK_FIELD)
		return pseudo[r->col_kind[c]];
	enum q_field f = r->col_f[c];
	if (f == Q_F_SRCNET || f == Q_F_DSTNET) {
		const struct q_spec *sp = &r->q->spec;
		for (unsigned g = 0; g < sp->ngroup; g++)
			if (sp->group[g].f == f) {
				return r->names[g]; /* built by q_result_finish() */
			}
	}
	return q_fdefs[f].name;
}

enum q_ctype q_result_col_type(const struct q_result *r, unsigned c)
{
	if (c >= r->ncols)
		return Q_CT_TEXT;
	switch (r->col_kind[c]) {
	case CK_TIME: return Q_CT_TIME;
	case CK_FIELD:
		switch (q_fdefs[r->col_f[c]].type) {
		case QF_TIME: return Q_CT_TIME;
		case QF_ADDR:
		case QF_NET: return Q_CT_ADDR;
		default: return Q_CT_NUM;
		}
	default: return Q_CT_NUM;
	}
}

static bool is_other(const struct q_result *r, size_t row)
{
	if (r->q->spec.kind != Q_SERIES || !r->q->spec.ngroup)
		return false;
	uint64_t t;
	memcpy(&t, r->out[row] + r->out_stride - 8, 8);
	return t == UINT64_MAX;
}

/* key offset of column c (a field of an aggregation/series) */
static unsigned key_off(const struct q_result *r, unsigned c)
{
	unsigned off = r->q->spec.kind == Q_SERIES ? 8 : 0;
	unsigned first_field = r->q->spec.kind == Q_SERIES ? 1 : 0;
	for (unsigned k = first_field; k < c; k++)
		off += q_fdefs[r->col_f[k]].klen;
	return off;
}

static uint64_t load_be(const uint8_t *p, unsigned w)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < w; i++)
		v = v << 8 | p[i];
	return v;
}

uint64_t q_result_num(const struct q_result *r, size_t row, unsigned c)
{
	if (!r->final || row >= r->nout || c >= r->ncols)
		return 0;
	const struct q_spec *sp = &r->q->spec;
	if (sp->kind == Q_LIST) {
		const struct flow_rec *x = q_list_row(r, row);
		enum q_field f = r->col_f[c];
		uint64_t v = q_rec_num(x, f);
		if (sp->scale && (f == Q_F_PACKETS || f == Q_F_BYTES) && x->sampling > 1)
			v *= x->sampling;
		return v;
	}
	const uint8_t *k = r->out[row];
	uint64_t s[3];
	memcpy(s, k + r->out_stride - 32, 24);
	switch (r->col_kind[c]) {
	case CK_FLOWS: return s[0];
	case CK_PACKETS: return s[1];
	case CK_BYTES: return s[2];
	case CK_TIME: return load_be(k, 8);
	default: {
		const struct q_fdef *d = &q_fdefs[r->col_f[c]];
		if (d->type == QF_ADDR || d->type == QF_NET)
			return 0;
		return load_be(k + key_off(r, c), d->klen);
	}
	}
}

/* s (n bytes) into buf as a string, cut to len - 1 like snprintf */
static const char *put_cut(char *buf, size_t len, const char *s, size_t n)
{
	if (n >= len)
		n = len ? len - 1 : 0;
	memcpy(buf, s, n);
	if (len)
		buf[n] = 0;
	return buf;
}

/* The cell writers below put text at o (room for Q_CELL_TEXT bytes, no
 * NUL) and return its length: the table printer's per-row path and, cut
 * to the caller's buffer, q_result_cell's. Some store whole words or
 * vectors that reach past the text (cheaper than exact lengths): the room
 * covers that, and whatever comes next overwrites it. The *_back writers
 * (numbers, right-aligned in a table) put the text so that it ends at e
 * and return its start; they may store up to 8 bytes past e. */
#define Q_CELL_TEXT 64

/* tables built by the preprocessor: F(0) .. F(255), or F(0) .. F(99) */
#define REP4(F, x) F(x), F((x) + 1), F((x) + 2), F((x) + 3)
#define REP16(F, x) REP4(F, x), REP4(F, (x) + 4), REP4(F, (x) + 8), REP4(F, (x) + 12)
#define REP64(F, x) REP16(F, x), REP16(F, (x) + 16), REP16(F, (x) + 32), REP16(F, (x) + 48)
#define REP256(F) REP64(F, 0), REP64(F, 64), REP64(F, 128), REP64(F, 192)
#define REP10(F, x) REP4(F, x), REP4(F, (x) + 4), F((x) + 8), F((x) + 9)
#define REP100(F)                                                                           \
	REP10(F, 0), REP10(F, 10), REP10(F, 20), REP10(F, 30), REP10(F, 40), REP10(F, 50), \
		REP10(F, 60), REP10(F, 70), REP10(F, 80), REP10(F, 90)

/* "00" .. "99": decimals two digits a step */
#define DIG2(x) (char)('0' + (x) / 10), (char)('0' + (x) % 10)
static const char dig2[200] = { REP100(DIG2) };

/* the eight TCP flag bits, "...AP.SF" (nfdump prints six; all eight kept) */
#define FLAGS(x)                                                                     \
	{ (x) & 0x80 ? 'C' : '.', (x) & 0x40 ? 'E' : '.', (x) & 0x20 ? 'U' : '.',     \
	  (x) & 0x10 ? 'A' : '.', (x) & 0x08 ? 'P' : '.', (x) & 0x04 ? 'R' : '.',     \
	  (x) & 0x02 ? 'S' : '.', (x) & 0x01 ? 'F' : '.' }
static const char flags_text[256][8] = { REP256(FLAGS) };

/* names (and their lengths) of the protocols shown by name */
static const struct {
	char s[7];
	uint8_t n;
} proto_names[256] = {
	[1] = { "ICMP", 4 }, [6] = { "TCP", 3 },   [17] = { "UDP", 3 },   [47] = { "GRE", 3 },
	[50] = { "ESP", 3 }, [58] = { "ICMP6", 5 }, [132] = { "SCTP", 4 },
};

static const char *proto_name(uint64_t p)
{
	return p < 256 && proto_names[p].n ? proto_names[p].s : NULL;
}

/* v in decimal, ending at e */
static inline char *u64_back(uint64_t v, char *e)
{
	while (v >= 100) {
		e -= 2;
		memcpy(e, dig2 + v % 100 * 2, 2);
		v /= 100;
	}
	if (v >= 10) {
		e -= 2;
		memcpy(e, dig2 + v * 2, 2);
	} else {
		*--e = (char)('0' + v);
	}
	return e;
}

/* v in decimal */
static size_t u64_text(uint64_t v, char *o)
{
	unsigned n = q_dec_len(v);
	u64_back(v, o + n);
	return n;
}

/* ".mmm" at o: 4 bytes */
static inline void ms_text(unsigned ms, char *o)
{
	o[0] = '.';
	o[1] = (char)('0' + ms / 100);
	memcpy(o + 2, dig2 + ms % 100 * 2, 2);
}

/* "YYYY-MM-DD HH:MM:SS.mmm" (UTC). Listings print rows in time order, so
 * the text up to the minute is made once a minute (per thread) and copied
 * as one 32-byte block; only "SS.mmm" is made for each row. */
static size_t time_text(uint64_t ms, char *o)
{
	static __thread uint64_t last_min = UINT64_MAX;
	static __thread char last[32];
	static __thread size_t last_n;
	uint64_t sec = ms / 1000, min = sec / 60;
	if (min != last_min) {
		time_t s = (time_t)(min * 60);
		struct tm tm;
		/* room as the whole text had in 32 bytes */
		if (!gmtime_r(&s, &tm) ||
		    !(last_n = strftime(last, sizeof(last) - 2, "%Y-%m-%d %H:%M:", &tm))) {
			last_min = UINT64_MAX;
			return u64_text(ms, o);
		}
		last_min = min;
	}
	memcpy(o, last, sizeof(last));
	memcpy(o + last_n, dig2 + sec % 60 * 2, 2);
	ms_text((unsigned)(ms % 1000), o + last_n + 2);
	return last_n + 6;
}

/* "S.mmm" */
static inline char *dur_back(uint64_t v, char *e)
{
	ms_text((unsigned)(v % 1000), e - 4);
	return u64_back(v / 1000, e - 4);
}

/* a.b.c.d from the octets' texts; up to 3 bytes more */
/* Numeric value of field f of a listing's record: the fields a table
 * shows read directly, the rest through q_rec_num. */
static inline uint64_t list_num(const struct flow_rec *x, enum q_field f)
{
	switch (f) {
	case Q_F_FIRST: return x->first_ms;
	case Q_F_LAST: return x->last_ms;
	case Q_F_DURATION: return x->last_ms >= x->first_ms ? x->last_ms - x->first_ms : 0;
	case Q_F_SRCPORT: return x->src_port;
	case Q_F_DSTPORT: return x->dst_port;
	case Q_F_PROTO: return x->proto;
	case Q_F_FLAGS: return x->tcp_flags;
	case Q_F_PACKETS: return x->packets;
	case Q_F_BYTES: return x->bytes;
	default: return q_rec_num(x, f);
	}
}

/* How a listing's column is made, chosen once per column rather than per
 * cell. Times and addresses are left-aligned in a table, numbers (from
 * LK_DUR on) right-aligned, as q_result_col_type has them. */
enum { LK_TIME, LK_ADDR, LK_DUR, LK_PROTO, LK_FLAGS, LK_HUMAN, LK_NUM };

static unsigned list_kind(enum q_field f)
{
	switch (q_fdefs[f].type) {
	case QF_TIME: return LK_TIME;
	case QF_ADDR: return LK_ADDR;
	default: break;
	}
	switch (f) {
	case Q_F_DURATION: return LK_DUR;
	case Q_F_PROTO: return LK_PROTO;
	case Q_F_FLAGS: return LK_FLAGS;
	case Q_F_PACKETS:
	case Q_F_BYTES: return LK_HUMAN;
	default: return LK_NUM;
	}
}

static inline uint64_t list_human_num(const struct q_result *r, const struct flow_rec *x,
				      enum q_field f)
{
	uint64_t v = f == Q_F_PACKETS ? x->packets : x->bytes;
	if (r->q->spec.scale && x->sampling > 1)
		v *= x->sampling;
	return v;
}

/* A listing's numeric cell (kind LK_DUR on) in human form, ending at e. */
static inline char *list_back(const struct q_result *r, const struct flow_rec *x, unsigned kind,
			      enum q_field f, char *e)
{
	switch (kind) {
	case LK_DUR: return dur_back(list_num(x, Q_F_DURATION), e);
	case LK_PROTO:
		if (proto_name(x->proto)) {
			/* the whole entry: past e, its length byte and NULs */
			unsigned n = proto_names[x->proto].n;
			memcpy(e - n, &proto_names[x->proto], 8);
			return e - n;
		}
		return u64_back(x->proto, e);
	case LK_FLAGS: memcpy(e - 8, flags_text[x->tcp_flags], 8); return e - 8;
	case LK_HUMAN: return q_human_back(list_human_num(r, x, f), e);
	default: return u64_back(list_num(x, f), e);
	}
}

/* A listing's cell of a time or an address (kind < LK_DUR) at o. */
static inline size_t list_fwd(const struct flow_rec *x, unsigned kind, enum q_field f, char *o)
{
	if (kind == LK_TIME)
		return time_text(f == Q_F_FIRST ? x->first_ms : x->last_ms, o);
	return addr_text((const uint8_t *)x + q_fdefs[f].off, o);
}

/* A listing's cell in human form. */
static size_t list_text(const struct q_result *r, const struct flow_rec *x, enum q_field f,
			char *o)
{
	unsigned kind = list_kind(f);
	if (kind < LK_DUR)
		return list_fwd(x, kind, f, o);
	/* numbers: at most 21 bytes, and 8 past e */
	char t[48], *e = t + 32, *p = list_back(r, x, kind, f, e);
	memcpy(o, p, (size_t)(e - p));
	return (size_t)(e - p);
}

/* Length of a listing's cell in human form, without its text where that is
 * cheap (list_text's text has exactly this length). */
static inline size_t list_len(const struct q_result *r, const struct flow_rec *x, unsigned kind,
			      enum q_field f)
{
	char t[Q_CELL_TEXT];
	switch (kind) {
	case LK_TIME: {
		uint64_t v = f == Q_F_FIRST ? x->first_ms : x->last_ms;
		/* "YYYY-MM-DD HH:MM:SS.mmm" up to the year 9999 */
		return v < 253402300800000ull ? 23 : time_text(v, t);
	}
	case LK_ADDR: return addr_text_len((const uint8_t *)x + q_fdefs[f].off);
	case LK_DUR: return q_dec_len(list_num(x, Q_F_DURATION) / 1000) + 4;
	case LK_PROTO: return proto_name(x->proto) ? proto_names[x->proto].n : q_dec_len(x->proto);
	case LK_FLAGS: return 8;
	case LK_HUMAN: return q_human_len(list_human_num(r, x, f));
	default: return q_dec_len(list_num(x, f));
	}
}

/* A listing table's shown columns, in order: field, kind and width. */
struct lcol {
	enum q_field f;
	unsigned kind;
	size_t w;
};

static unsigned shown_cols(const struct q_result *r, const bool *show, const size_t *w,
			  struct lcol *lc)
{
	unsigned n = 0;
	for (unsigned c = 0; c < r->ncols && c < 64; c++)
		if (show[c])
			lc[n++] = (struct lcol){ r->col_f[c], list_kind(r->col_f[c]), w[c] };
	return n;
}

/* Rows read in output order lie scattered in memory: fetch the record a
 * few rows ahead while this one is worked on, all the cache lines it
 * spans (four when it starts in the second half of one). Always inlined:
 * GCC takes a function that only prefetches for pure, and drops its calls. */
static inline __attribute__((always_inline)) void list_prefetch(const struct q_result *r,
								size_t row)
{
	if (row + 8 < r->nout) {
		const char *ahead = (const char *)q_list_row(r, row + 8);
		__builtin_prefetch(ahead);
		__builtin_prefetch(ahead + 64);
		__builtin_prefetch(ahead + 128);
		__builtin_prefetch(ahead + sizeof(struct flow_rec) - 1);
	}
}

/* One row's part of the widest cells of a listing's shown columns. A
 * time's, a duration's and a plain number's text grows no shorter with
 * the value: of them only the largest value is kept (vmax), and of the
 * protocols, which occur (protos). */
static inline void row_widths(const struct q_result *r, const struct flow_rec *x, struct lcol *lc,
			      unsigned n, uint64_t *vmax, uint64_t *protos)
{
	for (unsigned k = 0; k < n; k++) {
		uint64_t v;
		switch (lc[k].kind) {
		case LK_TIME: v = lc[k].f == Q_F_FIRST ? x->first_ms : x->last_ms; break;
		case LK_DUR: v = list_num(x, Q_F_DURATION); break;
		case LK_NUM: v = list_num(x, lc[k].f); break;
		case LK_FLAGS: continue;
		case LK_PROTO: protos[x->proto >> 6] |= 1ull << (x->proto & 63); continue;
		default: {
			size_t l = list_len(r, x, lc[k].kind, lc[k].f);
			lc[k].w = l > lc[k].w ? l : lc[k].w;
			continue;
		}
		}
		vmax[k] = v > vmax[k] ? v : vmax[k];
	}
}

void q_result_widths(const struct q_result *r, const bool *show, size_t from, size_t to,
		     size_t *w)
{
	if (to > r->nout)
		to = r->nout;
	if (r->final && r->q->spec.kind == Q_LIST) {
		if (from >= to)
			return;
		struct lcol lc[64];
		unsigned n = shown_cols(r, show, w, lc);
		uint64_t vmax[64] = { 0 }, protos[4] = { 0 };
		/* any order gives the same maxima: the records as they lie
		 * (rows from..to of the arrays one after the other), unless a
		 * cut at the limit left rows there that are not listed */
		const struct flow_rec *rows;
		size_t m, total = 0;
		for (unsigned a = 0; q_list_array(r, a, &rows, &m); a++)
			total += m;
		if (total != r->nout) {
			for (size_t i = from; i < to; i++) {
				list_prefetch(r, i);
				row_widths(r, q_list_row(r, i), lc, n, vmax, protos);
			}
		} else {
			size_t base = 0;
			for (unsigned a = 0; base < to && q_list_array(r, a, &rows, &m); a++, base += m)
				for (size_t i = from > base ? from - base : 0; i < m && base + i < to; i++)
					row_widths(r, &rows[i], lc, n, vmax, protos);
		}
		char t[Q_CELL_TEXT];
		for (unsigned k = 0; k < n; k++) {
			size_t l = 0;
			switch (lc[k].kind) {
			case LK_TIME: l = vmax[k] < 253402300800000ull ? 23 : time_text(vmax[k], t); break;
			case LK_DUR: l = q_dec_len(vmax[k] / 1000) + 4; break;
			case LK_NUM: l = q_dec_len(vmax[k]); break;
			case LK_FLAGS: l = 8; break;
			case LK_PROTO:
				for (unsigned p = 0; p < 256; p++)
					if (protos[p >> 6] >> (p & 63) & 1) {
						size_t pl = proto_name(p) ? proto_names[p].n : q_dec_len(p);
						l = pl > l ? pl : l;
					}
				break;
			default: break;
			}
			lc[k].w = l > lc[k].w ? l : lc[k].w;
		}
		for (unsigned c = 0, k = 0; c < r->ncols && c < 64; c++)
			if (show[c])
				w[c] = lc[k++].w;
		return;
	}
	char buf[Q_CELL_MAX];
	for (size_t i = from; i < to; i++)
		for (unsigned c = 0; c < r->ncols; c++) {
			if (!show[c])
				continue;
			size_t l = strlen(q_result_cell(r, i, c, true, buf, sizeof(buf)));
			w[c] = l > w[c] ? l : w[c];
		}
}

size_t q_result_row_text(const struct q_result *r, size_t row, const bool *show, char *out,
			 uint8_t *lens)
{
	size_t n = 0;
	unsigned k = 0;
	if (r->final && r->q->spec.kind == Q_LIST && row < r->nout) {
		const struct flow_rec *x = q_list_row(r, row);
		list_prefetch(r, row);
		for (unsigned c = 0; c < r->ncols; c++) {
			if (!show[c])
				continue;
			size_t l = list_text(r, x, r->col_f[c], out + n);
			lens[k++] = (uint8_t)l;
			n += l;
		}
		return n;
	}
	char buf[Q_CELL_MAX];
	for (unsigned c = 0; c < r->ncols; c++) {
		if (!show[c])
			continue;
		size_t l = strlen(q_result_cell(r, row, c, true, buf, sizeof(buf)));
		memcpy(out + n, buf, l);
		lens[k++] = (uint8_t)l;
		n += l;
	}
	return n;
}

/* n blanks at o, 32 at a time: up to 31 more */
static inline void blanks(char *o, size_t n)
{
	static const char sp[32] = "                                ";
	for (size_t k = 0; k < n; k += 32)
		memcpy(o + k, sp, 32);
}

/* Each cell's stores run on from where the one before ended (its right
 * edge, then the two blanks between): a cell's blanks are stored before a
 * right-aligned text and after a left-aligned one, and what any store
 * leaves past its cell the next cell's stores overwrite. The last cell
 * gets no trailing blanks. */

/* a listing's row (n > 0 shown columns) */
static char *list_line(const struct q_result *r, const struct flow_rec *x, const struct lcol *lc,
		       unsigned n, char *o)
{
	char *end = o;
	for (unsigned k = 0; k < n; k++) {
		if (k) {
			memcpy(o, "  ", 2);
			o += 2;
		}
		if (lc[k].kind >= LK_DUR) {
			blanks(o, lc[k].w);
			o += lc[k].w;
			list_back(r, x, lc[k].kind, lc[k].f, o);
			end = o;
			continue;
		}
		size_t l = list_fwd(x, lc[k].kind, lc[k].f, o);
		end = o + l;
		if (k + 1 < n && l < lc[k].w)
			blanks(end, lc[k].w - l);
		o += lc[k].w;
	}
	*end = '\n';
	return end + 1;
}

/* any other row, from its cells' text (exact stores: no slack needed) */
static char *cell_line(const struct q_result *r, size_t row, const bool *show, const size_t *w,
		       char *o)
{
	char *end = o, buf[Q_CELL_MAX];
	bool first = true;
	for (unsigned c = 0; c < r->ncols && c < 64; c++) {
		if (!show[c])
			continue;
		if (!first) {
			memcpy(o, "  ", 2);
			o += 2;
		}
		first = false;
		size_t l = strlen(q_result_cell(r, row, c, true, buf, sizeof(buf)));
		size_t pad = w[c] > l ? w[c] - l : 0;
		if (q_result_col_type(r, c) == Q_CT_NUM) {
			memset(o, ' ', pad);
			memcpy(o + pad, buf, l);
			o += pad + l;
			end = o;
		} else {
			memcpy(o, buf, l);
			end = o + l;
			memset(end, ' ', pad);
			o = end + pad;
		}
	}
	*end = '\n';
	return end + 1;
}

char *q_result_lines(const struct q_result *r, size_t from, size_t to, const bool *show,
		     const size_t *w, char *o)
{
	if (to > r->nout)
		to = r->nout;
	if (r->final && r->q->spec.kind == Q_LIST) {
		struct lcol lc[64];
		unsigned n = shown_cols(r, show, w, lc);
		for (size_t i = from; i < to; i++) {
			list_prefetch(r, i);
			if (n)
				o = list_line(r, q_list_row(r, i), lc, n, o);
			else
				*o++ = '\n';
		}
		return o;
	}
	for (size_t i = from; i < to; i++)
		o = cell_line(r, i, show, w, o);
	return o;
}

const char *q_result_cell(const struct q_result *r, size_t row, unsigned c, bool human, char *buf,
			  size_t len)
{
	char t[Q_CELL_TEXT];
	buf[0] = 0;
	if (!r->final || row >= r->nout || c >= r->ncols)
		return buf;
	const struct q_spec *sp = &r->q->spec;
	enum q_field f = r->col_f[c];
	if (r->col_kind[c] == CK_FIELD) {
		const struct q_fdef *d = &q_fdefs[f];
		if (sp->kind == Q_LIST && (human || d->type == QF_ADDR))
			return put_cut(buf, len, t, list_text(r, q_list_row(r, row), f, t));
		if (sp->kind != Q_LIST && is_other(r, row))
			return snprintf(buf, len, "other"), buf;
		if (d->type == QF_ADDR || d->type == QF_NET) {
			const uint8_t *addr = r->out[row] + key_off(r, c);
			size_t n = addr_text(addr, t);
			if (d->type == QF_NET) {
				unsigned pl = 0;
				for (unsigned g = 0; g < sp->ngroup; g++)
					if (sp->group[g].f == f)
						pl = sp->group[g].plen;
				if (addr_is_v4(addr) && pl > 32)
					pl = 32;
				return snprintf(buf, len, "%.*s/%u", (int)n, t, pl), buf;
			}
			return put_cut(buf, len, t, n);
		}
	}
	uint64_t v = q_result_num(r, row, c);
	if (human && q_result_col_type(r, c) == Q_CT_TIME)
		return put_cut(buf, len, t, time_text(v, t));
	if (human && r->col_kind[c] == CK_FIELD) {
		switch (f) {
		case Q_F_PROTO:
			if (proto_name(v))
				return put_cut(buf, len, proto_names[v].s, proto_names[v].n);
			break;
		case Q_F_FLAGS: return put_cut(buf, len, flags_text[v & 0xff], 8);
		case Q_F_DURATION: {
			char *e = t + 32, *p = dur_back(v, e);
			return put_cut(buf, len, p, (size_t)(e - p));
		}
		case Q_F_PACKETS:
		case Q_F_BYTES: return q_fmt_human(v, buf, len);
		default: break;
		}
	}
	if (human && r->col_kind[c] != CK_FIELD && r->col_kind[c] != CK_TIME)
		return q_fmt_human(v, buf, len);
	return put_cut(buf, len, t, u64_text(v, t));
}
