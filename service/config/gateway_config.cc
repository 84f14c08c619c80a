#include "service/config/gateway_config.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "service/admission/in_flight_budget.h"

ABSL_FLAG(std::string, listen, "0.0.0.0:50051",
          "gRPC listen address host:port; port 0 picks a free port");
ABSL_FLAG(std::string, tls_cert_file, "",
          "PEM certificate chain for TLS on the gRPC port (reloaded when it changes)");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key for --tls_cert_file");
ABSL_FLAG(std::string, tls_client_ca_file, "",
          "PEM CA bundle: turns on mutual TLS; verified client certificates identify callers");
ABSL_FLAG(bool, tls_require_client_certificate, true,
          "with --tls_client_ca_file: refuse connections without a client certificate "
          "(false: callers may use an API key instead)");
ABSL_FLAG(absl::Duration, tls_reload_interval, absl::Seconds(60),
          "how often the TLS files are checked for changes");
ABSL_FLAG(bool, insecure_plaintext, false,
          "serve gRPC without TLS (only behind a mesh or proxy that terminates TLS); "
          "required when no --tls_cert_file is given");
ABSL_FLAG(std::string, callers_file, "",
          "JSON file naming the callers (API key hashes, certificate identities) and what "
          "each may do; empty: every caller may do everything");
ABSL_FLAG(bool, audit_reads, false,
          "write an audit log line for GetClient too (always for the other RPCs)");
ABSL_FLAG(absl::Duration, drain_delay, absl::Seconds(3),
          "after SIGTERM, time spent reporting NOT_SERVING while still serving, before "
          "the gRPC server stops accepting calls");
ABSL_FLAG(std::string, port_file, "",
          "if set, write the bound gRPC port to this file once serving");
ABSL_FLAG(std::string, authlete_base_url, "us",
          "Authlete API base: us, jp, eu, br (v3 clusters), v2 (shared v2 server) "
          "or a URL such as http://127.0.0.1:8787 for the emulator");
ABSL_FLAG(std::string, authlete_api_version, "3",
          "Authlete API version: 3 (Bearer token) or 2 (Basic API key/secret)");
ABSL_FLAG(std::string, authlete_service_id, "",
          "default Authlete service id (numeric API key); required");
ABSL_FLAG(std::vector<std::string>, authlete_allowed_service_ids, {},
          "comma-separated other service ids requests may name (API v3 with an "
          "organization token)");
ABSL_FLAG(std::string, authlete_credential_file, "",
          "file holding the Authlete credential (v3 token or v2 API secret), e.g. a "
          "Kubernetes Secret mount; otherwise the DCR_AUTHLETE_CREDENTIAL environment "
          "variable is used");
ABSL_FLAG(std::string, authlete_ca_file, "",
          "CA bundle to verify Authlete's TLS certificate; default: the system's");
ABSL_FLAG(absl::Duration, upstream_timeout, absl::Seconds(10),
          "maximum time for one call to Authlete; a shorter caller deadline wins");
ABSL_FLAG(absl::Duration, upstream_connect_timeout, absl::Seconds(3),
          "maximum time to connect to Authlete");
ABSL_FLAG(int64_t, max_metadata_bytes, 64 * 1024,
          "largest client metadata document accepted");
ABSL_FLAG(int64_t, max_upstream_response_bytes, 1024 * 1024,
          "largest Authlete response accepted");
ABSL_FLAG(int64_t, max_upstream_connections, 0,
          "connections to Authlete at most; 0: no limit");
ABSL_FLAG(int32_t, upstream_max_attempts, 3,
          "attempts per call to Authlete, the first included, when a retry is safe "
          "(README \"Resilience\"); 1: no retries");
ABSL_FLAG(absl::Duration, upstream_initial_backoff, absl::Milliseconds(100),
          "wait before the first retry (then doubling, with full jitter)");
ABSL_FLAG(absl::Duration, upstream_max_backoff, absl::Seconds(2),
          "longest wait between retries, unless Authlete's Retry-After asks for more");
ABSL_FLAG(absl::Duration, upstream_get_attempt_timeout, absl::Seconds(3),
          "time limit of a GetClient attempt that can still be retried");
ABSL_FLAG(int32_t, circuit_failure_threshold, 5,
          "consecutive failed calls of one RPC that open its circuit; 0: no circuit breaker");
ABSL_FLAG(absl::Duration, circuit_open_for, absl::Seconds(10),
          "how long an open circuit fails calls fast before a probe call is let through");
ABSL_FLAG(int32_t, max_upstream_in_flight, 0,
          "calls in flight to Authlete at most, e.g. to spare a shared Authlete; more get "
          "RESOURCE_EXHAUSTED; 0: none beyond the memory budget's");
ABSL_FLAG(int64_t, memory_budget_bytes, 0,
          "bytes the calls in flight may hold (estimated per call; README \"Memory and "
          "overload\"); more calls get RESOURCE_EXHAUSTED at once; 0: 50% of the container's "
          "memory limit, or of 384 MiB without one");
ABSL_FLAG(int64_t, max_calls_in_flight, 0,
          "calls in flight at most; 0: the memory budget divided by a call's base cost");
ABSL_FLAG(double, caller_budget_share, 0.75,
          "with a callers file, the share of the memory budget and of the calls in flight "
          "one caller may hold, in (0, 1]");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(20),
          "on SIGTERM/SIGINT, time allowed for in-flight calls to finish");
ABSL_FLAG(bool, log_requests, true, "log one line per RPC (never with a secret)");
ABSL_FLAG(std::string, admin_listen, "0.0.0.0:9090",
          "host:port of the admin HTTP port serving GET /metrics (Prometheus) and "
          "/healthz; empty: no admin port");

ABSL_FLAG(std::string, state_store, "in_process",
          "where RegisterClient's request_id records live: in_process (this replica "
          "only) or redis (shared by every replica pointing at the same Redis)");
ABSL_FLAG(std::string, redis_address, "127.0.0.1:6379",
          "host:port of the Redis for --state_store=redis");
ABSL_FLAG(std::string, redis_password_file, "",
          "file holding the Redis AUTH password (a Secret mount); empty: no AUTH");
ABSL_FLAG(std::string, redis_username, "",
          "Redis ACL user for AUTH (Redis 6+); empty: the default user");
ABSL_FLAG(bool, redis_tls, false,
          "TLS to Redis, the server's certificate verified (README \"Shared state\")");
ABSL_FLAG(std::string, redis_tls_ca_file, "",
          "PEM CAs the Redis certificate must chain to; empty: the system's CAs");
ABSL_FLAG(std::string, redis_tls_server_name, "",
          "name (DNS or IP) the Redis certificate must carry, sent as SNI; empty: "
          "the host of --redis_address");
ABSL_FLAG(std::string, redis_tls_cert_file, "",
          "client certificate (PEM) for a Redis that asks for one; with --redis_tls_key_file");
ABSL_FLAG(std::string, redis_tls_key_file, "",
          "key (PEM) of --redis_tls_cert_file");
ABSL_FLAG(std::string, redis_key_prefix, "dcr:",
          "prefix of every Redis key the gateway writes");
ABSL_FLAG(std::string, state_store_keys_file, "",
          "keys file sealing the records the gateway writes to Redis (README \"Shared "
          "state\"); required with --state_store=redis");
ABSL_FLAG(std::string, state_store_unavailable, "refuse",
          "when Redis cannot be reached: refuse (calls that need it fail UNAVAILABLE, "
          "never sent: no duplicate client possible) or local (this replica's own "
          "records meanwhile)");
ABSL_FLAG(int64_t, state_store_max_records, 100000,
          "request_id records the in-process store (and the local fallback) holds at most; "
          "beyond, new request_ids are refused, never evicted");
ABSL_FLAG(std::string, public_registration_listen, "",
          "host:port of the public RFC 7591/7592 endpoint (POST /register, GET/PUT/DELETE "
          "/register/{client_id}); empty: none. TLS as the gRPC port");
ABSL_FLAG(std::string, public_registration_access, "open",
          "who may POST /register: open, initial_access_token or authlete_token");
ABSL_FLAG(std::string, public_registration_policy_file, "",
          "JSON policy of public registrations (redirect URIs, grant types, auth methods); "
          "empty: the default policy");
ABSL_FLAG(std::string, public_registration_initial_access_tokens_file, "",
          "with --public_registration_access=initial_access_token: the tokens (SHA-256), "
          "their expiry, uses and policy");
ABSL_FLAG(std::string, public_registration_required_scope, "register",
          "with --public_registration_access=authlete_token: the scope the token must carry");
ABSL_FLAG(std::vector<std::string>, public_registration_trusted_proxies, {},
          "addresses or CIDRs whose Forwarded / X-Forwarded-For headers are believed");
ABSL_FLAG(double, public_registration_rate_per_address, 1,
          "requests per second per client address (token bucket)");
ABSL_FLAG(double, public_registration_burst_per_address, 10, "burst per client address");
ABSL_FLAG(int64_t, public_registration_max_addresses, 10000,
          "client addresses whose buckets are remembered (least recently seen evicted)");
ABSL_FLAG(double, public_registration_global_rate, 100,
          "requests per second on the whole public endpoint");
ABSL_FLAG(double, public_registration_global_burst, 200, "burst of the whole public endpoint");
ABSL_FLAG(int32_t, public_registration_max_connections, 256,
          "connections at a time on the public endpoint; more are closed at accept");
ABSL_FLAG(int64_t, public_registration_max_body_bytes, 64 * 1024,
          "largest request body (413 beyond)");
ABSL_FLAG(int64_t, public_registration_max_header_bytes, 8 * 1024,
          "largest request head (431 beyond)");
ABSL_FLAG(absl::Duration, public_registration_header_timeout, absl::Seconds(5),
          "time for a whole request head to arrive");
ABSL_FLAG(absl::Duration, public_registration_read_timeout, absl::Seconds(10),
          "time for a body, or for the next request on a kept-alive connection");
ABSL_FLAG(int32_t, public_registration_max_requests_per_connection, 100,
          "requests on one kept-alive connection before it is closed");
ABSL_FLAG(absl::Duration, request_id_retention, absl::Hours(1),
          "how long a RegisterClient reply is kept for retries with the same request_id");

namespace dcr::config {
namespace {

constexpr char kCredentialEnv[] = "DCR_AUTHLETE_CREDENTIAL";

absl::StatusOr<std::string> ReadCredentialFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read the Authlete credential file ", path));
  }
  std::ostringstream text;
  text << in.rdbuf();
  // Secret files usually end with a newline that is not part of the secret.
  return std::string(absl::StripAsciiWhitespace(text.str()));
}

}  // namespace

absl::string_view StateStoreKindName(StateStoreConfig::Kind kind) {
  return kind == StateStoreConfig::Kind::kRedis ? "redis" : "in_process";
}

absl::string_view WhenUnavailableName(StateStoreConfig::WhenUnavailable mode) {
  return mode == StateStoreConfig::WhenUnavailable::kLocal ? "local" : "refuse";
}

absl::string_view AccessName(PublicRegistrationConfig::Access access) {
  switch (access) {
    case PublicRegistrationConfig::Access::kInitialAccessToken:
      return "initial_access_token";
    case PublicRegistrationConfig::Access::kAuthleteToken:
      return "authlete_token";
    default:
      return "open";
  }
}

bool IsValidServiceId(absl::string_view id) {
  if (id.empty() || id.size() > 32) return false;
  for (char c : id) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

std::vector<std::string> GatewayFlagNames() {
  return {"listen",
          "tls_cert_file",
          "tls_key_file",
          "tls_client_ca_file",
          "tls_require_client_certificate",
          "tls_reload_interval",
          "insecure_plaintext",
          "callers_file",
          "audit_reads",
          "drain_delay",
          "port_file",
          "authlete_base_url",
          "authlete_api_version",
          "authlete_service_id",
          "authlete_allowed_service_ids",
          "authlete_credential_file",
          "authlete_ca_file",
          "upstream_timeout",
          "upstream_connect_timeout",
          "max_metadata_bytes",
          "max_upstream_response_bytes",
          "max_upstream_connections",
          "upstream_max_attempts",
          "upstream_initial_backoff",
          "upstream_max_backoff",
          "upstream_get_attempt_timeout",
          "circuit_failure_threshold",
          "circuit_open_for",
          "max_upstream_in_flight",
          "memory_budget_bytes",
          "max_calls_in_flight",
          "caller_budget_share",
          "shutdown_grace",
          "log_requests",
          "admin_listen",
          "state_store",
          "redis_address",
          "redis_password_file",
          "redis_username",
          "redis_tls",
          "redis_tls_ca_file",
          "redis_tls_server_name",
          "redis_tls_cert_file",
          "redis_tls_key_file",
          "redis_key_prefix",
          "state_store_keys_file",
          "state_store_unavailable",
          "request_id_retention",
          "state_store_max_records",
          "public_registration_listen",
          "public_registration_access",
          "public_registration_policy_file",
          "public_registration_initial_access_tokens_file",
          "public_registration_required_scope",
          "public_registration_trusted_proxies",
          "public_registration_rate_per_address",
          "public_registration_burst_per_address",
          "public_registration_max_addresses",
          "public_registration_global_rate",
          "public_registration_global_burst",
          "public_registration_max_connections",
          "public_registration_max_body_bytes",
          "public_registration_max_header_bytes",
          "public_registration_header_timeout",
          "public_registration_read_timeout",
          "public_registration_max_requests_per_connection"};
}

absl::Status ApplyEnvironmentToFlags() {
  for (const std::string& name : GatewayFlagNames()) {
    const std::string env = absl::StrCat("DCR_", absl::AsciiStrToUpper(name));
    const char* value = std::getenv(env.c_str());
    if (value == nullptr) continue;
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    std::string error;
    if (flag == nullptr || !flag->ParseFrom(value, &error)) {
      return absl::InvalidArgumentError(absl::StrCat("environment variable ", env, ": ", error));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateConfig(const GatewayConfig& config) {
  if (!IsValidServiceId(config.default_service_id)) {
    return absl::InvalidArgumentError(
        "an Authlete service id (numeric API key) is required: --authlete_service_id");
  }
  for (const std::string& id : config.allowed_service_ids) {
    if (!IsValidServiceId(id)) {
      return absl::InvalidArgumentError(
          absl::StrCat("allowed service id \"", id, "\" is not a numeric API key"));
    }
  }
  if (config.authlete.api_version == authlete::ApiVersion::kV2 &&
      !config.allowed_service_ids.empty()) {
    // v2 authenticates with one service's own key and secret.
    return absl::InvalidArgumentError(
        "--authlete_allowed_service_ids needs Authlete API v3 (an organization token)");
  }
  if (config.authlete.credential.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "no Authlete credential: set --authlete_credential_file or ", kCredentialEnv));
  }
  if (config.authlete.base_url.empty()) {
    return absl::InvalidArgumentError("no Authlete base URL");
  }
  if (config.max_upstream_timeout <= absl::ZeroDuration() ||
      config.upstream_connect_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("upstream timeouts must be positive");
  }
  if (config.max_metadata_bytes == 0 || config.max_upstream_response_bytes == 0) {
    return absl::InvalidArgumentError("size limits must be positive");
  }
  const resilience::ResilienceOptions& r = config.resilience;
  if (r.max_attempts < 1 || r.max_attempts > 10) {
    return absl::InvalidArgumentError("--upstream_max_attempts must be between 1 and 10");
  }
  if (r.backoff.initial < absl::ZeroDuration() || r.backoff.maximum < r.backoff.initial ||
      r.get_attempt_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "backoffs must be >= 0 with the maximum >= the initial, and the Get attempt "
        "timeout positive");
  }
  if (r.circuit_breaker.failure_threshold < 0 ||
      r.circuit_breaker.open_for <= absl::ZeroDuration() || r.max_in_flight < 0) {
    return absl::InvalidArgumentError(
        "the circuit threshold and the in-flight bound must be >= 0, the open time positive");
  }
  const AdmissionConfig& admission = config.admission;
  if (admission.memory_budget_bytes < 0 || admission.max_calls_in_flight < 0) {
    return absl::InvalidArgumentError(
        "--memory_budget_bytes and --max_calls_in_flight must be >= 0 (0: derived)");
  }
  // A budget that cannot hold one call of the largest size would refuse
  // every such call: a configuration error, not an overload.
  const int64_t largest_call = admission::CallCost(config.max_metadata_bytes);
  if (admission.memory_budget_bytes > 0 && admission.memory_budget_bytes < largest_call) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--memory_budget_bytes must hold at least one call of --max_metadata_bytes (",
        largest_call, " bytes)"));
  }
  if (!(admission.caller_budget_share > 0 && admission.caller_budget_share <= 1)) {
    return absl::InvalidArgumentError("--caller_budget_share must be in (0, 1]");
  }
  const CallerTlsConfig& tls = config.tls;
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return absl::InvalidArgumentError("--tls_cert_file and --tls_key_file go together");
  }
  if (tls.cert_file.empty() && !config.insecure_plaintext) {
    return absl::InvalidArgumentError(
        "no TLS certificate for the gRPC port: set --tls_cert_file and --tls_key_file, or "
        "--insecure_plaintext when a mesh or proxy terminates TLS");
  }
  if (!tls.cert_file.empty() && config.insecure_plaintext) {
    return absl::InvalidArgumentError("--insecure_plaintext contradicts --tls_cert_file");
  }
  if (!tls.client_ca_file.empty() && tls.cert_file.empty()) {
    return absl::InvalidArgumentError("--tls_client_ca_file needs --tls_cert_file");
  }
  if (tls.reload_interval < absl::Seconds(1)) {
    return absl::InvalidArgumentError("--tls_reload_interval must be at least 1s");
  }
  if (config.drain_delay < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--drain_delay must not be negative");
  }
  const StateStoreConfig& store = config.state_store;
  if (store.max_records < 1) {
    return absl::InvalidArgumentError("--state_store_max_records must be at least 1");
  }
  if (store.request_id_retention < absl::Minutes(1)) {
    return absl::InvalidArgumentError("--request_id_retention must be at least 1m");
  }
  if (store.kind == StateStoreConfig::Kind::kRedis) {
    if (store.redis_host.empty() || store.redis_port <= 0 || store.redis_port > 65535) {
      return absl::InvalidArgumentError("--redis_address must be host:port");
    }
    if (store.keys_file.empty()) {
      return absl::InvalidArgumentError(
          "--state_store=redis needs --state_store_keys_file (records hold secrets and are "
          "sealed before they leave the process)");
    }
    if (store.redis_tls_cert_file.empty() != store.redis_tls_key_file.empty()) {
      return absl::InvalidArgumentError(
          "--redis_tls_cert_file and --redis_tls_key_file go together");
    }
    if (!store.redis_tls && (!store.redis_tls_ca_file.empty() ||
                             !store.redis_tls_server_name.empty() ||
                             !store.redis_tls_cert_file.empty())) {
      // Likely a forgotten --redis_tls: the password would cross in clear.
      return absl::InvalidArgumentError("--redis_tls_* flags are set but --redis_tls is not");
    }
  }
  const PublicRegistrationConfig& pub = config.public_registration;
  if (!pub.listen_address.empty()) {
    if (pub.access == PublicRegistrationConfig::Access::kInitialAccessToken &&
        pub.initial_access_tokens_file.empty()) {
      return absl::InvalidArgumentError(
          "--public_registration_access=initial_access_token needs "
          "--public_registration_initial_access_tokens_file");
    }
    if (!(pub.per_address_rate > 0) || !(pub.global_rate > 0) || pub.per_address_burst < 1 ||
        pub.global_burst < 1 || pub.max_addresses < 1) {
      return absl::InvalidArgumentError(
          "public registration rates must be positive, bursts and --public_registration_"
          "max_addresses at least 1");
    }
    if (pub.max_connections < 1 || pub.max_requests_per_connection < 1 ||
        pub.max_body_bytes < 1 || pub.max_header_bytes < 256) {
      return absl::InvalidArgumentError(
          "public registration limits: connections and requests per connection at least 1, "
          "body at least 1 byte, head at least 256 bytes");
    }
    if (pub.header_timeout <= absl::ZeroDuration() || pub.read_timeout <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError("public registration timeouts must be positive");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<GatewayConfig> ConfigFromFlags() {
  GatewayConfig config;
  config.listen_address = absl::GetFlag(FLAGS_listen);
  config.tls.cert_file = absl::GetFlag(FLAGS_tls_cert_file);
  config.tls.key_file = absl::GetFlag(FLAGS_tls_key_file);
  config.tls.client_ca_file = absl::GetFlag(FLAGS_tls_client_ca_file);
  config.tls.require_client_certificate = absl::GetFlag(FLAGS_tls_require_client_certificate);
  config.tls.reload_interval = absl::GetFlag(FLAGS_tls_reload_interval);
  config.insecure_plaintext = absl::GetFlag(FLAGS_insecure_plaintext);
  config.callers_file = absl::GetFlag(FLAGS_callers_file);
  config.audit_reads = absl::GetFlag(FLAGS_audit_reads);
  config.drain_delay = absl::GetFlag(FLAGS_drain_delay);
  absl::StatusOr<std::string> base_url =
      authlete::ResolveBaseUrl(absl::GetFlag(FLAGS_authlete_base_url));
  if (!base_url.ok()) return base_url.status();
  config.authlete.base_url = *std::move(base_url);
  absl::StatusOr<authlete::ApiVersion> version =
      authlete::ParseApiVersion(absl::GetFlag(FLAGS_authlete_api_version));
  if (!version.ok()) return version.status();
  config.authlete.api_version = *version;
  config.default_service_id = absl::GetFlag(FLAGS_authlete_service_id);
  for (const std::string& id : absl::GetFlag(FLAGS_authlete_allowed_service_ids)) {
    const std::string trimmed(absl::StripAsciiWhitespace(id));
    if (!trimmed.empty() && trimmed != config.default_service_id) {
      config.allowed_service_ids.insert(trimmed);
    }
  }
  const std::string credential_file = absl::GetFlag(FLAGS_authlete_credential_file);
  if (!credential_file.empty()) {
    absl::StatusOr<std::string> credential = ReadCredentialFile(credential_file);
    if (!credential.ok()) return credential.status();
    config.authlete.credential = *std::move(credential);
  } else if (const char* env = std::getenv(kCredentialEnv); env != nullptr) {
    config.authlete.credential = std::string(absl::StripAsciiWhitespace(env));
  }
  config.authlete_ca_file = absl::GetFlag(FLAGS_authlete_ca_file);
  config.max_upstream_timeout = absl::GetFlag(FLAGS_upstream_timeout);
  config.upstream_connect_timeout = absl::GetFlag(FLAGS_upstream_connect_timeout);
  const int64_t max_metadata = absl::GetFlag(FLAGS_max_metadata_bytes);
  const int64_t max_response = absl::GetFlag(FLAGS_max_upstream_response_bytes);
  if (max_metadata <= 0 || max_response <= 0) {
    return absl::InvalidArgumentError("size limits must be positive");
  }
  config.max_metadata_bytes = static_cast<std::size_t>(max_metadata);
  config.max_upstream_response_bytes = static_cast<std::size_t>(max_response);
  config.max_upstream_connections = absl::GetFlag(FLAGS_max_upstream_connections);
  config.resilience.max_attempts = absl::GetFlag(FLAGS_upstream_max_attempts);
  config.resilience.backoff.initial = absl::GetFlag(FLAGS_upstream_initial_backoff);
  config.resilience.backoff.maximum = absl::GetFlag(FLAGS_upstream_max_backoff);
  config.resilience.get_attempt_timeout = absl::GetFlag(FLAGS_upstream_get_attempt_timeout);
  config.resilience.circuit_breaker.failure_threshold =
      absl::GetFlag(FLAGS_circuit_failure_threshold);
  config.resilience.circuit_breaker.open_for = absl::GetFlag(FLAGS_circuit_open_for);
  config.resilience.max_in_flight = absl::GetFlag(FLAGS_max_upstream_in_flight);
  config.admission.memory_budget_bytes = absl::GetFlag(FLAGS_memory_budget_bytes);
  config.admission.max_calls_in_flight = absl::GetFlag(FLAGS_max_calls_in_flight);
  config.admission.caller_budget_share = absl::GetFlag(FLAGS_caller_budget_share);
  config.shutdown_grace = absl::GetFlag(FLAGS_shutdown_grace);
  config.log_requests = absl::GetFlag(FLAGS_log_requests);
  config.admin_listen_address = absl::GetFlag(FLAGS_admin_listen);
  StateStoreConfig& store = config.state_store;
  const std::string kind = absl::GetFlag(FLAGS_state_store);
  if (kind == "redis") {
    store.kind = StateStoreConfig::Kind::kRedis;
  } else if (kind != "in_process") {
    return absl::InvalidArgumentError("--state_store must be in_process or redis");
  }
  const std::string address = absl::GetFlag(FLAGS_redis_address);
  const std::size_t colon = address.rfind(':');
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(absl::string_view(address).substr(colon + 1), &store.redis_port)) {
    return absl::InvalidArgumentError("--redis_address must be host:port");
  }
  store.redis_host = address.substr(0, colon);
  store.redis_password_file = absl::GetFlag(FLAGS_redis_password_file);
  store.redis_username = absl::GetFlag(FLAGS_redis_username);
  store.redis_tls = absl::GetFlag(FLAGS_redis_tls);
  store.redis_tls_ca_file = absl::GetFlag(FLAGS_redis_tls_ca_file);
  store.redis_tls_server_name = absl::GetFlag(FLAGS_redis_tls_server_name);
  store.redis_tls_cert_file = absl::GetFlag(FLAGS_redis_tls_cert_file);
  store.redis_tls_key_file = absl::GetFlag(FLAGS_redis_tls_key_file);
  store.redis_key_prefix = absl::GetFlag(FLAGS_redis_key_prefix);
  store.keys_file = absl::GetFlag(FLAGS_state_store_keys_file);
  const std::string unavailable = absl::GetFlag(FLAGS_state_store_unavailable);
  if (unavailable == "local") {
    store.when_unavailable = StateStoreConfig::WhenUnavailable::kLocal;
  } else if (unavailable != "refuse") {
    return absl::InvalidArgumentError("--state_store_unavailable must be refuse or local");
  }
  store.request_id_retention = absl::GetFlag(FLAGS_request_id_retention);
  store.max_records = absl::GetFlag(FLAGS_state_store_max_records);
  PublicRegistrationConfig& pub = config.public_registration;
  pub.listen_address = absl::GetFlag(FLAGS_public_registration_listen);
  const std::string access = absl::GetFlag(FLAGS_public_registration_access);
  if (access == "initial_access_token") {
    pub.access = PublicRegistrationConfig::Access::kInitialAccessToken;
  } else if (access == "authlete_token") {
    pub.access = PublicRegistrationConfig::Access::kAuthleteToken;
  } else if (access != "open") {
    return absl::InvalidArgumentError(
        "--public_registration_access must be open, initial_access_token or authlete_token");
  }
  pub.policy_file = absl::GetFlag(FLAGS_public_registration_policy_file);
  pub.initial_access_tokens_file =
      absl::GetFlag(FLAGS_public_registration_initial_access_tokens_file);
  pub.required_scope = absl::GetFlag(FLAGS_public_registration_required_scope);
  for (const std::string& proxy : absl::GetFlag(FLAGS_public_registration_trusted_proxies)) {
    const std::string trimmed(absl::StripAsciiWhitespace(proxy));
    if (!trimmed.empty()) pub.trusted_proxies.push_back(trimmed);
  }
  pub.per_address_rate = absl::GetFlag(FLAGS_public_registration_rate_per_address);
  pub.per_address_burst = absl::GetFlag(FLAGS_public_registration_burst_per_address);
  pub.max_addresses = absl::GetFlag(FLAGS_public_registration_max_addresses);
  pub.global_rate = absl::GetFlag(FLAGS_public_registration_global_rate);
  pub.global_burst = absl::GetFlag(FLAGS_public_registration_global_burst);
  pub.max_connections = absl::GetFlag(FLAGS_public_registration_max_connections);
  const int64_t max_body = absl::GetFlag(FLAGS_public_registration_max_body_bytes);
  const int64_t max_header = absl::GetFlag(FLAGS_public_registration_max_header_bytes);
  if (max_body <= 0 || max_header <= 0) {
    return absl::InvalidArgumentError("public registration size limits must be positive");
  }
  pub.max_body_bytes = static_cast<std::size_t>(max_body);
  pub.max_header_bytes = static_cast<std::size_t>(max_header);
  pub.header_timeout = absl::GetFlag(FLAGS_public_registration_header_timeout);
  pub.read_timeout = absl::GetFlag(FLAGS_public_registration_read_timeout);
  pub.max_requests_per_connection =
      absl::GetFlag(FLAGS_public_registration_max_requests_per_connection);
  if (absl::Status valid = ValidateConfig(config); !valid.ok()) return valid;
  return config;
}

}  // namespace dcr::config
