// The public endpoint's abuse limits: a token bucket per client address and
// one for the whole endpoint, both in this replica's memory (with Redis as
// the state store, RegistrationEndpoint keeps them there instead). The table of
// addresses holds at most max_addresses buckets: a new address evicts the
// least recently seen, so a flood from many addresses costs a bounded table,
// and the global bucket bounds what any number of addresses get through.
// (The callers' rate limits of CallerGuard are per caller index, not per an
// open-ended key, so this is its own small table.)
#ifndef DCR_SERVICE_PUBLIC_REGISTRATION_REGISTRATION_RATE_LIMITER_H_
#define DCR_SERVICE_PUBLIC_REGISTRATION_REGISTRATION_RATE_LIMITER_H_

#include <cstddef>
#include <functional>
#include <list>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"

namespace dcr::public_registration {

class RegistrationRateLimiter {
 public:
  struct Options {
    double per_address_rate = 1;
    double per_address_burst = 10;
    std::size_t max_addresses = 10000;
    double global_rate = 100;
    double global_burst = 200;
  };
  using Clock = std::function<absl::Time()>;

  explicit RegistrationRateLimiter(Options options, Clock clock = &absl::Now);

  // nullopt: let through (a token taken from both buckets); otherwise how
  // long until a token is there. A refusal takes nothing.
  absl::optional<absl::Duration> Acquire(const std::string& address) ABSL_LOCKS_EXCLUDED(mu_);

  std::size_t addresses() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Bucket {
    double tokens = 0;
    absl::Time last;
  };
  struct Entry {
    std::string address;
    Bucket bucket;
  };
  static void Refill(Bucket& bucket, double rate, double burst, absl::Time now);

  const Options options_;
  const Clock clock_;
  mutable absl::Mutex mu_;
  Bucket global_ ABSL_GUARDED_BY(mu_);
  // Most recently seen first.
  std::list<Entry> recent_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::list<Entry>::iterator> by_address_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dcr::public_registration

#endif  // DCR_SERVICE_PUBLIC_REGISTRATION_REGISTRATION_RATE_LIMITER_H_
