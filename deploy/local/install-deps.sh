#!/usr/bin/env bash
# Installs what dcr-gateway needs to build and test, from Debian 12 packages.
# Idempotent; runs apt-get only when something is missing (set
# DCR_FORCE_APT=1 to always refresh). Needs root or sudo.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libcurl4-openssl-dev libssl-dev nlohmann-json3-dev
  libboost-dev libgtest-dev libgmock-dev
  curl python3 ca-certificates
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 && -z "${DCR_FORCE_APT:-}" ]]; then
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" </dev/null
