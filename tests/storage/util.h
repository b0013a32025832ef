/* util.h — helpers shared by the storage tests: temp dirs, reading a whole
 * store back, comparing records field by field. */
#ifndef TESTS_STORAGE_UTIL_H
#define TESTS_STORAGE_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

struct recset {
	struct flow_rec *r;
	size_t n, cap;
	char *arena;
	size_t alen, acap;
};

static inline void recset_free(struct recset *s)
{
	free(s->r);
	free(s->arena);
	memset(s, 0, sizeof(*s));
}

static inline void recset_add(struct recset *s, const struct flow_rec *r, const char *arena)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 1024;
		s->r = realloc(s->r, s->cap * sizeof(*s->r));
	}
	struct flow_rec *o = &s->r[s->n++];
	*o = *r;
	for (int k = 0; k < FLOW_STR_MAX; k++) {
		if (!r->str_len[k])
			continue;
		if (s->alen + r->str_len[k] > s->acap) {
			s->acap = (s->acap + r->str_len[k]) * 2;
			s->arena = realloc(s->arena, s->acap);
		}
		memcpy(s->arena + s->alen, arena + r->str_off[k], r->str_len[k]);
		o->str_off[k] = (uint32_t)s->alen;
		s->alen += r->str_len[k];
	}
}

/* Every record of the store in storage order; returns corrupt blocks seen. */
static inline uint64_t recset_read(const char *dir, struct recset *s)
{
	struct st_reader *r = st_reader_open(dir, 0, UINT64_MAX);
	if (!r)
		return ~0ull;
	const struct st_block *b;
	static struct flow_rec recs[ST_BLOCK_ROWS_MAX];
	static char arena[1 << 24];
	while (st_reader_next(r, &b) == 1) {
		struct st_cols c;
		size_t al;
		if (st_reader_decode(r, b, ST_COLS_ALL, &c) || st_cols_to_recs(&c, recs, arena, sizeof(arena), &al))
			abort();
		for (uint32_t i = 0; i < c.n; i++)
			recset_add(s, &recs[i], arena);
	}
	struct st_reader_stats st;
	st_reader_stats(r, &st);
	st_reader_close(r);
	return st.blocks_corrupt;
}

/* Field-by-field equality; strings by content. Returns the first differing
 * field's name, or NULL. */
static inline const char *rec_diff(const struct flow_rec *a, const char *aa, const struct flow_rec *b,
				   const char *ba)
{
#define F(f)                     \
	if (a->f != b->f)        \
		return #f;
	F(first_ms) F(last_ms) F(packets) F(bytes) F(rev_packets) F(rev_bytes) F(odid) F(sampling)
	F(in_if) F(out_if) F(src_as) F(dst_as) F(src_port) F(dst_port) F(exp_port) F(vlan) F(proto)
	F(tcp_flags) F(tos) F(src_mask) F(dst_mask) F(direction) F(flags) F(version)
#undef F
	if (memcmp(a->src_addr, b->src_addr, 16))
		return "src_addr";
	if (memcmp(a->dst_addr, b->dst_addr, 16))
		return "dst_addr";
	if (memcmp(a->next_hop, b->next_hop, 16))
		return "next_hop";
	if (memcmp(a->exporter, b->exporter, 16))
		return "exporter";
	for (int k = 0; k < FLOW_STR_MAX; k++) {
		if (a->str_len[k] != b->str_len[k])
			return "str_len";
		if (a->str_len[k] && memcmp(aa + a->str_off[k], ba + b->str_off[k], a->str_len[k]))
			return "str";
	}
	return NULL;
}

static inline char *tmpdir_make(void)
{
	char *d = strdup("/tmp/fdstore-test-XXXXXX");
	if (!mkdtemp(d))
		abort();
	return d;
}

static inline void tmpdir_rm(char *d)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	if (system(cmd))
		(void)0;
	free(d);
}

#endif
