/* spool.c — bounded on-disk FIFO of IPFIX messages for one slave.
 *
 * Used only by that slave's sender thread (no locking). Files
 * <dir>/<16 hex digits>.fdsp, numbered upwards; the oldest is read, the
 * newest appended to. Each entry is self-delimiting and checksummed
 * (docs/dataplane.md "Spool format"):
 *
 *   offset size field
 *   0      4    magic "FDSM" ("FDSC" once replayed: a consumed entry)
 *   4      4    payload length, little-endian
 *   8      4    records in the message, little-endian
 *   12     4    CRC32C of bytes 4..11 and the payload, little-endian
 *   16     len  one complete IPFIX message
 *
 * Replaying an entry rewrites its magic to "FDSC" (one 4-byte pwrite per
 * message, on the sender thread), so a restart resumes after the last
 * replayed message instead of sending the start of the file again.
 * A torn or corrupt entry ends its file: at open the last file is truncated
 * there (a crash mid-append), elsewhere the rest of the file is skipped and
 * counted. Appends are not fsynced one by one: the spool covers slave
 * outages, not proxy power loss; files are fsynced when they are closed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <rte_hash_crc.h>

#include "dp.h"
#include "util/bytes.h"

#define SP_HDR 16
#define SP_MAGIC "FDSM"
#define SP_DONE "FDSC"

struct dp_spool {
	char dir[4096];
	uint64_t max_bytes, file_bytes;
	uint64_t rseq, wseq; /* oldest and newest file numbers */
	int rfd, wfd;
	uint64_t roff, wsize;
	uint64_t bytes;   /* on disk, all files */
	uint64_t records; /* not yet popped */
	uint32_t peek_size;
	uint32_t peek_nrec;
	uint64_t corrupt;     /* entries skipped */
	uint64_t mark_errors; /* replayed entries we could not mark */
};

static void path_of(const struct dp_spool *s, uint64_t seq, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%016" PRIx64 ".fdsp", s->dir, seq);
}

/* CRC32C over header bytes 4..11 then the payload. The header fields are
 * fed as two u32 values (the CRC instruction consumes them in little-endian
 * byte order, i.e. exactly bytes 4..11): rte_hash_crc() would load a u64
 * from hdr + 4, which is misaligned. */
static uint32_t entry_crc(const uint8_t *hdr, const uint8_t *data, uint32_t len)
{
	uint32_t c = rte_hash_crc_4byte(le32_load(hdr + 4), 0xffffffff);
	c = rte_hash_crc_4byte(le32_load(hdr + 8), c);
	return rte_hash_crc(data, len, c);
}

/* Read the entry at off of fd into buf. 1 ok, 2 ok but already replayed,
 * 0 end/torn, -EBADMSG corrupt. */
static int read_entry(int fd, uint64_t off, uint8_t *buf, uint32_t cap, uint32_t *len,
		      uint32_t *nrec)
{
	uint8_t h[SP_HDR];
	ssize_t r = pread(fd, h, SP_HDR, (off_t)off);
	if (r == 0)
		return 0;
	if (r != SP_HDR)
		return 0;
	int done = memcmp(h, SP_DONE, 4) == 0;
	if (!done && memcmp(h, SP_MAGIC, 4) != 0)
		return -EBADMSG;
	uint32_t l = le32_load(h + 4);
	if (l > cap || l > FLOW_ENC_MAX_MSG)
		return -EBADMSG;
	if (pread(fd, buf, l, (off_t)(off + SP_HDR)) != (ssize_t)l)
		return 0;
	if (entry_crc(h, buf, l) != le32_load(h + 12))
		return -EBADMSG;
	*len = l;
	*nrec = le32_load(h + 8);
	return done ? 2 : 1;
}

static int open_file(struct dp_spool *s, uint64_t seq, int flags)
{
	char p[4200];
	path_of(s, seq, p, sizeof(p));
	return open(p, flags | O_CLOEXEC, 0640);
}

struct dp_spool *dp_spool_open(const char *dir, uint64_t max_bytes, uint64_t file_bytes)
{
	struct dp_spool *s = calloc(1, sizeof(*s));
	DIR *d = NULL;
	uint8_t *buf = NULL;
	int err;

	if (!s)
		return NULL;
	s->rfd = s->wfd = -1;
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	s->max_bytes = max_bytes;
	s->file_bytes = file_bytes;
	if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
		err = errno;
		goto fail;
	}
	d = opendir(dir);
	buf = malloc(FLOW_ENC_MAX_MSG);
	if (!d || !buf) {
		err = errno;
		goto fail;
	}
	uint64_t lo = UINT64_MAX, hi = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		uint64_t seq;
		char tail[8];
		if (sscanf(e->d_name, "%16" SCNx64 ".%7s", &seq, tail) == 2 &&
		    strcmp(tail, "fdsp") == 0 && strlen(e->d_name) == 21) {
			lo = seq < lo ? seq : lo;
			hi = seq > hi ? seq : hi;
		}
	}
	closedir(d);
	d = NULL;
	if (lo == UINT64_MAX)
		lo = hi = 1;
	s->rseq = lo;
	s->wseq = hi;
	/* Count what a previous run left, file by file; missing numbers in
	 * the range are simply empty. */
	for (uint64_t q = lo; q <= hi; q++) {
		int fd = open_file(s, q, O_RDWR | (q == hi ? O_CREAT : 0));
		if (fd < 0)
			continue;
		uint64_t off = 0;
		uint32_t len, nrec;
		int r;
		uint64_t first_live = UINT64_MAX;
		while ((r = read_entry(fd, off, buf, FLOW_ENC_MAX_MSG, &len, &nrec)) >= 1) {
			if (r == 1) {
				s->records += nrec;
				if (first_live == UINT64_MAX)
					first_live = off;
			}
			off += SP_HDR + len;
		}
		/* the reader starts at the first entry not yet replayed */
		if (q == lo)
			s->roff = first_live == UINT64_MAX ? off : first_live;
		struct stat st;
		fstat(fd, &st);
		if ((uint64_t)st.st_size != off) {
			if (q == hi) {
				if (ftruncate(fd, (off_t)off) < 0) { /* torn tail */
					err = errno;
					close(fd);
					goto fail;
				}
			} else {
				s->corrupt++;
			}
		}
		s->bytes += q == hi ? off : (uint64_t)st.st_size;
		if (q == hi)
			s->wsize = off;
		close(fd);
	}
	free(buf);
	buf = NULL;
	s->rfd = open_file(s, s->rseq, O_RDWR);
	s->wfd = open_file(s, s->wseq, O_WRONLY | O_CREAT | O_APPEND);
	if (s->wfd < 0) {
		err = errno;
		goto fail;
	}
	if (s->rfd < 0)
		s->rfd = open_file(s, s->rseq, O_RDWR);
	if (s->rfd < 0) {
		err = errno;
		goto fail;
	}
	return s;
fail:
	if (d)
		closedir(d);
	free(buf);
	dp_spool_close(s);
	errno = err;
	return NULL;
}

void dp_spool_close(struct dp_spool *s)
{
	if (!s)
		return;
	if (s->wfd >= 0) {
		fsync(s->wfd);
		close(s->wfd);
	}
	if (s->rfd >= 0)
		close(s->rfd);
	free(s);
}

static int rotate(struct dp_spool *s)
{
	int fd = open_file(s, s->wseq + 1, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC);
	if (fd < 0)
		return -errno;
	fsync(s->wfd);
	close(s->wfd);
	s->wfd = fd;
	s->wseq++;
	s->wsize = 0;
	return 0;
}

int dp_spool_put(struct dp_spool *s, const uint8_t *data, uint32_t len, uint32_t nrec)
{
	uint8_t h[SP_HDR];
	uint64_t need = SP_HDR + (uint64_t)len;

	if (s->bytes + need > s->max_bytes)
		return -ENOSPC;
	if (s->wsize && s->wsize + need > s->file_bytes && rotate(s) < 0)
		return -EIO;
	memcpy(h, SP_MAGIC, 4);
	le32_store(h + 4, len);
	le32_store(h + 8, nrec);
	le32_store(h + 12, entry_crc(h, data, len));
	struct iovec iov[2] = { { h, SP_HDR }, { (void *)data, len } };
	ssize_t w = writev(s->wfd, iov, 2);
	if (w != (ssize_t)need) {
		/* leave no partial entry behind for the reader */
		if (w > 0 && ftruncate(s->wfd, (off_t)s->wsize) < 0)
			return -EIO;
		return -EIO;
	}
	s->wsize += need;
	s->bytes += need;
	s->records += nrec;
	return 0;
}

/* Move the reader to the next file, deleting the consumed one. */
static int next_file(struct dp_spool *s)
{
	char p[4200];
	struct stat st;

	if (fstat(s->rfd, &st) == 0)
		s->bytes -= (uint64_t)st.st_size < s->bytes ? (uint64_t)st.st_size : s->bytes;
	close(s->rfd);
	path_of(s, s->rseq, p, sizeof(p));
	unlink(p);
	s->rseq++;
	s->roff = 0;
	s->rfd = open_file(s, s->rseq, O_RDWR);
	if (s->rfd < 0)
		return -errno;
	return 0;
}

int dp_spool_peek(struct dp_spool *s, uint8_t *buf, uint32_t cap, uint32_t *len, uint32_t *nrec)
{
	for (;;) {
		if (s->rseq == s->wseq && s->roff >= s->wsize)
			return 0;
		int r = read_entry(s->rfd, s->roff, buf, cap, len, nrec);
		if (r == 2) { /* replayed before a restart */
			s->roff += SP_HDR + *len;
			continue;
		}
		if (r == 1) {
			s->peek_size = SP_HDR + *len;
			s->peek_nrec = *nrec;
			return 1;
		}
		if (s->rseq == s->wseq) {
			if (r < 0) {
				/* corrupt entry in the file being written: the
				 * rest of it cannot be trusted; restart it */
				s->corrupt++;
				s->roff = s->wsize;
				continue;
			}
			return 0;
		}
		if (r < 0)
			s->corrupt++;
		r = next_file(s);
		if (r < 0)
			return r;
	}
}

void dp_spool_pop(struct dp_spool *s)
{
	s->records -= s->peek_nrec < s->records ? s->peek_nrec : s->records;
	s->peek_nrec = 0;
	/* best effort: if this write fails, a restart replays the entry again */
	if (pwrite(s->rfd, SP_DONE, 4, (off_t)s->roff) != 4)
		s->mark_errors++;
	s->roff += s->peek_size;
	s->peek_size = 0;
	if (s->rseq == s->wseq && s->roff >= s->wsize) {
		/* empty: reuse the file from its start so it never grows */
		if (ftruncate(s->wfd, 0) == 0) {
			s->bytes -= s->wsize < s->bytes ? s->wsize : s->bytes;
			s->roff = s->wsize = 0;
		}
	} else if (s->rseq != s->wseq) {
		struct stat st;
		if (fstat(s->rfd, &st) == 0 && s->roff >= (uint64_t)st.st_size)
			next_file(s);
	}
}

uint64_t dp_spool_bytes(const struct dp_spool *s)
{
	return s->bytes;
}

uint64_t dp_spool_records(const struct dp_spool *s)
{
	return s->records;
}
