/* dir.h — internal: the store directory's file names and listing.
 *
 * Segments live at DIR/YYYY/MM/DD/HHMMSS-P.seg: the UTC start of their
 * arrival-time window and a part number (a window gets a new part after a
 * restart, so a sealed file is never reopened for writing). */
#ifndef STORAGE_DIR_H
#define STORAGE_DIR_H

#include <stddef.h>
#include <stdint.h>

struct seg_file {
	char *path;
	uint64_t win_start_ms; /* from the name */
	uint32_t part;
	uint64_t size;
};

/* Every segment under dir, oldest window first (then part). The caller frees
 * with seg_list_free(). 0 or -errno (a missing dir is an empty list). */
int seg_list(const char *dir, struct seg_file **out, size_t *n);
void seg_list_free(struct seg_file *f, size_t n);

/* "DIR/YYYY/MM/DD" and "DIR/YYYY/MM/DD/HHMMSS-P.seg" for a window start. */
int seg_dirname(const char *dir, uint64_t win_start_ms, char *buf, size_t len);
int seg_filename(const char *dir, uint64_t win_start_ms, uint32_t part, char *buf, size_t len);

/* mkdir -p, then fsync of each parent whose entry was created. */
int mkdir_p(const char *path);
int fsync_dir(const char *path);

#endif
