#include "service/state/fallback_state_store.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace dcr::state {
namespace {

constexpr char kShared = 'S';
constexpr char kLocal = 'L';

// A reservation answer with its token tagged by the store that gave it.
ReserveCallback Tagged(char tag, ReserveCallback done) {
  return [tag, done = std::move(done)](absl::StatusOr<ReserveResult> result) mutable {
    if (result.ok() && result->outcome == ReserveOutcome::kReserved) {
      result->reservation.token = absl::StrCat(std::string(1, tag), result->reservation.token);
    }
    std::move(done)(std::move(result));
  };
}

}  // namespace

FallbackStateStore::FallbackStateStore(std::shared_ptr<StateStore> shared,
                                       std::shared_ptr<StateStore> local)
    : shared_(std::move(shared)), local_(std::move(local)) {}

void FallbackStateStore::Reserve(absl::string_view key, absl::string_view fingerprint,
                                 absl::Duration ttl, ReserveCallback done) {
  if (!shared_->Health().connected) {
    return local_->Reserve(key, fingerprint, ttl, Tagged(kLocal, std::move(done)));
  }
  // The shared store may still fail (lost between Health and the call): that
  // call goes to the local store too.
  shared_->Reserve(
      key, fingerprint, ttl,
      [local = local_, key = std::string(key), fingerprint = std::string(fingerprint), ttl,
       done = std::move(done)](absl::StatusOr<ReserveResult> result) mutable {
        if (!result.ok() && result.status().code() == absl::StatusCode::kUnavailable) {
          local->Reserve(key, fingerprint, ttl, Tagged(kLocal, std::move(done)));
          return;
        }
        Tagged(kShared, std::move(done))(std::move(result));
      });
}

StateStore& FallbackStateStore::StoreOf(const Reservation& reservation,
                                        Reservation& inner) const {
  inner = reservation;
  if (!inner.token.empty()) inner.token.erase(0, 1);
  return !reservation.token.empty() && reservation.token[0] == kLocal ? *local_ : *shared_;
}

void FallbackStateStore::Complete(const Reservation& reservation, absl::string_view record,
                                  absl::Duration ttl, DoneCallback done) {
  Reservation inner;
  StoreOf(reservation, inner).Complete(inner, record, ttl, std::move(done));
}

void FallbackStateStore::MarkUnknown(const Reservation& reservation, absl::Duration ttl,
                                     DoneCallback done) {
  Reservation inner;
  StoreOf(reservation, inner).MarkUnknown(inner, ttl, std::move(done));
}

void FallbackStateStore::Release(const Reservation& reservation, DoneCallback done) {
  Reservation inner;
  StoreOf(reservation, inner).Release(inner, std::move(done));
}

void FallbackStateStore::Acquire(absl::string_view bucket_key, double rate_per_s, double burst,
                                 absl::Time now, RateCallback done) {
  if (!shared_->Health().connected) {
    return local_->Acquire(bucket_key, rate_per_s, burst, now, std::move(done));
  }
  shared_->Acquire(bucket_key, rate_per_s, burst, now,
                   [local = local_, bucket = std::string(bucket_key), rate_per_s, burst, now,
                    done = std::move(done)](absl::StatusOr<RateDecision> decision) mutable {
                     if (!decision.ok() &&
                         decision.status().code() == absl::StatusCode::kUnavailable) {
                       local->Acquire(bucket, rate_per_s, burst, now, std::move(done));
                       return;
                     }
                     std::move(done)(std::move(decision));
                   });
}

}  // namespace dcr::state
