#include "service/state/in_process_state_store.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "service/state/argument_checks.h"

namespace dcr::state {

InProcessStateStore::InProcessStateStore(InProcessOptions options) : options_(std::move(options)) {}

void InProcessStateStore::ExpireLocked(absl::Time now) {
  while (!record_expiry_.empty() && record_expiry_.begin()->first <= now) {
    records_.erase(record_expiry_.begin()->second);
    record_expiry_.erase(record_expiry_.begin());
  }
}

void InProcessStateStore::ExpireBucketsLocked(absl::Time now) {
  while (!bucket_expiry_.empty() && bucket_expiry_.begin()->first <= now) {
    buckets_.erase(bucket_expiry_.begin()->second);
    bucket_expiry_.erase(bucket_expiry_.begin());
  }
}

void InProcessStateStore::SetRecordExpiryLocked(const std::string& key, Record& record,
                                                absl::Time expires) {
  record_expiry_.erase({record.expires, key});
  record.expires = expires;
  record_expiry_.emplace(expires, key);
}

void InProcessStateStore::Reserve(absl::string_view key, absl::string_view fingerprint,
                                  absl::Duration ttl, ReserveCallback done) {
  absl::Status bad = CheckKey("key", key);
  if (bad.ok()) bad = CheckKey("fingerprint", fingerprint);
  if (bad.ok()) bad = CheckTtl(ttl);
  if (!bad.ok()) return std::move(done)(bad);

  absl::StatusOr<ReserveResult> answer;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = options_.clock();
    ExpireLocked(now);
    ReserveResult result;
    auto it = records_.find(key);
    if (it == records_.end()) {
      if (records_.size() >= options_.max_records) {
        answer = absl::ResourceExhaustedError(
            absl::StrCat("in-process state store holds its maximum of ", options_.max_records,
                         " live records"));
      } else {
        std::string k(key);
        Record& record = records_[k];
        record.fingerprint = std::string(fingerprint);
        record.token = absl::StrCat("t", ++next_token_);
        record.expires = now + ttl;
        record_expiry_.emplace(record.expires, k);
        result.outcome = ReserveOutcome::kReserved;
        result.reservation = {std::move(k), record.fingerprint, record.token};
        answer = std::move(result);
      }
    } else if (it->second.fingerprint != fingerprint) {
      result.outcome = ReserveOutcome::kFingerprintMismatch;
      answer = std::move(result);
    } else {
      switch (it->second.state) {
        case State::kPending:
          result.outcome = ReserveOutcome::kInFlight;
          // Poll again soon, but not after the holder's reservation lapses.
          result.retry_after = std::min(absl::Milliseconds(50), it->second.expires - now);
          break;
        case State::kCompleted:
          result.outcome = ReserveOutcome::kCompleted;
          result.record = it->second.value;
          break;
        case State::kUnknown:
          result.outcome = ReserveOutcome::kOutcomeUnknown;
          break;
      }
      answer = std::move(result);
    }
  }
  std::move(done)(std::move(answer));
}

absl::Status InProcessStateStore::FinishLocked(const Reservation& reservation, State state,
                                               absl::string_view value, absl::Duration ttl) {
  const absl::Time now = options_.clock();
  ExpireLocked(now);
  auto it = records_.find(reservation.key);
  if (it == records_.end()) {
    // The reservation lapsed and nobody took the key: keep the outcome anyway,
    // a later retry must see it.
    if (records_.size() >= options_.max_records) {
      return absl::ResourceExhaustedError("in-process state store is full");
    }
    it = records_.emplace(reservation.key, Record{}).first;
    it->second.fingerprint = reservation.fingerprint;
    it->second.token = reservation.token;
    it->second.expires = now + ttl;
    record_expiry_.emplace(it->second.expires, it->first);
  } else if (it->second.state != State::kPending || it->second.token != reservation.token) {
    return absl::AbortedError("the reservation is no longer held: another call took the key");
  }
  it->second.state = state;
  it->second.value = std::string(value);
  SetRecordExpiryLocked(it->first, it->second, now + ttl);
  return absl::OkStatus();
}

void InProcessStateStore::Complete(const Reservation& reservation, absl::string_view record,
                                   absl::Duration ttl, DoneCallback done) {
  absl::Status status = CheckReservation(reservation);
  if (status.ok()) status = CheckTtl(ttl);
  if (status.ok()) status = CheckRecord(record, options_.max_record_bytes);
  if (status.ok()) {
    absl::MutexLock lock(&mu_);
    status = FinishLocked(reservation, State::kCompleted, record, ttl);
  }
  std::move(done)(std::move(status));
}

void InProcessStateStore::MarkUnknown(const Reservation& reservation, absl::Duration ttl,
                                      DoneCallback done) {
  absl::Status status = CheckReservation(reservation);
  if (status.ok()) status = CheckTtl(ttl);
  if (status.ok()) {
    absl::MutexLock lock(&mu_);
    status = FinishLocked(reservation, State::kUnknown, "", ttl);
  }
  std::move(done)(std::move(status));
}

void InProcessStateStore::Release(const Reservation& reservation, DoneCallback done) {
  absl::Status status = CheckReservation(reservation);
  if (status.ok()) {
    absl::MutexLock lock(&mu_);
    ExpireLocked(options_.clock());
    auto it = records_.find(reservation.key);
    // Only the holder's own pending reservation is removed; anything else is
    // someone else's and stays.
    if (it != records_.end() && it->second.state == State::kPending &&
        it->second.token == reservation.token) {
      record_expiry_.erase({it->second.expires, it->first});
      records_.erase(it);
    }
  }
  std::move(done)(std::move(status));
}

void InProcessStateStore::Acquire(absl::string_view bucket_key, double rate_per_s, double burst,
                                  absl::Time now, RateCallback done) {
  absl::Status bad = CheckKey("bucket key", bucket_key);
  if (bad.ok()) bad = CheckRate(rate_per_s, burst);
  if (!bad.ok()) return std::move(done)(bad);

  absl::StatusOr<RateDecision> answer;
  {
    absl::MutexLock lock(&mu_);
    ExpireBucketsLocked(now);
    auto it = buckets_.find(bucket_key);
    if (it == buckets_.end()) {
      if (buckets_.size() >= options_.max_buckets) {
        answer = absl::ResourceExhaustedError(absl::StrCat(
            "in-process state store holds its maximum of ", options_.max_buckets, " buckets"));
      } else {
        it = buckets_.emplace(std::string(bucket_key), Bucket{burst, now, now}).first;
        bucket_expiry_.emplace(it->second.expires, it->first);
      }
    }
    if (it != buckets_.end()) {
      Bucket& bucket = it->second;
      const double elapsed = std::max(0.0, absl::ToDoubleSeconds(now - bucket.updated));
      bucket.tokens = std::min(burst, bucket.tokens + elapsed * rate_per_s);
      bucket.updated = std::max(bucket.updated, now);
      RateDecision decision;
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        decision.allowed = true;
      } else {
        decision.retry_after = absl::Seconds((1 - bucket.tokens) / rate_per_s);
      }
      bucket_expiry_.erase({bucket.expires, it->first});
      bucket.expires = bucket.updated + absl::Seconds((burst - bucket.tokens) / rate_per_s);
      bucket_expiry_.emplace(bucket.expires, it->first);
      answer = decision;
    }
  }
  std::move(done)(std::move(answer));
}

std::size_t InProcessStateStore::records() const {
  absl::MutexLock lock(&mu_);
  return records_.size();
}

std::size_t InProcessStateStore::buckets() const {
  absl::MutexLock lock(&mu_);
  return buckets_.size();
}

}  // namespace dcr::state
