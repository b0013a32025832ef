/* retention.c — delete whole segments by age and by disk quota.
 *
 * Runs in the daemon's housekeeping tick (or by hand on a stopped store).
 * A segment goes only as a whole, oldest window first, and only once its
 * window has ended, so the writer's open segment is never removed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dir.h"
#include "seg.h"
#include "store.h"

static uint64_t win_len(const char *path)
{
	uint8_t h[SEG_HDR_LEN];
	struct seg_hdr sh;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t r = pread(fd, h, sizeof(h), 0);
	close(fd);
	if (r != (ssize_t)sizeof(h) || seg_hdr_read(h, sizeof(h), &sh))
		return 0;
	return sh.win_len_ms;
}

/* Remove now-empty DD, MM and YYYY folders above a deleted segment. */
static void prune_dirs(const char *root, const char *path)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s", path);
	for (int up = 0; up < 3; up++) {
		char *slash = strrchr(p, '/');
		if (!slash)
			return;
		*slash = '\0';
		if (strlen(p) <= strlen(root) || rmdir(p))
			return; /* not empty (ENOTEMPTY) or the root itself */
	}
}

int st_retention_run(const char *dir, uint64_t now_ms, uint64_t max_age_ms, uint64_t quota,
		     struct st_retention_stats *out)
{
	struct seg_file *f;
	size_t n;
	struct st_retention_stats st = { 0 };
	int rc = seg_list(dir, &f, &n);
	if (rc)
		return rc;
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += f[i].size;
	for (size_t i = 0; i < n; i++) {
		/* a header we cannot read: treat the window as 5 minutes long */
		uint64_t wl = win_len(f[i].path);
		uint64_t end = f[i].win_start_ms + (wl ? wl : 300000);
		if (end > now_ms)
			break; /* sorted: every later segment is newer */
		bool old = max_age_ms && end + max_age_ms <= now_ms;
		bool over = quota && total > quota;
		if (!old && !over)
			break;
		if (unlink(f[i].path)) {
			if (errno == ENOENT)
				continue;
			rc = -errno;
			break;
		}
		total -= f[i].size;
		st.segments_deleted++;
		st.bytes_deleted += f[i].size;
		prune_dirs(dir, f[i].path);
	}
	seg_list_free(f, n);
	st.bytes_kept = total;
	if (out)
		*out = st;
	return rc;
}
