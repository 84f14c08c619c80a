#!/usr/bin/env bash
# What deploy/Dockerfile's runtime stage can be checked for without a Docker
# engine: every shared library the built binaries load (ldd) belongs to a
# Debian package that the stage's `apt-get install` line brings in, directly
# or as a dependency; and the stage installs no -dev package.
#   runtime_libraries_test.sh BINARY...
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
dockerfile="$root/deploy/Dockerfile"
# The package list of the `apt-get install` in the runtime stage.
listed=$(awk '/^FROM .* AS runtime/{on=1; next} /^FROM /{on=0}
              on && /apt-get install/{grab=1}
              on && grab {print; if ($0 !~ /\\$/) grab=0}' "$dockerfile" |
         tr ' \\' '\n\n' | grep -E '^[a-z0-9][a-z0-9.+-]+$' |
         grep -vE '^(apt-get|install|rm|update)$' | sort -u)
[[ -n "$listed" ]] || { echo "FAIL: no package list found in the runtime stage" >&2; exit 1; }
if grep -E -- '-dev$' <<<"$listed"; then echo "FAIL: -dev package in the runtime stage" >&2; exit 1; fi
owner() {  # the Debian package owning a library path, trying / and /usr forms
  local p
  for p in "$1" "$(readlink -f "$1")" "${1#/usr}" "/usr$1"; do
    dpkg -S "$p" 2>/dev/null | head -n 1 | cut -d: -f1 && return 0
  done
  return 1
}
# The packages whose libraries the binaries load.
needed=$(for binary in "$@"; do
           [[ -x "$binary" ]] || { echo "FAIL: $binary is not built" >&2; exit 1; }
           ldd "$binary" | awk '/=> \//{print $3} /^\t\/lib/{print $1}'
         done | sort -u | while read -r lib; do
           owner "$lib" || echo "UNOWNED:$lib"
         done | sort -u)
grep -q UNOWNED <<<"$needed" && { echo "FAIL: no package owns $(grep UNOWNED <<<"$needed")" >&2; exit 1; }
# missing PACKAGES...: the needed packages that PACKAGES and everything they
# pull in (the slim base image's essentials too) do not provide.
missing() {
  local closure
  closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
              --no-breaks --no-replaces --no-enhances "$@" 2>/dev/null |
            grep -E '^[a-z0-9]' | sed 's/:.*//' | sort -u)
  comm -23 <(echo "$needed") <(echo "$closure")
}
gaps=$(missing $listed)
[[ -z "$gaps" ]] || { echo "FAIL: the runtime stage lacks: $gaps" >&2; exit 1; }
# The check bites: without libcurl4 the gateway could not load.
[[ -n "$(missing $(grep -vx libcurl4 <<<"$listed"))" ]] ||
  { echo "FAIL: the check did not notice libcurl4 missing" >&2; exit 1; }
echo "runtime stage ($(wc -w <<<"$listed") packages) provides all $(wc -l <<<"$needed") packages the binaries load: $(echo $needed)"
