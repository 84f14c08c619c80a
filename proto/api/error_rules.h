// The error model's one table: for every dcr.v1.ErrorReason, the gRPC code,
// the HTTP status an RFC 7591/7592 endpoint answers its end client with,
// whether the request may have been processed, and who may send it again:
// the gateway (to Authlete) or dcr::client (to the gateway). README "Error
// mapping" is checked against this table by a test.
//
// One retry story: the gateway retries what Authlete failed, within the
// call's deadline; dcr::client resends only what the gateway did not resend
// itself, so a client call causes at most the gateway's attempts of Authlete
// requests whenever a gateway answers (README "Retries").
#ifndef DCR_PROTO_API_ERROR_RULES_H_
#define DCR_PROTO_API_ERROR_RULES_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "dcr/v1/action.pb.h"
#include "dcr/v1/registration_error.pb.h"
#include "proto/api/operation.h"

namespace dcr::api {

// Whether a failed request may have had its effect.
enum class Processed {
  kNo,
  kYes,
  // Yes once its request was (possibly) sent.
  kIfSent,
};

// The operations that may be sent again.
enum class RetryScope {
  kNone,
  kReads,       // read-only operations (GetClient)
  kIdempotent,  // idempotent operations (Get, Update, Delete)
  kAll,
};

bool InScope(RetryScope scope, Operation operation);

// Who may send a failed request again, by what is known of the failure.
struct RetryRule {
  // Nothing left the gateway (or Authlete provably never got it).
  RetryScope never_sent = RetryScope::kNone;
  // Authlete answered with an HTTP status.
  RetryScope answered = RetryScope::kNone;
  // Sent, and no answer (connection lost, timed out).
  RetryScope lost = RetryScope::kNone;
};

struct ReasonRule {
  v1::ErrorReason reason;
  absl::StatusCode code;
  int http_status;
  Processed processed;
  // The gateway's retries of Authlete requests.
  RetryRule gateway;
  // dcr::client's retries of the gateway call, for what the gateway itself
  // did not retry.
  RetryRule client;
};

// Every reason, in enum order (ERROR_REASON_UNSPECIFIED first).
absl::Span<const ReasonRule> ReasonRules();

// The row of `reason`; the UNSPECIFIED row for a value this build does not
// know (a newer peer).
const ReasonRule& RuleOf(v1::ErrorReason reason);

// The gRPC code of an error with `reason`: the table's, except that a
// REGISTRATION_REJECTED with action UNAUTHORIZED is UNAUTHENTICATED (the end
// client's registration access token was refused).
absl::StatusCode CodeOf(v1::ErrorReason reason, v1::Action action);

// The end-client HTTP status likewise (401 for that UNAUTHORIZED).
int HttpStatusOf(v1::ErrorReason reason, v1::Action action);

// Whether the gateway sends `operation` to Authlete again after an attempt
// failed with `error`.
bool GatewayRetries(Operation operation, const v1::RegistrationError& error);

// Whether dcr::client calls the gateway again after a call of `operation`
// failed with `code` and `error` (null when the answer had no
// RegistrationError: the gateway was not reached, or the connection broke,
// so only an idempotent operation is resent, and only on UNAVAILABLE).
bool ClientRetries(Operation operation, absl::StatusCode code,
                   const v1::RegistrationError* error);
// The same for a RegisterClient that carries a request_id: the gateway's
// store recognizes a resend, so dcr::client also resends it when no gateway
// answered (the connection was lost) and when a replica shut down with it
// in flight; a resend then gets the first call's reply or its
// REQUEST_OUTCOME_UNKNOWN, never a second client.
bool ClientRetriesWithRequestId(absl::StatusCode code, const v1::RegistrationError* error);

}  // namespace dcr::api

#endif  // DCR_PROTO_API_ERROR_RULES_H_
