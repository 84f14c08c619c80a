// Decorates an AuthleteConnection with what keeps the gateway useful while
// Authlete misbehaves (README "Resilience"):
//   - a bound on calls in flight to Authlete (excess: RESOURCE_EXHAUSTED);
//   - a circuit breaker per operation (open: UNAVAILABLE at once);
//   - retries with exponential backoff and jitter, honouring Retry-After,
//     within the call's time budget, and only when the reason table says so
//     (api::GatewayRetries): Register is never retried once its request may
//     have reached Authlete;
//   - the upstream metrics, per call and per attempt (UpstreamMetrics).
#ifndef DCR_SERVICE_RESILIENCE_RESILIENT_AUTHLETE_CONNECTION_H_
#define DCR_SERVICE_RESILIENCE_RESILIENT_AUTHLETE_CONNECTION_H_

#include <atomic>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/random/random.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/api/operation.h"
#include "service/authlete/authlete_connection.h"
#include "service/metrics/metrics.h"
#include "service/resilience/backoff.h"
#include "service/resilience/circuit_breaker.h"
#include "service/resilience/timer_queue.h"
#include "service/resilience/upstream_metrics.h"

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
  // Calls in flight to Authlete, waits between retries included; 0: no bound
  // (the gateway's admission budget bounds every call already).
  int max_in_flight = 0;
};

class ResilientAuthleteConnection final : public authlete::AuthleteConnection {
 public:
  // `registry` (may be null: tests) receives the upstream metrics.
  ResilientAuthleteConnection(ResilienceOptions options,
                              std::shared_ptr<authlete::AuthleteConnection> inner,
                              metrics::Registry* registry,
                              CircuitBreaker::Clock clock = &absl::Now);
  // Waits between retries end at once (see CancelAll) before the timers go.
  ~ResilientAuthleteConnection() override;

  void Call(const core::DcrCall& call, absl::Duration timeout, Callback done) override;

  // Calls waiting to be retried fail now with the error of their last
  // attempt, and no call starts another attempt (graceful shutdown).
  void CancelAll();

  CircuitState circuit_state(api::Operation operation) const;
  int in_flight() const { return in_flight_.load(std::memory_order_relaxed); }

 private:
  struct PendingCall;
  void StartAttempt(std::shared_ptr<PendingCall> pending);
  void OnAttemptDone(std::shared_ptr<PendingCall> pending, CircuitBreaker::Admission admission,
                     absl::Duration attempt_timeout, absl::Time attempt_start,
                     core::DcrResult result);
  void Finish(std::shared_ptr<PendingCall> pending, core::DcrResult result);
  void PublishState(api::Operation operation);
  absl::Duration NextDelay(int retry, absl::optional<absl::Duration> retry_after)
      ABSL_LOCKS_EXCLUDED(random_mu_);

  const ResilienceOptions options_;
  const std::shared_ptr<authlete::AuthleteConnection> inner_;
  api::PerOperation<std::unique_ptr<CircuitBreaker>> breakers_;
  std::atomic<int> in_flight_{0};
  std::atomic<bool> cancelled_{false};

  absl::Mutex random_mu_;
  absl::BitGen random_ ABSL_GUARDED_BY(random_mu_);

  // Where the metrics go when the caller gave no registry.
  std::unique_ptr<metrics::Registry> own_registry_;
  std::unique_ptr<UpstreamMetrics> metrics_;

  // Last: its destructor runs pending callbacks, which use the members above.
  TimerQueue timers_;
};

}  // namespace dcr::resilience

#endif  // DCR_SERVICE_RESILIENCE_RESILIENT_AUTHLETE_CONNECTION_H_
