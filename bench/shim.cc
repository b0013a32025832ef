// shim.cc — the C bench API of bench.h on top of Google Benchmark 1.7, and
// the main() of flowdelta-bench. The only C++ in the tree (STYLE: C11 +
// a C++17 shim for the benchmark library).
#include <sched.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <benchmark/benchmark.h>

#include "bench.h"

// struct bench_state stays incomplete: a C bench holds a pointer to the
// library's State under that name and never looks inside.
static benchmark::State &S(struct bench_state *st)
{
	return *reinterpret_cast<benchmark::State *>(st);
}

extern "C" {

void bench_register(const char *name, bench_fn fn, const int64_t *args, unsigned n)
{
	auto *b = benchmark::RegisterBenchmark(name, [fn](benchmark::State &s) {
		fn(reinterpret_cast<struct bench_state *>(&s));
	});
	// One thread: the targets are per core, and the decoders are
	// single-threaded by design (one per worker lcore). Rates are per CPU
	// second of this thread (the library's default), not wall time, so a
	// busy shared machine slows the run but does not skew records/s much.
	b->Threads(1);
	for (unsigned i = 0; i < n; i++)
		b->Arg(args[i]);
}

bool bench_keep_running(struct bench_state *st)
{
	return S(st).KeepRunning();
}

void bench_set_items(struct bench_state *st, uint64_t n)
{
	S(st).SetItemsProcessed(static_cast<int64_t>(n));
	S(st).counters["records/s"] =
		benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsRate);
}

void bench_set_bytes(struct bench_state *st, uint64_t n)
{
	S(st).SetBytesProcessed(static_cast<int64_t>(n));
}

void bench_set_rate(struct bench_state *st, const char *name, double total)
{
	S(st).counters[name] = benchmark::Counter(total, benchmark::Counter::kIsRate);
}

void bench_set_counter(struct bench_state *st, const char *name, double value)
{
	S(st).counters[name] = benchmark::Counter(value);
}

void bench_set_label(struct bench_state *st, const char *label)
{
	S(st).SetLabel(label);
}

void bench_pause(struct bench_state *st)
{
	S(st).PauseTiming();
}

void bench_resume(struct bench_state *st)
{
	S(st).ResumeTiming();
}

void bench_skip_error(struct bench_state *st, const char *msg)
{
	S(st).SkipWithError(msg);
}

int64_t bench_arg(const struct bench_state *st)
{
	return reinterpret_cast<const benchmark::State *>(st)->range(0);
}

} // extern "C"

// Pin to one CPU: per-core numbers, no migrations in the middle of a run.
static void pin_cpu()
{
	const char *env = std::getenv("BENCH_CPU");
	int cpu = env ? std::atoi(env) : sched_getcpu();
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0)
		std::perror("bench: sched_setaffinity");
	benchmark::AddCustomContext("cpu", std::to_string(cpu));
}

int main(int argc, char **argv)
{
	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 1;
	pin_cpu();
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	return 0;
}
