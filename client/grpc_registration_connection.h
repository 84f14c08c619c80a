// The gRPC implementation of RegistrationConnection: deadlines, and retries
// with exponential backoff and full jitter.
//
// Retry rules: one story with the gateway, in dcr::api::ClientRetries()
// (proto/api/error_rules.h). The gateway retries Authlete itself; this
// connection resends only what the gateway did not resend:
//   UPSTREAM_RATE_LIMITED    RegisterClient (the gateway resent the others)
//   UPSTREAM_CIRCUIT_OPEN    every RPC (another replica's circuit may be closed)
//   GATEWAY_UNAVAILABLE      every RPC when may_have_been_processed is false,
//                            else Get, Update and Delete only
//   UNAVAILABLE, no detail   Get, Update and Delete (idempotent) only
// The administrative RPCs follow the same rules by their traits
// (proto/api/operation.cc): ListClients, GetClientRecord and SetClientLocked
// as the idempotent ones, RotateClientSecret as RegisterClient.
// Nothing else: no other code (DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ...),
// and no other reason, which the gateway already retried as far as it could.
// The bound: when a gateway answers, a client call causes at most the
// gateway's --upstream_max_attempts Authlete requests; only a call whose
// gateway answer never arrives (connection lost, replica gone) is resent
// for idempotent RPCs.
// A call never exceeds its deadline (which covers all attempts) nor
// max_attempts. A RegistrationError.retry_after is honoured as the minimum
// sleep; when the sleep would end past the deadline the error is returned at
// once.
#ifndef DCR_CLIENT_GRPC_REGISTRATION_CONNECTION_H_
#define DCR_CLIENT_GRPC_REGISTRATION_CONNECTION_H_

#include <memory>

#include <grpcpp/channel.h>

#include "client/options.h"
#include "client/registration_connection.h"

namespace dcr::client {

// A connection over `channel` (see MakeChannel() in client/channel.h).
std::shared_ptr<RegistrationConnection> MakeGrpcRegistrationConnection(
    std::shared_ptr<grpc::Channel> channel, ConnectionOptions options = {});

}  // namespace dcr::client

#endif  // DCR_CLIENT_GRPC_REGISTRATION_CONNECTION_H_
