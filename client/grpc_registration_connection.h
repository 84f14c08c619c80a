// The gRPC implementation of RegistrationConnection: deadlines, and retries
// with exponential backoff and full jitter, decided per RPC.
//
// Retry rules (a call never exceeds its deadline nor max_attempts):
//   GetClient, UpdateClient   idempotent (a read; a full replacement): retried
//                             on UNAVAILABLE, with or without detail.
//   RegisterClient,           not idempotent (a retry could create a second
//   DeleteClient              client / fail on the deleted one): retried only
//                             when the RegistrationError proves the request was
//                             not processed: UNAVAILABLE with reason
//                             UPSTREAM_UNREACHABLE, UPSTREAM_RATE_LIMITED or
//                             GATEWAY_UNAVAILABLE and may_have_been_processed
//                             false. Never on a bare UNAVAILABLE (the gateway
//                             may have called Authlete before the connection
//                             broke) nor on DEADLINE_EXCEEDED.
// Every other code (INVALID_ARGUMENT, UNAUTHENTICATED, ...) is final.
// A RegistrationError.retry_after is honoured as the minimum sleep; when it
// would end past the deadline the error is returned at once.
#ifndef DCR_CLIENT_GRPC_REGISTRATION_CONNECTION_H_
#define DCR_CLIENT_GRPC_REGISTRATION_CONNECTION_H_

#include <memory>

#include <grpcpp/channel.h>

#include "absl/status/status.h"
#include "client/options.h"
#include "client/registration_connection.h"

namespace dcr::client {

// A connection over `channel` (see MakeChannel() in client/channel.h).
std::shared_ptr<RegistrationConnection> MakeGrpcRegistrationConnection(
    std::shared_ptr<grpc::Channel> channel, ConnectionOptions options = {});

// Whether an RPC may safely run twice.
enum class Idempotency { kIdempotent, kNonIdempotent };

// The retry decision for a failed attempt, as described above.
bool IsRetryable(Idempotency idempotency, const absl::Status& status);

}  // namespace dcr::client

#endif  // DCR_CLIENT_GRPC_REGISTRATION_CONNECTION_H_
