#!/usr/bin/env bash
# The proto as a product, checked with buf (npm @bufbuild/buf, installed into
# .cache/npm by deploy/local/install-deps.sh; a missing buf fails, never skips):
#   buf_check.sh BUF lint      - buf lint of proto/ (rules: proto/buf.yaml)
#   buf_check.sh BUF breaking  - no breaking change against the last release
#   buf_check.sh BUF detects   - the breaking check does fail on a breaking
#                                change (a renumbered field), so a green
#                                "breaking" means something
set -euo pipefail
buf=$1 what=$2
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# The last released API: see README "The proto as a product" to cut one.
released=$(ls "$root"/proto/released/dcr-v1-*.json | sort -V | tail -n 1)
[[ -x "$buf" ]] || { echo "FAIL: buf not found at $buf" >&2; exit 1; }
cd "$root"
case "$what" in
  lint) "$buf" lint proto ;;
  breaking) "$buf" breaking proto --against "$released" ;;
  detects)
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    cp -r proto "$work/proto"
    # Move ClientMetadata.client_name to another field number.
    sed -i -E 's/(optional string client_name = )[0-9]+;/\1999;/' \
      "$work/proto/dcr/v1/client_metadata.proto"
    grep -q 'client_name = 999;' "$work/proto/dcr/v1/client_metadata.proto" ||
      { echo "FAIL: the test's edit did not apply" >&2; exit 1; }
    if "$buf" breaking "$work/proto" --against "$released" >"$work/out" 2>&1; then
      echo "FAIL: buf breaking accepted a renumbered field" >&2
      exit 1
    fi
    grep -q client_name "$work/out" || { cat "$work/out" >&2; exit 1; }
    echo "buf breaking refused the renumbered field, as it must"
    ;;
  *) echo "usage: $0 BUF lint|breaking|detects" >&2; exit 2 ;;
esac
