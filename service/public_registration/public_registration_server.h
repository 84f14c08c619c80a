// The public registration endpoint's HTTP/1.1 server (Boost.Beast/Asio, one
// thread of its own, as the admin port), HTTPS with the gRPC port's
// certificate and key, or plaintext. What it reads is untrusted and bounded:
//   - connections: at most max_connections at a time; one more is closed as
//     soon as it is accepted (the listen queue stays short);
//   - the request head: at most max_header_bytes (431 beyond), all of it
//     within header_timeout of its first byte's wait starting (a client
//     trickling bytes is closed then: slowloris);
//   - the body: at most max_body_bytes (413, from Content-Length before
//     reading it, or while reading a chunked body), within read_timeout;
//   - keep-alive: the next request must start within read_timeout, and a
//     connection serves at most max_requests_per_connection requests.
// Each connection has one request at a time in the handler, so requests in
// flight are bounded by max_connections. Answers are written by the
// server's thread, whichever thread the handler answers on.
#ifndef DCR_SERVICE_PUBLIC_REGISTRATION_PUBLIC_REGISTRATION_SERVER_H_
#define DCR_SERVICE_PUBLIC_REGISTRATION_PUBLIC_REGISTRATION_SERVER_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "service/metrics/metrics.h"
#include "service/public_registration/http_exchange.h"

namespace dcr::public_registration {

class PublicRegistrationServer {
 public:
  struct Options {
    std::string listen_address;  // host:port; port 0 picks one
    int max_connections = 256;
    std::size_t max_body_bytes = 64 * 1024;
    std::size_t max_header_bytes = 8 * 1024;
    absl::Duration header_timeout = absl::Seconds(5);
    absl::Duration read_timeout = absl::Seconds(10);
    absl::Duration write_timeout = absl::Seconds(10);
    int max_requests_per_connection = 100;
    // Both set: HTTPS (TLS 1.2+), the files read once at start.
    std::string tls_cert_file;
    std::string tls_key_file;
  };
  using Respond = absl::AnyInvocable<void(PublicResponse) &&>;
  // Answers one request exactly once through `respond`, on any thread.
  using Handler = std::function<void(PublicRequest, Respond)>;

  // `registry` may be null.
  static absl::StatusOr<std::unique_ptr<PublicRegistrationServer>> Start(
      Options options, Handler handler, metrics::Registry* registry);
  ~PublicRegistrationServer();  // Stops serving; answers still due are dropped.
  PublicRegistrationServer(const PublicRegistrationServer&) = delete;
  PublicRegistrationServer& operator=(const PublicRegistrationServer&) = delete;

  int port() const { return port_; }
  // Connections open now.
  int connections() const;

  struct Impl;

 private:
  PublicRegistrationServer(std::shared_ptr<Impl> impl, int port);
  std::shared_ptr<Impl> impl_;
  const int port_;
};

}  // namespace dcr::public_registration

#endif  // DCR_SERVICE_PUBLIC_REGISTRATION_PUBLIC_REGISTRATION_SERVER_H_
