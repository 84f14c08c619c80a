#include "service/public_registration/registration_rate_limiter.h"

#include <algorithm>
#include <utility>

namespace dcr::public_registration {

RegistrationRateLimiter::RegistrationRateLimiter(Options options, Clock clock)
    : options_(options), clock_(std::move(clock)) {
  absl::MutexLock lock(&mu_);
  global_ = Bucket{options_.global_burst, clock_()};
}

void RegistrationRateLimiter::Refill(Bucket& bucket, double rate, double burst, absl::Time now) {
  const double refill = absl::ToDoubleSeconds(now - bucket.last) * rate;
  bucket.tokens = std::min(burst, bucket.tokens + std::max(refill, 0.0));
  bucket.last = std::max(bucket.last, now);
}

absl::optional<absl::Duration> RegistrationRateLimiter::Acquire(const std::string& address) {
  const absl::Time now = clock_();
  absl::MutexLock lock(&mu_);
  auto found = by_address_.find(address);
  if (found == by_address_.end()) {
    if (recent_.size() >= std::max<std::size_t>(options_.max_addresses, 1)) {
      by_address_.erase(recent_.back().address);
      recent_.pop_back();
    }
    recent_.push_front(Entry{address, Bucket{options_.per_address_burst, now}});
    found = by_address_.emplace(address, recent_.begin()).first;
  } else {
    recent_.splice(recent_.begin(), recent_, found->second);
  }
  Bucket& mine = found->second->bucket;
  Refill(mine, options_.per_address_rate, options_.per_address_burst, now);
  Refill(global_, options_.global_rate, options_.global_burst, now);
  if (mine.tokens < 1) return absl::Seconds((1 - mine.tokens) / options_.per_address_rate);
  if (global_.tokens < 1) return absl::Seconds((1 - global_.tokens) / options_.global_rate);
  mine.tokens -= 1;
  global_.tokens -= 1;
  return absl::nullopt;
}

std::size_t RegistrationRateLimiter::addresses() const {
  absl::MutexLock lock(&mu_);
  return recent_.size();
}

}  // namespace dcr::public_registration
