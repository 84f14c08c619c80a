// Runs callbacks at a given time on one thread of its own: the waits between
// retries, which must not hold a gRPC or libcurl thread.
#ifndef DCR_SERVICE_RESILIENCE_TIMER_QUEUE_H_
#define DCR_SERVICE_RESILIENCE_TIMER_QUEUE_H_

#include <cstdint>
#include <map>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace dcr::resilience {

class TimerQueue {
 public:
  // `cancelled` is true when the callback runs early because of CancelAll
  // or destruction rather than at its time.
  using Callback = absl::AnyInvocable<void(bool cancelled) &&>;

  TimerQueue();
  // Runs every pending callback with cancelled = true, then stops.
  ~TimerQueue();
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  // Runs `callback` on the queue's thread at `when` (at once if it passed).
  // After CancelAll, runs it at once with cancelled = true.
  void Schedule(absl::Time when, Callback callback) ABSL_LOCKS_EXCLUDED(mu_);

  // Runs every pending callback now with cancelled = true, and every later
  // one as soon as it is scheduled (the end of a graceful shutdown).
  void CancelAll() ABSL_LOCKS_EXCLUDED(mu_);

  std::size_t pending() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Run();

  mutable absl::Mutex mu_;
  // Keyed by time, then by arrival, so equal times keep their order.
  std::map<std::pair<absl::Time, uint64_t>, Callback> pending_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace dcr::resilience

#endif  // DCR_SERVICE_RESILIENCE_TIMER_QUEUE_H_
