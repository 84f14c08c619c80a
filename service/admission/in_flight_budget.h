// The admission budget: how much the calls in flight may hold, in bytes and
// in calls, in all and per caller. A call reserves its cost before anything
// is sent to Authlete and gives it back when it is answered; a call that
// does not fit is refused at once (GATEWAY_OVERLOADED, or
// CALLER_RATE_LIMITED when only its caller is over its share), so memory is
// bounded by configuration, never by the traffic that happens to arrive, and
// no call waits in a queue past its deadline.
//
// A call's cost is an estimate of what it holds while in flight: a fixed part
// (its gRPC call, its libcurl transfer, the log and metric records) and a
// part proportional to its request (the request, its JSON body, Authlete's
// answer, which echoes the metadata, and the reply). Both were measured;
// README "Memory and overload" has the figures.
#ifndef DCR_SERVICE_ADMISSION_IN_FLIGHT_BUDGET_H_
#define DCR_SERVICE_ADMISSION_IN_FLIGHT_BUDGET_H_

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "service/core/error.h"

namespace dcr::admission {

// What one call in flight holds beyond its request, and per request byte.
inline constexpr int64_t kCallBaseBytes = 56 * 1024;
inline constexpr int64_t kCostPerRequestByte = 6;

// The estimated memory of a call whose request serializes to `request_bytes`.
inline int64_t CallCost(std::size_t request_bytes) {
  return kCallBaseBytes + kCostPerRequestByte * static_cast<int64_t>(request_bytes);
}

// The call bound a byte budget implies when none is set: as many calls as
// the budget holds at their smallest cost.
inline int64_t DefaultMaxCalls(int64_t budget_bytes) {
  return budget_bytes / kCallBaseBytes > 1 ? budget_bytes / kCallBaseBytes : 1;
}

struct BudgetOptions {
  int64_t max_bytes = 0;  // > 0
  int64_t max_calls = 0;  // > 0
  // The most one caller may hold, as a share of each bound, so that one
  // flooding caller cannot take the whole budget from the others. 1: none.
  double caller_share = 1.0;
};

class InFlightBudget;

// One admitted call's share of the budget, given back when destroyed.
class Reservation {
 public:
  Reservation() = default;
  Reservation(Reservation&& other) noexcept { *this = std::move(other); }
  Reservation& operator=(Reservation&& other) noexcept;
  ~Reservation() { Release(); }
  void Release();

 private:
  friend class InFlightBudget;
  Reservation(InFlightBudget* budget, std::size_t caller, int64_t bytes)
      : budget_(budget), caller_(caller), bytes_(bytes) {}
  InFlightBudget* budget_ = nullptr;
  std::size_t caller_ = 0;
  int64_t bytes_ = 0;
};

class InFlightBudget {
 public:
  // `callers`: how many callers the per-caller bounds are kept for (the
  // callers file's entries; 1 in open mode, where the share does not apply).
  InFlightBudget(BudgetOptions options, std::size_t callers);

  struct CallerLimit {
    std::size_t index = 0;
    // The caller's own bound on calls in flight (callers file); 0: none
    // beyond its share.
    int64_t max_calls = 0;
  };
  // Reserves `cost_bytes` and one call for `caller`, or says why not. The
  // reservation must not outlive the budget.
  core::ErrorOr<Reservation> Reserve(const CallerLimit& caller, int64_t cost_bytes)
      ABSL_LOCKS_EXCLUDED(mu_);

  struct Usage {
    int64_t bytes = 0;
    int64_t calls = 0;
  };
  Usage InUse() const ABSL_LOCKS_EXCLUDED(mu_);
  const BudgetOptions& options() const { return options_; }

 private:
  friend class Reservation;
  void Give(std::size_t caller, int64_t bytes) ABSL_LOCKS_EXCLUDED(mu_);

  const BudgetOptions options_;
  // The per-caller bounds from the share (the whole budget in open mode).
  const int64_t caller_max_bytes_;
  const int64_t caller_max_calls_;
  mutable absl::Mutex mu_;
  Usage total_ ABSL_GUARDED_BY(mu_);
  std::vector<Usage> per_caller_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dcr::admission

#endif  // DCR_SERVICE_ADMISSION_IN_FLIGHT_BUDGET_H_
