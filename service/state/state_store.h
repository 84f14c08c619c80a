// The state that must hold across the gateway's replicas: idempotency
// records (RegisterClient's request_id) and per-caller token buckets.
//
// Every operation is asynchronous: its callback runs exactly once, either on
// the calling thread before the call returns (the in-process store, and any
// store's fail-fast refusals: not connected, queue full, bad arguments) or on
// the store's own thread. A callback must not block and must not wait for
// another store call to complete; it may start new store calls.
//
// Waiting for an in-flight duplicate is the caller's job: Reserve answers
// kInFlight with a retry_after hint, and the caller polls Reserve again with
// backoff within its own deadline. No notification channel is kept, so a
// waiter costs the store nothing between its polls and a replica that dies
// while holding a reservation leaves nothing behind but its TTL.
#ifndef DCR_SERVICE_STATE_STATE_STORE_H_
#define DCR_SERVICE_STATE_STATE_STORE_H_

#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace dcr::state {

// What Reserve found for an idempotency key.
enum class ReserveOutcome {
  // The caller holds the key now and must end with Complete, MarkUnknown or
  // Release (or let the reservation's TTL lapse if it dies).
  kReserved,
  // Another call holds it; poll again after `retry_after`.
  kInFlight,
  // A call with this fingerprint completed; `record` is its reply.
  kCompleted,
  // The key was used with a different fingerprint (a different request).
  kFingerprintMismatch,
  // A call with this fingerprint may or may not have been processed: it must
  // never be sent again while the record lives.
  kOutcomeUnknown,
};

absl::string_view ReserveOutcomeName(ReserveOutcome outcome);

// The proof of holding a key, given back to Complete, MarkUnknown and
// Release. A reservation whose TTL lapsed and was taken by another call can
// no longer complete the key (ABORTED), so two calls never both write it.
struct Reservation {
  std::string key;
  std::string fingerprint;
  std::string token;  // random, unique per Reserve
};

struct ReserveResult {
  ReserveOutcome outcome = ReserveOutcome::kInFlight;
  Reservation reservation;          // kReserved only
  std::string record;               // kCompleted only: the bytes given to Complete
  absl::Duration retry_after;       // kInFlight only: a hint for the next poll
};

struct RateDecision {
  bool allowed = false;
  absl::Duration retry_after;  // !allowed: when a token is back
};

struct StoreHealth {
  absl::string_view kind;  // "in_process" or "redis"
  bool connected = false;  // the in-process store always is
};

using ReserveCallback = absl::AnyInvocable<void(absl::StatusOr<ReserveResult>) &&>;
using DoneCallback = absl::AnyInvocable<void(absl::Status) &&>;
using RateCallback = absl::AnyInvocable<void(absl::StatusOr<RateDecision>) &&>;

// Errors every store may answer with: INVALID_ARGUMENT (empty key, ttl <= 0,
// rate or burst <= 0), UNAVAILABLE (store unreachable, or its bounded queue
// full: nothing was done), DEADLINE_EXCEEDED is never used (a store that does
// not answer in time is treated as unreachable), DATA_LOSS (a stored record
// that cannot be read: unknown key id, failed authentication, malformed),
// ABORTED (the reservation is no longer held), RESOURCE_EXHAUSTED (the
// in-process store is full of live entries).
class StateStore {
 public:
  virtual ~StateStore() = default;

  // Takes `key` for a call whose request has `fingerprint` (e.g. a hash of
  // the serialized request), for `ttl` (longer than the call may take), or
  // says who has it. `key` and `fingerprint` are opaque bytes; stores that
  // keep them outside the process keep only keyed hashes of them.
  virtual void Reserve(absl::string_view key, absl::string_view fingerprint,
                       absl::Duration ttl, ReserveCallback done) = 0;

  // The call succeeded (or failed for good): `record` (its reply, which may
  // hold secrets) is what every later Reserve of the key with the same
  // fingerprint gets, for `ttl` (the retention window). Also writes the
  // record when the reservation lapsed and nobody took the key since.
  virtual void Complete(const Reservation& reservation, absl::string_view record,
                        absl::Duration ttl, DoneCallback done) = 0;

  // The call's outcome is unknown (it may have been processed): later
  // Reserves get kOutcomeUnknown for `ttl` and must never send it again.
  virtual void MarkUnknown(const Reservation& reservation, absl::Duration ttl,
                           DoneCallback done) = 0;

  // The call failed in a way that is safe to retry (it was not processed):
  // the key is free again. OK also when the reservation had already lapsed.
  virtual void Release(const Reservation& reservation, DoneCallback done) = 0;

  // Takes one token from the bucket `bucket_key` (created full, `burst`
  // tokens, refilled at `rate_per_s`), atomically across every replica that
  // shares the store. `now` is the caller's clock; the Redis store uses the
  // Redis server's clock instead, so that replicas' clock skew does not
  // change the rate.
  virtual void Acquire(absl::string_view bucket_key, double rate_per_s, double burst,
                       absl::Time now, RateCallback done) = 0;

  // For the gateway's metrics, logs and readiness: which store, and whether
  // it can answer now.
  virtual StoreHealth Health() const = 0;
};

}  // namespace dcr::state

#endif  // DCR_SERVICE_STATE_STATE_STORE_H_
