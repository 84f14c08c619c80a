// Stage 1 input: what a call presented on the transport, read once from the
// gRPC context into plain values (all untrusted), so that the stages after
// it need no gRPC.
#ifndef DCR_SERVICE_REGISTRATION_INCOMING_CALL_H_
#define DCR_SERVICE_REGISTRATION_INCOMING_CALL_H_

#include <string>

#include <grpcpp/server_context.h>

#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "service/callers/caller_guard.h"

namespace dcr::registration {

struct IncomingCall {
  // API key and verified client certificate names.
  callers::CallerCredentials credentials;
  // W3C trace context headers, as sent.
  absl::optional<std::string> traceparent;
  absl::optional<std::string> tracestate;
  // The peer's address, for the audit log.
  std::string peer;
  // The caller's deadline; InfiniteFuture() when it set none.
  absl::Time deadline = absl::InfiniteFuture();
};

IncomingCall ReadIncomingCall(const grpc::CallbackServerContext& context);

// The API key of an "authorization: Bearer <key>" header value.
absl::optional<std::string> BearerToken(absl::string_view header);

}  // namespace dcr::registration

#endif  // DCR_SERVICE_REGISTRATION_INCOMING_CALL_H_
