#!/usr/bin/env bash
# Instructions the gateway executes per call, counted with callgrind
# (README "Performance"): repeatable for the same binary and inputs however
# busy the machine is, where wall-clock CPU figures here spread by 10-20 %.
#
# The overhead scenario runs twice under `valgrind --tool=callgrind`, with
# --overhead_calls=N and 2N; the difference of the two totals divided by
# the N calls in between cancels start-up, warm-up and shutdown. (Each run
# also makes N/5 Health/Checks, so the figure is a call plus a fifth of one.)
# The workload is seeded, so both runs, and runs of two binaries, make the
# same calls in the same order. What still moves between runs is the time
# threads spend spinning on a lock (valgrind runs one thread at a time):
# the script prints the count without absl's and gRPC's lock slow paths too.
#
#   tests/bench/count_instructions.sh [--gateway=BINARY] [--calls=N] [--runs=R]
#                                     [--keep=DIR] [-- dcr-bench flags...]
#
# --gateway defaults to the build's dcr-gateway; --calls to 2000; --runs
# (pairs of runs, to see the spread of the random RPC mix) to 1. --keep
# keeps the callgrind files (callgrind_annotate reads them) in DIR.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${DCR_BUILD_DIR:-$root/build}
gateway=$build/service/server/dcr-gateway
calls=2000
runs=1
keep=""
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --gateway=*) gateway=$(realpath "${1#*=}") ;;
    --calls=*) calls=${1#*=} ;;
    --runs=*) runs=${1#*=} ;;
    --keep=*) keep=${1#*=} ;;
    --) shift; extra=("$@"); break ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 2; }
[[ -x $gateway ]] || { echo "no gateway binary at $gateway" >&2; exit 2; }
bench=$build/tests/bench/dcr-bench
[[ -x $bench ]] || { echo "no dcr-bench at $bench (build first)" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# dcr-bench starts the gateway through this wrapper; callgrind writes its
# file when the gateway exits (SIGTERM from dcr-bench; no drain delay, so
# that it exits before dcr-bench's 5 s wait for it ends).
cat >"$work/gateway" <<EOF
#!/bin/sh
exec valgrind --tool=callgrind --callgrind-out-file="$work/out.\$\$" "$gateway" "\$@"
EOF
chmod +x "$work/gateway"

total() {  # total N: the gateway's instruction count over a run of N calls
  rm -f "$work"/out.*
  "$bench" --scenarios=overhead --overhead_calls="$1" --seed=1 --gateway="$work/gateway" \
    --gateway_args=--drain_delay=0s "${extra[@]}" >"$work/bench.log" 2>&1 </dev/null ||
    { cat "$work/bench.log" >&2; return 1; }
  local files=("$work"/out.*)
  [[ -f ${files[0]} ]] || { echo "callgrind wrote no file" >&2; return 1; }
  if [[ -n $keep ]]; then mkdir -p "$keep" && cp "${files[@]}" "$keep/calls-$1.$(date +%s%N).callgrind"; fi
  # The total, and the instructions spent in lock slow paths (spinning).
  awk '/^(summary|totals):/ {print $2; exit}' "${files[0]}"
  callgrind_annotate --auto=no --threshold=100 "${files[0]}" 2>/dev/null |
    awk '/Mutex::Lock\(\)|LockSlow|MutexDelay|gpr_mu_lock|Mutex::Unlock|UnlockSlow|PerThreadSem/ {
           gsub(",", "", $1); s += $1 } END { print s + 0 }'
}

for ((r = 1; r <= runs; r++)); do
  read -r small small_locks < <(total "$calls" | paste -sd' ')
  read -r large large_locks < <(total $((2 * calls)) | paste -sd' ')
  awk -v s="$small" -v l="$large" -v sl="$small_locks" -v ll="$large_locks" -v n="$calls" \
    'BEGIN { printf "instructions per call: %.1fk, %.1fk without lock spinning  (Ir %d calls %d, %d calls %d)\n",
             (l - s) / n / 1000, ((l - ll) - (s - sl)) / n / 1000, n, s, 2 * n, l }'
done
