// An emulator and a gateway running in this process, joined by real HTTP and
// reached through a real gRPC channel, all on 127.0.0.1 with ephemeral ports.
#ifndef DCR_TESTS_INTEGRATION_GATEWAY_TEST_ENV_H_
#define DCR_TESTS_INTEGRATION_GATEWAY_TEST_ENV_H_

#include <functional>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/types/optional.h"
#include "dcr/v1/client_registration_service.grpc.pb.h"
#include "dcr/v1/registration_error.pb.h"
#include "tests/emulator/emulator.h"
#include "tests/testing/temp_dir.h"  // TempDir, for the tests using this env
#include "service/server/gateway_server.h"

namespace dcr::testing {

// Custom metadata names the test service keeps (supportedCustomClientMetadata).
inline const std::vector<std::string> kCustomNames = {"x_tenant", "x_limits", "x_flags",
                                                      "x_ratio", "x_count"};
// A second service reachable with the organization token only.
inline constexpr char kSecondServiceId[] = "11112222333344";
inline constexpr char kOrganizationToken[] = "emulator-organization-token";

struct EnvOptions {
  authlete::ApiVersion api_version = authlete::ApiVersion::kV3;
  // Applied to the gateway config after the defaults.
  std::function<void(config::GatewayConfig&)> tweak_gateway;
  // Applied to the emulator options after the defaults.
  std::function<void(emulator::EmulatorOptions&)> tweak_emulator;
};

// Default options but for `tweak` applied to the gateway config.
inline EnvOptions TweakGateway(std::function<void(config::GatewayConfig&)> tweak) {
  EnvOptions options;
  options.tweak_gateway = std::move(tweak);
  return options;
}

class GatewayTestEnv {
 public:
  static absl::StatusOr<std::unique_ptr<GatewayTestEnv>> Start(EnvOptions options = {});
  ~GatewayTestEnv();

  emulator::Emulator& emulator() { return *emulator_; }
  server::GatewayServer& gateway() { return *gateway_; }
  v1::ClientRegistrationService::Stub& stub() { return *stub_; }
  std::shared_ptr<grpc::Channel> channel() { return channel_; }
  const config::GatewayConfig& config() const { return config_; }

 private:
  GatewayTestEnv() = default;
  std::unique_ptr<emulator::Emulator> emulator_;
  config::GatewayConfig config_;
  std::unique_ptr<server::GatewayServer> gateway_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::ClientRegistrationService::Stub> stub_;
};


// A context with a deadline, as every well-behaved caller sets.
std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout = absl::Seconds(10));

// The dcr.v1.RegistrationError in a status's details, if any.
absl::optional<v1::RegistrationError> DetailOf(const grpc::Status& status);

}  // namespace dcr::testing

#endif  // DCR_TESTS_INTEGRATION_GATEWAY_TEST_ENV_H_
