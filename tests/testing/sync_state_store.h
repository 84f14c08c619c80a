// Blocking wrappers of StateStore's asynchronous calls, for tests: each
// waits (bounded) for its callback and checks that it ran exactly once.
#ifndef DCR_TESTS_TESTING_SYNC_STATE_STORE_H_
#define DCR_TESTS_TESTING_SYNC_STATE_STORE_H_

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "service/state/state_store.h"

namespace dcr::testing {

// Waits for one callback; a second run of it is counted, not hidden.
template <typename T>
class Waiter {
 public:
  auto Callback() {
    return [state = state_](T value) {
      if (state->runs.fetch_add(1) == 0) {
        state->value.emplace(std::move(value));
        state->done.Notify();
      }
    };
  }
  // The callback's value, or DEADLINE_EXCEEDED-like failure if it never ran.
  T Get(absl::Duration timeout = absl::Seconds(5)) {
    if (!state_->done.WaitForNotificationWithTimeout(timeout)) {
      return T(absl::DeadlineExceededError("test: callback did not run"));
    }
    return *state_->value;
  }
  int runs() const { return state_->runs.load(); }

 private:
  struct State {
    std::atomic<int> runs{0};
    std::optional<T> value;
    absl::Notification done;
  };
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

inline absl::StatusOr<state::ReserveResult> Reserve(state::StateStore& store, absl::string_view key,
                                                    absl::string_view fingerprint,
                                                    absl::Duration ttl = absl::Seconds(30)) {
  Waiter<absl::StatusOr<state::ReserveResult>> w;
  store.Reserve(key, fingerprint, ttl, w.Callback());
  return w.Get();
}

inline absl::Status Complete(state::StateStore& store, const state::Reservation& r,
                             absl::string_view record, absl::Duration ttl = absl::Seconds(60)) {
  Waiter<absl::Status> w;
  store.Complete(r, record, ttl, w.Callback());
  return w.Get();
}

inline absl::Status MarkUnknown(state::StateStore& store, const state::Reservation& r,
                                absl::Duration ttl = absl::Seconds(60)) {
  Waiter<absl::Status> w;
  store.MarkUnknown(r, ttl, w.Callback());
  return w.Get();
}

inline absl::Status Release(state::StateStore& store, const state::Reservation& r) {
  Waiter<absl::Status> w;
  store.Release(r, w.Callback());
  return w.Get();
}

inline absl::StatusOr<state::RateDecision> Acquire(state::StateStore& store, absl::string_view bucket,
                                                   double rate, double burst,
                                                   absl::Time now = absl::Now()) {
  Waiter<absl::StatusOr<state::RateDecision>> w;
  store.Acquire(bucket, rate, burst, now, w.Callback());
  return w.Get();
}

}  // namespace dcr::testing

#endif  // DCR_TESTS_TESTING_SYNC_STATE_STORE_H_
