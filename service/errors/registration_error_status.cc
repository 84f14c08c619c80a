#include "service/errors/registration_error_status.h"

#include "absl/strings/cord.h"

namespace dcr::errors {

absl::Status MakeStatus(absl::StatusCode code, absl::string_view message,
                        const v1::RegistrationError& detail) {
  absl::Status status(code, message);
  status.SetPayload(kRegistrationErrorTypeUrl, absl::Cord(detail.SerializeAsString()));
  return status;
}

absl::Status InvalidRequest(absl::string_view message) {
  v1::RegistrationError detail;
  detail.set_reason(v1::ERROR_REASON_INVALID_REQUEST);
  detail.set_http_status(400);
  return MakeStatus(absl::StatusCode::kInvalidArgument, message, detail);
}

absl::optional<v1::RegistrationError> GetRegistrationError(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kRegistrationErrorTypeUrl);
  if (!payload.has_value()) return absl::nullopt;
  v1::RegistrationError detail;
  if (!detail.ParseFromString(std::string(*payload))) return absl::nullopt;
  return detail;
}

void SetRetryAfter(absl::Duration wait, v1::RegistrationError& detail) {
  const int64_t seconds = absl::ToInt64Seconds(wait);
  detail.mutable_retry_after()->set_seconds(seconds);
  detail.mutable_retry_after()->set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(wait - absl::Seconds(seconds))));
}

absl::optional<absl::Duration> GetRetryAfter(const v1::RegistrationError& detail) {
  if (!detail.has_retry_after()) return absl::nullopt;
  return absl::Seconds(detail.retry_after().seconds()) +
         absl::Nanoseconds(detail.retry_after().nanos());
}

}  // namespace dcr::errors
