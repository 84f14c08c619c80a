#!/usr/bin/env bash
# Installs what dcr-gateway needs to build and test, from Debian 12 packages.
# Idempotent; runs apt-get only when something is missing (set
# DCR_FORCE_APT=1 to always refresh). Needs root or sudo. Also installs the
# buf CLI (npm package @bufbuild/buf) into .cache/npm for the reflection tests,
# and openid-client (npm) for the public registration endpoint's tests.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
buf_version=1.47.2
# A third-party RFC 7591/7592 client for the public endpoint's tests
# (tests/integration/public_registration_client_test.sh).
openid_client_version=5.7.1

packages=(
  build-essential cmake ninja-build pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libcurl4-openssl-dev libssl-dev nlohmann-json3-dev libsimdjson-dev libjemalloc-dev
  libboost-dev prometheus-cpp-dev libgtest-dev libgmock-dev
  # service/state's Redis store (hiredis' asynchronous API) and its tests'
  # real redis-server (started by each test on loopback, never as a service).
  libhiredis-dev redis-server
  # nghttpx, an HTTP/2 server put in front of the emulator (which speaks
  # HTTP/1.1) by tests/integration/upstream_http2_test.cc; never as a service.
  nghttp2-proxy
  curl python3 python3-yaml ca-certificates
  prometheus
  # tests/fuzz (libFuzzer, its sanitizer runtimes) and tests/sanitize.sh (gcc's).
  clang libclang-rt-14-dev
  # tests/deploy/images_test.sh: builds and runs deploy/Dockerfile's images
  # (rootful podman; runc rather than crun, see tests/deploy/containers.conf;
  # its network plugins and iptables come with it) and makes their base
  # image with debootstrap when no registry is reachable.
  podman runc debootstrap
)
# kubectl renders the Kubernetes overlays in the tests (its built-in
# kustomize); Debian's kubernetes-client unless a kubectl is already there.
if ! command -v kubectl >/dev/null 2>&1; then
  packages+=(kubernetes-client)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [[ ${#missing[@]} -gt 0 || -n "${DCR_FORCE_APT:-}" ]]; then
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  # Packages are installed for their tools (promtool, redis-server and nghttpx
  # for the tests), never to run their services: where no policy-rc.d forbids it, one
  # does during the install, so that no Prometheus server takes port 9090 and
  # no Redis server port 6379.
  policy=""
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
    "${sudo[@]}" chmod +x "$policy"
  fi
  status=0
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" \
    $(command -v npm >/dev/null 2>&1 || echo npm) </dev/null || status=$?
  if [[ -n "$policy" ]]; then "${sudo[@]}" rm -f "$policy"; fi
  [[ $status -eq 0 ]] || exit "$status"
fi

npm_installed() {  # npm_installed PACKAGE VERSION
  local manifest="$root/.cache/npm/node_modules/$1/package.json"
  [[ -f "$manifest" ]] && python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["version"] != sys.argv[2])' "$manifest" "$2"
}
if ! npm_installed openid-client "$openid_client_version"; then
  npm install --silent --no-audit --no-fund --prefix "$root/.cache/npm" \
    "openid-client@$openid_client_version" </dev/null >&2
fi

# The buf binary ships inside the npm package; no download at install time.
buf="$root/.cache/npm/node_modules/.bin/buf"
if [[ ! -x "$buf" ]] || [[ "$("$buf" --version 2>/dev/null)" != "$buf_version" ]]; then
  npm install --silent --no-audit --no-fund --prefix "$root/.cache/npm" \
    "@bufbuild/buf@$buf_version" </dev/null >&2
fi
