// absl::Status values that carry a dcr.v1.RegistrationError, so every layer of
// the gateway speaks absl::Status and the gRPC layer can still attach the
// typed detail callers rely on.
#ifndef DCR_SERVICE_ERRORS_REGISTRATION_ERROR_STATUS_H_
#define DCR_SERVICE_ERRORS_REGISTRATION_ERROR_STATUS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "dcr/v1/registration_error.pb.h"

namespace dcr::errors {

// The payload type URL: the same as the Any type URL of the detail.
inline constexpr char kRegistrationErrorTypeUrl[] =
    "type.googleapis.com/dcr.v1.RegistrationError";

// A status with `code`, `message` and `detail` attached as a payload.
absl::Status MakeStatus(absl::StatusCode code, absl::string_view message,
                        const v1::RegistrationError& detail);

// An INVALID_ARGUMENT for a bad request to the gateway (reason
// INVALID_REQUEST, end-client HTTP status 400).
absl::Status InvalidRequest(absl::string_view message);

// `detail.retry_after` as a duration, and back.
void SetRetryAfter(absl::Duration wait, v1::RegistrationError& detail);
absl::optional<absl::Duration> GetRetryAfter(const v1::RegistrationError& detail);

// The detail of `status`, when it carries one.
absl::optional<v1::RegistrationError> GetRegistrationError(const absl::Status& status);

}  // namespace dcr::errors

#endif  // DCR_SERVICE_ERRORS_REGISTRATION_ERROR_STATUS_H_
