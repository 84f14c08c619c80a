#!/usr/bin/env bash
# Configures and builds everything (gateway, dcrctl, emulator, tests) into
# ${DCR_BUILD_DIR:-build}. Prints the build directory on success.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${DCR_BUILD_DIR:-$root/build}
jobs=${DCR_JOBS:-$(nproc)}
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=${DCR_BUILD_TYPE:-RelWithDebInfo} >&2
cmake --build "$build" -j "$jobs" >&2
echo "$build"
