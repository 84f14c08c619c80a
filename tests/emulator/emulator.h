// authlete-emulator: a local stand-in for Authlete's Dynamic Client
// Registration API (see service/authlete/authlete_dcr_contract.md and README.md).
//
// Link `authlete_emulator_lib`; include "tests/emulator/emulator.h" (the
// library's include directory is the repository root). Typical use in a test:
//
//   dcr::emulator::EmulatorOptions options;           // default service, port 0
//   auto emulator = dcr::emulator::Emulator::Start(options);
//   ASSERT_TRUE(emulator.ok()) << emulator.status();
//   std::string url = (*emulator)->base_url();       // http://127.0.0.1:PORT
//                                                    // (https://... with tls_cert_file/tls_key_file)
//   ... point the gateway at url, service kDefaultServiceId / kDefaultServiceToken ...
//   (*emulator)->SetFaults(...);  EXPECT_EQ((*emulator)->stats().total, 0);
#ifndef DCR_TESTS_EMULATOR_EMULATOR_H_
#define DCR_TESTS_EMULATOR_EMULATOR_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/emulator/access_token_store.h"  // AccessTokenSpec
#include "tests/emulator/faults.h"          // FaultSpec, FaultRule, FaultKind, Operation
#include "tests/emulator/service_config.h"  // ServiceConfig, DefaultServiceConfig(), kDefault*

namespace dcr::emulator {

class HttpServer;

struct EmulatorOptions {
  std::vector<ServiceConfig> services = {DefaultServiceConfig()};
  std::string organization_token;     // v3 Bearer valid for every service; empty = none
  std::string listen_address = "127.0.0.1";
  int port = 0;                        // 0 = ephemeral, see Emulator::port()
  int threads = 2;                     // fixed pool running every connection
  std::string store_file;              // empty = memory only
  FaultSpec faults;                    // initial faults
  std::string admin_token;             // if set, /emulator/* needs "Bearer <admin_token>"
  size_t max_body_bytes = 1 << 20;     // larger request bodies get 413
  size_t max_recorded_requests = 256;  // recorded_requests() keeps the last N
  // Access tokens held for introspection (IssueAccessToken, POST
  // /emulator/tokens); when full, expired ones are dropped, then issuing fails.
  size_t max_access_tokens = 10000;
  absl::Duration idle_timeout = absl::Seconds(60);  // keep-alive connections
  bool log_requests = false;           // one line per request on stderr
  // PEM files (the certificate file may carry the chain after the leaf).
  // Both set: HTTPS (TLS 1.2+) on the port instead of plain HTTP, and
  // base_url() starts with https://. Read once, at start.
  std::string tls_cert_file;
  std::string tls_key_file;
};

// Counters since start or the last ResetStats(). Admin requests are not counted.
struct Stats {
  int64_t total = 0;             // every non-admin request received, whatever its path
  int64_t register_requests = 0;  // by operation (v2 and v3 paths alike)
  int64_t get_requests = 0;
  int64_t update_requests = 0;
  int64_t delete_requests = 0;
  int64_t management_requests = 0;  // the client management paths (contract §9)
  int64_t introspection_requests = 0;  // the introspection paths (contract §10)
  int64_t other_requests = 0;     // none of the DCR, management or introspection paths
  int64_t refused = 0;            // answered with an Authlete refusal (401/403/404/400/405/413)
  int64_t faults_injected = 0;    // requests that got at least one fault
  int64_t connections_accepted = 0;
  int64_t active_connections = 0;  // gauge (not reset)
  int64_t peak_connections = 0;    // highest active_connections seen
  int64_t clients_stored = 0;      // gauge: clients currently registered, all services
  int64_t access_tokens_stored = 0;  // gauge: access tokens held, expired ones included
};

// One request as received, for wire-contract assertions. Holds credentials
// and tokens verbatim: keep it in tests.
struct RecordedRequest {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;  // all, in order
  std::string body;
};

class Emulator {
 public:
  // Validates the options, loads the store file, binds and starts serving.
  static absl::StatusOr<std::unique_ptr<Emulator>> Start(EmulatorOptions options);
  ~Emulator();  // Shutdown()
  Emulator(const Emulator&) = delete;
  Emulator& operator=(const Emulator&) = delete;

  int port() const;
  std::string base_url() const;  // "http://127.0.0.1:PORT" (https with TLS; IPv6 in brackets)

  // Replace / clear / read the fault rules (remaining counts included).
  void SetFaults(FaultSpec faults);
  void ClearFaults();
  FaultSpec faults() const;

  Stats stats() const;
  void ResetStats();  // zeroes the counters and drops recorded requests
  std::vector<RecordedRequest> recorded_requests() const;  // oldest first

  // An access token for the introspection API (contract §10), as Authlete
  // would have issued it: random, held in memory only. InvalidArgument for an
  // unknown service or a bad scope name, ResourceExhausted when
  // max_access_tokens live tokens are held.
  absl::StatusOr<std::string> IssueAccessToken(const AccessTokenSpec& spec);
  void ClearAccessTokens();

  // Stops serving and drops every connection. Idempotent. Clients persist in
  // the store file, if any.
  void Shutdown();

  class Application;

 private:
  Emulator() = default;
  std::unique_ptr<Application> app_;
  std::unique_ptr<HttpServer> server_;  // destroyed first: its sessions call app_
  std::string base_url_;
};

}  // namespace dcr::emulator

#endif  // DCR_TESTS_EMULATOR_EMULATOR_H_
