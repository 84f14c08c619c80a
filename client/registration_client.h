// RegistrationClient: the typed entry point to dcr-gateway.
//
//   auto channel = dcr::client::MakeChannel("localhost:50051");
//   if (!channel.ok()) ...;
//   dcr::client::RegistrationClient client(
//       dcr::client::MakeGrpcRegistrationConnection(*channel));
//   absl::StatusOr<dcr::v1::GetClientResponse> r = client.GetClient(id, token);
//   if (!r.ok()) {
//     auto detail = dcr::client::GetRegistrationError(r.status());
//     ...
//   }
#ifndef DCR_CLIENT_REGISTRATION_CLIENT_H_
#define DCR_CLIENT_REGISTRATION_CLIENT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "client/channel.h"
#include "client/grpc_registration_connection.h"
#include "client/options.h"
#include "client/registration_connection.h"
#include "client/registration_error.h"

namespace dcr::client {

// A cheap-to-copy, thread-safe value type: copies share the connection.
// The client does not validate requests; the gateway does, and answers
// INVALID_ARGUMENT with a RegistrationError (reason INVALID_REQUEST).
class RegistrationClient {
 public:
  explicit RegistrationClient(std::shared_ptr<RegistrationConnection> connection);

  // RFC 7591 registration. Resent only when the gateway says it was not
  // processed and did not resend it itself; see grpc_registration_connection.h.
  absl::StatusOr<v1::RegisterClientResponse> RegisterClient(
      const v1::RegisterClientRequest& request, const CallOptions& options = {});
  // Registers typed metadata with the gateway's default service.
  absl::StatusOr<v1::RegisterClientResponse> RegisterClient(
      const v1::ClientMetadata& metadata, const CallOptions& options = {});

  // RFC 7592 read.
  absl::StatusOr<v1::GetClientResponse> GetClient(const v1::GetClientRequest& request,
                                                  const CallOptions& options = {});
  absl::StatusOr<v1::GetClientResponse> GetClient(std::string client_id,
                                                  std::string registration_access_token,
                                                  const CallOptions& options = {});

  // RFC 7592 update: `metadata` replaces the client's metadata entirely.
  absl::StatusOr<v1::UpdateClientResponse> UpdateClient(const v1::UpdateClientRequest& request,
                                                        const CallOptions& options = {});
  absl::StatusOr<v1::UpdateClientResponse> UpdateClient(std::string client_id,
                                                        std::string registration_access_token,
                                                        const v1::ClientMetadata& metadata,
                                                        const CallOptions& options = {});

  // RFC 7592 delete.
  absl::StatusOr<v1::DeleteClientResponse> DeleteClient(const v1::DeleteClientRequest& request,
                                                        const CallOptions& options = {});
  absl::StatusOr<v1::DeleteClientResponse> DeleteClient(std::string client_id,
                                                        std::string registration_access_token,
                                                        const CallOptions& options = {});

  // Clients are equal when they share a connection.
  friend bool operator==(const RegistrationClient& a, const RegistrationClient& b) {
    return a.connection_ == b.connection_;
  }
  friend bool operator!=(const RegistrationClient& a, const RegistrationClient& b) {
    return !(a == b);
  }

 private:
  std::shared_ptr<RegistrationConnection> connection_;
};

}  // namespace dcr::client

#endif  // DCR_CLIENT_REGISTRATION_CLIENT_H_
