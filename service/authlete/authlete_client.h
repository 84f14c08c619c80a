// The Authlete DCR client: builds the contract's request, sends it without
// blocking, and interprets the answer. One object serves every gRPC call.
#ifndef DCR_SERVICE_AUTHLETE_AUTHLETE_CLIENT_H_
#define DCR_SERVICE_AUTHLETE_AUTHLETE_CLIENT_H_

#include <memory>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "service/authlete/authlete_options.h"
#include "service/authlete/authlete_request.h"
#include "service/authlete/authlete_response.h"
#include "service/http/http_client.h"

namespace dcr::authlete {

class AuthleteClient {
 public:
  using Callback = absl::AnyInvocable<void(absl::StatusOr<DcrResponse>) &&>;

  AuthleteClient(AuthleteOptions options, std::shared_ptr<http::HttpClient> http);

  // Calls Authlete for `call`, allowing it `timeout` in all; `done` runs once,
  // on the HTTP client's thread, and must not block.
  void Call(const DcrCall& call, absl::Duration timeout, Callback done) const;

  const AuthleteOptions& options() const { return options_; }

 private:
  const AuthleteOptions options_;
  const std::shared_ptr<http::HttpClient> http_;
};

}  // namespace dcr::authlete

#endif  // DCR_SERVICE_AUTHLETE_AUTHLETE_CLIENT_H_
