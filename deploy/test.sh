#!/bin/bash
# deploy/test.sh — Flowdelta's whole test suite: README command 2, and exactly
# what .ci/run runs.
#
#   1. installs missing packages and builds ./build (release, -Werror)
#   2. meson test in ./build: unit, cli, conformance, fuzz-replay, storage,
#      bpf, dataplane suites (tests that need what the machine lacks exit 77
#      and show as SKIP with the reason in their log)
#   3. builds ./build-asan with clang, AddressSanitizer + UBSan and the
#      libFuzzer targets, and runs the same suites there
#   4. runs every libFuzzer target for FUZZ_SECONDS (default 60) each
#
# Environment: FUZZ_SECONDS=N (fuzz time per target), SKIP_ASAN=1 (steps 3-4
# off, for a quick local run; CI never sets it).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
fuzz_seconds=${FUZZ_SECONDS:-60}
pass=0 fail=0 skip=0
failed_steps=()

# meson test prints "Ok: N", "Fail: N", "Skipped: N", ... in its summary.
count_meson() {
	local log=$1 ok f t s
	ok=$(grep -E '^Ok:' "$log" | tail -1 | awk '{print $2}')
	f=$(grep -E '^Fail:' "$log" | tail -1 | awk '{print $2}')
	t=$(grep -E '^Timeout:' "$log" | tail -1 | awk '{print $2}')
	s=$(grep -E '^Skipped:' "$log" | tail -1 | awk '{print $2}')
	pass=$((pass + ${ok:-0}))
	fail=$((fail + ${f:-0} + ${t:-0}))
	skip=$((skip + ${s:-0}))
}

step() { echo; echo "=== test.sh: $* ==="; }

step "set-up and release build"
if ! deploy/setup.sh; then
	echo "test.sh: set-up or build failed"
	echo "0 passed, 1 failed"
	exit 1
fi

step "meson test (release build)"
log=$(mktemp)
meson test -C build --print-errorlogs --num-processes 2 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
count_meson "$log"
[ "$rc" -eq 0 ] || failed_steps+=("meson test (release)")
rm -f "$log"

if [ "${SKIP_ASAN:-0}" != 1 ]; then
	step "ASan + UBSan build with libFuzzer targets"
	if [ ! -f build-asan/build.ninja ]; then
		CC=clang CXX=clang++ meson setup build-asan --buildtype=debugoptimized \
			-Db_sanitize=address,undefined -Db_lundef=false -Dfuzz=true -Dwerror=true \
			-Dbench=disabled >/dev/null || failed_steps+=("asan setup")
	fi
	if ninja -C build-asan; then
		step "meson test (ASan + UBSan)"
		log=$(mktemp)
		LSAN_OPTIONS=suppressions=$root/tests/lsan.supp:print_suppressions=0 \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
			meson test -C build-asan --print-errorlogs --num-processes 2 \
			--timeout-multiplier 3 2>&1 | tee "$log"
		rc=${PIPESTATUS[0]}
		count_meson "$log"
		[ "$rc" -eq 0 ] || failed_steps+=("meson test (asan)")
		rm -f "$log"

		step "fuzzing: each target ${fuzz_seconds}s"
		if [ -x tests/fuzz/run-fuzzers.sh ]; then
			if tests/fuzz/run-fuzzers.sh build-asan "$fuzz_seconds"; then
				pass=$((pass + 1))
			else
				fail=$((fail + 1))
				failed_steps+=("fuzzing")
			fi
		fi
	else
		fail=$((fail + 1))
		failed_steps+=("asan build")
	fi
fi

echo
if ((${#failed_steps[@]})); then
	echo "test.sh: FAILED steps: ${failed_steps[*]}"
fi
echo "test.sh: $pass passed, $fail failed, $skip skipped"
echo "$pass passed, $fail failed, $skip skipped"
((${#failed_steps[@]} == 0 && fail == 0))
