#include "service/resilience/circuit_breaker.h"

#include <utility>

namespace dcr::resilience {

CircuitBreaker::CircuitBreaker(CircuitBreakerOptions options, Clock clock)
    : options_(options), clock_(std::move(clock)) {}

CircuitBreaker::Admission CircuitBreaker::Admit() {
  if (options_.failure_threshold <= 0) return {true, false, absl::ZeroDuration()};
  absl::MutexLock lock(&mu_);
  switch (state_) {
    case CircuitState::kClosed:
      return {true, false, absl::ZeroDuration()};
    case CircuitState::kOpen: {
      const absl::Time now = clock_();
      if (now < open_until_) return {false, false, open_until_ - now};
      state_ = CircuitState::kHalfOpen;
      probe_in_flight_ = true;
      return {true, true, absl::ZeroDuration()};
    }
    case CircuitState::kHalfOpen:
      if (probe_in_flight_) {
        // The probe decides; everyone else keeps failing fast meanwhile.
        return {false, false, options_.open_for};
      }
      probe_in_flight_ = true;
      return {true, true, absl::ZeroDuration()};
  }
  return {false, false, options_.open_for};  // not reached
}

void CircuitBreaker::Record(const Admission& admission, CallOutcome outcome) {
  if (options_.failure_threshold <= 0 || !admission.allowed) return;
  absl::MutexLock lock(&mu_);
  if (admission.probe) {
    probe_in_flight_ = false;
    if (outcome == CallOutcome::kSuccess) {
      state_ = CircuitState::kClosed;
      consecutive_failures_ = 0;
    } else if (outcome == CallOutcome::kFailure) {
      Open(clock_());
    }
    return;  // neutral: the next caller probes
  }
  switch (outcome) {
    case CallOutcome::kSuccess:
      // A call admitted before the circuit opened does not close it: only a
      // probe proves Authlete is back.
      if (state_ == CircuitState::kClosed) consecutive_failures_ = 0;
      break;
    case CallOutcome::kFailure:
      if (state_ == CircuitState::kClosed &&
          ++consecutive_failures_ >= options_.failure_threshold) {
        Open(clock_());
      }
      break;
    case CallOutcome::kNeutral:
      break;
  }
}

void CircuitBreaker::Open(absl::Time now) {
  state_ = CircuitState::kOpen;
  open_until_ = now + options_.open_for;
  consecutive_failures_ = 0;
}

CircuitState CircuitBreaker::state() const {
  absl::MutexLock lock(&mu_);
  return state_;
}

}  // namespace dcr::resilience
