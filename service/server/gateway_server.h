// Assembles the gateway: libcurl transport, Authlete client, gRPC service,
// health and reflection. main() and the integration tests both start it here.
#ifndef DCR_SERVICE_SERVER_GATEWAY_SERVER_H_
#define DCR_SERVICE_SERVER_GATEWAY_SERVER_H_

#include <memory>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "service/admission/in_flight_budget.h"
#include "service/admission/memory_limit.h"
#include "service/config/gateway_config.h"
#include "service/health/health_service.h"
#include "service/http/curl_multi_http_client.h"
#include "service/metrics/admin_server.h"
#include "service/metrics/metrics.h"
#include "service/public_registration/public_registration_server.h"
#include "service/public_registration/registration_endpoint.h"
#include "service/reflection/reflection_service.h"
#include "service/registration/client_registration_service.h"
#include "service/resilience/resilient_authlete_connection.h"
#include "service/state/state_store.h"

namespace dcr::server {

class GatewayServer {
 public:
  // Validates `config`, binds the listen address and starts serving.
  static absl::StatusOr<std::unique_ptr<GatewayServer>> Start(const config::GatewayConfig& config);

  // Shuts down with no grace if Shutdown() was not called.
  ~GatewayServer();

  // The bound gRPC port (useful with port 0).
  int port() const { return port_; }
  // The bound admin (metrics) port; 0 when there is none.
  int admin_port() const { return admin_ != nullptr ? admin_->port() : 0; }
  // The bound public registration port; 0 when there is none.
  int public_registration_port() const {
    return public_server_ != nullptr ? public_server_->port() : 0;
  }
  // The bounds in force (README "Memory and overload"), for the start-up log.
  const admission::BudgetOptions& budget() const { return budget_->options(); }
  const admission::DerivedBudget& derived_budget() const { return derived_budget_; }

  // Graceful stop: health turns NOT_SERVING, calls are still accepted for
  // the drain delay, then no new calls are accepted, and
  // calls in flight get up to `grace` to finish; then the calls still waiting
  // on Authlete are failed with UNAVAILABLE and the server stops. Idempotent.
  void Shutdown(absl::Duration grace);

 private:
  GatewayServer() = default;

  // What scrapes read: the budget's use, set just before each render.
  std::string RenderMetrics();

  metrics::Registry registry_;
  admission::DerivedBudget derived_budget_;
  std::shared_ptr<admission::InFlightBudget> budget_;
  metrics::Series* budget_bytes_in_use_ = nullptr;
  metrics::Series* budget_calls_in_use_ = nullptr;
  std::shared_ptr<http::CurlMultiHttpClient> http_;
  std::shared_ptr<resilience::ResilientAuthleteConnection> authlete_;
  // Before service_: outlives every call that uses it.
  std::shared_ptr<state::StateStore> store_;
  std::unique_ptr<registration::ClientRegistrationService> service_;
  std::unique_ptr<health::HealthService> health_;
  std::unique_ptr<reflection::ReflectionService> reflection_;
  std::unique_ptr<grpc::Server> server_;
  // The public RFC 7591/7592 endpoint, when configured; Shutdown keeps it
  // until its requests in flight are answered.
  std::shared_ptr<public_registration::RegistrationEndpoint> public_endpoint_;
  std::unique_ptr<public_registration::PublicRegistrationServer> public_server_;
  int port_ = 0;
  bool stopped_ = false;
  absl::Duration drain_delay_;
  // Last member: stops serving first, before what it reports on is gone.
  std::unique_ptr<metrics::AdminServer> admin_;
};

}  // namespace dcr::server

#endif  // DCR_SERVICE_SERVER_GATEWAY_SERVER_H_
