#!/usr/bin/env bash
# deploy/Dockerfile's images are FROM scratch plus a root filesystem that
# deploy/rootfs.sh makes in the build stage. Checked here without a container
# engine (tests/deploy/images_test.sh builds and runs the real images):
#   - every FROM scratch stage copies exactly one root filesystem that the
#     build stage's `deploy/rootfs.sh` lines make, and its ENTRYPOINT is one of
#     that root filesystem's binaries; those lines carry exactly BINARY...;
#   - those same lines, run on this build's binaries (/build/ of the Dockerfile
#     = BUILD_DIR), make root filesystems that hold every shared library `ldd`
#     lists, and in which each binary starts with nothing of the host visible
#     (chroot): `--version` (dcrctl: `--help`) exits 0;
#   - the check bites: without libcurl.so.4 the gateway does not start there.
#   runtime_libraries_test.sh BUILD_DIR BINARY...
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
dockerfile="$root/deploy/Dockerfile"
build=$1
shift
fail() { echo "FAIL: $*" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The build stage's rootfs lines: "DIR BINARY..." with the Dockerfile's paths.
grep -oE 'deploy/rootfs\.sh( +/[^ \\]+)+' "$dockerfile" | sed 's#^deploy/rootfs\.sh *##' >"$work/lines"
[[ -s "$work/lines" ]] || fail "no deploy/rootfs.sh line in $dockerfile"
# Each FROM scratch stage: "STAGE COPIED-DIR ENTRYPOINT-BINARY" (and nothing
# but COPY, USER, ENV, EXPOSE, ENTRYPOINT, CMD, LABEL, WORKDIR in it).
awk '/^FROM /{ if (stage != "") print stage, copied, entry; stage = ""; copied = "-"; entry = "-" }
     /^FROM scratch AS /{ stage = $4; next }
     stage == "" || /^#/ || /^[ \t]*$/ { next }
     /^COPY --from=build \/rootfs\/[a-z]+\/ \/$/ { copied = (copied == "-") ? $3 : "TWICE"; next }
     /^ENTRYPOINT \["/ { split($0, a, "\""); entry = a[2]; next }
     /^(USER|ENV|EXPOSE|CMD|LABEL|WORKDIR) / { next }
     { print stage, "BAD-LINE:", $0; stage = "" }
     END { if (stage != "") print stage, copied, entry }' "$dockerfile" >"$work/stages"
[[ $(wc -l <"$work/stages") -ge 2 ]] || fail "expected a gateway and an emulator stage FROM scratch: $(cat "$work/stages")"
while read -r stage copied entry; do
  [[ "$copied" == /rootfs/*/ ]] || fail "stage $stage: $copied $entry"
  line=$(awk -v d="${copied%/}" '$1 == d' "$work/lines")
  [[ -n "$line" ]] || fail "stage $stage copies $copied, which no deploy/rootfs.sh line makes"
  grep -qw "$(basename "$entry")" <<<"${line#* }" || fail "stage $stage runs $entry, not in $copied"
done <"$work/stages"
# The binaries of the lines are exactly the ones given.
expected=$(printf '%s\n' "$@" | sort)
listed=$(cut -d' ' -f2- "$work/lines" | tr ' ' '\n' | sed "s#^/build/#$build/#" | sort)
[[ "$listed" == "$expected" ]] || fail "the images carry
$listed
instead of
$expected"

# run_in ROOTFS COMMAND...: the command with ROOTFS as its whole filesystem.
run_in() {
  if [[ $(id -u) -eq 0 ]]; then chroot "$@"; else unshare --map-root-user chroot "$@"; fi
}
# check_rootfs ROOTFS BINARY...: the ldd libraries present, the binaries start.
check_rootfs() {
  local rootfs=$1 binary lib probe
  shift
  for binary in "$@"; do
    for lib in $(ldd "$binary" | awk '/=> \//{print $3} /^\t\//{print $1}'); do
      [[ -f "$rootfs$(readlink -f "$(dirname "$lib")")/$(basename "$lib")" ]] ||
        { echo "$rootfs lacks $lib, which $(basename "$binary") loads"; return 1; }
    done
    # dcrctl has no --version; its --help exits 0 too.
    probe=--version
    [[ $(basename "$binary") == dcrctl ]] && probe=--help
    run_in "$rootfs" "/usr/local/bin/$(basename "$binary")" "$probe" >"$work/out" 2>&1 ||
      { echo "$(basename "$binary") does not start in $rootfs: $(head -n 3 "$work/out")"; return 1; }
  done
}
while read -r dir binaries; do
  rootfs="$work/rootfs$dir"
  mkdir -p "$(dirname "$rootfs")"
  read -r -a host_binaries <<<"${binaries//\/build\//$build/}"
  "$root/deploy/rootfs.sh" "$rootfs" "${host_binaries[@]}"
  out=$(check_rootfs "$rootfs" "${host_binaries[@]}") || fail "$out"
  [[ -z "$(find "$rootfs" ! -type d \( -name sh -o -name bash -o -name dpkg -o -name apt-get \))" ]] || fail "$rootfs has a shell or a package manager"
  echo "$dir: $(wc -w <<<"$binaries") binaries, $(find "$rootfs" -name '*.so*' | wc -l) libraries, $(du -sh "$rootfs" | cut -f1) (with this build's debug information)"
done <"$work/lines"

# The check bites: the gateway's root filesystem without libcurl.
gateway_rootfs=$(awk '/dcr-gateway/ {print $1; exit}' "$work/lines")
gateway=$(grep -m1 '/dcr-gateway$' <<<"$expected")
find "$work/rootfs$gateway_rootfs" -name 'libcurl.so.4' -delete
if out=$(check_rootfs "$work/rootfs$gateway_rootfs" "$gateway"); then
  fail "the check did not notice libcurl.so.4 missing"
fi
echo "refused, as it must: a root filesystem without libcurl ($out)"
run_in "$work/rootfs$gateway_rootfs" /usr/local/bin/dcr-gateway --version >/dev/null 2>&1 &&
  fail "the gateway started without libcurl.so.4"
echo "runtime libraries: every image's binaries start in their root filesystem alone"
