/* fuzz_filter.c — libFuzzer target for the filter parser (STYLE §19).
 *
 * Input: filter text (any bytes; NULs cut it). Compiles it; when it parses,
 * the canonical text must parse again to the same canonical text (the
 * printer and the parser agree), and evaluating it over a one-row block of
 * zeros must not crash. Built as fuzz_filter with -Dfuzz=true; replayed over
 * corpus/filter/ by replay_filter under `meson test`.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "query_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void invariant(int ok, const char *what)
{
	if (!ok) {
		(void)what;
		abort(); /* "invariant broken": libFuzzer reports the input */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	struct q_err err;
	struct q_filter *f = q_filter_compile(s, &err);
	if (!f) {
		invariant(err.msg[0] != 0, "an error names its cause");
		free(s);
		return 0;
	}
	struct q_filter *g = q_filter_compile(q_filter_text(f), &err);
	invariant(g != NULL, "canonical text parses");
	if (g) {
		invariant(!strcmp(q_filter_text(f), q_filter_text(g)), "canonical text is stable");
		q_filter_free(g);
	}
	/* evaluate over one zero row with every column present */
	static uint8_t zero[16 * 4];
	static uint32_t off0, idx0;
	static uint16_t len0;
	struct st_cols c = { .n = 1, .str_arena = "" };
	for (unsigned i = 0; i < ST_COL_MAX; i++)
		c.col[i] = i >= ST_COL_APP ? (void *)&idx0 : (void *)zero;
	for (unsigned i = 0; i < FLOW_STR_MAX; i++) {
		c.str_n[i] = 1;
		c.str_off[i] = &off0;
		c.str_len[i] = &len0;
	}
	struct q_fscratch fs;
	if (!q_fscratch_init(&fs, f)) {
		uint8_t sel[1];
		q_filter_eval(f, &fs, &c, sel);
		invariant(sel[0] <= 1, "selection is 0/1");
		q_fscratch_fini(&fs);
	}
	q_filter_free(f);
	free(s);
	return 0;
}
