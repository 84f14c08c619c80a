// Conversion of gRPC statuses into absl::Status, and access to the
// dcr.v1.RegistrationError the gateway attaches to every error.
#ifndef DCR_CLIENT_REGISTRATION_ERROR_H_
#define DCR_CLIENT_REGISTRATION_ERROR_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/types/optional.h"
#include "dcr/v1/registration_error.pb.h"
#include "proto/api/status_detail.h"

namespace dcr::client {

// The absl::Status payload type URL under which the detail is stored: the
// same as its google.protobuf.Any type URL (dcr::api's, not a copy).
inline constexpr const auto& kRegistrationErrorTypeUrl = api::kRegistrationErrorTypeUrl;

// The status with the same code and message; when `status.error_details()`
// holds a google.rpc.Status with a dcr.v1.RegistrationError, the detail is
// attached as a payload under kRegistrationErrorTypeUrl. Details that do not
// parse are ignored: the server's reply is untrusted input.
absl::Status FromGrpcStatus(const grpc::Status& status);

// The inverse, for fakes and proxies: the RegistrationError payload, if any,
// travels as a google.rpc.Status detail.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The detail attached to `status`, if any.
absl::optional<v1::RegistrationError> GetRegistrationError(const absl::Status& status);

// Attaches `detail` to `status` (replacing any previous one). Useful to build
// statuses in tests that mock RegistrationConnection.
void SetRegistrationError(absl::Status& status, const v1::RegistrationError& detail);

}  // namespace dcr::client

#endif  // DCR_CLIENT_REGISTRATION_ERROR_H_
