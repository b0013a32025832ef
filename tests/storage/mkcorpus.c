/* mkcorpus.c — writes the seed files of the segment reader's fuzz corpus
 * (tests/storage/corpus/segment) with the current writer, so that the seeds
 * follow the format: `mkcorpus DIR` after a format change.
 *
 *   seg-C-R-0.bin   100 records of tests/storage/mix.h (R: rich, with IPv6,
 *                   biflows and strings) in 40-row blocks, codec C (0 none,
 *                   1 LZ4 left open, 2 ZSTD sealed; 0 sealed too)
 *   gen-C.bin       3000 lib/gen records (the default IPv4 mix) in 1500-row
 *                   blocks, codec C: address dictionaries with hot codes,
 *                   dependent columns, port exception dictionaries, bytes
 *                   per packet — encodings small blocks do not choose
 *   gen6-C.bin      the same with gen's default 20 % IPv6 (codec 0 to 2):
 *                   mixed IPv4/IPv6 address dictionaries (DICT_MIX) and
 *                   columns depending on them
 *   flipped.bin     seg-1-1-0 with one byte of its second block flipped
 *   bad-len.bin     seg-1-1-0 with its first block's length set to 65535
 *   torn-tail.bin   seg-1-1-0 without its last 100 bytes
 *   header-only.bin its 64-byte segment header;   empty.bin: no bytes
 * Files named v1-*.bin to v3-*.bin are segments of those versions (seeds
 * of earlier writers) and stay as they are.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gen/gen.h"
#include "mix.h"
#include "seg.h"
#include "store.h"
#include "util.h"

#define T0 1764000000000ull

/* The one segment file under dir (YYYY/MM/DD/x.seg) into a malloc'ed buffer. */
static uint8_t *seg_load(const char *dir, size_t *len)
{
	char cmd[1024], path[1024] = "";
	snprintf(cmd, sizeof(cmd), "find '%s' -name '*.seg' | head -1", dir);
	FILE *p = popen(cmd, "r");
	if (!p || !fgets(path, sizeof(path), p)) {
		if (p)
			pclose(p);
		return NULL;
	}
	pclose(p);
	path[strcspn(path, "\n")] = 0;
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *b = malloc((size_t)n);
	if (!b || fread(b, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(b);
		return NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return b;
}

static int put(const char *out, const char *name, const uint8_t *b, size_t len)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", out, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(b, 1, len, f) != len) {
		fprintf(stderr, "mkcorpus: %s: %s\n", path, strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	return fclose(f);
}

/* Write recs into a fresh store (codec, block rows), seal or leave open,
 * and return its segment's bytes. */
static uint8_t *make(enum st_codec codec, uint32_t block_rows, int seal, const struct flow_rec *r,
		     uint32_t n, const char *arena, size_t *len)
{
	char *dir = tmpdir_make();
	struct st_store_cfg c;
	st_store_cfg_default(&c);
	c.dir = dir;
	c.codec = codec;
	c.block_rows = block_rows;
	struct st_store *s = st_store_open(&c, NULL);
	uint8_t *b = NULL;
	if (s && !st_store_add(s, r, n, arena, T0) && !st_store_commit(s, T0) &&
	    (!seal || !st_store_seal(s))) {
		st_store_close(s);
		s = NULL;
		b = seg_load(dir, len);
	}
	st_store_close(s);
	tmpdir_rm(dir);
	return b;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: mkcorpus DIR\n");
		return 2;
	}
	const char *out = argv[1];
	static struct flow_rec recs[3000];
	static char arena[1 << 16];
	int rc = 0;
	uint8_t *keep = NULL;
	size_t keep_len = 0;

	for (int rich = 0; rich < 2; rich++) {
		static struct mix m;
		mix_init(&m, 7 + (uint64_t)rich, T0 - 3600000, rich);
		for (uint32_t i = 0; i < 100; i++)
			mix_next(&m, &recs[i]);
		memcpy(arena, m.arena, m.arena_len);
		for (int codec = 0; codec < 3; codec++) {
			size_t len;
			uint8_t *b = make((enum st_codec)codec, 40, codec != 1, recs, 100, arena, &len);
			char name[64];
			snprintf(name, sizeof(name), "seg-%d-%d-0.bin", codec, rich);
			if (!b || put(out, name, b, len)) {
				rc = 1;
				free(b);
				continue;
			}
			if (codec == 1 && rich) {
				keep = b;
				keep_len = len;
			} else {
				free(b);
			}
		}
	}

	for (int v6 = 0; v6 < 2; v6++) {
		struct gen_cfg gc;
		gen_cfg_default(&gc);
		gc.exporters = 16;
		if (!v6)
			gc.v6_share = 0;
		struct gen *g = gen_new(&gc);
		struct gen_pkt p;
		uint32_t n = 0;
		while (g && n < 3000 && gen_next(g, 0, &p) == 1)
			for (uint32_t i = 0; i < p.n_recs && n < 3000; i++) {
				recs[n] = p.recs[i];
				memset(recs[n].str_len, 0, sizeof(recs[n].str_len));
				n++;
			}
		gen_free(g);
		for (int codec = 0; codec < (v6 ? 3 : 2); codec++) {
			size_t len;
			uint8_t *b = make((enum st_codec)codec, 1500, 1, recs, n, NULL, &len);
			char name[64];
			snprintf(name, sizeof(name), "gen%s-%d.bin", v6 ? "6" : "", codec);
			if (!b || put(out, name, b, len))
				rc = 1;
			free(b);
		}
	}

	if (!keep || keep_len < SEG_HDR_LEN + 2 * BLK_DIR_OFF)
		return 1;
	rc |= put(out, "header-only.bin", keep, SEG_HDR_LEN) ? 1 : 0;
	rc |= put(out, "empty.bin", keep, 0) ? 1 : 0;
	rc |= put(out, "torn-tail.bin", keep, keep_len - 100) ? 1 : 0;
	uint8_t *c = malloc(keep_len);
	if (!c)
		return 1;
	uint32_t first = le32_ld(keep + SEG_HDR_LEN + 8);
	memcpy(c, keep, keep_len);
	c[SEG_HDR_LEN + first + BLK_DIR_OFF + 40] ^= 0x5a; /* inside block 2's directory/chunks */
	rc |= put(out, "flipped.bin", c, keep_len) ? 1 : 0;
	memcpy(c, keep, keep_len);
	le32_st(c + SEG_HDR_LEN + 8, 65535);
	rc |= put(out, "bad-len.bin", c, keep_len) ? 1 : 0;
	free(c);
	free(keep);
	return rc;
}
