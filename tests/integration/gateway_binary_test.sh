#!/usr/bin/env bash
# The dcr-gateway binary as operators run it: --help lists every flag (the
# emulator's too),
# configuration errors exit 2 with one clear line, flags can come from
# DCR_* environment variables, and SIGTERM drains and exits 0 promptly. The
# Authlete credential never appears in its output.
# Usage: gateway_binary_test.sh GATEWAY_BINARY EMULATOR_BINARY
set -euo pipefail
gateway=$1 emulator=$2
source "$(dirname "${BASH_SOURCE[0]}")/../../deploy/local/processes.sh"
fail() { dcr_fail "$@"; }

help=$("$gateway" --help 2>&1 || true)
for flag in listen port_file authlete_base_url authlete_api_version authlete_service_id \
    authlete_allowed_service_ids authlete_credential_file authlete_ca_file upstream_timeout \
    upstream_connect_timeout max_metadata_bytes max_upstream_response_bytes \
    max_upstream_connections shutdown_grace log_requests redis_tls redis_tls_ca_file \
    redis_tls_server_name redis_tls_cert_file redis_tls_key_file redis_username; do
  grep -q -- "--$flag" <<<"$help" || fail "--help does not list --$flag"
done

emulator_help=$("$emulator" --help 2>&1 || true)
for flag in listen config store_file threads port_file faults admin_token; do
  grep -q -- "--$flag" <<<"$emulator_help" || fail "emulator --help does not list --$flag"
done

# Configuration errors: exit 2, one line naming the problem.
set +e
out=$(env -u DCR_AUTHLETE_CREDENTIAL "$gateway" --authlete_service_id=1 2>&1); code=$?
set -e
[[ $code -eq 2 ]] || fail "missing credential: exit $code"
grep -q "no Authlete credential" <<<"$out" || fail "missing credential message: $out"
set +e
out=$(DCR_AUTHLETE_CREDENTIAL=x "$gateway" 2>&1); code=$?
set -e
[[ $code -eq 2 ]] || fail "missing service id: exit $code"
grep -q "authlete_service_id" <<<"$out" || fail "missing service id message: $out"
set +e
out=$(DCR_AUTHLETE_CREDENTIAL=x "$gateway" --authlete_service_id=1 2>&1); code=$?
set -e
[[ $code -eq 2 ]] || fail "neither TLS nor plaintext: exit $code"
grep -q "insecure_plaintext" <<<"$out" || fail "neither TLS nor plaintext message: $out"
set +e
out=$(DCR_AUTHLETE_CREDENTIAL=x "$gateway" --authlete_service_id=1 --tls_cert_file=/nonexistent \
  --tls_key_file=/nonexistent 2>&1); code=$?
set -e
[[ $code -eq 1 ]] || fail "unreadable TLS files: exit $code"
grep -q "cannot read /nonexistent" <<<"$out" || fail "unreadable TLS files message: $out"
# Redis TLS settings without --redis_tls would send the password in clear:
# refused, as is half a client certificate.
set +e
out=$(DCR_AUTHLETE_CREDENTIAL=x "$gateway" --authlete_service_id=1 --insecure_plaintext \
  --state_store=redis --state_store_keys_file=/nonexistent --redis_tls_ca_file=/ca.pem 2>&1); code=$?
set -e
[[ $code -eq 2 ]] || fail "Redis TLS flags without --redis_tls: exit $code"
grep -q "redis_tls_\* flags are set but --redis_tls is not" <<<"$out" || fail "Redis TLS message: $out"
set +e
out=$(DCR_AUTHLETE_CREDENTIAL=x "$gateway" --authlete_service_id=1 --insecure_plaintext \
  --state_store=redis --state_store_keys_file=/nonexistent --redis_tls --redis_tls_cert_file=/c.pem 2>&1)
code=$?
set -e
[[ $code -eq 2 ]] || fail "Redis client certificate without key: exit $code"
grep -q "go together" <<<"$out" || fail "Redis client certificate message: $out"
set +e
out=$(DCR_AUTHLETE_CREDENTIAL=x DCR_UPSTREAM_TIMEOUT=soon "$gateway" --authlete_service_id=1 2>&1)
code=$?
set -e
[[ $code -eq 2 ]] || fail "bad env value: exit $code"
grep -q "DCR_UPSTREAM_TIMEOUT" <<<"$out" || fail "bad env message: $out"

dcr_start emulator "$emulator" --listen=127.0.0.1:0

# Everything from the environment and a credential file, as in Kubernetes.
credential=emulator-service-token
printf '%s\n' "$credential" >"$dcr_work/credential"
DCR_LISTEN=127.0.0.1:0 DCR_ADMIN_LISTEN=127.0.0.1:0 DCR_AUTHLETE_BASE_URL="http://127.0.0.1:$emulator_port" \
  DCR_AUTHLETE_SERVICE_ID=21653835348762 DCR_AUTHLETE_CREDENTIAL_FILE="$dcr_work/credential" DCR_INSECURE_PLAINTEXT=true \
  DCR_SHUTDOWN_GRACE=5s DCR_DRAIN_DELAY=1s dcr_start gateway "$gateway"

# The admin port (from the "serving" line) answers /healthz and /metrics.
admin_port=$(grep -o '"admin_port":[0-9]*' "$dcr_work/gateway.log" | head -n 1 | cut -d: -f2)
[[ -n "$admin_port" && "$admin_port" != 0 ]] || fail "no admin port in the log"
[[ $(curl -s "http://127.0.0.1:$admin_port/healthz") == ok ]] || fail "admin /healthz"
curl -s "http://127.0.0.1:$admin_port/metrics" | grep -q '^process_start_time_seconds ' ||
  fail "admin /metrics"

start=$(date +%s%N)
kill -TERM "$gateway_pid"
set +e
wait "$gateway_pid"; code=$?
set -e
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[[ $code -eq 0 ]] || fail "SIGTERM: exit $code; log: $(cat "$dcr_work/gateway.log")"
# The 1 s drain delay (NOT_SERVING while still serving), then an idle stop.
(( elapsed_ms >= 1000 )) || fail "SIGTERM exited before the drain delay: ${elapsed_ms} ms"
(( elapsed_ms < 5000 )) || fail "idle drain took ${elapsed_ms} ms"
grep -q '"msg":"draining"' "$dcr_work/gateway.log" || fail "no draining line"
grep -q '"msg":"stopped"' "$dcr_work/gateway.log" || fail "no stopped line"
if grep -q "$credential" "$dcr_work/gateway.log"; then fail "credential in the log"; fi
echo "gateway binary test passed (SIGTERM to exit: ${elapsed_ms} ms)"
