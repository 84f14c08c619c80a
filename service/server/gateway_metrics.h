// The gateway's Prometheus metrics (README "Metrics"): one object, created by
// GatewayServer and updated by the gRPC service on every call.
#ifndef DCR_SERVICE_SERVER_GATEWAY_METRICS_H_
#define DCR_SERVICE_SERVER_GATEWAY_METRICS_H_

#include <array>
#include <string>

#include "absl/status/status.h"
#include "dcr/v1/action.pb.h"
#include "service/authlete/authlete_options.h"
#include "service/metrics/metrics.h"

namespace dcr::server {

class GatewayMetrics {
 public:
  explicit GatewayMetrics(metrics::Registry& registry);

  // A call arrived / ended with `status` and Authlete's `action`.
  void RpcStarted(authlete::Operation operation);
  void RpcEnded(authlete::Operation operation, const absl::Status& status, v1::Action action,
                double seconds);
  // A call to Authlete was sent / ended; `outcome` is "ok" or the error's
  // reason (e.g. "upstream_timeout").
  void UpstreamStarted();
  void UpstreamEnded(authlete::Operation operation, const std::string& outcome, double seconds);

 private:
  static std::size_t Index(authlete::Operation operation) {
    return static_cast<std::size_t>(operation);
  }
  metrics::Family& rpc_calls_;
  metrics::Family& upstream_requests_;
  // Per operation, found once: the hot path then touches only atomics.
  std::array<metrics::Series*, 4> rpc_duration_{};
  std::array<metrics::Series*, 4> rpc_in_flight_{};
  std::array<metrics::Series*, 4> upstream_duration_{};
  metrics::Series& upstream_in_flight_;
};

}  // namespace dcr::server

#endif  // DCR_SERVICE_SERVER_GATEWAY_METRICS_H_
