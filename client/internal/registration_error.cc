// The wire form (google.rpc.Status details) is dcr::api's; this file only
// moves the detail between that and an absl::Status payload.
#include "client/registration_error.h"

#include <string>

#include "absl/strings/cord.h"

namespace dcr::client {

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  absl::Status result(api::ToAbslCode(status.error_code()), status.error_message());
  if (absl::optional<v1::RegistrationError> detail = api::RegistrationErrorOf(status)) {
    SetRegistrationError(result, *detail);
  }
  return result;
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  const absl::optional<v1::RegistrationError> detail = GetRegistrationError(status);
  return api::ToGrpcStatus(status.code(), status.message(),
                           detail.has_value() ? &*detail : nullptr);
}

absl::optional<v1::RegistrationError> GetRegistrationError(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kRegistrationErrorTypeUrl);
  if (!payload.has_value()) return absl::nullopt;
  v1::RegistrationError detail;
  if (!detail.ParseFromString(std::string(*payload))) return absl::nullopt;
  return detail;
}

void SetRegistrationError(absl::Status& status, const v1::RegistrationError& detail) {
  // An OK status ignores payloads; nothing to attach to.
  if (status.ok()) return;
  status.SetPayload(kRegistrationErrorTypeUrl, absl::Cord(detail.SerializeAsString()));
}

}  // namespace dcr::client
