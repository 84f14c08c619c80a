#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine: installs the Debian
# packages it needs, builds everything, runs every test with CTest.
# Extra arguments go to ctest (e.g. -R integration).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/deploy/local/install-deps.sh"
build=$("$root/deploy/local/build.sh")
# Two parallel test processes suit a 2-core machine; every test binds its own
# ephemeral ports on 127.0.0.1, so they do not collide.
ctest --test-dir "$build" --output-on-failure -j "${DCR_TEST_JOBS:-2}" --timeout 300 "$@" </dev/null
