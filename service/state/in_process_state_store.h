// The default StateStore for a single replica: everything in this process's
// memory, bounded by a configured number of entries and expired by TTL.
// Callbacks run on the calling thread before each call returns.
#ifndef DCR_SERVICE_STATE_IN_PROCESS_STATE_STORE_H_
#define DCR_SERVICE_STATE_IN_PROCESS_STATE_STORE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "service/state/state_store.h"

namespace dcr::state {

struct InProcessOptions {
  // Live idempotency records at most; beyond, Reserve of a new key answers
  // RESOURCE_EXHAUSTED (a live record is never evicted: that could let a
  // duplicate through).
  std::size_t max_records = 100000;
  // Token buckets at most; a bucket lives until it would be full again.
  std::size_t max_buckets = 10000;
  // The largest record Complete accepts (a Register's reply).
  std::size_t max_record_bytes = 1 << 20;
  // The clock of TTLs (tests move it).
  std::function<absl::Time()> clock = [] { return absl::Now(); };
};

class InProcessStateStore final : public StateStore {
 public:
  explicit InProcessStateStore(InProcessOptions options = {});

  void Reserve(absl::string_view key, absl::string_view fingerprint, absl::Duration ttl,
               ReserveCallback done) override ABSL_LOCKS_EXCLUDED(mu_);
  void Complete(const Reservation& reservation, absl::string_view record, absl::Duration ttl,
                DoneCallback done) override ABSL_LOCKS_EXCLUDED(mu_);
  void MarkUnknown(const Reservation& reservation, absl::Duration ttl,
                   DoneCallback done) override ABSL_LOCKS_EXCLUDED(mu_);
  void Release(const Reservation& reservation, DoneCallback done) override
      ABSL_LOCKS_EXCLUDED(mu_);
  void Acquire(absl::string_view bucket_key, double rate_per_s, double burst, absl::Time now,
               RateCallback done) override ABSL_LOCKS_EXCLUDED(mu_);
  StoreHealth Health() const override { return {"in_process", true}; }

  // Live entries, for tests and metrics.
  std::size_t records() const ABSL_LOCKS_EXCLUDED(mu_);
  std::size_t buckets() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  enum class State { kPending, kCompleted, kUnknown };
  struct Record {
    State state = State::kPending;
    std::string fingerprint;
    std::string token;
    std::string value;
    absl::Time expires;
  };
  struct Bucket {
    double tokens = 0;
    absl::Time updated;
    absl::Time expires;
  };
  // Both maps keep an index by expiry so that expired entries are dropped in
  // order, at a cost per call bounded by what actually expired.
  using ExpiryIndex = std::set<std::pair<absl::Time, std::string>>;

  // Records expire by the store's clock, buckets by the callers' (Acquire's
  // `now`): a bucket past its expiry is full again, so dropping it changes
  // nothing.
  void ExpireLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ExpireBucketsLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetRecordExpiryLocked(const std::string& key, Record& record, absl::Time expires)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Complete and MarkUnknown: write a final state if the reservation still
  // holds the key, or the key is free.
  absl::Status FinishLocked(const Reservation& reservation, State state,
                            absl::string_view value, absl::Duration ttl)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const InProcessOptions options_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Record> records_ ABSL_GUARDED_BY(mu_);
  ExpiryIndex record_expiry_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
  ExpiryIndex bucket_expiry_ ABSL_GUARDED_BY(mu_);
  uint64_t next_token_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace dcr::state

#endif  // DCR_SERVICE_STATE_IN_PROCESS_STATE_STORE_H_
