// Everything the gateway needs to run, and how it is read from flags,
// environment variables and files.
#ifndef DCR_SERVICE_CONFIG_GATEWAY_CONFIG_H_
#define DCR_SERVICE_CONFIG_GATEWAY_CONFIG_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "service/authlete/authlete_options.h"
#include "service/resilience/resilient_authlete_connection.h"

namespace dcr::config {

// TLS on the gRPC port. The files are watched and reloaded when they change,
// so a rotated certificate (cert-manager, a Secret update) needs no restart.
struct CallerTlsConfig {
  std::string cert_file;  // PEM certificate chain
  std::string key_file;   // PEM private key
  // When set: mutual TLS, client certificates are verified against it and
  // their names identify callers.
  std::string client_ca_file;
  // With a client CA: whether every caller must present a certificate
  // (otherwise callers without one may still use an API key).
  bool require_client_certificate = true;
  absl::Duration reload_interval = absl::Seconds(60);
};

// What calls in flight may hold (README "Memory and overload"). Zero: derived
// from the container's memory limit (admission::DeriveBudget).
struct AdmissionConfig {
  int64_t memory_budget_bytes = 0;
  int64_t max_calls_in_flight = 0;
  // The most one caller may take of either bound (with a callers file).
  double caller_budget_share = 0.75;
};

// Where the state shared by replicas lives (README "Shared state"): the
// request_id records of RegisterClient.
struct StateStoreConfig {
  enum class Kind { kInProcess, kRedis };
  // What a call that needs a Redis that cannot be reached gets.
  enum class WhenUnavailable {
    // UNAVAILABLE (STATE_STORE_UNAVAILABLE), not sent: no duplicate possible.
    kRefuse,
    // This replica's own records meanwhile: a retry through another replica
    // (or after Redis is back) may be sent again.
    kLocal,
  };
  Kind kind = Kind::kInProcess;
  std::string redis_host = "127.0.0.1";
  int redis_port = 6379;
  std::string redis_password_file;
  std::string redis_username;
  // TLS to Redis (state::RedisTlsOptions): CA file (empty: the system's),
  // the name to verify (empty: redis_host), a client certificate and key.
  bool redis_tls = false;
  std::string redis_tls_ca_file;
  std::string redis_tls_server_name;
  std::string redis_tls_cert_file;
  std::string redis_tls_key_file;
  std::string redis_key_prefix = "dcr:";
  // RecordCipher's keys file; required with Redis.
  std::string keys_file;
  WhenUnavailable when_unavailable = WhenUnavailable::kRefuse;
  // How long a RegisterClient's reply is kept for retries with its request_id.
  absl::Duration request_id_retention = absl::Hours(1);
  // The in-process store's bound on live records (each holds a reply); a
  // full store refuses new request_ids (GATEWAY_OVERLOADED), never evicts.
  int64_t max_records = 100000;
};

absl::string_view StateStoreKindName(StateStoreConfig::Kind kind);
absl::string_view WhenUnavailableName(StateStoreConfig::WhenUnavailable mode);

// The public RFC 7591/7592 endpoint (README "Public registration endpoint"):
// its own port, off unless listen_address is set. TLS with the gRPC port's
// certificate and key (--tls_cert_file, --tls_key_file), plaintext when the
// gRPC port is (--insecure_plaintext).
struct PublicRegistrationConfig {
  // Who may POST /register.
  enum class Access {
    kOpen,                // anyone (public clients such as MCP connectors)
    kInitialAccessToken,  // a token of initial_access_tokens_file
    kAuthleteToken,       // an access token issued by Authlete, with required_scope
  };
  // host:port; empty: no public endpoint.
  std::string listen_address;
  Access access = Access::kOpen;
  // What public registrations may ask for (JSON, README); empty: the
  // default policy (HTTPS or native loopback redirect URIs, any host).
  std::string policy_file;
  // With kInitialAccessToken: the operator's tokens, hashed (README).
  std::string initial_access_tokens_file;
  // With kAuthleteToken: the scope the token must carry.
  std::string required_scope = "register";
  // Peers whose Forwarded / X-Forwarded-For is believed (addresses or CIDRs).
  std::vector<std::string> trusted_proxies;
  // Token buckets: per client address (at most max_addresses remembered,
  // the least recently seen evicted first) and for the whole endpoint.
  double per_address_rate = 1;
  double per_address_burst = 10;
  int64_t max_addresses = 10000;
  double global_rate = 100;
  double global_burst = 200;
  // Transport bounds.
  int max_connections = 256;
  std::size_t max_body_bytes = 64 * 1024;
  std::size_t max_header_bytes = 8 * 1024;
  // For the whole request head to arrive (slowloris), and for the body or
  // the next request on a kept-alive connection.
  absl::Duration header_timeout = absl::Seconds(5);
  absl::Duration read_timeout = absl::Seconds(10);
  int max_requests_per_connection = 100;
};

absl::string_view AccessName(PublicRegistrationConfig::Access access);

struct GatewayConfig {
  // host:port for gRPC; port 0 picks a free port (see GatewayServer::port()).
  std::string listen_address = "0.0.0.0:50051";
  // TLS for callers; without a certificate the gateway refuses to start
  // unless plaintext was asked for (a mesh sidecar terminating TLS).
  CallerTlsConfig tls;
  bool insecure_plaintext = false;
  // Who may call and what each caller may do (README "Callers and policy");
  // empty: every caller that reaches the port may do everything.
  std::string callers_file;
  // Audit lines for GetClient too (always for Register/Update/Delete).
  bool audit_reads = false;
  authlete::AuthleteOptions authlete;
  // The Authlete service used when a request names none.
  std::string default_service_id;
  // Other service ids a request may name (API v3 with an organization token).
  absl::flat_hash_set<std::string> allowed_service_ids;
  // Upper bound of one call to Authlete; the caller's deadline may shorten it.
  absl::Duration max_upstream_timeout = absl::Seconds(10);
  absl::Duration upstream_connect_timeout = absl::Seconds(3);
  // CA bundle for TLS to Authlete (e.g. a private CA); empty: the system's.
  std::string authlete_ca_file;
  std::size_t max_metadata_bytes = 64 * 1024;
  std::size_t max_upstream_response_bytes = 1024 * 1024;
  long max_upstream_connections = 0;
  // Retries, circuit breaker and the bound on calls in flight to Authlete.
  resilience::ResilienceOptions resilience;
  AdmissionConfig admission;
  // How long in-flight calls may take to finish after SIGTERM.
  absl::Duration shutdown_grace = absl::Seconds(20);
  // After SIGTERM, how long health reports NOT_SERVING while calls are still
  // accepted, so that clients and load balancers move away first.
  absl::Duration drain_delay = absl::ZeroDuration();
  // One log line per RPC (never with a secret).
  bool log_requests = true;
  // host:port of the admin HTTP port (GET /metrics, /healthz); empty: none.
  // The flag's default is 0.0.0.0:9090; in code it is off, so that tests
  // open no port they did not ask for.
  std::string admin_listen_address;
  StateStoreConfig state_store;
  PublicRegistrationConfig public_registration;
};

// Authlete service ids are numeric API keys; anything else is refused before
// it can reach a URL path.
bool IsValidServiceId(absl::string_view id);

// Checks a config assembled in code (tests) or from flags.
absl::Status ValidateConfig(const GatewayConfig& config);

// Every gateway flag may also be given as an environment variable DCR_<NAME>
// (e.g. DCR_AUTHLETE_BASE_URL); a command-line flag wins. Call before
// absl::ParseCommandLine. Fails on an environment value that does not parse.
absl::Status ApplyEnvironmentToFlags();

// The config from the parsed flags. The Authlete credential comes from
// --authlete_credential_file (a Kubernetes Secret mount) or the environment
// variable DCR_AUTHLETE_CREDENTIAL, never from a flag value that `ps` shows.
absl::StatusOr<GatewayConfig> ConfigFromFlags();

// Names of every flag the gateway defines, for --help and the environment.
std::vector<std::string> GatewayFlagNames();

}  // namespace dcr::config

#endif  // DCR_SERVICE_CONFIG_GATEWAY_CONFIG_H_
