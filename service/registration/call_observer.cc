#include "service/registration/call_observer.h"

#include "service/telemetry/logging.h"

namespace dcr::registration {

using api::Index;
using api::Operation;

CallObserver::CallObserver(Options options, metrics::Registry* registry) : options_(options) {
  if (registry == nullptr) {
    own_registry_ = std::make_unique<metrics::Registry>();
    registry = own_registry_.get();
  }
  calls_ = &registry->Add("dcr_gateway_rpc_calls_total",
                          "Calls answered, by RPC, gRPC status code and Authlete action.",
                          metrics::Type::kCounter, {"rpc", "code", "action"});
  errors_ = &registry->Add(
      "dcr_gateway_rpc_errors_total",
      "Calls that failed, by RPC, the gRPC status code their caller saw and reason "
      "(an ErrorReason without its prefix, or CALLER_GAVE_UP: the caller was gone before "
      "its answer was sent).",
      metrics::Type::kCounter, {"rpc", "code", "reason"});
  metrics::Family& duration = registry->Add(
      "dcr_gateway_rpc_duration_seconds", "Time from a call's arrival to its answer, by RPC.",
      metrics::Type::kHistogram, {"rpc"}, metrics::LatencyBuckets());
  metrics::Family& in_flight = registry->Add(
      "dcr_gateway_rpc_in_flight", "Calls being answered, by RPC.", metrics::Type::kGauge,
      {"rpc"});
  for (Operation operation : api::kOperations) {
    const std::string rpc(api::Name(operation));
    duration_[Index(operation)] = &duration.With({rpc});
    in_flight_[Index(operation)] = &in_flight.With({rpc});
  }
}

void CallObserver::Started(Operation operation) { in_flight_[Index(operation)]->Add(1); }

namespace {

// The reason label: "GATEWAY_OVERLOADED" for ERROR_REASON_GATEWAY_OVERLOADED.
std::string ReasonLabel(const CallRecord& record, const core::Error* error) {
  if (record.caller_gave_up) return "CALLER_GAVE_UP";
  if (error == nullptr) return "";
  std::string name = v1::ErrorReason_Name(error->reason());
  constexpr absl::string_view kPrefix = "ERROR_REASON_";
  return name.size() > kPrefix.size() ? name.substr(kPrefix.size()) : name;
}

}  // namespace

CallObserver::Outcome CallObserver::Count(const CallRecord& record, const core::Error* error) {
  const Operation operation = record.operation;
  Outcome outcome;
  outcome.latency = absl::Now() - record.start;
  // What the caller saw: a caller that gave up saw its own deadline or
  // cancellation, not the gateway's answer.
  outcome.code = error != nullptr ? error->code() : absl::StatusCode::kOk;
  if (record.caller_gave_up) {
    outcome.code = record.caller_deadline_passed ? absl::StatusCode::kDeadlineExceeded
                                                 : absl::StatusCode::kCancelled;
  }
  const v1::Action action = error != nullptr ? error->detail().action() : record.action;
  const std::string rpc(api::Name(operation));
  const std::string code_name = absl::StatusCodeToString(outcome.code);
  in_flight_[Index(operation)]->Add(-1);
  duration_[Index(operation)]->Observe(absl::ToDoubleSeconds(outcome.latency));
  calls_->With({rpc, code_name, v1::Action_Name(action)}).Add(1);
  if (outcome.code != absl::StatusCode::kOk) {
    errors_->With({rpc, code_name, ReasonLabel(record, error)}).Add(1);
  }
  // Administrative reads too: who looked at which clients matters.
  outcome.audit = !api::Traits(operation).read_only || options_.audit_reads ||
                  api::Traits(operation).administrative;
  outcome.logged = options_.log_requests || outcome.audit;
  return outcome;
}

void CallObserver::Log(const CallRecord& record, const core::Error* error,
                       const Outcome& outcome) {
  if (!outcome.logged) return;
  const absl::StatusCode code = outcome.code;
  const v1::Action action = error != nullptr ? error->detail().action() : record.action;
  telemetry::Log(
      code == absl::StatusCode::kOk ? telemetry::LogLevel::kInfo : telemetry::LogLevel::kWarning,
      outcome.audit ? "audit" : "rpc",
      // In the order of their names, as the line has them: Log then need
      // not sort them.
      {{"action", v1::Action_Name(action)},
       {"caller", record.caller},
       // What the gateway did although its caller never saw it (a Register
       // that created client_id, say): nothing done is unrecorded.
       {"caller_gave_up", record.caller_gave_up},
       {"client_id", record.client_id},
       {"code", absl::StatusCodeToString(code)},
       {"error", error != nullptr ? error->message() : std::string()},
       {"latency_ms", absl::ToDoubleMilliseconds(outcome.latency)},
       {"peer", record.peer},
       {"reason", error != nullptr ? v1::ErrorReason_Name(error->reason()) : std::string()},
       {"replayed", record.replayed},
       {"result_code", error != nullptr ? error->detail().result_code() : record.result_code},
       {"rpc", api::Name(record.operation)},
       {"service_id", record.service_id},
       {"trace_id", record.trace_id},
       {"upstream_attempts", int64_t{error != nullptr ? error->detail().upstream_attempts() : 0}}});
}

}  // namespace dcr::registration
