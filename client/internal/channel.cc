#include "client/channel.h"

#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include <grpcpp/create_channel.h>
#include <grpcpp/support/channel_arguments.h>
#include <grpcpp/support/client_interceptor.h>

#include "absl/strings/str_cat.h"

namespace dcr::client {
namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read the ", what, " ", path));
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().find("-----BEGIN") == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is not a PEM file (", what, ")"));
  }
  return text.str();
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> TlsCredentials(const TlsOptions& tls) {
  grpc::SslCredentialsOptions ssl;
  if (!tls.ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadPem(tls.ca_file, "CA bundle");
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *std::move(ca);
  }
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return absl::InvalidArgumentError("a client certificate needs its key, and the other way round");
  }
  if (!tls.cert_file.empty()) {
    absl::StatusOr<std::string> cert = ReadPem(tls.cert_file, "client certificate");
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadPem(tls.key_file, "client key");
    if (!key.ok()) return key.status();
    ssl.pem_cert_chain = *std::move(cert);
    ssl.pem_private_key = *std::move(key);
  }
  return grpc::SslCredentials(ssl);
}

// Adds "authorization: Bearer <key>" to every call. An interceptor rather
// than call credentials: gRPC sends call credentials over TLS only, and a
// gateway behind a mesh is reached in plaintext (the mesh encrypts).
class ApiKeyInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit ApiKeyInterceptor(const std::string* header) : header_(header) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->emplace("authorization", *header_);
    }
    methods->Proceed();
  }

 private:
  const std::string* header_;
};

class ApiKeyInterceptorFactory final
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit ApiKeyInterceptorFactory(absl::string_view key)
      : header_(absl::StrCat("Bearer ", key)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo*) override {
    return new ApiKeyInterceptor(&header_);
  }

 private:
  // Lives as long as the channel, which owns the factory.
  const std::string header_;
};

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const std::string& address,
                                                           const ChannelOptions& options) {
  if (address.empty()) return absl::InvalidArgumentError("empty gateway address");
  grpc::ChannelArguments args;
  if (!options.user_agent_prefix.empty()) args.SetUserAgentPrefix(options.user_agent_prefix);
  if (options.max_receive_message_size != -1) {
    args.SetMaxReceiveMessageSize(options.max_receive_message_size);
  }
  if (!options.load_balancing_policy.empty()) {
    if (options.health_check) {
      // Client-side health checking is configured through the service
      // config; it watches the gateway's own service name.
      args.SetServiceConfigJSON(absl::StrCat(
          R"({"loadBalancingConfig":[{")", options.load_balancing_policy,
          R"(":{}}],"healthCheckConfig":{"serviceName":"dcr.v1.ClientRegistrationService"}})"));
    } else {
      args.SetLoadBalancingPolicyName(options.load_balancing_policy);
    }
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials = options.credentials;
  if (credentials == nullptr && options.tls.has_value()) {
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> tls =
        TlsCredentials(*options.tls);
    if (!tls.ok()) return tls.status();
    credentials = *std::move(tls);
    if (!options.tls->server_name.empty()) {
      args.SetSslTargetNameOverride(options.tls->server_name);
    }
  }
  if (credentials == nullptr) credentials = grpc::InsecureChannelCredentials();
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> interceptors;
  if (!options.api_key.empty()) {
    interceptors.push_back(std::make_unique<ApiKeyInterceptorFactory>(options.api_key));
  }
  std::shared_ptr<grpc::Channel> channel = grpc::experimental::CreateCustomChannelWithInterceptors(
      address, credentials, args, std::move(interceptors));
  if (!channel) return absl::InternalError("gRPC could not create a channel to " + address);
  return channel;
}

}  // namespace dcr::client
