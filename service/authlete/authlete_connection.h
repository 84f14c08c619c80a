// The seam between the gRPC service and Authlete: one method that runs one
// DCR call. AuthleteClient does it over HTTP; the resilience layer decorates
// it with retries, a circuit breaker and a bound on calls in flight; tests
// mock it.
#ifndef DCR_SERVICE_AUTHLETE_AUTHLETE_CONNECTION_H_
#define DCR_SERVICE_AUTHLETE_AUTHLETE_CONNECTION_H_

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "service/authlete/authlete_request.h"
#include "service/authlete/authlete_response.h"

namespace dcr::authlete {

class AuthleteConnection {
 public:
  using Callback = absl::AnyInvocable<void(absl::StatusOr<DcrResponse>) &&>;

  virtual ~AuthleteConnection() = default;

  // Runs `call` against Authlete, allowing it `timeout` in all; `done` runs
  // exactly once, possibly on another thread, and must not block. Errors
  // carry a dcr.v1.RegistrationError detail (README "Error mapping").
  virtual void Call(const DcrCall& call, absl::Duration timeout, Callback done) = 0;
};

}  // namespace dcr::authlete

#endif  // DCR_SERVICE_AUTHLETE_AUTHLETE_CONNECTION_H_
