#include "proto/api/status_detail.h"

#include <cstdint>
#include <string>
#include <utility>

#include "google/rpc/status.pb.h"

namespace dcr::api {

grpc::Status ToGrpcStatus(absl::StatusCode code, absl::string_view message,
                          const v1::RegistrationError* detail) {
  if (code == absl::StatusCode::kOk) return grpc::Status::OK;
  const auto grpc_code = static_cast<grpc::StatusCode>(static_cast<int>(code));
  std::string text(message);
  if (detail == nullptr) return grpc::Status(grpc_code, std::move(text));
  google::rpc::Status rpc_status;
  rpc_status.set_code(static_cast<int>(code));
  rpc_status.set_message(text);
  rpc_status.add_details()->PackFrom(*detail);
  return grpc::Status(grpc_code, std::move(text), rpc_status.SerializeAsString());
}

absl::optional<v1::RegistrationError> RegistrationErrorOf(const grpc::Status& status) {
  if (status.ok() || status.error_details().empty()) return absl::nullopt;
  google::rpc::Status rpc_status;
  if (!rpc_status.ParseFromString(status.error_details())) return absl::nullopt;
  for (const google::protobuf::Any& any : rpc_status.details()) {
    v1::RegistrationError detail;
    // Is<>() compares the type name after the last '/', so any type URL
    // prefix a peer uses is accepted; a detail that fails to parse is skipped.
    if (any.Is<v1::RegistrationError>() && any.UnpackTo(&detail)) return detail;
  }
  return absl::nullopt;
}

absl::StatusCode ToAbslCode(grpc::StatusCode code) {
  const int n = static_cast<int>(code);
  if (n < 0 || n > static_cast<int>(absl::StatusCode::kUnauthenticated)) {
    return absl::StatusCode::kUnknown;
  }
  return static_cast<absl::StatusCode>(n);
}

absl::optional<absl::Duration> RetryAfter(const v1::RegistrationError& detail) {
  if (!detail.has_retry_after()) return absl::nullopt;
  const google::protobuf::Duration& d = detail.retry_after();
  if (d.seconds() < 0 || d.nanos() < 0 || d.nanos() > 999999999) return absl::nullopt;
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

void SetRetryAfter(absl::Duration wait, v1::RegistrationError& detail) {
  if (wait < absl::ZeroDuration()) wait = absl::ZeroDuration();
  // google.protobuf.Duration ends at 10,000 years; an infinite wait would
  // otherwise be written as INT64_MAX seconds and -1 nanos, which RetryAfter
  // rejects.
  constexpr int64_t kMaxDurationSeconds = 315576000000;
  if (wait > absl::Seconds(kMaxDurationSeconds)) wait = absl::Seconds(kMaxDurationSeconds);
  const int64_t seconds = absl::ToInt64Seconds(wait);
  detail.mutable_retry_after()->set_seconds(seconds);
  detail.mutable_retry_after()->set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(wait - absl::Seconds(seconds))));
}

}  // namespace dcr::api
