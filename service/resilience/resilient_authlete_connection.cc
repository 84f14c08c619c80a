#include "service/resilience/resilient_authlete_connection.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "proto/api/error_rules.h"

namespace dcr::resilience {
namespace {

using api::Index;
using api::Operation;
using core::DcrCall;
using core::DcrResult;
using core::Error;

// A retry is pointless with less time than this left: it could not finish.
constexpr absl::Duration kMinAttemptTime = absl::Milliseconds(20);

// What an attempt's outcome says about Authlete's health.
CallOutcome OutcomeOf(const DcrResult& result, absl::Duration attempt_timeout,
                      absl::Duration min_timeout_counted) {
  if (result.ok()) return CallOutcome::kSuccess;
  switch (result.error().reason()) {
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
    case v1::ERROR_REASON_UNSPECIFIED:
      return CallOutcome::kNeutral;
    default:
      // Authlete answered, if only to refuse the request: it is up.
      return CallOutcome::kSuccess;
  }
}

}  // namespace

struct ResilientAuthleteConnection::PendingCall {
  DcrCall call;
  absl::Time start;
  absl::Time deadline;
  Callback done;
  int attempts = 0;
  // The failure of the last attempt, while waiting to retry.
  absl::optional<Error> last_error;
};

ResilientAuthleteConnection::ResilientAuthleteConnection(
    ResilienceOptions options, std::shared_ptr<authlete::AuthleteConnection> inner,
    metrics::Registry* registry, CircuitBreaker::Clock clock)
    : options_(options), inner_(std::move(inner)) {
  for (Operation op : api::kOperations) {
    breakers_[Index(op)] = std::make_unique<CircuitBreaker>(options_.circuit_breaker, clock);
  }
  if (registry == nullptr) {
    own_registry_ = std::make_unique<metrics::Registry>();
    registry = own_registry_.get();
  }
  metrics_ = std::make_unique<UpstreamMetrics>(*registry);
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
  metrics_->CircuitStateIs(operation, breakers_[Index(operation)]->state());
}

absl::Duration ResilientAuthleteConnection::NextDelay(
    int retry, absl::optional<absl::Duration> retry_after) {
  absl::MutexLock lock(&random_mu_);
  return BackoffDelay(options_.backoff, retry, retry_after, random_);
}

void ResilientAuthleteConnection::Call(const DcrCall& call, absl::Duration timeout,
                                       Callback done) {
  const int before = in_flight_.fetch_add(1, std::memory_order_relaxed);
  if (options_.max_in_flight > 0 && before >= options_.max_in_flight) {
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    metrics_->RejectedOverloaded(call.operation);
    std::move(done)(Error(v1::ERROR_REASON_GATEWAY_OVERLOADED,
                          absl::StrCat("the gateway already has ", options_.max_in_flight,
                                       " calls in flight to Authlete")));
    return;
  }
  metrics_->CallStarted();
  auto pending = std::make_shared<PendingCall>();
  pending->call = call;
  pending->start = absl::Now();
  pending->deadline = pending->start + timeout;
  pending->done = std::move(done);
  StartAttempt(std::move(pending));
}

void ResilientAuthleteConnection::StartAttempt(std::shared_ptr<PendingCall> pending) {
  const Operation operation = pending->call.operation;
  CircuitBreaker& breaker = *breakers_[Index(operation)];
  const CircuitBreaker::Admission admission = breaker.Admit();
  PublishState(operation);
  if (!admission.allowed && pending->last_error.has_value()) {
    // The circuit opened while this call waited to retry: its own failure
    // says more than "circuit open".
    Error last = *std::move(pending->last_error);
    Finish(std::move(pending), std::move(last));
    return;
  }
  if (!admission.allowed) {
    metrics_->RejectedCircuitOpen(operation);
    Error open(v1::ERROR_REASON_UPSTREAM_CIRCUIT_OPEN,
               absl::StrCat("recent ", api::Name(operation),
                            " calls to Authlete failed; not calling it for ",
                            absl::FormatDuration(admission.retry_after)));
    open.set_retry_after(admission.retry_after);
    Finish(std::move(pending), std::move(open));
    return;
  }
  const absl::Time attempt_start = absl::Now();
  const absl::Duration left = pending->deadline - attempt_start;
  absl::Duration attempt_timeout = left;
  if (api::Traits(operation).read_only && pending->attempts + 1 < options_.max_attempts) {
    attempt_timeout = std::min(left, options_.get_attempt_timeout);
  }
  ++pending->attempts;
  // The inner connection reports on its own thread; the next attempt, if
  // any, starts from there or from the timer thread, never blocking.
  const DcrCall& call = pending->call;
  inner_->Call(call, attempt_timeout,
               [this, pending, admission, attempt_timeout, attempt_start](
                   DcrResult result) mutable {
                 OnAttemptDone(std::move(pending), admission, attempt_timeout, attempt_start,
                               std::move(result));
               });
}

void ResilientAuthleteConnection::OnAttemptDone(std::shared_ptr<PendingCall> pending,
                                                CircuitBreaker::Admission admission,
                                                absl::Duration attempt_timeout,
                                                absl::Time attempt_start, DcrResult result) {
  const Operation operation = pending->call.operation;
  metrics_->AttemptEnded(operation, result.ok() ? nullptr : &result.error(),
                         absl::Now() - attempt_start);
  breakers_[Index(operation)]->Record(
      admission, OutcomeOf(result, attempt_timeout, options_.min_timeout_counted));
  PublishState(operation);
  if (result.ok() || pending->attempts >= options_.max_attempts || cancelled_.load() ||
      !api::GatewayRetries(operation, result.error().detail())) {
    Finish(std::move(pending), std::move(result));
    return;
  }
  const absl::Duration delay = NextDelay(pending->attempts - 1, result.error().retry_after());
  const absl::Time when = absl::Now() + delay;
  if (pending->deadline - when < kMinAttemptTime) {
    // Authlete asked for a longer wait than the call has left.
    Finish(std::move(pending), std::move(result));
    return;
  }
  metrics_->Retried(operation);
  pending->last_error = std::move(result).error();
  timers_.Schedule(when, [this, pending = std::move(pending)](bool cancelled) mutable {
    if (cancelled || cancelled_.load()) {
      Error last = *std::move(pending->last_error);
      Finish(std::move(pending), std::move(last));
    } else {
      StartAttempt(std::move(pending));
    }
  });
}

void ResilientAuthleteConnection::Finish(std::shared_ptr<PendingCall> pending,
                                         DcrResult result) {
  in_flight_.fetch_sub(1, std::memory_order_relaxed);
  metrics_->CallEnded(pending->call.operation, absl::Now() - pending->start);
  Callback done = std::move(pending->done);
  if (result.ok()) {
    std::move(done)(std::move(result));
    return;
  }
  Error error = std::move(result).error();
  error.set_upstream_attempts(pending->attempts);
  std::move(done)(std::move(error));
}

}  // namespace dcr::resilience
