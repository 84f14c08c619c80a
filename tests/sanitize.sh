#!/usr/bin/env bash
# The whole test suite built with AddressSanitizer and UndefinedBehavior-
# Sanitizer (gcc, in build-asan/): any report fails the test that caused it.
#   tests/sanitize.sh [ctest args...]
# Excluded, as they test packaging rather than code: deploy.* (ldd of the
# binaries would list the sanitizer runtimes, which the image never ships)
# package.* (an outside project linking the installed, instrumented
# library without the sanitizer runtime) and integration.flood (it bounds the
# memory of an uninstrumented gateway; ASan's shadow memory and quarantine
# are not the gateway's) and bench.quick (its concurrency check keeps 1,200
# calls in flight, which an instrumented gateway, several times slower,
# cannot answer within GetClient's 3 s attempt timeout: a measure of ASan,
# not of the code; tests/run.sh runs it uninstrumented). The gateway uses the
# sanitizers' allocator there.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${DCR_ASAN_BUILD_DIR:-$root/build-asan}
flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
# -O1 and line tables only (-g1): what the sanitizers' reports need, and half
# the compile time and 40 % less memory of -O2 -g (measured on the emulator's
# Boost.Beast server, the largest file: 302 -> 153 s, 3.9 -> 2.4 GB).
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
  -DDCR_ALLOCATOR=system -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" >&2
cmake --build "$build" -j "${DCR_JOBS:-$(nproc)}" >&2
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export LSAN_OPTIONS="suppressions=$root/tests/sanitizers/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
ctest --test-dir "$build" --output-on-failure -j "${DCR_TEST_JOBS:-2}" --timeout 600 \
  -E '^((deploy|package)\.|integration\.flood$|bench\.quick$)' "$@" </dev/null
