#include "service/resilience/resilient_authlete_connection.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "service/errors/registration_error_status.h"

namespace dcr::resilience {
namespace {

using authlete::DcrCall;
using authlete::DcrResponse;
using authlete::Operation;

constexpr std::array<Operation, 4> kOperations = {Operation::kRegister, Operation::kGet,
                                                  Operation::kUpdate, Operation::kDelete};

std::size_t Index(Operation operation) { return static_cast<std::size_t>(operation); }

// A retry is pointless with less time than this left: it could not finish.
constexpr absl::Duration kMinAttemptTime = absl::Milliseconds(20);

// What an attempt's outcome says about Authlete's health.
CallOutcome OutcomeOf(const absl::Status& status, absl::Duration attempt_timeout,
                      absl::Duration min_timeout_counted) {
  if (status.ok()) return CallOutcome::kSuccess;
  const absl::optional<v1::RegistrationError> error = errors::GetRegistrationError(status);
  if (!error.has_value()) return CallOutcome::kNeutral;
  switch (error->reason()) {
    case v1::ERROR_REASON_UPSTREAM_TIMEOUT:
      return attempt_timeout >= min_timeout_counted ? CallOutcome::kFailure
                                                    : CallOutcome::kNeutral;
    case v1::ERROR_REASON_UPSTREAM_UNREACHABLE:
    case v1::ERROR_REASON_UPSTREAM_RATE_LIMITED:
    case v1::ERROR_REASON_UPSTREAM_FAILED:
    case v1::ERROR_REASON_UPSTREAM_BAD_RESPONSE:
    case v1::ERROR_REASON_AUTHLETE_ERROR:
      return CallOutcome::kFailure;
    case v1::ERROR_REASON_GATEWAY_UNAVAILABLE:
      return CallOutcome::kNeutral;
    default:
      // Authlete answered, if only to refuse the request: it is up.
      return CallOutcome::kSuccess;
  }
}

// `status` with its detail's upstream_attempts set.
absl::Status WithAttempts(const absl::Status& status, int attempts) {
  absl::optional<v1::RegistrationError> error = errors::GetRegistrationError(status);
  if (!error.has_value()) return status;
  error->set_upstream_attempts(attempts);
  return errors::MakeStatus(status.code(), status.message(), *error);
}

}  // namespace

bool RetryIsSafe(Operation operation, const v1::RegistrationError& error) {
  const v1::ErrorReason reason = error.reason();
  const bool upstream_failure = reason == v1::ERROR_REASON_UPSTREAM_UNREACHABLE ||
                                reason == v1::ERROR_REASON_UPSTREAM_TIMEOUT ||
                                reason == v1::ERROR_REASON_UPSTREAM_FAILED;
  // Nothing reached Authlete (connection refused, connect timeout): no
  // operation can have taken effect.
  if (upstream_failure && !error.may_have_been_processed()) return true;
  switch (operation) {
    case Operation::kGet:
      return upstream_failure || reason == v1::ERROR_REASON_UPSTREAM_RATE_LIMITED ||
             reason == v1::ERROR_REASON_UPSTREAM_BAD_RESPONSE ||
             reason == v1::ERROR_REASON_AUTHLETE_ERROR;
    case Operation::kUpdate:
    case Operation::kDelete:
      // Update replaces the whole client and a repeated Delete only finds
      // the client gone: both are repeatable when Authlete said to retry.
      return reason == v1::ERROR_REASON_UPSTREAM_RATE_LIMITED ||
             (reason == v1::ERROR_REASON_UPSTREAM_FAILED && error.upstream_http_status() >= 500);
    case Operation::kRegister:
      // No idempotency key exists: a second attempt may create a second
      // client. Even a 429 is left to the caller, who knows its intent.
      return false;
  }
  return false;
}

struct ResilientAuthleteConnection::PendingCall {
  DcrCall call;
  absl::Time deadline;
  Callback done;
  int attempts = 0;
  // The failure of the last attempt, while waiting to retry.
  absl::Status last_error;
};

ResilientAuthleteConnection::ResilientAuthleteConnection(
    ResilienceOptions options, std::shared_ptr<authlete::AuthleteConnection> inner,
    metrics::Registry* registry, CircuitBreaker::Clock clock)
    : options_(options), inner_(std::move(inner)) {
  for (Operation op : kOperations) {
    breakers_[Index(op)] = std::make_unique<CircuitBreaker>(options_.circuit_breaker, clock);
  }
  if (registry == nullptr) return;
  metrics::Family& state = registry->Add(
      "dcr_gateway_upstream_circuit_state",
      "Circuit breaker per operation: 0 closed, 1 open (failing fast), 2 half-open (probing).",
      metrics::Type::kGauge, {"rpc"});
  metrics::Family& retries = registry->Add(
      "dcr_gateway_upstream_retries_total",
      "Calls to Authlete sent again after a failed attempt.", metrics::Type::kCounter, {"rpc"});
  metrics::Family& rejected = registry->Add(
      "dcr_gateway_upstream_rejected_total",
      "Calls refused without calling Authlete: circuit open, or too many calls in flight.",
      metrics::Type::kCounter, {"rpc", "reason"});
  for (Operation op : kOperations) {
    const std::string rpc(authlete::OperationName(op));
    circuit_state_[Index(op)] = &state.With({rpc});
    retries_[Index(op)] = &retries.With({rpc});
    rejected_open_[Index(op)] = &rejected.With({rpc, "circuit_open"});
    rejected_overload_[Index(op)] = &rejected.With({rpc, "overloaded"});
  }
}

ResilientAuthleteConnection::~ResilientAuthleteConnection() { CancelAll(); }

void ResilientAuthleteConnection::CancelAll() {
  cancelled_.store(true);
  timers_.CancelAll();
}

CircuitState ResilientAuthleteConnection::circuit_state(Operation operation) const {
  return breakers_[Index(operation)]->state();
}

void ResilientAuthleteConnection::PublishState(Operation operation) {
  metrics::Series* series = circuit_state_[Index(operation)];
  if (series != nullptr) {
    series->Set(static_cast<double>(breakers_[Index(operation)]->state()));
  }
}

absl::Duration ResilientAuthleteConnection::NextDelay(
    int retry, absl::optional<absl::Duration> retry_after) {
  absl::MutexLock lock(&random_mu_);
  return BackoffDelay(options_.backoff, retry, retry_after, random_);
}

void ResilientAuthleteConnection::Call(const DcrCall& call, absl::Duration timeout,
                                       Callback done) {
  const std::size_t op = Index(call.operation);
  const int before = in_flight_.fetch_add(1, std::memory_order_relaxed);
  if (options_.max_in_flight > 0 && before >= options_.max_in_flight) {
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    if (rejected_overload_[op] != nullptr) rejected_overload_[op]->Add();
    v1::RegistrationError detail;
    detail.set_reason(v1::ERROR_REASON_GATEWAY_OVERLOADED);
    detail.set_http_status(503);
    std::move(done)(errors::MakeStatus(
        absl::StatusCode::kResourceExhausted,
        absl::StrCat("the gateway already has ", options_.max_in_flight,
                     " calls in flight to Authlete"),
        detail));
    return;
  }
  auto pending = std::make_shared<PendingCall>();
  pending->call = call;
  pending->deadline = absl::Now() + timeout;
  pending->done = std::move(done);
  StartAttempt(std::move(pending));
}

void ResilientAuthleteConnection::StartAttempt(std::shared_ptr<PendingCall> pending) {
  const Operation operation = pending->call.operation;
  CircuitBreaker& breaker = *breakers_[Index(operation)];
  const CircuitBreaker::Admission admission = breaker.Admit();
  PublishState(operation);
  if (!admission.allowed && pending->attempts > 0) {
    // The circuit opened while this call waited to retry: its own failure
    // says more than "circuit open".
    absl::Status last = pending->last_error;
    Finish(std::move(pending), std::move(last));
    return;
  }
  if (!admission.allowed) {
    if (rejected_open_[Index(operation)] != nullptr) rejected_open_[Index(operation)]->Add();
    v1::RegistrationError detail;
    detail.set_reason(v1::ERROR_REASON_UPSTREAM_CIRCUIT_OPEN);
    detail.set_http_status(503);
    errors::SetRetryAfter(admission.retry_after, detail);
    Finish(std::move(pending),
           errors::MakeStatus(absl::StatusCode::kUnavailable,
                              absl::StrCat("recent ", authlete::OperationName(operation),
                                           " calls to Authlete failed; not calling it for ",
                                           absl::FormatDuration(admission.retry_after)),
                              detail));
    return;
  }
  const absl::Duration left = pending->deadline - absl::Now();
  absl::Duration attempt_timeout = left;
  if (operation == Operation::kGet && pending->attempts + 1 < options_.max_attempts) {
    attempt_timeout = std::min(left, options_.get_attempt_timeout);
  }
  ++pending->attempts;
  // The inner connection reports on its own thread; the next attempt, if
  // any, starts from there or from the timer thread, never blocking.
  const DcrCall& call = pending->call;
  inner_->Call(call, attempt_timeout,
               [this, pending, admission, attempt_timeout](
                   absl::StatusOr<DcrResponse> result) mutable {
                 OnAttemptDone(std::move(pending), admission, attempt_timeout,
                               std::move(result));
               });
}

void ResilientAuthleteConnection::OnAttemptDone(std::shared_ptr<PendingCall> pending,
                                                CircuitBreaker::Admission admission,
                                                absl::Duration attempt_timeout,
                                                absl::StatusOr<DcrResponse> result) {
  const Operation operation = pending->call.operation;
  breakers_[Index(operation)]->Record(
      admission, OutcomeOf(result.status(), attempt_timeout, options_.min_timeout_counted));
  PublishState(operation);
  if (result.ok()) {
    Finish(std::move(pending), std::move(result));
    return;
  }
  const absl::optional<v1::RegistrationError> error =
      errors::GetRegistrationError(result.status());
  if (!error.has_value() || pending->attempts >= options_.max_attempts ||
      cancelled_.load() || !RetryIsSafe(operation, *error)) {
    Finish(std::move(pending), std::move(result));
    return;
  }
  const absl::Duration delay = NextDelay(pending->attempts - 1, errors::GetRetryAfter(*error));
  const absl::Time when = absl::Now() + delay;
  if (pending->deadline - when < kMinAttemptTime) {
    // Authlete asked for a longer wait than the call has left.
    Finish(std::move(pending), std::move(result));
    return;
  }
  if (retries_[Index(operation)] != nullptr) retries_[Index(operation)]->Add();
  pending->last_error = result.status();
  timers_.Schedule(when, [this, pending = std::move(pending)](bool cancelled) mutable {
    if (cancelled || cancelled_.load()) {
      absl::Status last = pending->last_error;
      Finish(std::move(pending), std::move(last));
    } else {
      StartAttempt(std::move(pending));
    }
  });
}

void ResilientAuthleteConnection::Finish(std::shared_ptr<PendingCall> pending,
                                         absl::StatusOr<DcrResponse> result) {
  in_flight_.fetch_sub(1, std::memory_order_relaxed);
  Callback done = std::move(pending->done);
  if (result.ok()) {
    std::move(done)(std::move(result));
  } else {
    std::move(done)(WithAttempts(result.status(), pending->attempts));
  }
}

}  // namespace dcr::resilience
