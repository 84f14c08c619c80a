#include "service/server/gateway_server.h"

#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "service/authlete/authlete_client.h"
#include "grpc/reflection/v1/reflection.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "service/server/descriptor_set_bytes.h"

namespace dcr::server {
namespace {

// Room for gRPC framing and the other request fields around the metadata.
constexpr std::size_t kRequestOverheadBytes = 16 * 1024;

}  // namespace

absl::StatusOr<std::unique_ptr<GatewayServer>> GatewayServer::Start(
    const GatewayConfig& config) {
  if (absl::Status valid = ValidateConfig(config); !valid.ok()) return valid;

  std::unique_ptr<GatewayServer> gateway(new GatewayServer());
  gateway->metrics_ = std::make_shared<GatewayMetrics>(gateway->registry_);
  gateway->registry_.AddCollector(&metrics::AppendProcessMetrics);
  http::CurlOptions curl;
  curl.connect_timeout = config.upstream_connect_timeout;
  curl.max_response_bytes = config.max_upstream_response_bytes;
  curl.ca_file = config.authlete_ca_file;
  curl.max_host_connections = config.max_upstream_connections;
  absl::StatusOr<std::unique_ptr<http::CurlMultiHttpClient>> http =
      http::CurlMultiHttpClient::Create(curl);
  if (!http.ok()) return http.status();
  gateway->http_ = std::move(*http);
  gateway->authlete_ = std::make_shared<resilience::ResilientAuthleteConnection>(
      config.resilience, std::make_shared<authlete::AuthleteClient>(config.authlete, gateway->http_),
      &gateway->registry_);

  ClientRegistrationService::Options options;
  options.default_service_id = config.default_service_id;
  options.allowed_service_ids = config.allowed_service_ids;
  options.max_upstream_timeout = config.max_upstream_timeout;
  options.max_metadata_bytes = config.max_metadata_bytes;
  options.log_requests = config.log_requests;
  options.metrics = gateway->metrics_;
  gateway->service_ = std::make_unique<ClientRegistrationService>(options, gateway->authlete_);

  // Health (grpc.health.v1, our own so that reflection can describe it) and
  // reflection, so grpcurl and Kubernetes' native gRPC probes just work.
  gateway->health_ = std::make_unique<HealthService>(
      std::vector<std::string>{v1::ClientRegistrationService::service_full_name()});
  // Our own reflection, answering from the descriptors with comments so that
  // `grpcurl describe` shows each field's documentation.
  absl::StatusOr<std::unique_ptr<ReflectionService>> reflection = ReflectionService::Create(
      DescriptorSetBytes(),
      {v1::ClientRegistrationService::service_full_name(),
       grpc::health::v1::Health::service_full_name(),
       grpc::reflection::v1::ServerReflection::service_full_name(),
       grpc::reflection::v1alpha::ServerReflection::service_full_name()});
  if (!reflection.ok()) return reflection.status();
  gateway->reflection_ = *std::move(reflection);

  grpc::ServerBuilder builder;
  // TLS for callers arrives with the hardening work; until then the gateway
  // is meant to sit behind a mesh or on a private network.
  builder.AddListeningPort(config.listen_address, grpc::InsecureServerCredentials(),
                           &gateway->port_);
  builder.RegisterService(gateway->service_.get());
  builder.RegisterService(gateway->health_.get());
  builder.RegisterService(gateway->reflection_->v1());
  builder.RegisterService(gateway->reflection_->v1alpha());
  const std::size_t max_request = config.max_metadata_bytes + kRequestOverheadBytes;
  builder.SetMaxReceiveMessageSize(static_cast<int>(std::min<std::size_t>(max_request, INT32_MAX)));
  gateway->server_ = builder.BuildAndStart();
  if (gateway->server_ == nullptr || gateway->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", config.listen_address));
  }
  if (!config.admin_listen_address.empty()) {
    GatewayServer* raw = gateway.get();
    absl::StatusOr<std::unique_ptr<metrics::AdminServer>> admin = metrics::AdminServer::Start(
        config.admin_listen_address, [raw] { return raw->registry_.Render(); });
    if (!admin.ok()) return admin.status();
    gateway->admin_ = *std::move(admin);
  }
  return gateway;
}

GatewayServer::~GatewayServer() { Shutdown(absl::ZeroDuration()); }

void GatewayServer::Shutdown(absl::Duration grace) {
  if (stopped_) return;
  stopped_ = true;
  if (server_ == nullptr) return;
  // Probes see NOT_SERVING first; Watch and reflection streams end so they do
  // not hold the shutdown open.
  health_->Shutdown();
  reflection_->Shutdown();
  // grpc::Server::Shutdown waits for every reactor to finish, and a reactor
  // finishes only when its Authlete call completes: once the grace period is
  // over, fail the calls still waiting so that shutdown is bounded.
  absl::Notification drained;
  std::thread canceller([this, grace, &drained] {
    if (!drained.WaitForNotificationWithTimeout(grace)) {
      authlete_->CancelAll();  // calls waiting to retry
      http_->CancelAll();      // calls waiting on Authlete
    }
  });
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  drained.Notify();
  canceller.join();
  server_->Wait();
}

}  // namespace dcr::server
