#!/usr/bin/env bash
# The container images of deploy/Dockerfile, built and run with podman (no
# Docker engine, no registry needed):
#   1. makes the base image debian:bookworm with debootstrap when its storage
#      has none (from the Debian mirror apt uses here; DCR_DEBIAN_MIRROR
#      overrides it);
#   2. builds the gateway and emulator images from deploy/Dockerfile;
#   3. checks them: no shell inside, the non-root user 65532, their sizes;
#   4. runs them as Kubernetes would (read-only root filesystem, all
#      capabilities dropped, no new privileges), their ports published on
#      127.0.0.1 only, on free ports chosen here;
#   5. from the host: gRPC health (buf curl), the admin /readyz and /healthz,
#      register -> get -> update -> delete with the host's dcrctl through the
#      gateway container to the emulator container;
#   6. SIGTERM: both exit 0, the gateway within its drain budget.
# Every container it starts is removed on exit.
#
#   tests/deploy/images_test.sh [--fresh]
#
# Needs root (rootful podman). Images and base image are kept between runs in
# ${DCR_IMAGES_STORAGE:-.cache/images} (podman's own storage, apart from any
# other podman use on the machine); --fresh uses a new, empty storage that is
# deleted afterwards (a cold run, as CI's first). podman runs with
# tests/deploy/containers.conf (this VM family's quirks, not the images').
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
fresh=false
[[ "${1:-}" == "--fresh" ]] && fresh=true
started=$(date +%s)
say() { echo "images_test: $* ($(($(date +%s) - started)) s)"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || fail "needs root for rootful podman: sudo $0"
"$root/deploy/local/install-deps.sh"
build=$("$root/deploy/local/build.sh")
dcrctl="$build/client/dcrctl/dcrctl"
buf="$root/.cache/npm/node_modules/.bin/buf"
for tool in podman runc debootstrap curl python3; do
  command -v "$tool" >/dev/null || fail "$tool not found (deploy/local/install-deps.sh installs it)"
done
[[ -x "$dcrctl" ]] || fail "$dcrctl is not built"
[[ -x "$buf" ]] || fail "$buf is missing (deploy/local/install-deps.sh installs it)"

export CONTAINERS_CONF="$root/tests/deploy/containers.conf"
if $fresh; then
  storage=$(mktemp -d /var/tmp/dcr-images-test.XXXXXX)
else
  storage=${DCR_IMAGES_STORAGE:-$root/.cache/images}
fi
mkdir -p "$storage"
work=$(mktemp -d)
# The whole podman state in $storage: images, layers, its database, and the
# run-time state of the containers (podman checks that these paths stay the
# same from one run to the next).
pm=(podman --root "$storage/root" --runroot "$storage/run" --tmpdir "$storage/tmp")
pm() { "${pm[@]}" "$@"; }
prefix="dcr-images-test-$$"
containers=("$prefix-gateway" "$prefix-emulator")
cleanup() {
  local status=$?
  set +e
  for c in "${containers[@]}"; do
    if pm container exists "$c"; then
      [[ $status -ne 0 ]] && { echo "--- log of $c:"; pm logs "$c" 2>&1 | tail -n 40; } >&2
      pm rm -f -t 0 "$c" >/dev/null
    fi
  done
  if $fresh; then
    pm rmi -a -f >/dev/null 2>&1
    # podman keeps its layer directory mounted (private) once used.
    findmnt -rn -o TARGET | grep "^$storage/" | sort -r | xargs -r -n 1 umount
    rm -rf "$storage"
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# Containers a killed earlier run left behind in this storage (only ever ours).
pm rm -a -f -t 0 >/dev/null

# 1. The base image. debian:bookworm-slim is no longer used by the Dockerfile.
base=docker.io/library/debian:bookworm
if ! pm image exists "$base"; then
  site() {  # the archive apt uses for a label (Debian, Debian-Security)
    apt-get indextargets --format '$(SITE)' "Label: $1" 'Created-By: Packages' 2>/dev/null | head -n 1
  }
  mirror=${DCR_DEBIAN_MIRROR:-$(site Debian)}
  mirror=${mirror:-http://deb.debian.org/debian}
  security=${DCR_DEBIAN_SECURITY_MIRROR:-$(site Debian-Security)}
  security=${security:-${mirror}-security}
  say "making $base: debootstrap --variant=minbase bookworm from $mirror"
  rootfs="$work/bookworm"
  nice -n 5 debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -n 20 "$work/debootstrap.log" >&2; fail "debootstrap failed"; }
  # As Debian's own image: the package lists and caches emptied, the
  # updates and security suites configured.
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
  printf '%s\n' "deb $mirror bookworm main" "deb $mirror bookworm-updates main" \
    "deb $security bookworm-security main" >"$rootfs/etc/apt/sources.list"
  tar -C "$rootfs" --numeric-owner -c . | pm import -q - "$base" >/dev/null
  rm -rf "$rootfs"
fi

# 2. The images, as an operator builds them (README "Deploying to Kubernetes").
gateway_image=localhost/dcr-gateway:test
emulator_image=localhost/authlete-emulator:test
build_image() {  # build_image TAG [--target STAGE]
  local tag=$1
  shift
  nice -n 5 "${pm[@]}" build --network=host --pull=never --build-arg BUILD_JOBS=2 \
    -f "$root/deploy/Dockerfile" -t "$tag" "$@" "$root" >>"$work/build.log" 2>&1 ||
    { tail -n 40 "$work/build.log" >&2; fail "podman build $tag failed"; }
}
say "building $gateway_image and $emulator_image"
build_image "$gateway_image"
build_image "$emulator_image" --target emulator
# The build stage tagged too (from the cache: no work), so that pruning
# removes only earlier builds' layers and keeps this one's as the next run's
# cache (an untagged stage would be pruned, the apt layer with it).
build_image localhost/dcr-images-test-build:test --target build
pm image prune -f >/dev/null
say "built"

# 3. What the images are.
for image in "$gateway_image" "$emulator_image"; do
  user=$(pm image inspect -f '{{.Config.User}}' "$image")
  [[ "$user" == 65532:65532 ]] || fail "$image runs as '$user', not 65532:65532"
  if pm run --rm --network=none --entrypoint /bin/sh "$image" -c true >/dev/null 2>&1; then
    fail "$image has a shell"
  fi
done
size_mb() { pm image inspect -f '{{.Size}}' "$1" | awk '{printf "%.1f", $1 / 1e6}'; }
gateway_mb=$(size_mb "$gateway_image")
emulator_mb=$(size_mb "$emulator_image")
echo "image sizes: dcr-gateway $gateway_mb MB, authlete-emulator $emulator_mb MB"
# Both were about 260 MB on debian:bookworm-slim with apt-installed libraries.
awk -v g="$gateway_mb" -v e="$emulator_mb" 'BEGIN {exit !(g <= 60 && e <= 30)}' ||
  fail "the images grew: dcr-gateway $gateway_mb MB (at most 60), authlete-emulator $emulator_mb MB (at most 30)"

# 4. Run them. Free loopback ports for the published ones.
read -r emulator_port gateway_port admin_port < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))')
hardened=(--read-only --cap-drop=ALL --security-opt=no-new-privileges)
pm run -d --name "$prefix-emulator" "${hardened[@]}" -p "127.0.0.1:$emulator_port:8787" \
  "$emulator_image" --log_requests=true >/dev/null
emulator_ip=$(pm inspect -f '{{.NetworkSettings.IPAddress}}' "$prefix-emulator")
[[ -n "$emulator_ip" ]] || fail "the emulator container has no address"
# The emulator's public test token (tests/emulator/README.md), passed by name.
drain_delay=2 grace=5
DCR_AUTHLETE_CREDENTIAL=emulator-service-token \
  pm run -d --name "$prefix-gateway" "${hardened[@]}" \
  -p "127.0.0.1:$gateway_port:50051" -p "127.0.0.1:$admin_port:9090" \
  -e DCR_AUTHLETE_CREDENTIAL -e DCR_AUTHLETE_BASE_URL="http://$emulator_ip:8787" \
  -e DCR_AUTHLETE_SERVICE_ID=21653835348762 -e DCR_INSECURE_PLAINTEXT=true \
  -e DCR_DRAIN_DELAY="${drain_delay}s" -e DCR_SHUTDOWN_GRACE="${grace}s" \
  "$gateway_image" >/dev/null

# The processes as the kernel sees them: uid 65532, no capability, / read-only.
for c in "${containers[@]}"; do
  pid=$(pm inspect -f '{{.State.Pid}}' "$c")
  [[ "$pid" -gt 0 ]] || fail "$c is not running"
  [[ $(awk '/^Uid:/ {print $2 $3}' "/proc/$pid/status") == 6553265532 ]] || fail "$c does not run as uid 65532"
  [[ $(awk '/^CapEff:/ {print $2}' "/proc/$pid/status") == 0000000000000000 ]] || fail "$c has capabilities"
  [[ $(awk '$5 == "/" {print $6}' "/proc/$pid/mountinfo") == ro,* ]] || fail "$c's root filesystem is writable"
done

# 5. From the host, through the published ports.
wait_for() {  # wait_for WHAT COMMAND...: 30 s at most
  for _ in $(seq 1 60); do "${@:2}" >/dev/null 2>&1 && return 0; sleep 0.5; done
  fail "$1 not reachable"
}
wait_for "the emulator" curl -fsS "http://127.0.0.1:$emulator_port/emulator/health"
wait_for "the gateway's /readyz" curl -fsS "http://127.0.0.1:$admin_port/readyz"
curl -fsS "http://127.0.0.1:$admin_port/healthz" >/dev/null || fail "/healthz"
health=$(timeout 30 "$buf" curl --protocol grpc --http2-prior-knowledge -d '{}' \
  "http://127.0.0.1:$gateway_port/grpc.health.v1.Health/Check") || fail "health check: $health"
grep -q '"status": "SERVING"' <<<"$health" || fail "health: $health"
say "healthy; dcr-gateway on 127.0.0.1:$gateway_port (admin $admin_port), emulator on 127.0.0.1:$emulator_port"

ctl=("$dcrctl" --address="127.0.0.1:$gateway_port" --timeout=20s)
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
"${ctl[@]}" register --output=json --client_name="images test" \
  --redirect_uris=https://images.example.com/cb >"$work/registered.json" || fail "register"
client_id=$(json '["client"]["client_id"]' <"$work/registered.json")
# The registration access token is a secret: a 0600 file, never argv or output.
(umask 077; json '["client"]["registration_access_token"]' <"$work/registered.json" >"$work/token")
got=$("${ctl[@]}" get --output=json --client_id="$client_id" --token_file="$work/token") || fail "get"
[[ $(json '["client"]["metadata"]["client_name"]' <<<"$got") == "images test" ]] || fail "get: wrong client"
updated=$("${ctl[@]}" update --output=json --client_id="$client_id" --token_file="$work/token" \
  --client_name="images test v2" --redirect_uris=https://images.example.com/cb) || fail "update"
[[ $(json '["client"]["metadata"]["client_name"]' <<<"$updated") == "images test v2" ]] || fail "update: not renamed"
deleted=$("${ctl[@]}" delete --output=json --client_id="$client_id" --token_file="$work/token") || fail "delete"
[[ $(json '["action"]' <<<"$deleted") == ACTION_DELETED ]] || fail "delete: not deleted"
code=0
"${ctl[@]}" get --client_id="$client_id" --token_file="$work/token" >/dev/null 2>&1 || code=$?
[[ $code -eq 16 ]] || fail "get after delete: exit code $code, expected 16 (UNAUTHENTICATED)"
# The calls went through to the emulator container.
pm logs "$prefix-emulator" >"$work/emulator.log" 2>&1
grep -q 'POST /api/21653835348762/client/registration/delete 200 DELETED' "$work/emulator.log" ||
  fail "the emulator did not see the delete"
say "register, get, update and delete through the containers"

# 6. SIGTERM: the gateway drains (drain delay, then the grace period for
# calls in flight) and exits 0 within that budget plus start-up slack.
budget=$((drain_delay + grace + 5))
t0=$(date +%s.%N)
pm kill -s TERM "$prefix-gateway" >/dev/null
code=$(timeout "$budget" "${pm[@]}" wait "$prefix-gateway") || fail "the gateway did not exit within ${budget} s of SIGTERM"
took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
[[ "$code" == 0 ]] || fail "the gateway exited with $code after SIGTERM"
pm logs "$prefix-gateway" >"$work/gateway.log" 2>&1
grep -q '"msg":"draining"' "$work/gateway.log" || fail "the gateway's log says nothing of a drain"
pm kill -s TERM "$prefix-emulator" >/dev/null
code=$(timeout 20 "${pm[@]}" wait "$prefix-emulator") || fail "the emulator did not exit within 20 s of SIGTERM"
[[ "$code" == 0 ]] || fail "the emulator exited with $code after SIGTERM"
say "SIGTERM: the gateway exited 0 after $took s (drain ${drain_delay} s + grace ${grace} s), the emulator 0"
echo "images test passed: dcr-gateway $gateway_mb MB, authlete-emulator $emulator_mb MB"
