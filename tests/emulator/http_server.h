// Asynchronous HTTP/1.1 server (Boost.Beast), plain or over TLS, with
// keep-alive and the transport-level faults: delays, resets, truncated and
// slow bodies.
#ifndef DCR_TESTS_EMULATOR_HTTP_SERVER_H_
#define DCR_TESTS_EMULATOR_HTTP_SERVER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "tests/emulator/faults.h"

namespace dcr::emulator {

struct HttpRequest {
  std::string method;
  std::string target;  // as received, query included
  std::vector<std::pair<std::string, std::string>> headers;  // in order, as received
  std::string body;
  // First header named `name` (case-insensitive).
  absl::optional<std::string> Header(absl::string_view name) const;
  // Target without the query string.
  std::string Path() const;
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string log_action;  // shown in the request log (e.g. the DCR action)
};

// What the server should do with a request, decided when it arrives.
struct RequestPlan {
  int64_t delay_ms = 0;                // asio timer, before anything else
  absl::optional<FaultRule> fault;     // transport faults are applied by the server
};

// The server's callbacks. Called from the server's threads, concurrently.
class HttpApplication {
 public:
  virtual ~HttpApplication() = default;
  virtual RequestPlan Plan(const HttpRequest& request) = 0;
  // Not called for reset_before. Content-level faults (http_error, rate_limit,
  // malformed_json, unknown_action) are the application's to apply.
  virtual HttpResponse Handle(const HttpRequest& request, const RequestPlan& plan) = 0;
  // Answer for a request the server rejects itself (400 malformed, 413 too
  // large). `path` is empty when the request line could not be parsed.
  virtual HttpResponse ProtocolError(int status, const std::string& path) = 0;
  virtual void OnConnectionOpened() = 0;
  virtual void OnConnectionClosed() = 0;
};

struct HttpServerOptions {
  std::string address = "127.0.0.1";
  int port = 0;
  int threads = 2;
  size_t max_body_bytes = 1 << 20;
  absl::Duration idle_timeout = absl::Seconds(60);
  bool log_requests = false;
  // PEM files; both set: HTTPS (TLS 1.2+) instead of plain HTTP. The
  // certificate file may hold the chain after the leaf.
  std::string tls_cert_file;
  std::string tls_key_file;
};

class HttpServer {
 public:
  // Binds, listens and starts the threads. `app` must outlive the server.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                           HttpApplication* app);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }
  bool tls() const { return tls_; }
  // Stops accepting, drops every connection, joins the threads. Idempotent.
  void Shutdown();

  struct Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
  bool tls_ = false;
};

// Raises the RLIMIT_NOFILE soft limit to the hard limit (many connections).
void RaiseFileDescriptorLimit();

}  // namespace dcr::emulator

#endif  // DCR_TESTS_EMULATOR_HTTP_SERVER_H_
