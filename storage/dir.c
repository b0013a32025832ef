/* dir.c — store directory layout: naming and listing segment files. */
#include "dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int seg_dirname(const char *dir, uint64_t win_start_ms, char *buf, size_t len)
{
	time_t t = (time_t)(win_start_ms / 1000);
	struct tm tm;
	if (!gmtime_r(&t, &tm))
		return -EINVAL;
	int r = snprintf(buf, len, "%s/%04d/%02d/%02d", dir, tm.tm_year + 1900, tm.tm_mon + 1,
			 tm.tm_mday);
	return r < 0 || (size_t)r >= len ? -ENAMETOOLONG : 0;
}

int seg_filename(const char *dir, uint64_t win_start_ms, uint32_t part, char *buf, size_t len)
{
	time_t t = (time_t)(win_start_ms / 1000);
	struct tm tm;
	if (!gmtime_r(&t, &tm))
		return -EINVAL;
	int r = snprintf(buf, len, "%s/%04d/%02d/%02d/%02d%02d%02d-%u.seg", dir, tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, part);
	return r < 0 || (size_t)r >= len ? -ENAMETOOLONG : 0;
}

int fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) ? -errno : 0;
	close(fd);
	return rc;
}

int mkdir_p(const char *path)
{
	char tmp[4096];
	size_t l = strlen(path);
	if (l >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, l + 1);
	for (size_t i = 1; i <= l; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		char c = tmp[i];
		tmp[i] = '\0';
		if (mkdir(tmp, 0755) == 0) {
			/* a new entry is durable only once its parent is synced */
			char *slash = strrchr(tmp, '/');
			if (slash && slash != tmp) {
				*slash = '\0';
				fsync_dir(tmp);
				*slash = '/';
			}
		} else if (errno != EEXIST) {
			return -errno;
		}
		tmp[i] = c;
	}
	return 0;
}

static int num(const char *s, size_t n, unsigned *out)
{
	unsigned v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*out = v;
	return 0;
}

struct list {
	struct seg_file *f;
	size_t n, cap;
};

static int add(struct list *l, const char *path, unsigned y, unsigned mo, unsigned d,
	       const char *name)
{
	/* HHMMSS-P.seg */
	size_t nl = strlen(name);
	unsigned hh, mm, ss, part;
	if (nl < 12 || strcmp(name + nl - 4, ".seg") || name[6] != '-' || num(name, 2, &hh) ||
	    num(name + 2, 2, &mm) || num(name + 4, 2, &ss) || nl - 11 > 9 ||
	    num(name + 7, nl - 11, &part))
		return 0;
	struct tm tm = { .tm_year = (int)y - 1900, .tm_mon = (int)mo - 1, .tm_mday = (int)d,
			 .tm_hour = (int)hh, .tm_min = (int)mm, .tm_sec = (int)ss };
	time_t t = timegm(&tm);
	if (t < 0)
		return 0;
	struct stat st;
	if (stat(path, &st) || !S_ISREG(st.st_mode))
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct seg_file *f = realloc(l->f, cap * sizeof(*f));
		if (!f)
			return -ENOMEM;
		l->f = f;
		l->cap = cap;
	}
	char *p = strdup(path);
	if (!p)
		return -ENOMEM;
	l->f[l->n++] = (struct seg_file){ p, (uint64_t)t * 1000, part, (uint64_t)st.st_size };
	return 0;
}

/* Calls fn for each entry of dir whose name is all digits of length len. */
static int subdirs(const char *dir, size_t len, unsigned *vals, size_t *n, size_t cap)
{
	DIR *d = opendir(dir);
	*n = 0;
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	struct dirent *e;
	while ((e = readdir(d)) && *n < cap) {
		unsigned v;
		if (strlen(e->d_name) == len && !num(e->d_name, len, &v))
			vals[(*n)++] = v;
	}
	closedir(d);
	return 0;
}

static int cmp(const void *a, const void *b)
{
	const struct seg_file *x = a, *y = b;
	if (x->win_start_ms != y->win_start_ms)
		return x->win_start_ms < y->win_start_ms ? -1 : 1;
	return x->part < y->part ? -1 : x->part > y->part;
}

int seg_list(const char *dir, struct seg_file **out, size_t *nout)
{
	struct list l = { 0 };
	unsigned ys[512], ms[16], ds[40];
	size_t ny, nm, nd;
	char p[4096];
	int rc = subdirs(dir, 4, ys, &ny, 512);
	for (size_t a = 0; !rc && a < ny; a++) {
		snprintf(p, sizeof(p), "%s/%04u", dir, ys[a]);
		rc = subdirs(p, 2, ms, &nm, 16);
		for (size_t b = 0; !rc && b < nm; b++) {
			snprintf(p, sizeof(p), "%s/%04u/%02u", dir, ys[a], ms[b]);
			rc = subdirs(p, 2, ds, &nd, 40);
			for (size_t c = 0; !rc && c < nd; c++) {
				char dd[4096];
				snprintf(dd, sizeof(dd), "%s/%04u/%02u/%02u", dir, ys[a], ms[b], ds[c]);
				DIR *d = opendir(dd);
				if (!d)
					continue;
				struct dirent *e;
				while (!rc && (e = readdir(d))) {
					char fp[4096 + 256];
					snprintf(fp, sizeof(fp), "%s/%s", dd, e->d_name);
					rc = add(&l, fp, ys[a], ms[b], ds[c], e->d_name);
				}
				closedir(d);
			}
		}
	}
	if (rc) {
		seg_list_free(l.f, l.n);
		return rc;
	}
	if (l.n)
		qsort(l.f, l.n, sizeof(*l.f), cmp);
	*out = l.f;
	*nout = l.n;
	return 0;
}

void seg_list_free(struct seg_file *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(f[i].path);
	free(f);
}
