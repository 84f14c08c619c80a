#include "tests/bench/load_generator.h"

#include <atomic>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace dcr::bench {
namespace {

// State shared by every call of one run.
class Run {
 public:
  Run(Target& target, Workload& workload, const LoadOptions& options, LatencyRecorder& recorder)
      : target_(target), workload_(workload), options_(options), recorder_(recorder),
        start_(absl::Now()) {}

  absl::Time start() const { return start_; }

  // Reserves one call if the bounds allow it.
  bool TryBegin(absl::Time now) {
    absl::MutexLock lock(&mu_);
    if (result_.started >= options_.max_calls || now >= start_ + options_.duration) {
      return false;
    }
    ++result_.started;
    ++outstanding_;
    return true;
  }

  int64_t Outstanding() {
    absl::MutexLock lock(&mu_);
    return outstanding_;
  }

  void RecordSkipped() { recorder_.Record(absl::ZeroDuration(), "SKIPPED_OVERLOAD"); }

  // Starts one reserved call; latency counts from `due` (the open loop's
  // schedule, so a slow answer cannot hide behind a late start).
  void StartCall(absl::Time due, std::function<void()> then) {
    CallSpec spec = workload_.Next();
    const Operation operation = spec.operation;
    target_.Start(spec, [this, due, operation, then = std::move(then)](CallOutcome outcome) {
      const absl::Time now = absl::Now();
      if (outcome.registered.has_value()) workload_.Registered(*std::move(outcome.registered));
      if (now >= start_ + options_.warmup) recorder_.Record(now - due, outcome.outcome);
      End(now, operation);
      if (then) then();
    });
  }

  // Blocks until `deadline`, or until the call budget is spent and every
  // call has ended, whichever is first.
  void WaitForBudgetOrUntil(absl::Time deadline) {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithDeadline(absl::Condition(this, &Run::BudgetSpentAndIdle), deadline);
  }

  // Blocks until every started call has ended. `window_end`: when the
  // measured window closed.
  LoadResult Wait(absl::Time window_end) {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(+[](int64_t* n) { return *n == 0; }, &outstanding_));
    result_.elapsed = last_end_ - start_;
    result_.window = window_end - (start_ + options_.warmup);
    return result_;
  }

 private:
  bool BudgetSpentAndIdle() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return result_.started >= options_.max_calls && outstanding_ == 0;
  }

  void End(absl::Time now, Operation operation) {
    absl::MutexLock lock(&mu_);
    --outstanding_;
    ++result_.completed;
    ++result_.completed_by_operation[static_cast<int>(operation)];
    if (now >= start_ + options_.warmup && now <= start_ + options_.duration) {
      ++result_.completed_in_window;
    }
    last_end_ = std::max(last_end_, now);
  }

  Target& target_;
  Workload& workload_;
  const LoadOptions& options_;
  LatencyRecorder& recorder_;
  const absl::Time start_;
  absl::Mutex mu_;
  LoadResult result_ ABSL_GUARDED_BY(mu_);
  int64_t outstanding_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_end_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

// One closed-loop slot: starts its next call when the previous one ends.
// A target may finish a call inside Start (the blocking one always does);
// the state machine turns that recursion into a loop.
class Slot {
 public:
  explicit Slot(Run& run) : run_(run) {}

  void Next() {
    for (;;) {
      const absl::Time now = absl::Now();
      if (!run_.TryBegin(now)) return;
      state_.store(kStarting);
      run_.StartCall(now, [this] {
        // Still inside StartCall: let that loop go on. Otherwise go on here.
        if (state_.exchange(kEndedInside) == kIdle) Next();
      });
      if (state_.exchange(kIdle) != kEndedInside) return;
    }
  }

 private:
  enum State { kIdle, kStarting, kEndedInside };
  Run& run_;
  std::atomic<int> state_{kIdle};
};

void SleepUntil(absl::Time when) {
  const absl::Duration left = when - absl::Now();
  if (left > absl::ZeroDuration()) absl::SleepFor(left);
}

}  // namespace

absl::StatusOr<LoadResult> RunLoad(Target& target, Workload& workload,
                                   const LoadOptions& options, LatencyRecorder& recorder) {
  if (options.in_flight < 1 || options.max_calls < 0 || options.warmup >= options.duration) {
    return absl::InvalidArgumentError(
        "need in_flight >= 1, max_calls >= 0 and warmup shorter than duration");
  }
  if (target.blocking() && (options.rate > 0 || options.in_flight != 1)) {
    return absl::InvalidArgumentError(
        "a blocking target runs one call at a time in a closed loop");
  }
  Run run(target, workload, options, recorder);
  std::vector<std::unique_ptr<Slot>> slots;
  // Calls are started off this thread, which keeps time for the window.
  std::thread driver([&] {
    if (options.rate > 0) {
      const absl::Duration interval = absl::Seconds(1) / options.rate;
      for (int64_t i = 0;; ++i) {
        const absl::Time due = run.start() + interval * i;
        SleepUntil(due);
        if (run.Outstanding() >= options.max_outstanding) {
          if (due >= run.start() + options.duration || i >= options.max_calls) break;
          if (due >= run.start() + options.warmup) run.RecordSkipped();
          continue;
        }
        if (!run.TryBegin(due)) break;
        run.StartCall(due, nullptr);
      }
      return;
    }
    for (int i = 0; i < options.in_flight; ++i) {
      slots.push_back(std::make_unique<Slot>(run));
    }
    for (auto& slot : slots) slot->Next();
  });
  SleepUntil(run.start() + options.warmup);
  if (options.on_window_start) options.on_window_start();
  run.WaitForBudgetOrUntil(run.start() + options.duration);
  const absl::Time window_end = std::min(absl::Now(), run.start() + options.duration);
  if (options.on_window_end) options.on_window_end();
  driver.join();
  return run.Wait(window_end);
}

}  // namespace dcr::bench
