#include "service/resilience/upstream_metrics.h"

#include "absl/strings/ascii.h"
#include "absl/strings/strip.h"

namespace dcr::resilience {

using api::Index;
using api::Operation;

UpstreamMetrics::UpstreamMetrics(metrics::Registry& registry)
    : requests_(registry.Add(
          "dcr_gateway_upstream_requests_total",
          "HTTP requests to Authlete (each attempt of a call), by RPC and outcome (ok, or the "
          "error reason).",
          metrics::Type::kCounter, {"rpc", "outcome"})),
      in_flight_(registry
                     .Add("dcr_gateway_upstream_in_flight",
                          "Calls to Authlete under way, waits between retries included.",
                          metrics::Type::kGauge)
                     .With({})) {
  metrics::Family& call_duration = registry.Add(
      "dcr_gateway_upstream_duration_seconds",
      "Time of a call to Authlete, by RPC: every attempt and the waits between them.",
      metrics::Type::kHistogram, {"rpc"}, metrics::LatencyBuckets());
  metrics::Family& request_duration = registry.Add(
      "dcr_gateway_upstream_request_duration_seconds",
      "Time of one HTTP request to Authlete (the exchange and reading its answer), by RPC.",
      metrics::Type::kHistogram, {"rpc"}, metrics::LatencyBuckets());
  metrics::Family& retries = registry.Add(
      "dcr_gateway_upstream_retries_total",
      "Calls to Authlete sent again after a failed attempt.", metrics::Type::kCounter, {"rpc"});
  metrics::Family& rejected = registry.Add(
      "dcr_gateway_upstream_rejected_total",
      "Calls refused without calling Authlete: circuit open, or too many calls in flight.",
      metrics::Type::kCounter, {"rpc", "reason"});
  metrics::Family& state = registry.Add(
      "dcr_gateway_upstream_circuit_state",
      "Circuit breaker per operation: 0 closed, 1 open (failing fast), 2 half-open (probing).",
      metrics::Type::kGauge, {"rpc"});
  for (Operation op : api::kOperations) {
    const std::string rpc(api::Name(op));
    call_duration_[Index(op)] = &call_duration.With({rpc});
    request_duration_[Index(op)] = &request_duration.With({rpc});
    ok_requests_[Index(op)] = &requests_.With({rpc, "ok"});
    retries_[Index(op)] = &retries.With({rpc});
    rejected_open_[Index(op)] = &rejected.With({rpc, "circuit_open"});
    rejected_overload_[Index(op)] = &rejected.With({rpc, "overloaded"});
    circuit_state_[Index(op)] = &state.With({rpc});
  }
}

std::string UpstreamMetrics::Outcome(const core::Error* error) {
  if (error == nullptr) return "ok";
  return absl::AsciiStrToLower(
      absl::StripPrefix(v1::ErrorReason_Name(error->reason()), "ERROR_REASON_"));
}

void UpstreamMetrics::CallStarted() { in_flight_.Add(1); }

void UpstreamMetrics::CallEnded(Operation operation, absl::Duration elapsed) {
  in_flight_.Add(-1);
  call_duration_[Index(operation)]->Observe(absl::ToDoubleSeconds(elapsed));
}

void UpstreamMetrics::AttemptEnded(Operation operation, const core::Error* error,
                                   absl::Duration elapsed) {
  request_duration_[Index(operation)]->Observe(absl::ToDoubleSeconds(elapsed));
  if (error == nullptr) {
    ok_requests_[Index(operation)]->Add();
  } else {
    // Failures are rare: the label lookup takes a short lock.
    requests_.With({std::string(api::Name(operation)), Outcome(error)}).Add();
  }
}

void UpstreamMetrics::Retried(Operation operation) { retries_[Index(operation)]->Add(); }

void UpstreamMetrics::RejectedCircuitOpen(Operation operation) {
  rejected_open_[Index(operation)]->Add();
}

void UpstreamMetrics::RejectedOverloaded(Operation operation) {
  rejected_overload_[Index(operation)]->Add();
}

void UpstreamMetrics::CircuitStateIs(Operation operation, CircuitState state) {
  circuit_state_[Index(operation)]->Set(static_cast<double>(state));
}

}  // namespace dcr::resilience
