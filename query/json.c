/* json.c — the serialisable form of a partial result (jansson).
 *
 *   {"flowdelta_partial": 1, "sig": "<query identity>", "kind": 0|1|2,
 *    "stats": {"segments": n, "blocks": n, ...},
 *    "rows":   [[col0, col1, ...], ...]          (listing: one array per record,
 *                                               columns in storage column order,
 *                                               addresses as 32 hex digits)
 *    "groups": [["<key hex>", flows, packets, bytes], ...]   (aggregation, series)}
 *
 * Counters are u64 carried in JSON integers (jansson's json_int_t is 64-bit):
 * values above 2^63 travel as their two's-complement bit pattern and come
 * back unchanged. A partial is only accepted back for a query with the same
 * identity string, so a merge can never mix two different questions.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query_int.h"

#define col_off q_col_off
static const uint8_t col_w[ST_COL_MAX] = {
#define W_N(N, n, w) [ST_COL_##N] = (w),
	ST_COL_LIST(W_N)
#undef W_N
};

static void to_hex(const uint8_t *p, unsigned n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	for (unsigned i = 0; i < n; i++) {
		out[2 * i] = hx[p[i] >> 4];
		out[2 * i + 1] = hx[p[i] & 15];
	}
	out[2 * n] = 0;
}

static int from_hex(const char *s, uint8_t *p, unsigned n)
{
	if (strlen(s) != 2 * (size_t)n)
		return -EINVAL;
	for (unsigned i = 0; i < 2 * n; i++) {
		int c = s[i], v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (v < 0)
			return -EINVAL;
		p[i / 2] = (uint8_t)(i & 1 ? p[i / 2] | v : v << 4);
	}
	return 0;
}

static uint64_t ld(const uint8_t *p, unsigned w)
{
	uint64_t v = 0;
	memcpy(&v, p, w); /* little-endian host: the low w bytes */
	return v;
}

char *q_result_to_json(const struct q_result *r)
{
	json_t *o = json_object(), *arr = json_array(), *st = json_object();
	char *out = NULL;
	if (!o || !arr || !st)
		goto done;
	json_object_set_new(o, "flowdelta_partial", json_integer(1));
	json_object_set_new(o, "sig", json_string(r->q->sig));
	json_object_set_new(o, "kind", json_integer(r->q->spec.kind));
	json_object_set_new(st, "segments", json_integer((json_int_t)r->st.segments));
	json_object_set_new(st, "blocks", json_integer((json_int_t)r->st.blocks));
	json_object_set_new(st, "blocks_skipped", json_integer((json_int_t)r->st.blocks_skipped));
	json_object_set_new(st, "blocks_corrupt", json_integer((json_int_t)r->st.blocks_corrupt));
	json_object_set_new(st, "rows_scanned", json_integer((json_int_t)r->st.rows_scanned));
	json_object_set_new(st, "rows_matched", json_integer((json_int_t)r->st.rows_matched));
	json_object_set_new(st, "ns", json_integer((json_int_t)r->st.ns));
	json_object_set(o, "stats", st);
	char hex[2 * 256 + 1];
	if (r->q->spec.kind == Q_LIST) {
		for (size_t i = 0; i < q_list_count(r); i++) {
			json_t *row = json_array();
			const uint8_t *rec = (const uint8_t *)q_list_row(r, i);
			for (unsigned c = 0; c < ST_COL_MAX; c++) {
				if (!col_w[c])
					continue;
				if (col_w[c] == 16) {
					to_hex(rec + col_off[c], 16, hex);
					json_array_append_new(row, json_string(hex));
				} else {
					json_array_append_new(row, json_integer((json_int_t)ld(rec + col_off[c],
										       col_w[c])));
				}
			}
			json_array_append_new(arr, row);
		}
		json_object_set(o, "rows", arr);
	} else {
		const struct q_tab *t = &r->tab;
		if (t->keylen > 256)
			goto done;
		for (uint64_t i = 0; i < t->nslot; i++) {
			if (!q_tab_used(t, i))
				continue;
			const uint64_t *s = q_tab_sums(t, i);
			to_hex(q_tab_key(t, i), t->keylen, hex);
			json_array_append_new(arr, json_pack("[sIII]", hex, (json_int_t)s[0],
							     (json_int_t)s[1], (json_int_t)s[2]));
		}
		json_object_set(o, "groups", arr);
	}
	out = json_dumps(o, JSON_COMPACT);
done:
	json_decref(o);
	json_decref(arr);
	json_decref(st);
	if (!out)
		errno = ENOMEM;
	return out;
}

static uint64_t jnum(json_t *v)
{
	return (uint64_t)json_integer_value(v);
}

struct q_result *q_result_from_json(const struct q_query *q, const char *text, struct q_err *err)
{
	json_error_t je;
	json_t *o = json_loads(text, 0, &je);
	struct q_result *r = NULL;
	int rc = -EINVAL;
	const char *why = "malformed partial result";
	if (!o)
		goto fail;
	json_t *sig = json_object_get(o, "sig"), *st = json_object_get(o, "stats");
	if (!json_is_string(sig) || strcmp(json_string_value(sig), q->sig)) {
		why = "partial result of a different query";
		goto fail;
	}
	r = q_result_new(q);
	if (!r) {
		rc = -ENOMEM;
		goto fail;
	}
	if (json_is_object(st)) {
		r->st.segments = jnum(json_object_get(st, "segments"));
		r->st.blocks = jnum(json_object_get(st, "blocks"));
		r->st.blocks_skipped = jnum(json_object_get(st, "blocks_skipped"));
		r->st.blocks_corrupt = jnum(json_object_get(st, "blocks_corrupt"));
		r->st.rows_scanned = jnum(json_object_get(st, "rows_scanned"));
		r->st.rows_matched = jnum(json_object_get(st, "rows_matched"));
		r->st.ns = jnum(json_object_get(st, "ns"));
	}
	size_t i;
	json_t *v;
	if (q->spec.kind == Q_LIST) {
		json_t *rows = json_object_get(o, "rows");
		if (!json_is_array(rows))
			goto fail;
		json_array_foreach(rows, i, v) {
			struct flow_rec rec;
			memset(&rec, 0, sizeof(rec));
			size_t k = 0;
			if (!json_is_array(v))
				goto fail;
			for (unsigned c = 0; c < ST_COL_MAX; c++) {
				if (!col_w[c])
					continue;
				json_t *x = json_array_get(v, k++);
				uint8_t *dst = (uint8_t *)&rec + col_off[c];
				if (col_w[c] == 16) {
					if (!json_is_string(x) || from_hex(json_string_value(x), dst, 16))
						goto fail;
				} else {
					if (!json_is_integer(x))
						goto fail;
					uint64_t n = jnum(x);
					memcpy(dst, &n, col_w[c]);
				}
			}
			if ((rc = q_list_offer(r, &rec)))
				goto fail;
		}
	} else {
		json_t *groups = json_object_get(o, "groups");
		if (!json_is_array(groups))
			goto fail;
		uint8_t key[256];
		if (q->keylen > sizeof(key))
			goto fail;
		json_array_foreach(groups, i, v) {
			json_t *k = json_array_get(v, 0);
			if (!json_is_string(k) || from_hex(json_string_value(k), key, q->keylen) ||
			    !json_is_integer(json_array_get(v, 1)) || !json_is_integer(json_array_get(v, 2)) ||
			    !json_is_integer(json_array_get(v, 3)))
				goto fail;
			rc = q_tab_add_key(&r->tab, key, jnum(json_array_get(v, 1)),
				       jnum(json_array_get(v, 2)), jnum(json_array_get(v, 3)));
			if (rc) {
				why = rc == -E2BIG ? "too many groups" : rc == -EINVAL ? "a group without flows" : "out of memory";
				goto fail;
			}
		}
	}
	json_decref(o);
	return r;
fail:
	if (err) {
		err->pos = -1;
		snprintf(err->msg, sizeof(err->msg), "%s", why);
	}
	json_decref(o);
	q_result_free(r);
	errno = rc == -ENOMEM || rc == -E2BIG ? -rc : EINVAL;
	return NULL;
}
