#!/usr/bin/env bash
# Renders every overlay of deploy/k8s with `kubectl kustomize` and checks the
# objects (check_manifests.py); then proves the check bites by breaking a
# rendered manifest in a few ways and expecting each to be refused.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
check="$root/tests/deploy/check_manifests.py"
command -v kubectl >/dev/null || { echo "FAIL: kubectl not found (deploy/local/install-deps.sh installs it)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for overlay in dev production; do
  kubectl kustomize "$root/deploy/k8s/overlays/$overlay" >"$work/$overlay.yaml" 2>"$work/$overlay.err" ||
    { cat "$work/$overlay.err" >&2; echo "FAIL: $overlay does not render" >&2; exit 1; }
  "$check" "$overlay" "$work/$overlay.yaml"
done
refuse() {  # refuse NAME SED-EXPRESSION OVERLAY
  sed -E "$2" "$work/$3.yaml" >"$work/broken.yaml"
  cmp -s "$work/$3.yaml" "$work/broken.yaml" && { echo "FAIL: the edit '$1' did not apply" >&2; exit 1; }
  if "$check" "$3" "$work/broken.yaml" >"$work/out" 2>&1; then
    echo "FAIL: the check accepted $1" >&2; exit 1
  fi
  echo "refused, as it must: $1 ($(head -n 1 "$work/out"))"
}
refuse "a writable root filesystem" 's/readOnlyRootFilesystem: true/readOnlyRootFilesystem: false/' dev
refuse "a user other than the images' 65532" 's/runAsUser: 65532/runAsUser: 1000/' dev
refuse "an emulator listening off its port" 's#value: 0.0.0.0:8787#value: 0.0.0.0:8080#' dev
refuse "a writable emulator" '/name: authlete-emulator$/,$ s/readOnlyRootFilesystem: true/readOnlyRootFilesystem: false/' dev
refuse "a ClusterIP gRPC Service" 's/clusterIP: None/clusterIP: 10.0.0.1/' dev
refuse "a real-looking secret" 's/credential: REPLACE-ME/credential: 4f3c2a1b9e8d7c6b/' production
refuse "an open public endpoint in production" 's/DCR_PUBLIC_REGISTRATION_ACCESS: authlete_token/DCR_PUBLIC_REGISTRATION_ACCESS: open/' production
refuse "an Ingress to the gRPC Service" 's/^( {12})name: dcr-gateway-registration$/\1name: dcr-gateway/' production
refuse "the public endpoint on the gRPC Service" 's/targetPort: grpc/targetPort: registration/' dev
refuse "an unpinned production image" 's#(image: registry.example.com/platform/dcr-gateway):0.1.0#\1:latest#' production
refuse "a grace period shorter than the drain" 's/terminationGracePeriodSeconds: 30/terminationGracePeriodSeconds: 20/' production
refuse "plaintext gRPC in production" 's#DCR_TLS_CERT_FILE: /etc/dcr-gateway/tls/tls.crt#DCR_INSECURE_PLAINTEXT: "true"#' production
refuse "a native gRPC probe (no TLS)" 's#path: /readyz#path: /healthz#' production
