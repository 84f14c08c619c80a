#!/usr/bin/env bash
# The performance benchmark (README "Performance"): builds everything, then
# runs dcr-bench's scenarios against freshly started authlete-emulator and
# dcr-gateway processes on 127.0.0.1. Prints the machine it ran on, one JSON
# line and one table per scenario. Extra arguments go to dcr-bench, e.g.
#   tests/bench/run.sh --scenarios=overhead --overhead_calls=10000
# Run it on an otherwise idle machine: every process shares the same cores.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
"$root/deploy/local/install-deps.sh"
build=$("$root/deploy/local/build.sh")
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
  "$(free -g | awk '/Mem:/ {print $2}') GiB, kernel $(uname -r)"
echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
exec "$build/tests/bench/dcr-bench" "$@" </dev/null
