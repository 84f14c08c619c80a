#!/usr/bin/env bash
# The public RFC 7591/7592 endpoint as a third-party client library sees it:
# openid-client (npm, installed by deploy/local/install-deps.sh) registers,
# reads, updates and deletes a client through the real gateway binary and
# the emulator, its own response checks accepting every answer
# (openid_client_rfc7591.cjs), in each access mode: open, an operator's
# initial access token, and an access token issued by Authlete (the
# emulator) with the "register" scope, introspected by the gateway.
# Usage: public_registration_client_test.sh GATEWAY EMULATOR NODE_MODULES
set -euo pipefail
gateway=$1 emulator=$2 node_modules=$3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../../deploy/local/processes.sh"
fail() { dcr_fail "$@"; }
[[ -d "$node_modules/openid-client" ]] ||
  fail "openid-client is not installed in $node_modules (deploy/local/install-deps.sh installs it)"

# The public port must be known before the emulator starts: Authlete's
# service setting (the emulator's --registration_management_endpoint) names
# it in every registration_client_uri. A port the kernel just called free.
public_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
endpoint="http://127.0.0.1:$public_port/register"
dcr_start emulator "$emulator" --listen=127.0.0.1:0 --registration_management_endpoint="$endpoint"

run_client() {  # run_client MODE [TOKEN]
  local out
  out=$(NODE_PATH="$node_modules" timeout 60 node "$here/openid_client_rfc7591.cjs" "$endpoint" "${@:2}" \
    2>"$dcr_work/client.err") || fail "$1: openid-client flow failed: $(cat "$dcr_work/client.err")"
  python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); assert d["ok"] and d["delete_status"] == 204, d' \
    <<<"$out" || fail "$1: $out"
  echo "$1: $out"
}

start_gateway() {  # start_gateway NAME ACCESS FLAGS...
  local name=$1 access=$2
  shift 2
  DCR_AUTHLETE_CREDENTIAL=emulator-service-token dcr_start "$name" "$gateway" \
    --listen=127.0.0.1:0 --admin_listen= --insecure_plaintext \
    --authlete_base_url="http://127.0.0.1:$emulator_port" --authlete_service_id=21653835348762 \
    --public_registration_listen="127.0.0.1:$public_port" --public_registration_access="$access" "$@"
  # The gRPC port file comes first; wait for the public port too.
  for _ in $(seq 1 50); do
    curl -s -o /dev/null "http://127.0.0.1:$public_port/" && return 0
    sleep 0.1
  done
  fail "$name: the public endpoint did not come up: $(cat "$dcr_work/$name.log")"
}
stop_gateway() {  # stop_gateway NAME
  local pid_var="${1}_pid"
  kill "${!pid_var}"
  wait "${!pid_var}" 2>/dev/null || true
}

start_gateway open open
run_client open
stop_gateway open

token="iat-$(head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
cat >"$dcr_work/initial_access_tokens.json" <<EOF
{"initial_access_tokens": [{"name": "npm-test", "token_sha256": "$(printf %s "$token" | sha256sum | cut -d' ' -f1)",
  "expires_at": "2099-01-01T00:00:00Z", "max_uses": 1}]}
EOF
start_gateway iat initial_access_token \
  --public_registration_initial_access_tokens_file="$dcr_work/initial_access_tokens.json"
run_client initial_access_token "$token"
# Used up: the library reports the refusal as an error of its own.
if NODE_PATH="$node_modules" timeout 60 node "$here/openid_client_rfc7591.cjs" "$endpoint" "$token" \
    >/dev/null 2>"$dcr_work/client.err"; then
  fail "a used-up initial access token registered again"
fi
grep -q "HTTP 401" "$dcr_work/client.err" || fail "used-up token: $(cat "$dcr_work/client.err")"
stop_gateway iat

start_gateway authlete authlete_token
issued=$(curl -sf -X POST "http://127.0.0.1:$emulator_port/emulator/tokens" \
  -H 'Content-Type: application/json' -d '{"scopes":["register"],"expires_in":600}')
access_token=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])' <<<"$issued")
run_client authlete_token "$access_token"
# Refusals as Authlete's introspection words them (RFC 6750), through curl:
# a token without the scope is 403 insufficient_scope, an expired one 401.
refused() {  # refused WHAT STATUS CHALLENGE TOKEN
  local headers="$dcr_work/refused.headers" code
  code=$(curl -s -o "$dcr_work/refused.body" -D "$headers" -w '%{http_code}' -X POST "$endpoint" \
    -H "Authorization: Bearer $4" -H 'Content-Type: application/json' \
    -d '{"redirect_uris":["http://127.0.0.1:41000/cb"],"application_type":"native","token_endpoint_auth_method":"none"}')
  [[ $code == "$2" ]] || fail "$1: HTTP $code, not $2: $(cat "$dcr_work/refused.body")"
  grep -qi "^www-authenticate: Bearer .*error=\"$3\"" "$headers" ||
    fail "$1: no WWW-Authenticate with $3: $(cat "$headers")"
  grep -qi '^cache-control: no-store' "$headers" || fail "$1: no Cache-Control: no-store"
  echo "$1: HTTP $code, $(grep -i '^www-authenticate' "$headers" | tr -d '\r')"
}
token_for() {  # token_for JSON
  curl -sf -X POST "http://127.0.0.1:$emulator_port/emulator/tokens" -H 'Content-Type: application/json' \
    -d "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
read_only=$(token_for '{"scopes":["read"],"expires_in":600}')
expired=$(token_for '{"scopes":["register"],"expires_in":0}')
before=$(curl -sf "http://127.0.0.1:$emulator_port/emulator/stats")
refused "a token without the register scope" 403 insufficient_scope "$read_only"
refused "an expired token" 401 invalid_token "$expired"
refused "a token Authlete never issued" 401 invalid_token "not-a-token-$RANDOM"
after=$(curl -sf "http://127.0.0.1:$emulator_port/emulator/stats")
# Introspected, never registered.
python3 - "$before" "$after" <<'PY' || fail "refused registrations reached Authlete: $before -> $after"
import json, sys
b, a = (json.loads(x) for x in sys.argv[1:])
assert a["register"] == b["register"], (b, a)
assert a["introspection"] == b["introspection"] + 3, (b, a)
PY
stop_gateway authlete

# No token or secret of the run in any log.
for log in "$dcr_work"/*.log; do
  for secret in "$token" "$access_token" "$read_only" "$expired"; do
    grep -qF -- "$secret" "$log" && fail "a token in $(basename "$log")"
  done
done
echo "PASS"
