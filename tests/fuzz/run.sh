#!/usr/bin/env bash
# Builds the libFuzzer targets with clang, ASan and UBSan (in build-fuzz/)
# and runs each for a bounded time over a copy of its seed corpus.
#   tests/fuzz/run.sh [--seconds N] [target...]     (default 60 s each, all)
# Exits non-zero when a target finds a crash, a leak, a sanitizer report or
# a timeout; the reproducer is kept under build-fuzz/findings/.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
seconds=60
targets=()
while (($#)); do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --seconds=*) seconds=${1#--seconds=}; shift ;;
    *) targets+=("$1"); shift ;;
  esac
done
((${#targets[@]})) || targets=(fuzz_client_information fuzz_metadata_json fuzz_metadata_proto
                               fuzz_authlete_response fuzz_trace_context fuzz_caller_policy
                               fuzz_public_registration)
build=${DCR_FUZZ_BUILD_DIR:-$root/build-fuzz}
# The libraries are instrumented for coverage and sanitizers too, so the
# fuzzer sees into the gateway's code, not only into the entry points.
flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
# -O1 and line tables only, in the build type's flags: in CMAKE_CXX_FLAGS they
# came before RelWithDebInfo's "-O2 -g", which won. Reports keep file:line.
opt="-O1 -gline-tables-only -DNDEBUG"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$opt" -DCMAKE_C_FLAGS_RELWITHDEBINFO="$opt" \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DDCR_BUILD_TESTS=OFF -DDCR_BUILD_FUZZERS=ON >&2
cmake --build "$build" -j "${DCR_JOBS:-$(nproc)}" --target "${targets[@]}" >&2
mkdir -p "$build/findings"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=0
for target in "${targets[@]}"; do
  corpus=$(mktemp -d)
  seeds="$root/tests/fuzz/corpus/${target#fuzz_}"
  [[ -d $seeds ]] && cp "$seeds"/* "$corpus"/ 2>/dev/null || true
  log="$build/findings/$target.log"
  if "$build/tests/fuzz/$target" "$corpus" -max_total_time="$seconds" -timeout=10 \
       -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
       -artifact_prefix="$build/findings/$target-" </dev/null >"$log" 2>&1; then
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    echo "$target: no finding in ${seconds}s, $execs runs, corpus $(ls "$corpus" | wc -l) inputs"
  else
    failed=1
    echo "$target: FINDING, see $log"
    grep -m 5 -E 'ERROR|runtime error|SUMMARY|Test unit written' "$log" || tail -n 20 "$log"
  fi
  rm -rf "$corpus"
done
exit $failed
