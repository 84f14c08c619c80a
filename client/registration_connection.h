// The abstract connection behind RegistrationClient: one virtual method per
// RPC of dcr.v1.ClientRegistrationService. The gRPC implementation is in
// grpc_registration_connection.h; tests use mocks/mock_registration_connection.h.
#ifndef DCR_CLIENT_REGISTRATION_CONNECTION_H_
#define DCR_CLIENT_REGISTRATION_CONNECTION_H_

#include "absl/status/statusor.h"
#include "client/options.h"
#include "dcr/v1/client_registration_service.pb.h"

namespace dcr::client {

// Errors are absl::Status values with the gRPC status code and message; the
// gateway's dcr.v1.RegistrationError, when present, is attached as a payload
// (read it with GetRegistrationError() from client/registration_error.h).
// Implementations must be thread-safe.
class RegistrationConnection {
 public:
  virtual ~RegistrationConnection() = default;

  virtual absl::StatusOr<v1::RegisterClientResponse> RegisterClient(
      const v1::RegisterClientRequest& request, const CallOptions& options) = 0;
  virtual absl::StatusOr<v1::GetClientResponse> GetClient(
      const v1::GetClientRequest& request, const CallOptions& options) = 0;
  virtual absl::StatusOr<v1::UpdateClientResponse> UpdateClient(
      const v1::UpdateClientRequest& request, const CallOptions& options) = 0;
  virtual absl::StatusOr<v1::DeleteClientResponse> DeleteClient(
      const v1::DeleteClientRequest& request, const CallOptions& options) = 0;

  // The administrative RPCs. Not pure, so that connections written before
  // them still compile: they answer UNIMPLEMENTED unless overridden.
  virtual absl::StatusOr<v1::ListClientsResponse> ListClients(
      const v1::ListClientsRequest& request, const CallOptions& options);
  virtual absl::StatusOr<v1::GetClientRecordResponse> GetClientRecord(
      const v1::GetClientRecordRequest& request, const CallOptions& options);
  virtual absl::StatusOr<v1::RotateClientSecretResponse> RotateClientSecret(
      const v1::RotateClientSecretRequest& request, const CallOptions& options);
  virtual absl::StatusOr<v1::SetClientLockedResponse> SetClientLocked(
      const v1::SetClientLockedRequest& request, const CallOptions& options);
};

}  // namespace dcr::client

#endif  // DCR_CLIENT_REGISTRATION_CONNECTION_H_
