// Channel creation for dcr-gateway clients.
#ifndef DCR_CLIENT_CHANNEL_H_
#define DCR_CLIENT_CHANNEL_H_

#include <memory>
#include <string>

#include <grpcpp/channel.h>
#include <grpcpp/security/credentials.h>

#include "absl/status/statusor.h"
#include "absl/types/optional.h"

namespace dcr::client {

// TLS to the gateway, from PEM files.
struct TlsOptions {
  // CA bundle that signed the gateway's certificate; empty: the system's.
  std::string ca_file;
  // Client certificate and key, for a gateway that requires mutual TLS.
  std::string cert_file;
  std::string key_file;
  // The name to verify in the gateway's certificate when it differs from
  // the target's host (e.g. connecting by IP address).
  std::string server_name;
};

struct ChannelOptions {
  // TLS (see TlsOptions); unset: plaintext, for a gateway started with
  // --insecure_plaintext behind a mesh.
  absl::optional<TlsOptions> tls;
  // Transport credentials built by the caller; win over `tls` when set.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  // This service's API key for the gateway (its callers file), sent as
  // "authorization: Bearer <key>" on every call. A secret: load it from a
  // file or a secret store, never from a command line.
  std::string api_key;
  // Prepended to gRPC's user agent, for the gateway's access logs.
  std::string user_agent_prefix = "dcr-client/0.1";
  // Largest response accepted; -1 keeps gRPC's default (4 MiB).
  int max_receive_message_size = -1;
  // Spreads calls over every address the target resolves to, e.g. every pod
  // of the gateway's headless Kubernetes Service
  // ("dns:///dcr-gateway.<namespace>.svc.cluster.local:50051"). Empty keeps
  // gRPC's default, pick_first (one connection, all calls on it).
  std::string load_balancing_policy = "round_robin";
  // With round_robin: skip gateways whose grpc.health.v1 status is not
  // SERVING. A draining gateway turns NOT_SERVING before it stops accepting
  // calls, so clients leave it without a failed call.
  bool health_check = true;
};

// A channel to `address` ("host:port" or any gRPC target URI). Connects
// lazily: an unreachable gateway shows up as UNAVAILABLE on the first call.
// Returns an error for an empty address or unreadable TLS files.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const std::string& address,
                                                           const ChannelOptions& options = {});

}  // namespace dcr::client

#endif  // DCR_CLIENT_CHANNEL_H_
