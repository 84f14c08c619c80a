// Channel creation for dcr-gateway clients.
#ifndef DCR_CLIENT_CHANNEL_H_
#define DCR_CLIENT_CHANNEL_H_

#include <memory>
#include <string>

#include <grpcpp/channel.h>
#include <grpcpp/security/credentials.h>

#include "absl/status/statusor.h"

namespace dcr::client {

struct ChannelOptions {
  // Transport security. Null means plaintext, the only mode dcr-gateway
  // serves today. TLS seam: when the gateway grows TLS, pass
  // grpc::SslCredentials(...) here (dcrctl will build it from --tls_* flags
  // in MakeChannel's caller); nothing else in the client changes.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  // Prepended to gRPC's user agent, for the gateway's access logs.
  std::string user_agent_prefix = "dcr-client/0.1";
  // Largest response accepted; -1 keeps gRPC's default (4 MiB).
  int max_receive_message_size = -1;
  // Spreads calls over every address the target resolves to, e.g. every pod
  // of the gateway's headless Kubernetes Service
  // ("dns:///dcr-gateway.<namespace>.svc.cluster.local:50051"). Empty keeps
  // gRPC's default, pick_first (one connection, all calls on it).
  std::string load_balancing_policy = "round_robin";
};

// A channel to `address` ("host:port" or any gRPC target URI). Connects
// lazily: an unreachable gateway shows up as UNAVAILABLE on the first call.
// Returns an error for an empty address (and, later, unusable TLS material).
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const std::string& address,
                                                           const ChannelOptions& options = {});

}  // namespace dcr::client

#endif  // DCR_CLIENT_CHANNEL_H_
