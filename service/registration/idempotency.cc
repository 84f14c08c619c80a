#include "service/registration/idempotency.h"

#include <openssl/sha.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/types/optional.h"
#include "service/telemetry/logging.h"

namespace dcr::registration {
namespace {

using core::Error;
using core::ErrorOr;
using state::ReserveOutcome;

// Length-prefixed parts: no caller name, service id or request id can be
// crafted to collide with another triple.
void AppendPart(std::string& out, absl::string_view part) {
  absl::StrAppend(&out, part.size(), ":", part, ";");
}

}  // namespace

// One call through the stage. Its steps run one after another (each from the
// callback of the previous), never at once, so it needs no lock.
struct IdempotencyStage::Attempt {
  std::string key;
  std::string fingerprint;
  absl::Time wait_until;
  absl::Duration next_poll;
  bool waited = false;
  Send send;
  Done done;
  Options options;
  state::StateStore* store = nullptr;
  resilience::TimerQueue* timers = nullptr;
  Counters counters;

  void Finish(ErrorOr<Reply> result) { std::move(done)(std::move(result)); }
  std::shared_ptr<RetryTimers> retry_timers;
};

// An outcome to record; it may outlive the call and the stage, so it holds
// only what the store (which outlives the stage) and the retries need.
struct IdempotencyStage::Recording {
  state::StateStore* store = nullptr;
  std::shared_ptr<RetryTimers> retry_timers;
  state::Reservation reservation;
  absl::optional<std::string> reply;  // none: "outcome unknown"
  absl::Duration retention;
  absl::Time give_up_at;
  absl::Duration next_retry;
  absl::Duration max_retry;
  int tries = 0;
  Counters counters;
};

IdempotencyStage::IdempotencyStage(Options options, std::shared_ptr<state::StateStore> store,
                                   metrics::Registry* registry)
    : options_(options),
      store_(std::move(store)),
      timers_(std::make_unique<resilience::TimerQueue>()),
      retry_timers_(std::make_shared<RetryTimers>()) {
  {
    absl::MutexLock lock(&retry_timers_->mu);
    retry_timers_->timers = timers_.get();
  }
  if (registry == nullptr) {
    own_registry_ = std::make_unique<metrics::Registry>();
    registry = own_registry_.get();
  }
  metrics::Family& family = registry->Add(
      "dcr_gateway_idempotency_total",
      "RegisterClient calls with a request_id, by what the idempotency stage did: sent "
      "(to Authlete), replayed (an earlier call's reply), waited (for a duplicate in "
      "flight, counted once per call), reused (REQUEST_ID_REUSED), outcome_unknown, "
      "in_progress (gave up waiting), store_error (the state store failed), recorded_late "
      "(an outcome the store failed to take at first, recorded by a later try), record_lost "
      "(one it never took: a retry may then be sent again).",
      metrics::Type::kCounter, {"outcome"});
  counters_.sent = &family.With({"sent"});
  counters_.replayed = &family.With({"replayed"});
  counters_.waited = &family.With({"waited"});
  counters_.reused = &family.With({"reused"});
  counters_.unknown = &family.With({"outcome_unknown"});
  counters_.in_progress = &family.With({"in_progress"});
  counters_.store_error = &family.With({"store_error"});
  counters_.recorded_late = &family.With({"recorded_late"});
  counters_.record_lost = &family.With({"record_lost"});
}

IdempotencyStage::~IdempotencyStage() {
  // Before timers_ goes (and runs what it still holds as a last try):
  // retries answered after this schedule nothing more.
  absl::MutexLock lock(&retry_timers_->mu);
  retry_timers_->timers = nullptr;
}

std::string IdempotencyStage::Key(absl::string_view caller, absl::string_view service_id,
                                  absl::string_view request_id) {
  std::string key = "register;";
  AppendPart(key, caller);
  AppendPart(key, service_id);
  AppendPart(key, request_id);
  return key;
}

std::string IdempotencyStage::Fingerprint(absl::string_view service_id,
                                          absl::string_view json) {
  std::string canonical;
  AppendPart(canonical, service_id);
  AppendPart(canonical, json);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(canonical.data()), canonical.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof(digest));
}

void IdempotencyStage::Run(std::string key, std::string fingerprint, absl::Time deadline,
                           Send send, Done done) {
  auto attempt = std::make_shared<Attempt>();
  const absl::Time now = absl::Now();
  if (deadline == absl::InfiniteFuture()) {
    attempt->wait_until = now + options_.reservation_ttl;
  } else {
    // Stop a little early (as UpstreamTimeout does), so that the answer
    // saying why reaches the caller before its own deadline hides it.
    const absl::Duration left = deadline - now;
    attempt->wait_until = deadline - std::min(left / 20, absl::Milliseconds(100));
  }
  attempt->key = std::move(key);
  attempt->fingerprint = std::move(fingerprint);
  attempt->next_poll = options_.first_poll;
  attempt->send = std::move(send);
  attempt->done = std::move(done);
  attempt->options = options_;
  attempt->store = store_.get();
  attempt->timers = timers_.get();
  attempt->counters = counters_;
  attempt->retry_timers = retry_timers_;
  Reserve(std::move(attempt));
}

void IdempotencyStage::Reserve(std::shared_ptr<Attempt> attempt) {
  state::StateStore& store = *attempt->store;
  const std::string key = attempt->key;
  const std::string fingerprint = attempt->fingerprint;
  const absl::Duration ttl = attempt->options.reservation_ttl;
  store.Reserve(key, fingerprint, ttl,
                [attempt = std::move(attempt)](
                    absl::StatusOr<state::ReserveResult> result) mutable {
                  OnReserved(std::move(attempt), std::move(result));
                });
}

void IdempotencyStage::OnReserved(std::shared_ptr<Attempt> attempt,
                                  absl::StatusOr<state::ReserveResult> result) {
  const Counters& counters = attempt->counters;
  if (!result.ok()) {
    counters.store_error->Add(1);
    if (result.status().code() == absl::StatusCode::kResourceExhausted) {
      attempt->Finish(Error(v1::ERROR_REASON_GATEWAY_OVERLOADED,
                            absl::StrCat("the state store is full: ", result.status().message()))
                          .set_retry_after(absl::Seconds(1)));
      return;
    }
    // Not sent: without the store the gateway cannot tell a retry from a
    // new request, and sending could create a second client.
    attempt->Finish(Error(v1::ERROR_REASON_STATE_STORE_UNAVAILABLE,
                          absl::StrCat("the shared state store could not be asked: ",
                                       result.status().message())));
    return;
  }
  switch (result->outcome) {
    case ReserveOutcome::kReserved:
      counters.sent->Add(1);
      SendNow(std::move(attempt), std::move(result->reservation));
      return;
    case ReserveOutcome::kCompleted:
      counters.replayed->Add(1);
      attempt->Finish(Reply{std::move(result->record), true});
      return;
    case ReserveOutcome::kFingerprintMismatch:
      counters.reused->Add(1);
      attempt->Finish(Error(v1::ERROR_REASON_REQUEST_ID_REUSED,
                            "this request_id was used with a different request (metadata or "
                            "service id); use a new request_id for a new request"));
      return;
    case ReserveOutcome::kOutcomeUnknown:
      counters.unknown->Add(1);
      attempt->Finish(Error(
          v1::ERROR_REASON_REQUEST_OUTCOME_UNKNOWN,
          "an earlier call with this request_id may have registered the client, but its "
          "answer was lost; it is never sent again with this request_id. Look for the client "
          "by its creation time (client_id_issued_at) or metadata, then keep or delete it; a "
          "new registration needs a new request_id"));
      return;
    case ReserveOutcome::kInFlight: {
      if (!attempt->waited) {
        attempt->waited = true;
        counters.waited->Add(1);
      }
      absl::Duration wait = attempt->next_poll;
      if (result->retry_after > absl::ZeroDuration()) wait = std::min(wait, result->retry_after);
      wait = std::max(wait, absl::Milliseconds(1));
      attempt->next_poll = std::min(attempt->next_poll * 2, attempt->options.max_poll);
      const absl::Time when = absl::Now() + wait;
      if (when >= attempt->wait_until) {
        counters.in_progress->Add(1);
        attempt->Finish(
            Error(v1::ERROR_REASON_REQUEST_IN_PROGRESS,
                  "an earlier call with this request_id is still in flight; this call was not "
                  "sent: retry with the same request_id")
                .set_retry_after(attempt->options.first_poll * 10));
        return;
      }
      resilience::TimerQueue* timers = attempt->timers;
      timers->Schedule(when, [attempt = std::move(attempt)](bool cancelled) mutable {
        if (cancelled) {
          attempt->Finish(Error(v1::ERROR_REASON_GATEWAY_UNAVAILABLE,
                                "the gateway is shutting down; this call was not sent"));
          return;
        }
        Reserve(std::move(attempt));
      });
      return;
    }
  }
}

void IdempotencyStage::SendNow(std::shared_ptr<Attempt> attempt,
                               state::Reservation reservation) {
  Send send = std::move(attempt->send);
  std::move(send)([attempt = std::move(attempt), reservation = std::move(reservation)](
                      ErrorOr<std::string> reply) mutable {
    if (!reply.ok() && !reply.error().detail().may_have_been_processed()) {
      // Certainly not processed: a retry may send it again. Should the
      // release fail, the key is free when its reservation lapses.
      Error error = std::move(reply).error();
      attempt->store->Release(reservation, [attempt, error](absl::Status) mutable {
        attempt->Finish(std::move(error));
      });
      return;
    }
    auto recording = std::make_shared<Recording>();
    recording->store = attempt->store;
    recording->retry_timers = attempt->retry_timers;
    recording->reservation = std::move(reservation);
    recording->retention = attempt->options.retention;
    recording->give_up_at = absl::Now() + attempt->options.reservation_ttl;
    recording->next_retry = attempt->options.first_record_retry;
    recording->max_retry = attempt->options.max_record_retry;
    recording->counters = attempt->counters;
    if (reply.ok()) {
      recording->reply = *reply;
      // The caller has its client at once; the record follows.
      attempt->Finish(Reply{*std::move(reply), false});
    } else {
      attempt->Finish(std::move(reply).error());
    }
    Record(std::move(recording), /*last=*/false);
  });
}

void IdempotencyStage::Record(std::shared_ptr<Recording> recording, bool last) {
  ++recording->tries;
  auto recorded = [recording, last](absl::Status status) {
    const bool is_reply = recording->reply.has_value();
    if (status.ok()) {
      if (recording->tries > 1) {
        recording->counters.recorded_late->Add(1);
        telemetry::Log(telemetry::LogLevel::kInfo,
                       is_reply ? "the reply of a request_id was kept on a later try"
                                : "the outcome of a request_id was recorded on a later try",
                       {{"tries", static_cast<int64_t>(recording->tries)}});
      }
      return;
    }
    const absl::Time now = absl::Now();
    const bool again = !last && !absl::IsAborted(status) &&
                       now + recording->next_retry < recording->give_up_at;
    if (again) {
      const absl::Time when = now + recording->next_retry;
      recording->next_retry = std::min(2 * recording->next_retry, recording->max_retry);
      absl::MutexLock lock(&recording->retry_timers->mu);
      if (resilience::TimerQueue* timers = recording->retry_timers->timers) {
        // Cancelled (shutdown): one last try at once.
        timers->Schedule(when, [recording](bool cancelled) { Record(recording, cancelled); });
        return;
      }
    }
    recording->counters.record_lost->Add(1);
    // The caller has its answer; only a retry of this very call could
    // miss the record, once the reservation lapses.
    telemetry::Log(telemetry::LogLevel::kWarning,
                   is_reply ? "the reply of a request_id could not be kept"
                            : "the outcome of a request_id could not be recorded",
                   {{"status", status.ToString()},
                    {"tries", static_cast<int64_t>(recording->tries)}});
  };
  if (recording->reply.has_value()) {
    recording->store->Complete(recording->reservation, *recording->reply, recording->retention,
                               std::move(recorded));
  } else {
    recording->store->MarkUnknown(recording->reservation, recording->retention,
                                  std::move(recorded));
  }
}

}  // namespace dcr::registration
