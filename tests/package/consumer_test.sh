#!/usr/bin/env bash
# The CMake package as another project sees it: installs this build into a
# temporary prefix, builds tests/package/consumer against it with
# find_package(dcr-gateway), and runs it against the installed dcr-gateway
# and the emulator, on 127.0.0.1.
#   consumer_test.sh BUILD_DIR EMULATOR_BINARY
set -euo pipefail
build=$1 emulator=$2
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$root/deploy/local/processes.sh"   # $dcr_work, removed on exit
prefix="$dcr_work/prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null
cmake -S "$root/tests/package/consumer" -B "$dcr_work/consumer" -G Ninja \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$dcr_work/consumer" >/dev/null
dcr_start emulator "$emulator" --listen=127.0.0.1:0 --log_requests=false
DCR_AUTHLETE_CREDENTIAL=emulator-service-token \
  dcr_start gateway "$prefix/bin/dcr-gateway" --listen=127.0.0.1:0 --admin_listen= --insecure_plaintext \
  --authlete_base_url="http://127.0.0.1:$emulator_port" --authlete_service_id=21653835348762
"$dcr_work/consumer/consumer" "127.0.0.1:$gateway_port"
