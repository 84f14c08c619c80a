// The idempotency stage of RegisterClient (a request with a request_id,
// AIP-155), between "check the call" and "upstream": it decides, through the
// shared StateStore, whether this call sends the request to Authlete, shares
// the reply of an earlier call, waits for one still in flight, or is refused.
//
//   Reserve -> kReserved           send; on success Complete(reply), on a
//                                  failure that was certainly not processed
//                                  Release, otherwise MarkUnknown
//           -> kCompleted          the first call's reply, byte for byte
//           -> kInFlight           poll again with backoff, within the call's
//                                  deadline (REQUEST_IN_PROGRESS past it)
//           -> kFingerprintMismatch REQUEST_ID_REUSED
//           -> kOutcomeUnknown     REQUEST_OUTCOME_UNKNOWN, never sent
//
// Polling, not notification (state_store.h): a waiter holds a timer and
// nothing else, and a replica that dies holding a key leaves only its TTL.
//
// A Complete or MarkUnknown the store fails (Redis lost at that moment) is
// tried again in the background, with backoff, until it lands, another call
// took the key (ABORTED), or the reservation would have lapsed: so a retry
// after Redis is back finds the outcome rather than a free key. The caller
// does not wait for it. What these retries hold is bounded by the calls in
// flight (each holds its one reply), as no new call can reserve meanwhile.
#ifndef DCR_SERVICE_REGISTRATION_IDEMPOTENCY_H_
#define DCR_SERVICE_REGISTRATION_IDEMPOTENCY_H_

#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "service/core/error.h"
#include "service/metrics/metrics.h"
#include "service/resilience/timer_queue.h"
#include "service/state/state_store.h"

namespace dcr::registration {

class IdempotencyStage {
 public:
  struct Options {
    // How long a completed (or unknown) outcome is kept: retries within it
    // share the reply; after it the request_id is free again.
    absl::Duration retention = absl::Hours(1);
    // How long a reservation holds a key: longer than a call may take
    // upstream, so that it never lapses while its call is still running.
    absl::Duration reservation_ttl = absl::Seconds(20);
    // The polls of a duplicate waiting for the call in flight.
    absl::Duration first_poll = absl::Milliseconds(20);
    absl::Duration max_poll = absl::Milliseconds(500);
    // The background retries of a failed Complete/MarkUnknown, for at most
    // reservation_ttl after the failure.
    absl::Duration first_record_retry = absl::Milliseconds(100);
    absl::Duration max_record_retry = absl::Seconds(2);
  };

  // The call's reply serialized (a RegisterClientResponse), or its error.
  using SendDone = absl::AnyInvocable<void(core::ErrorOr<std::string>) &&>;
  // Sends the request to Authlete; run at most once per Run.
  using Send = absl::AnyInvocable<void(SendDone) &&>;
  struct Reply {
    std::string bytes;      // a serialized RegisterClientResponse: holds secrets
    bool replayed = false;  // an earlier call's reply
  };
  using Done = absl::AnyInvocable<void(core::ErrorOr<Reply>) &&>;

  // `registry` (may be null) gets dcr_gateway_idempotency_total.
  IdempotencyStage(Options options, std::shared_ptr<state::StateStore> store,
                   metrics::Registry* registry);

  // The key of a request_id: whose (the caller's name) and for which service,
  // so that two callers' UUIDs can never meet.
  static std::string Key(absl::string_view caller, absl::string_view service_id,
                         absl::string_view request_id);
  // SHA-256 of the canonical request: the service id and the metadata
  // document the builder made (what Authlete would get).
  static std::string Fingerprint(absl::string_view service_id, absl::string_view json);

  // Runs the stage; `done` runs exactly once, on any thread. `deadline` is
  // the caller's (InfiniteFuture: waits at most reservation_ttl).
  void Run(std::string key, std::string fingerprint, absl::Time deadline, Send send, Done done);

  // Shutdown: waiters end now with GATEWAY_UNAVAILABLE (never sent), and
  // each outcome still to be recorded gets one last try.
  void CancelAll() { timers_->CancelAll(); }
  ~IdempotencyStage();

  const Options& options() const { return options_; }

 private:
  struct Attempt;
  struct Recording;
  // The timers, for retries that may outlive the stage: null once it goes.
  struct RetryTimers {
    absl::Mutex mu;
    resilience::TimerQueue* timers ABSL_GUARDED_BY(mu) = nullptr;
  };
  struct Counters {
    metrics::Series* sent = nullptr;
    metrics::Series* replayed = nullptr;
    metrics::Series* waited = nullptr;
    metrics::Series* reused = nullptr;
    metrics::Series* unknown = nullptr;
    metrics::Series* in_progress = nullptr;
    metrics::Series* store_error = nullptr;
    metrics::Series* recorded_late = nullptr;
    metrics::Series* record_lost = nullptr;
  };
  static void Reserve(std::shared_ptr<Attempt> attempt);
  static void OnReserved(std::shared_ptr<Attempt> attempt,
                         absl::StatusOr<state::ReserveResult> result);
  static void SendNow(std::shared_ptr<Attempt> attempt, state::Reservation reservation);
  // Records the outcome (a reply, or "unknown" without one), again after a
  // failure as the class comment says; `last` allows no further try.
  static void Record(std::shared_ptr<Recording> recording, bool last);

  const Options options_;
  // Calls hold plain pointers to these: a store or timer thread must never
  // drop the last reference (and so run a destructor that joins itself).
  // The stage outlives its calls (the server waits for every call before the
  // service goes), and the store outlives the stage.
  const std::shared_ptr<state::StateStore> store_;
  const std::unique_ptr<resilience::TimerQueue> timers_;
  const std::shared_ptr<RetryTimers> retry_timers_;
  std::unique_ptr<metrics::Registry> own_registry_;
  Counters counters_;
};

}  // namespace dcr::registration

#endif  // DCR_SERVICE_REGISTRATION_IDEMPOTENCY_H_
