#!/usr/bin/env bash
# Quick start: builds everything, starts the Authlete emulator and dcr-gateway
# on this machine, then registers, reads, updates and deletes a demo client
# through dcrctl. With --serve both keep running (for grpcurl) until Ctrl-C.
#
#   deploy/local/quickstart.sh [--serve]
#
# Ports: DCR_GATEWAY_PORT (default 50051), DCR_EMULATOR_PORT (default 8787).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
serve=false
[[ "${1:-}" == "--serve" ]] && serve=true
gateway_port=${DCR_GATEWAY_PORT:-50051}
emulator_port=${DCR_EMULATOR_PORT:-8787}

"$root/deploy/local/install-deps.sh"
build=$("$root/deploy/local/build.sh")
emulator="$build/tests/emulator/authlete-emulator"
gateway="$build/service/server/dcr-gateway"
dcrctl="$build/client/dcrctl/dcrctl"

source "$root/deploy/local/processes.sh"
work=$dcr_work

echo "== starting the Authlete emulator on 127.0.0.1:$emulator_port"
dcr_start emulator "$emulator" --listen="127.0.0.1:$emulator_port"

echo "== starting dcr-gateway on 127.0.0.1:$gateway_port"
# The emulator's documented default service and its (fake) token. In
# production the credential comes from a Secret file or the environment.
DCR_AUTHLETE_CREDENTIAL=emulator-service-token dcr_start gateway "$gateway" \
  --listen="127.0.0.1:$gateway_port" --admin_listen="127.0.0.1:${DCR_ADMIN_PORT:-9090}" \
  --authlete_base_url="http://127.0.0.1:$emulator_port" --authlete_service_id=21653835348762 \
  --insecure_plaintext  # loopback only; see README "Caller security" for TLS

ctl=("$dcrctl" --address="127.0.0.1:$gateway_port")
echo "== dcrctl register"
"${ctl[@]}" register --output=json --client_name="Demo Portal" \
  --redirect_uris=https://portal.example.com/callback >"$work/registered.json"
client_id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client"]["client_id"])' <"$work/registered.json")
# The registration access token is a secret: it goes to a 0600 file, not argv.
(umask 077; python3 -c 'import json,sys; print(json.load(sys.stdin)["client"]["registration_access_token"])' \
  <"$work/registered.json" >"$work/token")
echo "registered client_id=$client_id"

echo "== dcrctl get"
"${ctl[@]}" get --client_id="$client_id" --token_file="$work/token"
echo "== dcrctl update"
"${ctl[@]}" update --client_id="$client_id" --token_file="$work/token" \
  --client_name="Demo Portal v2" --redirect_uris=https://portal.example.com/callback
echo "== dcrctl delete"
"${ctl[@]}" delete --client_id="$client_id" --token_file="$work/token"
echo "== dcrctl get (after delete: expect UNAUTHENTICATED, exit code 16)"
set +e
"${ctl[@]}" get --client_id="$client_id" --token_file="$work/token"
code=$?
set -e
if [[ $code -ne 16 ]]; then
  echo "quickstart: expected exit code 16, got $code" >&2
  exit 1
fi
echo "== demo complete: register, get, update, delete all worked"

if $serve; then
  cat <<EOM

The gateway is serving on 127.0.0.1:$gateway_port (emulator on 127.0.0.1:$emulator_port).
Try:
  $dcrctl --address=127.0.0.1:$gateway_port register --client_name=Mine --redirect_uris=https://x.example.com/cb
  grpcurl -plaintext 127.0.0.1:$gateway_port list
Logs: $work/gateway.log, $work/emulator.log. Press Ctrl-C to stop.
EOM
  wait
fi
