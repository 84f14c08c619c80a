#include "client/registration_error.h"

#include <string>

#include "absl/strings/cord.h"
#include "google/rpc/status.pb.h"

namespace dcr::client {
namespace {

// grpc::StatusCode and absl::StatusCode share the canonical numbering; a
// number outside it (a misbehaving peer) becomes UNKNOWN.
absl::StatusCode ToAbslCode(grpc::StatusCode code) {
  const int n = static_cast<int>(code);
  if (n < 0 || n > static_cast<int>(absl::StatusCode::kUnauthenticated)) {
    return absl::StatusCode::kUnknown;
  }
  return static_cast<absl::StatusCode>(n);
}

}  // namespace

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  absl::Status result(ToAbslCode(status.error_code()), status.error_message());
  if (status.error_details().empty()) return result;

  google::rpc::Status rpc_status;
  if (!rpc_status.ParseFromString(status.error_details())) return result;
  for (const google::protobuf::Any& any : rpc_status.details()) {
    v1::RegistrationError detail;
    // Is<>() compares the type name after the last '/', so any type URL
    // prefix a peer uses is accepted; a detail that fails to parse is skipped.
    if (any.Is<v1::RegistrationError>() && any.UnpackTo(&detail)) {
      SetRegistrationError(result, detail);
      break;
    }
  }
  return result;
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const auto code = static_cast<grpc::StatusCode>(static_cast<int>(status.code()));
  const std::string message(status.message());
  absl::optional<v1::RegistrationError> detail = GetRegistrationError(status);
  if (!detail.has_value()) return grpc::Status(code, message);
  google::rpc::Status rpc_status;
  rpc_status.set_code(static_cast<int>(code));
  rpc_status.set_message(message);
  rpc_status.add_details()->PackFrom(*detail);
  return grpc::Status(code, message, rpc_status.SerializeAsString());
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
