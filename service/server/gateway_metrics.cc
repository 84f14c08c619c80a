#include "service/server/gateway_metrics.h"

namespace dcr::server {
namespace {

using authlete::Operation;
constexpr Operation kOperations[] = {Operation::kRegister, Operation::kGet, Operation::kUpdate,
                                     Operation::kDelete};

// Label values: the RPC by its gRPC method name.
std::string RpcName(Operation operation) {
  switch (operation) {
    case Operation::kRegister: return "RegisterClient";
    case Operation::kGet: return "GetClient";
    case Operation::kUpdate: return "UpdateClient";
    case Operation::kDelete: return "DeleteClient";
  }
  return "unknown";
}

}  // namespace

GatewayMetrics::GatewayMetrics(metrics::Registry& registry)
    : rpc_calls_(registry.Add("dcr_gateway_rpc_calls_total",
                              "Calls answered, by RPC, gRPC status code and Authlete action.",
                              metrics::Type::kCounter, {"rpc", "code", "action"})),
      upstream_requests_(registry.Add(
          "dcr_gateway_upstream_requests_total",
          "Calls to Authlete, by RPC and outcome (ok, or the error reason).",
          metrics::Type::kCounter, {"rpc", "outcome"})),
      upstream_in_flight_(registry
                              .Add("dcr_gateway_upstream_in_flight",
                                   "Calls to Authlete under way.", metrics::Type::kGauge)
                              .With({})) {
  metrics::Family& duration = registry.Add(
      "dcr_gateway_rpc_duration_seconds", "Time from a call's arrival to its answer, by RPC.",
      metrics::Type::kHistogram, {"rpc"}, metrics::LatencyBuckets());
  metrics::Family& in_flight = registry.Add("dcr_gateway_rpc_in_flight",
                                            "Calls being answered, by RPC.",
                                            metrics::Type::kGauge, {"rpc"});
  metrics::Family& upstream = registry.Add(
      "dcr_gateway_upstream_duration_seconds",
      "Time of the call to Authlete (the HTTP exchange and reading its answer), by RPC.",
      metrics::Type::kHistogram, {"rpc"}, metrics::LatencyBuckets());
  for (Operation operation : kOperations) {
    rpc_duration_[Index(operation)] = &duration.With({RpcName(operation)});
    rpc_in_flight_[Index(operation)] = &in_flight.With({RpcName(operation)});
    upstream_duration_[Index(operation)] = &upstream.With({RpcName(operation)});
  }
}

void GatewayMetrics::RpcStarted(Operation operation) { rpc_in_flight_[Index(operation)]->Add(1); }

void GatewayMetrics::RpcEnded(Operation operation, const absl::Status& status, v1::Action action,
                              double seconds) {
  rpc_in_flight_[Index(operation)]->Add(-1);
  rpc_duration_[Index(operation)]->Observe(seconds);
  rpc_calls_
      .With({RpcName(operation), std::string(absl::StatusCodeToString(status.code())),
             v1::Action_Name(action)})
      .Add(1);
}

void GatewayMetrics::UpstreamStarted() { upstream_in_flight_.Add(1); }

void GatewayMetrics::UpstreamEnded(Operation operation, const std::string& outcome,
                                   double seconds) {
  upstream_in_flight_.Add(-1);
  upstream_duration_[Index(operation)]->Observe(seconds);
  upstream_requests_.With({RpcName(operation), outcome}).Add(1);
}

}  // namespace dcr::server
