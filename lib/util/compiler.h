/* compiler.h — the few compiler attributes the project uses. */
#ifndef UTIL_COMPILER_H
#define UTIL_COMPILER_H

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define CACHE_LINE 64
#define cache_aligned __attribute__((aligned(CACHE_LINE)))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
