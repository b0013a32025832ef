/* collect.h — a decoder sink that keeps every record (strings copied into
 * one growing arena), for the cli tests that compare decode(x) with what
 * lib/gen says x carries. */
#ifndef TESTS_CLI_COLLECT_H
#define TESTS_CLI_COLLECT_H

#include <stdlib.h>
#include <string.h>

#include "flow/flow.h"

struct collect {
	struct flow_rec *r;
	size_t n, cap;
	char *arena;
	size_t alen, acap;
};

static inline void collect_sink(void *ctx, const struct flow_batch *b)
{
	struct collect *c = ctx;

	for (uint32_t i = 0; i < b->n; i++) {
		struct flow_rec r = b->recs[i];
		if (c->n == c->cap) {
			c->cap = c->cap ? c->cap * 2 : 1024;
			c->r = realloc(c->r, c->cap * sizeof(*c->r));
			if (!c->r)
				abort();
		}
		for (int s = 0; s < FLOW_STR_MAX; s++) {
			if (!r.str_len[s])
				continue;
			if (c->alen + r.str_len[s] > c->acap) {
				c->acap = (c->acap + r.str_len[s]) * 2;
				c->arena = realloc(c->arena, c->acap);
				if (!c->arena)
					abort();
			}
			memcpy(c->arena + c->alen, b->arena + r.str_off[s], r.str_len[s]);
			r.str_off[s] = (uint32_t)c->alen;
			c->alen += r.str_len[s];
		}
		c->r[c->n++] = r;
	}
}

static inline void collect_reset(struct collect *c)
{
	c->n = 0;
	c->alen = 0;
}

static inline void collect_free(struct collect *c)
{
	free(c->r);
	free(c->arena);
	memset(c, 0, sizeof(*c));
}

#endif
