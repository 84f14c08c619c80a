// Every metric of the gateway's calls to Authlete, measured in one place
// (the resilient connection): per call, retries and waits included, and per
// attempt, i.e. per HTTP request. Series are resolved once, at start-up, so
// the hot path touches only atomics. README "Metrics".
#ifndef DCR_SERVICE_RESILIENCE_UPSTREAM_METRICS_H_
#define DCR_SERVICE_RESILIENCE_UPSTREAM_METRICS_H_

#include <string>

#include "absl/time/time.h"
#include "proto/api/operation.h"
#include "service/core/error.h"
#include "service/metrics/metrics.h"
#include "service/resilience/circuit_breaker.h"

namespace dcr::resilience {

class UpstreamMetrics {
 public:
  // Registers the families in `registry`.
  explicit UpstreamMetrics(metrics::Registry& registry);

  // A call to Authlete started / ended after `elapsed`, retries included.
  void CallStarted();
  void CallEnded(api::Operation operation, absl::Duration elapsed);
  // One HTTP request to Authlete ended with `error` (null: success).
  void AttemptEnded(api::Operation operation, const core::Error* error, absl::Duration elapsed);
  void Retried(api::Operation operation);
  void RejectedCircuitOpen(api::Operation operation);
  void RejectedOverloaded(api::Operation operation);
  void CircuitStateIs(api::Operation operation, CircuitState state);

  // "ok", or the reason of a failed attempt: ERROR_REASON_UPSTREAM_TIMEOUT
  // is "upstream_timeout".
  static std::string Outcome(const core::Error* error);

 private:
  metrics::Family& requests_;
  metrics::Series& in_flight_;
  api::PerOperation<metrics::Series*> call_duration_{};
  api::PerOperation<metrics::Series*> request_duration_{};
  api::PerOperation<metrics::Series*> ok_requests_{};
  api::PerOperation<metrics::Series*> retries_{};
  api::PerOperation<metrics::Series*> rejected_open_{};
  api::PerOperation<metrics::Series*> rejected_overload_{};
  api::PerOperation<metrics::Series*> circuit_state_{};
};

}  // namespace dcr::resilience

#endif  // DCR_SERVICE_RESILIENCE_UPSTREAM_METRICS_H_
