#!/bin/bash
# run-fuzzers.sh — run every libFuzzer target of a build tree for a while.
#
#   tests/fuzz/run-fuzzers.sh BUILD_DIR [SECONDS]     (default 60 s per target)
#
# Picks up every executable named fuzz_* under BUILD_DIR (any component's
# folder), runs two at a time (the CI machines have 2 cores), each on a
# temporary copy of its seed corpus so the committed corpus only changes by
# hand. Seed corpus of fuzz_NAME: the first directory named corpus/NAME in
# the source tree (tests/fuzz/corpus/v9, storage/fuzz/corpus/segment, ...);
# none means an empty start. A NAME.dict next to that corpus dir is passed
# as -dict.
#
# Fails (exit 1, naming the targets) on any crash, leak, timeout or
# out-of-memory; the reproducer stays in BUILD_DIR/fuzz-crashes/NAME-*
# (replay it with BUILD_DIR/.../replay_NAME FILE, or the fuzz_NAME binary).
# Prints per-target executions.
#
# Env: FUZZ_RSS_MB (default 2048), FUZZ_TIMEOUT_S per input (default 10),
# FUZZ_JOBS in parallel (default 2), FUZZ_KEEP_NEW=1 copies the new corpus
# entries to BUILD_DIR/fuzz-new/NAME/ for review.
set -euo pipefail

usage() { echo "usage: $0 BUILD_DIR [SECONDS]" >&2; exit 2; }
if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
build=$(cd "$1" && pwd) || usage
secs=${2:-60}
[[ $secs =~ ^[0-9]+$ ]] || usage
src=$(cd "$(dirname "$0")/../.." && pwd)
rss=${FUZZ_RSS_MB:-2048}
tmo=${FUZZ_TIMEOUT_S:-10}
jobs=${FUZZ_JOBS:-2}

mapfile -t targets < <(find "$build" -type f -name 'fuzz_*' -perm -u+x \
	! -name '*.p' ! -name '*.o' ! -name '*.a' ! -name '*.so' | sort)
if [ ${#targets[@]} -eq 0 ]; then
	echo "run-fuzzers: no fuzz_* executable in $build (configure with -Dfuzz=true and CC=clang)" >&2
	exit 1
fi

crashdir=$build/fuzz-crashes
mkdir -p "$crashdir"
work=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-run.XXXXXX")
trap 'rm -rf "$work"' EXIT

seed_dir() { # $1 = name without fuzz_
	find "$src" -path "$build" -prune -o -type d -path "*/corpus/$1" -print 2>/dev/null | sort | head -1
}

run_one() { # $1 = executable
	local exe=$1 name corpus tmp log dict=()
	name=$(basename "$exe")
	name=${name#fuzz_}
	corpus=$(seed_dir "$name")
	tmp=$work/$name.corpus
	log=$work/$name.log
	mkdir -p "$tmp"
	if [ -n "$corpus" ]; then
		cp -r "$corpus"/. "$tmp"/
		[ -f "$(dirname "$corpus")/$name.dict" ] && dict=(-dict="$(dirname "$corpus")/$name.dict")
	fi
	local rc=0
	# -print_final_stats gives the exec count; leaks are reported by ASan
	# (detect_leaks is on by default with -fsanitize=address).
	"$exe" "$tmp" "${dict[@]}" \
		-max_total_time="$secs" -timeout="$tmo" -rss_limit_mb="$rss" \
		-artifact_prefix="$crashdir/$name-" -print_final_stats=1 \
		>"$log" 2>&1 || rc=$?
	echo "$rc" >"$work/$name.rc"
	if [ "${FUZZ_KEEP_NEW:-0}" = 1 ]; then
		mkdir -p "$build/fuzz-new/$name"
		for f in "$tmp"/*; do
			[ -e "$f" ] || continue
			b=$(basename "$f")
			[ -n "$corpus" ] && [ -e "$corpus/$b" ] && continue
			cp "$f" "$build/fuzz-new/$name/"
		done
	fi
}

echo "run-fuzzers: ${#targets[@]} targets, ${secs}s each, $jobs at a time"
running=0
for exe in "${targets[@]}"; do
	if [ "$running" -ge "$jobs" ]; then
		wait -n || true
		running=$((running - 1))
	fi
	run_one "$exe" &
	running=$((running + 1))
done
wait || true

failed=()
printf '%-24s %12s %8s %s\n' target execs corpus result
for exe in "${targets[@]}"; do
	name=$(basename "$exe")
	name=${name#fuzz_}
	log=$work/$name.log
	rc=$(cat "$work/$name.rc" 2>/dev/null || echo 99)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	ncorp=$(find "$work/$name.corpus" -type f | wc -l)
	if [ "$rc" = 0 ]; then
		result=ok
	else
		result="FAILED (exit $rc)"
		failed+=("$name")
	fi
	printf '%-24s %12s %8s %s\n' "fuzz_$name" "${execs:-?}" "$ncorp" "$result"
done

if [ ${#failed[@]} -gt 0 ]; then
	for name in "${failed[@]}"; do
		echo
		echo "=== fuzz_$name: $(grep -m1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|invariant broken|SUMMARY' "$work/$name.log" || echo 'see log')"
		grep -E '^(==[0-9]+==|SUMMARY|    #[0-9]+ |.*invariant broken|.*runtime error|artifact_prefix|Test unit written)' \
			"$work/$name.log" | head -40
		cp "$work/$name.log" "$crashdir/$name.log"
		echo "log: $crashdir/$name.log"
		find "$crashdir" -maxdepth 1 -name "$name-*" ! -name '*.log' | sed 's/^/reproducer: /'
	done
	echo
	echo "run-fuzzers: FAILED: ${failed[*]}"
	exit 1
fi
echo "run-fuzzers: all ${#targets[@]} targets ran ${secs}s without a finding"
