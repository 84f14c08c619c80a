#include "proto/api/error_rules.h"

#include <cstddef>

namespace dcr::api {
namespace {

using absl::StatusCode;
using v1::RegistrationError;

constexpr RetryScope kNone = RetryScope::kNone;
constexpr RetryScope kReads = RetryScope::kReads;
constexpr RetryScope kIdempotent = RetryScope::kIdempotent;
constexpr RetryScope kAll = RetryScope::kAll;
constexpr RetryRule kNobody{};

// clang-format off
constexpr ReasonRule kRules[] = {
  // reason, code, end-client HTTP, processed,
  //   gateway {never sent, answered, lost}, client {never sent, answered, lost}
  {v1::ERROR_REASON_UNSPECIFIED, StatusCode::kUnknown, 500, Processed::kNo, kNobody, kNobody},
  // Authlete not called: the request itself is wrong.
  {v1::ERROR_REASON_INVALID_REQUEST, StatusCode::kInvalidArgument, 400, Processed::kNo,
   kNobody, kNobody},
  {v1::ERROR_REASON_SERVICE_NOT_ALLOWED, StatusCode::kPermissionDenied, 500, Processed::kNo,
   kNobody, kNobody},
  // Authlete's verdict on the end client's request: relay it, never retry.
  {v1::ERROR_REASON_REGISTRATION_REJECTED, StatusCode::kInvalidArgument, 400, Processed::kNo,
   kNobody, kNobody},
  // Authlete's own failure: a read may be asked again.
  {v1::ERROR_REASON_AUTHLETE_ERROR, StatusCode::kInternal, 500, Processed::kNo,
   {kReads, kReads, kReads}, kNobody},
  // Configuration faults: retrying cannot help until an operator acts.
  {v1::ERROR_REASON_GATEWAY_CREDENTIALS_REJECTED, StatusCode::kFailedPrecondition, 500,
   Processed::kNo, kNobody, kNobody},
  {v1::ERROR_REASON_SERVICE_NOT_FOUND, StatusCode::kFailedPrecondition, 500, Processed::kNo,
   kNobody, kNobody},
  // Nothing reached Authlete: any operation may go again.
  {v1::ERROR_REASON_UPSTREAM_UNREACHABLE, StatusCode::kUnavailable, 503, Processed::kNo,
   {kAll, kAll, kAll}, kNobody},
  // 429 proves the request was not processed. The gateway resends the
  // idempotent operations; a Register is left to the caller, who knows
  // whether it still wants the client, and dcr::client resends it.
  {v1::ERROR_REASON_UPSTREAM_RATE_LIMITED, StatusCode::kUnavailable, 503, Processed::kNo,
   {kNone, kIdempotent, kNone}, {kNone, kAll, kNone}},
  // A 5xx answer: the idempotent operations go again; a connection lost
  // after sending: only a read, since the first may have had its effect.
  {v1::ERROR_REASON_UPSTREAM_FAILED, StatusCode::kUnavailable, 503, Processed::kYes,
   {kAll, kIdempotent, kReads}, kNobody},
  {v1::ERROR_REASON_UPSTREAM_TIMEOUT, StatusCode::kDeadlineExceeded, 504, Processed::kIfSent,
   {kAll, kReads, kReads}, kNobody},
  {v1::ERROR_REASON_UPSTREAM_BAD_RESPONSE, StatusCode::kInternal, 500, Processed::kYes,
   {kReads, kReads, kReads}, kNobody},
  // This replica is going away: another one can take the call.
  {v1::ERROR_REASON_GATEWAY_UNAVAILABLE, StatusCode::kUnavailable, 503, Processed::kIfSent,
   kNobody, {kAll, kIdempotent, kIdempotent}},
  {v1::ERROR_REASON_UPSTREAM_REQUEST_REFUSED, StatusCode::kInternal, 500, Processed::kNo,
   kNobody, kNobody},
  // This replica's circuit is open; Authlete was not called.
  {v1::ERROR_REASON_UPSTREAM_CIRCUIT_OPEN, StatusCode::kUnavailable, 503, Processed::kNo,
   kNobody, {kAll, kAll, kAll}},
  {v1::ERROR_REASON_GATEWAY_OVERLOADED, StatusCode::kResourceExhausted, 503, Processed::kNo,
   kNobody, kNobody},
  // The caller's own standing: a resend would be refused the same way.
  {v1::ERROR_REASON_CALLER_UNAUTHENTICATED, StatusCode::kUnauthenticated, 403, Processed::kNo,
   kNobody, kNobody},
  {v1::ERROR_REASON_CALLER_NOT_PERMITTED, StatusCode::kPermissionDenied, 403, Processed::kNo,
   kNobody, kNobody},
  {v1::ERROR_REASON_CALLER_RATE_LIMITED, StatusCode::kResourceExhausted, 429, Processed::kNo,
   kNobody, kNobody},
  // The request itself is wrong, as for INVALID_REQUEST.
  {v1::ERROR_REASON_INVALID_PAGE_TOKEN, StatusCode::kInvalidArgument, 400, Processed::kNo,
   kNobody, kNobody},
  // request_id (idempotent Register): the request is wrong, or names
  // another request.
  {v1::ERROR_REASON_INVALID_REQUEST_ID, StatusCode::kInvalidArgument, 400, Processed::kNo,
   kNobody, kNobody},
  {v1::ERROR_REASON_REQUEST_ID_REUSED, StatusCode::kInvalidArgument, 400, Processed::kNo,
   kNobody, kNobody},
  // FAILED_PRECONDITION, not UNAVAILABLE: no retry with this request_id can
  // ever succeed; the caller must look for the client first.
  {v1::ERROR_REASON_REQUEST_OUTCOME_UNKNOWN, StatusCode::kFailedPrecondition, 500,
   Processed::kYes, kNobody, kNobody},
  // Not sent: the first call of the request_id still runs, and a resend with
  // the same request_id shares its result.
  {v1::ERROR_REASON_REQUEST_IN_PROGRESS, StatusCode::kUnavailable, 503, Processed::kNo,
   kNobody, {kAll, kAll, kAll}},
  {v1::ERROR_REASON_STATE_STORE_UNAVAILABLE, StatusCode::kUnavailable, 503, Processed::kNo,
   kNobody, {kAll, kAll, kAll}},
};
// clang-format on

constexpr std::size_t kRuleCount = sizeof(kRules) / sizeof(kRules[0]);

constexpr bool RowsInEnumOrder() {
  for (std::size_t i = 0; i < kRuleCount; ++i) {
    if (static_cast<std::size_t>(kRules[i].reason) != i) return false;
  }
  return true;
}
static_assert(RowsInEnumOrder(), "kRules must list every reason, in enum order");
static_assert(kRuleCount == v1::ErrorReason_ARRAYSIZE,
              "every dcr.v1.ErrorReason needs a row in kRules");

// Which column of a rule applies to what is known of the failure.
RetryScope ScopeFor(const RetryRule& rule, const RegistrationError& error) {
  if (error.upstream_http_status() != 0) return rule.answered;
  if (!error.may_have_been_processed()) return rule.never_sent;
  return rule.lost;
}

}  // namespace

bool InScope(RetryScope scope, Operation operation) {
  switch (scope) {
    case RetryScope::kNone:
      return false;
    case RetryScope::kReads:
      return Traits(operation).read_only;
    case RetryScope::kIdempotent:
      return Traits(operation).idempotent;
    case RetryScope::kAll:
      return true;
  }
  return false;
}

absl::Span<const ReasonRule> ReasonRules() { return absl::MakeConstSpan(kRules); }

const ReasonRule& RuleOf(v1::ErrorReason reason) {
  const auto index = static_cast<std::size_t>(reason);
  return index < kRuleCount ? kRules[index] : kRules[0];
}

absl::StatusCode CodeOf(v1::ErrorReason reason, v1::Action action) {
  if (reason == v1::ERROR_REASON_REGISTRATION_REJECTED && action == v1::ACTION_UNAUTHORIZED) {
    return StatusCode::kUnauthenticated;
  }
  return RuleOf(reason).code;
}

int HttpStatusOf(v1::ErrorReason reason, v1::Action action) {
  if (reason == v1::ERROR_REASON_REGISTRATION_REJECTED && action == v1::ACTION_UNAUTHORIZED) {
    return 401;
  }
  return RuleOf(reason).http_status;
}

bool GatewayRetries(Operation operation, const RegistrationError& error) {
  return InScope(ScopeFor(RuleOf(error.reason()).gateway, error), operation);
}

bool ClientRetries(Operation operation, absl::StatusCode code, const RegistrationError* error) {
  // Only UNAVAILABLE says "try again": DEADLINE_EXCEEDED leaves no time, and
  // RESOURCE_EXHAUSTED asks the caller to slow down.
  if (code != StatusCode::kUnavailable) return false;
  // No answer from the gateway: it may have called Authlete, so only what is
  // safe to run twice goes again.
  if (error == nullptr) return Traits(operation).idempotent;
  const ReasonRule& rule = RuleOf(error->reason());
  return InScope(ScopeFor(rule.client, *error), operation) &&
         !InScope(ScopeFor(rule.gateway, *error), operation);
}

bool ClientRetriesWithRequestId(absl::StatusCode code, const RegistrationError* error) {
  if (code != StatusCode::kUnavailable) return false;
  if (error == nullptr || error->reason() == v1::ERROR_REASON_GATEWAY_UNAVAILABLE) return true;
  return ClientRetries(Operation::kRegister, code, error);
}

}  // namespace dcr::api
