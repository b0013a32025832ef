/* bench.h — C interface to Google Benchmark (through shim.cc), so that the
 * micro benchmarks are written in C like the code they measure.
 *
 *   #include "bench.h"
 *
 *   BENCH(decode_v9)
 *   {
 *           static struct fixture *f;            (set up once, kept)
 *           uint64_t recs = 0;
 *
 *           if (!f)
 *                   f = fixture_new();
 *           while (bench_keep_running(st))
 *                   recs += work(f);
 *           bench_set_items(st, recs);           (-> records/s)
 *   }
 *
 * A bench function may run several times (Google Benchmark grows the
 * iteration count until the timing is stable): set-up that is expensive
 * belongs in a static, built on the first call. Every bench runs on one
 * thread; shim.cc pins the process to one CPU (BENCH_CPU, default: the CPU
 * it starts on) so numbers are per core. Run `flowdelta-bench --help` for
 * Google Benchmark's flags (--benchmark_filter=decode, _format=json, ...).
 */
#ifndef BENCH_BENCH_H
#define BENCH_BENCH_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct bench_state;
typedef void (*bench_fn)(struct bench_state *st);

/* Register a bench; args (may be NULL, n 0) makes one run per value, read
 * with bench_arg(). Called by the macros below before main(). */
void bench_register(const char *name, bench_fn fn, const int64_t *args, unsigned n);

/* True while the timed loop should go on; each call is one iteration. */
bool bench_keep_running(struct bench_state *st);

/* Records (or other items) processed in total by this run: printed as
 * items_per_second and as the "records/s" rate counter. */
void bench_set_items(struct bench_state *st, uint64_t n);

/* Bytes processed in total: printed as bytes_per_second. */
void bench_set_bytes(struct bench_state *st, uint64_t n);

/* An extra rate counter (per second of run time), e.g. "packets/s". */
void bench_set_rate(struct bench_state *st, const char *name, double total);

/* An extra plain counter, e.g. "bytes/record". */
void bench_set_counter(struct bench_state *st, const char *name, double value);

/* Text shown next to the result. */
void bench_set_label(struct bench_state *st, const char *label);

/* Stop/restart the clock around work that is not to be measured. */
void bench_pause(struct bench_state *st);
void bench_resume(struct bench_state *st);

/* Abort the run with a message (set-up failed). */
void bench_skip_error(struct bench_state *st, const char *msg);

/* The current argument of a bench registered with BENCH_ARGS. */
int64_t bench_arg(const struct bench_state *st);

/* Keep a value alive so the compiler cannot drop the work behind it. */
static inline void bench_keep(const void *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
}

#define BENCH(fn)                                                                  \
	static void fn(struct bench_state *st);                                    \
	__attribute__((constructor)) static void bench_reg_##fn(void)              \
	{                                                                          \
		bench_register(#fn, fn, 0, 0);                                     \
	}                                                                          \
	static void fn(struct bench_state *st)

#define BENCH_ARGS(fn, ...)                                                        \
	static void fn(struct bench_state *st);                                    \
	__attribute__((constructor)) static void bench_reg_##fn(void)              \
	{                                                                          \
		static const int64_t a[] = { __VA_ARGS__ };                        \
		bench_register(#fn, fn, a, sizeof(a) / sizeof(a[0]));              \
	}                                                                          \
	static void fn(struct bench_state *st)

/* The store the query and selected-row benches read: gen's records (4
 * exporters, seed 1, 200 a packet), BENCH_QUERY_RECORDS of them, written
 * on first use under $BENCH_STORE_DIR (default /tmp) and removed at exit.
 * Its directory, or NULL with errno set. */
#define BENCH_QUERY_RECORDS 4000000u
const char *bench_query_store(void);

#ifdef __cplusplus
}
#endif

#endif
