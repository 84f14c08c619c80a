#include "gateway_test_env.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "google/rpc/status.pb.h"

namespace dcr::testing {

absl::StatusOr<std::unique_ptr<GatewayTestEnv>> GatewayTestEnv::Start(EnvOptions options) {
  std::unique_ptr<GatewayTestEnv> env(new GatewayTestEnv());

  emulator::EmulatorOptions emulator_options;
  emulator::ServiceConfig main_service = emulator::DefaultServiceConfig();
  main_service.supported_custom_client_metadata = kCustomNames;
  emulator::ServiceConfig second = emulator::DefaultServiceConfig();
  second.service_id = kSecondServiceId;
  second.service_token = "second-service-token";
  second.api_secret = "second-api-secret";
  emulator_options.services = {main_service, second};
  emulator_options.organization_token = kOrganizationToken;
  if (options.tweak_emulator) options.tweak_emulator(emulator_options);
  absl::StatusOr<std::unique_ptr<emulator::Emulator>> emulator =
      emulator::Emulator::Start(emulator_options);
  if (!emulator.ok()) return emulator.status();
  env->emulator_ = *std::move(emulator);

  config::GatewayConfig& config = env->config_;
  config.listen_address = "127.0.0.1:0";
  config.insecure_plaintext = true;  // tests that need TLS turn it on in TweakGateway
  config.authlete.base_url = env->emulator_->base_url();
  config.authlete.api_version = options.api_version;
  config.authlete.credential = options.api_version == authlete::ApiVersion::kV3
                                   ? emulator::kDefaultServiceToken
                                   : emulator::kDefaultApiSecret;
  config.default_service_id = emulator::kDefaultServiceId;
  config.max_upstream_timeout = absl::Seconds(5);
  config.shutdown_grace = absl::Seconds(2);
  config.log_requests = false;
  if (options.tweak_gateway) options.tweak_gateway(config);
  absl::StatusOr<std::unique_ptr<server::GatewayServer>> gateway =
      server::GatewayServer::Start(config);
  if (!gateway.ok()) return gateway.status();
  env->gateway_ = *std::move(gateway);

  env->channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", env->gateway_->port()),
                                      grpc::InsecureChannelCredentials());
  env->stub_ = v1::ClientRegistrationService::NewStub(env->channel_);
  return env;
}

GatewayTestEnv::~GatewayTestEnv() {
  stub_.reset();
  channel_.reset();
  if (gateway_) gateway_->Shutdown(absl::Seconds(1));
  gateway_.reset();
  emulator_.reset();
}

std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return context;
}

absl::optional<v1::RegistrationError> DetailOf(const grpc::Status& status) {
  google::rpc::Status rpc_status;
  if (status.error_details().empty() || !rpc_status.ParseFromString(status.error_details())) {
    return absl::nullopt;
  }
  for (const google::protobuf::Any& any : rpc_status.details()) {
    v1::RegistrationError detail;
    if (any.UnpackTo(&detail)) return detail;
  }
  return absl::nullopt;
}

}  // namespace dcr::testing
