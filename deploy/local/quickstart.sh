#!/usr/bin/env bash
# Quick start: builds everything, starts the Authlete emulator and dcr-gateway
# on this machine, then registers, reads, updates and deletes a demo client
# through dcrctl. With --serve both keep running (for grpcurl) until Ctrl-C.
#
#   deploy/local/quickstart.sh [--serve]
#
# Ports: DCR_GATEWAY_PORT (default 50051), DCR_EMULATOR_PORT (default 8787),
# DCR_PUBLIC_PORT (default 8444: the public RFC 7591/7592 endpoint).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
serve=false
[[ "${1:-}" == "--serve" ]] && serve=true
gateway_port=${DCR_GATEWAY_PORT:-50051}
emulator_port=${DCR_EMULATOR_PORT:-8787}
public_port=${DCR_PUBLIC_PORT:-8444}

"$root/deploy/local/install-deps.sh"
build=$("$root/deploy/local/build.sh")
emulator="$build/tests/emulator/authlete-emulator"
gateway="$build/service/server/dcr-gateway"
dcrctl="$build/client/dcrctl/dcrctl"

source "$root/deploy/local/processes.sh"
work=$dcr_work

echo "== starting the Authlete emulator on 127.0.0.1:$emulator_port"
# The service's registrationManagementEndpoint is the gateway's public
# endpoint, so that registration_client_uri points at it (README "Public
# registration endpoint").
dcr_start emulator "$emulator" --listen="127.0.0.1:$emulator_port" \
  --registration_management_endpoint="http://127.0.0.1:$public_port/register"

echo "== starting dcr-gateway on 127.0.0.1:$gateway_port"
# The emulator's documented default service and its (fake) token. In
# production the credential comes from a Secret file or the environment.
DCR_AUTHLETE_CREDENTIAL=emulator-service-token dcr_start gateway "$gateway" \
  --listen="127.0.0.1:$gateway_port" --admin_listen="127.0.0.1:${DCR_ADMIN_PORT:-9090}" \
  --authlete_base_url="http://127.0.0.1:$emulator_port" --authlete_service_id=21653835348762 \
  --public_registration_listen="127.0.0.1:$public_port" \
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

echo "== the public RFC 7591 endpoint: POST /register, then GET its registration_client_uri"
public=$(curl -sf -X POST "http://127.0.0.1:$public_port/register" -H 'Content-Type: application/json' \
  -d '{"client_name":"Demo CLI","application_type":"native","token_endpoint_auth_method":"none","redirect_uris":["http://127.0.0.1:53682/callback"]}')
uri=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["registration_client_uri"])' <<<"$public")
(umask 077; python3 -c 'import json,sys; print(json.load(sys.stdin)["registration_access_token"])' \
  <<<"$public" >"$work/public_token")
echo "registered through the public endpoint: $uri"
curl -sf "$uri" -H "Authorization: Bearer $(cat "$work/public_token")" >/dev/null
curl -sf -X DELETE "$uri" -H "Authorization: Bearer $(cat "$work/public_token")"
echo "== demo complete: register, get, update, delete all worked (gRPC and public HTTP)"

if $serve; then
  cat <<EOM

The gateway is serving on 127.0.0.1:$gateway_port (emulator on 127.0.0.1:$emulator_port),
its public RFC 7591/7592 endpoint on http://127.0.0.1:$public_port/register.
Try:
  $dcrctl --address=127.0.0.1:$gateway_port register --client_name=Mine --redirect_uris=https://x.example.com/cb
  grpcurl -plaintext 127.0.0.1:$gateway_port list
Logs: $work/gateway.log, $work/emulator.log. Press Ctrl-C to stop.
EOM
  wait
fi
