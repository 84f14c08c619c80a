#include "service/authlete/authlete_client.h"

#include <utility>

#include "service/authlete/authlete_request.h"
#include "service/authlete/authlete_response.h"

namespace dcr::authlete {

AuthleteClient::AuthleteClient(AuthleteOptions options,
                               std::shared_ptr<http::HttpClient> http)
    : options_(std::move(options)), http_(std::move(http)) {}

void AuthleteClient::Call(const core::DcrCall& call, absl::Duration timeout, Callback done) {
  const api::Operation operation = call.operation;
  http_->Send(BuildHttpRequest(options_, call, timeout),
              [operation, done = std::move(done)](http::HttpResult result) mutable {
                std::move(done)(InterpretHttpResult(operation, std::move(result)));
              });
}

}  // namespace dcr::authlete
