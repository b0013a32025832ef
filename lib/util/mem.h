/* mem.h — memory helpers shared by the daemons and the query engine. */
#ifndef UTIL_MEM_H
#define UTIL_MEM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

/* Fault in the pages of [p, p + len), widened to whole pages, for
 * writing, in one call instead of a fault each (MADV_POPULATE_WRITE).
 * Contents are left as they are. 0, or -1 where the kernel cannot (before
 * 5.14: the pages then fault on first use, as they would have). */
static inline int mem_populate(void *p, size_t len)
{
	uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t lo = (uintptr_t)p & ~(pg - 1), hi = ((uintptr_t)p + len + pg - 1) & ~(pg - 1);
	return madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE) ? -1 : 0;
}

#endif
