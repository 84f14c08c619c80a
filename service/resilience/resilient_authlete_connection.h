// Decorates an AuthleteConnection with what keeps the gateway useful while
// Authlete misbehaves (README "Resilience"):
//   - a bound on calls in flight to Authlete (excess: RESOURCE_EXHAUSTED);
//   - a circuit breaker per operation (open: UNAVAILABLE at once);
//   - retries with exponential backoff and jitter, honouring Retry-After,
//     within the call's time budget, and only when RetryIsSafe says so:
//     Register is never retried once its request may have reached Authlete.
#ifndef DCR_SERVICE_RESILIENCE_RESILIENT_AUTHLETE_CONNECTION_H_
#define DCR_SERVICE_RESILIENCE_RESILIENT_AUTHLETE_CONNECTION_H_

#include <array>
#include <atomic>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/random/random.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "dcr/v1/registration_error.pb.h"
#include "service/authlete/authlete_connection.h"
#include "service/metrics/metrics.h"
#include "service/resilience/backoff.h"
#include "service/resilience/circuit_breaker.h"
#include "service/resilience/timer_queue.h"

namespace dcr::resilience {

struct ResilienceOptions {
  // Attempts per call, the first included; 1 turns retries off.
  int max_attempts = 3;
  BackoffOptions backoff;
  // A Get attempt gets at most this long when more attempts remain, so one
  // hung connection does not use up the whole budget of a safe call.
  absl::Duration get_attempt_timeout = absl::Seconds(3);
  CircuitBreakerOptions circuit_breaker;
  // A timeout shorter than this (the caller's own tight deadline) says
  // nothing about Authlete's health and does not count against the breaker.
  absl::Duration min_timeout_counted = absl::Milliseconds(500);
  // Calls in flight to Authlete, waits between retries included; 0: no bound.
  int max_in_flight = 1000;
};

// Whether `operation` may be sent again after it failed with `error`
// (a RegistrationError detail). The rules of README "Resilience":
//   - never sent (or refused before processing by a connect failure):
//     every operation;
//   - Get: any upstream failure (5xx, 429, timeout, broken connection, an
//     unusable answer, Authlete's INTERNAL_SERVER_ERROR);
//   - Update, Delete: HTTP 429, or an HTTP 5xx answer;
//   - Register: nothing else.
bool RetryIsSafe(authlete::Operation operation, const v1::RegistrationError& error);

class ResilientAuthleteConnection final : public authlete::AuthleteConnection {
 public:
  // `registry` (may be null) receives the retry, rejection and circuit
  // state metrics.
  ResilientAuthleteConnection(ResilienceOptions options,
                              std::shared_ptr<authlete::AuthleteConnection> inner,
                              metrics::Registry* registry,
                              CircuitBreaker::Clock clock = &absl::Now);
  // Waits between retries end at once (see CancelAll) before the timers go.
  ~ResilientAuthleteConnection() override;

  void Call(const authlete::DcrCall& call, absl::Duration timeout, Callback done) override;

  // Calls waiting to be retried fail now with the error of their last
  // attempt, and no call starts another attempt (graceful shutdown).
  void CancelAll();

  CircuitState circuit_state(authlete::Operation operation) const;
  int in_flight() const { return in_flight_.load(std::memory_order_relaxed); }

 private:
  struct PendingCall;
  void StartAttempt(std::shared_ptr<PendingCall> pending);
  void OnAttemptDone(std::shared_ptr<PendingCall> pending, CircuitBreaker::Admission admission,
                     absl::Duration attempt_timeout, absl::StatusOr<authlete::DcrResponse> result);
  void Finish(std::shared_ptr<PendingCall> pending, absl::StatusOr<authlete::DcrResponse> result);
  void PublishState(authlete::Operation operation);
  absl::Duration NextDelay(int retry, absl::optional<absl::Duration> retry_after)
      ABSL_LOCKS_EXCLUDED(random_mu_);

  const ResilienceOptions options_;
  const std::shared_ptr<authlete::AuthleteConnection> inner_;
  std::array<std::unique_ptr<CircuitBreaker>, 4> breakers_;
  std::atomic<int> in_flight_{0};
  std::atomic<bool> cancelled_{false};

  absl::Mutex random_mu_;
  absl::BitGen random_ ABSL_GUARDED_BY(random_mu_);

  // Per operation; null without a registry.
  std::array<metrics::Series*, 4> circuit_state_{};
  std::array<metrics::Series*, 4> retries_{};
  std::array<metrics::Series*, 4> rejected_open_{};
  std::array<metrics::Series*, 4> rejected_overload_{};

  // Last: its destructor runs pending callbacks, which use the members above.
  TimerQueue timers_;
};

}  // namespace dcr::resilience

#endif  // DCR_SERVICE_RESILIENCE_RESILIENT_AUTHLETE_CONNECTION_H_
