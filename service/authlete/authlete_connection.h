// The seam between the registration pipeline and Authlete: one method that
// runs one DCR call. AuthleteClient does it over HTTP; the resilience layer
// decorates it with retries, a circuit breaker, a bound on calls in flight
// and the upstream metrics; tests mock it.
#ifndef DCR_SERVICE_AUTHLETE_AUTHLETE_CONNECTION_H_
#define DCR_SERVICE_AUTHLETE_AUTHLETE_CONNECTION_H_

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "service/core/call.h"

namespace dcr::authlete {

class AuthleteConnection {
 public:
  using Callback = absl::AnyInvocable<void(core::DcrResult) &&>;

  virtual ~AuthleteConnection() = default;

  // Runs `call` against Authlete, allowing it `timeout` in all; `done` runs
  // exactly once, possibly on another thread, and must not block.
  virtual void Call(const core::DcrCall& call, absl::Duration timeout, Callback done) = 0;
};

}  // namespace dcr::authlete

#endif  // DCR_SERVICE_AUTHLETE_AUTHLETE_CONNECTION_H_
