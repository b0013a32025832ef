/* scan.c — whole-store walk for `flowdelta store inspect` and `verify`. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dir.h"
#include "seg.h"
#include "store.h"

static void scan_one(const struct seg_file *f, bool decode, struct blk_dec *dec,
		     struct st_seg_report *r)
{
	memset(r, 0, sizeof(*r));
	r->path = f->path;
	r->first_min = UINT64_MAX;
	int fd = open(f->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	struct stat st;
	if (fstat(fd, &st) || st.st_size < SEG_HDR_LEN) {
		r->file_bytes = (uint64_t)st.st_size;
		close(fd);
		return;
	}
	r->file_bytes = (uint64_t)st.st_size;
	uint8_t *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return;
	struct seg_walk w;
	if (seg_walk_init(&w, m, (size_t)st.st_size) == 0) {
		r->header_ok = true;
		r->win_start_ms = w.hdr.win_start_ms;
		r->win_len_ms = w.hdr.win_len_ms;
		r->part = w.hdr.part;
		r->codec = w.hdr.codec;
		r->version = w.hdr.version;
		struct seg_blk b;
		while (seg_walk_next(&w, &b) == 1) {
			r->blocks++;
			r->rows += b.nrows;
			r->block_bytes += b.len;
			r->raw_bytes += b.raw_len;
			if (b.zone.first_min < r->first_min)
				r->first_min = b.zone.first_min;
			if (b.zone.last_max > r->last_max)
				r->last_max = b.zone.last_max;
			unsigned ncols = b.p[28];
			if (BLK_DIR_OFF + (size_t)ncols * blk_dir_ent(b.p) <= b.len)
				for (unsigned k = 0; k < ncols; k++) {
					const uint8_t *d = b.p + BLK_DIR_OFF + (size_t)k * blk_dir_ent(b.p);
					if (d[0] < ST_COL_MAX) {
						r->col_raw[d[0]] += le32_ld(d + 4);
						r->col_stored[d[0]] += le32_ld(d + 8);
					}
				}
			struct st_cols c;
			if (decode && blk_decode(dec, &b, ST_COLS_ALL, &c))
				r->decode_errors++;
		}
		r->blocks_bad = w.blocks_bad;
		r->bytes_bad = w.bytes_bad;
		r->tail_bytes = w.tail_bytes;
		r->sealed = w.sealed;
	}
	if (!r->blocks)
		r->first_min = 0;
	munmap(m, (size_t)st.st_size);
}

int st_store_scan(const char *dir, bool decode,
		  void (*fn)(void *ctx, const struct st_seg_report *r), void *ctx)
{
	struct stat st;
	if (stat(dir, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	struct seg_file *f;
	size_t n;
	int rc = seg_list(dir, &f, &n);
	if (rc)
		return rc;
	struct blk_dec *dec = blk_dec_new();
	struct st_seg_report *r = malloc(sizeof(*r));
	if (!dec || !r) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		scan_one(&f[i], decode, dec, r);
		fn(ctx, r);
	}
out:
	free(r);
	blk_dec_free(dec);
	seg_list_free(f, n);
	return rc;
}
