// The RegistrationError on the wire: packed into the google.rpc.Status that
// travels in grpc-status-details-bin, and read back from it. The gateway
// packs once, at its gRPC edge; dcr::client reads once, when a call returns.
#ifndef DCR_PROTO_API_STATUS_DETAIL_H_
#define DCR_PROTO_API_STATUS_DETAIL_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "dcr/v1/registration_error.pb.h"

namespace dcr::api {

// The detail's type URL, as google.protobuf.Any writes it.
inline constexpr char kRegistrationErrorTypeUrl[] =
    "type.googleapis.com/dcr.v1.RegistrationError";

// A gRPC status with `code` and `message`; `detail`, when given, is packed
// as the one detail of its google.rpc.Status.
grpc::Status ToGrpcStatus(absl::StatusCode code, absl::string_view message,
                          const v1::RegistrationError* detail);

// The RegistrationError among `status`'s details; nullopt when there is none
// or it does not parse (the peer's bytes are untrusted).
absl::optional<v1::RegistrationError> RegistrationErrorOf(const grpc::Status& status);

// grpc::StatusCode and absl::StatusCode share the canonical numbering; a
// number outside it (a misbehaving peer) is UNKNOWN.
absl::StatusCode ToAbslCode(grpc::StatusCode code);

// `detail.retry_after` as a duration; nullopt when unset or malformed
// (negative, or nanos out of range).
absl::optional<absl::Duration> RetryAfter(const v1::RegistrationError& detail);
// `wait` into `detail.retry_after`, clamped to [0, Duration's maximum].
void SetRetryAfter(absl::Duration wait, v1::RegistrationError& detail);

}  // namespace dcr::api

#endif  // DCR_PROTO_API_STATUS_DETAIL_H_
