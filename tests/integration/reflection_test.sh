#!/usr/bin/env bash
# Server reflection as grpcurl uses it, exercised with `buf curl` (grpcurl is
# not packaged for Debian 12): list the services and methods, then call all
# four RPCs with JSON input, the schema coming from reflection alone.
# Usage: reflection_test.sh GATEWAY_BINARY EMULATOR_BINARY BUF_BINARY
set -euo pipefail
gateway=$1 emulator=$2 buf=$3
source "$(dirname "${BASH_SOURCE[0]}")/../../deploy/local/processes.sh"
fail() { dcr_fail "$@"; }

dcr_start emulator "$emulator" --listen=127.0.0.1:0
DCR_AUTHLETE_CREDENTIAL=emulator-service-token dcr_start gateway "$gateway" \
  --listen=127.0.0.1:0 --admin_listen= --insecure_plaintext --authlete_base_url="http://127.0.0.1:$emulator_port" \
  --authlete_service_id=21653835348762
port=$gateway_port
url="http://127.0.0.1:$port"
b() { timeout 30 "$buf" curl --protocol grpc --http2-prior-knowledge "$@"; }
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(d$1)"; }

services=$(b --list-services "$url")
grep -qx "dcr.v1.ClientRegistrationService" <<<"$services" || fail "service not listed: $services"
grep -qx "grpc.health.v1.Health" <<<"$services" || fail "health not listed: $services"
grep -qx "grpc.reflection.v1.ServerReflection" <<<"$services" || fail "reflection not listed: $services"
# The older protocol name answers the same.
alpha=$(b --reflect-protocol grpc-v1alpha --list-services "$url")
[[ "$alpha" == "$services" ]] || fail "v1alpha lists other services: $alpha"
methods=$(b --list-methods "$url")
for m in RegisterClient GetClient UpdateClient DeleteClient; do
  grep -qx "dcr.v1.ClientRegistrationService/$m" <<<"$methods" || fail "$m not listed: $methods"
done

svc="$url/dcr.v1.ClientRegistrationService"
b -d '{"metadata":{"client_name":"reflection","redirect_uris":["https://r.example.com/cb"],"additional_metadata":{"client_name#ja":"リフレクション"}}}' \
  "$svc/RegisterClient" >"$dcr_work/registered.json"
[[ $(field '["action"]' <"$dcr_work/registered.json") == ACTION_CREATED ]] || fail "register: $(cat "$dcr_work/registered.json")"
client_id=$(field '["client"]["clientId"]' <"$dcr_work/registered.json")
token=$(field '["client"]["registrationAccessToken"]' <"$dcr_work/registered.json")
[[ $(field '["client"]["metadata"]["additionalMetadata"]["client_name#ja"]' <"$dcr_work/registered.json") == "リフレクション" ]] \
  || fail "language-tagged name lost"

creds="\"client_id\":\"$client_id\",\"registration_access_token\":\"$token\""
got=$(b -d "{$creds}" "$svc/GetClient")
[[ $(field '["client"]["metadata"]["clientName"]' <<<"$got") == reflection ]] || fail "get: $got"
updated=$(b -d "{$creds,\"metadata_json\":\"{\\\"redirect_uris\\\":[\\\"https://r.example.com/cb\\\"],\\\"client_name\\\":\\\"renamed\\\"}\"}" "$svc/UpdateClient")
[[ $(field '["client"]["metadata"]["clientName"]' <<<"$updated") == renamed ]] || fail "update: $updated"
deleted=$(b -d "{$creds}" "$svc/DeleteClient")
[[ $(field '["action"]' <<<"$deleted") == ACTION_DELETED ]] || fail "delete: $deleted"

# After the delete: an error status, code unauthenticated, with the detail.
if after=$(b -d "{$creds}" "$svc/GetClient" 2>&1); then fail "get after delete succeeded: $after"; fi
grep -q '"code": "unauthenticated"' <<<"$after" || fail "expected unauthenticated: $after"
grep -q 'dcr.v1.RegistrationError' <<<"$after" || fail "detail missing: $after"

# Health is described by reflection too, and answers SERVING.
health=$(b -d '{}' "$url/grpc.health.v1.Health/Check")
[[ $(field '["status"]' <<<"$health") == SERVING ]] || fail "health: $health"
echo "reflection test passed"
