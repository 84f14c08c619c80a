// A circuit breaker for one kind of call to Authlete. After
// `failure_threshold` failures in a row it opens: calls fail fast without
// reaching Authlete. After `open_for` it lets a single probe call through
// (half-open); the probe's success closes it, its failure opens it again.
//
// Consecutive failures rather than a failure count in a time window: at
// thousands of calls a second a window count trips on a handful of stray
// errors, while a real outage fails every call and trips it at once.
#ifndef DCR_SERVICE_RESILIENCE_CIRCUIT_BREAKER_H_
#define DCR_SERVICE_RESILIENCE_CIRCUIT_BREAKER_H_

#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace dcr::resilience {

struct CircuitBreakerOptions {
  // 0 turns the breaker off: every call is admitted.
  int failure_threshold = 5;
  absl::Duration open_for = absl::Seconds(10);
};

enum class CircuitState { kClosed = 0, kOpen = 1, kHalfOpen = 2 };

// What became of an admitted call, as far as Authlete's health goes.
enum class CallOutcome {
  kSuccess,  // Authlete answered (even with a refusal of the request)
  kFailure,  // Authlete failed, timed out or could not be reached
  kNeutral,  // says nothing about Authlete (e.g. the gateway cancelled it)
};

class CircuitBreaker {
 public:
  using Clock = std::function<absl::Time()>;

  explicit CircuitBreaker(CircuitBreakerOptions options, Clock clock = &absl::Now);

  struct Admission {
    bool allowed = false;
    // The call is the half-open probe; pass it back to Record.
    bool probe = false;
    // When not allowed: how long until a probe may be let through.
    absl::Duration retry_after;
  };
  Admission Admit() ABSL_LOCKS_EXCLUDED(mu_);
  // Must be called once for every admitted call.
  void Record(const Admission& admission, CallOutcome outcome) ABSL_LOCKS_EXCLUDED(mu_);

  CircuitState state() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Open(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const CircuitBreakerOptions options_;
  const Clock clock_;
  mutable absl::Mutex mu_;
  CircuitState state_ ABSL_GUARDED_BY(mu_) = CircuitState::kClosed;
  int consecutive_failures_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time open_until_ ABSL_GUARDED_BY(mu_);
  bool probe_in_flight_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace dcr::resilience

#endif  // DCR_SERVICE_RESILIENCE_CIRCUIT_BREAKER_H_
