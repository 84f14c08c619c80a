#include "service/admission/in_flight_budget.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"

namespace dcr::admission {
namespace {

// A refused call may be retried soon: calls in flight end within their
// upstream timeout, most far sooner.
constexpr absl::Duration kRetryAfter = absl::Seconds(1);

int64_t Share(int64_t bound, double share, std::size_t callers) {
  if (callers <= 1 || share >= 1.0) return bound;
  return std::max<int64_t>(1, static_cast<int64_t>(std::floor(static_cast<double>(bound) * share)));
}

core::Error Refused(v1::ErrorReason reason, std::string message) {
  core::Error error(reason, std::move(message));
  error.set_retry_after(kRetryAfter);
  return error;
}

}  // namespace

Reservation& Reservation::operator=(Reservation&& other) noexcept {
  if (this != &other) {
    Release();
    budget_ = std::exchange(other.budget_, nullptr);
    caller_ = other.caller_;
    bytes_ = other.bytes_;
  }
  return *this;
}

void Reservation::Release() {
  if (budget_ != nullptr) std::exchange(budget_, nullptr)->Give(caller_, bytes_);
}

InFlightBudget::InFlightBudget(BudgetOptions options, std::size_t callers)
    : options_(options),
      caller_max_bytes_(Share(options.max_bytes, options.caller_share, callers)),
      caller_max_calls_(Share(options.max_calls, options.caller_share, callers)),
      per_caller_(std::max<std::size_t>(1, callers)) {}

core::ErrorOr<Reservation> InFlightBudget::Reserve(const CallerLimit& caller, int64_t cost_bytes) {
  absl::MutexLock lock(&mu_);
  if (caller.index >= per_caller_.size()) {
    // Impossible: callers come from the callers file the budget was sized
    // for. Refused rather than trusted, should a change ever break that.
    return core::Error(v1::ERROR_REASON_GATEWAY_OVERLOADED, "caller outside the admission budget");
  }
  Usage& mine = per_caller_[caller.index];
  // The gateway's own bounds first: a caller within its share is still
  // refused when the gateway as a whole is full.
  if (total_.calls + 1 > options_.max_calls || total_.bytes + cost_bytes > options_.max_bytes) {
    return Refused(v1::ERROR_REASON_GATEWAY_OVERLOADED,
                   absl::StrCat("the gateway is at its in-flight budget (", total_.calls,
                                " calls holding ", total_.bytes, " of ", options_.max_bytes,
                                " bytes); retry later or on another replica"));
  }
  const int64_t max_calls = caller.max_calls > 0 ? std::min(caller.max_calls, caller_max_calls_)
                                                 : caller_max_calls_;
  if (mine.calls + 1 > max_calls || mine.bytes + cost_bytes > caller_max_bytes_) {
    return Refused(v1::ERROR_REASON_CALLER_RATE_LIMITED,
                   absl::StrCat("the caller is at its share of the gateway (", mine.calls,
                                " calls in flight, at most ", max_calls, "; ", mine.bytes,
                                " of ", caller_max_bytes_, " bytes)"));
  }
  total_.calls += 1;
  total_.bytes += cost_bytes;
  mine.calls += 1;
  mine.bytes += cost_bytes;
  return Reservation(this, caller.index, cost_bytes);
}

void InFlightBudget::Give(std::size_t caller, int64_t bytes) {
  absl::MutexLock lock(&mu_);
  total_.calls -= 1;
  total_.bytes -= bytes;
  per_caller_[caller].calls -= 1;
  per_caller_[caller].bytes -= bytes;
}

InFlightBudget::Usage InFlightBudget::InUse() const {
  absl::MutexLock lock(&mu_);
  return total_;
}

}  // namespace dcr::admission
