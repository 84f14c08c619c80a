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

void CallObserver::Finished(const CallRecord& record, const core::Error* error) {
  const Operation operation = record.operation;
  const absl::Duration latency = absl::Now() - record.start;
  const absl::StatusCode code = error != nullptr ? error->code() : absl::StatusCode::kOk;
  const v1::Action action = error != nullptr ? error->detail().action() : record.action;
  in_flight_[Index(operation)]->Add(-1);
  duration_[Index(operation)]->Observe(absl::ToDoubleSeconds(latency));
  calls_
      ->With({std::string(api::Name(operation)), std::string(absl::StatusCodeToString(code)),
              v1::Action_Name(action)})
      .Add(1);

  const bool audit = !api::Traits(operation).read_only || options_.audit_reads;
  if (!options_.log_requests && !audit) return;
  telemetry::Log(
      error == nullptr ? telemetry::LogLevel::kInfo : telemetry::LogLevel::kWarning,
      audit ? "audit" : "rpc",
      {{"rpc", std::string(api::Name(operation))},
       {"caller", record.caller},
       {"peer", record.peer},
       {"trace_id", record.trace_id},
       {"service_id", record.service_id},
       {"client_id", record.client_id},
       {"code", std::string(absl::StatusCodeToString(code))},
       {"reason", error != nullptr ? v1::ErrorReason_Name(error->reason()) : std::string()},
       {"action", v1::Action_Name(action)},
       {"result_code", error != nullptr ? error->detail().result_code() : record.result_code},
       {"upstream_attempts", int64_t{error != nullptr ? error->detail().upstream_attempts() : 0}},
       {"latency_ms", absl::ToDoubleMilliseconds(latency)},
       {"error", error != nullptr ? error->message() : std::string()}});
}

}  // namespace dcr::registration
