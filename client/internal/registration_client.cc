#include "client/registration_client.h"

#include <utility>

namespace dcr::client {
namespace {

// A default-constructed or moved-from client must fail, not crash.
absl::Status NoConnection() {
  return absl::FailedPreconditionError("RegistrationClient has no connection");
}

}  // namespace

RegistrationClient::RegistrationClient(std::shared_ptr<RegistrationConnection> connection)
    : connection_(std::move(connection)) {}

absl::StatusOr<v1::RegisterClientResponse> RegistrationClient::RegisterClient(
    const v1::RegisterClientRequest& request, const CallOptions& options) {
  if (!connection_) return NoConnection();
  return connection_->RegisterClient(request, options);
}

absl::StatusOr<v1::RegisterClientResponse> RegistrationClient::RegisterClient(
    const v1::ClientMetadata& metadata, const CallOptions& options) {
  v1::RegisterClientRequest request;
  *request.mutable_metadata() = metadata;
  return RegisterClient(request, options);
}

absl::StatusOr<v1::GetClientResponse> RegistrationClient::GetClient(
    const v1::GetClientRequest& request, const CallOptions& options) {
  if (!connection_) return NoConnection();
  return connection_->GetClient(request, options);
}

absl::StatusOr<v1::GetClientResponse> RegistrationClient::GetClient(
    std::string client_id, std::string registration_access_token, const CallOptions& options) {
  v1::GetClientRequest request;
  request.set_client_id(std::move(client_id));
  request.set_registration_access_token(std::move(registration_access_token));
  return GetClient(request, options);
}

absl::StatusOr<v1::UpdateClientResponse> RegistrationClient::UpdateClient(
    const v1::UpdateClientRequest& request, const CallOptions& options) {
  if (!connection_) return NoConnection();
  return connection_->UpdateClient(request, options);
}

absl::StatusOr<v1::UpdateClientResponse> RegistrationClient::UpdateClient(
    std::string client_id, std::string registration_access_token,
    const v1::ClientMetadata& metadata, const CallOptions& options) {
  v1::UpdateClientRequest request;
  request.set_client_id(std::move(client_id));
  request.set_registration_access_token(std::move(registration_access_token));
  *request.mutable_metadata() = metadata;
  return UpdateClient(request, options);
}

absl::StatusOr<v1::DeleteClientResponse> RegistrationClient::DeleteClient(
    const v1::DeleteClientRequest& request, const CallOptions& options) {
  if (!connection_) return NoConnection();
  return connection_->DeleteClient(request, options);
}

absl::StatusOr<v1::DeleteClientResponse> RegistrationClient::DeleteClient(
    std::string client_id, std::string registration_access_token, const CallOptions& options) {
  v1::DeleteClientRequest request;
  request.set_client_id(std::move(client_id));
  request.set_registration_access_token(std::move(registration_access_token));
  return DeleteClient(request, options);
}

}  // namespace dcr::client
