#include "service/resilience/timer_queue.h"

#include <vector>

namespace dcr::resilience {

TimerQueue::TimerQueue() : thread_([this] { Run(); }) {}

TimerQueue::~TimerQueue() {
  CancelAll();
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void TimerQueue::Schedule(absl::Time when, Callback callback) {
  {
    absl::MutexLock lock(&mu_);
    if (!cancelled_) {
      pending_.emplace(std::make_pair(when, next_id_++), std::move(callback));
      return;
    }
  }
  std::move(callback)(true);
}

void TimerQueue::CancelAll() {
  std::map<std::pair<absl::Time, uint64_t>, Callback> cancelled;
  {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    cancelled.swap(pending_);
  }
  // Outside the lock: a callback may schedule again (and is then cancelled).
  for (auto& [key, callback] : cancelled) std::move(callback)(true);
}

std::size_t TimerQueue::pending() const {
  absl::MutexLock lock(&mu_);
  return pending_.size();
}

void TimerQueue::Run() {
  for (;;) {
    std::vector<Callback> due;
    {
      absl::MutexLock lock(&mu_);
      for (;;) {
        if (stopping_) return;
        if (!pending_.empty() && pending_.begin()->first.first <= absl::Now()) break;
        // Wake when the earliest timer is due, or when anything changes.
        const absl::Time next =
            pending_.empty() ? absl::InfiniteFuture() : pending_.begin()->first.first;
        const std::size_t size = pending_.size();
        const uint64_t id = next_id_;
        auto changed = [this, size, id]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return stopping_ || pending_.size() != size || next_id_ != id;
        };
        mu_.AwaitWithDeadline(absl::Condition(&changed), next);
      }
      const absl::Time now = absl::Now();
      while (!pending_.empty() && pending_.begin()->first.first <= now) {
        due.push_back(std::move(pending_.begin()->second));
        pending_.erase(pending_.begin());
      }
    }
    for (Callback& callback : due) std::move(callback)(false);
  }
}

}  // namespace dcr::resilience
