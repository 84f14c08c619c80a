#include "client/registration_client.h"

#include <utility>

namespace dcr::client {
namespace {

// A default-constructed or moved-from client must fail, not crash.
absl::Status NoConnection() {
  return absl::FailedPreconditionError("RegistrationClient has no connection");
}

template <typename Request, typename Response>
using ConnectionMethod = absl::StatusOr<Response> (RegistrationConnection::*)(const Request&,
                                                                              const CallOptions&);

template <typename Request, typename Response>
absl::StatusOr<Response> Send(RegistrationConnection* connection,
                              ConnectionMethod<Request, Response> method,
                              const Request& request, const CallOptions& options) {
  if (connection == nullptr) return NoConnection();
  return (connection->*method)(request, options);
}

// A request that names an existing client (Get, Update, Delete).
template <typename Request>
Request NamingClient(std::string client_id, std::string registration_access_token) {
  Request request;
  request.set_client_id(std::move(client_id));
  request.set_registration_access_token(std::move(registration_access_token));
  return request;
}

}  // namespace

absl::StatusOr<v1::ListClientsResponse> RegistrationConnection::ListClients(
    const v1::ListClientsRequest&, const CallOptions&) {
  return absl::UnimplementedError("this connection does not implement ListClients");
}
absl::StatusOr<v1::GetClientRecordResponse> RegistrationConnection::GetClientRecord(
    const v1::GetClientRecordRequest&, const CallOptions&) {
  return absl::UnimplementedError("this connection does not implement GetClientRecord");
}
absl::StatusOr<v1::RotateClientSecretResponse> RegistrationConnection::RotateClientSecret(
    const v1::RotateClientSecretRequest&, const CallOptions&) {
  return absl::UnimplementedError("this connection does not implement RotateClientSecret");
}
absl::StatusOr<v1::SetClientLockedResponse> RegistrationConnection::SetClientLocked(
    const v1::SetClientLockedRequest&, const CallOptions&) {
  return absl::UnimplementedError("this connection does not implement SetClientLocked");
}

RegistrationClient::RegistrationClient(std::shared_ptr<RegistrationConnection> connection)
    : connection_(std::move(connection)) {}

absl::StatusOr<v1::RegisterClientResponse> RegistrationClient::RegisterClient(
    const v1::RegisterClientRequest& request, const CallOptions& options) {
  return Send(connection_.get(), &RegistrationConnection::RegisterClient, request, options);
}

absl::StatusOr<v1::RegisterClientResponse> RegistrationClient::RegisterClient(
    const v1::ClientMetadata& metadata, const CallOptions& options) {
  v1::RegisterClientRequest request;
  *request.mutable_metadata() = metadata;
  return RegisterClient(request, options);
}

absl::StatusOr<v1::GetClientResponse> RegistrationClient::GetClient(
    const v1::GetClientRequest& request, const CallOptions& options) {
  return Send(connection_.get(), &RegistrationConnection::GetClient, request, options);
}

absl::StatusOr<v1::GetClientResponse> RegistrationClient::GetClient(
    std::string client_id, std::string registration_access_token, const CallOptions& options) {
  return GetClient(NamingClient<v1::GetClientRequest>(std::move(client_id),
                                                      std::move(registration_access_token)),
                   options);
}

absl::StatusOr<v1::UpdateClientResponse> RegistrationClient::UpdateClient(
    const v1::UpdateClientRequest& request, const CallOptions& options) {
  return Send(connection_.get(), &RegistrationConnection::UpdateClient, request, options);
}

absl::StatusOr<v1::UpdateClientResponse> RegistrationClient::UpdateClient(
    std::string client_id, std::string registration_access_token,
    const v1::ClientMetadata& metadata, const CallOptions& options) {
  auto request = NamingClient<v1::UpdateClientRequest>(std::move(client_id),
                                                        std::move(registration_access_token));
  *request.mutable_metadata() = metadata;
  return UpdateClient(request, options);
}

absl::StatusOr<v1::DeleteClientResponse> RegistrationClient::DeleteClient(
    const v1::DeleteClientRequest& request, const CallOptions& options) {
  return Send(connection_.get(), &RegistrationConnection::DeleteClient, request, options);
}

absl::StatusOr<v1::DeleteClientResponse> RegistrationClient::DeleteClient(
    std::string client_id, std::string registration_access_token, const CallOptions& options) {
  return DeleteClient(NamingClient<v1::DeleteClientRequest>(std::move(client_id),
                                                            std::move(registration_access_token)),
                      options);
}

absl::StatusOr<v1::ListClientsResponse> RegistrationClient::ListClients(
    const v1::ListClientsRequest& request, const CallOptions& options) {
  return Send(connection_.get(), &RegistrationConnection::ListClients, request, options);
}

absl::StatusOr<v1::GetClientRecordResponse> RegistrationClient::GetClientRecord(
    const v1::GetClientRecordRequest& request, const CallOptions& options) {
  return Send(connection_.get(), &RegistrationConnection::GetClientRecord, request, options);
}

absl::StatusOr<v1::GetClientRecordResponse> RegistrationClient::GetClientRecord(
    std::string client_id, const CallOptions& options) {
  v1::GetClientRecordRequest request;
  request.set_client_id(std::move(client_id));
  return GetClientRecord(request, options);
}

absl::StatusOr<v1::RotateClientSecretResponse> RegistrationClient::RotateClientSecret(
    const v1::RotateClientSecretRequest& request, const CallOptions& options) {
  return Send(connection_.get(), &RegistrationConnection::RotateClientSecret, request, options);
}

absl::StatusOr<v1::SetClientLockedResponse> RegistrationClient::SetClientLocked(
    const v1::SetClientLockedRequest& request, const CallOptions& options) {
  return Send(connection_.get(), &RegistrationConnection::SetClientLocked, request, options);
}

absl::StatusOr<v1::SetClientLockedResponse> RegistrationClient::SetClientLocked(
    std::string client_id, bool locked, const CallOptions& options) {
  v1::SetClientLockedRequest request;
  request.set_client_id(std::move(client_id));
  request.set_locked(locked);
  return SetClientLocked(request, options);
}

}  // namespace dcr::client
