// The Authlete DCR client: builds the contract's request, sends it without
// blocking, and interprets the answer. One attempt per call: retries and
// the circuit breaker live in service/resilience, around it.
#ifndef DCR_SERVICE_AUTHLETE_AUTHLETE_CLIENT_H_
#define DCR_SERVICE_AUTHLETE_AUTHLETE_CLIENT_H_

#include <memory>

#include "absl/time/time.h"
#include "service/authlete/authlete_connection.h"
#include "service/authlete/authlete_options.h"
#include "service/http/http_client.h"

namespace dcr::authlete {

class AuthleteClient final : public AuthleteConnection {
 public:
  AuthleteClient(AuthleteOptions options, std::shared_ptr<http::HttpClient> http);

  // Sends `call` once; `done` runs on the HTTP client's thread.
  void Call(const core::DcrCall& call, absl::Duration timeout, Callback done) override;

  const AuthleteOptions& options() const { return options_; }

 private:
  const AuthleteOptions options_;
  const std::shared_ptr<http::HttpClient> http_;
};

}  // namespace dcr::authlete

#endif  // DCR_SERVICE_AUTHLETE_AUTHLETE_CLIENT_H_
