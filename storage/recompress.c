/* recompress.c — offline recompression of sealed segments (e.g. LZ4 on
 * ingest, ZSTD for the long tail). Each good block is decoded and encoded
 * again with the new codec, keeping its rows and commit id; the new file
 * replaces the old one by temp + fsync + rename, so a crash leaves either
 * the old or the new segment, never a mix. Readers that mapped the old file
 * keep reading it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dir.h"
#include "seg.h"
#include "store.h"

static int write_all(int fd, const void *p, size_t len)
{
	const uint8_t *b = p;
	while (len) {
		ssize_t r = write(fd, b, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		b += r;
		len -= (size_t)r;
	}
	return 0;
}

static int recompress_map(const uint8_t *m, size_t len, int fd, enum st_codec codec, int level,
			  struct st_recompress_stats *st)
{
	struct seg_walk w;
	int rc = seg_walk_init(&w, m, len);
	if (rc)
		return rc;
	struct blk_enc *enc = blk_enc_new(codec, level);
	struct blk_dec *dec = blk_dec_new();
	uint32_t *soff[FLOW_STR_MAX] = { 0 };
	uint16_t *slen[FLOW_STR_MAX] = { 0 };
	struct ftr_ent *ents = NULL;
	uint32_t ne = 0, cap = 0;
	if (!enc || !dec) {
		rc = -ENOMEM;
		goto out;
	}
	for (unsigned k = 0; k < FLOW_STR_MAX; k++) {
		soff[k] = malloc(ST_BLOCK_ROWS_MAX * sizeof(uint32_t));
		slen[k] = malloc(ST_BLOCK_ROWS_MAX * sizeof(uint16_t));
		if (!soff[k] || !slen[k]) {
			rc = -ENOMEM;
			goto out;
		}
	}
	struct seg_hdr h = w.hdr;
	h.codec = (uint8_t)codec;
	uint8_t hb[SEG_HDR_LEN];
	seg_hdr_write(hb, &h);
	rc = write_all(fd, hb, sizeof(hb));
	uint64_t off = SEG_HDR_LEN;
	struct seg_blk b;
	while (!rc && seg_walk_next(&w, &b) == 1) {
		struct st_cols c;
		rc = blk_decode(dec, &b, ST_COLS_ALL, &c);
		if (rc)
			break;
		struct blk_src src = { .n = c.n, .arena = c.str_arena };
		for (unsigned k = 0; k < ST_COL_MAX; k++)
			src.col[k] = c.col[k];
		for (unsigned s = 0; s < FLOW_STR_MAX; s++) {
			const uint32_t *ix = c.col[ST_COL_APP + s];
			for (uint32_t i = 0; i < c.n; i++) {
				soff[s][i] = ix[i] ? c.str_off[s][ix[i] - 1] : 0;
				slen[s][i] = ix[i] ? c.str_len[s][ix[i] - 1] : 0;
			}
			src.str_off[s] = soff[s];
			src.str_len[s] = slen[s];
		}
		const uint8_t *out;
		uint32_t ol, raw;
		rc = blk_encode(enc, &src, b.commit, &out, &ol, &raw);
		if (!rc)
			rc = write_all(fd, out, ol);
		if (rc)
			break;
		if (ne == cap) {
			cap = cap ? cap * 2 : 64;
			struct ftr_ent *e = realloc(ents, cap * sizeof(*e));
			if (!e) {
				rc = -ENOMEM;
				break;
			}
			ents = e;
		}
		ents[ne++] = (struct ftr_ent){ off, ol, b.nrows, b.zone.first_min, b.zone.last_max };
		off += ol;
		st->blocks++;
		st->rows += b.nrows;
		st->bytes_before += b.len;
		st->bytes_after += ol;
	}
	if (!rc && (w.blocks_bad || w.tail_bytes || !w.sealed))
		rc = -EBADMSG; /* never drop data silently: verify, then decide */
	if (!rc) {
		uint8_t *f;
		size_t fl;
		rc = ftr_build(ents, ne, &f, &fl);
		if (!rc) {
			le64_st(f + fl - TRL_LEN, off);
			rc = write_all(fd, f, fl);
			free(f);
		}
	}
out:
	for (unsigned k = 0; k < FLOW_STR_MAX; k++) {
		free(soff[k]);
		free(slen[k]);
	}
	free(ents);
	blk_enc_free(enc);
	blk_dec_free(dec);
	return rc;
}

int st_segment_recompress(const char *path, enum st_codec codec, int level,
			  struct st_recompress_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (codec > ST_CODEC_ZSTD)
		return -EINVAL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat sb;
	if (fstat(fd, &sb)) {
		close(fd);
		return -errno;
	}
	size_t len = (size_t)sb.st_size;
	uint8_t *m = len ? mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
	close(fd);
	if (m == MAP_FAILED)
		return -EBADMSG;
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.recompress.tmp", path);
	int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int rc = out < 0 ? -errno : recompress_map(m, len, out, codec, level, st);
	munmap(m, len);
	if (!rc && fsync(out))
		rc = -errno;
	if (out >= 0)
		close(out);
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (rc) {
		unlink(tmp);
		return rc;
	}
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		fsync_dir(dir);
	}
	return 0;
}
